"""Sharding over 4 simulated host devices gives the one-device results (run in a subprocess,
because the device count is fixed when JAX starts)."""
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

import mtlcomb_jax as mc

SCRIPT = pathlib.Path(__file__).parent / "scripts" / "multidevice_check.py"


@pytest.mark.slow   # a subprocess on 4 host devices, about 30 s
def test_four_host_devices_match_one():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "screened cv: 4 devices vs 1" in done.stdout
    assert "folds returned (5, 5, True)" in done.stdout
    assert "cv: 4 devices vs 1" in done.stdout and "stability selection: 4 devices vs 1" in done.stdout
    assert "return_path on 4 devices" in done.stdout
    assert "progress on 4 devices: cv 24 of 24, stability selection 48 of 48" in done.stdout


@pytest.mark.slow   # two subprocesses, about 12 s
def test_two_processes_agree_with_one():
    """Multi-host: two local processes (2 CPU devices each) joined by jax.distributed."""
    script = pathlib.Path(__file__).parents[1] / "bench" / "multihost_cv.py"
    done = subprocess.run([sys.executable, str(script), "--launch-local", "2"], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "process 1 of 2: 4 devices in all" in done.stdout


def test_use_cpu_cores_sets_the_device_count_in_a_fresh_process():
    # Called again once JAX has started, with the same count, it changes nothing.
    code = ("import mtlcomb_jax as mc, jax; n = mc.use_cpu_cores(3); "
            "print(n, jax.device_count(), mc.use_cpu_cores(3))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, JAX_PLATFORMS="cpu"))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "3", "3"]


def test_use_cpu_cores_after_jax_started_says_when_to_call_it():
    count = len(jax.devices("cpu"))   # JAX has started in this process: its device count is fixed
    with pytest.raises(RuntimeError, match="right after importing mtlcomb_jax"):
        mc.use_cpu_cores(count + 1)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_use_cpu_cores_rejects_a_bad_count(bad):
    with pytest.raises(ValueError, match="n_devices=.* must be a positive integer"):
        mc.use_cpu_cores(bad)


def test_empty_devices_say_what_to_pass():
    from mtlcomb_jax.simulate import simulate_mixed_tasks
    Xs, ys, types, _ = simulate_mixed_tasks(1, 1, 8, 2, 30, seed=0)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    with pytest.raises(ValueError, match="devices is empty; pass None"):
        mc.cross_validate(data, n_folds=3, n_lambdas=3, devices=[])
    with pytest.raises(ValueError, match="devices is empty; pass None"):
        mc.stability_selection(data, n_subsamples=2, n_lambdas=3, devices=[])


@pytest.mark.slow
def test_host_threads_give_the_one_thread_results(monkeypatch):
    """On one CPU device the folds and subsamples run in host threads, each thread taking the
    next fold or subsample (sharding.run_rows), nothing padded. The results are those of one
    call over the whole batch in one thread."""
    from mtlcomb_jax.sharding import batch_rows, host_threads
    from mtlcomb_jax.simulate import simulate_mixed_tasks
    Xs, ys, types, _ = simulate_mixed_tasks(2, 2, 12, 3, 40, seed=1)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    runs = {}
    for threads in ("1", "3"):
        monkeypatch.setenv("MTLCOMB_JAX_THREADS", threads)
        cv = mc.cross_validate(data, n_folds=5, n_lambdas=6)
        stability = mc.stability_selection(data, n_subsamples=4, n_lambdas=5)
        runs[threads] = cv, stability
    assert host_threads(None, 5) == 3 and host_threads(None, 2) == 2 and batch_rows(None, 5) == 5
    (cv1, st1), (cv3, st3) = runs["1"], runs["3"]
    assert cv3.n_iter.shape == cv1.n_iter.shape == (5, 6)
    np.testing.assert_array_equal(cv3.n_iter, cv1.n_iter)
    np.testing.assert_allclose(cv3.task_metric, cv1.task_metric, rtol=1e-9)
    np.testing.assert_allclose(cv3.fold_lambdas, cv1.fold_lambdas, rtol=1e-12)
    assert cv3.lambda_weighted_min == pytest.approx(cv1.lambda_weighted_min, rel=1e-12)
    np.testing.assert_array_equal(st3.n_iter, st1.n_iter)
    np.testing.assert_array_equal(st3.frequencies, st1.frequencies)


@pytest.mark.parametrize("bad", ["0", "two", "-1", "1.5"])
def test_a_bad_thread_count_says_what_to_set(monkeypatch, bad):
    from mtlcomb_jax.sharding import host_threads
    monkeypatch.setenv("MTLCOMB_JAX_THREADS", bad)
    with pytest.raises(ValueError, match="MTLCOMB_JAX_THREADS=.* is not a thread count; set it to a positive"):
        host_threads(None, 4)


def test_host_threads_run_under_the_callers_jax_settings(monkeypatch):
    """JAX keeps its settings per thread: a thread of run_rows must see the caller's
    ``with jax.enable_x64(...)`` (else it would trace the caller's program in float32)."""
    from mtlcomb_jax.sharding import run_rows
    seen = []

    def call(row):
        seen.append((jax.enable_x64.value, str(jax.default_matmul_precision.value)))
        return (row * 2,)

    flipped = not jax.enable_x64.value
    with jax.enable_x64(flipped), jax.default_matmul_precision("bfloat16"):
        (out,) = run_rows(call, (np.arange(5.0)[:, None],), 2)
        (kept,) = run_rows(call, (np.arange(5.0)[:, None],), 2, keep_axis=True)
    assert seen == [(flipped, "bfloat16")] * 10
    np.testing.assert_array_equal(out[:, 0], 2 * np.arange(5.0))
    np.testing.assert_array_equal(kept[:, 0, 0], 2 * np.arange(5.0))     # each row as a batch of one


@pytest.mark.slow   # two CVs with working sets, about 12 s
def test_working_sets_on_one_x_in_threads_agree_with_one_thread(monkeypatch):
    """With one X for all tasks each fold has its own working set, so the CV with working
    sets runs in host threads too; working ahead then changes the warm starts, so the
    solutions agree to within the solver's certificate, not to rounding."""
    from problems import wide_shared_regression
    data = wide_shared_regression()
    runs = {}
    for threads in ("1", "2"):
        monkeypatch.setenv("MTLCOMB_JAX_THREADS", threads)
        runs[threads] = mc.cross_validate(data, n_folds=3, n_lambdas=5, screening=True)
    one, two = runs["1"], runs["2"]
    assert np.all(one.converged) and np.all(two.converged) and two.n_iter.shape == (3, 5)
    np.testing.assert_allclose(two.task_metric, one.task_metric, rtol=1e-3)   # the held-out MSE of
    # solutions within the gap rule's 1e-6 x the null loss: 2.5e-4 apart at the last lambda here
    assert two.lambda_weighted_min == one.lambda_weighted_min
