"""Timing helpers shared by ``bench/``, the ``bench`` command and the notebooks.

Every timing separates the first call (compile + run) from the median of the
following runs, and blocks on the result so asynchronous dispatch is not
mistaken for speed. :func:`accelerator_workloads` is what ``bench/bench_accelerator.py``
and ``notebooks/04_accelerator_benchmark.ipynb`` measure on a device.
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


#: the R package's tutorial settings: its stopping rule, tolerance and no intercept
R_SETTINGS = dict(intercept=False, stop="relative", tol=1e-6, max_iter=20000)


def _jaxlib_version():
    try:
        import jaxlib
        return jaxlib.__version__
    except (ImportError, AttributeError):
        return "?"


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
    ``quick`` shrinks everything so it runs in seconds. Returns a tuple (header, rows):
    header a dict (device, n_devices, dtype, shape, repeats), rows a list of dicts
    (workload, compile_s, run_s).
    """
    import mtlcomb_jax as mc
    n_each, p, n, n_lambdas, n_folds = (2, 30, 40, 10, 3) if quick else (10, 200, 100, 50, 10)
    data = _simulated(n_each, n_each, n, p, seed=seed)
    rows = []
    _, c, r = timed(lambda: mc.fit_path(data, n_lambdas=n_lambdas, lambda_min_ratio=0.001, **R_SETTINGS), repeats)
    rows.append(dict(workload=f"path, {n_lambdas} lambdas", compile_s=c, run_s=r))
    _, c, r = timed(lambda: mc.cross_validate(data, n_folds=n_folds, n_lambdas=20 if not quick else 5,
                                              lambda_min_ratio=0.01, **R_SETTINGS), repeats)
    rows.append(dict(workload=f"CV, {n_folds} folds", compile_s=c, run_s=r))
    header = dict(device=str(jax.devices()[0].platform), n_devices=jax.device_count(),
                  dtype=str(data.X.dtype), shape=f"{2 * n_each} tasks, n={n}, p={p}", repeats=repeats)
    return header, rows


def bare_product_bandwidth(X, n_tasks, chain=100, repeats=5):
    """GB/s of the two products a solver iteration needs (X W and X^T V) on X's shape,
    ``chain`` of them chained in one program so that dispatch does not count: the memory
    traffic no iteration can go below."""
    import jax.numpy as jnp

    from . import losses
    from .precision import jit
    dtype = X.dtype
    W0 = jnp.ones((X.shape[-1], n_tasks), dtype)

    @jit
    def chained(X, W):
        def one(_, W):
            z = losses.predictor(X, W, jnp.zeros(n_tasks, dtype))
            return W * 0.5 + 1e-30 * losses.backproject(X, z)        # each product feeds the next
        return jax.lax.fori_loop(0, chain, one, W)

    _, _, run = timed(lambda: chained(X, W0), repeats)
    return 2 * X.nbytes * chain / run / 1e9


def _simulated(n_reg, n_cls, n, p, dtype=None, seed=0):
    """Per-task designs in the paper's simulation (:mod:`~mtlcomb_jax.simulate`), in
    ``dtype`` (default: as simulated)."""
    import mtlcomb_jax as mc
    from .simulate import simulate_mixed_tasks
    Xs, ys, types, _ = simulate_mixed_tasks(n_reg, n_cls, p, min(10, p), n, seed=seed)
    if dtype is not None:
        Xs, ys = [X.astype(dtype) for X in Xs], [y.astype(dtype) for y in ys]
    return mc.MultiTaskData.from_tasks(Xs, ys, types)


def shared_mixed_data(n, p, dtype=np.float64, seed=0):
    """The benchmarks' shared-X problem: one X (n, p) in ``dtype`` for 3 regression and 3
    classification outcomes, which 20 features drive (``bench/bench_first_call.py`` and the
    scripts that compare against it)."""
    import mtlcomb_jax as mc
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p)).astype(dtype)
    W = np.zeros((p, 6))
    W[:20] = rng.standard_normal((20, 6))
    Z = X @ W + rng.standard_normal((n, 6))
    Y = np.column_stack([Z[:, :3], (Z[:, 3:] > 0).astype(float)])
    return mc.MultiTaskData.from_outcomes(X, Y, ["regression"] * 3 + ["classification"] * 3)


def _with_iterations(result):
    return result, int(np.sum(np.asarray(result.n_iter)))


