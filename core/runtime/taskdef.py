"""``@task``, ``@constraint``, ``@on_failure``, ``@container`` and ``@binary`` for the local and
serial engines.

The decorator runs at import time, before any command line has chosen an engine, so it only
records the declaration (a :class:`TaskDef`) on a thin wrapper; each call of the wrapper goes
to the engine active at call time (:func:`core.runtime.current_engine`). The wrapper keeps the
function's module and name, so worker processes import task modules by name, as COMPSs
workers do.

:func:`run_task` is what actually runs a task body, on a worker or in-process: it applies
``time_out``, checks ``returns``, turns any exception into a :class:`core.errors.TaskError`
naming the task and its inputs, and applies ``on_failure='IGNORE'``.
"""

from __future__ import annotations

import ctypes
import functools
import inspect
import logging
import os
import reprlib
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from core.errors import TaskError
from core.runtime import context
from core.runtime.parameter import (
    ParamSpec,
    TaskDefinitionError,
    check_param_names,
    parse_param,
)

__all__ = ["task", "constraint", "on_failure", "container", "binary", "TaskDef", "run_task",
           "task_def", "TASK_OPTIONS", "MANAGEMENT"]

_log = logging.getLogger("vizpipe.runtime")

F = TypeVar("F", bound=Callable[..., Any])

#: the keywords of PyCOMPSs's @task that are options, not parameter directions
TASK_OPTIONS = frozenset({
    "target_direction", "returns", "cache_returns", "priority", "defaults", "time_out",
    "is_replicated", "is_distributed", "computing_nodes", "processes_per_node", "is_reduce",
    "chunk_size", "on_failure", "tracing_hook", "numba", "numba_flags", "numba_signature",
    "numba_declaration", "varargs_type",
})
#: on_failure policies, as PyCOMPSs spells them
MANAGEMENT = ("RETRY", "FAIL", "IGNORE", "CANCEL_SUCCESSORS")
_ATTR = "__vizpipe_task__"
_PENDING_ATTR = "__vizpipe_pending__"  # @constraint/@on_failure applied below @task


def _count_returns(func_name: str, returns: Any) -> int:
    """Number of values a task returns, from PyCOMPSs's ``returns`` (int, type or tuple)."""
    if returns is None or returns is False:
        return 0
    if returns is True:
        return 1
    if isinstance(returns, int):
        if returns < 0:
            raise TaskDefinitionError(f"@task on {func_name}: returns={returns} is negative")
        return returns
    if isinstance(returns, type):
        return 1
    if isinstance(returns, (tuple, list)):
        return len(returns)
    raise TaskDefinitionError(
        f"@task on {func_name}: returns must be a count, a type or a tuple of types, "
        f"not {returns!r}")


