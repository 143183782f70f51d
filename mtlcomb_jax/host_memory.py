"""Giving the C allocator's free blocks back to the system between lambdas (CPU, glibc).

On the CPU backend XLA's buffers come from the process's C allocator. glibc serves
blocks below its mmap threshold from its heaps, and each freed mmapped block raises
that threshold to its own size (up to 32 MiB). So the working-set loop's buffers
(gathered columns, gradients, K copies of W: a few to a few tens of MiB, a little
different in size from lambda to lambda) soon come from the heaps and stay there when
freed. The process's resident memory then keeps growing with blocks it no longer uses:
at the gene-expression benchmark's size (``python bench/bench_genomics.py``, X = 305 MiB) about 0.6 to 1.0 x X.

``malloc_trim(0)`` hands the whole free pages of every heap back (the blocks stay
usable; touching them again costs a page fault). :func:`release_free_blocks` calls it,
and the working-set path calls that after each lambda when its design is large
(:data:`RELEASE_MIN_BYTES`) and lives in host memory. At the gene-expression size
(``python bench/bench_genomics.py --separate``, run once with
:data:`RELEASE_BETWEEN_LAMBDAS` set to False by hand) the release lowered the peak growth
of a path plus 10-fold CV from 3.03 to 2.57 x X at the commit that measured it, for 1.1 s
of a 73.5 s run in its 200 calls (bench/README.md gives the current figures).

Where there is no glibc (macOS, Windows, musl) or no ``malloc_trim``, nothing happens.
On a GPU or TPU XLA allocates device memory itself, so nothing is released there.
"""
from __future__ import annotations

import ctypes
import functools
import sys

#: Designs at least this large (bytes) release free blocks after each lambda. On small
#: problems the heaps are small and a call would only add its own cost.
RELEASE_MIN_BYTES = 64 * 2**20

#: Set to False to never release (the process then keeps its free blocks, as without
#: this module).
RELEASE_BETWEEN_LAMBDAS = True


@functools.cache
def _malloc_trim():
    """glibc's ``malloc_trim`` as a ctypes function, or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_blocks() -> bool:
    """Return the C allocator's free pages to the system; True if that was possible."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def in_host_memory(array) -> bool:
    """Whether a JAX array's buffers are in host memory (the CPU backend)."""
    try:
        return all(device.platform == "cpu" for device in array.devices())
    except AttributeError:          # a NumPy array
        return True


def release_if_large(X) -> bool:
    """:func:`release_free_blocks` when ``X`` (any array) is at least :data:`RELEASE_MIN_BYTES`
    in host memory and releasing is on; True if it released."""
    if not RELEASE_BETWEEN_LAMBDAS or X.nbytes < RELEASE_MIN_BYTES:
        return False
    if not in_host_memory(X):
        return False
    return release_free_blocks()
