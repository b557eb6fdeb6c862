"""Resume after a hard kill: a re-run skips the finished frames and ends with the same assets.

A pipeline run is started as a subprocess, SIGKILLed (its whole process group: the engine's
worker processes too) once some but not all frames are complete, then run again. The result
must equal an uninterrupted run's, the frames finished before the kill must not be rebuilt,
and no temporary file may be left anywhere in the run directory.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.rundir import RunDir
from vizpipe_app.scaling import content_digest, materials_inputs

ROOT = Path(__file__).resolve().parents[2]
N_FRAMES = 10


def _cmd(module: str, inputs: list[str], out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", module, *inputs, "--out", str(out), "--no-render",
            "--engine", "local", "--workers", "2", *extra]


def _run(cmd: list[str]) -> str:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stderr


def _complete(run: Path) -> list[Path]:
    return sorted(run.glob("assets/*/frame.json"))


def _kill_midway(cmd: list[str], run: Path, n: int, timeout: float = 120) -> list[Path]:
    """Start ``cmd``, SIGKILL its process group once 1..n-2 frames are complete, preferably
    while a file is being written."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    t0 = time.monotonic()
    try:
        while time.monotonic() - t0 < timeout:
            done = _complete(run)
            # preferably while a file is half written (its temporary exists)
            if 1 <= len(done) <= n - 2 and (len(done) == n - 2 or _temporaries(run)):
                os.killpg(proc.pid, signal.SIGKILL)
                break
            if proc.poll() is not None or len(done) > n - 2:
                pytest.fail(f"the run finished ({len(done)} frames) before it could be killed")
            time.sleep(0.01)
        else:
            pytest.fail("no frame completed in time")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    time.sleep(0.2)  # let the killed workers' files settle
    if os.environ.get("VIZPIPE_TEST_DEBUG"):
        print("temporaries after the kill:", _temporaries(run))
    return _complete(run)


def _stamps(paths: list[Path]) -> dict[Path, int]:
    out = {}
    for meta in paths:
        for f in meta.parent.iterdir():
            out[f] = f.stat().st_mtime_ns
    return out


def _temporaries(run: Path) -> list[Path]:
    return [p for p in run.rglob(".*") if re.search(r"\.tmp", p.name)]


def test_materials_killed_run_resumes_to_the_same_assets(tmp_path):
    inputs = [str(p) for p in materials_inputs(tmp_path / "in", N_FRAMES, 48)]
    ref, run = tmp_path / "ref", tmp_path / "run"
    _run(_cmd("materials_pipeline", inputs, ref))

    finished = _kill_midway(_cmd("materials_pipeline", inputs, run), run, N_FRAMES)
    assert 1 <= len(finished) <= N_FRAMES - 2
    before = _stamps(finished)
    log = _run(_cmd("materials_pipeline", inputs, run))

    m = re.search(r"(\d+) frame\(s\), (\d+) converted, (\d+) already there", log)
    assert m, log
    assert (int(m[1]), int(m[3])) == (N_FRAMES, len(finished))  # skipped exactly those
    assert _stamps(finished) == before  # not rewritten, not even touched
    assert content_digest(run) == content_digest(ref)
    assert not _temporaries(run)
    assert len(_complete(run)) == N_FRAMES

    # a truncated asset under a valid frame.json: that frame alone is rebuilt
    vdb = RunDir(run).frame_dir(0) / "density.vdb"
    with open(vdb, "r+b") as fh:
        fh.truncate(vdb.stat().st_size // 2)
    log = _run(_cmd("materials_pipeline", inputs, run))
    assert f"{N_FRAMES} frame(s), 1 converted" in log, log
    assert content_digest(run) == content_digest(ref)


def test_climate_killed_run_resumes_to_the_same_assets(tmp_path):
    from vizpipe_app.scaling import climate_inputs

    nc = str(climate_inputs(tmp_path / "in", 90, 6))
    extra = ("--var", "pm10", "--frames", str(N_FRAMES), "--particles", "2000", "--batches",
             "2", "--coastlines", "110m", "--formats", "ply,glb")
    ref, run = tmp_path / "ref", tmp_path / "run"
    _run(_cmd("climate_pipeline", [nc], ref, *extra))

    finished = _kill_midway(_cmd("climate_pipeline", [nc], run, *extra), run, N_FRAMES)
    # particle batches write into every frame folder (batch 0 also the streamlines), and the
    # kill may catch one mid-write: its temporary (.streamlines.ply.<pid>.tmp.ply) is not the
    # frame's either, and the re-run removes it
    before = {p: t for p, t in _stamps(finished).items()
              if not p.name.lstrip(".").startswith(("particles_b", "trails_b", "streamlines"))}
    log = _run(_cmd("climate_pipeline", [nc], run, *extra))
    m = re.search(r"(\d+) frame\(s\), (\d+) converted", log)
    assert m, log
    assert (int(m[1]), int(m[2])) == (N_FRAMES, N_FRAMES - len(finished))
    assert {p: p.stat().st_mtime_ns for p in before} == before
    assert content_digest(run) == content_digest(ref)
    assert not _temporaries(run)
