"""Returning the C allocator's free blocks between lambdas (mtlcomb_jax.host_memory)."""
import platform
import subprocess
import sys

import numpy as np
import pytest

import jax.numpy as jnp

import mtlcomb_jax as mc
from mtlcomb_jax import host_memory
from problems import tasks_data

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


# In a fresh process, so that the blocks' layout does not depend on earlier tests.
_FRAGMENTED_HEAP = """
import numpy as np
from mtlcomb_jax import host_memory

def rss():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))

# Freeing a 16 MiB block raises glibc's mmap threshold above 4 MiB, so the 4 MiB blocks
# below come from the heap. Every other one is freed: the ones kept between them stop
# the freed ones from merging into the heap's top, so free() alone gives none back.
first = np.ones(16 * 2**20 // 8)
del first
blocks = [np.ones(4 * 2**20 // 8) for _ in range(48)]
kept = blocks[1::2]
freed = sum(block.nbytes for block in blocks[0::2])
del blocks
before = rss()
released = host_memory.release_free_blocks()
print(released, (before - rss()) / freed)
"""


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's; elsewhere release_free_blocks returns False")
def test_release_returns_freed_heap_blocks_to_the_system():
    out = subprocess.run([sys.executable, "-c", _FRAGMENTED_HEAP], capture_output=True, text=True, check=True)
    released, share = out.stdout.split()
    assert released == "True"
    assert float(share) > 0.9          # of the 96 MiB freed


def test_release_is_a_no_op_without_malloc_trim(monkeypatch):
    monkeypatch.setattr(host_memory, "_malloc_trim", lambda: None)
    assert host_memory.release_free_blocks() is False


def test_release_if_large_follows_size_and_switch(monkeypatch):
    calls = []
    monkeypatch.setattr(host_memory, "release_free_blocks", lambda: calls.append(1) or True)
    small = jnp.zeros((10, 10), jnp.float32)
    monkeypatch.setattr(host_memory, "RELEASE_MIN_BYTES", 401)
    assert host_memory.release_if_large(small) is False          # 400 bytes
    monkeypatch.setattr(host_memory, "RELEASE_MIN_BYTES", 400)
    assert host_memory.release_if_large(small) is True
    assert host_memory.release_if_large(np.zeros((10, 10), np.float32)) is True   # NumPy: host memory
    monkeypatch.setattr(host_memory, "RELEASE_BETWEEN_LAMBDAS", False)
    assert host_memory.release_if_large(small) is False
    assert len(calls) == 2


@pytest.mark.slow   # about 8 s
def test_screened_path_releases_after_each_lambda_and_results_do_not_change(monkeypatch):
    data = tasks_data(n_tasks=4, n=40, p=200, n_true=5, n_cls=2)
    common = dict(n_lambdas=6, lambda_min_ratio=0.05, screening=True, tol=1e-9)
    calls = []
    monkeypatch.setattr(host_memory, "release_free_blocks", lambda: calls.append(1) or True)
    monkeypatch.setattr(host_memory, "RELEASE_MIN_BYTES", 0)
    released = mc.fit_path(data, **common)
    assert len(calls) == 6
    monkeypatch.setattr(host_memory, "RELEASE_BETWEEN_LAMBDAS", False)
    kept = mc.fit_path(data, **common)
    assert len(calls) == 6
    np.testing.assert_array_equal(np.asarray(released.W), np.asarray(kept.W))
    mc.cross_validate(data, n_folds=3, **common)
    assert len(calls) == 6                                  # switched off for CV too
    monkeypatch.setattr(host_memory, "RELEASE_BETWEEN_LAMBDAS", True)
    mc.cross_validate(data, n_folds=3, **common)
    assert len(calls) == 12
