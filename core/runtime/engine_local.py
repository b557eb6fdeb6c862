"""The local engine: parallel tasks in worker processes (dask.distributed), ordered by the
files they read and write as COMPSs orders them; see :mod:`core.runtime.engines`."""

from __future__ import annotations

import contextlib
import itertools
import threading
import uuid
from collections.abc import Iterator
from typing import Any

from core.errors import PipelineError, TaskError
from core.runtime.engine_base import Engine, _delete_path, _norm, _one_or_list, _tdef
from core.runtime.futures import _flat_futures, _rebuild
from core.runtime.local_backends import _DaskBackend, _InlineBackend
from core.runtime.taskdef import TaskDef, pick, run_task


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
