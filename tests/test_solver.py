import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mtlcomb_jax as mc
from mtlcomb_jax.solver import _solve_jit
from conftest import simulate


@pytest.mark.parametrize("row", range(5))
def test_parity_with_R_solve(tutorial, row):
    data, raw = tutorial
    lam, C, C2 = raw["solve_grid"][row]
    res = mc.solve(data, lam, similarity=C, ridge=C2, intercept=False, stop="relative", tol=1e-12,
                   max_iter=20000)
    np.testing.assert_allclose(np.asarray(res.W), raw["solve_W"][row], atol=1e-6, rtol=0)
    np.testing.assert_allclose(float(res.objective), raw["solve_objective"][row], rtol=1e-9)
    assert int(res.n_iter) == int(raw["solve_n_iter"][row])


@pytest.mark.parametrize("row", range(5))
def test_unequal_sizes_reach_the_oracle(unequal, row):
    data, raw = unequal
    lam, C, C2 = raw["solve_grid"][row]
    res = mc.solve(data, lam, similarity=C, ridge=C2, intercept=False, stop="relative", tol=1e-12,
                   max_iter=50000)
    oracle = raw["oracle_solve_objective"][row]
    assert float(res.objective) <= oracle * (1 + 1e-9)


def test_all_regression_shared_X_equals_sklearn_multitask_lasso():
    from sklearn.linear_model import MultiTaskLasso
    X, Y, _, _ = simulate(n_tasks=5, n=60, p=30, n_cls=0, shared=True)
    data = mc.MultiTaskData.from_outcomes(X, Y, "regression")
    for lam in (0.5, 0.1):
        ours = mc.solve(data, lam, intercept=False, tol=1e-12, max_iter=50000)
        ref = MultiTaskLasso(alpha=lam, fit_intercept=False, tol=1e-12, max_iter=100000).fit(X, Y)
        np.testing.assert_allclose(np.asarray(ours.W), ref.coef_.T, atol=1e-6)


def test_shared_and_padded_layouts_agree():
    X, Y, types, _ = simulate(n_tasks=4, n=50, p=12, shared=True)
    shared = mc.MultiTaskData.from_outcomes(X, Y, types)
    padded = mc.MultiTaskData.from_tasks([X] * 4, [Y[:, t] for t in range(4)], types)
    a = mc.solve(shared, 0.05, similarity=0.3, tol=1e-10)
    b = mc.solve(padded, 0.05, similarity=0.3, tol=1e-10)
    np.testing.assert_allclose(np.asarray(a.W), np.asarray(b.W), atol=1e-6)
    np.testing.assert_allclose(np.asarray(a.intercept), np.asarray(b.intercept), atol=1e-6)


@pytest.mark.parametrize("intercept", [False, True])
def test_certificate_bounds_suboptimality_and_kkt(unequal, intercept):
    data, raw = unequal
    lam, C, C2 = raw["solve_grid"][3]
    res = mc.solve(data, lam, similarity=C, ridge=C2, intercept=intercept, tol=1e-7)
    assert bool(res.converged)
    best = mc.solve(data, lam, similarity=C, ridge=C2, intercept=intercept, stop="kkt", tol=1e-10,
                    max_iter=50000)
    # the gap bounds the distance to the optimal objective
    assert float(res.objective) - float(best.objective) <= float(res.dual_gap) + 1e-12
    assert float(res.dual_gap) >= 0
    # optimality conditions, checked independently with NumPy
    W, b = np.asarray(best.W), np.asarray(best.intercept)
    grad_W, grad_b = numpy_gradient(data, W, b, C, C2)
    norms = np.linalg.norm(W, axis=1)
    active = norms > 0
    viol_active = np.linalg.norm(grad_W[active] + lam * W[active] / norms[active, None], axis=1)
    viol_zero = np.maximum(np.linalg.norm(grad_W[~active], axis=1) - lam, 0)
    assert max(viol_active.max(initial=0), viol_zero.max(initial=0)) <= 1e-9
    if intercept:
        assert np.abs(grad_b).max() <= 1e-9
    assert float(best.kkt_residual) <= 1e-10


def numpy_gradient(data, W, b, C, C2):
    """Gradient of the smooth part, written independently in NumPy."""
    X, y, s = np.asarray(data.X), np.asarray(data.y), np.asarray(data.weights)
    is_cls = np.asarray(data.is_classification)
    T = y.shape[0]
    grad_W, grad_b = np.zeros_like(W), np.zeros(T)
    for t in range(T):
        z = X[t] @ W[:, t] + b[t]
        if is_cls[t]:
            v = 2.0 * s[t] * (-y[t] / (1 + np.exp(y[t] * z)))
        else:
            v = 0.5 * s[t] * (-2) * (y[t] - z)
        grad_W[:, t] = X[t].T @ v
        grad_b[t] = v.sum()
    G = np.eye(T) - 1 / T
    return grad_W + C * W @ G + C2 * W, grad_b


