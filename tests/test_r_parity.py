"""Parity with the R package (MTLComb 0.9.9): with ``intercept=False``, no sample weights and
``stop="relative"`` (the R package's iterates), fit_path and cross_validate reproduce the golden
results in ``tests/fixtures/`` (lambda sequences, coefficients, CV MSE, AUC and the selected
lambdas); on unequal task sizes, where the R package stops at a worse objective, the path
reaches the independent oracle stored with them."""
import numpy as np
import pytest

import mtlcomb_jax as mc
from problems import golden_folds


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


def _relative_solve(problem, row, max_iter):
    """The golden problem's solve of grid row ``row`` with the R package's rule, and its raw data."""
    data, raw = problem
    lam, C, C2 = raw["solve_grid"][row]
    return mc.solve(data, lam, similarity=C, ridge=C2, intercept=False, stop="relative", tol=1e-12,
                    max_iter=max_iter), raw


@pytest.mark.parametrize("row", range(5))
def test_parity_with_R_solve(tutorial, row):
    res, raw = _relative_solve(tutorial, row, max_iter=20000)
    np.testing.assert_allclose(np.asarray(res.W), raw["solve_W"][row], atol=1e-6, rtol=0)
    np.testing.assert_allclose(float(res.objective), raw["solve_objective"][row], rtol=1e-9)
    assert int(res.n_iter) == int(raw["solve_n_iter"][row])


@pytest.mark.parametrize("row", range(5))
def test_unequal_sizes_reach_the_oracle(unequal, row):
    res, raw = _relative_solve(unequal, row, max_iter=50000)
    assert float(res.objective) <= raw["oracle_solve_objective"][row] * (1 + 1e-9)
