"""Beyond one disk (issue #15, part 3): the pipeline's API on 1 GB to 1 TB of data that is never
written, and the peak RSS against the logical size.

Each point is a fresh process, ``python -m vizpipe_app.lazydata --size S --frames 4 --out
DIR``: :func:`climate_pipeline.api.convert_dataset` on :func:`vizpipe_app.lazydata.
lazy_dataset` (the scale check's pm2p5 + u, v, w on 20 x 400 x 800, float32, 102.4 MB per
step, each step computed when read), the first 4 time steps as output frames, default flags
otherwise: particles (20,000), streamlines, volumes, isosurfaces on; the manifest and static
assets written. 1, 10, 100 GB and 1 TB are 10, 98, 977 and 9766 steps. The peak is the summed
RSS of the process tree sampled every 20 ms (:func:`vizpipe_app.bigrun.peak_tree_rss`, as
MEASURE.md asks), beside the process's own high-water mark; two interleaved rounds, the
larger peak and the shorter wall time of each size kept. The curve goes to
``out/scale_curve.json``; the figure is peak(100 GB) / peak(1 GB), target <= 1.10.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from vizpipe_app.bigrun import peak_tree_rss

pytestmark = pytest.mark.benchmark

ROOT = Path(__file__).resolve().parents[2]
SIZES_GB = (1, 10, 100, 1000)
FRAMES = 4
ROUNDS = 2


def _point(gb: int, out: Path, log: Path) -> dict:
    argv = [sys.executable, "-m", "vizpipe_app.lazydata", "--size", f"{gb}GB", "--frames",
            str(FRAMES), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VIZPIPE_ENGINE", None)
    rc, wall, peak = peak_tree_rss(argv, env, log, cwd=ROOT, timeout=600)
    text = log.read_text(errors="replace")
    assert rc == 0, text[-3000:]
    got = json.loads(next(ln for ln in reversed(text.splitlines()) if ln.startswith("{")))
    return {"logical_gb": round(got["logical_gb"], 3), "steps": got["steps"],
            "peak_rss_mb": round(peak, 1), "maxrss_mb": round(got["maxrss_mb"], 1),
            "wall_s": round(wall, 2), "frames": got["frames"],
            "wind_window": got["wind_window"][0] if got["wind_window"] else None}


def test_peak_rss_is_flat_from_1_gb_to_1_tb(benchmark, tmp_path, report_ratio):
    runs: dict[int, list[dict]] = {gb: [] for gb in SIZES_GB}
    for r in range(ROUNDS):  # interleaved: 1, 10, 100, 1000, 1, 10, ...
        for gb in SIZES_GB:
            out = tmp_path / f"run{gb}-{r}"
            runs[gb].append(_point(gb, out, tmp_path / f"run{gb}-{r}.log"))
            shutil.rmtree(out, ignore_errors=True)
    benchmark.pedantic(lambda: None, rounds=1)
    curve = []
    for gb in SIZES_GB:
        pts = runs[gb]
        best = dict(pts[0])
        best.update(peak_rss_mb=max(p["peak_rss_mb"] for p in pts),
                    maxrss_mb=max(p["maxrss_mb"] for p in pts),
                    wall_s=min(p["wall_s"] for p in pts),
                    peaks_mb=[p["peak_rss_mb"] for p in pts], walls_s=[p["wall_s"] for p in pts])
        curve.append(best)
    by = {c["logical_gb"]: c for c in curve}
    first, hundred = curve[0], curve[SIZES_GB.index(100)]
    out = Path(os.environ.get("VIZPIPE_BENCH_OUT", "out"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "scale_curve.json").write_text(json.dumps({
        "command": f"python -m vizpipe_app.lazydata --size SIZE --frames {FRAMES} --out DIR",
        "what": "climate_pipeline.api.convert_dataset on a lazily generated pm2p5 + u, v, w "
                "dataset (20 x 400 x 800 float32, 102.4 MB per step), the first 4 steps as "
                "frames, default flags (particles, streamlines, volumes, isosurfaces); peak "
                "RSS of the process tree sampled every 20 ms, max of 2 rounds; wall min of 2",
        "curve": curve}, indent=1))
    for c in curve:
        report_ratio(f"scale: peak RSS, {c['logical_gb']:g} GB lazy ({c['steps']} steps)",
                     c["peak_rss_mb"], unit="MB",
                     reference=f"wall {c['wall_s']:.1f} s, 4 frames + 20k particles")
    report_ratio("scale: peak RSS 100 GB / 1 GB (lazy dataset, API)",
                 hundred["peak_rss_mb"] / first["peak_rss_mb"], 1.10, better="lower",
                 reference=f"{first['peak_rss_mb']:.0f} MB -> {hundred['peak_rss_mb']:.0f} MB")
    last = curve[-1]
    report_ratio(f"scale: peak RSS {last['logical_gb']:g} GB / 1 GB (lazy dataset, API)",
                 last["peak_rss_mb"] / first["peak_rss_mb"], 1.10, better="lower",
                 reference=f"{first['peak_rss_mb']:.0f} MB -> {last['peak_rss_mb']:.0f} MB")
    for c in curve:  # the winds are read through the window, never the steps
        assert c["wind_window"]["steps_read"] <= 2 * c["wind_window"]["steps"] + FRAMES, c
    assert len(by) == len(SIZES_GB)
