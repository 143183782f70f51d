"""The MTLComb objective, its gradients, its Fenchel dual, and the null model.

.. math::

    F(W, b) = L(W, b) + Q(W) + \\lambda \\sum_j \\|W_{j,:}\\|_2

(``losses.py`` defines L, ``penalties.py`` Q and the L2,1 term.) :class:`Problem` holds
one instance's traced inputs; everything here is pure and traceable. The step and loop
that minimise F are in :mod:`.fista`.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from . import losses
from .data import MultiTaskData
from .penalties import l21_norm, quadratic_penalty, quadratic_penalty_grad, row_norms
from .sharding import to_device

#: Newton steps that put the intercepts at their optimum for the current W (certified
#: rules). Each start is the last point's optimum, a short way off, and what Newton leaves
#: is covered by the dual bound (gradients_and_dual_point), so two suffice.
_PROFILE_STEPS = 2


class Problem(NamedTuple):
    """Traced inputs that define one problem instance.

    X : (n_samples, n_features) shared or (n_tasks, n_max, n_features) padded
    y, weights : (n_tasks, n_max);  is_classification : (n_tasks,) bool
    scales : (n_tasks,) loss scale c_t;  lam, similarity, ridge : scalars
    """
    X: jax.Array
    y: jax.Array
    weights: jax.Array
    is_classification: jax.Array
    scales: jax.Array
    lam: jax.Array
    similarity: jax.Array
    ridge: jax.Array


def make_problem(data: MultiTaskData, lam, similarity=0.0, ridge=0.0, loss_weighting="mtlcomb") -> Problem:
    """Bundle data and hyperparameters into the solver's traced :class:`Problem`."""
    dtype = data.X.dtype
    scales = losses.task_loss_scales(data.is_classification, loss_weighting, dtype)
    return Problem(X=data.X, y=data.y, weights=data.weights, is_classification=data.is_classification,
                   scales=scales, lam=to_device(lam, dtype), similarity=to_device(similarity, dtype),
                   ridge=to_device(ridge, dtype))


def objective_value(problem: Problem, W, b, z=None):
    """F(W, b): the full objective (a scalar)."""
    if z is None:
        z = losses.predictor(problem.X, W, b)
    return smooth_value(problem, W, z) + problem.lam * l21_norm(W)


def smooth_value(problem: Problem, W, z):
    """L(W, b) + Q(W), the smooth part of F (a scalar); z (n_tasks, n_max) is the predictor of (W, b)."""
    return losses.smooth_objective(z, W, problem.y, problem.weights, problem.is_classification,
                                   problem.scales, problem.similarity, problem.ridge)


def loss_derivatives(problem: Problem, z):
    """dL/dz (n_tasks, n_max) at the predictor z; zero on padding samples (weight 0)."""
    return losses.data_loss_derivatives(z, problem.y, problem.weights, problem.is_classification,
                                        problem.scales)


def intercept_feasible(problem: Problem, V):
    """Make dual values V (n_tasks, n_max) satisfy ``sum_i V_ti = 0`` for each task.

    The unpenalised intercept makes this a constraint of the dual. Least squares:
    subtract ``s_ti * sum_i V_ti`` (the conjugate is finite everywhere). Logistic:
    shrink the larger of the positive-label and negative-label sums onto the
    smaller one, which keeps each sample's dual value inside its domain.
    """
    total = jnp.sum(V, axis=1, keepdims=True)
    centred = V - problem.weights * total
    positive = problem.y > 0
    pos_mass = -jnp.sum(jnp.where(positive, V, 0.0), axis=1, keepdims=True)   # >= 0
    neg_mass = jnp.sum(jnp.where(positive, 0.0, V), axis=1, keepdims=True)    # >= 0
    shrink_pos = pos_mass > neg_mass
    ratio = jnp.where(shrink_pos, neg_mass / jnp.where(pos_mass > 0, pos_mass, 1.0),
                      pos_mass / jnp.where(neg_mass > 0, neg_mass, 1.0))
    factor = jnp.where(positive == shrink_pos, ratio, 1.0)
    balanced = V * factor
    return jnp.where(problem.is_classification[:, None], balanced, centred)


def profile_intercepts(problem: Problem, z, b):
    """Move each task's intercept to its best value for the W behind z: (z, b) shifted.

    Newton's method on the one-dimensional ``sum_i dL/dz_ti = 0`` per task (exact in one
    step for least squares; logistic steps are capped at 1). Costs no matrix product.
    z (n_tasks, n_max), b (n_tasks,).
    """
    for _ in range(_PROFILE_STEPS):
        slopes, curvatures = losses.data_loss_slopes_and_curvatures(z, problem.y, problem.weights,
                                                                    problem.is_classification, problem.scales)
        slope, curvature = jnp.sum(slopes, axis=1), jnp.sum(curvatures, axis=1)
        shift = -slope / jnp.where(curvature > 0, curvature, 1.0)
        shift = jnp.where(problem.is_classification, jnp.clip(shift, -1.0, 1.0), shift)
        z, b = z + shift[:, None], b + shift
    return z, b


