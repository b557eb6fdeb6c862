"""The commands a pipeline's entry modules run, found through the package's entry points.

``python -m materials_pipeline`` and ``materials_pipeline/app.py`` (the COMPSs application)
are thin aliases of commands the application layer provides: pyproject.toml registers them
as entry points, one group per kind of entry module::

    [project.entry-points."vizpipe.main"]     # python -m <pipeline>
    materials = "vizpipe_app.runner:materials_main"
    [project.entry-points."vizpipe.app"]      # <pipeline>/app.py under runcompss
    materials = "vizpipe_app.runner:materials_app"

and :func:`run_entry` looks the command up with :mod:`importlib.metadata` and runs it. So no
module of a pipeline imports :mod:`vizpipe_app` (dependency inversion: the layer above plugs
itself in), and this module names no package either. The entry points come with the installed
distribution (``make venv``: ``pip install -e .``; the images: ``pip install /opt/vizpipe``);
where the code runs from a checkout that is not installed (``--pythonpath=<checkout>`` with a
virtual environment of requirements.lock only, as containers/marenostrum/README.md allows),
the same table is read from the checkout's own pyproject.toml.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

__all__ = ["GROUP_MAIN", "GROUP_APP", "entry_command", "run_entry"]

#: ``python -m <pipeline>``: convert, then render in a child process
GROUP_MAIN = "vizpipe.main"
#: ``<pipeline>/app.py``: convert and render in one (COMPSs) application
GROUP_APP = "vizpipe.app"

Command = Callable[[list[str] | None], int]


def entry_command(group: str, name: str) -> Command:
    """The command registered as ``name`` in the entry-point ``group``; none (the package is
    not installed in this Python) is a MissingDependencyError saying how to install it."""
    from importlib.metadata import entry_points

    from core.errors import MissingDependencyError

    found = entry_points(group=group, name=name)
    if not found:
        value = _from_pyproject(group, name)
        if value is not None:
            from importlib.metadata import EntryPoint

            return cast(Command, EntryPoint(name=name, value=value, group=group).load())
        raise MissingDependencyError(
            f"no command {name!r} in the entry-point group {group!r}: the vizpipe package is "
            f"not installed in {sys.executable} (make venv, or pip install --no-deps "
            f"--no-build-isolation -e . in the project root)")
    values = sorted({ep.value for ep in found})
    if len(values) > 1:
        raise MissingDependencyError(
            f"command {name!r} of the entry-point group {group!r} is registered more than "
            f"once ({', '.join(values)}): uninstall the stale distribution")
    return cast(Command, next(iter(found)).load())


def _from_pyproject(group: str, name: str) -> str | None:
    """``name`` of ``[project.entry-points."<group>"]`` in the pyproject.toml beside this
    package (a checkout run without installing it), else None."""
    import tomllib

    path = Path(__file__).resolve().parent.parent / "pyproject.toml"
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    value = table.get("project", {}).get("entry-points", {}).get(group, {}).get(name)
    return value if isinstance(value, str) else None


def run_entry(group: str, name: str, argv: list[str] | None = None) -> int:
    """Run the command ``name`` of ``group`` with ``argv`` (None: ``sys.argv[1:]``); a missing
    command is one ``error:`` line and exit status 1, as any command's errors."""
    from core.cli import main_wrapper

    command = main_wrapper(entry_command)(group, name)
    return command(argv)
