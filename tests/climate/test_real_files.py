"""The climate command on public files nobody in this project wrote (issue #9).

The corpus is ``tests/data/real/climate`` (origins, licences and what each file exercises in
its README.md).

* ``test_default_run_makes_assets``: ``python -m climate_pipeline FILE --no-render`` (small
  ``--frames``/``--particles``) on every corpus case; the manifest's assets are read back with
  independent readers (trimesh for GLB/PLY, its Draco meshes through DracoPy; pxr for USD;
  the openvdb binding from bpy).
* ``test_physical_number``: the maximum of the field at the first output frame (the frame's
  ``vmax_frame``) against the raw values read with netCDF4, ecCodes or a plain PP parse.
* Position-sensitive checks of the written assets against the same raw readings
  (``tests/climate/_raw.py``: the first time step, every level, true lon/lat per point, the
  ground level from the vertical coordinate's meaning); raw points are placed on the map by
  the projection the manifest records, and the layer's vertices (read with pxr from its
  exact ``layer.usdc``, not the quantized Draco ``layer.glb``) are matched by position:

  - ``test_layer_maximum_is_where_the_raw_maximum_is``: the layer's largest ``value`` and
    its place are the raw ground level's maximum and its place;
  - ``test_layer_values_at_fixed_points``: eight fixed raw grid points, value by value;
  - ``test_layer_is_the_ground_level``: every raw point of the ground level, and for 3-D
    fields not the top level;
  - ``test_volume_bottom_and_top_are_the_raw_end_levels``: field.vdb's lowest and highest
    slices (by world z) are the raw ground and top levels.

  Each fails for the data flipped along latitude or longitude, the levels reversed, or the
  values scaled (the mutations and what they broke are listed in tests/README.md). One
  limitation of the data: winds_seam_0_360's pm25 is symmetric about 0°E (|sin 3λ|), so a
  longitude flip of the whole field is invisible in that case.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core.manifest import read_manifest
from core.rundir import RunDir
from tests.climate import _raw

D = Path(__file__).resolve().parent.parent / "data" / "real" / "climate"
SMALL = ["--no-render", "--engine", "serial", "--coastlines", "110m", "--frames", "2",
         "--particles", "40", "--batches", "1", "--streamlines", "12"]


def _main(argv: list[str]) -> int:
    """The command in-process (``climate_pipeline.pipeline.main`` or, after the runner
    refactor, ``climate_pipeline.__main__.main``)."""
    try:
        from climate_pipeline.pipeline import main  # type: ignore[attr-defined]
    except ImportError:
        from climate_pipeline.__main__ import main  # type: ignore[no-redef]
    return int(main(argv))


# id: (files, extra arguments, slow, particles expected); none is slow today (< 10 s each)
CASES: dict[str, tuple[list[str], list[str], bool, bool]] = {
    "air_temp_pp_no_time": (["air_temp.pp"], [], False, False),
    "rotated_pole_nc_no_time": (["rotated_pole.nc"], [], False, False),
    "hybrid_height_nc_snapshot": (["hybrid_height.nc"], [], False, False),
    "A1B_north_america_nc": (["A1B_north_america.nc"], ["--var", "air_temperature"], False,
                             False),
    "lake_victoria_pp_winds": (["wind_speed_lake_victoria.pp"], ["--var", "x_wind"], False,
                               True),
    "uk_hires_pp": (["uk_hires.pp"], ["--var", "air_potential_temperature"], False, False),
    "polar_stereo_grib2": (["polar_stereo.grib2"], [], False, False),
    "era5_members_grib": (["era5-levels-members.grib"], ["--var", "t"], False, False),
    "era5_member_3_grib": (["era5-levels-members.grib"], ["--var", "t", "--member", "3"],
                           False, False),
    "lambert_grib": (["lambert_grid.grib"], [], False, False),
    "reduced_gg_grib": (["reduced_gg.grib"], [], False, False),
    "regular_gg_pl_grib": (["regular_gg_pl.grib"], [], False, False),
    "regular_gg_ml_grib": (["regular_gg_ml.grib"], [], False, False),
    "regular_ll_msl_grib": (["regular_ll_msl.grib"], [], False, False),
    "scanning_mode_64_grib": (["scanning_mode_64.grib"], [], False, False),
    "ncep_split_winds": (["uwnd_mean.nc", "vwnd_mean.nc"], ["--var", "uwnd", "--wind",
                                                            "uwnd,vwnd"], False, True),
    "ncep_wind_files": (["uwnd_mean.nc"], ["--var", "uwnd", "--wind", "uwnd,vwnd",
                                           "--wind-files", str(D / "uwnd_mean.nc"),
                                           str(D / "vwnd_mean.nc")], False, True),
    "ncl_hours_timedelta": (["ncl_hours_timedelta.nc"], ["--var", "T"], False, True),
    "wrf_int_offsets": (["wrf_int_offsets.nc"], ["--var", "T2"], False, False),
    "city_box_4x3": (["city_box_4x3.nc"], ["--var", "no2"], False, True),
    "winds_seam_0_360": (["winds_seam_0_360.nc"], ["--var", "pm25"], False, True),
    "winds_descending_lon": (["winds_descending_lon.nc"], ["--var", "pm25"], False, True),
}


def _params():
    return [pytest.param(k, marks=[pytest.mark.slow] if v[2] else [], id=k)
            for k, v in CASES.items()]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Each case's run directory, made once per module (both tests read it)."""
    root = tmp_path_factory.mktemp("real_climate")
    done: dict[str, Path] = {}

    def run(case: str) -> Path:
        if case not in done:
            files, extra, _slow, _p = CASES[case]
            out = root / case
            assert _main([*(str(D / f) for f in files), "--out", str(out), *SMALL,
                          *extra]) == 0
            done[case] = out
        return done[case]

    return run


