"""Every contraction at the data's full precision, on every backend.

By default JAX lets float32 dot products run in reduced precision on accelerators:
TensorFloat-32 (10-bit mantissas) on recent NVIDIA GPUs and bfloat16 passes on TPUs
(JAX documentation, "Matmul precision", docs.jax.dev/en/latest/201/precision.html).
The solver's stopping rules compare duality gaps and objective changes of the order
of float32's own rounding, which 10-bit products cannot resolve: the rule is then
met late or never. Its products are matrix-vector shaped (T or K columns against X)
and bound by memory traffic, so full precision costs little time.

So every program the package compiles is traced under
``jax.default_matmul_precision("highest")`` (:func:`full_precision`), whatever the
user's global setting, and the backward pass of implicit differentiation too. On a
CPU, float32 products are computed in float32 anyway and nothing changes.
``tests/test_precision.py`` lowers the public entry points in float32 and checks
every dot of their programs.
"""
from __future__ import annotations

import functools

import jax

#: the precision every library contraction runs at (float32 products in float32)
PRECISION = "highest"


def full_precision(fun):
    """``fun`` traced with every dot product and einsum at :data:`PRECISION` (apply it
    under ``jax.jit``; the setting is read while tracing, so it holds inside a user's
    ``jit``, ``vmap`` or ``grad`` too)."""
    @functools.wraps(fun)
    def traced(*args, **kwargs):
        with jax.default_matmul_precision(PRECISION):
            return fun(*args, **kwargs)
    return traced


def jit(fun=None, **jit_kwargs):
    """``jax.jit`` of :func:`full_precision` (``fun``): the package's way to compile a
    program; usable as ``@jit`` or ``@partial(jit, static_argnames=...)``."""
    if fun is None:
        return functools.partial(jit, **jit_kwargs)
    return jax.jit(full_precision(fun), **jit_kwargs)
