"""What a compiled program costs in resident memory, with XLA's default options and with
the package's (``mtlcomb_jax.compiling.PROGRAM_OPTIONS``).

One working-set solver program (the restricted FISTA loop at the smallest lambda of a
mixed-task path) is compiled both ways in this process: the resident memory each adds
(after glibc's ``malloc_trim``, so free blocks do not count), its compile time, and its
time per iteration (median of repeated fixed-length runs, compile apart). Then the
same for a one-operation program, and the number of programs a path plus CV compiles.

    python bench/bench_programs.py [--quick] [--repeats 5]
"""
from __future__ import annotations

import argparse
import gc
import logging
import sys
import time

import numpy as np

from bench_genomics import current_rss_bytes, release_free_blocks


def resident_mib():
    """Resident memory in MiB after a garbage collection and (glibc) returning free blocks."""
    gc.collect()
    release_free_blocks()
    return current_rss_bytes() / 2**20


def captured_solver_call(mc, ws, data):
    """The arguments of the solver program's last call in a 20-lambda screened path."""
    calls = []
    original = ws.solve_on_columns

    def capture(*args, **kwargs):
        calls.append((args, kwargs))
        return original(*args, **kwargs)
    ws.solve_on_columns = capture
    try:
        mc.fit_path(data, n_lambdas=20, lambda_min_ratio=0.01, screening=True)
    finally:
        ws.solve_on_columns = original
    return calls[-1]


def compiled_cost(jax, fun, static, args, kwargs, options, repeats):
    """(MiB added by compiling, compile s, median run s) of jit(fun) with ``options``."""
    extra = {"compiler_options": options} if options else {}
    jax.clear_caches()     # or JAX returns the program it compiled for the same function before
    before = resident_mib()
    start = time.perf_counter()
    compiled = jax.jit(fun, static_argnames=static, **extra).lower(*args, **kwargs).compile()
    compile_s = time.perf_counter() - start
    added = resident_mib() - before
    runs = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        jax.block_until_ready(compiled(*args))
        runs.append(time.perf_counter() - start)
    return added, compile_s, float(np.median(runs[1:])), compiled


def count_compiles(jax, mc, data):
    """Programs compiled by a 30-lambda path and a 5-fold CV with working sets (fresh caches)."""
    compiles = []

    class Counter(logging.Handler):
        def emit(self, record):
            if record.getMessage().startswith("Compiling"):
                compiles.append(record.getMessage().split()[1])
    handler = Counter()
    loggers = [logging.getLogger(name) for name in ("jax._src.interpreters.pxla", "jax._src.dispatch")]
    saved = [(lg.level, lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
        lg.propagate = False
    jax.clear_caches()
    before = resident_mib()
    jax.config.update("jax_log_compiles", True)
    try:
        mc.fit_path(data, n_lambdas=30, lambda_min_ratio=0.01, screening=True)
        mc.cross_validate(data, n_folds=5, n_lambdas=30, lambda_min_ratio=0.01, screening=True)
    finally:
        jax.config.update("jax_log_compiles", False)
        for lg, (level, propagate) in zip(loggers, saved):
            lg.removeHandler(handler)
            lg.setLevel(level)
            lg.propagate = propagate
    grown = resident_mib() - before
    jax.clear_caches()
    return compiles, grown, grown - (resident_mib() - before)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import jax
    import jax.numpy as jnp
    import mtlcomb_jax as mc
    from mtlcomb_jax import compiling
    from mtlcomb_jax import working_set as ws
    from mtlcomb_jax.simulate import simulate_mixed_tasks

    p, n, n_each = (500, 40, 2) if args.quick else (2000, 60, 3)
    Xs, ys, types, _ = simulate_mixed_tasks(n_each, n_each, p, 20, n, seed=0)
    data = mc.MultiTaskData.from_tasks([X.astype(np.float32) for X in Xs], [y.astype(np.float32) for y in ys],
                                       types)
    call_args, call_kwargs = captured_solver_call(mc, ws, data)
    # a fixed-length run: tolerance 0, 200 iterations, no working ahead (arguments:
    # problem, W, columns, valid, b0, z0, gamma0, settings, next_lam, work_ahead)
    call_args = list(call_args)
    call_args[7] = call_args[7].replace(tol=0.0, max_iter=200)
    call_args[9] = jnp.zeros_like(call_args[9])
    jax.clear_caches()
    print(f"# {jax.__version__=}, {2 * n_each} tasks, n={n}, p={p}, float32; solver program: "
          f"{call_args[2].shape[1]} columns, 200 iterations; median of {args.repeats}")
    print(f"{'program':<28} {'options':<36} {'MiB':>6} {'compile s':>10} {'run ms':>8}")
    accepted = compiling.program_options()
    results = {"XLA defaults": [], "PROGRAM_OPTIONS": []}
    alive = []     # kept, so that a later compile cannot reuse an earlier program's memory
    for label, options in (("XLA defaults", {}), ("PROGRAM_OPTIONS", accepted)) * 2:
        added, compile_s, run_s, compiled = compiled_cost(
            jax, ws.solve_on_columns._fun, ("one_set", "mesh"), call_args, call_kwargs, options,
            args.repeats)
        alive.append(compiled)
        results[label].append((added, run_s))
        print(f"{'working-set solver':<28} {label + ' ' + str(options or ''):<36} {added:6.1f} {compile_s:10.2f} "
              f"{1e3 * run_s:8.2f}")
    if accepted:
        # The first compile in a process also pays one-time costs: the second pair is the fair one.
        (mib_default, run_default), (mib_ours, run_ours) = results["XLA defaults"][1], results["PROGRAM_OPTIONS"][1]
        print(f"solver program (second compile of each): {mib_ours:.1f} against {mib_default:.1f} MiB "
              f"({mib_ours / mib_default:.2f} x), {1e3 * run_ours:.2f} against {1e3 * run_default:.2f} ms "
              f"({run_ours / run_default:.2f} x the time) with PROGRAM_OPTIONS")
    else:
        print("this XLA rejects PROGRAM_OPTIONS: the package compiles with XLA's defaults")
    del alive
    before = resident_mib()
    for size in range(1, 41):      # 40 eager one-operation programs (a new shape each)
        jax.block_until_ready(jnp.ones(size + 7) * 2.0)
    print(f"one eager operation's program: {(resident_mib() - before) / 80 * 1024:.0f} KiB "
          "(80 programs: the ones and the product, per shape)")
    compiles, grown, freed = count_compiles(jax, mc, data)
    print(f"30-lambda path + 5-fold CV: {len(compiles)} programs compiled; resident memory grew by "
          f"{grown:.0f} MiB, of which jax.clear_caches() returns {freed:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
