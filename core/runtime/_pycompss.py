"""The thin PyCOMPSs layer: is it installed, are we under its runtime, translate declarations.

PyCOMPSs cannot be installed on our build machines (its sdist downloads COMPSs at install
time); on MareNostrum 5 it comes with ``module load COMPSs/3.4``. Everything here imports
``pycompss`` lazily, inside functions.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
from collections.abc import Callable
from typing import Any

from core.errors import MissingDependencyError
from core.runtime.parameter import check_param_names, to_pycompss

MISSING = ("the compss engine needs PyCOMPSs, which is not installed here: on MareNostrum "
           "run `module load COMPSs/3.4` (and launch with runcompss/enqueue_compss); "
           "elsewhere use --engine local or --engine serial")


def installed() -> bool:
    """Whether ``pycompss`` can be imported."""
    try:
        return importlib.util.find_spec("pycompss") is not None
    except (ImportError, ValueError):
        return False


@functools.lru_cache(maxsize=1)
def under_runtime() -> bool:
    """True when launched by ``runcompss``/``enqueue_compss`` (master or worker).

    ``pycompss.util.context.CONTEXT.in_pycompss()`` (PyCOMPSs 3.x); older releases have a
    module-level ``in_pycompss()``.
    """
    if not installed():
        return False
    try:
        ctx_mod = importlib.import_module("pycompss.util.context")
    except ImportError:
        return False
    ctx = getattr(ctx_mod, "CONTEXT", None)
    if ctx is not None and hasattr(ctx, "in_pycompss"):
        return bool(ctx.in_pycompss())
    fn = getattr(ctx_mod, "in_pycompss", None)
    return bool(fn()) if callable(fn) else False


def require() -> None:
    """Raise MissingDependencyError (one clear line) unless pycompss is importable."""
    if not installed():
        raise MissingDependencyError(MISSING)


def module(name: str) -> Any:
    """Import ``pycompss.<name>`` (after :func:`require`)."""
    require()
    return importlib.import_module(f"pycompss.{name}")


def translate(options: dict[str, Any]) -> dict[str, Any]:
    """Our direction aliases in @task keywords -> pycompss.api.parameter's, by name."""
    pm = module("api.parameter")
    return {k: to_pycompss(v, pm) for k, v in options.items()}


def runtime_task(*args: Any, **options: Any) -> Callable[[Any], Any]:
    """``core.runtime.task`` under the COMPSs runtime: PyCOMPSs's own ``@task``.

    Direction keywords are checked against the function's parameters first (the same error as
    the local engine gives), then translated and handed to ``pycompss.api.task.task``.
    """
    from core.runtime.parameter import TaskDefinitionError
    from core.runtime.taskdef import TASK_OPTIONS

    if args:
        raise TaskDefinitionError("@task takes keyword arguments only; write @task()")
    pyc_task = module("api.task").task
    translated = translate(options)

    def decorate(fn: Any) -> Any:
        check_param_names(fn, [k for k in options if k not in TASK_OPTIONS])
        return pyc_task(**translated)(fn)

    return decorate


def runtime_constraint(**constraints: Any) -> Any:
    """PyCOMPSs's ``@constraint``."""
    return module("api.constraint").constraint(**constraints)


def runtime_on_failure(management: str, **defaults: Any) -> Any:
    """PyCOMPSs's ``@on_failure``."""
    return module("api.on_failure").on_failure(management=management, **defaults)


def runtime_container(**options: Any) -> Any:
    """PyCOMPSs's ``@container`` (engine, image, options)."""
    return module("api.container").container(**options)


def runtime_binary(**options: Any) -> Any:
    """PyCOMPSs's ``@binary`` (binary, args, fail_by_exit_value, working_dir)."""
    return module("api.binary").binary(**options)
