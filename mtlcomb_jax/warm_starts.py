"""Where each lambda of a path starts: the last solution, or its extrapolation.

With the certified rules ("gap", "kkt") the scanned path (:mod:`.path`) starts each
lambda from the third on from the linear extrapolation, in log lambda, of the last two
solutions (a predictor step along the path): on a log-spaced grid
``W_k + (W_k - W_{k-1})``, on another grid the step scaled by the ratio of the
log-lambda steps (at most 1). FISTA's first step projects the start back onto the
penalty's sparsity, so a row the extrapolation moves wrongly costs little, and the rule
certifies the solution wherever it started. ``"relative"`` keeps the R package's warm
starts, and so its iterates.

The working sets (:mod:`.working_set`) keep their own starts: the last solution, or where
working ahead got (:mod:`.batched`), which is nearer the next solution already
(CHANGELOG.md records extrapolating there too, measured slower at gene scale).
"""
from __future__ import annotations

import jax.numpy as jnp

#: Whether the scanned path's certified rules extrapolate (read when it is traced: clear
#: JAX's caches after changing it). ``python bench/bench_warm_starts.py`` counts the
#: iterations and times the workloads both ways: on simulated and on standardised data
#: 0.44 to 0.87 x the iterations (the 5-fold CV of the first-call benchmark 1.89 -> 1.56 s
#: warm in float64, 0.60 -> 0.39 s in float32; a tutorial-shaped path 2.6 -> 1.2 s). Where
#: feature scales differ widely the start matters less than the conditioning: on
#: GSE7390's raw features (scales 0.35 to 7.2) the 10-fold CV takes 0.94 x the
#: iterations, but 5 of its 300 solves reach max_iter against 3, and 1.14 x the time;
#: standardising (``standardize=True``) is the remedy either way.
EXTRAPOLATE_STARTS = True


def start_steps(lambdas):
    """(n_lambdas,) how far each lambda's start extrapolates the last two solutions of a
    path over ``lambdas`` (n_lambdas,): 0 for the first two lambdas (what comes before
    them is a start, not two path points), then the ratio of the log-lambda steps, in
    [0, 1]. Traceable."""
    log_lam = jnp.log(lambdas)
    steps = log_lam[:-1] - log_lam[1:]                    # > 0 on a decreasing grid
    ratios = jnp.where(steps[:-1] > 0, steps[1:] / jnp.where(steps[:-1] > 0, steps[:-1], 1.0), 0.0)
    return jnp.concatenate([jnp.zeros((min(2, lambdas.shape[0]),), lambdas.dtype),
                            jnp.clip(ratios, 0.0, 1.0)])