@pytest.mark.parametrize("case", _params())
def test_default_run_makes_assets(runs, case):
    import trimesh
    from pxr import Usd, UsdGeom

    out = runs(case)
    man = read_manifest(out)
    assert len(man["frames"]) == 2
    names = {a["name"] for a in man["frames"][-1]["assets"]}
    assert "layer" in names
    assert any(n.startswith("particles") for n in names) is CASES[case][3]
    checked = set()
    for fr in man["frames"]:
        for a in fr["assets"]:
            paths = [a["path"], *(a.get("alternates") or [])]
            for rel in paths:
                p = out / rel
                assert p.is_file() and p.stat().st_size > 0, rel
                suffix = p.suffix
                if suffix in (".ply", ".glb") and a["kind"] == "mesh":  # GLB: Draco (DracoPy)
                    m = trimesh.load(p, force="mesh", process=False)
                    assert len(m.vertices) > 0 and np.isfinite(m.vertices).all(), rel
                elif suffix in (".ply", ".glb") and a["kind"] == "points":
                    pc = trimesh.load(p, process=False)
                    if isinstance(pc, trimesh.Scene):  # glTF: a scene of one PointCloud
                        (pc,) = pc.geometry.values()
                    assert isinstance(pc, trimesh.PointCloud) and len(pc.vertices) > 0, rel
                    assert np.isfinite(pc.vertices).all(), rel
                elif suffix in (".usd", ".usdc"):
                    stage = Usd.Stage.Open(str(p))
                    prims = [x for x in stage.Traverse() if x.IsA(UsdGeom.Gprim)
                             or x.GetTypeName() == "Volume"]
                    assert prims, rel
                elif suffix == ".vdb":
                    from core.deps import require

                    (openvdb,) = require("openvdb")
                    grids, _ = openvdb.readAll(str(p))
                    assert grids[0].name == "field" and grids[0].activeVoxelCount() > 0
                checked.add(suffix)
    assert {".glb", ".usdc"} <= checked  # the default formats (PLY is opt-in)
    if case in VDB_CASES:
        assert ".vdb" in checked


