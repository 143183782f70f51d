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
size). The header gives the device kind, jax and jaxlib versions, the dtype and the
precision every product runs at (``mtlcomb_jax.precision``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import jax
import numpy as np

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


def _block(out):
    for leaf in jax.tree.leaves(out):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return out


def _timed(fn, repeats):
    """(last result, compile s, median run s)."""
    t0 = time.perf_counter()
    out = _block(fn())
    first = time.perf_counter() - t0
    runs = []
    for _ in range(max(repeats, 1)):
        t0 = time.perf_counter()
        out = _block(fn())
        runs.append(time.perf_counter() - t0)
    run = float(np.median(runs))
    return out, max(first - run, 0.0), run


def _bare_products(X, n_tasks, dtype, chain=100, repeats=5):
    """GB/s of the two products an iteration needs (X W and X^T V), chained ``chain`` times
    inside one program so that dispatch does not count: the memory traffic a solver
    iteration cannot go below."""
    import jax.numpy as jnp

    from mtlcomb_jax import losses
    from mtlcomb_jax.precision import jit
    W0 = jnp.ones((X.shape[-1], n_tasks), dtype)

    @jit
    def chained(X, W):
        def one(_, W):
            z = losses.predictor(X, W, jnp.zeros(n_tasks, dtype))
            return W * 0.5 + 1e-30 * losses.backproject(X, z)        # each product feeds the next
        return jax.lax.fori_loop(0, chain, one, W)

    _block(chained(X, W0))
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _block(chained(X, W0))
        times.append(time.perf_counter() - t0)
    return 2 * X.nbytes * chain / float(np.median(times)) / 1e9


def _simulate(n_reg, n_cls, n, p, dtype, seed=0):
    """Per-task designs in the paper's simulation (``mtlcomb_jax.simulate``)."""
    import mtlcomb_jax as mc
    from mtlcomb_jax.simulate import simulate_mixed_tasks
    Xs, ys, types, _ = simulate_mixed_tasks(n_reg, n_cls, p, min(10, p), n, seed=seed)
    return mc.MultiTaskData.from_tasks([X.astype(dtype) for X in Xs], [y.astype(dtype) for y in ys], types)


def _workloads(quick, dtype, with_gene):
    """[(name, data, call returning (result, iterations))]."""
    import mtlcomb_jax as mc
    rows = []
    n_each, p_tut = (4, 60) if quick else (10, 200)
    tutorial = _simulate(n_each, n_each, 100, p_tut, dtype)
    relative = dict(intercept=False, stop="relative", tol=1e-6, max_iter=20000)
    L_path, (K, L_cv) = (10, (3, 5)) if quick else (50, (10, 20))
    rows.append(("tutorial path", tutorial, lambda: _iters(mc.fit_path(tutorial, n_lambdas=L_path,
                                                                       lambda_min_ratio=0.001, **relative))))
    rows.append(("tutorial CV", tutorial, lambda: _iters(mc.cross_validate(tutorial, n_folds=K, n_lambdas=L_cv,
                                                                           **relative))))
    if with_gene:
        p_gene, L_gene, K_gene = (2000, 20, 3) if quick else (20000, 100, 10)
        gene = _simulate(10, 10, 200, p_gene, dtype)

        def gene_call():
            path = mc.fit_path(gene, n_lambdas=L_gene)
            cv = mc.cross_validate(gene, n_folds=K_gene, n_lambdas=L_gene)
            return (path, cv), int(np.sum(path.n_iter)) + int(np.sum(cv.n_iter))
        rows.append(("gene path + CV", gene, gene_call))
    B = 20 if quick else 1000
    rows.append(("stability", tutorial, lambda: _iters(mc.stability_selection(tutorial, n_subsamples=B,
                                                                              n_lambdas=20))))
    n_data = 16 if quick else 256
    batch = _simulate(3, 3, 100, 100, dtype)
    rng = np.random.default_rng(1)
    Xb = jax.device_put(rng.standard_normal((n_data,) + batch.X.shape).astype(dtype))
    lambdas = np.asarray(mc.lambda_grid(batch, n_lambdas=20), dtype)

    @jax.jit
    def vmapped(Xb):
        return jax.vmap(lambda X: mc.fit_path(batch.replace(X=X), lambdas).n_iter)(Xb)
    rows.append(("vmapped datasets", batch, lambda: (lambda n_iter: (n_iter, int(np.sum(n_iter))))(vmapped(Xb))))
    return rows


def _iters(result):
    return result, int(np.sum(np.asarray(result.n_iter)))


def _peak_gib(device):
    try:
        stats = device.memory_stats()
    except Exception:                 # backends without memory statistics
        return None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return stats["peak_bytes_in_use"] / 2 ** 30


def _commit():
    try:
        return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _run_on(device, args, dtype, with_gene):
    from mtlcomb_jax.precision import PRECISION
    header = dict(platform=device.platform, device_kind=getattr(device, "device_kind", "?"),
                  n_devices=len(jax.devices(device.platform)), jax=jax.__version__,
                  jaxlib=_jaxlib_version(), dtype=np.dtype(dtype).name, precision=PRECISION,
                  compilation_cache=jax.config.jax_compilation_cache_dir or "off")
    print(f"\n# {header['platform']} ({header['device_kind']}), {header['n_devices']} device(s); jax "
          f"{header['jax']}, jaxlib {header['jaxlib']}; {header['dtype']}, products at precision "
          f"{header['precision']!r}; median of {args.repeats}; compilation cache: {header['compilation_cache']}")
    print(f"{'workload':<18} {'compile s':>9} {'run s':>8} {'it/s':>10} {'GB/s':>8} {'bare GB/s':>9} "
          f"{'of bare':>7} {'peak GiB':>8}")
    rows = []
    with jax.default_device(device):
        for name, data, call in _workloads(args.quick, dtype, with_gene):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")       # convergence is reported by the tests, not here
                (_, iterations), compile_s, run_s = _timed(call, args.repeats)
            bare = _bare_products(data.X, data.n_tasks, dtype)
            traffic = iterations * 2 * data.X.nbytes / run_s / 1e9
            peak = _peak_gib(device)
            row = dict(workload=name, compile_s=compile_s, run_s=run_s, iterations=iterations,
                       iterations_per_s=iterations / run_s, gb_per_s=traffic, bare_gb_per_s=bare,
                       of_bare=traffic / bare, peak_gib=peak)
            rows.append(row)
            print(f"{name:<18} {compile_s:>9.2f} {run_s:>8.3f} {row['iterations_per_s']:>10.0f} {traffic:>8.1f} "
                  f"{bare:>9.1f} {row['of_bare']:>7.2f} {'-' if peak is None else f'{peak:.2f}':>8}")
    return dict(header=header, rows=rows)


def _jaxlib_version():
    try:
        import jaxlib
        return jaxlib.__version__
    except (ImportError, AttributeError):
        return "?"


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
    results = [_run_on(device, args, dtype, gene) for device, gene in targets]
    if args.json:
        Path(args.json).write_text(json.dumps(dict(meta=meta, devices=results), indent=2, default=float))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
