"""Strong-rule working sets give the full-problem solutions, certified on the full problem."""
import logging

import numpy as np
import pytest

import jax.numpy as jnp

import mtlcomb_jax as mc
from mtlcomb_jax import working_set
from mtlcomb_jax.simulate import simulate_mixed_tasks
from mtlcomb_jax.working_set import (FINE_BUCKETS_FROM, MIN_BUCKET, _padded_columns, bucket_size, grown_sets,
                                     initial_sets, smallest_bucket)
from problems import wide_shared_regression


@pytest.mark.parametrize("intercept", [pytest.param(True, marks=pytest.mark.slow), False])
def test_screened_path_equals_the_full_scan(wide, intercept):
    common = dict(n_lambdas=12, lambda_min_ratio=0.02, intercept=intercept, tol=1e-9)
    full = mc.fit_path(wide, screening=False, **common)
    screened = mc.fit_path(wide, screening=True, **common)
    for field in ("W", "intercept", "objective", "n_iter", "converged", "dual_gap", "kkt_residual"):
        assert np.shape(getattr(screened, field)) == np.shape(getattr(full, field)), field  # no batch axis left
    assert np.all(np.asarray(screened.converged))
    rel = np.abs(np.asarray(screened.objective) - np.asarray(full.objective)) / np.asarray(full.objective)
    assert rel.max() < 1e-8
    np.testing.assert_array_equal(screened.n_selected(), full.n_selected())
    # the reported certificate is the full problem's: it bounds F - F* there
    assert np.all(np.asarray(screened.dual_gap) >= 0)


@pytest.mark.slow
def test_reported_gaps_bound_the_suboptimality_at_a_loose_tolerance(wide):
    """At a loose tol a lambda often finishes in a step or two, certified with the previous
    lambda's dual point carried over; the gap must still bound F - F* of the full problem."""
    lambdas = mc.lambda_grid(wide, n_lambdas=40, lambda_min_ratio=0.02)
    loose = mc.fit_path(wide, lambdas, screening=True, tol=1e-4)
    tight = mc.fit_path(wide, lambdas, screening=False, tol=1e-11, max_iter=200000)
    excess = np.asarray(loose.objective) - np.asarray(tight.objective)
    gap = np.asarray(loose.dual_gap)
    assert np.all(np.asarray(loose.converged))
    assert np.all(excess <= gap + 1e-12)
    assert excess.max() > 0          # the loose path is really loose: the bound is not vacuous
    assert np.asarray(loose.n_iter).min() <= 2     # some lambdas stop after a step or two


def test_violators_are_readmitted_from_a_cold_start_below_lambda_max(wide):
    """Start at 0.3 lambda_max from W = 0 with the strong rule blind (lambda_start = lambdas[0])."""
    lam_max = float(mc.lambda_max(wide))
    lambdas = lam_max * np.array([0.3, 0.2, 0.1])
    full = mc.fit_path(wide, lambdas, screening=False, tol=1e-9)
    screened = mc.fit_path(wide, lambdas, screening=True, tol=1e-9, W_init=np.zeros((300, 4)))
    np.testing.assert_allclose(np.asarray(screened.objective), np.asarray(full.objective), rtol=1e-8)
    assert screened.n_selected()[0] > 0


@pytest.mark.slow
def test_screened_cv_equals_the_vmapped_scan(wide):
    common = dict(n_folds=3, n_lambdas=8, lambda_min_ratio=0.05, tol=1e-9, seed=1)
    full = mc.cross_validate(wide, screening=False, **common)
    screened = mc.cross_validate(wide, screening=True, **common)
    np.testing.assert_allclose(screened.fold_lambdas, full.fold_lambdas, rtol=1e-12)
    np.testing.assert_allclose(screened.task_metric, full.task_metric, rtol=1e-6, atol=1e-8)
    assert screened.lambda_weighted_min == full.lambda_weighted_min
    assert screened.converged.all()


@pytest.fixture(scope="module")
def shared_wide():
    return wide_shared_regression()


@pytest.mark.slow
def test_per_fold_working_sets_on_a_shared_X_equal_the_vmapped_scan(shared_wide, monkeypatch):
    """A shared X gives each fold its own working set; the folds still match the unscreened CV.
    In one thread, so that the 4 folds are one batch (in host threads each fold runs as a
    batch of one, cv._screened_fold)."""
    monkeypatch.setenv("MTLCOMB_JAX_THREADS", "1")
    modes = []
    gather = working_set.gather_columns

    def recording(X, columns, valid, **kwargs):
        modes.append((kwargs["one_set"], columns.shape[0]))
        return gather(X, columns, valid, **kwargs)

    monkeypatch.setattr(working_set, "gather_columns", recording)
    common = dict(n_folds=4, n_lambdas=10, lambda_min_ratio=0.02, tol=1e-8, seed=0, intercept=False)
    full = mc.cross_validate(shared_wide, screening=False, **common)
    screened = mc.cross_validate(shared_wide, screening=True, **common)
    assert modes and all(mode == (False, 4) for mode in modes)     # own columns for each of 4 folds
    # gap tol 1e-8 bounds the objective's error; held-out errors follow W, to ~sqrt of that
    np.testing.assert_allclose(screened.task_metric, full.task_metric, rtol=1e-4)
    assert screened.converged.all()


