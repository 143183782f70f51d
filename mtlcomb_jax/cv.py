"""K-fold cross-validation with all folds in one compiled computation.

Folds are weights (adelie's ``cv_grpnet`` does the same): fold k trains on the
samples outside fold k (their weights renormalised per task) and is scored on
fold k, so every fold has the same shapes, X is never copied, and the K paths
run as one ``vmap`` of the scanned path. Each fold computes its own lambda grid
from its training part, as the R package does; ``cv.lambdas`` is their mean.
"""
from __future__ import annotations

import dataclasses
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from . import losses
from .data import MultiTaskData
from .progress import advance, progress_bar
from .sharding import spread_batch, to_host, vmap_per_device
from .working_set import working_set_path
from .path import (PathResult, check_grid_args, check_lambdas, fit_path, lambda_max_problem, log_grid, scan_path,
                   use_working_sets)
from .solver import check_hyperparameters, check_stop, default_tol, make_problem, warn_if_not_converged


# -- folds -----------------------------------------------------------------------------
def make_folds(data: MultiTaskData, n_folds=10, *, stratify=True, seed=0):
    """(n_tasks, n_max) int fold ids, -1 on padding.

    Each task is split on its own (classification tasks stratified by class when
    ``stratify``); a shared design (``from_outcomes``) is split once for all
    outcomes, stratified by its first classification outcome.
    """
    n_folds = _check_n_folds(n_folds)
    rng = np.random.default_rng(seed)
    y, mask = np.asarray(data.y), np.asarray(data.mask)
    is_cls = np.asarray(data.is_classification)
    folds = np.full(y.shape, -1, dtype=np.int64)
    tasks = range(data.n_tasks)
    if data.shared_design:
        strat_task = next((t for t in tasks if is_cls[t]), 0)
        ids = _split(y[strat_task], n_folds, stratify and is_cls[strat_task], rng, data.task_names[strat_task])
        folds[:] = ids
        return folds
    for t in tasks:
        n_t = int(mask[t].sum())
        folds[t, :n_t] = _split(y[t, :n_t], n_folds, stratify and is_cls[t], rng, data.task_names[t])
    return folds


def _check_n_folds(n_folds):
    if int(n_folds) != n_folds or n_folds < 2:
        raise ValueError(f"n_folds={n_folds} must be an integer >= 2.")
    return int(n_folds)


def _split(y, n_folds, stratified, rng, task_name):
    n = y.shape[0]
    if n < n_folds:
        raise ValueError(f"task {task_name!r} has {n} samples but n_folds={n_folds}; lower n_folds to at "
                         f"most {n} or pass your own folds=.")
    ids = np.empty(n, dtype=np.int64)
    order = rng.permutation(n)
    if not stratified:
        ids[order] = np.arange(n) % n_folds
        return ids
    offset = 0
    for label in (-1.0, 1.0):
        members = order[y[order] == label]
        if members.size < n_folds:
            raise ValueError(f"task {task_name!r} has {members.size} samples of one class but n_folds="
                             f"{n_folds}; a stratified split needs at least n_folds per class. Lower "
                             "n_folds or pass stratify=False.")
        ids[members] = (offset + np.arange(members.size)) % n_folds
        offset += members.size
    return ids


def folds_from_user(data: MultiTaskData, folds):
    """Validate user fold ids (one int array per task, or one array for a shared design)."""
    mask = np.asarray(data.mask)
    out = np.full(mask.shape, -1, dtype=np.int64)
    if data.shared_design and not isinstance(folds, (list, tuple)):
        folds = [folds] * data.n_tasks
    folds = list(folds)
    if len(folds) != data.n_tasks:
        raise ValueError(f"folds has {len(folds)} entries but there are {data.n_tasks} tasks; give one "
                         "int array of fold ids per task.")
    for t, ids in enumerate(folds):
        ids = np.asarray(ids)
        n_t = int(mask[t].sum())
        if ids.shape != (n_t,):
            raise ValueError(f"folds[{t}] has shape {ids.shape} but task {data.task_names[t]!r} has {n_t} "
                             "samples; give one fold id per sample.")
        if not np.issubdtype(ids.dtype, np.integer) or np.any(ids < 0):
            raise ValueError(f"folds[{t}] must hold non-negative integer fold ids (0-based).")
        out[t, :n_t] = ids
    return out


