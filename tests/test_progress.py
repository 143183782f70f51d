"""Progress bars (mtlcomb_jax.progress): they count every lambda of every problem in the batch
once, leave the results unchanged, and start their clock after compilation."""
import numpy as np
import pytest

import mtlcomb_jax as mc
from problems import tasks_data


def test_path_with_progress_matches_scan_and_counts_lambdas(tutorial, capsys):
    data, raw = tutorial
    a = mc.fit_path(data, n_lambdas=4, intercept=False, stop="relative", tol=1e-10)
    b = mc.fit_path(data, n_lambdas=4, intercept=False, stop="relative", tol=1e-10, progress=True)
    np.testing.assert_array_equal(np.asarray(a.W), np.asarray(b.W))
    assert "4/4" in capsys.readouterr().err


@pytest.mark.slow
def test_cv_progress_counts_every_fold_and_lambda(capsys):
    data = tasks_data(n_tasks=3, n=40, p=10, n_cls=1)
    quiet = mc.cross_validate(data, n_folds=3, n_lambdas=5)
    loud = mc.cross_validate(data, n_folds=3, n_lambdas=5, progress=True)
    np.testing.assert_array_equal(quiet.task_metric, loud.task_metric)
    err = capsys.readouterr().err
    assert "15/15" in err and "16/15" not in err


@pytest.mark.parametrize("threads", ["2", pytest.param("1", marks=pytest.mark.slow)])
def test_progress_counts_every_problem_on_a_shared_grid(capsys, monkeypatch, threads):
    # Explicit lambdas (CV) and stability selection share one grid across the batch;
    # the bar must still count every problem at every lambda once: in host threads
    # (sharding.run_rows) one row at a time, in one thread as one vmapped batch.
    data = tasks_data(n_tasks=3, n=40, p=10, n_cls=1)
    grid = mc.lambda_grid(data, n_lambdas=5)
    monkeypatch.setenv("MTLCOMB_JAX_THREADS", threads)
    mc.cross_validate(data, n_folds=3, lambdas=grid, progress=True)
    mc.stability_selection(data, n_subsamples=5, n_lambdas=5, progress=True)
    err = capsys.readouterr().err
    assert "15/15" in err and "25/25" in err
    assert "16/15" not in err and "26/25" not in err


@pytest.mark.slow
def test_cv_progress_counts_the_path_in_the_batch(wide, capsys):
    mc.cross_validate(wide, n_folds=3, n_lambdas=4, return_path=True, screening=True, progress=True)
    err = capsys.readouterr().err
    assert "16/16" in err and "17/16" not in err


@pytest.mark.slow
def test_cv_progress_counts_the_folds_in_threads_with_working_sets(capsys, monkeypatch):
    # One X: each fold a working-set path of its own in host threads (cv._screened_fold),
    # here on an explicit grid; the full data's path is fit_path's bar after the folds'.
    from problems import wide_shared_regression
    data = wide_shared_regression()
    grid = mc.lambda_grid(data, n_lambdas=4)
    monkeypatch.setenv("MTLCOMB_JAX_THREADS", "2")
    cv = mc.cross_validate(data, n_folds=3, lambdas=grid, return_path=True, screening=True, progress=True)
    err = capsys.readouterr().err
    assert "12/12" in err and "13/12" not in err and "4/4" in err
    np.testing.assert_allclose(cv.fold_lambdas, np.broadcast_to(grid, (3, 4)))
    assert cv.converged.all() and np.all(cv.path.converged)


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
