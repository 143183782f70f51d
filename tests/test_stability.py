"""Stability selection (mtlcomb_jax.stability): the stratified subsamples, the recovered
features, the error bound that chooses the lambdas used, and its arguments."""
import numpy as np
import pytest

import mtlcomb_jax as mc
from problems import simulate, tasks_data, with_missing_outcomes


def test_stability_selection_recovers_the_true_features(tmp_path):
    data = tasks_data(n_tasks=4, n=60, p=40, n_true=5, n_cls=2, noise=0.5)
    sel = mc.stability_selection(data, n_subsamples=30, n_lambdas=15, threshold=0.7, pfer=2.0)
    assert sorted(sel.selected.tolist()) == [0, 1, 2, 3, 4]
    assert sel.probabilities[:5].min() == 1.0 and sel.probabilities[5:].max() < 0.7
    assert sel.frequencies.shape == (15, 40) and np.all(np.diff(sel.frequencies.mean(axis=1)) >= -0.05)
    import matplotlib
    matplotlib.use("Agg")
    fig = mc.plot_stability(sel)
    fig.savefig(tmp_path / "stability.png", dpi=40)
    assert (tmp_path / "stability.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow   # about 5 s (the default run stays within 5 minutes on 2 cores)
def test_stability_defaults_give_a_bound_that_controls_the_selection():
    Xs, ys, types, W = simulate(n_tasks=4, n=60, p=40, n_true=5, n_cls=2, noise=0.5)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types, feature_names=[f"g{j}" for j in range(40)])
    sel = mc.stability_selection(data, n_subsamples=20, n_lambdas=20, lambda_min_ratio=0.01)
    assert sel.expected_false_selections <= 1.0 and 1 < sel.n_lambdas_used < 20
    assert set(sel.selected_names) <= {f"g{j}" for j in range(5)} and len(sel.selected) >= 3
    from mtlcomb_jax.stability import error_bounds
    # the lambdas used are the most whose bound stays within pfer: one more breaks it
    with pytest.warns(mc.StabilityBoundWarning, match="pass pfer=1"):
        whole = mc.stability_selection(data, n_subsamples=20, n_lambdas=20, lambda_min_ratio=0.01, pfer=None)
    assert whole.n_lambdas_used == 20 and whole.expected_false_selections > len(whole.selected)
    assert whole.expected_false_selections > 1.0
    bounds = error_bounds(np.ones((3, 4, 10), bool), 0.75)
    np.testing.assert_allclose(bounds, 10 ** 2 / (0.5 * 10))
    with pytest.raises(ValueError, match="threshold=0.5 gives no error bound"):
        mc.stability_selection(data, n_subsamples=4, threshold=0.5)
    with pytest.raises(ValueError, match="already at the grid's largest lambda"):
        mc.stability_selection(data, n_subsamples=4, lambdas=sel.lambdas[-3:])


def test_subsamples_are_stratified_halves():
    from mtlcomb_jax.stability import subsample_weights
    data = tasks_data(n_tasks=2, n=40, p=5, n_cls=1)
    w = np.asarray(subsample_weights(data, 4, 0.5, seed=3))
    y = np.asarray(data.y)
    for b in range(4):
        kept = w[b] > 0
        assert kept[0].sum() == 20                                   # regression task: half of 40
        for label in (-1, 1):                                        # classification: half of each class
            assert kept[1][y[1] == label].sum() == round(0.5 * (y[1][:45] == label).sum())
        np.testing.assert_allclose(w[b].sum(axis=1), 1.0)


def test_subsamples_of_a_shared_design_keep_every_outcome():
    from mtlcomb_jax.stability import subsample_weights
    data = with_missing_outcomes()
    w = subsample_weights(data, 10, 0.5, seed=0)
    np.testing.assert_allclose(w.sum(axis=2), 1.0)
    assert np.all(w[:, np.asarray(~data.mask)] == 0)
    with pytest.raises(ValueError, match="keeps no sample of task 'task1'"):
        subsample_weights(data, 10, 0.1, seed=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_subsamples=1), "n_subsamples=1 is out of range: it must be >= 2"),
    (dict(threshold=0.0), "threshold=0.0 must be in"),
    (dict(fraction=1.0), "fraction=1.0 must be strictly between 0 and 1"),
    (dict(similarity=-1.0), "similarity=-1.0 is negative"),
])
def test_stability_selection_rejects_bad_arguments(mixed, kwargs, message):
    data, _, _ = mixed
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        mc.stability_selection(data, **kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(pfer=0.0), r"pfer=0.0 must be > 0"),
    (dict(pfer="one"), r"pfer='one' must be a number"),
    (dict(threshold=0.5), r"threshold=0.5 gives no error bound"),
])
def test_stability_bound_arguments_are_checked(kwargs, message):
    data = tasks_data(n_tasks=2, n=30, p=5, n_cls=1)
    with pytest.raises(ValueError, match=message):
        mc.stability_selection(data, n_subsamples=2, **kwargs)
