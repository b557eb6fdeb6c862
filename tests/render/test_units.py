"""The renderer's pure parts (no bpy): frame selection, chunks, completeness, overlays, movie."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.errors import PipelineError
from render import driver, movie, overlay, paths


@pytest.mark.parametrize("text, expected", [
    ("2:5", (2, 5)), ("3:", (3, None)), (":4", (None, 4)), ("7", (7, 8)), (" 1 : 2 ", (1, 2)),
])
def test_parse_frame_range(text, expected):
    assert driver.parse_frame_range(text) == expected


@pytest.mark.parametrize("text", ["a:b", "", "1:2:3", "x"])
def test_parse_frame_range_rejects(text):
    with pytest.raises(argparse.ArgumentTypeError):
        driver.parse_frame_range(text)


def test_parse_resolution():
    assert driver.parse_resolution("320x180") == (320, 180)
    for bad in ("320", "8x8", "axb"):
        with pytest.raises(argparse.ArgumentTypeError):
            driver.parse_resolution(bad)


def test_select_frames():
    m = {"frames": [{"index": i} for i in (0, 1, 2, 5, 9)]}
    assert driver.select_frames(m, None) == [0, 1, 2, 5, 9]
    assert driver.select_frames(m, (1, 6)) == [1, 2, 5]
    assert driver.select_frames(m, (5, None)) == [5, 9]
    with pytest.raises(PipelineError, match="no frame of the manifest"):
        driver.select_frames(m, (6, 9))


def test_make_chunks():
    frames = list(range(10))
    assert driver.make_chunks(frames, None, 2) == [frames[:5], frames[5:]]
    assert driver.make_chunks(frames, 4, 2) == [frames[:4], frames[4:8], frames[8:]]
    assert driver.make_chunks(list(range(40)), None, 2)[0] == list(range(driver.MAX_DEFAULT_CHUNK))
    assert driver.make_chunks([], None, 2) == []
    assert sum(driver.make_chunks(frames, None, 3), []) == frames


def test_frame_done_needs_a_complete_png_of_the_right_size(tmp_path):
    f = paths.final_frame(tmp_path, 3)
    assert not paths.frame_done(tmp_path, 3, (32, 16))
    f.parent.mkdir(parents=True)
    Image.new("RGB", (32, 16), (10, 20, 30)).save(f)
    assert paths.png_size(f) == (32, 16)
    assert paths.frame_done(tmp_path, 3, (32, 16))
    assert not paths.frame_done(tmp_path, 3, (64, 32))
    f.write_bytes(f.read_bytes()[:-20])  # truncated: not done
    assert not paths.frame_done(tmp_path, 3, (32, 16))


def _manifest(run_dir: Path) -> dict:
    from core.colormaps import colorbar_png

    colorbar_png(run_dir / "bar.png", "viridis", 0, 1, label="x", units="K", size_px=(60, 200))
    return {"render": {"background": [0.1, 0.1, 0.12]},
            "legend": {"title": "A title", "subtitle": "a subtitle that is rather long " * 3,
                       "colorbar": {"image": "bar.png"},
                       "items": [{"label": "thing", "color": [1, 0, 0]}, {"label": "other"}]}}


def test_overlay_draws_on_the_plate(tmp_path):
    m = _manifest(tmp_path)
    plate = Image.new("RGB", (320, 180), (0, 0, 0))
    out = overlay.compose(plate, m, {"index": 0, "label": "t = 1 s"}, tmp_path)
    assert out.size == (320, 180)
    a = np.asarray(out.convert("RGB")).astype(int)
    assert a[:20, :120].max() > 150  # title, top left
    assert a[:15, -60:].max() > 150  # time label, top right
    assert a[50:130, -60:].std() > 10  # colour bar, right
    assert (a[-30:, :12, 0] > 150).any()  # red legend swatch, bottom left
    # a transparent plate goes over the background colour
    clear = Image.new("RGBA", (320, 180), (0, 0, 0, 0))
    bg = np.asarray(overlay.compose(clear, {"render": {"background": [0.2, 0.4, 0.6]}},
                                    {"index": 0}, tmp_path).convert("RGB")).astype(int)
    assert bg[90, 160, 2] > bg[90, 160, 0]  # bluish


def test_overlay_missing_colorbar_image(tmp_path):
    m = {"legend": {"colorbar": {"image": "nope.png"}}}
    with pytest.raises(PipelineError, match="nope.png"):
        overlay.compose(Image.new("RGB", (64, 36)), m, {"index": 0}, tmp_path)


def test_movie_odd_size_and_frame_count(tmp_path):
    files = []
    for i in range(4):
        p = tmp_path / f"{i:04d}.png"
        Image.new("RGB", (35, 21), (60 * i, 30, 200 - 40 * i)).save(p)
        files.append(p)
    out = movie.encode(files, tmp_path / "movie.mp4", fps=4)
    assert movie.count_frames(out) == 4
    assert sorted(q.name for q in tmp_path.iterdir() if "tmp" in q.name) == []


def test_movie_rejects_mixed_sizes(tmp_path):
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (32, 16)).save(a)
    Image.new("RGB", (16, 16)).save(b)
    with pytest.raises(PipelineError, match="differs"):
        movie.encode([a, b], tmp_path / "m.mp4", fps=2)
    assert not (tmp_path / "m.mp4").exists()
