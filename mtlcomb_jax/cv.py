"""K-fold cross-validation of the path.

Folds are weights (adelie's ``cv_grpnet`` does the same): fold k trains on the
samples outside fold k (their weights renormalised per task) and is scored on
fold k, so every fold has the same shapes and X is never copied. On one CPU device
with several cores each fold is then a path of :func:`~.path.fit_path`'s own programs,
in host threads (:func:`_fold_path`, with working sets on one X :func:`_screened_fold`);
elsewhere the K paths run as one ``vmap`` of the scanned path (:func:`_cv_jit`) or one
batch of working-set solves (:func:`_screened_cv`). Each fold computes its own lambda
grid from its training part, as the R package does; ``cv.lambdas`` is their mean.
"""
from __future__ import annotations

import dataclasses
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .precision import jit
from . import losses, validation
from .buckets import pad_problem, pad_samples, unpad_rows
from .data import MultiTaskData
from .progress import advance, progress_bar
from .scaling import prepare_scaling, report_original
from .sharding import batch_rows, host_threads, run_batch, run_rows, spread_batch, to_device, to_host, vmap_per_device
from .working_set import working_set_path
from .path import (PathResult, check_grid_args, check_lambdas, fit_path, log_grid, problem_grid, problem_lambdas,
                   run_cold_path, scan_path)
from .objective import lambda_max_problem, make_problem
from .options import check_options, raise_if_overflowed, warn_if_not_converged


# -- folds -----------------------------------------------------------------------------
def make_folds(data: MultiTaskData, n_folds=10, *, stratify=True, seed=0):
    """(n_tasks, n_max) int fold ids, -1 on padding and where a sample lacks that outcome.

    Each task is split on its own (classification tasks stratified by class when
    ``stratify``); a shared design (``from_outcomes``) is split once for all outcomes,
    stratified on all its classification outcomes jointly (:func:`stratified_groups`), so
    that a rare class of any outcome is spread over the folds.
    """
    n_folds = _check_n_folds(n_folds)
    stratify = validation.flag("stratify", stratify)
    rng = np.random.default_rng(validation.seed(seed))
    y, mask = np.asarray(data.y), np.asarray(data.mask)
    is_cls = np.asarray(data.is_classification)
    folds = np.full(y.shape, -1, dtype=np.int64)
    if data.shared_design:
        labels, names = shared_strata(data, stratify)
        folds[:] = _split(labels, n_folds, rng, names, "the shared design")
        # a sample missing an outcome is in no fold of that outcome (weight 0 there anyway)
        return np.where(mask, folds, -1)
    for t in range(data.n_tasks):
        n_t = int(mask[t].sum())
        labels = y[t, :n_t, None] if stratify and is_cls[t] else np.zeros((n_t, 0))
        names = [data.task_names[t]] if labels.shape[1] else []
        folds[t, :n_t] = _split(labels, n_folds, rng, names, f"task {data.task_names[t]!r}")
    return folds


def shared_strata(data: MultiTaskData, stratify=True):
    """(labels (n_samples, c) of -1/+1, names of the classification outcomes behind the first
    columns): what a shared design's folds and subsamples are stratified on.

    A classification outcome observed on every sample gives its labels; one with missing
    values gives two columns (is positive, is negative), so that its classes and its
    missing samples are all spread; a regression outcome with missing values gives one
    (is observed), so that its observed samples reach every fold. Without ``stratify``
    only the observed-columns remain.
    """
    y, mask = np.asarray(data.y), np.asarray(data.mask)
    is_cls = np.asarray(data.is_classification)
    columns, names, observed = [], [], []
    for t in range(data.n_tasks):
        if is_cls[t] and stratify:
            if mask[t].all():
                columns.append(y[t])
                names.append(data.task_names[t])
            else:
                columns += [np.where(y[t] > 0, 1.0, -1.0), np.where(mask[t] & (y[t] < 0), 1.0, -1.0)]
                names += [data.task_names[t]] * 2
        elif not mask[t].all():
            observed.append(np.where(mask[t], 1.0, -1.0))
    columns += observed
    return (np.stack(columns, axis=1) if columns else np.zeros((y.shape[1], 0))), names


def _check_n_folds(n_folds):
    return validation.integer("n_folds", n_folds, minimum=2, hint="pass the number of folds, e.g. 10")