@pytest.mark.slow
@pytest.mark.parametrize("stop", ["kkt", "gap"])
def test_start_rows_left_out_of_a_set_leave_the_start_predictors_and_all(shared_wide, monkeypatch, stop):
    """Where a first set leaves out rows of the warm start (forced here: no start row outside
    the last solution's support enters), the solve starts without them, predictors
    included: the predictors handed on per lambda are those of the returned W and b."""
    real, left_out = working_set.initial_sets, []

    def without_start_rows(active, start_rows, strong, priority, n_features, one_set):
        sets = real(active, active, strong & ~(start_rows & ~active), priority, n_features, one_set)
        left_out.append(bool((start_rows & ~sets).any()))
        return sets

    monkeypatch.setattr(working_set, "initial_sets", without_start_rows)
    problem = mc.objective.make_problem(shared_wide, 0.0)
    K, p, T = 3, shared_wide.n_features, shared_wide.n_tasks
    lam_max = float(mc.lambda_max(shared_wide))
    lambdas = lam_max * np.geomspace(0.5, 0.02, 8)[None] * (1.0 + 0.15 * np.arange(K))[:, None]
    batch = problem._replace(weights=jnp.stack([problem.weights] * K), lam=jnp.zeros((K,)))
    null_loss = float(mc.losses.null_loss(problem.y, problem.weights, problem.is_classification, problem.scales, True))
    stacked, _, converged, _ = working_set.working_set_path(
        batch, lambdas, jnp.zeros((K, p, T)), jnp.zeros((K, T)),
        mc.fista.Settings(tol=1e-3 if stop == "kkt" else 1e-6, max_iter=5000, intercept=True, stop=stop),
        lambda_start=np.full(K, lam_max), scale=np.full(K, null_loss),
        per_lambda=lambda fit, z: (fit.W, fit.intercept, z))
    assert any(left_out) and np.all(converged)
    W, b, z = (np.asarray(a) for a in stacked)                    # (L, K, p, T), (L, K, T), (L, K, T, n)
    X = np.asarray(problem.X)
    np.testing.assert_allclose(z, np.einsum("np,lkpt->lktn", X, W) + b[..., None], rtol=1e-9, atol=1e-9)


def test_first_working_set_is_the_active_features_plus_the_best_candidates_up_to_twice_their_count():
    p = 1000
    active = np.zeros((2, p), bool)
    active[0, :100] = True                      # 100 active: room up to 256 (bucket of 200)
    active[1, :10] = True                       # 10 active: room up to MIN_BUCKET
    strong = np.ones((2, p), bool)
    priority = np.tile(np.arange(p)[::-1].astype(float), (2, 1))   # lower index, higher priority
    sets = initial_sets(active, active, strong, priority, p, one_set=False)
    assert sets.sum(axis=1).tolist() == [256, MIN_BUCKET]
    assert sets[0, :256].all() and sets[1, :MIN_BUCKET].all()     # the highest-priority candidates
    # A shared set: the union's active features (150 here) plus room for a quarter of
    # the largest problem's active count (25): 175 -> a bucket of 256, filled with the best
    # candidates; not twice the union (300 -> 512).
    active[1, 100:150] = True
    shared = initial_sets(active, active, strong, priority, p, one_set=True)
    assert (shared[0] == shared[1]).all() and shared[0].sum() == 256
    # 240 union features + room 37 (a quarter of problem 1's 150) > 256: the next bucket
    active[1, 150:240] = True
    assert initial_sets(active, active, strong, priority, p, one_set=True)[0].sum() == 512


