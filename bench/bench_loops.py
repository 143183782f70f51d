"""The solver's two loop shapes (``mtlcomb_jax.loops``) on this machine, side by side.

Each shape runs in a fresh Python process (``MTLCOMB_JAX_LOOPS``; the empty compilation
cache, ``MTLCOMB_JAX_CACHE=0``) on the same workloads, the defaults a user would type:

- ``tutorial path``: the R tutorial's 20 tasks (n = 100, p = 200), 50 lambdas, ``stop="relative"``;
- ``path`` and ``cv``: one X (n = 200, p = 1,000) for 3 regression and 3 classification
  outcomes, 30 lambdas, float64 (``cv``: 5 folds);
- ``working-set cv``: the same CV with ``screening=True``.

Per workload and shape: the first call (compile included) and the median warm call, the
iterations taken (equal in both shapes: the fixed shape takes the adaptive shape's
iterates), and the fixed shape's warm time as a multiple of the adaptive one's. The
adaptive shape is the CPU's default; the fixed one is what an accelerator runs, with no
host wait inside an iteration (``tests/test_loops.py`` counts them in the compiled
programs).

    python bench/bench_loops.py [--quick] [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tutorial.npz"

CHILD = textwrap.dedent("""
    import json, time, warnings
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import mtlcomb_jax as mc
    from mtlcomb_jax.benchmarking import shared_mixed_data
    warnings.simplefilter("ignore")
    quick, repeats = {quick}, {repeats}
    raw = np.load({fixture!r})
    n_t, p_t = (40, 60) if quick else (100, 200)
    types = ["classification" if t in raw["classification_tasks"] else "regression" for t in range(20)]
    tutorial = mc.MultiTaskData.from_tasks([raw[f"X{{t}}"][:n_t, :p_t] for t in range(20)],
                                           [raw[f"y{{t}}"][:n_t] for t in range(20)], types)
    n, p = (60, 300) if quick else (200, 1000)
    shared = shared_mixed_data(n, p)
    cases = {{
        "tutorial path": lambda: mc.fit_path(tutorial, n_lambdas=50, lambda_min_ratio=0.001, intercept=False,
                                             stop="relative", tol=1e-6, max_iter=20000),
        "path": lambda: mc.fit_path(shared, n_lambdas=30),
        "cv": lambda: mc.cross_validate(shared, n_folds=5, n_lambdas=30),
        "working-set cv": lambda: mc.cross_validate(shared, n_folds=5, n_lambdas=30, screening=True),
    }}
    out = {{}}
    for name, call in cases.items():
        start = time.perf_counter(); result = call(); jax.block_until_ready(result.n_iter)
        first = time.perf_counter() - start
        warm = []
        for _ in range(repeats):
            start = time.perf_counter(); result = call(); jax.block_until_ready(result.n_iter)
            warm.append(time.perf_counter() - start)
        out[name] = dict(first=first, warm=float(np.median(warm)), iterations=int(np.sum(result.n_iter)))
    print(json.dumps(out))
""")


def run_shape(shape, quick, repeats):
    env = dict(os.environ, MTLCOMB_JAX_LOOPS=shape, MTLCOMB_JAX_CACHE="0")
    code = CHILD.format(quick=quick, repeats=repeats, fixture=str(FIXTURE))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the {shape} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small shapes (seconds)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {shape: run_shape(shape, args.quick, max(args.repeats, 1)) for shape in ("adaptive", "fixed")}
    adaptive, fixed = results["adaptive"], results["fixed"]
    print(f"{'workload':<16} {'adaptive first':>14} {'warm':>7} {'fixed first':>11} {'warm':>7} "
          f"{'fixed / adaptive':>16} {'iterations':>10} {'(fixed)':>9}")
    for name in adaptive:
        a, f = adaptive[name], fixed[name]
        print(f"{name:<16} {a['first']:>13.2f}s {a['warm']:>6.3f}s {f['first']:>10.2f}s {f['warm']:>6.3f}s "
              f"{f['warm'] / a['warm']:>15.2f}x {a['iterations']:>10} {f['iterations']:>9}")


if __name__ == "__main__":
    main()