def _split(labels, n_folds, rng, names, what):
    """(n,) fold ids for n samples; ``labels`` (n, c) holds the -1/+1 labels of c outcomes to
    stratify on (c = 0: a plain random split into near-equal folds)."""
    n = labels.shape[0]
    if n < n_folds:
        raise ValueError(f"{what} has {n} samples but n_folds={n_folds}; lower n_folds to at most {n} or pass "
                         "your own folds=.")
    for j, name in enumerate(names):
        for label in (-1.0, 1.0):
            count = int(np.sum(labels[:, j] == label))
            if count < n_folds:
                raise ValueError(f"classification task {name!r} has {count} samples of one class but "
                                 f"n_folds={n_folds}; a fold's test part then lacks that class and its AUC is "
                                 "undefined. Lower n_folds to at most that count.")
    if labels.shape[1] == 0:
        ids = np.empty(n, dtype=np.int64)
        ids[rng.permutation(n)] = np.arange(n) % n_folds
        return ids
    return stratified_groups(labels, np.full(n_folds, 1.0 / n_folds), rng, equal=True)


def _one_outcome_groups(labels, proportions, rng, equal):
    """:func:`stratified_groups` for one outcome, without a loop over samples. The samples
    are put in one random order; with ``equal`` proportions (folds) each class in turn is
    dealt out round-robin, carried on from one class to the next (so the groups' sizes
    differ by at most one); otherwise each class's first ``round(p_g * count)`` go to group
    g (at least one to group 0), the rest to the last group."""
    G = proportions.size
    groups = np.empty(labels.shape[0], dtype=np.int64)
    order = rng.permutation(labels.shape[0])
    offset = 0
    for label in (-1.0, 1.0):
        index = order[labels[order] == label]
        if equal:
            groups[index] = (offset + np.arange(index.size)) % G
            offset += index.size
            continue
        counts = np.round(proportions[:-1] * index.size).astype(np.int64)
        if index.size and counts[0] == 0:
            counts[0] = 1
        counts = np.append(counts, index.size - counts.sum())
        groups[index] = np.repeat(np.arange(G), np.maximum(counts, 0))[:index.size]
    return groups


def stratified_groups(labels, proportions, rng, *, equal=False):
    """(n,) group ids that split n samples in ``proportions`` (G,) (``equal``: G equal
    groups, as folds, whose sizes then differ by at most one), each class of each of
    the c outcomes in ``labels`` (n, c) (values -1/+1) split in the same proportions as
    nearly as it can be.

    Iterative stratification (Sechidis, Tsoumakas and Vlahavas 2011, "On the
    stratification of multi-label data", ECML PKDD): the class with the fewest samples
    still unassigned goes first; each of its samples joins the group that most lacks that
    class, ties broken by the group that most lacks samples, then at random. The rarest
    classes are placed while every group still has room for them, so a class with at
    least G samples reaches every group.
    """
    n, c = labels.shape
    proportions = np.asarray(proportions, dtype=np.float64)
    if c == 1:
        return _one_outcome_groups(labels[:, 0], proportions, rng, equal)
    members = np.concatenate([labels == -1.0, labels == 1.0], axis=1)          # (n, 2c)
    wanted = proportions[:, None] * members.sum(axis=0)[None, :]               # (G, 2c)
    room = proportions * n                                                     # (G,)
    groups = np.full(n, -1, dtype=np.int64)
    order = rng.permutation(n)
    while True:
        unassigned = groups < 0
        left = members[unassigned].sum(axis=0)
        if not left.any():
            return groups
        cls = int(np.argmin(np.where(left > 0, left, np.iinfo(np.int64).max)))
        for i in order[unassigned[order] & members[order, cls]]:
            need = wanted[:, cls]
            best = np.flatnonzero(need == need.max())
            if best.size > 1:
                best = best[room[best] == room[best].max()]
            g = int(best[rng.integers(best.size)]) if best.size > 1 else int(best[0])
            groups[i] = g
            wanted[g, members[i]] -= 1
            room[g] -= 1


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
        if data.shared_design:
            # one id per row; a row missing this outcome is in none of its folds
            if ids.shape != mask[t].shape or not np.issubdtype(ids.dtype, np.integer) or np.any(ids[mask[t]] < 0):
                raise ValueError(f"folds[{t}] must hold one non-negative integer fold id (0-based) per sample of "
                                 f"the shared design, shape {mask[t].shape} (-1 where the sample lacks that "
                                 f"outcome, as make_folds gives); got shape {ids.shape}.")
            out[t] = np.where(mask[t], ids, -1)
            continue
        n_t = int(mask[t].sum())
        if ids.shape != (n_t,):
            raise ValueError(f"folds[{t}] has shape {ids.shape} but task {data.task_names[t]!r} has {n_t} "
                             "samples; give one fold id per sample.")
        if not np.issubdtype(ids.dtype, np.integer) or np.any(ids < 0):
            raise ValueError(f"folds[{t}] must hold non-negative integer fold ids (0-based).")
        out[t, :n_t] = ids
    return out


