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

from .sharding import to_device
from . import validation

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
        """A copy with new (n_tasks, n_max) sample weights (renormalised per task; padding gets 0).

        The weights must be finite and non-negative, give every task a positive total, and
        leave both classes of every classification task with positive weight.
        """
        w = np.asarray(weights)
        shape = tuple(self.y.shape)
        if w.shape != shape:
            raise ValueError(f"weights has shape {w.shape}; with_weights takes one weight per sample and task, "
                             f"shape (n_tasks, n_max) = {shape} (padding entries are ignored).")
        mask = np.asarray(self.mask)
        w = _checked_weights(w, "weights")
        out = np.zeros(shape, dtype=np.float64)
        for t in range(self.n_tasks):
            out[t, mask[t]] = _normalised_weights(w[t, mask[t]], int(mask[t].sum()), f"weights[{t}]",
                                                  self.task_names[t])
        _check_weighted_classes(out, np.asarray(self.y), self.task_types, self.task_names, "weights")
        return dataclasses.replace(self, weights=to_device(out, self.X.dtype))

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
        task_types : "regression" / "classification" per task (a list, or a dict by
            task name), or one string for all tasks
        sample_weights : optional list of (n_t,) non-negative arrays; each task's
            weights are normalised to sum 1 (default: 1 / n_t each)
        feature_names, task_names : optional names (default ``x0..``, ``task0..``)
        positive_labels : optional list (per task, ``None`` for regression) of the
            label that counts as the positive class; default the larger of the two
            sorted distinct labels (+1 of {-1, +1}, 1 of {0, 1}, True of booleans)
        """
        Xs, ys = _as_list(Xs, "Xs", 2), _as_list(ys, "ys", 1)
        n_tasks = len(Xs)
        if n_tasks == 0:
            raise ValueError("Xs is empty: pass a list with one (n_t, n_features) array per task.")
        if len(ys) != n_tasks:
            raise ValueError(f"Xs has {n_tasks} tasks but ys has {len(ys)}; pass one target array per task.")
        task_names = _names(task_names, n_tasks, "task", "task_names")
        feature_names = feature_columns(Xs, feature_names)
        types = _parse_task_types(task_types, n_tasks, task_names)
        Xs = [as_feature_matrix(X, f"Xs[{t}] (task {task_names[t]!r})") for t, X in enumerate(Xs)]
        p = Xs[0].shape[1]
        for t, X in enumerate(Xs):
            if X.shape[1] != p:
                raise ValueError(f"Xs[{t}] (task {task_names[t]!r}) has {X.shape[1]} features but Xs[0] has {p}; "
                                 "every task must have the same features in the same column order.")
            if X.shape[0] == 0:
                raise ValueError(f"task {task_names[t]!r} is empty (Xs[{t}] has 0 rows); drop the task or give "
                                 "it samples.")
        dtype = np.result_type(*[X.dtype for X in Xs])
        weights_in = _per_task_list(sample_weights, n_tasks, "sample_weights")
        positives = _per_task_list(positive_labels, n_tasks, "positive_labels", task_names)
        n_max = max(X.shape[0] for X in Xs)

        X_pad = np.zeros((n_tasks, n_max, p), dtype=dtype)
        y_pad = np.zeros((n_tasks, n_max), dtype=dtype)
        w_pad = np.zeros((n_tasks, n_max), dtype=dtype)
        mask = np.zeros((n_tasks, n_max), dtype=bool)
        classes = []
        for t in range(n_tasks):
            n_t = Xs[t].shape[0]
            label = f"ys[{t}] (task {task_names[t]!r})"
            y_t, cls_t = _encode_targets(ys[t], types[t], positives[t], label, n_t)
            X_pad[t, :n_t] = Xs[t]
            y_pad[t, :n_t] = y_t
            w_pad[t, :n_t] = _normalised_weights(weights_in[t], n_t, f"sample_weights[{t}]", task_names[t])
            mask[t, :n_t] = True
            classes.append(cls_t)
        _check_weighted_classes(w_pad, y_pad, types, task_names, "sample_weights")
        return cls._assemble(X_pad, y_pad, w_pad, mask, types, classes, feature_names, task_names, p)

    @classmethod
    def from_outcomes(cls, X, Y, task_types, *, sample_weights=None, feature_names=None,
                      task_names=None, positive_labels=None, missing_outcomes="error") -> "MultiTaskData":
        """Build from one shared design X (n_samples, n_features) and outcomes Y (n_samples, n_tasks).

        X is stored once and used for all tasks; ``sample_weights`` may be one
        (n_samples,) array shared by all tasks or (n_samples, n_tasks). DataFrames give
        the feature names (X's columns) and task names (Y's columns); ``task_types`` may
        then be a dict by outcome name.

        ``missing_outcomes`` : ``"error"`` (default) refuses a missing outcome value (NaN,
        None, pandas NA); ``"drop"`` leaves that sample out of that outcome only (weight 0,
        ``mask`` False), so a patient missing one biomarker still counts for the others;
        ``data.n_samples`` then gives each outcome's count.
        """
        missing_outcomes = validation.choice("missing_outcomes", missing_outcomes, ("error", "drop"))
        if isinstance(X, (list, tuple)) and len(X) > 0 and np.ndim(X[0]) == 2:
            raise ValueError("X is a list of per-task arrays; from_outcomes takes one shared X (n_samples, "
                             "n_features). Use MultiTaskData.from_tasks(Xs, ys, task_types) for one X per task.")
        if feature_names is None and hasattr(X, "columns"):
            feature_names = [str(c) for c in X.columns]
        if task_names is None and hasattr(Y, "columns"):
            task_names = [str(c) for c in Y.columns]
        if task_names is None and getattr(Y, "ndim", None) == 1 and getattr(Y, "name", None) is not None:
            task_names = [str(Y.name)]
        X = as_feature_matrix(X, "X")
        if hasattr(Y, "columns"):
            # a DataFrame's columns may have different dtypes (labels beside numbers): kept apart
            outcomes = [_as_array(Y[c], f"Y[{c!r}]") for c in Y.columns]
        else:
            Y = _as_array(Y, "Y")
            if Y.ndim not in (1, 2):
                raise ValueError(f"Y must be 2-D (n_samples, n_tasks); got shape {Y.shape}.")
            outcomes = [Y] if Y.ndim == 1 else list(Y.T)
        if not outcomes:
            raise ValueError("Y has no columns; pass one outcome column per task.")
        n, n_tasks = len(outcomes[0]), len(outcomes)
        if X.shape[0] != n:
            raise ValueError(f"X has {X.shape[0]} rows but Y has {n}; X and Y must have one row per sample.")
        if n == 0:
            raise ValueError("X has 0 rows: every task needs samples.")
        task_names = _names(task_names, n_tasks, "task", "task_names")
        types = _parse_task_types(task_types, n_tasks, task_names)
        positives = _per_task_list(positive_labels, n_tasks, "positive_labels", task_names)
        if sample_weights is None:
            weights_in = [None] * n_tasks
        else:
            sw = _as_array(sample_weights, "sample_weights")
            if sw.ndim == 1 and sw.shape[0] == n:
                weights_in = [sw] * n_tasks
            elif sw.ndim == 2 and sw.shape == (n, n_tasks):
                weights_in = [sw[:, t] for t in range(n_tasks)]
            else:
                raise ValueError(f"sample_weights has shape {sw.shape}; pass one weight per sample, ({n},), or "
                                 f"one per sample and task, ({n}, {n_tasks}).")
        dtype = X.dtype
        y_out = np.zeros((n_tasks, n), dtype=dtype)
        w_out = np.zeros((n_tasks, n), dtype=dtype)
        mask = np.ones((n_tasks, n), dtype=bool)
        classes = []
        for t in range(n_tasks):
            label = f"Y[:, {t}] (task {task_names[t]!r})"
            outcome = _as_array(outcomes[t], label)
            if missing_outcomes == "drop" and outcome.ndim == 1 and outcome.shape[0] == n:
                mask[t] = ~_missing_labels(outcome)
                if not mask[t].any():
                    raise ValueError(f"{label} has no observed value; drop the outcome.")
            present = mask[t]
            y_t, cls_t = _encode_targets(outcome if present.all() else outcome[present], types[t], positives[t],
                                         label, int(present.sum()), missing_hint=True)
            y_out[t, present] = y_t
            w_t = None if weights_in[t] is None else _checked_weights(weights_in[t], "sample_weights")
            if w_t is not None and w_t.shape != (n,):
                raise ValueError(f"sample_weights for task {task_names[t]!r} has shape {w_t.shape}; pass one "
                                 f"weight per sample, shape ({n},).")
            w_out[t, present] = _normalised_weights(None if w_t is None else w_t[present], int(present.sum()),
                                                    f"sample_weights for task {task_names[t]!r}", task_names[t])
            classes.append(cls_t)
        _check_weighted_classes(w_out, y_out, types, task_names, "sample_weights")
        return cls._assemble(X, y_out, w_out, mask, types, classes, feature_names, task_names, X.shape[1])

    @classmethod
    def _assemble(cls, X, y, w, mask, types, classes, feature_names, task_names, p):
        n_tasks = len(types)
        feature_names = _names(feature_names, p, "x", "feature_names")
        task_names = _names(task_names, n_tasks, "task", "task_names")
        is_cls = np.array([t == CLASSIFICATION for t in types])
        # placed without compiling (jnp.asarray would compile a program per new shape)
        return cls(X=to_device(X), y=to_device(y), weights=to_device(w), mask=to_device(mask),
                   is_classification=to_device(is_cls), task_types=tuple(types),
                   task_names=task_names, feature_names=feature_names, classes=tuple(classes))


jax.tree_util.register_dataclass(
    MultiTaskData,
    data_fields=["X", "y", "weights", "mask", "is_classification"],
    meta_fields=["task_types", "task_names", "feature_names", "classes"],
)


# -- validation helpers ---------------------------------------------------------
def infer_task_types(ys):
    """One type per task: 'classification' for a target with exactly two distinct values or
    with non-numeric values (strings, booleans: labels; the classification check then says
    how many it has), else 'regression'."""
    types = []
    for y in ys:
        y = _numeric_if_possible(_as_array(y, "y"))
        if y.dtype.kind in "biufc":
            types.append(CLASSIFICATION if y.dtype.kind == "b" or np.unique(y).size == 2 else REGRESSION)
        else:
            types.append(CLASSIFICATION)
    return types


def _numeric_if_possible(y):
    """y as float64 when every entry is a real number or a number's text ("0.25", as a
    table column mixing labels and values reads); else y unchanged. Booleans stay labels."""
    if y.dtype.kind not in "OUS" or not y.size:
        return y
    if y.dtype.kind == "O" and any(isinstance(v, (bool, np.bool_)) for v in y.ravel()):
        return y
    try:
        return y.astype(np.float64)
    except (TypeError, ValueError):
        return y


def resolve_task_index(task, task_names) -> int:
    """Index of ``task`` (an int or one of ``task_names``); ValueError naming the fix otherwise."""
    n_tasks = len(task_names)
    if isinstance(task, (int, np.integer)) and not isinstance(task, (bool, np.bool_)):
        if 0 <= int(task) < n_tasks:
            return int(task)
        raise ValueError(f"task={task} is out of range: there are {n_tasks} tasks "
                         f"(0 to {n_tasks - 1}); pass an index in that range or a task name.")
    if isinstance(task, str) and task in task_names:
        return task_names.index(task)
    raise ValueError(f"task={task!r} is unknown; pass a task index (0 to {n_tasks - 1}) or one of the task "
                     f"names {list(task_names)}.")


def _as_list(obj, name, item_ndim):
    """A list of per-task arrays from a list, a tuple, or one stacked array with a leading
    task axis (``item_ndim`` + 1 dimensions)."""
    if isinstance(obj, (list, tuple)):
        return list(obj)
    if isinstance(obj, np.ndarray) and obj.dtype != object and obj.ndim == item_ndim + 1:
        return list(obj)
    if name == "Xs" and np.ndim(obj) == 2:
        raise ValueError("Xs is one 2-D array; from_tasks takes a list with one (n_t, n_features) array per task. "
                         "For one X shared by every outcome use MultiTaskData.from_outcomes(X, Y, task_types).")
    raise ValueError(f"{name} must be a list with one array per task; got {type(obj).__name__}.")


def _as_array(values, name):
    """A NumPy array from an array, list, pandas Series or DataFrame; complex values refused."""
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    arr = np.asarray(values)
    if arr.dtype.kind == "c":
        raise ValueError(f"{name} is complex; MTLComb fits real data. Pass the real part (np.real) or split "
                         "real and imaginary parts into separate columns.")
    return arr


def feature_columns(Xs, feature_names):
    """The feature names: those given, else the DataFrames' common column names (refusing
    frames whose columns differ), else None."""
    columns = [tuple(str(c) for c in X.columns) for X in Xs if hasattr(X, "columns")]
    if columns:
        first = columns[0]
        for t, cols in enumerate(columns):
            if cols != first:
                differ = sorted(set(cols) ^ set(first))[:5]
                what = f"columns {differ} are not in both" if differ else "the same columns in another order"
                raise ValueError(f"Xs[{t}] has other feature columns than Xs[0] ({what}); every task's DataFrame "
                                 "must hold the same features in the same order (select them with "
                                 "df[feature_list]).")
    if feature_names is not None or not columns:
        return feature_names
    return list(columns[0])


_MISSING_HINT = "impute or drop those entries first"


def as_feature_matrix(X, name):
    """A finite real 2-D float array (float32 or float64); the caller's array is never modified."""
    columns = list(X.columns) if hasattr(X, "columns") else None
    if columns is not None:
        check_numeric_columns(X, name)
        values = X.to_numpy()
        # pandas' nullable dtypes (Int64, boolean) come out as objects holding pd.NA
        X = X.to_numpy(dtype=np.float64, na_value=np.nan) if values.dtype == object else values
    X = _as_array(X, name)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features); got shape {X.shape}.")
    if X.dtype in (np.float32, np.float64):
        pass
    elif X.dtype.kind == "f" or X.dtype.name == "bfloat16":
        # float16 / bfloat16 rounding is too coarse for the solver's tolerances and
        # certificates: compute in float32.
        X = X.astype(np.float32)
    elif X.dtype.kind in "biu":
        X = X.astype(np.float64)
    else:
        X = _object_matrix(X, name)
    if not np.all(np.isfinite(X)):
        bad = np.argwhere(~np.isfinite(X))[0]
        column = f"column {bad[1]}" if columns is None else f"column {columns[bad[1]]!r}"
        raise ValueError(f"{name} contains NaN or inf (first at row {bad[0]}, {column}); {_MISSING_HINT}.")
    return X


