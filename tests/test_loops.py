"""The solver's loop shapes (mtlcomb_jax.loops): what the compiled programs contain, and that
the fixed shape an accelerator runs takes the iterates of the CPU's adaptive shape.

Both are checked on the CPU, in a fresh process that compiles the public entry points under
each shape (``MTLCOMB_JAX_LOOPS``) and dumps XLA's optimised HLO: a ``while`` without a
``known_trip_count`` is a loop whose condition an accelerator reads on the host each pass,
a ``conditional`` a branch whose predicate it reads there.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent("""
    import json, os, sys, warnings
    import jax
    jax.config.update("jax_enable_x64", True)
    import numpy as np
    import mtlcomb_jax as mc
    warnings.simplefilter("ignore")
    dump = sys.argv[1]

    def dumped():
        return {f for f in os.listdir(dump) if f.endswith("after_optimizations.txt")}

    def loops(files):
        out = []
        for f in sorted(files):
            lines = open(os.path.join(dump, f)).read().splitlines()
            whiles = [line for line in lines if " while(" in line]
            if whiles:
                out.append([f.split(".")[1], sum("known_trip_count" not in line for line in whiles),
                            sum(" conditional(" in line for line in lines)])
        return out

    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 70)); W = np.zeros((70, 4)); W[:5] = rng.standard_normal((5, 4))
    Z = X @ W + rng.standard_normal((40, 4)); Y = np.column_stack([Z[:, :2], (Z[:, 2:] > 0).astype(float)])
    types = ["regression"] * 2 + ["classification"] * 2
    shared = mc.MultiTaskData.from_outcomes(X, Y, types)
    shared32 = mc.MultiTaskData.from_outcomes(X.astype(np.float32), Y.astype(np.float32), types)
    tasks = mc.MultiTaskData.from_tasks([X[:30], X[10:]], [Y[:30, 0], Y[10:, 2]], ["regression", "classification"])
    calls = {
        "solve": lambda: mc.solve(tasks, 0.1),
        "path": lambda: mc.fit_path(tasks, n_lambdas=4),
        "path relative": lambda: mc.fit_path(tasks, n_lambdas=4, stop="relative", intercept=False),
        "working-set path": lambda: mc.fit_path(shared, n_lambdas=4, screening=True),
        "cv": lambda: mc.cross_validate(shared, n_folds=3, n_lambdas=4, screening=False),
        "working-set cv float32": lambda: mc.cross_validate(shared32, n_folds=3, n_lambdas=4, screening=True),
    }
    out = {}
    for shape in ("adaptive", "fixed"):
        os.environ["MTLCOMB_JAX_LOOPS"] = shape
        jax.clear_caches()
        before = dumped()
        results = {name: call() for name, call in calls.items()}
        out[shape] = {"programs": loops(dumped() - before), "results": {
            name: {"n_iter": np.asarray(r.n_iter).tolist(), "converged": bool(np.all(r.converged)),
                   "values": np.asarray(r.W if hasattr(r, "W") else r.deviance, np.float64).ravel().tolist()}
            for name, r in results.items()}}
    print(json.dumps(out))