def check_folds_usable(data: MultiTaskData, folds):
    """Check that every task has test samples in every fold and that every classification
    training part holds both classes (ValueError naming the fix otherwise). Returns
    (n_folds, undefined): undefined (n_folds, n_tasks) bool marks the folds whose test part
    lacks a class of a classification task (its AUC is undefined); ValueError when a
    classification task is left with fewer than two folds to score."""
    n_folds = int(folds.max()) + 1
    y = np.asarray(data.y)
    undefined = np.zeros((n_folds, data.n_tasks), dtype=bool)
    for t in range(data.n_tasks):
        for k in range(n_folds):
            test = folds[t] == k
            if not test.any():
                observed = int((folds[t] >= 0).sum())
                raise ValueError(f"fold {k} has no samples of task {data.task_names[t]!r} ({observed} samples "
                                 "have a value of it); every task needs test samples in every fold (fold ids 0 "
                                 f"to n_folds - 1). Use at most {observed} folds, or drop that outcome.")
            if data.task_types[t] == "classification":
                train_labels = y[t][(folds[t] >= 0) & ~test]
                if np.unique(train_labels).size < 2:
                    raise ValueError(f"fold {k} leaves task {data.task_names[t]!r} with one class in its "
                                     "training part; use stratified folds or fewer folds.")
                undefined[k, t] = np.unique(y[t][test]).size < 2
        if undefined[:, t].sum() > n_folds - 2:
            raise ValueError(f"classification task {data.task_names[t]!r} has both classes in the test part of "
                             f"only {n_folds - int(undefined[:, t].sum())} of {n_folds} folds, so its test AUC is "
                             "undefined almost everywhere (leave-one-out cannot score an AUC). Use fewer folds "
                             "with stratify=True, or folds that hold both classes.")
    return n_folds, undefined


def _warn_undefined(undefined, task_names):
    """Say which (fold, task) AUCs are left out of the means, if any."""
    if not undefined.any():
        return
    pairs = [f"{task_names[t]!r}: folds {np.flatnonzero(undefined[:, t]).tolist()}"
             for t in range(undefined.shape[1]) if undefined[:, t].any()]
    warnings.warn("cross_validate: some test folds hold one class of a classification task, where the AUC is "
                  f"undefined; those folds are left out of that task's mean ({'; '.join(pairs)}). Stratified "
                  "folds (stratify=True, the default) or fewer folds avoid it.", UndefinedScoreWarning,
                  stacklevel=3)


class UndefinedScoreWarning(UserWarning):
    """Some folds' test AUC is undefined (one class in the test part) and is left out."""


def fold_weights(data, folds, n_folds, *, with_full=False):
    """Training and test weights, each (n_folds, n_tasks, n_max), renormalised per task.

    ``data`` is a MultiTaskData or a Problem whose samples may be padded to their bucket
    (:mod:`.buckets`): ``folds`` (n_tasks, n) is padded with -1 to its n_max samples, so
    padding is in no fold. ``with_full`` appends the full data's weights (as
    :func:`fit_path` uses them) to both, which then have n_folds + 1 rows (the last
    "test" row scores the full data's fit in-sample; its metrics are dropped, it only
    keeps the rows of both arrays on the same devices).
    """
    ids = to_device(pad_samples(folds, data.y.shape[-1], -1))
    return _fold_weights(data.weights, ids, n_folds=int(n_folds), with_full=bool(with_full))


@partial(jit, static_argnames=("n_folds", "with_full"))
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


