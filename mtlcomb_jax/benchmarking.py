"""Timing helpers shared by ``bench/``, the ``bench`` command and the notebooks.

Every timing separates the first call (compile + run) from the median of the
following runs, and blocks on the result so asynchronous dispatch is not
mistaken for speed.
"""
from __future__ import annotations

import time

import jax
import numpy as np


def _block(out):
    for leaf in jax.tree.leaves(out):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return out


def timed(fn, repeats=5):
    """(result, compile seconds, median run seconds) of ``fn()``.

    Compile seconds are the first call's time minus the median run time.
    """
    t0 = time.perf_counter()
    out = _block(fn())
    first = time.perf_counter() - t0
    runs = []
    for _ in range(max(int(repeats), 1)):
        t0 = time.perf_counter()
        _block(fn())
        runs.append(time.perf_counter() - t0)
    run = float(np.median(runs))
    return out, max(first - run, 0.0), run


def tutorial_shaped_workloads(*, quick=False, repeats=5, seed=0):
    """Time a path and a CV on simulated data of the R tutorial's shape on the default device.

    Full size: 10 regression + 10 classification tasks, p=200, n=100; a
    50-lambda path (ratio 0.001) and 10-fold CV over 20 lambdas (ratio 0.01),
    ``stop="relative"``, ``tol=1e-6``, no intercept (the R package's settings).
    ``quick`` shrinks everything so it runs in seconds. Returns a list of rows
    (dicts with workload, compile_s, run_s).
    """
    import mtlcomb_jax as mc
    from mtlcomb_jax.simulate import simulate_mixed_tasks
    n_each, p, n, n_lambdas, n_folds = (2, 30, 40, 10, 3) if quick else (10, 200, 100, 50, 10)
    Xs, ys, types, _ = simulate_mixed_tasks(n_each, n_each, p, min(10, p), n, seed=seed)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    common = dict(intercept=False, stop="relative", tol=1e-6, max_iter=20000)
    rows = []
    _, c, r = timed(lambda: mc.fit_path(data, n_lambdas=n_lambdas, lambda_min_ratio=0.001, **common), repeats)
    rows.append(dict(workload=f"path, {n_lambdas} lambdas", compile_s=c, run_s=r))
    _, c, r = timed(lambda: mc.cross_validate(data, n_folds=n_folds, n_lambdas=20 if not quick else 5,
                                              lambda_min_ratio=0.01, **common), repeats)
    rows.append(dict(workload=f"CV, {n_folds} folds", compile_s=c, run_s=r))
    header = dict(device=str(jax.devices()[0].platform), n_devices=jax.device_count(),
                  dtype=str(data.X.dtype), shape=f"{2 * n_each} tasks, n={n}, p={p}", repeats=repeats)
    return header, rows