def accelerator_cases(*, quick=False, dtype=np.float32, gene=True):
    """[(name, data, call)] of the accelerator benchmark; ``call()`` returns (result, total
    iterations over every problem and lambda). ``bench/bench_accelerator.py``'s docstring
    lists the sizes, full and ``quick``."""
    import mtlcomb_jax as mc
    n_each, p_tut = (4, 60) if quick else (10, 200)
    tutorial = _simulated(n_each, n_each, 100, p_tut, dtype)
    L_path, K, L_cv = (10, 3, 5) if quick else (50, 10, 20)
    cases = [("tutorial path", tutorial, lambda: _with_iterations(
                  mc.fit_path(tutorial, n_lambdas=L_path, lambda_min_ratio=0.001, **R_SETTINGS))),
             ("tutorial CV", tutorial, lambda: _with_iterations(
                  mc.cross_validate(tutorial, n_folds=K, n_lambdas=L_cv, **R_SETTINGS)))]
    if gene:
        p_gene, L_gene, K_gene = (2000, 20, 3) if quick else (20000, 100, 10)
        genes = _simulated(10, 10, 200, p_gene, dtype)

        def gene_call():
            path = mc.fit_path(genes, n_lambdas=L_gene)
            cv = mc.cross_validate(genes, n_folds=K_gene, n_lambdas=L_gene)
            return (path, cv), int(np.sum(path.n_iter)) + int(np.sum(cv.n_iter))
        cases.append(("gene path + CV", genes, gene_call))
    B = 20 if quick else 1000
    cases.append(("stability", tutorial, lambda: _with_iterations(
        mc.stability_selection(tutorial, n_subsamples=B, n_lambdas=20))))
    n_data = 16 if quick else 256
    one = _simulated(3, 3, 100, 100, dtype)
    Xb = jax.device_put(np.random.default_rng(1).standard_normal((n_data,) + one.X.shape).astype(dtype))
    lambdas = np.asarray(mc.lambda_grid(one, n_lambdas=20), dtype)
    vmapped = jax.jit(jax.vmap(lambda X: mc.fit_path(one.replace(X=X), lambdas).n_iter))
    cases.append(("vmapped datasets", one, lambda: (lambda n_iter: (n_iter, int(np.sum(n_iter))))(vmapped(Xb))))
    return cases


def peak_memory_gib(device):
    """The device's peak bytes in use so far, in GiB, or None where the backend does not say."""
    try:
        stats = device.memory_stats()
    except Exception:                 # backends without memory statistics raise various errors
        return None
    if not stats or "peak_bytes_in_use" not in stats:
        return None
    return stats["peak_bytes_in_use"] / 2 ** 30


def accelerator_workloads(device=None, *, quick=False, dtype=np.float32, repeats=3, gene=True):
    """(header, rows) of the accelerator benchmark on ``device`` (default: JAX's first).

    header: platform, device kind, device count, jax and jaxlib versions, dtype, the
    products' precision, the solver's loop shape (the device platform's unless
    ``MTLCOMB_JAX_LOOPS`` says otherwise, :mod:`.loops`)
    and the compilation cache folder. Each row: workload, compile_s,
    run_s (median), iterations, iterations_per_s, gb_per_s (the bytes the iterations would
    stream reading their design twice each, per second), bare_gb_per_s
    (:func:`bare_product_bandwidth`), of_bare (their ratio) and peak_gib.
    """
    import warnings

    from .loops import shape_for, shape_name
    from .precision import PRECISION
    device = device or jax.devices()[0]
    header = dict(platform=device.platform, device_kind=getattr(device, "device_kind", "?"),
                  n_devices=len(jax.devices(device.platform)), jax=jax.__version__, jaxlib=_jaxlib_version(),
                  dtype=np.dtype(dtype).name, precision=PRECISION, loops=shape_name(device.platform),
                  compilation_cache=jax.config.jax_compilation_cache_dir or "off", repeats=repeats)
    rows = []
    with jax.default_device(device), shape_for(device.platform):
        for name, data, call in accelerator_cases(quick=quick, dtype=dtype, gene=gene):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")       # convergence is the tests' business, not the timing's
                (_, iterations), compile_s, run_s = timed(call, repeats)
            bare = bare_product_bandwidth(data.X, data.n_tasks)
            streamed = iterations * 2 * data.X.nbytes / run_s / 1e9
            rows.append(dict(workload=name, compile_s=compile_s, run_s=run_s, iterations=iterations,
                             iterations_per_s=iterations / run_s, gb_per_s=streamed, bare_gb_per_s=bare,
                             of_bare=streamed / bare, peak_gib=peak_memory_gib(device)))
    return header, rows
