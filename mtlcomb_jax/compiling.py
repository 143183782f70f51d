"""How this package compiles its programs: ``jax.jit`` plus compiler options chosen for size.

Each program XLA:CPU compiles stays resident while it is cached. Measured on this
project's machine (jax 0.10.2, ``bench/bench_programs.py``):

- a working-set solver program (one restricted FISTA loop) holds about 35 MiB with
  XLA:CPU's default fusion emitters, which make every fused kernel its own module, and
  about 10 MiB with the older emitters (``xla_cpu_use_fusion_emitters=False``), at the
  same time per iteration;
- any program, even one eager ``jnp`` operation, holds about 1.5 MiB more.

So the package compiles with :data:`PROGRAM_OPTIONS` where the installed XLA accepts
them (later XLA releases may remove the older emitters; the options are then dropped
and everything still runs), and keeps small steps inside few programs rather than as
eager operations (each new shape of an eager operation is a program of its own).
The options only name XLA:CPU settings; other backends ignore them.
"""
from __future__ import annotations

import functools

import jax
import numpy as np

#: XLA compiler options for every program of this package (see the module docstring).
PROGRAM_OPTIONS = {"xla_cpu_use_fusion_emitters": False}


@functools.cache
def program_options() -> dict:
    """:data:`PROGRAM_OPTIONS` if this JAX and XLA accept them, else ``{}``.

    Probed once per process by compiling a one-operation program with them: older JAX
    has no ``compiler_options`` argument (TypeError) and an XLA without an option
    rejects it when compiling (JaxRuntimeError, a RuntimeError).
    """
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
        jitted = self._compiled_function()
        if jitted is self._plain:
            return jitted(*args, **kwargs)
        try:
            return jitted(*args, **kwargs)
        except ValueError as error:     # inside a jit, with concrete arguments only
            if "compiler_options" not in str(error):
                raise
            return self._plain(*args, **kwargs)

    def __getattr__(self, name):
        if name.startswith("__") or name in ("_fun", "_jit_kwargs", "_jitted", "_plain"):
            raise AttributeError(name)
        return getattr(self._compiled_function(), name)


def jit(fun=None, **jit_kwargs):
    """``jax.jit`` for this package: same arguments, compiled with :func:`program_options`.

    Use as ``@jit``, ``@jit(static_argnames=...)`` or ``jit(fun, ...)``.
    """
    if fun is None:
        return functools.partial(jit, **jit_kwargs)
    return _Program(fun, jit_kwargs)