def _check_folds_usable(data: MultiTaskData, folds):
    """Every task has test samples in every fold, and every classification training part both classes."""
    n_folds = int(folds.max()) + 1
    y = np.asarray(data.y)
    for t in range(data.n_tasks):
        for k in range(n_folds):
            test = folds[t] == k
            if not test.any():
                raise ValueError(f"fold {k} has no samples of task {data.task_names[t]!r}; every task "
                                 "needs test samples in every fold. Use fewer folds.")
            if data.task_types[t] == "classification":
                train_labels = y[t][(folds[t] >= 0) & ~test]
                if np.unique(train_labels).size < 2:
                    raise ValueError(f"fold {k} leaves task {data.task_names[t]!r} with one class in its "
                                     "training part; use stratified folds or fewer folds.")
    return n_folds


def fold_weights(data: MultiTaskData, folds, n_folds, *, with_full=False):
    """Training and test weights, each (n_folds, n_tasks, n_max), renormalised per task.

    ``with_full`` appends the full data's weights (``data.weights``, as :func:`fit_path`
    uses them) to both, which then have n_folds + 1 rows (the last "test" row scores the
    full data's fit in-sample; its metrics are dropped, it only keeps the rows of both
    arrays on the same devices).
    """
    return _fold_weights(data.weights, jnp.asarray(folds), n_folds=int(n_folds), with_full=bool(with_full))


@partial(jax.jit, static_argnames=("n_folds", "with_full"))
def _fold_weights(weights, folds, *, n_folds, with_full):
    """fold_weights in one program (eager, each operation would be a program of its own)."""
    in_fold = folds[None] == jnp.arange(n_folds)[:, None, None]
    base = weights[None]

    def normalised(w):
        return w / jnp.sum(w, axis=2, keepdims=True)

    train = normalised(jnp.where(in_fold | (folds[None] < 0), 0.0, base))
    test = normalised(jnp.where(in_fold, base, 0.0))
    if with_full:
        train, test = jnp.concatenate([train, base]), jnp.concatenate([test, base])
    return train, test


# -- metrics ---------------------------------------------------------------------------
def masked_auc(scores, labels, member):
    """AUC of one task's ``scores`` (n,) for labels -1/+1 over samples where ``member``.

    Mann-Whitney with mid-ranks, so tied scores count one half. Non-members are
    moved to +inf, where they do not change the members' ranks.
    """
    s = jnp.where(member, scores, jnp.inf)
    ordered = jnp.sort(s)
    left = jnp.searchsorted(ordered, s, side="left")
    right = jnp.searchsorted(ordered, s, side="right")
    midrank = 0.5 * (left + right + 1)
    pos = member & (labels > 0)
    n_pos = jnp.sum(pos)
    n_neg = jnp.sum(member & (labels < 0))
    u = jnp.sum(jnp.where(pos, midrank, 0.0)) - 0.5 * n_pos * (n_pos + 1)
    return u / (n_pos * n_neg)


def test_metrics(problem, test_w, W, b):
    """Per-task held-out metrics of (W, b): (task_metric, heldout_loss), each (n_tasks,).

    task_metric is the weighted test MSE for regression tasks and the AUC for
    classification tasks; heldout_loss is the task's weighted loss term
    ``c_t sum_i s_ti l(y_ti, z_ti)`` on the test part.
    """
    return predictor_metrics(problem, test_w, losses.predictor(problem.X, W, b))


def predictor_metrics(problem, test_w, z):
    """:func:`test_metrics` from the linear predictors z (n_tasks, n_max) of all samples."""
    mse = jnp.sum(test_w * (problem.y - z) ** 2, axis=1)
    auc = jax.vmap(masked_auc)(z, problem.y, test_w > 0)
    per_task_loss = jnp.sum(test_w * losses.sample_losses(z, problem.y, problem.is_classification), axis=1)
    return jnp.where(problem.is_classification, auc, mse), problem.scales * per_task_loss


@partial(jax.jit, static_argnames=("intercept", "stop", "n_lambdas", "progress", "mesh"))
def _cv_jit(problem, train_w, test_w, grid, ratio, tol, max_iter, *, intercept, stop, n_lambdas,
            progress=False, mesh=None):
    """vmap over folds of the scanned path; returns per-fold lambdas and metrics.

    grid : (n_lambdas,) explicit lambdas, or None to use each fold's own log grid
    from its lambda_max down to ``ratio * lambda_max``. mesh : the folds' devices
    (:func:`~mtlcomb_jax.sharding.spread_batch`), each looping over its own folds.
    """
    def one_fold(w_train, w_test):
        fold_problem = problem._replace(weights=w_train)
        if grid is None:
            lambdas = log_grid(lambda_max_problem(fold_problem, intercept), n_lambdas, ratio)
        else:
            lambdas = grid
        W0 = jnp.zeros((problem.X.shape[-1], problem.y.shape[0]), problem.y.dtype)
        b0 = jnp.zeros(problem.y.shape[0], problem.y.dtype)

        def per_lambda(fit):
            metric, loss = test_metrics(fold_problem, w_test, fit.W, fit.intercept)
            return metric, loss, fit.n_iter, fit.converged

        metric, loss, n_iter, converged = scan_path(fold_problem, lambdas, W0, b0, tol, max_iter,
                                                    intercept=intercept, stop=stop, per_lambda=per_lambda,
                                                    progress=progress)
        return lambdas, metric, loss, n_iter, converged

    return vmap_per_device(one_fold, mesh)(train_w, test_w)


