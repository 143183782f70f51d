"""Side-by-side benchmark against the peers, in one process.

Cases
-----
* ``shared``: all-regression tasks on one shared X (n=200, T=20, p=1,000 and
  5,000), a 20-lambda path from lambda_max to 0.01 lambda_max, no intercept:
  our ``fit_path`` against scikit-learn ``MultiTaskLasso`` (warm-started loop),
  skglm ``MultiTaskLasso`` (warm-started loop) and celer ``mtl_path``. Same
  objective: ``1/(2n) ||Y - X W||^2 + lam ||W||_2,1`` (ours with 0.5 least
  squares and weights 1/n), ``alpha = lam``.
* ``shared-cv``: 5-fold CV over the same grid: ours against
  ``MultiTaskLassoCV(n_jobs=2)``.
* ``mixed``: the R tutorial shape (10 regression + 10 classification tasks,
  p=200, n=100, 20 lambdas): our path against a generic JAX baseline, jaxopt's
  ``ProximalGradient`` run lambda after lambda with warm starts (no peer solves
  mixed tasks).

Every method's objective is evaluated by one formula (``objective_of``) at
every lambda; ``excess`` is the largest relative excess over the best method at
any lambda (0 for the best). Times: median of ``--repeats`` runs after a warm-up
call (compile time reported apart for JAX methods).

    python bench/harness.py [--quick] [--repeats 5] [--out bench/results]

Writes ``results.json`` and ``results.md`` (and ``results.png`` with matplotlib), each with
the run's date, commit, machine and jax / jaxlib versions.
"""
from __future__ import annotations

import argparse
import datetime
import json
import pathlib
import platform
import subprocess
import sys
import warnings

import jax

jax.config.update("jax_enable_x64", True)
import numpy as np  # noqa: E402

import mtlcomb_jax as mc  # noqa: E402
from mtlcomb_jax.benchmarking import timed  # noqa: E402


# -- problems ----------------------------------------------------------------------------------------
def shared_problem(n, p, T, seed=0, n_true=20):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    W = np.zeros((p, T))
    W[rng.choice(p, n_true, replace=False)] = rng.normal(size=(n_true, T))
    Y = X @ W + 0.5 * rng.normal(size=(n, T))
    return X, Y


def objective_of(X, Y, W, lam):
    """1/(2n) ||Y - X W||_F^2 + lam ||W||_2,1 for W (p, T)."""
    R = Y - X @ W
    return 0.5 * np.sum(R * R) / X.shape[0] + lam * np.sum(np.linalg.norm(W, axis=1))


def excess(objectives):
    """Per method, the largest relative excess of its objective over the best method's at any lambda."""
    table = np.array(list(objectives.values()))             # (methods, lambdas)
    best = table.min(axis=0)
    return {name: float(np.max((row - best) / best)) for name, row in zip(objectives, table)}


# -- methods on the shared case -------------------------------------------------------------------------
def ours_path(X, Y, lambdas, tol, **options):
    data = mc.MultiTaskData.from_outcomes(X, Y, ["regression"] * Y.shape[1])

    def run():
        return mc.fit_path(data, lambdas, intercept=False, tol=tol, max_iter=100000, **options)
    return run, lambda path: np.asarray(path.W)


def sklearn_path(X, Y, lambdas, tol):
    from sklearn.linear_model import MultiTaskLasso

    def run():
        model = MultiTaskLasso(alpha=lambdas[0], fit_intercept=False, tol=tol, max_iter=100000, warm_start=True)
        out = []
        for lam in lambdas:
            model.set_params(alpha=lam)
            model.fit(X, Y)
            out.append(model.coef_.T.copy())
        return np.stack(out)
    return run, lambda W: W


def skglm_path(X, Y, lambdas, tol):
    from skglm import MultiTaskLasso

    def run():
        model = MultiTaskLasso(alpha=lambdas[0], fit_intercept=False, tol=tol, warm_start=True)
        out = []
        for lam in lambdas:
            model.alpha = lam
            model.fit(X, Y)
            out.append(np.asarray(model.coef_).T.copy())
        return np.stack(out)
    return run, lambda W: W


def celer_path(X, Y, lambdas, tol):
    from celer.homotopy import mtl_path

    def run():
        _, coefs, _ = mtl_path(X, Y, alphas=np.asarray(lambdas), tol=tol)
        return np.transpose(coefs, (2, 1, 0))                   # (n_alphas, p, T)
    return run, lambda W: W


