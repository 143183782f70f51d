"""The problems the tests share: the R package's golden problems (``tests/fixtures/``) and
simulated mixed tasks, as arrays or as ``MultiTaskData``. Every builder is deterministic (its
seed is an argument), so a test that calls one twice gets the same problem twice.

``tests/conftest.py`` configures JAX (64-bit mode, no persistent cache) before this module
is imported, and holds the fixtures built from these functions."""
import pathlib

import numpy as np

import mtlcomb_jax as mc

FIXTURES = pathlib.Path(__file__).parent / "fixtures"


# -- the R package's golden problems ------------------------------------------------------
def load_golden(name):
    """(MultiTaskData, raw npz dict) of a golden problem from the R package."""
    raw = dict(np.load(FIXTURES / f"{name}.npz"))
    n_tasks = len(raw["fold_task_offsets"]) - 1
    Xs = [raw[f"X{t}"] for t in range(n_tasks)]
    ys = [raw[f"y{t}"] for t in range(n_tasks)]
    types = ["classification" if t in raw["classification_tasks"] else "regression" for t in range(n_tasks)]
    return mc.MultiTaskData.from_tasks(Xs, ys, types), raw


def golden_folds(raw):
    """The R package's fold ids of a golden problem, one array per task."""
    off = raw["fold_task_offsets"]
    return [raw["folds"][off[t]:off[t + 1]] for t in range(len(off) - 1)]


# -- simulated mixed tasks ----------------------------------------------------------------
def simulate(n_tasks=4, n=80, p=40, n_true=5, n_cls=2, noise=0.5, seed=0, shared=False, dtype=np.float64):
    """Mixed tasks sharing n_true features: (Xs or X, ys or Y, task_types, W_true).

    The last ``n_cls`` tasks are classification tasks (labels -1 and +1). Per task
    (``shared=False``) task t has n + 5 t samples; with ``shared=True`` the tasks are the
    columns of Y on one design X (n, p)."""
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


def tasks_data(**kwargs):
    """``simulate(**kwargs)`` as MultiTaskData, one design per task (padded to (T, n, p))."""
    Xs, ys, types, _ = simulate(**kwargs)
    return mc.MultiTaskData.from_tasks(Xs, ys, types)


def shared_data(**kwargs):
    """``simulate(shared=True, **kwargs)`` as MultiTaskData on one shared design (n, p)."""
    X, Y, types, _ = simulate(shared=True, **kwargs)
    return mc.MultiTaskData.from_outcomes(X, Y, types)


# -- shared designs with a particular structure -------------------------------------------
def rare_shared(n=60, rare=6, seed=0):
    """A shared design whose second classification outcome has `rare` positives."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    common = np.where(X[:, 0] + 0.3 * rng.normal(size=n) > 0, 1, 0)
    second = np.zeros(n, int)
    second[rng.choice(n, rare, replace=False)] = 1
    Y = np.column_stack([X[:, 1] + 0.1 * rng.normal(size=n), common, second])
    return mc.MultiTaskData.from_outcomes(X, Y, ["regression", "classification", "classification"],
                                          task_names=["marker", "dx", "rare"])


def with_missing_outcomes():
    """A shared design (40 patients) whose outcomes are not all measured on every patient."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 6))
    Y = np.column_stack([X[:, 0] + rng.normal(size=40), X[:, 1] + rng.normal(size=40), (X[:, 2] > 0).astype(float)])
    Y[4:, 1] = np.nan                    # a marker measured on 4 patients
    Y[[1, 5, 9], 2] = np.nan             # a diagnosis missing for 3
    return mc.MultiTaskData.from_outcomes(X, Y, ["regression", "regression", "classification"],
                                          missing_outcomes="drop")


def wide_shared_regression():
    """5 regression outcomes on one wide design (n = 60, p = 400) sharing 8 features."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(60, 400))
    W = np.zeros((400, 5))
    W[:8] = rng.normal(size=(8, 5))
    return mc.MultiTaskData.from_outcomes(X, X @ W + 0.5 * rng.normal(size=(60, 5)), ["regression"] * 5)
