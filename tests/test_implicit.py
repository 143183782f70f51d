"""Derivatives of solve by implicit differentiation (mtlcomb_jax.implicit): in each
hyperparameter and in the data against finite differences, in float32, at the kink at
lambda_max, and inside a caller's jit without recompiling for new values."""
import numpy as np
import pytest

import jax
import jax.numpy as jnp

import mtlcomb_jax as mc
from mtlcomb_jax.solver import _solve_jit
from problems import simulate


TIGHT = dict(stop="kkt", tol=1e-13, max_iter=100000)


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


@pytest.mark.slow
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
