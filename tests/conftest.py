"""Shared fixtures. float64 everywhere unless a test builds float32 data itself.

The problems themselves are built in ``tests/problems.py``; this file configures JAX before
that module imports the package, and turns its builders into fixtures."""
import os

# The tests count and time compilations: programs loaded from the persistent cache would
# hide them (tests/test_caching.py runs the default cache in fresh processes).
os.environ["MTLCOMB_JAX_CACHE"] = "0"

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

jax.config.update("jax_enable_x64", True)

# Re-exported: some test modules import the builders from conftest.
from problems import FIXTURES, golden_folds, load_golden, simulate, tasks_data  # noqa: E402,F401


@pytest.fixture(scope="session")
def tutorial():
    return load_golden("tutorial")


@pytest.fixture(scope="session")
def unequal():
    return load_golden("unequal")


@pytest.fixture(scope="session")
def wide():
    """4 mixed tasks (2 classification), n = 50, p = 300: wide enough for working sets."""
    return tasks_data(n_tasks=4, n=50, p=300, n_true=6, n_cls=2)


@pytest.fixture(scope="session")
def small():
    """3 mixed tasks (1 classification), n = 40, p = 8: for checks of arguments and inputs."""
    return tasks_data(n_tasks=3, n=40, p=8, n_true=3, n_cls=1)


@pytest.fixture(scope="session")
def mixed():
    """(data, R, r): 4 mixed tasks (2 classification), n = 40, p = 12, with fixed random
    weights R (p, T) and r (T,) for a scalar readout of a solution's W and intercept."""
    data = tasks_data(n_tasks=4, n=40, p=12, n_true=4, n_cls=2)
    rng = np.random.default_rng(1)
    return data, rng.normal(size=(12, 4)), rng.normal(size=4)


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module: one process compiling the
    whole suite's thousands of programs otherwise keeps them all resident."""
    yield
    jax.clear_caches()
