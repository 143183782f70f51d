"""Hypergradient tuning of lam, similarity and ridge by cross-validation.

The validation loss is the objective's own data term on held-out samples,
averaged over folds:

.. math::

    V(\\lambda, C, C_2) = \\frac1K \\sum_k \\sum_t c_t \\sum_{i \\in \\text{fold } k} s^{k}_{ti}\\,
                         \\ell_t(y_{ti}, x_{ti} w^{(k)}_t + b^{(k)}_t),

with C = ``similarity`` and C_2 = ``ridge``, the MTLComb weights c_t (0.5 least
squares, 2 logistic) and the held-out weights s^k normalised per task. Its gradient in (log lam, log similarity,
log ridge) comes from implicit differentiation of each fold's solve (see
:mod:`mtlcomb_jax.implicit`); all folds are one ``vmap``; an optax optimiser
takes the steps, and each fold's solve is warm-started from its previous one.
"""
from __future__ import annotations

import dataclasses
import warnings
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from .precision import jit
from . import losses
from .buckets import pad_problem
from .cv import check_folds_usable, fold_weights, folds_from_user, make_folds
from .data import MultiTaskData
from .path import lambda_grid
from .scaling import prepare_scaling
from .sharding import to_device
from .implicit import differentiable_solve_problem
from . import validation
from .objective import make_problem
from .options import ConvergenceWarning, check_hyperparameters, check_options

HYPERPARAMETERS = ("lam", "similarity", "ridge")


@dataclasses.dataclass(frozen=True)
class TuningResult:
    """The best hyperparameters found (NumPy values).

    lam, similarity, ridge : floats at the lowest validation loss seen
    validation_loss : that loss
    history : (n_steps, 4) array, columns lam, similarity, ridge, validation loss per step
    n_solves : number of single-lambda solves spent (steps x folds)
    """
    lam: float
    similarity: float
    ridge: float
    validation_loss: float
    history: np.ndarray
    n_solves: int


def validation_loss(problem, test_w, W, b):
    """Held-out data term of one fold: ``sum_t c_t sum_i s_ti l(y_ti, z_ti)`` with test weights."""
    z = losses.predictor(problem.X, W, b)
    return losses.data_loss(z, problem.y, test_w, problem.is_classification, problem.scales)


@partial(jit, static_argnames=("tuned",))
def _folds_value_and_grad(log_params, fixed, problem, train_w, test_w, W0, b0, settings, *, tuned):
    """Mean validation loss over folds, its gradient in the tuned log-parameters, and the new warm starts."""
    def mean_loss(log_params):
        values = dict(fixed)
        values.update({name: jnp.exp(log_params[i]) for i, name in enumerate(tuned)})

        def one_fold(w_train, w_test, W_start, b_start):
            fold = problem._replace(weights=w_train, lam=values["lam"], similarity=values["similarity"],
                                    ridge=values["ridge"])
            fit, _ = differentiable_solve_problem(fold, W_start, b_start, settings)
            return validation_loss(fold, w_test, fit.W, fit.intercept), (fit.W, fit.intercept, fit.converged)

        per_fold, (W, b, converged) = jax.vmap(one_fold)(train_w, test_w, W0, b0)
        return jnp.mean(per_fold), (jax.lax.stop_gradient(W), jax.lax.stop_gradient(b), converged)

    (value, (W, b, converged)), grad = jax.value_and_grad(mean_loss, has_aux=True)(log_params)
    return value, grad, W, b, converged


#: The default tolerance of tuning's solves, per dtype. float32 cannot certify 1e-8 (its
#: solves would stop at max_iter at every step); 1e-5 it meets.
TUNING_TOL = {"float64": 1e-8, "float32": 1e-5}


