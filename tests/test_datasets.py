"""Real data read from their PyPI packages (SurvSet, scikit-survival), and a fast end-to-end fit."""
import numpy as np
import pytest

import mtlcomb_jax as mc
from mtlcomb_jax.cv import masked_auc
from mtlcomb_jax.datasets import load_breast_cancer_cohorts, load_gse7390, load_gse7390_table


def test_three_cohorts_four_mixed_tasks():
    tables = load_breast_cancer_cohorts()
    assert tables.task_names == ["GSE1992_ER", "GSE4335_ER", "GSE4335_grade", "GSE3143_ER_level"]
    assert tables.task_types == ["classification", "classification", "regression", "regression"]
    assert [X.shape[0] for X in tables.Xs] == [122, 113, 113, 158]
    assert tables.dropped == {"GSE1992_ER": 2, "GSE4335_ER": 2, "GSE4335_grade": 2, "GSE3143_ER_level": 0}
    p = len(tables.feature_names)
    assert 7000 < p < 7200 and {"ESR1", "GATA3"} <= set(tables.feature_names)
    for X in tables.Xs:                                       # standardised within each cohort
        assert X.shape[1] == p and np.isfinite(X).all()
    X = tables.Xs[3]
    assert np.abs(X.mean(axis=0)).max() < 1e-10 and np.abs(X.std(axis=0)[X.std(axis=0) > 0] - 1).max() < 1e-10


def test_gene_subset_keeps_the_er_genes():
    tables = load_breast_cancer_cohorts(max_genes=50)
    assert len(tables.feature_names) == 52 and "ESR1" in tables.feature_names


@pytest.mark.slow
def test_gse7390_end_to_end_predicts_er_on_held_out_patients():
    tables = load_gse7390()
    assert [X.shape for X in tables.Xs] == [(198, 76), (196, 76), (198, 76)] and tables.dropped["grade"] == 2
    train, test = tables.split(test_fraction=0.25, seed=0)
    data = train.to_data()
    assert data.classes[0] == ("negative", "positive")
    cv = mc.cross_validate(data, n_folds=5, n_lambdas=10)
    res = mc.solve(data, cv.lambda_weighted_min)
    p_er = np.asarray(mc.predict(res, test.Xs[0], "ER"))
    labels = np.where(test.ys[0] == "positive", 1.0, -1.0)
    auc = float(masked_auc(p_er, labels, np.ones(labels.size, bool)))
    assert auc > 0.8


def test_gse7390_as_one_table_keeps_raw_features_and_missing_grades():
    table = load_gse7390_table()
    assert table.shape == (198, 81) and list(table.columns[:2]) == ["patient", "age"]
    assert list(table.columns[-3:]) == ["er", "grade", "size"] and table["patient"].is_unique
    assert int(table["grade"].isna().sum()) == 2 and set(table["grade"].dropna()) == {1.0, 2.0, 3.0}
    genes = table.drop(columns=["patient", "age", "er", "grade", "size"])
    spread = genes.std(ddof=0)
    assert spread.min() < 0.5 and spread.max() > 2.0 and table["age"].std(ddof=0) > 5   # raw, not standardised
    per_task = load_gse7390()
    np.testing.assert_allclose(per_task.ys[2], table["size"].to_numpy())
