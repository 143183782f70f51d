"""Hypergradient tuning of lam, similarity and ridge by cross-validation (mtlcomb_jax.tuning)."""
import numpy as np
import pytest

import mtlcomb_jax as mc
from problems import tasks_data


@pytest.mark.slow   # about 9 s
def test_tuning_beats_a_10_by_10_grid_with_fewer_solves():
    data = tasks_data(n_tasks=4, n=50, p=20, n_true=4, n_cls=2, noise=1.0)
    common = dict(ridge=1e-3, n_folds=4, seed=0)
    best = mc.tune_hyperparameters(data, tune=("lam", "similarity"), n_steps=30, learning_rate=0.3, **common)
    lam_max = float(mc.lambda_max(data))
    grid = [mc.tune_hyperparameters(data, tune=("lam",), lam=lam, similarity=sim, n_steps=1, **common)
            for lam in np.geomspace(0.9 * lam_max, 1e-3 * lam_max, 10) for sim in np.geomspace(1e-4, 10, 10)]
    grid_best = min(g.validation_loss for g in grid)
    assert best.validation_loss <= grid_best
    assert best.n_solves < sum(g.n_solves for g in grid)
    assert best.history.shape == (30, 4) and best.ridge == 1e-3


def test_tuning_rejects_bad_requests(mixed):
    data, _, _ = mixed
    with pytest.raises(ValueError, match="tune="):
        mc.tune_hyperparameters(data, tune=("alpha",))
    with pytest.raises(ValueError, match="must start > 0"):
        mc.tune_hyperparameters(data, tune=("similarity",), similarity=0.0)


def _float32_tuning(**kwargs):
    data = tasks_data(n_tasks=4, n=50, p=20, n_true=4, n_cls=2, noise=1.0, dtype=np.float32)
    assert data.X.dtype == np.float32
    return mc.tune_hyperparameters(data, tune=("lam",), n_folds=3, **kwargs)


@pytest.mark.slow
def test_float32_tuning_converges_at_its_default_tolerance():
    """tol=None follows the dtype (tuning.TUNING_TOL): float32 cannot certify float64's 1e-8."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", mc.ConvergenceWarning)
        result = _float32_tuning(n_steps=3)
    assert np.isfinite(result.validation_loss) and result.lam > 0


@pytest.mark.slow
def test_float32_tuning_below_float32s_reach_warns():
    # float64's 1e-8 is met by most of these float32 solves and missed by some, as rounding
    # falls (a batch of other folds can tip one); a gap of 1e-10 x the null loss none meets
    with pytest.warns(mc.ConvergenceWarning, match="did not converge"):
        _float32_tuning(n_steps=2, tol=1e-10, max_iter=2000)


def test_tuning_refuses_float16_data_with_the_dtype_message():
    """tol=None looks its default up by dtype only after the dtype check."""
    import jax.numpy as jnp
    data = tasks_data(n_tasks=2, n=20, p=4, n_cls=1)
    object.__setattr__(data, "X", data.X.astype(jnp.float16))
    with pytest.raises(ValueError, match="data.X has dtype float16; the solver computes in float32 or float64"):
        mc.tune_hyperparameters(data, n_steps=1)
