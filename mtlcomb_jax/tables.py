"""Tabular files in and out (pandas): long-format or one-file-per-task inputs, coefficient tables.

Long format: one row per sample, a task column, a target column and feature
columns (every other numeric column unless ``feature_cols`` is given). One file
per task: each file holds a target column and the same feature columns; the
task is named after the file. CSV, TSV and Parquet are read by extension.
"""
from __future__ import annotations

import pathlib

import numpy as np

from .data import CLASSIFICATION, REGRESSION, MultiTaskData, infer_task_types


def _pandas():
    try:
        import pandas as pd
    except ImportError as err:
        raise ImportError("reading and writing tables needs pandas: pip install 'mtlcomb-jax[io]'") from err
    return pd


def read_table(path):
    """A pandas DataFrame from a .csv, .tsv/.txt or .parquet file.

    ValueError for a missing file, an unknown extension, an unreadable or empty file, and
    a header that repeats a column name (pandas would rename the copy silently).
    """
    pd = _pandas()
    path = pathlib.Path(path)
    if not path.exists():
        raise ValueError(f"data file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    if suffix not in (".parquet", ".tsv", ".txt", ".csv"):
        raise ValueError(f"data file {str(path)!r} has an unknown extension {suffix!r}; use .csv, .tsv or "
                         ".parquet.")
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path)
        sep = "," if suffix == ".csv" else "\t"
        header = pd.read_csv(path, sep=sep, header=None, nrows=1).iloc[0].astype(str).tolist()
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise ValueError(f"data file {str(path)!r} repeats the column name(s) {repeated[:5]} in its header; "
                             "every column needs its own name.")
        return pd.read_csv(path, sep=sep)
    except pd.errors.EmptyDataError:
        raise ValueError(f"data file {str(path)!r} is empty.") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as err:
        raise ValueError(f"data file {str(path)!r} cannot be read as {suffix[1:]}: {err}") from None


def _require_column(df, column, argument, source):
    if column not in df.columns:
        raise ValueError(f"{argument}={column!r} is not a column of {source}; its columns are "
                         f"{list(df.columns)[:12]}{' ...' if df.shape[1] > 12 else ''}.")


def _feature_columns(df, exclude, feature_cols, source):
    from pandas.api.types import is_bool_dtype, is_numeric_dtype
    if feature_cols is not None:
        for c in feature_cols:
            _require_column(df, c, "feature column", source)
        clash = [c for c in feature_cols if c in exclude]
        if clash:
            raise ValueError(f"--features lists {clash}, which is the target or task column; a target cannot be "
                             "a feature. Drop it from --features.")
        cols = list(feature_cols)
    else:
        cols = [c for c in df.columns if c not in exclude]
    non_numeric = [c for c in cols if not (is_numeric_dtype(df[c]) or is_bool_dtype(df[c]))]
    if non_numeric:
        raise ValueError(f"columns {non_numeric[:5]} of {source} are not numeric; encode them as numbers or "
                         "list the feature columns to use.")
    if not cols:
        raise ValueError(f"{source} has no feature columns besides {sorted(exclude)}.")
    return cols


def task_types_for(targets, classification=None):
    """Task types from ``classification`` (task names) or inferred: two distinct values means classification.

    targets : dict task name -> (n_t,) target values. Returns a list in the dict's order.
    """
    if classification is None:
        return infer_task_types(targets.values())
    unknown = sorted(set(classification) - set(targets))
    if unknown:
        raise ValueError(f"--classification names tasks {unknown} that are not in the data; the tasks are "
                         f"{list(targets)}.")
    return [CLASSIFICATION if name in classification else REGRESSION for name in targets]


def _drop_missing_targets(df, target_col):
    missing = int(df[target_col].isna().sum())
    return df[df[target_col].notna()], missing


def data_from_long_table(df, *, task_col, target_col, feature_cols=None, classification=None,
                         source="the data"):
    """(MultiTaskData, info) from a long-format DataFrame.

    Rows with a missing target are dropped (counted in ``info["dropped"]``);
    missing feature values are an error. ``info["task_types"]`` maps each task
    name to its type.
    """
    _require_column(df, task_col, "--task-col", source)
    _require_column(df, target_col, "--target-col", source)
    df, dropped = _drop_missing_targets(df, target_col)
    features = _feature_columns(df, {task_col, target_col}, feature_cols, source)
    groups = {str(name): part for name, part in df.groupby(task_col, sort=True)}
    return _assemble(groups, target_col, features, classification, dropped, source)


