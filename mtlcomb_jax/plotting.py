"""matplotlib figures: the regularization path, CV curves, the coefficient heatmap.

Install with the ``plot`` extra. Every function returns the
:class:`matplotlib.figure.Figure` it drew on; :func:`plot_path`,
:func:`plot_coefficients` and :func:`plot_stability` take ``ax=`` to draw into your
own axes (:func:`plot_cv` makes its own figure, a panel per task type). Nothing is
shown or saved here.
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


def _margin_labels(ax, x, ys, labels, fontsize=7):
    """Name curves in the axes' right margin: each label at its curve's height at ``x`` where
    there is room, pushed apart just enough that no two overlap, and joined to its point
    by a thin line. The margin must be kept free by the caller (``subplots_adjust``)."""
    if not len(labels):
        return []
    fig = ax.figure
    ax.autoscale_view()
    y0, y1 = ax.get_ylim()
    frac = (np.asarray(ys, float) - y0) / (y1 - y0)
    height_pt = ax.get_position().height * fig.get_figheight() * 72
    gap = min(1.3 * fontsize / height_pt, 1.0 / len(labels))      # one line of text, in axes fractions
    order = np.argsort(frac)
    pos = np.clip(frac[order], gap / 2, 1 - gap / 2)
    for i in range(1, len(pos)):                                     # upwards: room above each label
        pos[i] = max(pos[i], pos[i - 1] + gap)
    pos[-1] = min(pos[-1], 1 - gap / 2)
    for i in range(len(pos) - 2, -1, -1):                            # downwards: back inside the axes
        pos[i] = min(pos[i], pos[i + 1] - gap)
    texts = []
    for rank, i in enumerate(order):
        texts.append(ax.annotate(labels[i], xy=(x, ys[i]), xycoords="data", xytext=(1.02, pos[rank]),
                                 textcoords="axes fraction", fontsize=fontsize, va="center", ha="left",
                                 annotation_clip=False,
                                 arrowprops=dict(arrowstyle="-", lw=0.5, color="0.6", shrinkA=0, shrinkB=0)))
    return texts


def _label_margin(fig, labels, fontsize=7, bottom=0.12):
    """Keep room at the figure's right edge for margin labels of these lengths."""
    width_in = fig.get_figwidth()
    longest = max((len(str(label)) for label in labels), default=0)
    margin = min(0.45, (0.6 * fontsize * longest / 72 + 0.25) / width_in)
    fig.subplots_adjust(left=0.1, right=0.97 - margin, top=0.9, bottom=bottom)


def plot_path(path, *, selected_lambda=None, n_labels=10, ax=None):
    """Each feature's row norm ||W[j, :]||_2 against log10 lambda.

    Parameters
    ----------
    path : PathResult (W of shape (n_lambdas, n_features, n_tasks))
    selected_lambda : optional lambda to mark with a vertical line; the labelled
        features are the largest rows there (default: at the smallest lambda)
    n_labels : how many of the largest features to name, in the right margin
    ax : optional matplotlib axes (then leave room at its right for the labels)
    """
    lambdas = np.asarray(path.lambdas)
    norms = np.linalg.norm(np.asarray(path.W), axis=2)            # (n_lambdas, n_features)
    own = ax is None
    fig, ax = _axes(ax, (7.5, 4.5))
    log_lam = np.log10(lambdas)
    active = np.flatnonzero(norms.max(axis=0) > 0)
    ax.plot(log_lam, norms[:, active], lw=1)
    at = len(lambdas) - 1 if selected_lambda is None else int(np.argmin(np.abs(lambdas - selected_lambda)))
    names = _feature_labels(path.feature_names, norms.shape[1])
    ranked = [j for j in np.argsort(-norms[at]) if norms[at, j] > 0][:n_labels]
    if selected_lambda is not None:
        ax.axvline(np.log10(selected_lambda), color="k", ls="--", lw=1, label="selected lambda")
        # the path starts at zero (lambda_max, on the left): the upper left corner is empty
        ax.legend(loc="upper left", fontsize=8)
    ax.set_xlabel("log10 lambda")
    ax.set_ylabel("row norm ||W[j, :]||")
    ax.set_title(f"Regularization path ({active.size} features ever selected)")
    ax.invert_xaxis()                                             # path runs from lambda_max down
    if own:
        _label_margin(fig, [names[j] for j in ranked])
    _margin_labels(ax, log_lam[at], norms[at, ranked], [names[j] for j in ranked])
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


