"""The :class:`Engine` interface every engine implements, and helpers they share."""

from __future__ import annotations

import abc
import contextlib
import os
import shutil
from typing import Any

from core.errors import PipelineError
from core.progress import Progress
from core.runtime.parameter import TaskDefinitionError
from core.runtime.taskdef import TaskDef, task_def


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