def test_a_start_with_many_nonzero_rows_does_not_size_the_set_but_its_rows_come_first():
    p = 5000
    active = np.zeros((1, p), bool)
    active[0, :100] = True                          # the solution: 100 active, a bucket of 256
    start_rows = np.zeros((1, p), bool)
    start_rows[0, :1000] = True                     # working ahead left 1,000 nonzero rows
    strong = np.ones((1, p), bool)
    priority = -np.arange(p, dtype=float)[None]
    priority[0, 1500:1600] = 5.0                    # strong candidates above the start's rows
    sets = initial_sets(active, start_rows, strong, priority, p, one_set=False)
    assert sets.sum() == 256                        # not the 2,048 that 1,000 active rows would take
    assert sets[0, :256].all() and not sets[0, 1500:1600].any()
    # shared by two problems (a union), the start's rows count as active
    union = initial_sets(np.repeat(active, 2, 0), np.repeat(start_rows, 2, 0), np.repeat(strong, 2, 0),
                         np.repeat(priority, 2, 0), p, one_set=True)
    # (1,000 of them plus a quarter of that as room: a bucket of 2,048, filled by priority)
    assert (union[0] == union[1]).all() and union[0].sum() == 2048
    assert union[0, :1000].all() and union[0, 1500:1600].all()


def test_violators_enter_worst_first_and_at_most_double_the_set():
    p = 1000
    sets = np.zeros((1, p), bool)
    sets[0, :100] = True
    violators = np.zeros((1, p), bool)
    violators[0, 100:600] = True
    priority = np.zeros((1, p))
    priority[0, 100:600] = np.arange(500)           # the last violators are the worst
    grown = grown_sets(sets, violators, sets, priority, p, one_set=False)    # all 100 members active
    assert grown.sum() == 256
    assert grown[0, 600 - 156:600].all() and not grown[0, 100:600 - 156].any()


def test_a_set_keeps_its_bucket_when_its_active_features_and_violators_fit():
    p = 1000
    sets = np.zeros((2, p), bool)
    sets[:, :512] = True                             # full buckets of 512
    active = np.zeros((2, p), bool)
    active[0, :300] = True
    active[1, :510] = True
    violators = np.zeros((2, p), bool)
    violators[:, 700:705] = True
    priority = np.zeros((2, p))
    priority[:, :512] = np.linspace(1.0, 0.5, 512)   # members: the last ones are the least promising
    priority[:, 700:705] = 2.0
    priority[:, 800] = 0.9                           # an outsider above the weakest members
    grown = grown_sets(sets, violators, active, priority, p, one_set=False)
    # 305 active or violating fit in 512: the bucket stays, the weakest members leave
    assert grown[0].sum() == 512 and bucket_size(int(grown[0].sum()), p) == 512
    assert grown[0, :300].all() and grown[0, 700:705].all() and grown[0, 800]
    assert not grown[0, 512 - 6:512].any() and grown[0, :512 - 6].all()
    # 515 do not fit: the set doubles, keeping every member
    assert grown[1, :512].all() and grown[1, 700:705].all() and grown[1].sum() == 517
    # at the bucket's edge: 507 + 5 = 512 fit, 508 + 5 do not
    active[1, 507:] = False
    assert grown_sets(sets, violators, active, priority, p, one_set=False)[1].sum() == 512
    active[1, 507] = True
    assert grown_sets(sets, violators, active, priority, p, one_set=False)[1].sum() == 517


def test_shared_set_takes_all_violators_in_the_smallest_bucket_that_holds_them():
    p = 20_000
    sets = np.zeros((3, p), bool)
    sets[:, :6144] = True
    violators = np.zeros((3, p), bool)
    violators[0, 7000:7010] = True
    violators[2, 7005:7100] = True                   # the union of violators: 100 features
    grown = grown_sets(sets, violators, sets, np.zeros((3, p)), p, one_set=True)
    assert (grown[0] == grown[2]).all()
    assert grown[0].sum() == 6244 and grown[0, 7000:7100].all()    # not doubled to 12,288
    assert bucket_size(int(grown[0].sum()), p) == 8192


def test_bucket_sizes_are_powers_of_two_then_also_one_and_a_half_times_one_capped_at_p():
    assert bucket_size(1, 5_000) == MIN_BUCKET
    assert bucket_size(MIN_BUCKET + 1, 5_000) == 2 * MIN_BUCKET
    assert bucket_size(3000, 100_000) == FINE_BUCKETS_FROM == 4096
    assert bucket_size(4097, 100_000) == 6144
    assert bucket_size(6145, 100_000) == 8192
    assert bucket_size(8193, 100_000) == 12288
    assert bucket_size(900, 1000) == 1000
    assert bucket_size(7000, 7500) == 7500


def test_padded_columns_hold_the_sets_in_their_bucket():
    sets = np.zeros((2, 1000), bool)
    sets[0, [3, 500]] = True
    sets[1, 7] = True
    columns, valid = _padded_columns(sets, 1000)
    assert columns.shape == valid.shape == (2, MIN_BUCKET)
    assert valid.sum(axis=1).tolist() == [2, 1]             # only the sets' own columns count
    assert columns[0, :2].tolist() == [3, 500] and columns[1, 0] == 7


