"""Singularity images, bind paths and computing units: what the pipelines' and the
renderer's task decorators read (``@constraint``, ``@container``) when their modules load.

Settings come from the environment: ``VIZPIPE_BLENDER_IMAGE`` (default
``<root>/containers/blender.sif``), ``VIZPIPE_CONTAINER_BINDS`` (extra folders to bind into
it) and the ``VIZPIPE_CU_*`` computing units. The command lines of a COMPSs run are built
above the pipelines, in :mod:`vizpipe_app.launch`.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Iterable, Sequence
from pathlib import Path

from core.settings import env, env_text, env_var

__all__ = ["ROOT", "env_int", "env_units", "blender_image", "bind_paths", "add_binds",
           "container_options", "covered", "singularity_command"]

#: the project root: what goes on ``--pythonpath`` and is bound into the images
ROOT = Path(__file__).resolve().parent.parent


def env_int(name: str, default: int) -> int:
    """A whole number >= 1 from the environment variable ``name`` (``default`` when unset);
    ``name`` is an ``int`` row of :data:`core.settings.ENV_VARS`."""
    if env_var(name).type != "int":
        raise KeyError(f"{name}: not a whole-number variable (core.settings.ENV_VARS)")
    return int(env(name, default))


def env_units(name: str, default: int = 1) -> str:
    """``@constraint(computing_units=...)`` from the environment variable ``name`` (a string,
    as PyCOMPSs takes it); read when a task module is imported."""
    return str(env_int(name, default))


def blender_image() -> str:
    """The Blender image of the render tasks: ``$VIZPIPE_BLENDER_IMAGE``, else
    ``<root>/containers/blender.sif`` (absolute)."""
    text = env_text("VIZPIPE_BLENDER_IMAGE")
    return str(Path(text).expanduser().resolve() if text else ROOT / "containers" / "blender.sif")


def _split_paths(text: str) -> list[str]:
    return [p for chunk in text.split(os.pathsep) for p in chunk.split(",") if p.strip()]


def bind_paths(paths: Iterable[str | os.PathLike] = ()) -> list[str]:
    """Folders to bind into the Blender image: the project root, ``$VIZPIPE_CONTAINER_BINDS``
    and ``paths`` (files stand for their folder); absolute, without ones inside another."""
    found: list[Path] = [ROOT]
    for p in [*_split_paths(env_text("VIZPIPE_CONTAINER_BINDS")), *paths]:
        q = Path(p).expanduser().resolve()
        found.append(q.parent if q.is_file() else q)
    out: list[Path] = []
    for q in sorted(set(found), key=lambda x: (len(x.parts), str(x))):
        if not any(q == o or o in q.parents for o in out):
            out.append(q)
    return [str(q) for q in out]


def add_binds(paths: Iterable[str | os.PathLike]) -> str:
    """Add ``paths`` to ``$VIZPIPE_CONTAINER_BINDS`` in this process (before
    :mod:`render.tasks` is imported: its decorators read it then); returns the new value."""
    old = _split_paths(env_text("VIZPIPE_CONTAINER_BINDS"))
    new = [str(Path(p).expanduser().resolve()) for p in paths]
    value = os.pathsep.join(dict.fromkeys([*old, *new]))
    os.environ["VIZPIPE_CONTAINER_BINDS"] = value
    return value


def container_options(binds: Iterable[str]) -> str:
    """``--bind A --bind B`` (the ``options`` of ``@container``)."""
    return " ".join(f"--bind {shlex.quote(b)}" for b in binds)


def covered(path: str | os.PathLike, options: str) -> bool:
    """Whether ``path`` lies inside a folder that ``options`` binds."""
    words = shlex.split(options)
    binds = [Path(words[i + 1].split(":")[0]) for i, w in enumerate(words[:-1]) if w == "--bind"]
    p = Path(path).resolve()
    return any(p == b or b in p.parents for b in binds)


def singularity_command(image: str, options: str, binary: str, args: Sequence[str]) -> list[str]:
    """What a COMPSs worker runs for ``@container`` over ``@binary``, less the sandbox part
    COMPSs adds (``--bind <sandbox> --bind <appdir> --pwd <sandbox>``): runnable by hand."""
    return ["singularity", "exec", *shlex.split(options), image, binary, *args]
