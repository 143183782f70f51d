"""The FISTA loop's stopping rules at their defaults (mtlcomb_jax.fista.default_tol): float32
converges and agrees with float64 to within the float32 certificate."""
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
