"""Cross-validation and stability selection on 1, 2 and 4 host (CPU) devices.

Each device count runs in its own process (XLA fixes the count at start-up)
with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``; the folds or
subsamples are sharded over the devices. On a machine with C cores, more than C
devices cannot help: the figures show the sharding overhead there.

    python bench/bench_devices.py [--quick] [--repeats 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

WORKER = r"""
import json, sys
import jax
jax.config.update("jax_enable_x64", True)
import mtlcomb_jax as mc
from mtlcomb_jax.benchmarking import timed
from mtlcomb_jax.simulate import simulate_mixed_tasks
quick, repeats = sys.argv[1] == "1", int(sys.argv[2])
n_each, p, n = (2, 30, 40) if quick else (10, 200, 100)
Xs, ys, types, _ = simulate_mixed_tasks(n_each, n_each, p, 10, n, seed=0)
data = mc.MultiTaskData.from_tasks(Xs, ys, types)
_, c_cv, r_cv = timed(lambda: mc.cross_validate(data, n_folds=8, n_lambdas=20, lambda_min_ratio=0.01), repeats)
_, c_st, r_st = timed(lambda: mc.stability_selection(data, n_subsamples=16, n_lambdas=20), repeats)
# A wide problem: the CV with working sets (a Python loop over lambdas around batched solves)
Xs, ys, types, _ = simulate_mixed_tasks(n_each, n_each, 40 if quick else 2000, 10, n, seed=1)
wide = mc.MultiTaskData.from_tasks(Xs, ys, types)
_, c_ws, r_ws = timed(lambda: mc.cross_validate(wide, n_folds=8, n_lambdas=20, lambda_min_ratio=0.01,
                                                screening=True), repeats)
print(json.dumps(dict(devices=jax.device_count(), cv_compile=c_cv, cv_run=r_cv, stab_compile=c_st, stab_run=r_st,
                      wide_compile=c_ws, wide_run=r_ws)))
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    rows = []
    for count in (1, 2, 4):
        env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={count}", JAX_PLATFORMS="cpu")
        done = subprocess.run([sys.executable, "-c", WORKER, "1" if args.quick else "0", str(args.repeats)],
                              env=env, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    shape = "4 tasks, n=40, p=30 (wide: p=40)" if args.quick else "20 tasks, n=100, p=200 (wide: p=2,000)"
    print(f"# {shape}; 8-fold CV x 20 lambdas; stability selection 16 subsamples x 20 lambdas; the wide "
          f"problem's 8-fold CV with working sets; {os.cpu_count()} cores; median of {args.repeats} runs")
    print(f"{'devices':>7} {'CV run s':>9} {'CV speed-up':>11} {'stability run s':>15} {'speed-up':>8} "
          f"{'wide CV run s':>13} {'speed-up':>8}")
    for row in rows:
        print(f"{row['devices']:>7} {row['cv_run']:>9.3f} {rows[0]['cv_run'] / row['cv_run']:>11.2f} "
              f"{row['stab_run']:>15.3f} {rows[0]['stab_run'] / row['stab_run']:>8.2f} "
              f"{row['wide_run']:>13.3f} {rows[0]['wide_run'] / row['wide_run']:>8.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