def plot_coefficients(result, *, max_features=40, scale="task", ax=None):
    """Heatmap of the selected features' coefficients (features x tasks).

    Parameters
    ----------
    result : SolveResult, or anything with ``W`` (n_features, n_tasks) and the
        ``feature_names`` / ``task_names`` metadata
    max_features : show at most this many non-zero rows, the largest first
    scale : ``"task"`` (default) divides each task's column by its largest absolute
        coefficient, so that tasks whose outcomes are on small scales are not blank beside
        the others; ``"none"`` shows the coefficients themselves on one colour scale
    """
    if scale not in ("task", "none"):
        raise ValueError(f"scale={scale!r} must be 'task' (each task's column on its own colour scale) or "
                         "'none' (one scale for all).")
    W = np.asarray(result.W)
    norms = np.linalg.norm(W, axis=1)
    rows = [j for j in np.argsort(-norms) if norms[j] > 0][:max_features]
    fig, ax = _axes(ax, (max(4.5, 0.35 * W.shape[1] + 3.0), max(3.0, 0.22 * len(rows) + 1.8)))
    shown = W[rows] if rows else np.zeros((0, W.shape[1]))
    if scale == "task" and shown.size:
        largest = np.abs(W).max(axis=0)
        shown = shown / np.where(largest > 0, largest, 1.0)
    limit = float(np.abs(shown).max()) if shown.size and np.abs(shown).max() > 0 else 1.0
    image = ax.imshow(shown, aspect="auto", cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
    features = _feature_labels(getattr(result, "feature_names", ()), W.shape[0])
    tasks = _task_labels(getattr(result, "task_names", ()), W.shape[1])
    ax.set_yticks(range(len(rows)), [features[j] for j in rows], fontsize=7)
    ax.set_xticks(range(W.shape[1]), tasks, rotation=90, fontsize=7)
    ax.set_title(f"Coefficients of {len(rows)} of {int((norms > 0).sum())} selected features", fontsize=10)
    fig.colorbar(image, ax=ax, label="coefficient / task's largest |coefficient|" if scale == "task" else
                 "coefficient")
    fig.tight_layout()
    return fig


def plot_stability(result, *, ax=None, n_labels=10):
    """Stability paths: each feature's selection frequency against log10 lambda.

    Features in the stable set are drawn in colour (the most stable named in the right
    margin), the rest in grey; the threshold is a dashed line, and the lambdas beyond
    those the probabilities are taken over (``result.n_lambdas_used``) are shaded.
    """
    own = ax is None
    fig, ax = _axes(ax, (7.5, 4.5))
    log_lam = np.log10(result.lambdas)
    stable = set(int(j) for j in result.selected)
    for j in np.flatnonzero(result.frequencies.max(axis=0) > 0):
        if j not in stable:
            ax.plot(log_lam, result.frequencies[:, j], color="0.75", lw=0.8)
    names = _feature_labels(result.feature_names, result.frequencies.shape[1])
    for j in result.selected:
        ax.plot(log_lam, result.frequencies[:, j], lw=1.4)
    ax.axhline(result.threshold, color="k", ls="--", lw=1, label=f"threshold {result.threshold:g}")
    used = getattr(result, "n_lambdas_used", None) or len(log_lam)
    if used < len(log_lam):
        ax.axvspan(log_lam[used - 1], log_lam[-1], color="0.9", zorder=0,
                   label=f"not used: bound above pfer (used: E[false] <= {result.expected_false_selections:.2g})")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("log10 lambda")
    ax.set_ylabel("selection frequency")
    ax.set_title(f"Stability selection: {len(result.selected)} stable features "
                 f"({result.n_subsamples} subsamples)", fontsize=10)
    ax.invert_xaxis()
    # below the axes: stable features rise at the largest lambdas, the others at the smallest,
    # so no corner inside the axes stays free
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, fontsize=8, frameon=False)
    labelled = list(result.selected[:n_labels])
    at = used - 1
    if own:
        _label_margin(fig, [names[j] for j in labelled], bottom=0.22)
    _margin_labels(ax, log_lam[at], result.frequencies[at, labelled], [names[j] for j in labelled])
    return fig
