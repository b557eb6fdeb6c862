"""Assets no bigger than the picture needs (issue #16): the climate benchmark file converted
with default flags writes no more bytes than it reads, and its rendered frame matches the
full-resolution one (SSIM >= 0.99).

Three runs of the same command on the scale check's file (``VIZPIPE_BIG_SIZE``, default 1 GB:
10 steps of 20 x 400 x 800, pm2p5 + u, v, w), no render:

* default flags (USD crates + Draco GLB, isosurfaces at their triangle budget);
* ``--full-res`` (the isosurfaces whole): the SSIM reference;
* ``--formats usd,glb,ply --full-res``: every format at full detail.

Then one frame of the first two is rendered with Blender at the run's resolution and the two
PNGs compared with scikit-image's SSIM. Asset-writing time is the frames' ``write_seconds``
(isosurfaces, volume, layer: the writers alone, summed over frames).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.benchmark

DATA = Path("out/bench-data")
OUT = Path("out/bench-assets")


def asset_bytes(run: Path) -> int:
    """What a run wrote for the artist: every file under assets/ and static/, scene.usda and
    the manifest (frame.json bookkeeping included)."""
    total = sum(p.stat().st_size for d in ("assets", "static") if (run / d).exists()
                for p in (run / d).rglob("*") if p.is_file())
    return total + sum((run / n).stat().st_size for n in ("scene.usda", "manifest.json")
                       if (run / n).exists())


def write_seconds(run: Path) -> float:
    """The frames' asset-writing seconds (``frame.json``'s ``write_seconds``), summed."""
    return sum(json.loads(p.read_text()).get("write_seconds", 0.0)
               for p in (run / "assets").glob("*/frame.json"))


def render_frame(run: Path, frame: int) -> np.ndarray:
    """Frame ``frame`` of ``run`` rendered by ``python -m render`` (Blender, the run's
    resolution and samples), as an RGB uint8 array."""
    from skimage.io import imread

    res = subprocess.run([sys.executable, "-m", "render", str(run), "--frames", str(frame),
                          "--no-movie", "--no-blend", "--force", "--workers", "1"],
                         capture_output=True, text=True, timeout=1800)
    assert res.returncode == 0, res.stderr[-2000:]
    return imread(run / "frames" / f"{frame:04d}.png")[..., :3]


def ssim(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(whole-frame SSIM, its 1st percentile over the frame: the worst local agreement)."""
    from skimage.metrics import structural_similarity

    score, full = structural_similarity(a, b, channel_axis=2, full=True)
    return float(score), float(np.percentile(full.mean(axis=2), 1))


def writers_before_after(frame_dir: Path, lod: dict, tolerance: float, tmp: Path
                         ) -> tuple[float, float]:
    """Seconds to write one frame's isosurfaces, layer and volume (read back from a
    ``--full-res`` run's ``.usdc``/``.vdb``), best of 3: before issue #16 (PLY, float GLB and
    USD at full detail, float VDB) and now (level of detail, USD crate, Draco GLB, half VDB)."""
    import time

    from core.io.gltf import write_glb
    from core.io.ply import write_ply
    from core.io.usd import read_usd, write_usd
    from core.io.vdb import read_vdb, write_vdb
    from core.lod import lod_mesh

    isos = [read_usd(p) for p in sorted(frame_dir.glob("iso_*.usdc"))]
    layer = read_usd(frame_dir / "layer.usdc")
    vol = read_vdb(frame_dir / "field.vdb")
    tmp.mkdir(parents=True, exist_ok=True)

    def before() -> None:
        for i, m in enumerate([*isos, layer]):
            write_ply(m, tmp / f"{i}.ply")
            write_glb(m, tmp / f"{i}.glb", compress=False)
            write_usd(m, tmp / f"{i}.usd", name="m")
        write_vdb(vol, tmp / "f.vdb", tolerance=tolerance)

    def after() -> None:
        for i, m in enumerate(isos):
            m = lod_mesh(m, lod["view_area"], lod["resolution"])[0]
            write_usd(m, tmp / f"{i}.usdc", name="m")
            write_glb(m, tmp / f"{i}.glb")
        write_usd(layer, tmp / "layer.usdc", name="m")
        write_glb(layer, tmp / "layer.glb")
        write_vdb(vol, tmp / "f.vdb", tolerance=tolerance, half=True)

    best = []
    for fn in (before, after):
        t = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
        best.append(min(t))
    return best[0], best[1]


