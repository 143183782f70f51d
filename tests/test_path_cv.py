import numpy as np
import pytest

import mtlcomb_jax as mc
from conftest import golden_folds, simulate


def _path_args(raw):
    n_lambdas, ratio, C, C2 = raw["path_params"]
    return dict(n_lambdas=int(n_lambdas), lambda_min_ratio=ratio, similarity=C, ridge=C2, intercept=False,
                stop="relative", tol=1e-12, max_iter=20000)


def test_path_parity_with_R(tutorial):
    data, raw = tutorial
    path = mc.fit_path(data, **_path_args(raw))
    np.testing.assert_allclose(np.asarray(path.lambdas), raw["path_lambdas"], rtol=1e-12)
    np.testing.assert_allclose(np.asarray(path.W), raw["path_W"], atol=1e-6, rtol=0)


def test_unequal_path_reaches_the_oracle(unequal):
    data, raw = unequal
    n_lambdas, ratio, C, C2 = raw["path_params"]
    path = mc.fit_path(data, raw["path_lambdas"], similarity=C, ridge=C2, intercept=False, tol=1e-9)
    assert np.all(np.asarray(path.converged))
    np.testing.assert_allclose(np.asarray(path.W), raw["oracle_path_W"], atol=1e-4)


def test_lambda_max_gives_the_zero_solution():
    Xs, ys, types, _ = simulate(n_tasks=4, n=50, p=15, seed=7)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    for intercept in (False, True):
        lam = mc.lambda_max(data, intercept=intercept)
        assert np.all(np.asarray(mc.solve(data, lam * 1.0001, intercept=intercept).W) == 0)
        assert np.any(np.asarray(mc.solve(data, lam * 0.95, intercept=intercept).W) != 0)


def test_path_with_progress_matches_scan_and_counts_lambdas(tutorial, capsys):
    data, raw = tutorial
    a = mc.fit_path(data, n_lambdas=4, intercept=False, stop="relative", tol=1e-10)
    b = mc.fit_path(data, n_lambdas=4, intercept=False, stop="relative", tol=1e-10, progress=True)
    np.testing.assert_array_equal(np.asarray(a.W), np.asarray(b.W))
    assert "4/4" in capsys.readouterr().err


@pytest.mark.slow
def test_cv_progress_counts_every_fold_and_lambda(capsys):
    Xs, ys, types, _ = simulate(n_tasks=3, n=40, p=10, n_cls=1)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    quiet = mc.cross_validate(data, n_folds=3, n_lambdas=5)
    loud = mc.cross_validate(data, n_folds=3, n_lambdas=5, progress=True)
    np.testing.assert_array_equal(quiet.task_metric, loud.task_metric)
    err = capsys.readouterr().err
    assert "15/15" in err and "16/15" not in err


def test_progress_counts_every_problem_on_a_shared_grid(capsys):
    # Explicit lambdas (CV) and stability selection share one grid across the batch;
    # the bar must still count every problem at every lambda.
    Xs, ys, types, _ = simulate(n_tasks=3, n=40, p=10, n_cls=1)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    grid = mc.lambda_grid(data, n_lambdas=5)
    mc.cross_validate(data, n_folds=3, lambdas=grid, progress=True)
    mc.stability_selection(data, n_subsamples=4, n_lambdas=5, progress=True)
    err = capsys.readouterr().err
    assert "15/15" in err and "20/20" in err
    assert "16/15" not in err and "21/20" not in err


@pytest.mark.parametrize("lambdas, message", [
    ([0.1, 0.5], "decreasing order"), ([0.5, -0.1], "positive and finite"), ([], "empty")])
def test_bad_lambdas(tutorial, lambdas, message):
    with pytest.raises(ValueError, match=message):
        mc.fit_path(tutorial[0], lambdas)


