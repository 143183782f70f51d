"""The data model: several tasks sharing one feature space.

Two layouts, told apart by ``X.ndim`` so that every function downstream can
choose its algebra at trace time without a flag:

* **padded** (``from_tasks``): ``X`` has shape (n_tasks, n_max, n_features); task
  t's rows beyond its own sample count are zero and carry sample weight 0.
* **shared** (``from_outcomes``): ``X`` has shape (n_samples, n_features) and is
  used for every task directly (``X @ W`` and ``X.T @ R``); it is never copied
  once per task.

In both layouts ``y``, ``weights`` and ``mask`` have shape (n_tasks, n_max).
Classification labels are stored as -1.0 / +1.0; the original two values are
kept in ``classes`` so that predictions can refer to the positive class.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import jax
import jax.numpy as jnp
import numpy as np

REGRESSION = "regression"
CLASSIFICATION = "classification"
_TYPE_ALIASES = {
    "regression": REGRESSION, "regress": REGRESSION, "r": REGRESSION, "continuous": REGRESSION,
    "classification": CLASSIFICATION, "classify": CLASSIFICATION, "c": CLASSIFICATION,
    "binary": CLASSIFICATION,
}


@dataclasses.dataclass(frozen=True)
class MultiTaskData:
    """Several regression and binary classification tasks over the same features.

    Array fields (pytree leaves, so a ``MultiTaskData`` passes through ``jit``,
    ``vmap`` and ``grad``):

    X : (n_tasks, n_max, n_features) padded, or (n_samples, n_features) shared
    y : (n_tasks, n_max) targets; classification tasks hold -1.0 / +1.0
    weights : (n_tasks, n_max) sample weights, each task's summing to 1, 0 on padding
    mask : (n_tasks, n_max) bool, True where a real sample stands
    is_classification : (n_tasks,) bool

    Static fields (hashable metadata): ``task_types``, ``task_names``,
    ``feature_names`` and ``classes`` (per task ``(negative, positive)`` original
    labels, or ``None`` for regression).
    """

    X: Any
    y: Any
    weights: Any
    mask: Any
    is_classification: Any
    task_types: tuple = ()
    task_names: tuple = ()
    feature_names: tuple = ()
    classes: tuple = ()

    # -- shapes ---------------------------------------------------------------
    @property
    def shared_design(self) -> bool:
        """True when one X (n_samples, n_features) serves every task."""
        return self.X.ndim == 2

    @property
    def n_tasks(self) -> int:
        return self.y.shape[0]

    @property
    def n_features(self) -> int:
        return self.X.shape[-1]

    @property
    def n_samples(self) -> np.ndarray:
        """(n_tasks,) number of real samples per task."""
        return np.asarray(self.mask).sum(axis=1)

    @property
    def classification_tasks(self) -> np.ndarray:
        return np.flatnonzero(np.asarray(self.is_classification))

    @property
    def regression_tasks(self) -> np.ndarray:
        return np.flatnonzero(~np.asarray(self.is_classification))

    def task_index(self, task) -> int:
        """Index of ``task`` given as an int or a task name; ValueError otherwise."""
        return resolve_task_index(task, self.task_names)

    def with_weights(self, weights) -> "MultiTaskData":
        """A copy with new (n_tasks, n_max) sample weights (renormalised per task)."""
        weights = jnp.asarray(weights, dtype=self.X.dtype) * self.mask
        totals = weights.sum(axis=1, keepdims=True)
        return dataclasses.replace(self, weights=weights / jnp.where(totals > 0, totals, 1.0))

    def replace(self, **changes) -> "MultiTaskData":
        """A copy with some array fields replaced (no validation, so it works on traced values).

        Meant for differentiating through a solve, e.g.
        ``jax.grad(lambda X: f(mc.solve(data.replace(X=X), lam)))(data.X)``;
        the new arrays must keep the old shapes. ``weights`` are used as given
        (already normalised per task, 0 on padding).
        """
        for name, value in changes.items():
            old = getattr(self, name, None)
            if name not in ("X", "y", "weights") or old is None:
                raise ValueError(f"replace() takes X, y or weights; got {name!r}. Build new data with "
                                 "from_tasks or from_outcomes for anything else.")
            if jnp.shape(value) != old.shape:
                raise ValueError(f"replace({name}=...) has shape {jnp.shape(value)}; it must keep {old.shape}.")
        return dataclasses.replace(self, **changes)

    # -- builders -------------------------------------------------------------
    @classmethod
    def from_tasks(cls, Xs: Sequence, ys: Sequence, task_types, *, sample_weights=None,
                   feature_names=None, task_names=None, positive_labels=None) -> "MultiTaskData":
        """Build from one design matrix per task (sample sizes may differ).

        Parameters
        ----------
        Xs : list of n_tasks arrays, task t of shape (n_t, n_features)
        ys : list of n_tasks arrays of shape (n_t,)
        task_types : "regression" / "classification" per task (a list), or one
            string for all tasks
        sample_weights : optional list of (n_t,) non-negative arrays; each task's
            weights are normalised to sum 1 (default: 1 / n_t each)
        feature_names, task_names : optional names (default ``x0..``, ``task0..``)
        positive_labels : optional list (per task, ``None`` for regression) of the
            label that counts as the positive class; default the larger of the two
            sorted distinct labels (+1 of {-1, +1}, 1 of {0, 1}, True of booleans)
        """
        Xs, ys = _as_list(Xs, "Xs"), _as_list(ys, "ys")
        n_tasks = len(Xs)
        if n_tasks == 0:
            raise ValueError("Xs is empty: pass a list with one (n_t, n_features) array per task.")
        if len(ys) != n_tasks:
            raise ValueError(f"Xs has {n_tasks} tasks but ys has {len(ys)}; pass one target array per task.")
        types = _parse_task_types(task_types, n_tasks)
        Xs = [_as_matrix(X, f"Xs[{t}]") for t, X in enumerate(Xs)]
        p = Xs[0].shape[1]
        for t, X in enumerate(Xs):
            if X.shape[1] != p:
                raise ValueError(f"Xs[{t}] has {X.shape[1]} features but Xs[0] has {p}; every task must "
                                 "have the same features in the same column order.")
            if X.shape[0] == 0:
                raise ValueError(f"task {t} is empty (Xs[{t}] has 0 rows); drop the task or give it samples.")
        dtype = np.result_type(*[X.dtype for X in Xs])
        weights_in = _per_task_list(sample_weights, n_tasks, "sample_weights")
        positives = _per_task_list(positive_labels, n_tasks, "positive_labels")
        n_max = max(X.shape[0] for X in Xs)

        X_pad = np.zeros((n_tasks, n_max, p), dtype=dtype)
        y_pad = np.zeros((n_tasks, n_max), dtype=dtype)
        w_pad = np.zeros((n_tasks, n_max), dtype=dtype)
        mask = np.zeros((n_tasks, n_max), dtype=bool)
        classes = []
        for t in range(n_tasks):
            n_t = Xs[t].shape[0]
            y_t, cls_t = _encode_targets(ys[t], types[t], positives[t], f"ys[{t}]", n_t)
            X_pad[t, :n_t] = Xs[t]
            y_pad[t, :n_t] = y_t
            w_pad[t, :n_t] = _normalised_weights(weights_in[t], n_t, f"sample_weights[{t}]")
            mask[t, :n_t] = True
            classes.append(cls_t)
        return cls._assemble(X_pad, y_pad, w_pad, mask, types, classes, feature_names, task_names, p)

    @classmethod
    def from_outcomes(cls, X, Y, task_types, *, sample_weights=None, feature_names=None,
                      task_names=None, positive_labels=None) -> "MultiTaskData":
        """Build from one shared design X (n_samples, n_features) and outcomes Y (n_samples, n_tasks).

        X is stored once and used for all tasks; ``sample_weights`` may be one
        (n_samples,) array shared by all tasks or (n_samples, n_tasks).
        """
        X = _as_matrix(X, "X")
        Y = np.asarray(Y)
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2:
            raise ValueError(f"Y must be 2-D (n_samples, n_tasks); got shape {Y.shape}.")
        n, n_tasks = Y.shape
        if X.shape[0] != n:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {n}; X and Y must have one row per sample.")
        if n == 0:
            raise ValueError("X has 0 rows: every task needs samples.")
        types = _parse_task_types(task_types, n_tasks)
        positives = _per_task_list(positive_labels, n_tasks, "positive_labels")
        if sample_weights is None:
            weights_in = [None] * n_tasks
        else:
            sw = np.asarray(sample_weights)
            if sw.ndim == 1:
                weights_in = [sw] * n_tasks
            elif sw.ndim == 2 and sw.shape == (n, n_tasks):
                weights_in = [sw[:, t] for t in range(n_tasks)]
            else:
                raise ValueError(f"sample_weights has shape {sw.shape}; pass ({n},) or ({n}, {n_tasks}).")
        dtype = X.dtype
        y_out = np.zeros((n_tasks, n), dtype=dtype)
        w_out = np.zeros((n_tasks, n), dtype=dtype)
        classes = []
        for t in range(n_tasks):
            y_t, cls_t = _encode_targets(Y[:, t], types[t], positives[t], f"Y[:, {t}]", n)
            y_out[t] = y_t
            w_out[t] = _normalised_weights(weights_in[t], n, f"sample_weights for task {t}")
            classes.append(cls_t)
        mask = np.ones((n_tasks, n), dtype=bool)
        return cls._assemble(X, y_out, w_out, mask, types, classes, feature_names, task_names, X.shape[1])

    @classmethod
    def _assemble(cls, X, y, w, mask, types, classes, feature_names, task_names, p):
        n_tasks = len(types)
        feature_names = _names(feature_names, p, "x", "feature_names")
        task_names = _names(task_names, n_tasks, "task", "task_names")
        is_cls = np.array([t == CLASSIFICATION for t in types])
        return cls(X=jnp.asarray(X), y=jnp.asarray(y), weights=jnp.asarray(w), mask=jnp.asarray(mask),
                   is_classification=jnp.asarray(is_cls), task_types=tuple(types),
                   task_names=task_names, feature_names=feature_names, classes=tuple(classes))


jax.tree_util.register_dataclass(
    MultiTaskData,
    data_fields=["X", "y", "weights", "mask", "is_classification"],
    meta_fields=["task_types", "task_names", "feature_names", "classes"],
)


# -- validation helpers ---------------------------------------------------------
def infer_task_types(ys):
    """'classification' for a target with exactly two distinct values, else 'regression' (one per task)."""
    return [CLASSIFICATION if np.unique(np.asarray(y)).size == 2 else REGRESSION for y in ys]


def resolve_task_index(task, task_names) -> int:
    """Index of ``task`` (an int or one of ``task_names``); ValueError naming the fix otherwise."""
    n_tasks = len(task_names)
    if isinstance(task, (int, np.integer)) and not isinstance(task, bool):
        if 0 <= int(task) < n_tasks:
            return int(task)
        raise ValueError(f"task={task} is out of range: there are {n_tasks} tasks "
                         f"(0 to {n_tasks - 1}); pass an index in that range or a task name.")
    if task in task_names:
        return task_names.index(task)
    raise ValueError(f"task={task!r} is unknown; known tasks are {list(task_names)}.")


def _as_list(obj, name):
    if isinstance(obj, np.ndarray) and obj.dtype != object and obj.ndim >= 2:
        return [obj[t] for t in range(obj.shape[0])]  # a stacked (n_tasks, ...) array
    if isinstance(obj, (list, tuple)):
        return list(obj)
    raise ValueError(f"{name} must be a list with one array per task; got {type(obj).__name__}.")


def _as_matrix(X, name):
    if hasattr(X, "to_numpy"):
        X = X.to_numpy()
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {X.shape}.")
    if not np.issubdtype(X.dtype, np.floating):
        try:
            X = X.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} has non-numeric entries (dtype {X.dtype}); encode features as numbers.")
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        raise ValueError(f"{name} contains NaN or inf (first at row {bad[0]}, column {bad[1]}); "
                         "impute or drop those entries before fitting.")
    return X


def _parse_task_types(task_types, n_tasks):
    if isinstance(task_types, str):
        task_types = [task_types] * n_tasks
    task_types = list(task_types)
    if len(task_types) != n_tasks:
        raise ValueError(f"task_types has {len(task_types)} entries but there are {n_tasks} tasks; "
                         "give one type per task.")
    out = []
    for t, kind in enumerate(task_types):
        key = str(kind).lower()
        if key not in _TYPE_ALIASES:
            raise ValueError(f"task_types[{t}] is {kind!r}, an unknown task type; use 'regression' or "
                             "'classification'.")
        out.append(_TYPE_ALIASES[key])
    return out


def _per_task_list(value, n_tasks, name):
    if value is None:
        return [None] * n_tasks
    value = list(value)
    if len(value) != n_tasks:
        raise ValueError(f"{name} has {len(value)} entries but there are {n_tasks} tasks; give one per task.")
    return value


def _encode_targets(y, kind, positive, name, n_rows):
    """Targets of one task as floats; classification labels mapped to -1 / +1."""
    if hasattr(y, "to_numpy"):
        y = y.to_numpy()
    y = np.asarray(y)
    if y.ndim != 1:
        y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {y.shape}.")
    if y.shape[0] != n_rows:
        raise ValueError(f"{name} has {y.shape[0]} values but its X has {n_rows} rows; pass one target per row.")
    if kind == REGRESSION:
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{name} is a regression target with non-numeric values; encode it as numbers "
                             "or declare the task 'classification'.")
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} contains NaN or inf at position {int(np.flatnonzero(~np.isfinite(y))[0])}; "
                             "drop those samples before fitting.")
        return y, None
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains NaN or inf; drop those samples before fitting.")
    labels = np.unique(y)
    if labels.shape[0] != 2:
        raise ValueError(f"{name} is a classification task but has {labels.shape[0]} distinct labels "
                         f"({labels[:5].tolist()}); a classification task needs exactly two "
                         "(e.g. -1/+1, 0/1, or two strings). Declare it 'regression' if it is continuous.")
    negative, pos = labels[0], labels[1]
    if positive is not None:
        if positive not in labels.tolist():
            raise ValueError(f"positive label {positive!r} for {name} is not one of its labels {labels.tolist()}.")
        pos = positive
        negative = labels[0] if labels[1] == positive else labels[1]
    encoded = np.where(y == pos, 1.0, -1.0)
    return encoded, (_py(negative), _py(pos))


def _py(value):
    return value.item() if hasattr(value, "item") else value


def _normalised_weights(w, n, name):
    if w is None:
        return np.full(n, 1.0 / n)
    w = np.asarray(w, dtype=np.float64)
    if w.shape != (n,):
        raise ValueError(f"{name} has shape {w.shape}; pass one weight per sample, shape ({n},).")
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} contains NaN or inf; weights must be finite and non-negative.")
    if np.any(w < 0):
        raise ValueError(f"{name} has negative entries; weights must be non-negative.")
    total = w.sum()
    if total <= 0:
        raise ValueError(f"{name} are all zero; at least one sample of the task needs a positive weight.")
    return w / total


def _names(names, count, prefix, arg):
    if names is None:
        return tuple(f"{prefix}{i}" for i in range(count))
    names = tuple(str(n) for n in names)
    if len(names) != count:
        raise ValueError(f"{arg} has {len(names)} names but there are {count}; give one name each.")
    if len(set(names)) != count:
        raise ValueError(f"{arg} has duplicates; names must be unique.")
    return names
