"""Which engine is active: a process-wide stack of ``use_engine`` blocks, plus a default.

Also the "inside a task" flag: a task that calls another task (or ``wait_on``) while it runs
on a worker, or in serial mode, runs it directly and in-process, as PyCOMPSs's workers do
without nesting enabled.
"""

from __future__ import annotations

import atexit
import contextvars
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.runtime.engines import Engine

_IN_TASK: contextvars.ContextVar[bool] = contextvars.ContextVar("vizpipe_in_task", default=False)
_LOCK = threading.RLock()
_STACK: list[Engine] = []
_DEFAULT: list[Engine] = []  # at most one: the engine used outside any use_engine block


def in_task() -> bool:
    """True while a task body runs (on a worker, or in-process for serial/inline engines)."""
    return _IN_TASK.get()


def push(engine: Engine) -> None:
    with _LOCK:
        _STACK.append(engine)


def pop(engine: Engine) -> None:
    with _LOCK:
        if engine in _STACK:
            # remove the innermost occurrence (blocks nest; threads may interleave)
            idx = len(_STACK) - 1 - _STACK[::-1].index(engine)
            del _STACK[idx]


def current_engine() -> Engine:
    """The engine tasks are submitted to now.

    The innermost ``use_engine`` block's engine; outside any block, a default engine made on
    first use from ``VIZPIPE_ENGINE``/``VIZPIPE_WORKERS`` (compss under the COMPSs runtime,
    else local) and closed when the interpreter exits. Inside a running task: a serial engine,
    so nested task calls run in-process.
    """
    from core.runtime import engines

    if _IN_TASK.get():
        return engines.NESTED
    with _LOCK:
        if _STACK:
            return _STACK[-1]
        if not _DEFAULT:
            eng = engines.make_engine(None, None, label="vizpipe")
            _DEFAULT.append(eng)
            atexit.register(_close_default)
        return _DEFAULT[0]


def _close_default() -> None:
    # like compss_stop at the end of an application: wait for the tasks still running
    import sys

    from core.errors import PipelineError

    with _LOCK:
        engines = list(_DEFAULT)
        _DEFAULT.clear()
    for eng in engines:
        try:
            eng.close(wait=True)
        except PipelineError as err:
            print(f"error: {err}", file=sys.stderr)
