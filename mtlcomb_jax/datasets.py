"""Real data that ship inside PyPI packages (install with the ``data`` extra; no download at run time).

* :func:`load_breast_cancer_cohorts`: three breast-cancer microarray cohorts
  from the ``SurvSet`` package (Drysdale 2022; data from the R package
  survJamda.data, GPL): GSE1992, GSE4335 and GSE3143, on the ~7,100 genes they
  share. Four tasks of mixed types: ER status in GSE1992 and in GSE4335
  (classification), histological grade 1-3 in GSE4335 and ER level 0-3 in
  GSE3143 (regression). Each cohort is standardised on its own (the array
  platforms differ); samples with a missing label are dropped and counted.
* :func:`load_gse7390`: scikit-survival's ``load_breast_cancer`` (GSE7390, 198
  patients, 76 genes): ER status (classification), grade and tumour size
  (regression) on one cohort, for fast end-to-end runs.
* :func:`load_gse7390_table`: the same cohort as one pandas table, as an analyst
  receives it: a patient id, raw features and three outcome columns.

The data stay in their packages; these functions only read and arrange them.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from .data import CLASSIFICATION, REGRESSION, MultiTaskData

GENE_PREFIX = "num_HS_"


@dataclasses.dataclass(frozen=True)
class TaskTables:
    """Per-task arrays ready for :meth:`MultiTaskData.from_tasks`.

    Xs : list of (n_t, p) float arrays;  ys : list of (n_t,) targets
    task_types, task_names : per task;  feature_names : (p,) gene symbols
    dropped : {task name: number of samples dropped for a missing label}
    """
    Xs: list
    ys: list
    task_types: list
    task_names: list
    feature_names: list
    dropped: dict

    def to_data(self) -> MultiTaskData:
        return MultiTaskData.from_tasks(self.Xs, self.ys, self.task_types, task_names=self.task_names,
                                        feature_names=self.feature_names)

    def split(self, test_fraction=0.25, seed=0):
        """(train, test) TaskTables: each task split on its own, stratified for classification."""
        rng = np.random.default_rng(seed)
        train, test = [], []
        for y, kind in zip(self.ys, self.task_types):
            groups = [np.flatnonzero(y == v) for v in np.unique(y)] if kind == CLASSIFICATION else \
                [np.arange(y.size)]
            held = np.concatenate([rng.permutation(g)[:int(round(test_fraction * g.size))] for g in groups])
            is_test = np.zeros(y.size, bool)
            is_test[held] = True
            train.append(~is_test)
            test.append(is_test)

        def subset(masks):
            return dataclasses.replace(self, Xs=[X[m] for X, m in zip(self.Xs, masks)],
                                       ys=[y[m] for y, m in zip(self.ys, masks)])
        return subset(train), subset(test)


def _standardise(X):
    """Column z-scores within one cohort; missing values become the column mean (0 after centring)."""
    X = np.asarray(X, dtype=float)
    mean = np.nanmean(X, axis=0)
    X = np.where(np.isnan(X), mean, X) - mean
    sd = X.std(axis=0)
    return X / np.where(sd > 0, sd, 1.0)


def _labelled(df, column, missing_codes):
    values = df[column]
    keep = values.notna() & ~values.astype(str).isin(missing_codes)
    return keep.to_numpy(), int((~keep).sum())


def load_breast_cancer_cohorts(*, max_genes=None):
    """Four mixed-type tasks from three breast-cancer cohorts (needs ``pip install SurvSet``).

    Parameters
    ----------
    max_genes : keep only the first ``max_genes`` shared genes in alphabetical
        order, plus ESR1 and GATA3 (for quick runs); None keeps all ~7,100

    Returns
    -------
    TaskTables with tasks ``GSE1992_ER`` and ``GSE4335_ER`` (classification,
    labels 0/1), ``GSE4335_grade`` (1-3) and ``GSE3143_ER_level`` (0-3).
    """
    try:
        from SurvSet.data import SurvLoader
    except ImportError as err:
        raise ImportError("load_breast_cancer_cohorts needs the SurvSet package: "
                          "pip install 'mtlcomb_jax[data]' (or pip install SurvSet).") from err
    loader = SurvLoader()
    frames = {name: loader.load_dataset(name)["df"] for name in ("gse1992", "gse4335", "gse3143")}
    genes = sorted(set.intersection(*[{c for c in df.columns if c.startswith(GENE_PREFIX)}
                                      for df in frames.values()]))
    if max_genes is not None:
        must = [g for g in (GENE_PREFIX + "ESR1", GENE_PREFIX + "GATA3") if g in genes]
        genes = sorted(set(genes[:max_genes]) | set(must))
    specs = [("GSE1992_ER", "gse1992", "fac_er_positive", CLASSIFICATION, {"missing", "na"}),
             ("GSE4335_ER", "gse4335", "fac_er_status", CLASSIFICATION, {"missing", "na"}),
             ("GSE4335_grade", "gse4335", "num_grade", REGRESSION, set()),
             ("GSE3143_ER_level", "gse3143", "num_erlev", REGRESSION, set())]
    standardised = {name: _standardise(df[genes].to_numpy()) for name, df in frames.items()}
    Xs, ys, types, names, dropped = [], [], [], [], {}
    for task, cohort, column, kind, missing in specs:
        keep, n_dropped = _labelled(frames[cohort], column, missing)
        y = frames[cohort][column][keep]
        y = y.astype(str)      # categorical columns: go through the labels
        ys.append(y.astype(int).to_numpy() if kind == CLASSIFICATION else y.astype(float).to_numpy())
        Xs.append(standardised[cohort][keep])
        types.append(kind)
        names.append(task)
        dropped[task] = n_dropped
    return TaskTables(Xs=Xs, ys=ys, task_types=types, task_names=names,
                      feature_names=[g[len(GENE_PREFIX):] for g in genes], dropped=dropped)


def load_gse7390():
    """ER status, grade and tumour size of GSE7390 (198 x 76 genes; needs ``pip install scikit-survival``).

    Returns
    -------
    TaskTables with tasks ``ER`` (classification: positive / negative),
    ``grade`` (1 well, 2 intermediate, 3 poorly differentiated; 2 unknown
    dropped) and ``size`` (tumour size, cm), genes standardised.
    """
    df, genes, grade = _gse7390("load_gse7390")
    X = _standardise(df[genes].to_numpy())
    keep_grade = grade.notna().to_numpy()
    er = df["er"].astype(str).to_numpy()
    return TaskTables(Xs=[X, X[keep_grade], X], ys=[er, grade.to_numpy()[keep_grade], df["size"].to_numpy(float)],
                      task_types=[CLASSIFICATION, REGRESSION, REGRESSION], task_names=["ER", "grade", "size"],
                      feature_names=genes, dropped={"ER": 0, "grade": int((~keep_grade).sum()), "size": 0})


def load_gse7390_table():
    """GSE7390 as one table (needs ``pip install scikit-survival``): one row per patient.

    Columns: ``patient`` (an identifier, P001...), ``age`` (years) and the 76 genes
    (log2 expression, not standardised: their standard deviations run from 0.35 to 2.4,
    age's is 7.2 years), then the outcomes ``er`` ("positive" / "negative"),
    ``grade`` (1 well, 2 intermediate, 3 poorly differentiated; missing for the two
    patients whose grade is unknown) and ``size`` (tumour size, cm).
    """
    import pandas as pd
    df, genes, grade = _gse7390("load_gse7390_table")
    table = pd.DataFrame({"patient": [f"P{i + 1:03d}" for i in range(len(df))], "age": df["age"].to_numpy(float)})
    table = pd.concat([table, df[genes].reset_index(drop=True)], axis=1)
    table["er"] = df["er"].astype(str).to_numpy()
    table["grade"] = grade.to_numpy()
    table["size"] = df["size"].to_numpy(float)
    return table


def _gse7390(caller):
    """(scikit-survival's GSE7390 DataFrame, its gene columns, grade as 1-3 with NaN where unknown)."""
    try:
        from sksurv.datasets import load_breast_cancer
    except ImportError as err:
        raise ImportError(f"{caller} needs scikit-survival: pip install 'mtlcomb_jax[data]' "
                          "(or pip install scikit-survival).") from err
    df, _ = load_breast_cancer()
    genes = [c for c in df.columns if c not in ("age", "er", "grade", "size")]
    grade_codes = {"well differentiated": 1.0, "intermediate": 2.0, "poorly differentiated": 3.0}
    return df, genes, df["grade"].astype(str).map(grade_codes)
