"""Spreading a batch axis (folds, subsamples) over JAX devices.

Results do not depend on the device count: the batch is split along its
leading axis with a ``NamedSharding`` over a one-axis ``Mesh``, and XLA runs
each device's share of the vmapped computation. Single-device runs skip the
placement entirely.
"""
from __future__ import annotations

import jax
import numpy as np


def batch_devices(devices, batch_size):
    """The largest number of the given devices (default: all local ones) that divides batch_size."""
    devices = list(jax.local_devices() if devices is None else devices)
    if not devices:
        raise ValueError("devices is empty; pass None (all local devices) or a list of JAX devices.")
    count = max(d for d in range(1, len(devices) + 1) if batch_size % d == 0)
    return devices[:count]


def shard_leading_axis(arrays, devices, batch_size):
    """Place each array's leading (batch) axis across ``batch_devices(devices, batch_size)``."""
    used = batch_devices(devices, batch_size)
    if len(used) == 1:
        return arrays
    mesh = jax.sharding.Mesh(np.array(used), ("batch",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    return tuple(jax.device_put(a, sharding) for a in arrays)


def to_host(tree):
    """NumPy copies of every array in ``tree``, gathering arrays that span other processes.

    In a multi-process run (``jax.distributed.initialize``) a batch sharded over
    all processes' devices is not addressable from one process; every process
    then receives the whole result.
    """
    from jax.experimental import multihost_utils

    def fetch(leaf):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
        return np.asarray(leaf)

    return jax.tree.map(fetch, tree)
