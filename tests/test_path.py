"""The regularization path (mtlcomb_jax.path): lambda_max and the zero solution at and above
it, the lambda grid and its arguments, and one lambda of a path as a solve result."""
import numpy as np
import pytest

import mtlcomb_jax as mc
from problems import simulate, tasks_data


def test_lambda_max_gives_the_zero_solution():
    data = tasks_data(n_tasks=4, n=50, p=15, seed=7)
    for intercept in (False, True):
        lam = mc.lambda_max(data, intercept=intercept)
        assert np.all(np.asarray(mc.solve(data, lam * 1.0001, intercept=intercept).W) == 0)
        assert np.any(np.asarray(mc.solve(data, lam * 0.95, intercept=intercept).W) != 0)


@pytest.mark.slow
def test_at_and_above_lambda_max_the_solution_is_exactly_zero(small):
    lam_max = mc.lambda_max(small)
    for lam in (lam_max, 2 * lam_max):
        res = mc.solve(small, lam)
        assert not np.any(np.asarray(res.W)) and bool(res.converged) and int(res.n_iter) == 0
    assert mc.fit_path(small, n_lambdas=4).n_selected()[0] == 0
    assert mc.fit_path(small, n_lambdas=4, screening=True).n_selected()[0] == 0


@pytest.mark.parametrize("kind", ["zero_X", "constant_y"])
def test_degenerate_problems_raise_instead_of_a_nan_grid(kind):
    X, Y, types, _ = simulate(n_tasks=2, n=40, p=4, n_cls=0, shared=True)
    if kind == "zero_X":
        X = np.zeros_like(X)
    else:
        Y = np.ones_like(Y)
    data = mc.MultiTaskData.from_outcomes(X, Y, types)
    cause = "X is all zero" if kind == "zero_X" else "no feature is correlated"
    for call in (lambda: mc.fit_path(data), lambda: mc.cross_validate(data, n_folds=3),
                 lambda: mc.MTLCombCV(n_folds=3, task_types=types).fit(X, Y)):
        with pytest.raises(ValueError, match=f"lambda_max is 0: {cause}"):
            call()


@pytest.mark.parametrize("lambdas, message", [
    ([0.1, 0.5], "decreasing order"), ([0.5, -0.1], "positive and finite"), ([], "empty")])
def test_bad_lambdas(tutorial, lambdas, message):
    with pytest.raises(ValueError, match=message):
        mc.fit_path(tutorial[0], lambdas)


def test_bad_grid_and_fold_counts(tutorial):
    data = tutorial[0]
    with pytest.raises(ValueError, match="n_folds=1 is out of range: it must be >= 2"):
        mc.cross_validate(data, n_folds=1)
    with pytest.raises(ValueError, match=r"lambda_min_ratio=1.5 must be in \(0, 1\]"):
        mc.fit_path(data, lambda_min_ratio=1.5)
    with pytest.raises(ValueError, match="n_lambdas=0 is out of range: it must be >= 1"):
        mc.fit_path(data, n_lambdas=0)


def test_path_solution_is_a_solve_result_at_one_lambda(tutorial):
    data, raw = tutorial
    path = mc.fit_path(data, n_lambdas=5)
    last = path.solution(-1)
    assert isinstance(last, mc.SolveResult) and float(last.lam) == float(path.lambdas[-1])
    np.testing.assert_array_equal(np.asarray(last.W), np.asarray(path.W[4]))
    np.testing.assert_array_equal(np.asarray(mc.predict(last, raw["X0"][:3], 0)),
                                  np.asarray(mc.predict(path, raw["X0"][:3], 0, lambda_index=4)))
    with pytest.raises(ValueError, match="out of range"):
        path.solution(5)


def test_start_steps_follow_the_log_lambda_steps():
    from mtlcomb_jax.warm_starts import start_steps
    np.testing.assert_allclose(np.asarray(start_steps(np.geomspace(1.0, 0.01, 6))), [0, 0, 1, 1, 1, 1], atol=1e-12)
    # steps ln 2, ln 2, ln 4/3, ln 3: the third lambda extrapolates fully, the fourth by
    # ln(4/3) / ln 2, the fifth by at most 1; a repeated lambda takes no step after it
    np.testing.assert_allclose(np.asarray(start_steps(np.array([8.0, 4.0, 2.0, 1.5, 0.5]))),
                               [0, 0, 1, np.log(4 / 3) / np.log(2), 1], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(start_steps(np.array([4.0, 2.0, 2.0, 1.0]))), [0, 0, 0, 0])
    assert start_steps(np.array([1.0])).shape == (1,) and start_steps(np.array([2.0, 1.0])).shape == (2,)


@pytest.fixture
def starts_switch(monkeypatch):
    """Set warm_starts.EXTRAPOLATE_STARTS for a test; it is read while tracing, so the
    compiled programs are dropped before and after."""
    import jax

    from mtlcomb_jax import warm_starts

    def switch(flag):
        monkeypatch.setattr(warm_starts, "EXTRAPOLATE_STARTS", flag)
        jax.clear_caches()
    yield switch
    jax.clear_caches()


@pytest.mark.slow
def test_extrapolated_starts_certify_the_same_path_in_fewer_iterations(starts_switch):
    from mtlcomb_jax.simulate import simulate_mixed_tasks
    Xs, ys, types, _ = simulate_mixed_tasks(3, 3, 40, 10, 40, seed=0)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    fits = {}
    for flag in (False, True):
        starts_switch(flag)
        fits[flag] = (mc.fit_path(data, n_lambdas=50, lambda_min_ratio=0.001),
                      mc.fit_path(data, n_lambdas=20, stop="relative", tol=1e-6, intercept=False))
    (plain, r_plain), (extrapolated, r_extrapolated) = fits[False], fits[True]
    assert np.all(np.asarray(plain.converged)) and np.all(np.asarray(extrapolated.converged))
    # both certified: each objective is within its gap of the optimum, so they differ by less than both gaps
    difference = np.abs(np.asarray(plain.objective) - np.asarray(extrapolated.objective))
    assert np.all(difference <= np.asarray(plain.dual_gap) + np.asarray(extrapolated.dual_gap) + 1e-12)
    assert np.sum(np.asarray(extrapolated.n_iter)) < 0.8 * np.sum(np.asarray(plain.n_iter))
    # the R package's rule keeps its warm starts, and so its iterates
    np.testing.assert_array_equal(np.asarray(r_plain.n_iter), np.asarray(r_extrapolated.n_iter))
    np.testing.assert_array_equal(np.asarray(r_plain.W), np.asarray(r_extrapolated.W))


def test_the_kkt_rule_returns_the_point_it_tested():
    """The loop tests the conditions at its search point (where its gradient is); the
    point returned is that one, so every lambda the loop stops at is certified."""
    from mtlcomb_jax.simulate import simulate_mixed_tasks
    Xs, ys, types, _ = simulate_mixed_tasks(10, 10, 200, 10, 100, seed=0)
    path = mc.fit_path(mc.MultiTaskData.from_tasks(Xs, ys, types), n_lambdas=30, stop="kkt")
    assert np.all(np.asarray(path.n_iter) < 5000)
    assert np.all(np.asarray(path.converged))
    assert np.all(np.asarray(path.kkt_residual) <= 1e-7)
