"""The compss engine: PyCOMPSs's own API, its runtime when launched, its sequential mode
otherwise."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from core.runtime import _pycompss
from core.runtime.engine_base import Engine, _tdef
from core.runtime.taskdef import TaskDef, make_task_error


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
