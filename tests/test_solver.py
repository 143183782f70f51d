import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mtlcomb_jax as mc
from mtlcomb_jax.solver import _solve_jit
from conftest import simulate


def test_all_regression_shared_X_equals_sklearn_multitask_lasso():
    from sklearn.linear_model import MultiTaskLasso
    X, Y, _, _ = simulate(n_tasks=5, n=60, p=30, n_cls=0, shared=True)
    data = mc.MultiTaskData.from_outcomes(X, Y, "regression")
    for lam in (0.5, 0.1):
        ours = mc.solve(data, lam, intercept=False, tol=1e-12, max_iter=50000)
        ref = MultiTaskLasso(alpha=lam, fit_intercept=False, tol=1e-12, max_iter=100000).fit(X, Y)
        np.testing.assert_allclose(np.asarray(ours.W), ref.coef_.T, atol=1e-6)


def test_shared_and_padded_layouts_agree():
    X, Y, types, _ = simulate(n_tasks=4, n=50, p=12, shared=True)
    shared = mc.MultiTaskData.from_outcomes(X, Y, types)
    padded = mc.MultiTaskData.from_tasks([X] * 4, [Y[:, t] for t in range(4)], types)
    a = mc.solve(shared, 0.05, similarity=0.3, tol=1e-10)
    b = mc.solve(padded, 0.05, similarity=0.3, tol=1e-10)
    np.testing.assert_allclose(np.asarray(a.W), np.asarray(b.W), atol=1e-6)
    np.testing.assert_allclose(np.asarray(a.intercept), np.asarray(b.intercept), atol=1e-6)


@pytest.mark.parametrize("intercept", [False, True])
def test_certificate_bounds_suboptimality_and_kkt(unequal, intercept):
    data, raw = unequal
    lam, C, C2 = raw["solve_grid"][3]
    res = mc.solve(data, lam, similarity=C, ridge=C2, intercept=intercept, tol=1e-7)
    assert bool(res.converged)
    best = mc.solve(data, lam, similarity=C, ridge=C2, intercept=intercept, stop="kkt", tol=1e-10,
                    max_iter=50000)
    # the gap bounds the distance to the optimal objective
    assert float(res.objective) - float(best.objective) <= float(res.dual_gap) + 1e-12
    assert float(res.dual_gap) >= 0
    # optimality conditions, checked independently with NumPy
    W, b = np.asarray(best.W), np.asarray(best.intercept)
    grad_W, grad_b = numpy_gradient(data, W, b, C, C2)
    norms = np.linalg.norm(W, axis=1)
    active = norms > 0
    viol_active = np.linalg.norm(grad_W[active] + lam * W[active] / norms[active, None], axis=1)
    viol_zero = np.maximum(np.linalg.norm(grad_W[~active], axis=1) - lam, 0)
    assert max(viol_active.max(initial=0), viol_zero.max(initial=0)) <= 1e-9
    if intercept:
        assert np.abs(grad_b).max() <= 1e-9
    assert float(best.kkt_residual) <= 1e-10


def numpy_gradient(data, W, b, C, C2):
    """Gradient of the smooth part, written independently in NumPy."""
    X, y, s = np.asarray(data.X), np.asarray(data.y), np.asarray(data.weights)
    is_cls = np.asarray(data.is_classification)
    T = y.shape[0]
    grad_W, grad_b = np.zeros_like(W), np.zeros(T)
    for t in range(T):
        z = X[t] @ W[:, t] + b[t]
        if is_cls[t]:
            v = 2.0 * s[t] * (-y[t] / (1 + np.exp(y[t] * z)))
        else:
            v = 0.5 * s[t] * (-2) * (y[t] - z)
        grad_W[:, t] = X[t].T @ v
        grad_b[t] = v.sum()
    G = np.eye(T) - 1 / T
    return grad_W + C * W @ G + C2 * W, grad_b


def test_intercept_is_not_penalised():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 5))
    data = mc.MultiTaskData.from_outcomes(X, np.column_stack([X[:, 0] + 100.0, X[:, 1] - 50.0]), "regression")
    res = mc.solve(data, 1e3, ridge=10.0)          # huge penalty: W = 0, intercepts stay the means
    assert np.all(np.asarray(res.W) == 0)
    np.testing.assert_allclose(np.asarray(res.intercept), [100 + X[:, 0].mean(), -50 + X[:, 1].mean()],
                               rtol=1e-8)


def test_jit_vmap_over_lambdas_equals_loop(tutorial):
    data, _ = tutorial
    lams = jnp.array([1.0, 0.5, 0.2])
    batched = jax.vmap(lambda lam: mc.solve(data, lam, intercept=False, tol=1e-9).W)(lams)
    for i, lam in enumerate(lams):
        single = mc.solve(data, float(lam), intercept=False, tol=1e-9).W
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(single), atol=1e-7)
    jitted = jax.jit(lambda d, lam: mc.solve(d, lam, intercept=False).objective)
    np.testing.assert_allclose(float(jitted(data, 0.5)),
                               float(mc.solve(data, 0.5, intercept=False).objective), rtol=1e-12)


def test_new_hyperparameters_do_not_recompile():
    Xs, ys, types, _ = simulate(n_tasks=3, n=30, p=9, seed=5)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    mc.solve(data, 0.3, similarity=0.1, ridge=0.1, tol=1e-6)
    before = _solve_jit._cache_size()
    mc.solve(data, 0.2, similarity=0.5, ridge=0.0, tol=1e-7, max_iter=300)
    mc.solve(data, 0.05, similarity=1.0, ridge=2.0, tol=1e-5, loss_weighting="none")
    assert _solve_jit._cache_size() == before


def test_float32_runs_and_agrees_with_float64():
    Xs, ys, types, _ = simulate(n_tasks=4, n=60, p=20, seed=2)
    d64 = mc.MultiTaskData.from_tasks(Xs, ys, types)
    d32 = mc.MultiTaskData.from_tasks([x.astype(np.float32) for x in Xs], [y.astype(np.float32) for y in ys], types)
    r64 = mc.solve(d64, 0.05, similarity=0.2, tol=1e-10)
    r32 = mc.solve(d32, 0.05, similarity=0.2)
    assert r32.W.dtype == jnp.float32 and bool(r32.converged)
    np.testing.assert_allclose(float(r32.objective), float(r64.objective), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(r32.W), np.asarray(r64.W), atol=2e-3)
