"""The climate command on public files nobody in this project wrote (issue #9).

The corpus is ``tests/data/real/climate`` (origins, licences and what each file exercises in
its README.md).

* ``test_default_run_makes_assets``: ``python -m climate_pipeline FILE --no-render`` (small
  ``--frames``/``--particles``) on every corpus case; the manifest's assets are read back with
  independent readers (trimesh for PLY/GLB, pxr for USD, the openvdb binding from bpy).
* ``test_physical_number``: the maximum of the field at the first output frame (the frame's
  ``vmax_frame``) against the raw values read with netCDF4, ecCodes or a plain PP parse.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.manifest import read_manifest
from core.rundir import RunDir

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
                if suffix in (".ply", ".glb") and a["kind"] == "mesh":
                    m = trimesh.load(p, force="mesh", process=False)
                    assert len(m.vertices) > 0 and np.isfinite(m.vertices).all(), rel
                elif suffix == ".ply" and a["kind"] == "points":
                    pc = trimesh.load(p, process=False)
                    assert len(pc.vertices) > 0, rel
                elif suffix == ".usd":
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
    assert {".ply", ".glb", ".usd"} <= checked


# ------------------------------------------------------------------ raw values, other readers
def _nc_max(path: Path, var: str, index=(0,)) -> float:
    import netCDF4

    with netCDF4.Dataset(path) as ds:
        a = ds.variables[var][index]
    return float(np.ma.filled(np.ma.masked_invalid(a).astype(np.float64), np.nan).max())


def _grib_max(path: Path, short: str | None = None, member: int | None = None) -> float:
    """Max over the first validity time's messages of ``short``, ensemble member
    ``member`` [the lowest there]."""
    import importlib

    import pyproj  # noqa: F401  (before eccodes: see climate_pipeline.grib)

    ec = importlib.import_module("eccodes")

    rows = []
    with open(path, "rb") as fh:
        while (h := ec.codes_grib_new_from_file(fh)) is not None:
            try:
                if short and ec.codes_get(h, "shortName") != short:
                    continue
                num = ec.codes_get(h, "number") if ec.codes_is_defined(h, "number") else 0
                if member is not None and (num or 0) != member:
                    continue
                when = (num or 0, ec.codes_get(h, "validityDate"),
                        ec.codes_get(h, "validityTime"))
                vals = ec.codes_get_values(h).astype(np.float64)
                if ec.codes_get(h, "bitmapPresent"):
                    vals = vals[vals != ec.codes_get_double(h, "missingValue")]
                rows.append((when, vals.max()))
            finally:
                ec.codes_release(h)
    first = min(w for w, _ in rows)
    return float(max(m for w, m in rows if w == first))


def _pp_max(path: Path, stash: int | None = None) -> float:
    """A plain parse of an unpacked PP file (big-endian Fortran records: a 64-word header,
    then the data): max over the fields of the earliest validity time."""
    b = path.read_bytes()
    pos, fields = 0, []
    while pos < len(b):
        n = int.from_bytes(b[pos:pos + 4], "big")
        ints = np.frombuffer(b[pos + 4:pos + 4 + 180], ">i4")
        reals = np.frombuffer(b[pos + 4 + 180:pos + 4 + n], ">f4")
        pos += n + 8
        m = int.from_bytes(b[pos:pos + 4], "big")
        assert ints[20] == 0, "packed PP"
        data = np.frombuffer(b[pos + 4:pos + 4 + 4 * ints[17] * ints[18]], ">f4")
        pos += m + 8
        data = data[data != reals[62 - 45]].astype(np.float64)  # BMDI
        if stash is None or ints[41] == stash:
            fields.append((tuple(ints[:5]), data.max()))
    first = min(w for w, _ in fields)
    return float(max(v for w, v in fields if w == first))


RAW = {
    "air_temp_pp_no_time": lambda: _pp_max(D / "air_temp.pp"),
    "rotated_pole_nc_no_time": lambda: _nc_max(D / "rotated_pole.nc",
                                               "air_pressure_at_sea_level", ()),
    "hybrid_height_nc_snapshot": lambda: _nc_max(D / "hybrid_height.nc",
                                                 "air_potential_temperature", ()),
    "A1B_north_america_nc": lambda: _nc_max(D / "A1B_north_america.nc", "air_temperature"),
    "lake_victoria_pp_winds": lambda: _pp_max(D / "wind_speed_lake_victoria.pp", 3225),
    "uk_hires_pp": lambda: _pp_max(D / "uk_hires.pp", 4),
    "polar_stereo_grib2": lambda: _grib_max(D / "polar_stereo.grib2"),
    "era5_members_grib": lambda: _grib_max(D / "era5-levels-members.grib", "t", 0),
    "era5_member_3_grib": lambda: _grib_max(D / "era5-levels-members.grib", "t", 3),
    "lambert_grib": lambda: _grib_max(D / "lambert_grid.grib"),
    "reduced_gg_grib": lambda: _grib_max(D / "reduced_gg.grib"),
    "regular_gg_pl_grib": lambda: _grib_max(D / "regular_gg_pl.grib"),
    "regular_gg_ml_grib": lambda: _grib_max(D / "regular_gg_ml.grib"),
    "regular_ll_msl_grib": lambda: _grib_max(D / "regular_ll_msl.grib"),
    "scanning_mode_64_grib": lambda: _grib_max(D / "scanning_mode_64.grib"),
    "ncep_split_winds": lambda: _nc_max(D / "uwnd_mean.nc", "uwnd"),
    "ncep_wind_files": lambda: _nc_max(D / "uwnd_mean.nc", "uwnd"),
    "ncl_hours_timedelta": lambda: _nc_max(D / "ncl_hours_timedelta.nc", "T"),
    "wrf_int_offsets": lambda: _nc_max(D / "wrf_int_offsets.nc", "T2"),
    "city_box_4x3": lambda: _nc_max(D / "city_box_4x3.nc", "no2"),
    "winds_seam_0_360": lambda: _nc_max(D / "winds_seam_0_360.nc", "pm25"),
    "winds_descending_lon": lambda: _nc_max(D / "winds_descending_lon.nc", "pm25"),
}


@pytest.mark.parametrize("case", _params())
def test_physical_number(runs, case):
    """Frame 0's maximum (written by the pipeline) is the raw maximum of the first time step
    (float32 rounding); a reduced Gaussian grid regridded linearly along its rows keeps its
    maximum within its range (the longest rows are copied exactly)."""
    meta = json.loads((RunDir(runs(case)).frame_dir(0) / "frame.json").read_text())
    raw = RAW[case]()
    if case == "reduced_gg_grib":
        assert raw - 0.5 <= meta["vmax_frame"] <= raw + 1e-4
    else:
        assert meta["vmax_frame"] == pytest.approx(raw, rel=1e-6, abs=1e-4)


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
