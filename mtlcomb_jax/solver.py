"""Accelerated proximal gradient (FISTA with backtracking) for the MTLComb objective.

.. math::

    \\min_{W, b}\\; F(W, b) = L(W, b) + Q(W) + \\lambda \\sum_j \\|W_{j,:}\\|_2

(``losses.py`` defines L, ``penalties.py`` Q and the L2,1 term.)

The solver is one pure step, :func:`fista_step`, looped by ``lax.while_loop`` in
:func:`solve_problem`; everything that only changes values (lam, similarity,
ridge, tol, max_iter, the loss scales) is traced, so a new value never
recompiles. Only ``intercept`` and ``stop`` are static.

Stopping rules (``stop``):

``"gap"`` (default, certified)
    Stops when the duality gap ``F(W, b) - D(theta) <= tol * F0``, where D is the
    Fenchel dual of the problem (the quadratic terms folded into the loss side,
    the intercept's zero-sum constraint enforced on the dual point) and ``F0`` is
    the data loss of the null model (:func:`losses.null_loss`). Because
    ``D(theta) <= F* <= F(W, b)``, the returned ``dual_gap`` bounds the
    suboptimality: ``F(W, b) - F* <= dual_gap``. The dual point is built from the
    gradient the iteration computes anyway, so the certificate costs no extra
    matrix product: with an intercept, the certified rules keep every point's
    intercepts at their optimum for its W (:func:`profile_intercepts`), which
    makes the loss derivatives sum to zero per task as the dual requires, and
    a bound on the dual point's rows covers what Newton's steps leave.
``"kkt"``
    Stops when the largest violation of the optimality conditions, over feature
    rows (``||grad_j + lam w_j/||w_j||||`` or ``max(0, ||grad_j|| - lam)``) and
    intercepts (``|dF/db_t|``), is at most ``tol`` (absolute). Used automatically
    for ``lam == 0``, where the L2,1 dual is degenerate.
``"relative"``
    The R package's rule (``ter=2``): stop when
    ``|F_k - F_{k-1}| <= tol * F_{k-1}``, with its step-size start (1) and
    doubling, and no momentum restart, so that it takes the same iterates. It
    certifies nothing: slow progress looks like convergence.

``"relative"`` also stops when a step changes nothing (``||step||^2 <= 1e-20``),
as the R package does; the certified rules keep going until they are met.
"""
from __future__ import annotations

import dataclasses
import warnings
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .precision import jit
from . import losses, validation
from .data import MultiTaskData
from .scaling import prepare_scaling, report_original, scaled_start
from .sharding import to_device
from .penalties import l21_norm, prox_l21, quadratic_penalty, quadratic_penalty_grad, row_norms

STOP_RULES = ("gap", "kkt", "relative")
_MAX_BACKTRACKS = 64
_TINY_STEP = 1e-20
#: The certified rules start each backtracking search from the last accepted inverse step
#: times this factor (a longer step), so the step follows the local curvature along the
#: trajectory instead of staying at the largest one met so far. Measured on the shared
#: p=5,000 benchmark's hardest lambdas: 338 -> 126 and 132 -> 84 iterations to the same
#: certified gap, at 8-12 extra backtracking trials (one forward product each).
_STEP_RELAX = 0.95
#: ... but only after a step whose curvature term stood clear of rounding noise (exceeded
#: this multiple of the test's slack): once the iterates stop moving, the
#: sufficient-decrease test passes whatever the step, and a relaxed step would grow
#: without bound. In float32 the slack (16 eps |F|) is about 2e-6 |F|, so near a solution
#: the curvature term of a step is often within a few times of it: with a margin of 1e3
#: (session 3's value) the step never lengthened again and stayed at the largest
#: curvature met (gamma 16 where 8 is accepted). Measured on one lambda of the
#: gene-expression CV's tail, 10 folds: 42-46 iterations at margin 1e3 or 100, 39-42 at
#: 10, 37-38 at 3, 31-33 at 1 (gamma settles at 8.2).
_RELAX_MARGIN = 1.0
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


