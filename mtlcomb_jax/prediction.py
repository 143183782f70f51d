"""Prediction from a solve result or any lambda of a path, and save / load."""
from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np

from .data import resolve_task_index
from .path import PathResult
from .solver import SolveResult


def _coefficients(model, lambda_index):
    """(W (p, T), b (T,)) of a SolveResult, or of one lambda of a PathResult."""
    if isinstance(model, SolveResult):
        if lambda_index is not None:
            raise ValueError("lambda_index applies to a PathResult only; a SolveResult has one lambda.")
        return model.W, model.intercept
    if isinstance(model, PathResult):
        n = model.lambdas.shape[0]
        if lambda_index is None:
            raise ValueError(f"predicting from a PathResult needs lambda_index (0 to {n - 1}); pick one, "
                             "e.g. the index of the lambda cross-validation selected.")
        if not -n <= int(lambda_index) < n:
            raise ValueError(f"lambda_index={lambda_index} is out of range for a path of {n} lambdas.")
        return model.W[lambda_index], model.intercept[lambda_index]
    raise ValueError(f"model must be a SolveResult or PathResult; got {type(model).__name__}.")


def _task_index(model, task):
    return resolve_task_index(task, model.task_names)


def _check_X(model, X_new):
    if hasattr(X_new, "to_numpy"):
        X_new = X_new.to_numpy()
    X_new = jnp.asarray(X_new, dtype=model.W.dtype)
    if X_new.ndim == 1:
        X_new = X_new[None, :]
    p = model.W.shape[-2]
    if X_new.ndim != 2 or X_new.shape[1] != p:
        raise ValueError(f"X_new has shape {X_new.shape}; the model was fitted on {p} features, so pass "
                         f"an (n_samples, {p}) array with the training columns in the same order.")
    return X_new


def decision_function(model, X_new, task=None, *, lambda_index=None):
    """Linear scores ``X_new @ w_t + b_t``: (n,) for one task, (n, n_tasks) for all (task=None)."""
    W, b = _coefficients(model, lambda_index)
    X_new = _check_X(model, X_new)
    if task is None:
        return X_new @ W + b[None, :]
    t = _task_index(model, task)
    return X_new @ W[:, t] + b[t]


def predict(model, X_new, task=None, *, lambda_index=None):
    """Predictions for new samples X_new (n, n_features).

    Regression tasks give their scores; classification tasks give
    P(y = positive class) (the second of ``model.classes[t]``).
    Returns (n,) for one ``task`` (index or name), (n, n_tasks) for all.
    """
    scores = decision_function(model, X_new, task, lambda_index=lambda_index)
    if task is None:
        return jnp.where(model.is_classification[None, :], jax.nn.sigmoid(scores), scores)
    t = _task_index(model, task)
    return jnp.where(model.is_classification[t], jax.nn.sigmoid(scores), scores)


# -- save / load ----------------------------------------------------------------------------
_ARRAYS = {SolveResult: ["W", "intercept", "objective", "n_iter", "converged", "dual_gap",
                         "kkt_residual", "lam", "is_classification"],
           PathResult: ["lambdas", "W", "intercept", "objective", "n_iter", "converged", "dual_gap",
                        "kkt_residual", "is_classification"]}


def save_model(model, path):
    """Write a SolveResult or PathResult to ``path`` (.npz arrays + JSON metadata, no pickle)."""
    kind = type(model)
    if kind not in _ARRAYS:
        raise ValueError(f"save_model takes a SolveResult or PathResult; got {kind.__name__}.")
    meta = {"kind": kind.__name__, "format": 1, "task_names": list(model.task_names),
            "feature_names": list(model.feature_names),
            "classes": [None if c is None else list(c) for c in model.classes]}
    arrays = {name: np.asarray(getattr(model, name)) for name in _ARRAYS[kind]}
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)


def load_model(path):
    """Read a model written by :func:`save_model`."""
    with np.load(path, allow_pickle=False) as f:
        meta = json.loads(str(f["__meta__"]))
        kind = {"SolveResult": SolveResult, "PathResult": PathResult}[meta["kind"]]
        arrays = {name: jnp.asarray(f[name]) for name in _ARRAYS[kind]}
    classes = tuple(None if c is None else tuple(c) for c in meta["classes"])
    return kind(**arrays, task_names=tuple(meta["task_names"]), feature_names=tuple(meta["feature_names"]),
                classes=classes)
