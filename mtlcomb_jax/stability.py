"""Stability selection (Meinshausen and Buehlmann 2010, JRSS-B 72:417) for MTLComb.

B random subsamples of the data (halves by default, ``fraction``; each task subsampled
on its own, classification tasks stratified by class; a shared design subsampled once
for all outcomes) are fitted along one lambda grid. The subsamples are weight masks, so all B
paths run as one ``vmap`` of the scanned path (spread over devices like CV
folds). A feature's selection frequency at lambda is the share of subsamples
whose solution has a non-zero row for it; its selection probability is the
maximum frequency over the lambdas used (the largest ones, as many as keep the error
bound within ``pfer``), and the stable set is the features whose probability reaches
``threshold``.
"""
from __future__ import annotations

import dataclasses
import warnings
from functools import partial

import jax.numpy as jnp
import numpy as np

from .precision import jit
from .data import MultiTaskData
from .buckets import pad_problem, pad_samples
from .path import check_grid_args, check_lambdas, problem_grid, run_cold_path, scan_path
from .progress import progress_bar
from .scaling import prepare_scaling
from .sharding import batch_rows, host_threads, run_batch, run_rows, to_device, vmap_per_device
from . import validation
from .cv import shared_strata, stratified_groups
from .objective import make_problem
from .options import check_options, raise_if_overflowed, warn_if_not_converged


@dataclasses.dataclass(frozen=True)
class StabilityResult:
    """Selection frequencies along the grid (NumPy arrays).

    lambdas : (n_lambdas,) the grid (from the full data's lambda_max)
    frequencies : (n_lambdas, n_features) share of subsamples selecting each feature
    probabilities : (n_features,) maximum of ``frequencies`` over the lambdas used
        (``lambdas[:n_lambdas_used]``)
    selected : indices of the features with probability >= threshold, most stable first
    selected_names : their names
    threshold : the cut-off used
    expected_false_selections : Meinshausen and Buehlmann's bound q^2 / ((2 threshold - 1) p)
        on the expected number of falsely selected features over the lambdas used (q = mean
        number of features a subsample selects anywhere among them); valid for threshold > 0.5
        under their exchangeability assumption
    n_lambdas_used : how many of the grid's largest lambdas the probabilities are taken over:
        the most that keep the bound within ``pfer`` (all of them with ``pfer=None``)
    n_subsamples : B
    feature_names : the data's feature names
    n_iter : (B, n_lambdas) iterations of each subsample's solve at each lambda
    """
    lambdas: np.ndarray
    frequencies: np.ndarray
    probabilities: np.ndarray
    selected: np.ndarray
    threshold: float
    expected_false_selections: float
    n_subsamples: int
    feature_names: tuple = ()
    n_lambdas_used: int | None = None
    n_iter: np.ndarray | None = None

    @property
    def selected_names(self) -> tuple:
        return tuple(self.feature_names[j] for j in self.selected)


class StabilityBoundWarning(UserWarning):
    """The error bound of a stability selection does not control its selection."""


def subsample_weights(data: MultiTaskData, n_subsamples, fraction=0.5, *, stratify=True, seed=0):
    """(n_subsamples, n_tasks, n_max) weights (a NumPy array of the data's dtype): each subsample
    keeps ``fraction`` of each task's samples.

    Kept samples have their data weight renormalised per task; the others (and
    padding) have weight 0. Classification tasks keep ``fraction`` of each class.
    """
    fraction = validation.real_scalar("fraction", fraction, hint="pass a share in (0, 1), e.g. 0.5")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction={fraction} must be strictly between 0 and 1 (0.5 is the standard half).")
    stratify = validation.flag("stratify", stratify)
    rng = np.random.default_rng(validation.seed(seed))
    mask, y = np.asarray(data.mask), np.asarray(data.y)
    is_cls = np.asarray(data.is_classification)
    keep = np.zeros((n_subsamples,) + mask.shape, dtype=bool)

    def draw(labels):
        """Keep ``fraction`` of the samples, of each class of each outcome in labels (n, c)."""
        if labels.shape[1] == 0:
            chosen = np.zeros(labels.shape[0], dtype=bool)
            chosen[rng.choice(labels.shape[0], size=max(1, int(round(fraction * labels.shape[0]))),
                              replace=False)] = True
            return chosen
        return stratified_groups(labels, np.array([fraction, 1.0 - fraction]), rng) == 0

    stratified = [t for t in range(data.n_tasks) if is_cls[t]] if stratify else []
    strata = shared_strata(data, stratify)[0] if data.shared_design else None
    for b in range(n_subsamples):
        if data.shared_design:
            # one subsample for all outcomes, stratified on every classification outcome jointly
            # (and on which samples have each outcome, when some are missing)
            keep[b, :, :] = draw(strata)
        else:
            for t in range(data.n_tasks):
                n_t = int(mask[t].sum())
                keep[b, t, :n_t] = draw(y[t, :n_t, None] if t in stratified else np.zeros((n_t, 0)))
    weights = np.where(keep, np.asarray(data.weights)[None], 0.0)
    totals = weights.sum(axis=2, keepdims=True)
    if np.any(totals <= 0):
        b, t = np.argwhere(totals[:, :, 0] <= 0)[0]
        raise ValueError(f"subsample {b} keeps no sample of task {data.task_names[t]!r} with positive weight (it has "
                         f"{int(np.asarray(data.mask)[t].sum())} samples); raise fraction or drop that outcome.")
    return (weights / totals).astype(data.X.dtype)


