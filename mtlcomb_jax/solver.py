"""``solve``: MTLComb at one lambda, and its result.

The solver itself is :mod:`.fista` (the step, the loop and the stopping rules, described
there) on :mod:`.objective` (F, its gradients and its dual); the options are validated
by :mod:`.options`. ``solve`` is differentiable in reverse mode (:mod:`.implicit`).
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from . import validation
from .data import MultiTaskData
from .implicit import differentiable_solve_problem
from .objective import make_problem
from .options import (ConvergenceWarning, check_options, initial_point, raise_if_overflowed, warn_if_not_converged,
                      warn_if_separable)
from .precision import jit
from .scaling import prepare_scaling, report_original, scaled_start

__all__ = ["ConvergenceWarning", "SolveResult", "solve"]


@dataclasses.dataclass(frozen=True)
class SolveResult:
    """Result of :func:`solve`: the fields of :class:`~mtlcomb_jax.fista.Fit` plus what
    prediction needs.

    W : (n_features, n_tasks);  intercept : (n_tasks,)
    objective, n_iter, converged, dual_gap, kkt_residual : scalars (see
        :class:`~mtlcomb_jax.fista.Fit`)
    lam : () the lambda solved at (the standardised problem's, for a standardised fit)
    is_classification : (n_tasks,) bool
    task_names, feature_names, classes : static metadata copied from the data
    scaling : the :class:`~mtlcomb_jax.scaling.Scaling` of a standardised fit (W and
        intercept are then on the original scale), else None

    A pytree (arrays are leaves, metadata is static), so it can be returned from
    a user's ``jit``.
    """
    W: jax.Array
    intercept: jax.Array
    objective: jax.Array
    n_iter: jax.Array
    converged: jax.Array
    dual_gap: jax.Array
    kkt_residual: jax.Array
    lam: jax.Array
    is_classification: jax.Array
    task_names: tuple = ()
    feature_names: tuple = ()
    classes: tuple = ()
    scaling: Any = None


jax.tree_util.register_dataclass(
    SolveResult,
    data_fields=["W", "intercept", "objective", "n_iter", "converged", "dual_gap", "kkt_residual",
                 "lam", "is_classification", "scaling"],
    meta_fields=["task_names", "feature_names", "classes"])


@jit
def _solve_jit(problem, W0, b0, settings):
    # reverse-mode derivatives by implicit differentiation
    return differentiable_solve_problem(problem, W0, b0, settings)[0]


def solve(data: MultiTaskData, lam, *, similarity=0.0, ridge=0.0, intercept=True,
          loss_weighting="mtlcomb", W_init=None, b_init=None, tol=None, max_iter=5000,
          stop="gap", standardize=False, scale_outcomes=False) -> SolveResult:
    """Fit MTLComb at one lambda.

    Parameters
    ----------
    data : MultiTaskData
    lam : float >= 0, weight of the L2,1 penalty; at or above :func:`~mtlcomb_jax.lambda_max`
        the solution is exactly zero (with the null model's intercepts)
    similarity : float >= 0, the R package's ``C`` (pulls task columns to their mean)
    ridge : float >= 0, the R package's ``C2``
    intercept : fit an unpenalised intercept per task
    loss_weighting : ``"mtlcomb"`` (0.5 least squares, 2.0 logistic) or ``"none"``
    W_init : optional (n_features, n_tasks) starting point; b_init (n_tasks,)
    tol : tolerance of the stopping rule (see :mod:`~mtlcomb_jax.fista`); default by
        rule and dtype (:func:`~mtlcomb_jax.fista.default_tol`)
    max_iter : iteration cap; ``converged`` is False (and a warning is raised) when hit
    stop : ``"gap"`` (certified), ``"kkt"``, or ``"relative"`` (the R package's rule)
    standardize : fit on features scaled to weighted mean 0 and standard deviation 1 and
        report W and intercept on the original scale (:mod:`~mtlcomb_jax.scaling`);
        ``W_init`` and ``b_init`` are then on the original scale too
    scale_outcomes : also put each regression outcome on mean 0 and standard deviation 1

    Returns
    -------
    SolveResult with W (n_features, n_tasks), intercept (n_tasks,), objective,
    n_iter, converged, dual_gap and kkt_residual.

    Raises ValueError for invalid arguments and when the iterates overflow (the message
    says which input is too large). Warns (:class:`ConvergenceWarning`) when the stopping
    rule is not met, and at lam = 0 when a classification task is separable.
    """
    given = dict(similarity=similarity, ridge=ridge, intercept=intercept, loss_weighting=loss_weighting, tol=tol,
                 max_iter=max_iter)
    options = check_options(data, stop=stop, **given)
    data, scaling = prepare_scaling(data, standardize, scale_outcomes, options.intercept)
    W_init, b_init = scaled_start(W_init, b_init, scaling, data)
    lam = validation.non_negative("lam", lam, dtype=data.X.dtype,
                                  hint="pass one penalty weight >= 0 (for several, use fit_path(data, lambdas))")
    if options.stop == "gap" and not validation.is_traced(lam) and lam == 0.0:
        options = check_options(data, stop="kkt", **given)   # the L2,1 dual is degenerate at lam = 0
    problem = make_problem(data, lam, options.similarity, options.ridge, options.loss_weighting)
    W0, b0 = initial_point(data, W_init, b_init)
    fit = _solve_jit(problem, W0, b0, options.settings)
    raise_if_overflowed("solve", data, (fit.objective, fit.intercept), lam=lam, similarity=options.similarity,
                        ridge=options.ridge)
    result = SolveResult(**fit._asdict(), lam=problem.lam, is_classification=data.is_classification,
                         task_names=data.task_names, feature_names=data.feature_names, classes=data.classes)
    if warn_if_separable(data, result, lam, options.ridge):
        return report_original(dataclasses.replace(result, converged=jnp.zeros((), bool)), scaling)
    warn_if_not_converged(fit.converged, fit.n_iter, dtype=data.X.dtype)
    return report_original(result, scaling)
