"""Shape buckets (datasets of about the same size share compiled programs) and float32
against float64 at the default settings."""
import numpy as np
import pytest
from jax._src import monitoring

import mtlcomb_jax as mc
import mtlcomb_jax.buckets as buckets
from conftest import simulate


def test_padded_size_has_eight_buckets_per_octave():
    sizes = np.arange(1, 5000)
    padded = np.array([buckets.padded_size(s) for s in sizes])
    assert np.all(padded >= sizes) and np.all(np.diff(padded) >= 0)
    assert np.all(padded[16:] <= 1.125 * sizes[16:])               # at most 12.5 % padding
    assert len(np.unique(padded[(sizes > 1024) & (sizes <= 2048)])) == 8
    assert buckets.padded_size(1000) == buckets.padded_size(1010) == 1024
    assert buckets.padded_size(200) == buckets.padded_size(205) == 208


def _mixed(n, p, seed=0, dtype=np.float64):
    X, Y, types, _ = simulate(n_tasks=4, n=n, p=p, n_true=4, n_cls=2, seed=seed, shared=True, dtype=dtype)
    return mc.MultiTaskData.from_outcomes(X, Y, types)


class _CompileCounter:
    def __init__(self):
        self.count = 0
        monitoring.register_event_duration_secs_listener(self)

    def __call__(self, event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            self.count += 1

    def __enter__(self):
        self.start = self.count
        return self

    def __exit__(self, *exc):
        self.compiled = self.count - self.start


def test_a_second_dataset_in_the_same_bucket_compiles_nothing():
    first, second = _mixed(41, 61, seed=0), _mixed(43, 63, seed=1)       # both in (44, 64)
    counter = _CompileCounter()
    with counter:
        mc.fit_path(first, n_lambdas=5)
        mc.cross_validate(first, n_folds=3, n_lambdas=5)
    assert counter.compiled > 0
    with counter:
        path = mc.fit_path(second, n_lambdas=5)
        cv = mc.cross_validate(second, n_folds=3, n_lambdas=5)
    assert counter.compiled == 0
    assert path.W.shape == (5, 63, 4) and cv.task_metric.shape == (3, 5, 4)


TUNE = dict(tune=("lam",), n_steps=2, n_folds=3, ridge=0.01)


def test_tuning_a_second_dataset_in_the_same_bucket_compiles_nothing():
    first, second = _mixed(41, 61, seed=0), _mixed(43, 63, seed=1)
    counter = _CompileCounter()
    with counter:
        mc.tune_hyperparameters(first, **TUNE)
    with counter:
        mc.tune_hyperparameters(second, **TUNE)
    assert counter.compiled == 0


@pytest.mark.slow
def test_padding_does_not_change_what_tuning_finds(monkeypatch):
    data = _mixed(43, 63, seed=1)
    padded = mc.tune_hyperparameters(data, **TUNE)
    monkeypatch.setattr(buckets, "MAX_PADDED_BYTES", 0)                 # every shape as it is
    plain = mc.tune_hyperparameters(data, **TUNE)
    np.testing.assert_allclose(padded.history, plain.history, rtol=1e-6)


@pytest.mark.slow
def test_padded_problems_give_the_unpadded_results(monkeypatch):
    data = _mixed(43, 63, seed=2)
    path = mc.fit_path(data, n_lambdas=8, tol=1e-8)
    cv = mc.cross_validate(data, n_folds=3, n_lambdas=8, tol=1e-8)
    monkeypatch.setattr(buckets, "MAX_PADDED_BYTES", 0)                 # every shape as it is
    plain_path = mc.fit_path(data, n_lambdas=8, tol=1e-8)
    plain_cv = mc.cross_validate(data, n_folds=3, n_lambdas=8, tol=1e-8)
    np.testing.assert_allclose(np.asarray(path.lambdas), np.asarray(plain_path.lambdas), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(path.W), np.asarray(plain_path.W), atol=1e-6)
    np.testing.assert_allclose(np.asarray(path.objective), np.asarray(plain_path.objective), rtol=1e-9)
    np.testing.assert_allclose(cv.task_metric, plain_cv.task_metric, rtol=1e-5, atol=1e-8)
    assert cv.lambda_weighted_min == pytest.approx(plain_cv.lambda_weighted_min)


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
