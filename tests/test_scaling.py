"""Standardisation inside the fit (mtlcomb_jax.scaling): the reported coefficients equal an
explicit scale - fit - unscale, predictions take raw data, and saved models keep the scaling."""
import jax
import numpy as np
import pytest

import mtlcomb_jax as mc
from problems import shared_data, simulate

TIGHT = dict(tol=1e-10, max_iter=20000)


def _unit_scaled(Xs, scales):
    """Per-task designs whose columns are in very different units."""
    return [X * scales for X in Xs]


def _by_hand(X, w):
    """Weighted mean and 1/n standard deviation of the columns of X (n, p), w summing to 1."""
    center = w @ X
    scale = np.sqrt(w @ (X - center) ** 2)
    return center, scale


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_per_task_standardised_path_equals_scale_fit_unscale(dtype):
    Xs, ys, types, _ = simulate(n_tasks=4, p=12, dtype=dtype)
    Xs = _unit_scaled(Xs, np.geomspace(1e-2, 1e2, 12).astype(dtype))
    copies = [X.copy() for X in Xs]
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    tight = TIGHT if dtype == np.float64 else {}
    path = mc.fit_path(data, n_lambdas=6, standardize=True, **tight)
    assert all(np.array_equal(X, c) for X, c in zip(Xs, copies))        # the caller's arrays are kept
    moments = [_by_hand(X.astype(np.float64), np.full(len(X), 1 / len(X))) for X in Xs]
    scaled = [((X - c) / s).astype(dtype) for X, (c, s) in zip(Xs, moments)]
    by_hand = mc.fit_path(mc.MultiTaskData.from_tasks(scaled, ys, types), path.lambdas, **tight)
    np.testing.assert_allclose(path.lambdas, by_hand.lambdas, rtol=1e-6)
    W_std = np.asarray(by_hand.W, np.float64)
    W = np.stack([W_std[:, :, t] / moments[t][1] for t in range(4)], axis=2)
    b = np.asarray(by_hand.intercept) - np.stack([W[:, :, t] @ moments[t][0] for t in range(4)], axis=1)
    atol = 1e-7 if dtype == np.float64 else 2e-3
    np.testing.assert_allclose(np.asarray(path.W), W, atol=atol * np.abs(W).max())
    np.testing.assert_allclose(np.asarray(path.intercept), b, atol=atol * max(np.abs(b).max(), 1))
    assert path.scaling.x_scale.shape == (4, 12)
    # raw data in, the same predictions as the standardised fit on standardised data
    k = 4
    for t in range(4):
        raw = np.asarray(mc.predict(path, Xs[t], t, lambda_index=k))
        std = np.asarray(mc.predict(by_hand, scaled[t], t, lambda_index=k))
        np.testing.assert_allclose(raw, std, atol=1e-5 if dtype == np.float64 else 2e-2)


@pytest.mark.parametrize("weighted", [False, True])
def test_shared_design_with_scaled_outcomes_equals_scale_fit_unscale(weighted):
    X, Y, types, _ = simulate(n_tasks=4, p=10, shared=True)
    X = X * np.geomspace(1e-3, 1e3, 10)
    Y = Y * np.array([100.0, 0.01, 1.0, 1.0])               # regression outcomes of very different variance
    sw = np.random.default_rng(5).uniform(0.2, 3.0, len(X)) if weighted else None
    data = mc.MultiTaskData.from_outcomes(X, Y, types, sample_weights=sw)
    res = mc.solve(data, 0.02, standardize=True, scale_outcomes=True, **TIGHT)
    w = np.full(len(X), 1 / len(X)) if sw is None else sw / sw.sum()
    c, s = _by_hand(X, w)
    is_reg = np.array([t == "regression" for t in types])
    yc = np.where(is_reg, w @ Y, 0.0)
    ys = np.where(is_reg, np.sqrt(w @ (Y - yc) ** 2), 1.0)
    by_hand = mc.solve(mc.MultiTaskData.from_outcomes((X - c) / s, np.where(is_reg, (Y - yc) / ys, Y), types,
                                                      sample_weights=sw), 0.02, **TIGHT)
    W = np.asarray(by_hand.W) * ys / s[:, None]
    b = yc + ys * np.asarray(by_hand.intercept) - c @ W
    np.testing.assert_allclose(np.asarray(res.W), W, atol=1e-8 * np.abs(W).max())
    np.testing.assert_allclose(np.asarray(res.intercept), b, atol=1e-8 * np.abs(b).max())
    np.testing.assert_allclose(res.scaling.y_scale, ys)
    assert res.scaling.x_scale.shape == (10,)


