"""Gene-expression scale: 10 regression + 10 classification tasks, n=200 each, p=20,000, float32.

A 100-lambda path (ratio 0.01) and 10-fold CV over the same number of lambdas,
the defaults a user would type (working sets, as ``screening="auto"`` chooses at this width;
gap rule at the float32 default tolerance). By default one call does both (``cross_validate(..., return_path=True)``:
the full data's path is one more problem of the folds' batch); ``--separate`` runs
``fit_path`` and then ``cross_validate``. Reports the time of the first run of each workload (compile
included) and, with ``--warm``, of a second run in the same process (compiled
programs cached: the run time proper), and the process's peak resident memory
against the size of X, with what the grown RSS holds after fitting (free blocks kept
by the allocator, compiled programs, live arrays). Target (issue): path + CV under
60 s, peak memory at most 2 x the size of X.

    python bench/bench_genomics.py [--quick] [--separate] [--warm] [--cache DIR] [--n-lambdas 100] [--n-folds 10]
"""
from __future__ import annotations

import argparse
import gc
import resource
import sys
import time

import numpy as np

from mtlcomb_jax.host_memory import release_free_blocks


def _status_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def current_rss_bytes():
    return _status_kib("VmRSS") * 1024


def reset_peak_rss():
    """Make the peak RSS (VmHWM) start again from the current RSS (Linux >= 4.0).

    Returns False where that is not possible. Without this, the peak before fitting is
    the high-water mark of building the data (the simulation's float64 copies), and
    growth measured from it is understated: measured that way it read 2.3 to 2.4 x X where
    the RSS during the fit grew by about 3.4 x X (an ad-hoc script sampling it every 10 ms).
    """
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes():
    try:
        return _status_kib("VmHWM") * 1024
    except (OSError, KeyError):                                                 # not Linux
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def where_the_memory_is(base, x_bytes, jax, base_file=None):
    """What the RSS grown since ``base`` holds once fitting is over: live JAX arrays, the
    allocator's free blocks (what glibc's ``malloc_trim`` gives back) and the compiled
    programs (what ``jax.clear_caches`` gives back; they would be compiled again, so call
    this last). ``base_file``: the RssFile (bytes) at ``base``, if known."""
    def grown():
        gc.collect()
        return current_rss_bytes() - base
    now = grown()
    live = sum(array.nbytes for array in jax.live_arrays()) - x_bytes
    if not release_free_blocks():
        return f"RSS grown by {now / x_bytes:.2f} x X after fitting (not broken down: no glibc malloc_trim)"
    trimmed = grown()
    jax.clear_caches()
    release_free_blocks()
    no_programs = grown()
    def share(nbytes):
        return f"{nbytes / 2**20:.0f} MiB ({nbytes / x_bytes:.2f} x X)"
    file_backed = (_status_kib("RssFile") * 1024 - base_file) if base_file is not None else None
    other = (f"other {share(no_programs - live)}" if file_backed is None else
             f"other {share(no_programs - live)}, of which pages of loaded libraries (RssFile, shared "
             f"and reclaimable) {share(file_backed)}")
    return (f"RSS grown after fitting: {share(now)}: allocator's free blocks {share(now - trimmed)}, "
            f"compiled programs {share(trimmed - no_programs)}, live arrays besides X {share(live)}, {other}")