@partial(jit, static_argnames=("n_lambdas", "progress", "mesh"))
def _cv_jit(problem, train_w, test_w, grid, ratio, settings, *, n_lambdas, progress=False, mesh=None):
    """vmap over folds of the scanned path: (lambdas (K, L), metric (K, L, T), heldout loss
    (K, L, T), n_iter (K, L), converged (K, L)), one row per fold (and per padding row).

    grid : (n_lambdas,) explicit lambdas, or None to use each fold's own log grid
    from its lambda_max down to ``ratio * lambda_max``. mesh : the folds' devices
    (:func:`~mtlcomb_jax.sharding.spread_batch`), each looping over its own folds.
    """
    def one_fold(w_train, w_test):
        fold_problem = problem._replace(weights=w_train)
        if grid is None:
            lambdas = log_grid(lambda_max_problem(fold_problem, settings.intercept), n_lambdas, ratio)
        else:
            lambdas = grid
        W0 = jnp.zeros((problem.X.shape[-1], problem.y.shape[0]), problem.y.dtype)
        b0 = jnp.zeros(problem.y.shape[0], problem.y.dtype)

        def per_lambda(fit):
            metric, loss = test_metrics(fold_problem, w_test, fit.W, fit.intercept)
            return metric, loss, fit.n_iter, fit.converged

        metric, loss, n_iter, converged = scan_path(fold_problem, lambdas, W0, b0, settings,
                                                    per_lambda=per_lambda, progress=progress)
        return lambdas, metric, loss, n_iter, converged

    return vmap_per_device(one_fold, mesh)(train_w, test_w)


def _fold_path(problem, grid, ratio, settings, n_lambdas, progress, w_train, w_test):
    """One fold's path by :func:`~mtlcomb_jax.path.fit_path`'s programs (its grid and its scan,
    :func:`~mtlcomb_jax.path.run_path`: the fold is the problem with its training weights, of
    the same shapes), then its held-out metrics at every lambda: (lambdas (L,), metric and
    heldout loss (L, T), n_iter (L,), converged (L,)), as one row of :func:`_cv_jit`.

    w_train, w_test : (n_tasks, n_max) the fold's weights (:func:`fold_weights`); grid and
    ratio as in :func:`_cv_jit`.
    """
    fold = problem._replace(weights=w_train)
    lambdas = problem_lambdas(fold, n_lambdas, ratio, settings.intercept) if grid is None else grid
    fits = run_cold_path(fold, lambdas, settings, progress=progress)
    metric, loss = _path_metrics(problem, w_test, fits.W, fits.intercept)
    return lambdas, metric, loss, fits.n_iter, fits.converged


@jit
def _path_metrics(problem, test_w, W, b):
    """:func:`test_metrics` at every lambda of a path: W (L, n_features, n_tasks) and b
    (L, n_tasks) give (task_metric, heldout_loss), each (L, n_tasks)."""
    return jax.vmap(test_metrics, in_axes=(None, None, 0, 0))(problem, test_w, W, b)


@partial(jit, static_argnames=("intercept", "n_lambdas"))
def _fold_grids(problem, train_w, ratio, *, intercept, n_lambdas):
    """(n_folds, n_lambdas) each fold's log grid, and (n_folds,) each fold's lambda_max and null loss."""
    def one(w):
        fold = problem._replace(weights=w)
        lam_max = lambda_max_problem(fold, intercept)
        null = losses.null_loss(fold.y, w, fold.is_classification, fold.scales, intercept)
        return log_grid(lam_max, n_lambdas, ratio), lam_max, null
    return jax.vmap(one)(train_w)


@partial(jit, static_argnames=("n_folds", "with_full"))
def _fold_outputs(problem, test_w, fit, z, *, n_folds, with_full):
    """What the screened CV keeps per lambda, in one program: the first n_folds problems'
    held-out metrics from their solutions' predictors z (K, n_tasks, n_max), and
    ``with_full`` problem n_folds's :class:`~mtlcomb_jax.fista.Fit`, the full data's
    path, without the batch axis and without W, which the loop keeps as rows (else None).
    Rows after those are padding (:func:`~mtlcomb_jax.sharding.spread_batch`)."""
    metrics = jax.vmap(predictor_metrics, in_axes=(None, 0, 0))(problem, test_w, z)
    return (jax.tree.map(lambda leaf: leaf[:n_folds], metrics),
            jax.tree.map(lambda leaf: leaf[n_folds], fit._replace(W=None)) if with_full else None)