@partial(jit, static_argnames=("progress", "mesh"))
def _subsample_paths(problem, weights, lambdas, settings, *, progress=False, mesh=None):
    """vmap over subsamples of the scanned path (each device of ``mesh`` over its own share, see
    :func:`~mtlcomb_jax.sharding.vmap_per_device`); returns (B, L, p) selection masks and (B, L)
    convergence, iterations and objectives."""
    def one_subsample(w):
        sub = problem._replace(weights=w)
        W0 = jnp.zeros((problem.X.shape[-1], problem.y.shape[0]), problem.y.dtype)
        b0 = jnp.zeros(problem.y.shape[0], problem.y.dtype)
        return scan_path(sub, lambdas, W0, b0, settings,
                         per_lambda=lambda fit: (jnp.any(fit.W != 0, axis=1), fit.converged, fit.n_iter,
                                                 fit.objective),
                         progress=progress)

    return vmap_per_device(one_subsample, mesh)(weights)


def _subsample_path(problem, lambdas, settings, progress, weights):
    """One subsample's path by :func:`~mtlcomb_jax.path.fit_path`'s program
    (:func:`~mtlcomb_jax.path.run_cold_path`), as one row of :func:`_subsample_paths`: (L, p)
    selection masks and (L,) convergence, iterations and objectives. weights : (n_tasks, n_max)."""
    fits = run_cold_path(problem._replace(weights=weights), lambdas, settings, progress=progress)
    return _selected_rows(fits.W), fits.converged, fits.n_iter, fits.objective


@jit
def _selected_rows(W):
    """(L, p) whether each feature's row of W (L, p, T) is nonzero."""
    return jnp.any(W != 0, axis=2)


