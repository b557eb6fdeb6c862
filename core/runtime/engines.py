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
"""

from __future__ import annotations

import abc
import contextlib
import itertools
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from core.errors import PipelineError, TaskError
from core.progress import Progress
from core.runtime import _pycompss, context
from core.runtime.parameter import TaskDefinitionError
from core.runtime.taskdef import TaskDef, make_task_error, pick, run_task, task_def

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
        env = os.environ.get("VIZPIPE_WORKERS", "").strip()
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
        name = os.environ.get("VIZPIPE_ENGINE", "").strip().lower() or None
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


# --------------------------------------------------------------------------- helpers


def _flat_futures(obj: Any, is_future: Callable[[Any], bool], out: list[Any],
                  substitute: Callable[[Any], Any] | None = None, depth: int = 0) -> None:
    """Collect futures in ``obj``, recursing into lists, tuples, sets and dict values."""
    if substitute is not None:
        obj = substitute(obj)
    if is_future(obj):
        out.append(obj)
    elif depth < 64 and isinstance(obj, (list, tuple, set, frozenset)):
        for x in obj:
            _flat_futures(x, is_future, out, substitute, depth + 1)
    elif depth < 64 and isinstance(obj, dict):
        for x in obj.values():
            _flat_futures(x, is_future, out, substitute, depth + 1)


def _rebuild(obj: Any, is_future: Callable[[Any], bool], values: dict[int, Any],
             substitute: Callable[[Any], Any] | None = None, depth: int = 0) -> Any:
    """``obj`` with each future replaced by ``values[id(future)]``, containers copied."""
    if substitute is not None:
        obj = substitute(obj)
    if is_future(obj):
        return values[id(obj)]
    if depth >= 64:
        return obj
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = [_rebuild(x, is_future, values, substitute, depth + 1) for x in obj]
        if isinstance(obj, list):
            return items if type(obj) is list else type(obj)(items)
        if isinstance(obj, tuple) and hasattr(obj, "_fields"):
            return type(obj)(*items)
        return type(obj)(items)
    if isinstance(obj, dict):
        new = {k: _rebuild(v, is_future, values, substitute, depth + 1) for k, v in obj.items()}
        if type(obj) is dict:
            return new
        try:
            copy = obj.copy()
            copy.update(new)
            return copy
        except (AttributeError, TypeError):
            return new
    return obj


def _tdef(wrapper: Any) -> TaskDef:
    tdef = task_def(wrapper)
    if tdef is None:
        raise TaskDefinitionError(f"{wrapper!r} is not a @task function")
    return tdef


def _one_or_list(values: list[Any]) -> Any:
    # compss_wait_on(x) returns x's value; compss_wait_on(a, b) a list
    return values[0] if len(values) == 1 else values


def _norm(path: Any) -> str | None:
    try:
        return os.path.abspath(os.fspath(path))
    except TypeError:  # a future or something else that is not a path (yet)
        return None


def _delete_path(path: str) -> bool:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
        return not os.path.exists(path)
    try:
        os.remove(path)
        return True
    except FileNotFoundError:
        return False


# --------------------------------------------------------------------------- engines


class Engine(abc.ABC):
    """Where tasks run. Obtain one with :func:`use_engine` (or :func:`current_engine`)."""

    name = "engine"

    def __init__(self, label: str = "vizpipe", workers: int = 1,
                 progress: bool | None = None) -> None:
        self.label = label
        self.workers = workers
        self._progress_enabled = progress
        self._progress: Progress | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label!r} workers={self.workers}>"

    @property
    def progress(self) -> Progress:
        if self._progress is None:
            self._progress = Progress(0, self.label, enabled=self._progress_enabled)
        return self._progress

    def _check_open(self) -> None:
        if self._closed:
            raise PipelineError(f"the {self.name} engine {self.label!r} is closed: call tasks "
                                f"inside its use_engine block")

    @abc.abstractmethod
    def submit(self, wrapper: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Run or schedule one call of a task; what the call returns."""

    @abc.abstractmethod
    def wait_on(self, *objs: Any, **kwargs: Any) -> Any:
        """As ``compss_wait_on``: values for futures, recursing into lists and dicts."""

    def wait_on_file(self, *paths: Any) -> None:
        """As ``compss_wait_on_file``: wait until the tasks writing ``paths`` are done."""
        return None

    def delete_file(self, *paths: Any) -> bool | list[bool]:
        """As ``compss_delete_file``: wait for the tasks using each path, then delete it."""
        done = [_delete_path(p) for p in map(_norm, paths) if p is not None]
        return _one_or_list(done) if done else False

    def barrier(self, no_more_tasks: bool = False) -> None:
        """As ``compss_barrier``: wait for every task submitted so far."""
        if self._progress is not None:
            self._progress.flush()

    def group(self, name: str, implicit_barrier: bool = True) -> contextlib.AbstractContextManager:
        """The context manager behind :class:`core.runtime.TaskGroup`."""
        return contextlib.nullcontext()

    def barrier_group(self, name: str) -> None:
        """As ``compss_barrier_group``: wait for the tasks of a named group."""
        return None

    def start(self) -> float:
        """Start workers now rather than at the first task; the seconds it took."""
        return 0.0

    def close(self, wait: bool = True) -> None:
        """Wait for outstanding tasks (``wait``) or cancel them; release the workers."""
        try:
            if wait and not self._closed:
                self.barrier()  # prints the final progress line
        finally:
            self._closed = True  # on an abort, the error line is the last word: no progress