def timed_once(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n-lambdas", type=int, default=100)
    parser.add_argument("--n-folds", type=int, default=10)
    parser.add_argument("--separate", action="store_true", help="fit_path, then cross_validate (default: "
                        "one cross_validate(return_path=True))")
    parser.add_argument("--warm", action="store_true", help="also time a second, compiled run of each")
    parser.add_argument("--cache", metavar="DIR", help="load and store compiled programs in DIR (run twice: "
                        "the second process compiles nothing, which separates the compiler's memory "
                        "from the fit's)")
    args = parser.parse_args()
    import jax
    import mtlcomb_jax as mc
    if args.cache:
        mc.enable_compilation_cache(args.cache)
    from mtlcomb_jax.simulate import simulate_mixed_tasks
    p, n, n_each, n_true = (2000, 60, 3, 20) if args.quick else (20000, 200, 10, 50)
    Xs, ys, types, _ = simulate_mixed_tasks(n_each, n_each, p, n_true, n, seed=0)
    Xs = [X.astype(np.float32) for X in Xs]
    ys = [y.astype(np.float32) for y in ys]
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    del Xs
    x_bytes = data.X.size * data.X.dtype.itemsize
    # The host-to-device copy of X runs asynchronously and frees its numpy source when
    # done: without waiting, the RSS before fitting still counts that source (about
    # 0.45 x X, measured ad hoc), and the growth would be understated.
    jax.block_until_ready(data.X)
    gc.collect()
    time.sleep(1.0)
    base = current_rss_bytes()
    try:
        base_file = _status_kib("RssFile") * 1024
    except (OSError, KeyError):
        base_file = None
    if not reset_peak_rss():
        print("# cannot reset the peak RSS here: growth is measured from the peak of building the data")
        base = peak_rss_bytes()

    common = dict(n_lambdas=args.n_lambdas, lambda_min_ratio=0.01)

    def run_path():
        path = mc.fit_path(data, **common)
        jax.block_until_ready(path.W)
        return path

    def run_cv(return_path=False):
        cv = mc.cross_validate(data, n_folds=args.n_folds, return_path=return_path, **common)
        if cv.path is not None:
            jax.block_until_ready(cv.path.W)
        return cv

    def run_both():
        """(path, cv, path seconds, CV seconds, peak RSS after the path)."""
        if args.separate:
            path, t_path = timed_once(run_path)
            peak_path = peak_rss_bytes()
            cv, t_cv = timed_once(run_cv)
            return path, cv, t_path, t_cv, peak_path
        cv, t_cv = timed_once(lambda: run_cv(return_path=True))
        return cv.path, cv, 0.0, t_cv, None

    path, cv, t_path, t_cv, peak_path = run_both()
    peak = peak_rss_bytes()
    mode = "fit_path, then cross_validate" if args.separate else "one cross_validate(return_path=True)"
    print(f"# {2 * n_each} tasks, n={n}, p={p}, float32, {jax.device_count()} {jax.devices()[0].platform} device(s); "
          f"{mode}")
    print(f"path, {args.n_lambdas} lambdas: "
          + (f"{t_path:.1f} s (compile included); " if args.separate else "in the CV's batch; ")
          + f"{int(path.n_selected()[-1])} features at the smallest lambda; all converged: "
          f"{bool(np.all(np.asarray(path.converged)))}")
    print(f"{args.n_folds}-fold CV x {args.n_lambdas} lambdas: {t_cv:.1f} s (compile included); "
          f"lambda_weighted_min={cv.lambda_weighted_min:.4g}; converged {int(cv.converged.sum())} of "
          f"{cv.converged.size}")
    verdict = "quick size: the target applies to the full size" if args.quick else \
        f"target < 60 s: {'hit' if t_path + t_cv < 60 else 'missed'}"
    print(f"total {t_path + t_cv:.1f} s, compile included ({verdict})")
    path_w_share = path.W.size * path.W.dtype.itemsize / x_bytes
    if args.warm:
        del path, cv            # the second run's results replace the first's
        path, cv, warm_path, warm_cv, _ = run_both()
        warm_verdict = "" if args.quick else f" (target < 60 s: {'hit' if warm_path + warm_cv < 60 else 'missed'})"
        print(f"second run (compiled): path {warm_path:.1f} s + CV {warm_cv:.1f} s = {warm_path + warm_cv:.1f} s"
              + warm_verdict)
    print(where_the_memory_is(base, x_bytes, jax, base_file))
    after_path = f"after the path: {(peak_path - base) / x_bytes:.2f}; " if peak_path is not None else ""
    print(f"X: {x_bytes / 2**20:.0f} MiB; peak RSS {peak / 2**20:.0f} MiB (RSS before fitting {base / 2**20:.0f} MiB); "
          f"peak / X = {peak / x_bytes:.2f}, growth while fitting / X = {(peak - base) / x_bytes:.2f} "
          f"({after_path}the path's W alone is {path_w_share:.2f} x X; "
          + ("quick size: the target applies to the full size)" if args.quick else
             f"target <= 2: {'hit' if (peak - base) / x_bytes <= 2 else 'missed'})"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
