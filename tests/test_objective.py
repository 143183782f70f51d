"""The objective and its pieces (mtlcomb_jax.objective): the loss weighting, and the intercepts
profiled to their optimum for a given W."""
import jax.numpy as jnp
import numpy as np

import mtlcomb_jax as mc
from problems import simulate


def test_loss_weighting_none_changes_the_objective():
    Xs, ys, types, _ = simulate(n_tasks=2, n=40, p=6, n_cls=1)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    zero = np.zeros((6, 2))
    weighted = mc.solve(data, 1e6, intercept=False, W_init=zero, max_iter=1)
    plain = mc.solve(data, 1e6, intercept=False, W_init=zero, loss_weighting="none", max_iter=1)
    # at W = 0: mtlcomb = 0.5 * mean(y^2) + 2 log 2; none = mean(y^2) + log 2
    msq = np.mean(ys[0] ** 2)
    np.testing.assert_allclose(float(weighted.objective), 0.5 * msq + 2 * np.log(2), rtol=1e-12)
    np.testing.assert_allclose(float(plain.objective), msq + np.log(2), rtol=1e-12)


def test_profiled_intercepts_are_optimal_for_the_given_W():
    """Newton's steps put each task's intercept where its loss derivatives sum to zero
    (least squares in one step, logistic quadratically: in the loop each start is the
    last point's optimum, a short way off; here 2 units), and the data loss goes down."""
    from mtlcomb_jax import losses
    from mtlcomb_jax.objective import make_problem, profile_intercepts
    Xs, ys, types, W_true = simulate(n_tasks=4, n_cls=2)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    problem = make_problem(data, 0.1)
    W = jnp.asarray(0.5 * W_true)
    b = jnp.asarray([2.0, -2.0, 2.0, -2.0])
    z = losses.predictor(problem.X, W, b)
    def largest_slope(z):
        return float(jnp.max(jnp.abs(jnp.sum(losses.data_loss_derivatives(
            z, problem.y, problem.weights, problem.is_classification, problem.scales), axis=1))))

    z_new, b_new = profile_intercepts(problem, z, b)
    assert largest_slope(z_new) < 0.1 * largest_slope(z)
    z_again, b_again = profile_intercepts(problem, z_new, b_new)
    assert largest_slope(z_again) < 1e-3 * largest_slope(z_new)                    # quadratic convergence
    assert largest_slope(profile_intercepts(problem, z_again, b_again)[0]) < 1e-12
    np.testing.assert_allclose(np.asarray(z_new), np.asarray(losses.predictor(problem.X, W, b_new)), atol=1e-12)
    before = losses.data_loss(z, problem.y, problem.weights, problem.is_classification, problem.scales)
    after = losses.data_loss(z_new, problem.y, problem.weights, problem.is_classification, problem.scales)
    assert float(after) < float(before)


def test_shared_x_predictor_matches_the_plain_product_batched_and_differentiated():
    """The shared-X forward product has its own batching rule (one product for K problems'
    W, ``losses._forward_product_batched``) and its own tangents: every way of calling it gives
    ``(X @ W).T + b`` and that expression's derivatives, in float32 and float64."""
    import jax

    from mtlcomb_jax import losses
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 1e-5)):
        rng = np.random.default_rng(3)
        X = jnp.asarray(rng.standard_normal((9, 7)), dtype)
        Ws = jnp.asarray(rng.standard_normal((4, 7, 3)), dtype)
        b = jnp.asarray(rng.standard_normal(3), dtype)

        def ours(X, W):
            return losses.predictor(X, W, b)

        def plain(X, W):
            return (X @ W).T + b[:, None]

        def both(transform, *args):
            got, want = jax.jit(transform(ours))(*args), jax.jit(transform(plain))(*args)
            jax.tree.map(lambda g, w: np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol,
                                                                  atol=rtol), got, want)
            assert jax.tree.leaves(got)[0].dtype == dtype

        def loss(f):
            return lambda X, W: jnp.sum(jnp.tanh(f(X, W)) ** 2)

        both(lambda f: f, X, Ws[0])
        both(lambda f: jax.vmap(f, in_axes=(None, 0)), X, Ws)                     # K problems, one X
        both(jax.vmap, jnp.stack([X, 2 * X, -X, X + 1]), Ws)                      # K problems, K X
        both(lambda f: jax.grad(loss(f), argnums=(0, 1)), X, Ws[0])               # both tangents
        both(lambda f: jax.grad(lambda W: jnp.sum(jax.vmap(loss(f), in_axes=(None, 0))(X, W))), Ws)
        both(lambda f: jax.jacfwd(lambda W: f(X, W)), Ws[0])                     # X's tangent a zero
