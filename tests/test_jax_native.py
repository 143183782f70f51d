"""Implicit differentiation of solve, hypergradient tuning, stability selection, composability."""
import numpy as np
import pytest

import jax
import jax.numpy as jnp

import mtlcomb_jax as mc
from conftest import simulate
from mtlcomb_jax.solver import _solve_jit

TIGHT = dict(stop="kkt", tol=1e-13, max_iter=100000)


@pytest.fixture(scope="module")
def mixed():
    Xs, ys, types, _ = simulate(n_tasks=4, n=40, p=12, n_true=4, n_cls=2)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    rng = np.random.default_rng(1)
    return data, rng.normal(size=(12, 4)), rng.normal(size=4)


def _readout(res, R, r):
    # a scalar that depends on W, the intercept and the objective
    return jnp.sum(res.W * R) + jnp.sum(res.intercept * r) + 0.3 * res.objective


def _central_difference(f, x, direction, h=1e-6):
    return (f(x + h * direction) - f(x - h * direction)) / (2 * h)


@pytest.mark.parametrize("name", ["lam", "similarity", "ridge"])
def test_gradient_in_each_hyperparameter_matches_finite_differences(mixed, name):
    data, R, r = mixed
    values = {"lam": 0.05, "similarity": 0.1, "ridge": 0.02}

    def f(v):
        res = mc.solve(data, **{"lam": values["lam"], "similarity": values["similarity"],
                                "ridge": values["ridge"], name: v}, **TIGHT)
        return _readout(res, R, r)

    grad = float(jax.grad(f)(values[name]))
    fd = float(_central_difference(f, values[name], 1.0))
    assert grad != 0.0 and abs(grad - fd) <= 1e-4 * abs(fd)


@pytest.mark.parametrize("field", ["X", "y", "weights"])
def test_gradient_in_the_data_matches_finite_differences(mixed, field):
    data, R, r = mixed
    base = getattr(data, field)
    direction = np.random.default_rng(2).normal(size=base.shape) * np.asarray(data.mask).reshape(
        data.mask.shape + (1,) * (base.ndim - 2))
    if field == "y":
        direction = direction * ~np.asarray(data.is_classification)[:, None]     # labels stay +-1
    if field == "weights":
        direction = direction - np.asarray(data.weights) * direction.sum(axis=1, keepdims=True)

    def f(value):
        return _readout(mc.solve(data.replace(**{field: value}), 0.05, ridge=0.02, **TIGHT), R, r)

    grad = jax.grad(f)(base)
    directional = float(jnp.sum(grad * direction))
    fd = float(_central_difference(f, base, direction))
    assert abs(directional - fd) <= 1e-4 * abs(fd)
    if field != "weights":   # padding samples have weight 0, so X and y there carry no gradient
        padding = 1 - np.asarray(data.mask).reshape(direction.shape[:2] + (1,) * (base.ndim - 2))
        assert float(jnp.abs(grad * padding).max()) == 0.0


def test_float32_gradients_agree_with_float64_and_stop_at_float32s_tolerance():
    """GMRES's tolerance follows the dtype (implicit.backward_settings): float32 stops near its
    own rounding instead of running out its iterations, and still matches float64."""
    from mtlcomb_jax.implicit import backward_settings
    assert backward_settings(np.float64) == (1e-10, 20)
    tol32, restarts32 = backward_settings(np.float32)
    assert tol32 == pytest.approx(100 * np.finfo(np.float32).eps) and restarts32 < 20
    Xs, ys, types, _ = simulate(n_tasks=4, n=60, p=30, n_true=5, n_cls=2)
    grads = {}
    for dtype in (np.float64, np.float32):
        data = mc.MultiTaskData.from_tasks([X.astype(dtype) for X in Xs], [y.astype(dtype) for y in ys], types)
        tol = 1e-10 if dtype == np.float64 else 1e-6

        def f(lam, X):
            return (mc.solve(data.replace(X=X), lam, ridge=0.01, tol=tol).W ** 2).sum()

        g_lam, g_X = jax.grad(f, argnums=(0, 1))(dtype(0.05), data.X)
        assert g_lam.dtype == dtype and g_X.dtype == dtype
        grads[dtype] = float(g_lam), np.asarray(g_X, np.float64)
    (lam64, X64), (lam32, X32) = grads[np.float64], grads[np.float32]
    assert abs(lam32 - lam64) <= 1e-3 * abs(lam64)
    assert np.linalg.norm(X32 - X64) <= 1e-3 * np.linalg.norm(X64)


def test_jacrev_of_W_in_lambda(mixed):
    data, _, _ = mixed
    jac = jax.jacrev(lambda lam: mc.solve(data, lam, ridge=0.02, **TIGHT).W)(0.05)
    fd = _central_difference(lambda lam: mc.solve(data, lam, ridge=0.02, **TIGHT).W, 0.05, 1.0)
    assert jac.shape == (12, 4)
    np.testing.assert_allclose(np.asarray(jac), np.asarray(fd), atol=1e-4 * float(jnp.abs(fd).max()))
    inactive = np.asarray(mc.solve(data, 0.05, ridge=0.02, **TIGHT).W).any(axis=1) == 0
    assert np.all(np.asarray(jac)[inactive] == 0)