# ------------------------------------------------------------------ raw values, other readers
# tests/climate/_raw.py reads each case's variable at its first time step with netCDF4,
# ecCodes' point triplets or a plain PP parse (rotated poles through pyproj), in file order.
RAW: dict[str, Callable[[], _raw.Raw]] = {
    "air_temp_pp_no_time": lambda: _raw.pp(D / "air_temp.pp"),
    "rotated_pole_nc_no_time": lambda: _raw.netcdf(D / "rotated_pole.nc",
                                                   "air_pressure_at_sea_level"),
    "hybrid_height_nc_snapshot": lambda: _raw.netcdf(D / "hybrid_height.nc",
                                                     "air_potential_temperature"),
    "A1B_north_america_nc": lambda: _raw.netcdf(D / "A1B_north_america.nc", "air_temperature"),
    "lake_victoria_pp_winds": lambda: _raw.pp(D / "wind_speed_lake_victoria.pp", 3225),
    "uk_hires_pp": lambda: _raw.pp(D / "uk_hires.pp", 4),
    "polar_stereo_grib2": lambda: _raw.grib(D / "polar_stereo.grib2"),
    "era5_members_grib": lambda: _raw.grib(D / "era5-levels-members.grib", "t", 0),
    "era5_member_3_grib": lambda: _raw.grib(D / "era5-levels-members.grib", "t", 3),
    "lambert_grib": lambda: _raw.grib(D / "lambert_grid.grib"),
    "reduced_gg_grib": lambda: _raw.grib(D / "reduced_gg.grib"),
    "regular_gg_pl_grib": lambda: _raw.grib(D / "regular_gg_pl.grib"),
    "regular_gg_ml_grib": lambda: _raw.grib(D / "regular_gg_ml.grib"),
    "regular_ll_msl_grib": lambda: _raw.grib(D / "regular_ll_msl.grib"),
    "scanning_mode_64_grib": lambda: _raw.grib(D / "scanning_mode_64.grib"),
    "ncep_split_winds": lambda: _raw.netcdf(D / "uwnd_mean.nc", "uwnd"),
    "ncep_wind_files": lambda: _raw.netcdf(D / "uwnd_mean.nc", "uwnd"),
    "ncl_hours_timedelta": lambda: _raw.netcdf(D / "ncl_hours_timedelta.nc", "T"),
    "wrf_int_offsets": lambda: _raw.netcdf(D / "wrf_int_offsets.nc", "T2"),
    "city_box_4x3": lambda: _raw.netcdf(D / "city_box_4x3.nc", "no2"),
    "winds_seam_0_360": lambda: _raw.netcdf(D / "winds_seam_0_360.nc", "pm25"),
    "winds_descending_lon": lambda: _raw.netcdf(D / "winds_descending_lon.nc", "pm25"),
}
#: cases whose frames carry a field.vdb (3-D fields on a regular lon/lat grid, map mode)
VDB_CASES = ("era5_members_grib", "era5_member_3_grib", "ncl_hours_timedelta")
#: cases with more than one level: the layer must be the ground level, not the top one
LEVELS = {"hybrid_height_nc_snapshot": 15, "uk_hires_pp": 7, "era5_members_grib": 2,
          "era5_member_3_grib": 2, "ncl_hours_timedelta": 4}
REL = 1e-6  # float32 rounding (the pipeline writes float32; a few ulps of slack)
#: field.vdb stores its voxels as half floats (saveFloatAsHalf, climate_pipeline/frames.py):
#: rounding to nearest with an 11-bit significand is within 2**-11 (4.9e-4) relative, and
#: within 2**-25 absolute below half's smallest normal (2**-14); float32 reads them back exactly
HALF_REL, HALF_ABS = 2.0 ** -11, 2.0 ** -25


@functools.cache
def _raw_field(case: str) -> _raw.Raw:
    """Each case's raw reading, once per process."""
    return RAW[case]()


def _raw_run(runs, case: str) -> _raw.Raw:
    """The raw reading in the run's display unit (issue #19: Pa shown as hPa, g/m3 as
    µg/m³): times the factor the manifest records."""
    import dataclasses

    scale = float(read_manifest(runs(case))["provenance"]["parameters"].get("scale", 1.0))
    raw = _raw_field(case)
    return raw if scale == 1.0 else dataclasses.replace(raw, values=raw.values * scale)


def _frame0(out: Path) -> dict:
    return json.loads((RunDir(out).frame_dir(0) / "frame.json").read_text())


def _asset_path(out: Path, name: str) -> Path:
    """Frame 0's asset ``name`` as the manifest lists it."""
    (a,) = [a for a in read_manifest(out)["frames"][0]["assets"] if a["name"] == name]
    return out / a["path"]