class Fit(NamedTuple):
    """Arrays of one solve, as the traced core returns them.

    W : (n_features, n_tasks);  intercept : (n_tasks,), zeros when not fitted
    objective : () F at (W, intercept);  n_iter : () iterations taken
    converged : () bool, the stopping rule was met before ``max_iter``
    dual_gap : () certified bound on ``objective - F*``
    kkt_residual : () largest violation of the optimality conditions at W
    """
    W: jax.Array
    intercept: jax.Array
    objective: jax.Array
    n_iter: jax.Array
    converged: jax.Array
    dual_gap: jax.Array
    kkt_residual: jax.Array


@dataclasses.dataclass(frozen=True)
class SolveResult:
    """Result of :func:`solve`: the fields of :class:`Fit` plus what prediction needs.

    W : (n_features, n_tasks);  intercept : (n_tasks,)
    objective, n_iter, converged, dual_gap, kkt_residual : scalars (see :class:`Fit`)
    lam : () the lambda solved at
    is_classification : (n_tasks,) bool
    task_names, feature_names, classes : static metadata copied from the data
    scaling : the :class:`~mtlcomb_jax.scaling.Scaling` of a standardised fit (W and
        intercept are then on the original scale), else None

    A pytree (arrays are leaves, metadata is static), so it can be returned from
    a user's ``jit``.
    """
    W: jax.Array
    intercept: jax.Array
    objective: jax.Array
    n_iter: jax.Array
    converged: jax.Array
    dual_gap: jax.Array
    kkt_residual: jax.Array
    lam: jax.Array
    is_classification: jax.Array
    task_names: tuple = ()
    feature_names: tuple = ()
    classes: tuple = ()
    scaling: Any = None


jax.tree_util.register_dataclass(
    SolveResult,
    data_fields=["W", "intercept", "objective", "n_iter", "converged", "dual_gap", "kkt_residual",
                 "lam", "is_classification", "scaling"],
    meta_fields=["task_names", "feature_names", "classes"])


class FistaState(NamedTuple):
    """Loop state. ``z`` caches the linear predictor of ``W`` (z is linear in (W, b),
    so the extrapolated point's predictor is the same combination of the cached
    ones and costs no matrix product)."""
    W: jax.Array          # (p, T) current iterate
    W_prev: jax.Array     # (p, T) previous iterate
    b: jax.Array          # (T,)
    b_prev: jax.Array     # (T,)
    z: jax.Array          # (T, n) predictor of (W, b)
    z_prev: jax.Array     # (T, n) predictor of (W_prev, b_prev)
    t: jax.Array          # momentum sequence t_k
    t_prev: jax.Array     # t_{k-1}
    gamma: jax.Array      # inverse step size (only grows under "relative", as in the R package)
    objective: jax.Array  # F(W, b)
    prev_objective: jax.Array
    best_dual: jax.Array  # best dual value seen (a lower bound on F*)
    best_V: jax.Array     # (T, n) ... and its point: intercept-feasible loss derivatives,
    best_quad: jax.Array  # Q(W) at the point, and
    best_max_row: jax.Array  # its largest row norm (over this solve's features) ("gap" only)
    criterion: jax.Array  # the stopping rule's current value
    n_iter: jax.Array
    stalled: jax.Array    # the last step changed nothing
    relax: jax.Array      # the next search may start from a longer step (certified rules)
    done: jax.Array


# -- pieces ------------------------------------------------------------------------
def objective_value(problem: Problem, W, b, z=None):
    """F(W, b): the full objective (a scalar)."""
    if z is None:
        z = losses.predictor(problem.X, W, b)
    return _smooth(problem, W, z) + problem.lam * l21_norm(W)


def _smooth(problem: Problem, W, z):
    return losses.smooth_objective(z, W, problem.y, problem.weights, problem.is_classification,
                                   problem.scales, problem.similarity, problem.ridge)


def _derivatives(problem: Problem, z):
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


def _gradients(problem: Problem, V, W, intercept):
    """Gradient of the smooth part from loss derivatives V: (grad_W, grad_b)."""
    grad_W = losses.backproject(problem.X, V) + quadratic_penalty_grad(W, problem.similarity, problem.ridge)
    grad_b = jnp.sum(V, axis=1) if intercept else jnp.zeros(V.shape[0], V.dtype)
    return grad_W, grad_b


def _gradients_and_dual(problem: Problem, V, W, intercept):
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


def profiles_intercepts(intercept: bool, stop: str) -> bool:
    """Whether the solver keeps every point's intercepts optimal (:func:`profile_intercepts`):
    the certified rules with an intercept. Their dual points then need no second backward
    column, in the loop or in a working-set check (rows bounded via :func:`max_column_norms`)."""
    return intercept and stop != "relative"


