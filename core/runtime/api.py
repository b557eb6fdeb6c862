"""The calls outside tasks, mirroring ``pycompss.api.api``; each goes to the current engine."""

from __future__ import annotations

import os
from typing import Any

from core.runtime.context import current_engine

__all__ = ["wait_on", "wait_on_file", "barrier", "barrier_group", "delete_file", "TaskGroup"]


def wait_on(*objs: Any, **kwargs: Any) -> Any:
    """As ``compss_wait_on``: the values behind futures.

    Recurses into lists, tuples and dicts (returning copies with values in place of futures);
    one argument gives its value, several give a list. Under the local engine it waits for
    *every* future first, so independent tasks finish and keep their outputs, then raises the
    first failure as a :class:`core.errors.TaskError` (saying how many failed). An object a
    task declared INOUT/OUT comes back as its new version: ``obj = wait_on(obj)``.
    """
    return current_engine().wait_on(*objs, **kwargs)


def wait_on_file(*paths: str | os.PathLike) -> None:
    """As ``compss_wait_on_file``: wait for the tasks that write these paths (raise if failed)."""
    return current_engine().wait_on_file(*paths)


def barrier(no_more_tasks: bool = False) -> None:
    """As ``compss_barrier``: wait for every task submitted so far; raise an unseen failure."""
    current_engine().barrier(no_more_tasks)


def barrier_group(name: str) -> None:
    """As ``compss_barrier_group``: wait for the tasks of the TaskGroup called ``name``."""
    current_engine().barrier_group(name)


def delete_file(*paths: str | os.PathLike) -> bool | list[bool]:
    """As ``compss_delete_file``: once the tasks using each path are done, delete it.

    (PyCOMPSs's sequential mode deletes nothing; the runtime and our engines do.)
    """
    return current_engine().delete_file(*paths)


class TaskGroup:
    """As PyCOMPSs's ``TaskGroup``: ``with TaskGroup("frames"):`` names the tasks submitted
    inside; with ``implicit_barrier`` (the default) the block waits for them at its end and
    raises the first failure.
    """

    def __init__(self, group_name: str, implicit_barrier: bool = True) -> None:
        self.group_name = group_name
        self.implicit_barrier = implicit_barrier
        self._cm: Any = None

    def __enter__(self) -> TaskGroup:
        self._cm = current_engine().group(self.group_name, self.implicit_barrier)
        self._cm.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        cm, self._cm = self._cm, None
        return cm.__exit__(*exc)
