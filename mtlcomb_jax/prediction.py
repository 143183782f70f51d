"""Prediction from a solve result or any lambda of a path, and save / load."""
from __future__ import annotations

import json
import pathlib
import zipfile
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .data import as_feature_matrix, default_names, resolve_task_index
from .path import PathResult
from .precision import jit
from .sharding import to_device
from .scaling import Scaling
from .solver import SolveResult


def _coefficients(model, lambda_index):
    """(W (p, T), b (T,)) of a SolveResult, or of one lambda of a PathResult."""
    if isinstance(model, SolveResult):
        if lambda_index is not None:
            raise ValueError("lambda_index applies to a PathResult only; a SolveResult has one lambda.")
        return model.W, model.intercept
    if isinstance(model, PathResult):
        n = model.lambdas.shape[0]
        if lambda_index is None:
            raise ValueError(f"predicting from a PathResult needs lambda_index (0 to {n - 1}); pick one, "
                             "e.g. the index of the lambda cross-validation selected.")
        if not -n <= int(lambda_index) < n:
            raise ValueError(f"lambda_index={lambda_index} is out of range for a path of {n} lambdas.")
        return model.W[lambda_index], model.intercept[lambda_index]
    raise ValueError(f"model must be a SolveResult or PathResult; got {type(model).__name__}.")


def _task_index(model, task):
    return resolve_task_index(task, model.task_names)


def _check_X(model, X_new):
    """X_new as an (n, n_features) array of the model's dtype, with a DataFrame's columns
    matched to the model's features by name (reordered when they are a permutation);
    ValueError for other columns, a wrong width, non-numeric or non-finite entries."""
    p = model.W.shape[-2]
    names = tuple(model.feature_names)
    if hasattr(X_new, "columns"):
        columns = tuple(str(c) for c in X_new.columns)
        if columns != names:
            if set(columns) == set(names) and len(columns) == len(names):
                X_new = X_new[[X_new.columns[columns.index(name)] for name in names]]
            else:
                missing = [n for n in names if n not in columns][:5]
                extra = [c for c in columns if c not in names][:5]
                hint = ("the model has no feature names of its own (fitted from arrays): pass X_new.to_numpy() "
                        "to predict by column position" if names == default_names("x", p) else
                        "select the model's features by name: X_new[list(model.feature_names)]")
                raise ValueError(f"X_new's columns do not match the model's features (missing {missing}, not in "
                                 f"the model {extra}); {hint}.")
    elif np.ndim(X_new) == 1:
        X_new = np.atleast_2d(X_new)          # one sample
    X_new = as_feature_matrix(X_new, "X_new")
    if X_new.shape[1] != p:
        raise ValueError(f"X_new has shape {X_new.shape}; the model was fitted on {p} features, so pass "
                         f"an (n_samples, {p}) array with the training columns in the same order.")
    return to_device(X_new, model.W.dtype)


def decision_function(model, X_new, task=None, *, lambda_index=None):
    """Linear scores ``X_new @ w_t + b_t``: (n,) for one task, (n, n_tasks) for all (task=None)."""
    W, b = _coefficients(model, lambda_index)
    X_new = _check_X(model, X_new)
    t = None if task is None else _task_index(model, task)
    return _scores(X_new, W, b, t)


@partial(jit, static_argnames=("task",))
def _scores(X, W, b, task):
    """X (n, p) @ W (p, T) + b: (n, T), or (n,) for one task index."""
    if task is None:
        return X @ W + b[None, :]
    return X @ W[:, task] + b[task]


def predict(model, X_new, task=None, *, lambda_index=None):
    """Predictions for new samples X_new (n, n_features).

    Regression tasks give their scores; classification tasks give
    P(y = positive class) (the second of ``model.classes[t]``).
    Returns (n,) for one ``task`` (index or name), (n, n_tasks) for all.
    """
    scores = decision_function(model, X_new, task, lambda_index=lambda_index)
    if task is None:
        return jnp.where(model.is_classification[None, :], jax.nn.sigmoid(scores), scores)
    t = _task_index(model, task)
    return jnp.where(model.is_classification[t], jax.nn.sigmoid(scores), scores)