@partial(jax.jit, static_argnames=("intercept", "n_lambdas"))
def _fold_grids(problem, train_w, ratio, *, intercept, n_lambdas):
    """(n_folds, n_lambdas) each fold's log grid, and (n_folds,) each fold's lambda_max and null loss."""
    def one(w):
        fold = problem._replace(weights=w)
        lam_max = lambda_max_problem(fold, intercept)
        null = losses.null_loss(fold.y, w, fold.is_classification, fold.scales, intercept)
        return log_grid(lam_max, n_lambdas, ratio), lam_max, null
    return jax.vmap(one)(train_w)


@partial(jax.jit, static_argnames=("n_folds", "with_full"))
def _fold_outputs(problem, test_w, fit, z, *, n_folds, with_full):
    """What the screened CV keeps per lambda, in one program: the first n_folds problems'
    held-out metrics from their solutions' predictors z (K, n_tasks, n_max), and
    ``with_full`` problem n_folds's :class:`~mtlcomb_jax.solver.Fit`, the full data's
    path, without the batch axis and without W, which the loop keeps as rows (else None).
    Rows after those are padding (:func:`~mtlcomb_jax.sharding.spread_batch`)."""
    metrics = jax.vmap(predictor_metrics, in_axes=(None, 0, 0))(problem, test_w, z)
    return (jax.tree.map(lambda leaf: leaf[:n_folds], metrics),
            jax.tree.map(lambda leaf: leaf[n_folds], fit._replace(W=None)) if with_full else None)


def _screened_cv(problem, train_w, test_w, grid, ratio, tol, max_iter, intercept, stop, n_lambdas, n_folds,
                 with_full, mesh):
    """The CV paths with shared strong-rule working sets (see :mod:`.working_set`).

    train_w and test_w hold one row per fold, then ``with_full`` one more (the full
    data's weights, see :func:`fold_weights`), then maybe padding
    (:func:`~mtlcomb_jax.sharding.spread_batch`). The full data's path runs as one more
    problem of the batch, sharing the folds' compiled programs and working sets, and
    comes back as its lambdas and a :class:`~mtlcomb_jax.solver.Fit` stacked over them
    (else None). ``mesh``: the rows' devices (:func:`~mtlcomb_jax.sharding.spread_batch`).
    """
    n_problems = train_w.shape[0]
    grids, lam_max, null = _fold_grids(problem, train_w, ratio, intercept=intercept, n_lambdas=n_lambdas)
    if grid is not None:
        grids = jnp.broadcast_to(grid, (n_problems, grid.shape[0]))
    p, T = problem.X.shape[-1], problem.y.shape[0]
    dtype = problem.y.dtype
    batch = problem._replace(weights=train_w, lam=jnp.zeros((n_problems,), dtype))
    grids = np.asarray(grids)
    ((metric, loss), full), n_iter, converged, W_full = working_set_path(
        batch, grids, jnp.zeros((n_problems, p, T), dtype), jnp.zeros((n_problems, T), dtype), tol,
        max_iter, intercept=intercept, stop=stop, lambda_start=np.asarray(lam_max), scale=np.asarray(null),
        per_lambda=lambda fit, z: _fold_outputs(problem, test_w, fit, z, n_folds=n_folds, with_full=with_full),
        on_lambda=advance, keep_W=n_folds if with_full else None, mesh=mesh)
    full_path = (jnp.asarray(grids[n_folds]), full._replace(W=W_full)) if with_full else None
    # working_set_path stacks lambdas first: (L, K, ...) -> (K, L, ...)
    return (grids[:n_folds], jnp.swapaxes(metric, 0, 1), jnp.swapaxes(loss, 0, 1), n_iter[:, :n_folds].T,
            converged[:, :n_folds].T, full_path)


