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
* With an intercept a constant feature keeps scale 1 (centred, it is all zero and
  never selected); without one it is scaled by its root mean square like the others.

The penalties (lambda, similarity, ridge), the objective, ``dual_gap`` and
``kkt_residual`` refer to the standardised problem; the CV's metrics are computed
on it too (test AUC does not change; test MSE and deviance change only with
``scale_outcomes``). ``lambda_max`` and ``lambda_grid`` take the same two
arguments. The scaling is estimated once, on the data passed in; a cross-validation
does not re-estimate it per fold (glmnet's ``cv.glmnet`` does), which lets every fold
share one design. The :class:`Scaling` on a result holds float64 NumPy arrays (leaves
of its pytree: a result passed through ``jit`` carries them in the default float dtype).
"""
from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax.numpy as jnp
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


def standardized(data, *, intercept=True, features=True, outcomes=False):
    """(the data on the standardised scale, its :class:`Scaling`); the input is not modified.

    ``features``: scale X's columns (else they keep their scale: centre 0, scale 1);
    ``outcomes``: scale the regression outcomes. Needs concrete arrays: inside a user's
    ``jit``, ``vmap`` or ``grad`` standardise X before the traced call instead.
    """
    if validation.is_traced(data.X) or validation.is_traced(data.y) or validation.is_traced(data.weights):
        raise ValueError("standardize=True needs concrete data, not values traced by jit, vmap or grad; "
                         "standardise X before the traced call and pass standardize=False.")
    w = np.asarray(data.weights, dtype=np.float64)          # (T, n)
    mask = np.asarray(data.mask)
    dtype = data.X.dtype
    changes = {}
    if features:
        X = np.asarray(data.X, dtype=np.float64)
        if data.shared_design:
            x_center, x_scale = _moments(X, w.mean(axis=0)[:, None], intercept, axis=0)      # (p,)
            X_std = (X - x_center) / x_scale
        else:
            x_center, x_scale = _moments(X, w[:, :, None], intercept, axis=1)              # (T, p)
            X_std = np.where(mask[:, :, None], (X - x_center[:, None, :]) / x_scale[:, None, :], 0.0)
        changes["X"] = to_device(X_std.astype(dtype))
    else:
        shape = (data.n_features,) if data.shared_design else (data.n_tasks, data.n_features)
        x_center, x_scale = np.zeros(shape), np.ones(shape)
    y_center, y_scale = np.zeros(data.n_tasks), np.ones(data.n_tasks)
    if outcomes:
        y = np.asarray(data.y, dtype=np.float64)
        is_cls = np.asarray(data.is_classification)
        center, scale = _moments(y, w, intercept, axis=1)
        y_center, y_scale = np.where(is_cls, 0.0, center), np.where(is_cls, 1.0, scale)
        changes["y"] = to_device(np.where(mask, (y - y_center[:, None]) / y_scale[:, None], 0.0).astype(dtype))
    return dataclasses.replace(data, **changes), Scaling(x_center, x_scale, y_center, y_scale)


def _moments(values, weights, intercept, axis):
    """Weighted centre (0 without intercept) and spread (standard deviation, or root mean
    square without intercept) along ``axis``, in float64 with the weights renormalised (a
    float32 data set's weights sum to 1 only to float32 rounding); a spread of 0 to rounding
    becomes 1."""
    weights = weights / weights.sum(axis=axis, keepdims=True)
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


def _namespace(*arrays):
    """jax.numpy for traced values (a solve standardised on concrete data may be
    differentiated or vmapped in lam), else NumPy (nothing compiled)."""
    return jnp if any(validation.is_traced(a) for a in arrays) else np


def to_original(W, b, scaling: Scaling):
    """(W, b) of the standardised problem on the original scale; W (..., p, T), b (..., T)."""
    xp = _namespace(W, b)
    dtype = W.dtype if xp is jnp else np.float64
    W, b = xp.asarray(W, dtype=dtype), xp.asarray(b, dtype=dtype)
    T = W.shape[-1]
    x_center = xp.asarray(_per_task(scaling.x_center, T).T, dtype)                     # (p, T)
    x_scale = xp.asarray(_per_task(scaling.x_scale, T).T, dtype)
    y_center, y_scale = xp.asarray(scaling.y_center, dtype), xp.asarray(scaling.y_scale, dtype)
    W_orig = W * y_scale / x_scale
    b_orig = y_center + y_scale * b - xp.sum(x_center * W_orig, axis=-2)
    return W_orig, b_orig


def to_standardized(W, b, scaling: Scaling):
    """The inverse of :func:`to_original`: a start point given on the original scale."""
    xp = _namespace(W, b)
    dtype = W.dtype if xp is jnp else np.float64
    W, b = xp.asarray(W, dtype=dtype), xp.asarray(b, dtype=dtype)
    T = W.shape[-1]
    x_center = xp.asarray(_per_task(scaling.x_center, T).T, dtype)
    x_scale = xp.asarray(_per_task(scaling.x_scale, T).T, dtype)
    y_center, y_scale = xp.asarray(scaling.y_center, dtype), xp.asarray(scaling.y_scale, dtype)
    b_std = (b - y_center + xp.sum(x_center * W, axis=-2)) / y_scale
    return W * x_scale / y_scale, b_std


def prepare_scaling(data, standardize, scale_outcomes, intercept):
    """(data to fit, Scaling or None): the entry points' one call before fitting."""
    standardize, scale_outcomes = check_flags(standardize, scale_outcomes)
    if not (standardize or scale_outcomes):
        return data, None
    return standardized(data, intercept=intercept, features=standardize, outcomes=scale_outcomes)


def scaled_start(W_init, b_init, scaling, data):
    """User start points (original scale) on the scale being fitted; None stays None."""
    if scaling is None or (W_init is None and b_init is None):
        return W_init, b_init
    W = np.zeros((data.n_features, data.n_tasks)) if W_init is None else W_init
    b = np.zeros(data.n_tasks) if b_init is None else b_init
    if np.shape(W) != (data.n_features, data.n_tasks) or np.shape(b) != (data.n_tasks,):
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
    if not validation.is_traced(W):
        W, b = to_device(W.astype(dtype)), to_device(b.astype(dtype))
    return dataclasses.replace(result, W=W, intercept=b, scaling=scaling)