def test_cv_parity_with_R(tutorial):
    data, raw = tutorial
    cv = mc.cross_validate(data, folds=golden_folds(raw), **_path_args(raw))
    np.testing.assert_allclose(cv.fold_lambdas, raw["cv_lambdas_per_fold"], rtol=1e-12)
    np.testing.assert_allclose(cv.mse, raw["cv_mse"], atol=1e-6)
    np.testing.assert_allclose(cv.auc[:, 1:], raw["cv_auc"][:, 1:], atol=1e-6)
    np.testing.assert_allclose(cv.auc[:, 0], 0.5)      # exact zero solution: every score ties
    np.testing.assert_allclose(cv.lambdas, raw["cv_lambdas_per_fold"].mean(axis=0), rtol=1e-12)
    assert cv.lambda_regression_min == pytest.approx(float(raw["cv_lambda_regress_min"]), rel=1e-12)
    assert cv.lambda_classification_min == pytest.approx(float(raw["cv_lambda_classify_min"]), rel=1e-12)
    assert cv.lambda_weighted_min == pytest.approx(float(raw["cv_lambda_weighted_min"]), rel=1e-12)
    # one-standard-error rule: never a smaller lambda than the minimum
    assert cv.lambda_regression_1se >= cv.lambda_regression_min
    assert cv.lambda_classification_1se >= cv.lambda_classification_min


def test_masked_auc_matches_sklearn():
    import jax.numpy as jnp
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=60), 1)            # ties on purpose
    labels = np.where(rng.random(60) > 0.4, 1.0, -1.0)
    member = rng.random(60) > 0.3
    ours = float(mc.cv.masked_auc(jnp.asarray(scores), jnp.asarray(labels), jnp.asarray(member)))
    assert ours == pytest.approx(roc_auc_score(labels[member], scores[member]), abs=1e-12)


def test_stratified_folds_balance_classes():
    Xs, ys, types, _ = simulate(n_tasks=3, n=60, p=5, n_cls=2)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    folds = mc.make_folds(data, 5, seed=1)
    for t in (1, 2):
        y = np.asarray(data.y)[t][folds[t] >= 0]
        f = folds[t][folds[t] >= 0]
        pos_per_fold = [np.sum((f == k) & (y > 0)) for k in range(5)]
        assert max(pos_per_fold) - min(pos_per_fold) <= 1


def test_shared_design_splits_rows_once():
    X, Y, types, _ = simulate(n_tasks=3, n=40, p=5, shared=True)
    data = mc.MultiTaskData.from_outcomes(X, Y, types)
    folds = mc.make_folds(data, 4)
    assert np.all(folds == folds[0])


def test_cv_runs_with_intercepts_and_default_grid():
    Xs, ys, types, _ = simulate(n_tasks=4, n=60, p=20)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    cv = mc.cross_validate(data, n_folds=3, n_lambdas=8)
    assert cv.mse.shape == (3, 8) and cv.auc.shape == (3, 8) and cv.deviance.shape == (3, 8)
    assert np.all(np.isfinite(cv.mse)) and np.all(np.isfinite(cv.auc))
    assert cv.lambdas[0] >= cv.lambda_weighted_min >= cv.lambdas[-1]
    assert np.argmin(cv.deviance.mean(0)) > 0           # something beats the null model


def test_cv_bad_folds():
    Xs, ys, types, _ = simulate(n_tasks=2, n=12, p=4, n_cls=1)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    with pytest.raises(ValueError, match="has 12 samples but n_folds=20"):
        mc.cross_validate(data, n_folds=20, stratify=False)
    with pytest.raises(ValueError, match="samples of one class but n_folds=10"):
        mc.cross_validate(data, n_folds=10)
    y1 = np.asarray(data.y)[1][:17]
    one_class = [np.arange(12) % 2, np.where(y1 > 0, 0, 1)]   # fold 0 trains on negatives only
    with pytest.raises(ValueError, match="leaves task 'task1' with one class"):
        mc.cross_validate(data, folds=one_class)
    with pytest.raises(ValueError, match=r"folds\[0\] has shape \(3,\)"):
        mc.cross_validate(data, folds=[np.zeros(3, int), np.zeros(17, int)])