def null_intercepts(problem: Problem, intercept: bool):
    """(n_tasks,) intercepts of the model with W = 0: weighted mean of y for least
    squares, the log-odds of the weighted positive fraction for logistic; zeros
    when no intercept is fitted."""
    if not intercept:
        return jnp.zeros(problem.y.shape[0], problem.y.dtype)
    mean_y = jnp.sum(problem.weights * problem.y, axis=1)
    frac_pos = jnp.clip(0.5 * (1.0 + mean_y), 1e-12, 1 - 1e-12)
    log_odds = jnp.log(frac_pos) - jnp.log1p(-frac_pos)
    return jnp.where(problem.is_classification, log_odds, mean_y)


def lambda_max_problem(problem: Problem, intercept: bool, b_null=None):
    """Traced lambda_max: the largest row norm of the loss gradient at W = 0
    (and at the null intercepts ``b_null`` when they are fitted). A scalar."""
    b_null = null_intercepts(problem, intercept) if b_null is None else b_null
    z0 = jnp.broadcast_to(b_null[:, None], problem.y.shape)
    V = losses.data_loss_derivatives(z0, problem.y, problem.weights, problem.is_classification,
                                     problem.scales)
    return jnp.max(row_norms(losses.backproject(problem.X, V)))


#: lam counts as at or above lambda_max when it is within this many machine epsilons
#: below it: the grid's first value and the solver's lambda_max come from different
#: programs (and, with working sets, from gathered columns) and may differ in the last
#: bits, while the exact solution at lam = lambda_max (1 - 64 eps) is zero to rounding.
_LAMBDA_MAX_SLACK = 64


def null_model(problem: Problem, intercept: bool):
    """(b_null (n_tasks,), lambda_max ()): the null model's intercepts and the smallest lam
    whose solution is W = 0. Neither depends on lam, so a path computes them once."""
    b_null = null_intercepts(problem, intercept)
    return b_null, lambda_max_problem(problem, intercept, b_null)


def null_start(problem: Problem, W0, b0, z0, intercept: bool, null=None):
    """The start (W0, b0, z0) replaced by the exact solution where ``problem.lam`` is at or
    above the problem's lambda_max, and whether it is (a traced bool).

    There the solution is W = 0 with the null intercepts, exactly; an iterative solve
    would stop at a point within tol of it with rows of order sqrt(tol), which a
    selection would count. z0 (n_tasks, n_max) is the predictor of (W0, b0), or None;
    ``null`` is :func:`null_model`'s result for this problem, computed here when None.
    """
    b_null, lam_max = null_model(problem, intercept) if null is None else null
    eps = jnp.finfo(W0.dtype).eps
    above = problem.lam >= lam_max * (1.0 - _LAMBDA_MAX_SLACK * eps)
    if z0 is None:
        z0 = losses.predictor(problem.X, W0, b0)
    W0 = jnp.where(above, jnp.zeros_like(W0), W0)
    b0 = jnp.where(above, b_null.astype(b0.dtype), b0)
    z0 = jnp.where(above, jnp.broadcast_to(b_null[:, None], z0.shape).astype(z0.dtype), z0)
    return W0, b0, z0, above


def max_column_norms(X, n_tasks):
    """(n_tasks,) the largest column norm of each task's design (X as in :class:`Problem`)."""
    if X.ndim == 2:
        return jnp.full((n_tasks,), jnp.sqrt(jnp.max(jnp.sum(X * X, axis=0))))
    return jnp.sqrt(jnp.max(jnp.sum(X * X, axis=1), axis=1))


def dual_value(problem: Problem, V, grad_W, W):
    """Dual objective at the point built from loss derivatives V (n_tasks, n_max).

    ``grad_W`` must be ``X^T V + grad Q(W)`` (n_features, n_tasks) for the same V.
    The point is scaled by ``kappa = min(1, lam / max_j ||grad_W[j]||)`` into the
    dual feasible set. Returns a scalar (``-inf`` if lam is 0 and grad_W is not).
    """
    return scaled_dual_value(problem, V, jnp.max(row_norms(grad_W)),
                             quadratic_penalty(W, problem.similarity, problem.ridge))


def scaled_dual_value(problem: Problem, V, max_row, quad):
    """:func:`dual_value` given ``max_row = max_j ||X_j^T V + grad_j Q(W)||`` and ``quad = Q(W)``
    (scalars).

    Neither depends on lam, so a point checked at one lambda can be rescaled into the
    dual feasible set of another without a new pass over X.
    """
    kappa = jnp.where(max_row > problem.lam, problem.lam / jnp.where(max_row > 0, max_row, 1.0), 1.0)
    conj = losses.loss_conjugates(kappa * V, problem.y, problem.weights, problem.is_classification,
                                  problem.scales)
    value = -conj - kappa ** 2 * quad
    return jnp.where(kappa > 0, value, -jnp.inf)


