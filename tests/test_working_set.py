"""Strong-rule working sets give the full-problem solutions, certified on the full problem."""
import numpy as np
import pytest

import jax.numpy as jnp

import mtlcomb_jax as mc
from conftest import simulate
from mtlcomb_jax.path import use_working_sets
from mtlcomb_jax.working_set import MIN_BUCKET, bucket_size


@pytest.fixture(scope="module")
def wide():
    Xs, ys, types, _ = simulate(n_tasks=4, n=50, p=300, n_true=6, n_cls=2)
    return mc.MultiTaskData.from_tasks(Xs, ys, types)


@pytest.mark.parametrize("intercept", [True, False])
def test_screened_path_equals_the_full_scan(wide, intercept):
    common = dict(n_lambdas=12, lambda_min_ratio=0.02, intercept=intercept, tol=1e-9)
    full = mc.fit_path(wide, screening=False, **common)
    screened = mc.fit_path(wide, screening=True, **common)
    assert np.all(np.asarray(screened.converged))
    rel = np.abs(np.asarray(screened.objective) - np.asarray(full.objective)) / np.asarray(full.objective)
    assert rel.max() < 1e-8
    np.testing.assert_array_equal(screened.n_selected(), full.n_selected())
    # the reported certificate is the full problem's: it bounds F - F* there
    assert np.all(np.asarray(screened.dual_gap) >= 0)


def test_violators_are_readmitted_from_a_cold_start_below_lambda_max(wide):
    """Start at 0.3 lambda_max from W = 0 with the strong rule blind (lambda_start = lambdas[0])."""
    lam_max = float(mc.lambda_max(wide))
    lambdas = lam_max * np.array([0.3, 0.2, 0.1])
    full = mc.fit_path(wide, lambdas, screening=False, tol=1e-9)
    screened = mc.fit_path(wide, lambdas, screening=True, tol=1e-9, W_init=np.zeros((300, 4)))
    np.testing.assert_allclose(np.asarray(screened.objective), np.asarray(full.objective), rtol=1e-8)
    assert screened.n_selected()[0] > 0


def test_screened_cv_equals_the_vmapped_scan(wide):
    common = dict(n_folds=3, n_lambdas=8, lambda_min_ratio=0.05, tol=1e-9, seed=1)
    full = mc.cross_validate(wide, screening=False, **common)
    screened = mc.cross_validate(wide, screening=True, **common)
    np.testing.assert_allclose(screened.fold_lambdas, full.fold_lambdas, rtol=1e-12)
    np.testing.assert_allclose(screened.task_metric, full.task_metric, rtol=1e-6, atol=1e-8)
    assert screened.lambda_weighted_min == full.lambda_weighted_min
    assert screened.converged.all()


def test_bucket_sizes_are_powers_of_two_capped_at_p():
    assert bucket_size(1, 10_000) == MIN_BUCKET
    assert bucket_size(MIN_BUCKET + 1, 10_000) == 2 * MIN_BUCKET
    assert bucket_size(900, 1000) == 1000


def test_auto_screening_rules():
    assert use_working_sets("auto", "gap", 5000, jnp.float64)
    assert not use_working_sets("auto", "gap", 500, jnp.float64)
    assert not use_working_sets("auto", "relative", 5000, jnp.float64)    # the R package's iterates
    assert not use_working_sets("auto", "gap", 5000, jnp.float32)
    assert use_working_sets(True, "gap", 10, jnp.float32)
    with pytest.raises(ValueError, match="screening="):
        use_working_sets("yes", "gap", 10, jnp.float64)