def test_at_the_kink_the_derivative_is_the_zero_side(mixed):
    """At lam = lambda_max every row sits on its threshold: W = 0 and d W / d lam = 0 (documented)."""
    data, R, r = mixed
    lam_max = float(mc.lambda_max(data))

    def f(lam):
        return jnp.sum(mc.solve(data, lam, **TIGHT).W * R)

    assert float(f(lam_max)) == 0.0
    g = float(jax.grad(f)(lam_max))
    assert g == 0.0 and np.isfinite(g)
    assert float(jax.grad(f)(0.9 * lam_max)) != 0.0           # below the kink the rows move


def test_gradient_inside_a_user_jit_equals_eager(mixed):
    data, R, r = mixed

    def f(lam, X):
        return _readout(mc.solve(data.replace(X=X), lam, ridge=0.02, **TIGHT), R, r)

    eager = jax.grad(f, argnums=(0, 1))(0.05, data.X)
    jitted = jax.jit(jax.grad(f, argnums=(0, 1)))(0.05, data.X)
    np.testing.assert_allclose(float(jitted[0]), float(eager[0]), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(jitted[1]), np.asarray(eager[1]), rtol=1e-8, atol=1e-12)


def test_vmap_over_independent_datasets_equals_a_loop():
    datasets = [mc.MultiTaskData.from_tasks(*simulate(n_tasks=3, n=30, p=8, n_cls=1, seed=s)[:3])
                for s in range(3)]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *datasets)
    batched = jax.vmap(lambda d: mc.solve(d, 0.05).W)(stacked)
    for k, d in enumerate(datasets):
        np.testing.assert_allclose(np.asarray(batched[k]), np.asarray(mc.solve(d, 0.05).W), atol=1e-9)


def test_new_values_do_not_recompile_a_differentiated_solve(mixed):
    data, R, r = mixed
    traces = []

    @jax.jit
    def g(lam, ridge):
        traces.append(1)
        return jax.grad(lambda v: _readout(mc.solve(data, v, ridge=ridge), R, r))(lam)

    g(0.05, 0.01).block_until_ready()
    size = _solve_jit._cache_size()
    for lam, ridge in [(0.04, 0.02), (0.07, 0.0), (0.1, 0.3)]:
        g(lam, ridge).block_until_ready()
    assert len(traces) == 1 and _solve_jit._cache_size() == size


@pytest.mark.slow   # about 9 s
def test_tuning_beats_a_10_by_10_grid_with_fewer_solves():
    Xs, ys, types, _ = simulate(n_tasks=4, n=50, p=20, n_true=4, n_cls=2, noise=1.0)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    common = dict(ridge=1e-3, n_folds=4, seed=0)
    best = mc.tune_hyperparameters(data, tune=("lam", "similarity"), n_steps=30, learning_rate=0.3, **common)
    lam_max = float(mc.lambda_max(data))
    grid = [mc.tune_hyperparameters(data, tune=("lam",), lam=lam, similarity=sim, n_steps=1, **common)
            for lam in np.geomspace(0.9 * lam_max, 1e-3 * lam_max, 10) for sim in np.geomspace(1e-4, 10, 10)]
    grid_best = min(g.validation_loss for g in grid)
    assert best.validation_loss <= grid_best
    assert best.n_solves < sum(g.n_solves for g in grid)
    assert best.history.shape == (30, 4) and best.ridge == 1e-3


def test_tuning_rejects_bad_requests(mixed):
    data, _, _ = mixed
    with pytest.raises(ValueError, match="tune="):
        mc.tune_hyperparameters(data, tune=("alpha",))
    with pytest.raises(ValueError, match="must start > 0"):
        mc.tune_hyperparameters(data, tune=("similarity",), similarity=0.0)


def test_stability_selection_recovers_the_true_features(tmp_path):
    Xs, ys, types, W = simulate(n_tasks=4, n=60, p=40, n_true=5, n_cls=2, noise=0.5)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    sel = mc.stability_selection(data, n_subsamples=30, n_lambdas=15, threshold=0.7, pfer=2.0)
    assert sorted(sel.selected.tolist()) == [0, 1, 2, 3, 4]
    assert sel.probabilities[:5].min() == 1.0 and sel.probabilities[5:].max() < 0.7
    assert sel.frequencies.shape == (15, 40) and np.all(np.diff(sel.frequencies.mean(axis=1)) >= -0.05)
    import matplotlib
    matplotlib.use("Agg")
    fig = mc.plot_stability(sel)
    fig.savefig(tmp_path / "stability.png", dpi=40)
    assert (tmp_path / "stability.png").read_bytes()[:4] == b"\x89PNG"


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
    Xs, ys, types, _ = simulate(n_tasks=2, n=40, p=5, n_cls=1)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    w = np.asarray(subsample_weights(data, 4, 0.5, seed=3))
    y = np.asarray(data.y)
    for b in range(4):
        kept = w[b] > 0
        assert kept[0].sum() == 20                                   # regression task: half of 40
        for label in (-1, 1):                                        # classification: half of each class
            assert kept[1][y[1] == label].sum() == round(0.5 * (y[1][:45] == label).sum())
        np.testing.assert_allclose(w[b].sum(axis=1), 1.0)


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


def test_replace_accepts_only_array_fields_of_the_same_shape(mixed):
    data, _, _ = mixed
    with pytest.raises(ValueError, match="takes X, y or weights; got 'task_names'"):
        data.replace(task_names=("a",))
    with pytest.raises(ValueError, match="must keep"):
        data.replace(X=data.X[:, :3])
    assert data.replace(y=data.y * 1.0).y.shape == data.y.shape