def _screened_cv(problem, train_w, test_w, grid, ratio, settings, n_lambdas, n_folds, with_full, mesh, n_features):
    """The CV paths with strong-rule working sets (see :mod:`.working_set`: with one X
    for all tasks each fold has its own set, with per-task X the folds share one).

    train_w and test_w hold one row per fold, then ``with_full`` one more (the full
    data's weights, see :func:`fold_weights`), then maybe padding
    (:func:`~mtlcomb_jax.sharding.spread_batch`). The full data's path runs as one more
    problem of the batch, sharing the folds' compiled programs (and, with per-task X,
    their working set). ``mesh``: the rows' devices (:func:`~mtlcomb_jax.sharding.spread_batch`).

    Returns (fold lambdas (K, L), metric and heldout loss (K, L, T), n_iter and converged
    (K, L), full_path): the folds' rows only, as NumPy arrays; full_path is the full data's lambdas and a
    :class:`~mtlcomb_jax.fista.Fit` stacked over them, its W cut to the data's
    ``n_features`` (the problem's features may be padded, :mod:`.buckets`), or None
    without ``with_full``.
    """
    n_problems = train_w.shape[0]
    grids, lam_max, null = _fold_grids(problem, train_w, ratio, intercept=settings.intercept, n_lambdas=n_lambdas)
    if grid is not None:
        grids = np.broadcast_to(np.asarray(grid), (n_problems, grid.shape[0]))
    p, T = problem.X.shape[-1], problem.y.shape[0]
    dtype = problem.y.dtype
    # the zeros made on the host (as eager operations, each shape would compile a program)
    batch = problem._replace(weights=train_w, lam=to_device(np.zeros((n_problems,), dtype)))
    grids = np.asarray(grids)
    ((metric, loss), full), n_iter, converged, W_full = working_set_path(
        batch, grids, to_device(np.zeros((n_problems, p, T), dtype)), to_device(np.zeros((n_problems, T), dtype)),
        settings,
        lambda_start=np.asarray(lam_max), scale=np.asarray(null),
        per_lambda=lambda fit, z: _fold_outputs(problem, test_w, fit, z, n_folds=n_folds, with_full=with_full),
        on_lambda=advance, keep_W=n_folds if with_full else None, mesh=mesh)
    full_path = (jnp.asarray(grids[n_folds]), full._replace(W=unpad_rows(W_full, n_features))) if with_full else None
    # working_set_path stacks lambdas first: (L, K, ...) -> (K, L, ...), on the host
    metric, loss = to_host((metric, loss))
    return (grids[:n_folds], np.swapaxes(metric, 0, 1), np.swapaxes(loss, 0, 1), n_iter[:, :n_folds].T,
            converged[:, :n_folds].T, full_path)


def _screened_fold(problem, grid, ratio, settings, n_lambdas, n_features, w_train, w_test):
    """One fold's working-set path, a batch of one (the programs of
    :func:`~mtlcomb_jax.path.fit_path` with working sets), and its held-out metrics: one row
    of :func:`_screened_cv`'s outputs (lambdas (L,), metric and heldout loss (L, T), n_iter
    and converged (L,)). w_train, w_test : (1, n_tasks, n_max) the fold's weights."""
    outputs = _screened_cv(problem, w_train, w_test, grid, ratio, settings, n_lambdas, 1, False, None, n_features)
    return tuple(leaf[0] for leaf in outputs[:5])


