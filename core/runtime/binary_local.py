"""``@binary`` tasks on the local and serial engines: the executable as a subprocess.

PyCOMPSs builds a binary task's command line from ``args`` with ``{{name}}`` replaced by the
argument of parameter ``name``; :func:`command_line` does the same (each substituted value is
one word: a list becomes comma-separated, None an empty word). Here every parameter must
appear in ``args`` (checked at decoration), so the command line is the same under COMPSs and
here, with nothing appended.

Locally the binary is looked up as ``$VIZPIPE_BINARY_<NAME>`` (a whole command line, split as
the shell would, e.g. ``VIZPIPE_BINARY_BLENDER="python -m render.blender_chunk"``), else
``<name>`` on the PATH. ``@container`` is not applied locally: the binary runs on the host.
(Not ``binary.py``: a submodule of that name would replace ``core.runtime.binary``, the
decorator, once imported.)
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from typing import TYPE_CHECKING, Any

from core.errors import MissingDependencyError, PipelineError
from core.runtime.parameter import TaskDefinitionError

if TYPE_CHECKING:
    from core.runtime.taskdef import TaskDef

__all__ = ["PLACEHOLDER", "binary_env_name", "check_binary_args", "command_line",
           "local_binary", "run_binary", "substitute"]

#: ``{{name}}`` in a @binary's args
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class BinaryExitError(PipelineError):
    """A @binary task's executable exited with a non-zero status (fail_by_exit_value)."""


def binary_env_name(binary: str) -> str:
    """``blender`` -> ``VIZPIPE_BINARY_BLENDER`` (the local override of a @binary)."""
    return "VIZPIPE_BINARY_" + re.sub(r"[^A-Za-z0-9]", "_", os.path.basename(binary)).upper()


def check_binary_args(tdef: TaskDef, values: dict[str, Any]) -> None:
    """Every ``{{name}}`` names a parameter, and every parameter appears in ``args``."""
    used = set(PLACEHOLDER.findall(values.get("args", "")))
    params = list(tdef.signature.parameters)
    unknown = sorted(used - set(params))
    if unknown:
        raise TaskDefinitionError(f"@binary on {tdef.name}: args name {unknown}, which are not "
                                  f"parameters of {tdef.name}({', '.join(params)})")
    missing = [p for p in params if p not in used]
    if missing:
        raise TaskDefinitionError(f"@binary on {tdef.name}: parameters {missing} do not appear "
                                  f"in args as {{{{name}}}}")


def _word(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ",".join(_word(v) for v in value)
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def substitute(args: str, bound: dict[str, Any]) -> list[str]:
    """``args`` split into words, each ``{{name}}`` replaced by ``bound[name]``."""
    return [PLACEHOLDER.sub(lambda m: _word(bound[m.group(1)]), word)
            for word in shlex.split(args)]


def local_binary(binary: str) -> list[str]:
    """The local command for ``binary``: ``$VIZPIPE_BINARY_<NAME>``, else the PATH."""
    from core.settings import env_text

    env = env_text(binary_env_name(binary))
    if env:
        return shlex.split(env)
    found = shutil.which(binary)
    if not found:
        raise MissingDependencyError(
            f"@binary: {binary!r} is not on the PATH and {binary_env_name(binary)} is not set")
    return [found]


def command_line(tdef: TaskDef, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[str]:
    """The command a @binary task runs locally for this call."""
    bound = tdef.bind(args, kwargs)
    for name, p in tdef.signature.parameters.items():  # defaults count too
        if name not in bound and p.default is not p.empty:
            bound[name] = p.default
    return [*local_binary(tdef.binary["binary"]), *substitute(tdef.binary["args"], bound)]


def run_binary(tdef: TaskDef, *args: Any, **kwargs: Any) -> int | None:
    """Run a @binary task's executable; its exit code (``returns=1``) or None.

    Output goes to this process's stdout/stderr (a worker's, or the terminal).
    """
    cmd = command_line(tdef, args, kwargs)
    cwd = tdef.binary.get("working_dir") or None
    try:
        rc = subprocess.run(cmd, cwd=cwd, timeout=tdef.time_out or None).returncode
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"exceeded its time_out of {tdef.time_out:g} s") from None
    except OSError as exc:
        raise MissingDependencyError(f"@binary: cannot run {cmd[0]}: {exc}") from None
    if rc != 0 and tdef.binary.get("fail_by_exit_value", True):
        raise BinaryExitError(f"{shlex.join(cmd)} exited with status {rc}")
    return rc if tdef.n_returns else None
