"""Tabular files in and out (pandas): wide, long-format or one-file-per-task inputs, coefficient tables.

Wide format: one row per sample, several outcome columns (one task each, all on
the same rows and features). Long format: one row per sample, a task column, a
target column and feature columns. One file per task: each file holds a target
column and the same feature columns; the task is named after the file. In every
layout the features are every other column (each must be numeric or boolean) unless
``feature_cols`` is given, leaving out an identifier column and any ``exclude``d ones.
CSV, TSV and Parquet are read by extension.
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


def _feature_columns(df, reserved, feature_cols, source, left_out=(), hint=""):
    """The feature columns: ``feature_cols``, else every column not in ``reserved`` (the
    target, task and id columns) or ``left_out`` (the user's ``--exclude``)."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype
    for c in left_out:
        _require_column(df, c, "--exclude column", source)
    if feature_cols is not None:
        for c in feature_cols:
            _require_column(df, c, "feature column", source)
        clash = [c for c in feature_cols if c in reserved]
        if clash:
            raise ValueError(f"--features lists {clash}, which is a target, task or id column; it cannot be "
                             "a feature. Drop it from --features.")
        cols = [c for c in feature_cols if c not in left_out]
    else:
        cols = [c for c in df.columns if c not in reserved and c not in left_out]
    non_numeric = [c for c in cols if not (is_numeric_dtype(df[c]) or is_bool_dtype(df[c]))]
    if non_numeric:
        raise ValueError(f"columns {non_numeric[:5]} of {source} are not numeric; encode them as numbers, leave "
                         "them out with --exclude (an identifier: --id-col), or list the feature columns to "
                         f"use{hint}.")
    if not cols:
        raise ValueError(f"{source} has no feature columns besides {sorted(map(str, reserved))}.")
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
    """(the rows with a target, how many had none)."""
    missing = int(df[target_col].isna().sum())
    return df[df[target_col].notna()], missing


def _reserved(df, id_col, source):
    """The id column as a set of columns to keep out of the features (checked to exist)."""
    if id_col is None:
        return set()
    _require_column(df, id_col, "--id-col", source)
    return {id_col}


def data_from_wide_table(df, *, target_cols, feature_cols=None, classification=None, id_col=None,
                         exclude=(), source="the data"):
    """(MultiTaskData, info) from one table with several outcome columns on the same rows.

    Every outcome is a task on the shared design of the feature columns (every other
    column unless ``feature_cols``; never ``id_col`` or ``exclude``). A missing
    outcome value leaves that row out of that outcome only (``info["dropped"]`` counts
    them per outcome); a missing feature value is an error.
    """
    for c in target_cols:
        _require_column(df, c, "--target-col", source)
    repeated = sorted({c for c in target_cols if list(target_cols).count(c) > 1})
    if repeated:
        raise ValueError(f"--target-col lists {repeated} more than once; name each outcome once.")
    reserved = set(target_cols) | _reserved(df, id_col, source)
    features = _feature_columns(df, reserved, feature_cols, source, left_out=tuple(exclude),
                                hint="; if a column names each row's task (long format), pass it as --task-col")
    bad = [c for c in features if df[c].isna().any()][:5]
    if bad:
        rows = np.flatnonzero(df[features].isna().any(axis=1).to_numpy())
        raise ValueError(f"{source} has missing feature values in {bad} ({rows.size} rows, first: data row "
                         f"{int(rows[0]) + 1}); impute or drop those rows first, or leave the columns out with "
                         "--exclude.")
    targets = {str(c): df[c].to_numpy() for c in target_cols}
    observed = {name: df[c].notna().to_numpy() for name, c in zip(targets, target_cols)}
    empty = [name for name, seen in observed.items() if not seen.any()]
    if empty:
        raise ValueError(f"outcome column(s) {empty} of {source} hold no value; drop them from --target-col.")
    types = task_types_for({name: values[observed[name]] for name, values in targets.items()}, classification)
    data = MultiTaskData.from_outcomes(df[features].to_numpy(dtype=float), np.column_stack(
        [df[c].to_numpy(dtype=object) for c in target_cols]), types, feature_names=[str(c) for c in features],
        task_names=list(targets), missing_outcomes="drop")
    info = {"task_types": dict(zip(targets, types)), "layout": "wide",
            "dropped": {name: int((~seen).sum()) for name, seen in observed.items()},
            "n_samples": {name: int(seen.sum()) for name, seen in observed.items()}, "features": len(features),
            "id_col": id_col, "feature_names": [str(c) for c in features]}
    return data, info


def data_from_long_table(df, *, task_col, target_col, feature_cols=None, classification=None, id_col=None,
                         exclude=(), source="the data"):
    """(MultiTaskData, info) from a long-format DataFrame.

    Rows with a missing target are dropped (counted in ``info["dropped"]``);
    missing feature values are an error. ``info["task_types"]`` maps each task
    name to its type.
    """
    _require_column(df, task_col, "--task-col", source)
    _require_column(df, target_col, "--target-col", source)
    missing = df[target_col].isna()
    dropped = {str(name): int(count) for name, count in missing.groupby(df[task_col]).sum().items()}
    df = df[~missing]
    features = _feature_columns(df, {task_col, target_col} | _reserved(df, id_col, source), feature_cols, source,
                                left_out=tuple(exclude))
    groups = {str(name): part for name, part in df.groupby(task_col, sort=True)}
    return _assemble(groups, target_col, features, classification, dropped, source, "long")


def data_from_task_tables(tables, *, target_col, feature_cols=None, classification=None, id_col=None,
                          exclude=()):
    """(MultiTaskData, info) from ``{task name: DataFrame}``, one table per task with the same features."""
    groups, dropped = {}, {}
    for name, df in tables.items():
        _require_column(df, target_col, "--target-col", f"task {name!r}")
        groups[name], dropped[name] = _drop_missing_targets(df, target_col)
    first = next(iter(groups))
    features = _feature_columns(groups[first], {target_col} | _reserved(groups[first], id_col, f"task {first!r}"),
                                feature_cols, f"task {first!r}", left_out=tuple(exclude))
    for name, df in groups.items():
        absent = [c for c in features if c not in df.columns]
        if absent:
            raise ValueError(f"task {name!r} lacks feature columns {absent[:5]} that task {first!r} has; every "
                             "task needs the same features.")
    return _assemble(groups, target_col, features, classification, dropped, "the task files", "tasks")


def _assemble(groups, target_col, features, classification, dropped, source, layout):
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
    info = {"task_types": dict(zip(groups, types)), "dropped": dropped, "layout": layout,
            "n_samples": {name: int(len(part)) for name, part in groups.items()}, "features": len(features),
            "feature_names": [str(c) for c in features]}
    return data, info


def read_tasks(paths, *, target_col, task_col=None, feature_cols=None, classification=None, id_col=None,
               exclude=()):
    """(MultiTaskData, info) from one of three layouts:

    * **wide**: one file whose outcomes are columns on the same rows (``target_col`` a
      list of several columns, or one file without ``task_col``): one task per outcome,
      sharing the design;
    * **long**: one file with a ``task_col`` and one ``target_col``;
    * **one file per task**, each with the ``target_col``, the task named after the file.
    """
    paths = [pathlib.Path(p) for p in paths]
    targets = [target_col] if isinstance(target_col, str) else list(target_col)
    if not targets:
        raise ValueError("--target-col is empty; name the outcome column(s), comma-separated.")
    if task_col is not None or len(paths) == 1:
        if len(paths) != 1:
            raise ValueError(f"--task-col reads one long-format file; got {len(paths)} files. Drop --task-col "
                             "to read one file per task.")
        if task_col is None:
            return data_from_wide_table(read_table(paths[0]), target_cols=targets, feature_cols=feature_cols,
                                        classification=classification, id_col=id_col, exclude=exclude,
                                        source=str(paths[0]))
        if len(targets) != 1:
            raise ValueError(f"--task-col reads one target column in long format; got {len(targets)} "
                             f"({targets}). Drop --task-col to read them as outcomes of one wide table.")
        return data_from_long_table(read_table(paths[0]), task_col=task_col, target_col=targets[0],
                                    feature_cols=feature_cols, classification=classification, id_col=id_col,
                                    exclude=exclude, source=str(paths[0]))
    if len(targets) != 1:
        raise ValueError(f"one file per task reads one target column; got {len(targets)} ({targets}). Several "
                         "outcome columns are read from one wide file.")
    target_col = targets[0]
    stems = [p.stem for p in paths]
    repeated = sorted({stem for stem in stems if stems.count(stem) > 1})
    if repeated:
        raise ValueError(f"several data files are named {repeated[:3]} (tasks are named after their files, so "
                         "they would merge into one task); rename them so each task's file has its own name.")
    return data_from_task_tables({p.stem: read_table(p) for p in paths}, target_col=target_col,
                                 feature_cols=feature_cols, classification=classification, id_col=id_col,
                                 exclude=exclude)


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
