"""Accelerated proximal gradient (FISTA with backtracking) for the MTLComb objective: the
step, its loop and the stopping rules.

.. math::

    \\min_{W, b}\\; F(W, b) = L(W, b) + Q(W) + \\lambda \\sum_j \\|W_{j,:}\\|_2

(:mod:`.objective` defines F, its gradients and its dual.)

The solver is one pure step, :func:`fista_step`, looped by ``lax.while_loop`` in
:func:`run_fista` (called by :func:`solve_problem`; over a batch in :mod:`.batched`);
everything that only changes values (lam, similarity, ridge, tol, max_iter, the loss
scales) is traced, so a new value never recompiles. Only ``intercept`` and ``stop`` are
static, and the loop's shape, which :mod:`.loops` chooses per backend when tracing. The
solvers take tol, max_iter, intercept and stop as one :class:`Settings` (the entry points
build it from their validated :class:`~.options.SolverOptions`), and every engine decides
``converged`` by :func:`meets_rule`.

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
    intercepts at their optimum for its W (:func:`~.objective.profile_intercepts`), which
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
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from . import losses
from .objective import (Problem, gradients, gradients_and_dual, gradients_and_dual_point, kkt_residual,
                        loss_derivatives, max_column_norms, null_start, objective_value, profile_intercepts,
                        smooth_value)
from .loops import loop_shape, select, while_loop
from .penalties import l21_norm, prox_l21

STOP_RULES = ("gap", "kkt", "relative")
_MAX_BACKTRACKS = 64
_TINY_STEP = 1e-20
#: The certified rules start each backtracking search from the last accepted inverse step
#: times this factor (a longer step), so the step follows the local curvature along the
#: trajectory instead of staying at the largest one met so far. On the hardest lambdas of
#: the one-X, p = 5,000 path of ``python bench/harness.py``, 126 and 84 iterations reach
#: the certified gap that takes 338 and 132 with a factor of 1, at 8 to 12 extra
#: backtracking trials (one forward product each).
_STEP_RELAX = 0.95
#: ... but only after a step whose curvature term stands clear of rounding noise (exceeds
#: this multiple of the test's slack): once the iterates stop moving, the
#: sufficient-decrease test passes whatever the step, and a relaxed step would grow
#: without bound. In float32 the slack (16 eps |F|) is about 2e-6 |F|, so near a solution
#: the curvature term of a step is often within a few times of it, and a larger margin
#: keeps the step at the largest curvature met (gamma 16 where 8 is accepted). On one
#: lambda of the 10-fold CV's tail in ``python bench/bench_genomics.py``: 42-46
#: iterations at a margin of 1e3 or 100, 39-42 at 10, 37-38 at 3, 31-33 at 1 (gamma
#: settles at 8.2).
_RELAX_MARGIN = 1.0


@dataclasses.dataclass(frozen=True)
class Settings:
    """What every solver reads besides its :class:`~.objective.Problem`: one argument from
    the entry points down to the step.

    A pytree: ``tol`` and ``max_iter`` are its leaves (traced, so a new value reuses the
    compiled program), ``intercept`` and ``stop`` its static part (each value compiles its
    own program). Built by :meth:`~.options.SolverOptions.settings`.
    """
    tol: Any            # the stopping rule's tolerance
    max_iter: Any       # the iteration cap
    intercept: bool     # fit an unpenalised intercept per task
    stop: str           # one of STOP_RULES

    def replace(self, **changes) -> Settings:
        return dataclasses.replace(self, **changes)


jax.tree_util.register_dataclass(Settings, data_fields=["tol", "max_iter"], meta_fields=["intercept", "stop"])


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
    searched: jax.Array | None  # trials of the current search so far (fixed-width searches, see
    #                             .loops; None for the do-while search, which keeps no count)
    done: jax.Array


def keeps_intercepts_optimal(intercept: bool, stop: str) -> bool:
    """Whether the solver keeps every point's intercepts optimal
    (:func:`~.objective.profile_intercepts`): the certified rules with an intercept. Their dual
    points then need no second backward column, in the loop or in a working-set check (rows
    bounded via :func:`~.objective.max_column_norms`)."""
    return intercept and stop != "relative"


def init_state(problem: Problem, W0, b0, gamma0, z0=None, *, trials: int = 0) -> FistaState:
    """State before the first iteration, starting at (W0, b0) with inverse step gamma0.

    ``z0`` (n_tasks, n_max), the predictor of (W0, b0), saves a product when the caller has it.
    ``trials`` as in :func:`fista_step` (a fixed-width search counts its trials in the state).
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
                      stalled=jnp.zeros((), bool), relax=jnp.zeros((), bool),
                      searched=jnp.zeros((), jnp.int32) if trials else None,
                      done=jnp.zeros((), bool))


