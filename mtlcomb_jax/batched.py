"""K solves in one loop that do not idle while the slowest finishes.

``jax.vmap`` of a ``while_loop`` runs until the last of its K problems stops, and
the others' iterations in the meantime are computed and thrown away. Along a path
that waste is large: on the 10-fold CV of the gene-expression benchmark
(``python bench/bench_genomics.py``), a fold that needs one iteration at a lambda often
sits beside folds that need tens, and the next lambda reverses the roles, so every
lambda costs the slowest fold's iterations for all folds.

Here the loop runs over the batch explicitly (one vmapped :func:`~.fista.fista_step`
per iteration, in chunks of iterations where :mod:`.loops` says so) until every problem
has met its stopping rule at its lambda (or hit ``max_iter``). A problem that is done
early records its result and then *works ahead*: it keeps iterating at its next lambda,
from its solution, until the others finish. What it reaches is returned as the warm
start for that next lambda, which then needs a few iterations instead of tens. The
results at the current lambda are the same as without working ahead (the same iterates,
stopped by the same rule).
"""
from __future__ import annotations

from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp

from .fista import FistaState, Settings, fista_step, init_state, stop_scale
from .loops import loop_shape, while_loop
from .objective import Problem, max_column_norms, null_start


class BatchResult(NamedTuple):
    """K solves at their lambdas, and where working ahead got at the next ones."""
    W: jax.Array            # (K, m, T) the solutions at lam
    b: jax.Array            # (K, T)
    z: jax.Array            # (K, T, n_max) their predictors
    n_iter: jax.Array       # (K,) iterations at lam
    done: jax.Array         # (K,) the stopping rule was met at lam
    best_V: jax.Array       # (K, T, n_max) the best dual point seen at lam ...
    best_quad: jax.Array    # (K,)
    best_max_row: jax.Array  # (K,)
    ahead: FistaState       # (leading K) the states reached at next_lam (the solutions where not ahead)
    ahead_iter: jax.Array   # (K,) iterations spent working ahead
    ahead_rows: jax.Array   # (K, m) bool: the rows of ahead.W that are nonzero


def _where(mask, new, old):
    """Per-problem choice between two pytrees with a leading K axis."""
    def pick(a, b):
        return jnp.where(mask.reshape(mask.shape + (1,) * (a.ndim - 1)), a, b)
    return jax.tree.map(pick, new, old)


def _restart(state: FistaState, problem: Problem, trials: int) -> FistaState:
    """The state for a new lambda (``problem.lam``) from the current iterate: momentum and
    the dual bound start afresh, the step size (and whether it may lengthen) carries on."""
    return init_state(problem, state.W, state.b, state.gamma, state.z, trials=trials)._replace(relax=state.relax)


def solve_batch(problem: Problem, axes, W0, b0, z0, gamma0, settings: Settings, next_lam,
                work_ahead) -> BatchResult:
    """Run K problems (``problem`` batched along ``axes``, lam (K,)) to the stopping rule of
    ``settings`` (:class:`~.fista.Settings`, the same for all K).

    W0 (K, m, T), b0 (K, T), z0 (K, T, n_max) their predictors, gamma0 (K,) inverse
    steps; next_lam (K,) the lambdas to work ahead at, where ``work_ahead`` (K,) bool.
    Traceable (call it inside ``jit``).
    """
    scale = jax.vmap(lambda p: stop_scale(p, settings, W0.dtype), in_axes=(axes,))(problem)
    column_norms = jax.vmap(lambda p: max_column_norms(p.X, W0.shape[2]), in_axes=(axes,))(problem)
    shape = loop_shape()
    step = jax.vmap(lambda s, p, c, norms: fista_step(s, p, settings, c, norms, trials=shape.trials),
                    in_axes=(0, axes, 0, 0))
    restart = jax.vmap(partial(_restart, trials=shape.trials), in_axes=(0, axes))
    # Problems at or above their lambda_max start at their exact solution and take no step.
    W0, b0, z0, above = jax.vmap(lambda p, W, b, z: null_start(p, W, b, z, settings.intercept),
                                 in_axes=(axes, 0, 0, 0))(problem, W0, b0, z0)
    state = jax.vmap(partial(init_state, trials=shape.trials), in_axes=(axes, 0, 0, 0, 0))(problem, W0, b0, gamma0,
                                                                                          z0)
    state = state._replace(done=above)
    K = W0.shape[0]
    ahead = jnp.zeros((K,), bool)

    def running(s):
        return ~s.done & (s.n_iter < settings.max_iter)

    def still_solving(carry):
        s, is_ahead, _ = carry
        return jnp.any(~is_ahead & running(s))

    def when_any(mask, update, value):
        """``update()`` where any of mask holds: a branch that skips the work on the CPU, a
        select on other backends (see .loops)."""
        if shape.select:
            return update()
        return jax.lax.cond(jnp.any(mask), update, lambda: value)

    def body(carry):
        s, is_ahead, result = carry
        lam = jnp.where(is_ahead, next_lam, problem.lam)
        moving = running(s)
        s = _where(moving, step(s, problem._replace(lam=lam), scale, column_norms), s)
        finished = moving & ~is_ahead & ~running(s)
        result = when_any(finished, lambda: _where(finished, s, result), result)
        go_ahead = finished & s.done & work_ahead
        s = when_any(go_ahead, lambda: _where(go_ahead, restart(s, problem._replace(lam=next_lam)), s), s)
        return s, is_ahead | go_ahead, result

    state, is_ahead, result = while_loop(still_solving, body, (state, ahead, state), shape)
    # Problems that never ran (max_iter 0) or never went ahead: their result is their state.
    result = _where(is_ahead, result, state)
    return BatchResult(W=result.W, b=result.b, z=result.z, n_iter=result.n_iter, done=result.done,
                       best_V=result.best_V, best_quad=result.best_quad, best_max_row=result.best_max_row,
                       ahead=state, ahead_iter=jnp.where(is_ahead, state.n_iter, 0),
                       ahead_rows=jnp.any(state.W != 0, axis=-1))