def gradients_and_dual_point(problem: Problem, V, W, intercept, extra=(), column_norms=None) -> GradientsAndDual:
    """Gradients and a dual point (a :class:`GradientsAndDual`) from loss derivatives V
    (n_tasks, n_max).

    The dual point is V made intercept-feasible (V itself without an intercept); its
    value is scaled into the feasible set by ``dual rows`` (n_features,), the row norms
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
    # (T, k, n) x (T, n, p) -> (T, k, p): the layout XLA's CPU dot runs fastest
    # (measured at T=20, n=200, p=20,000: 41 ms, against 101 ms for a (k, p, T) output).
    both = losses.transposed(jnp.einsum("tkn,tnp->tkp", jnp.stack(Vs, axis=1), X))   # (p, k, T)
    return tuple(both[:, i, :] for i in range(k))


# -- the step ----------------------------------------------------------------------
def init_state(problem: Problem, W0, b0, gamma0, z0=None) -> FistaState:
    """State before the first iteration, starting at (W0, b0) with inverse step gamma0.

    ``z0`` (n_tasks, n_max), the predictor of (W0, b0), saves a product when the caller has it.
    """
    if z0 is None:
        z0 = losses.predictor(problem.X, W0, b0)
    obj = objective_value(problem, W0, b0, z0)
    dtype = W0.dtype
    return FistaState(W=W0, W_prev=W0, b=b0, b_prev=b0, z=z0, z_prev=z0,
                      t=jnp.ones((), dtype), t_prev=jnp.zeros((), dtype), gamma=jnp.asarray(gamma0, dtype),
                      objective=obj, prev_objective=obj, best_dual=jnp.full((), -jnp.inf, dtype),
                      best_V=jnp.zeros_like(z0), best_quad=jnp.zeros((), dtype),
                      best_max_row=jnp.full((), jnp.inf, dtype),
                      criterion=jnp.full((), jnp.inf, dtype), n_iter=jnp.zeros((), jnp.int32),
                      stalled=jnp.zeros((), bool), relax=jnp.zeros((), bool), done=jnp.zeros((), bool))


def fista_step(state: FistaState, problem: Problem, tol, scale, column_norms, *, intercept: bool,
               stop: str) -> FistaState:
    """One FISTA iteration with backtracking, then the stopping test.

    ``scale`` is the reference the ``"gap"`` rule's tol is relative to; ``column_norms``
    (n_tasks,) bounds each task's column norms (:func:`max_column_norms`; used by the
    certified rules with an intercept).

    The certified rules with an intercept run FISTA on ``g(W) = min_b F(W, b)``: every
    point's intercepts are put at their optimum for its W (:func:`profile_intercepts`).
    Then the loss derivatives V sum to zero per task, so V itself is (up to Newton's
    last residual) the intercept-feasible dual point, and one backward product serves
    both the gradient and the certificate, where the dual point of the raw V needed a
    second one (14.3 -> 9.9 ms at T=20, n=200, 8,192 columns, 10 problems).
    """
    profiled = profiles_intercepts(intercept, stop)
    alpha = (state.t_prev - 1.0) / state.t
    W_s = (1.0 + alpha) * state.W - alpha * state.W_prev
    b_s = (1.0 + alpha) * state.b - alpha * state.b_prev
    z_s = (1.0 + alpha) * state.z - alpha * state.z_prev
    if profiled:
        z_s, b_s = profile_intercepts(problem, z_s, b_s)
    F_s = _smooth(problem, W_s, z_s)
    V_s = _derivatives(problem, z_s)
    best_V, best_quad, best_max_row = state.best_V, state.best_quad, state.best_max_row
    if stop == "gap":
        point = gradients_and_dual_point(problem, V_s, W_s, intercept,
                                         column_norms=column_norms if profiled else None)
        grad_W, grad_b, dual = point.grad_W, point.grad_b, point.dual
        # Keep the best dual point itself, not only its value: working sets re-evaluate
        # it on all features (see working_set.full_check).
        better = dual > state.best_dual
        best_V = jnp.where(better, point.V_dual, best_V)
        best_quad = jnp.where(better, point.quad, best_quad)
        best_max_row = jnp.where(better, jnp.max(point.dual_rows), best_max_row)
    else:
        grad_W, grad_b = _gradients(problem, V_s, W_s, intercept)
        dual = state.best_dual

    # Rounding noise in F must not pass for curvature: without this slack the
    # step size collapses in float32 once F stops changing in its last digits.
    # The R rule keeps the exact test so that it takes the R package's iterates.
    slack = 0.0 if stop == "relative" else 16 * jnp.finfo(F_s.dtype).eps * jnp.abs(F_s)

    def trial(gamma):
        W_n = prox_l21(W_s - grad_W / gamma, problem.lam / gamma)
        b_n = b_s - grad_b / gamma
        z_n = losses.predictor(problem.X, W_n, b_n)
        d_W = W_n - W_s
        if profiled:    # the sufficient-decrease test of g(W) = min_b F(W, b)
            z_n, b_n = profile_intercepts(problem, z_n, b_n)
            r = jnp.sum(d_W * d_W)
            model = F_s + jnp.sum(d_W * grad_W) + 0.5 * gamma * r
        else:
            d_b = b_n - b_s
            r = jnp.sum(d_W * d_W) + jnp.sum(d_b * d_b)
            model = F_s + jnp.sum(d_W * grad_W) + jnp.sum(d_b * grad_b) + 0.5 * gamma * r
        F_n = _smooth(problem, W_n, z_n)
        clear = 0.5 * gamma * r > _RELAX_MARGIN * slack
        return W_n, b_n, z_n, F_n, r <= _TINY_STEP, F_n <= model + slack, clear

    def backtrack(carry):
        gamma, count = carry[0] * 2.0, carry[-1] + 1
        return (gamma, *trial(gamma), count)

    def keep_backtracking(carry):
        _, _, _, _, _, tiny, accepted, _, count = carry
        return ~(tiny | accepted) & (count < _MAX_BACKTRACKS)

    gamma0 = jnp.where(state.relax, state.gamma * _STEP_RELAX, state.gamma)
    # A do-while loop: its first pass tries gamma0 itself (halved here, doubled there,
    # exactly). The trial is traced once, where a first trial before the loop traced it
    # twice: the compiled solver is smaller and compiles faster. The first pass overwrites
    # the placeholders, so they are plain zeros.
    no = jnp.zeros((), bool)
    before_first = (gamma0 / 2.0, jnp.zeros_like(W_s), jnp.zeros_like(b_s), jnp.zeros_like(z_s), jnp.zeros_like(F_s),
                    no, no, no, jnp.full((), -1, jnp.int32))
    gamma, W_n, b_n, z_n, F_n, tiny, _, clear, _ = jax.lax.while_loop(keep_backtracking, backtrack, before_first)
    relax = clear & (stop != "relative")

    objective = F_n + problem.lam * l21_norm(W_n)
    best_dual = jnp.maximum(state.best_dual, dual)
    n_iter = state.n_iter + 1
    if stop == "relative":
        criterion = jnp.abs(objective - state.objective)
        met = (n_iter >= 2) & (criterion <= tol * state.objective)
    elif stop == "gap":
        criterion = objective - best_dual
        met = criterion <= tol * scale
    else:
        criterion = kkt_residual(problem, W_s, grad_W, grad_b)
        met = criterion <= tol
    t_next = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * state.t ** 2))
    t_new, t_prev_new = t_next, state.t
    if stop != "relative":
        # Adaptive restart (O'Donoghue and Candes 2015): when the objective goes up,
        # drop the momentum; the next step is a plain proximal-gradient step.
        restart = objective > state.objective
        t_new = jnp.where(restart, 1.0, t_new)
        t_prev_new = jnp.where(restart, 1.0, t_prev_new)
    return FistaState(W=W_n, W_prev=state.W, b=b_n, b_prev=state.b, z=z_n, z_prev=state.z,
                      t=t_new, t_prev=t_prev_new, gamma=gamma, objective=objective,
                      prev_objective=state.objective, best_dual=best_dual, best_V=best_V, best_quad=best_quad,
                      best_max_row=best_max_row, criterion=criterion,
                      n_iter=n_iter, stalled=tiny, relax=relax, done=met | (tiny & (stop == "relative")))


def _stop_scale(problem: Problem, intercept, stop, dtype):
    """What the stopping rule's tol is relative to: the null model's loss for "gap", else 1."""
    if stop == "gap":
        return losses.null_loss(problem.y, problem.weights, problem.is_classification, problem.scales, intercept)
    return jnp.ones((), dtype)


def run_fista(problem: Problem, W0, b0, tol, max_iter, gamma0=1.0, z0=None, null=None, *, intercept: bool,
              stop: str) -> FistaState:
    """The FISTA loop alone, from (W0, b0) to the stopping rule or ``max_iter``.

    ``null`` is :func:`null_model`'s result (computed here when None): at or above
    lambda_max the loop starts at the exact solution and takes no step.

    Returns the final :class:`FistaState` (``done`` says whether the rule was met)
    without certificates at the returned point: working sets certify it on all
    features instead (see :mod:`.working_set`), and a use of the restricted X after
    the loop would make XLA copy it (the loop owns its operands).
    """
    scale = _stop_scale(problem, intercept, stop, W0.dtype)
    tol = jnp.asarray(tol, W0.dtype)

    def running(state):
        return ~state.done & (state.n_iter < max_iter)

    step = partial(fista_step, problem=problem, tol=tol, scale=scale,
                   column_norms=max_column_norms(problem.X, W0.shape[1]), intercept=intercept, stop=stop)
    W0, b0, z0, above = null_start(problem, W0, b0, z0, intercept, null)
    state = init_state(problem, W0, b0, gamma0, z0)._replace(done=above)
    return jax.lax.while_loop(running, lambda s: step(s), state)


def solve_problem(problem: Problem, W0, b0, tol, max_iter, gamma0=1.0, null=None, *, intercept: bool, stop: str):
    """Run FISTA to the stopping rule; pure and traceable (no checks, no warnings).

    Returns ``(Fit, gamma)``; gamma is the final inverse step size, which a
    path may carry to its next lambda. ``null`` as in :func:`run_fista` (a path passes
    the one it computed for all its lambdas).
    """
    state = run_fista(problem, W0, b0, tol, max_iter, gamma0, null=null, intercept=intercept, stop=stop)
    scale = _stop_scale(problem, intercept, stop, W0.dtype)
    tol = jnp.asarray(tol, W0.dtype)

    # Certificates at the returned point (one more product, once per solve).
    V = _derivatives(problem, state.z)
    grad_W, grad_b, dual = _gradients_and_dual(problem, V, state.W, intercept)
    kkt = kkt_residual(problem, state.W, grad_W, grad_b)
    gap = jnp.maximum(state.objective - jnp.maximum(state.best_dual, dual), 0.0)
    if stop == "relative":
        converged = state.done
    elif stop == "gap":
        converged = gap <= tol * scale
    else:
        converged = kkt <= tol
    result = Fit(W=state.W, intercept=state.b, objective=state.objective, n_iter=state.n_iter,
                         converged=converged, dual_gap=gap, kkt_residual=kkt)
    return result, state.gamma


@partial(jit, static_argnames=("intercept", "stop"))
def _solve_jit(problem, W0, b0, tol, max_iter, *, intercept, stop):
    # Reverse-mode derivatives by implicit differentiation (implicit.py imports this
    # module, so the import waits until the first trace).
    from .implicit import differentiable_solve_problem
    return differentiable_solve_problem(problem, W0, b0, tol, max_iter, intercept, stop)[0]


# -- the Python entry point ----------------------------------------------------------
def default_tol(stop: str, dtype) -> float:
    """Default tolerance of each stopping rule for the given dtype."""
    single = jnp.dtype(dtype) == jnp.float32
    # float32's gap rule: 1e-5 is met too and brings the objectives within float32's
    # precision of float64's, but costs the gene-expression benchmark about 3 x the time
    # (bench/README.md, "The first call").
    return {"gap": 1e-4 if single else 1e-6,
            "kkt": 1e-4 if single else 1e-7,
            "relative": 1e-6 if single else 1e-10}[stop]


def make_problem(data: MultiTaskData, lam, similarity=0.0, ridge=0.0, loss_weighting="mtlcomb") -> Problem:
    """Bundle data and hyperparameters into the solver's traced :class:`Problem`."""
    dtype = data.X.dtype
    scales = losses.task_loss_scales(data.is_classification, loss_weighting, dtype)
    return Problem(X=data.X, y=data.y, weights=data.weights, is_classification=data.is_classification,
                   scales=scales, lam=to_device(lam, dtype), similarity=to_device(similarity, dtype),
                   ridge=to_device(ridge, dtype))