def test_intercept_is_not_penalised():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40, 5))
    data = mc.MultiTaskData.from_outcomes(X, np.column_stack([X[:, 0] + 100.0, X[:, 1] - 50.0]), "regression")
    res = mc.solve(data, 1e3, ridge=10.0)          # huge penalty: W = 0, intercepts stay the means
    assert np.all(np.asarray(res.W) == 0)
    np.testing.assert_allclose(np.asarray(res.intercept), [100 + X[:, 0].mean(), -50 + X[:, 1].mean()],
                               rtol=1e-8)


def test_jit_vmap_over_lambdas_equals_loop(tutorial):
    data, _ = tutorial
    lams = jnp.array([1.0, 0.5, 0.2])
    batched = jax.vmap(lambda lam: mc.solve(data, lam, intercept=False, tol=1e-9).W)(lams)
    for i, lam in enumerate(lams):
        single = mc.solve(data, float(lam), intercept=False, tol=1e-9).W
        np.testing.assert_allclose(np.asarray(batched[i]), np.asarray(single), atol=1e-7)
    jitted = jax.jit(lambda d, lam: mc.solve(d, lam, intercept=False).objective)
    np.testing.assert_allclose(float(jitted(data, 0.5)),
                               float(mc.solve(data, 0.5, intercept=False).objective), rtol=1e-12)


def test_new_hyperparameters_do_not_recompile():
    Xs, ys, types, _ = simulate(n_tasks=3, n=30, p=9, seed=5)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    mc.solve(data, 0.3, similarity=0.1, ridge=0.1, tol=1e-6)
    before = _solve_jit._cache_size()
    mc.solve(data, 0.2, similarity=0.5, ridge=0.0, tol=1e-7, max_iter=300)
    mc.solve(data, 0.05, similarity=1.0, ridge=2.0, tol=1e-5, loss_weighting="none")
    assert _solve_jit._cache_size() == before


def test_float32_runs_and_agrees_with_float64():
    Xs, ys, types, _ = simulate(n_tasks=4, n=60, p=20, seed=2)
    d64 = mc.MultiTaskData.from_tasks(Xs, ys, types)
    d32 = mc.MultiTaskData.from_tasks([x.astype(np.float32) for x in Xs], [y.astype(np.float32) for y in ys], types)
    r64 = mc.solve(d64, 0.05, similarity=0.2, tol=1e-10)
    r32 = mc.solve(d32, 0.05, similarity=0.2)
    assert r32.W.dtype == jnp.float32 and bool(r32.converged)
    np.testing.assert_allclose(float(r32.objective), float(r64.objective), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(r32.W), np.asarray(r64.W), atol=2e-3)


def test_max_iter_reports_and_warns(tutorial):
    data, _ = tutorial
    with pytest.warns(mc.ConvergenceWarning, match="did not meet the stopping rule"):
        res = mc.solve(data, 0.1, max_iter=3)
    assert not bool(res.converged) and int(res.n_iter) == 3


def test_loss_weighting_none_changes_the_objective():
    Xs, ys, types, _ = simulate(n_tasks=2, n=40, p=6, n_cls=1)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    zero = np.zeros((6, 2))
    weighted = mc.solve(data, 1e6, intercept=False, W_init=zero, max_iter=1)
    plain = mc.solve(data, 1e6, intercept=False, W_init=zero, loss_weighting="none", max_iter=1)
    # at W = 0: mtlcomb = 0.5 * mean(y^2) + 2 log 2; none = mean(y^2) + log 2
    msq = np.mean(ys[0] ** 2)
    np.testing.assert_allclose(float(weighted.objective), 0.5 * msq + 2 * np.log(2), rtol=1e-12)
    np.testing.assert_allclose(float(plain.objective), msq + np.log(2), rtol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(lam=-0.1), r"lam=-0.1 is negative"),
    (dict(lam=0.1, similarity=-1.0), r"similarity=-1.0 is negative"),
    (dict(lam=0.1, ridge=-2.0), r"ridge=-2.0 is negative"),
    (dict(lam=float("nan")), r"lam=nan is not finite"),
    (dict(lam=0.1, stop="fast"), r"stop='fast' is unknown"),
    (dict(lam=0.1, loss_weighting="equal"), r"loss_weighting='equal' is unknown"),
    (dict(lam=0.1, W_init=np.zeros((2, 2))), r"W_init has shape \(2, 2\)"),
])
def test_bad_solver_arguments(kwargs, message):
    Xs, ys, types, _ = simulate(n_tasks=2, n=20, p=4, n_cls=1)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    with pytest.raises(ValueError, match=message):
        mc.solve(data, **kwargs)