@dataclass
class TaskDef:
    """A task's declaration, parsed and checked once at decoration."""

    fn: Callable[..., Any]
    name: str
    options: dict[str, Any]
    params: dict[str, ParamSpec]
    n_returns: int
    priority: bool = False
    time_out: float = 0.0
    on_failure: str = "RETRY"
    defaults: dict[str, Any] = field(default_factory=dict)
    constraints: dict[str, Any] = field(default_factory=dict)
    container: dict[str, Any] = field(default_factory=dict)
    binary: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def build(cls, fn: Callable[..., Any], options: dict[str, Any]) -> TaskDef:
        name = getattr(fn, "__qualname__", getattr(fn, "__name__", repr(fn)))
        directions = [k for k in options if k not in TASK_OPTIONS]
        check_param_names(fn, directions)
        params = {k: parse_param(name, k, options[k]) for k in directions}
        n_returns = _count_returns(name, options.get("returns", False))
        time_out = options.get("time_out", 0) or 0
        if isinstance(time_out, bool) or not isinstance(time_out, (int, float)) or time_out < 0:
            raise TaskDefinitionError(
                f"@task on {name}: time_out must be a number of seconds >= 0, not {time_out!r}")
        policy = options.get("on_failure", "RETRY")
        if policy not in MANAGEMENT:
            raise TaskDefinitionError(
                f"@task on {name}: on_failure={policy!r}; expected one of {', '.join(MANAGEMENT)}")
        defaults = options.get("defaults") or {}
        if not isinstance(defaults, dict):
            raise TaskDefinitionError(f"@task on {name}: defaults must be a dict")
        return cls(fn=fn, name=name, options=dict(options), params=params,
                   n_returns=n_returns, priority=bool(options.get("priority", False)),
                   time_out=float(time_out), on_failure=policy, defaults=dict(defaults))

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.fn)

    @functools.cached_property
    def path_params(self) -> tuple[ParamSpec, ...]:
        return tuple(p for p in self.params.values() if p.is_path)

    @functools.cached_property
    def versioned_params(self) -> tuple[ParamSpec, ...]:
        return tuple(p for p in self.params.values() if p.is_versioned_object)

    @property
    def retries(self) -> int:
        """Extra attempts after a failure: one for RETRY (COMPSs's default), else none."""
        return 1 if self.on_failure == "RETRY" else 0

    def bind(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        """Arguments by parameter name (raises TaskDefinitionError on a bad call)."""
        try:
            return dict(self.signature.bind(*args, **kwargs).arguments)
        except TypeError as exc:
            raise TaskDefinitionError(f"task {self.name}: {exc}") from None

    def ignored_value(self) -> Any:
        """What an IGNOREd failure returns: ``@on_failure(..., returns=X)``'s X, else None."""
        if "returns" in self.defaults:
            return self.defaults["returns"]
        if self.n_returns > 1:
            return (None,) * self.n_returns
        return None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for cached in ("signature", "path_params", "versioned_params"):
            state.pop(cached, None)
        return state


def task_def(fn: Any) -> TaskDef | None:
    """The :class:`TaskDef` of a decorated task, or None for anything else."""
    return getattr(fn, _ATTR, None)


def _apply_pending(fn: Callable[..., Any], tdef: TaskDef) -> None:
    pending = getattr(fn, _PENDING_ATTR, None)
    if pending:
        for kind, values in pending:
            _set(tdef, kind, values)


def _set(tdef: TaskDef, kind: str, values: dict[str, Any]) -> None:
    if kind == "constraint":
        tdef.constraints.update(values)
    elif kind == "container":
        tdef.container = dict(values)
    elif kind == "binary":
        from core.runtime.binary_local import check_binary_args

        check_binary_args(tdef, values)
        tdef.binary = dict(values)
    else:
        tdef.on_failure = values["management"]
        tdef.defaults = {k: v for k, v in values.items() if k != "management"}


def task(*args: Any, **options: Any) -> Callable[[F], F]:
    """Declare a task, exactly as ``pycompss.api.task.task`` does.

    ``@task(returns=1, out_path=FILE_OUT, frames={Type: COLLECTION_IN, Depth: 1})``: the
    keywords are PyCOMPSs's options (``returns``, ``priority``, ``time_out``, ``on_failure``,
    ``cache_returns``, ...) and one direction per parameter that needs one. Each direction
    keyword must name a parameter of the function (checked here, at decoration).

    Calling the decorated function submits the task to the engine active at call time: under
    ``local`` it returns a future (or a tuple of ``returns`` futures; None without returns),
    under ``serial`` (and PyCOMPSs's sequential mode) the value itself. Collect values with
    :func:`core.runtime.wait_on`. Task functions must live at module level in an importable
    module (workers import them by name) and must not read module globals set at run time.
    """
    if args:
        if len(args) == 1 and callable(args[0]) and not options:
            raise TaskDefinitionError(
                f"@task on {getattr(args[0], '__qualname__', args[0])}: write @task() with "
                f"parentheses, as PyCOMPSs requires")
        raise TaskDefinitionError("@task takes keyword arguments only")

    def decorate(fn: F) -> F:
        if not callable(fn) or isinstance(fn, type):
            raise TaskDefinitionError(f"@task decorates functions, not {fn!r}")
        tdef = TaskDef.build(fn, options)
        _apply_pending(fn, tdef)

        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            if context.in_task():  # nested call inside a running task: run it here
                return tdef.fn(*a, **kw)
            return context.current_engine().submit(wrapper, a, kw)

        setattr(wrapper, _ATTR, tdef)
        return wrapper  # type: ignore[return-value]

    return decorate


def _decorate_later(kind: str, values: dict[str, Any]) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        tdef = task_def(fn)
        if tdef is not None:
            _set(tdef, kind, values)
        else:  # applied below @task: keep it for @task to pick up
            pending = list(getattr(fn, _PENDING_ATTR, []))
            pending.append((kind, values))
            try:
                setattr(fn, _PENDING_ATTR, pending)
            except AttributeError:
                raise TaskDefinitionError(f"@{kind} cannot decorate {fn!r}") from None
        return fn

    return decorate


def constraint(**constraints: Any) -> Callable[[F], F]:
    """Resource constraints, as ``pycompss.api.constraint.constraint``.

    ``@constraint(computing_units="8", memory_size=...)`` goes above ``@task``. COMPSs uses it
    to place tasks; the local engine records it (``TaskDef.constraints``) and otherwise ignores
    it: every local worker is a single-threaded process.
    """
    return _decorate_later("constraint", dict(constraints))


def on_failure(management: str, **defaults: Any) -> Callable[[F], F]:
    """Failure policy, as ``pycompss.api.on_failure.on_failure``.

    ``management`` is ``'RETRY'`` (run once more, then fail), ``'FAIL'``,
    ``'CANCEL_SUCCESSORS'`` (locally the same as FAIL: dependents of a failed task fail too) or
    ``'IGNORE'`` (the task returns ``defaults['returns']``, else None, and a warning is
    logged). Goes above ``@task``; the same as ``@task(on_failure=...)``.
    """
    if management not in MANAGEMENT:
        raise TaskDefinitionError(
            f"@on_failure: management={management!r}; expected one of {', '.join(MANAGEMENT)}")
    return _decorate_later("on_failure", {"management": management, **defaults})


def container(engine: str, image: str, options: str = "") -> Callable[[F], F]:
    """Run a ``@binary`` task inside a container image, as ``pycompss.api.container.container``.

    ``@container(engine="SINGULARITY", image="blender.sif", options="--bind /gpfs/...")`` goes
    above ``@binary``. Under COMPSs the worker runs ``singularity exec --bind <sandbox> --bind
    <appdir> --pwd <sandbox> <options> <image> <binary> <args>``. The local and serial engines
    record it (``TaskDef.container``) and run the binary without the container; PyCOMPSs's
    sequential mode raises ``NotInPyCOMPSsException`` (see :class:`CompssEngine`).
    """
    if not isinstance(engine, str) or engine.upper() not in ("SINGULARITY", "DOCKER"):
        raise TaskDefinitionError(f"@container: engine={engine!r}; expected 'SINGULARITY' "
                                  f"or 'DOCKER'")
    if not isinstance(image, str) or not image:
        raise TaskDefinitionError(f"@container: image={image!r}; expected an image path")
    values = {"engine": engine, "image": image}
    if options:
        values["options"] = str(options)
    return _decorate_later("container", values)


def binary(binary: str, args: str = "", fail_by_exit_value: bool = True,
           working_dir: str | None = None) -> Callable[[F], F]:
    """The task is an executable, as ``pycompss.api.binary.binary``.

    ``@binary(binary="blender", args="{{run_dir}} --frames {{frames}}")`` goes above
    ``@task``; the function's body is never called. ``{{name}}`` in ``args`` is replaced by the
    argument of parameter ``name`` (every parameter must appear there). With ``returns=1`` the
    task returns the exit code; with ``fail_by_exit_value`` a non-zero code fails the task.
    Locally the binary is ``$VIZPIPE_BINARY_<NAME>`` (a command line, e.g. ``python -m
    render.blender_chunk`` for ``blender``), else ``<name>`` on the PATH; see
    :mod:`core.runtime.binary_local`.
    """
    if not isinstance(binary, str) or not binary.strip():
        raise TaskDefinitionError(f"@binary: binary={binary!r}; expected an executable name")
    values: dict[str, Any] = {"binary": binary, "args": str(args or ""),
                              "fail_by_exit_value": bool(fail_by_exit_value)}
    if working_dir:
        values["working_dir"] = str(working_dir)
    return _decorate_later("binary", values)


# --------------------------------------------------------------------------- running a task


class _Repr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxstring = 60
        self.maxother = 60
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = 4
        self.maxlevel = 2

    def repr_ndarray(self, x: Any, level: int) -> str:
        return f"ndarray({x.dtype}, shape={tuple(x.shape)})"

    def repr_DataArray(self, x: Any, level: int) -> str:  # noqa: N802 - reprlib's naming
        return f"DataArray({getattr(x, 'name', None)!r}, dims={tuple(x.dims)})"

    def repr_Dataset(self, x: Any, level: int) -> str:  # noqa: N802
        return f"Dataset(vars={list(x.data_vars)[:4]})"


_REPR = _Repr()


def short_repr(value: Any) -> str:
    """A one-line repr of at most ~60 characters (arrays shown by dtype and shape)."""
    try:
        return _REPR.repr(value).replace("\n", " ")
    except Exception:  # a broken __repr__ must not hide the task's own error
        return f"<{type(value).__name__}>"


def summarize_inputs(tdef: TaskDef, args: tuple[Any, ...], kwargs: dict[str, Any],
                     limit: int = 300) -> str:
    """``in_path='a.nc', level=0.5, frames=[1, 2, 3, 4, ...]``, truncated to ``limit``."""
    try:
        items = list(tdef.signature.bind_partial(*args, **kwargs).arguments.items())
    except TypeError:
        items = [(f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
    text = ", ".join(f"{k}={short_repr(v)}" for k, v in items)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class _TaskTimeout(BaseException):
    """Raised asynchronously inside a task body that exceeds its time_out."""


def _call_with_timeout(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
                       seconds: float) -> Any:
    """Call ``fn``; after ``seconds`` raise TimeoutError inside it (if it still runs Python).

    A watchdog thread injects an exception into the running thread (the same mechanism as
    KeyboardInterrupt); it interrupts Python code at its next bytecode, and code blocked in a
    long C call when it returns.
    """
    if not seconds:
        return fn(*args, **kwargs)
    tid = threading.get_ident()
    lock = threading.Lock()
    state = {"done": False}

    def fire() -> None:
        with lock:
            if not state["done"]:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(tid),
                                                           ctypes.py_object(_TaskTimeout))

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    try:
        timer.start()
        try:
            return fn(*args, **kwargs)
        finally:
            with lock:
                state["done"] = True
            timer.cancel()
    except _TaskTimeout:
        raise TimeoutError(f"exceeded its time_out of {seconds:g} s") from None


def _check_returns(tdef: TaskDef, result: Any) -> None:
    n = tdef.n_returns
    if n == 0 and result is not None:
        raise TaskDefinitionError(
            f"{tdef.name} returned {short_repr(result)} but its @task declares no returns "
            f"(add returns=1, or return None)")
    if n > 1 and (not isinstance(result, (tuple, list)) or len(result) != n):
        got = (f"{len(result)} values" if isinstance(result, (tuple, list))
               else short_repr(result))
        raise TaskDefinitionError(f"{tdef.name} returned {got} but its @task declares returns={n}")


def make_task_error(tdef: TaskDef, args: tuple[Any, ...], kwargs: dict[str, Any],
                    exc: BaseException) -> TaskError:
    """The TaskError for ``exc`` raised by ``tdef``'s body (a nested TaskError is kept)."""
    if isinstance(exc, TaskError):
        return exc
    original = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return TaskError(tdef.name, summarize_inputs(tdef, args, kwargs), original, tb,
                     user_message(tdef, args, kwargs, exc, original))


def user_message(tdef: TaskDef, args: tuple[Any, ...], kwargs: dict[str, Any],
                 exc: BaseException, original: str) -> str:
    """What a user reads of a task's failure (the task's call and traceback go to the log):
    a PipelineError's own message (it names its file and what was expected); a full disk or
    file-size limit as such; else the task's first input file, the task and the exception."""
    from core.errors import PipelineError, disk_message

    if isinstance(exc, PipelineError):
        return " ".join(str(exc).split()) or type(exc).__name__
    if disk_message(exc) is not None:  # named by the file, else by the output folder
        return disk_message(exc, _first_input_file(tdef, args, kwargs, os.path.isdir)) or ""
    where = _first_input_file(tdef, args, kwargs)
    text = " ".join(original.split())
    return f"{where}: {tdef.name} failed: {text}" if where else f"{tdef.name} failed: {text}"


def _first_input_file(tdef: TaskDef, args: tuple[Any, ...], kwargs: dict[str, Any],
                      test: Callable[[Any], bool] = os.path.isfile) -> str | None:
    """The first argument (or first item of a list argument) naming an existing file (or
    passing ``test``: ``os.path.isdir`` finds the output folder)."""
    try:
        values = list(tdef.signature.bind_partial(*args, **kwargs).arguments.values())
    except TypeError:
        values = [*args, *kwargs.values()]
    for v in values:
        for item in (v[:8] if isinstance(v, (list, tuple)) else [v]):
            try:
                if isinstance(item, (str, os.PathLike)) and test(item):
                    return os.fspath(item)
            except (OSError, ValueError, TypeError):
                continue
    return None


def run_task(wrapper: Any, args: tuple[Any, ...], kwargs: dict[str, Any],
             deps: Any = None, split: bool = False) -> Any:
    """Run one task body where it is (a worker process, or in-process).

    ``deps`` are only there so the engine can make this task wait for others (writers of the
    files it reads); their values are ignored. With ``split`` the result is
    ``(value, new_versions)``, the second item holding the INOUT/OUT objects after the call.
    """
    tdef = task_def(wrapper) or wrapper
    token = context._IN_TASK.set(True)
    try:
        try:
            body = tdef.fn
            if tdef.binary:  # the executable, not the (empty) Python body
                from core.runtime.binary_local import run_binary

                body = functools.partial(run_binary, tdef)
            result = _call_with_timeout(body, args, kwargs, tdef.time_out)
            _check_returns(tdef, result)
        except Exception as exc:
            err = make_task_error(tdef, args, kwargs, exc)
            if tdef.on_failure != "IGNORE":
                raise err from None
            _log.warning("%s (ignored: on_failure='IGNORE')", err)
            result = tdef.ignored_value()
    finally:
        context._IN_TASK.reset(token)
    if split:
        bound = tdef.bind(args, kwargs)
        return result, tuple(bound.get(p.name) for p in tdef.versioned_params)
    return result


def pick(value: Any, path: tuple[int, ...]) -> Any:
    """``value[path[0]][path[1]]...``: splits a task's packed result into separate futures."""
    for i in path:
        value = value[i]
    return value
