"""Working sets along the path: solve on the features that can be active, check the rest.

At each lambda the sequential strong rule (Tibshirani et al. 2012, JRSS-B 74:245;
for groups, on the row norms of the gradient) keeps feature j when

.. math::  \\|\\nabla_j f(W(\\lambda_{k-1}))\\|_2 \\ge 2\\lambda_k - \\lambda_{k-1}

or when it is already active. FISTA then runs on those columns only, and one
full gradient checks every discarded feature (``||grad_j|| <= lambda``);
violators join the set and the solve repeats. The reported objective, duality
gap and KKT residual are those of the full problem, so the stopping rule means
the same as without working sets.

The strong rule alone is loose on a coarse grid: with 20 lambdas down to 0.01
lambda_max it keeps every feature whose gradient is above 0.57 lambda_{k-1}, and at
small lambdas that is all of them. So the working set is also capped, as celer does
(Massias, Gramfort and Salmon 2018, ICML, "Celer"): at most twice the number of
active features (at least ``MIN_BUCKET``), filled with the candidates whose
gradients are largest relative to lambda. A check that finds violators doubles the
set, again taking the worst violators first. A smaller set is cheaper per iteration
and better conditioned (a smaller Lipschitz constant, so longer steps).

Batched: the same code runs one problem (a path) or K problems that share X
and differ in their sample weights and lambdas (CV folds), as one vmapped solve.
With one shared X (n, p) each problem has its own working set (the K restricted
copies of X are small); with padded per-task X (T, n, p) the K problems share one
set, the union of theirs, so that X is gathered once.

Shapes stay static: a working set is padded to a power-of-two bucket (at least
``MIN_BUCKET`` columns; padding columns are zero, so their coefficients stay
zero), so a path compiles one solver per bucket size, cached across calls.
The loop over lambdas and buckets runs in Python; each step is jit-compiled.
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import losses
from .penalties import row_norms
from .solver import (Fit, Problem, _derivatives, gradients_and_dual_point, intercept_feasible, kkt_residual,
                     objective_value, scaled_dual_value, solve_problem)

MIN_BUCKET = 64
#: float64 problems with at least this many features use working sets by default. Float32
#: problems do not: there the full-problem duality gap at the final iterate can stay above
#: the tolerance that the restricted solve met with its best dual point (pass screening=True
#: to use them anyway; non-convergence is then reported and warned about).
AUTO_MIN_FEATURES = 1000

# The batched problem: weights (K, T, n) and lam (K,) vary, everything else is shared.
_BATCH_AXES = Problem(X=None, y=None, weights=0, is_classification=None, scales=None, lam=0, similarity=None,
                      ridge=None)


def bucket_size(count, n_features):
    """Smallest power of two >= count (and >= MIN_BUCKET), capped at n_features."""
    size = MIN_BUCKET
    while size < count:
        size *= 2
    return min(size, n_features)


def restrict(problem: Problem, columns, valid):
    """The problem on the given feature columns (m,); invalid (padding) columns are zeroed."""
    X = jnp.take(problem.X, columns, axis=-1) * valid.astype(problem.X.dtype)
    return problem._replace(X=X)


class DualPoint(NamedTuple):
    """A checked point's dual ingredients, reusable at another lambda (arrays over K problems)."""
    V: jax.Array         # (K, T, n_max) loss derivatives (zero-sum corrected with an intercept)
    W: jax.Array         # (K, p, T) the primal point (its quadratic-penalty part)
    max_row: jax.Array   # (K,) largest row norm of X^T V + grad Q(W) over all features


def no_dual_point(problem: Problem, W):
    """A :class:`DualPoint` for the K problems of W (K, p, T) that carries no bound (dual value
    -inf); shaped like a real one, so :func:`full_check` does not compile again."""
    K, _, T = W.shape
    return DualPoint(V=jnp.zeros((K, T, problem.y.shape[-1]), W.dtype), W=W,
                     max_row=jnp.full((K,), jnp.inf, W.dtype))


