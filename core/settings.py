"""A run's settings: one frozen value built once from the command line, read everywhere below.

Each pipeline subclasses :class:`RunSettings` with its own fields and writes one
``settings_from_args(ns)`` (its CLI's only reader of the ``argparse.Namespace``); below the
CLI, code reads attributes of the settings (never ``getattr(args, ..., default)``), and the
manifest records :meth:`RunSettings.to_json` under ``provenance.settings``. A step that
resolves a value (``--default`` writes its inputs and picks a title) makes a new value with
:func:`dataclasses.replace`; nothing mutates one.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["RunSettings", "from_namespace", "split_list"]

S = TypeVar("S", bound="RunSettings")

#: the one default picture size and sample count: the pipelines' --resolution/--samples and
#: the renderer's fallback for a manifest without them
DEFAULT_RESOLUTION: tuple[int, int] = (800, 450)
DEFAULT_SAMPLES = 8
#: samples per pixel by scene kind (the pipelines' --samples), each tuned with the OIDN
#: denoiser against the 512-sample render of its default scene (issue #18: SSIM >= 0.95,
#: tests/render/test_bench_render.py)
SCENE_SAMPLES: dict[str, int] = {"materials": 4, "climate": 5}


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """What every pipeline run has: where, which inputs, how to render, how to run."""

    out: Path
    inputs: tuple[str, ...] = ()
    default: bool = False  # write and use the embedded default data first
    formats: tuple[str, ...] = ("usd", "glb")  # core.io.DEFAULT_FORMATS
    full_res: bool = False  # keep every isosurface triangle (core.lod)
    title: str | None = None
    resolution: tuple[int, int] = DEFAULT_RESOLUTION
    samples: int = DEFAULT_SAMPLES
    fps: int = 12
    volume: bool = True  # write a .vdb volume
    show_volume: bool = False
    render: bool = True  # False: assets and manifest only (--no-render)
    preview: bool = True  # write RUN/preview/index.html after the conversion (--no-preview)
    draft: bool = False  # render Workbench draft frames (frames/draft/), not the final ones
    dry_run: bool = False
    engine: str | None = None
    workers: int | None = None

    def replace(self: S, **changes: Any) -> S:
        """A copy with ``changes`` (the value itself is frozen)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """Every field, as JSON values (paths as strings, tuples as lists)."""
        def plain(v: Any) -> Any:
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, (tuple, list)):
                return [plain(x) for x in v]
            return v

        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


def split_list(text: str | None) -> tuple[str, ...]:
    """``"Ti, Si,"`` -> ``("Ti", "Si")``; None or empty -> ``()``."""
    return tuple(x.strip() for x in (text or "").split(",") if x.strip())


def from_namespace(cls: type[S], ns: argparse.Namespace, **values: Any) -> S:
    """``cls`` from the parsed arguments: each field takes the argument of the same name (lists
    become tuples), ``values`` give the fields whose option is spelled otherwise (``render``
    from ``--no-render``, ...); ``--no-render``/``--no-volume``/``--no-preview``/``--dry-run`` are
    mapped here.
    """
    args = vars(ns)
    kw: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in values:
            kw[f.name] = values[f.name]
        elif f.name in args:
            v = args[f.name]
            kw[f.name] = tuple(v) if isinstance(v, list) else v
    if "render" not in values and "no_render" in args:
        kw["render"] = not args["no_render"]
    if "volume" not in values and "no_volume" in args:
        kw["volume"] = not args["no_volume"]
    if "preview" not in values and "no_preview" in args:
        kw["preview"] = not args["no_preview"]
    kw["out"] = Path(kw["out"])
    return cls(**kw)
