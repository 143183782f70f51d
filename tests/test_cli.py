"""The command line: fit, cv and predict from files; one-line errors with exit status 2."""
import json

import numpy as np
import pandas as pd
import pytest

from problems import simulate
from mtlcomb_jax.cli import main

FEATURES = [f"gene{j}" for j in range(12)]


@pytest.fixture(scope="module")
def long_csv(tmp_path_factory):
    """Long format: 2 regression tasks and one classification task with text labels."""
    Xs, ys, types, W = simulate(n_tasks=3, n=50, p=12, n_true=3, n_cls=1, noise=0.3)
    frames = []
    for t, (X, y) in enumerate(zip(Xs, ys)):
        df = pd.DataFrame(X, columns=FEATURES)
        df.insert(0, "outcome", np.where(y > 0, "case", "control") if types[t] == "classification" else y)
        df.insert(0, "study", f"s{t}")
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    table.loc[3, "outcome"] = np.nan                                  # one missing target is dropped
    path = tmp_path_factory.mktemp("cli") / "long.csv"
    table.to_csv(path, index=False)
    return path, table


def test_fit_writes_coefficients_report_and_model(long_csv, tmp_path, capsys):
    path, table = long_csv
    code = main(["fit", str(path), "--task-col", "study", "--target-col", "outcome", "--out", str(tmp_path),
                 "--n-lambdas", "8", "--no-progress"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "s2" in printed and "classification" in printed and "1 row without this outcome left out" in printed
    coefs = pd.read_csv(tmp_path / "coefficients.csv", index_col=0)
    assert list(coefs.columns) == ["s0", "s1", "s2"] and list(coefs.index) == FEATURES
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["task_types"] == {"s0": "regression", "s1": "regression", "s2": "classification"}
    assert len(report["path"]) == 8 and report["n_selected"] == int((coefs.abs().sum(axis=1) > 0).sum())
    for name in ("path.png", "coefficients.png", "model.npz", "selected_features.csv"):
        assert (tmp_path / name).stat().st_size > 0


def test_cv_then_predict_round_trip(long_csv, tmp_path):
    path, table = long_csv
    assert main(["cv", str(path), "--task-col", "study", "--target-col", "outcome", "--out", str(tmp_path),
                 "--n-folds", "3", "--n-lambdas", "6", "--no-progress", "--no-plots"]) == 0
    cv_table = pd.read_csv(tmp_path / "cv.csv")
    assert len(cv_table) == 6 and {"mse_mean", "auc_se"} <= set(cv_table.columns)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["lam"] == pytest.approx(report["lambdas"]["weighted_min"])
    out = tmp_path / "pred.csv"
    assert main(["predict", str(tmp_path / "model.npz"), str(path), "--task-col", "study", "--out", str(out)]) == 0
    pred = pd.read_csv(out)
    assert len(pred) == len(table)
    cls_rows = table["study"] == "s2"
    assert pred.loc[cls_rows, "prediction"].between(0, 1).all()
    # predictions agree with the coefficients written next to the model
    coefs = pd.read_csv(tmp_path / "coefficients.csv", index_col=0)
    s0 = table["study"] == "s0"
    centred = table.loc[s0, FEATURES].to_numpy() @ coefs["s0"].to_numpy()
    diff = pred.loc[s0, "prediction"].to_numpy() - centred
    assert np.ptp(diff) < 1e-9                                        # differ by the intercept only


def test_one_file_per_task_and_parquet(long_csv, tmp_path):
    path, table = long_csv
    files = []
    for name, part in table.groupby("study"):
        f = tmp_path / f"{name}.parquet"
        part.drop(columns="study").to_parquet(f)
        files.append(str(f))
    assert main(["fit", *files, "--target-col", "outcome", "--classification", "s2", "--out",
                 str(tmp_path / "o"), "--lam", "0.05", "--no-plots", "--no-progress"]) == 0
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["lam"] == pytest.approx(0.05) and report["task_types"]["s2"] == "classification"


@pytest.mark.parametrize("args, message", [
    (["--task-col", "nope", "--target-col", "outcome"], "--task-col='nope' is not a column"),
    (["--task-col", "study", "--target-col", "y"], "--target-col='y' is not a column"),
    (["--task-col", "study", "--target-col", "outcome", "--classification", "s9"], "tasks ['s9']"),
    (["--target-col", "outcome"], "pass it as --task-col"),
    (["--target-col", "outcome,nope"], "--target-col='nope' is not a column"),
    (["--target-col", "outcome", "--exclude", "nope"], "--exclude column='nope' is not a column"),
])
def test_bad_input_is_one_line_and_exit_2(long_csv, tmp_path, capsys, args, message):
    path, _ = long_csv
    assert main(["fit", str(path), *args, "--out", str(tmp_path), "--no-plots", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err and "Traceback" not in err


def test_predict_errors(long_csv, tmp_path, capsys):
    path, _ = long_csv
    assert main(["predict", str(tmp_path / "missing.npz"), str(path)]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_every_subcommand_has_help(capsys):
    for command in ("demo", "fit", "cv", "predict", "bench"):
        with pytest.raises(SystemExit) as stop:
            main([command, "--help"])
        assert stop.value.code == 0
        assert "usage: mtlcomb-jax " + command in capsys.readouterr().out


@pytest.mark.slow
def test_quick_demo_finds_the_true_features(tmp_path, capsys):
    assert main(["demo", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["recall"] >= 0.9 and report["precision"] >= 0.5
    assert report["seconds_cv_run"] > 0 and report["seconds_cv_compile"] >= 0
    assert min(m["value"] for m in report["test_metric"]) > 0.8
    for name in ("path.png", "cv_curves.png", "coefficients.png", "cv.csv"):
        assert (tmp_path / name).stat().st_size > 0


def test_bench_quick_prints_both_workloads(capsys):
    assert main(["bench", "--quick", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "path, 10 lambdas" in out and "CV, 3 folds" in out


def _one_line_error(capsys, message):
    err = capsys.readouterr().err.strip()
    assert message in err, err
    assert "\n" not in err and "Traceback" not in err


def test_task_files_with_the_same_name_are_refused(long_csv, tmp_path, capsys):
    _, table = long_csv
    files = []
    for i, (name, part) in enumerate(table.groupby("study")):
        folder = tmp_path / f"site{i}"
        folder.mkdir()
        part.drop(columns="study").to_csv(folder / "cohort.csv", index=False)
        files.append(str(folder / "cohort.csv"))
    assert main(["fit", *files, "--target-col", "outcome", "--out", str(tmp_path / "o"), "--no-plots",
                 "--no-progress"]) == 2
    _one_line_error(capsys, "several data files are named ['cohort']")


def test_target_among_features_repeated_headers_and_text_columns(long_csv, tmp_path, capsys):
    path, table = long_csv
    args = ["--task-col", "study", "--target-col", "outcome", "--out", str(tmp_path / "o"), "--no-plots",
            "--no-progress"]
    assert main(["fit", str(path), *args, "--features", "gene0,outcome"]) == 2
    _one_line_error(capsys, "--features lists ['outcome'], which is a target, task or id column")
    repeated = tmp_path / "repeated.csv"
    repeated.write_text(path.read_text().replace("gene1,", "gene0,", 1))
    assert main(["fit", str(repeated), *args]) == 2
    _one_line_error(capsys, "repeats the column name(s) ['gene0']")
    text = tmp_path / "text.csv"
    table.assign(apoe="E3E3").to_csv(text, index=False)
    assert main(["fit", str(text), *args]) == 2
    _one_line_error(capsys, "columns ['apoe']")
    assert not (tmp_path / "o").exists()


def test_predict_refuses_rows_with_missing_features_and_corrupt_models(long_csv, tmp_path, capsys):
    path, table = long_csv
    out = tmp_path / "m"
    assert main(["fit", str(path), "--task-col", "study", "--target-col", "outcome", "--out", str(out),
                 "--n-lambdas", "4", "--no-plots", "--no-progress"]) == 0
    capsys.readouterr()
    holes = tmp_path / "holes.csv"
    table.assign(gene3=table["gene3"].where(table.index != 7)).to_csv(holes, index=False)
    assert main(["predict", str(out / "model.npz"), str(holes), "--out", str(tmp_path / "p.csv")]) == 2
    _one_line_error(capsys, "1 row(s) with missing feature values (first: data row 8)")
    assert not (tmp_path / "p.csv").exists()
    for content in (b"", b"not a model"):
        broken = tmp_path / "broken.npz"
        broken.write_bytes(content)
        assert main(["predict", str(broken), str(path)]) == 2
        _one_line_error(capsys, "is not a")


def test_outputs_are_all_or_nothing(long_csv, tmp_path, capsys, monkeypatch):
    path, _ = long_csv
    out = tmp_path / "o"
    import mtlcomb_jax as mc

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(mc, "save_model", fail)
    assert main(["fit", str(path), "--task-col", "study", "--target-col", "outcome", "--out", str(out),
                 "--n-lambdas", "4", "--no-plots", "--no-progress"]) == 2
    _one_line_error(capsys, "disk full")
    assert not out.exists() and not list(tmp_path.glob(".o-*"))


def test_predict_into_a_closed_pipe_ends_quietly(long_csv, tmp_path):
    import subprocess
    import sys
    path, _ = long_csv
    out = tmp_path / "m"
    assert main(["fit", str(path), "--task-col", "study", "--target-col", "outcome", "--out", str(out),
                 "--n-lambdas", "4", "--no-plots", "--no-progress"]) == 0
    big = tmp_path / "big.csv"
    pd.concat([pd.read_csv(path)] * 40).to_csv(big, index=False)
    run = subprocess.run(f"{sys.executable} -m mtlcomb_jax predict {out / 'model.npz'} {big} | head -n 2",
                         shell=True, capture_output=True, text=True, executable="/bin/bash",
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": ":".join(sys.path), "JAX_PLATFORMS": "cpu",
                              "HOME": str(tmp_path)})
    assert len(run.stdout.splitlines()) == 2
    assert "Broken pipe" not in run.stderr and "Traceback" not in run.stderr, run.stderr


# -- one table, several outcomes -------------------------------------------------------------
@pytest.fixture(scope="module")
def wide_csv(tmp_path_factory):
    """One cohort: an id column, a text diagnosis, two continuous markers (one with a missing
    value), a site label to leave out, and proteins in very different units."""
    X, Y, types, _ = simulate(n_tasks=3, n=90, p=10, n_true=3, n_cls=1, noise=0.3, shared=True)
    units = np.geomspace(1e-2, 1e3, 10)
    table = pd.DataFrame(X * units, columns=[f"prot{j}" for j in range(10)])
    table.insert(0, "patient", [f"P{i:03d}" for i in range(90)])
    table.insert(1, "site", np.where(np.arange(90) % 2, "north", "south"))
    table["marker_a"], table["marker_b"] = Y[:, 0], Y[:, 1]
    table["diagnosis"] = np.where(Y[:, 2] > 0, "case", "control")
    table.loc[5, "marker_b"] = np.nan
    path = tmp_path_factory.mktemp("wide") / "cohort.csv"
    table.to_csv(path, index=False)
    return path, table, units


WIDE = ["--target-col", "diagnosis,marker_a,marker_b", "--id-col", "patient", "--exclude", "site",
        "--n-lambdas", "8", "--no-progress", "--no-plots"]


@pytest.mark.slow
def test_a_wide_table_fits_every_outcome_on_its_rows(wide_csv, tmp_path, capsys):
    path, table, units = wide_csv
    assert main(["cv", str(path), *WIDE, "--n-folds", "3", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "read 3 tasks (outcome columns of one table), 10 features" in printed
    assert "marker_b" in printed and "n=89 (1 row without this outcome left out)" in printed
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["n_samples"] == {"diagnosis": 90, "marker_a": 90, "marker_b": 89}
    assert report["task_types"] == {"diagnosis": "classification", "marker_a": "regression",
                                    "marker_b": "regression"}
    assert report["standardize"] is True and report["id_col"] == "patient"
    coefs = pd.read_csv(tmp_path / "coefficients.csv", index_col=0)
    assert list(coefs.index) == [f"prot{j}" for j in range(10)]       # neither the id nor the site
    # the saved model keeps its scaling; predict takes the raw table and keeps the id
    pred_file = tmp_path / "pred.csv"
    assert main(["predict", str(tmp_path / "model.npz"), str(path), "--id-col", "patient",
                 "--out", str(pred_file)]) == 0
    pred = pd.read_csv(pred_file)
    assert list(pred.columns) == ["patient", "diagnosis", "marker_a", "marker_b"]
    assert list(pred["patient"]) == list(table["patient"])
    import mtlcomb_jax as mc
    model = mc.load_model(tmp_path / "model.npz")
    assert model.scaling is not None and model.scaling.x_scale.shape == (10,)
    raw = table[[f"prot{j}" for j in range(10)]].to_numpy()
    np.testing.assert_allclose(pred["marker_a"], np.asarray(mc.predict(model, raw, "marker_a")), rtol=1e-6)
    assert main(["predict", str(tmp_path / "model.npz"), str(path), "--id-col", "nope"]) == 2
    _one_line_error(capsys, "--id-col='nope' is not a column of")
    # without --id-col the row number joins a prediction back to its row
    assert main(["predict", str(tmp_path / "model.npz"), str(path), "--out", str(pred_file)]) == 0
    assert list(pd.read_csv(pred_file)["row"][:3]) == [1, 2, 3]


@pytest.mark.slow
def test_no_standardize_fits_the_raw_units(wide_csv, tmp_path, capsys):
    path, _, units = wide_csv
    counts = {}
    for flag in ([], ["--no-standardize"]):
        out = tmp_path / ("raw" if flag else "std")
        assert main(["fit", str(path), *WIDE, *flag, "--lam", "0.05", "--out", str(out)]) == 0
        coefs = pd.read_csv(out / "coefficients.csv", index_col=0)
        counts[bool(flag)] = set(coefs.index[np.abs(coefs.to_numpy()).sum(axis=1) > 0])
        assert json.loads((out / "report.json").read_text())["standardize"] is (not flag)
    capsys.readouterr()
    # on raw units the large-unit proteins enter first; standardised, the informative ones do
    assert counts[False] != counts[True]
    assert {"prot0", "prot1", "prot2"} <= counts[False]


def test_a_wide_table_refuses_a_missing_feature_value(wide_csv, tmp_path, capsys):
    path, table, _ = wide_csv
    holes = tmp_path / "holes.csv"
    table.assign(prot4=table["prot4"].where(table.index != 7)).to_csv(holes, index=False)
    assert main(["fit", str(holes), *WIDE, "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "missing feature values in ['prot4'] (1 rows, first: data row 8)")