def test_squeeze_needs_exactly_one_problem(wide):
    problem = mc.objective.make_problem(wide, 0.0)
    K, p, T = 2, wide.n_features, wide.n_tasks
    batch = problem._replace(weights=jnp.stack([problem.weights] * K), lam=jnp.zeros((K,)))
    with pytest.raises(ValueError, match="squeeze=True .* needs one problem, not 2"):
        working_set.working_set_path(batch, np.ones((K, 3)), jnp.zeros((K, p, T)), jnp.zeros((K, T)),
                                     mc.fista.Settings(tol=1e-6, max_iter=10, intercept=True, stop="gap"),
                                     lambda_start=np.ones(K), scale=np.ones(K), squeeze=True)


_WORKING_SET_PROGRAMS = {"jit(_gather_design)", "jit(solve_on_columns)", "jit(scatter_columns)"}


def _compiled_program_names(caplog, run):
    """Names of the programs compiled while ``run()`` runs (JAX logs each compile)."""
    import jax
    caplog.clear()
    with caplog.at_level(logging.DEBUG), jax.log_compiles():
        run()
    return [record.getMessage().split()[1] for record in caplog.records
            if record.getMessage().startswith("Compiling")]


@pytest.mark.slow   # compiles every set size, about 14 s
def test_screened_path_compiles_per_set_size_only_its_three_working_set_programs(caplog):
    # Every compiled program stays resident (about 1.5 MiB even for one eager operation,
    # bench/bench_programs.py): the steps between programs must not compile per lambda
    # or per working-set size. Fresh shape buckets for each run (the solver's depend on n,
    # not p; the stacked outputs on the number of lambdas), so that everything compiles.
    def screened(n_features, n_samples, n_lambdas):
        Xs, ys, types, _ = simulate_mixed_tasks(2, 2, n_features, 10, n_samples, seed=1)
        data = mc.MultiTaskData.from_tasks(Xs, ys, types)
        return _compiled_program_names(caplog, lambda: mc.fit_path(data, n_lambdas=n_lambdas, screening=True))

    screened(1011, 37, 5)       # first use in this process (compact_jit probes XLA once)
    short, long = screened(1200, 48, 4), screened(1500, 60, 24)     # buckets (48, 1280), (60, 1536)
    rest_short = sorted(n for n in short if n not in _WORKING_SET_PROGRAMS)
    rest_long = sorted(n for n in long if n not in _WORKING_SET_PROGRAMS)
    assert rest_long == rest_short, (rest_short, rest_long)
    assert len(rest_long) <= 20, rest_long     # the small steps run inside programs, not eagerly
    sizes = long.count("jit(solve_on_columns)")
    assert sizes >= 2       # the long path grows its working set
    for name in _WORKING_SET_PROGRAMS:
        assert long.count(name) == sizes, long


def test_kept_rows_make_the_dense_path_that_scattering_each_lambda_makes():
    """The path's W is kept as working-set rows and made dense at the end: it must equal
    the stack of each lambda's scattered solution, for the kept problem only."""
    rng = np.random.default_rng(0)
    K, p, T, L, m = 3, 50, 4, 5, 16
    kept = working_set._KeptRows(problem_index=1, n_lambdas=L, n_features=p)
    expected = np.zeros((L, p, T), np.float32)
    for lam_index in range(L):
        counts = rng.integers(0, m + 1, size=K)
        sets = np.zeros((K, p), bool)
        for k in range(K):
            sets[k, rng.choice(p, counts[k], replace=False)] = True
        columns, valid = _padded_columns(sets, p)
        W_S = jnp.asarray(rng.normal(size=(K, columns.shape[1], T)).astype(np.float32))
        kept.add(lam_index, W_S, columns, valid)
        scattered = working_set.scatter_columns(W_S, jnp.asarray(columns), jnp.asarray(valid), n_features=p)
        expected[lam_index] = np.asarray(scattered)[1]
    dense = kept.dense()
    assert dense.shape == (L, p, T) and dense.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(dense), expected)


def test_wide_problems_start_from_a_larger_smallest_bucket():
    assert [smallest_bucket(p) for p in (100, 5_000, 8_191, 8_192, 16_384, 20_000, 40_000)] == \
        [64, 64, 64, 128, 256, 256, 512]
    assert bucket_size(1, 20_000) == 256 and bucket_size(257, 20_000) == 512
    # a first set on 20,000 features holds at least that bucket, filled with the best candidates
    active = np.zeros((1, 20_000), bool)
    active[0, :3] = True
    sets = initial_sets(active, active, np.ones_like(active), -np.arange(20_000.0)[None], 20_000, one_set=False)
    assert sets.sum() == 256 and sets[0, :256].all()