def check_numeric_columns(frame, name):
    """ValueError naming a DataFrame's columns that are neither numeric nor boolean."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype
    bad = [c for c in frame.columns if not (is_numeric_dtype(frame[c]) or is_bool_dtype(frame[c]))]
    if bad:
        example = frame[bad[0]].dropna().iloc[0] if frame[bad[0]].notna().any() else None
        raise ValueError(f"{name} has non-numeric feature column(s) {[str(c) for c in bad[:5]]} (e.g. "
                         f"{example!r}); encode them as numbers (e.g. one-hot with pandas.get_dummies) or drop "
                         "them.")


def _object_matrix(X, name):
    """A float64 matrix from an object (or string) array (None becomes NaN, refused as
    missing afterwards), naming the first entry that is not a number."""
    out = np.empty(X.shape, dtype=np.float64)
    for j in range(X.shape[1]):
        for i, value in enumerate(X[:, j]):
            try:
                out[i, j] = np.nan if value is None else float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{name} has non-numeric entries in column {j} (e.g. {str(value)!r}); encode "
                                 "features as numbers.") from None
    return out


def _parse_task_types(task_types, n_tasks, task_names):
    """One canonical type per task, from one string, a list, or a dict by task name."""
    if isinstance(task_types, str):
        task_types = [task_types] * n_tasks
    elif isinstance(task_types, dict):
        unknown = [k for k in task_types if str(k) not in task_names]
        missing = [name for name in task_names if name not in {str(k) for k in task_types}]
        if unknown or missing:
            problems = ([f"it names unknown tasks {unknown}"] if unknown else []) + \
                       ([f"it lacks tasks {missing}"] if missing else [])
            raise ValueError(f"task_types is a dict by task name, but {' and '.join(problems)}; the tasks are "
                             f"{list(task_names)}.")
        by_name = {str(k): v for k, v in task_types.items()}
        task_types = [by_name[name] for name in task_names]
    elif task_types is None:
        raise ValueError("task_types is None; give 'regression' or 'classification' per task (a list, a dict by "
                         "task name, or one string for all).")
    task_types = list(task_types)
    if len(task_types) != n_tasks:
        raise ValueError(f"task_types has {len(task_types)} entries but there are {n_tasks} tasks; "
                         "give one type per task.")
    out = []
    for t, kind in enumerate(task_types):
        key = str(kind).lower()
        if key not in _TYPE_ALIASES:
            raise ValueError(f"task_types[{t}] (task {task_names[t]!r}) is {kind!r}, an unknown task type; use "
                             "'regression' or 'classification'.")
        out.append(_TYPE_ALIASES[key])
    return out


def _per_task_list(value, n_tasks, name, task_names=None):
    if value is None:
        return [None] * n_tasks
    if isinstance(value, dict) and task_names is not None:
        unknown = [k for k in value if str(k) not in task_names]
        if unknown:
            raise ValueError(f"{name} names unknown tasks {unknown}; the tasks are {list(task_names)}.")
        by_name = {str(k): v for k, v in value.items()}
        return [by_name.get(task) for task in task_names]
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
        raise ValueError(f"{name} must be a list with one entry per task; got {value!r}.")
    value = list(value)
    if len(value) != n_tasks:
        raise ValueError(f"{name} has {len(value)} entries but there are {n_tasks} tasks; give one per task.")
    return value


def _missing_labels(y):
    """Boolean mask of missing entries (None, NaN, pandas NA) of a label array."""
    if y.dtype.kind == "f":
        return np.isnan(y)
    if y.dtype.kind != "O":
        return np.zeros(y.shape, bool)
    return np.array([v is None or (isinstance(v, float) and np.isnan(v)) or type(v).__name__ in ("NAType", "NaTType")
                     for v in y], dtype=bool)


def _encode_targets(y, kind, positive, name, n_rows, missing_hint=False):
    """Targets of one task as floats; classification labels mapped to -1 / +1.
    ``missing_hint``: a missing value's error points at ``missing_outcomes="drop"``."""
    y = _as_array(y, name)
    if y.ndim != 1:
        y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {y.shape}.")
    if y.shape[0] != n_rows:
        raise ValueError(f"{name} has {y.shape[0]} values but its X has {n_rows} rows; pass one target per row.")
    missing = _missing_labels(y)
    if missing.any():
        fix = ("pass missing_outcomes='drop' to leave those samples out of this outcome only" if missing_hint else
               "drop those samples, or give them weight 0 after filling in any value")
        raise ValueError(f"{name} has {int(missing.sum())} missing value(s) (first at position "
                         f"{int(np.flatnonzero(missing)[0])}); {fix}.")
    if kind == REGRESSION:
        if positive is not None:
            raise ValueError(f"positive_labels gives {positive!r} for {name}, a regression task; positive labels "
                             "apply to classification tasks only (pass None for this task).")
        y = _numeric_if_possible(y)
        if y.dtype.kind == "b" or y.dtype.kind not in "iuf":
            values = np.unique(y.astype(str))
            held = "booleans" if y.dtype.kind == "b" else "non-numeric values"
            raise ValueError(f"{name} is declared 'regression' but holds {held} ({values.size} distinct, e.g. "
                             f"{values[:3].tolist()}); encode it as numbers, or declare the task 'classification' "
                             "if it has two classes.")
        y = y.astype(np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{name} contains inf at position {int(np.flatnonzero(~np.isfinite(y))[0])}; "
                             "drop those samples before fitting.")
        return y, None
    if y.dtype.kind == "f" and not np.all(np.isfinite(y)):
        raise ValueError(f"{name} contains inf; drop those samples before fitting.")
    if y.dtype.kind == "O":
        kinds = {type(v).__name__ for v in y}
        numeric = all(isinstance(v, (int, float, np.integer, np.floating, bool, np.bool_)) for v in y)
        if len(kinds) > 1 and not numeric:
            raise ValueError(f"{name} mixes label types ({sorted(kinds)}); use labels of one type, e.g. all strings "
                             "or all numbers.")
    try:
        labels = np.unique(y)
    except TypeError:
        raise ValueError(f"{name} has labels that cannot be compared ({sorted({type(v).__name__ for v in y})}); use "
                         "labels of one type.") from None
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