def check_hyperparameters(dtype=None, **values):
    """ValueError for a hyperparameter that is not a finite number >= 0, or that overflows
    ``dtype`` when given (concrete values only; traced values pass). Returns them as floats."""
    return {name: validation.non_negative(name, value, dtype=dtype) for name, value in values.items()}


def check_stop(stop):
    return validation.choice("stop", stop, STOP_RULES)


def check_data_dtype(data: MultiTaskData):
    """ValueError unless the data computes in float32 or float64 (the builders convert
    float16 and bfloat16 to float32; data built by hand may not)."""
    dtype = jnp.dtype(data.X.dtype)
    if dtype not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise ValueError(f"data.X has dtype {dtype.name}; the solver computes in float32 or float64 (its "
                         "tolerances and certificates assume one of them). Build the data with "
                         "MultiTaskData.from_tasks / from_outcomes, which convert lower precisions to float32.")
    return dtype


#: ``screening="auto"`` uses working sets when a feature's column of X (one row of W's
#: products) holds at least this many bytes: p >= 5,000 in float64, p >= 10,000 in float32.
#: A working-set path compiles one solver per set size, whatever the dtype, where the full
#: scan compiles one and costs in proportion to p; from this width on working sets are the
#: faster of the two including their compilation (first call and warm, path and CV:
#: bench/README.md, "The first call"). Both certify the same gap in either dtype.
AUTO_MIN_ROW_BYTES = 40_000