# -- save / load ----------------------------------------------------------------------------
FORMAT_VERSION = 1
_ARRAYS = {SolveResult: ["W", "intercept", "objective", "n_iter", "converged", "dual_gap",
                         "kkt_residual", "lam", "is_classification"],
           PathResult: ["lambdas", "W", "intercept", "objective", "n_iter", "converged", "dual_gap",
                        "kkt_residual", "is_classification"]}
#: a standardised fit's scaling (:class:`~mtlcomb_jax.scaling.Scaling`), stored when present
_SCALING = {f"scaling_{name}": name for name in Scaling._fields}


def model_file(path):
    """The file a model named ``path`` lives in: ``path`` itself when it ends in .npz, else
    ``path`` + ".npz" (what NumPy's savez writes), so save_model and load_model agree."""
    path = pathlib.Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def save_model(model, path):
    """Write a SolveResult or PathResult to ``path`` (.npz arrays + JSON metadata, no pickle).

    ".npz" is appended to a name without it; :func:`load_model` takes either name. Returns
    the path written.
    """
    kind = type(model)
    if kind not in _ARRAYS:
        raise ValueError(f"save_model takes a SolveResult or PathResult; got {kind.__name__}.")
    meta = {"kind": kind.__name__, "format": FORMAT_VERSION, "task_names": list(model.task_names),
            "feature_names": list(model.feature_names),
            "classes": [None if c is None else list(c) for c in model.classes]}
    arrays = {name: np.asarray(getattr(model, name)) for name in _ARRAYS[kind]}
    if model.scaling is not None:
        arrays.update({key: np.asarray(getattr(model.scaling, name)) for key, name in _SCALING.items()})
    _check_model_fields(meta, arrays, "the model to save")
    target = model_file(path)
    with open(target, "wb") as f:
        np.savez(f, __meta__=np.array(json.dumps(meta)), **arrays)
    return target


