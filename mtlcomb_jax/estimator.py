"""scikit-learn estimators ``MTLComb`` and ``MTLCombCV``.

Three input layouts are accepted by ``fit(X, y, tasks=None)``:

* per-task lists: ``X`` a list of (n_t, p) arrays and ``y`` a list of (n_t,) arrays;
* shared design: ``X`` (n, p) and ``y`` (n, n_tasks) (or (n,) for one task);
* long format: ``X`` (n, p), ``y`` (n,) and ``tasks`` (n,) holding each row's task id.

pandas DataFrames keep their column names as feature names. Task types are
given with ``task_types`` or inferred: a task whose target has exactly two
distinct values is classification.
"""
from __future__ import annotations

import numpy as np

try:
    from sklearn.base import BaseEstimator
    from sklearn.utils.metaestimators import available_if
    from sklearn.utils.validation import validate_data
except ImportError as err:      # a core install: say which extra brings the estimators
    raise ImportError("mtlcomb_jax.MTLComb and MTLCombCV need scikit-learn: pip install 'mtlcomb-jax[sklearn]' "
                      "(the functional API, mc.solve / fit_path / cross_validate, works without it).") from err

from .cv import cross_validate
from .data import (CLASSIFICATION, MultiTaskData, check_numeric_columns, feature_columns, infer_task_types,
                   resolve_task_index)
from .path import fit_path
from .prediction import decision_function, predict as predict_values
from .solver import solve

_SELECTIONS = ("weighted_min", "regression_min", "classification_min",
               "weighted_1se", "regression_1se", "classification_1se")


def _to_numpy(a):
    return a.to_numpy() if hasattr(a, "to_numpy") else np.asarray(a)


def _task_ids(tasks):
    """The sorted distinct task ids of a long table's task column (ValueError for missing
    or mixed ids)."""
    if tasks.ndim != 1:
        raise ValueError(f"tasks must be 1-D, one task id per row of X; got shape {tasks.shape}.")
    if tasks.dtype == object and any(t is None or (isinstance(t, float) and np.isnan(t)) for t in tasks):
        raise ValueError("tasks holds missing task ids (None or NaN); give every row a task.")
    try:
        return np.unique(tasks)
    except TypeError:
        raise ValueError("tasks mixes id types (e.g. numbers and strings); use ids of one type.") from None


def _is_task_list(X):
    """A list/tuple of per-task 2-D arrays (a nested list of numbers is one 2-D X instead)."""
    return isinstance(X, (list, tuple)) and len(X) > 0 and np.ndim(X[0]) == 2


def _check_X(X, name="X"):
    """A finite, real, dense 2-D float array (scikit-learn's checks and messages; a
    DataFrame's text columns are named)."""
    from sklearn.utils import check_array
    if hasattr(X, "columns"):
        check_numeric_columns(X, name)
    return check_array(X, accept_sparse=False, dtype=[np.float64, np.float32], ensure_all_finite=True,
                       input_name=name)


def _check_y(y, name="y"):
    if y is None:
        raise ValueError(f"{name} is None: this estimator requires y to be passed, but the target y is None "
                         "(pass the targets of every task).")
    from sklearn.utils import check_array
    # Labels may be strings; only numeric targets are checked for NaN and inf.
    numeric = np.issubdtype(_to_numpy(y).dtype, np.number)
    return check_array(y, ensure_2d=False, dtype=None, ensure_all_finite=numeric, input_name=name)


