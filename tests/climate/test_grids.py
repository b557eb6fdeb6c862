"""Curvilinear grids, non-CF frame axes and multi-field files (issue #17), end to end.

``python -m climate_pipeline FILE --out DIR --no-render --engine serial`` with **default
flags** on files a new user brings, then the written assets against the raw files read here
without the pipeline (netCDF4; a plain text parse of NAME III; ``_raw.pp``'s plain PP parse):

* ``tos_Omon_curvilinear_gn.nc`` (written by ``tests/data/real/climate/write_independent.py``
  with netCDF4: no public package ships a CMIP6 ocean file small enough): CMIP6/CMOR layout,
  dims ``time, j, i`` with integer index coordinates, 2-D ``latitude``/``longitude`` named by
  the CF ``coordinates`` attribute (with ``vertices_*`` bounds), land as ``_FillValue``, a
  global grid whose 0/360 seam lies inside the i range. Failed before with
  ``cannot identify dimension 'j' as time, vertical, y or x``.
* ``orca2_votemper.nc`` (iris-sample-data 2.5.2, ``iris_sample_data/sample_data/``, sha256
  85e0fb9e...; Open Government Licence, (c) British Crown copyright): NEMO ORCA2 tripolar
  ocean temperature, dims ``dim0, dim1`` (no coordinate variables, no CF names), 2-D
  ``nav_lat``/``nav_lon`` in plain "degrees" found by standard_name, land masked. Failed
  before with ``cannot identify dimension 'dim0'``.
* ``erai_monthly_month_axis.nc`` (write_independent.py): ERA-Interim-style monthly means, a
  leading ``month`` dimension without units, packed shorts, land missing. Failed before with
  ``cannot identify dimension 'month'``; now the frame axis, said in the log.
* ``NAMEIII_five_fields.txt`` (write_independent.py, in the column layout of iris-test-data's
  ``NAME/NAMEIII_field.txt``, OGL): five fields at three times, two of them both called
  ``TRACER_AIR_CONCENTRATION`` (a 1-hour integral and a 1-hour average). Failed before with
  ``a single variable is ambiguous``, and the second could not be chosen at all; now the
  first field is taken and named in the log, ``--var NAME#2`` takes the second and
  ``--var NAME#3`` is one error line listing ``NAME#1``, ``NAME#2``.
* ``uk_hires.pp`` (iris-sample-data 2.5.2, OGL; in the corpus already): a UM PP file with two
  STASH fields (potential temperature on 7 levels, orography): failed with default flags
  (``a single variable is ambiguous``); now the first field in the file.

Each run: exit 0; the manifest's frames count is the leading axis's length; the layer of the
first and last frame (its exact ``layer.usdc``, read with pxr) has, at eight fixed raw points,
the raw values of that step; every finite raw point is a vertex with its value, and no
missing (NaN) cell is: the layer holds exactly the finite points, all values finite; on the
map no triangle spans the seam.
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
from tests.climate.test_real_files import _at, _main, _same, _scene_xy, usd_layer

D = Path(__file__).resolve().parent.parent / "data" / "real" / "climate"
DEFAULT = ["--no-render", "--engine", "serial"]  # the command as a user runs it
NAME = "NAMEIII_five_fields.txt"
TAC = "TRACER_AIR_CONCENTRATION"
FIELDS_PER_TIME = 5  # NAME columns: the five fields at each time, time after time


# ------------------------------------------------------------------------ raw, not ours
def nc_raw(path: Path, var: str, step: int) -> _raw.Raw:
    """``var`` at index ``step`` of its leading dimension (whatever it is called: ``time``,
    ``month``) with netCDF4 (its masking and scaling), or the whole of a 2-D variable;
    lon/lat: the 2-D variables the ``coordinates`` attribute names (by standard_name), else
    the 1-D coordinate variables of the last two dimensions."""
    import netCDF4

    with netCDF4.Dataset(path) as ds:
        v = ds.variables[var]
        a = v[step] if v.ndim == 3 else v[:]
        a = np.ma.filled(np.ma.asarray(a, np.float64), np.nan)
        two = {getattr(ds.variables[n], "standard_name", ""): n
               for n in str(getattr(v, "coordinates", "")).split()
               if n in ds.variables and ds.variables[n].ndim == 2}
        if {"latitude", "longitude"} <= set(two):
            lon = np.asarray(ds.variables[two["longitude"]][:], np.float64).ravel()
            lat = np.asarray(ds.variables[two["latitude"]][:], np.float64).ravel()
        else:
            ydim, xdim = v.dimensions[-2:]
            lon, lat = np.meshgrid(np.asarray(ds.variables[xdim][:], np.float64),
                                   np.asarray(ds.variables[ydim][:], np.float64))
            lon, lat = lon.ravel(), lat.ravel()
    ny, nx = a.shape
    return _raw.Raw(a.reshape(1, -1), lon, lat, np.zeros(1), 0, (ny, nx),
                    np.ones(ny * nx, bool))


def name_raw(path: Path, field: int, step: int) -> _raw.Raw:
    """Column ``step * 5 + field`` of a NAME III field file, parsed as text: the grid from the
    header (origin, resolution, size), each data row placed by its 1-based X/Y index; cells
    without a row are zero (NAME leaves them out)."""
    lines = path.read_text().splitlines()
    head = dict(ln.split(":", 1) for ln in lines[:19] if ":" in ln)
    num = {k.strip(): float(v) for k, v in head.items()
           if k.strip().startswith(("X grid", "Y grid"))}
    nx, ny = int(num["X grid size"]), int(num["Y grid size"])
    first = lines.index(" Fields:") + 18  # 16 heading rows, the column titles
    grid = np.zeros((ny, nx))
    col = 4 + step * FIELDS_PER_TIME + field
    for ln in lines[first:]:
        cells = ln.split(",")
        grid[int(cells[1]) - 1, int(cells[0]) - 1] = float(cells[col])
    lon, lat = np.meshgrid(num["X grid origin"] + np.arange(nx) * num["X grid resolution"],
                           num["Y grid origin"] + np.arange(ny) * num["Y grid resolution"])
    return _raw.Raw(grid.reshape(1, -1), lon.ravel(), lat.ravel(), np.zeros(1), 0, (ny, nx),
                    np.ones(nx * ny, bool))


def pp_raw(path: Path, stash: int, step: int) -> _raw.Raw:
    assert step == 0, "the plain PP parse reads the first time"
    return _raw.pp(path, stash)


@dataclass(frozen=True)
class Case:
    file: str
    args: tuple[str, ...]
    frames: int  # the leading axis's length
    raw: Callable[[int], _raw.Raw]  # the raw ground level at a step
    said: str  # what the run's log must say ("" nothing in particular)
    steps: tuple[int, ...] = (0, -1)  # the frames checked (the last: -1)


CASES = {
    "cmip6_tos_curvilinear": Case(
        "tos_Omon_curvilinear_gn.nc", (), 3,
        lambda t: nc_raw(D / "tos_Omon_curvilinear_gn.nc", "tos", t), ""),
    "orca2_votemper": Case(
        "orca2_votemper.nc", (), 1, lambda t: nc_raw(D / "orca2_votemper.nc", "votemper", t),
        ""),
    "erai_month_axis": Case(
        "erai_monthly_month_axis.nc", (), 12,
        lambda t: nc_raw(D / "erai_monthly_month_axis.nc", "sst", t),
        "dimension 'month' (12 steps, no units) is not a CF time, vertical, y or x axis: it "
        "leads, so it is the frame axis"),
    "name_iii_default": Case(
        NAME, (), 3, lambda t: name_raw(D / NAME, 0, t),
        f"5 data fields: using the first in the file, {TAC}#1 (time: sum, g s / m^3"),
    "name_iii_second_duplicate": Case(
        NAME, ("--var", f"{TAC}#2"), 3, lambda t: name_raw(D / NAME, 1, t), ""),
    "uk_hires_pp_default": Case(
        "uk_hires.pp", (), 3, lambda t: pp_raw(D / "uk_hires.pp", 4, t),
        "2 data fields: using the first in the file, air_potential_temperature; the others: "
        "surface_altitude", steps=(0,)),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("grids")
    done: dict[str, Path] = {}

    def run(case: str) -> Path:
        if case not in done:
            c = CASES[case]
            out = root / case
            assert _main([str(D / c.file), "--out", str(out), *DEFAULT, *c.args]) == 0
            done[case] = out
        return done[case]

    return run


@functools.cache
def _raw_at(case: str, step: int) -> _raw.Raw:
    c = CASES[case]
    return c.raw(step % c.frames if step < 0 else step)


@dataclass(frozen=True)
class Layer:
    """Frame ``i``'s layer from its exact ``layer.usdc`` (pxr): positions (km), faces,
    ``value``."""

    xyz: np.ndarray
    faces: np.ndarray
    value: np.ndarray

    @classmethod
    def read(cls, out: Path, i: int) -> Layer:
        return cls(*usd_layer(out, i))


def _fixed_finite_points(raw: _raw.Raw, n: int = 8) -> np.ndarray:
    """``n`` fixed raw points with a value (sea, plume), spread over the grid in file order
    and away from its last two rows (an ORCA grid's north fold repeats points there)."""
    ny, nx = raw.shape
    g = raw.values[raw.ground]
    ok = np.flatnonzero(np.isfinite(g) & (np.arange(ny * nx) < (ny - 2) * nx) & (g != 0))
    return ok[np.linspace(0, ok.size - 1, n).round().astype(int)]


@pytest.mark.parametrize("case", list(CASES))
def test_converts_with_default_flags(runs, case):
    """Exit 0 (the fixture), one frame per step of the leading axis, the log line naming
    the choice, and frame.json's name and time index."""
    out = runs(case)
    c = CASES[case]
    man = read_manifest(out)
    assert len(man["frames"]) == c.frames
    if c.said:
        assert c.said in RunDir(out).run_log.read_text()
    meta = json.loads((RunDir(out).frame_dir(c.frames - 1) / "frame.json").read_text())
    assert meta["time_index"] == c.frames - 1
    if case == "name_iii_second_duplicate":
        # g/m3 shown in µg/m³ (issue #19), the factor cf-units' own
        import cf_units

        assert meta["name"] == f"{TAC}#2" and meta["units"] == "ug m-3"
        assert _scale(out) == pytest.approx(cf_units.Unit("g / m^3").convert(
            1.0, cf_units.Unit("ug m-3")), rel=1e-12)


def _scale(out: Path) -> float:
    """The factor the run multiplied the file's values by (into its display unit)."""
    return float(read_manifest(out)["provenance"]["parameters"].get("scale", 1.0))


@pytest.mark.parametrize("case", list(CASES))
def test_layer_values_at_fixed_points(runs, case):
    """The first and last frames' layers hold the raw values of their step at eight fixed
    raw points (placed on the map by the raw lon/lat)."""
    out = runs(case)
    for step in CASES[case].steps:
        raw, lay = _raw_at(case, step), Layer.read(out, step)
        pts = _fixed_finite_points(raw)
        got = lay.value[_at(lay.xyz[:, :2], _scene_xy(out, raw)[pts])]
        _same(got, raw.values[raw.ground, pts] * _scale(out),
              f"{case} frame {step}: points {pts.tolist()}")


@pytest.mark.parametrize("case", list(CASES))
def test_missing_cells_are_not_in_the_layer(runs, case):
    """Every finite raw point of the step is a layer vertex with its value, and the layer has
    no other vertex: a missing (NaN, masked, land) cell is left out of the mesh, vertex and
    triangles, not drawn transparent. On the flat map no triangle spans more than half the
    map (a global grid's 0/360 seam is cut, not stretched across)."""
    out = runs(case)
    raw, lay = _raw_at(case, 0), Layer.read(out, 0)
    g = raw.values[raw.ground]
    finite = np.isfinite(g)
    if case in ("cmip6_tos_curvilinear", "orca2_votemper", "erai_month_axis"):
        assert not finite.all(), "the case has land"
    assert np.isfinite(lay.value).all()
    assert len(lay.value) == int(finite.sum())
    xy = _scene_xy(out, raw)
    idx = _at(lay.xyz[:, :2], xy[finite])
    _same(lay.value[idx], g[finite] * _scale(out), f"{case}: every finite point")
    assert lay.faces.size and lay.faces.max() < len(lay.value)
    # the map is 360 degrees wide; a triangle across its edge would span most of it (cells
    # by the pole of a global grid may span up to half of it: 180 degrees of longitude)
    from climate_pipeline.geo import MapProjection

    proj = MapProjection.for_region(raw.lon, raw.lat)
    half = np.radians(180.0) * proj.radius_km * np.cos(np.radians(proj.center_lat))
    assert np.ptp(lay.xyz[lay.faces][:, :, 0], axis=1).max() <= half * (1 + 1e-6)


# ------------------------------------------------------------ duplicate names: NAME#N
def test_the_third_of_two_is_one_error_line_listing_both(tmp_path, capsys):
    with pytest.raises(SystemExit) as ex:
        _main([str(D / NAME), "--out", str(tmp_path / "x"), *DEFAULT, "--var", f"{TAC}#3"])
    assert ex.value.code != 0
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, lines
    (e,) = errors
    assert f"'{TAC}#3' not found: 2 field(s) named '{TAC}'" in e
    assert f"{TAC}#1 (time: sum, g s / m^3" in e and f"{TAC}#2 (time: mean, g / m^3" in e
    assert "NAME#N" in e  # how to choose


@pytest.mark.parametrize("var, field", [
    (f"{TAC}#1", 0), (f"{TAC}#2", 1), ("TRACER_DRY_DEPOSITION", 2),
    ("TRACER_WET_DEPOSITION#1", 3), ("TRACER_DEPOSITION", 4), (TAC, 0)])
def test_every_name_field_is_selectable(var, field):
    """Each of the five fields by name (``NAME#1`` of a unique name too), at every time; a
    repeated name alone is its first occurrence."""
    from climate_pipeline.readers import open_field

    f = open_field(D / NAME, var)
    assert f.nt == 3
    for t in range(3):
        np.testing.assert_allclose(f.frame(t)[0].ravel(), name_raw(D / NAME, field, t).values[0],
                                   rtol=1e-6)


def test_iris_fields_in_file_order():
    """iris.load sorts merged cubes by standard_name; the first field is the file's first
    (uk_hires.pp: potential temperature's 21 fields come before the orography field, whose
    cube iris lists second anyway; NAME: the column order)."""
    from climate_pipeline.readers import open_field

    assert open_field(D / "uk_hires.pp").name == "air_potential_temperature"
    assert open_field(D / "uk_hires.pp", "surface_altitude#1").nt == 1


def test_netcdf_names_and_standard_names(tmp_path):
    """NetCDF names are unique: ``NAME#1`` is the variable, ``NAME#2`` one error line; a CF
    standard_name selects too."""
    from climate_pipeline.readers import open_field
    from core.errors import BadInputError

    p = D / "tos_Omon_curvilinear_gn.nc"
    assert open_field(p, "tos#1").name == "tos"
    assert open_field(p, "sea_surface_temperature").name == "tos"
    with pytest.raises(BadInputError, match=r"'tos#2' not found: 1 variable\(s\) named 'tos' "
                                            r"\(tos#1 = tos\); variables there: .*NAME#N"):
        open_field(p, "tos#2")


# ------------------------------------------------------- non-CF leading axes, in memory
def _leading(dim: str, n: int, coord: dict | None, name: str) -> object:
    import xarray as xr

    lat = np.linspace(-30.0, 30.0, 5)
    lon = np.linspace(0.0, 40.0, 6)
    vals = np.arange(n * 5 * 6, dtype=np.float32).reshape(n, 5, 6)
    ds = xr.Dataset({name: ((dim, "lat", "lon"), vals, {"units": "K"})},
                    coords={"lat": ("lat", lat, {"units": "degrees_north"}),
                            "lon": ("lon", lon, {"units": "degrees_east"})})
    if coord is not None:
        ds = ds.assign_coords({dim: (dim, coord["values"], coord.get("attrs", {}))})
    return ds


@pytest.mark.parametrize("dim, coord, labels", [
    ("realization", {"values": np.arange(4), "attrs": {"standard_name": "realization"}},
     ["step 0", "step 3"]),
    ("member", {"values": np.array(["r1", "r2", "r3", "r4"])}, ["step 0", "step 3"]),
    ("step", None, ["step 0", "step 3"]),
    ("step", {"values": np.arange(4) * 6.0, "attrs": {"units": "hours"}}, ["+0 h", "+18 h"]),
])
def test_leading_non_cf_axis_is_the_frame_axis(dim, coord, labels, caplog):
    from climate_pipeline.frames import time_label
    from climate_pipeline.readers import field_from_dataset

    name = f"t_{dim}_{'c' if coord else 'nc'}_{len(labels[-1])}"
    ds = _leading(dim, 4, coord, name)
    with caplog.at_level("INFO", logger="vizpipe.climate.readers"):
        f = field_from_dataset(ds, name)
    assert f.nt == 4 and f.shape == (4, 1, 5, 6)
    np.testing.assert_array_equal(f.frame(3)[0], ds[name].values[3])
    assert [time_label(f, 0), time_label(f, 3)] == labels
    assert any(f"dimension '{dim}'" in r.getMessage() and "frame axis" in r.getMessage()
               for r in caplog.records)
    assert any(dim in n for n in f.notes)


def test_non_cf_axis_beside_a_time_axis_is_an_error():
    import xarray as xr

    from climate_pipeline.readers import field_from_dataset
    from core.errors import BadInputError

    ds = _leading("member", 3, None, "t_beside").expand_dims(time=2)
    ds = ds.assign_coords(time=("time", [0.0, 1.0], {"units": "days since 2000-01-01"}))
    ds = xr.decode_cf(ds)
    with pytest.raises(BadInputError, match=r"cannot identify dimension 'member'"):
        field_from_dataset(ds, "t_beside")


# ---------------------------------------------------------------------- the layer stage
def test_surface_layer_drops_missing_and_cuts_the_seam():
    """``drop_missing``: the NaN point and its triangles go; by default it stays (alpha 0).
    A 2-D (curvilinear) grid across the map's edge loses the cells that straddle it on the
    map, not on the globe."""
    from climate_pipeline import stages
    from climate_pipeline.geo import GlobeProjection, MapProjection

    lat2, lon2 = np.meshgrid(np.linspace(-40, 40, 5), np.linspace(0, 350, 36), indexing="ij")
    lon2 = (lon2 + 100.0) % 360.0  # the 0/360 jump inside the rows
    v = np.cos(np.radians(lat2)).astype(np.float32)
    v[2, 3] = np.nan
    colors = np.full((v.size, 4), 255, np.uint8)
    proj = MapProjection(center_lon=0.0, center_lat=0.0)
    kept = stages.surface_layer(v, lon2, lat2, proj, colors)
    dropped = stages.surface_layer(v, lon2, lat2, proj, colors, drop_missing=True)
    assert kept.n_vertices == v.size and kept.colors[2 * 36 + 3, 3] == 0
    assert dropped.n_vertices == v.size - 1 and np.isfinite(dropped.attributes["value"]).all()
    assert dropped.n_faces == kept.n_faces - 6  # the six triangles around an inner point
    full = 2 * 4 * 35
    spans = lambda m: np.ptp(m.vertices[m.faces][:, :, 0], axis=1)  # noqa: E731
    assert kept.n_faces == full - 2 * 4 and spans(kept).max() < 2000  # the seam cells go
    globe = stages.surface_layer(v, lon2, lat2, GlobeProjection(), colors)
    assert globe.n_faces == full
