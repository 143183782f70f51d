"""Reverse-mode derivatives of a solve by implicit differentiation.

The solution (W*, b*) is a fixed point of one proximal-gradient step

.. math::

    T(W, b; \\theta) = \\bigl(\\operatorname{prox}_{\\eta\\lambda\\|\\cdot\\|_{2,1}}(W - \\eta \\nabla_W f),
                        \\; b - \\eta \\nabla_b f\\bigr),

for any step ``eta > 0``, where theta = (X, y, sample weights, loss scales,
lam, similarity, ridge). Differentiating ``(W*, b*) = T(W*, b*; theta)`` gives
the vector-Jacobian product without unrolling the loop: for an output
cotangent g, solve ``u = g + J_T^T u`` (GMRES on the operator ``u - J_T^T u``,
each application one VJP of T) and return ``(dT/dtheta)^T u``.

Facts the user should know (also in ``solve``'s docstring):

* Rows that the prox sets to zero have a zero Jacobian, so the linear system
  acts on the active rows only; the derivative is that of the solution with the
  active set held fixed. At a kink (a row whose norm sits exactly on its
  threshold, e.g. ``lam = lambda_max``) this is the derivative from the side
  where that row is zero.
* The derivative exists when the solution is unique on its active set: ridge > 0
  guarantees it; without ridge, more active features than samples can make the
  system singular and GMRES then returns its best effort.
* Reverse mode only (``jax.grad``, ``jax.vjp``, ``jax.jacrev``); ``jax.jvp`` and
  ``jax.jacfwd`` are not defined through the solver's loop.
"""
from __future__ import annotations


import jax
import jax.numpy as jnp

from . import losses
from .penalties import prox_l21, quadratic_penalty_grad
from .precision import full_precision
from .fista import solve_problem
from .objective import objective_value

#: GMRES's Krylov size in the backward linear solve.
BACKWARD_RESTART = 40


def backward_settings(dtype):
    """(relative tolerance, restarts) of the backward GMRES solve for ``dtype``.

    float64: 1e-10 and 20 restarts. float32: 100 eps (1.2e-5) and 5 restarts, because its
    rounding stops the residual near there: asked for 1e-10, GMRES spends its whole budget
    of operator applications (20 restarts of 40) without getting closer. On a 4-task,
    p = 30 problem (the shape of ``tests/test_implicit.py``'s float32 gradient test,
    which asserts agreement with float64 to 1e-3 relative), float32 at 1e-10 takes 822
    applications and at 1.2e-5 84 (float64 at 1e-10: 84 as well), and the float32
    gradients of both settings are within 1.2e-5 to 1.7e-5 of float64's.
    """
    eps = float(jnp.finfo(dtype).eps)
    if eps > 1e-10:
        return 100.0 * eps, 5
    return 1e-10, 20


def prox_gradient_map(params, problem, eta, intercept: bool):
    """One proximal-gradient step ``T(params; problem)`` with step ``eta``; params = (W, b)."""
    W, b = params
    z = losses.predictor(problem.X, W, b)
    V = losses.data_loss_derivatives(z, problem.y, problem.weights, problem.is_classification, problem.scales)
    grad_W = losses.backproject(problem.X, V) + quadratic_penalty_grad(W, problem.similarity, problem.ridge)
    W_next = prox_l21(W - eta * grad_W, eta * problem.lam)
    # Without an intercept b is pinned at 0: its map is constant, so its Jacobian is 0.
    b_next = b - eta * jnp.sum(V, axis=1) if intercept else jnp.zeros_like(b)
    return W_next, b_next


def fixed_point_vjp(params, problem, eta, cotangent, intercept: bool):
    """Cotangent of ``problem`` for an output cotangent on ``params = (W*, b*)``."""
    _, vjp_params = jax.vjp(lambda p: prox_gradient_map(p, problem, eta, intercept), params)

    def operator(u):
        (jt_u,) = vjp_params(u)
        return jax.tree.map(lambda a, c: a - c, u, jt_u)

    tol, restarts = backward_settings(problem.X.dtype)
    u, _ = jax.scipy.sparse.linalg.gmres(operator, cotangent, x0=cotangent, tol=tol, restart=BACKWARD_RESTART,
                                         maxiter=restarts, solve_method="batched")
    _, vjp_problem = jax.vjp(lambda q: prox_gradient_map(params, q, eta, intercept), problem)
    (problem_cotangent,) = vjp_problem(u)
    return problem_cotangent


def _add_cotangents(a, b):
    # Integer and boolean leaves (is_classification) carry float0 cotangents: keep one.
    return a if a.dtype == jax.dtypes.float0 else a + b


def make_differentiable(solve_fn):
    """Wrap ``solve_fn(problem, W0, b0, settings) -> (Fit, gamma)`` (settings: :class:`~.fista.Settings`).

    The wrapped function returns the same values; reverse-mode derivatives of
    ``Fit.W`` and ``Fit.intercept`` with respect to ``problem`` come from
    :func:`fixed_point_vjp` with the step ``eta = 1 / gamma`` the solver
    settled on. ``Fit.objective`` is differentiated by the envelope theorem
    (its partial derivative in ``problem`` at the fixed solution); the
    remaining fields (iterations, flags, certificates) are constants.
    """
    @jax.custom_vjp
    def solve_with_vjp(problem, W0, b0, settings):
        return solve_fn(problem, W0, b0, settings)

    def forward(problem, W0, b0, settings):
        fit, gamma = solve_fn(problem, W0, b0, settings)
        return (fit, gamma), (fit.W, fit.intercept, problem, gamma, settings)

    def backward(residuals, cotangents):
        W, b, problem, gamma, settings = residuals
        fit_cotangent, _ = cotangents
        cotangent = (fit_cotangent.W, fit_cotangent.intercept)
        through_solution = fixed_point_vjp((W, b), problem, 1.0 / gamma, cotangent, settings.intercept)
        _, vjp_objective = jax.vjp(lambda q: objective_value(q, W, b), problem)
        (through_objective,) = vjp_objective(fit_cotangent.objective)
        problem_cotangent = jax.tree.map(_add_cotangents, through_solution, through_objective)
        return problem_cotangent, None, None, None

    # traced when the user differentiates, outside the package's own programs
    solve_with_vjp.defvjp(full_precision(forward), full_precision(backward))
    return solve_with_vjp


#: solve_problem with reverse-mode derivatives (what ``solve`` and the tuning run).
differentiable_solve_problem = make_differentiable(solve_problem)
