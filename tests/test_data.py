"""The data model (mtlcomb_jax.data): the two layouts, sample weights, class labels, names,
the messages for bad input, and MultiTaskData as a JAX pytree."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

import jax
import jax.numpy as jnp

import mtlcomb_jax as mc
from problems import simulate, tasks_data


def test_from_tasks_pads_and_normalises_weights():
    Xs, ys, types, _ = simulate(n_tasks=3, n=10, p=4, n_cls=1)
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    assert data.X.shape == (3, 20, 4)
    assert list(data.n_samples) == [10, 15, 20]
    w = np.asarray(data.weights)
    np.testing.assert_allclose(w.sum(axis=1), 1.0)
    assert np.all(w[0, 10:] == 0) and np.all(np.asarray(data.X)[0, 10:] == 0)
    np.testing.assert_allclose(w[0, :10], 0.1)


def test_user_weights_normalised_per_task():
    Xs, ys, types, _ = simulate(n_tasks=2, n=6, p=3, n_cls=0)
    sw = [np.arange(1, 7, dtype=float), np.ones(11)]
    data = mc.MultiTaskData.from_tasks(Xs, ys, types, sample_weights=sw)
    np.testing.assert_allclose(np.asarray(data.weights)[0, :6], np.arange(1, 7) / 21)


def test_from_outcomes_keeps_one_shared_X():
    X, Y, types, _ = simulate(n_tasks=5, n=30, p=7, shared=True)
    data = mc.MultiTaskData.from_outcomes(X, Y, types)
    assert data.shared_design and data.X.shape == (30, 7)      # not (5, 30, 7)
    assert data.y.shape == (5, 30)


def test_names_carried_through():
    X, Y, types, _ = simulate(n_tasks=2, n=20, p=3, n_cls=1, shared=True)
    data = mc.MultiTaskData.from_outcomes(X, Y, types, feature_names=["a", "b", "c"], task_names=["u", "v"])
    assert data.feature_names == ("a", "b", "c") and data.task_names == ("u", "v")
    assert data.task_index("v") == 1


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([(-1, 1), (0, 1), (False, True), ("no", "yes"), (3.5, 7.0)]),
       st.lists(st.booleans(), min_size=2, max_size=30).filter(lambda v: 0 < sum(v) < len(v)))
def test_label_encoding_any_two_values(pair, positives):
    negative, positive = pair
    y = np.array([positive if p else negative for p in positives], dtype=object if isinstance(negative, str) else None)
    X = np.zeros((len(y), 2))
    data = mc.MultiTaskData.from_tasks([X], [y], ["classification"])
    np.testing.assert_array_equal(np.asarray(data.y)[0], np.where(positives, 1.0, -1.0))
    assert data.classes[0] == (negative, positive)


def test_positive_label_can_be_chosen():
    y = np.array(["case", "control", "case"])
    data = mc.MultiTaskData.from_tasks([np.zeros((3, 1))], [y], ["classification"], positive_labels=["case"])
    np.testing.assert_array_equal(np.asarray(data.y)[0], [1, -1, 1])
    assert data.classes[0] == ("control", "case")


def test_callers_arrays_not_modified():
    Xs, ys, types, _ = simulate(n_tasks=2, n=10, p=3, n_cls=1)
    before = [x.copy() for x in Xs], [y.copy() for y in ys]
    data = mc.MultiTaskData.from_tasks(Xs, ys, types)
    mc.solve(data, 0.01)
    for a, b in zip(Xs + ys, before[0] + before[1]):
        np.testing.assert_array_equal(a, b)


def _good():
    X = np.random.default_rng(0).normal(size=(8, 3))
    return [X, X.copy()], [X[:, 0].copy(), np.array([0, 1] * 4)], ["regression", "classification"]


@pytest.mark.parametrize("mutate, message", [
    (lambda Xs, ys, tt: Xs[1].__setitem__((2, 1), np.nan),
     r"Xs\[1\] \(task 'task1'\) contains NaN or inf \(first at row 2, column 1\)"),
    (lambda Xs, ys, tt: Xs[0].__setitem__((0, 0), np.inf), r"Xs\[0\] \(task 'task0'\) contains NaN or inf"),
    (lambda Xs, ys, tt: ys[0].__setitem__(3, np.nan),
     r"ys\[0\] \(task 'task0'\) has 1 missing value\(s\) \(first at position 3\)"),
    (lambda Xs, ys, tt: Xs.__setitem__(1, Xs[1][:, :2]), r"Xs\[1\] \(task 'task1'\) has 2 features but Xs\[0\] has 3"),
    (lambda Xs, ys, tt: ys.__setitem__(1, np.array([0, 1, 2, 0, 1, 2, 0, 1])),
     r"ys\[1\] \(task 'task1'\) is a classification task but has 3 distinct labels"),
    (lambda Xs, ys, tt: ys.__setitem__(1, np.ones(8)),
     r"ys\[1\] \(task 'task1'\) is a classification task but has 1 distinct labels"),
    (lambda Xs, ys, tt: Xs.__setitem__(0, np.zeros((0, 3))), r"task 'task0' is empty"),
    (lambda Xs, ys, tt: ys.__setitem__(0, ys[0][:5]), r"ys\[0\] \(task 'task0'\) has 5 values but its X has 8 rows"),
    (lambda Xs, ys, tt: tt.__setitem__(1, "survival"),
     r"task_types\[1\] \(task 'task1'\) is 'survival', an unknown task type"),
    (lambda Xs, ys, tt: tt.pop(), r"task_types has 1 entries but there are 2 tasks"),
    (lambda Xs, ys, tt: ys.pop(), r"Xs has 2 tasks but ys has 1"),
])
def test_bad_input_messages(mutate, message):
    Xs, ys, tt = _good()
    mutate(Xs, ys, tt)
    with pytest.raises(ValueError, match=message):
        mc.MultiTaskData.from_tasks(Xs, ys, tt)


@pytest.mark.parametrize("weights, message", [
    ([np.full(8, -1.0), None], r"sample_weights\[0\] has negative entries"),
    ([np.zeros(8), None], r"sample_weights\[0\] \(task 'task0'\) are all zero"),
    ([np.full(8, np.nan), None], r"sample_weights\[0\] contains NaN"),
    ([np.ones(3), None], r"sample_weights\[0\] has shape \(3,\)"),
])
def test_bad_weights(weights, message):
    Xs, ys, tt = _good()
    with pytest.raises(ValueError, match=message):
        mc.MultiTaskData.from_tasks(Xs, ys, tt, sample_weights=weights)


def test_bad_outcomes_shapes():
    with pytest.raises(ValueError, match="X has 5 rows but Y has 4"):
        mc.MultiTaskData.from_outcomes(np.zeros((5, 2)), np.zeros((4, 2)), "regression")


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


def test_from_outcomes_keeps_dataframe_names_and_types_by_name():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(40, 3)), columns=["p1", "p2", "p3"])
    Y = pd.DataFrame({"dx": rng.integers(0, 2, 40).astype(bool), "marker": rng.normal(size=40)})
    data = mc.MultiTaskData.from_outcomes(X, Y, {"marker": "regression", "dx": "classification"})
    assert data.feature_names == ("p1", "p2", "p3") and data.task_names == ("dx", "marker")
    assert data.task_types == ("classification", "regression") and data.classes[0] == (False, True)


# -- sample weights --------------------------------------------------------------------------
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


# -- MultiTaskData as a JAX pytree ------------------------------------------------------------
def test_replace_accepts_only_array_fields_of_the_same_shape(mixed):
    data, _, _ = mixed
    with pytest.raises(ValueError, match="takes X, y or weights; got 'task_names'"):
        data.replace(task_names=("a",))
    with pytest.raises(ValueError, match="must keep"):
        data.replace(X=data.X[:, :3])
    assert data.replace(y=data.y * 1.0).y.shape == data.y.shape


def test_vmap_over_independent_datasets_equals_a_loop():
    datasets = [tasks_data(n_tasks=3, n=30, p=8, n_cls=1, seed=s) for s in range(3)]
    stacked = jax.tree.map(lambda *leaves: jnp.stack(leaves), *datasets)
    batched = jax.vmap(lambda d: mc.solve(d, 0.05).W)(stacked)
    for k, d in enumerate(datasets):
        np.testing.assert_allclose(np.asarray(batched[k]), np.asarray(mc.solve(d, 0.05).W), atol=1e-9)
