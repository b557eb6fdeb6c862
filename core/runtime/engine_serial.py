"""The serial engine: each task runs at its call, in-process (for debugging), and the engine
nested task calls run on inside a running task."""

from __future__ import annotations

from typing import Any

from core.errors import TaskError
from core.runtime.engine_base import Engine, _one_or_list, _tdef
from core.runtime.taskdef import run_task


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