def use_working_sets(screening, stop, n_features, dtype) -> bool:
    """Resolve ``screening`` (True, False or "auto") for a problem of n_features in dtype."""
    if screening not in (True, False, "auto"):
        raise ValueError(f"screening={screening!r} must be True, False or 'auto'.")
    if screening == "auto":
        return stop != "relative" and n_features * jnp.dtype(dtype).itemsize >= AUTO_MIN_ROW_BYTES
    return bool(screening)


class SolverOptions(NamedTuple):
    """The solver options of every entry point, validated once (:func:`check_options`)."""
    similarity: float
    ridge: float
    intercept: bool
    loss_weighting: str
    tol: float          # the given tol, or the rule's default for the data's dtype
    max_iter: int
    stop: str
    screening: bool     # working sets along a path (``screening`` resolved for the data)


def check_options(data: MultiTaskData, *, similarity=0.0, ridge=0.0, intercept=True, loss_weighting="mtlcomb",
                  tol=None, max_iter=5000, stop="gap", screening="auto") -> SolverOptions:
    """Validate the options shared by solve, fit_path, cross_validate, stability_selection
    and tune_hyperparameters; a ValueError names the argument and the fix. ``tol=None``
    becomes the rule's default for the data's dtype (:func:`default_tol`), ``screening``
    True or False (:func:`use_working_sets`)."""
    if not isinstance(data, MultiTaskData):
        raise ValueError(f"data must be a MultiTaskData (got {type(data).__name__}); build one with "
                         "MultiTaskData.from_tasks or MultiTaskData.from_outcomes.")
    dtype = check_data_dtype(data)
    values = check_hyperparameters(dtype, similarity=similarity, ridge=ridge)
    stop = check_stop(stop)
    tol = validation.tolerance("tol", tol)
    return SolverOptions(similarity=values["similarity"], ridge=values["ridge"],
                         intercept=validation.flag("intercept", intercept),
                         loss_weighting=validation.choice("loss_weighting", loss_weighting, losses.LOSS_WEIGHTINGS),
                         tol=default_tol(stop, dtype) if tol is None else tol,
                         max_iter=validation.max_iterations(max_iter), stop=stop,
                         screening=use_working_sets(screening, stop, data.n_features, dtype))


