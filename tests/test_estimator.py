"""The scikit-learn estimators MTLComb and MTLCombCV (mtlcomb_jax.estimator): the three input
layouts, inferred task types and labels, feature names as scikit-learn checks them, long
format, and parameters (scikit-learn's own estimator checks: test_sklearn_checks.py)."""
import numpy as np
import pandas as pd
import pytest

import mtlcomb_jax as mc
from problems import simulate


def test_layouts_give_the_same_fit():
    X, Y, types, _ = simulate(n_tasks=3, n=50, p=8, n_cls=1, shared=True)
    shared = mc.MTLComb(lam=0.05, task_types=types).fit(X, Y)
    lists = mc.MTLComb(lam=0.05, task_types=types).fit([X] * 3, [Y[:, t] for t in range(3)])
    tasks = np.repeat([0, 1, 2], 50)
    long = mc.MTLComb(lam=0.05, task_types=types).fit(np.vstack([X] * 3), Y.T.reshape(-1), tasks=tasks)
    assert shared.coef_.shape == (3, 8)
    np.testing.assert_allclose(shared.coef_, lists.coef_, atol=1e-6)
    np.testing.assert_allclose(shared.coef_, long.coef_, atol=1e-6)
    assert shared.predict(X).shape == (50, 3)
    assert long.predict(np.vstack([X] * 3), tasks=tasks).shape == (150,)


def test_inferred_types_labels_and_scores():
    Xs, ys, _, _ = simulate(n_tasks=2, n=80, p=10, n_cls=1, noise=0.1)
    ys[1] = np.where(ys[1] > 0, "case", "control")
    model = mc.MTLComb(lam=0.02).fit(Xs, ys)
    assert model.task_types_ == ["regression", "classification"]
    assert set(model.predict(Xs)[1]) <= {"case", "control"}
    proba = model.predict_proba(Xs[1], task=1)
    assert proba.shape == (85, 2) and np.allclose(proba.sum(1), 1)
    assert model.score(Xs, ys) > 0.8
    with pytest.raises(ValueError, match="regression task"):
        model.predict_proba(Xs[0], task=0)


def test_dataframes_keep_column_names():
    pd = pytest.importorskip("pandas")
    X, Y, _, _ = simulate(n_tasks=2, n=40, p=4, n_cls=0, shared=True)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    model = mc.MTLComb(lam=0.01).fit(df, pd.DataFrame(Y, columns=["u", "v"]))
    assert list(model.feature_names_in_) == ["a", "b", "c", "d"]
    assert model.task_names_ == ["u", "v"] and model.result_.feature_names == ("a", "b", "c", "d")


def test_cv_estimator_selects_and_predicts():
    Xs, ys, types, _ = simulate(n_tasks=4, n=60, p=20)
    model = mc.MTLCombCV(n_folds=3, n_lambdas=8, task_types=types).fit(Xs, ys)
    assert model.lambda_ == pytest.approx(model.cv_.lambda_weighted_min)
    assert float(model.result_.lam) == pytest.approx(model.lambda_)
    assert model.score(Xs, ys) > 0.5


def test_get_set_params_and_clone():
    from sklearn.base import clone
    model = mc.MTLComb(lam=0.3, similarity=1.0)
    assert model.get_params()["similarity"] == 1.0
    copy = clone(model).set_params(lam=0.1)
    assert copy.lam == 0.1 and model.lam == 0.3
    cvm = clone(mc.MTLCombCV(n_folds=4))
    assert cvm.get_params()["n_folds"] == 4 and "lam" not in cvm.get_params()


def test_unknown_selection_rule():
    Xs, ys, types, _ = simulate(n_tasks=2, n=30, p=5, n_cls=1)
    with pytest.raises(ValueError, match="selection='best' is unknown"):
        mc.MTLCombCV(selection="best").fit(Xs, ys)


# -- feature names, long format and text labels ----------------------------------------------
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


def test_estimator_names_a_text_feature_column():
    X = pd.DataFrame({"age": np.arange(20.0), "apoe": ["E3E3", "E3E4"] * 10})
    with pytest.raises(ValueError, match=r"X has non-numeric feature column\(s\) \['apoe'\]"):
        mc.MTLComb(lam=0.1).fit(X, np.arange(20.0))


def test_too_few_rows_to_infer_classes_is_not_called_non_numeric():
    X = np.random.default_rng(0).normal(size=(3, 2))
    with pytest.raises(ValueError, match=r"is a classification task but has 1 distinct labels \(\['case'\]\)"):
        mc.MTLComb(lam=0.1).fit([X, X], [np.array(["case"] * 3), np.array([0.1, 0.2, 0.3])])


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
