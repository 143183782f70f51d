"""Each figure renders to a PNG and shows what it claims to show."""
import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import mtlcomb_jax as mc  # noqa: E402
from problems import simulate, tasks_data  # noqa: E402
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
    cv = mc.cross_validate(tasks_data(n_tasks=2, n=40, p=8, n_cls=0), n_folds=3, n_lambdas=5)
    fig = plotting.plot_cv(cv)
    assert len(fig.axes) == 1
    _render(fig, tmp_path, "cv_regression")


def test_coefficient_heatmap_shows_the_selected_rows(fitted, tmp_path):
    data, path, cv = fitted
    res = mc.solve(data, float(path.lambdas[3]))
    fig = plotting.plot_coefficients(res, scale="none")
    image = fig.axes[0].images[0].get_array()
    n_selected = int((np.abs(np.asarray(res.W)).sum(axis=1) > 0).sum())
    assert image.shape == (n_selected, 4)
    # rows are sorted by norm, largest first
    norms = np.linalg.norm(np.asarray(image), axis=1)
    assert np.all(np.diff(norms) <= 1e-12)
    _render(fig, tmp_path, "heatmap")


# -- readable at every size: labels inside the figure, none on top of another ---------------
def _text_boxes(fig):
    """(every visible text's box, the boxes of the axes' own labels and legends) in pixels."""
    import matplotlib.text as mtext
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    everything, labels = [], []
    for ax in fig.axes:
        # tick labels beyond the axes' limits exist but are not drawn
        ticks = [(t, ax.get_xlim(), 0) for t in ax.get_xticklabels()] + \
            [(t, ax.get_ylim(), 1) for t in ax.get_yticklabels()]
        shown = [t for t, lim, i in ticks if t.get_text() and min(lim) - 1e-9 <= t.get_position()[i] <= max(lim) + 1e-9]
        for t in list(ax.texts) + [ax.title, ax.xaxis.label, ax.yaxis.label] + shown:
            if t.get_text() and t.get_visible():
                everything.append(mtext.Text.get_window_extent(t, renderer))
        own = [mtext.Text.get_window_extent(t, renderer) for t in ax.texts]
        if ax.get_legend() is not None:
            own.append(ax.get_legend().get_window_extent(renderer))
        labels.append(own)
    return everything, labels


def _assert_readable(fig):
    everything, per_axes = _text_boxes(fig)
    frame = fig.bbox
    for box in everything:
        assert frame.x0 - 0.5 <= box.x0 and box.x1 <= frame.x1 + 0.5, box
        assert frame.y0 - 0.5 <= box.y0 and box.y1 <= frame.y1 + 0.5, box
    for boxes in per_axes:
        for i, a in enumerate(boxes):
            for b in boxes[:i]:
                assert not a.overlaps(b), (a, b)


def _synthetic_path(p, n_tasks=5, n_lambdas=20, seed=0):
    """A PathResult-shaped record with many features entering at once (crowded labels)."""
    from types import SimpleNamespace
    rng = np.random.default_rng(seed)
    lambdas = np.geomspace(1.0, 0.01, n_lambdas)
    entry = rng.integers(0, n_lambdas, p)
    size = rng.exponential(size=(p, n_tasks)) * (rng.random(p) < 0.2)[:, None]
    growth = np.clip(np.arange(n_lambdas)[:, None] - entry[None, :], 0, None)[:, :, None]
    W = growth * size[None] * rng.choice([-1, 1], size=(1, p, n_tasks))
    W[:, :12] = 30.0 + 0.01 * np.arange(12)[None, :, None]          # twelve nearly equal curves
    return SimpleNamespace(lambdas=lambdas, W=W, feature_names=tuple(f"protein_{j:04d}" for j in range(p)),
                           task_names=tuple(f"outcome_{t}" for t in range(n_tasks)))


@pytest.mark.parametrize("p", [15, 125, 7000])
def test_path_labels_stay_inside_the_figure_apart_and_clear_of_the_legend(p, tmp_path):
    path = _synthetic_path(p)
    fig = plotting.plot_path(path, selected_lambda=float(path.lambdas[10]), n_labels=10)
    assert len(fig.axes[0].texts) == 10
    _assert_readable(fig)
    _render(fig, tmp_path, f"path_{p}")


@pytest.mark.parametrize("p", [125, 7000])
def test_heatmap_gives_each_task_its_own_colour_scale(p, tmp_path):
    from types import SimpleNamespace
    W = _synthetic_path(p).W[-1]
    W[:, 0] *= 1e-4                                                  # a task on a tiny scale
    fig = plotting.plot_coefficients(SimpleNamespace(W=W, feature_names=(), task_names=()))
    image = np.asarray(fig.axes[0].images[0].get_array())
    shown_rows = np.argsort(-np.linalg.norm(W, axis=1))[:40]
    np.testing.assert_allclose(np.abs(image).max(axis=0), np.abs(W[shown_rows]).max(axis=0) /
                               np.abs(W).max(axis=0))
    assert np.abs(image[:, 0]).max() > 0.5                           # not blank beside the others
    _assert_readable(fig)
    _render(fig, tmp_path, f"heatmap_{p}")


def test_stability_plot_labels_stay_inside_and_the_bound_region_is_marked(tmp_path):
    rng = np.random.default_rng(1)
    p, L = 125, 15
    frequencies = np.clip(np.sort(rng.random((L, p)), axis=0) * np.linspace(0.3, 1.2, p), 0, 1)
    frequencies[:, :12] = np.linspace(0.8, 1.0, L)[:, None]
    probabilities = frequencies[:6].max(axis=0)
    selected = np.argsort(-probabilities)[:12]
    sel = mc.StabilityResult(lambdas=np.geomspace(1, 0.1, L), frequencies=frequencies,
                             probabilities=probabilities, selected=selected, threshold=0.75,
                             expected_false_selections=0.9, n_subsamples=50,
                             feature_names=tuple(f"protein_{j}" for j in range(p)), n_lambdas_used=6)
    fig = plotting.plot_stability(sel)
    assert len(fig.axes[0].texts) == 10 and fig.axes[0].patches          # labels and the shaded region
    _assert_readable(fig)
    _render(fig, tmp_path, "stability")


def test_heatmap_scale_is_checked():
    from types import SimpleNamespace
    with pytest.raises(ValueError, match=r"scale='row' must be 'task'"):
        mc.plot_coefficients(SimpleNamespace(W=np.ones((3, 2)), feature_names=(), task_names=()), scale="row")