def _alternate(out: Path, name: str, suffix: str, frame: int = 0) -> Path:
    """Frame ``frame``'s asset ``name`` in the format of ``suffix``, from the manifest's
    ``alternates`` (the formats beside the renderer's ``path``)."""
    (a,) = [a for a in read_manifest(out)["frames"][frame]["assets"] if a["name"] == name]
    (rel,) = [r for r in a.get("alternates") or [] if r.endswith(suffix)]
    return out / rel


def usd_layer(out: Path, frame: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame ``frame``'s layer read from its binary USD alternate (``layer.usdc``) with pxr
    directly (not core's USD code): vertex positions in scene km, triangles, and the
    per-vertex ``value`` primvar, float32 as written. (The renderer's ``layer.glb`` is
    Draco-compressed: positions quantized to 14 bits, vertices reordered; the USD keeps
    them exact.)"""
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(str(_alternate(out, "layer", ".usdc", frame)))
    (mesh,) = [UsdGeom.Mesh(x) for x in Usd.PrimRange(stage.GetDefaultPrim())
               if x.IsA(UsdGeom.Mesh)]
    xyz = np.asarray(mesh.GetPointsAttr().Get(), np.float64).reshape(-1, 3)
    # to world (the asset's own transforms), then to km (the stage's metersPerUnit)
    m = np.asarray(mesh.ComputeLocalToWorldTransform(Usd.TimeCode.Default()), np.float64)
    xyz = (xyz @ m[:3, :3] + m[3, :3]) * UsdGeom.GetStageMetersPerUnit(stage) / 1000.0
    faces = np.asarray(mesh.GetFaceVertexIndicesAttr().Get(), np.int64).reshape(-1, 3)
    pv = UsdGeom.PrimvarsAPI(mesh).GetPrimvar("value")
    assert pv and pv.GetInterpolation() == UsdGeom.Tokens.vertex
    value = np.asarray(pv.Get(), np.float64)
    assert value.shape == (len(xyz),)
    return xyz, faces, value


@dataclass(frozen=True)
class Layer:
    """Frame 0's layer (:func:`usd_layer`): vertex positions in scene km and the per-vertex
    ``value``."""

    xyz: np.ndarray
    value: np.ndarray

    @classmethod
    def read(cls, out: Path) -> Layer:
        xyz, _faces, value = usd_layer(out)
        return cls(xyz, value)


def _scene_xy(out: Path, raw: _raw.Raw) -> np.ndarray:
    """Where the run's map puts each raw point (km): the projection the manifest records
    (mode, exaggeration) through ``MapProjection.for_region``, the pipeline's documented
    transform, centred from the raw coordinates (not from the pipeline's grid)."""
    from climate_pipeline.geo import MapProjection

    spec = read_manifest(out)["provenance"]["parameters"]["projection"]
    assert spec["mode"] == "map", "these checks place points on the flat map only"
    proj = MapProjection.for_region(raw.lon[raw.exact], raw.lat[raw.exact],
                                    exaggeration=float(spec["exaggeration"]))
    return proj.forward(raw.lon, raw.lat)[:, :2]


def _at(points_xy: np.ndarray, want_xy: np.ndarray) -> np.ndarray:
    """Index of the point of ``points_xy`` at each position of ``want_xy``; each must lie
    within 5% of the points' spacing (the median nearest-neighbour distance) of one."""
    from scipy.spatial import cKDTree

    tree = cKDTree(points_xy)
    spacing = float(np.median(tree.query(points_xy, k=2)[0][:, 1]))
    d, idx = tree.query(want_xy)
    assert d.max() <= 0.05 * spacing, (f"no written point at {int((d > 0.05 * spacing).sum())}"
                                       f" of {len(d)} raw positions (worst {d.max():.4g} km, "
                                       f"spacing {spacing:.4g} km)")
    return idx


def _same(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Equal in float32 tolerance (NaN where NaN)."""
    np.testing.assert_allclose(got, want, rtol=REL, atol=REL * np.nanmax(np.abs(want)),
                               equal_nan=True, err_msg=what)


def _same_half(got: np.ndarray, want: np.ndarray, what: str) -> None:
    """Equal in float16 tolerance (:data:`HALF_REL`, :data:`HALF_ABS`), value by value; the
    raw values are float32 (or float64 rounded to float32 by the pipeline): REL on top."""
    np.testing.assert_allclose(got, want, rtol=HALF_REL + REL, atol=HALF_ABS, equal_nan=True,
                               err_msg=what)


@pytest.mark.parametrize("case", _params())
def test_physical_number(runs, case):
    """Frame 0 is the first time step (tau 0), and its maximum (written by the pipeline) is
    the raw maximum of that step over all levels (float32 rounding); a reduced Gaussian grid
    regridded linearly along its rows keeps its maximum within its range (the longest rows
    are copied exactly)."""
    meta = _frame0(runs(case))
    assert meta["tau"] == 0.0 and meta["time_index"] == 0
    raw = float(np.nanmax(_raw_run(runs, case).values))
    if case == "reduced_gg_grib":
        assert raw - 0.5 <= meta["vmax_frame"] <= raw + 1e-4
    else:
        assert meta["vmax_frame"] == pytest.approx(raw, rel=REL, abs=1e-4)


@pytest.mark.parametrize("case", _params())
def test_layer_maximum_is_where_the_raw_maximum_is(runs, case):
    """(a) The written layer's largest ``value`` and its place on the map are the raw ground
    level's maximum and the place of that raw point (one of them, if tied)."""
    out = runs(case)
    raw, lay = _raw_run(runs, case), Layer.read(out)
    g = raw.values[raw.ground]
    # reduced Gaussian: linear along rows never exceeds a row's maximum, and this file's
    # maximum lies on the longest row's longitudes (an exact point), so it is kept as is
    assert np.nanmax(g[raw.exact]) == np.nanmax(g)
    top = np.nanmax(g)
    k = int(np.nanargmax(lay.value))
    assert lay.value[k] == pytest.approx(top, rel=REL)
    tied = np.flatnonzero(raw.exact & (g == top))
    assert k in set(_at(lay.xyz[:, :2], _scene_xy(out, raw)[tied]).tolist()), (
        f"layer max at {lay.xyz[k, :2].round(1)} km; raw max at lon "
        f"{raw.lon[tied].round(3)}, lat {raw.lat[tied].round(3)}")


@pytest.mark.parametrize("case", _params())
def test_layer_values_at_fixed_points(runs, case):
    """(b) A few fixed raw grid points (``_raw.sample_points``): at each one's lon/lat the
    written layer has a vertex, and its ``value`` is the raw value of the ground level."""
    out = runs(case)
    raw, lay = _raw_run(runs, case), Layer.read(out)
    pts = _raw.sample_points(raw)
    want = raw.values[raw.ground, pts]
    assert np.isfinite(want).all() and raw.exact[pts].all()
    got = lay.value[_at(lay.xyz[:, :2], _scene_xy(out, raw)[pts])]
    _same(got, want, f"layer at raw points {pts.tolist()} (lon {raw.lon[pts].round(3)}, "
                     f"lat {raw.lat[pts].round(3)})")


@pytest.mark.parametrize("case", _params())
def test_layer_is_the_ground_level(runs, case):
    """(c) Every raw point of the ground level (the highest pressure, the lowest model level
    or height, from the file's vertical coordinate) is a vertex of the written layer with
    its value; for 3-D fields the layer is not the top level. A grid's layer has exactly
    its points (a reduced Gaussian grid: those on the regridded longitudes)."""
    out = runs(case)
    raw, lay = _raw_run(runs, case), Layer.read(out)
    assert raw.nz == LEVELS.get(case, 1)
    if raw.shape is not None:
        assert len(lay.value) == raw.shape[0] * raw.shape[1]
    idx = _at(lay.xyz[:, :2], _scene_xy(out, raw)[raw.exact])
    got = lay.value[idx]
    _same(got, raw.values[raw.ground, raw.exact], f"layer vs raw level {raw.ground} "
                                                   f"({raw.levels[raw.ground]:g})")
    if raw.nz > 1:
        top = raw.values[raw.top, raw.exact]
        assert np.mean(np.isclose(got, top, rtol=REL)) < 0.5, "the layer is the top level"


def _vdb_ends(path: Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """(xy km, values) of the lowest and the highest slice of the ``field`` grid, read with
    the openvdb binding (bpy's), oriented by the grid's own index-to-world transform (the
    index axis whose step is most nearly vertical; its lower end in world z is the bottom)."""
    from core.deps import require

    (openvdb,) = require("openvdb")
    grids, _ = openvdb.readAll(str(path))
    (g,) = [x for x in grids if x.name == "field"]
    lo, hi = (np.array(c) for c in g.evalActiveVoxelBoundingBox())
    arr = np.zeros(tuple(hi - lo + 1), np.float32)
    g.copyToArray(arr, ijk=tuple(int(i) for i in lo))

    def world(ijk: np.ndarray) -> np.ndarray:
        return np.array(g.transform.indexToWorld(tuple(int(i) for i in ijk)))

    o = world(lo)
    steps = [world(lo + e) - o for e in np.eye(3, dtype=int)]
    vert = int(np.argmax([abs(s[2]) for s in steps]))
    h1, h2 = [a for a in range(3) if a != vert]
    arr = np.moveaxis(arr, vert, 0)  # (vertical, h1, h2)
    i, j = np.meshgrid(np.arange(arr.shape[1]), np.arange(arr.shape[2]), indexing="ij")
    xy = (o[:2] + i.ravel()[:, None] * steps[h1][:2] + j.ravel()[:, None] * steps[h2][:2])
    low, high = (arr[0], arr[-1]) if steps[vert][2] > 0 else (arr[-1], arr[0])
    return (xy, low.ravel().astype(np.float64)), (xy, high.ravel().astype(np.float64))


@pytest.mark.parametrize("case", VDB_CASES)
def test_volume_bottom_and_top_are_the_raw_end_levels(runs, case):
    """(c) The written field.vdb's lowest slice is the raw ground level and its highest the
    raw top level, voxel by voxel at the raw points' map positions. Only the ends are
    compared: volume_map resamples the levels onto uniform heights, which keeps both ends
    (the top up to float32 rounding of its lerp) and interpolates in between. The .vdb holds
    half floats: compared in float16 tolerance (:data:`HALF_REL`)."""
    out = runs(case)
    raw = _raw_run(runs, case)
    # Voxels below vdb_tolerance (climate_pipeline/frames.py: half the lowest isosurface
    # level, at least 2 % of the colour range) stay inactive, read back as the background 0.
    # These cases' end levels lie wholly above it, so every voxel compared is active and
    # must hold its raw value (a pruned one would read 0 and fail).
    p = read_manifest(out)["provenance"]["parameters"]
    levels = [abs(x) for x in p["thresholds"] if x]
    pruned_below = max(0.02 * (p["range"][1] - p["range"][0]), 0.5 * min(levels, default=0))
    ends = raw.values[[raw.ground, raw.top]]
    assert np.nanmin(np.abs(ends)) > pruned_below, "case with pruned voxels: compare them to 0"
    (xy0, v0), (xy1, v1) = _vdb_ends(_asset_path(out, "field"))
    assert len(v0) == raw.values.shape[1], (len(v0), raw.values.shape)
    want = _scene_xy(out, raw)
    _same_half(v0[_at(xy0, want)], raw.values[raw.ground],
               "VDB bottom slice vs raw ground level")
    _same_half(v1[_at(xy1, want)], raw.values[raw.top], "VDB top slice vs raw top level")


@pytest.mark.parametrize("case, phrase", [
    ("era5_member_3_grib", "ensemble member 3 of 10 (0..9; --member N picks another)"),
    ("reduced_gg_grib", "reduced Gaussian grid (13280 points, rows of 20..192) regridded to "
                        "a regular 192 x 96 grid"),
    ("air_temp_pp_no_time", "air_temperature: 1 time step(s), 1 level(s), grid 73 x 96; "
                            "one time: a still"),
    ("wrf_int_offsets", "T2: 5 time step(s), 1 level(s), grid 8 x 10"),
])
def test_one_log_line_says_what_was_read(runs, case, phrase):
    # phrases name their run: in one process, core.cli.set_log_file keeps earlier runs'
    # handlers, so an earlier run.log also receives later runs' lines
    lines = [x for x in RunDir(runs(case)).run_log.read_text().splitlines()
             if "vizpipe.climate" in x and phrase in x]
    assert len(lines) == 1, phrase