def _checked_weights(w, name):
    """Finite, non-negative real weights as float64 (the caller's array is not modified)."""
    w = _as_array(w, name)
    if w.dtype.kind not in "biuf":
        raise ValueError(f"{name} has dtype {w.dtype}; weights must be real numbers.")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} contains NaN or inf; weights must be finite and non-negative.")
    if np.any(w < 0):
        raise ValueError(f"{name} has negative entries; weights must be non-negative.")
    return w


def _normalised_weights(w, n, name, task_name=None):
    if w is None:
        return np.full(n, 1.0 / n)
    w = _checked_weights(w, name)
    if w.shape != (n,):
        raise ValueError(f"{name} has shape {w.shape}; pass one weight per sample, shape ({n},).")
    total = w.sum()
    if total <= 0:
        task = "" if task_name is None else f" (task {task_name!r})"
        raise ValueError(f"{name}{task} are all zero; at least one sample of the task needs a positive weight "
                         "(or drop the task).")
    return w / total


def _check_weighted_classes(w, y, types, task_names, argument):
    """ValueError when the weights leave a classification task with one class of positive weight."""
    for t, kind in enumerate(types):
        if kind != CLASSIFICATION:
            continue
        present = {label for label in (-1.0, 1.0) if np.any((w[t] > 0) & (y[t] == label))}
        if len(present) < 2:
            raise ValueError(f"{argument} give weight 0 to every sample of one class of classification task "
                             f"{task_names[t]!r}; a classification task needs positive weight on both classes.")


def default_names(prefix, count):
    """The names given when none are passed: ``x0, x1, ...`` for features, ``task0, ...`` for tasks."""
    return tuple(f"{prefix}{i}" for i in range(count))


def _names(names, count, prefix, arg):
    if names is None:
        return default_names(prefix, count)
    if isinstance(names, str):
        raise ValueError(f"{arg} is one string; pass a list with one name per entry.")
    names = tuple(str(n) for n in names)
    if len(names) != count:
        raise ValueError(f"{arg} has {len(names)} names but there are {count}; give one name each.")
    if len(set(names)) != count:
        dups = sorted({n for n in names if names.count(n) > 1})[:5]
        raise ValueError(f"{arg} has duplicates {dups}; names must be unique.")
    return names
