"""Allocator tuning for the frame tasks: keep large blocks in the heap instead of fresh pages.

A frame task allocates and frees arrays of tens of megabytes (a time step, its resampled
copy, masks, vertex buffers). glibc serves blocks above its mmap threshold with fresh
``mmap`` pages and returns them on ``free``: every such array is faulted in and zeroed by the
kernel again. Two workers doing that at once contend in the kernel's page allocator and for
memory bandwidth; that, not the computation, kept the climate frame stage at 1.3x on two
workers. Raising the threshold to glibc's maximum (32 MiB) and not trimming the heap lets
freed blocks be reused (2-worker stage 8.9 s -> 6.3 s; ``make bench``). Blocks above 32 MiB
(a 250 MB time step) are still mapped and unmapped, so peak memory stays bounded.

:func:`tune_malloc` calls ``mallopt`` through ctypes, once per process; it does nothing where
the C library is not glibc, or with ``VIZPIPE_MALLOC=0``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's ceiling for M_MMAP_THRESHOLD on 64-bit
TRIM_THRESHOLD = 1 << 30
TOP_PAD = 256 * 1024 * 1024

_done: bool | None = None


def tune_malloc() -> bool:
    """Apply the settings above to this process (idempotent); True if they are in effect."""
    global _done
    if _done is not None:
        return _done
    _done = False
    if os.environ.get("VIZPIPE_MALLOC", "1") == "0":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    _done = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                 and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
                 and mallopt(M_TOP_PAD, TOP_PAD))
    return _done


#: per-task memory budget for data held at once (a window of time steps), in MB
DEFAULT_BUDGET_MB = 1024


def budget_bytes() -> int:
    """The per-task memory budget for data held at once: ``VIZPIPE_MEMORY_BUDGET_MB`` (MB),
    else 1024 MB. Stages size their windows from it, never from the file."""
    from core.containers import env_int

    return env_int("VIZPIPE_MEMORY_BUDGET_MB", DEFAULT_BUDGET_MB) * 2**20


def window_steps(step_bytes: int, n_steps: int, minimum: int = 2) -> int:
    """How many time steps of ``step_bytes`` each fit the budget: all ``n_steps`` when they
    fit (one read), else as many as fit, and never fewer than ``minimum`` (the two steps
    that bracket the current time)."""
    fit = budget_bytes() // max(int(step_bytes), 1)
    return int(max(minimum, min(n_steps, fit)))