def run_shared(n, p, T, repeats, tol_ours, tol_peers, n_folds=5):
    X, Y = shared_problem(n, p, T)
    data = mc.MultiTaskData.from_outcomes(X, Y, ["regression"] * T)
    lambdas = np.asarray(mc.lambda_grid(data, n_lambdas=20, lambda_min_ratio=0.01, intercept=False))
    methods = {"mtlcomb_jax": ours_path(X, Y, lambdas, tol_ours),
               "sklearn MultiTaskLasso": sklearn_path(X, Y, lambdas, tol_peers),
               "skglm MultiTaskLasso": skglm_path(X, Y, lambdas, tol_peers),
               "celer mtl_path": celer_path(X, Y, lambdas, tol_peers)}
    rows, objectives = [], {}
    for name, (run, coefs) in methods.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out, compile_s, run_s = timed(run, repeats)
        except ImportError as err:
            print(f"  {name}: not installed ({err}); pip install 'mtlcomb_jax[bench]'", file=sys.stderr)
            continue
        W = coefs(out)
        objectives[name] = np.array([objective_of(X, Y, W[k], lam) for k, lam in enumerate(lambdas)])
        rows.append(dict(case=f"shared path p={p}", method=name, compile_s=compile_s, run_s=run_s))
    for row, (name, value) in zip(rows, excess(objectives).items()):
        row["excess"] = value
    _ratios(rows)
    rows += run_shared_cv(X, Y, lambdas, repeats, tol_ours, tol_peers, n_folds, p)
    return rows


