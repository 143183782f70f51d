"""Shape buckets: a problem's samples and features padded up to a few sizes, so that
datasets of about the same size run the same compiled programs, in the process and from
the persistent cache (:mod:`.caching`).

Padding samples carry weight 0, as the samples outside a fold do, and padding features are
zero columns: their gradient is zero, so their coefficients stay exactly zero, and
lambda_max, the objective, the dual point and every certificate are those of the
unpadded problem (up to the order of floating-point sums). A size is rounded up to the
next of eight steps per octave (:func:`padded_size`: at most 12.5 % more per dimension).

The padded copy is made on the host, where it compiles nothing, and only for designs of
at most :data:`MAX_PADDED_BYTES`: above that, compiling is a small share of a fit, and a
copy of X would count against its memory.
"""
from __future__ import annotations

import numpy as np

from .sharding import to_device
from .validation import is_traced

#: The largest padded design copied into a bucket (larger ones run at their own shape).
MAX_PADDED_BYTES = 64 * 2**20
#: Sizes up to this one share a single bucket.
SMALLEST_BUCKET = 16


def padded_size(size: int) -> int:
    """The bucket of ``size``: the smallest multiple of ``2**(e - 4)`` at or above it, where
    ``2**(e - 1) < size <= 2**e`` (eight buckets per octave), and at least
    :data:`SMALLEST_BUCKET`. 1,000 and 1,010 share 1,024; 200 and 205 share 208."""
    size = int(size)
    if size <= SMALLEST_BUCKET:
        return SMALLEST_BUCKET
    step = 1 << ((size - 1).bit_length() - 4)
    return -(-size // step) * step


def pad_problem(problem):
    """The :class:`~.objective.Problem` with X, y and weights padded to their buckets (X (n, p)
    or (T, n, p); y and weights (T, n)); the problem itself where it is traced, already in
    its buckets, or too large (:data:`MAX_PADDED_BYTES`). Results on the padded features
    are cut back with :func:`unpad_rows`."""
    X = problem.X
    n, p = X.shape[-2:]
    if any(is_traced(a) for a in (X, problem.y, problem.weights)):
        return problem
    n_b, p_b = padded_size(n), padded_size(p)
    padded_bytes = X.dtype.itemsize * n_b * p_b * int(np.prod(X.shape[:-2], dtype=np.int64))
    if (n_b, p_b) == (n, p) or padded_bytes > MAX_PADDED_BYTES:
        return problem
    return problem._replace(X=_zero_padded(X, X.shape[:-2] + (n_b, p_b)),
                            y=_zero_padded(problem.y, problem.y.shape[:-1] + (n_b,)),
                            weights=_zero_padded(problem.weights, problem.weights.shape[:-1] + (n_b,)))


def _zero_padded(array, shape):
    """``array`` with zeros after its entries up to ``shape``, made on the host and placed."""
    out = np.zeros(shape, array.dtype)
    out[tuple(slice(0, size) for size in array.shape)] = np.asarray(array)
    return to_device(out)


def pad_rows(array, n_rows: int):
    """``array`` (..., n_features, T) with zero rows up to n_rows (the array itself when it
    has them already)."""
    if array.shape[-2] == n_rows:
        return array
    return _zero_padded(array, array.shape[:-2] + (n_rows,) + array.shape[-1:])


def pad_samples(array, n_samples: int, fill):
    """``array`` (..., n) on the host padded with ``fill`` up to n_samples (a NumPy array)."""
    array = np.asarray(array)
    if array.shape[-1] == n_samples:
        return array
    out = np.full(array.shape[:-1] + (n_samples,), fill, array.dtype)
    out[..., :array.shape[-1]] = array
    return out


def unpad_rows(array, n_rows: int):
    """``array`` (..., n_padded, T) cut to its first n_rows rows, as a jax array made on the
    host (a slice compiled on the device would be a program per shape)."""
    if array.shape[-2] == n_rows:
        return array
    return to_device(np.asarray(array)[..., :n_rows, :])
