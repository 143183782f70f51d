"""Sharding over 4 simulated host devices gives the one-device results (run in a subprocess,
because the device count is fixed when JAX starts)."""
import os
import pathlib
import subprocess
import sys

SCRIPT = pathlib.Path(__file__).parent / "scripts" / "multidevice_check.py"


def test_four_host_devices_match_one():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "cv: 4 devices vs 1" in done.stdout and "stability selection: 4 devices vs 1" in done.stdout
    assert "return_path on 4 devices" in done.stdout


def test_two_processes_agree_with_one():
    """Multi-host: two local processes (2 CPU devices each) joined by jax.distributed."""
    script = pathlib.Path(__file__).parents[1] / "bench" / "multihost_cv.py"
    done = subprocess.run([sys.executable, str(script), "--launch-local", "2"], capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "process 1 of 2: 4 devices in all" in done.stdout