def _mean_defined(values):
    """Mean over the last axis of the finite entries (NaN where there are none)."""
    finite = np.isfinite(values)
    counts = finite.sum(axis=-1)
    totals = np.where(finite, values, 0.0).sum(axis=-1)
    return np.where(counts > 0, totals / np.maximum(counts, 1), np.nan)


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
    folds : (n_tasks, n_max) fold id of each sample, -1 on padding and missing outcomes
    is_classification : (n_tasks,) bool
    task_names : (n_tasks,) the data's task names
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
        """Index of the selected lambda from per-fold values (n_folds, n_lambdas).

        Folds whose value is NaN (an undefined AUC, see :func:`cross_validate`) are left
        out of the mean and of the standard error at that lambda.
        """
        if values is None:
            return None
        finite = np.isfinite(values)
        counts = finite.sum(axis=0)
        if not np.any(counts):
            raise ValueError("no fold has a defined score at any lambda; the selection rules need at least one.")
        sign = -1.0 if larger_is_better else 1.0
        totals = np.where(finite, values, 0.0).sum(axis=0)
        mean = np.where(counts > 0, sign * totals / np.maximum(counts, 1), np.inf)
        best = int(np.argmin(mean))           # first best, as R's order()[1]
        if not one_se:
            return best
        column = values[finite[:, best], best]
        se = column.std(ddof=1) / np.sqrt(column.size) if column.size > 1 else 0.0
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
        mixed = (n_reg * reg + n_cls * cls) / (n_reg + n_cls)
        # The weighted mean can round one ulp outside [min, max] of its two lambdas.
        return min(max(mixed, min(reg, cls)), max(reg, cls))

    lambda_regression_min = property(lambda self: self._lambda_at(self.mse, False, False))
    lambda_classification_min = property(lambda self: self._lambda_at(self.auc, False, True))
    lambda_weighted_min = property(lambda self: self._weighted(False))
    lambda_regression_1se = property(lambda self: self._lambda_at(self.mse, True, False))
    lambda_classification_1se = property(lambda self: self._lambda_at(self.auc, True, True))
    lambda_weighted_1se = property(lambda self: self._weighted(True))


