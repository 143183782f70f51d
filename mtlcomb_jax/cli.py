"""The ``mtlcomb-jax`` command line (also ``python -m mtlcomb_jax``).

    mtlcomb-jax demo [--quick] [--out DIR]
    mtlcomb-jax fit DATA --target-col COL1,COL2,... [--id-col COL] [--exclude C1,C2] [--out DIR]
    mtlcomb-jax fit DATA... --target-col COL [--task-col COL] [--classification T1,T2] [--out DIR]
    mtlcomb-jax cv  DATA... (the same inputs as fit)
    mtlcomb-jax predict MODEL DATA [--task-col COL] [--id-col COL] [--out FILE]
    mtlcomb-jax bench [--quick]

Errors in the user's input print one line and exit with status 2.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import shutil
import sys
import tempfile
import time

import numpy as np


def _setup_jax(float32=False):
    import jax
    jax.config.update("jax_enable_x64", not float32)


def _plots_wanted(args):
    if getattr(args, "no_plots", False):
        return False
    try:
        import matplotlib
    except ImportError:
        print("matplotlib is not installed: skipping plots (pip install 'mtlcomb-jax[plot]')", file=sys.stderr)
        return False
    matplotlib.use("Agg")
    return True


def _save_figure(fig, path):
    import matplotlib.pyplot as plt
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def _selected(W):
    return np.flatnonzero(np.abs(np.asarray(W)).sum(axis=1) > 0)


# -- demo ---------------------------------------------------------------------------------------
def _demo(args):
    _setup_jax()
    import mtlcomb_jax as mc
    from mtlcomb_jax.cv import masked_auc
    from mtlcomb_jax.simulate import simulate_mixed_tasks, simulate_test_targets

    size = dict(n_features=100, n_true=10, n_samples=100) if args.quick else \
        dict(n_features=500, n_true=50, n_samples=200)
    n_lambdas, n_folds = (10, 3) if args.quick else (30, 5)
    Xs, ys, types, W_true = simulate_mixed_tasks(**size, seed=args.seed)
    test_Xs, test_ys = simulate_test_targets(W_true, types, n_samples=size["n_samples"], seed=args.seed + 1)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    print(f"demo: {len(types)} tasks ({types.count('regression')} regression, "
          f"{types.count('classification')} classification), n={size['n_samples']} each, "
          f"p={size['n_features']}, {size['n_true']} true features shared by all tasks")

    def run_cv(progress):
        return mc.cross_validate(data, n_folds=n_folds, n_lambdas=n_lambdas, lambda_min_ratio=0.01,
                                 seed=args.seed, progress=progress)

    t0 = time.perf_counter()
    cv = run_cv(not args.no_progress)
    t_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_cv(False)                      # the same computation again, compiled: its run time alone
    t_cv = time.perf_counter() - t0
    t_compile = max(t_first - t_cv, 0.0)
    # the 1-SE rule (glmnet's lambda.1se): the sparsest model within a standard error of the
    # best CV score, the usual choice when the aim is to select features
    lam = cv.lambda_weighted_1se
    t0 = time.perf_counter()
    path = mc.fit_path(data, [v for v in cv.lambdas if v > lam] + [lam])
    result = path.solution(-1)
    t_fit = time.perf_counter() - t0

    selected = _selected(result.W)
    truth = np.flatnonzero(np.abs(W_true).sum(axis=1) > 0)
    hits = np.intersect1d(selected, truth).size
    precision, recall = hits / max(selected.size, 1), hits / truth.size
    per_task = []
    for t, kind in enumerate(types):
        pred = np.asarray(mc.predict(result, test_Xs[t], t))
        y = test_ys[t]
        if kind == "regression":
            per_task.append(("R2", float(1 - np.sum((y - pred) ** 2) / np.sum((y - y.mean()) ** 2))))
        else:
            per_task.append(("AUC", float(masked_auc(pred, y, np.ones(pred.size, bool)))))
    print(f"cross-validation: {n_folds} folds x {n_lambdas} lambdas: compile {t_compile:.2f} s, run {t_cv:.2f} s; "
          f"selected lambda {lam:.4g} (lambda_weighted_1se, the 1-SE rule)")
    print(f"final path to the selected lambda: {t_fit:.2f} s (compile included)")
    print(f"selected {selected.size} features: precision {precision:.2f}, recall {recall:.2f}")
    print(f"{'task':>6} {'type':>15} {'metric':>6} {'test':>7}")
    for t, (name, value) in enumerate(per_task):
        print(f"{t:>6} {types[t]:>15} {name:>6} {value:7.3f}")
    out = _out_dir(args.out)
    report = dict(lambda_selected=lam, n_selected=int(selected.size), precision=precision, recall=recall,
                  test_metric=[{"task": t, "metric": m, "value": v} for t, (m, v) in enumerate(per_task)],
                  seconds_cv_compile=t_compile, seconds_cv_run=t_cv, seconds_fit=t_fit, quick=bool(args.quick),
                  seed=args.seed)
    _write_outputs(out, report, result, path=path, cv=cv, plots=_plots_wanted(args))
    return 0


def _out_dir(out):
    out = pathlib.Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {str(out)!r} is a file; pass a folder to write the outputs into.")
    return out


@contextlib.contextmanager
def _staged(out):
    """A temporary folder beside ``out`` to write a run's outputs into; on success its files
    are moved into ``out`` (replacing files of the same name), on failure it is removed, so
    a run that cannot write all its outputs leaves none of them behind."""
    out.parent.mkdir(parents=True, exist_ok=True)
    stage = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        yield stage
        out.mkdir(parents=True, exist_ok=True)
        for item in stage.iterdir():
            os.replace(item, out / item.name)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _write_outputs(out, report, result, *, path=None, cv=None, plots=True):
    """coefficients.csv, selected_features.csv, model.npz, report.json, and plots/tables when given,
    all or nothing (:func:`_staged`)."""
    with _staged(out) as stage:
        written = _write_files(stage, report, result, path=path, cv=cv, plots=plots)
    print(f"wrote into {out}/: {', '.join(written)}")


def _write_files(out, report, result, *, path=None, cv=None, plots=True):
    import mtlcomb_jax as mc
    written = []
    try:
        from mtlcomb_jax.tables import coefficient_table, cv_table
        coefs = coefficient_table(result)
        coefs.to_csv(out / "coefficients.csv")
        norms = np.linalg.norm(coefs.to_numpy(), axis=1)
        order = [j for j in np.argsort(-norms) if norms[j] > 0]
        coefs.iloc[order].assign(row_norm=norms[order])[["row_norm"]].to_csv(out / "selected_features.csv")
        written += ["coefficients.csv", "selected_features.csv"]
        if cv is not None:
            cv_table(cv).to_csv(out / "cv.csv", index=False)
            written.append("cv.csv")
    except ImportError:
        print("pandas is not installed: skipping the CSV tables (pip install 'mtlcomb-jax[io]')", file=sys.stderr)
    mc.save_model(result, out / "model.npz")
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    written += ["model.npz", "report.json"]
    if plots:
        from mtlcomb_jax import plotting
        if path is not None:
            _save_figure(plotting.plot_path(path, selected_lambda=float(result.lam)), out / "path.png")
            written.append("path.png")
        if cv is not None:
            _save_figure(plotting.plot_cv(cv), out / "cv_curves.png")
            written.append("cv_curves.png")
        _save_figure(plotting.plot_coefficients(result), out / "coefficients.png")
        written.append("coefficients.png")
    return written


# -- fit / cv from files -------------------------------------------------------------------------
def _comma_list(value):
    return None if value is None else [item.strip() for item in value.split(",") if item.strip()]


def _read(args):
    from mtlcomb_jax.tables import read_tasks
    classification = _comma_list(args.classification)
    data, info = read_tasks(args.data, target_col=_comma_list(args.target_col), task_col=args.task_col,
                            feature_cols=_comma_list(args.features), classification=classification,
                            id_col=args.id_col, exclude=_comma_list(args.exclude) or ())
    how = "given" if classification is not None else "inferred: two distinct values = classification"
    layout = {"wide": "outcome columns of one table", "long": "long format", "tasks": "one file per task"}
    print(f"read {data.n_tasks} tasks ({layout[info['layout']]}), {info['features']} features ({how}):")
    for name, kind in info["task_types"].items():
        missing = info["dropped"].get(name, 0)
        note = f" ({missing} row{'s' * (missing != 1)} without this outcome left out)" if missing else ""
        print(f"  {name:<24} {kind:<15} n={info['n_samples'][name]}{note}")
    return data, info


def _solver_options(args):
    return dict(similarity=args.similarity, ridge=args.ridge, intercept=not args.no_intercept,
                standardize=not args.no_standardize, scale_outcomes=args.scale_outcomes)


def _fit(args):
    _setup_jax(args.float32)
    import mtlcomb_jax as mc
    data, info = _read(args)
    options = _solver_options(args)
    t0 = time.perf_counter()
    if args.lam is None:
        path = mc.fit_path(data, n_lambdas=args.n_lambdas, lambda_min_ratio=args.lambda_min_ratio,
                           progress=not args.no_progress, **options)
    else:
        grid = mc.lambda_grid(data, n_lambdas=args.n_lambdas, lambda_min_ratio=args.lambda_min_ratio,
                              intercept=options["intercept"], standardize=options["standardize"],
                              scale_outcomes=options["scale_outcomes"])
        path = mc.fit_path(data, [v for v in np.asarray(grid) if v > args.lam] + [args.lam],
                           progress=not args.no_progress, **options)
    seconds = time.perf_counter() - t0
    result = path.solution(-1)
    n_sel = path.n_selected()
    print(f"path of {len(n_sel)} lambdas in {seconds:.2f} s; at lambda {float(result.lam):.4g}: "
          f"{n_sel[-1]} features selected" + ("" if args.lam is not None else
                                              " (the smallest lambda; choose one with --lam or run cv)"))
    report = dict(command="fit", lam=float(result.lam), n_selected=int(n_sel[-1]), task_types=info["task_types"],
                  n_samples=info["n_samples"], id_col=args.id_col,
                  path=[{"lambda": float(lam), "n_selected": int(k)} for lam, k in zip(path.lambdas, n_sel)],
                  seconds=seconds, **options)
    _write_outputs(_out_dir(args.out), report, result, path=path, plots=_plots_wanted(args))
    return 0


def _cv(args):
    _setup_jax(args.float32)
    import mtlcomb_jax as mc
    data, info = _read(args)
    options = _solver_options(args)
    t0 = time.perf_counter()
    cv = mc.cross_validate(data, n_folds=args.n_folds, n_lambdas=args.n_lambdas, seed=args.seed,
                           lambda_min_ratio=args.lambda_min_ratio, progress=not args.no_progress, **options)
    lam = getattr(cv, f"lambda_{args.selection}")
    if lam is None:
        raise ValueError(f"--selection {args.selection} needs tasks of that type; this data has none.")
    path = mc.fit_path(data, [v for v in cv.lambdas if v > lam] + [lam], **options)
    seconds = time.perf_counter() - t0
    result = path.solution(-1)
    n_selected = int(_selected(result.W).size)
    print(f"{cv.n_folds}-fold CV over {cv.lambdas.size} lambdas and the final fit in {seconds:.2f} s")
    for rule in ("regression_min", "classification_min", "weighted_min", "weighted_1se"):
        value = getattr(cv, f"lambda_{rule}")
        if value is not None:
            print(f"  lambda_{rule:<20} {value:.4g}{'  <- used' if rule == args.selection else ''}")
    print(f"selected {n_selected} features at lambda {lam:.4g}")
    report = dict(command="cv", selection=args.selection, lam=lam, n_selected=n_selected,
                  task_types=info["task_types"], n_samples=info["n_samples"], id_col=args.id_col,
                  n_folds=cv.n_folds, seconds=seconds,
                  lambdas={rule: getattr(cv, f"lambda_{rule}") for rule in
                           ("regression_min", "classification_min", "weighted_min", "regression_1se",
                            "classification_1se", "weighted_1se")}, **options)
    _write_outputs(_out_dir(args.out), report, result, path=path, cv=cv, plots=_plots_wanted(args))
    return 0


# -- predict -------------------------------------------------------------------------------------
def _predict(args):
    _setup_jax()
    import pandas as pd

    import mtlcomb_jax as mc
    from mtlcomb_jax.tables import read_table
    model_path = pathlib.Path(args.model)
    if not model_path.exists():
        raise ValueError(f"model file {str(model_path)!r} does not exist; write one with `mtlcomb-jax fit` or `cv`.")
    model = mc.load_model(model_path)
    if isinstance(model, mc.PathResult):
        raise ValueError("predict needs a model at one lambda (model.npz from fit or cv), not a whole path.")
    df = read_table(args.data)
    features = list(model.feature_names)
    missing = [c for c in features if c not in df.columns]
    if missing:
        raise ValueError(f"{args.data} lacks {len(missing)} of the model's feature columns, e.g. {missing[:5]}.")
    incomplete = np.flatnonzero(df[features].isna().any(axis=1).to_numpy())
    if incomplete.size:
        raise ValueError(f"{args.data} has {incomplete.size} row(s) with missing feature values (first: data row "
                         f"{int(incomplete[0]) + 1}); impute or drop them, no prediction is written for them.")
    X = df[features]
    tasks = list(model.task_names)
    if args.id_col is not None and args.id_col not in df.columns:
        raise ValueError(f"--id-col={args.id_col!r} is not a column of {args.data}.")
    # what joins a prediction back to its row: the id column, else the row's number in the file
    key = df[[args.id_col]].reset_index(drop=True) if args.id_col is not None else \
        pd.DataFrame({"row": np.arange(1, len(df) + 1)})
    if args.task_col is None:
        pred = np.asarray(mc.predict(model, X))
        out = pd.concat([key, pd.DataFrame(pred, columns=tasks)], axis=1)
    else:
        if args.task_col not in df.columns:
            raise ValueError(f"--task-col={args.task_col!r} is not a column of {args.data}.")
        row_tasks = df[args.task_col].astype(str).to_numpy()
        unknown = sorted(set(row_tasks) - set(tasks))
        if unknown:
            raise ValueError(f"{args.data} has rows of tasks {unknown[:5]} the model was not fitted on ({tasks}).")
        pred = np.empty(len(df))
        for t, name in enumerate(tasks):
            rows = row_tasks == name
            if rows.any():
                pred[rows] = np.asarray(mc.predict(model, X[rows], t))
        out = pd.concat([key, pd.DataFrame({args.task_col: row_tasks, "prediction": pred})], axis=1)
    if args.out is None:
        out.to_csv(sys.stdout, index=False)
    else:
        target = pathlib.Path(args.out)
        # written beside the target and moved into place: a failed write leaves no partial file
        handle, tmp = tempfile.mkstemp(prefix=f".{target.name}-", dir=target.parent)
        os.close(handle)
        try:
            out.to_csv(tmp, index=False)
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        print(f"wrote {len(out)} predictions to {args.out} (classification tasks: P(positive class) "
              f"= P({', '.join(str(c[1]) for c in model.classes if c is not None) or '-'}))")
    return 0


# -- bench ---------------------------------------------------------------------------------------
def _bench(args):
    _setup_jax()
    from mtlcomb_jax.benchmarking import tutorial_shaped_workloads
    header, rows = tutorial_shaped_workloads(quick=args.quick, repeats=args.repeats)
    print(f"# {header['shape']}, {header['n_devices']} {header['device']} device(s), {header['dtype']}, "
          f"median of {header['repeats']} runs")
    print(f"{'workload':<24} {'compile s':>10} {'run s':>8}")
    for row in rows:
        print(f"{row['workload']:<24} {row['compile_s']:>10.2f} {row['run_s']:>8.3f}")
    return 0


# -- parser ----------------------------------------------------------------------------------------
def _add_data_arguments(parser):
    parser.add_argument("data", nargs="+", help="one table whose outcome columns --target-col lists, one "
                                                "long-format file (with --task-col), or one file per task "
                                                "(.csv, .tsv or .parquet)")
    parser.add_argument("--target-col", required=True,
                        help="the outcome column(s): several, comma-separated, for one table whose outcomes "
                             "share its rows (one task each); one with --task-col (long format) or with one "
                             "file per task")
    parser.add_argument("--task-col", help="column holding each row's task (long format)")
    parser.add_argument("--id-col", help="identifier column: not a feature; written beside the predictions")
    parser.add_argument("--exclude", help="comma-separated columns to leave out of the features")
    parser.add_argument("--features", help="comma-separated feature columns (default: every other column)")
    parser.add_argument("--classification", help="comma-separated names of the classification tasks "
                                                 "(default: inferred, two distinct values = classification)")
    parser.add_argument("--no-standardize", action="store_true",
                        help="fit on the features' own scales (default: scaled to mean 0 and standard "
                             "deviation 1 inside the fit, coefficients reported on the original scale)")
    parser.add_argument("--scale-outcomes", action="store_true",
                        help="also scale each regression outcome to standard deviation 1, so outcomes of "
                             "different variance weigh alike")
    parser.add_argument("--similarity", type=float, default=0.0, help="similarity penalty (R's C)")
    parser.add_argument("--ridge", type=float, default=0.0, help="ridge penalty (R's C2)")
    parser.add_argument("--no-intercept", action="store_true", help="fit without per-task intercepts")
    parser.add_argument("--n-lambdas", type=int, default=30, help="number of lambdas on the path")
    parser.add_argument("--lambda-min-ratio", type=float, default=0.01, help="smallest lambda / lambda_max")
    parser.add_argument("--float32", action="store_true", help="compute in float32 (default float64)")
    _add_output_arguments(parser)


def _add_output_arguments(parser, default_out="mtlcomb_out"):
    parser.add_argument("--out", default=default_out, help="output folder")
    parser.add_argument("--no-plots", action="store_true", help="do not draw the PNG figures")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def build_parser():
    parser = argparse.ArgumentParser(prog="mtlcomb-jax", description="MTLComb multi-task learning in JAX: "
                                     "joint feature selection across regression and classification tasks.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="simulate the paper's design, cross-validate, fit and report",
                          description="Simulate 10 regression + 10 classification tasks sharing 50 true "
                                      "features (p=500, n=200 each), cross-validate the path, fit at the "
                                      "selected lambda and report selection accuracy and test performance.")
    demo.add_argument("--quick", action="store_true", help="a small problem that runs in seconds (for CI)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (the demo is reproducible)")
    _add_output_arguments(demo, "demo_out")
    demo.set_defaults(run=_demo)

    fit = sub.add_parser("fit", help="fit the path (or one lambda) to tabular data",
                         description="Fit the regularization path down to --lam (default: the whole path) "
                                     "and write the coefficients at its last lambda.")
    _add_data_arguments(fit)
    fit.add_argument("--lam", type=float, help="lambda to stop the path at and report (default: the smallest)")
    fit.set_defaults(run=_fit)

    cv = sub.add_parser("cv", help="cross-validate, select lambda and fit",
                        description="K-fold cross-validation over the path, lambda selection, and the fit "
                                    "at the selected lambda.")
    _add_data_arguments(cv)
    cv.add_argument("--n-folds", type=int, default=10, help="number of folds")
    cv.add_argument("--seed", type=int, default=0, help="seed of the fold split")
    cv.add_argument("--selection", default="weighted_min",
                    choices=["weighted_min", "regression_min", "classification_min", "weighted_1se",
                             "regression_1se", "classification_1se"], help="lambda selection rule")
    cv.set_defaults(run=_cv)

    predict = sub.add_parser("predict", help="apply a saved model to a new file",
                             description="Predict with model.npz (from fit or cv): regression values and "
                                         "P(positive class) for classification tasks.")
    predict.add_argument("model", help="model.npz written by fit or cv")
    predict.add_argument("data", help="file with the model's feature columns (.csv, .tsv or .parquet)")
    predict.add_argument("--task-col", help="predict each row for the task named in this column "
                                            "(default: every task for every row, one column per task)")
    predict.add_argument("--id-col", help="identifier column to write beside the predictions (default: "
                                          "the row's number in the file, as column 'row')")
    predict.add_argument("--out", help="output CSV (default: standard output)")
    predict.set_defaults(run=_predict)

    bench = sub.add_parser("bench", help="time the R-tutorial-shaped path and CV on this machine's JAX device")
    bench.add_argument("--quick", action="store_true", help="a tiny size (seconds)")
    bench.add_argument("--repeats", type=int, default=5, help="timed runs after the compiling one")
    bench.set_defaults(run=_bench)
    return parser


def _one_line_warnings(command):
    """Show warnings as ``mtlcomb-jax CMD: warning: ...`` lines, without Python's source echo."""
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"mtlcomb-jax {command}: warning: {message}", file=file or sys.stderr)
    return show


def main(argv=None):
    args = build_parser().parse_args(argv)
    import warnings
    previous = warnings.showwarning
    warnings.showwarning = _one_line_warnings(args.command)
    try:
        return args.run(args)
    except BrokenPipeError:
        # The reader of standard output stopped (``... | head``): what it wanted is written.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, OSError, KeyError, ImportError) as err:       # one clear message, no traceback
        message = err.args[0] if isinstance(err, KeyError) and err.args else err
        print(f"mtlcomb-jax {args.command}: error: {message}", file=sys.stderr)
        return 2
    finally:
        warnings.showwarning = previous


if __name__ == "__main__":
    sys.exit(main())
