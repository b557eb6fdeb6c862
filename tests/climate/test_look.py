"""The climate film's look (issue #18 item 3), checked on the default episode's manifest and
files, without rendering: the base map covers every frame's view (no camera sees the edge of
the world), one sun fixed in the world with a sky fill, a see-through ground layer, soft
nested isosurfaces, colours that stand out from the dark background."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import colormaps
from core.io.gltf import read_glb
from core.manifest import read_manifest

ROOT = Path(__file__).resolve().parents[2]
SENSOR_MM = 36.0  # Blender's default sensor width (sensor_fit AUTO: the wider side)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("look") / "run"
    res = subprocess.run([sys.executable, "-m", "climate_pipeline", "--default", "--out",
                          str(out), "--frames", "3", "--particles", "300", "--no-render",
                          "--no-volume", "--workers", "1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return out


def frustum_corners_on_plane(cam: dict, aspect: float, z: float) -> np.ndarray:
    """Where the 4 corner rays of a camera spec meet the plane at height ``z`` (NaN rows for
    rays at or above the horizon)."""
    loc, target = np.asarray(cam["location"], float), np.asarray(cam["look_at"], float)
    up = np.asarray(cam.get("up", (0, 0, 1)), float)
    back = (loc - target) / np.linalg.norm(loc - target)
    x = np.cross(up, back)
    x /= np.linalg.norm(x)
    y = np.cross(back, x)
    half_w = SENSOR_MM / 2 / float(cam["lens_mm"])
    half_h = half_w / aspect
    out = []
    for sx in (-1, 1):
        for sy in (-1, 1):
            d = -back + sx * half_w * x + sy * half_h * y
            out.append(loc + (z - loc[2]) / d[2] * d if d[2] < -1e-9 else np.full(3, np.nan))
    return np.array(out)


def test_no_frame_sees_the_edge_of_the_base_map(run):
    m = read_manifest(run)
    base = next(a for a in m["static"] if a["name"] == "base")
    verts = read_glb(run / base["path"]).vertices
    lo, hi = verts.min(0), verts.max(0)
    w, h = m["render"]["resolution"]
    for f in m["frames"]:
        hits = frustum_corners_on_plane(f["camera"], w / h, float(lo[2]))
        assert np.isfinite(hits).all(), f"frame {f['index']}: the horizon is in view"
        assert (hits[:, :2] > lo[:2]).all() and (hits[:, :2] < hi[:2]).all(), (
            f"frame {f['index']}: the view reaches {hits[:, :2].min(0)}..{hits[:, :2].max(0)}"
            f" km, the base map spans {lo[:2]}..{hi[:2]}")


def test_the_base_is_the_shaded_relief_and_land_differs_from_sea(run):
    """The base mesh carries the relief as a texture (embedded in the GLB, a file beside the
    USD), whose land and sea differ as the Natural Earth land polygons say."""
    import json
    import struct

    from PIL import Image

    from climate_pipeline.coastlines import land_mask
    from climate_pipeline.default_data import DEFAULTS
    from climate_pipeline.manifest import BASE_MARGIN, base_extent

    m = read_manifest(run)
    base = next(a for a in m["static"] if a["name"] == "base")
    assert base["matte"] is True and "relief" in base["label"]
    g = read_glb(run / base["path"])
    uv = g.attributes["uv"]
    assert g.colors is None and uv.min() >= 0.0 and uv.max() <= 1.0
    assert np.ptp(uv, axis=0) == pytest.approx([1.0, 1.0])
    data = (run / base["path"]).read_bytes()
    (n,) = struct.unpack("<I", data[12:16])
    doc = json.loads(data[20:20 + n])
    pbr = doc["materials"][0]["pbrMetallicRoughness"]
    assert pbr["baseColorTexture"]["index"] == 0 and doc["images"][0]["mimeType"] == "image/jpeg"
    assert "TEXCOORD_0" in doc["meshes"][0]["primitives"][0]["attributes"]

    img = np.asarray(Image.open(run / base["texture"]).convert("RGB"), float)
    h, w = img.shape[:2]
    lon0, lon1, lat0, lat1 = base_extent((DEFAULTS["lon0"], DEFAULTS["lon1"], DEFAULTS["lat0"],
                                          DEFAULTS["lat1"]), BASE_MARGIN)
    lon = lon0 + (np.arange(w) + 0.5) / w * (lon1 - lon0)
    lat = lat1 - (np.arange(h) + 0.5) / h * (lat1 - lat0)
    glon, glat = np.meshgrid(lon[::4], lat[::4])
    land = land_mask(glon.ravel(), glat.ravel(), "50m")
    rgb = img[::4, ::4].reshape(-1, 3)
    assert 0.2 < land.mean() < 0.8
    blue = rgb[:, 2] - rgb[:, 0]
    assert np.median(blue[~land]) > np.median(blue[land]) + 40
    assert rgb[land].std(0).mean() > 8  # relief, not one flat colour


def test_sun_sky_layer_and_isosurfaces(run):
    m = read_manifest(run)
    light = m["render"]["light"]
    assert light["kind"] == "sun" and light["direction"][2] > 0.5  # above the horizon
    assert light["sky_strength"] > 0
    f = m["frames"][-1]
    by = {a["name"]: a for a in f["assets"]}
    layer = by["layer"]
    lo, hi = layer["opacity_ramp"]
    thresholds = m["provenance"]["parameters"]["thresholds"]
    assert lo < hi == pytest.approx(min(thresholds)) and layer["shadow"] is False
    isos = sorted((a for a in f["assets"] if a["name"].startswith("iso_")),
                  key=lambda a: a["level"])
    assert len(isos) == 2 and isos[0]["opacity"] < isos[1]["opacity"] < 1.0


def test_colours_stand_out_from_the_background(run):
    m = read_manifest(run)
    bg = m["render"]["background"]
    cmap = m["legend"]["colorbar"]["colormap"]["name"]
    assert cmap.startswith("lajolla[")  # the dark end cut off
    ends = colormaps.lut(cmap, 2)[:, :3]
    assert (colormaps.contrast(ends, bg) >= 3.0).all()
    full = colormaps.lut("lajolla", 2)[:, :3]
    assert colormaps.contrast(full, bg).min() < 3.0  # the uncut map would fail


def test_readable_cuts_the_end_that_fails():
    dark, light = (0.03, 0.04, 0.06), (0.97, 0.97, 0.97)
    assert colormaps.readable("viridis", dark).startswith("viridis[0.")
    assert colormaps.readable("viridis", light).startswith("viridis[0:")
    assert colormaps.readable("vik", dark) == "vik"  # diverging: left alone
    assert colormaps.readable("viridis[0.2:0.9]", dark) == "viridis[0.2:0.9]"
    for name in ("viridis", "magma", "inferno", "batlow", "devon", "lajolla"):
        for bg in (dark, light):
            part = colormaps.readable(name, bg)
            assert (colormaps.contrast(colormaps.lut(part, 64)[:, :3], bg) >= 3.0).all(), part
    with pytest.raises(Exception, match="NAME\\[a:b\\]"):
        colormaps.lut("viridis[0.5:0.2]")


def test_the_usd_stage_binds_the_relief_texture(run):
    """scene.usda: the base's UsdPreviewSurface takes its diffuse colour from a UsdUVTexture
    of the run's JPEG over the mesh's st (what usdview, Maya and Houdini show)."""
    pytest.importorskip("pxr")
    from pxr import Usd, UsdGeom, UsdShade

    stage = Usd.Stage.Open(str(run / "scene.usda"))
    prim = next(p for p in stage.Traverse() if p.IsA(UsdGeom.Mesh) and "/base" in str(p.GetPath()))
    mat, _ = UsdShade.MaterialBindingAPI(prim).ComputeBoundMaterial()
    tex = next(UsdShade.Shader(p) for p in Usd.PrimRange(mat.GetPrim())
               if UsdShade.Shader(p).GetIdAttr().Get() == "UsdUVTexture")
    path = tex.GetInput("file").Get().resolvedPath
    assert path and Path(path).samefile(run / "static" / "base_relief.jpg")
    st = UsdGeom.PrimvarsAPI(prim).GetPrimvar("st")
    assert st and len(st.Get()) == len(UsdGeom.Mesh(prim).GetPointsAttr().Get())


def test_a_base_map_of_half_the_world_does_not_fold_at_the_antimeridian():
    # the NAME ash domain (85W..120E): grown by the margin, the base spans a full turn; both
    # ends at +-180 degrees from the centre once wrapped onto the same side and folded the
    # mesh into triangles across the whole map (a black base in Cycles)
    from climate_pipeline.coastlines import land_ocean_layer
    from climate_pipeline.geo import MapProjection
    from climate_pipeline.manifest import base_extent, base_step

    lon, lat = np.linspace(-85.2, 120.0, 584), np.linspace(29.9, 80.0, 214)
    ext = base_extent((float(lon[0]), float(lon[-1]), float(lat[0]), float(lat[-1])))
    assert ext[1] - ext[0] < 360.0
    proj = MapProjection.for_region(lon, lat, exaggeration=50.0)
    mesh = land_ocean_layer(proj, ext, "110m", height_m=-300.0, texture=True,
                            step_deg=base_step(ext))
    tri = mesh.vertices[mesh.faces]
    span_x = np.ptp(tri[..., 0], axis=1).max()
    assert span_x < 0.02 * np.ptp(mesh.vertices[:, 0]), span_x
    u = mesh.attributes["uv"][:, 0]
    order = np.argsort(mesh.vertices[:, 0])
    assert np.all(np.diff(u[order]) >= -1e-6)  # u grows eastwards across the whole map


def test_every_colour_of_the_default_run_reads_on_its_background(run):
    # the manifest-wide check in code (core.colormaps.unreadable): assets, swatches, ends of
    # every colour map; the slow particles were near-black in plain lajolla
    m = read_manifest(run)
    assert colormaps.unreadable(m) == []
    bad = dict(m, legend={"items": [{"label": "x", "color": [0.02, 0.02, 0.03]}]})
    assert len(colormaps.unreadable(bad)) == 1


def test_every_asset_is_a_row_of_the_product_table(run):
    # issue #23: names and look numbers live in climate_pipeline/products.py only
    import re

    from climate_pipeline.products import PRODUCTS

    m = read_manifest(run)
    pats = [(p, re.compile("^" + re.sub(r"\{[^}]*\}", r"\\d+", p.name) + "$"))
            for p in PRODUCTS]
    for a in m["static"] + [a for fr in m["frames"] for a in fr["assets"]]:
        rows = [p for p, rx in pats if rx.match(a["name"])]
        assert len(rows) == 1, a["name"]
        row = rows[0]
        assert a["kind"] == row.kind
        for k, v in row.look.items():
            if k != "opacity" or "level" not in a:  # isosurfaces: opacity by rank
                assert a[k] == v, (a["name"], k)