def cross_validate(data: MultiTaskData, *, n_folds=10, folds=None, stratify=True, seed=0, lambdas=None,
                   n_lambdas=20, lambda_min_ratio=0.01, similarity=0.0, ridge=0.0, intercept=True,
                   loss_weighting="mtlcomb", tol=None, max_iter=5000, stop="gap", devices=None,
                   progress=False, screening="auto", return_path=False, standardize=False,
                   scale_outcomes=False) -> CVResult:
    """K-fold cross-validation of the whole path.

    On one CPU device with several cores each fold is a path of :func:`fit_path`'s own
    compiled programs (the fold is the data with its training weights), the folds in host
    threads, so a CV after a path compiles only its fold weights and metrics; elsewhere
    (several devices, an accelerator, one thread) the folds are one vmapped computation.
    With working sets (:mod:`~mtlcomb_jax.working_set`) on one X the same holds with
    fit_path's working-set programs; on per-task X the folds are one batch of restricted
    solves.

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
        process's host. On one CPU device the folds run in host threads, one per core
        (``MTLCOMB_JAX_THREADS`` sets their number), one fold at a time each
        (:func:`~mtlcomb_jax.sharding.run_rows`), except with working sets on per-task X,
        whose folds run as one batch.
    progress : show a tqdm bar over the solves: n_folds * n_lambdas, plus n_lambdas for
        the full data's path where it runs in the folds' batch (``return_path``) and for
        each row that pads the batch to the devices (:func:`~mtlcomb_jax.sharding.run_batch`)
    screening : strong-rule working sets as in :func:`~mtlcomb_jax.path.fit_path`
        (with one X for all tasks each fold has its own set; with per-task X the folds
        share one, the union of theirs; the loop over lambdas then runs in Python around
        batched solves)
    return_path : also fit the path on all the data, as ``cv.path`` (what
        :func:`~mtlcomb_jax.path.fit_path` returns for the same arguments and the default
        grid, or ``lambdas``: the same solutions to within ``tol``). Where the folds run
        as one batch with working sets (per-task X, or several devices) it runs as one
        more problem of that batch, so it compiles nothing of its own (with per-task X
        it also shares their working set): the path's programs and a separate loop are
        saved (``python bench/bench_genomics.py`` times both ways, ``--separate`` for the
        separate one). Elsewhere it is a separate :func:`fit_path` after the folds, which
        runs the programs the folds ran in host threads.
    standardize, scale_outcomes : fit every fold on the standardised problem, as
        :func:`~mtlcomb_jax.path.fit_path` does (:mod:`~mtlcomb_jax.scaling`; the scaling
        comes from all the data, not from each fold's training part); ``lambdas`` and the
        selected lambdas are then the standardised problem's, to pass to a fit with the
        same two arguments

    Returns
    -------
    CVResult (see its docstring); ``cv.lambda_*_min`` and ``cv.lambda_*_1se``
    are the selected lambdas.
    """
    options = check_options(data, similarity=similarity, ridge=ridge, intercept=intercept,
                            loss_weighting=loss_weighting, tol=tol, max_iter=max_iter, stop=stop, screening=screening)
    intercept = options.intercept
    if return_path not in (True, False):
        raise ValueError(f"return_path={return_path!r} must be True (also fit the full data's path, as cv.path) "
                         "or False.")
    progress = validation.flag("progress", progress)
    data, scaling = prepare_scaling(data, standardize, scale_outcomes, intercept)
    if folds is None:
        fold_ids = make_folds(data, n_folds, stratify=stratify, seed=seed)
    else:
        fold_ids = folds_from_user(data, folds)
    K, undefined = check_folds_usable(data, fold_ids)
    # samples and features padded to their buckets (padding samples are in no fold)
    problem = pad_problem(make_problem(data, 0.0, options.similarity, options.ridge, options.loss_weighting))
    if lambdas is None:
        L, lambda_min_ratio = check_grid_args(n_lambdas, lambda_min_ratio)
        grid = None
        # the full data's grid (fit_path's program): refuses data whose lambda_max is 0
        problem_grid(problem, data, L, lambda_min_ratio, intercept)
    else:
        grid = to_device(check_lambdas(lambdas, data.X.dtype), data.X.dtype)
        L = grid.shape[0]
    screened = options.screening
    if screened and devices is not None and any(d.process_index != jax.process_index() for d in devices):
        raise ValueError("devices spans several processes, but the CV with working sets (screening) runs its "
                         "loop over lambdas on each process's host and needs local devices: pass "
                         "devices=jax.local_devices(), or screening=False to shard the folds over all processes.")
    fold_threads = host_threads(devices, K)
    # With working sets on one X in host threads each fold is a working-set path of its own
    # (below), and the full data's path is fit_path's, after them, on the same programs;
    # where the folds run as one screened batch, the full data's path is its problem K + 1.
    screened_folds = screened and fold_threads > 1 and problem.X.ndim == 2
    path_in_batch = bool(return_path) and screened and not screened_folds
    train_w, test_w = fold_weights(problem, fold_ids, K, with_full=path_in_batch)
    ratio = np.asarray(lambda_min_ratio, data.X.dtype)
    full_path = None
    settings = options.settings
    if path_in_batch:
        # padded to use every device (spread_batch); the full data's path is the row after the folds
        (train_w, test_w), mesh = spread_batch((train_w, test_w), devices, K + 1)
        with progress_bar(int(train_w.shape[0]) * L, "cross-validation", "solve", progress):
            outputs = _screened_cv(problem, train_w, test_w, grid, ratio, settings, L, K, True, mesh,
                                   data.n_features)
        # NumPy arrays of the folds' rows only
        fold_lambdas, metric, loss, n_iter, converged = outputs[:5]
        full_path = outputs[5]
    elif not screened and fold_threads > 1:
        # On one CPU device with several cores: each fold is a path of fit_path's own programs,
        # the folds in host threads, each taking the next fold when it is free. A CV after a
        # path then compiles only _fold_weights and _path_metrics, and a fold's loop stops at
        # its own iterations, where a vmapped batch runs every lambda to its slowest fold and
        # selects the folds' states every pass (bench_first_call.py and bench_tutorial.py time both).
        with progress_bar(K * L, "cross-validation", "solve", progress):
            fold_lambdas, metric, loss, n_iter, converged = run_rows(
                partial(_fold_path, problem, grid, ratio, settings, L, progress), (train_w, test_w), fold_threads)
    elif screened_folds:
        # With working sets on one X each fold has its own set anyway: each fold is a
        # working-set path of its own, a batch of one as fit_path's, in host threads. A CV
        # after a screened path then compiles no solver of its own, and a fold's cost per
        # iteration is its own set's, not the largest set of a batch (bench/README.md, "Devices").
        with progress_bar(K * L, "cross-validation", "solve", progress):
            fold_lambdas, metric, loss, n_iter, converged = run_rows(
                partial(_screened_fold, problem, grid, ratio, settings, L, data.n_features), (train_w, test_w),
                fold_threads, keep_axis=True)
    else:
        # The folds as one batch over the devices (run_batch), the padding's results dropped.
        # With working sets on per-task X the folds share one set, gathered once: in threads
        # each fold would gather its own, and at the gene-expression benchmark's size two
        # threads are no faster (67.9 against 63.8 s, ad hoc, 2026-12-02).
        if screened:
            def call(rows, mesh):
                return _screened_cv(problem, *rows, grid, ratio, settings, L, int(rows[0].shape[0]), False, mesh,
                                    data.n_features)[:5]
        else:
            def call(rows, mesh):
                return _cv_jit(problem, *rows, grid, ratio, settings, n_lambdas=L, progress=progress, mesh=mesh)
        with progress_bar(batch_rows(devices, K) * L, "cross-validation", "solve", progress):
            fold_lambdas, metric, loss, n_iter, converged = run_batch(call, (train_w, test_w), devices, K)
    raise_if_overflowed("cross_validate", data, (loss,), similarity=options.similarity, ridge=options.ridge)
    warn_if_not_converged(converged, n_iter, what="cross_validate", dtype=data.X.dtype)
    path = None
    if full_path is not None:
        path_lambdas, fits = full_path
        warn_if_not_converged(fits.converged, fits.n_iter, what="cross_validate's full-data path",
                              dtype=data.X.dtype)
        path = PathResult(lambdas=path_lambdas, **fits._asdict(), is_classification=data.is_classification,
                          task_names=data.task_names, feature_names=data.feature_names, classes=data.classes)
    elif return_path:
        # data is already on the scale being fitted
        path = fit_path(data, lambdas, n_lambdas=n_lambdas, lambda_min_ratio=lambda_min_ratio,
                        similarity=similarity, ridge=ridge, intercept=intercept, loss_weighting=loss_weighting,
                        tol=options.tol, max_iter=options.max_iter, stop=options.stop, progress=progress,
                        screening=screening)
    if path is not None:
        path = report_original(path, scaling)
    # An undefined AUC (a test part with one class) is NaN and left out of the means.
    _warn_undefined(undefined, data.task_names)
    metric = np.where(undefined[:, None, :], np.nan, np.asarray(metric))
    is_cls = np.asarray(data.is_classification)
    result = CVResult(
        lambdas=np.asarray(fold_lambdas).mean(axis=0), fold_lambdas=np.asarray(fold_lambdas),
        mse=metric[:, :, ~is_cls].mean(axis=2) if (~is_cls).any() else None,
        auc=_mean_defined(metric[:, :, is_cls]) if is_cls.any() else None,
        deviance=np.asarray(loss).sum(axis=2), task_metric=metric, n_iter=np.asarray(n_iter),
        converged=np.asarray(converged), folds=fold_ids, is_classification=is_cls,
        task_names=data.task_names, path=path)
    warn_if_at_grid_edge(result, given_grid=lambdas is not None)
    return result


