"""Cross-validation sharded over the devices of several processes (multi-host JAX).

On a cluster, start one copy per host, each with the same coordinator:

    python bench/multihost_cv.py --coordinator HOST0:12355 --num-processes 2 --process-id 0   # on host 0
    python bench/multihost_cv.py --coordinator HOST0:12355 --num-processes 2 --process-id 1   # on host 1

On one machine, ``--launch-local 2`` starts two such processes (each with two
simulated CPU devices) and checks that they agree with a single-process run.
The folds are spread over ``jax.devices()`` (all processes' devices) and every
process receives the full CVResult.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def run_process(args):
    import jax
    # CPU devices of different processes talk through gloo (GPU/TPU use their own collectives).
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    if args.num_processes > 1:
        jax.distributed.initialize(coordinator_address=args.coordinator, num_processes=args.num_processes,
                                   process_id=args.process_id)
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import mtlcomb_jax as mc
    from mtlcomb_jax.simulate import simulate_mixed_tasks
    Xs, ys, types, _ = simulate_mixed_tasks(5, 5, 100, 10, 80, seed=0)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    t0 = time.perf_counter()
    cv = mc.cross_validate(data, n_folds=8, n_lambdas=10, devices=jax.devices())
    seconds = time.perf_counter() - t0
    # The full data's path alongside the sharded CV (a separate fit_path without working sets).
    with_path = mc.cross_validate(data, n_folds=8, n_lambdas=10, devices=jax.devices(), return_path=True)
    path_objective = float(np.sum(np.asarray(with_path.path.objective)))
    if jax.process_count() > 1:
        # Working sets run their loop on each host: devices of other processes are refused.
        try:
            mc.cross_validate(data, n_folds=3, n_lambdas=10, devices=jax.devices(), screening=True)
            return 1
        except ValueError as error:
            assert "devices=jax.local_devices()" in str(error), error
    print(f"process {jax.process_index()} of {jax.process_count()}: {jax.device_count()} devices in all, "
          f"lambda_weighted_min={cv.lambda_weighted_min:.12g}, {seconds:.2f} s (compile included), "
          f"path objective sum={path_objective:.8g}", flush=True)
    return 0


def launch_local(n_processes):
    """Start n local processes with 2 CPU devices each, then one plain process; compare their answers."""
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    base = [sys.executable, __file__, "--coordinator", "localhost:12355", "--num-processes", str(n_processes)]
    procs = [subprocess.Popen(base + ["--process-id", str(i)], env=env, stdout=subprocess.PIPE, text=True)
             for i in range(n_processes)]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    single = subprocess.run([sys.executable, __file__], env=env, stdout=subprocess.PIPE, text=True, timeout=600)
    lines = [line for out in outputs + [single.stdout] for line in out.splitlines() if "lambda_weighted_min" in line]
    print("\n".join(lines))
    answers = {line.split("lambda_weighted_min=")[1].split(",")[0] for line in lines}
    # Sharding changes the rounding of reductions: the paths agree to 8 digits, not bit for bit.
    paths = {line.split("path objective sum=")[1] for line in lines}
    ok = all(p.returncode == 0 for p in procs) and single.returncode == 0 and len(lines) == n_processes + 1 \
        and len(answers) == 1 and len(paths) == 1
    print("all processes agree with the single-process run" if ok else "MISMATCH or failure")
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coordinator", default="localhost:12355", help="host:port of process 0")
    parser.add_argument("--num-processes", type=int, default=1)
    parser.add_argument("--process-id", type=int, default=0)
    parser.add_argument("--launch-local", type=int, metavar="N", help="start N local processes and compare")
    args = parser.parse_args()
    if args.launch_local:
        return launch_local(args.launch_local)
    return run_process(args)


if __name__ == "__main__":
    sys.exit(main())
