"""Every kind of asset and display option the manifest allows, rendered by a Blender chunk.

A synthetic run (not the demo): frames 0 and 2 (not contiguous), no cameras in the frames
(the manifest's camera spec is used), a flat-coloured see-through emissive mesh with a
transform, a vertex-coloured mesh, a log-scale colour-mapped mesh, points with a constant
radius, tubes with a radius attribute, an empty curve set, a volume without a colour map, a
static asset. The frames must render, differ where the assets differ, and keep the exact
background colour of the manifest in the corners.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import manifest as M
from core.geometry import Curves, Mesh, Points, Volume, isosurface
from core.io.ply import write_ply
from core.io.vdb import write_vdb
from core.rundir import RunDir

pytestmark = pytest.mark.bpy

ROOT = Path(__file__).resolve().parents[2]
BOUNDS = [[-2.0, -2.0, -2.0], [2.0, 2.0, 2.0]]
BACKGROUND = [0.25, 0.3, 0.35]


def _sphere(r: float = 1.0, n: int = 24) -> Mesh:
    x = np.linspace(-1.5 * r, 1.5 * r, n)
    g = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1)
    step = x[1] - x[0]
    aff = np.eye(4)
    aff[:3, :3] *= step
    aff[:3, 3] = -1.5 * r
    vol = Volume(np.linalg.norm(g, axis=-1).astype(np.float32), aff, "d")
    return isosurface(vol, r)


def _run(run_dir: Path) -> Path:
    rng = np.random.default_rng(0)
    sph = _sphere(0.8)
    sph.colors = np.tile(np.array([[40, 200, 90, 255]], np.uint8), (sph.n_vertices, 1))
    write_ply(sph, run_dir / "a" / "vc.ply")
    logm = _sphere(0.5)
    logm.attributes["conc"] = np.exp(logm.vertices[:, 2] * 3).astype(np.float32)
    write_ply(logm, run_dir / "a" / "log.ply")
    write_ply(Points(rng.uniform(-1.5, 1.5, (30, 3))), run_dir / "a" / "pts.ply")
    lines = [np.stack([np.linspace(-1.5, 1.5, 20), np.sin(np.linspace(0, 6, 20)) + k * 0.3,
                       np.zeros(20)], -1) for k in range(3)]
    cur = Curves.from_polylines(lines, attributes={"w": np.full(60, 0.05, np.float32)})
    write_ply(cur, run_dir / "a" / "cur.ply")
    write_ply(Curves(np.zeros((0, 3)), np.zeros(0, np.int64)), run_dir / "a" / "empty.ply")
    x = np.linspace(-1.5, 1.5, 24)
    g = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1)
    aff = np.eye(4)
    aff[:3, :3] *= x[1] - x[0]
    aff[:3, 3] = -1.5
    aff[0, 1] = 0.3 * (x[1] - x[0])  # sheared
    write_vdb(Volume(np.exp(-(g**2).sum(-1)).astype(np.float32), aff, "fog"),
              run_dir / "a" / "fog.vdb")
    move = np.eye(4)
    move[:3, 3] = [0.5, 0.0, 0.3]
    f0 = [M.asset("flat", "mesh", "a/vc.ply", color=[0.9, 0.3, 0.1], opacity=0.5,
                  emission=0.5, transform=move.tolist()),
          M.asset("pts", "points", "a/pts.ply", radius=0.08, color=[0.2, 0.4, 1.0]),
          M.asset("fog", "volume", "a/fog.vdb", grid="fog", density_scale=2.0, emission=1.0,
                  color=[1.0, 0.8, 0.3])]
    side = np.eye(4)
    side[:3, 3] = [0.0, 1.4, 0.0]
    f2 = [M.asset("vc", "mesh", "a/vc.ply"),
          M.asset("logm", "mesh", "a/log.ply", units="mol/m^3",
                  colormap={"name": "magma", "vmin": 0.05, "vmax": 20.0, "attribute": "conc",
                            "log": True}, transform=side.tolist()),
          M.asset("tubes", "curves", "a/cur.ply", radius_attribute="w", color=[1, 1, 0.2]),
          M.asset("none", "curves", "a/empty.ply", radius=0.1)]
    m = M.new_manifest("features", "demo", length_unit="m", bounds=BOUNDS, fps=2,
                       camera={"mode": "static", "azimuth_deg": -50, "elevation_deg": 20},
                       render={"resolution": [96, 54], "samples": 2, "background": BACKGROUND})
    m["static"] = [M.asset("floor", "curves", "a/cur.ply", radius=0.02)]
    m["frames"] = [M.frame(0, f0, label="zero"), M.frame(2, f2, label="two")]
    m["provenance"] = M.provenance()
    M.write_manifest(run_dir, m)
    return run_dir


def test_every_asset_kind_renders(tmp_path):
    run = _run(tmp_path / "run")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-m", "render", str(run), "--engine", "serial",
                           "--no-movie"], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    a0 = np.asarray(Image.open(RunDir(run).frame_png(0)).convert("RGB")).astype(int)
    a2 = np.asarray(Image.open(RunDir(run).frame_png(2)).convert("RGB")).astype(int)
    assert a0.shape == a2.shape == (54, 96, 3)
    assert not RunDir(run).frame_png(1).exists()
    assert np.abs(a0 - a2).mean() > 3  # different assets in the two frames
    # the centre shows the objects, not the background
    bg = np.round(np.array(BACKGROUND) * 255)
    assert np.abs(a0[20:34, 38:58] - bg).mean() > 15
    assert np.abs(a2[20:34, 38:58] - bg).mean() > 15
    # the sky gradient is centred on the manifest's background colour (mid-height, edges)
    edge = a2[22:32, :3].reshape(-1, 3).mean(0)
    assert np.abs(edge - bg).max() < 30, edge
    assert (run / "scene.blend").exists()
