"""The regularization path: lambda_max, the lambda grid, and warm-started fits.

``fit_path`` runs the whole path as one compiled ``lax.scan``, or with working sets
as a Python loop over lambdas around compiled steps (:mod:`.working_set`): each lambda
starts from the previous lambda's solution (W, b); with the certified rules it carries
the step size over too, and the scan extrapolates the start from the last two solutions
(:mod:`.warm_starts`).
"""
from __future__ import annotations

import dataclasses
from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from .precision import jit
from . import losses
from .buckets import pad_problem, pad_rows, unpad_rows
from .data import MultiTaskData
from .scaling import prepare_scaling, report_original, scaled_start
from .sharding import to_device
from .progress import advance, progress_bar, tick
from .working_set import working_set_path
from . import validation, warm_starts
from .penalties import row_norms
from .fista import Settings, solve_problem
from .objective import Problem, backproject_stack, lambda_max_problem, make_problem, null_intercepts, null_model
from .options import check_options, initial_point, raise_if_overflowed, warn_if_not_converged
from .solver import SolveResult


# -- lambda_max and the grid ------------------------------------------------------------
def lambda_max(data: MultiTaskData, *, intercept=True, loss_weighting="mtlcomb", standardize=False,
               scale_outcomes=False):
    """The smallest lambda whose solution is all zero (of the standardised problem with
    ``standardize`` or ``scale_outcomes``, as the fits with those arguments solve it).

    .. math:: \\lambda_{max} = \\max_j \\| [\\nabla_{w_t} L(0, b_0)]_{j,t} \\|_2

    With the MTLComb weights both task types give ``-X_t^T (s_t * y_t)`` here
    (without intercept), the R package's ``max_j ||[X_t^T y_t / n_t]_t||``.
    The similarity and ridge terms have zero gradient at W = 0 and do not enter.
    """
    options = check_options(data, intercept=intercept, loss_weighting=loss_weighting)
    data, _ = prepare_scaling(data, standardize, scale_outcomes, options.intercept)
    problem = make_problem(data, 0.0, loss_weighting=options.loss_weighting)
    return float(_lambda_max_jit(problem, intercept=options.intercept))


# one program (as eager operations, each would compile one of its own)
_lambda_max_jit = jit(lambda_max_problem, static_argnames=("intercept",))


def log_grid(lam_max, n_lambdas, lambda_min_ratio):
    """(n_lambdas,) ``exp(linspace(log(lam_max), log(ratio * lam_max), n))``, as the R package."""
    lam_max = jnp.asarray(lam_max)
    grid = jnp.exp(jnp.linspace(jnp.log(lam_max), jnp.log(lambda_min_ratio * lam_max), n_lambdas))
    # exp(log(x)) need not be x: the first value is lambda_max itself, where the solution is zero.
    return grid.at[0].set(lam_max)


