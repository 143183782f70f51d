"""Checks of the scalar arguments every entry point takes (mtlcomb_jax.validation): each bad
value gets a ValueError that names the argument and the fix."""
import numpy as np
import pytest

import mtlcomb_jax as mc
from problems import tasks_data


@pytest.mark.parametrize("kwargs, message", [
    (dict(lam="0.1"), r"lam='0.1' must be a number"),
    (dict(lam=None), r"lam=None must be a number"),
    (dict(lam=[0.1, 0.2]), r"lam=\[0.1, 0.2\] must be one real number.*fit_path"),
    (dict(lam=0.1, tol="1e-6"), r"tol='1e-6' must be a number"),
    (dict(lam=0.1, tol=0.0), r"tol=0.0 must be > 0"),
    (dict(lam=0.1, tol=-1e-3), r"tol=-0.001 must be > 0"),
    (dict(lam=0.1, tol=np.nan), r"tol=nan is not finite"),
    (dict(lam=0.1, tol=np.inf), r"tol=inf is not finite"),
    (dict(lam=0.1, max_iter=None), r"max_iter=None must be an integer"),
    (dict(lam=0.1, max_iter=0), r"max_iter=0 is out of range"),
    (dict(lam=0.1, max_iter=np.nan), r"max_iter=nan must be an integer"),
    (dict(lam=0.1, max_iter=2 ** 40), r"max_iter=1099511627776 is out of range.*<= 2147483647"),
    (dict(lam=0.1, intercept="no"), r"intercept='no' must be True or False"),
    (dict(lam=0.1, stop="fast"), r"stop='fast' is unknown"),
    (dict(lam=0.1, loss_weighting="equal"), r"loss_weighting='equal' is unknown"),
    (dict(lam=0.1, ridge=-1.0), r"ridge=-1.0 is negative"),
])
def test_solve_argument_errors(small, kwargs, message):
    lam = kwargs.pop("lam")
    with pytest.raises(ValueError, match=message):
        mc.solve(small, lam, **kwargs)


@pytest.mark.parametrize("call, message", [
    (lambda d: mc.fit_path(d, n_lambdas=2.7), r"n_lambdas=2.7 must be an integer"),
    (lambda d: mc.fit_path(d, lambdas=["a", "b"]), r"lambdas must be a 1-D sequence of positive numbers"),
    (lambda d: mc.cross_validate(d, n_folds=3, seed=1.5), r"seed=1.5 must be an integer"),
    (lambda d: mc.cross_validate(d, n_folds=3, stratify="yes"), r"stratify='yes' must be True or False"),
    (lambda d: mc.tune_hyperparameters(d, n_steps=0, n_folds=3), r"n_steps=0 is out of range"),
    (lambda d: mc.stability_selection(d, n_subsamples=4, seed="x"), r"seed='x' must be an integer"),
    (lambda d: mc.stability_selection(d, n_subsamples=4, threshold="high"), r"threshold='high' must be a number"),
])
def test_protocol_argument_errors(small, call, message):
    with pytest.raises(ValueError, match=message):
        call(small)


@pytest.mark.parametrize("kwargs, message", [
    (dict(lam=-0.1), r"lam=-0.1 is negative"),
    (dict(lam=0.1, similarity=-1.0), r"similarity=-1.0 is negative"),
    (dict(lam=0.1, ridge=-2.0), r"ridge=-2.0 is negative"),
    (dict(lam=float("nan")), r"lam=nan is not finite"),
    (dict(lam=0.1, stop="fast"), r"stop='fast' is unknown"),
    (dict(lam=0.1, loss_weighting="equal"), r"loss_weighting='equal' is unknown"),
    (dict(lam=0.1, W_init=np.zeros((2, 2))), r"W_init has shape \(2, 2\)"),
])
def test_bad_solver_arguments(kwargs, message):
    data = tasks_data(n_tasks=2, n=20, p=4, n_cls=1)
    with pytest.raises(ValueError, match=message):
        mc.solve(data, **kwargs)
