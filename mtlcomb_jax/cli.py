"""The ``mtlcomb-jax`` command line (also ``python -m mtlcomb_jax``)."""
from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

import numpy as np


def _demo(args):
    import jax
    jax.config.update("jax_enable_x64", True)
    import mtlcomb_jax as mc
    from mtlcomb_jax.simulate import simulate_mixed_tasks

    size = dict(n_features=100, n_true=10, n_samples=100) if args.quick else \
        dict(n_features=500, n_true=50, n_samples=200)
    n_lambdas, n_folds = (10, 3) if args.quick else (30, 5)
    train = simulate_mixed_tasks(**size, seed=args.seed)
    Xs, ys, types, W_true = train
    test_Xs, test_ys, _, _ = _test_data(size, W_true, args.seed + 1)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    print(f"demo: {len(types)} tasks ({types.count('regression')} regression, "
          f"{types.count('classification')} classification), n={size['n_samples']} each, "
          f"p={size['n_features']}, {size['n_true']} true features shared by all tasks")

    t0 = time.perf_counter()
    cv = mc.cross_validate(data, n_folds=n_folds, n_lambdas=n_lambdas, lambda_min_ratio=0.05, seed=args.seed)
    t_cv = time.perf_counter() - t0
    lam = cv.lambda_weighted_min
    t0 = time.perf_counter()
    grid = [v for v in cv.lambdas if v > lam] + [lam]
    path = mc.fit_path(data, grid)
    result = mc.solve(data, lam, W_init=path.W[-1], b_init=path.intercept[-1])
    t_fit = time.perf_counter() - t0

    selected = np.flatnonzero(np.abs(np.asarray(result.W)).sum(axis=1) > 0)
    truth = np.flatnonzero(np.abs(W_true).sum(axis=1) > 0)
    hits = np.intersect1d(selected, truth).size
    precision = hits / max(selected.size, 1)
    recall = hits / truth.size
    per_task = []
    for t, kind in enumerate(types):
        pred = np.asarray(mc.predict(result, test_Xs[t], t))
        if kind == "regression":
            y = test_ys[t]
            per_task.append(("R2", 1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2)))
        else:
            per_task.append(("AUC", float(mc.cv.masked_auc(pred, test_ys[t], np.ones(pred.size, bool)))))
    print(f"cross-validation: {n_folds} folds x {n_lambdas} lambdas in {t_cv:.2f} s "
          f"(compile included); selected lambda {lam:.4g}")
    print(f"final fit: {t_fit:.2f} s")
    print(f"selected {selected.size} features: precision {precision:.2f}, recall {recall:.2f}")
    print(f"{'task':>6} {'type':>15} {'metric':>6} {'test':>7}")
    for t, (name, value) in enumerate(per_task):
        print(f"{t:>6} {types[t]:>15} {name:>6} {value:7.3f}")
    report = dict(lambda_selected=lam, n_selected=int(selected.size), precision=precision, recall=recall,
                  test_metric=[{"task": t, "metric": m, "value": float(v)} for t, (m, v) in enumerate(per_task)],
                  seconds_cv=t_cv, seconds_fit=t_fit, quick=bool(args.quick))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    mc.save_model(result, out / "model.npz")
    print(f"wrote {out / 'report.json'} and {out / 'model.npz'}")
    return 0


def _test_data(size, W_true, seed):
    """Independent test samples from the same coefficients."""
    from mtlcomb_jax.simulate import simulate_mixed_tasks
    rng = np.random.default_rng(seed)
    Xs, ys, types, _ = simulate_mixed_tasks(**size, seed=seed)
    out = []
    for t, X in enumerate(Xs):
        z = X @ W_true[:, t] + 0.5 * rng.normal(size=X.shape[0]) * np.linalg.norm(W_true[:, t]) / np.sqrt(size["n_true"])
        out.append(np.where(z > 0, 1.0, -1.0) if types[t] == "classification" else z)
    return Xs, out, types, W_true


def build_parser():
    parser = argparse.ArgumentParser(prog="mtlcomb-jax", description="MTLComb multi-task learning in JAX.")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="simulate the paper's design, cross-validate, fit and report")
    demo.add_argument("--quick", action="store_true", help="a small problem that runs in seconds (for CI)")
    demo.add_argument("--out", default="demo_out", help="folder for the JSON report and the model")
    demo.add_argument("--seed", type=int, default=0, help="random seed (the demo is reproducible)")
    demo.set_defaults(run=_demo)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as err:       # one clear message, no traceback
        print(f"mtlcomb-jax {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
