import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from mtlcomb_jax.penalties import l21_norm, prox_l21, quadratic_penalty, quadratic_penalty_grad

matrices = arrays(np.float64, st.tuples(st.integers(1, 8), st.integers(1, 5)),
                  elements=st.floats(-10, 10, allow_nan=False))
thresholds = st.floats(0, 5)


def numpy_prox(W, thr):
    out = np.zeros_like(W)
    for j, row in enumerate(W):
        norm = np.linalg.norm(row)
        if norm > thr * (1 + 4 * np.finfo(float).eps):
            out[j] = (1 - thr / norm) * row
    return out


@settings(max_examples=100, deadline=None)
@given(matrices, thresholds)
def test_prox_matches_numpy_loop(W, thr):
    np.testing.assert_allclose(np.asarray(prox_l21(jnp.asarray(W), thr)), numpy_prox(W, thr), atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(matrices, matrices, thresholds)
def test_prox_is_non_expansive(A, B, thr):
    rows, cols = min(A.shape[0], B.shape[0]), min(A.shape[1], B.shape[1])
    A, B = A[:rows, :cols], B[:rows, :cols]
    dist = np.linalg.norm(np.asarray(prox_l21(jnp.asarray(A), thr) - prox_l21(jnp.asarray(B), thr)))
    assert dist <= np.linalg.norm(A - B) + 1e-9


@settings(max_examples=60, deadline=None)
@given(matrices, thresholds)
def test_prox_zeroes_small_rows_exactly(W, thr):
    out = np.asarray(prox_l21(jnp.asarray(W), thr))
    small = np.linalg.norm(W, axis=1) <= thr
    assert np.all(out[small] == 0.0)


def test_gradients_finite_at_zero_rows():
    W = jnp.zeros((3, 4)).at[0].set(1.0)
    g = jax.grad(l21_norm)(W)
    assert np.all(np.isfinite(np.asarray(g)))
    g = jax.grad(lambda w: jnp.sum(prox_l21(w, 0.5)))(W)
    assert np.all(np.isfinite(np.asarray(g)))


def test_quadratic_terms_match_the_R_formula():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(6, 4))
    G = np.eye(4) - 1 / 4
    C, C2 = 0.7, 0.3
    expected = C / 2 * np.sum((W @ G) ** 2) + C2 / 2 * np.sum(W ** 2)
    np.testing.assert_allclose(float(quadratic_penalty(jnp.asarray(W), C, C2)), expected)
    np.testing.assert_allclose(np.asarray(quadratic_penalty_grad(jnp.asarray(W), C, C2)),
                               C * W @ G @ G.T + C2 * W, atol=1e-12)
