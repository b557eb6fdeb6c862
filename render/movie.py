"""Encode frames into an H.264 movie with the ffmpeg binary bundled by imageio-ffmpeg.

The movie is ``yuv420p`` (plays everywhere), with even dimensions (odd sizes are padded by
repeating the last row/column), ``-crf 18`` and ``+faststart``; it is written under a
temporary name and renamed, so ``movie.mp4`` is either complete or absent.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.errors import BadInputError, MissingDependencyError


def _even(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    return np.pad(img, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge") if (h % 2 or w % 2) \
        else img


def encode(frames: Sequence[Path], out: Path, fps: float, *, crf: int = 18) -> Path:
    """Write ``frames`` (PNG paths, in order, all the same size) as an H.264 ``out``."""
    from PIL import Image

    try:
        import imageio_ffmpeg
    except ImportError:
        raise MissingDependencyError(
            "missing packages: imageio_ffmpeg (movie encoding): pip install 'imageio-ffmpeg'"
        ) from None
    if not frames:
        raise BadInputError(f"{out}: no frames to encode")
    with Image.open(frames[0]) as im:
        size = im.size
    w, h = size[0] + size[0] % 2, size[1] + size[1] % 2
    with atomic_path(out) as tmp:
        writer = imageio_ffmpeg.write_frames(
            str(tmp), (w, h), fps=float(fps), codec="libx264", pix_fmt_in="rgb24",
            pix_fmt_out="yuv420p", quality=None, macro_block_size=1,
            ffmpeg_log_level="error",
            output_params=["-crf", str(int(crf)), "-preset", "medium", "-movflags", "+faststart"],
        )
        writer.send(None)  # start ffmpeg
        try:
            for path in frames:
                with Image.open(path) as im:
                    if im.size != size:
                        raise BadInputError(f"{path}: frame size {im.size[0]}x{im.size[1]} "
                                            f"differs from the first frame's {size[0]}x{size[1]}")
                    arr = _even(np.asarray(im.convert("RGB")))
                writer.send(np.ascontiguousarray(arr))
        finally:
            writer.close()
    return out


def count_frames(path: Path) -> int:
    """Frames in a movie (decoded by ffmpeg, no ffprobe needed)."""
    import imageio_ffmpeg

    n, _secs = imageio_ffmpeg.count_frames_and_secs(str(path))
    return int(n)