""")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    dump = tmp_path_factory.mktemp("hlo")
    # One thread: the CV's folds as one vmapped batch (cv._cv_jit), as an accelerator runs them;
    # in host threads on the CPU each fold would run the path's programs instead.
    env = dict(os.environ, MTLCOMB_JAX_CACHE="0", MTLCOMB_JAX_THREADS="1",
               XLA_FLAGS=f"--xla_dump_to={dump} --xla_dump_hlo_as_text")
    done = subprocess.run([sys.executable, "-c", CHILD, str(dump)], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_fixed_shape_programs_have_one_host_read_per_chunk_and_no_branch(shapes):
    fixed = shapes["fixed"]["programs"]
    solvers = [p for p in fixed if p[0] in ("jit__solve_jit", "jit__path_jit", "jit__cv_jit", "jit_solve_on_columns")]
    assert {p[0] for p in solvers} == {"jit__solve_jit", "jit__path_jit", "jit__cv_jit", "jit_solve_on_columns"}
    for name, unknown, conditionals in fixed:
        # the chunk loop, whose condition is the stopping rule; nothing else
        assert unknown <= 1 and conditionals == 0, (name, unknown, conditionals)
    assert all(unknown == 1 for _, unknown, _ in solvers)


@pytest.mark.slow
def test_adaptive_shape_programs_keep_the_cpu_loops(shapes):
    adaptive = {p[0]: p[1:] for p in shapes["adaptive"]["programs"]}
    # FISTA's loop and its backtracking do-while; the batched solver's two branches
    assert adaptive["jit__solve_jit"] == [2, 0]
    assert adaptive["jit__path_jit"] == [2, 0]
    assert adaptive["jit__cv_jit"] == [2, 0]
    assert adaptive["jit_solve_on_columns"] == [2, 2]


@pytest.mark.slow
def test_fixed_shape_takes_the_adaptive_iterates(shapes):
    import numpy as np
    adaptive, fixed = shapes["adaptive"]["results"], shapes["fixed"]["results"]
    assert adaptive.keys() == fixed.keys()
    for name in adaptive:
        a, f = adaptive[name], fixed[name]
        assert a["converged"] and f["converged"], name
        values_a, values_f = np.asarray(a["values"]), np.asarray(f["values"])
        if name.endswith("float32"):
            # The stacked trial products round in another order, so the iterates part from the
            # first step and each solve stops somewhere within its certificate (float32's gap
            # tol, 1e-4 of the null loss); the held-out deviance, not a certified quantity, then
            # differs by up to 6e-4 relative on some CPUs (XLA's code for the machine at hand).
            np.testing.assert_allclose(values_f, values_a, rtol=2e-3, atol=1e-4 * np.abs(values_a).max(),
                                       err_msg=name)
        else:
            assert f["n_iter"] == a["n_iter"], name
            np.testing.assert_allclose(values_f, values_a, rtol=1e-8, atol=1e-9 * np.abs(values_a).max(),
                                       err_msg=name)


def test_loop_shape_follows_the_backend_and_the_environment(monkeypatch):
    from mtlcomb_jax import loops
    monkeypatch.delenv("MTLCOMB_JAX_LOOPS", raising=False)
    assert loops.loop_shape() == loops.ADAPTIVE          # the tests run on the CPU
    monkeypatch.setattr(loops.jax, "default_backend", lambda: "gpu")
    assert loops.loop_shape() == loops.FIXED
    monkeypatch.setenv("MTLCOMB_JAX_LOOPS", "adaptive")
    assert loops.loop_shape() == loops.ADAPTIVE
    monkeypatch.setenv("MTLCOMB_JAX_LOOPS", "unrolled")
    with pytest.raises(ValueError, match="MTLCOMB_JAX_LOOPS='unrolled'.*adaptive"):
        loops.loop_shape()


@pytest.mark.parametrize("keep_W", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["path", "cv"])
def test_a_working_set_round_waits_for_the_device_once(monkeypatch, keep_W):
    """Everything the host decides on in a round (violations, gaps, iterations, the next
    start's active rows, the kept rows) comes in one ``to_host``; no other read. The CV runs
    in one thread: the counts are those of one loop over lambdas (in host threads,
    sharding.run_rows, each fold runs a loop of its own)."""
    monkeypatch.setenv("MTLCOMB_JAX_THREADS", "1")
    import jax
    import numpy as np
    from jax._src.array import ArrayImpl

    import mtlcomb_jax as mc
    from mtlcomb_jax import working_set
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 300))
    W = np.zeros((300, 3))
    W[:4] = rng.standard_normal((4, 3))
    Z = X @ W + 0.5 * rng.standard_normal((40, 3))
    data = mc.MultiTaskData.from_outcomes(X, np.column_stack([Z[:, :2], Z[:, 2] > 0]),
                                          ["regression"] * 2 + ["classification"])
    counts = {"rounds": 0, "fetches": 0, "stray reads": 0, "inside": False, "fetching": False}

    def counted(name, fun):
        def wrapper(*args, **kwargs):
            if name == "fetches":
                counts["fetching"] = True
            counts[name] += counts["inside"]
            try:
                return fun(*args, **kwargs)
            finally:
                counts["fetching"] = False
        return wrapper

    def path(*args, **kwargs):
        counts["inside"] = True
        try:
            return run_path(*args, **kwargs)
        finally:
            counts["inside"] = False

    def stray(value):
        counts["stray reads"] += counts["inside"] and not counts["fetching"] and isinstance(value, jax.Array)

    class NumPyWatch:
        """numpy for working_set.py, counting jax arrays handed to it (a read from the device)."""
        def __getattr__(self, name):
            fun = getattr(np, name)
            if not callable(fun) or isinstance(fun, type):
                return fun

            def watched(*args, **kwargs):
                for value in args:
                    stray(value)
                return fun(*args, **kwargs)
            return watched

    run_path, value = working_set.working_set_path, ArrayImpl._value
    monkeypatch.setattr(working_set, "working_set_path", path)
    monkeypatch.setattr("mtlcomb_jax.path.working_set_path", path)
    monkeypatch.setattr("mtlcomb_jax.cv.working_set_path", path)
    monkeypatch.setattr(working_set, "to_host", counted("fetches", working_set.to_host))
    monkeypatch.setattr(working_set, "solve_on_columns", counted("rounds", working_set.solve_on_columns))
    monkeypatch.setattr(working_set, "np", NumPyWatch())
    # float(), int() and bool() of a jax array read it through its _value
    monkeypatch.setattr(ArrayImpl, "_value", property(lambda self: (stray(self), value.fget(self))[1]))
    if keep_W:
        mc.fit_path(data, n_lambdas=6, screening=True)
    else:
        mc.cross_validate(data, n_folds=3, n_lambdas=6, screening=True)
    assert counts["rounds"] >= 6
    assert counts["fetches"] == counts["rounds"] + 1       # and one for the start's check
    assert counts["stray reads"] == 0


def test_shape_for_a_platform_holds_inside_its_block_only(monkeypatch):
    from mtlcomb_jax import loops
    monkeypatch.delenv("MTLCOMB_JAX_LOOPS", raising=False)
    with loops.shape_for("gpu") as name:
        assert name == "fixed" and loops.loop_shape() == loops.FIXED
    assert loops.loop_shape() == loops.ADAPTIVE and "MTLCOMB_JAX_LOOPS" not in os.environ
    monkeypatch.setenv("MTLCOMB_JAX_LOOPS", "fixed")     # the user's choice holds on every platform
    with loops.shape_for("cpu") as name:
        assert name == "fixed" and loops.loop_shape() == loops.FIXED
    assert os.environ["MTLCOMB_JAX_LOOPS"] == "fixed"


def _search_problem():
    from problems import tasks_data

    from mtlcomb_jax.objective import make_problem
    data = tasks_data(n_tasks=3, n=30, p=12, n_true=3, n_cls=1)
    return make_problem(data, 0.05), data


@pytest.mark.parametrize("stop", ["gap", "relative"])
@pytest.mark.parametrize("gamma0", [1e-3, 1e-30], ids=["passes without a step", "the 64-trial cap"])
def test_the_fixed_width_search_takes_the_do_while_steps(stop, gamma0):
    """From an inverse step far too small, the fixed-width search spends passes without a
    step (1e-3: a few) or reaches the do-while's cap (1e-30: its 65th trial is taken as it
    is); either way each step is the do-while's."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from mtlcomb_jax.fista import Settings, fista_step, init_state, stop_scale
    from mtlcomb_jax.objective import max_column_norms
    problem, data = _search_problem()
    W0, b0 = jnp.zeros((data.n_features, data.n_tasks)), jnp.zeros(data.n_tasks)
    settings = Settings(tol=1e-12, max_iter=0, intercept=True, stop=stop)      # the step ignores max_iter
    scale, norms = stop_scale(problem, settings, W0.dtype), max_column_norms(problem.X, data.n_tasks)
    step = {trials: jax.jit(lambda s, trials=trials: fista_step(s, problem, settings, scale, norms, trials=trials))
            for trials in (0, 4)}
    adaptive = init_state(problem, W0, b0, gamma0)
    fixed = init_state(problem, W0, b0, gamma0, trials=4)
    passes = 0
    for k in range(1, 4):
        adaptive = step[0](adaptive)
        while int(fixed.n_iter) < k:
            fixed, passes = step[4](fixed), passes + 1
        assert float(fixed.gamma) == float(adaptive.gamma)
        np.testing.assert_allclose(np.asarray(fixed.W), np.asarray(adaptive.W), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(float(fixed.objective), float(adaptive.objective), rtol=1e-12)
    assert passes > 3                      # some passes took no step
    if gamma0 == 1e-30:
        assert float(adaptive.gamma) >= 1e-30 * 2.0 ** 64


@pytest.mark.slow
def test_the_batched_fixed_shape_solves_each_problem_as_the_adaptive_one(monkeypatch):
    """Problems of one batch whose searches need different numbers of passes: the results
    at their lambdas are the same in both shapes (working ahead, which fills the others'
    passes, may get elsewhere)."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from mtlcomb_jax import batched, losses
    from mtlcomb_jax.fista import Settings
    problem, data = _search_problem()
    K = 2
    batch = problem._replace(weights=jnp.stack([problem.weights] * K), lam=jnp.asarray([0.05, 0.02]))
    axes = problem._replace(X=None, y=None, weights=0, is_classification=None, scales=None, lam=0,
                            similarity=None, ridge=None)
    W0 = jnp.zeros((K, data.n_features, data.n_tasks))
    b0 = jnp.zeros((K, data.n_tasks))
    z0 = jnp.stack([losses.predictor(problem.X, W0[0], b0[0])] * K)
    results = {}
    for shape in ("adaptive", "fixed"):
        monkeypatch.setenv("MTLCOMB_JAX_LOOPS", shape)
        solve = jax.jit(lambda W0, b0, z0, gamma0: batched.solve_batch(
            batch, axes, W0, b0, z0, gamma0, Settings(tol=1e-10, max_iter=5000, intercept=True, stop="gap"),
            jnp.asarray([0.04, 0.01]), jnp.asarray([True, True])))
        results[shape] = solve(W0, b0, z0, jnp.asarray([1e-4, 1.0]))
    a, f = results["adaptive"], results["fixed"]
    np.testing.assert_array_equal(np.asarray(f.n_iter), np.asarray(a.n_iter))
    assert bool(np.all(np.asarray(a.done)))
    np.testing.assert_allclose(np.asarray(f.W), np.asarray(a.W), rtol=1e-9, atol=1e-12)
