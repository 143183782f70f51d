"""Task losses as pure functions of the linear predictor.

The data term of the objective is

.. math::

    L(W, b) = \\sum_t c_t \\sum_i s_{ti}\\, \\ell_t(y_{ti}, x_{ti}^T w_t + b_t)

with :math:`\\ell(y, z) = (y - z)^2` for regression and
:math:`\\ell(y, z) = \\log(1 + e^{-y z})` for classification (labels -1/+1), and
per-task scales :math:`c_t`: MTLComb's weights 0.5 (least squares) and 2.0
(logistic) with ``loss_weighting="mtlcomb"``, 1.0 for both with ``"none"``.
With these weights both losses have the same gradient at zero,
``-X^T (s * y)``, so both task types enter the regularization path together
(Cao et al., arXiv 2405.09886).

Everything here works on the linear predictor ``z`` of shape (n_tasks, n_max):
the solver forms ``z`` with one product ``X @ W`` and maps per-sample
derivatives back with one product ``X.T @ V`` (see :func:`predictor` and
:func:`backproject`).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .penalties import quadratic_penalty

LOSS_WEIGHTINGS = ("mtlcomb", "none")


def task_loss_scales(is_classification, loss_weighting="mtlcomb", dtype=jnp.float32):
    """(n_tasks,) scale c_t of each task's mean loss.

    Made on the host when ``is_classification`` is concrete (as eager jnp operations,
    each would compile a program), traced inside a caller's jit."""
    if loss_weighting not in LOSS_WEIGHTINGS:
        raise ValueError(f"loss_weighting={loss_weighting!r} is unknown; use one of {LOSS_WEIGHTINGS}.")
    traced = isinstance(is_classification, jax.core.Tracer)
    xp = jnp if traced else np
    if loss_weighting == "mtlcomb":
        scales = xp.where(xp.asarray(is_classification), 2.0, 0.5).astype(dtype)
    else:
        scales = xp.ones(xp.shape(is_classification), dtype=dtype)
    return scales if traced else jax.device_put(scales)


def predictor(X, W, b):
    """Linear predictor z = X w_t + b_t for every task, shape (n_tasks, n_max).

    X : (n_samples, n_features) shared, or (n_tasks, n_max, n_features) padded
    W : (n_features, n_tasks);  b : (n_tasks,)
    """
    if X.ndim == 2:
        return _shared_forward(X, W) + b[:, None]
    return jnp.einsum("tnp,pt->tn", X, W) + b[:, None]


def _forward_product(X, W):
    """``(X @ W).T``, (n_tasks, n) from X (n, p) and W (p, n_tasks), in the layout
    XLA:CPU computes fastest for one problem (see :func:`transposed`): with the transpose
    folded into it, its dot takes 2 to 2.7 x as long (n = 200, p = 1,000, T = 20, float64:
    523 against 196 us; ad hoc, 2026-12-01)."""
    return transposed(X @ W)


@jax.custom_batching.custom_vmap
def _batchable_forward_product(X, W):
    return _forward_product(X, W)


@_batchable_forward_product.def_vmap
def _forward_product_batched(axis_size, in_batched, X, W):
    """K problems' W (K, p, n_tasks) on one X (the folds of a shared X): one product with
    K * n_tasks columns whose output is asked for in the (K, n_tasks, n) layout directly.
    Unlike for one W, XLA:CPU computes that faster than the one-problem layout: the mixed
    5-fold CV of ``bench_first_call.py`` (n = 200, p = 1,000, T = 6) runs warm in 0.86 to
    0.90 x the time in float64 and 0.83 to 0.93 x in float32, the all-regression one of
    ``harness.py`` (T = 20) in 0.96 x; 50 subsamples' stability selection takes the same
    time (ad hoc, 2026-12-01). A batched X (the folds' own working sets) keeps the one-problem layout."""
    x_batched, w_batched = in_batched
    if x_batched:
        return jax.vmap(_forward_product, in_axes=(0, 0 if w_batched else None))(X, W), True
    if not w_batched:
        return _forward_product(X, W), False
    return jnp.einsum("np,kpt->ktn", X, W), True


@jax.custom_jvp
def _shared_forward(X, W):
    """:func:`_forward_product` with a batching rule of its own. ``custom_vmap`` has no
    autodiff rule; the product is linear in each argument, so its tangent is made of
    plain products (none for an argument not differentiated)."""
    return _batchable_forward_product(X, W)


def _shared_forward_jvp(primals, tangents):
    (X, W), (dX, dW) = primals, tangents
    zero = jax.custom_derivatives.SymbolicZero
    parts = ([] if isinstance(dW, zero) else [_forward_product(X, dW)]) + \
        ([] if isinstance(dX, zero) else [_forward_product(dX, W)])
    out = _shared_forward(X, W)
    return out, sum(parts[1:], parts[0]) if parts else jnp.zeros_like(out)


_shared_forward.defjvp(_shared_forward_jvp, symbolic_zeros=True)


