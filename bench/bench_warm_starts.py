"""Warm starts along the scanned path: the last solution, or its extrapolation.

Each workload runs twice in this process, with ``mtlcomb_jax.warm_starts.EXTRAPOLATE_STARTS``
off and on (the setting is read when a program is traced, so the caches are cleared in
between): total FISTA iterations over every problem and lambda, solves that did not meet
the rule, and the warm time of the call (median of the repeats, compilation apart).
The workloads, at the defaults a user would type unless stated:

- a mixed shared-X path (n = 200, p = 1,000, 3 + 3 tasks, 30 lambdas), float64;
- its 5-fold CV, float64 and float32;
- its stability selection (50 subsamples, 20 lambdas), float64;
- a 50-lambda path (ratio 0.001) on data of the R tutorial's shape (10 + 10 tasks,
  n = 100, p = 200, per-task X), float64;
- GSE7390 (``datasets.load_gse7390_table``: 198 patients, 77 raw features; ER, grade,
  size) 10-fold CV over 30 lambdas, raw and standardised (needs the ``data`` extra; left
  out without it).

    python bench/bench_warm_starts.py [--repeats 3]
    python bench/bench_warm_starts.py --quick --repeats 1     # small shapes (CI)
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import mtlcomb_jax as mc  # noqa: E402
import mtlcomb_jax.warm_starts as warm_starts  # noqa: E402
from mtlcomb_jax.benchmarking import shared_mixed_data  # noqa: E402
from mtlcomb_jax.simulate import simulate_mixed_tasks  # noqa: E402


def gse7390():
    try:
        from mtlcomb_jax.datasets import load_gse7390_table
        table = load_gse7390_table()
    except ImportError as error:
        print(f"# GSE7390 left out: {error}", file=sys.stderr)
        return None
    outcomes = ["er", "grade", "size"]
    return mc.MultiTaskData.from_outcomes(
        table.drop(columns=["patient", *outcomes]), table[outcomes],
        {"er": "classification", "grade": "regression", "size": "regression"}, missing_outcomes="drop")


def workloads(quick):
    n, p, L, K, B = (60, 120, 10, 3, 10) if quick else (200, 1000, 30, 5, 50)
    mixed, mixed32 = shared_mixed_data(n, p, np.float64), shared_mixed_data(n, p, np.float32)
    each, n_tut, p_tut = (3, 40, 40) if quick else (10, 100, 200)
    Xs, ys, types, _ = simulate_mixed_tasks(each, each, p_tut, min(10, p_tut), n_tut, seed=0)
    tutorial = mc.MultiTaskData.from_tasks(Xs, ys, types)
    cases = [
        (f"mixed shared-X path, p={p}, {L} lambdas", lambda: mc.fit_path(mixed, n_lambdas=L)),
        (f"its {K}-fold CV", lambda: mc.cross_validate(mixed, n_folds=K, n_lambdas=L)),
        (f"its {K}-fold CV, float32", lambda: mc.cross_validate(mixed32, n_folds=K, n_lambdas=L)),
        (f"its stability selection, {B} subsamples", lambda: mc.stability_selection(mixed, n_subsamples=B)),
        (f"tutorial-shaped path, {2 * each} tasks, p={p_tut}, 50 lambdas",
         lambda: mc.fit_path(tutorial, n_lambdas=50, lambda_min_ratio=0.001)),
    ]
    table = None if quick else gse7390()
    if table is not None:
        for standardize in (False, True):
            cases.append((f"GSE7390 10-fold CV, 30 lambdas, standardize={standardize}",
                          lambda s=standardize: mc.cross_validate(table, n_folds=10, n_lambdas=30, standardize=s)))
    return cases


def measure(call, repeats):
    """(iterations, solves not converged, of how many, warm seconds) of ``call``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = call()                      # compiles
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            result = call()
            jax.block_until_ready(getattr(result, "W", getattr(result, "lambdas", None)))
            times.append(time.perf_counter() - start)
    n_iter = np.asarray(result.n_iter)
    converged = np.asarray(getattr(result, "converged", np.ones_like(n_iter, bool)))
    return int(n_iter.sum()), int((~converged).sum()), int(converged.size), float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes (CI)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# jax {jax.__version__}, {jax.device_count()} {jax.default_backend()} device(s); warm s median of "
          f"{args.repeats}; 'off' starts each lambda from the last solution, 'on' from the extrapolation")
    print(f"{'workload':<58} {'iterations off / on':>22} {'not converged':>16} {'warm s off / on':>17}")
    for name, call in workloads(args.quick):
        rows = {}
        for flag in (False, True):
            warm_starts.EXTRAPOLATE_STARTS = flag
            jax.clear_caches()                 # the setting is read while tracing
            rows[flag] = measure(call, args.repeats)
        warm_starts.EXTRAPOLATE_STARTS = True
        (i0, u0, n, t0), (i1, u1, _, t1) = rows[False], rows[True]
        print(f"{name:<58} {i0:>9} / {i1:<7} ({i1 / max(i0, 1):.2f} x) {u0:>4} / {u1:<4} of {n:<5} "
              f"{t0:7.3f} / {t1:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