def run_shared_cv(X, Y, lambdas, repeats, tol_ours, tol_peers, n_folds, p):
    from sklearn.linear_model import MultiTaskLassoCV
    T = Y.shape[1]
    data = mc.MultiTaskData.from_outcomes(X, Y, ["regression"] * T)
    folds = np.arange(X.shape[0]) % n_folds

    def ours():
        return mc.cross_validate(data, folds=folds, lambdas=lambdas, intercept=False, tol=tol_ours,
                                 max_iter=100000)

    def peer():
        splits = [(np.flatnonzero(folds != k), np.flatnonzero(folds == k)) for k in range(n_folds)]
        return MultiTaskLassoCV(alphas=lambdas, cv=splits, fit_intercept=False, tol=tol_peers, max_iter=100000,
                                n_jobs=2).fit(X, Y)

    rows = []
    for name, fn in (("mtlcomb_jax", ours), ("sklearn MultiTaskLassoCV(n_jobs=2)", peer)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, compile_s, run_s = timed(fn, repeats)
        rows.append(dict(case=f"shared {n_folds}-fold CV p={p}", method=name, compile_s=compile_s, run_s=run_s))
    _ratios(rows)
    return rows


# -- mixed tasks: ours against a plain jaxopt loop ------------------------------------------------------
def run_mixed(repeats, quick):
    import jaxopt

    from mtlcomb_jax.objective import objective_value
    from mtlcomb_jax.penalties import prox_l21
    from mtlcomb_jax.simulate import simulate_mixed_tasks
    n_each, p, n = (2, 40, 40) if quick else (10, 200, 100)
    Xs, ys, types, _ = simulate_mixed_tasks(n_each, n_each, p, 10, n, seed=0)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    lambdas = mc.lambda_grid(data, n_lambdas=20, lambda_min_ratio=0.01, intercept=False)
    problem = mc.objective.make_problem(data, 0.0)

    def smooth(W, lam):
        return objective_value(problem._replace(lam=0.0), W, jax.numpy.zeros(data.n_tasks))

    def prox(W, lam, scaling):
        return prox_l21(W, lam * scaling)

    pg = jaxopt.ProximalGradient(fun=smooth, prox=prox, tol=1e-7, maxiter=20000, acceleration=True, jit=True)

    def jaxopt_loop():
        W = jax.numpy.zeros((data.n_features, data.n_tasks))
        out = []
        for lam in lambdas:
            W = pg.run(W, hyperparams_prox=lam, lam=lam).params
            out.append(W)
        return jax.numpy.stack(out)

    def ours():
        return mc.fit_path(data, lambdas, intercept=False, stop="gap", tol=1e-9, max_iter=100000).W

    rows, objectives = [], {}
    for name, fn in (("mtlcomb_jax", ours), ("jaxopt ProximalGradient loop", jaxopt_loop)):
        W, compile_s, run_s = timed(fn, repeats)
        objectives[name] = np.array([float(objective_value(problem._replace(lam=lam), W[k],
                                                           jax.numpy.zeros(data.n_tasks)))
                                     for k, lam in enumerate(lambdas)])
        rows.append(dict(case=f"mixed path {2 * n_each} tasks p={p}", method=name, compile_s=compile_s,
                         run_s=run_s))
    for row, value in zip(rows, excess(objectives).values()):
        row["excess"] = value
    _ratios(rows)
    return rows


def _ratios(rows):
    ours = next(r["run_s"] for r in rows if r["method"] == "mtlcomb_jax")
    for r in rows:
        r["ours_over_this"] = ours / r["run_s"]


# -- report ------------------------------------------------------------------------------------------------
def machine():
    import importlib.metadata as md
    versions = {}
    for pkg in ("jax", "jaxlib", "numpy", "scikit-learn", "skglm", "celer", "jaxopt"):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            versions[pkg] = None
    return dict(python=platform.python_version(), machine=platform.machine(), cores=__import__("os").cpu_count(),
                device=str(jax.devices()[0]), dtype="float64", versions=versions)


def meta(args):
    """Date, commit, machine and jax / jaxlib versions of this run (written with the results)."""
    import importlib.metadata as md
    root = pathlib.Path(__file__).resolve().parents[1]
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    try:
        jaxlib = md.version("jaxlib")
    except md.PackageNotFoundError:
        jaxlib = None
    return dict(date=datetime.date.today().isoformat(), commit=commit, machine=platform.machine(),
                processor=platform.processor() or platform.machine(), jax=jax.__version__, jaxlib=jaxlib,
                quick=args.quick, repeats=args.repeats)


def markdown(rows, info, repeats, run_meta=None):
    lines = ([f"Date {run_meta['date']}, commit {run_meta['commit'] or 'unknown'}, {run_meta['machine']} "
              f"({run_meta['processor']}), jax {run_meta['jax']}, jaxlib {run_meta['jaxlib']}", ""]
             if run_meta else [])
    lines += [f"Machine: {info['cores']} cores {info['machine']}, {info['device']}, float64, median of {repeats} runs; "
              + ", ".join(f"{k} {v}" for k, v in info["versions"].items() if v),
              "", "| case | method | compile s | run s | ours / this | objective excess |", "|---|---|---|---|---|---|"]
    for r in rows:
        ex = f"{r['excess']:.1e}" if "excess" in r else "n/a"
        lines.append(f"| {r['case']} | {r['method']} | {r['compile_s']:.2f} | {r['run_s']:.3f} | "
                     f"{r['ours_over_this']:.2f} | {ex} |")
    return "\n".join(lines)


def plot(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    cases = list(dict.fromkeys(r["case"] for r in rows))
    fig, axes = plt.subplots(1, len(cases), figsize=(4 * len(cases), 3.5), squeeze=False)
    for ax, case in zip(axes[0], cases):
        sub = [r for r in rows if r["case"] == case]
        ax.barh([r["method"] for r in sub], [r["run_s"] for r in sub], color=["C3" if r["method"] == "mtlcomb_jax"
                                                                              else "C0" for r in sub])
        ax.set_title(case, fontsize=9)
        ax.set_xlabel("run seconds (median)")
        ax.tick_params(axis="y", labelsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="tiny sizes (CI)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--tol-ours", type=float, default=1e-8, help="our gap tolerance (relative)")
    parser.add_argument("--tol-peers", type=float, default=1e-8)
    args = parser.parse_args()
    sizes = [100] if args.quick else [1000, 5000]
    n, T = (50, 4) if args.quick else (200, 20)
    rows = []
    for p in sizes:
        rows += run_shared(n, p, T, args.repeats, args.tol_ours, args.tol_peers)
    rows += run_mixed(args.repeats, args.quick)
    info = machine()
    run_meta = meta(args)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(dict(meta=run_meta, machine=info, rows=rows), indent=2))
    table = markdown(rows, info, args.repeats, run_meta)
    (out / "results.md").write_text(table + "\n")
    plot(rows, out / "results.png")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