def backproject(X, V):
    """``X_t^T v_t`` for every task, shape (n_features, n_tasks), from V (n_tasks, n_max)."""
    if X.ndim == 2:
        return transposed(V @ X)
    return transposed(jnp.einsum("tn,tnp->tp", V, X))


def transposed(product):
    """``product.T`` (all axes reversed), with the product computed in its own layout first.

    Left alone, XLA folds the transpose into the dot and asks it for a (p, T) output,
    which XLA's CPU dot computes markedly slower than the (T, p) one. The barrier keeps
    the two apart; it is an identity for autodiff. Only the CPU backend gets it: on other
    backends the barrier would block fusions, so they get the plain transpose. The
    backend is JAX's default one, read while tracing.
    """
    if jax.default_backend() != "cpu":
        return product.T
    return jax.lax.optimization_barrier(product).T


def sample_losses(z, y, is_classification):
    """Unscaled per-sample losses l(y, z), shape (n_tasks, n_max). Overflow-safe."""
    squared = (y - z) ** 2
    logistic = jnp.logaddexp(0.0, -y * z)
    return jnp.where(is_classification[:, None], logistic, squared)


def sample_loss_derivatives(z, y, is_classification):
    """d l(y, z) / dz per sample, shape (n_tasks, n_max)."""
    return sample_loss_slopes_and_curvatures(z, y, is_classification)[0]     # under jit XLA drops the curvature


def sample_loss_slopes_and_curvatures(z, y, is_classification):
    """First and second derivatives of l(y, z) in z per sample, each (n_tasks, n_max),
    from one sigmoid (Newton's steps on the intercepts need both)."""
    miss = jax.nn.sigmoid(-y * z)              # logistic: probability of the other label
    slope = jnp.where(is_classification[:, None], -y * miss, -2.0 * (y - z))
    curvature = jnp.where(is_classification[:, None], miss * (1.0 - miss), 2.0)
    return slope, curvature


def data_loss(z, y, weights, is_classification, scales):
    """Scalar data term ``sum_t c_t sum_i s_ti l(y_ti, z_ti)``."""
    per_task = jnp.sum(weights * sample_losses(z, y, is_classification), axis=1)
    return jnp.sum(scales * per_task)


def data_loss_derivatives(z, y, weights, is_classification, scales):
    """dL/dz, shape (n_tasks, n_max): ``c_t s_ti l'(y_ti, z_ti)``."""
    return scales[:, None] * weights * sample_loss_derivatives(z, y, is_classification)


def data_loss_slopes_and_curvatures(z, y, weights, is_classification, scales):
    """dL/dz and d^2L/dz^2 (the data term is separable in z), each (n_tasks, n_max)."""
    slope, curvature = sample_loss_slopes_and_curvatures(z, y, is_classification)
    cs = scales[:, None] * weights
    return cs * slope, cs * curvature


def smooth_objective(z, W, y, weights, is_classification, scales, similarity, ridge):
    """Data term plus the quadratic penalties (everything but the L2,1 term)."""
    return data_loss(z, y, weights, is_classification, scales) + quadratic_penalty(W, similarity, ridge)


def loss_conjugates(U, y, weights, is_classification, scales):
    """Sum of the Fenchel conjugates of the per-sample losses at dual values U.

    For a sample with loss ``phi(z) = c s l(y, z)`` the conjugate is

    * least squares: ``phi*(u) = u y + u^2 / (4 c s)``
    * logistic, with ``a = -u y / (c s)`` in [0, 1]: ``c s (a log a + (1-a) log(1-a))``

    Samples with weight 0 contribute 0 (their dual value is 0 by construction).
    U : (n_tasks, n_max). Returns a scalar.
    """
    cs = scales[:, None] * weights
    live = cs > 0
    safe_cs = jnp.where(live, cs, 1.0)
    squared = U * y + U * U / (4.0 * safe_cs)
    a = jnp.clip(-U * y / safe_cs, 0.0, 1.0)
    entropy = jax.scipy.special.xlogy(a, a) + jax.scipy.special.xlogy(1.0 - a, 1.0 - a)
    logistic = cs * entropy
    per_sample = jnp.where(is_classification[:, None], logistic, squared)
    return jnp.sum(jnp.where(live, per_sample, 0.0))


def null_loss(y, weights, is_classification, scales, intercept):
    """Data loss of the model with W = 0 (and the best intercept when fitted).

    The natural scale of the objective, used to make the duality-gap tolerance
    relative. Returns a positive scalar.
    """
    mean_y = jnp.sum(weights * y, axis=1)
    if intercept:
        squared = jnp.sum(weights * (y - mean_y[:, None]) ** 2, axis=1)
        frac_pos = jnp.clip(0.5 * (1.0 + mean_y), 1e-12, 1 - 1e-12)
        logistic = -(frac_pos * jnp.log(frac_pos) + (1 - frac_pos) * jnp.log1p(-frac_pos))
    else:
        squared = jnp.sum(weights * y * y, axis=1)
        logistic = jnp.full_like(mean_y, jnp.log(2.0))
    per_task = jnp.where(is_classification, logistic, squared)
    return jnp.maximum(jnp.sum(scales * per_task), jnp.finfo(y.dtype).tiny)
