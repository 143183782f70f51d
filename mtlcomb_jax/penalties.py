"""Penalties: the L2,1 norm with its prox, and the smooth quadratic terms.

W has shape (n_features, n_tasks); row j holds feature j's coefficients across tasks.

.. math::

    \\Omega(W) = \\lambda \\sum_j \\|W_{j,:}\\|_2
    \\qquad
    Q(W) = \\frac{C}{2}\\|W G\\|_F^2 + \\frac{C_2}{2}\\|W\\|_F^2,\\quad G = I_T - \\tfrac{1}{T}\\mathbf{1}\\mathbf{1}^T

C is the ``similarity`` argument and C_2 the ``ridge`` argument (the R package's ``C``
and ``C2``). G is a projection (G = G^T = G G), so ``W G`` is W with each row's mean
across tasks removed, and the gradient of Q is ``similarity * W G + ridge * W``.
"""
from __future__ import annotations

import jax.numpy as jnp


def row_norms(W):
    """(n_features,) Euclidean norm of each row of W (n_features, n_tasks).

    Uses the double-``where`` trick so that the gradient at an all-zero row is 0,
    not NaN.
    """
    squared = jnp.sum(W * W, axis=1)
    nonzero = squared > 0
    return jnp.where(nonzero, jnp.sqrt(jnp.where(nonzero, squared, 1.0)), 0.0)


def l21_norm(W):
    """Sum over features of the row norms: ``sum_j ||W[j, :]||_2`` (a scalar)."""
    return jnp.sum(row_norms(W))


def prox_l21(W, threshold):
    """Proximal operator of ``threshold * l21_norm`` (group soft-thresholding).

    Each row is shrunk towards 0 by ``threshold`` in Euclidean norm; rows whose
    norm is at most ``threshold`` (to within 4 ulp) become exactly zero.

    Parameters
    ----------
    W : (n_features, n_tasks)
    threshold : scalar >= 0

    Returns
    -------
    (n_features, n_tasks), same dtype as W.
    """
    norms = row_norms(W)
    safe = jnp.where(norms > 0, norms, 1.0)
    # A row that survives by less than rounding noise would keep a ~1e-16 residue
    # (at lam = lambda_max that breaks the exact all-zero solution): zero it.
    keep = norms > threshold * (1.0 + 4.0 * jnp.finfo(W.dtype).eps)
    scale = jnp.where(keep, 1.0 - threshold / safe, 0.0)
    return W * scale[:, None]


def center_tasks(W):
    """``W G``: each row minus its mean across tasks (n_features, n_tasks)."""
    return W - jnp.mean(W, axis=1, keepdims=True)


def quadratic_penalty(W, similarity, ridge):
    """``similarity/2 * ||W G||_F^2 + ridge/2 * ||W||_F^2`` (a scalar)."""
    return 0.5 * similarity * jnp.sum(center_tasks(W) ** 2) + 0.5 * ridge * jnp.sum(W * W)


def quadratic_penalty_grad(W, similarity, ridge):
    """Gradient of :func:`quadratic_penalty`: ``similarity * W G + ridge * W``."""
    return similarity * center_tasks(W) + ridge * W
