"""The options every entry point validates once, and the checks of their results.

``check_options`` turns the keyword arguments of ``solve``, ``fit_path``,
``cross_validate``, ``stability_selection`` and ``tune_hyperparameters`` into one
:class:`SolverOptions` (or a ValueError naming the argument and the fix); the
functions below it place start points, and warn or raise when a result did not converge
or overflowed.
"""
from __future__ import annotations

import warnings
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import losses, validation
from .data import MultiTaskData
from .fista import STOP_RULES, Settings, default_tol
from .sharding import to_device

def check_hyperparameters(dtype=None, **values):
    """ValueError for a hyperparameter that is not a finite number >= 0, or that overflows
    ``dtype`` when given (concrete values only; traced values pass). Returns them as floats."""
    return {name: validation.non_negative(name, value, dtype=dtype) for name, value in values.items()}


def check_stop(stop):
    return validation.choice("stop", stop, STOP_RULES)


def check_data_dtype(data: MultiTaskData):
    """ValueError unless the data computes in float32 or float64 (the builders convert
    float16 and bfloat16 to float32; data built by hand may not)."""
    dtype = jnp.dtype(data.X.dtype)
    if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise ValueError(f"data.X has dtype {dtype.name}; the solver computes in float32 or float64 (its "
                         "tolerances and certificates assume one of them). Build the data with "
                         "MultiTaskData.from_tasks / from_outcomes, which convert lower precisions to float32.")
    return dtype


#: ``screening="auto"`` uses working sets when a feature's column of X (one row of W's
#: products) holds at least this many bytes: p >= 5,000 in float64, p >= 10,000 in float32.
#: A working-set path compiles one solver per set size, whatever the dtype (a first path
#: call of about 7 s), where the full scan compiles one and costs in proportion to p. From
#: this width on working sets are 2.1 to 3.7 x faster warm, for the path and the CV, and the
#: CV's first call is equal or faster in float64 (1.4 x slower in float32 at p = 10,000);
#: just below it (p = 3,000 in float64, 5,000 in float32) they are faster warm too, but their
#: first calls cost 1.4 to 4.3 x the scan's (``python bench/bench_screening.py``,
#: bench/README.md). Both certify the same gap in either dtype.
AUTO_MIN_ROW_BYTES = 40_000


def use_working_sets(screening, stop, n_features, dtype) -> bool:
    """Resolve ``screening`` (True, False or "auto") for a problem of n_features in dtype."""
    if screening not in (True, False, "auto"):
        raise ValueError(f"screening={screening!r} must be True, False or 'auto'.")
    if screening == "auto":
        return stop != "relative" and n_features * jnp.dtype(dtype).itemsize >= AUTO_MIN_ROW_BYTES
    return bool(screening)


class SolverOptions(NamedTuple):
    """The solver options of every entry point, validated once (:func:`check_options`)."""
    similarity: float
    ridge: float
    intercept: bool
    loss_weighting: str
    tol: float          # the given tol, or the rule's default for the data's dtype
    max_iter: int
    stop: str
    screening: bool     # working sets along a path (``screening`` resolved for the data)

    @property
    def settings(self) -> Settings:
        """What the solvers read (similarity, ridge and the weighting are in the Problem)."""
        return Settings(tol=self.tol, max_iter=self.max_iter, intercept=self.intercept, stop=self.stop)


def check_options(data: MultiTaskData, *, similarity=0.0, ridge=0.0, intercept=True, loss_weighting="mtlcomb",
                  tol=None, max_iter=5000, stop="gap", screening="auto") -> SolverOptions:
    """Validate the options shared by solve, fit_path, cross_validate, stability_selection
    and tune_hyperparameters; a ValueError names the argument and the fix. ``tol=None``
    becomes the rule's default for the data's dtype (:func:`default_tol`), ``screening``
    True or False (:func:`use_working_sets`)."""
    if not isinstance(data, MultiTaskData):
        raise ValueError(f"data must be a MultiTaskData (got {type(data).__name__}); build one with "
                         "MultiTaskData.from_tasks or MultiTaskData.from_outcomes.")
    dtype = check_data_dtype(data)
    values = check_hyperparameters(dtype, similarity=similarity, ridge=ridge)
    stop = check_stop(stop)
    tol = validation.tolerance("tol", tol)
    return SolverOptions(similarity=values["similarity"], ridge=values["ridge"],
                         intercept=validation.flag("intercept", intercept),
                         loss_weighting=validation.choice("loss_weighting", loss_weighting, losses.LOSS_WEIGHTINGS),
                         tol=default_tol(stop, dtype) if tol is None else tol,
                         max_iter=validation.max_iterations(max_iter), stop=stop,
                         screening=use_working_sets(screening, stop, data.n_features, dtype))


def initial_point(data: MultiTaskData, W_init, b_init):
    """(W0, b0) of the data's dtype; the caller's arrays are copied, never modified."""
    dtype = data.X.dtype
    shape = (data.n_features, data.n_tasks)
    # zeros made on the host: jnp.zeros would compile a program for every new shape
    W0 = to_device(np.zeros(shape, dtype)) if W_init is None else _start_array("W_init", W_init, shape, dtype,
                                                                               "(n_features, n_tasks)")
    b0 = to_device(np.zeros(data.n_tasks, dtype)) if b_init is None else _start_array(
        "b_init", b_init, (data.n_tasks,), dtype, "(n_tasks,)")
    return W0, b0