class SerialEngine(Engine):
    """Runs each task at its call, in-process; returns values, raises TaskError at once."""

    name = "serial"

    def __init__(self, label: str = "vizpipe", progress: bool | None = None) -> None:
        super().__init__(label=label, workers=1, progress=progress)

    def submit(self, wrapper: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        tdef = _tdef(wrapper)
        self._check_open()
        prog = self.progress
        prog.add_total(1)
        for attempt in range(tdef.retries + 1):
            try:
                result = run_task(wrapper, args, kwargs)
            except TaskError:
                if attempt < tdef.retries:
                    continue
                prog.advance(1, failed=1)
                raise
            break
        prog.advance(1)
        return result if tdef.n_returns else None

    def wait_on(self, *objs: Any, **kwargs: Any) -> Any:
        return _one_or_list(list(objs))


#: what current_engine() returns inside a running task (nested calls run in-process)
NESTED = SerialEngine(label="nested", progress=False)


def _pin_to(core: int) -> int:
    """Run in a worker: bind the process to one core (libraries that size their thread pools
    from the affinity mask, TBB in OpenVDB/USD among them, then use one thread)."""
    os.sched_setaffinity(0, {core})
    return core


def _pin_workers(client: Any) -> None:
    """One core per worker process when there are enough cores (like MPI rank binding): no
    oversubscription between workers. ``VIZPIPE_PIN=0`` turns it off."""
    if os.environ.get("VIZPIPE_PIN", "1") in ("0", "") or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    workers = sorted(client.scheduler_info().get("workers", {}))
    if not workers or len(workers) > len(cores):
        return
    for addr, core in zip(workers, cores, strict=False):
        client.run(_pin_to, core, workers=[addr])


class _DoneFuture:
    """A completed future for the in-process (workers=1) local engine."""

    __slots__ = ("key", "status", "_value", "_error", "__weakref__")

    def __init__(self, key: str, value: Any = None, error: BaseException | None = None) -> None:
        self.key = key
        self._value = value
        self._error = error
        self.status = "error" if error is not None else "finished"

    def done(self) -> bool:
        return True

    def result(self, timeout: float | None = None) -> Any:
        if self._error is not None:
            raise self._error
        return self._value

    def exception(self, timeout: float | None = None) -> BaseException | None:
        return self._error

    def add_done_callback(self, fn: Callable[[Any], Any]) -> None:
        fn(self)

    def __repr__(self) -> str:
        return f"<Future {self.status} key={self.key}>"


class _InlineBackend:
    """workers=1: run each task in-process when submitted; completed futures."""

    startup_s = 0.0

    @staticmethod
    def is_future(x: Any) -> bool:
        return isinstance(x, _DoneFuture)

    def submit(self, fn: Callable[..., Any], *args: Any, key: str, retries: int,
               priority: int) -> _DoneFuture:
        found: list[_DoneFuture] = []
        _flat_futures(args, self.is_future, found)
        failed = next((f for f in found if f.status != "finished"), None)
        if failed is not None:  # like dask: a dependent of a failed task fails with its error
            return _DoneFuture(key, error=failed.exception())
        if found:
            args = _rebuild(args, self.is_future, {id(f): f.result() for f in found})
        error: BaseException | None = None
        for _ in range(retries + 1):
            try:
                return _DoneFuture(key, value=fn(*args))
            except Exception as exc:
                error = exc
        return _DoneFuture(key, error=error)

    def wait(self, futures: list[Any]) -> None:
        return None

    def gather(self, futures: list[Any]) -> list[Any]:
        return [f.result() for f in futures]

    def start(self) -> float:
        return 0.0

    def close(self, cancel: bool) -> None:
        return None


class _DaskBackend:
    """workers>=2: a dask.distributed LocalCluster of single-threaded worker processes."""

    def __init__(self, workers: int, preload: tuple[str, ...] = ()) -> None:
        self.workers = workers
        self.preload = preload  # modules each worker imports as it starts
        self.client: Any = None
        self.cluster: Any = None
        self.startup_s: float | None = None
        self._lock = threading.Lock()
        from distributed import Future

        self._future_type = Future

    def is_future(self, x: Any) -> bool:
        return isinstance(x, self._future_type)

    def start(self) -> float:
        with self._lock:
            if self.client is None:
                from core.deps import require

                require("distributed")
                import dask
                from distributed import Client, LocalCluster

                t0 = time.perf_counter()
                self.memory_limit = worker_memory_limit()
                # the limit only stops a runaway worker: no pausing or spilling (a task here
                # holds no dask data, and a paused worker whose heap keeps its pages would
                # never take the next task)
                with dask.config.set({"distributed.worker.memory.target": False,
                                      "distributed.worker.memory.spill": False,
                                      "distributed.worker.memory.pause": False,
                                      "distributed.worker.memory.terminate": 0.95}):
                    self.cluster = LocalCluster(
                        n_workers=self.workers, threads_per_worker=1, processes=True,
                        dashboard_address=":0", scheduler_kwargs={"dashboard": False},
                        silence_logs=logging.CRITICAL, memory_limit=self.memory_limit,
                        **({"preload": list(self.preload)} if self.preload else {}))
                self.client = Client(self.cluster, set_as_default=False)
                _pin_workers(self.client)
                self.startup_s = time.perf_counter() - t0
        return self.startup_s or 0.0

    def submit(self, fn: Callable[..., Any], *args: Any, key: str, retries: int,
               priority: int) -> Any:
        if self.client is None:
            self.start()
        return self.client.submit(fn, *args, key=key, pure=False, retries=retries,
                                  priority=priority)

    def wait(self, futures: list[Any]) -> None:
        if futures and self.client is not None:
            from distributed import wait

            with self.client.as_current(), contextlib.suppress(Exception):
                # cancelled futures raise here; callers read each future's status
                wait(futures)

    def gather(self, futures: list[Any]) -> list[Any]:
        return self.client.gather(futures) if futures else []

    def close(self, cancel: bool) -> None:
        with self._lock:
            client, cluster = self.client, self.cluster
            self.client = self.cluster = None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


def _error_of(fut: Any) -> TaskError:
    """The TaskError a failed future carries (other exceptions wrapped into one)."""
    name = str(fut.key).rsplit("-", 1)[0]
    if getattr(fut, "status", "") == "cancelled":
        return TaskError(name, "", "CancelledError: the task was cancelled")
    try:
        exc = fut.exception()
    except BaseException as e:  # CancelledError and the like
        exc = e
    if isinstance(exc, TaskError):
        return exc
    if type(exc).__name__ == "KilledWorker":  # its worker process died under it, each try
        from core.memory import task_memory_mb

        return TaskError(name, "", (
            f"its worker process died while running it (each of the tries); the usual cause "
            f"is memory: each task declares {task_memory_mb()} MB (VIZPIPE_MEMORY_BUDGET_MB "
            f"+ {_base_mb()} MB) and a worker is stopped at twice that; details in the run's "
            f"log"))
    return TaskError(name, "", f"{type(exc).__name__}: {exc}",
                     message=str(exc) if isinstance(exc, PipelineError) else "")


def _base_mb() -> int:
    from core.memory import TASK_BASE_MB

    return TASK_BASE_MB


def worker_memory_limit() -> int:
    """Bytes a local worker process may reach before it is stopped: twice what a task
    declares (:func:`core.memory.task_memory_mb`); the design bound is the declaration,
    this only stops a runaway."""
    from core.memory import task_memory_mb

    return 2 * task_memory_mb() * 2**20


def workers_that_fit(workers: int, available: int | None = None) -> int:
    """How many local workers of :func:`core.memory.task_memory_mb` each fit the memory
    available now, with the master's share (one more task) kept: at least 1."""
    from core.memory import task_memory_mb

    if available is None:
        try:
            import psutil

            available = int(psutil.virtual_memory().available)
        except Exception:  # no psutil, or no /proc: do not guess
            return workers
    each = task_memory_mb() * 2**20
    return max(1, min(int(workers), available // each - 1))


def _signature(err: TaskError) -> tuple[str, str, str]:
    return (err.name, err.inputs, err.original)


def _with_count(err: TaskError, n_failed: int, n_total: int) -> TaskError:
    """A copy of ``err`` whose message also says how many of the tasks waited on failed."""
    if n_total <= 1:
        return err
    return err.counted(f"{n_failed} of {n_total} tasks failed; first failure shown")


class LocalEngine(Engine):
    """Parallel tasks in local worker processes (dask.distributed); see the module doc."""

    name = "local"

    def __init__(self, workers: int = 2, label: str = "vizpipe",
                 progress: bool | None = None, preload: tuple[str, ...] = ()) -> None:
        super().__init__(label=label, workers=workers, progress=progress)
        self._backend: Any = (_InlineBackend() if workers == 1
                              else _DaskBackend(workers, tuple(preload)))
        self._lock = threading.RLock()
        self._seq = itertools.count()
        self._pending: dict[str, tuple[int, Any]] = {}  # key -> (seq, future): not yet counted
        self._failures: dict[str, tuple[int, Any]] = {}  # failed, not yet reported
        self._reported: set[tuple[str, str, str]] = set()
        self._writers: dict[str, Any] = {}  # path -> future of its last writer
        self._readers: dict[str, list[Any]] = {}  # path -> readers since that write
        self._paths_of: dict[str, list[str]] = {}  # key -> paths it reads or writes
        self._versions: dict[int, tuple[Any, Any]] = {}  # id(obj) -> (obj, future new version)
        self._groups: list[tuple[str, list[Any]]] = []  # open TaskGroups
        self._named: dict[str, list[Any]] = {}

    # -- lifecycle
    @property
    def started(self) -> bool:
        """Whether worker processes are running (never for workers=1)."""
        return getattr(self._backend, "client", None) is not None

    def start(self) -> float:
        self._check_open()
        return self._backend.start()

    def start_soon(self) -> None:
        """Start the worker processes in a background thread (they import the ``preload``
        modules while the caller reads its input); the first submit waits for them. A start
        that fails there is retried, and raises, at that submit."""
        if self.started or isinstance(self._backend, _InlineBackend):
            return

        def go() -> None:
            with contextlib.suppress(Exception):
                self._backend.start()

        threading.Thread(target=go, name="engine-start", daemon=True).start()

    def close(self, wait: bool = True) -> None:
        try:
            super().close(wait)
        finally:
            self._backend.close(cancel=not wait)
            with self._lock:
                self._pending.clear()
                self._writers.clear()
                self._readers.clear()
                self._paths_of.clear()
                self._versions.clear()

    # -- submitting
    def _substitute(self, obj: Any) -> Any:
        entry = self._versions.get(id(obj))
        return entry[1] if entry is not None and entry[0] is obj else obj

    def _path_args(self, tdef: TaskDef, bound: dict[str, Any]) -> list[tuple[str, bool, bool]]:
        out = []
        for spec in tdef.path_params:
            value = bound.get(spec.name)
            if value is None:
                continue
            values = value if spec.kind == "collection_file" and isinstance(
                value, (list, tuple)) else [value]
            for v in values:
                p = _norm(v)
                if p is not None:
                    out.append((p, spec.reads, spec.writes))
        return out

    def submit(self, wrapper: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        tdef = _tdef(wrapper)
        self._check_open()
        prog = self.progress
        split = bool(tdef.versioned_params)
        with self._lock:
            if self._versions:
                args = tuple(self._substitute(a) for a in args)
                kwargs = {k: self._substitute(v) for k, v in kwargs.items()}
            bound = tdef.bind(args, kwargs) if (tdef.path_params or split) else {}
            paths = self._path_args(tdef, bound) if tdef.path_params else []
            deps: list[Any] = []
            for p, _reads, writes in paths:
                w = self._writers.get(p)
                if w is not None and getattr(w, "status", "") != "finished":
                    deps.append(w)
                if writes:
                    deps.extend(r for r in self._readers.get(p, ())
                                if getattr(r, "status", "") != "finished")
            key = f"{tdef.name}-{uuid.uuid4().hex}"
            fut = self._backend.submit(run_task, wrapper, args, kwargs, deps or None, split,
                                       key=key, retries=tdef.retries,
                                       priority=1 if tdef.priority else 0)
            prog.add_total(1)
            seq = next(self._seq)
            self._pending[fut.key] = (seq, fut)
            for p, _reads, writes in paths:
                if writes:
                    self._writers[p] = fut
                    self._readers[p] = []
                else:
                    self._readers.setdefault(p, []).append(fut)
            if paths:
                self._paths_of[fut.key] = [p for p, _r, _w in paths]
            for _name, members in self._groups:
                members.append(fut)
            result = self._outputs(tdef, fut, bound, split)
        fut.add_done_callback(self._account)
        return result

    def _split(self, fut: Any, path: tuple[int, ...]) -> Any:
        return self._backend.submit(pick, fut, path, key=f"pick-{uuid.uuid4().hex}",
                                    retries=0, priority=1)

    def _outputs(self, tdef: TaskDef, fut: Any, bound: dict[str, Any], split: bool) -> Any:
        n = tdef.n_returns
        if not split:
            if n <= 1:
                return fut if n else None
            return tuple(self._split(fut, (i,)) for i in range(n))
        for j, spec in enumerate(tdef.versioned_params):
            obj = bound.get(spec.name)
            if obj is not None:
                self._versions[id(obj)] = (obj, self._split(fut, (1, j)))
        if n == 0:
            return None
        if n == 1:
            return self._split(fut, (0,))
        return tuple(self._split(fut, (0, i)) for i in range(n))

    # -- accounting (done-callbacks, also called after waits)
    def _account(self, fut: Any) -> None:
        with self._lock:
            entry = self._pending.pop(fut.key, None)
            if entry is None:
                return
            ok = fut.status == "finished"
            if not ok:
                self._failures[fut.key] = entry
            for p in self._paths_of.pop(fut.key, ()) if ok else ():
                # a finished writer/reader orders nothing any more: forget it (and let the
                # cluster free its result); failed writers stay for wait_on_file to report
                if self._writers.get(p) is fut:
                    del self._writers[p]
                readers = self._readers.get(p)
                if readers:
                    readers[:] = [r for r in readers if r is not fut]
        self.progress.advance(1, failed=0 if ok else 1)

    def _raise_first(self, failed: list[Any], n_total: int) -> None:
        errors = [_error_of(f) for f in failed]
        with self._lock:
            for f, err in zip(failed, errors, strict=True):
                self._failures.pop(f.key, None)
                self._reported.add(_signature(err))
        raise _with_count(errors[0], len(failed), n_total) from None

    # -- waiting
    def wait_on(self, *objs: Any, **kwargs: Any) -> Any:
        if not objs:
            return None
        is_future = self._backend.is_future
        subst = self._substitute if self._versions else None
        found: list[Any] = []
        _flat_futures(objs, is_future, found, subst)
        if not found:
            return _one_or_list(list(objs))
        unique = list({id(f): f for f in found}.values())
        self._backend.wait(unique)  # all of them: good siblings finish and keep their outputs
        for f in unique:
            if f.key in self._pending:
                self._account(f)
        if not self._pending and self._progress is not None:
            self._progress.flush()  # everything submitted is done: the final line now
        failed = [f for f in unique if f.status != "finished"]
        if failed:
            self._raise_first(failed, len(unique))
        values = dict(zip(map(id, unique), self._backend.gather(unique), strict=True))
        result = [_rebuild(o, is_future, values, subst) for o in objs]
        if subst is not None:
            with self._lock:  # the caller now holds the synchronised versions
                for obj in objs:
                    entry = self._versions.get(id(obj))
                    if entry is not None and entry[0] is obj:
                        del self._versions[id(obj)]
        return _one_or_list(result)

    def _wait_and_check(self, futures: list[Any]) -> None:
        if not futures:
            return
        unique = list({id(f): f for f in futures}.values())
        self._backend.wait(unique)
        for f in unique:
            self._account(f)
        failed = [f for f in unique if f.status != "finished"]
        if failed:
            self._raise_first(failed, len(unique))

    def wait_on_file(self, *paths: Any) -> None:
        with self._lock:
            futs = [self._writers[p] for p in map(_norm, paths) if p in self._writers]
        self._wait_and_check(futs)
        return None

    def delete_file(self, *paths: Any) -> bool | list[bool]:
        results = []
        for p in filter(None, map(_norm, paths)):
            with self._lock:
                users = [self._writers.pop(p)] if p in self._writers else []
                users += self._readers.pop(p, [])
            self._backend.wait(users)  # failures are reported by wait_on/barrier, not here
            for f in users:
                self._account(f)
            results.append(_delete_path(p))
        return _one_or_list(results) if results else False

    def barrier(self, no_more_tasks: bool = False) -> None:
        while True:
            with self._lock:
                snapshot = [f for _, f in self._pending.values()]
            if not snapshot:
                break
            self._backend.wait(snapshot)
            for f in snapshot:
                self._account(f)
        with self._lock:
            failures = sorted(self._failures.values(), key=lambda e: e[0])
            self._failures.clear()
        if self._progress is not None:
            self._progress.flush()
        errors = [(f, _error_of(f)) for _, f in failures]
        fresh = [(f, e) for f, e in errors if _signature(e) not in self._reported]
        if fresh:
            with self._lock:
                self._reported.update(_signature(e) for _, e in fresh)
            total = len(fresh)
            err = fresh[0][1]
            if total > 1:
                err = err.counted(f"{total} tasks failed; first failure shown")
            raise err from None

    @contextlib.contextmanager
    def group(self, name: str, implicit_barrier: bool = True) -> Iterator[None]:
        members: list[Any] = []
        entry = (name, members)
        with self._lock:
            self._groups.append(entry)
        ok = False
        try:
            yield
            ok = True
        finally:
            with self._lock:
                self._groups.remove(entry)
                if not implicit_barrier:  # kept for a later barrier_group(name)
                    self._named[name] = members
        if ok and implicit_barrier:
            self._wait_and_check(members)

    def barrier_group(self, name: str) -> None:
        with self._lock:
            members = list(self._named.get(name, []))
        self._wait_and_check(members)


class CompssEngine(Engine):
    """PyCOMPSs's own API: its runtime when launched, its sequential mode otherwise."""

    name = "compss"

    def __init__(self, label: str = "vizpipe", progress: bool | None = None) -> None:
        _pycompss.require()
        super().__init__(label=label, workers=1, progress=progress)
        self._api = _pycompss.module("api.api")
        self._decorated: dict[int, Any] = {}

    def _pycompss_function(self, tdef: TaskDef) -> Any:
        fn = self._decorated.get(id(tdef))
        if fn is None:
            fn = _pycompss.module("api.task").task(**_pycompss.translate(tdef.options))(tdef.fn)
            if tdef.binary:  # the order PyCOMPSs requires: ... container, binary, task
                fn = _pycompss.runtime_binary(**tdef.binary)(fn)
            if tdef.container:
                fn = _pycompss.runtime_container(**tdef.container)(fn)
            if tdef.constraints:
                fn = _pycompss.runtime_constraint(**tdef.constraints)(fn)
            if tdef.on_failure != tdef.options.get("on_failure", "RETRY") or tdef.defaults:
                fn = _pycompss.runtime_on_failure(tdef.on_failure, **tdef.defaults)(fn)
            self._decorated[id(tdef)] = fn
        return fn

    def submit(self, wrapper: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        tdef = _tdef(wrapper)
        self._check_open()
        fn = self._pycompss_function(tdef)
        prog = self.progress
        prog.add_total(1)
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            prog.advance(1, failed=1)
            raise make_task_error(tdef, args, kwargs, exc) from None
        prog.advance(1)
        return result

    def wait_on(self, *objs: Any, **kwargs: Any) -> Any:
        return self._api.compss_wait_on(*objs, **kwargs)

    def wait_on_file(self, *paths: Any) -> None:
        return self._api.compss_wait_on_file(*map(os.fspath, paths))

    def delete_file(self, *paths: Any) -> bool | list[bool]:
        return self._api.compss_delete_file(*map(os.fspath, paths))

    def barrier(self, no_more_tasks: bool = False) -> None:
        self._api.compss_barrier(no_more_tasks)
        super().barrier(no_more_tasks)

    def group(self, name: str, implicit_barrier: bool = True) -> contextlib.AbstractContextManager:
        return self._api.TaskGroup(name, implicit_barrier)

    def barrier_group(self, name: str) -> None:
        self._api.compss_barrier_group(name)