def data_from_task_tables(tables, *, target_col, feature_cols=None, classification=None):
    """(MultiTaskData, info) from ``{task name: DataFrame}``, one table per task with the same features."""
    groups, dropped = {}, 0
    for name, df in tables.items():
        _require_column(df, target_col, "--target-col", f"task {name!r}")
        groups[name], missing = _drop_missing_targets(df, target_col)
        dropped += missing
    first = next(iter(groups))
    features = _feature_columns(groups[first], {target_col}, feature_cols, f"task {first!r}")
    for name, df in groups.items():
        absent = [c for c in features if c not in df.columns]
        if absent:
            raise ValueError(f"task {name!r} lacks feature columns {absent[:5]} that task {first!r} has; every "
                             "task needs the same features.")
    return _assemble(groups, target_col, features, classification, dropped, "the task files")


def _assemble(groups, target_col, features, classification, dropped, source):
    for name, part in groups.items():
        if part[features].isna().any().any():
            bad = [c for c in features if part[c].isna().any()][:5]
            raise ValueError(f"task {name!r} in {source} has missing feature values in {bad}; impute or drop "
                             "those rows first.")
    targets = {name: part[target_col].to_numpy() for name, part in groups.items()}
    types = task_types_for(targets, classification)
    data = MultiTaskData.from_tasks([part[features].to_numpy(dtype=float) for part in groups.values()],
                                    list(targets.values()), types, feature_names=[str(c) for c in features],
                                    task_names=list(groups))
    info = {"task_types": dict(zip(groups, types)), "dropped": dropped,
            "n_samples": {name: int(len(part)) for name, part in groups.items()}, "features": len(features)}
    return data, info


def read_tasks(paths, *, target_col, task_col=None, feature_cols=None, classification=None):
    """(MultiTaskData, info) from one long-format file (``task_col``) or one file per task."""
    paths = [pathlib.Path(p) for p in paths]
    if task_col is not None:
        if len(paths) != 1:
            raise ValueError(f"--task-col reads one long-format file; got {len(paths)} files. Drop --task-col "
                             "to read one file per task.")
        return data_from_long_table(read_table(paths[0]), task_col=task_col, target_col=target_col,
                                    feature_cols=feature_cols, classification=classification,
                                    source=str(paths[0]))
    if len(paths) < 2:
        raise ValueError("one data file without --task-col is a single task; pass --task-col COL for a "
                         "long-format file, or one file per task.")
    stems = [p.stem for p in paths]
    repeated = sorted({stem for stem in stems if stems.count(stem) > 1})
    if repeated:
        raise ValueError(f"several data files are named {repeated[:3]} (tasks are named after their files, so "
                         "they would merge into one task); rename them so each task's file has its own name.")
    return data_from_task_tables({p.stem: read_table(p) for p in paths}, target_col=target_col,
                                 feature_cols=feature_cols, classification=classification)


def coefficient_table(result):
    """DataFrame of W (features x tasks), indexed by feature name, one column per task."""
    pd = _pandas()
    W = np.asarray(result.W)
    features = list(result.feature_names) or [f"x{j}" for j in range(W.shape[0])]
    tasks = list(result.task_names) or [f"task{t}" for t in range(W.shape[1])]
    return pd.DataFrame(W, index=pd.Index(features, name="feature"), columns=tasks)


def cv_table(cv):
    """DataFrame with one row per lambda: the mean and standard error over folds of each metric
    (folds whose AUC is undefined are left out)."""
    pd = _pandas()
    table = {"lambda": cv.lambdas}
    for name, values in (("mse", cv.mse), ("auc", cv.auc), ("deviance", cv.deviance)):
        if values is None:
            continue
        counts = np.isfinite(values).sum(axis=0)
        table[f"{name}_mean"] = np.nanmean(values, axis=0)
        table[f"{name}_se"] = np.nanstd(values, axis=0, ddof=1) / np.sqrt(counts)
    table["n_iter_max"] = cv.n_iter.max(axis=0)
    return pd.DataFrame(table)
