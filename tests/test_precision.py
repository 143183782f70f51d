"""Every contraction of the package's programs runs at full float32 precision
(mtlcomb_jax.precision): accelerators would otherwise run float32 products in TF32 or
bfloat16, where the stopping rules are not met. Checked on the StableHLO that JAX
lowers for the public entry points, in float32."""
import pathlib
import re

import jax
import numpy as np
import pytest

import mtlcomb_jax as mc
from conftest import simulate

DOT = re.compile(r"stablehlo\.(dot_general|dot)\b[^\n]*")


@pytest.fixture
def lowered(tmp_path):
    """Runs its argument with every module JAX lowers dumped into tmp_path; returns their texts."""
    def run(fn):
        jax.clear_caches()                        # so that every program is lowered again
        jax.config.update("jax_dump_ir_to", str(tmp_path))
        try:
            fn()
        finally:
            jax.config.update("jax_dump_ir_to", "")
        return {f.name: f.read_text() for f in pathlib.Path(tmp_path).glob("*.mlir")}
    return run


def _float32_data(shared=False):
    if shared:
        X, Y, types, _ = simulate(n_tasks=4, n=40, p=24, n_true=4, n_cls=2, shared=True, dtype=np.float32)
        return mc.MultiTaskData.from_outcomes(X, Y, types)
    Xs, ys, types, _ = simulate(n_tasks=4, n=40, p=24, n_true=4, n_cls=2, dtype=np.float32)
    return mc.MultiTaskData.from_tasks(Xs, ys, types)


def _entry_points(everything=False):
    """The core entry points, or (``everything``) all of them, with working sets."""
    data = _float32_data()
    assert data.X.dtype == np.float32
    lam = 0.3 * mc.lambda_max(data)
    res = mc.solve(data, lam)
    mc.predict(res, np.asarray(data.X[0]))
    mc.fit_path(data, n_lambdas=4)
    mc.cross_validate(data, n_folds=3, n_lambdas=4)
    jax.grad(lambda X: (mc.solve(data.replace(X=X), lam, ridge=0.01).W ** 2).sum())(data.X)
    if not everything:
        return
    shared = _float32_data(shared=True)
    mc.fit_path(shared, n_lambdas=4)
    mc.cross_validate(shared, n_folds=3, n_lambdas=4, screening=True, return_path=True)
    mc.stability_selection(data, n_subsamples=2, n_lambdas=3)
    mc.tune_hyperparameters(data, tune=("lam",), n_steps=1, n_folds=2, ridge=0.01)
    jax.jit(jax.vmap(lambda lam: mc.solve(data, lam).W))(np.array([lam, 0.5 * lam], np.float32))


def _check_every_dot(modules, at_least):
    dots = [(name, m.group(0)) for name, text in modules.items() for m in DOT.finditer(text)]
    assert len(modules) >= at_least and len(dots) >= 3 * at_least
    reduced = [(name, line[:160]) for name, line in dots if "precision = [HIGHEST, HIGHEST]" not in line]
    assert not reduced, reduced[:5]


@pytest.mark.parametrize("everything", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_every_dot_of_the_public_entry_points_runs_at_full_precision(lowered, everything):
    """The solver, path, CV, prediction and backward programs (and in the slow group the
    shared design's, working sets', stability's, tuning's and a user's vmap), all lowered
    again from an empty cache."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # convergence at these tiny sizes is not the point
        modules = lowered(lambda: _entry_points(everything))
    _check_every_dot(modules, 25 if everything else 6)


def test_a_users_reduced_default_precision_does_not_reach_the_solver(lowered):
    data = _float32_data()
    with jax.default_matmul_precision("bfloat16"):
        modules = lowered(lambda: mc.fit_path(data, n_lambdas=3))
    lines = [m.group(0) for text in modules.values() for m in DOT.finditer(text)]
    assert lines and all("HIGHEST" in line for line in lines)