def test_profiled_intercepts_are_optimal_for_the_given_W():
    """Newton's steps put each task's intercept where its loss derivatives sum to zero
    (least squares in one step, logistic quadratically: in the loop each start is the
    last point's optimum, a short way off; here 2 units), and the data loss goes down."""
    from mtlcomb_jax import losses
    from mtlcomb_jax.objective import make_problem, profile_intercepts
    Xs, ys, types, W_true = simulate(n_tasks=4, n_cls=2)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    problem = make_problem(data, 0.1)
    W = jnp.asarray(0.5 * W_true)
    b = jnp.asarray([2.0, -2.0, 2.0, -2.0])
    z = losses.predictor(problem.X, W, b)
    def largest_slope(z):
        return float(jnp.max(jnp.abs(jnp.sum(losses.data_loss_derivatives(
            z, problem.y, problem.weights, problem.is_classification, problem.scales), axis=1))))

    z_new, b_new = profile_intercepts(problem, z, b)
    assert largest_slope(z_new) < 0.1 * largest_slope(z)
    z_again, b_again = profile_intercepts(problem, z_new, b_new)
    assert largest_slope(z_again) < 1e-3 * largest_slope(z_new)                    # quadratic convergence
    assert largest_slope(profile_intercepts(problem, z_again, b_again)[0]) < 1e-12
    np.testing.assert_allclose(np.asarray(z_new), np.asarray(losses.predictor(problem.X, W, b_new)), atol=1e-12)
    before = losses.data_loss(z, problem.y, problem.weights, problem.is_classification, problem.scales)
    after = losses.data_loss(z_new, problem.y, problem.weights, problem.is_classification, problem.scales)
    assert float(after) < float(before)


@pytest.mark.slow
def test_the_loops_dual_bound_covers_the_exact_dual_point():
    """The gap rule rates its dual point in the loop by a bound on the largest row norm
    (no second backward product). The bound is never below the exact row norm and is
    tight, so the loop's dual value is a valid lower bound on F* and not a loose one."""
    from mtlcomb_jax import losses
    from mtlcomb_jax.penalties import row_norms
    from mtlcomb_jax.fista import fista_step, init_state, stop_scale
    from mtlcomb_jax.objective import make_problem, max_column_norms, scaled_dual_value
    Xs, ys, types, W_true = simulate(n_tasks=4, n_cls=2)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    problem = make_problem(data, 0.05)                 # no quadratic terms: grad Q = 0
    state = init_state(problem, jnp.zeros(W_true.shape), jnp.zeros(4), 1.0)
    scale = stop_scale(problem, True, "gap", state.W.dtype)
    norms = max_column_norms(problem.X, 4)
    for _ in range(6):
        state = fista_step(state, problem, 1e-12, scale, norms, intercept=True, stop="gap")
        assert float(jnp.max(jnp.abs(jnp.sum(state.best_V, axis=1)))) < 1e-12       # intercept-feasible
        exact = float(jnp.max(row_norms(losses.backproject(problem.X, state.best_V))))
        bound = float(state.best_max_row)
        assert exact <= bound <= exact * (1 + 1e-8)
        assert float(state.best_dual) <= float(scaled_dual_value(problem, state.best_V, exact, 0.0)) + 1e-12


def test_float32_step_lengthens_again_near_a_solution():
    # Near a solution a float32 step's curvature term is within a few times of the
    # sufficient-decrease test's rounding slack (16 eps |F|). The search must still start
    # from longer steps there, or the step stays at the largest curvature it met (gamma
    # stuck at 16 where 8 is accepted, on the gene-expression CV's tail).
    from mtlcomb_jax.fista import run_fista
    from mtlcomb_jax.objective import make_problem
    Xs, ys, types, _ = simulate(n_tasks=6, n=80, p=60, seed=3)
    data = mc.MultiTaskData.from_tasks([x.astype(np.float32) for x in Xs], [y.astype(np.float32) for y in ys],
                                       types)
    lam = 0.1 * float(mc.lambda_max(data))
    warm = mc.solve(data, 1.05 * lam, tol=1e-6)         # a path's warm start, 5 % off
    problem = make_problem(data, lam)
    fresh = run_fista(problem, jnp.zeros_like(warm.W), jnp.zeros_like(warm.intercept), 0.0, 200, 1.0,
                      intercept=True, stop="gap")
    too_short = 8.0 * float(fresh.gamma)                 # an inverse step 8 x what a fresh solve settles at
    state = run_fista(problem, warm.W, warm.intercept, 0.0, 60, too_short, intercept=True, stop="gap")
    assert float(state.gamma) < 0.75 * too_short
    assert np.isfinite(float(state.objective)) and float(state.objective) <= float(warm.objective)
