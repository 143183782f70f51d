"""How the solver's loops are shaped for the backend they run on.

On XLA:GPU a ``lax.while_loop`` whose trip count XLA cannot infer copies its condition
to the host and waits for it before every pass (``WhileThunk::ExecuteOnStream`` in
openxla/xla, ``xla/backends/gpu/runtime/while_thunk.cc``: a ``Memcpy`` of the predicate,
then ``BlockHostUntilDone``); a loop of known trip count runs its body without either.
A ``lax.cond`` reads its predicate on the host too. An iteration of FISTA tests its own
loop's condition once and the backtracking search's at least twice (before its first
trial and after its last), and the batched solver's iteration adds two ``lax.cond``, so
an accelerator waits on the host at least 3 times per iteration of one solve and 5 times
per iteration of a batch. The ``"fixed"`` shape removes those waits:

- the backtracking search tries :data:`FIXED_TRIALS` step sizes at once (``gamma0 * 2**k``,
  k < trials): their forward products are one product of X with the stacked trial
  coefficients (``trials * T`` columns), which on memory-bound hardware costs about what
  one product costs. The first accepted trial is taken, which is the step the
  one-at-a-time search takes; when none is accepted the iteration takes no step and the
  next search starts where this one stopped (``gamma0 * 2**trials``), so each solve's
  iterates are those of the one-at-a-time search (up to the rounding of the stacked
  product), with a pass of the loop spent on the way (not counted in ``n_iter``). In a
  batch, problems working ahead at their next lambda (:mod:`.batched`) keep stepping
  during another problem's passes without a step, so the warm starts they reach, not the
  results at the current lambda, can differ between the shapes;
- FISTA runs in chunks of :data:`FIXED_CHUNK` iterations, a loop of known trip count
  whose iterations after the stopping rule is met change nothing; the rule is read by the
  host once per chunk;
- the batched solver selects with ``jnp.where`` where the adaptive shape branches with
  ``lax.cond``.

On the CPU the loop condition lives in host memory already, and computing the extra
trials and selecting whole loop states each iteration would cost time, so the CPU keeps
the ``"adaptive"`` shape: a do-while search, a convergence test every iteration and
conditionals that skip work. The shape is chosen where a program is traced, from
``jax.default_backend()``, not from the device a program runs on: a CPU device asked for
on a GPU host (``devices=jax.devices("cpu")``) runs the fixed shape. The environment
variable ``MTLCOMB_JAX_LOOPS`` (``adaptive`` or ``fixed``) overrides the choice for
programs traced afterwards (``tests/test_loops.py`` sets it in a fresh process to check
the fixed shape's compiled programs on the CPU), and :func:`shape_for` sets it for a
block.
"""
from __future__ import annotations

import contextlib
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp

#: FISTA iterations between two reads of the stopping rule by the host ("fixed" shape).
#: At most FIXED_CHUNK - 1 iterations are computed and discarded per solve: a larger chunk
#: waits on the host less often and discards more.
FIXED_CHUNK = 16
#: Step sizes each backtracking search tries together ("fixed" shape): inverse steps
#: gamma0 to 8 gamma0 (the certified rules start from a step slightly longer than the last
#: accepted one, ``fista._STEP_RELAX``). A search that needs more doublings takes further
#: passes of the loop; more trials cost more of the stacked product's columns.
FIXED_TRIALS = 4
SHAPES = ("adaptive", "fixed")


class LoopShape(NamedTuple):
    """chunk: FISTA iterations per convergence test; trials: step sizes per backtracking
    search computed together (0: one at a time, in a do-while loop); select: the batched
    solver selects with ``jnp.where`` instead of branching."""
    chunk: int
    trials: int
    select: bool


ADAPTIVE = LoopShape(chunk=1, trials=0, select=False)
FIXED = LoopShape(chunk=FIXED_CHUNK, trials=FIXED_TRIALS, select=True)


def default_shape(platform: str) -> str:
    """The loop shape a backend runs by default: "adaptive" on the CPU, else "fixed"."""
    return "adaptive" if platform == "cpu" else "fixed"


def shape_name(platform: str | None = None) -> str:
    """The name of the loop shape programs traced now take: ``MTLCOMB_JAX_LOOPS`` when set,
    else the default of ``platform`` (default: JAX's default backend, :func:`default_shape`)."""
    name = os.environ.get("MTLCOMB_JAX_LOOPS", "").strip().lower()
    if name and name not in SHAPES:
        raise ValueError(f"MTLCOMB_JAX_LOOPS={name!r} is not a loop shape; set it to one of {SHAPES}, or unset it "
                         "for the backend's default.")
    return name or default_shape(platform or jax.default_backend())


def loop_shape() -> LoopShape:
    """The loop shape for programs traced now (:func:`shape_name`)."""
    return FIXED if shape_name() == "fixed" else ADAPTIVE


@contextlib.contextmanager
def shape_for(platform: str):
    """Trace programs inside the block with ``platform``'s loop shape (:func:`shape_name`:
    ``MTLCOMB_JAX_LOOPS`` still wins when set), e.g. to time the CPU beside an accelerator
    in one process. The shape is read when a program is traced, so JAX's caches are cleared
    on entry and exit. Yields the shape's name."""
    previous = os.environ.get("MTLCOMB_JAX_LOOPS")
    name = shape_name(platform)
    os.environ["MTLCOMB_JAX_LOOPS"] = name
    jax.clear_caches()
    try:
        yield name
    finally:
        if previous is None:
            os.environ.pop("MTLCOMB_JAX_LOOPS", None)
        else:
            os.environ["MTLCOMB_JAX_LOOPS"] = previous
        jax.clear_caches()


def select(predicate, new, old):
    """``new`` where the scalar ``predicate`` holds, else ``old`` (pytrees of one structure),
    without a branch."""
    return jax.tree.map(lambda a, b: jnp.where(predicate, a, b), new, old)


def while_loop(running, step, state, shape: LoopShape):
    """``lax.while_loop(running, step, state)`` in ``shape``: with chunks, each pass of the
    loop is ``shape.chunk`` steps in a loop of known trip count, the steps after
    ``running`` turns False changing nothing, so the host reads ``running`` once a chunk."""
    if shape.chunk == 1:
        return jax.lax.while_loop(running, step, state)

    def chunk(state):
        return jax.lax.fori_loop(0, shape.chunk, lambda _, s: select(running(s), step(s), s), state)
    return jax.lax.while_loop(running, chunk, state)
