"""The FISTA loop's stopping rules at their defaults (mtlcomb_jax.fista.default_tol): float32
converges and agrees with float64 to within the float32 certificate."""
import jax.numpy as jnp
import numpy as np
import pytest

import mtlcomb_jax as mc
from problems import simulate


@pytest.mark.parametrize("screening", ["auto", pytest.param(True, marks=pytest.mark.slow)])
def test_float32_defaults_converge_and_agree_with_float64_within_the_certificate(screening):
    X, Y, types, _ = simulate(n_tasks=4, n=60, p=300, n_true=6, n_cls=2, seed=3, shared=True)
    d32 = mc.MultiTaskData.from_outcomes(X.astype(np.float32), Y, types)
    d64 = mc.MultiTaskData.from_outcomes(X, Y, types)
    path32 = mc.fit_path(d32, n_lambdas=20, screening=screening)
    assert path32.W.dtype == np.float32 and bool(np.all(np.asarray(path32.converged)))
    cv32 = mc.cross_validate(d32, n_folds=3, n_lambdas=10, screening=screening)
    assert bool(np.all(cv32.converged))
    exact = mc.fit_path(d64, lambdas=np.asarray(path32.lambdas, np.float64), tol=1e-10)
    F32, F64 = np.asarray(path32.objective, np.float64), np.asarray(exact.objective)
    rounding = 1e-6 * np.abs(F64)
    # F* <= F32 (to rounding), and F32 - F* <= the float32 certificate
    assert np.all(F32 >= F64 - rounding)
    assert np.all(F32 - F64 <= np.asarray(path32.dual_gap, np.float64) + rounding)
    assert np.max(np.abs(F32 - F64) / np.abs(F64)) < 1e-3


@pytest.mark.slow
def test_the_loops_dual_bound_covers_the_exact_dual_point():
    """The gap rule rates its dual point in the loop by a bound on the largest row norm
    (no second backward product). The bound is never below the exact row norm and is
    tight, so the loop's dual value is a valid lower bound on F* and not a loose one."""
    from mtlcomb_jax import losses
    from mtlcomb_jax.penalties import row_norms
    from mtlcomb_jax.fista import Settings, fista_step, init_state, stop_scale
    from mtlcomb_jax.objective import make_problem, max_column_norms, scaled_dual_value
    Xs, ys, types, W_true = simulate(n_tasks=4, n_cls=2)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    problem = make_problem(data, 0.05)                 # no quadratic terms: grad Q = 0
    state = init_state(problem, jnp.zeros(W_true.shape), jnp.zeros(4), 1.0)
    settings = Settings(tol=1e-12, max_iter=0, intercept=True, stop="gap")     # the step ignores max_iter
    scale = stop_scale(problem, settings, state.W.dtype)
    norms = max_column_norms(problem.X, 4)
    for _ in range(6):
        state = fista_step(state, problem, settings, scale, norms)
        assert float(jnp.max(jnp.abs(jnp.sum(state.best_V, axis=1)))) < 1e-12       # intercept-feasible
        exact = float(jnp.max(row_norms(losses.backproject(problem.X, state.best_V))))
        bound = float(state.best_max_row)
        assert exact <= bound <= exact * (1 + 1e-8)
        assert float(state.best_dual) <= float(scaled_dual_value(problem, state.best_V, exact, 0.0)) + 1e-12


@pytest.mark.slow   # about 5 s (the default run stays within 5 minutes on 2 cores)
def test_float32_step_lengthens_again_near_a_solution():
    # Near a solution a float32 step's curvature term is within a few times of the
    # sufficient-decrease test's rounding slack (16 eps |F|). The search must still start
    # from longer steps there, or the step stays at the largest curvature it met (gamma
    # stuck at 16 where 8 is accepted, on the gene-expression CV's tail).
    from mtlcomb_jax.fista import Settings, run_fista
    from mtlcomb_jax.objective import make_problem
    Xs, ys, types, _ = simulate(n_tasks=6, n=80, p=60, seed=3)
    data = mc.MultiTaskData.from_tasks([x.astype(np.float32) for x in Xs], [y.astype(np.float32) for y in ys],
                                       types)
    lam = 0.1 * float(mc.lambda_max(data))
    warm = mc.solve(data, 1.05 * lam, tol=1e-6)         # a path's warm start, 5 % off
    problem = make_problem(data, lam)
    fresh = run_fista(problem, jnp.zeros_like(warm.W), jnp.zeros_like(warm.intercept),
                      Settings(tol=0.0, max_iter=200, intercept=True, stop="gap"), 1.0)
    too_short = 8.0 * float(fresh.gamma)                 # an inverse step 8 x what a fresh solve settles at
    state = run_fista(problem, warm.W, warm.intercept, Settings(tol=0.0, max_iter=60, intercept=True, stop="gap"),
                      too_short)
    assert float(state.gamma) < 0.75 * too_short
    assert np.isfinite(float(state.objective)) and float(state.objective) <= float(warm.objective)