def kkt_residual(problem: Problem, W, grad_W, grad_b):
    """Largest violation of the optimality conditions at (W, b) (a scalar).

    Row j: ``||grad_j + lam w_j/||w_j|| ||`` if ``w_j != 0``, else
    ``max(0, ||grad_j|| - lam)``; intercepts: ``|grad_b_t|``.
    """
    norms = row_norms(W)
    safe = jnp.where(norms > 0, norms, 1.0)
    active = jnp.sqrt(jnp.sum((grad_W + problem.lam * W / safe[:, None]) ** 2, axis=1))
    inactive = jnp.maximum(row_norms(grad_W) - problem.lam, 0.0)
    rows = jnp.where(norms > 0, active, inactive)
    return jnp.maximum(jnp.max(rows), jnp.max(jnp.abs(grad_b), initial=0.0))


def gradients(problem: Problem, V, W, intercept):
    """Gradient of the smooth part from loss derivatives V: (grad_W, grad_b)."""
    grad_W = losses.backproject(problem.X, V) + quadratic_penalty_grad(W, problem.similarity, problem.ridge)
    grad_b = jnp.sum(V, axis=1) if intercept else jnp.zeros(V.shape[0], V.dtype)
    return grad_W, grad_b


def gradients_and_dual(problem: Problem, V, W, intercept):
    """Gradient at (W, b) and the dual value built from the same V.

    Without an intercept the dual point uses the gradient itself; with one, the
    zero-sum-corrected V is backprojected in the same pass over X as V.
    """
    return gradients_and_dual_point(problem, V, W, intercept)[:3]


class GradientsAndDual(NamedTuple):
    """What :func:`gradients_and_dual_point` returns."""
    grad_W: jax.Array     # (n_features, n_tasks) gradient of the smooth part
    grad_b: jax.Array     # (n_tasks,) its intercept part (zeros without an intercept)
    dual: jax.Array       # () dual value of the point below, scaled into the feasible set
    dual_rows: jax.Array  # (n_features,) row norms of X^T V_dual + grad Q(W), or bounds on them
    V_dual: jax.Array     # (n_tasks, n_max) the dual point's loss derivatives (intercept-feasible)
    quad: jax.Array       # () Q(W)
    extra: tuple          # X^T u (n_features, n_tasks) for each u in ``extra``


def gradients_and_dual_point(problem: Problem, V, W, intercept, extra=(), column_norms=None) -> GradientsAndDual:
    """Gradients and a dual point (a :class:`GradientsAndDual`) from loss derivatives V
    (n_tasks, n_max).

    The dual point is V made intercept-feasible (V itself without an intercept); its
    value is scaled into the feasible set by ``dual_rows`` (n_features,), the row norms
    of ``X^T V_dual + grad Q(W)``, or upper bounds on them. Exact rows cost a second
    backward column (in the same pass over X). With ``column_norms`` (n_tasks,), the
    bounds of :func:`max_column_norms`, the rows are bounded from grad_W instead:
    ``||grad_W[j]|| + sqrt(sum_t ||X_tj||^2 ||V_dual_t - V_t||^2)``, tight when V already
    sums to zero per task (profiled intercepts). ``extra`` holds more dual values
    (n_tasks, n_max) to backproject in the same pass (their products carry no grad Q term).
    """
    quad_grad = quadratic_penalty_grad(W, problem.similarity, problem.ridge)
    quad = quadratic_penalty(W, problem.similarity, problem.ridge)
    V_dual = intercept_feasible(problem, V) if intercept else V
    bounded = not intercept or column_norms is not None
    columns = (V, *extra) if bounded else (V, V_dual, *extra)
    products = backproject_stack(problem.X, columns) if len(columns) > 1 else (losses.backproject(problem.X, V),)
    grad_W = products[0] + quad_grad
    grad_b = jnp.sum(V, axis=1) if intercept else jnp.zeros(V.shape[0], V.dtype)
    if not intercept:
        dual_rows = row_norms(grad_W)
    elif bounded:
        shift = jnp.sqrt(jnp.sum(jnp.sum((V_dual - V) ** 2, axis=1) * column_norms ** 2))
        dual_rows = row_norms(grad_W) + shift
    else:
        dual_rows = row_norms(products[1] + quad_grad)
    dual = scaled_dual_value(problem, V_dual, jnp.max(dual_rows), quad)
    return GradientsAndDual(grad_W, grad_b, dual, dual_rows, V_dual, quad, tuple(products[1 if bounded else 2:]))


def backproject_stack(X, Vs):
    """``X_t^T v_t`` (n_features, n_tasks) for each of several V (n_tasks, n_max), in one pass over X."""
    k = len(Vs)
    if X.ndim == 2:
        n_tasks = Vs[0].shape[0]
        both = losses.transposed(jnp.concatenate(Vs, axis=0) @ X)          # (p, k T)
        return tuple(both[:, i * n_tasks:(i + 1) * n_tasks] for i in range(k))
    # (T, k, n) x (T, n, p) -> (T, k, p): the layout XLA's CPU dot runs fastest (a (k, p, T)
    # output is markedly slower).
    both = losses.transposed(jnp.einsum("tkn,tnp->tkp", jnp.stack(Vs, axis=1), X))   # (p, k, T)
    return tuple(both[:, i, :] for i in range(k))
