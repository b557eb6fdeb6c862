"""The run directory's layout, in one place: pipelines, the renderer and the tests ask a
:class:`RunDir` where things go instead of spelling the paths.

::

    RUN/manifest.json             the contract between pipeline and renderer
        scene.usda                every frame, time-sampled, for Maya / Houdini / usdview
        assets/NNNN/...           one folder per frame (frame.json records its files)
        static/...                assets built once (cell, coastlines, colour bar)
        frames/NNNN.png           rendered frames with overlays; frames/raw/NNNN.png plates
        logs/*.log                each Blender process's output
        run.log                   progress and full tracebacks
        scene.blend  movie.mp4    the animation for artists, the movie

Paths inside the manifest are relative to the run directory (posix): :meth:`RunDir.rel`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunDir", "MANIFEST", "SCENE", "ASSETS", "STATIC", "FRAME_META"]

MANIFEST = "manifest.json"
SCENE = "scene.usda"
ASSETS = "assets"
STATIC = "static"
FRAME_META = "frame.json"


def frame_name(index: int) -> str:
    """``NNNN``: the folder of frame ``index`` under ``assets/`` and its PNG's stem."""
    return f"{int(index):04d}"


@dataclass(frozen=True)
class RunDir:
    """A run directory ``root`` (nothing is created until a caller writes)."""

    root: Path

    def __init__(self, root: str | os.PathLike) -> None:
        object.__setattr__(self, "root", Path(root))

    # -- the contract
    @property
    def manifest(self) -> Path:
        return self.root / MANIFEST

    @property
    def scene(self) -> Path:
        """``scene.usda``."""
        return self.root / SCENE

    # -- assets
    @property
    def assets(self) -> Path:
        return self.root / ASSETS

    def frame_dir(self, index: int) -> Path:
        """``assets/NNNN``: the files of frame ``index``."""
        return self.assets / frame_name(index)

    def frame_meta(self, index: int) -> Path:
        """``assets/NNNN/frame.json``: what the frame task wrote, with sizes and checksums."""
        return self.frame_dir(index) / FRAME_META

    @property
    def static(self) -> Path:
        return self.root / STATIC

    def rel(self, path: str | os.PathLike) -> str:
        """``path`` relative to the run directory, posix (as the manifest records paths)."""
        return Path(os.path.relpath(Path(path), self.root)).as_posix()

    @staticmethod
    def frame_rel(index: int, name: str = "") -> str:
        """``assets/NNNN[/name]``, the manifest's relative path of a frame file."""
        base = f"{ASSETS}/{frame_name(index)}"
        return f"{base}/{name}" if name else base

    @staticmethod
    def static_rel(name: str) -> str:
        return f"{STATIC}/{name}"

    # -- render outputs
    @property
    def frames(self) -> Path:
        return self.root / "frames"

    def frame_png(self, index: int) -> Path:
        """``frames/NNNN.png``: the final frame (render, background, overlays)."""
        return self.frames / f"{frame_name(index)}.png"

    def raw_png(self, index: int) -> Path:
        """``frames/raw/NNNN.png``: Blender's clean RGBA plate."""
        return self.frames / "raw" / f"{frame_name(index)}.png"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run_log(self) -> Path:
        return self.root / "run.log"

    @property
    def blend(self) -> Path:
        return self.root / "scene.blend"

    @property
    def movie(self) -> Path:
        return self.root / "movie.mp4"
