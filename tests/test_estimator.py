import numpy as np
import pytest

import mtlcomb_jax as mc
from conftest import simulate


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


def test_predict_errors():
    Xs, ys, types, _ = simulate(n_tasks=2, n=30, p=5, n_cls=1)
    model = mc.MTLComb(lam=0.05).fit(Xs, ys)
    with pytest.raises(ValueError, match="fitted on 5 features"):
        mc.predict(model.result_, np.zeros((3, 4)), 0)
    with pytest.raises(ValueError, match="task='nope' is unknown"):
        mc.predict(model.result_, np.zeros((3, 5)), "nope")


def test_save_load_round_trip(tmp_path):
    Xs, ys, types, _ = simulate(n_tasks=3, n=30, p=6)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types, task_names=["a", "b", "c"])
    res = mc.solve(data, 0.05)
    path = mc.fit_path(data, n_lambdas=5)
    for model, kw in ((res, {}), (path, {"lambda_index": 3})):
        file = tmp_path / "model.npz"
        mc.save_model(model, file)
        back = mc.load_model(file)
        assert back.task_names == ("a", "b", "c") and back.classes == model.classes
        np.testing.assert_array_equal(np.asarray(mc.predict(back, Xs[0], **kw)),
                                      np.asarray(mc.predict(model, Xs[0], **kw)))
        np.testing.assert_array_equal(np.asarray(mc.predict(back, Xs[2], "c", **kw)),
                                      np.asarray(mc.predict(model, Xs[2], 2, **kw)))


def test_unknown_selection_rule():
    Xs, ys, types, _ = simulate(n_tasks=2, n=30, p=5, n_cls=1)
    with pytest.raises(ValueError, match="selection='best' is unknown"):
        mc.MTLCombCV(selection="best").fit(Xs, ys)