def load_model(path):
    """Read a model written by :func:`save_model`.

    Every field is checked against the others (shapes, names, classes, finite
    coefficients); a file that is not such a model (truncated, corrupted, empty, another
    format) raises a ValueError that names the file and what is wrong.
    """
    target = model_file(path)
    if not target.exists() and pathlib.Path(path).exists():
        target = pathlib.Path(path)
    where = f"model file {str(target)!r}"
    if not target.exists():
        raise ValueError(f"{where} does not exist; write one with save_model (or `mtlcomb-jax fit` / `cv`).")
    try:
        archive = np.load(target, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array (.npy), not a model archive")
        with archive as f:
            if "__meta__" not in f.files:
                raise ValueError("it has no model metadata (__meta__): not written by save_model")
            meta = json.loads(str(f["__meta__"]))
            if not isinstance(meta, dict):
                raise ValueError("its metadata is not a JSON object")
            kind_name = meta.get("kind")
            kind = {"SolveResult": SolveResult, "PathResult": PathResult}.get(kind_name)
            if kind is None:
                raise ValueError(f"its kind {kind_name!r} is neither SolveResult nor PathResult")
            missing = [name for name in _ARRAYS[kind] if name not in f.files]
            if missing:
                raise ValueError(f"it lacks the arrays {missing}")
            arrays = {name: f[name] for name in _ARRAYS[kind]}
            present = [key for key in _SCALING if key in f.files]
            if present and len(present) != len(_SCALING):
                raise ValueError(f"it holds only part of a scaling ({present})")
            arrays.update({key: f[key] for key in present})
    except ValueError as err:
        if "pickled" in str(err):     # NumPy's word for a file that is neither .npy nor .npz
            err = "it is not a NumPy .npz archive (a CSV, text or other file?)"
        raise ValueError(f"{where} is not a model written by save_model: {err}.") from None
    except (OSError, EOFError, KeyError, TypeError, zipfile.BadZipFile, json.JSONDecodeError,
            UnicodeDecodeError) as err:
        raise ValueError(f"{where} is not a readable model (truncated or corrupted?): "
                         f"{type(err).__name__}: {err}.") from None
    _check_model_fields(meta, arrays, where)
    classes = tuple(None if c is None else tuple(c) for c in meta["classes"])
    scaling = Scaling(**{name: arrays.pop(key) for key, name in _SCALING.items()}) if _SCALING.keys() <= \
        arrays.keys() else None
    return kind(**{name: jnp.asarray(a) for name, a in arrays.items()}, task_names=tuple(meta["task_names"]),
                feature_names=tuple(meta["feature_names"]), classes=classes, scaling=scaling)


def _check_model_fields(meta, arrays, where):
    """ValueError naming ``where`` unless the metadata and arrays describe one consistent model."""
    def fail(what):
        raise ValueError(f"{where} is not a valid model: {what}.")

    if meta.get("format") != FORMAT_VERSION:
        fail(f"its format version is {meta.get('format')!r}, this version of mtlcomb_jax reads {FORMAT_VERSION}")
    for key in ("task_names", "feature_names", "classes"):
        if not isinstance(meta.get(key), list):
            fail(f"its metadata has no list {key!r}")
    path = meta["kind"] == "PathResult"
    W = arrays["W"]
    if W.ndim != (3 if path else 2) or W.dtype.kind != "f":
        fail(f"W has shape {W.shape} and dtype {W.dtype}; a {meta['kind']} holds a float W of shape "
             f"{'(n_lambdas, n_features, n_tasks)' if path else '(n_features, n_tasks)'}")
    n_features, n_tasks = W.shape[-2:]
    n_lambdas = W.shape[0] if path else None
    lead = (n_lambdas,) if path else ()
    expected = {"intercept": lead + (n_tasks,), "objective": lead, "n_iter": lead, "converged": lead,
                "dual_gap": lead, "kkt_residual": lead, "is_classification": (n_tasks,)}
    expected.update({"lambdas": (n_lambdas,)} if path else {"lam": ()})
    for name, shape in expected.items():
        if arrays[name].shape != shape:
            fail(f"{name} has shape {arrays[name].shape} but W of shape {W.shape} needs {shape}")
    if not np.all(np.isfinite(W)) or not np.all(np.isfinite(arrays["intercept"])):
        fail("its coefficients or intercepts hold NaN or inf")
    lambdas = arrays["lambdas"] if path else arrays["lam"]
    if not np.all(np.isfinite(lambdas)) or np.any(lambdas < 0):
        fail("its lambdas are not finite and non-negative")
    if arrays["is_classification"].dtype != np.bool_:
        fail(f"is_classification has dtype {arrays['is_classification'].dtype}, not bool")
    if len(meta["task_names"]) != n_tasks or len(meta["classes"]) != n_tasks:
        fail(f"it names {len(meta['task_names'])} tasks and {len(meta['classes'])} class lists for W's {n_tasks} "
             "tasks")
    if len(meta["feature_names"]) != n_features:
        fail(f"it names {len(meta['feature_names'])} features for W's {n_features}")
    if "scaling_x_scale" in arrays:
        x_shapes = ((n_features,), (n_tasks, n_features))
        for key in _SCALING:
            value = arrays[key]
            shapes = x_shapes if key.startswith("scaling_x") else ((n_tasks,),)
            if value.shape not in shapes or value.dtype.kind != "f" or not np.all(np.isfinite(value)):
                fail(f"{key} has shape {value.shape} and dtype {value.dtype}; it must be finite floats of shape "
                     f"{' or '.join(map(str, shapes))}")
        if np.any(arrays["scaling_x_scale"] <= 0) or np.any(arrays["scaling_y_scale"] <= 0):
            fail("its scaling has scales that are not positive")
    if len(set(map(str, meta["task_names"]))) != n_tasks or len(set(map(str, meta["feature_names"]))) != n_features:
        fail("its task or feature names repeat")
    for t, (cls, is_cls) in enumerate(zip(meta["classes"], arrays["is_classification"])):
        if is_cls and not (isinstance(cls, list) and len(cls) == 2 and cls[0] != cls[1]):
            fail(f"classification task {meta['task_names'][t]!r} needs two distinct class labels, has {cls!r}")
        if not is_cls and cls is not None:
            fail(f"regression task {meta['task_names'][t]!r} has class labels {cls!r}")
