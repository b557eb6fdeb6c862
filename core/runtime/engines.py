"""The engines behind ``@task``: serial, local (dask.distributed) and compss.

* ``serial``: every call runs at once, in-process; values, not futures; a failure raises
  TaskError at the call. For debugging (pdb, prints, profilers).
* ``local``: a dask.distributed ``LocalCluster(n_workers=N, threads_per_worker=1,
  processes=True)``, started lazily by the first task submitted (a block that submits
  nothing starts nothing) and shut down at the end of the ``use_engine`` block. Calls return
  dask futures; futures passed as arguments, also inside lists, tuples and dicts, are resolved
  by dask. Tasks writing and reading the same paths (FILE_*, DIRECTORY_*,
  COLLECTION_FILE_*) are ordered as COMPSs orders them. With ``workers=1`` no cluster is
  started: tasks run in-process as they are submitted, but calls still return (completed)
  futures and failures still surface at ``wait_on``, so code behaves as with N workers.
* ``compss``: PyCOMPSs's API. Under its runtime (runcompss/enqueue_compss) tasks are COMPSs
  tasks from decoration on. Where pycompss is installed but not launched, this engine routes
  every call through PyCOMPSs's own sequential mode. Without pycompss it raises
  MissingDependencyError.

This module is the import surface and the configuration (engine name and workers from the
arguments or the environment, :func:`make_engine`, :func:`use_engine`); the engines live in
:mod:`core.runtime.engine_base` (the interface), :mod:`~core.runtime.engine_serial`,
:mod:`~core.runtime.engine_local` (with :mod:`~core.runtime.local_backends`: in-process or
dask.distributed) and :mod:`~core.runtime.engine_compss`; :mod:`core.runtime.futures` walks
futures nested in arguments.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator

from core.errors import PipelineError
from core.runtime import _pycompss, context
from core.runtime.engine_base import Engine
from core.runtime.engine_compss import CompssEngine
from core.runtime.engine_local import LocalEngine
from core.runtime.engine_serial import NESTED as NESTED  # what current_engine() gives in a task
from core.runtime.engine_serial import SerialEngine
from core.runtime.local_backends import worker_memory_limit as worker_memory_limit
from core.runtime.local_backends import workers_that_fit as workers_that_fit

__all__ = ["Engine", "SerialEngine", "LocalEngine", "CompssEngine", "ENGINES", "make_engine",
           "resolve_engine_name", "resolve_workers", "default_workers", "use_engine"]

_log = logging.getLogger("vizpipe.runtime")

ENGINES = ("local", "serial", "compss")


# --------------------------------------------------------------------------- configuration


def default_workers() -> int:
    """Cores this process may use (``os.sched_getaffinity``), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def resolve_workers(workers: int | str | None = None) -> int:
    """``workers``, else ``VIZPIPE_WORKERS``, else :func:`default_workers`; checked >= 1."""
    source = "workers"
    if workers is None:
        from core.settings import env_text

        env = env_text("VIZPIPE_WORKERS").strip()
        if not env:
            return default_workers()
        workers, source = env, "VIZPIPE_WORKERS"
    try:
        n = int(workers)
    except (TypeError, ValueError):
        raise PipelineError(f"{source}={workers!r}: expected a whole number >= 1") from None
    if n < 1:
        raise PipelineError(f"{source}={workers!r}: expected a whole number >= 1")
    return n


def resolve_engine_name(name: str | None = None) -> str:
    """``name``, else ``VIZPIPE_ENGINE``, else compss under the COMPSs runtime, else local."""
    source = "engine"
    if not name:
        from core.settings import env_text

        name = env_text("VIZPIPE_ENGINE").strip().lower() or None
        source = "VIZPIPE_ENGINE"
    if not name:
        return "compss" if _pycompss.under_runtime() else "local"
    if name not in ENGINES:
        raise PipelineError(f"{source}={name!r}: unknown engine; choose one of "
                            f"{', '.join(ENGINES)}")
    return name


def make_engine(name: str | None = None, workers: int | str | None = None,
                label: str | None = None) -> Engine:
    """A new, not yet started engine (see :func:`use_engine` for the arguments)."""
    name = resolve_engine_name(name)
    if _pycompss.under_runtime() and name != "compss":
        raise PipelineError(
            f"launched by runcompss/enqueue_compss, the tasks are COMPSs tasks: engine "
            f"{name!r} cannot run them; use the compss engine (or run with plain python)")
    label = label or "vizpipe"
    if name == "serial":
        return SerialEngine(label=label)
    if name == "compss":
        return CompssEngine(label=label)
    return LocalEngine(workers=resolve_workers(workers), label=label)


@contextlib.contextmanager
def use_engine(name: str | Engine | None = None, workers: int | str | None = None,
               label: str | None = None) -> Iterator[Engine]:
    """Run the tasks called inside the block on an engine; yields it.

    ``name`` is ``"local"``, ``"serial"`` or ``"compss"`` (default: ``VIZPIPE_ENGINE``, else
    compss under the COMPSs runtime, else local), or an existing :class:`Engine` to activate.
    ``workers`` (local engine; default ``VIZPIPE_WORKERS``, else the cores available) and
    ``label`` (the progress lines' prefix) apply to new engines.

    On a normal exit the block waits for every task it submitted (like ``compss_barrier``,
    raising the first failure nobody has seen yet), then shuts the engine down; when an
    exception leaves the block the engine is shut down at once, cancelling tasks still
    running. An engine passed in is activated but neither waited for nor closed.
    """
    own = not isinstance(name, Engine)
    engine: Engine = name if isinstance(name, Engine) else make_engine(name, workers, label)
    context.push(engine)
    try:
        yield engine
    except BaseException:
        context.pop(engine)
        if own:
            engine.close(wait=False)
        raise
    context.pop(engine)
    if own:
        engine.close(wait=True)