def initial_point(data: MultiTaskData, W_init, b_init):
    """(W0, b0) of the data's dtype; the caller's arrays are copied, never modified."""
    dtype = data.X.dtype
    shape = (data.n_features, data.n_tasks)
    # zeros made on the host: jnp.zeros would compile a program for every new shape
    W0 = to_device(np.zeros(shape, dtype)) if W_init is None else _start_array("W_init", W_init, shape, dtype,
                                                                               "(n_features, n_tasks)")
    b0 = to_device(np.zeros(data.n_tasks, dtype)) if b_init is None else _start_array(
        "b_init", b_init, (data.n_tasks,), dtype, "(n_tasks,)")
    return W0, b0


def _start_array(name, value, shape, dtype, described):
    if isinstance(value, jax.core.Tracer):
        if value.shape != shape:
            raise ValueError(f"{name} has shape {value.shape}; it must be {described} = {shape}.")
        return value.astype(dtype)
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" and arr.dtype != np.dtype(bool):
        raise ValueError(f"{name} has dtype {arr.dtype}; pass real numbers, shape {described} = {shape}.")
    if arr.shape != shape:
        raise ValueError(f"{name} has shape {arr.shape}; it must be {described} = {shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf; pass a finite starting point (or None to start at zero).")
    if arr.size:
        validation.check_in_range(f"max |{name}|", float(np.max(np.abs(arr))), dtype)
    return to_device(arr, dtype)


