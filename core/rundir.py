"""The run directory's layout, in one place: pipelines, the renderer and the tests ask a
:class:`RunDir` where things go instead of spelling the paths.

::

    RUN/manifest.json             the contract between pipeline and renderer
        scene.usda                every frame, time-sampled, for Maya / Houdini / usdview
        assets/NNNN/...           one folder per frame (frame.json records its files)
        static/...                assets built once (cell, coastlines, base map and its
                                  texture, colour bar)
        frames/NNNN.png           rendered frames with overlays; frames/raw/NNNN.png plates
                                  (frames/draft/: --draft Workbench frames)
        preview/index.html        the run in a browser (render.preview), no render needed
        logs/*.log                each Blender process's output
        logs/errors.log           each failed run's error in full (task call, parameters,
                                  tracebacks) behind its one ``error:`` line
        run.log                   progress and full tracebacks
        .lock                     held (flock) while a run writes here: one run per folder
        scene.blend  movie.mp4    the animation for artists, the movie

Paths inside the manifest are relative to the run directory (posix): :meth:`RunDir.rel`.
:func:`run_lock` keeps a second run out of a folder a run is writing.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RunDir", "MANIFEST", "SCENE", "ASSETS", "STATIC", "FRAME_META", "LOCK", "run_lock"]

MANIFEST = "manifest.json"
SCENE = "scene.usda"
ASSETS = "assets"
STATIC = "static"
FRAME_META = "frame.json"
LOCK = ".lock"


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
    def errors_log(self) -> Path:
        """``logs/errors.log``: a failed run's error in full behind its one-line message."""
        return self.logs / "errors.log"

    @property
    def run_log(self) -> Path:
        return self.root / "run.log"

    @property
    def lock(self) -> Path:
        """``.lock``: what :func:`run_lock` holds."""
        return self.root / LOCK

    @property
    def blend(self) -> Path:
        return self.root / "scene.blend"

    @property
    def movie(self) -> Path:
        return self.root / "movie.mp4"


@contextlib.contextmanager
def run_lock(root: str | os.PathLike, option: str = "--out") -> Iterator[Path]:
    """Hold ``ROOT/.lock`` (an exclusive ``flock``, with this process's id in it) while a run
    writes into ``root``, creating the folder. A second run into the same folder is refused
    at once: ``ROOT: another run is writing here (pid N); expected one run per --out``;
    ``root`` naming an existing file is refused too. The lock goes with the block's end (the
    file is removed) or with the process (a SIGKILL leaves the file, not the lock). Where the
    file system has no locks (some NFS mounts) the run goes on unlocked."""
    from core.errors import BadInputError, PipelineError

    run = RunDir(root)
    if run.root.exists() and not run.root.is_dir():
        raise BadInputError(f"{run.root}: {option} names an existing file; expected a run "
                            "directory (an existing folder or a new name)")
    import fcntl

    while True:
        try:
            run.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(run.lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise BadInputError(f"{run.root}: cannot create the run directory or its lock "
                                f"({exc.strerror or exc}); expected a writable folder for "
                                f"{option}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                os.close(fd)  # no locks on this file system: unlocked
                yield run.lock
                return
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise PipelineError(f"{run.root}: another run is writing here (pid {pid}); "
                                f"expected one run per {option}") from None
        try:  # the file may have been removed by its last holder as we opened it: again
            same = os.stat(run.lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        with contextlib.suppress(OSError):  # the id is for the message only
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield run.lock
    finally:
        with contextlib.suppress(OSError):  # removed while held: no one can take a stale one
            os.unlink(run.lock)
        os.close(fd)