def fista_step(state: FistaState, problem: Problem, settings: Settings, scale, column_norms, *,
               trials: int = 0) -> FistaState:
    """One FISTA iteration with backtracking, then the stopping test of ``settings.stop``.

    ``scale`` is the reference the ``"gap"`` rule's tol is relative to; ``column_norms``
    (n_tasks,) bounds each task's column norms (:func:`~.objective.max_column_norms`; used by the
    certified rules with an intercept). ``trials`` > 0 makes the backtracking search
    fixed-width (:mod:`.loops`): that many step sizes tried together, and no step taken
    (the state unchanged but for where the next search starts) when none is accepted.

    The certified rules with an intercept run FISTA on ``g(W) = min_b F(W, b)``: every
    point's intercepts are put at their optimum for its W (:func:`~.objective.profile_intercepts`).
    Then the loss derivatives V sum to zero per task, so V itself is (up to Newton's
    last residual) the intercept-feasible dual point, and one backward product serves
    both the gradient and the certificate, where the dual point of the raw V needs a
    second backward column.
    """
    intercept, stop = settings.intercept, settings.stop
    tol = jnp.asarray(settings.tol, state.W.dtype)
    profiled = keeps_intercepts_optimal(intercept, stop)
    alpha = (state.t_prev - 1.0) / state.t
    W_s = (1.0 + alpha) * state.W - alpha * state.W_prev
    b_s = (1.0 + alpha) * state.b - alpha * state.b_prev
    z_s = (1.0 + alpha) * state.z - alpha * state.z_prev
    if profiled:
        z_s, b_s = profile_intercepts(problem, z_s, b_s)
    F_s = smooth_value(problem, W_s, z_s)
    V_s = loss_derivatives(problem, z_s)
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
        grad_W, grad_b = gradients(problem, V_s, W_s, intercept)
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
        F_n = smooth_value(problem, W_n, z_n)
        clear = 0.5 * gamma * r > _RELAX_MARGIN * slack
        return W_n, b_n, z_n, F_n, r <= _TINY_STEP, F_n <= model + slack, clear

    def backtrack(carry):
        gamma, count = carry[0] * 2.0, carry[-1] + 1
        return (gamma, *trial(gamma), count)

    def keep_backtracking(carry):
        _, _, _, _, _, tiny, accepted, _, count = carry
        return ~(tiny | accepted) & (count < _MAX_BACKTRACKS)

    gamma0 = jnp.where(state.relax, state.gamma * _STEP_RELAX, state.gamma)
    if trials:
        # Fixed width: gamma0 * 2**k for k < trials, their forward products one product of X
        # with the stacked trial coefficients; the first accepted is the do-while's step.
        gammas = gamma0 * 2.0 ** jnp.arange(trials, dtype=gamma0.dtype)
        W_k, b_k, z_k, F_k, tiny_k, accepted_k, clear_k = jax.vmap(trial)(gammas)
        # The do-while's cap: its trial number _MAX_BACKTRACKS (counting from 0) is taken as
        # it is, accepted or not.
        take = tiny_k | accepted_k | (state.searched + jnp.arange(trials) >= _MAX_BACKTRACKS)
        stepped = jnp.any(take)
        pick = jnp.argmax(take)
        gamma, W_n, b_n, z_n, F_n, tiny, clear = (a[pick] for a in (gammas, W_k, b_k, z_k, F_k, tiny_k, clear_k))
    else:
        # A do-while loop: its first pass tries gamma0 itself (halved here, doubled there,
        # exactly). Tracing the trial once, in the loop, rather than once before it and once
        # in it, keeps the compiled solver smaller and faster to compile. The first pass
        # overwrites the placeholders, so they are plain zeros.
        no = jnp.zeros((), bool)
        before_first = (gamma0 / 2.0, jnp.zeros_like(W_s), jnp.zeros_like(b_s), jnp.zeros_like(z_s),
                        jnp.zeros_like(F_s), no, no, no, jnp.full((), -1, jnp.int32))
        gamma, W_n, b_n, z_n, F_n, tiny, _, clear, _ = jax.lax.while_loop(keep_backtracking, backtrack,
                                                                          before_first)
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
    searched = jnp.zeros_like(state.searched) if trials else None
    stepped_state = FistaState(
        W=W_n, W_prev=state.W, b=b_n, b_prev=state.b, z=z_n, z_prev=state.z, t=t_new, t_prev=t_prev_new,
        gamma=gamma, objective=objective, prev_objective=state.objective, best_dual=best_dual, best_V=best_V,
        best_quad=best_quad, best_max_row=best_max_row, criterion=criterion, n_iter=n_iter, stalled=tiny,
        relax=relax, searched=searched, done=met | (tiny & (stop == "relative")))
    if stop == "kkt":
        # The rule is tested at the search point, where the gradient is: once it is met,
        # that point is the one returned, so that its certificate is the one tested (the
        # step's point may violate the conditions by more).
        at_search = stepped_state._replace(W=W_s, b=b_s, z=z_s, objective=F_s + problem.lam * l21_norm(W_s))
        stepped_state = select(met, at_search, stepped_state)
    if not trials:
        return stepped_state
    # No trial accepted: no step, and the next search goes on from gamma0 * 2**trials.
    searching = state._replace(gamma=gammas[-1] * 2.0, relax=jnp.zeros((), bool),
                               searched=state.searched + trials)
    return select(stepped, stepped_state, searching)


