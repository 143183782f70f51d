"""Compiling the working-set programs small: ``jax.jit`` plus compiler options chosen for size.

Every program XLA:CPU compiles stays resident while JAX caches it, and a path with working
sets compiles a solver per working-set size (and per batch of folds), about 15 at the
gene-expression benchmark's size. ``python bench/bench_programs.py`` measures, with
jax 0.10.2 on the CPU:

- a working-set solver program holds about 21 to 37 MiB with XLA:CPU's default fusion
  emitters (every fused kernel becomes a module of its own) and about 2 to 12 MiB with
  the older emitters (``xla_cpu_use_fusion_emitters=False``). At the gene-expression
  benchmark's size (2,048 columns, 20 tasks, n = 200) an iteration takes the same time
  both ways; on a tiny problem (512 columns, 6 tasks, n = 60) the older emitters take
  1.01 x the time per iteration, and the program holds 1.5 against 27.1 MiB
  (bench/README.md, "Compiled programs");
- any program, even one eager ``jnp`` operation on a new shape, holds about 1.2 to
  1.5 MiB more.

So :func:`compact_jit` compiles the programs that multiply (one per working-set size)
with :data:`PROGRAM_OPTIONS` where the installed XLA accepts them (later XLA releases
may remove the older emitters; the options are then dropped and everything still
runs), and the whole-path programs, compiled once, keep XLA's defaults. Small steps
between programs belong inside a program, not in eager operations. The options only
name XLA:CPU settings and are passed on the CPU backend only.
"""
from __future__ import annotations

import functools

import jax
import numpy as np

from .precision import full_precision

#: XLA compiler options for the working-set programs (see the module docstring).
PROGRAM_OPTIONS = {"xla_cpu_use_fusion_emitters": False}


@functools.cache
def program_options() -> dict:
    """:data:`PROGRAM_OPTIONS` if the default backend is the CPU and this JAX and XLA
    accept them, else ``{}``.

    They are XLA:CPU settings, measured there only: other backends compile with their
    defaults. Probed once per process by compiling a one-operation program with them:
    older JAX has no ``compiler_options`` argument (TypeError) and an XLA without an
    option rejects it when compiling (JaxRuntimeError, a RuntimeError).
    """
    if jax.default_backend() != "cpu":
        return {}
    try:
        jax.jit(lambda x: x + 1, compiler_options=PROGRAM_OPTIONS).lower(np.float32(0)).compile()
    except (TypeError, ValueError, RuntimeError):
        return {}
    return dict(PROGRAM_OPTIONS)


class _Program:
    """``jax.jit(fun, **jit_kwargs)`` with :func:`program_options`, made at the first use,
    so that importing the package neither starts a backend nor compiles anything (a
    multi-host job must call ``jax.distributed.initialize`` before either).

    JAX accepts compiler options only on a jit called outside any other jit. Called inside
    one (a tracer among the arguments, or JAX refusing the options), the same function
    without options runs instead: it becomes part of the caller's program, whose options
    are the caller's. Attributes (``lower``, ``trace``, ``clear_cache``, ...) are those of
    the function with options.
    """

    def __init__(self, fun, jit_kwargs):
        functools.update_wrapper(self, fun)
        fun = full_precision(fun)                 # as every program of the package (precision.py)
        self._fun = fun
        self._jit_kwargs = jit_kwargs
        self._jitted = None
        self._plain = jax.jit(fun, **jit_kwargs)

    def _compiled_function(self):
        if self._jitted is None:
            options = program_options()
            self._jitted = jax.jit(self._fun, **self._jit_kwargs, compiler_options=options) if options \
                else self._plain
        return self._jitted

    def __call__(self, *args, **kwargs):
        if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves((args, kwargs))):
            return self._plain(*args, **kwargs)
        try:
            return self._compiled_function()(*args, **kwargs)
        except ValueError as error:     # options refused: inside a jit, with concrete arguments only
            if "compiler_options" not in str(error):
                raise
            return self._plain(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_fun", "_jit_kwargs", "_jitted", "_plain"):
            raise AttributeError(name)
        return getattr(self._compiled_function(), name)


def compact_jit(fun=None, **jit_kwargs):
    """``jax.jit`` with :func:`program_options`: same arguments, programs compiled small.

    Use as ``@compact_jit``, ``@compact_jit(static_argnames=...)`` or ``compact_jit(fun, ...)``.
    """
    if fun is None:
        return functools.partial(compact_jit, **jit_kwargs)
    return _Program(fun, jit_kwargs)
