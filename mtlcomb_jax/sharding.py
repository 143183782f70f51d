"""Spreading a batch axis (folds, subsamples) over JAX devices, or over host threads.

The batch is split along its leading axis with a ``NamedSharding`` over a one-axis
``Mesh`` (:func:`spread_batch`), and each device runs the batched computation on its
own share (:func:`run_per_device`). The results do not depend on the device count beyond
rounding, except with working sets: there a problem that finishes a lambda early works
ahead at the next one until the other problems of its device finish, so the next
warm starts, and the solutions to within the solver's tol, depend on the devices.
Single-device runs skip the placement entirely. On a CPU, :func:`use_cpu_cores`
makes one device per core.

On one CPU device the batch runs in host threads instead, one per core
(``MTLCOMB_JAX_THREADS`` sets the count; 1 turns it off), and XLA:CPU runs the threads'
programs at the same time: :func:`run_rows` hands each thread one row at a time (a CV's
fold or a stability subsample), solved by a single problem's programs, the path's own
(:func:`~mtlcomb_jax.path.fit_path`), so that a CV after a path compiles almost nothing.
The CV with working sets on per-task X is the exception: its folds share one working
set, so they stay one batch (:func:`run_batch`) in one thread.
The solver's loops are bound by the latency of many small kernels, not by the cores:
the mixed 5-fold CV of ``bench/bench_first_call.py`` takes 1.92 s warm on 2 cores and
2.10 s pinned to one (``taskset``), so a second thread fills the second core; 3 or 5
threads for its 5 folds take no less than 2 (ad hoc, 2026-12-02; bench/README.md times the
threads against one). Unlike :func:`use_cpu_cores` this needs no setting before JAX starts,
and the threads share one copy of the data.
"""
from __future__ import annotations

import contextlib
import os
from concurrent.futures import ThreadPoolExecutor

import jax
import jax.numpy as jnp
import numpy as np


def use_cpu_cores(n_devices=None):
    """Give JAX one CPU device per core, so that :func:`~mtlcomb_jax.cross_validate` and
    :func:`~mtlcomb_jax.stability_selection` run their folds or subsamples on all cores at once.

    By default JAX sees a CPU as one device, and the folds then run in host threads, one
    per core (:func:`run_rows`). With one device per core each device runs its own
    folds' loops as a vmapped batch (:func:`run_per_device`) instead: on 2 cores the R
    tutorial's 10-fold CV then takes longer (``python bench/bench_tutorial.py`` times both). Single
    fits and paths still run on one device. The cost is memory: every device holds its
    own copy of the data (X), where the threads share one, so for data near the
    machine's memory keep one device, or pass ``devices=jax.devices()[:1]`` to the call
    that would spread.

    Call it right after ``import mtlcomb_jax``, before any JAX computation: JAX fixes its
    devices when it first runs something. It sets the ``jax_num_cpu_devices`` option
    (which overrides ``XLA_FLAGS=--xla_force_host_platform_device_count``).

    n_devices : int >= 1, default the number of cores this process may run on.
    Returns the number of CPU devices.
    """
    if n_devices is None:
        n_devices = host_cores()
    if isinstance(n_devices, bool) or not isinstance(n_devices, (int, np.integer)) or n_devices < 1:
        raise ValueError(f"n_devices={n_devices!r} must be a positive integer, or None for one device per core.")
    try:
        jax.config.update("jax_num_cpu_devices", int(n_devices))
    except RuntimeError as err:
        if len(jax.devices("cpu")) == n_devices:
            return int(n_devices)    # already so (a notebook cell run again): nothing to change
        raise RuntimeError("use_cpu_cores() came after JAX's first computation, when its devices are fixed: "
                           "call mtlcomb_jax.use_cpu_cores() right after importing mtlcomb_jax, or restart "
                           "Python (in a notebook, restart the kernel).") from err
    return int(n_devices)


BATCH = jax.sharding.PartitionSpec("batch")   #: the leading (problem) axis, split over the devices


