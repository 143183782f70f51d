"""Prediction from a solve result or one lambda of a path, and model files
(mtlcomb_jax.prediction): columns matched by name, refused inputs, and save / load."""
import json

import numpy as np
import pandas as pd
import pytest

import mtlcomb_jax as mc
from problems import simulate


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


def test_path_prediction_needs_a_lambda_index(tutorial):
    data = tutorial[0]
    path = mc.fit_path(data, n_lambdas=2, intercept=False)
    X = np.asarray(data.X)[0]
    with pytest.raises(ValueError, match="needs lambda_index"):
        mc.predict(path, X, 0)
    with pytest.raises(ValueError, match="lambda_index=5 is out of range"):
        mc.predict(path, X, 0, lambda_index=5)
    with pytest.raises(ValueError, match="task=20 is out of range"):
        mc.predict(path, X, 20, lambda_index=1)


def test_predict_errors():
    Xs, ys, types, _ = simulate(n_tasks=2, n=30, p=5, n_cls=1)
    model = mc.MTLComb(lam=0.05).fit(Xs, ys)
    with pytest.raises(ValueError, match="fitted on 5 features"):
        mc.predict(model.result_, np.zeros((3, 4)), 0)
    with pytest.raises(ValueError, match="task='nope' is unknown"):
        mc.predict(model.result_, np.zeros((3, 5)), "nope")


# -- model files -----------------------------------------------------------------------------
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