def _check_one(problem: Problem, W, b, previous: DualPoint, intercept):
    z = losses.predictor(problem.X, W, b)
    V = _derivatives(problem, z)
    grad_W, grad_b, dual, grad_W_dual = gradients_and_dual_point(problem, V, W, intercept)
    dual_rows = row_norms(grad_W_dual)
    # A feature outside the working set must satisfy both the optimality test on the
    # gradient and the dual point's feasibility, or the full duality gap would not close.
    norms = jnp.maximum(row_norms(grad_W), dual_rows)
    point = DualPoint(V=intercept_feasible(problem, V) if intercept else V, W=W, max_row=jnp.max(dual_rows))
    # The previous lambda's checked point, rescaled into this lambda's feasible set (its
    # row norms do not depend on lam), is often the better lower bound: a restricted
    # solve that stops after a step or two certified itself with it.
    carried = scaled_dual_value(problem, previous.V, previous.max_row, previous.W)
    return (norms, objective_value(problem, W, b, z), jnp.maximum(dual, carried),
            kkt_residual(problem, W, grad_W, grad_b), point)


@partial(jax.jit, static_argnames=("intercept",))
def full_check(problem: Problem, W, b, previous: DualPoint, *, intercept):
    """Full-problem certificates of K solutions W (K, p, T), b (K, T).

    Returns the row norms (K, p) that decide violations (the larger of the gradient's
    and the dual point's), objectives, dual values and KKT residuals (K,), and the
    :class:`DualPoint` of each solution. The dual value is the better of the solution's
    own and that of ``previous`` (the last lambda's points; :func:`no_dual_point` for none).
    """
    return jax.vmap(partial(_check_one, intercept=intercept), in_axes=(_BATCH_AXES, 0, 0, 0))(problem, W, b,
                                                                                             previous)


@partial(jax.jit, static_argnames=("intercept", "stop", "shared"))
def solve_on_columns(problem: Problem, columns, valid, W0, b0, gamma0, tol, max_iter, *, intercept, stop, shared):
    """K solves, problem k restricted to ``columns[k]`` (K, m), from W0 (K, m, T), b0 (K, T), gamma0 (K,).

    ``shared``: all K problems use ``columns[0]`` (one gathered copy of X); otherwise each
    problem gathers its own columns (K copies of the restricted X).
    """
    def one(p, W, b, gamma):
        return solve_problem(p, W, b, tol, max_iter, gamma, intercept=intercept, stop=stop)

    if shared:
        restricted = restrict(problem, columns[0], valid[0])
        return jax.vmap(one, in_axes=(_BATCH_AXES, 0, 0, 0))(restricted, W0, b0, gamma0)

    def one_on_own_columns(p, cols, ok, W, b, gamma):
        return one(restrict(p, cols, ok), W, b, gamma)

    return jax.vmap(one_on_own_columns, in_axes=(_BATCH_AXES, 0, 0, 0, 0, 0))(problem, columns, valid, W0, b0,
                                                                              gamma0)


def _take_best(chosen, candidates, priority, limit):
    """Add to ``chosen`` (p,) bool the ``candidates`` of highest ``priority`` until it holds ``limit``."""
    room = int(limit) - int(chosen.sum())
    extra = np.flatnonzero(candidates & ~chosen)
    if room <= 0 or extra.size == 0:
        return chosen
    if extra.size > room:
        extra = extra[np.argsort(-priority[extra], kind="stable")[:room]]
    chosen = chosen.copy()
    chosen[extra] = True
    return chosen


def _initial_set(active, strong, priority, room, n_features):
    """One set (p,): the active features plus the best candidates, up to a bucket of active + room."""
    limit = bucket_size(max(int(active.sum()) + room, MIN_BUCKET), n_features)
    return _take_best(active, strong, priority, limit)