def warn_if_not_converged(converged, n_iter, what="solve", dtype=None):
    """Warn (from the Python layer only) when a solve hit max_iter or stalled; the message
    says what to change, including the dtype when the data are float32."""
    if isinstance(converged, jax.core.Tracer):
        return
    bad = ~np.asarray(converged)
    if np.any(bad):
        count = int(bad.sum())
        advice = ("raise max_iter, loosen tol, or standardise features whose scales differ widely "
                  "(standardize=True)")
        if dtype is not None and np.dtype(dtype) == np.float32:
            advice += ("; the data are float32 (JAX's default), where rounding limits how far a solve gets: "
                       "for a tighter fit compute in float64 (jax.config.update('jax_enable_x64', True) "
                       "before building the data, and float64 arrays)")
        warnings.warn(f"{what}: {count} of {bad.size} solve(s) did not meet the stopping rule "
                      f"(max iterations taken: {int(np.max(np.asarray(n_iter)))}); {advice}.",
                      ConvergenceWarning, stacklevel=3)


class ConvergenceWarning(UserWarning):
    """A solve stopped at max_iter (or stalled) before its stopping rule was met."""


def raise_if_overflowed(what, data: MultiTaskData, arrays, **hyperparameters):
    """ValueError when a result (objectives, intercepts, metrics: ``arrays``) holds NaN or inf.

    The inputs are finite (the builders and checks refuse anything else), so a non-finite
    result means an overflow inside the solve: the message names the inputs whose size can
    cause it and what to change. Nothing happens for traced values.
    """
    if any(isinstance(a, jax.core.Tracer) for a in arrays):
        return
    if all(np.all(np.isfinite(np.asarray(a))) for a in arrays):
        return
    dtype = np.dtype(data.X.dtype)
    # An input is suspect when its square, times the sums' lengths, comes within 1e8 of the
    # dtype's largest value (compared in log10, where nothing overflows).
    room = np.log10(np.finfo(dtype).max) - 8.0
    x_max = float(jnp.max(jnp.abs(data.X)))
    y_max = float(jnp.max(jnp.abs(data.y)))
    rows = int(np.max(data.n_samples))

    def large(value, count=1):
        return value > 0 and 2 * np.log10(value) + np.log10(count) > room

    suspects = []
    if large(x_max, rows * data.n_features):
        suspects.append(f"X has entries up to {x_max:.3g}, whose products overflow: standardise X's columns")
    if large(y_max, rows):
        suspects.append(f"a regression target reaches {y_max:.3g}: rescale the targets")
    for name, value in hyperparameters.items():
        if value is not None and not isinstance(value, jax.core.Tracer) and large(abs(float(value))):
            suspects.append(f"{name}={float(value):.3g} is too large for {dtype.name}: lower it")
    cause = "; ".join(suspects) if suspects else ("rescale X (standardise its columns) and the regression "
                                                 "targets, or lower similarity and ridge")
    raise ValueError(f"{what}: the iterates overflowed {dtype.name} (the result holds NaN or inf, so it is not "
                     f"returned). {cause}.")


