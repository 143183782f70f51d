"""Simulated data in the design of the MTLComb paper (arXiv 2405.09886).

All tasks share the same ``n_true`` informative features; regression targets are
``X w_t + noise``, classification labels the sign of the same.
"""
from __future__ import annotations

import numpy as np


def simulate_mixed_tasks(n_regression=10, n_classification=10, n_features=500, n_true=50, n_samples=200,
                         noise=0.5, seed=0):
    """(Xs, ys, task_types, W_true): per-task lists of (n_samples, n_features) and (n_samples,) arrays.

    W_true (n_features, n_tasks) is non-zero on the first ``n_true`` rows only.
    """
    rng = np.random.default_rng(seed)
    n_tasks = n_regression + n_classification
    W = np.zeros((n_features, n_tasks))
    W[:n_true] = rng.normal(size=(n_true, n_tasks))
    types = ["regression"] * n_regression + ["classification"] * n_classification
    Xs, ys = _draw_tasks(W, types, n_samples, noise, rng)
    return Xs, ys, types, W


def _draw_tasks(W, task_types, n_samples, noise, rng):
    """Gaussian X per task; targets X w_t + noise (scaled to ||w_t|| / sqrt(n_true)), signed for classification."""
    n_features, n_tasks = W.shape
    n_true = max(int((np.abs(W).sum(axis=1) > 0).sum()), 1)
    Xs, ys = [], []
    for t in range(n_tasks):
        X = rng.normal(size=(n_samples, n_features))
        z = X @ W[:, t] + noise * rng.normal(size=n_samples) * np.linalg.norm(W[:, t]) / np.sqrt(n_true)
        Xs.append(X)
        ys.append(np.where(z > 0, 1.0, -1.0) if task_types[t] == "classification" else z)
    return Xs, ys


def simulate_test_targets(W_true, task_types, *, n_samples=200, noise=0.5, seed=1):
    """Independent test data from the same coefficients: (Xs, ys) per-task lists.

    W_true : (n_features, n_tasks) as returned by :func:`simulate_mixed_tasks`.
    """
    return _draw_tasks(W_true, task_types, n_samples, noise, np.random.default_rng(seed))