# -- results ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CVResult:
    """Cross-validation along the lambda path (NumPy arrays).

    lambdas : (n_lambdas,) mean over folds of each fold's lambda sequence
    fold_lambdas : (n_folds, n_lambdas)
    mse : (n_folds, n_lambdas) mean test MSE over regression tasks (None without any)
    auc : (n_folds, n_lambdas) mean test AUC over classification tasks (None without any)
    deviance : (n_folds, n_lambdas) held-out value of the objective's data term
    task_metric : (n_folds, n_lambdas, n_tasks) test MSE (regression) or AUC (classification)
    n_iter, converged : (n_folds, n_lambdas)
    folds : (n_tasks, n_max) fold id of each sample, -1 on padding
    is_classification : (n_tasks,) bool
    path : the full data's :class:`~mtlcomb_jax.path.PathResult` over its own grid, when
        ``cross_validate(..., return_path=True)``; else None
    """
    lambdas: np.ndarray
    fold_lambdas: np.ndarray
    mse: np.ndarray | None
    auc: np.ndarray | None
    deviance: np.ndarray
    task_metric: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    folds: np.ndarray
    is_classification: np.ndarray
    task_names: tuple = ()
    path: PathResult | None = None

    @property
    def n_folds(self):
        return self.fold_lambdas.shape[0]

    def _index_min(self, values, one_se, larger_is_better):
        if values is None:
            return None
        sign = -1.0 if larger_is_better else 1.0
        mean = sign * values.mean(axis=0)
        best = int(np.argmin(mean))           # first best, as R's order()[1]
        if not one_se:
            return best
        se = values.std(axis=0, ddof=1)[best] / np.sqrt(self.n_folds)
        # glmnet's rule: the largest lambda (smallest index) within one SE of the best.
        return int(np.flatnonzero(mean <= mean[best] + se)[0])

    def _lambda_at(self, values, one_se, larger_is_better):
        index = self._index_min(values, one_se, larger_is_better)
        return None if index is None else float(self.lambdas[index])

    def _weighted(self, one_se):
        reg = self._lambda_at(self.mse, one_se, False)
        cls = self._lambda_at(self.auc, one_se, True)
        n_cls = int(np.sum(self.is_classification))
        n_reg = self.is_classification.size - n_cls
        if reg is None:
            return cls
        if cls is None:
            return reg
        return (n_reg * reg + n_cls * cls) / (n_reg + n_cls)

    lambda_regression_min = property(lambda self: self._lambda_at(self.mse, False, False))
    lambda_classification_min = property(lambda self: self._lambda_at(self.auc, False, True))
    lambda_weighted_min = property(lambda self: self._weighted(False))
    lambda_regression_1se = property(lambda self: self._lambda_at(self.mse, True, False))
    lambda_classification_1se = property(lambda self: self._lambda_at(self.auc, True, True))
    lambda_weighted_1se = property(lambda self: self._weighted(True))