class _Layout:
    """Remembers how fit's inputs were laid out so predict can answer in kind."""

    def __init__(self, X, y, tasks):
        self.feature_names = None
        if y is None:
            _check_y(y)
        if _is_task_list(X):
            self.kind = "lists"
            self.feature_names = getattr(X[0], "columns", None)
            if not isinstance(y, (list, tuple)) or len(y) != len(X):
                raise ValueError(f"X is a list of {len(X)} per-task arrays, so y must be a list of as many "
                                 "per-task target arrays.")
            feature_columns(X, None)     # ValueError when the tasks' DataFrames differ in their columns
            self.Xs = [_check_X(x, f"X[{t}]") for t, x in enumerate(X)]
            self.ys = [_check_y(t_y, f"y[{t}]") for t, t_y in enumerate(y)]
            self.task_ids = None
            return
        self.feature_names = getattr(X, "columns", None)
        X = _check_X(X)
        y_names = getattr(y, "columns", None)
        y = _check_y(y)
        if tasks is not None:
            self.kind = "long"
            tasks = _to_numpy(tasks)
            if tasks.shape[0] != X.shape[0] or y.ndim != 1 or y.shape[0] != X.shape[0]:
                raise ValueError(f"long format needs X (n, p), y (n,) and tasks (n,); got X {X.shape}, "
                                 f"y {y.shape}, tasks {tasks.shape}.")
            self.task_ids = _task_ids(tasks)
            self.rows = [np.flatnonzero(tasks == k) for k in self.task_ids]
            self.Xs = [X[rows] for rows in self.rows]
            self.ys = [y[rows] for rows in self.rows]
        else:
            self.kind = "shared"
            self.X = X
            self.Y = y[:, None] if y.ndim == 1 else y
            self.task_ids = list(y_names) if y_names is not None else None
            self.ys = [self.Y[:, t] for t in range(self.Y.shape[1])]

    def data(self, task_types, sample_weight=None):
        types = task_types if task_types is not None else infer_task_types(self.ys)
        names = None if self.feature_names is None else [str(c) for c in self.feature_names]
        task_names = None if self.task_ids is None else [str(k) for k in self.task_ids]
        if self.kind == "shared":
            return MultiTaskData.from_outcomes(self.X, self.Y, types, feature_names=names,
                                               task_names=task_names, sample_weights=sample_weight)
        if self.kind == "long" and sample_weight is not None:
            # one weight per row of the long table, split like the rows
            weights = _to_numpy(sample_weight)
            if weights.ndim != 1 or weights.shape[0] != sum(r.size for r in self.rows):
                raise ValueError(f"sample_weight has shape {weights.shape}; in long format pass one weight per "
                                 f"row of X, shape ({sum(r.size for r in self.rows)},).")
            sample_weight = [weights[rows] for rows in self.rows]
        return MultiTaskData.from_tasks(self.Xs, self.ys, types, feature_names=names, task_names=task_names,
                                        sample_weights=sample_weight)


