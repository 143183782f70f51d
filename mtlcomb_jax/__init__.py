"""mtlcomb_jax: MTLComb multi-task learning (mixed regression and classification
tasks with joint L2,1 feature selection) in JAX.

The public names are listed in ``__all__``; the scikit-learn estimators
``MTLComb`` and ``MTLCombCV`` load scikit-learn, and the ``plot_*`` functions
matplotlib, only when first used.
"""
from .caching import enable_compilation_cache, enable_default_cache as _enable_default_cache
from .cv import CVResult, GridEdgeWarning, UndefinedScoreWarning, cross_validate, make_folds
from .data import MultiTaskData
from .path import PathResult, fit_path, lambda_grid, lambda_max
from .prediction import decision_function, load_model, predict, save_model
from .sharding import use_cpu_cores
from .options import ConvergenceWarning
from .solver import SolveResult, solve
from .stability import StabilityBoundWarning, StabilityResult, stability_selection
from .tuning import TuningResult, tune_hyperparameters

__version__ = "0.1.0"

# The persistent compilation cache, on unless MTLCOMB_JAX_CACHE=0 (see caching.py).
_enable_default_cache()

__all__ = ["MultiTaskData", "solve", "SolveResult", "ConvergenceWarning", "fit_path", "PathResult",
           "lambda_max", "lambda_grid", "cross_validate", "CVResult", "UndefinedScoreWarning", "GridEdgeWarning",
           "make_folds", "predict",
           "decision_function", "save_model", "load_model", "stability_selection", "StabilityResult",
           "StabilityBoundWarning",
           "tune_hyperparameters", "TuningResult", "MTLComb", "MTLCombCV", "plot_path", "plot_cv",
           "plot_coefficients", "plot_stability", "enable_compilation_cache", "use_cpu_cores"]

_LAZY = {"MTLComb": "estimator", "MTLCombCV": "estimator",        # scikit-learn
         "plot_path": "plotting", "plot_cv": "plotting",            # matplotlib
         "plot_coefficients": "plotting", "plot_stability": "plotting"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'mtlcomb_jax' has no attribute {name!r}")