def cross_validate(data: MultiTaskData, *, n_folds=10, folds=None, stratify=True, seed=0, lambdas=None,
                   n_lambdas=20, lambda_min_ratio=0.01, similarity=0.0, ridge=0.0, intercept=True,
                   loss_weighting="mtlcomb", tol=None, max_iter=5000, stop="gap", devices=None,
                   progress=False, screening="auto", return_path=False) -> CVResult:
    """K-fold cross-validation of the whole path, all folds in one compiled computation.

    Parameters
    ----------
    data : MultiTaskData
    n_folds : number of folds when ``folds`` is not given
    folds : optional list (one per task) of (n_t,) int arrays of 0-based fold
        ids; for a shared design one (n_samples,) array serves all tasks
    stratify : stratify classification tasks by class (when folds are made here)
    seed : seed of the random split
    lambdas : optional decreasing explicit grid shared by all folds; by default
        each fold uses ``n_lambdas`` log-spaced values from its own lambda_max
        down to ``lambda_min_ratio`` times it
    similarity, ridge, intercept, loss_weighting, tol, max_iter, stop : as in ``solve``
    devices : JAX devices to spread the folds over (default all local devices), each
        solving its own folds. The results do not depend on it beyond rounding, or with
        working sets beyond ``tol`` (see :mod:`~mtlcomb_jax.sharding`). With working sets
        (``screening``) they must be this process's own devices: that loop runs on each
        process's host.
    progress : show a tqdm bar over the solves: n_folds * n_lambdas, plus n_lambdas for
        the full data's path in the batch (``return_path`` with working sets) and for each
        row that pads the batch to the devices (:func:`~mtlcomb_jax.sharding.spread_batch`)
    screening : strong-rule working sets as in :func:`~mtlcomb_jax.path.fit_path`
        (the folds share one working set, the union of theirs; the loop over
        lambdas then runs in Python around vmapped solves)
    return_path : also fit the path on all the data, as ``cv.path`` (what
        :func:`~mtlcomb_jax.path.fit_path` returns for the same arguments and the default
        grid, or ``lambdas``: the same solutions to within ``tol``). With working sets it
        runs as one more problem of the folds' batch, so it compiles nothing of its own
        and shares their working sets: at the gene-expression benchmark's size that
        saves the path's programs and a separate loop (``bench/bench_genomics.py``).
        Without working sets it is a separate :func:`fit_path`.

    Returns
    -------
    CVResult (see its docstring); ``cv.lambda_*_min`` and ``cv.lambda_*_1se``
    are the selected lambdas.
    """
    check_stop(stop)
    check_hyperparameters(similarity=similarity, ridge=ridge)
    if return_path not in (True, False):
        raise ValueError(f"return_path={return_path!r} must be True (also fit the full data's path, as cv.path) "
                         "or False.")
    if folds is None:
        fold_ids = make_folds(data, n_folds, stratify=stratify, seed=seed)
    else:
        fold_ids = folds_from_user(data, folds)
    K = _check_folds_usable(data, fold_ids)
    if lambdas is None:
        check_grid_args(n_lambdas, lambda_min_ratio)
        grid, L = None, int(n_lambdas)
    else:
        grid = jnp.asarray(check_lambdas(lambdas), data.X.dtype)
        L = grid.shape[0]
    tol = default_tol(stop, data.X.dtype) if tol is None else tol
    problem = make_problem(data, 0.0, similarity, ridge, loss_weighting)
    screened = use_working_sets(screening, stop, data.n_features, data.X.dtype)
    if screened and devices is not None and any(d.process_index != jax.process_index() for d in devices):
        raise ValueError("devices spans several processes, but the CV with working sets (screening) runs its "
                         "loop over lambdas on each process's host and needs local devices: pass "
                         "devices=jax.local_devices(), or screening=False to shard the folds over all processes.")
    # The full data's path as problem K + 1 of the screened batch.
    path_in_batch = bool(return_path) and screened
    train_w, test_w = fold_weights(data, fold_ids, K, with_full=path_in_batch)
    # padded to use every device (spread_batch); the padding's results are dropped below
    (train_w, test_w), mesh = spread_batch((train_w, test_w), devices, K + path_in_batch)
    ratio = jnp.asarray(lambda_min_ratio, data.X.dtype)
    full_path = None
    with progress_bar(int(train_w.shape[0]) * L, "cross-validation", "solve", bool(progress)):
        if screened:
            fold_lambdas, metric, loss, n_iter, converged, full_path = _screened_cv(
                problem, train_w, test_w, grid, ratio, tol, max_iter, bool(intercept), stop, L, K, path_in_batch,
                mesh)
        else:
            fold_lambdas, metric, loss, n_iter, converged = _cv_jit(
                problem, train_w, test_w, grid, ratio, tol, max_iter,
                intercept=bool(intercept), stop=stop, n_lambdas=L, progress=bool(progress), mesh=mesh)
    # on the host: drop the padding rows (the screened CV's outputs hold the folds only)
    fold_lambdas, metric, loss, n_iter, converged = (
        a[:K] for a in to_host((fold_lambdas, metric, loss, n_iter, converged)))
    warn_if_not_converged(converged, n_iter, what="cross_validate")
    path = None
    if full_path is not None:
        path_lambdas, fits = full_path
        warn_if_not_converged(fits.converged, fits.n_iter, what="cross_validate's full-data path")
        path = PathResult(lambdas=path_lambdas, **fits._asdict(), is_classification=data.is_classification,
                          task_names=data.task_names, feature_names=data.feature_names, classes=data.classes)
    elif return_path:
        path = fit_path(data, lambdas, n_lambdas=n_lambdas, lambda_min_ratio=lambda_min_ratio,
                        similarity=similarity, ridge=ridge, intercept=intercept, loss_weighting=loss_weighting,
                        tol=tol, max_iter=max_iter, stop=stop, progress=progress, screening=screening)
    metric = np.asarray(metric)
    is_cls = np.asarray(data.is_classification)
    return CVResult(
        lambdas=np.asarray(fold_lambdas).mean(axis=0), fold_lambdas=np.asarray(fold_lambdas),
        mse=metric[:, :, ~is_cls].mean(axis=2) if (~is_cls).any() else None,
        auc=metric[:, :, is_cls].mean(axis=2) if is_cls.any() else None,
        deviance=np.asarray(loss).sum(axis=2), task_metric=metric, n_iter=np.asarray(n_iter),
        converged=np.asarray(converged), folds=fold_ids, is_classification=is_cls,
        task_names=data.task_names, path=path)
