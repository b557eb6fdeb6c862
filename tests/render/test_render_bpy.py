"""End to end with the real bpy wheel (headless Cycles on the CPU), on a tiny demo run.

One demo run (3 frames, 160x90, 4 samples) is built and rendered once per session by the real
command line (``python -m render``); the tests read what it wrote, and a few start the driver
again on copies of the run to check re-runs and failures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.rundir import RunDir

pytestmark = pytest.mark.bpy

ROOT = Path(__file__).resolve().parents[2]
FRAMES = 3
SIZE = (160, 90)
PARAMS = {"frames": FRAMES, "resolution": list(SIZE), "samples": 4, "grid": [40, 38, 39]}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("VIZPIPE_ENGINE", None)
    return env


def render_cli(run_dir: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``python -m render RUN_DIR args...`` in a subprocess (as a user runs it)."""
    return subprocess.run([sys.executable, "-m", "render", str(run_dir), *args],
                          capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=timeout)


def _copy(run_dir: Path, dest: Path) -> Path:
    """The run's inputs only (no frames, movie, blend or logs)."""
    shutil.copytree(run_dir, dest, ignore=shutil.ignore_patterns(
        "frames", "movie.mp4", "scene.blend", "logs", "run.log"))
    return dest


def _error_line(proc: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert lines, f"no stderr (rc {proc.returncode}); stdout:\n{proc.stdout}"
    return lines[-1]


@pytest.fixture(scope="session")
def rendered(tmp_path_factory) -> dict:
    """The demo run, built in-process and rendered by the CLI (2 workers, chunks of 2)."""
    from core.runtime import use_engine
    from vizpipe_app import demo

    run_dir = tmp_path_factory.mktemp("render") / "demo"
    with use_engine("serial"):
        demo.run(run_dir, PARAMS)
    t0 = time.perf_counter()
    proc = render_cli(run_dir, "--workers", "2", "--chunk", "2")
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return {"run_dir": run_dir, "proc": proc, "wall": wall}


def test_frames_have_the_size_and_are_not_blank(rendered):
    run_dir = rendered["run_dir"]
    for i in range(FRAMES):
        img = Image.open(RunDir(run_dir).frame_png(i))
        assert img.size == SIZE
        a = np.asarray(img.convert("RGB")).astype(float)
        assert a.std() > 12, f"frame {i} looks blank (std {a.std():.1f})"
        chroma = a.max(axis=2) - a.min(axis=2)
        assert (chroma > 40).mean() > 0.01, f"frame {i} has no colour"
        raw = Image.open(RunDir(run_dir).raw_png(i))
        assert raw.size == SIZE
    assert "frame 0 done in" in rendered["proc"].stdout
    leftovers = [p.name for p in RunDir(run_dir).frames.rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_movie_has_every_frame(rendered):
    from render.movie import count_frames

    movie = rendered["run_dir"] / "movie.mp4"
    assert count_frames(movie) == FRAMES


def test_blend_holds_the_animation(rendered):
    run_dir = rendered["run_dir"]
    script = textwrap.dedent(f"""
        import json, bpy
        bpy.ops.wm.open_mainfile(filepath={str(run_dir / 'scene.blend')!r})
        s = bpy.context.scene
        vis = []
        for f in range(s.frame_start, s.frame_end + 1):
            s.frame_set(f)
            vis.append(sorted(o.name for o in s.objects if "." in o.name and not o.hide_render))
        cam = s.camera
        print("JSON" + json.dumps({{
            "objects": sorted(o.name for o in bpy.data.objects),
            "volumes": sorted(v.filepath for v in bpy.data.volumes),
            "range": [s.frame_start, s.frame_end], "visible": vis,
            "camera": cam.name, "camera_animated": bool(cam.animation_data
                                                        and cam.animation_data.action),
        }}))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout.split("JSON", 1)[1])
    names = set(info["objects"])
    assert {"Camera", "KeyLight", "FillLight", "RimLight", "cell"} <= names
    for i in range(FRAMES):
        for a in ("density", "density_iso", "atoms", "bonds", "trails"):
            assert f"{a}.{i:04d}" in names
    assert info["volumes"] == [f"//assets/{i:04d}/density.vdb" for i in range(FRAMES)]
    assert info["range"] == [0, FRAMES - 1]
    for i, visible in enumerate(info["visible"]):
        assert {v.split(".")[1] for v in visible} == {f"{i:04d}"}
    assert info["camera_animated"]


def test_rerun_skips_finished_frames(rendered):
    run_dir = rendered["run_dir"]
    frames = sorted(RunDir(run_dir).frames.glob("*.png"))
    before = {p: p.stat().st_mtime_ns for p in frames}
    proc = render_cli(run_dir, "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert f"{FRAMES} already rendered, 0 to render" in proc.stdout
    assert "up to date" in proc.stdout
    assert {p: p.stat().st_mtime_ns for p in frames} == before


def test_driver_never_imports_bpy(rendered):
    code = textwrap.dedent(f"""
        import sys
        import render, render.driver, render.tasks, render.process, render.overlay
        import render.movie, render.paths
        from render.driver import main
        rc = main([{str(rendered['run_dir'])!r}, "--no-blend", "--engine", "serial"])
        print("BPY", "bpy" in sys.modules, rc)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "BPY False 0" in proc.stdout


def test_missing_manifest(tmp_path):
    proc = render_cli(tmp_path)
    assert proc.returncode == 1
    line = _error_line(proc)
    assert line.startswith("error: ") and "no manifest" in line
    assert len(proc.stderr.strip().splitlines()) == 1


def test_invalid_manifest_field(rendered, tmp_path):
    m = json.loads(RunDir(rendered["run_dir"]).manifest.read_text())
    m["frames"][1]["assets"][2]["kind"] = "blob"
    RunDir(tmp_path).manifest.write_text(json.dumps(m))
    proc = render_cli(tmp_path)
    assert proc.returncode == 1
    line = _error_line(proc)
    assert line.startswith("error: ") and "frames/1/assets/2/kind" in line
    assert len(proc.stderr.strip().splitlines()) == 1


def test_missing_asset(rendered, tmp_path):
    run = _copy(rendered["run_dir"], tmp_path / "run")
    gone = RunDir(run).frame_dir(1) / "trails.ply"
    gone.unlink()
    proc = render_cli(run)
    assert proc.returncode == 1
    line = _error_line(proc)
    assert line.startswith("error: ") and "missing" in line and str(gone) in line
    assert not RunDir(run).frames.exists()


def test_chunk_failure_keeps_earlier_frames(rendered, tmp_path):
    run = _copy(rendered["run_dir"], tmp_path / "run")
    bad = RunDir(run).frame_dir(2) / "atoms.ply"
    bad.write_bytes(b"ply\nformat ascii 1.0\nend_header\n")  # present but unreadable
    proc = render_cli(run, "--chunk", "3", "--engine", "serial", "--no-blend")
    assert proc.returncode == 1
    line = _error_line(proc)
    assert line.startswith("error: ") and "atoms.ply" in line and "render_" in line
    assert RunDir(run).frame_png(0).exists() and RunDir(run).frame_png(1).exists()
    assert not RunDir(run).frame_png(2).exists()
    assert not (run / "movie.mp4").exists()


def test_gpu_device_without_gpu_fails_clearly(rendered, tmp_path):
    run = _copy(rendered["run_dir"], tmp_path / "run")
    proc = render_cli(run, "--device", "GPU", "--frames", "0", "--engine", "serial",
                      "--no-blend", "--no-movie")
    if proc.returncode == 0:
        pytest.skip("this machine has a GPU Cycles can use")
    line = _error_line(proc)
    assert line.startswith("error: ") and "no GPU device found" in line
