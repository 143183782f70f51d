"""scikit-learn's own estimator checks.

With a 2-D X and a 1-D y the estimators are a single-task model (a real-valued
y is one regression task, a two-valued y one classification task), so
scikit-learn's regressor checks apply. The one check that does not apply:

* ``check_sample_weight_equivalence_on_dense_data`` for ``MTLCombCV``: repeating
  a row and giving it weight 2 are equivalent for the fit (``MTLComb`` passes
  it), but not for the random K-fold split, which assigns the repeated rows to
  different folds; the selected lambda, and so the predictions, then differ.
"""
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import mtlcomb_jax as mc

CV_EXPECTED_FAILURES = {
    "check_sample_weight_equivalence_on_dense_data":
        "the K-fold split of repeated rows differs from that of weighted rows",
}


def _expected_failures(estimator):
    return CV_EXPECTED_FAILURES if isinstance(estimator, mc.MTLCombCV) else {}


@parametrize_with_checks([mc.MTLComb(lam=0.01)], expected_failed_checks=_expected_failures)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.slow   # each check cross-validates: about 2 minutes in all
@parametrize_with_checks([mc.MTLCombCV(n_folds=3, n_lambdas=5)], expected_failed_checks=_expected_failures)
def test_scikit_learn_estimator_checks_cv(estimator, check):
    check(estimator)