def initial_sets(active, strong, priority, n_features, shared):
    """First working sets (K, p) at a lambda: every active feature plus the best strong-rule
    candidates. Inputs are (K, p).

    A problem's set holds at most a bucket of twice its active count. A shared set (the
    union) holds the union's active features plus room for one problem's active count,
    not twice the union: the K problems' supports overlap but differ, and the union of
    10 folds is several times one fold's support.
    """
    if shared:
        one = _initial_set(active.any(axis=0), strong.any(axis=0), priority.max(axis=0),
                           int(active.sum(axis=1).max()), n_features)
        return np.broadcast_to(one, active.shape)
    return np.stack([_initial_set(active[k], strong[k], priority[k], int(active[k].sum()), n_features)
                     for k in range(active.shape[0])])


def grown_sets(sets, violators, priority, n_features, shared):
    """Sets (K, p) after a check: at most doubled, worst violators first (celer's rule)."""
    def grown(k_set, k_violators, k_priority):
        return _take_best(k_set, k_violators, k_priority, bucket_size(2 * int(k_set.sum()), n_features))

    if shared:
        return np.broadcast_to(grown(sets[0], violators.any(axis=0), priority.max(axis=0)), sets.shape)
    return np.stack([grown(sets[k], violators[k], priority[k]) for k in range(sets.shape[0])])


def _padded_columns(sets, n_features):
    """Column indices (K, m) and validity (K, m) of sets (K, p), m a bucket size for the largest."""
    counts = sets.sum(axis=1)
    m = bucket_size(int(counts.max()), n_features)
    columns = np.zeros(sets.shape[:1] + (m,), dtype=np.int32)
    valid = np.arange(m)[None, :] < counts[:, None]
    for k in range(sets.shape[0]):
        columns[k, :counts[k]] = np.flatnonzero(sets[k])
    return columns, valid


class _LambdaSolution(NamedTuple):
    """What one lambda's rounds leave behind (arrays over the K problems)."""
    W: jax.Array            # (K, p, T)
    b: jax.Array            # (K, T)
    gamma: jax.Array        # (K,) inverse step sizes to carry on
    grad_norms: np.ndarray  # (K, p) violation norms at the solution (the next strong rule uses them)
    fit: Fit                # the last restricted solve
    objective: jax.Array    # (K,) full-problem certificates
    gap: np.ndarray         # (K,)
    kkt: jax.Array          # (K,)
    n_iter: np.ndarray      # (K,) iterations over all rounds
    complete: bool          # no feature outside the working set violates optimality
    point: DualPoint        # the solutions' dual ingredients (the next lambda's carried dual)


def _solve_at_lambda(problem, lam, sets, W, b, gamma, tol, max_iter, scale, previous, *, intercept, stop,
                     max_rounds, shared):
    """Solve on the working sets (K, p), check every feature, re-admit violators, repeat.

    ``previous`` is the :class:`DualPoint` of the last lambda's solutions.
    """
    dtype = W.dtype
    lam_problem = problem._replace(lam=jnp.asarray(lam, dtype))
    n_problems, n_features = W.shape[:2]
    rows = np.arange(n_problems)[:, None]
    iterations = np.zeros(n_problems, dtype=np.int64)
    sub_tol, retried = tol, False
    for _ in range(max_rounds):
        columns, valid = _padded_columns(sets, n_features)
        keep = jnp.asarray(valid)[:, :, None]
        W_start = W[rows, columns, :] * keep
        start_gamma = gamma if stop != "relative" else jnp.ones_like(gamma)
        fit, gamma_out = solve_on_columns(lam_problem, columns, valid, W_start, b, start_gamma, sub_tol,
                                          max_iter, intercept=intercept, stop=stop, shared=shared)
        if stop != "relative":
            gamma = gamma_out
        iterations += np.asarray(fit.n_iter)
        W = jnp.zeros_like(W).at[rows, columns, :].add(fit.W * keep)
        b = fit.intercept
        norms, F, dual, kkt, point = full_check(lam_problem, W, b, previous, intercept=intercept)
        grad_norms = np.asarray(norms)
        violators = ~sets & (grad_norms > lam[:, None])
        gap = np.maximum(np.asarray(F) - np.asarray(dual), 0.0)
        if violators.any():
            sets = grown_sets(sets, violators, grad_norms / lam[:, None], n_features, shared)
        elif stop == "gap" and np.any(gap > tol * scale) and not retried:
            # The restricted solve certified itself with the best dual point of its
            # run; the full certificate has only the final point's and the previous
            # lambda's. Continue once, tighter.
            retried, sub_tol = True, tol / 3.0
        else:
            break
    return _LambdaSolution(W=W, b=b, gamma=gamma, grad_norms=grad_norms, fit=fit, objective=F, gap=gap, kkt=kkt,
                           n_iter=iterations, complete=not violators.any(), point=point)


