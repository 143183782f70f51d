"""Nothing silent: every bad input gets a ValueError naming the argument (task, column, file)
and the fix, and no wrong or NaN result goes out unwarned."""
import json
import warnings

import jax.numpy as jnp
import numpy as np
import pandas as pd
import pytest

import mtlcomb_jax as mc
from conftest import simulate
from mtlcomb_jax.cv import UndefinedScoreWarning, make_folds


def _data(**kw):
    Xs, ys, types, _ = simulate(**kw)
    return mc.MultiTaskData.from_tasks(Xs, ys, types)


@pytest.fixture(scope="module")
def small():
    return _data(n_tasks=3, n=40, p=8, n_true=3, n_cls=1)


# -- 1. cross-validation never selects from undefined scores ---------------------------------
def _rare_shared(n=60, rare=6, seed=0):
    """A shared design whose second classification outcome has `rare` positives."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    common = np.where(X[:, 0] + 0.3 * rng.normal(size=n) > 0, 1, 0)
    second = np.zeros(n, int)
    second[rng.choice(n, rare, replace=False)] = 1
    Y = np.column_stack([X[:, 1] + 0.1 * rng.normal(size=n), common, second])
    return mc.MultiTaskData.from_outcomes(X, Y, ["regression", "classification", "classification"],
                                          task_names=["marker", "dx", "rare"])


def test_shared_design_is_stratified_on_every_classification_outcome():
    data = _rare_shared(rare=5)
    folds = make_folds(data, n_folds=5, seed=3)[0]
    y = np.asarray(data.y)
    for t in (1, 2):
        for k in range(5):
            assert set(np.unique(y[t][folds == k])) == {-1.0, 1.0}
    # the folds stay balanced in size
    assert np.ptp(np.bincount(folds)) <= 1


def test_undefined_auc_folds_are_left_out_with_a_warning():
    data = _rare_shared(rare=6)
    folds = np.arange(60) % 5
    rare_rows = np.flatnonzero(np.asarray(data.y)[2] > 0)
    folds[rare_rows] = [0, 0, 1, 1, 2, 2]           # folds 3 and 4 hold no positive of 'rare'
    with pytest.warns(UndefinedScoreWarning, match=r"'rare': folds \[3, 4\]"):
        cv = mc.cross_validate(data, folds=folds, n_lambdas=5)
    assert np.all(np.isnan(cv.task_metric[3:, :, 2])) and np.all(np.isfinite(cv.task_metric[:3, :, 2]))
    assert np.all(np.isfinite(cv.auc))              # the fold mean uses the tasks that are defined
    for rule in ("min", "1se"):
        for kind in ("regression", "classification", "weighted"):
            value = getattr(cv, f"lambda_{kind}_{rule}")
            assert value is not None and np.isfinite(value)
    # the classification choice comes from the defined scores, not from the largest lambda by default
    assert cv.lambda_classification_min < cv.lambdas[0]


def test_leave_one_out_on_a_classification_task_is_refused():
    data = _rare_shared(n=30, rare=6)
    with pytest.raises(ValueError, match=r"classification task 'dx' has both classes in the test part of "
                                         r"only 0 of 30 folds.*leave-one-out"):
        mc.cross_validate(data, folds=np.arange(30))


def test_too_few_of_a_class_for_the_folds_is_refused():
    data = _rare_shared(rare=3)
    with pytest.raises(ValueError, match=r"classification task 'rare' has 3 samples of one class but n_folds=5"):
        mc.cross_validate(data, n_folds=5)


def test_one_se_rules_work_when_min_rules_do():
    values = np.array([[0.5, 0.7, np.nan], [np.nan, 0.8, 0.6], [0.6, 0.75, 0.55]])
    cv = mc.CVResult(lambdas=np.array([1.0, 0.5, 0.25]), fold_lambdas=np.ones((3, 3)), mse=None, auc=values,
                     deviance=np.zeros((3, 3)), task_metric=values[:, :, None], n_iter=np.zeros((3, 3)),
                     converged=np.ones((3, 3), bool), folds=np.zeros((1, 3)), is_classification=np.array([True]))
    assert cv.lambda_classification_min == 0.5
    assert cv.lambda_classification_1se in (1.0, 0.5)


# -- 2., 3., 5. prediction ------------------------------------------------------------------
@pytest.fixture(scope="module")
def named_fit():
    X, Y, types, _ = simulate(n_tasks=2, n=60, p=5, n_cls=1, shared=True)
    X_df = pd.DataFrame(X, columns=[f"g{j}" for j in range(5)])
    data = mc.MultiTaskData.from_outcomes(X_df, Y, types, task_names=["marker", "dx"])
    return X_df, mc.solve(data, 0.02)


def test_functional_predict_matches_columns_by_name(named_fit):
    X_df, res = named_fit
    expected = np.asarray(mc.predict(res, X_df, "dx"))
    shuffled = X_df[["g3", "g0", "g4", "g1", "g2"]]
    np.testing.assert_allclose(np.asarray(mc.predict(res, shuffled, "dx")), expected)
    with pytest.raises(ValueError, match=r"missing \['g0'\], not in the model \['zz'\]"):
        mc.predict(res, X_df.rename(columns={"g0": "zz"}), "dx")


def test_predict_refuses_non_finite_X(named_fit):
    X_df, res = named_fit
    bad = X_df.copy()
    bad.iloc[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"X_new contains NaN or inf \(first at row 4, column 'g2'\)"):
        mc.predict(res, bad, 0)
    with pytest.raises(ValueError, match="X_new contains NaN or inf"):
        mc.predict(res, np.full((2, 5), np.inf), 0)


def test_predict_unknown_task_names_the_known_ones(named_fit):
    X_df, res = named_fit
    with pytest.raises(ValueError, match=r"task='zzz' is unknown.*\['marker', 'dx'\]"):
        mc.predict(res, X_df, "zzz")
    with pytest.raises(ValueError, match=r"task=9 is out of range: there are 2 tasks"):
        mc.predict(res, X_df, 9)


def test_estimator_checks_feature_names_as_scikit_learn_does():
    X, Y, types, _ = simulate(n_tasks=2, n=50, p=4, n_cls=1, shared=True)
    X_df = pd.DataFrame(X, columns=list("abcd"))
    est = mc.MTLComb(lam=0.02, task_types=types).fit(X_df, Y)
    assert list(est.feature_names_in_) == list("abcd")
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        est.predict(X_df[list("dcba")])
    with pytest.raises(ValueError, match="Feature names unseen at fit time"):
        est.predict(X_df.rename(columns={"a": "z"}))
    with pytest.raises(ValueError, match=r"Xs\[1\] has other feature columns"):
        mc.MTLComb(lam=0.02).fit([X_df, X_df[list("bacd")]], [Y[:, 0], Y[:, 0]])


def test_long_format_predict_checks_the_task_ids_length():
    Xs, ys, types, _ = simulate(n_tasks=2, n=30, p=4, n_cls=1)
    X = np.vstack(Xs)
    tasks = np.repeat(["a", "b"], [len(Xs[0]), len(Xs[1])])
    est = mc.MTLComb(lam=0.02, task_types=types).fit(X, np.concatenate(ys), tasks=tasks)
    with pytest.raises(ValueError, match=r"tasks has shape \(10,\) but X has \d+ rows"):
        est.predict(X, tasks=tasks[:10])
    with pytest.raises(ValueError, match=r"task=9 is out of range"):
        est.predict_proba(X, task=9)
    with pytest.raises(ValueError, match=r"task='zzz' is unknown"):
        est.predict_proba(X, task="zzz")
    assert est.predict_proba(X, task="b").shape == (X.shape[0], 2)


def test_long_format_sample_weight_is_one_per_row():
    Xs, ys, types, _ = simulate(n_tasks=2, n=30, p=4, n_cls=1)
    X, y = np.vstack(Xs), np.concatenate(ys)
    tasks = np.repeat([0, 1], [len(Xs[0]), len(Xs[1])])
    w = np.ones(X.shape[0])
    w[:5] = 3.0
    est = mc.MTLComb(lam=0.02, task_types=types, tol=1e-10).fit(X, y, tasks=tasks, sample_weight=w)
    rows = np.concatenate([Xs[0]] + [Xs[0][:5]] * 2 + [Xs[1]])
    targets = np.concatenate([ys[0]] + [ys[0][:5]] * 2 + [ys[1]])
    repeated = mc.MTLComb(lam=0.02, task_types=types, tol=1e-10).fit(
        rows, targets, tasks=np.repeat([0, 1], [len(Xs[0]) + 10, len(Xs[1])]))
    np.testing.assert_allclose(est.coef_, repeated.coef_, atol=1e-5)
    with pytest.raises(ValueError, match=r"in long format pass one weight per row of X"):
        mc.MTLComb(lam=0.02, task_types=types).fit(X, y, tasks=tasks, sample_weight=np.ones(3))


# -- 4. model files -----------------------------------------------------------------------------
def _saved(tmp_path, res):
    return mc.save_model(res, tmp_path / "m")


def test_save_and_load_agree_on_the_file_name(tmp_path, named_fit):
    _, res = named_fit
    written = mc.save_model(res, tmp_path / "model")
    assert written.name == "model.npz"
    for name in ("model", "model.npz"):
        np.testing.assert_array_equal(np.asarray(mc.load_model(tmp_path / name).W), np.asarray(res.W))


def _rewrite(path, meta_change=None, **arrays):
    with np.load(path) as f:
        content = {k: f[k] for k in f.files}
    meta = json.loads(str(content["__meta__"]))
    if meta_change:
        meta_change(meta)
    content["__meta__"] = np.array(json.dumps(meta))
    content.update(arrays)
    np.savez(path, **content)


@pytest.mark.parametrize("change, message", [
    (dict(meta_change=lambda m: m.update(format=2)), "format version is 2"),
    (dict(W=np.zeros((5,))), r"W has shape \(5,\)"),
    (dict(W=np.zeros((4, 2))), r"it names 5 features for W's 4"),
    (dict(W=np.full((5, 2), np.nan)), "hold NaN or inf"),
    (dict(intercept=np.zeros(1)), r"intercept has shape \(1,\)"),
    (dict(meta_change=lambda m: m.update(task_names=["a"])), "names 1 tasks"),
    (dict(meta_change=lambda m: m.update(classes=[None, None])), "needs two distinct class labels"),
    (dict(meta_change=lambda m: m.update(classes=[[0, 1], [0, 1]])), "regression task 'marker' has class labels"),
    (dict(meta_change=lambda m: m.update(feature_names=["g0"])), "names 1 features"),
])
def test_load_model_checks_every_field(tmp_path, named_fit, change, message):
    path = _saved(tmp_path, named_fit[1])
    _rewrite(path, **change)
    with pytest.raises(ValueError, match=f"model file '{path}' is not a valid model: .*{message}"):
        mc.load_model(path)


@pytest.mark.parametrize("content, message", [
    (b"", "truncated or corrupted"),
    (b"a,b\n1,2\n", "not a NumPy .npz archive"),
    ("npy", r"a single array \(.npy\)"),
    ("truncated", "truncated or corrupted"),
    ("badjson", "not a model written by save_model"),
])
def test_load_model_refuses_foreign_and_broken_files(tmp_path, named_fit, content, message):
    path = tmp_path / "broken.npz"
    if content == "npy":
        with open(path, "wb") as f:
            np.save(f, np.zeros(3))
    elif content == "truncated":
        good = _saved(tmp_path, named_fit[1]).read_bytes()
        path.write_bytes(good[: len(good) // 2])
    elif content == "badjson":
        np.savez(path, __meta__=np.array("{not json"))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=f"model file '{path}'.*{message}"):
        mc.load_model(path)


# -- 6., 7. weights and precision ------------------------------------------------------------
def test_weights_that_empty_a_class_are_refused(small):
    y = np.asarray(small.y)
    w = np.asarray(small.mask, float)
    w[2][y[2] > 0] = 0.0
    with pytest.raises(ValueError, match="weight 0 to every sample of one class of classification task 'task2'"):
        small.with_weights(w)
    Xs, ys, types, _ = simulate(n_tasks=3, n=40, p=8, n_cls=1)
    sw = [None, None, np.where(ys[2] > 0, 0.0, 1.0)]
    with pytest.raises(ValueError, match="classification task 'task2'"):
        mc.MultiTaskData.from_tasks(Xs, ys, types, sample_weights=sw)


@pytest.mark.parametrize("bad, message", [
    (-1.0, "negative entries"), (np.nan, "NaN or inf"), ("shape", r"weights has shape \(2, 3\)")])
def test_with_weights_refuses_bad_values(small, bad, message):
    w = np.ones((2, 3)) if bad == "shape" else np.full(small.y.shape, bad)
    with pytest.raises(ValueError, match=message):
        small.with_weights(w)


def test_with_weights_refuses_a_task_without_weight(small):
    w = np.asarray(small.mask, float)
    w[0] = 0.0
    with pytest.raises(ValueError, match=r"weights\[0\] \(task 'task0'\) are all zero"):
        small.with_weights(w)


def test_half_precision_data_is_solved_in_float32():
    X, Y, types, _ = simulate(n_tasks=2, n=60, p=6, n_cls=1, shared=True)
    data = mc.MultiTaskData.from_outcomes(X.astype(np.float16), Y, types)
    assert data.X.dtype == jnp.float32
    res = mc.solve(data, 0.05)
    # the certificate holds: the float32 objective is within dual_gap of the exact optimum
    exact = mc.solve(mc.MultiTaskData.from_outcomes(X.astype(np.float16).astype(np.float64), Y, types), 0.05,
                     tol=1e-12)
    assert bool(res.converged)
    assert float(res.objective) - float(exact.objective) <= float(res.dual_gap) + 1e-6 * float(exact.objective)
    hand_made = data.replace(X=data.X)
    object.__setattr__(hand_made, "X", data.X.astype(jnp.float16))
    with pytest.raises(ValueError, match="data.X has dtype float16; the solver computes in float32 or float64"):
        mc.solve(hand_made, 0.05)


# -- 8., 9., 10., 11. the solver's edges ---------------------------------------------------------
@pytest.mark.slow
def test_at_and_above_lambda_max_the_solution_is_exactly_zero(small):
    lam_max = mc.lambda_max(small)
    for lam in (lam_max, 2 * lam_max):
        res = mc.solve(small, lam)
        assert not np.any(np.asarray(res.W)) and bool(res.converged) and int(res.n_iter) == 0
    assert mc.fit_path(small, n_lambdas=4).n_selected()[0] == 0
    assert mc.fit_path(small, n_lambdas=4, screening=True).n_selected()[0] == 0


def test_separable_classification_at_lam_zero_warns():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3))
    y = np.where(X[:, 0] > 0, 1, -1)
    data = mc.MultiTaskData.from_outcomes(X, y, "classification", task_names=["dx"])
    with pytest.warns(mc.ConvergenceWarning, match=r"\['dx'\] are linearly separable.*no finite solution"):
        res = mc.solve(data, 0.0, max_iter=300)
    assert not bool(res.converged)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mc.solve(data, 0.0, ridge=0.1)            # ridge makes the minimiser finite: no warning


@pytest.mark.parametrize("case, message", [
    ("huge_X", r"the iterates overflowed float64.*X has entries up to [\d.]+e\+150"),
    ("huge_ridge", r"ridge=1e\+300 is too large"),
])
def test_overflow_is_reported_with_its_cause(case, message):
    X, Y, types, _ = simulate(n_tasks=2, n=40, p=4, n_cls=0, shared=True)
    if case == "huge_X":
        data, kwargs = mc.MultiTaskData.from_outcomes(X * 1e150, Y, types), {}
    else:
        data, kwargs = mc.MultiTaskData.from_outcomes(X, Y, types), dict(ridge=1e300)
    with pytest.raises(ValueError, match=message):
        mc.solve(data, 1e-3, max_iter=50, **kwargs)


def test_non_finite_starts_and_out_of_range_hyperparameters_are_refused(small):
    with pytest.raises(ValueError, match="W_init contains NaN or inf"):
        mc.solve(small, 0.1, W_init=np.full((8, 3), np.nan))
    with pytest.raises(ValueError, match="b_init contains NaN or inf"):
        mc.solve(small, 0.1, b_init=np.array([0.0, np.inf, 0.0]))
    with pytest.raises(ValueError, match=r"b_init has shape \(2,\); it must be \(n_tasks,\) = \(3,\)"):
        mc.solve(small, 0.1, b_init=np.zeros(2))
    X, Y, types, _ = simulate(n_tasks=2, n=40, p=4, n_cls=1, shared=True, dtype=np.float32)
    single = mc.MultiTaskData.from_outcomes(X, Y, types)
    with pytest.raises(ValueError, match=r"lam=1e\+39 is beyond the range of float32"):
        mc.solve(single, 1e39)


@pytest.mark.parametrize("kind", ["zero_X", "constant_y"])
def test_degenerate_problems_raise_instead_of_a_nan_grid(kind):
    X, Y, types, _ = simulate(n_tasks=2, n=40, p=4, n_cls=0, shared=True)
    if kind == "zero_X":
        X = np.zeros_like(X)
    else:
        Y = np.ones_like(Y)
    data = mc.MultiTaskData.from_outcomes(X, Y, types)
    cause = "X is all zero" if kind == "zero_X" else "no feature is correlated"
    for call in (lambda: mc.fit_path(data), lambda: mc.cross_validate(data, n_folds=3),
                 lambda: mc.MTLCombCV(n_folds=3, task_types=types).fit(X, Y)):
        with pytest.raises(ValueError, match=f"lambda_max is 0: {cause}"):
            call()


# -- 12., 13. arguments -----------------------------------------------------------------------
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


@pytest.mark.parametrize("build, message", [
    (lambda X, y: mc.MultiTaskData.from_outcomes(X, np.array([None, "a", "b"] * 10), "classification"),
     r"Y\[:, 0\] \(task 'task0'\) has 10 missing value\(s\) \(first at position 0\)"),
    (lambda X, y: mc.MultiTaskData.from_outcomes(X, np.array([1, "a"] * 15, dtype=object), "classification"),
     r"mixes label types \(\['int', 'str'\]\)"),
    (lambda X, y: mc.MultiTaskData.from_outcomes(
        X, pd.Series(pd.array([True, False] * 14 + [pd.NA, True], dtype="boolean")), "classification"),
     r"has 1 missing value\(s\) \(first at position 28\)"),
    (lambda X, y: mc.MultiTaskData.from_outcomes(X, y + 1j, "regression"), "is complex"),
    (lambda X, y: mc.MultiTaskData.from_outcomes(X + 1j, y, "regression"), "X is complex"),
    (lambda X, y: mc.MultiTaskData.from_outcomes(X, y, "regression", positive_labels=[1]),
     r"positive_labels gives 1 for Y\[:, 0\] \(task 'task0'\), a regression task"),
    (lambda X, y: mc.MultiTaskData.from_tasks(X, [y], "regression"),
     r"Xs is one 2-D array; from_tasks takes a list.*from_outcomes"),
    (lambda X, y: mc.MultiTaskData.from_outcomes(
        pd.DataFrame({"age": X[:, 0], "apoe": ["E3E3"] * 30}), y, "regression"),
     r"non-numeric feature column\(s\) \['apoe'\] \(e.g. 'E3E3'\)"),
    (lambda X, y: mc.MultiTaskData.from_tasks([X[:2], X], [np.array(["a", "a"]), y], None),
     r"task_types is None"),
    (lambda X, y: mc.MultiTaskData.from_outcomes(X, y, {"dx": "classification"}),
     r"task_types is a dict by task name, but it names unknown tasks \['dx'\]"),
    (lambda X, y: mc.MultiTaskData.from_outcomes(X, y, "regression", missing_outcomes="skip"),
     r"missing_outcomes='skip' is unknown; use one of \('error', 'drop'\)"),
    (lambda X, y: mc.MultiTaskData.from_outcomes(X, np.where(np.arange(30) < 3, np.nan, y), "regression"),
     r"has 3 missing value\(s\) \(first at position 0\); pass missing_outcomes='drop'"),
    (lambda X, y: mc.MultiTaskData.from_outcomes(X, np.full(30, np.nan), "regression", missing_outcomes="drop"),
     r"has no observed value; drop the outcome"),
])
def test_data_messages_name_the_task_and_column(build, message):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 3)), rng.normal(size=30)
    with pytest.raises(ValueError, match=message):
        build(X, y)


def test_estimator_names_a_text_feature_column():
    X = pd.DataFrame({"age": np.arange(20.0), "apoe": ["E3E3", "E3E4"] * 10})
    with pytest.raises(ValueError, match=r"X has non-numeric feature column\(s\) \['apoe'\]"):
        mc.MTLComb(lam=0.1).fit(X, np.arange(20.0))


def test_too_few_rows_to_infer_classes_is_not_called_non_numeric():
    X = np.random.default_rng(0).normal(size=(3, 2))
    with pytest.raises(ValueError, match=r"is a classification task but has 1 distinct labels \(\['case'\]\)"):
        mc.MTLComb(lam=0.1).fit([X, X], [np.array(["case"] * 3), np.array([0.1, 0.2, 0.3])])


def test_from_outcomes_keeps_dataframe_names_and_types_by_name():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["p1", "p2", "p3"])
    Y = pd.DataFrame({"dx": rng.integers(0, 2, 40).astype(bool), "marker": rng.normal(size=40)})
    data = mc.MultiTaskData.from_outcomes(X, Y, {"marker": "regression", "dx": "classification"})
    assert data.feature_names == ("p1", "p2", "p3") and data.task_names == ("dx", "marker")
    assert data.task_types == ("classification", "regression") and data.classes[0] == (False, True)


@pytest.mark.parametrize("kwargs, message", [
    (dict(pfer=0.0), r"pfer=0.0 must be > 0"),
    (dict(pfer="one"), r"pfer='one' must be a number"),
    (dict(threshold=0.5), r"threshold=0.5 gives no error bound"),
])
def test_stability_bound_arguments_are_checked(kwargs, message):
    Xs, ys, types, _ = simulate(n_tasks=2, n=30, p=5, n_cls=1)
    with pytest.raises(ValueError, match=message):
        mc.stability_selection(mc.MultiTaskData.from_tasks(Xs, ys, types), n_subsamples=2, **kwargs)


def test_heatmap_scale_is_checked():
    from types import SimpleNamespace
    with pytest.raises(ValueError, match=r"scale='row' must be 'task'"):
        mc.plot_coefficients(SimpleNamespace(W=np.ones((3, 2)), feature_names=(), task_names=()), scale="row")
