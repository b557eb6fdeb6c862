"""scene.usda from a manifest: visibility switching, volume sequences, static assets, camera,
stage metadata, and usd-core's compliance checker."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from core import manifest as M
from core.camera import orbit
from core.errors import ManifestError
from core.geometry import Curves, Mesh, Points, Volume
from core.io import write
from core.rundir import RunDir
from core.usdscene import SCENE_NAME, check_usd, meters_per_unit, write_scene_usda

FRAMES = (0, 1, 2, 5)  # not contiguous on purpose
BOUNDS = [[0.0, 0.0, 0.0], [5.0, 5.0, 5.0]]


def _run(run_dir: Path, *, usd_for_points: bool = True) -> dict:
    """A small run directory: per-frame mesh, points and volume; static cell; cameras."""
    rng = np.random.default_rng(7)
    m = M.new_manifest("test run", "materials", length_unit="angstrom", bounds=BOUNDS, fps=12,
                       meters_per_unit=1e-10)
    cams = orbit(BOUNDS, len(FRAMES))
    for i, t in enumerate(FRAMES):
        d = f"assets/{t:04d}"
        mesh = Mesh(rng.random((12, 3)) * 5, rng.integers(0, 12, (10, 3)),
                    colors=rng.integers(0, 256, (12, 4)).astype(np.uint8))
        write(mesh, run_dir / d / "iso.ply")
        write(mesh, run_dir / d / "iso.usd", meters_per_unit=1e-10)
        pts = Points(rng.random((8, 3)) * 5, {"radius": np.full(8, 0.2)})
        write(pts, run_dir / d / "atoms.ply")
        alts = []
        if usd_for_points:
            write(pts, run_dir / d / "atoms.usdc", meters_per_unit=1e-10)
            alts = [f"{d}/atoms.usdc"]
        write(Volume(rng.random((4, 5, 6)), name="rho"), run_dir / d / "rho.vdb")
        assets = [
            M.asset("iso", "mesh", f"{d}/iso.ply", alternates=[f"{d}/iso.usd"],
                    colormap={"name": "viridis", "vmin": 0, "vmax": 1}, opacity=0.7),
            M.asset("atoms", "points", f"{d}/atoms.ply", alternates=alts, color=[1, 0.5, 0]),
            M.asset("rho", "volume", f"{d}/rho.vdb", grid="rho"),
        ]
        m["frames"].append(M.frame(t, assets, camera=cams[i]))
    cell = Curves.from_polylines([np.array([[0, 0, 0], [5, 0, 0], [5, 5, 0]])], radius=0.05)
    write(cell, run_dir / "static/cell.ply")
    write(cell, run_dir / "static/cell.usda", meters_per_unit=1e-10)
    m["static"].append(M.asset("cell", "curves", "static/cell.ply",
                               alternates=["static/cell.usda"], color=[0.2, 0.2, 0.2]))
    M.write_manifest(run_dir, m)
    return M.read_manifest(run_dir)


@pytest.fixture
def scene(tmp_path):
    m = _run(tmp_path)
    return write_scene_usda(tmp_path, m), m


def test_scene_passes_compliance_checker(scene):
    path, _ = scene
    assert path.name == SCENE_NAME
    assert check_usd(path) == []


def test_scene_metadata(scene):
    from pxr import Usd, UsdGeom

    path, _ = scene
    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageUpAxis(stage) == "Z"
    assert UsdGeom.GetStageMetersPerUnit(stage) == pytest.approx(1e-10)
    assert stage.GetTimeCodesPerSecond() == 12 and stage.GetFramesPerSecond() == 12
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (0, 5)
    assert stage.GetDefaultPrim().GetPath() == "/World"
    assert stage.GetRootLayer().customLayerData["vizpipe"]["length_unit"] == "angstrom"


def test_exactly_the_current_frame_is_visible(scene):
    from pxr import Usd, UsdGeom

    path, _ = scene
    stage = Usd.Stage.Open(str(path))
    for track in ("iso", "atoms"):
        prims = stage.GetPrimAtPath(f"/World/Assets/{track}").GetChildren()
        assert [p.GetName() for p in prims] == [f"f{t:04d}" for t in FRAMES]
        for t in [*FRAMES, 3, 4, 2.5]:  # between frames the last frame holds
            shown = [p.GetName() for p in prims
                     if UsdGeom.Imageable(p).ComputeVisibility(t) != UsdGeom.Tokens.invisible]
            current = max(f for f in FRAMES if f <= t)
            assert shown == [f"f{current:04d}"], (track, t)
        # the referenced geometry is there, with its points
        gp = stage.GetPrimAtPath(f"/World/Assets/{track}/f0005/geom")
        assert gp.IsValid() and gp.GetChildren()
    mesh = UsdGeom.Mesh(stage.GetPrimAtPath("/World/Assets/iso/f0001/geom/mesh"))
    assert len(mesh.GetPointsAttr().Get()) == 12


def test_volume_sequence_is_a_time_sampled_file_path(scene, tmp_path):
    from pxr import Usd, UsdVol

    path, _ = scene
    stage = Usd.Stage.Open(str(path))
    vol = UsdVol.Volume(stage.GetPrimAtPath("/World/Assets/rho"))
    assert vol
    field = UsdVol.OpenVDBAsset(stage.GetPrimAtPath(vol.GetFieldPath("rho")))
    assert field.GetFieldNameAttr().Get() == "rho"
    attr = field.GetFilePathAttr()
    assert attr.GetTimeSamples() == list(FRAMES)
    for t in FRAMES:
        fp = attr.Get(t)
        assert fp.path == f"./assets/{t:04d}/rho.vdb"
        assert Path(fp.resolvedPath) == (tmp_path / f"assets/{t:04d}/rho.vdb").resolve()
    assert vol.ComputeVisibility(Usd.TimeCode(2)) == "inherited"


def test_static_assets_always_visible_and_materials(scene):
    from pxr import Usd, UsdGeom, UsdShade

    path, _ = scene
    stage = Usd.Stage.Open(str(path))
    cell = stage.GetPrimAtPath("/World/Static/cell")
    curves = UsdGeom.BasisCurves(stage.GetPrimAtPath("/World/Static/cell/geom/curves"))
    assert curves and len(curves.GetPointsAttr().Get()) == 3
    assert not UsdGeom.Imageable(cell).GetVisibilityAttr().GetTimeSamples()
    for t in FRAMES:
        assert UsdGeom.Imageable(cell).ComputeVisibility(t) == "inherited"
    # manifest colour (sRGB) becomes a linear UsdPreviewSurface colour; colormapped assets
    # read displayColor through a primvar reader
    mat, _ = UsdShade.MaterialBindingAPI(
        stage.GetPrimAtPath("/World/Assets/atoms/f0000/geom/points")).ComputeBoundMaterial()
    surf = mat.ComputeSurfaceSource()[0]
    assert surf.GetInput("diffuseColor").Get() == pytest.approx((1.0, 0.214041, 0.0), abs=1e-5)
    mat, _ = UsdShade.MaterialBindingAPI(
        stage.GetPrimAtPath("/World/Assets/iso/f0002/geom/mesh")).ComputeBoundMaterial()
    surf = mat.ComputeSurfaceSource()[0]
    src = surf.GetInput("diffuseColor").GetConnectedSources()[0][0]
    reader = UsdShade.Shader(src.source.GetPrim())
    assert reader.GetIdAttr().Get() == "UsdPrimvarReader_float3"
    assert reader.GetInput("varname").Get() == "displayColor"
    assert surf.GetInput("opacity").Get() == pytest.approx(0.7)


def test_camera_looks_at_target(scene):
    from pxr import Gf, Usd, UsdGeom

    path, m = scene
    stage = Usd.Stage.Open(str(path))
    cam = UsdGeom.Camera(stage.GetPrimAtPath("/World/Camera"))
    assert cam
    for f in m["frames"]:
        t, c = f["index"], f["camera"]
        xf = cam.ComputeLocalToWorldTransform(Usd.TimeCode(t))
        np.testing.assert_allclose(xf.ExtractTranslation(), c["location"], atol=1e-9)
        look = np.subtract(c["look_at"], c["location"])
        look /= np.linalg.norm(look)
        np.testing.assert_allclose(xf.TransformDir(Gf.Vec3d(0, 0, -1)), look, atol=1e-9)
        assert np.dot(xf.TransformDir(Gf.Vec3d(0, 1, 0)), [0, 0, 1]) > 0  # upright
        gf = cam.GetCamera(Usd.TimeCode(t))
        assert gf.focalLength == pytest.approx(c["lens_mm"])
        assert gf.horizontalAperture == pytest.approx(36.0)


def test_asset_without_usd_is_skipped_with_a_warning(tmp_path, caplog):
    from pxr import Usd

    m = _run(tmp_path, usd_for_points=False)
    with caplog.at_level(logging.WARNING, logger="core.usdscene"):
        path = write_scene_usda(tmp_path, m)
    assert "atoms" in caplog.text and "no USD file" in caplog.text
    stage = Usd.Stage.Open(str(path))
    assert not stage.GetPrimAtPath("/World/Assets/atoms")
    assert stage.GetPrimAtPath("/World/Assets/iso")
    assert check_usd(path) == []


def test_convert_missing_writes_usd_next_to_the_asset(tmp_path):
    from pxr import Usd, UsdGeom

    m = _run(tmp_path, usd_for_points=False)
    path = write_scene_usda(tmp_path, m, convert_missing=True)
    fdir = RunDir(tmp_path).frame_dir(2)
    assert (fdir / "atoms.usdc").exists() and not (fdir / "atoms.usd").exists()  # binary crate
    assert (fdir / "atoms.usdc").read_bytes()[:8] == b"PXR-USDC"
    stage = Usd.Stage.Open(str(path))
    pts = UsdGeom.Points(stage.GetPrimAtPath("/World/Assets/atoms/f0002/geom/points"))
    layers = {Path(s.layer.realPath).resolve() for s in pts.GetPrim().GetPrimStack()}
    assert (fdir / "atoms.usdc").resolve() in layers  # the scene references the converted file
    np.testing.assert_allclose(np.asarray(pts.GetWidthsAttr().Get()), 0.4, rtol=1e-6)
    assert check_usd(path) == []


def test_checker_reports_a_missing_reference(scene):
    path, _ = scene
    (RunDir(path.parent).frame_dir(1) / "iso.usd").unlink()
    problems = check_usd(path)
    assert problems and any("0001/iso.usd" in p for p in problems)


def test_meters_per_unit_from_length_unit():
    assert meters_per_unit({"meters_per_unit": 2.0, "length_unit": "km"}) == 2.0
    assert meters_per_unit({"length_unit": "km"}) == 1000.0
    assert meters_per_unit({"length_unit": "Angstrom"}) == 1e-10
    assert meters_per_unit({"length_unit": "furlong"}) == 1.0


def test_bad_manifests(tmp_path):
    a = M.asset("x", "mesh", "a.usd")
    with pytest.raises(ManifestError, match="no frames"):
        write_scene_usda(tmp_path, {"frames": []})
    with pytest.raises(ManifestError, match="changes kind"):
        write_scene_usda(tmp_path, {"frames": [
            {"index": 0, "assets": [a]},
            {"index": 1, "assets": [dict(a, kind="points")]}]})
    assert not (tmp_path / SCENE_NAME).exists()
