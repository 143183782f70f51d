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
active features (at least the smallest bucket), filled with the candidates whose
gradients are largest relative to lambda. A check that finds violators doubles the
set, again taking the worst violators first, unless the active features and the
violators fit in the set's bucket: then the set keeps its bucket and its least
promising inactive features make room. A smaller set is cheaper per iteration
and better conditioned (a smaller Lipschitz constant, so longer steps).

Batched: the same code runs one problem (a path) or K problems that share X
and differ in their sample weights and lambdas (CV folds), in one loop
(:mod:`.batched`, where problems done early work ahead at their next lambda).
With one X for all tasks (n, p) each problem has its own working set (the K restricted
copies of X are small); with padded per-task X (T, n, p) the K problems share one
set, the union of theirs, so that X is gathered once.

One round at a lambda is four compiled programs: :func:`gather_columns` (the
restricted X), :func:`solve_on_columns` (the warm start's columns and FISTA on them,
returning the predictors and the best dual point it met), :func:`scatter_columns`
(the solution back on all features) and :func:`full_check` (one backward
pass over all of X: violations, objective, and the best of three dual points, the
solution's, the solve's best and the previous lambda's, each made feasible for the
full problem).

Shapes stay static: a working set holds at most a bucket of features (a power of two,
at least ``MIN_BUCKET`` and on wide problems more (:func:`smallest_bucket`), or from
``FINE_BUCKETS_FROM`` on also 1.5 times one), and its columns are padded to that bucket
(padding columns are zero, so their coefficients stay zero). A path compiles one solver
per bucket size, cached across calls. The loop over lambdas and buckets runs in Python;
each step is jit-compiled.
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .compiling import compact_jit
from .host_memory import release_if_large
from . import losses
from .penalties import row_norms
from .batched import BatchResult, solve_batch
from .sharding import BATCH, run_per_device, to_host
from .fista import Fit, Settings, keeps_intercepts_optimal, meets_rule
from .objective import (Problem, gradients_and_dual_point, kkt_residual, loss_derivatives, max_column_norms,
                        objective_value, scaled_dual_value)

#: The smallest working-set bucket (columns), on problems of fewer than
#: 2 x MIN_BUCKET x WIDE_SMALLEST_SHARE = 8,192 features.
MIN_BUCKET = 64
#: On wide problems the smallest bucket is the largest power of two <= n_features /
#: WIDE_SMALLEST_SHARE (but at least MIN_BUCKET): 256 at p = 20,000, 64 up to p = 8,191.
#: ``python bench/bench_genomics.py`` (one ``cross_validate(..., return_path=True)`` call),
#: with the smallest bucket forced to each size: 64 columns take 68 to 69 s with
#: compilation, 55 s compiled, and memory grows by 1.74 to 1.80 x X; 256 take 52.4 s,
#: 44.8 s and 1.57 x; 512 and 1,024 take 52 to 59 s, 48 s and 1.58 x. 256 also compiles
#: two set sizes fewer. On the p = 5,000 path of ``python bench/harness.py``, 128 is 4 %
#: and 256 8 % slower than 64, so narrower problems keep MIN_BUCKET.
WIDE_SMALLEST_SHARE = 64
#: From this size on, buckets also come in 1.5 x steps (4,096, 6,144, 8,192, 12,288, ...).
#: Below it, an extra bucket's compile costs more than the columns it saves; above it an
#: iteration costs tens of milliseconds: without the 1.5 x steps, the last 28 lambdas of
#: the gene-expression CV (``python bench/bench_genomics.py``) run on 8,192 columns for
#: sets of 6,200 to 8,192 features, 52 s of its 67 s.
FINE_BUCKETS_FROM = 4096
#: A union set's room for features entering at a new lambda, as a fraction of the largest
#: problem's active count. Few enter between neighbouring lambdas; the room is filled with
#: the best candidates and a check that finds violators grows the set to the next bucket.
#: On the gene-expression CV (``python bench/bench_genomics.py``), room for a whole fold's
#: support makes the tail's sets 8,192 columns; a quarter makes them 6,144, and the checks
#: find violators at 3 of 100 lambdas.
UNION_ROOM = 0.25

# The batched problem: weights (K, T, n) and lam (K,) vary, everything else is the same for all K.
_BATCH_AXES = Problem(X=None, y=None, weights=0, is_classification=None, scales=None, lam=0, similarity=None,
                      ridge=None)


