"""matplotlib figures: the regularization path, CV curves, the coefficient heatmap.

Install with the ``plot`` extra. Every function returns the
:class:`matplotlib.figure.Figure` it drew on (pass ``ax=`` to draw into your
own axes); nothing is shown or saved here.
"""
from __future__ import annotations

import numpy as np


def _axes(ax, figsize):
    import matplotlib.pyplot as plt
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
        return fig, ax
    return ax.figure, ax


def _feature_labels(names, n_features):
    return list(names) if names else [f"x{j}" for j in range(n_features)]


def _task_labels(names, n_tasks):
    return list(names) if names else [f"task {t}" for t in range(n_tasks)]


def plot_path(path, *, selected_lambda=None, n_labels=10, ax=None):
    """Each feature's row norm ||W[j, :]||_2 against log10 lambda.

    Parameters
    ----------
    path : PathResult (W of shape (n_lambdas, n_features, n_tasks))
    selected_lambda : optional lambda to mark with a vertical line; the labelled
        features are the largest rows there (default: at the smallest lambda)
    n_labels : how many of the largest features to name at the right edge
    ax : optional matplotlib axes
    """
    lambdas = np.asarray(path.lambdas)
    norms = np.linalg.norm(np.asarray(path.W), axis=2)            # (n_lambdas, n_features)
    fig, ax = _axes(ax, (7, 4.5))
    log_lam = np.log10(lambdas)
    active = np.flatnonzero(norms.max(axis=0) > 0)
    ax.plot(log_lam, norms[:, active], lw=1)
    at = len(lambdas) - 1 if selected_lambda is None else int(np.argmin(np.abs(lambdas - selected_lambda)))
    names = _feature_labels(path.feature_names, norms.shape[1])
    ranked = [j for j in np.argsort(-norms[at]) if norms[at, j] > 0][:n_labels]
    for j in ranked:
        ax.annotate(names[j], (log_lam[at], norms[at, j]), fontsize=7, xytext=(3, 0),
                    textcoords="offset points", va="center")
    if selected_lambda is not None:
        ax.axvline(np.log10(selected_lambda), color="k", ls="--", lw=1, label="selected lambda")
        ax.legend(loc="upper right", fontsize=8)
    ax.set_xlabel("log10 lambda")
    ax.set_ylabel("row norm ||W[j, :]||")
    ax.set_title(f"Regularization path ({active.size} features ever selected)")
    ax.invert_xaxis()                                             # path runs from lambda_max down
    return fig


def _curve_panel(ax, log_lam, values, rule_lambdas, ylabel):
    mean = values.mean(axis=0)
    se = values.std(axis=0, ddof=1) / np.sqrt(values.shape[0])
    ax.plot(log_lam, mean, marker=".", color="C0")
    ax.fill_between(log_lam, mean - se, mean + se, alpha=0.25, color="C0", label="mean +- 1 SE")
    for (name, lam), color in zip(rule_lambdas.items(), ("C3", "C2")):
        ax.axvline(np.log10(lam), color=color, ls="--", lw=1, label=f"{name} = {lam:.3g}")
    ax.set_xlabel("log10 lambda")
    ax.set_ylabel(ylabel)
    ax.invert_xaxis()
    ax.legend(fontsize=8)


def plot_cv(cv):
    """Cross-validation curves: one panel per task type, mean +- one standard error over folds.

    The regression panel shows test MSE with ``lambda_regression_min`` and
    ``_1se`` marked; the classification panel test AUC with
    ``lambda_classification_min`` and ``_1se``.
    """
    import matplotlib.pyplot as plt
    panels = []
    if cv.mse is not None:
        panels.append((cv.mse, {"min": cv.lambda_regression_min, "1se": cv.lambda_regression_1se},
                       "test MSE (regression tasks)"))
    if cv.auc is not None:
        panels.append((cv.auc, {"min": cv.lambda_classification_min, "1se": cv.lambda_classification_1se},
                       "test AUC (classification tasks)"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4), squeeze=False)
    log_lam = np.log10(cv.lambdas)
    for ax, (values, rules, ylabel) in zip(axes[0], panels):
        _curve_panel(ax, log_lam, np.asarray(values), rules, ylabel)
    fig.suptitle(f"{cv.n_folds}-fold cross-validation")
    fig.tight_layout()
    return fig


def plot_coefficients(result, *, max_features=40, ax=None):
    """Heatmap of the selected features' coefficients (features x tasks).

    Parameters
    ----------
    result : SolveResult, or anything with ``W`` (n_features, n_tasks) and the
        ``feature_names`` / ``task_names`` metadata
    max_features : show at most this many non-zero rows, the largest first
    """
    W = np.asarray(result.W)
    norms = np.linalg.norm(W, axis=1)
    rows = [j for j in np.argsort(-norms) if norms[j] > 0][:max_features]
    fig, ax = _axes(ax, (max(4.0, 0.35 * W.shape[1] + 2.5), max(3.0, 0.22 * len(rows) + 1.5)))
    shown = W[rows] if rows else np.zeros((0, W.shape[1]))
    limit = float(np.abs(shown).max()) if shown.size else 1.0
    image = ax.imshow(shown, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    features = _feature_labels(getattr(result, "feature_names", ()), W.shape[0])
    tasks = _task_labels(getattr(result, "task_names", ()), W.shape[1])
    ax.set_yticks(range(len(rows)), [features[j] for j in rows], fontsize=7)
    ax.set_xticks(range(W.shape[1]), tasks, rotation=90, fontsize=7)
    ax.set_title(f"Coefficients of {len(rows)} of {int((norms > 0).sum())} selected features")
    fig.colorbar(image, ax=ax, label="coefficient")
    fig.tight_layout()
    return fig


def plot_stability(result, *, ax=None, n_labels=10):
    """Stability paths: each feature's selection frequency against log10 lambda.

    Features in the stable set are drawn in colour (the most stable labelled),
    the rest in grey; the threshold is a dashed line.
    """
    fig, ax = _axes(ax, (7, 4.5))
    log_lam = np.log10(result.lambdas)
    stable = set(int(j) for j in result.selected)
    for j in np.flatnonzero(result.probabilities > 0):
        if j not in stable:
            ax.plot(log_lam, result.frequencies[:, j], color="0.75", lw=0.8)
    names = _feature_labels(result.feature_names, result.frequencies.shape[1])
    for rank, j in enumerate(result.selected):
        ax.plot(log_lam, result.frequencies[:, j], lw=1.4)
        if rank < n_labels:
            ax.annotate(names[j], (log_lam[-1], result.frequencies[-1, j]), fontsize=7, xytext=(3, 0),
                        textcoords="offset points", va="center")
    ax.axhline(result.threshold, color="k", ls="--", lw=1, label=f"threshold {result.threshold:g}")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("log10 lambda")
    ax.set_ylabel("selection frequency")
    ax.set_title(f"Stability selection: {len(result.selected)} stable features "
                 f"({result.n_subsamples} subsamples)")
    ax.invert_xaxis()
    ax.legend(loc="lower left", fontsize=8)
    return fig
