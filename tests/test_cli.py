"""The command line: fit, cv and predict from files; one-line errors with exit status 2."""
import json

import numpy as np
import pandas as pd
import pytest

from conftest import simulate
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
    assert "s2" in printed and "classification" in printed and "dropped 1 rows" in printed
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
    (["--target-col", "outcome"], "pass --task-col"),
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
