import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import mtlcomb_jax as mc
from conftest import simulate


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
