"""K solves in one loop: problems done early work ahead at their next lambda without
changing anyone's result at the current one."""
import numpy as np
import pytest

import jax
import jax.numpy as jnp

import mtlcomb_jax as mc
from conftest import simulate
from mtlcomb_jax.batched import solve_batch
from mtlcomb_jax.cv import fold_weights, make_folds
from mtlcomb_jax.fista import Settings, run_fista
from mtlcomb_jax.objective import make_problem, objective_value
from mtlcomb_jax.working_set import _BATCH_AXES


@pytest.fixture(scope="module")
def folds_problem():
    Xs, ys, types, _ = simulate(n_tasks=4, n=40, p=30, n_true=5, n_cls=2)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    train, _ = fold_weights(data, make_folds(data, 3, seed=0), 3)
    lam_max = float(mc.lambda_max(data))
    # lambdas of very different difficulty from W = 0: fold 0 is done almost at once
    lams = jnp.asarray([0.9, 0.2, 0.05]) * lam_max
    problem = make_problem(data, 0.0)._replace(weights=train, lam=lams)
    return problem, lams


def _start(problem, K):
    p, T = problem.X.shape[-1], problem.y.shape[0]
    return (jnp.zeros((K, p, T)), jnp.zeros((K, T)), jnp.zeros((K,) + problem.y.shape), jnp.ones((K,)))


@pytest.mark.slow
def test_results_at_the_current_lambda_do_not_depend_on_working_ahead(folds_problem):
    problem, lams = folds_problem
    W0, b0, z0, g0 = _start(problem, 3)
    next_lam = 0.8 * lams
    settings = Settings(tol=1e-9, max_iter=5000, intercept=True, stop="gap")
    run = jax.jit(lambda ahead: solve_batch(problem, _BATCH_AXES, W0, b0, z0, g0, settings, next_lam, ahead))
    plain = run(jnp.zeros(3, bool))
    ahead = run(jnp.ones(3, bool))
    alone = jax.vmap(lambda p, W, b, z, g: run_fista(p, W, b, settings, g, z),
                     in_axes=(_BATCH_AXES, 0, 0, 0, 0))(problem, W0, b0, z0, g0)
    for result in (plain, ahead):
        np.testing.assert_array_equal(np.asarray(result.W), np.asarray(alone.W))
        np.testing.assert_array_equal(np.asarray(result.n_iter), np.asarray(alone.n_iter))
        assert np.all(np.asarray(result.done))
    n_iter = np.asarray(alone.n_iter)
    assert n_iter[0] < n_iter[2]                       # the folds really differ
    np.testing.assert_array_equal(np.asarray(plain.ahead_iter), 0)
    spent = np.asarray(ahead.ahead_iter)
    assert spent[0] > 0 and spent[2] == 0              # the slowest has no time to work ahead
    # where it went ahead, the state is better at the next lambda than the solution it left
    for k in np.flatnonzero(spent):
        at_next = problem._replace(weights=problem.weights[k], lam=next_lam[k])
        left = objective_value(at_next, ahead.W[k], ahead.b[k])
        reached = objective_value(at_next, ahead.ahead.W[k], ahead.ahead.b[k])
        assert float(reached) < float(left)


@pytest.mark.slow
def test_a_screened_cv_warm_starts_from_where_the_folds_got_ahead(monkeypatch):
    """The CV with working ahead gives the same held-out metrics as without it (both to tol)."""
    from mtlcomb_jax import working_set
    Xs, ys, types, _ = simulate(n_tasks=4, n=50, p=300, n_true=6, n_cls=2)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    common = dict(n_folds=4, n_lambdas=12, lambda_min_ratio=0.02, tol=1e-10, seed=0, screening=True)
    with_ahead = mc.cross_validate(data, **common)
    solve = working_set._solve_at_lambda

    def never_ahead(problem, lam, next_lam, work_ahead, *args, **kwargs):
        return solve(problem, lam, next_lam, np.zeros_like(work_ahead), *args, **kwargs)

    monkeypatch.setattr(working_set, "_solve_at_lambda", never_ahead)
    without = mc.cross_validate(data, **common)
    assert with_ahead.converged.all() and without.converged.all()
    np.testing.assert_allclose(with_ahead.task_metric, without.task_metric, rtol=1e-4, atol=1e-6)
    assert with_ahead.n_iter.sum() != without.n_iter.sum()     # it did change the work
