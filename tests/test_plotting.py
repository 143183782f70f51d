"""Each figure renders to a PNG and shows what it claims to show."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import mtlcomb_jax as mc  # noqa: E402
from conftest import simulate  # noqa: E402
from mtlcomb_jax import plotting  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def fitted():
    Xs, ys, types, _ = simulate(n_tasks=4, n=60, p=15, n_true=4, n_cls=2)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types, feature_names=[f"g{j}" for j in range(15)])
    path = mc.fit_path(data, n_lambdas=8)
    cv = mc.cross_validate(data, n_folds=3, n_lambdas=8)
    return data, path, cv


def _render(fig, tmp_path, name):
    out = tmp_path / f"{name}.png"
    fig.savefig(out, dpi=50)
    head = out.read_bytes()[:8]
    assert head == PNG_MAGIC and out.stat().st_size > 2000
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_path_plot_draws_one_line_per_feature_ever_selected(fitted, tmp_path):
    data, path, cv = fitted
    fig = plotting.plot_path(path, selected_lambda=float(path.lambdas[4]), n_labels=3)
    ax = fig.axes[0]
    ever = int((np.linalg.norm(np.asarray(path.W), axis=2).max(axis=0) > 0).sum())
    feature_lines = [ln for ln in ax.get_lines() if ln.get_label() != "selected lambda"]
    assert len(feature_lines) == ever
    labels = [t.get_text() for t in ax.texts]
    assert len(labels) == 3 and all(lbl.startswith("g") for lbl in labels)
    _render(fig, tmp_path, "path")


def test_cv_plot_has_one_panel_per_task_type_with_rules_marked(fitted, tmp_path):
    data, path, cv = fitted
    fig = plotting.plot_cv(cv)
    assert len(fig.axes) == 2
    legend = " ".join(t.get_text() for ax in fig.axes for t in ax.get_legend().get_texts())
    assert f"{cv.lambda_regression_min:.3g}" in legend
    assert f"{cv.lambda_classification_1se:.3g}" in legend
    _render(fig, tmp_path, "cv")


def test_cv_plot_of_regression_only_has_one_panel(tmp_path):
    Xs, ys, types, _ = simulate(n_tasks=2, n=40, p=8, n_cls=0)
    cv = mc.cross_validate(mc.MultiTaskData.from_tasks(Xs, ys, types), n_folds=3, n_lambdas=5)
    fig = plotting.plot_cv(cv)
    assert len(fig.axes) == 1
    _render(fig, tmp_path, "cv_regression")


def test_coefficient_heatmap_shows_the_selected_rows(fitted, tmp_path):
    data, path, cv = fitted
    res = mc.solve(data, float(path.lambdas[3]))
    fig = plotting.plot_coefficients(res)
    image = fig.axes[0].images[0].get_array()
    n_selected = int((np.abs(np.asarray(res.W)).sum(axis=1) > 0).sum())
    assert image.shape == (n_selected, 4)
    # rows are sorted by norm, largest first
    norms = np.linalg.norm(np.asarray(image), axis=1)
    assert np.all(np.diff(norms) <= 1e-12)
    _render(fig, tmp_path, "heatmap")
