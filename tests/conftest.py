"""Shared fixtures. float64 everywhere unless a test builds float32 data itself."""
import os
import pathlib

# The tests count and time compilations: programs loaded from the persistent cache would
# hide them (tests/test_caching.py runs the default cache in fresh processes).
os.environ["MTLCOMB_JAX_CACHE"] = "0"

import jax  # noqa: E402
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)

import mtlcomb_jax as mc  # noqa: E402

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


def load_golden(name):
    """(MultiTaskData, raw npz dict) of a golden problem from the R package."""
    raw = dict(np.load(FIXTURES / f"{name}.npz"))
    n_tasks = len(raw["fold_task_offsets"]) - 1
    Xs = [raw[f"X{t}"] for t in range(n_tasks)]
    ys = [raw[f"y{t}"] for t in range(n_tasks)]
    types = ["classification" if t in raw["classification_tasks"] else "regression" for t in range(n_tasks)]
    return mc.MultiTaskData.from_tasks(Xs, ys, types), raw


def golden_folds(raw):
    off = raw["fold_task_offsets"]
    return [raw["folds"][off[t]:off[t + 1]] for t in range(len(off) - 1)]


@pytest.fixture(scope="session")
def tutorial():
    return load_golden("tutorial")


@pytest.fixture(scope="session")
def unequal():
    return load_golden("unequal")


@pytest.fixture(scope="session")
def wide():
    """4 mixed tasks (2 classification), n = 50, p = 300: wide enough for working sets."""
    Xs, ys, types, _ = simulate(n_tasks=4, n=50, p=300, n_true=6, n_cls=2)
    return mc.MultiTaskData.from_tasks(Xs, ys, types)


def simulate(n_tasks=4, n=80, p=40, n_true=5, n_cls=2, noise=0.5, seed=0, shared=False, dtype=np.float64):
    """Mixed tasks sharing n_true features: (Xs or X, ys or Y, task_types, W_true)."""
    rng = np.random.default_rng(seed)
    W = np.zeros((p, n_tasks))
    n_true = min(n_true, p)
    W[:n_true] = rng.normal(size=(n_true, n_tasks)) + np.sign(rng.normal(size=(n_true, 1)))
    types = ["regression"] * (n_tasks - n_cls) + ["classification"] * n_cls
    def target(X, t):
        z = X @ W[:, t] + noise * rng.normal(size=X.shape[0])
        return np.where(z > 0, 1.0, -1.0) if types[t] == "classification" else z
    if shared:
        X = rng.normal(size=(n, p)).astype(dtype)
        Y = np.column_stack([target(X, t) for t in range(n_tasks)]).astype(dtype)
        return X, Y, types, W
    Xs = [rng.normal(size=(n + 5 * t, p)).astype(dtype) for t in range(n_tasks)]
    ys = [target(X, t).astype(dtype) for t, X in enumerate(Xs)]
    return Xs, ys, types, W


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    """Drop JAX's compiled programs after each test module: one process compiling the
    whole suite's thousands of programs otherwise keeps them all resident."""
    yield
    jax.clear_caches()