def test_bad_grid_and_fold_counts(tutorial):
    data = tutorial[0]
    with pytest.raises(ValueError, match="n_folds=1 is out of range: it must be >= 2"):
        mc.cross_validate(data, n_folds=1)
    with pytest.raises(ValueError, match=r"lambda_min_ratio=1.5 must be in \(0, 1\]"):
        mc.fit_path(data, lambda_min_ratio=1.5)
    with pytest.raises(ValueError, match="n_lambdas=0 is out of range: it must be >= 1"):
        mc.fit_path(data, n_lambdas=0)


def test_path_prediction_needs_a_lambda_index(tutorial):
    data = tutorial[0]
    path = mc.fit_path(data, n_lambdas=2, intercept=False)
    X = np.asarray(data.X)[0]
    with pytest.raises(ValueError, match="needs lambda_index"):
        mc.predict(path, X, 0)
    with pytest.raises(ValueError, match="lambda_index=5 is out of range"):
        mc.predict(path, X, 0, lambda_index=5)
    with pytest.raises(ValueError, match="task=20 is out of range"):
        mc.predict(path, X, 20, lambda_index=1)


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


@pytest.mark.slow   # about 18 s
@pytest.mark.parametrize("screening", [True, False])
def test_cv_returns_the_full_data_path_of_fit_path(wide, screening):
    common = dict(n_lambdas=12, lambda_min_ratio=0.02, tol=1e-9, screening=screening)
    cv = mc.cross_validate(wide, n_folds=4, return_path=True, **common)
    alone = mc.cross_validate(wide, n_folds=4, **common)
    path = mc.fit_path(wide, **common)
    assert alone.path is None
    assert cv.path.W.shape == (12, 300, 4) and cv.path.n_iter.shape == (12,)
    assert cv.n_iter.shape == cv.mse.shape == (4, 12)               # the folds only
    np.testing.assert_allclose(np.asarray(cv.path.lambdas), np.asarray(path.lambdas), rtol=1e-14)
    np.testing.assert_allclose(np.asarray(cv.path.objective), np.asarray(path.objective), rtol=1e-10)
    np.testing.assert_array_equal(cv.path.n_selected(), path.n_selected())
    assert np.all(np.asarray(cv.path.converged)) and np.all(np.asarray(cv.path.dual_gap) >= 0)
    # With working sets the path shares the folds' sets, so the folds' iterates move within tol.
    np.testing.assert_allclose(cv.mse, alone.mse, rtol=1e-6)
    np.testing.assert_allclose(cv.auc, alone.auc, atol=1e-12)
    assert cv.lambda_weighted_min == alone.lambda_weighted_min
    chosen = int(np.argmin(np.abs(np.asarray(cv.path.lambdas) - cv.lambda_weighted_min)))
    np.testing.assert_allclose(mc.predict(cv.path, np.asarray(wide.X[0, :5]), 0, lambda_index=chosen),
                               mc.predict(path, np.asarray(wide.X[0, :5]), 0, lambda_index=chosen), rtol=1e-6)


@pytest.mark.slow
def test_cv_with_path_and_explicit_lambdas(wide):
    grid = np.geomspace(0.05, 0.005, 6)
    cv = mc.cross_validate(wide, n_folds=3, lambdas=grid, return_path=True, screening=True, tol=1e-9)
    path = mc.fit_path(wide, grid, screening=True, tol=1e-9)
    np.testing.assert_allclose(np.asarray(cv.path.lambdas), grid)
    np.testing.assert_allclose(np.asarray(cv.path.objective), np.asarray(path.objective), rtol=1e-10)


@pytest.mark.slow
def test_cv_progress_counts_the_path_in_the_batch(wide, capsys):
    mc.cross_validate(wide, n_folds=3, n_lambdas=4, return_path=True, screening=True, progress=True)
    err = capsys.readouterr().err
    assert "16/16" in err and "17/16" not in err


def test_return_path_must_be_a_bool(wide):
    with pytest.raises(ValueError, match="return_path='yes' must be True"):
        mc.cross_validate(wide, n_folds=3, n_lambdas=4, return_path="yes")


