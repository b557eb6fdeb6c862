"""Futures inside arguments: find them in nested lists, tuples, sets and dicts, and rebuild
the arguments with their values (as dask and PyCOMPSs resolve futures passed to a task)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


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