def _still_improving(values, larger_is_better):
    """Whether the mean score (values (n_folds, n_lambdas)) still improves into the grid's
    last lambda by more than a tenth of a standard error: a plateau at the edge, where the
    least penalised fits are as good as each other, is not an optimum beyond the grid."""
    last, before = values[:, -1], values[:, -2]
    keep = np.isfinite(last) & np.isfinite(before)
    if keep.sum() < 2:
        return True
    gain = (last[keep] - before[keep]).mean() * (1 if larger_is_better else -1)
    se = last[keep].std(ddof=1) / np.sqrt(keep.sum())
    return gain > 0.1 * se


class GridEdgeWarning(UserWarning):
    """The CV optimum is the grid's smallest lambda: the best lambda may lie beyond the grid."""


def warn_if_at_grid_edge(cv: CVResult, *, given_grid=False):
    """Warn when a selection rule's optimum (the regression MSE's or the classification
    AUC's) is the smallest lambda of the grid and the score still improves into it, where a
    smaller lambda may do better still; the message says how to extend the grid (what a
    glmnet user checks on the CV plot)."""
    last = cv.lambdas.size - 1
    at_edge = [what for what, values, larger in (("regression MSE", cv.mse, False),
                                                 ("classification AUC", cv.auc, True))
               if values is not None and last > 0 and cv._index_min(values, False, larger) == last
               and _still_improving(values, larger)]
    if not at_edge:
        return
    how = ("pass explicit lambdas that continue below it" if given_grid else
           "lower lambda_min_ratio (e.g. to a tenth of its value)")
    verb = "is" if len(at_edge) == 1 else "are"
    warnings.warn(f"cross_validate: the best {' and the best '.join(at_edge)} {verb} at the grid's smallest lambda "
                  f"({cv.lambdas[-1]:.4g}); the optimum may lie below the grid: {how}, and cross-validate again.",
                  GridEdgeWarning, stacklevel=3)
