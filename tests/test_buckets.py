"""Shape buckets (mtlcomb_jax.buckets): datasets of about the same size share compiled programs,
and padding changes no result."""
import numpy as np
import pytest
from jax._src import monitoring

import mtlcomb_jax as mc
import mtlcomb_jax.buckets as buckets
from problems import shared_data


def test_padded_size_has_eight_buckets_per_octave():
    sizes = np.arange(1, 5000)
    padded = np.array([buckets.padded_size(s) for s in sizes])
    assert np.all(padded >= sizes) and np.all(np.diff(padded) >= 0)
    assert np.all(padded[16:] <= 1.125 * sizes[16:])               # at most 12.5 % padding
    assert len(np.unique(padded[(sizes > 1024) & (sizes <= 2048)])) == 8
    assert buckets.padded_size(1000) == buckets.padded_size(1010) == 1024
    assert buckets.padded_size(200) == buckets.padded_size(205) == 208


MIXED = dict(n_tasks=4, n_true=4, n_cls=2)      # 4 tasks, 2 of them classification


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
    first = shared_data(n=41, p=61, seed=0, **MIXED)
    second = shared_data(n=43, p=63, seed=1, **MIXED)                  # both in (44, 64)
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


def test_a_cv_after_a_path_compiles_only_its_fold_weights_and_metrics(monkeypatch):
    """On one CPU device with several cores each fold runs fit_path's own grid and scan
    programs (cv._fold_path), in host threads: a CV after a path of the same grid size on
    the same data compiles what only the CV has, and its results are the vmapped batch's."""
    names = []
    monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: names.append(kw.get("fun_name"))
        if event == "/jax/core/compile/backend_compile_duration" else None)
    data = shared_data(n=90, p=110, seed=2, **MIXED)        # (96, 112): a bucket no other test uses
    monkeypatch.setenv("MTLCOMB_JAX_THREADS", "2")
    mc.fit_path(data, n_lambdas=6)
    del names[:]
    threads = mc.cross_validate(data, n_folds=3, n_lambdas=6)
    assert set(names) <= {"jit(_fold_weights)", "jit(_path_metrics)"}, names
    monkeypatch.setenv("MTLCOMB_JAX_THREADS", "1")           # one thread: the folds as one vmapped batch
    del names[:]
    batch = mc.cross_validate(data, n_folds=3, n_lambdas=6)
    assert "jit(_cv_jit)" in names
    np.testing.assert_array_equal(threads.n_iter, batch.n_iter)
    np.testing.assert_allclose(threads.fold_lambdas, batch.fold_lambdas, rtol=1e-12)
    np.testing.assert_allclose(threads.task_metric, batch.task_metric, rtol=1e-8)


@pytest.mark.slow   # about 23 s: working sets compile a solver per set size
def test_a_screened_cv_after_a_screened_path_compiles_no_solver(monkeypatch):
    """With working sets on one X each fold runs as a working-set path of its own, a batch
    of one as fit_path's (cv._screened_fold), in host threads: after the path the CV
    compiles only its own fold weights, grids and metrics, where one thread (the folds as
    one batch) compiles solvers of its own. The results agree within the gap rule's
    tolerance (working ahead gives other warm starts)."""
    names = []
    monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: names.append(kw.get("fun_name"))
        if event == "/jax/core/compile/backend_compile_duration" else None)
    data = shared_data(n=90, p=110, seed=3, **MIXED)        # the bucket of the test above, with working sets
    monkeypatch.setenv("MTLCOMB_JAX_THREADS", "2")
    mc.fit_path(data, n_lambdas=6, screening=True)
    del names[:]
    threads = mc.cross_validate(data, n_folds=3, n_lambdas=6, screening=True)
    assert set(names) <= {"jit(_fold_weights)", "jit(_fold_grids)", "jit(_fold_outputs)", "jit(_empty_stack)",
                          "jit(_store)"}, names
    monkeypatch.setenv("MTLCOMB_JAX_THREADS", "1")
    del names[:]
    batch = mc.cross_validate(data, n_folds=3, n_lambdas=6, screening=True)
    assert "jit(solve_on_columns)" in names
    assert threads.converged.all() and batch.converged.all()
    np.testing.assert_allclose(threads.fold_lambdas, batch.fold_lambdas, rtol=1e-12)
    np.testing.assert_allclose(threads.deviance, batch.deviance, rtol=1e-4)
    np.testing.assert_allclose(threads.task_metric, batch.task_metric, rtol=1e-3)


TUNE = dict(tune=("lam",), n_steps=2, n_folds=3, ridge=0.01)


@pytest.mark.slow   # about 5 s (the default run stays within 5 minutes on 2 cores)
def test_tuning_a_second_dataset_in_the_same_bucket_compiles_nothing():
    first = shared_data(n=41, p=61, seed=0, **MIXED)
    second = shared_data(n=43, p=63, seed=1, **MIXED)
    counter = _CompileCounter()
    with counter:
        mc.tune_hyperparameters(first, **TUNE)
    with counter:
        mc.tune_hyperparameters(second, **TUNE)
    assert counter.compiled == 0


@pytest.mark.slow
def test_padding_does_not_change_what_tuning_finds(monkeypatch):
    data = shared_data(n=43, p=63, seed=1, **MIXED)
    padded = mc.tune_hyperparameters(data, **TUNE)
    monkeypatch.setattr(buckets, "MAX_PADDED_BYTES", 0)                 # every shape as it is
    plain = mc.tune_hyperparameters(data, **TUNE)
    np.testing.assert_allclose(padded.history, plain.history, rtol=1e-6)


@pytest.mark.slow
def test_padded_problems_give_the_unpadded_results(monkeypatch):
    data = shared_data(n=43, p=63, seed=2, **MIXED)
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
