"""Standardisation inside the fit, as glmnet's ``standardize=TRUE`` does it.

With ``standardize=True`` the fitting functions solve the problem on features
centred to weighted mean 0 and scaled to weighted standard deviation 1 (1/n
variance, the sample weights as weights), then report W and the intercepts on the
original scale, so that ``X @ W + b`` with the raw X gives the same predictions.
The L2,1 penalty then weighs every feature alike whatever its unit; without it, a
feature measured in large units needs a small coefficient and enters the path
early, one in small units late.

* A **per-task** design (``from_tasks``) is scaled per task, with that task's
  weights; a **shared** design (``from_outcomes``) once, with the rows' weights
  averaged over the tasks (plain mean and standard deviation for equal weights).
* ``scale_outcomes=True`` also puts every regression outcome on weighted mean 0 and
  standard deviation 1: least-squares tasks of very different variances then weigh
  alike in the joint penalty and in the CV's mean MSE.
* Without an intercept nothing is centred (features and outcomes are scaled by
  their weighted root mean square), as in glmnet.
* A constant feature keeps scale 1 (centred, it is all zero and never selected).

The penalties (lambda, similarity, ridge), the objective, ``dual_gap`` and
``kkt_residual`` refer to the standardised problem; the CV's metrics are computed
on it too (test AUC and deviance do not change; the test MSE does only with
``scale_outcomes``). The scaling is estimated once, on the data passed in; a
cross-validation does not re-estimate it per fold (glmnet's ``cv.glmnet`` does),
which lets every fold share one design.
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import numpy as np

from . import validation
from .sharding import to_device


class Scaling(NamedTuple):
    """How the data were standardised (NumPy float64 arrays, a pytree).

    x_center, x_scale : (n_features,) for a shared design, (n_tasks, n_features) per task
    y_center, y_scale : (n_tasks,); 0 and 1 for classification tasks and unscaled outcomes
    """
    x_center: Any
    x_scale: Any
    y_center: Any
    y_scale: Any


def check_flags(standardize, scale_outcomes):
    """(standardize, scale_outcomes) as bools; ValueError naming the argument otherwise."""
    return (validation.flag("standardize", standardize), validation.flag("scale_outcomes", scale_outcomes))


def standardized(data, *, intercept=True, scale_outcomes=False):
    """(the data on the standardised scale, its :class:`Scaling`); the input is not modified.

    Needs concrete arrays: inside a user's ``jit``, ``vmap`` or ``grad`` standardise X
    before the traced call instead.
    """
    if validation.is_traced(data.X) or validation.is_traced(data.y) or validation.is_traced(data.weights):
        raise ValueError("standardize=True needs concrete data, not values traced by jit, vmap or grad; "
                         "standardise X before the traced call and pass standardize=False.")
    X = np.asarray(data.X, dtype=np.float64)
    y = np.asarray(data.y, dtype=np.float64)
    w = np.asarray(data.weights, dtype=np.float64)          # (T, n), each task's summing to 1
    mask = np.asarray(data.mask)
    if data.shared_design:
        row_w = w.mean(axis=0)                               # (n,) sums to 1
        x_center, x_scale = _moments(X, row_w[:, None], intercept, axis=0)
        X_std = (X - x_center) / x_scale
    else:
        x_center, x_scale = _moments(X, w[:, :, None], intercept, axis=1)       # (T, p)
        X_std = np.where(mask[:, :, None], (X - x_center[:, None, :]) / x_scale[:, None, :], 0.0)
    is_cls = np.asarray(data.is_classification)
    y_center, y_scale = np.zeros(data.n_tasks), np.ones(data.n_tasks)
    if scale_outcomes:
        center, scale = _moments(y, w, intercept, axis=1)
        y_center, y_scale = np.where(is_cls, 0.0, center), np.where(is_cls, 1.0, scale)
    y_std = np.where(mask, (y - y_center[:, None]) / y_scale[:, None], 0.0)
    dtype = data.X.dtype
    out = dataclasses.replace(data, X=to_device(X_std.astype(dtype)), y=to_device(y_std.astype(dtype)))
    return out, Scaling(x_center, x_scale, y_center, y_scale)


def _moments(values, weights, intercept, axis):
    """Weighted centre (0 without intercept) and spread (standard deviation, or root mean
    square without intercept) along ``axis``; a spread of 0 to rounding becomes 1."""
    center = (weights * values).sum(axis=axis) if intercept else np.zeros(np.delete(values.shape, axis))
    centred = values - np.expand_dims(center, axis)
    spread = np.sqrt((weights * centred ** 2).sum(axis=axis))
    size = np.sqrt((weights * values ** 2).sum(axis=axis))
    # constant columns: their centred values are rounding noise, not a scale to divide by
    spread = np.where(spread > 1e-10 * np.maximum(size, 1e-300), spread, 1.0)
    return center, spread


def _per_task(x, n_tasks):
    """(n_tasks, p) from a shared (p,) or per-task (n_tasks, p) array."""
    return np.broadcast_to(x, (n_tasks, x.shape[-1]))


def to_original(W, b, scaling: Scaling):
    """(W, b) of the standardised problem on the original scale; W (..., p, T), b (..., T) NumPy."""
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    T = W.shape[-1]
    x_center, x_scale = _per_task(scaling.x_center, T).T, _per_task(scaling.x_scale, T).T   # (p, T)
    W_orig = W * scaling.y_scale / x_scale
    b_orig = scaling.y_center + scaling.y_scale * b - np.sum(x_center * W_orig, axis=-2)
    return W_orig, b_orig


def to_standardized(W, b, scaling: Scaling):
    """The inverse of :func:`to_original`: a start point given on the original scale."""
    W, b = np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)
    T = W.shape[-1]
    x_center, x_scale = _per_task(scaling.x_center, T).T, _per_task(scaling.x_scale, T).T
    b_std = (b - scaling.y_center + np.sum(x_center * W, axis=-2)) / scaling.y_scale
    return W * x_scale / scaling.y_scale, b_std


def prepare_scaling(data, standardize, scale_outcomes, intercept):
    """(data to fit, Scaling or None): the entry points' one call before fitting."""
    standardize, scale_outcomes = check_flags(standardize, scale_outcomes)
    if not (standardize or scale_outcomes):
        return data, None
    if not standardize:
        # outcomes alone: features keep their scale
        data_std, scaling = standardized(data, intercept=intercept, scale_outcomes=True)
        n_x = np.shape(scaling.x_center)
        scaling = scaling._replace(x_center=np.zeros(n_x), x_scale=np.ones(n_x))
        return dataclasses.replace(data_std, X=data.X), scaling
    return standardized(data, intercept=intercept, scale_outcomes=scale_outcomes)


def scaled_start(W_init, b_init, scaling, data):
    """User start points (original scale) on the scale being fitted; None stays None."""
    if scaling is None or (W_init is None and b_init is None):
        return W_init, b_init
    W = np.zeros((data.n_features, data.n_tasks)) if W_init is None else np.asarray(W_init, dtype=np.float64)
    b = np.zeros(data.n_tasks) if b_init is None else np.asarray(b_init, dtype=np.float64)
    if W.shape != (data.n_features, data.n_tasks) or b.shape != (data.n_tasks,):
        return W_init, b_init               # the solver's own check names the wrong shape
    W_std, b_std = to_standardized(W, b, scaling)
    return W_std, (None if b_init is None else b_std)


def report_original(result, scaling):
    """A SolveResult or PathResult with W and intercept on the original scale and its
    ``scaling`` recorded; the result itself when ``scaling`` is None."""
    if scaling is None:
        return result
    W, b = to_original(result.W, result.intercept, scaling)
    dtype = result.W.dtype
    return dataclasses.replace(result, W=to_device(W.astype(dtype)), intercept=to_device(b.astype(dtype)),
                               scaling=scaling)