def _convert(src: Path, out: Path, *extra: str) -> float:
    from vizpipe_app.bigrun import peak_tree_rss

    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "climate_pipeline", str(src), "--var", "pm2p5", "--wind",
            "u,v,w", "--out", str(out), "--workers", "1", "--no-render", *extra]
    rc, wall, _peak = peak_tree_rss(argv, {**os.environ}, out.with_suffix(".log"))
    assert rc == 0, out.with_suffix(".log").read_text()[-2000:]
    return wall


def test_climate_assets_fit_the_input_and_the_picture(benchmark, report_ratio):
    from vizpipe_app import bigrun

    size = bigrun.parse_size(os.environ.get("VIZPIPE_BIG_SIZE", "1GB"))
    nt = bigrun.steps_for(size)
    src = bigrun.write_big(DATA / f"big_{nt}x{bigrun.NZ}x{bigrun.NY}x{bigrun.NX}.nc", nt)
    bytes_in = src.stat().st_size
    runs = {"default": (), "full": ("--full-res",),
            "all": ("--formats", "usd,glb,ply", "--full-res")}
    wall = {k: _convert(src, OUT / k, *flags) for k, flags in runs.items()}
    out = {k: asset_bytes(OUT / k) for k in runs}
    wsec = {k: write_seconds(OUT / k) for k in runs}
    man = json.loads((OUT / "default/manifest.json").read_text())
    isos = [a for fr in man["frames"] for a in fr["assets"] if a["name"].startswith("iso_")]
    faces, full = sum(a["faces"] for a in isos), sum(a["faces_full"] for a in isos)
    k = len(man["frames"]) // 2
    s, worst = ssim(render_frame(OUT / "default", k), render_frame(OUT / "full", k))
    from climate_pipeline.frames import vdb_tolerance
    from climate_pipeline.params import FrameParams

    params = man["provenance"]["parameters"]
    t_before, t_after = writers_before_after(OUT / "full" / "assets" / f"{k:04d}", params["lod"],
                                             vdb_tolerance(FrameParams.from_key(params)),
                                             OUT / "writers")
    benchmark.pedantic(lambda: None, rounds=1)
    gb = bytes_in / 1e9
    what = f"{gb:.2f} GB CF file, {nt} steps of 20 x 400 x 800 x 4 variables, default flags"
    report_ratio(f"climate {gb:.0f} GB file, asset bytes / input bytes", out["default"] / bytes_in,
                 1.0, better="lower",
                 reference=f"{what}: {out['default'] / 1e6:.0f} MB of assets for "
                           f"{bytes_in / 1e6:.0f} MB in; every format at full detail "
                           f"(--formats usd,glb,ply --full-res) {out['all'] / 1e6:.0f} MB")
    res = "x".join(str(x) for x in man["render"]["resolution"])
    report_ratio(f"climate {gb:.0f} GB file, rendered frame SSIM vs --full-res", s, 0.99,
                 unit="", reference=f"frame {k} at {res}, Blender; isosurface triangles "
                                    f"{faces:,} of {full:,}; 1st-percentile local SSIM "
                                    f"{worst:.3f}")
    report_ratio(f"climate {gb:.0f} GB file, asset-writing seconds, default", wsec["default"],
                 None, better="lower", unit="s",
                 reference=f"frames' write_seconds summed; --full-res {wsec['full']:.1f} s, "
                           f"every format at full detail {wsec['all']:.1f} s; whole "
                           f"commands {wall['default']:.1f} / {wall['full']:.1f} / "
                           f"{wall['all']:.1f} s")
    report_ratio(f"climate {gb:.0f} GB file, one frame's writers, before #16 / now",
                 t_before / t_after, None,
                 reference=f"isosurfaces + layer + volume of frame {k}, best of 3: "
                           f"{t_before:.2f} s (PLY + float GLB + USD, full detail, float VDB) "
                           f"vs {t_after:.2f} s (LOD + USD crate + Draco GLB + half VDB)")
    if os.environ.get("VIZPIPE_BENCH_KEEP", "0") in ("", "0"):
        shutil.rmtree(OUT, ignore_errors=True)
