"""Render speed (issue #18 item 1): seconds per frame at the default settings, the converged
reference's cost and agreement, resolution and worker scaling, for each default scene.

For the materials and climate default scenes (4 frames, no render at conversion), with
``python -m render`` (one Blender process per chunk; per-frame stage lines in
``logs/render_*.log``, see :mod:`render.blender_chunk`):

* default samples, 800x450, 1 worker: steady-state s/frame (first frame excluded);
* ``--samples 512`` (the converged reference) on the first ``VIZPIPE_BENCH_RENDER_REF_FRAMES``
  frames (default 2: steady state, the first excluded as for the default): time ratio
  reference / default, and SSIM of the raw renders (``frames/raw/NNNN.png``, no overlays)
  against the default ones;
* ``--resolution 1920x1080``, default samples, ``VIZPIPE_BENCH_RENDER_HD_FRAMES`` frames
  (default 2): s/frame;
* 2 workers vs 1 on the same 4 frames: wall-time speed-up.

``VIZPIPE_BENCH_RENDER_SCENES`` (``materials,climate``) picks the scenes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.benchmark

OUT = Path("out/bench-render")
FRAMES = 4
REF_SAMPLES = 512
_LINE = re.compile(r"^frame (\d+): build ([0-9.]+) s \(import ([0-9.]+) s\), render ([0-9.]+) s "
                   r"\(sync ([0-9.]+), BVH ([0-9.]+), sampling ([0-9.]+), denoise ([0-9.]+), "
                   r"other ([0-9.]+) s\), overlay ([0-9.]+) s")
_KEYS = ("build", "import", "render", "sync", "bvh", "sampling", "denoise", "other", "overlay")

SCENES = {
    "materials": ["-m", "materials_pipeline", "--default", "--no-render", "--orbit-frames",
                  str(FRAMES), "--workers", "1"],
    "climate": ["-m", "climate_pipeline", "--default", "--no-render", "--frames", str(FRAMES),
                "--particles", "3000", "--workers", "1"],
}


def make_scene(name: str) -> Path:
    run = OUT / name
    if not (run / "manifest.json").exists():
        shutil.rmtree(run, ignore_errors=True)
        run.parent.mkdir(parents=True, exist_ok=True)
        res = subprocess.run([sys.executable, *SCENES[name], "--out", str(run)],
                             capture_output=True, text=True, timeout=1200)
        assert res.returncode == 0, res.stderr[-2000:]
    return run


def render(run: Path, frames: int, *extra: str, workers: int = 1) -> tuple[float, dict]:
    """``python -m render`` on frames 0..frames-1; (wall seconds, {frame: stage seconds})."""
    shutil.rmtree(run / "logs", ignore_errors=True)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "render", str(run), "--frames", f"0:{frames}",
                          "--no-movie", "--no-blend", "--force", "--workers", str(workers),
                          *extra], capture_output=True, text=True, timeout=3600)
    wall = time.perf_counter() - t0
    assert res.returncode == 0, res.stdout[-1000:] + res.stderr[-2000:]
    stages = {}
    for log in (run / "logs").glob("render_*.log"):
        for line in log.read_text().splitlines():
            m = _LINE.match(line)
            if m:
                stages[int(m.group(1))] = dict(zip(_KEYS, map(float, m.groups()[1:]),
                                                   strict=True))
    assert len(stages) == frames, f"stage lines for {sorted(stages)} of {frames} frames"
    return wall, stages


def steady(stages: dict) -> float:
    """Mean seconds per frame (build + render + overlay), the chunk's first frame excluded."""
    later = [s for i, s in sorted(stages.items())[1:]] or list(stages.values())
    return float(np.mean([s["build"] + s["render"] + s["overlay"] for s in later]))


def raw_frames(run: Path, n: int) -> list[np.ndarray]:
    from skimage.io import imread

    return [imread(run / "frames" / "raw" / f"{i:04d}.png")[..., :3] for i in range(n)]


def breakdown(stages: dict) -> str:
    later = [s for i, s in sorted(stages.items())[1:]] or list(stages.values())
    mean = {k: float(np.mean([s[k] for s in later])) for k in _KEYS}
    return ", ".join(f"{k} {mean[k]:.2f}" for k in _KEYS)


def test_render_speed(benchmark, report_ratio):
    from skimage.metrics import structural_similarity

    names = [s for s in os.environ.get("VIZPIPE_BENCH_RENDER_SCENES",
                                       "materials,climate").split(",") if s]
    n_ref = int(os.environ.get("VIZPIPE_BENCH_RENDER_REF_FRAMES", "2"))
    for name in names:
        run = make_scene(name)
        wall1, st = render(run, FRAMES)
        spf = steady(st)
        default = raw_frames(run, n_ref)
        print(f"\n{name} default 800x450 per-frame stages (s, first excluded): {breakdown(st)}")
        for i, s in sorted(st.items()):
            print(f"  {name} frame {i}: {s}")
        _, st_ref = render(run, n_ref, "--samples", str(REF_SAMPLES))
        ref = raw_frames(run, n_ref)
        spf_ref = steady(st_ref)
        spf_def_same = steady({i: st[i] for i in range(n_ref)})
        print(f"{name} reference {REF_SAMPLES} spp stages: {breakdown(st_ref)}")
        ssims = [structural_similarity(a, b, channel_axis=2) for a, b in zip(default, ref,
                                                                             strict=True)]
        wall2, _ = render(run, FRAMES, workers=2)
        n_hd = int(os.environ.get("VIZPIPE_BENCH_RENDER_HD_FRAMES", "2"))
        _, st_hd = render(run, n_hd, "--resolution", "1920x1080")
        spf_hd = steady(st_hd)
        print(f"{name} 1920x1080 stages: {breakdown(st_hd)}")
        refnote = (f"frames 0-{n_ref - 1} only (first excluded when >1)" if n_ref < FRAMES
                   else f"{FRAMES} frames")
        report_ratio(f"render {name}, time reference {REF_SAMPLES} spp / default",
                     float(spf_ref / spf_def_same), 10.0,
                     reference=f"{spf_ref:.1f} vs {spf_def_same:.1f} s/frame, 800x450, 1 "
                               f"worker; reference at {refnote}")
        report_ratio(f"render {name}, SSIM default vs {REF_SAMPLES} spp", float(min(ssims)), 0.95,
                     unit="", reference=f"raw frames 0-{n_ref - 1} (min; all "
                                        f"{', '.join(f'{x:.3f}' for x in ssims)})")
        report_ratio(f"render {name}, s/frame 800x450 default", spf, None, better="lower",
                     unit="s", reference=f"{FRAMES} frames, 1 worker, first excluded; "
                                         f"{breakdown(st)}")
        report_ratio(f"render {name}, s/frame 1920x1080 default", spf_hd, None,
                     better="lower", unit="s",
                     reference=f"{n_hd} frames, 1 worker, first excluded; {breakdown(st_hd)}")
        report_ratio(f"render {name}, 2 workers vs 1 (wall)", float(wall1 / wall2), 1.8,
                     reference=f"{FRAMES} frames at 800x450: {wall1:.1f} s vs {wall2:.1f} s "
                               f"on {os.cpu_count()} cores")
    benchmark.pedantic(lambda: None, rounds=1)
    if os.environ.get("VIZPIPE_BENCH_KEEP", "0") in ("", "0"):
        shutil.rmtree(OUT, ignore_errors=True)
