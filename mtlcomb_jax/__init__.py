"""mtlcomb_jax: MTLComb multi-task learning (mixed regression and classification
tasks with joint L2,1 feature selection) in JAX."""
from .data import MultiTaskData
from .cv import CVResult, cross_validate, make_folds
from .path import PathResult, fit_path, lambda_grid, lambda_max
from .solver import ConvergenceWarning, SolveResult, solve

__version__ = "0.1.0"