def _start_array(name, value, shape, dtype, described):
    if isinstance(value, jax.core.Tracer):
        if value.shape != shape:
            raise ValueError(f"{name} has shape {value.shape}; it must be {described} = {shape}.")
        return value.astype(dtype)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" and arr.dtype != np.dtype(bool):
        raise ValueError(f"{name} has dtype {arr.dtype}; pass real numbers, shape {described} = {shape}.")
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}; it must be {described} = {shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; pass a finite starting point (or None to start at zero).")
    if arr.size:
        validation.check_in_range(f"max |{name}|", float(np.max(np.abs(arr))), dtype)
    return to_device(arr, dtype)


def warn_if_not_converged(converged, n_iter, what="solve", dtype=None):
    """Warn (from the Python layer only) when a solve hit max_iter or stalled; the message
    says what to change, including the dtype when the data are float32."""
    if isinstance(converged, jax.core.Tracer):
        return
    bad = ~np.asarray(converged)
    if np.any(bad):
        count = int(bad.sum())
        advice = ("raise max_iter, loosen tol, or standardise features whose scales differ widely "
                  "(standardize=True)")
        if dtype is not None and np.dtype(dtype) == np.float32:
            advice += ("; the data are float32 (JAX's default), where rounding limits how far a solve gets: "
                       "for a tighter fit compute in float64 (jax.config.update('jax_enable_x64', True) "
                       "before building the data, and float64 arrays)")
        warnings.warn(f"{what}: {count} of {bad.size} solve(s) did not meet the stopping rule "
                      f"(max iterations taken: {int(np.max(np.asarray(n_iter)))}); {advice}.",
                      ConvergenceWarning, stacklevel=3)


class ConvergenceWarning(UserWarning):
    """A solve stopped at max_iter (or stalled) before its stopping rule was met."""


def raise_if_overflowed(what, data: MultiTaskData, arrays, **hyperparameters):
    """ValueError when a result (objectives, intercepts, metrics: ``arrays``) holds NaN or inf.

    The inputs are finite (the builders and checks refuse anything else), so a non-finite
    result means an overflow inside the solve: the message names the inputs whose size can
    cause it and what to change. Nothing happens for traced values.
    """
    if any(isinstance(a, jax.core.Tracer) for a in arrays):
        return
    if all(np.all(np.isfinite(np.asarray(a))) for a in arrays):
        return
    dtype = np.dtype(data.X.dtype)
    # An input is suspect when its square, times the sums' lengths, comes within 1e8 of the
    # dtype's largest value (compared in log10, where nothing overflows).
    room = np.log10(np.finfo(dtype).max) - 8.0
    x_max = float(jnp.max(jnp.abs(data.X)))
    y_max = float(jnp.max(jnp.abs(data.y)))
    rows = int(np.max(data.n_samples))

    def large(value, count=1):
        return value > 0 and 2 * np.log10(value) + np.log10(count) > room

    suspects = []
    if large(x_max, rows * data.n_features):
        suspects.append(f"X has entries up to {x_max:.3g}, whose products overflow: standardise X's columns")
    if large(y_max, rows):
        suspects.append(f"a regression target reaches {y_max:.3g}: rescale the targets")
    for name, value in hyperparameters.items():
        if value is not None and not isinstance(value, jax.core.Tracer) and large(abs(float(value))):
            suspects.append(f"{name}={float(value):.3g} is too large for {dtype.name}: lower it")
    cause = "; ".join(suspects) if suspects else ("rescale X (standardise its columns) and the regression "
                                                 "targets, or lower similarity and ridge")
    raise ValueError(f"{what}: the iterates overflowed {dtype.name} (the result holds NaN or inf, so it is not "
                     f"returned). {cause}.")


def warn_if_separable(data: MultiTaskData, result, lam, ridge):
    """At lam = 0 and ridge = 0, warn for each classification task whose training samples the
    fit separates perfectly: its logistic loss then has no finite minimiser, the coefficients
    grow with every iteration, and a stopping rule met on the way certifies nothing.
    Returns whether one was found."""
    if any(isinstance(v, jax.core.Tracer) for v in (lam, ridge, result.W)) or float(lam) != 0 or float(ridge) != 0:
        return False
    z = np.asarray(losses.predictor(data.X, result.W, result.intercept))
    margins = np.where(np.asarray(data.weights) > 0, np.asarray(data.y) * z, np.inf)
    separated = [data.task_names[t] for t in data.classification_tasks if np.min(margins[t]) > 0]
    if separated:
        warnings.warn(f"solve: classification task(s) {separated} are linearly separable at lam=0 and ridge=0, "
                      "so the problem has no finite solution (the coefficients grow without bound and the "
                      "result is reported as not converged); use lam > 0 or ridge > 0.",
                      ConvergenceWarning, stacklevel=3)
    return bool(separated)
