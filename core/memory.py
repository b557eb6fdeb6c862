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
from dataclasses import dataclass

from core.settings import env, env_text

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
    if not env("VIZPIPE_MALLOC"):
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


#: per-task memory budget for data held at once (a window of time steps, a frame's arrays),
#: in MB (MiB), when ``VIZPIPE_MEMORY_BUDGET_MB`` is not set: two workers and the master stay
#: under 2 GB on a 20 x 400 x 800 regional run (issue #15)
DEFAULT_BUDGET_MB = 768
#: what a task process holds besides its data: the interpreter, numpy, netCDF4/HDF5, xarray,
#: dask, OpenVDB, USD (pxr), and the outputs being written (measured: 250-330 MB)
TASK_BASE_MB = 384
#: a frame task holds about this many copies of one time step (float32) at its peak: the
#: step as read, levels made uniform, the VDB's buffers, the isosurfaces' vertex arrays
#: (measured: 5.6x for a 250 MB step, with every output on)
FRAME_COPIES = 6
BUDGET_ENV = "VIZPIPE_MEMORY_BUDGET_MB"


def budget_set() -> bool:
    """Whether the budget was given (``VIZPIPE_MEMORY_BUDGET_MB``), not the default."""
    return bool(env_text(BUDGET_ENV))


def budget_bytes() -> int:
    """The per-task memory budget for data held at once: ``VIZPIPE_MEMORY_BUDGET_MB`` (MB),
    else DEFAULT_BUDGET_MB. Stages size their windows from it, never from the file."""
    return int(env(BUDGET_ENV, DEFAULT_BUDGET_MB)) * 2**20


def task_memory_mb() -> int:
    """What each conversion task declares (``@constraint(memory_size=...)`` under COMPSs, the
    per-worker limit of the local engine): TASK_BASE_MB + the budget."""
    return TASK_BASE_MB + budget_bytes() // 2**20


def task_memory_gb() -> str:
    """:func:`task_memory_mb` as COMPSs's ``memory_size`` takes it: GB, a string ("1.1")."""
    return f"{task_memory_mb() / 1024:.1f}"


def frame_need_bytes(frame_values: int, itemsize: int = 4) -> int:
    """Memory a frame task needs for one time step of ``frame_values`` values."""
    return FRAME_COPIES * int(frame_values) * max(int(itemsize), 4)


@dataclass(frozen=True)
class WindowPlan:
    """How a particle batch holds the winds: ``steps`` time steps in its window, the next
    ones read ahead (``prefetch``) or not, under ``budget`` bytes; ``step_bytes`` is what
    one step costs while it is read (the values as read plus packed for the kernel)."""

    steps: int
    prefetch: bool
    budget: int
    step_bytes: int
    whole: bool  # every step in one read (a small field)


def wind_window_plan(nz: int, ny: int, nx: int, ncomp: int, nt: int,
                     read_itemsize: int = 4) -> WindowPlan:
    """The window of a particle batch under the per-task budget (:func:`budget_bytes`).

    One step costs its values as read (``ncomp`` arrays of ``read_itemsize`` bytes) plus the
    kernel's packed copy (4 float32 per node); the budget also holds one packed step for the
    streamlines' frozen winds. All ``nt`` steps in one read when they fit (a city box with
    thousands of steps); else a window of ``steps`` with the ``steps - 1`` after it read
    ahead (``2 * steps - 1`` held), when at least 3 fit; else the two that bracket the
    current time, read when needed."""
    nodes = int(nz) * int(ny) * int(nx)
    packed = nodes * 16
    per_step = packed + nodes * int(ncomp) * int(read_itemsize)
    budget = budget_bytes()
    if nt * per_step + packed <= budget:
        return WindowPlan(max(int(nt), 1), False, budget, per_step, True)
    fit = max(0, (budget - packed) // per_step)
    if fit >= 3:
        return WindowPlan(int((fit + 1) // 2), True, budget, per_step, False)
    return WindowPlan(2, False, budget, per_step, False)
