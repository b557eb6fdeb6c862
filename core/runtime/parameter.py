"""Parameter directions, named and spelled exactly as ``pycompss.api.parameter``.

``@task(out_path=FILE_OUT, frames={Type: COLLECTION_IN, Depth: 1})`` declares, per parameter,
what the argument is (an object, a file, a directory, a collection, a dictionary) and which way
its data flows (IN, OUT, INOUT, IN_DELETE). The objects here are stand-ins with the same names
and keys as PyCOMPSs's ``_Param`` aliases; under the COMPSs runtime ``core.runtime`` re-exports
PyCOMPSs's own objects instead, and :func:`to_pycompss` translates ours by name.

The local and serial engines use the declarations for three things: file paths (FILE_*,
DIRECTORY_*, COLLECTION_FILE_*) order tasks that write and read the same path; INOUT/OUT
objects (and collections/dictionaries) give the caller a new version through ``wait_on``; and
every declaration is checked against the function's signature when it is decorated.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.errors import PipelineError

__all__ = [
    "Param", "ParamSpec", "TaskDefinitionError", "parse_param", "to_pycompss",
    "Type", "Direction", "StdIOStream", "Prefix", "Depth", "Weight", "Keep_rename", "Cache",
]


class TaskDefinitionError(PipelineError, TypeError):
    """A ``@task`` (or ``@constraint``/``@on_failure``) declaration that cannot be right."""


class Param:
    """One direction alias (``FILE_OUT`` ...): a name, the PyCOMPSs key, a kind and a direction.

    Instances are module singletons; they pickle back to the same singleton by name.
    """

    __slots__ = ("name", "key", "kind", "direction")

    def __init__(self, name: str, key: str, kind: str, direction: str) -> None:
        self.name = name  # attribute name in pycompss.api.parameter
        self.key = key  # pycompss's PARAM_ALIAS_KEYS value
        self.kind = kind  # object | file | directory | collection | collection_file | dictionary
        self.direction = direction  # IN | OUT | INOUT | IN_DELETE

    def __repr__(self) -> str:
        return self.name

    def __reduce__(self) -> tuple[Callable[[str], Param], tuple[str]]:
        return (param_by_name, (self.name,))


_PARAMS: dict[str, Param] = {}


def _p(name: str, kind: str, direction: str, key: str | None = None) -> Param:
    p = Param(name, key or name, kind, direction)
    _PARAMS[name] = p
    return p


# Objects (direction only)
IN = _p("IN", "object", "IN")
OUT = _p("OUT", "object", "OUT")
INOUT = _p("INOUT", "object", "INOUT")
IN_DELETE = _p("IN_DELETE", "object", "IN_DELETE")
CONCURRENT = _p("CONCURRENT", "object", "INOUT")
COMMUTATIVE = _p("COMMUTATIVE", "object", "INOUT")
# Files
FILE = _p("FILE", "file", "IN")
FILE_IN = _p("FILE_IN", "file", "IN")
FILE_OUT = _p("FILE_OUT", "file", "OUT")
FILE_INOUT = _p("FILE_INOUT", "file", "INOUT")
# Directories
DIRECTORY = _p("DIRECTORY", "directory", "IN")
DIRECTORY_IN = _p("DIRECTORY_IN", "directory", "IN")
DIRECTORY_OUT = _p("DIRECTORY_OUT", "directory", "OUT")
DIRECTORY_INOUT = _p("DIRECTORY_INOUT", "directory", "INOUT")
# Collections (lists of objects or futures) and collections of files
COLLECTION = _p("COLLECTION", "collection", "IN")
COLLECTION_IN = _p("COLLECTION_IN", "collection", "IN")
COLLECTION_INOUT = _p("COLLECTION_INOUT", "collection", "INOUT")
COLLECTION_OUT = _p("COLLECTION_OUT", "collection", "OUT")
COLLECTION_IN_DELETE = _p("COLLECTION_IN_DELETE", "collection", "IN_DELETE")
COLLECTION_FILE = _p("COLLECTION_FILE", "collection_file", "IN")
COLLECTION_FILE_IN = _p("COLLECTION_FILE_IN", "collection_file", "IN")
COLLECTION_FILE_INOUT = _p("COLLECTION_FILE_INOUT", "collection_file", "INOUT")
COLLECTION_FILE_OUT = _p("COLLECTION_FILE_OUT", "collection_file", "OUT")
# Dictionaries (pycompss's keys say DICT_COLLECTION)
DICTIONARY = _p("DICTIONARY", "dictionary", "IN", "DICT_COLLECTION")
DICTIONARY_IN = _p("DICTIONARY_IN", "dictionary", "IN", "DICT_COLLECTION_IN")
DICTIONARY_INOUT = _p("DICTIONARY_INOUT", "dictionary", "INOUT", "DICT_COLLECTION_INOUT")
DICTIONARY_OUT = _p("DICTIONARY_OUT", "dictionary", "OUT", "DICT_COLLECTION_OUT")
DICTIONARY_IN_DELETE = _p("DICTIONARY_IN_DELETE", "dictionary", "IN_DELETE",
                          "DICT_COLLECTION_IN_DELETE")

# Keys of the dictionary form, same strings as pycompss.runtime.task.keys.PARAM_DICT_KEYS
Type = "type"
Direction = "direction"
StdIOStream = "stream"
Prefix = "prefix"
Depth = "depth"
Weight = "weight"
Keep_rename = "keep_rename"
Cache = "cache"
_DICT_KEYS = {Type, Direction, StdIOStream, Prefix, Depth, Weight, Keep_rename, Cache}

#: every alias, by name (the names ``core.runtime`` exports)
PARAMS: Mapping[str, Param] = _PARAMS


def param_by_name(name: str) -> Param:
    """The singleton alias called ``name`` (used to unpickle)."""
    return _PARAMS[name]


@dataclass(frozen=True)
class ParamSpec:
    """The parsed declaration of one task parameter."""

    name: str
    kind: str
    direction: str
    depth: int | None = None
    prefix: str | None = None

    @property
    def is_path(self) -> bool:
        """Whether the argument is a path (or a list of paths) the runtime tracks."""
        return self.kind in ("file", "directory", "collection_file")

    @property
    def reads(self) -> bool:
        return self.direction in ("IN", "INOUT", "IN_DELETE")

    @property
    def writes(self) -> bool:
        return self.direction in ("OUT", "INOUT")

    @property
    def is_versioned_object(self) -> bool:
        """An object the task updates: the caller gets the new version through ``wait_on``."""
        return not self.is_path and self.writes


def _is_param(value: Any) -> bool:
    # ours, or a PyCOMPSs _Param (anything with a string ``key`` naming a known alias)
    return isinstance(value, Param) or (
        isinstance(getattr(value, "key", None), str)
        and any(p.key == value.key for p in _PARAMS.values())
    )


def _as_ours(value: Any) -> Param:
    if isinstance(value, Param):
        return value
    for p in _PARAMS.values():
        if p.key == value.key:
            return p
    raise KeyError(value)  # unreachable after _is_param


def parse_param(func_name: str, name: str, value: Any) -> ParamSpec:
    """Parse one per-parameter keyword of ``@task``: an alias or the dictionary form."""
    where = f"@task on {func_name}: parameter {name!r}"
    if _is_param(value):
        p = _as_ours(value)
        return ParamSpec(name, p.kind, p.direction)
    if isinstance(value, Mapping):
        unknown = sorted(str(k) for k in value if k not in _DICT_KEYS)
        if unknown:
            raise TaskDefinitionError(
                f"{where}: unknown key(s) {', '.join(unknown)} in its dictionary; "
                f"known: {', '.join(sorted(_DICT_KEYS))}")
        if Type not in value and Direction not in value:
            raise TaskDefinitionError(f"{where}: its dictionary needs a Type or a Direction")
        kind, direction = "object", "IN"
        if Type in value:
            if not _is_param(value[Type]):
                raise TaskDefinitionError(
                    f"{where}: Type must be a direction alias such as COLLECTION_IN or "
                    f"FILE_OUT, not {value[Type]!r}")
            p = _as_ours(value[Type])
            kind, direction = p.kind, p.direction
        if Direction in value:
            d = value[Direction]
            if not _is_param(d) or _as_ours(d).kind != "object":
                raise TaskDefinitionError(
                    f"{where}: Direction must be IN, OUT, INOUT or IN_DELETE, not {d!r}")
            direction = _as_ours(d).direction
        depth = value.get(Depth)
        if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int)
                                  or depth < 1):
            raise TaskDefinitionError(f"{where}: Depth must be an integer >= 1, not {depth!r}")
        prefix = value.get(Prefix)
        if prefix is not None and not isinstance(prefix, str):
            raise TaskDefinitionError(f"{where}: Prefix must be a string, not {prefix!r}")
        return ParamSpec(name, kind, direction, depth, prefix)
    raise TaskDefinitionError(
        f"{where}: expected a direction such as IN, FILE_OUT or COLLECTION_IN (or the "
        f"dictionary form {{Type: ..., Depth: ...}}), got {value!r}")


def check_param_names(func: Callable[..., Any], names: list[str]) -> None:
    """Raise naming the function and the keyword if a direction names no parameter of it."""
    sig = inspect.signature(func)
    params = sig.parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    for name in names:
        if name not in params:
            shown = ", ".join(params)
            raise TaskDefinitionError(
                f"@task on {func.__qualname__}: keyword {name!r} is neither a task option "
                f"nor a parameter of {func.__name__}({shown})")


def to_pycompss(value: Any, module: Any) -> Any:
    """Translate an alias (or a dictionary form holding aliases) to ``module``'s objects.

    ``module`` is ``pycompss.api.parameter``; PyCOMPSs's own objects pass through unchanged.
    """
    if isinstance(value, Param):
        return getattr(module, value.name)
    if isinstance(value, Mapping):
        return {k: to_pycompss(v, module) for k, v in value.items()}
    return value