def _devices_used(devices, batch_size):
    """(the devices a batch of batch_size rows uses, rows per device): the busiest device's
    share times the devices used covers the batch (see :func:`spread_batch`)."""
    devices = list(jax.local_devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices is empty; pass None (all local devices) or a list of JAX devices.")
    per_device = -(-batch_size // min(len(devices), batch_size))
    return devices[:-(-batch_size // per_device)], per_device


def spread_batch(arrays, devices, batch_size):
    """Pad a batch for :func:`run_per_device` and place it: ``(arrays, mesh)``.

    Each array's leading axis (batch_size rows) is padded with copies of its last row
    to the busiest device's share times the devices used, so that a batch that does not
    divide still uses them: 5 folds on 2 devices become 6 rows, 3 per device (sharding by
    a divisor of the batch would use one device). The padded rows repeat a real
    problem's work (progress bars count it too); callers drop results beyond
    ``batch_size``. ``devices`` defaults to all local ones; ``mesh`` is a one-axis
    (``"batch"``) Mesh, or None on one device (then nothing is padded or placed).
    """
    used, per_device = _devices_used(devices, batch_size)
    if len(used) == 1:
        return arrays, None
    size = len(used) * per_device
    if size > batch_size:
        arrays = tuple(jnp.concatenate([a, jnp.repeat(a[-1:], size - batch_size, axis=0)]) for a in arrays)
    mesh = jax.sharding.Mesh(np.array(used), ("batch",))
    placement = jax.sharding.NamedSharding(mesh, BATCH)
    return tuple(jax.device_put(a, placement) for a in arrays), mesh


def host_cores() -> int:
    """The number of cores this process may run on (its CPU affinity where the OS says)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def host_threads(devices, batch_size) -> int:
    """How many host threads :func:`run_rows` runs batch_size rows in: one per core
    (``MTLCOMB_JAX_THREADS`` when set), at most one per row, where the batch runs on one
    CPU device; else 1 (several devices, or an accelerator, which runs one program at a
    time anyway)."""
    used, _ = _devices_used(devices, batch_size)
    if len(used) > 1 or used[0].platform != "cpu":
        return 1
    setting = os.environ.get("MTLCOMB_JAX_THREADS", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"MTLCOMB_JAX_THREADS={setting!r} is not a thread count; set it to a positive "
                             "integer (1 runs each batch in one thread), or unset it for one thread per core.")
        threads = int(setting)
    else:
        threads = host_cores()
    return max(1, min(threads, batch_size))


def batch_rows(devices, batch_size) -> int:
    """The rows :func:`run_batch` pads a batch of batch_size rows to (progress bars count
    them all): the devices' equal shares times their number."""
    used, per_device = _devices_used(devices, batch_size)
    return batch_size if len(used) == 1 else len(used) * per_device


#: JAX's settings that a thread of :func:`run_rows` takes from its caller: JAX keeps them per
#: thread, and a context manager the caller entered (``with jax.enable_x64(True):``) would
#: not reach a new thread, which would trace the same program in float32.
_CALLERS_SETTINGS = (jax.enable_x64, jax.default_device, jax.default_matmul_precision, jax.numpy_dtype_promotion,
                     jax.numpy_rank_promotion)


def run_batch(call, arrays, devices, batch_size):
    """``call(rows, mesh)`` over a batch of batch_size rows, in one call on the devices.

    ``call`` computes on ``rows``, the batched ``arrays`` (leading axis) spread over the
    devices, with ``mesh`` as :func:`spread_batch` returns it; every array it returns has
    the rows as leading axis. Host threads are :func:`run_rows`'.

    Returns ``call``'s outputs as NumPy arrays (:func:`to_host`), cut to the batch's rows.
    """
    rows, mesh = spread_batch(tuple(arrays), devices, batch_size)
    return jax.tree.map(lambda leaf: leaf[:batch_size], to_host(call(rows, mesh)))


def run_rows(call, arrays, n_threads, *, keep_axis=False):
    """``call(*row)`` for each row of the batched ``arrays`` (leading axis), in n_threads host
    threads, each taking the next row when it is free, under the caller's JAX settings
    (:data:`_CALLERS_SETTINGS`). Nothing is padded: ``call`` sees one row at a time, without
    the batch axis (with ``keep_axis``, as a batch of one: the working sets' programs take
    a batch), so it can run the programs a single problem runs (cross-validation runs
    fit_path's, see :func:`~mtlcomb_jax.cv.cross_validate`).

    Returns ``call``'s outputs as NumPy arrays (:func:`to_host`), stacked over the rows in
    their order.
    """
    # Rows cut on the host: indexing a jax array eagerly compiles a program per shape.
    host = [np.asarray(a) for a in to_host(tuple(arrays))]
    rows = [tuple(to_device(a[i:i + 1] if keep_axis else a[i]) for a in host) for i in range(host[0].shape[0])]
    one_row = in_callers_settings(lambda row: to_host(call(*row)))
    with ThreadPoolExecutor(n_threads, thread_name_prefix="mtlcomb_jax") as pool:
        outputs = list(pool.map(one_row, rows))
    return jax.tree.map(lambda *leaves: np.stack(leaves), *outputs)


def in_callers_settings(fn):
    """``fn`` made to run, in whichever thread calls it, under the JAX settings of the thread
    that wraps it (:data:`_CALLERS_SETTINGS`)."""
    settings = [(state, state.value) for state in _CALLERS_SETTINGS]

    def wrapped(*args):
        with contextlib.ExitStack() as stack:
            for state, value in settings:
                stack.enter_context(state(value))
            return fn(*args)
    return wrapped


def run_per_device(batched_fn, mesh, in_specs=BATCH):
    """``batched_fn`` (already over a leading batch axis), with a ``mesh`` (see
    :func:`spread_batch`) run by each device on its own share of the batch (``shard_map``).

    Why not leave it to the sharded inputs: then a batched ``while_loop`` stays one loop
    over the whole batch, spread over the devices, and every iteration all-reduces "is
    any problem still running" across them; each device also keeps iterating until the
    slowest problem of the whole batch is done. Here each device runs its own loop over
    its own problems and never waits for the others (on the R tutorial's 10-fold CV with
    2 host devices, ``jax.profiler`` shows the all-reduces taking a large share of the
    one-loop run). ``in_specs``: :data:`BATCH` for batched arguments, ``PartitionSpec()``
    for replicated ones (a pytree prefix of the arguments); values that ``batched_fn``
    closes over are replicated. The outputs are all batched.
    """
    if mesh is None:
        return batched_fn
    return jax.shard_map(batched_fn, mesh=mesh, in_specs=in_specs, out_specs=BATCH, check_vma=False)


def vmap_per_device(fn, mesh):
    """``jax.vmap(fn)`` over the leading axis of every argument, each device of ``mesh`` on
    its own share (:func:`run_per_device`)."""
    return run_per_device(jax.vmap(fn), mesh)


def to_device(value, dtype=None):
    """``value`` as a jax array (of ``dtype`` when given) without compiling anything.

    ``jnp.asarray`` of a host array compiles a program for every new shape (JAX 0.10's
    ``stage``, and ``convert_element_type`` for a cast); ``jax.device_put`` of a NumPy
    array compiles none. Traced values and jax arrays of the dtype pass through jnp.
    """
    if isinstance(value, jax.core.Tracer) or (isinstance(value, jax.Array) and
                                              (dtype is None or value.dtype == np.dtype(dtype))):
        return jnp.asarray(value, dtype)
    return jax.device_put(np.asarray(value, dtype))


def to_host(tree):
    """NumPy copies of every array in ``tree``, in one wait for the device: every copy is
    started before the first is read (``jax.device_get``). Arrays that span other processes
    are gathered first, each in a collective (and a wait) of its own.

    In a multi-process run (``jax.distributed.initialize``) a batch sharded over
    all processes' devices is not addressable from one process; every process
    then receives the whole result.
    """
    from jax.experimental import multihost_utils

    def gather(leaf):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
        return leaf

    return jax.tree.map(np.asarray, jax.device_get(jax.tree.map(gather, tree)))
