"""Checks of the scalar arguments every entry point takes, with messages that name the fix.

Each check takes the argument's name and value and returns the value in the form the
code below uses (a Python int, float or bool), or raises a ValueError that names the
argument, what it got and what to pass. Traced values (a user's ``jit``, ``vmap`` or
``grad`` around a solve) pass through unchecked: a check must never break a trace.
"""
from __future__ import annotations

import numbers

import jax
import numpy as np

#: Iteration counters are int32 in the compiled loops.
MAX_ITER_LIMIT = int(np.iinfo(np.int32).max)


def is_traced(value) -> bool:
    return isinstance(value, jax.core.Tracer)


def _describe(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def real_scalar(name, value, *, hint):
    """A finite real number as a float (from an int, float, NumPy or JAX scalar or a 0-d array)."""
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise ValueError(f"{name}={_describe(value)} must be a number; {hint}.")
    arr = np.asarray(value)
    if arr.ndim != 0 or arr.dtype.kind not in "iuf":
        kind = "complex" if arr.dtype.kind == "c" else f"shape {arr.shape}, dtype {arr.dtype}"
        raise ValueError(f"{name}={_describe(value)} must be one real number (got {kind}); {hint}.")
    number = float(arr)
    if not np.isfinite(number):
        raise ValueError(f"{name}={_describe(value)} is not finite; {hint}.")
    return number


def non_negative(name, value, *, dtype=None, hint=None):
    """A finite number >= 0, representable in ``dtype`` when given (traced values pass)."""
    if is_traced(value):
        return value
    hint = hint or "pass a finite number >= 0"
    number = real_scalar(name, value, hint=hint)
    if number < 0:
        raise ValueError(f"{name}={_describe(value)} is negative; {name} must be >= 0.")
    check_in_range(name, number, dtype)
    return number


def check_in_range(name, number, dtype):
    """ValueError when ``number`` overflows ``dtype`` (e.g. lam=1e39 in float32)."""
    if dtype is None:
        return
    limit = float(np.finfo(np.dtype(dtype)).max)
    if abs(number) > limit:
        raise ValueError(f"{name}={number:g} is beyond the range of {np.dtype(dtype).name} (largest {limit:.3g}); "
                         "rescale the problem (standardise X) or compute in float64 "
                         "(jax.config.update('jax_enable_x64', True)).")


def tolerance(name, value):
    """tol: None (the rule's default) or a finite number > 0."""
    if value is None or is_traced(value):
        return value
    number = real_scalar(name, value, hint="pass a small positive number such as 1e-6, or None for the default")
    if number <= 0:
        raise ValueError(f"{name}={_describe(value)} must be > 0 (a stopping rule met at 0 is never met); "
                         "pass a small positive number such as 1e-6, or None for the default.")
    return number


def integer(name, value, *, minimum, maximum=None, hint=None):
    """An int in [minimum, maximum]; integral floats (3.0) are accepted, 2.7 is not."""
    if is_traced(value):
        return value
    hint = hint or f"pass an integer >= {minimum}"
    if isinstance(value, (bool, np.bool_)) or value is None or isinstance(value, (str, bytes)):
        raise ValueError(f"{name}={_describe(value)} must be an integer; {hint}.")
    if isinstance(value, numbers.Integral):
        number = int(value)
    else:
        arr = np.asarray(value)
        if arr.ndim != 0 or arr.dtype.kind not in "iuf" or not np.isfinite(arr) or float(arr) != int(arr):
            raise ValueError(f"{name}={_describe(value)} must be an integer; {hint}.")
        number = int(arr)
    if number < minimum or (maximum is not None and number > maximum):
        upper = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name}={number} is out of range: it must be >= {minimum}{upper}; {hint}.")
    return number


def max_iterations(value):
    return integer("max_iter", value, minimum=1, maximum=MAX_ITER_LIMIT,
                   hint="pass a positive iteration cap such as 5000")


def seed(value):
    """A random seed: an integer >= 0."""
    return integer("seed", value, minimum=0, hint="pass a non-negative integer such as 0")


def flag(name, value):
    """A bool from True/False, a NumPy bool or the integers 0 and 1; anything else ("no",
    0.5, None) is refused."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and value in (0, 1):
        return bool(value)
    raise ValueError(f"{name}={_describe(value)} must be True or False.")


def choice(name, value, options):
    """One of ``options`` (strings)."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name}={_describe(value)} is unknown; use one of {tuple(options)}.")
    return value