class MTLComb(BaseEstimator):
    """MTLComb at one lambda, scikit-learn style.

    Parameters
    ----------
    lam : weight of the L2,1 penalty
    task_types : 'regression' / 'classification' per task (a list, a dict by task name, or
        one string for all tasks), or None to infer
    similarity, ridge, intercept, loss_weighting, tol, max_iter, stop : as in
        :func:`mtlcomb_jax.solve`
    standardize, scale_outcomes : fit on standardised features (and regression outcomes),
        coefficients reported on the original scale (:mod:`mtlcomb_jax.scaling`)

    Fitted attributes: ``coef_`` (n_tasks, n_features) like ``MultiTaskLasso``,
    ``intercept_`` (n_tasks,), ``result_`` (SolveResult), ``task_types_``,
    ``task_names_``, ``classes_`` (per task (negative, positive) or None),
    ``n_features_in_``, ``feature_names_in_`` (with DataFrames), ``n_iter_``.
    """

    def __init__(self, lam=0.1, *, task_types=None, similarity=0.0, ridge=0.0, intercept=True,
                 loss_weighting="mtlcomb", tol=None, max_iter=5000, stop="gap", standardize=False,
                 scale_outcomes=False):
        self.lam = lam
        self.task_types = task_types
        self.similarity = similarity
        self.ridge = ridge
        self.intercept = intercept
        self.loss_weighting = loss_weighting
        self.tol = tol
        self.max_iter = max_iter
        self.stop = stop
        self.standardize = standardize
        self.scale_outcomes = scale_outcomes

    def _solver_kwargs(self):
        return dict(similarity=self.similarity, ridge=self.ridge, intercept=self.intercept,
                    loss_weighting=self.loss_weighting, tol=self.tol, max_iter=self.max_iter, stop=self.stop,
                    standardize=self.standardize, scale_outcomes=self.scale_outcomes)

    def _prepare(self, X, y, tasks, sample_weight):
        self._layout = _Layout(X, y, tasks)
        data = self._layout.data(self.task_types, sample_weight)
        # scikit-learn's own record of the input's width and column names (feature_names_in_,
        # for DataFrames), which predict checks with the same errors scikit-learn raises
        validate_data(self, X[0] if _is_task_list(X) else X, reset=True, skip_check_array=True)
        self.task_types_ = list(data.task_types)
        self.task_names_ = list(data.task_names)
        self.classes_ = list(data.classes)
        self.n_features_in_ = data.n_features
        return data

    def _set_result(self, result):
        self.result_ = result
        self.coef_ = np.asarray(result.W).T
        self.intercept_ = np.asarray(result.intercept)
        self.n_iter_ = int(result.n_iter)
        return self

    def fit(self, X, y, tasks=None, sample_weight=None):
        """Fit on per-task lists, a shared X with 2-D y, or long format (``tasks``)."""
        data = self._prepare(X, y, tasks, sample_weight)
        return self._set_result(solve(data, self.lam, **self._solver_kwargs()))

    # -- prediction ----------------------------------------------------------------------
    def _check_fitted(self):
        if not hasattr(self, "result_"):
            from sklearn.exceptions import NotFittedError
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit first.")

    def _rows_by_task(self, X, tasks):
        """[(task index, row indices or None, X block)] for the layout used in fit."""
        kind = self._layout.kind
        if _is_task_list(X):
            if len(X) != len(self.task_names_):
                raise ValueError(f"X has {len(X)} task arrays but the model has {len(self.task_names_)} tasks.")
            return [(t, None, self._check_features(x, f"X[{t}]")) for t, x in enumerate(X)]
        X = self._check_features(X)
        if tasks is not None:
            tasks = _to_numpy(tasks)
            if tasks.ndim != 1 or tasks.shape[0] != X.shape[0]:
                raise ValueError(f"tasks has shape {tasks.shape} but X has {X.shape[0]} rows; pass one task id per "
                                 "row of X.")
            ids = list(self._layout.task_ids) if kind == "long" else list(range(len(self.task_names_)))
            out = []
            for k in _task_ids(tasks):
                if k not in ids:
                    raise ValueError(f"tasks holds {k!r}, a task the model was not fitted on ({ids}).")
                rows = np.flatnonzero(tasks == k)
                out.append((ids.index(k), rows, X[rows]))
            return out
        return [(t, None, X) for t in range(len(self.task_names_))]

    def _check_features(self, X, name="X"):
        """X checked as scikit-learn does: finite, real, the fitted width, and a DataFrame's
        column names equal to ``feature_names_in_`` in the same order (ValueError otherwise)."""
        X_checked = _check_X(X, name)
        validate_data(self, X, reset=False, skip_check_array=True)
        if X_checked.shape[1] != self.n_features_in_:
            raise ValueError(f"{name} has {X_checked.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input (the number it was fitted with).")
        return X_checked

    def _assemble(self, X, tasks, per_task):
        blocks = self._rows_by_task(X, tasks)
        results = [(t, rows, per_task(t, Xt)) for t, rows, Xt in blocks]
        if _is_task_list(X):
            return [r for _, _, r in results]
        if tasks is not None:
            out = np.empty(_to_numpy(X).shape[0], dtype=np.result_type(*[r.dtype for _, _, r in results]))
            for _, rows, r in results:
                out[rows] = r
            return out
        stacked = np.column_stack([r for _, _, r in results])
        return stacked[:, 0] if stacked.shape[1] == 1 else stacked

    def _has_classification_task(self):
        # Fitted: whether a task is classification. Before fit only task_types
        # can tell (inferred types are unknown until the targets are seen).
        types = getattr(self, "task_types_", None) or self.task_types or ()
        return CLASSIFICATION in types

    @available_if(_has_classification_task)
    def decision_function(self, X, tasks=None):
        """Linear scores per task (same layout rules as :meth:`predict`).

        Offered when the model has a classification task (for a regression-only
        model the scores are :meth:`predict`'s values); before fit, only when
        ``task_types`` names one.
        """
        self._check_fitted()
        return self._assemble(X, tasks, lambda t, Xt: np.asarray(decision_function(self.result_, Xt, t)))

    def predict(self, X, tasks=None):
        """Regression values, and the predicted original label for classification tasks.

        A list of per-task arrays gives a list; a 2-D X gives (n, n_tasks) (or
        (n,) with one task); with ``tasks`` each row is predicted for its task.
        """
        self._check_fitted()

        def per_task(t, Xt):
            scores = np.asarray(decision_function(self.result_, Xt, t))
            if self.classes_[t] is None:
                return scores
            negative, positive = self.classes_[t]
            return np.where(scores > 0, positive, negative)

        return self._assemble(X, tasks, per_task)

    def _task_index(self, task):
        """A task given by index, by name, or (long format) by the task id used in fit."""
        ids = list(self._layout.task_ids) if self._layout.task_ids is not None else []
        if not isinstance(task, (int, np.integer)) and task in ids and str(task) in self.task_names_:
            task = str(task)
        return resolve_task_index(task, tuple(self.task_names_))

    @available_if(_has_classification_task)
    def predict_proba(self, X, task=0):
        """(n, 2) probabilities of (negative, positive) class for one classification task
        (an index or a task name)."""
        self._check_fitted()
        X = self._check_features(X)
        t = self._task_index(task)
        if self.classes_[t] is None:
            raise ValueError(f"task {self.task_names_[t]!r} is a regression task; predict_proba applies to "
                             "classification tasks only.")
        p = np.asarray(predict_values(self.result_, X, t))
        return np.column_stack([1.0 - p, p])

    def score(self, X, y, tasks=None):
        """Mean over tasks of R^2 (regression) and accuracy (classification)."""
        from sklearn.metrics import accuracy_score, r2_score
        self._check_fitted()
        pred = self.predict(X, tasks)
        if _is_task_list(X):
            pairs = [(t, _to_numpy(y[t]), pred[t]) for t in range(len(pred))]
        elif tasks is not None:
            tasks, yv = _to_numpy(tasks), _to_numpy(y)
            ids = list(self._layout.task_ids)
            pairs = [(ids.index(k), yv[tasks == k], pred[tasks == k]) for k in np.unique(tasks)]
        else:
            Y = _to_numpy(y)
            Y, pred = (Y[:, None], pred[:, None]) if Y.ndim == 1 else (Y, pred)
            pairs = [(t, Y[:, t], pred[:, t]) for t in range(Y.shape[1])]
        scores = [accuracy_score(yt, pt) if self.classes_[t] is not None else r2_score(yt, pt)
                  for t, yt, pt in pairs]
        return float(np.mean(scores))

    def __sklearn_tags__(self):
        from sklearn.utils import RegressorTags
        tags = super().__sklearn_tags__()
        # A 1-D y of real values is one regression task, so scikit-learn's regressor
        # checks apply; a 2-D y is one task per column (multi-output).
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        return tags