def check_lambdas(lambdas, dtype=None):
    """A validated (n_lambdas,) float array: positive, finite, non-increasing (and within
    ``dtype``'s range when given)."""
    try:
        arr = np.asarray(lambdas)
    except (TypeError, ValueError):
        raise ValueError("lambdas must be a 1-D sequence of positive numbers.") from None
    if arr.dtype.kind not in "iuf" or arr.ndim > 1:
        raise ValueError(f"lambdas must be a 1-D sequence of positive numbers; got dtype {arr.dtype}, shape "
                         f"{arr.shape}.")
    arr = arr.astype(np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError("lambdas is empty; pass at least one positive value, or None for the default grid.")
    if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(f"lambdas must be positive and finite; got {arr[~(np.isfinite(arr) & (arr > 0))][:3]}. "
                         "Pass a decreasing sequence of positive values.")
    if np.any(np.diff(arr) > 0):
        raise ValueError("lambdas must be in decreasing order (the path warm-starts from large to small); "
                         "sort them with np.sort(lambdas)[::-1].")
    if dtype is not None:
        validation.check_in_range("lambdas", float(arr.max()), dtype)
    return arr


def check_grid_args(n_lambdas, lambda_min_ratio):
    """(n_lambdas, lambda_min_ratio) as an int >= 1 and a float in (0, 1]."""
    n_lambdas = validation.integer("n_lambdas", n_lambdas, minimum=1, hint="pass the number of lambdas, e.g. 20")
    ratio = validation.real_scalar("lambda_min_ratio", lambda_min_ratio, hint="pass a value in (0, 1], e.g. 0.01")
    if not 0 < ratio <= 1:
        raise ValueError(f"lambda_min_ratio={lambda_min_ratio} must be in (0, 1] (the smallest lambda as a "
                         "fraction of lambda_max), e.g. 0.01.")
    return n_lambdas, ratio


def check_lambda_max(lam_max, reference, data: MultiTaskData):
    """ValueError when lambda_max is 0 to rounding (or not finite): then every lambda gives
    the zero model and a grid relative to lambda_max does not exist.

    ``reference`` is lambda_max without intercepts (``max_j ||X_j^T (s y)||``): a lambda_max
    within rounding of 0 next to it (constant targets explained by their intercepts) counts
    as 0; both are 0 for an all-zero X.
    """
    lam_max, reference = float(lam_max), float(reference)
    eps = float(np.finfo(np.dtype(data.X.dtype)).eps)
    if np.isfinite(lam_max) and lam_max > 1e3 * eps * reference and lam_max > 0:
        return lam_max
    if not np.isfinite(lam_max):
        raise ValueError(f"lambda_max is {lam_max} (an overflow): rescale X (standardise its columns) and the "
                         "regression targets.")
    x_zero = not bool(jnp.any(data.X != 0))
    cause = "X is all zero" if x_zero else ("no feature is correlated with any task's residual at the null "
                                            "model (constant targets, or constant features)")
    raise ValueError(f"lambda_max is 0: {cause}, so the solution is zero at every lambda and there is no path "
                     "to fit. Check that X and the targets hold the data you meant.")


# -- the path --------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PathResult:
    """Solutions along a decreasing lambda grid.

    lambdas : (n_lambdas,);  W : (n_lambdas, n_features, n_tasks);  intercept : (n_lambdas, n_tasks)
    objective, n_iter, converged, dual_gap, kkt_residual : (n_lambdas,)
    is_classification : (n_tasks,) bool; task_names, feature_names, classes: metadata
    scaling : the :class:`~mtlcomb_jax.scaling.Scaling` of a standardised fit (W and
        intercept are then on the original scale, lambdas on the standardised one), else None
    """
    lambdas: jax.Array
    W: jax.Array
    intercept: jax.Array
    objective: jax.Array
    n_iter: jax.Array
    converged: jax.Array
    dual_gap: jax.Array
    kkt_residual: jax.Array
    is_classification: jax.Array
    task_names: tuple = ()
    feature_names: tuple = ()
    classes: tuple = ()
    scaling: Any = None

    def n_selected(self):
        """(n_lambdas,) number of features with a non-zero row at each lambda."""
        return np.asarray(_count_nonzero_rows(self.W))

    def solution(self, index) -> SolveResult:
        """The SolveResult at ``lambdas[index]`` (negative indices count from the end)."""
        n = self.lambdas.shape[0]
        if not -n <= int(index) < n:
            raise ValueError(f"index={index} is out of range for a path of {n} lambdas.")
        fields = {name: getattr(self, name)[index] for name in
                  ("W", "intercept", "objective", "n_iter", "converged", "dual_gap", "kkt_residual")}
        return SolveResult(**fields, lam=self.lambdas[index], is_classification=self.is_classification,
                           task_names=self.task_names, feature_names=self.feature_names, classes=self.classes,
                           scaling=self.scaling)


@jit
def _count_nonzero_rows(W):
    """(L,) nonzero rows of W (L, p, T), fused in one program: as eager operations, the
    comparison would be a temporary with as many entries as W."""
    return jnp.sum(jnp.any(W != 0, axis=2), axis=1)


jax.tree_util.register_dataclass(
    PathResult,
    data_fields=["lambdas", "W", "intercept", "objective", "n_iter", "converged", "dual_gap",
                 "kkt_residual", "is_classification", "scaling"],
    meta_fields=["task_names", "feature_names", "classes"])


def scan_path(problem: Problem, lambdas, W0, b0, settings: Settings, *, per_lambda=None, progress=False):
    """Solve along ``lambdas`` (n_lambdas,) with warm starts, by ``settings``
    (:class:`~mtlcomb_jax.fista.Settings`); pure and traceable.

    ``per_lambda(fit)``, if given, maps each lambda's :class:`~mtlcomb_jax.fista.Fit`
    to what the scan stacks (cross-validation keeps only test metrics, not W).
    The ``"relative"`` rule restarts the step size at 1 for every lambda, as the
    R package's path does; the certified rules carry it over. With ``progress``
    every finished lambda advances the open progress bar (see :mod:`.progress`).
    """
    per_lambda = per_lambda or (lambda fit: fit)
    # lambda_max and the null intercepts do not depend on lam: computed once for the path
    null = null_model(problem, settings.intercept)
    extrapolate = warm_starts.EXTRAPOLATE_STARTS and settings.stop != "relative"

    def body(carry, lam_and_step):
        W, b, gamma, last = carry       # last: the solution before (W, b), when extrapolating
        lam, step = lam_and_step
        W_start, b_start = W, b
        if extrapolate:
            W_start, b_start = W + step * (W - last[0]), b + step * (b - last[1])
        fit, gamma_out = solve_problem(problem._replace(lam=lam), W_start, b_start, settings, gamma0=gamma,
                                       null=null)
        carry_gamma = gamma if settings.stop == "relative" else gamma_out
        if progress:
            # Tick with a per-problem value (n_iter): under vmap the callback then counts
            # every problem. lam would not do: when the batch uses one grid (explicit CV
            # lambdas, stability selection) lam is not batched and counts once per lambda.
            tick(fit.n_iter)
        return (fit.W, fit.intercept, carry_gamma, (W, b) if extrapolate else ()), per_lambda(fit)

    gamma0 = jnp.ones((), W0.dtype)
    steps = warm_starts.start_steps(lambdas).astype(W0.dtype)
    _, stacked = jax.lax.scan(body, (W0, b0, gamma0, (W0, b0) if extrapolate else ()), (lambdas, steps))
    return stacked


@partial(jit, static_argnames=("progress",))
def _path_jit(problem, lambdas, W0, b0, settings, *, progress=False):
    return scan_path(problem, lambdas, W0, b0, settings, progress=progress)


def run_path(problem: Problem, lambdas, W0, b0, settings: Settings, *, progress=False):
    """:func:`fit_path`'s compiled scan on a validated (and maybe padded, :mod:`.buckets`)
    problem: its :class:`~mtlcomb_jax.fista.Fit` stacked over ``lambdas`` (n_lambdas,), from
    W0 (n_features, n_tasks) and b0 (n_tasks,). Another problem of the same shapes and
    settings (a cross-validation fold: the same data, other weights) runs the same program."""
    return _path_jit(problem, lambdas, W0, b0, settings, progress=progress)


def run_cold_path(problem: Problem, lambdas, settings: Settings, *, progress=False):
    """:func:`run_path` from W = 0 and b = 0 (made on the host, as :func:`fit_path`'s default
    start, so that the program is the same): a cross-validation fold's or a subsample's path."""
    (p, T), dtype = (problem.X.shape[-1], problem.y.shape[0]), problem.y.dtype
    return run_path(problem, lambdas, to_device(np.zeros((p, T), dtype)), to_device(np.zeros(T, dtype)), settings,
                    progress=progress)


def problem_lambdas(problem: Problem, n_lambdas, ratio, intercept):
    """(n_lambdas,) the log grid of a validated (maybe padded) problem from lambda_max down to
    ``ratio`` times it, by :func:`fit_path`'s grid program, without :func:`problem_grid`'s
    check of the data (a cross-validation fold's grid). ``ratio`` is a NumPy scalar of the
    problem's dtype, as fit_path passes it."""
    return _grid_jit(problem, ratio, intercept=intercept, n_lambdas=n_lambdas)[0]


@partial(jit, static_argnames=("intercept", "n_lambdas"))
def _grid_jit(problem, ratio, *, intercept, n_lambdas):
    """The grid, and lambda_max without intercepts (what :func:`check_lambda_max` compares to),
    both from one pass over X."""
    def null_derivatives(fit_intercept):
        z0 = jnp.broadcast_to(null_intercepts(problem, fit_intercept)[:, None], problem.y.shape)
        return losses.data_loss_derivatives(z0, problem.y, problem.weights, problem.is_classification,
                                            problem.scales)

    with_b, without_b = backproject_stack(problem.X, (null_derivatives(intercept), null_derivatives(False)))
    lam_max, reference = jnp.max(row_norms(with_b)), jnp.max(row_norms(without_b))
    return log_grid(lam_max, n_lambdas, ratio), reference


def lambda_grid(data: MultiTaskData, *, n_lambdas=20, lambda_min_ratio=0.01, intercept=True,
                loss_weighting="mtlcomb", standardize=False, scale_outcomes=False):
    """(n_lambdas,) log-spaced grid from lambda_max down to ``lambda_min_ratio * lambda_max``.

    ``standardize`` and ``scale_outcomes`` give the grid of the standardised problem
    (pass the same values to the fit that uses it). Raises ValueError when lambda_max is 0
    (all-zero X, constant targets): every lambda then gives the zero model.
    """
    options = check_options(data, intercept=intercept, loss_weighting=loss_weighting)
    data, _ = prepare_scaling(data, standardize, scale_outcomes, options.intercept)
    n_lambdas, ratio = check_grid_args(n_lambdas, lambda_min_ratio)
    problem = pad_problem(make_problem(data, 0.0, loss_weighting=options.loss_weighting))
    return problem_grid(problem, data, n_lambdas, ratio, options.intercept)


def problem_grid(problem: Problem, data: MultiTaskData, n_lambdas, ratio, intercept):
    """:func:`lambda_grid` of a validated (and maybe padded, :mod:`.buckets`) problem."""
    grid, reference = _grid_jit(problem, np.asarray(ratio, data.X.dtype), intercept=intercept,
                                n_lambdas=n_lambdas)
    check_lambda_max(np.asarray(grid)[0], reference, data)
    return grid


def fit_path(data: MultiTaskData, lambdas=None, *, n_lambdas=20, lambda_min_ratio=0.01,
             similarity=0.0, ridge=0.0, intercept=True, loss_weighting="mtlcomb", tol=None,
             max_iter=5000, stop="gap", W_init=None, progress=False, screening="auto", standardize=False,
             scale_outcomes=False) -> PathResult:
    """Fit the regularization path, warm-started from lambda to lambda.

    Parameters
    ----------
    data : MultiTaskData
    lambdas : optional decreasing (n_lambdas,) positive values; default the log
        grid of ``n_lambdas`` values from :func:`lambda_max` down to
        ``lambda_min_ratio * lambda_max`` (the R package's ``nlambda``, ``lam_ratio``)
    similarity, ridge, intercept, loss_weighting, tol, max_iter, stop : as in
        :func:`~mtlcomb_jax.solver.solve`
    W_init : optional (n_features, n_tasks) start for the first lambda
    progress : show a tqdm bar advancing per lambda (the path stays one compiled scan)
    screening : solve each lambda on a strong-rule working set, checked by a full
        KKT test (see :mod:`~mtlcomb_jax.working_set`); ``"auto"`` does so for the
        certified rules from ``n_features >= 5000`` in float64 and ``>= 10000`` in float32,
        where working sets are faster including their compilation
        (:data:`~mtlcomb_jax.options.AUTO_MIN_ROW_BYTES`). ``stop="relative"`` (the R
        package's iterates) never screens under ``"auto"``.
    standardize : fit on features scaled to weighted mean 0 and standard deviation 1,
        as glmnet does, and report W and intercepts on the original scale
        (:mod:`~mtlcomb_jax.scaling`); the lambdas, explicit or default, are those of
        the standardised problem, and ``W_init`` is on the original scale
    scale_outcomes : also put each regression outcome on mean 0 and standard deviation 1

    Returns
    -------
    PathResult with W of shape (n_lambdas, n_features, n_tasks).
    """
    options = check_options(data, similarity=similarity, ridge=ridge, intercept=intercept,
                            loss_weighting=loss_weighting, tol=tol, max_iter=max_iter, stop=stop, screening=screening)
    intercept = options.intercept
    progress = validation.flag("progress", progress)
    data, scaling = prepare_scaling(data, standardize, scale_outcomes, intercept)
    W_init, _ = scaled_start(W_init, None, scaling, data)
    # samples and features padded to their buckets: similar datasets share the programs
    problem = pad_problem(make_problem(data, 0.0, options.similarity, options.ridge, options.loss_weighting))
    if lambdas is None:
        L, ratio = check_grid_args(n_lambdas, lambda_min_ratio)
        lambdas = problem_grid(problem, data, L, ratio, intercept)
    else:
        lambdas = to_device(check_lambdas(lambdas, data.X.dtype), data.X.dtype)
    W0, b0 = initial_point(data, W_init, None)
    W0 = pad_rows(W0, problem.X.shape[-1])
    if options.screening:
        fits = _screened_path(problem, lambdas, W0, b0, options.settings, W_init is None, progress)
    else:
        with progress_bar(int(lambdas.shape[0]), "path", "lambda", progress):
            fits = run_path(problem, lambdas, W0, b0, options.settings, progress=progress)
    fits = fits._replace(W=unpad_rows(fits.W, data.n_features))
    raise_if_overflowed("fit_path", data, (fits.objective, fits.intercept), similarity=options.similarity,
                        ridge=options.ridge)
    warn_if_not_converged(fits.converged, fits.n_iter, what="fit_path", dtype=data.X.dtype)
    path = PathResult(lambdas=lambdas, **fits._asdict(), is_classification=data.is_classification,
                      task_names=data.task_names, feature_names=data.feature_names, classes=data.classes)
    return report_original(path, scaling)



@partial(jit, static_argnames=("intercept", "cold_start"))
def _screened_start(problem, W0, b0, lambdas, *, intercept, cold_start):
    """The screened path's batch of one, in one program (as eager operations, each would be
    a compiled program of its own): weights (1, T, n_max), lam (1,), W0 (1, p, T), b0 (1, T),
    the lambda the path starts from (lambda_max from a cold start, else ``lambdas[0]``)
    and the null loss (the gap's scale)."""
    start = lambda_max_problem(problem, intercept) if cold_start else lambdas[0]
    scale = losses.null_loss(problem.y, problem.weights, problem.is_classification, problem.scales, intercept)
    return (problem.weights[None], jnp.zeros((1,), problem.y.dtype), W0[None], b0[None], start, scale)


def _screened_path(problem, lambdas, W0, b0, settings, cold_start, progress):
    """fit_path's lambdas with working sets (one problem: a batch of K = 1)."""
    weights, lam, W0, b0, start, scale = _screened_start(problem, W0, b0, lambdas, intercept=settings.intercept,
                                                         cold_start=bool(cold_start))
    batch = problem._replace(weights=weights, lam=lam)
    with progress_bar(int(lambdas.shape[0]), "path", "lambda", bool(progress)):
        fits, _, _, W = working_set_path(batch, np.asarray(lambdas)[None], W0, b0, settings,
                                         lambda_start=np.reshape(start, (1,)),
                                         scale=np.reshape(scale, (1,)), on_lambda=advance, squeeze=True, keep_W=0)
    return fits._replace(W=W)