def working_set_path(problem: Problem, lambdas, W0, b0, tol, max_iter, *, intercept, stop, lambda_start, scale,
                     per_lambda=None, on_lambda=None, max_rounds=30):
    """K warm-started paths with strong-rule working sets.

    Parameters
    ----------
    problem : Problem with ``weights`` (K, T, n_max); ``lam`` is ignored
    lambdas : (K, n_lambdas) each problem's decreasing grid
    W0, b0 : (K, p, T), (K, T) warm starts, solving ``lambda_start`` (K,) (lambda_max for a cold start)
    scale : (K,) the gap rule's scale (null-model loss) of each problem
    per_lambda : optional ``f(W (K, p, T), b (K, T)) -> pytree`` of what to keep per lambda
        (default: the full :class:`Fit` with W)
    on_lambda : optional ``f(lam (K,))`` called after each lambda (progress bars)

    Returns
    -------
    (stacked per_lambda outputs with a leading n_lambdas axis, n_iter (L, K), converged (L, K))
    """
    lambdas = np.asarray(lambdas, dtype=np.float64)
    n_problems, n_lambdas = lambdas.shape
    dtype = W0.dtype
    n_features = W0.shape[1]
    # One shared X gathers cheaply per problem (K x n x m); padded per-task X would cost
    # K x T x n x m, so those problems share one set, the union of theirs.
    shared = problem.X.ndim == 3
    W, b = W0, b0
    gamma = jnp.ones((n_problems,), dtype)
    start_check = full_check(problem._replace(lam=jnp.asarray(lambda_start, dtype)), W, b, no_dual_point(problem, W),
                             intercept=intercept)
    grad_norms, point = np.asarray(start_check[0]), start_check[-1]
    lam_prev = np.asarray(lambda_start, dtype=np.float64)
    scale = np.asarray(scale, dtype=np.float64)
    outputs, n_iters, convergeds = [], [], []
    for k in range(n_lambdas):
        lam = lambdas[:, k]
        # Strong rule plus everything already active, per problem (sets are unions when shared).
        active = np.asarray(jnp.any(W != 0, axis=2))
        strong = grad_norms >= (2.0 * lam - lam_prev)[:, None]
        sets = initial_sets(active, strong, grad_norms / lam[:, None], n_features, shared)
        sol = _solve_at_lambda(problem, lam, sets, W, b, gamma, tol, max_iter, scale, point, intercept=intercept,
                               stop=stop, max_rounds=max_rounds, shared=shared)
        W, b, gamma, grad_norms, point = sol.W, sol.b, sol.gamma, sol.grad_norms, sol.point
        if stop == "gap":
            converged = sol.gap <= tol * scale
        elif stop == "kkt":
            converged = np.asarray(sol.kkt) <= tol
        else:
            converged = np.asarray(sol.fit.converged)
        converged = converged & sol.complete
        if per_lambda is None:
            outputs.append(Fit(W=W, intercept=b, objective=sol.objective, n_iter=jnp.asarray(sol.n_iter),
                               converged=jnp.asarray(converged), dual_gap=jnp.asarray(sol.gap, dtype),
                               kkt_residual=sol.kkt))
        else:
            outputs.append(per_lambda(W, b))
        n_iters.append(sol.n_iter)
        convergeds.append(converged)
        lam_prev = lam
        if on_lambda is not None:
            on_lambda(lam)
    stacked = jax.tree.map(lambda *xs: jnp.stack(xs), *outputs)
    return stacked, np.stack(n_iters), np.stack(convergeds)
