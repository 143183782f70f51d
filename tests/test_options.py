"""The options every entry point checks once and the checks of its results
(mtlcomb_jax.options): when working sets are used, the data's dtype, starting points, and the
warnings and errors for results that would otherwise be silently wrong (separable classes,
overflow)."""
import warnings

import jax.numpy as jnp
import numpy as np
import pytest

import mtlcomb_jax as mc
from mtlcomb_jax.options import use_working_sets
from problems import simulate


def test_auto_screening_rules():
    assert use_working_sets("auto", "gap", 5000, jnp.float64)
    assert not use_working_sets("auto", "gap", 4999, jnp.float64)
    assert not use_working_sets("auto", "relative", 50000, jnp.float64)    # the R package's iterates
    assert not use_working_sets("auto", "gap", 5000, jnp.float32)
    assert use_working_sets("auto", "kkt", 10000, jnp.float32)
    assert use_working_sets(True, "gap", 10, jnp.float32)
    with pytest.raises(ValueError, match="screening="):
        use_working_sets("yes", "gap", 10, jnp.float64)


def test_half_precision_data_is_solved_in_float32():
    X, Y, types, _ = simulate(n_tasks=2, n=60, p=6, n_cls=1, shared=True)
    data = mc.MultiTaskData.from_outcomes(X.astype(np.float16), Y, types)
    assert data.X.dtype == jnp.float32
    res = mc.solve(data, 0.05)
    # the certificate holds: the float32 objective is within dual_gap of the exact optimum
    exact = mc.solve(mc.MultiTaskData.from_outcomes(X.astype(np.float16).astype(np.float64), Y, types), 0.05,
                     tol=1e-12)
    assert bool(res.converged)
    assert float(res.objective) - float(exact.objective) <= float(res.dual_gap) + 1e-6 * float(exact.objective)
    hand_made = data.replace(X=data.X)
    object.__setattr__(hand_made, "X", data.X.astype(jnp.float16))
    with pytest.raises(ValueError, match="data.X has dtype float16; the solver computes in float32 or float64"):
        mc.solve(hand_made, 0.05)


def test_non_finite_starts_and_out_of_range_hyperparameters_are_refused(small):
    with pytest.raises(ValueError, match="W_init contains NaN or inf"):
        mc.solve(small, 0.1, W_init=np.full((8, 3), np.nan))
    with pytest.raises(ValueError, match="b_init contains NaN or inf"):
        mc.solve(small, 0.1, b_init=np.array([0.0, np.inf, 0.0]))
    with pytest.raises(ValueError, match=r"b_init has shape \(2,\); it must be \(n_tasks,\) = \(3,\)"):
        mc.solve(small, 0.1, b_init=np.zeros(2))
    X, Y, types, _ = simulate(n_tasks=2, n=40, p=4, n_cls=1, shared=True, dtype=np.float32)
    single = mc.MultiTaskData.from_outcomes(X, Y, types)
    with pytest.raises(ValueError, match=r"lam=1e\+39 is beyond the range of float32"):
        mc.solve(single, 1e39)


def test_separable_classification_at_lam_zero_warns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = np.where(X[:, 0] > 0, 1, -1)
    data = mc.MultiTaskData.from_outcomes(X, y, "classification", task_names=["dx"])
    with pytest.warns(mc.ConvergenceWarning, match=r"\['dx'\] are linearly separable.*no finite solution"):
        res = mc.solve(data, 0.0, max_iter=300)
    assert not bool(res.converged)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mc.solve(data, 0.0, ridge=0.1)            # ridge makes the minimiser finite: no warning


@pytest.mark.parametrize("case, message", [
    ("huge_X", r"the iterates overflowed float64.*X has entries up to [\d.]+e\+150"),
    ("huge_ridge", r"ridge=1e\+300 is too large"),
])
def test_overflow_is_reported_with_its_cause(case, message):
    X, Y, types, _ = simulate(n_tasks=2, n=40, p=4, n_cls=0, shared=True)
    if case == "huge_X":
        data, kwargs = mc.MultiTaskData.from_outcomes(X * 1e150, Y, types), {}
    else:
        data, kwargs = mc.MultiTaskData.from_outcomes(X, Y, types), dict(ridge=1e300)
    with pytest.raises(ValueError, match=message):
        mc.solve(data, 1e-3, max_iter=50, **kwargs)


def test_max_iter_reports_and_warns(tutorial):
    data, _ = tutorial
    with pytest.warns(mc.ConvergenceWarning, match="did not meet the stopping rule"):
        res = mc.solve(data, 0.1, max_iter=3)
    assert not bool(res.converged) and int(res.n_iter) == 3
