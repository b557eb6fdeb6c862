"""What one render is asked to do: the options of ``python -m render``, as one frozen value.

:func:`render.driver.build_parser` takes its defaults from :class:`RenderSettings` (and the
constants below); :meth:`RenderSettings.from_args` is the only reader of its
``argparse.Namespace``; the driver below it reads attributes of the settings. A caller in
another process (``vizpipe_app.runner`` renders in a child, bpy staying out of its own)
builds a :class:`RenderSettings` and passes :meth:`RenderSettings.to_argv` to the command;
one in this process passes the value itself to :func:`render.driver.run`::

    settings = RenderSettings(run_dir=Path("out/materials/demo"), workers=4, draft=True)
    run(settings)                                   # here
    [sys.executable, "-m", "render", *settings.to_argv()]   # in a child process
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

__all__ = ["RenderSettings", "DEVICES", "DEFAULT_DEVICE", "MAX_DEFAULT_CHUNK", "default_of"]

#: Cycles devices (``--device``) and the default one
DEVICES: tuple[str, ...] = ("CPU", "GPU")
DEFAULT_DEVICE = "CPU"
#: the most frames per Blender process when ``--chunk`` is not given (an even share per worker)
MAX_DEFAULT_CHUNK = 8

FrameRange = tuple[int | None, int | None]


@dataclass(frozen=True, kw_only=True)
class RenderSettings:
    """One render of a run directory (the fields are the options of ``python -m render``)."""

    run_dir: Path
    frames: FrameRange | None = None  # (A, B), B excluded, either open; None: all
    resolution: tuple[int, int] | None = None  # None: the manifest's, else core's default
    samples: int | None = None  # None: the manifest's, else core's default
    device: str = DEFAULT_DEVICE  # one of DEVICES
    chunk: int | None = None  # frames per Blender process; None: even share, <= MAX_DEFAULT_CHUNK
    movie: bool = True  # False: --no-movie
    blend: bool = True  # False: --no-blend
    force: bool = False
    draft: bool = False
    engine: str | None = None  # None: $VIZPIPE_ENGINE, else compss under runcompss, else local
    workers: int | None = None  # None: $VIZPIPE_WORKERS, else the cores available
    dry_run: bool = False

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"RenderSettings.device: expected one of {', '.join(DEVICES)}, "
                             f"got {self.device!r}")
        for name in ("samples", "chunk", "workers"):
            v = getattr(self, name)
            if v is not None and v < 1:
                raise ValueError(f"RenderSettings.{name}: expected a whole number >= 1, "
                                 f"got {v!r}")

    @classmethod
    def from_args(cls, ns: argparse.Namespace) -> RenderSettings:
        """The settings from ``render.driver.build_parser().parse_args(argv)``."""
        args = vars(ns)
        kw: dict[str, Any] = {f.name: args[f.name] for f in fields(cls) if f.name in args}
        kw["run_dir"] = Path(args["run_dir"])
        kw["movie"] = not args["no_movie"]
        kw["blend"] = not args["no_blend"]
        return cls(**kw)

    def replace(self, **changes: Any) -> RenderSettings:
        """A copy with ``changes`` (the value itself is frozen)."""
        return dataclasses.replace(self, **changes)

    def to_argv(self) -> list[str]:
        """The arguments of ``python -m render`` that parse back to these settings (options
        at their default are left out)."""
        argv = [str(self.run_dir)]
        if self.frames is not None:
            lo, hi = self.frames
            argv += ["--frames", f"{'' if lo is None else lo}:{'' if hi is None else hi}"]
        if self.resolution is not None:
            argv += ["--resolution", f"{self.resolution[0]}x{self.resolution[1]}"]
        if self.samples is not None:
            argv += ["--samples", str(self.samples)]
        if self.device != DEFAULT_DEVICE:
            argv += ["--device", self.device]
        if self.chunk is not None:
            argv += ["--chunk", str(self.chunk)]
        if self.engine:
            argv += ["--engine", self.engine]
        if self.workers is not None:
            argv += ["--workers", str(self.workers)]
        argv += [flag for flag, on in (("--no-movie", not self.movie),
                                       ("--no-blend", not self.blend),
                                       ("--force", self.force), ("--draft", self.draft),
                                       ("--dry-run", self.dry_run)) if on]
        return argv


def default_of(name: str) -> Any:
    """The default of field ``name`` of :class:`RenderSettings` (the parser's default)."""
    return RenderSettings.__dataclass_fields__[name].default