def test_progress_clock_starts_after_compilation():
    """The bar's rate is measured from its first finished unit: the time before it is
    compilation, which would make the first estimate of the time left far too long."""
    import time

    from mtlcomb_jax import progress
    with progress.progress_bar(10, "test", "solve", True):
        bar = progress._open_bars[-1]
        opened = bar.start_t
        time.sleep(0.3)                                   # as a compilation would
        progress.advance(np.zeros(1))
        assert bar.n == 1 and bar.start_t - opened >= 0.25


def test_cv_warns_when_its_optimum_is_the_grids_smallest_lambda():
    Xs, ys, types, _ = simulate(n_tasks=4, n=80, p=20, n_true=5, n_cls=2, noise=0.3)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    # a grid that stops at half of lambda_max: every model on it is too sparse
    with pytest.warns(mc.GridEdgeWarning, match="lower lambda_min_ratio"):
        short = mc.cross_validate(data, n_folds=3, n_lambdas=4, lambda_min_ratio=0.5)
    assert short.lambda_regression_min == short.lambdas[-1]
    with pytest.warns(mc.GridEdgeWarning, match="explicit lambdas that continue below it"):
        mc.cross_validate(data, n_folds=3, lambdas=short.lambdas)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", mc.GridEdgeWarning)
        full = mc.cross_validate(data, n_folds=3, n_lambdas=12, lambda_min_ratio=1e-3)
    assert full.lambda_regression_min > full.lambdas[-1] and full.lambda_classification_min > full.lambdas[-1]


def _with_missing_outcomes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    Y = np.column_stack([X[:, 0] + rng.normal(size=40), X[:, 1] + rng.normal(size=40), (X[:, 2] > 0).astype(float)])
    Y[4:, 1] = np.nan                    # a marker measured on 4 patients
    Y[[1, 5, 9], 2] = np.nan             # a diagnosis missing for 3
    return mc.MultiTaskData.from_outcomes(X, Y, ["regression", "regression", "classification"],
                                          missing_outcomes="drop")


def test_folds_of_a_shared_design_spread_each_outcomes_observed_samples():
    data = _with_missing_outcomes()
    folds = mc.make_folds(data, 4, seed=1)
    mask = np.asarray(data.mask)
    assert np.all((folds >= 0) == mask)                    # every observed sample in a fold, no missing one
    assert np.bincount(folds[1][mask[1]]).tolist() == [1, 1, 1, 1]
    y = np.asarray(data.y)[2]
    for label in (-1.0, 1.0):                              # both classes of the diagnosis in every fold
        assert np.bincount(folds[2][mask[2] & (y == label)], minlength=4).min() >= 4
    cv = mc.cross_validate(data, n_folds=4, n_lambdas=5)
    assert np.all(np.isfinite(cv.task_metric))
    with pytest.raises(ValueError, match="fold 0 has no samples of task 'task1' \\(4 samples have a value"):
        mc.cross_validate(data, n_folds=10, n_lambdas=5)
    # user folds for a shared design: one id per row, the rows missing an outcome in none of its folds
    user = np.arange(40) % 4
    cv_user = mc.cross_validate(data, folds=user, n_lambdas=5)
    assert np.all(cv_user.folds[1][~mask[1]] == -1) and cv_user.folds[0].tolist() == user.tolist()
    again = mc.cross_validate(data, folds=list(cv.folds), n_lambdas=5)        # make_folds' ids pass back
    np.testing.assert_allclose(again.task_metric, cv.task_metric, rtol=1e-8)


def test_subsamples_of_a_shared_design_keep_every_outcome():
    from mtlcomb_jax.stability import subsample_weights
    data = _with_missing_outcomes()
    w = subsample_weights(data, 10, 0.5, seed=0)
    np.testing.assert_allclose(w.sum(axis=2), 1.0)
    assert np.all(w[:, np.asarray(~data.mask)] == 0)
    with pytest.raises(ValueError, match="keeps no sample of task 'task1'"):
        subsample_weights(data, 10, 0.1, seed=0)
