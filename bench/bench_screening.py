"""The measurement behind ``screening="auto"`` (``mtlcomb_jax.options.AUTO_MIN_ROW_BYTES``):
the full scan against working sets, first call and warm, for the path and the CV.

Each case (width p, dtype) and engine (``screening=False``, ``True``) runs in a fresh Python
process with the compilation cache off (``MTLCOMB_JAX_CACHE=0``), on the shared-X problem of
``bench_first_call.py`` (n = 200, 3 regression + 3 classification outcomes, 30 lambdas,
5-fold CV, the defaults otherwise): seconds of the first call (compile included) and the
median warm call, import and data building apart. The last column says which engine
``"auto"`` picks at that width and whether it is the faster one warm and at the first
call, for the path and the CV.

    python bench/bench_screening.py [--repeats 3]   # full
    python bench/bench_screening.py --quick         # quick (tiny widths: the threshold does not apply)
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap

CHILD = """
import json, time
import jax
jax.config.update("jax_enable_x64", True)
import numpy as np
import mtlcomb_jax as mc
from mtlcomb_jax.benchmarking import shared_mixed_data
n, p, dtype, screening, repeats = {n}, {p}, np.{dtype}, {screening}, {repeats}
data = shared_mixed_data(n, p, dtype)
jax.block_until_ready(data.X)
calls = dict(path=lambda: mc.fit_path(data, n_lambdas=30, screening=screening),
             cv=lambda: mc.cross_validate(data, n_folds=5, n_lambdas=30, screening=screening))
out = {{}}
for name, call in calls.items():
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        result = call()
        jax.block_until_ready(getattr(result, "W", result.lambdas))
        times.append(time.perf_counter() - start)
    out[name] = dict(first=times[0], warm=float(np.median(times[1:])),
                     converged=bool(np.all(np.asarray(result.converged))))
print(json.dumps(out))
"""


def run_child(n, p, dtype, screening, repeats):
    code = textwrap.dedent(CHILD.format(n=n, p=p, dtype=dtype, screening=screening, repeats=repeats))
    env = dict(os.environ, MTLCOMB_JAX_CACHE="0")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise RuntimeError(f"the case p = {p}, {dtype}, screening={screening} failed (its stderr is above)")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import numpy as np

    from mtlcomb_jax.options import use_working_sets
    n, cases = (60, [(300, "float64"), (600, "float32")]) if args.quick else \
        (200, [(1000, "float64"), (3000, "float64"), (5000, "float64"), (10000, "float64"),
               (1000, "float32"), (5000, "float32"), (10000, "float32")])
    print(f"# n = {n}, 3 + 3 mixed tasks on one X, 30 lambdas, 5-fold CV; fresh process per case and engine, "
          f"cache off; first call / median of {args.repeats} warm calls, seconds")
    print("| p, dtype | path, scan | path, working sets | CV, scan | CV, working sets | auto picks |")
    print("|---|---|---|---|---|---|")
    for p, dtype in cases:
        scan = run_child(n, p, dtype, False, args.repeats)
        sets = run_child(n, p, dtype, True, args.repeats)
        auto = use_working_sets("auto", "gap", p, np.dtype(dtype))
        picked, other = (sets, scan) if auto else (scan, sets)
        verdicts = []
        for name in ("path", "cv"):
            for when in ("first", "warm"):
                if picked[name][when] > other[name][when]:
                    verdicts.append(f"{'CV' if name == 'cv' else name} {when} slower")
        cells = [f"{r[name]['first']:.2f} / {r[name]['warm']:.2f}"
                 + ("" if r[name]["converged"] else " (not converged)")
                 for name in ("path", "cv") for r in (scan, sets)]
        label = "working sets" if auto else "scan"
        print(f"| {p:,}, {dtype} | " + " | ".join(cells) + f" | {label}"
              + (f": {', '.join(verdicts)}" if verdicts else ": the faster in all four") + " |")


if __name__ == "__main__":
    main()