class MTLCombCV(MTLComb):
    """MTLComb with lambda chosen by K-fold cross-validation.

    Extra parameters: ``n_folds``, ``n_lambdas``, ``lambda_min_ratio``, ``lambdas``,
    ``stratify``, ``seed``, ``selection`` (one of ``weighted_min`` (default, the R
    package's choice), ``regression_min``, ``classification_min`` and their
    ``*_1se`` versions), ``progress`` (a tqdm bar over the CV's solves and the final path).

    Fitted attributes: those of :class:`MTLComb` plus ``cv_`` (CVResult),
    ``lambda_`` (the selected lambda) and ``path_`` (the full-data path down to it).
    """

    def __init__(self, *, task_types=None, n_folds=10, n_lambdas=20, lambda_min_ratio=0.01, lambdas=None,
                 stratify=True, seed=0, selection="weighted_min", similarity=0.0, ridge=0.0, intercept=True,
                 loss_weighting="mtlcomb", tol=None, max_iter=5000, stop="gap", standardize=False,
                 scale_outcomes=False, progress=False):
        super().__init__(task_types=task_types, similarity=similarity, ridge=ridge, intercept=intercept,
                         loss_weighting=loss_weighting, tol=tol, max_iter=max_iter, stop=stop,
                         standardize=standardize, scale_outcomes=scale_outcomes)
        del self.lam
        self.n_folds = n_folds
        self.n_lambdas = n_lambdas
        self.lambda_min_ratio = lambda_min_ratio
        self.lambdas = lambdas
        self.stratify = stratify
        self.seed = seed
        self.selection = selection
        self.progress = progress

    def fit(self, X, y, tasks=None, sample_weight=None):
        if self.selection not in _SELECTIONS:
            raise ValueError(f"selection={self.selection!r} is unknown; use one of {_SELECTIONS}.")
        data = self._prepare(X, y, tasks, sample_weight)
        kwargs = self._solver_kwargs()
        self.cv_ = cross_validate(data, n_folds=self.n_folds, stratify=self.stratify, seed=self.seed,
                                  lambdas=self.lambdas, n_lambdas=self.n_lambdas,
                                  lambda_min_ratio=self.lambda_min_ratio, progress=self.progress, **kwargs)
        self.lambda_ = getattr(self.cv_, f"lambda_{self.selection}")
        if self.lambda_ is None:
            raise ValueError(f"selection={self.selection!r} needs tasks of that type; this data has none.")
        # Warm-started path on all the data over the CV grid, ending at the chosen lambda.
        grid = [lam for lam in self.cv_.lambdas if lam > self.lambda_] + [self.lambda_]
        self.path_ = fit_path(data, grid, progress=self.progress, **kwargs)
        result = self.path_.solution(-1)
        return self._set_result(result)
