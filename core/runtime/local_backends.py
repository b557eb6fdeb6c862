"""Where the local engine's tasks run: in-process (workers=1, completed futures) or on a
dask.distributed LocalCluster of single-threaded worker processes, pinned one per core; and
the memory each worker may use."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from core.runtime.futures import _flat_futures, _rebuild


def _pin_to(core: int) -> int:
    """Run in a worker: bind the process to one core (libraries that size their thread pools
    from the affinity mask, TBB in OpenVDB/USD among them, then use one thread)."""
    os.sched_setaffinity(0, {core})
    return core


def _pin_workers(client: Any) -> None:
    """One core per worker process when there are enough cores (like MPI rank binding): no
    oversubscription between workers. ``VIZPIPE_PIN=0`` turns it off."""
    from core.settings import env_text

    # set but empty, or 0: off (unset: on)
    if ("VIZPIPE_PIN" in os.environ and env_text("VIZPIPE_PIN") in ("0", "")) \
            or not hasattr(os, "sched_setaffinity"):
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
