"""``--draft``: Workbench frames in frames/draft/, apart from the final frames (real bpy wheel).

One demo run (3 frames, 800x450) is drafted by the real command line; the final frame and the
movie put there beforehand must stay as they were, and neither kind of frame counts as done
for the other.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.rundir import RunDir
from render import paths

pytestmark = pytest.mark.bpy

ROOT = Path(__file__).resolve().parents[2]
SIZE = (800, 450)
PARAMS = {"frames": 3, "resolution": list(SIZE), "samples": 4, "grid": [40, 38, 39]}


def render_cli(run_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("VIZPIPE_ENGINE", None)
    return subprocess.run([sys.executable, "-m", "render", str(run_dir), *args],
                          capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)


@pytest.fixture(scope="module")
def drafted(tmp_path_factory) -> dict:
    """The demo run with a stand-in final frame 0 and movie, drafted for frames 0 and 1."""
    from core.runtime import use_engine
    from vizpipe_app import demo

    run_dir = tmp_path_factory.mktemp("draft") / "demo"
    with use_engine("serial"):
        demo.run(run_dir, PARAMS)
    rd = RunDir(run_dir)
    rd.frames.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", SIZE, (10, 200, 30)).save(rd.frame_png(0))
    rd.movie.write_bytes(b"not a real movie")
    keep = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in (rd.frame_png(0), rd.movie)}
    proc = render_cli(run_dir, "--draft", "--frames", "0:2", "--workers", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"run_dir": run_dir, "proc": proc, "keep": keep}


def test_draft_frames_go_to_frames_draft(drafted):
    run_dir = drafted["run_dir"]
    for i in (0, 1):
        assert paths.png_size(run_dir / "frames" / "draft" / f"{i:04d}.png") == SIZE
    assert not (run_dir / "frames" / "draft" / "0002.png").exists()
    assert not RunDir(run_dir).frame_png(1).exists()  # no final frame written
    assert not (run_dir / "movie_draft.mp4").exists()  # frame 2 not drafted yet


def test_final_frame_and_movie_untouched(drafted):
    for path, (mtime, data) in drafted["keep"].items():
        assert path.stat().st_mtime_ns == mtime and path.read_bytes() == data, path


def test_draft_is_coloured_and_has_the_overlays(drafted):
    run_dir = drafted["run_dir"]
    img = np.asarray(Image.open(paths.final_frame(run_dir, 0, draft=True)).convert("RGB"),
                     float)
    assert img.std() > 12, f"draft looks blank (std {img.std():.1f})"
    chroma = img.max(axis=2) - img.min(axis=2)
    h, w = chroma.shape
    centre = chroma[h // 2 - 60:h // 2 + 60, w // 2 - 60:w // 2 + 60]  # the isosurface
    assert (centre > 40).mean() > 0.3, "no coloured isosurface in the middle of the draft"
    # the title (top left): bright text in the final frame, nothing there on the plate
    plate = np.asarray(Image.open(paths.raw_frame(run_dir, 0, draft=True)).convert("RGBA"),
                       float)
    box = (slice(0, round(0.08 * h)), slice(0, round(0.3 * w)))
    assert (img[box].min(axis=2) > 200).sum() > 200, "no title text"
    assert plate[box][..., 3].max() == 0, "the plate is not transparent behind the title"
    with Image.open(paths.final_frame(run_dir, 0, draft=True)) as im:
        assert "Workbench" in im.info.get("Software", "")


def test_draft_time_is_logged(drafted):
    run_dir = drafted["run_dir"]
    out = drafted["proc"].stdout
    assert "Workbench draft" in out
    m = re.search(r"render: 2 draft frame\(s\) in [0-9.]+s wall, ([0-9.]+)s per frame", out)
    assert m, out
    log = RunDir(run_dir).run_log.read_text()
    assert m.group(0) in log  # the measured s/frame is in run.log
    chunk_log = (RunDir(run_dir).logs / "draft_0000_0001.log").read_text()
    assert "frame 0 done in" in chunk_log and "frame 1 done in" in chunk_log


def test_draft_and_final_frames_do_not_count_for_each_other(drafted, tmp_path):
    run_dir = shutil.copytree(drafted["run_dir"], tmp_path / "copy")
    manifest = json.loads(RunDir(run_dir).manifest.read_text())
    key0 = paths.frame_key(manifest, 0)
    assert paths.frame_done(run_dir, 0, SIZE, key0, draft=True)
    assert not paths.frame_done(run_dir, 0, SIZE, key0)  # the stand-in final frame 0
    # a final frame made from the draft (right size and key) counts as final, never as draft
    shutil.copy(paths.final_frame(run_dir, 1, draft=True), RunDir(run_dir).frame_png(2))
    assert paths.frame_done(run_dir, 2, SIZE, None)
    assert not paths.frame_done(run_dir, 2, SIZE, None, draft=True)
    dry = render_cli(run_dir, "--frames", "0:2", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "# 2 frame(s) to render" in dry.stdout and "--draft" not in dry.stdout
    dry = render_cli(run_dir, "--draft", "--dry-run")
    assert "# 1 frame(s) to render" in dry.stdout and "--draft" in dry.stdout


def test_draft_rerun_renders_the_rest_and_the_draft_movie(drafted, tmp_path):
    from render.movie import count_frames

    run_dir = shutil.copytree(drafted["run_dir"], tmp_path / "copy")
    before = {i: paths.final_frame(run_dir, i, True).stat().st_mtime_ns for i in (0, 1)}
    proc = render_cli(run_dir, "--draft", "--workers", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 already rendered, 1 to render" in proc.stdout
    assert {i: paths.final_frame(run_dir, i, True).stat().st_mtime_ns for i in (0, 1)} == before
    assert count_frames(run_dir / "movie_draft.mp4") == 3
    assert (run_dir / "movie.mp4").read_bytes() == b"not a real movie"
    assert not (run_dir / "scene.blend").exists()


@pytest.mark.parametrize("pipeline", ["materials_pipeline", "climate_pipeline"])
def test_pipelines_take_draft(pipeline):
    import importlib

    mod = importlib.import_module(f"{pipeline}.settings")
    s = mod.settings_from_args(mod.build_parser().parse_args(["x", "--out", "o", "--draft"]))
    assert s.draft and s.render
    s = mod.settings_from_args(mod.build_parser().parse_args(["x", "--out", "o"]))
    assert not s.draft
