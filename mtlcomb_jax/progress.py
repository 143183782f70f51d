"""Progress bars for compiled paths and cross-validation.

The path and the folds stay one compiled computation: each finished lambda
calls ``jax.debug.callback(advance, n_iter)`` from inside the scan (:func:`tick`),
and ``advance`` moves whichever tqdm bar is open in :func:`progress_bar`. Under ``vmap``
(cross-validation) JAX runs the callback once per fold, and folds in host threads each
run their own path, so a CV bar counts ``n_folds * n_lambdas`` solves. The callback is a
module-level function, so
the compiled program does not depend on the bar object and is cached across
calls; programs with and without the callback are compiled separately
(``progress`` is a static argument). With working sets the loop over lambdas runs in
Python, which calls ``advance`` with each lambda's (K,) values of its K problems.
"""
from __future__ import annotations

import contextlib

import jax
import numpy as np

_open_bars = []


def advance(done):
    """Move the innermost open bar by ``done.size`` units; a no-op when none is open.

    The bar's clock restarts at its first unit: the time before it is compilation, and
    counted in the rate it would make the first estimate of the time left far too long.
    """
    if _open_bars:
        bar = _open_bars[-1]
        if bar.n == 0:
            bar.reset(total=bar.total)
        bar.update(int(np.size(done)))


def tick(done):
    """Traced code calls this with one value per finished unit (the scanned path passes
    each lambda's ``n_iter``).

    Passing a value that is batched under ``vmap`` is what makes every fold
    count: JAX hands the callback either one value per fold or all of them.
    """
    jax.debug.callback(advance, done)


@contextlib.contextmanager
def progress_bar(total, desc, unit, enabled):
    """Open a tqdm bar of ``total`` units while the body runs (nothing when not ``enabled``)."""
    if not enabled:
        yield
        return
    try:
        from tqdm.auto import tqdm
    except ImportError as err:
        raise ImportError("progress=True needs tqdm: pip install 'mtlcomb-jax[progress]' (or pass "
                          "progress=False)") from err
    bar = tqdm(total=total, desc=desc, unit=unit)
    _open_bars.append(bar)
    try:
        yield
    finally:
        # Callbacks may run asynchronously; wait for all of them before closing.
        jax.effects_barrier()
        _open_bars.remove(bar)
        bar.close()
