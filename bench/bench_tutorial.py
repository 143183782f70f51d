"""The R tutorial's workloads (20 tasks, p=200, n=100): path and cross-validation.

A 50-lambda path with lambda_min_ratio=0.001, and 10-fold CV over 20 lambdas with
lambda_min_ratio=0.01, both with stop="relative", tol=1e-6, intercept=False
(the R package's settings). Compile time is reported apart from the median run
time. The R package's times on this 2-core machine (8.1 s path, 16.5 s CV) are
the figures given in the project's issue tracker; the ratio is against them.
The CV runs on one device (on a CPU with several cores, its folds in host threads,
each fold a path of fit_path's programs) and on one CPU device per core
(``mtlcomb_jax.use_cpu_cores()``, each device looping over its own share of the folds
as one vmapped batch); the path is one problem and runs on one device. Also: the CV as
a Python loop over folds in one thread (each fold one compiled path).

    python bench/bench_tutorial.py [--repeats 5] [--one-device]
"""
from __future__ import annotations

import argparse
import pathlib
import sys

import jax

jax.config.update("jax_enable_x64", True)
import numpy as np  # noqa: E402

import mtlcomb_jax as mc  # noqa: E402
from mtlcomb_jax.benchmarking import timed  # noqa: E402

R_PATH_SECONDS, R_CV_SECONDS = 8.1, 16.5
FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tutorial.npz"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--one-device", action="store_true", help="leave JAX at one CPU device")
    args = parser.parse_args()
    if not args.one_device:
        mc.use_cpu_cores()   # before JAX's first computation
    raw = np.load(FIXTURE)
    T = 20
    types = ["classification" if t in raw["classification_tasks"] else "regression" for t in range(T)]
    data = mc.MultiTaskData.from_tasks([raw[f"X{t}"] for t in range(T)], [raw[f"y{t}"] for t in range(T)], types)
    common = dict(intercept=False, stop="relative", tol=1e-6, max_iter=20000)

    path, c_path, r_path = timed(lambda: mc.fit_path(data, n_lambdas=50, lambda_min_ratio=0.001, **common),
                                 args.repeats)
    def cv_on(devices):
        return mc.cross_validate(data, n_folds=10, n_lambdas=20, lambda_min_ratio=0.01, devices=devices, **common)

    cv, c_cv, r_cv = timed(lambda: cv_on(jax.devices()[:1]), args.repeats)
    n_devices = len(jax.devices())
    if n_devices > 1:
        cv_all, c_all, r_all = timed(lambda: cv_on(jax.devices()), args.repeats)
        difference = float(np.max(np.abs(cv_all.task_metric - cv.task_metric)))
    folds = cv.folds

    def fold_loop():
        # the same CV as a Python loop: one compiled path per fold, each its own grid
        for k in range(10):
            w = np.where((folds == k) | (folds < 0), 0.0, np.asarray(data.weights))
            mc.fit_path(data.with_weights(w), n_lambdas=20, lambda_min_ratio=0.01, **common)

    _, c_loop, r_loop = timed(fold_loop, args.repeats)
    iters = cv.n_iter
    print(f"# jax {jax.__version__}, {n_devices} {jax.devices()[0].platform} device(s), "
          f"median of {args.repeats} runs, float64")
    print(f"{'workload':<34} {'compile s':>9} {'run s':>8} {'R s':>6} {'x faster than R':>16}")
    for label, c, r, R in (("path, 50 lambdas", c_path, r_path, R_PATH_SECONDS),
                           ("CV, 10 folds x 20 lambdas, 1 device", c_cv, r_cv, R_CV_SECONDS)):
        print(f"{label:<34} {c:>9.2f} {r:>8.3f} {R:>6.1f} {R / r:>16.1f}")
    if n_devices > 1:
        label = f"the same CV on {n_devices} CPU devices"
        print(f"{label:<34} {c_all:>9.2f} {r_all:>8.3f} {R_CV_SECONDS:>6.1f} {R_CV_SECONDS / r_all:>16.1f}")
    print(f"{'CV as a Python loop over folds':<34} {c_loop:>9.2f} {r_loop:>8.3f} {'':>6} {'':>16}")
    print(f"CV on one device / fold loop: {r_cv / r_loop:.2f}")
    if n_devices > 1:
        print(f"CV on {n_devices} devices / on one: {r_all / r_cv:.2f}; largest difference of a fold's test "
              f"metric between them: {difference:.1e}")
    print(f"iterations per (fold, lambda): total {int(iters.sum())}; a vmapped batch runs each lambda "
          f"for its slowest fold: {int(iters.max(axis=0).sum()) * 10} fold-iterations paid "
          f"({iters.max(axis=0).sum() * 10 / iters.sum():.2f} x the work needed)")


if __name__ == "__main__":
    sys.exit(main())