def warn_if_separable(data: MultiTaskData, result, lam, ridge):
    """At lam = 0 and ridge = 0, warn for each classification task whose training samples the
    fit separates perfectly: its logistic loss then has no finite minimiser, the coefficients
    grow with every iteration, and a stopping rule met on the way certifies nothing.
    Returns whether one was found."""
    if any(isinstance(v, jax.core.Tracer) for v in (lam, ridge, result.W)) or float(lam) != 0 or float(ridge) != 0:
        return False
    z = np.asarray(losses.predictor(data.X, result.W, result.intercept))
    margins = np.where(np.asarray(data.weights) > 0, np.asarray(data.y) * z, np.inf)
    separated = [data.task_names[t] for t in data.classification_tasks if np.min(margins[t]) > 0]
    if separated:
        warnings.warn(f"solve: classification task(s) {separated} are linearly separable at lam=0 and ridge=0, "
                      "so the problem has no finite solution (the coefficients grow without bound and the "
                      "result is reported as not converged); use lam > 0 or ridge > 0.",
                      ConvergenceWarning, stacklevel=3)
    return bool(separated)


def solve(data: MultiTaskData, lam, *, similarity=0.0, ridge=0.0, intercept=True,
          loss_weighting="mtlcomb", W_init=None, b_init=None, tol=None, max_iter=5000,
          stop="gap", standardize=False, scale_outcomes=False) -> SolveResult:
    """Fit MTLComb at one lambda.

    Parameters
    ----------
    data : MultiTaskData
    lam : float >= 0, weight of the L2,1 penalty; at or above :func:`~mtlcomb_jax.lambda_max`
        the solution is exactly zero (with the null model's intercepts)
    similarity : float >= 0, the R package's ``C`` (pulls task columns to their mean)
    ridge : float >= 0, the R package's ``C2``
    intercept : fit an unpenalised intercept per task
    loss_weighting : ``"mtlcomb"`` (0.5 least squares, 2.0 logistic) or ``"none"``
    W_init : optional (n_features, n_tasks) starting point; b_init (n_tasks,)
    tol : tolerance of the stopping rule (see the module docstring); default by
        rule and dtype (:func:`default_tol`)
    max_iter : iteration cap; ``converged`` is False (and a warning is raised) when hit
    stop : ``"gap"`` (certified), ``"kkt"``, or ``"relative"`` (the R package's rule)
    standardize : fit on features scaled to weighted mean 0 and standard deviation 1 and
        report W and intercept on the original scale (:mod:`~mtlcomb_jax.scaling`);
        ``W_init`` and ``b_init`` are then on the original scale too
    scale_outcomes : also put each regression outcome on mean 0 and standard deviation 1

    Returns
    -------
    SolveResult with W (n_features, n_tasks), intercept (n_tasks,), objective,
    n_iter, converged, dual_gap and kkt_residual.

    Raises ValueError for invalid arguments and when the iterates overflow (the message
    says which input is too large). Warns (:class:`ConvergenceWarning`) when the stopping
    rule is not met, and at lam = 0 when a classification task is separable.
    """
    given = dict(similarity=similarity, ridge=ridge, intercept=intercept, loss_weighting=loss_weighting, tol=tol,
                 max_iter=max_iter)
    options = check_options(data, stop=stop, **given)
    data, scaling = prepare_scaling(data, standardize, scale_outcomes, options.intercept)
    W_init, b_init = scaled_start(W_init, b_init, scaling, data)
    lam = validation.non_negative("lam", lam, dtype=data.X.dtype,
                                  hint="pass one penalty weight >= 0 (for several, use fit_path(data, lambdas))")
    if options.stop == "gap" and not validation.is_traced(lam) and lam == 0.0:
        options = check_options(data, stop="kkt", **given)   # the L2,1 dual is degenerate at lam = 0
    problem = make_problem(data, lam, options.similarity, options.ridge, options.loss_weighting)
    W0, b0 = initial_point(data, W_init, b_init)
    fit = _solve_jit(problem, W0, b0, options.tol, options.max_iter, intercept=options.intercept,
                     stop=options.stop)
    raise_if_overflowed("solve", data, (fit.objective, fit.intercept), lam=lam, similarity=options.similarity,
                        ridge=options.ridge)
    result = SolveResult(**fit._asdict(), lam=problem.lam, is_classification=data.is_classification,
                         task_names=data.task_names, feature_names=data.feature_names, classes=data.classes)
    if warn_if_separable(data, result, lam, options.ridge):
        return report_original(dataclasses.replace(result, converged=jnp.zeros((), bool)), scaling)
    warn_if_not_converged(fit.converged, fit.n_iter, dtype=data.X.dtype)
    return report_original(result, scaling)
