"""Assets no bigger than the picture needs (issue #16), materials: the 256^3 CHGCAR (8 Si in a
triclinic cell, out/bench-data/CHGCAR_256) converted with default flags writes no more bytes
than it reads, and its rendered still matches the ``--full-res`` one (SSIM >= 0.99).
The helpers (bytes, write time, render, SSIM) are the climate benchmark's."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.climate.test_bench_assets import asset_bytes, render_frame, ssim
from tests.materials.test_bench_pipeline import chgcar256  # noqa: F401  (fixture)

pytestmark = pytest.mark.benchmark

OUT = Path("out/bench-assets-materials")


def _convert(src: Path, out: Path, *extra: str) -> float:
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "materials_pipeline", str(src), "--out",
                          str(out), "--no-render", *extra], capture_output=True, text=True,
                         timeout=1800)
    assert res.returncode == 0, res.stderr[-2000:]
    return time.perf_counter() - t


def test_materials_assets_fit_the_input_and_the_picture(benchmark, chgcar256,  # noqa: F811
                                                        report_ratio):
    bytes_in = chgcar256.stat().st_size
    runs = {"default": (), "full": ("--full-res",),
            "all": ("--formats", "usd,glb,ply", "--full-res")}
    wall = {k: _convert(chgcar256, OUT / k, *flags) for k, flags in runs.items()}
    out = {k: asset_bytes(OUT / k) for k in runs}
    wsec = {k: json.loads((OUT / k / "assets/0000/frame.json").read_text())["write_seconds"]
            for k in runs}
    man = json.loads((OUT / "default/manifest.json").read_text())
    surf = [a for a in man["frames"][0]["assets"] if "faces" in a]
    faces, full = sum(a["faces"] for a in surf), sum(a["faces_full"] for a in surf)
    s, worst = ssim(render_frame(OUT / "default", 0), render_frame(OUT / "full", 0))
    benchmark.pedantic(lambda: None, rounds=1)
    what = f"256^3 CHGCAR ({bytes_in / 1e6:.0f} MB), default flags"
    report_ratio("materials 256^3 CHGCAR, asset bytes / input bytes", out["default"] / bytes_in,
                 1.0, better="lower",
                 reference=f"{what}: {out['default'] / 1e6:.1f} MB of assets; every format "
                           f"at full detail {out['all'] / 1e6:.1f} MB")
    res = "x".join(str(x) for x in man["render"]["resolution"])
    report_ratio("materials 256^3 CHGCAR, rendered still SSIM vs --full-res", s, 0.99, unit="",
                 reference=f"at {res}, Blender; surface triangles {faces:,} of {full:,}; "
                           f"1st-percentile local SSIM {worst:.3f}")
    report_ratio("materials 256^3 CHGCAR, asset-writing seconds, default", wsec["default"], None,
                 better="lower", unit="s",
                 reference=f"frame.json write_seconds; --full-res {wsec['full']:.2f} s, every "
                           f"format at full detail {wsec['all']:.2f} s; whole commands "
                           f"{wall['default']:.1f} / {wall['full']:.1f} / {wall['all']:.1f} s")
    shutil.rmtree(OUT, ignore_errors=True)
