"""The benchmark workloads on whatever device JAX finds, and on the CPU beside it.

    python bench/bench_accelerator.py [--quick] [--repeats 3] [--dtype float32] [--no-cpu] [--json FILE]

For each device (JAX's default one, then the CPU unless it is the default or ``--no-cpu``)
and each workload it prints:

- ``compile s``: the first call's time less the median run (compilation and tracing);
- ``run s``: the median of ``--repeats`` runs after it;
- ``it/s``: solver iterations per second, summed over every problem of the workload
  (folds, subsamples, datasets) and every lambda;
- ``GB/s`` and ``of bare``: the bytes the iterations would stream if each read its
  design twice (the forward product X W and the backward X^T V, which no iteration can
  avoid), per second, and that figure over what the two bare products reach on the same
  device and shape (``bare GB/s``; 100 chained pairs in one program). Batched problems
  share one X, so their real traffic is lower and the ratio can exceed 1;
- ``peak GiB``: the device's peak memory in use so far (``device.memory_stats()``, where
  the backend reports it; the CPU does not).

Workloads (full size / ``--quick``):

- ``tutorial path``: the R package's tutorial shape, 10 regression + 10 classification
  tasks, n = 100, p = 200, 50 lambdas, ``stop="relative"``, no intercept (8 tasks, p = 60);
- ``tutorial CV``: the same data, 10 folds x 20 lambdas (3 folds x 5);
- ``gene path + CV``: 10 + 10 tasks, n = 200, p = 20,000, ``fit_path(n_lambdas=100)`` then
  ``cross_validate(n_folds=10, n_lambdas=100)``, the defaults (p = 2,000, 20 lambdas, 3 folds);
- ``stability``: 1,000 subsamples of the tutorial data along 20 lambdas (20 subsamples);
- ``vmapped datasets``: ``jax.vmap`` of ``fit_path`` over 256 independent simulated
  datasets (6 tasks, n = 100, p = 100, 20 lambdas): the "differentiable component" use,
  one program for all of them (16 datasets).

Compile times are those a user meets: with the package's persistent compilation cache
(on by default; ``MTLCOMB_JAX_CACHE=0`` for an empty-cache figure every run), a second run
loads its programs. The gene workload runs on the CPU only with ``--cpu-gene`` (about a minute there at full
size). The header gives the device kind, jax and jaxlib versions, the dtype, the
precision every product runs at (``mtlcomb_jax.precision``) and the solver's loop shape
(``mtlcomb_jax.loops``: each device runs its platform's, so the CPU beside an accelerator
runs the CPU's adaptive loops; ``MTLCOMB_JAX_LOOPS=fixed`` or ``adaptive`` sets one shape
for both).
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
from pathlib import Path

import jax
import numpy as np

from mtlcomb_jax.benchmarking import accelerator_workloads

ROOT = Path(__file__).resolve().parents[1]


def _arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds; CI runs this)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs after the first")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--no-cpu", action="store_true", help="skip the CPU comparison")
    parser.add_argument("--cpu-gene", action="store_true", help="also run the gene workload on the CPU")
    parser.add_argument("--json", help="also write the figures and their metadata to this file")
    return parser.parse_args()


def _commit():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _print(header, rows):
    print(f"\n# {header['platform']} ({header['device_kind']}), {header['n_devices']} device(s); jax "
          f"{header['jax']}, jaxlib {header['jaxlib']}; {header['dtype']}, products at precision "
          f"{header['precision']!r}; {header['loops']} loops; median of {header['repeats']}; "
          f"compilation cache: {header['compilation_cache']}")
    print(f"{'workload':<18} {'compile s':>9} {'run s':>8} {'it/s':>10} {'GB/s':>8} {'bare GB/s':>9} "
          f"{'of bare':>7} {'peak GiB':>8}")
    for row in rows:
        peak = "-" if row["peak_gib"] is None else f"{row['peak_gib']:.2f}"
        print(f"{row['workload']:<18} {row['compile_s']:>9.2f} {row['run_s']:>8.3f} {row['iterations_per_s']:>10.0f} "
              f"{row['gb_per_s']:>8.1f} {row['bare_gb_per_s']:>9.1f} {row['of_bare']:>7.2f} {peak:>8}")


def main():
    args = _arguments()
    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    dtype = np.float32 if args.dtype == "float32" else np.float64
    default = jax.devices()[0]
    targets = [(default, True)]
    if default.platform != "cpu" and not args.no_cpu:
        targets.append((jax.devices("cpu")[0], args.cpu_gene))
    meta = dict(date=datetime.date.today().isoformat(), commit=_commit(), machine=platform.node(),
                processor=platform.processor() or platform.machine(), python=sys.version.split()[0],
                quick=args.quick, repeats=args.repeats)
    print(f"bench_accelerator {meta['date']}, commit {meta['commit']}, {meta['machine']}")
    results = []
    for device, gene in targets:
        header, rows = accelerator_workloads(device, quick=args.quick, dtype=dtype, repeats=args.repeats, gene=gene)
        _print(header, rows)
        results.append(dict(header=header, rows=rows))
    if args.json:
        Path(args.json).write_text(json.dumps(dict(meta=meta, devices=results), indent=2, default=float))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