def smallest_bucket(n_features):
    """The smallest working-set bucket for a problem with n_features (see WIDE_SMALLEST_SHARE)."""
    size = MIN_BUCKET
    while 2 * size * WIDE_SMALLEST_SHARE <= n_features:
        size *= 2
    return size


def bucket_size(count, n_features):
    """Smallest bucket >= count (and >= :func:`smallest_bucket`), capped at n_features: a
    power of two, or from FINE_BUCKETS_FROM on also 1.5 times one."""
    size = smallest_bucket(n_features)
    while size < count:
        if size >= FINE_BUCKETS_FROM and size * 3 // 2 >= count:
            return min(size * 3 // 2, n_features)
        size *= 2
    return min(size, n_features)


def gather_columns(X, columns, valid, *, one_set):
    """The restricted design of K problems on columns (K, m).

    X : (n, p) one design for all tasks, or (T, n_max, p) padded per task; valid : (K, m)
    bool, False on padding columns, which are zeroed (so their coefficients stay zero).
    Returns X_S: with ``one_set`` (the K problems share one working set, ``columns[0]``)
    one restricted design, X's shape with m columns; else one per problem with a leading
    K axis.

    A program of its own: gathered inside the solver's program, the columns come out in
    the gather's layout (the gathered axis first) and the loop transposes and copies them,
    a temporary as large as X_S before the first iteration (XLA's ``memory_analysis()``
    shows it); gathered alone they need none. The warm start's columns, small, are
    gathered in the solver's program.
    """
    return _gather_design(X, columns, valid, one_set=one_set)


@compact_jit(static_argnames=("one_set",))
def _gather_design(X, columns, valid, *, one_set):
    if one_set:
        return jnp.take(X, columns[0], axis=-1) * valid[0].astype(X.dtype)
    return jax.vmap(lambda cols, ok: jnp.take(X, cols, axis=-1) * ok.astype(X.dtype))(columns, valid)


def gather_start(W, columns, valid):
    """W_S (K, m, T): the columns (K, m) of W (K, p, T), zero on padding columns."""
    return jnp.take_along_axis(W, columns[:, :, None], axis=1) * valid[:, :, None].astype(W.dtype)


@compact_jit(static_argnames=("n_features",))
def scatter_columns(W_S, columns, valid, *, n_features):
    """(K, p, T) coefficients from W_S (K, m, T) on columns (K, m); zero elsewhere."""
    K, _, T = W_S.shape
    rows = jnp.arange(K)[:, None]
    return jnp.zeros((K, n_features, T), W_S.dtype).at[rows, columns, :].add(W_S * valid[:, :, None])


class DualPoint(NamedTuple):
    """A dual point's ingredients, reusable at another lambda (arrays over K problems).

    Its dual value at any lambda is :func:`~mtlcomb_jax.objective.scaled_dual_value`: nothing in
    it depends on lambda.
    """
    V: jax.Array         # (K, T, n_max) loss derivatives (zero-sum corrected with an intercept)
    quad: jax.Array      # (K,) Q(W) at the primal point it was built at
    max_row: jax.Array   # (K,) largest row norm of X^T V + grad Q(W) over the features measured


def no_dual_point(problem: Problem, n_problems):
    """A :class:`DualPoint` for K problems that carries no bound (dual value -inf); shaped
    like a real one, so :func:`full_check` does not compile again."""
    dtype = problem.y.dtype
    return DualPoint(V=jnp.zeros((n_problems,) + problem.y.shape, dtype), quad=jnp.zeros((n_problems,), dtype),
                     max_row=jnp.full((n_problems,), jnp.inf, dtype))


def _best_point(values, points):
    """The point of largest dual value among several (scalars and DualPoints of one problem)."""
    best = jnp.argmax(jnp.stack(values))
    return jax.tree.map(lambda *leaves: jnp.stack(leaves)[best], *points), jnp.max(jnp.stack(values))


def _check_one(problem: Problem, W, b, z, in_set, loop: DualPoint, previous: DualPoint, column_norms, intercept):
    V = loss_derivatives(problem, z)
    checked = gradients_and_dual_point(problem, V, W, intercept, extra=(loop.V,), column_norms=column_norms)
    grad_W, grad_b, (XV_loop,) = checked.grad_W, checked.grad_b, checked.extra
    # A feature outside the working set must satisfy both the optimality test on the
    # gradient and the dual point's feasibility, or the full duality gap would not close.
    norms = jnp.maximum(row_norms(grad_W), checked.dual_rows)
    own = DualPoint(V=checked.V_dual, quad=checked.quad, max_row=jnp.max(checked.dual_rows))
    # The restricted solve's best dual point (it certified itself with that one, which is
    # often not the final iterate's): its rows on the working set were measured in the
    # solve; outside it the point's W is zero, where Q's (row-separable) gradient is zero.
    outside = jnp.where(in_set, 0.0, row_norms(XV_loop))
    loop = loop._replace(max_row=jnp.maximum(loop.max_row, jnp.max(outside)))
    # The previous lambda's checked point, rescaled into this lambda's feasible set, is
    # often the best lower bound when a solve stops after a step or two.
    values = [checked.dual] + [scaled_dual_value(problem, pt.V, pt.max_row, pt.quad) for pt in (loop, previous)]
    point, dual = _best_point(values, (own, loop, previous))
    return (norms, objective_value(problem, W, b, z), dual, kkt_residual(problem, W, grad_W, grad_b),
            jnp.any(W != 0, axis=1), point)


_max_column_norms = compact_jit(max_column_norms, static_argnames=("n_tasks",))


@compact_jit
def predictors(problem: Problem, W, b):
    """(K, T, n_max) linear predictors of K points W (K, p, T), b (K, T) on all features."""
    return jax.vmap(losses.predictor, in_axes=(None, 0, 0))(problem.X, W, b)


@compact_jit
def restricted_start(problem: Problem, W, b, in_set):
    """K starts W (K, p, T), b (K, T) with their rows outside the sets ``in_set`` (K, p) set
    to zero, and their predictors (K, T, n_max): a solve on the sets starts there, and its
    predictors must be those of the point it starts at."""
    W = W * in_set[:, :, None].astype(W.dtype)
    return W, predictors(problem, W, b)


@compact_jit(static_argnames=("intercept",))
def full_check(problem: Problem, W, b, z, in_set, loop: DualPoint, previous: DualPoint, column_norms=None, *,
               intercept):
    """Full-problem certificates of K solutions W (K, p, T), b (K, T) with predictors z (K, T, n_max).

    z comes from the restricted solve (W is zero outside its columns, so the predictor
    is the same), so the check costs one pass over X: the backward product.
    ``in_set`` (K, p) marks the working sets the solutions came from, ``loop`` holds the
    restricted solves' best dual points and ``previous`` the last lambda's points
    (:func:`no_dual_point` for none). With ``column_norms`` (n_tasks,)
    (:func:`~mtlcomb_jax.objective.max_column_norms` of X), the solutions' own dual points are
    rated by bounds on their rows, not by a second backward column: tight when their
    intercepts are optimal (the certified rules profile them).

    Returns the row norms (K, p) that decide violations (the larger of the gradient's
    and the solution's dual point's), objectives, dual values and KKT residuals (K,),
    the solutions' nonzero rows (K, p) and the best :class:`DualPoint` of each problem
    (the one the dual value comes from: the solution's own, the solve's best, or the
    previous lambda's, rescaled).
    """
    return jax.vmap(partial(_check_one, intercept=intercept), in_axes=(_BATCH_AXES, 0, 0, 0, 0, 0, 0, None))(
        problem, W, b, z, in_set, loop, previous, column_norms)


@compact_jit(static_argnames=("one_set", "mesh"))
def solve_on_columns(problem: Problem, W, columns, valid, b0, z0, gamma0, settings: Settings, next_lam, work_ahead, *,
                     one_set, mesh=None) -> BatchResult:
    """K restricted solves on columns (K, m) (``valid`` (K, m) False on padding), from the
    columns of W (K, p, T), b0 (K, T) with predictors z0 (K, T, n_max) and inverse steps
    gamma0 (K,); problems done early work ahead at next_lam (K,) where ``work_ahead`` (K,)
    (see :mod:`.batched`).

    Returns the :class:`~.batched.BatchResult` on the columns. Gathering the warm start
    here, not in a program of its own, saves a program per working-set size (each
    resident program holds memory, :mod:`.compiling`). Scattering the results back here
    would save one more, but the (K, p, T) outputs would then be allocated while the
    loop's temporaries are alive and the allocator keeps more free blocks afterwards, so
    :func:`scatter_columns` stays a program of its own.

    ``problem.X`` is the restricted design from :func:`gather_columns`: one for all K
    problems when ``one_set``, else one per problem (leading K axis). It is used by the
    loop only (a use after the loop would make XLA copy it); certificates come from
    :func:`full_check`.

    ``mesh`` (the problems' devices, see :func:`~.sharding.spread_batch`): each device runs
    the loop over its own problems (:func:`~.sharding.run_per_device`), instead of one
    loop over all that all-reduces its test every iteration.
    """
    axes = _BATCH_AXES if one_set else _BATCH_AXES._replace(X=0)
    W0 = gather_start(W, columns, valid)

    def solve(problem, W0, b0, z0, gamma0, next_lam, work_ahead):
        return solve_batch(problem, axes, W0, b0, z0, gamma0, settings, next_lam, work_ahead)

    problem_specs = Problem(*(jax.sharding.PartitionSpec() if axis is None else BATCH for axis in axes))
    return run_per_device(solve, mesh, in_specs=(problem_specs,) + (BATCH,) * 6)(
        problem, W0, b0, z0, gamma0, next_lam, work_ahead)


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


def _initial_set(active, start_rows, strong, priority, room, n_features):
    """One set (p,): the active features, then the start's other nonzero rows, then the best
    candidates, up to a bucket of active + room."""
    limit = bucket_size(int(active.sum()) + room, n_features)     # at least the smallest bucket
    return _take_best(_take_best(active, start_rows, priority, limit), strong, priority, limit)


def _one_union(one_set, n_problems):
    """Whether the sets are one union over several problems (``one_set``: padded per-task X,
    and K > 1). With one problem the union is its own set, and the rules for a problem's
    own set apply."""
    return one_set and n_problems > 1


def initial_sets(active, start_rows, strong, priority, n_features, one_set):
    """First working sets (K, p) at a lambda from the last solutions' ``active`` features,
    the warm starts' nonzero rows ``start_rows``, the strong rule's candidates ``strong``
    and their ``priority``, all (K, p).

    A problem's set holds at most a bucket of twice its active count (also a single
    problem under ``one_set``): its active features, then its start's other rows and the
    strong candidates by priority. It is sized by the solution, not by the start: a start
    that working ahead reached after a few iterations can have many more nonzero rows
    than any solution. On the 5-fold CV at p = 5,000 of ``python bench/harness.py`` one
    fold's start had all 2,048 rows of its set nonzero, twice the other folds' supports,
    and sized by it the folds' batch (which runs at its largest bucket) took its last lambdas on
    4,096 and 5,120 columns: 5.1 to 5.3 s, against 3.15 s. A start row left out of the set
    starts at zero (:func:`restricted_start`, which makes the start's predictors match).

    A set shared by K > 1 problems (the union) holds the union's active and start rows
    plus ``UNION_ROOM`` times the largest problem's count of them, not twice the union:
    the K problems' supports overlap but differ, and the union of 10 folds is several
    times one fold's support (see :data:`UNION_ROOM`, measured with the start rows
    counted; sized by the solutions alone, the gene-expression CV takes 65.0 against
    53.5 s).
    """
    if _one_union(one_set, active.shape[0]):
        counted = active | start_rows
        room = int(UNION_ROOM * counted.sum(axis=1).max())
        union = counted.any(axis=0)
        # the start's rows are in ``union`` already: no further start rows to prefer
        one = _initial_set(union, np.zeros_like(union), strong.any(axis=0), priority.max(axis=0), room, n_features)
        return np.broadcast_to(one, active.shape)
    return np.stack([_initial_set(active[k], start_rows[k], strong[k], priority[k], int(active[k].sum()),
                                  n_features) for k in range(active.shape[0])])


def grown_sets(sets, violators, active, priority, n_features, one_set):
    """Sets (K, p) after a check that found ``violators`` (K, p) next to the solutions'
    ``active`` features (K, p), ranked by ``priority`` (K, p).

    A problem's own set keeps its bucket when its active features and violators fit in
    it: they stay, and the rest of the bucket holds the features of highest priority
    (the inactive members least likely to enter leave). Otherwise the set at most
    doubles, worst violators first (celer's rule). Growing a full set by a few violators
    would otherwise double its bucket, and the K problems of a batch share the largest
    bucket: on the 5-fold CV at p = 5,000 of ``python bench/harness.py`` (measured with first
    sets sized by the starts' rows, not as :func:`initial_sets` sizes them), one fold's set
    of 512 columns growing to 513 ran the whole batch on 1,024 columns, and a later round
    on 4,096: 4.70 s, against 3.63 s keeping the bucket, in the same rounds.

    A set shared by K > 1 problems takes all their violators, in the smallest bucket that
    holds them: it is already the union of K problems' sets, and doubling it would
    double every problem's cost per iteration.
    """
    if _one_union(one_set, sets.shape[0]):
        union = violators.any(axis=0) & ~sets[0]
        limit = bucket_size(int(sets[0].sum()) + int(union.sum()), n_features)
        return np.broadcast_to(_take_best(sets[0], union, priority.max(axis=0), limit), sets.shape)
    # one problem (one_set or not), or K problems with their own sets
    grown = []
    everything = np.ones(n_features, bool)
    for k in range(sets.shape[0]):
        bucket = bucket_size(int(sets[k].sum()), n_features)
        needed = active[k] | violators[k]
        if needed.sum() <= bucket:
            grown.append(_take_best(needed, everything, priority[k], bucket))
        else:
            doubled = bucket_size(2 * int(sets[k].sum()), n_features)
            grown.append(_take_best(sets[k], violators[k], priority[k], doubled))
    return np.stack(grown)


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
    fit: BatchResult        # the last restricted solve
    host: _RoundOnHost      # ... and its round's values on the host (grad_norms: the next strong rule's)
    objective: jax.Array    # (K,) full-problem certificates
    gap: np.ndarray         # (K,)
    kkt: jax.Array          # (K,)
    n_iter: np.ndarray      # (K,) iterations over all rounds
    complete: bool          # no feature outside the working set violates optimality
    point: DualPoint        # the solutions' dual ingredients (the next lambda's carried dual)
    next_start: _Start      # where the last solve got at the next lambda (the solution where it did not)
    next_start_rows: np.ndarray  # (K, p) features nonzero in next_start (host.active: in the solution)
    columns: np.ndarray     # (K, m) the last solve's columns: W is fit.W (K, m, T) scattered on them
    valid: np.ndarray       # (K, m) False on padding columns


class _Start(NamedTuple):
    """Where K solves start: W (K, p, T), b (K, T), predictors z (K, T, n_max), inverse steps (K,)."""
    W: jax.Array
    b: jax.Array
    z: jax.Array
    gamma: jax.Array


def _solve_at_lambda(problem, lam, next_lam, work_ahead, sets, start, settings, scale, previous, column_norms,
                     *, max_rounds, one_set, mesh=None, keep_rows=False):
    """Solve on the working sets (K, p), check every feature, re-admit violators, repeat.

    Starts from ``start`` (a :class:`_Start`); ``previous`` is the :class:`DualPoint` of
    the last lambda's solutions; ``column_norms`` as in :func:`full_check`. Problems done
    early work ahead at next_lam (K,) where ``work_ahead`` (K,) (see :mod:`.batched`).
    ``keep_rows``: bring the restricted solutions to the host too (a path that keeps its W).
    """
    W, b, z, gamma = start
    dtype = W.dtype
    lam_problem = problem._replace(lam=jnp.asarray(lam, dtype))
    n_problems, n_features = W.shape[:2]
    iterations = np.zeros(n_problems, dtype=np.int64)
    tol, stop = settings.tol, settings.stop
    sub_tol, retried = tol, False
    for _ in range(max_rounds):
        columns, valid = _padded_columns(sets, n_features)
        X_S = gather_columns(problem.X, columns, valid, one_set=one_set)
        start_gamma = gamma if stop != "relative" else jnp.ones_like(gamma)
        fit = solve_on_columns(lam_problem._replace(X=X_S), W, columns, valid, b, z, start_gamma,
                               settings.replace(tol=sub_tol), jnp.asarray(next_lam, dtype), work_ahead,
                               one_set=one_set, mesh=mesh)
        del X_S     # free the restricted copy before the check's pass over X
        if stop != "relative":
            gamma = fit.ahead.gamma
        W = scatter_columns(fit.W, columns, valid, n_features=n_features)
        b, z = fit.b, fit.z
        loop_point = DualPoint(V=fit.best_V, quad=fit.best_quad, max_row=fit.best_max_row)
        norms, F, dual, kkt, active, point = full_check(lam_problem, W, b, z, sets, loop_point, previous,
                                                        column_norms, intercept=settings.intercept)
        # Everything the host decides on, in one wait for the device per round.
        host = _RoundOnHost(*to_host((fit.n_iter, fit.done, fit.ahead_iter, fit.ahead_rows, norms, F, dual, kkt,
                                      active, fit.W if keep_rows else None)))
        iterations += host.n_iter
        violators = ~sets & (host.grad_norms > lam[:, None])
        gap = np.maximum(host.objective - host.dual, 0.0)
        if violators.any():
            sets = grown_sets(sets, violators, host.active, host.grad_norms / lam[:, None], n_features, one_set)
        elif stop == "gap" and np.any(gap > tol * scale) and not retried:
            # The restricted solve certified itself with the best dual point of its
            # run; on all features that point can need more scaling (rows outside the
            # set), so the full gap can stay above tol. Continue once, tighter.
            retried, sub_tol = True, tol / 3.0
        else:
            break
    next_start = _Start(W=scatter_columns(fit.ahead.W, columns, valid, n_features=n_features), b=fit.ahead.b,
                        z=fit.ahead.z, gamma=gamma)
    # The rows nonzero in the next lambda's start: where working ahead got.
    start_rows = np.zeros_like(host.active)
    for k in range(n_problems):
        start_rows[k, columns[k][valid[k] & host.ahead_rows[k]]] = True
    return _LambdaSolution(W=W, b=b, fit=fit, host=host, objective=F, gap=gap, kkt=kkt, n_iter=iterations,
                           complete=not violators.any(), point=point, next_start=next_start,
                           next_start_rows=start_rows, columns=columns, valid=valid)


class _RoundOnHost(NamedTuple):
    """What one round brings to the host (arrays over the K problems)."""
    n_iter: np.ndarray      # (K,) iterations of the restricted solve
    done: np.ndarray        # (K,) its stopping rule was met
    ahead_iter: np.ndarray  # (K,) iterations it spent working ahead
    ahead_rows: np.ndarray  # (K, m) the nonzero rows where working ahead got
    grad_norms: np.ndarray  # (K, p) violation norms (full_check)
    objective: np.ndarray   # (K,) full-problem objectives
    dual: np.ndarray        # (K,) ... dual values
    kkt: np.ndarray         # (K,) ... KKT residuals
    active: np.ndarray      # (K, p) the solutions' nonzero rows
    W_S: np.ndarray | None  # (K, m, T) the restricted solutions, when a path keeps its W


@compact_jit(static_argnames=("n_lambdas", "squeeze"))
def _empty_stack(output, *, n_lambdas, squeeze):
    """Zeros to stack ``n_lambdas`` outputs like ``output`` in (leading axis; without the
    problems' axis under ``squeeze``), one program for all leaves."""
    return jax.tree.map(
        lambda leaf: jnp.zeros((n_lambdas,) + (leaf.shape[1:] if squeeze else leaf.shape), leaf.dtype), output)


@compact_jit(donate_argnums=(0,), static_argnames=("squeeze",))
def _store(stacked, index, output, *, squeeze):
    """Write one lambda's outputs into the stacked arrays in place (the stack is donated):
    stacking a list at the end would hold two copies of a path's W. With ``squeeze`` the
    outputs' leading axis (K = 1) is dropped: removing it afterwards would copy the stack."""
    return jax.tree.map(lambda whole, part: whole.at[index].set(part[0] if squeeze else part), stacked, output)


class _KeptRows:
    """One problem's W along a path, kept on the host as the rows of its working sets and
    made dense (L, p, T) once, at the end.

    Stacking the dense W (p, T) of every lambda as the path goes would hold the whole
    (L, p, T) array for the whole loop, next to the loop's own buffers: at the
    gene-expression benchmark's size 153 MiB (0.5 x X) for the path, against at most
    Sum_l m_l x T values here (the working sets hold a few thousand of the 20,000 rows).
    """

    def __init__(self, problem_index, n_lambdas, n_features):
        self.problem_index, self.n_lambdas, self.n_features = problem_index, n_lambdas, n_features
        self.lambda_ids, self.columns, self.rows = [], [], []

    def add(self, lambda_index, W_S, columns, valid):
        """W_S (K, m, T) on the host, columns and valid (K, m): the last restricted solve at the lambda."""
        ok = valid[self.problem_index]
        self.rows.append(W_S[self.problem_index][ok])
        self.columns.append(columns[self.problem_index][ok])
        self.lambda_ids.append(np.full(int(ok.sum()), lambda_index, np.int32))

    def dense(self):
        """(L, p, T) jax array: the kept rows, zero elsewhere."""
        rows = np.concatenate(self.rows)
        # Padded to a power of two (out-of-range lambda ids, dropped) so that paths of
        # about the same size share one compiled program.
        size = max(1024, 1 << (rows.shape[0] - 1).bit_length())
        padded_rows = np.zeros((size,) + rows.shape[1:], rows.dtype)
        padded_rows[:rows.shape[0]] = rows
        lambda_ids = np.full(size, self.n_lambdas, np.int32)
        lambda_ids[:rows.shape[0]] = np.concatenate(self.lambda_ids)
        columns = np.zeros(size, np.int32)
        columns[:rows.shape[0]] = np.concatenate(self.columns)
        return _dense_from_rows(padded_rows, lambda_ids, columns, n_lambdas=self.n_lambdas,
                                n_features=self.n_features)


@compact_jit(static_argnames=("n_lambdas", "n_features"))
def _dense_from_rows(rows, lambda_ids, columns, *, n_lambdas, n_features):
    """(n_lambdas, n_features, T) zeros with rows (R, T) set at (lambda_ids, columns) (R,);
    entries whose lambda id is out of range are dropped."""
    dense = jnp.zeros((n_lambdas, n_features, rows.shape[1]), rows.dtype)
    return dense.at[lambda_ids, columns].set(rows, mode="drop")


def working_set_path(problem: Problem, lambdas, W0, b0, settings: Settings, *, lambda_start, scale,
                     per_lambda=None, on_lambda=None, max_rounds=30, squeeze=False, keep_W=None, mesh=None):
    """K warm-started paths with strong-rule working sets.

    Parameters
    ----------
    problem : Problem with ``weights`` (K, T, n_max); ``lam`` is ignored
    lambdas : (K, n_lambdas) each problem's decreasing grid
    W0, b0 : (K, p, T), (K, T) warm starts, solving ``lambda_start`` (K,) (lambda_max for a cold start)
    settings : the :class:`~.fista.Settings` of every solve (tol, max_iter, intercept, stop)
    scale : (K,) the gap rule's scale (null-model loss) of each problem
    per_lambda : optional ``f(fit, z) -> pytree`` of what to keep per lambda, from the
        lambda's :class:`Fit` over the K problems (W (K, p, T), intercept (K, T), the rest
        (K,)) and z (K, T, n_max), the solutions' predictors on all samples (from the
        restricted solve: no pass over X needed); default: the Fit without W (stacking
        every lambda's dense W would hold (L, K, p, T) for the whole loop; use ``keep_W``)
    on_lambda : optional ``f(lam (K,))`` called after each lambda (progress bars)
    squeeze : with K = 1, stack the outputs without their K axis, and return n_iter and
        converged as (L,)
    keep_W : optional index of the problem whose W to return, (L, p, T), assembled at the
        end from its working sets' rows (see :class:`_KeptRows`)
    mesh : the devices the K problems are spread over (:func:`~.sharding.spread_batch`),
        each solving its own; None on one device

    Returns
    -------
    (stacked per_lambda outputs with a leading n_lambdas axis, n_iter (L, K), converged (L, K),
    the kept W or None) (without the K axes under ``squeeze``)
    """
    lambdas = np.asarray(lambdas, dtype=np.float64)
    n_problems, n_lambdas = lambdas.shape
    if squeeze and n_problems != 1:
        raise ValueError(f"squeeze=True drops the problems' axis, so it needs one problem, not {n_problems}.")
    dtype = W0.dtype
    n_features = W0.shape[1]
    # One X for all tasks gathers cheaply per problem (K x n x m), so each problem gets its
    # own set; padded per-task X would cost K x T x n x m, so those problems share one set,
    # the union of theirs.
    one_set = problem.X.ndim == 3
    W, b = W0, b0
    z = predictors(problem, W, b)
    start = _Start(W=W, b=b, z=z, gamma=jnp.ones((n_problems,), dtype))
    ahead_iter = np.zeros(n_problems, dtype=np.int64)
    # The certified rules keep every point's intercepts optimal (objective.profile_intercepts),
    # so the checks can bound their dual points' rows instead of computing them.
    intercept, stop = settings.intercept, settings.stop
    column_norms = (_max_column_norms(problem.X, n_tasks=W0.shape[2]) if keeps_intercepts_optimal(intercept, stop)
                    else None)
    start_check = full_check(problem._replace(lam=jnp.asarray(lambda_start, dtype)), W, b, z,
                             np.zeros((n_problems, n_features), bool), no_dual_point(problem, n_problems),
                             no_dual_point(problem, n_problems), column_norms, intercept=intercept)
    grad_norms, active, lam_prev, scale = to_host((start_check[0], start_check[4], lambda_start, scale))
    lam_prev, scale = lam_prev.astype(np.float64), scale.astype(np.float64)
    start_rows = active
    point = start_check[-1]
    n_iters, convergeds = [], []
    kept = None if keep_W is None else _KeptRows(int(keep_W), n_lambdas, n_features)
    for k in range(n_lambdas):
        lam = lambdas[:, k]
        last = k == n_lambdas - 1
        next_lam = lam if last else lambdas[:, k + 1]
        # Working ahead changes the next lambda's warm start, so not under "relative",
        # which keeps the R package's iterates.
        work_ahead = np.full(n_problems, stop != "relative" and not last)
        # Everything active in the last solution, then the warm start's rows and the strong
        # rule's candidates, per problem (sets are unions under ``one_set``).
        strong = grad_norms >= (2.0 * lam - lam_prev)[:, None]
        sets = initial_sets(active, start_rows, strong, grad_norms / lam[:, None], n_features, one_set)
        if (start_rows & ~sets).any():      # the start's rows left out start at zero
            W_start, z_start = restricted_start(problem, start.W, start.b, sets)
            start = start._replace(W=W_start, z=z_start)
        sol = _solve_at_lambda(problem, lam, next_lam, work_ahead, sets, start, settings, scale, point,
                               column_norms, max_rounds=max_rounds, one_set=one_set,
                               mesh=mesh, keep_rows=kept is not None)
        W, b, grad_norms, point, start = sol.W, sol.b, sol.host.grad_norms, sol.point, sol.next_start
        active, start_rows = sol.host.active, sol.next_start_rows
        # iterations spent ahead at this lambda count towards it
        n_iter = sol.n_iter + ahead_iter
        ahead_iter = sol.host.ahead_iter
        converged = meets_rule(settings, scale, gap=sol.gap, kkt=sol.host.kkt, done=sol.host.done) & sol.complete
        fit = Fit(W=W, intercept=b, objective=sol.objective, n_iter=jnp.asarray(n_iter),
                  converged=jnp.asarray(converged), dual_gap=jnp.asarray(sol.gap, dtype), kkt_residual=sol.kkt)
        if kept is not None:
            kept.add(k, sol.host.W_S, sol.columns, sol.valid)
        output = fit._replace(W=None) if per_lambda is None else per_lambda(fit, sol.fit.z)
        if k == 0:
            stacked = _empty_stack(output, n_lambdas=n_lambdas, squeeze=squeeze)
        stacked = _store(stacked, k, output, squeeze=squeeze)
        n_iters.append(n_iter)
        convergeds.append(converged)
        lam_prev = lam
        # The lambda's freed buffers stay in the C allocator's heaps (see .host_memory).
        release_if_large(problem.X)
        if on_lambda is not None:
            on_lambda(lam)
    n_iters, convergeds = np.stack(n_iters), np.stack(convergeds)
    W_kept = None if kept is None else kept.dense()
    if squeeze:
        return stacked, n_iters[:, 0], convergeds[:, 0], W_kept
    return stacked, n_iters, convergeds, W_kept
