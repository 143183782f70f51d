"""The on-disk compilation cache (`mtlcomb_jax.enable_compilation_cache`): time a screened
path in a fresh process with an empty cache, then in a second fresh process that finds the
programs stored by the first. Each run is a new Python process (the cache's use case), so
the times include import and tracing; the difference is the compiling saved.

    python bench/bench_cache.py [--quick]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap

CHILD = """
import time, numpy as np
import mtlcomb_jax as mc
from mtlcomb_jax.simulate import simulate_mixed_tasks
mc.enable_compilation_cache({cache!r})
Xs, ys, types, _ = simulate_mixed_tasks({n_each}, {n_each}, {p}, 20, {n}, seed=0)
data = mc.MultiTaskData.from_tasks([X.astype(np.float32) for X in Xs], [y.astype(np.float32) for y in ys], types)
start = time.perf_counter()
mc.fit_path(data, n_lambdas={n_lambdas}, screening=True)
print(time.perf_counter() - start)
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n_each, p, n, n_lambdas = (2, 300, 40, 5) if args.quick else (5, 3000, 100, 30)
    with tempfile.TemporaryDirectory() as cache:
        code = textwrap.dedent(CHILD.format(cache=cache, n_each=n_each, p=p, n=n, n_lambdas=n_lambdas))
        times = [float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                      text=True).stdout.split()[-1]) for _ in range(2)]
    print(f"# screened path, {2 * n_each} tasks, p={p}, n={n}, float32, {n_lambdas} lambdas; one fresh process each")
    print(f"empty cache: {times[0]:.1f} s; cache filled by the first process: {times[1]:.1f} s "
          f"({times[0] / times[1]:.1f} x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
