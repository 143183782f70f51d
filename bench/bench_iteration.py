"""Time per solver iteration against the two matrix products an iteration cannot avoid.

For each shape and dtype: run a fixed number of FISTA iterations (tol=0 so the
loop never stops early), report the median time per iteration over several
runs (compile time measured apart), and the median time of the bare products
``X @ W`` and ``X^T @ R`` for the same shapes, measured in the same run. Their
ratio is our distance to the hardware limit (target: at most 2). Each task has its own X
(the tutorial and gene-expression shapes), or all share one (``shared``: one table of
samples with several outcomes, ``MultiTaskData.from_outcomes``).

    python bench/bench_iteration.py            # tutorial, gene-expression and shared-X shapes
    python bench/bench_iteration.py --quick    # tiny, for CI
"""
from __future__ import annotations

import argparse
import json
import platform
import time

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import mtlcomb_jax as mc  # noqa: E402
from mtlcomb_jax.objective import make_problem  # noqa: E402
from mtlcomb_jax.fista import Settings  # noqa: E402
from mtlcomb_jax.solver import _solve_jit  # noqa: E402


def median_seconds(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench_shape(n_tasks, n, p, shared, dtype, n_iter, repeats):
    rng = np.random.default_rng(0)
    ys = [rng.normal(size=n).astype(dtype) if t < n_tasks // 2 else np.sign(rng.normal(size=n)).astype(dtype)
          for t in range(n_tasks)]
    types = ["regression"] * (n_tasks // 2) + ["classification"] * (n_tasks - n_tasks // 2)
    if shared:
        data = mc.MultiTaskData.from_outcomes(rng.normal(size=(n, p)).astype(dtype),
                                              np.column_stack([np.where(y < 0, 0.0, y) if kind == "classification"
                                                               else y for y, kind in zip(ys, types)]), types)
    else:
        data = mc.MultiTaskData.from_tasks([rng.normal(size=(n, p)).astype(dtype) for _ in range(n_tasks)], ys,
                                           types)
    lam = 0.1 * mc.lambda_max(data)
    problem = make_problem(data, lam)
    W0 = jnp.zeros((p, n_tasks), data.X.dtype)
    b0 = jnp.zeros(n_tasks, data.X.dtype)

    def run():
        return _solve_jit(problem, W0, b0, Settings(tol=0.0, max_iter=n_iter, intercept=True, stop="gap")).W

    t0 = time.perf_counter()
    jax.block_until_ready(run())
    compile_s = time.perf_counter() - t0
    per_iter = median_seconds(run, repeats) / n_iter

    X = data.X
    W = jnp.asarray(rng.normal(size=(p, n_tasks)), X.dtype)
    R = jnp.asarray(rng.normal(size=(n_tasks, n)), X.dtype)
    if shared:      # each product in its fastest layout on XLA:CPU, (n, T) and (T, p)
        products = jax.jit(lambda X, W, R: (X @ W, R @ X))
    else:
        products = jax.jit(lambda X, W, R: (jnp.einsum("tnp,pt->tn", X, W), jnp.einsum("tnp,tn->pt", X, R)))
    jax.block_until_ready(products(X, W, R))
    bare = median_seconds(lambda: products(X, W, R), max(repeats, 20))
    return dict(n_tasks=n_tasks, n=n, p=p, X="shared" if shared else "per task", dtype=np.dtype(dtype).name,
                compile_s=compile_s, seconds_per_iteration=per_iter, seconds_two_products=bare, ratio=per_iter / bare)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    shapes = [(4, 30, 50, False), (4, 30, 50, True)] if args.quick else \
        [(20, 100, 200, False), (20, 200, 20000, False), (20, 200, 1000, True)]
    repeats, n_iter = (3, 20) if args.quick else (7, 100)
    rows = [bench_shape(*shape, dtype, n_iter, repeats) for shape in shapes for dtype in (np.float32, np.float64)]
    print(f"# {platform.processor() or platform.machine()}, jax {jax.__version__}, "
          f"{jax.device_count()} {jax.devices()[0].platform} device(s); median of {repeats} runs")
    print(f"{'T':>3} {'n':>5} {'p':>6} {'X':>9} {'dtype':>8} {'compile s':>10} {'ms/iter':>9} "
          f"{'ms/2 products':>14} {'ratio':>6}")
    for r in rows:
        print(f"{r['n_tasks']:>3} {r['n']:>5} {r['p']:>6} {r['X']:>9} {r['dtype']:>8} {r['compile_s']:>10.2f} "
              f"{1e3 * r['seconds_per_iteration']:>9.3f} {1e3 * r['seconds_two_products']:>14.3f} {r['ratio']:>6.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