def tune_hyperparameters(data: MultiTaskData, *, tune=HYPERPARAMETERS, lam=None, similarity=1e-2, ridge=1e-2,
                         n_folds=5, folds=None, stratify=True, seed=0, n_steps=30, learning_rate=0.2,
                         optimizer=None, intercept=True, loss_weighting="mtlcomb", tol=None, max_iter=20000,
                         stop="gap", standardize=False, scale_outcomes=False) -> TuningResult:
    """Minimise the cross-validated loss over log lam, log similarity and log ridge by gradient steps.

    Parameters
    ----------
    data : MultiTaskData
    tune : which of ``("lam", "similarity", "ridge")`` to optimise; the others stay fixed
    lam, similarity, ridge : starting values (> 0 when tuned); ``lam`` defaults to
        0.1 * lambda_max (a tuned lam must start below lambda_max, where the
        solution is non-zero and the gradient in lam is not 0)
    n_folds, folds, stratify, seed : the folds, as in :func:`~mtlcomb_jax.cv.cross_validate`
    n_steps : optimiser steps; each costs one solve per fold (warm-started)
    learning_rate, optimizer : an optax optimiser (default ``optax.adam(learning_rate)``)
        acting on the log-parameters
    intercept, loss_weighting, max_iter, stop : as in :func:`~mtlcomb_jax.solver.solve`
    tol : the solves' tolerance; None gives :data:`TUNING_TOL` for the data's dtype,
        whatever the stopping rule (for the default ``"gap"`` rule tighter than a path's:
        the gradients come from the optimality conditions, which an inexact solution meets
        only approximately)
    standardize, scale_outcomes : tune on the standardised problem, as
        :func:`~mtlcomb_jax.path.fit_path` fits it; the values found apply to fits with the
        same two arguments

    Returns
    -------
    TuningResult with the values at the lowest validation loss seen.
    """
    import optax
    tuned = tuple(tune)
    unknown = [name for name in tuned if name not in HYPERPARAMETERS]
    if unknown or not tuned:
        raise ValueError(f"tune={tune!r} must name one or more of {HYPERPARAMETERS}.")
    options = check_options(data, intercept=intercept, loss_weighting=loss_weighting, tol=tol, max_iter=max_iter,
                            stop=stop)
    if tol is None:     # after check_options, which refuses a dtype TUNING_TOL does not hold
        options = options._replace(tol=TUNING_TOL[np.dtype(data.X.dtype).name])
    intercept = options.intercept
    data, _ = prepare_scaling(data, standardize, scale_outcomes, intercept)
    n_steps = validation.integer("n_steps", n_steps, minimum=1, hint="pass the number of optimiser steps, e.g. 30")
    if optimizer is None:
        learning_rate = validation.real_scalar("learning_rate", learning_rate, hint="pass a step size > 0, e.g. 0.2")
        if learning_rate <= 0:
            raise ValueError(f"learning_rate={learning_rate} must be > 0, e.g. 0.2.")
    if lam is None:
        # lambda_grid refuses data whose lambda_max is 0
        lam = 0.1 * float(lambda_grid(data, n_lambdas=1, intercept=intercept, loss_weighting=loss_weighting)[0])
    start = check_hyperparameters(data.X.dtype, lam=lam, similarity=similarity, ridge=ridge)
    for name in tuned:
        if not start[name] > 0:
            raise ValueError(f"{name}={start[name]} is tuned in log space, so it must start > 0.")
    fold_ids = make_folds(data, n_folds, stratify=stratify, seed=seed) if folds is None else \
        folds_from_user(data, folds)
    K, _ = check_folds_usable(data, fold_ids)
    dtype = data.X.dtype
    # samples and features padded to their buckets, as cross_validate's (padding samples are
    # in no fold, padding features are zero columns): similar datasets share the programs
    problem = pad_problem(make_problem(data, 0.0, loss_weighting=options.loss_weighting))
    train_w, test_w = fold_weights(problem, fold_ids, K)
    fixed = {name: jnp.asarray(value, dtype) for name, value in start.items() if name not in tuned}
    log_params = jnp.log(jnp.asarray([start[name] for name in tuned], dtype))
    optimizer = optimizer or optax.adam(learning_rate)
    opt_state = optimizer.init(log_params)
    # placed without compiling (jnp.zeros compiles a program per shape)
    W = to_device(np.zeros((K, problem.X.shape[-1], data.n_tasks), dtype))
    b = to_device(np.zeros((K, data.n_tasks), dtype))
    history = []
    for _ in range(int(n_steps)):
        value, grad, W, b, converged = _folds_value_and_grad(
            log_params, fixed, problem, train_w, test_w, W, b, options.settings, tuned=tuned)
        if not bool(np.all(converged)):
            warnings.warn("tune_hyperparameters: a fold's solve did not converge; its hypergradient is "
                          "inexact. Raise max_iter or loosen tol.", ConvergenceWarning, stacklevel=2)
        current = dict(start, **{name: float(np.exp(log_params[i])) for i, name in enumerate(tuned)})
        history.append([current["lam"], current["similarity"], current["ridge"], float(value)])
        if not np.isfinite(float(value)) or not np.all(np.isfinite(np.asarray(grad))):
            raise FloatingPointError("tune_hyperparameters: the validation loss or its gradient is not finite "
                                     f"at {current}; lower learning_rate.")
        updates, opt_state = optimizer.update(grad, opt_state, log_params)
        log_params = optax.apply_updates(log_params, updates)
    history = np.asarray(history)
    best = int(np.argmin(history[:, 3]))
    return TuningResult(lam=float(history[best, 0]), similarity=float(history[best, 1]),
                        ridge=float(history[best, 2]), validation_loss=float(history[best, 3]),
                        history=history, n_solves=int(n_steps) * K)
