"""Where the renderer's outputs live in a run directory, and when a frame counts as done.

Pure Python (no bpy): used by the driver and by the Blender chunk processes alike.

``RUN_DIR/frames/NNNN.png``      final frame (render + background + overlays), NNNN = index
``RUN_DIR/frames/raw/NNNN.png``  clean RGB plate from Blender (the world background, no overlays)
``RUN_DIR/logs/*.log``           the full output of each Blender process
``RUN_DIR/scene.blend``          the whole animation for artists
``RUN_DIR/movie.mp4``            H.264 movie of the final frames
``RUN_DIR/frames/draft/...``     ``--draft`` (Workbench) frames and plates, same names
``RUN_DIR/movie_draft.mp4``      movie of the draft frames

Draft outputs never replace final ones, and neither counts as done for the other.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from core.rundir import RunDir

# one default picture size and sample count, defined in core.settings
from core.settings import DEFAULT_RESOLUTION as DEFAULT_RESOLUTION
from core.settings import DEFAULT_SAMPLES as DEFAULT_SAMPLES

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"IEND\xaeB`\x82"


def frames_dir(run_dir: Path) -> Path:
    return RunDir(run_dir).frames


DRAFT = "draft"  # sub-folder of frames/ holding the --draft frames


def final_frame(run_dir: Path, index: int, draft: bool = False) -> Path:
    """``frames/NNNN.png``, or ``frames/draft/NNNN.png`` for a draft."""
    path = RunDir(run_dir).frame_png(index)
    return path.parent / DRAFT / path.name if draft else path


def raw_frame(run_dir: Path, index: int, draft: bool = False) -> Path:
    """``frames/raw/NNNN.png``, or ``frames/draft/raw/NNNN.png`` for a draft."""
    if draft:
        return frames_dir(run_dir) / DRAFT / "raw" / RunDir(run_dir).raw_png(index).name
    return RunDir(run_dir).raw_png(index)


def logs_dir(run_dir: Path) -> Path:
    return RunDir(run_dir).logs


def blend_path(run_dir: Path) -> Path:
    return RunDir(run_dir).blend


def movie_path(run_dir: Path, draft: bool = False) -> Path:
    movie = RunDir(run_dir).movie
    return movie.with_name(f"{movie.stem}_{DRAFT}{movie.suffix}") if draft else movie


def png_size(path: Path) -> tuple[int, int] | None:
    """(width, height) of a complete PNG file, else None (missing, truncated, not a PNG)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(24)
            fh.seek(-12, 2)
            tail = fh.read(12)
    except OSError:
        return None
    if len(head) < 24 or not head.startswith(_PNG_MAGIC) or head[12:16] != b"IHDR":
        return None
    if not tail.endswith(_PNG_END):
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


KEY_FIELD = "vizpipe-frame-key"


def frame_key(manifest: dict, index: int) -> str:
    """Hash of everything in the manifest that shapes frame ``index``: the frame entry (assets,
    camera, label), static assets, legend, title and render settings. Stored in the final PNG,
    so a re-run re-renders a frame whose inputs changed and skips one whose inputs did not."""
    frame = next(f for f in manifest["frames"] if f["index"] == index)
    parts = {k: manifest.get(k) for k in ("title", "static", "legend", "render", "bounds")}
    parts["frame"] = frame
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def png_key(path: Path) -> str | None:
    """The frame key stored in a final frame's PNG text chunk, if any."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            return img.info.get(KEY_FIELD)  # text chunks before the image data: no decoding
    except (OSError, ValueError):
        return None


def frame_done(run_dir: Path, index: int, resolution: tuple[int, int],
               key: str | None = None, draft: bool = False) -> bool:
    """A final (``draft``: draft) frame exists, is a complete PNG of the requested size and,
    when ``key`` is given, was rendered from the same manifest content (see
    :func:`frame_key`)."""
    path = final_frame(run_dir, index, draft)
    if png_size(path) != tuple(resolution):
        return False
    return key is None or png_key(path) == key


def manifest_resolution(manifest: dict) -> tuple[int, int]:
    r = manifest.get("render", {}).get("resolution")
    return (int(r[0]), int(r[1])) if r else DEFAULT_RESOLUTION


def manifest_samples(manifest: dict) -> int:
    return int(manifest.get("render", {}).get("samples", DEFAULT_SAMPLES))