def stop_scale(problem: Problem, settings: Settings, dtype):
    """What the stopping rule's tol is relative to: the null model's loss for "gap", else 1."""
    if settings.stop == "gap":
        return losses.null_loss(problem.y, problem.weights, problem.is_classification, problem.scales,
                                settings.intercept)
    return jnp.ones((), dtype)


def meets_rule(settings: Settings, scale, *, gap, kkt, done):
    """Whether a returned point meets the stopping rule: the certified rules by the point's
    own certificates (``gap <= tol * scale``, ``kkt <= tol``), ``"relative"`` by the loop's
    test (``done``: it compares successive iterates, which a point alone cannot show).

    The one decision of ``converged``, for the dense solver (:func:`solve_problem`) and the
    working sets (:mod:`.working_set`); jax or NumPy values.
    """
    if settings.stop == "relative":
        return done
    if settings.stop == "gap":
        return gap <= settings.tol * scale
    return kkt <= settings.tol


def run_fista(problem: Problem, W0, b0, settings: Settings, gamma0=1.0, z0=None, null=None) -> FistaState:
    """The FISTA loop alone, from (W0, b0) to the stopping rule or ``max_iter``.

    ``null`` is :func:`~.objective.null_model`'s result (computed here when None): at or above
    lambda_max the loop starts at the exact solution and takes no step.

    Returns the final :class:`FistaState` (``done`` says whether the rule was met)
    without certificates at the returned point: working sets certify it on all
    features instead (see :mod:`.working_set`), and a use of the restricted X after
    the loop would make XLA copy it (the loop owns its operands).
    """
    scale = stop_scale(problem, settings, W0.dtype)

    def running(state):
        return ~state.done & (state.n_iter < settings.max_iter)

    shape = loop_shape()
    step = partial(fista_step, problem=problem, settings=settings, scale=scale,
                   column_norms=max_column_norms(problem.X, W0.shape[1]), trials=shape.trials)
    W0, b0, z0, above = null_start(problem, W0, b0, z0, settings.intercept, null)
    state = init_state(problem, W0, b0, gamma0, z0, trials=shape.trials)._replace(done=above)
    return while_loop(running, step, state, shape)


def solve_problem(problem: Problem, W0, b0, settings: Settings, gamma0=1.0, null=None):
    """Run FISTA to the stopping rule; pure and traceable (no checks, no warnings).

    Returns ``(Fit, gamma)``; gamma is the final inverse step size, which a
    path may carry to its next lambda. ``null`` as in :func:`run_fista` (a path passes
    the one it computed for all its lambdas).
    """
    state = run_fista(problem, W0, b0, settings, gamma0, null=null)
    scale = stop_scale(problem, settings, W0.dtype)

    # Certificates at the returned point (one more product, once per solve).
    V = loss_derivatives(problem, state.z)
    grad_W, grad_b, dual = gradients_and_dual(problem, V, state.W, settings.intercept)
    kkt = kkt_residual(problem, state.W, grad_W, grad_b)
    gap = jnp.maximum(state.objective - jnp.maximum(state.best_dual, dual), 0.0)
    # tol in the data's dtype, as the loop's test (fista_step) compares it
    converged = meets_rule(settings.replace(tol=jnp.asarray(settings.tol, W0.dtype)), scale, gap=gap, kkt=kkt,
                           done=state.done)
    result = Fit(W=state.W, intercept=state.b, objective=state.objective, n_iter=state.n_iter,
                 converged=converged, dual_gap=gap, kkt_residual=kkt)
    return result, state.gamma


def default_tol(stop: str, dtype) -> float:
    """Default tolerance of each stopping rule for the given dtype."""
    single = jnp.dtype(dtype) == jnp.float32
    # float32's gap rule: 1e-5 is met too and brings the objectives within float32's
    # precision of float64's, but makes the gene-expression benchmark take about 3 x as
    # long (213 s against 66 s; bench/README.md, "The first call").
    return {"gap": 1e-4 if single else 1e-6,
            "kkt": 1e-4 if single else 1e-7,
            "relative": 1e-6 if single else 1e-10}[stop]