def test_standardised_selection_does_not_depend_on_feature_units():
    X, Y, types, _ = simulate(n_tasks=4, p=15, shared=True)
    units = np.geomspace(1e-3, 1e3, 15)
    def fit(X):
        return mc.fit_path(mc.MultiTaskData.from_outcomes(X, Y, types), n_lambdas=8, standardize=True, **TIGHT)

    plain, rescaled = fit(X), fit(X * units)
    np.testing.assert_allclose(plain.lambdas, rescaled.lambdas, rtol=1e-8)
    np.testing.assert_array_equal(plain.n_selected(), rescaled.n_selected())
    np.testing.assert_allclose(np.asarray(rescaled.W) * units[:, None], np.asarray(plain.W), atol=1e-7)
    # unstandardised, the units decide the order in which features enter
    raw = mc.fit_path(mc.MultiTaskData.from_outcomes(X * units, Y, types), n_lambdas=8, **TIGHT)
    def first(path):
        return set(np.flatnonzero(np.any(np.asarray(path.W)[2] != 0, axis=1)))

    assert first(raw) != first(plain)


def test_saved_standardised_model_keeps_its_scaling_and_predicts_raw_data(tmp_path):
    Xs, ys, types, _ = simulate(n_tasks=3, n_cls=1, p=8)
    data = mc.MultiTaskData.from_tasks(_unit_scaled(Xs, np.geomspace(1e-2, 1e2, 8)), ys, types)
    res = mc.solve(data, 0.05, standardize=True)
    loaded = mc.load_model(mc.save_model(res, tmp_path / "model"))
    for name in res.scaling._fields:
        np.testing.assert_array_equal(getattr(loaded.scaling, name), getattr(res.scaling, name))
    X_new = Xs[0][:7] * np.geomspace(1e-2, 1e2, 8)
    np.testing.assert_allclose(np.asarray(mc.predict(loaded, X_new)), np.asarray(mc.predict(res, X_new)))
    # an unscaled model has none stored
    plain = mc.solve(mc.MultiTaskData.from_tasks(Xs, ys, types), 0.05)
    assert mc.load_model(mc.save_model(plain, tmp_path / "plain")).scaling is None


@pytest.mark.slow
def test_cv_grid_and_estimator_use_the_standardised_problem():
    X, Y, types, _ = simulate(n_tasks=4, p=10, shared=True)
    X = X * np.geomspace(1e-2, 1e2, 10)
    data = mc.MultiTaskData.from_outcomes(X, Y, types)
    grid = mc.lambda_grid(data, n_lambdas=5, standardize=True)
    np.testing.assert_allclose(grid, mc.fit_path(data, n_lambdas=5, standardize=True).lambdas)
    assert not np.allclose(grid, mc.lambda_grid(data, n_lambdas=5))
    cv = mc.cross_validate(data, n_folds=3, n_lambdas=5, standardize=True, return_path=True)
    np.testing.assert_allclose(cv.path.lambdas, grid, rtol=1e-10)
    assert cv.path.scaling is not None
    est = mc.MTLCombCV(task_types=types, n_folds=3, n_lambdas=5, standardize=True).fit(X, Y)
    direct = mc.fit_path(data, [v for v in est.cv_.lambdas if v > est.lambda_] + [est.lambda_], standardize=True)
    np.testing.assert_allclose(est.coef_, np.asarray(direct.W[-1]).T, atol=1e-9)


def test_standardize_refuses_traced_data_and_bad_flags():
    data = shared_data(n_tasks=2, n_cls=1, p=5)
    with pytest.raises(ValueError, match="standardize=True needs concrete data"):
        jax.jit(lambda X: mc.solve(data.replace(X=X), 0.1, standardize=True).W)(data.X)
    with pytest.raises(ValueError, match="standardize"):
        mc.fit_path(data, standardize="yes")


@pytest.mark.slow   # about 5 s (the default run stays within 5 minutes on 2 cores)
def test_a_standardised_solve_is_differentiable_in_lambda_and_keeps_constant_columns_at_zero():
    X, Y, types, _ = simulate(n_tasks=3, n_cls=1, p=6, shared=True, dtype=np.float32)
    X[:, 5] = 3.0                                             # a constant feature, float32 weights
    data = mc.MultiTaskData.from_outcomes(X, Y, types)
    res = mc.solve(data, 0.05, standardize=True)
    assert res.scaling.x_scale[5] == 1.0 and np.all(np.asarray(res.W)[5] == 0)
    grad = jax.grad(lambda lam: (mc.solve(data, lam, standardize=True, ridge=0.01).W ** 2).sum())(np.float32(0.05))
    assert np.isfinite(float(grad)) and float(grad) < 0            # more penalty, smaller coefficients
    batch = jax.vmap(lambda lam: mc.solve(data, lam, standardize=True).W)(np.array([0.05, 0.1], np.float32))
    # the same solution to within the float32 default tolerance's certificate
    np.testing.assert_allclose(np.asarray(batch[0]), np.asarray(res.W), atol=5e-3 * np.abs(np.asarray(res.W)).max())
