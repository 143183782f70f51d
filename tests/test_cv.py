"""Cross-validation (mtlcomb_jax.cv): the folds (stratified, on shared designs and with missing
outcomes), the held-out metrics, folds that cannot be scored, the selection rules and their
warnings, and the full-data path returned with the folds."""
import numpy as np
import pytest

import mtlcomb_jax as mc
from mtlcomb_jax.cv import UndefinedScoreWarning, make_folds
from problems import rare_shared, shared_data, tasks_data, with_missing_outcomes


# -- folds -----------------------------------------------------------------------------------
def test_stratified_folds_balance_classes():
    data = tasks_data(n_tasks=3, n=60, p=5, n_cls=2)
    folds = mc.make_folds(data, 5, seed=1)
    for t in (1, 2):
        y = np.asarray(data.y)[t][folds[t] >= 0]
        f = folds[t][folds[t] >= 0]
        pos_per_fold = [np.sum((f == k) & (y > 0)) for k in range(5)]
        assert max(pos_per_fold) - min(pos_per_fold) <= 1


def test_shared_design_splits_rows_once():
    data = shared_data(n_tasks=3, n=40, p=5)
    folds = mc.make_folds(data, 4)
    assert np.all(folds == folds[0])


def test_shared_design_is_stratified_on_every_classification_outcome():
    data = rare_shared(rare=5)
    folds = make_folds(data, n_folds=5, seed=3)[0]
    y = np.asarray(data.y)
    for t in (1, 2):
        for k in range(5):
            assert set(np.unique(y[t][folds == k])) == {-1.0, 1.0}
    # the folds stay balanced in size
    assert np.ptp(np.bincount(folds)) <= 1


def test_folds_of_a_shared_design_spread_each_outcomes_observed_samples():
    data = with_missing_outcomes()
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


def test_cv_bad_folds():
    data = tasks_data(n_tasks=2, n=12, p=4, n_cls=1)
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


def test_leave_one_out_on_a_classification_task_is_refused():
    data = rare_shared(n=30, rare=6)
    with pytest.raises(ValueError, match=r"classification task 'dx' has both classes in the test part of "
                                         r"only 0 of 30 folds.*leave-one-out"):
        mc.cross_validate(data, folds=np.arange(30))


def test_too_few_of_a_class_for_the_folds_is_refused():
    data = rare_shared(rare=3)
    with pytest.raises(ValueError, match=r"classification task 'rare' has 3 samples of one class but n_folds=5"):
        mc.cross_validate(data, n_folds=5)


# -- metrics and the selection rules ---------------------------------------------------------
def test_masked_auc_matches_sklearn():
    import jax.numpy as jnp
    from sklearn.metrics import roc_auc_score
    rng = np.random.default_rng(0)
    scores = np.round(rng.normal(size=60), 1)            # ties on purpose
    labels = np.where(rng.random(60) > 0.4, 1.0, -1.0)
    member = rng.random(60) > 0.3
    ours = float(mc.cv.masked_auc(jnp.asarray(scores), jnp.asarray(labels), jnp.asarray(member)))
    assert ours == pytest.approx(roc_auc_score(labels[member], scores[member]), abs=1e-12)


def test_cv_runs_with_intercepts_and_default_grid():
    data = tasks_data(n_tasks=4, n=60, p=20)
    cv = mc.cross_validate(data, n_folds=3, n_lambdas=8)
    assert cv.mse.shape == (3, 8) and cv.auc.shape == (3, 8) and cv.deviance.shape == (3, 8)
    assert np.all(np.isfinite(cv.mse)) and np.all(np.isfinite(cv.auc))
    assert cv.lambdas[0] >= cv.lambda_weighted_min >= cv.lambdas[-1]
    assert np.argmin(cv.deviance.mean(0)) > 0           # something beats the null model


def test_undefined_auc_folds_are_left_out_with_a_warning():
    data = rare_shared(rare=6)
    folds = np.arange(60) % 5
    rare_rows = np.flatnonzero(np.asarray(data.y)[2] > 0)
    folds[rare_rows] = [0, 0, 1, 1, 2, 2]           # folds 3 and 4 hold no positive of 'rare'
    with pytest.warns(UndefinedScoreWarning, match=r"'rare': folds \[3, 4\]"):
        cv = mc.cross_validate(data, folds=folds, n_lambdas=5)
    assert np.all(np.isnan(cv.task_metric[3:, :, 2])) and np.all(np.isfinite(cv.task_metric[:3, :, 2]))
    assert np.all(np.isfinite(cv.auc))              # the fold mean uses the tasks that are defined
    for rule in ("min", "1se"):
        for kind in ("regression", "classification", "weighted"):
            value = getattr(cv, f"lambda_{kind}_{rule}")
            assert value is not None and np.isfinite(value)
    # the classification choice comes from the defined scores, not from the largest lambda by default
    assert cv.lambda_classification_min < cv.lambdas[0]


def test_one_se_rules_work_when_min_rules_do():
    values = np.array([[0.5, 0.7, np.nan], [np.nan, 0.8, 0.6], [0.6, 0.75, 0.55]])
    cv = mc.CVResult(lambdas=np.array([1.0, 0.5, 0.25]), fold_lambdas=np.ones((3, 3)), mse=None, auc=values,
                     deviance=np.zeros((3, 3)), task_metric=values[:, :, None], n_iter=np.zeros((3, 3)),
                     converged=np.ones((3, 3), bool), folds=np.zeros((1, 3)), is_classification=np.array([True]))
    assert cv.lambda_classification_min == 0.5
    assert cv.lambda_classification_1se in (1.0, 0.5)


@pytest.mark.slow   # about 5 s (the default run stays within 5 minutes on 2 cores)
def test_cv_warns_when_its_optimum_is_the_grids_smallest_lambda():
    data = tasks_data(n_tasks=4, n=80, p=20, n_true=5, n_cls=2, noise=0.3)
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


# -- the full-data path ----------------------------------------------------------------------
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


def test_return_path_must_be_a_bool(wide):
    with pytest.raises(ValueError, match="return_path='yes' must be True"):
        mc.cross_validate(wide, n_folds=3, n_lambdas=4, return_path="yes")