def stability_selection(data: MultiTaskData, *, n_subsamples=50, fraction=0.5, threshold=0.75, pfer=1.0,
                        lambdas=None,
                        n_lambdas=20, lambda_min_ratio=0.1, similarity=0.0, ridge=0.0, intercept=True,
                        loss_weighting="mtlcomb", tol=None, max_iter=5000, stop="gap", stratify=True, seed=0,
                        devices=None, progress=False, standardize=False, scale_outcomes=False) -> StabilityResult:
    """Selection probabilities of every feature from ``n_subsamples`` subsampled paths, all at once.

    Parameters
    ----------
    data : MultiTaskData
    n_subsamples : B, the number of random subsamples
    fraction : share of each task's samples in a subsample (0.5 in Meinshausen and Buehlmann)
    threshold : selection probability needed to enter the stable set (0.6 to 0.9 is usual;
        the default 0.75 is the middle of that range)
    pfer : the per-family error rate to guarantee (as R's ``stabs``): the probabilities are
        taken over the largest lambdas of the grid whose bound on the expected number of
        false selections stays within ``pfer``. On a long grid every subsample selects
        many features at the small lambdas, where the bound exceeds the number of features
        and says nothing. ``None`` uses the whole grid (and warns when its bound is not
        below the number of selected features)
    lambdas, n_lambdas, lambda_min_ratio : the grid, as in :func:`~mtlcomb_jax.path.fit_path`
        (computed from the full data)
    similarity, ridge, intercept, loss_weighting, tol, max_iter, stop : as in ``solve``
    stratify, seed : subsampling of classification tasks by class; random seed
    devices : JAX devices to spread the subsamples over (results do not depend on it beyond
        rounding). On one CPU device with several cores each subsample is a path of
        :func:`~mtlcomb_jax.path.fit_path`'s own program, in host threads, one per core
        (:func:`~mtlcomb_jax.sharding.run_rows`; ``MTLCOMB_JAX_THREADS`` sets their number)
    progress : show a tqdm bar over the B * n_lambdas solves (and n_lambdas more for each
        row that pads the batch to several devices, see :func:`~mtlcomb_jax.sharding.spread_batch`)
    standardize, scale_outcomes : fit on the standardised problem, as
        :func:`~mtlcomb_jax.path.fit_path` does (the scaling comes from all the data)

    Returns
    -------
    StabilityResult
    """
    options = check_options(data, similarity=similarity, ridge=ridge, intercept=intercept,
                            loss_weighting=loss_weighting, tol=tol, max_iter=max_iter, stop=stop)
    intercept = options.intercept
    progress = validation.flag("progress", progress)
    data, _ = prepare_scaling(data, standardize, scale_outcomes, intercept)
    n_subsamples = validation.integer("n_subsamples", n_subsamples, minimum=2,
                                      hint="pass the number of subsamples, e.g. 50")
    threshold = validation.real_scalar("threshold", threshold, hint="pass a selection probability in (0, 1]")
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold={threshold} must be in (0, 1] (a selection probability, 0.6 to 0.9 is usual).")
    if pfer is not None:
        pfer = validation.real_scalar("pfer", pfer, hint="pass the expected number of false selections to allow, "
                                      "e.g. 1, or None")
        if not pfer > 0:
            raise ValueError(f"pfer={pfer} must be > 0 (an expected number of false selections, e.g. 1), or None.")
        if threshold <= 0.5:
            raise ValueError(f"threshold={threshold} gives no error bound (it needs threshold > 0.5); raise it, "
                             "e.g. to 0.75, or pass pfer=None.")
    # samples and features padded to their buckets (padding samples have weight 0)
    problem = pad_problem(make_problem(data, 0.0, options.similarity, options.ridge, options.loss_weighting))
    if lambdas is None:
        L, ratio = check_grid_args(n_lambdas, lambda_min_ratio)
        lambdas = problem_grid(problem, data, L, ratio, intercept)
    else:
        lambdas = to_device(check_lambdas(lambdas, data.X.dtype), data.X.dtype)
    weights = subsample_weights(data, n_subsamples, fraction, stratify=stratify, seed=seed)
    weights = pad_samples(weights, problem.y.shape[-1], 0.0)     # on the host: run_batch places it
    n_threads = host_threads(devices, n_subsamples)
    if n_threads > 1:
        # On one CPU device with several cores: each subsample a path of fit_path's own
        # program, in host threads (as cross_validate's folds, see there).
        with progress_bar(n_subsamples * int(lambdas.shape[0]), "stability selection", "solve", progress):
            chosen, converged, n_iter, objective = run_rows(
                partial(_subsample_path, problem, lambdas, options.settings, progress), (weights,), n_threads)
    else:
        # the subsamples over the devices (run_batch), the padding's results dropped
        with progress_bar(batch_rows(devices, n_subsamples) * int(lambdas.shape[0]), "stability selection",
                          "solve", progress):
            chosen, converged, n_iter, objective = run_batch(
                lambda rows, mesh: _subsample_paths(problem, *rows, lambdas, options.settings, progress=progress,
                                                    mesh=mesh),
                (weights,), devices, n_subsamples)
    # NaN coefficients would count as selected: an overflow must not pass for a selection.
    raise_if_overflowed("stability_selection", data, (objective,), similarity=options.similarity,
                        ridge=options.ridge)
    warn_if_not_converged(converged, n_iter, what="stability_selection", dtype=data.X.dtype)
    chosen = np.asarray(chosen)[:, :, :data.n_features]            # (B, L, p)
    frequencies = chosen.mean(axis=0)
    bounds = error_bounds(chosen, threshold)
    if pfer is not None and not bounds[0] <= pfer:
        raise ValueError(f"stability_selection: already at the grid's largest lambda ({float(lambdas[0]):.4g}) the "
                         f"bound on the expected number of false selections is {bounds[0]:.3g}, above pfer={pfer}; "
                         "start the grid higher (the default grid starts at lambda_max, where nothing is selected), "
                         "raise pfer or threshold, or pass pfer=None.")
    # the bound grows along the grid (each subsample's union of selections does)
    used = len(bounds) if pfer is None else int(np.sum(bounds <= pfer))
    probabilities = frequencies[:used].max(axis=0)
    order = np.argsort(-probabilities, kind="stable")
    selected = order[probabilities[order] >= threshold]
    bound = float(bounds[used - 1])
    if pfer is None and selected.size and bound >= selected.size:
        warnings.warn(f"stability_selection: the bound on the expected number of false selections ({bound:.3g}) "
                      f"is not below the {selected.size} features selected, so it does not control them: pass "
                      "pfer=1 (the default) to take the probabilities over the lambdas where it does, or raise "
                      "threshold.", StabilityBoundWarning, stacklevel=2)
    return StabilityResult(lambdas=np.asarray(lambdas), frequencies=frequencies, probabilities=probabilities,
                           selected=selected, threshold=float(threshold), expected_false_selections=bound,
                           n_subsamples=n_subsamples, feature_names=data.feature_names, n_lambdas_used=used,
                           n_iter=np.asarray(n_iter))


def error_bounds(chosen, threshold):
    """(n_lambdas,) Meinshausen and Buehlmann's bound q^2 / ((2 threshold - 1) p) over each
    prefix ``lambdas[:l + 1]`` of the grid; chosen : (B, n_lambdas, p) selection masks.
    Infinite for threshold <= 0.5, where the bound does not hold."""
    p = chosen.shape[-1]
    if threshold <= 0.5:
        return np.full(chosen.shape[1], np.inf)
    # q over a prefix: the mean size of each subsample's union of selections along it
    q = np.logical_or.accumulate(chosen, axis=1).sum(axis=2).mean(axis=0)
    return q ** 2 / ((2 * threshold - 1) * p)
