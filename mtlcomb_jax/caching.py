"""Keep compiled programs on disk, so a new Python process does not compile them again.

A first fit of a small or mid-sized problem spends most of its time compiling. JAX can
store compiled programs in a directory and load them in later processes. Importing the
package switches that on (:func:`enable_default_cache`) in :func:`default_cache_directory`,
unless

- the environment variable ``MTLCOMB_JAX_CACHE`` is ``0`` (or ``false``, ``off``, ``no``),
- the process has set JAX's own ``jax_compilation_cache_dir`` already (the user's choice
  is kept), or
- the folder cannot be created or written (then nothing is cached and every fit runs as
  without a cache: a read-only home never fails a fit).

Several processes may share the folder: with ``filelock`` installed (a dependency) JAX
locks the folder around each read and write, and bounds its size (least recently used
programs are evicted beyond :data:`MAX_CACHE_BYTES`). :func:`enable_compilation_cache`
points the cache at another folder.
"""
from __future__ import annotations

import os
import pathlib
import tempfile

import jax

#: The environment variable that turns the default cache off (``0``, ``false``, ``off``, ``no``).
CACHE_VARIABLE = "MTLCOMB_JAX_CACHE"
#: Programs that take at least this long to compile are stored: the solvers (0.3 to 1 s;
#: ``python bench/bench_programs.py`` prints a working-set solver's compile time) and the
#: grid and fold-weight programs (0.05 to 0.15 s); the one-operation programs (under
#: 0.03 s) would cost a file read each for little gain. JAX logs every program's compile
#: time with ``jax.config.update("jax_log_compiles", True)``.
MIN_COMPILE_SECONDS = 0.05
#: Size bound of the default folder (JAX evicts the least recently used programs beyond it).
MAX_CACHE_BYTES = 2 * 2**30


def default_cache_directory() -> pathlib.Path:
    """``$XDG_CACHE_HOME/mtlcomb_jax/xla`` (``~/.cache/mtlcomb_jax/xla`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "mtlcomb_jax" / "xla"


def cache_switched_off() -> bool:
    """Whether ``MTLCOMB_JAX_CACHE`` turns the default cache off."""
    return os.environ.get(CACHE_VARIABLE, "1").strip().lower() in ("0", "false", "off", "no")


def _writable(path: pathlib.Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError:
        return False
    return True


def _point_cache_at(path: pathlib.Path, min_compile_seconds: float) -> None:
    jax.config.update("jax_compilation_cache_dir", str(path))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
    try:
        import filelock  # noqa: F401  (JAX locks the folder and evicts only with it)
    except ImportError:
        return
    if jax.config.jax_compilation_cache_max_size == -1:     # JAX's default: unbounded, unlocked
        jax.config.update("jax_compilation_cache_max_size", MAX_CACHE_BYTES)


def enable_default_cache() -> pathlib.Path | None:
    """Switch the persistent cache on in :func:`default_cache_directory` unless the
    environment, an earlier JAX setting or the folder says otherwise (see the module
    docstring). Returns the folder in use, or None. Never raises."""
    if cache_switched_off() or jax.config.jax_compilation_cache_dir:
        return None
    path = default_cache_directory()
    if not _writable(path):
        return None
    _point_cache_at(path, MIN_COMPILE_SECONDS)
    return path


def enable_compilation_cache(directory=None, *, min_compile_seconds=MIN_COMPILE_SECONDS) -> pathlib.Path:
    """Store programs that took at least ``min_compile_seconds`` to compile in ``directory``
    (default :func:`default_cache_directory`) and reuse them in later processes.

    The default folder is in use from the import on (see the module docstring); call this
    to use another one, before the first fit (JAX reads the setting when it first
    compiles). Returns the directory. The setting is JAX's and applies to the whole process.
    """
    if min_compile_seconds < 0:
        raise ValueError(f"min_compile_seconds={min_compile_seconds} must be >= 0.")
    path = pathlib.Path(directory) if directory is not None else default_cache_directory()
    if path.exists() and not path.is_dir():
        raise ValueError(f"directory={str(path)!r} is a file; pass a directory (it is created if missing).")
    path.mkdir(parents=True, exist_ok=True)
    _point_cache_at(path, min_compile_seconds)
    return path
