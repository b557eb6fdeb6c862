"""The task runtime: one decorator and a few calls, mirroring PyCOMPSs exactly.

::

    from core.runtime import task, wait_on, use_engine, FILE_OUT, COLLECTION_IN, Type, Depth

    @task(returns=1, out_path=FILE_OUT, frames={Type: COLLECTION_IN, Depth: 1})
    def build(in_path, out_path, frames, level): ...

    with use_engine("local", workers=2, label="assets"):
        futs = [build(a, b, fr, 0.5) for a, b, fr in jobs]
        results = wait_on(futs)

Engines (chosen at call time, so the decorator can run at import time):

* ``compss``: under ``runcompss``/``enqueue_compss`` (``pycompss`` importable and
  ``pycompss.util.context.CONTEXT.in_pycompss()`` true) ``task``, ``constraint``,
  ``on_failure``, ``container`` and ``binary`` *are* PyCOMPSs's decorators and the direction
  constants are PyCOMPSs's objects, fixed at import. Chosen explicitly where pycompss is
  installed but not launched, it routes calls through PyCOMPSs's sequential mode; without
  pycompss it raises
  :class:`core.errors.MissingDependencyError`.
* ``local``: dask.distributed worker processes (lazy start; in-process when workers=1).
* ``serial``: in-process, at the call; for debugging.

``@container`` over ``@binary`` over ``@task`` declares an executable run in a container image
under COMPSs; the local and serial engines run the executable on the host (see
:mod:`core.runtime.binary_local`), so the same graph runs everywhere. PyCOMPSs's
sequential mode raises ``NotInPyCOMPSsException`` for ``@container``, as PyCOMPSs does.

Default: ``VIZPIPE_ENGINE``, else compss under the runtime, else local; workers:
``VIZPIPE_WORKERS``, else the cores this process may use. See :mod:`core.runtime.engines`.
"""

from __future__ import annotations

from core.runtime import _pycompss
from core.runtime.api import TaskGroup, barrier, barrier_group, delete_file, wait_on, wait_on_file
from core.runtime.context import current_engine, in_task
from core.runtime.engines import (
    ENGINES,
    CompssEngine,
    Engine,
    LocalEngine,
    SerialEngine,
    default_workers,
    make_engine,
    resolve_engine_name,
    resolve_workers,
    use_engine,
)
from core.runtime.parameter import (
    COLLECTION_FILE_IN,
    COLLECTION_FILE_INOUT,
    COLLECTION_FILE_OUT,
    COLLECTION_IN,
    COLLECTION_INOUT,
    COLLECTION_OUT,
    DICTIONARY_IN,
    DICTIONARY_INOUT,
    DIRECTORY_IN,
    DIRECTORY_INOUT,
    DIRECTORY_OUT,
    FILE_IN,
    FILE_INOUT,
    FILE_OUT,
    IN,
    IN_DELETE,
    INOUT,
    OUT,
    Depth,
    Direction,
    Prefix,
    TaskDefinitionError,
    Type,
)
from core.runtime.taskdef import binary, constraint, container, on_failure, task

UNDER_COMPSS = _pycompss.under_runtime()

if UNDER_COMPSS:  # pragma: no cover - needs the COMPSs runtime
    import importlib as _importlib

    task = _pycompss.runtime_task  # type: ignore[assignment]  # noqa: F811
    constraint = _pycompss.runtime_constraint  # type: ignore[assignment]  # noqa: F811
    on_failure = _pycompss.runtime_on_failure  # type: ignore[assignment]  # noqa: F811
    container = _pycompss.runtime_container  # type: ignore[assignment]  # noqa: F811
    binary = _pycompss.runtime_binary  # type: ignore[assignment]  # noqa: F811
    _pm = _importlib.import_module("pycompss.api.parameter")
    for _name in ("IN", "OUT", "INOUT", "IN_DELETE", "FILE_IN", "FILE_OUT", "FILE_INOUT",
                  "DIRECTORY_IN", "DIRECTORY_OUT", "DIRECTORY_INOUT", "COLLECTION_IN",
                  "COLLECTION_OUT", "COLLECTION_INOUT", "COLLECTION_FILE_IN",
                  "COLLECTION_FILE_OUT", "COLLECTION_FILE_INOUT", "DICTIONARY_IN",
                  "DICTIONARY_INOUT", "Type", "Direction", "Depth", "Prefix"):
        if hasattr(_pm, _name):
            globals()[_name] = getattr(_pm, _name)

__all__ = [
    "task", "constraint", "on_failure", "container", "binary", "wait_on", "wait_on_file",
    "barrier", "barrier_group",
    "delete_file", "TaskGroup", "use_engine", "current_engine", "in_task", "Engine",
    "LocalEngine", "SerialEngine", "CompssEngine", "ENGINES", "make_engine",
    "resolve_engine_name", "resolve_workers", "default_workers", "TaskDefinitionError",
    "UNDER_COMPSS",
    "IN", "OUT", "INOUT", "IN_DELETE", "FILE_IN", "FILE_OUT", "FILE_INOUT", "DIRECTORY_IN",
    "DIRECTORY_OUT", "DIRECTORY_INOUT", "COLLECTION_IN", "COLLECTION_OUT", "COLLECTION_INOUT",
    "COLLECTION_FILE_IN", "COLLECTION_FILE_OUT", "COLLECTION_FILE_INOUT", "DICTIONARY_IN",
    "DICTIONARY_INOUT", "Type", "Direction", "Depth", "Prefix",
]
