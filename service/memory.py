"""Giving memory back after a load: the process should return near its baseline once requests
end, not keep its peak (`make bench-memory` measures it).

Three holders of freed memory, each told to let go:
- ONNX Runtime's CPU arena: off by default (`Settings.ort_cpu_arena`, in the registry).
- glibc malloc: big blocks are always mmapped (a fixed threshold; glibc's default raises it
  after each free, after which big blocks come from heaps it never shrinks), few arenas, and
  `malloc_trim` when inference goes idle.
- Arrow's memory pool (the /datasets encoders): the system allocator, so the same rules apply.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time

log = logging.getLogger("rnngan.memory")

_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_MMAP_THRESHOLD = 1 << 20  # blocks of 1 MiB and more: mmapped, unmapped on free
_ARENA_MAX = 2
_TRIM_EVERY_S = 0.5

_libc: ctypes.CDLL | None = None
_lock = threading.Lock()
_last_trim = 0.0


def _glibc() -> ctypes.CDLL | None:
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        try:
            lib = ctypes.CDLL(name or "libc.so.6")
            lib.mallopt  # noqa: B018 - glibc only; musl and macOS have no mallopt/malloc_trim
            lib.malloc_trim  # noqa: B018
        except (OSError, AttributeError):
            return None
        _libc = lib
    return _libc


def tune_allocators() -> None:
    """Once, at start-up, before the worker threads exist."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)
        libc.mallopt(_M_ARENA_MAX, _ARENA_MAX)
    try:
        import pyarrow as pa

        pa.set_memory_pool(pa.system_memory_pool())
    except ImportError:  # pragma: no cover - pyarrow is in the serving set
        pass


def release_free_memory(force: bool = False) -> None:
    """Hand freed heap memory back to the OS (at most every half second unless `force`)."""
    global _last_trim
    libc = _glibc()
    if libc is None:
        return
    now = time.monotonic()
    with _lock:
        if not force and now - _last_trim < _TRIM_EVERY_S:
            return
        _last_trim = now
    libc.malloc_trim(0)
