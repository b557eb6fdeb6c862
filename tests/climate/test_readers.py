"""Readers on NetCDF files generated here (tmp_path): grids, calendars, levels, winds, errors."""

from __future__ import annotations

import datetime
import sys
import warnings
from pathlib import Path

import cftime
import numpy as np
import pytest
import xarray as xr

from climate_pipeline import geo
from climate_pipeline.readers import (
    auto_wind_names,
    check_same_grid,
    normalize_times,
    open_field,
    open_winds,
)
from core.errors import BadInputError, MissingDependencyError, UnknownFormatError

NT, NY, NX = 3, 4, 6
LON = np.arange(-180, 180, 60.0)


def _time(n=NT, calendar="standard", start=0):
    return xr.Variable(("time",), np.arange(start, start + n, dtype=np.float64),
                       {"units": "days since 2000-01-01", "calendar": calendar,
                        "standard_name": "time", "axis": "T"})


def _data(shape, seed=0):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def _latlon_ds(lon, lat, *, nt=NT, calendar="standard", start=0, name="pm25", seed=0):
    lon = np.asarray(lon, float)
    lat = np.asarray(lat, float)
    ds = xr.Dataset(
        {name: (("time", "lat", "lon"), _data((nt, lat.size, lon.size), seed),
                {"units": "ug m-3", "standard_name": "mass_concentration_of_pm2p5_ambient_"
                 "aerosol_particles_in_air", "long_name": "PM2.5"})},
        coords={"time": _time(nt, calendar, start),
                "lat": ("lat", lat, {"units": "degrees_north", "standard_name": "latitude"}),
                "lon": ("lon", lon, {"units": "degrees_east", "standard_name": "longitude"})})
    return ds


def _write(ds, path):
    ds.to_netcdf(path)
    return path


# ------------------------------------------------------------------------- regular grids
def test_regular_0_360_and_minus180_180_agree(tmp_path):
    lon360 = np.arange(0, 360, 60.0)
    ds = _latlon_ds(lon360, np.linspace(-60, 60, NY))
    a = _write(ds, tmp_path / "a.nc")
    order = np.argsort(geo.normalize_longitudes(lon360))
    ds180 = ds.isel(lon=order).assign_coords(
        lon=("lon", geo.normalize_longitudes(lon360)[order], ds.lon.attrs))
    b = _write(ds180, tmp_path / "b.nc")
    fa, fb = open_field(a), open_field(b)
    assert fa.shape == (NT, 1, NY, NX)
    np.testing.assert_allclose(fa.lon, fb.lon)
    assert np.all(np.diff(fa.lon) > 0) and fa.lon.min() >= -180 and fa.lon.max() < 180
    np.testing.assert_array_equal(fa.frame(1), fb.frame(1))
    # the value at lon=300 (= -60) is the same
    i = int(np.argmin(np.abs(fa.lon + 60)))
    np.testing.assert_array_equal(fa.frame(0)[0, :, i], ds.pm25.values[0, :, 5])
    assert fa.units == "ug m-3" and fa.long_name == "PM2.5"
    assert fa.vertical_kind == "none" and fa.crs is None


def test_dateline_region_stays_contiguous(tmp_path):
    lon = np.array([170.0, 175, 180, 185, 190, 195])
    f = open_field(_write(_latlon_ds(lon, np.linspace(0, 30, NY)), tmp_path / "d.nc"))
    assert np.all(np.diff(f.lon) > 0)
    np.testing.assert_allclose(geo.normalize_longitudes(f.lon), geo.normalize_longitudes(lon))


def test_descending_latitude_flipped(tmp_path):
    lat = np.linspace(60, -60, NY)
    ds = _latlon_ds(LON, lat)
    f = open_field(_write(ds, tmp_path / "d.nc"))
    np.testing.assert_allclose(f.lat, lat[::-1])
    np.testing.assert_array_equal(f.frame(2)[0], ds.pm25.values[2, ::-1, :])


def test_axes_found_by_attributes_not_names(tmp_path):
    ds = xr.Dataset(
        {"c": (("tt", "nb", "ea"), _data((NT, NY, NX)), {"units": "1"})},
        coords={"tt": ("tt", np.arange(NT, dtype=float), {"units": "hours since 2001-01-01"}),
                "nb": ("nb", np.linspace(0, 30, NY), {"units": "degrees_north"}),
                "ea": ("ea", np.linspace(0, 50, NX), {"units": "degrees_east"})})
    f = open_field(_write(ds, tmp_path / "x.nc"))
    assert f.shape == (NT, 1, NY, NX)
    assert f.time_labels()[1] == "2001-01-01T01:00:00"


# ---------------------------------------------------------------------- projected grids
def test_rotated_pole_true_lonlat_against_pyproj(tmp_path):
    import pyproj

    rlon = np.linspace(-10, 10, NX)
    rlat = np.linspace(-8, 8, NY)
    gm = {"grid_mapping_name": "rotated_latitude_longitude",
          "grid_north_pole_longitude": -170.0, "grid_north_pole_latitude": 40.0}
    ds = xr.Dataset(
        {"t": (("time", "rlat", "rlon"), _data((NT, NY, NX)),
               {"units": "K", "grid_mapping": "rotated_pole"}),
         "rotated_pole": ((), np.int32(0), gm)},
        coords={"time": _time(),
                "rlat": ("rlat", rlat, {"standard_name": "grid_latitude", "units": "degrees"}),
                "rlon": ("rlon", rlon, {"standard_name": "grid_longitude", "units": "degrees"})})
    f = open_field(_write(ds, tmp_path / "r.nc"), "t")
    assert f.rotated_pole == (-170.0, 40.0, 0.0)
    assert f.lon.shape == (NY, NX)
    crs = pyproj.CRS.from_cf(gm)
    tr = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    xx, yy = np.meshgrid(rlon, rlat)
    lon, lat = tr.transform(xx, yy)
    np.testing.assert_allclose(f.lat, lat, atol=1e-6)
    np.testing.assert_allclose(geo.normalize_longitudes(f.lon - lon), 0, atol=1e-6)
    # the rotated origin lies at true (pole_lon + 180, 90 - pole_lat) = (10E, 50N)
    lo, la = geo.rotated_to_true(0.0, 0.0, -170.0, 40.0)
    assert abs(float(lo) - 10.0) < 1e-9 and abs(float(la) - 50.0) < 1e-9


def _lambert_ds():
    gm = {"grid_mapping_name": "lambert_conformal_conic", "standard_parallel": [30.0, 60.0],
          "longitude_of_central_meridian": 10.0, "latitude_of_projection_origin": 45.0}
    x = np.linspace(-500, 500, NX)
    y = np.linspace(-400, 400, NY)
    return xr.Dataset(
        {"o3": (("time", "y", "x"), _data((NT, NY, NX)),
                {"units": "ppb", "grid_mapping": "lcc"}),
         "lcc": ((), np.int32(0), gm)},
        coords={"time": _time(),
                "y": ("y", y, {"standard_name": "projection_y_coordinate", "units": "km"}),
                "x": ("x", x, {"standard_name": "projection_x_coordinate", "units": "km"})}), gm


def test_lambert_conformal_grid(tmp_path):
    import pyproj

    ds, gm = _lambert_ds()
    f = open_field(_write(ds, tmp_path / "l.nc"))
    assert f.crs is not None and f.lon.shape == (NY, NX)
    np.testing.assert_allclose(f.x, ds.x.values * 1000)
    tr = pyproj.Transformer.from_crs(pyproj.CRS.from_cf(gm), "EPSG:4326", always_xy=True)
    lon, lat = tr.transform(*np.meshgrid(ds.x.values * 1000, ds.y.values * 1000))
    np.testing.assert_allclose(f.lon, lon, atol=1e-6)
    np.testing.assert_allclose(f.lat, lat, atol=1e-6)
    # the grid's centre is the projection origin
    lo, la = geo.to_lonlat(0.0, 0.0, f.crs)
    assert abs(float(lo) - 10) < 1e-6 and abs(float(la) - 45) < 1e-6


def test_curvilinear_2d_latlon(tmp_path):
    j, i = np.meshgrid(np.arange(NY), np.arange(NX), indexing="ij")
    lon2 = 5.0 + i * 1.0 + 0.3 * j
    lat2 = 40.0 + j * 1.0 + 0.2 * i
    ds = xr.Dataset(
        {"dust": (("time", "nj", "ni"), _data((NT, NY, NX)),
                  {"units": "kg m-3", "coordinates": "lat lon"})},
        coords={"time": _time(),
                "lat": (("nj", "ni"), lat2, {"units": "degrees_north",
                                             "standard_name": "latitude"}),
                "lon": (("nj", "ni"), lon2, {"units": "degrees_east",
                                             "standard_name": "longitude"})})
    f = open_field(_write(ds, tmp_path / "c.nc"))
    np.testing.assert_allclose(f.lon, lon2)
    np.testing.assert_allclose(f.lat, lat2)
    assert f.shape == (NT, 1, NY, NX)


# --------------------------------------------------------------- files, names, calendars
def test_multiple_files_concatenated_along_time(tmp_path):
    lon, lat = LON, np.linspace(-60, 60, NY)
    p1 = _write(_latlon_ds(lon, lat, start=0, seed=1), tmp_path / "p1.nc")
    p2 = _write(_latlon_ds(lon, lat, start=NT, seed=2), tmp_path / "p2.nc")
    f = open_field([p2, p1])
    assert f.nt == 2 * NT
    assert f.time_labels()[0] == "2000-01-01T00:00:00"
    assert f.time_labels()[-1] == "2000-01-06T00:00:00"
    np.testing.assert_array_equal(f.frame(NT)[0], _latlon_ds(lon, lat, seed=2).pm25.values[0])
    assert f.values.chunks[0] == (1,) * (2 * NT)
    assert len(f.paths) == 2


def test_standard_name_selection_and_candidates(tmp_path, caplog):
    ds = _latlon_ds(LON, np.linspace(-60, 60, NY))
    ds["no2"] = ds.pm25 * 2
    ds["no2"].attrs = {"standard_name": "mass_concentration_of_nitrogen_dioxide_in_air",
                       "units": "ug m-3"}
    p = _write(ds, tmp_path / "s.nc")
    f = open_field(p, standard_name="mass_concentration_of_nitrogen_dioxide_in_air")
    assert f.name == "no2"
    # several data variables: the first in file order, one log line naming the others
    import logging

    caplog.set_level(logging.INFO, logger="vizpipe")
    assert open_field(p).name == "pm25"
    assert any("drawing the first, 'pm25'" in m and "no2" in m and "--var" in m
               for m in caplog.messages)


def test_fill_values_become_nan(tmp_path):
    ds = _latlon_ds(LON, np.linspace(-60, 60, NY))
    ds.pm25.values[0, 0, 0] = -999.0
    ds["i"] = (("time", "lat", "lon"), np.ones((NT, NY, NX), np.int16),
               {"missing_value": np.int16(-1)})
    ds.i.values[1, 1, 1] = -1
    p = tmp_path / "f.nc"
    ds.to_netcdf(p, encoding={"pm25": {"_FillValue": np.float32(-999.0)}})
    f = open_field(p, "pm25")
    assert np.isnan(f.frame(0)[0, 0, 0]) and np.isfinite(f.frame(0)[0, 0, 1])
    g = open_field(p, "i")
    assert np.isnan(g.frame(1)[0, 1, 1]) and g.frame(1)[0, 0, 0] == 1


@pytest.mark.parametrize("calendar", ["360_day", "noleap"])
def test_calendars(tmp_path, calendar):
    ds = _latlon_ds(LON, np.linspace(-60, 60, NY), calendar=calendar)
    ds["time"] = xr.Variable(("time",), np.array([58.0, 59.0, 60.0]),
                             {"units": "days since 2000-01-01", "calendar": calendar})
    f = open_field(_write(ds, tmp_path / "cal.nc"))
    assert f.calendar == calendar
    assert all(isinstance(t, cftime.datetime) for t in f.times)
    if calendar == "360_day":
        assert f.time_labels() == ["2000-02-29T00:00:00", "2000-02-30T00:00:00",
                                   "2000-03-01T00:00:00"]
    else:
        assert f.time_labels() == ["2000-02-28T00:00:00", "2000-03-01T00:00:00",
                                   "2000-03-02T00:00:00"]


# ------------------------------------------------------------------------------- levels
def _levels_ds(zname, zvals, zattrs, extra=None):
    lon, lat = np.linspace(0, 10, NX), np.linspace(40, 50, NY)
    ds = xr.Dataset(
        {"q": (("time", zname, "lat", "lon"), _data((NT, len(zvals), NY, NX)), {"units": "1"})},
        coords={"time": _time(), zname: (zname, np.asarray(zvals, float), zattrs),
                "lat": ("lat", lat, {"units": "degrees_north"}),
                "lon": ("lon", lon, {"units": "degrees_east"})})
    for k, v in (extra or {}).items():
        ds[k] = v
    return ds


def test_pressure_levels_pa_to_hpa(tmp_path):
    ds = _levels_ds("plev", [100000.0, 85000.0, 50000.0],
                    {"units": "Pa", "standard_name": "air_pressure", "positive": "down"})
    f = open_field(_write(ds, tmp_path / "p.nc"), "q")
    assert f.vertical_kind == "pressure_hPa" and f.vertical_units == "hPa"
    np.testing.assert_allclose(f.vertical, [1000, 850, 500])
    assert f.shape == (NT, 3, NY, NX)


def test_height_km(tmp_path):
    ds = _levels_ds("alt", [0.5, 1.0], {"units": "km", "axis": "Z"})
    f = open_field(_write(ds, tmp_path / "h.nc"), "q")
    assert f.vertical_kind == "height_m"
    np.testing.assert_allclose(f.vertical, [500, 1000])


def test_hybrid_height_with_orography(tmp_path):
    a = np.array([20.0, 100.0, 500.0])
    b = np.array([1.0, 0.8, 0.2])
    orog = np.full((NY, NX), 300.0)
    orog[-1, :] = 1000.0  # top row (lat 50 in file order)
    ds = _levels_ds("lev", [0, 1, 2],
                    {"standard_name": "atmosphere_hybrid_height_coordinate", "positive": "up",
                     "units": "m", "formula_terms": "a: lev_a b: lev_b orog: orog"},
                    {"lev_a": ("lev", a), "lev_b": ("lev", b), "orog": (("lat", "lon"), orog)})
    f = open_field(_write(ds, tmp_path / "hh.nc"), "q")
    assert f.vertical_kind == "height_m" and f.vertical.shape == (3, NY, NX)
    np.testing.assert_allclose(f.vertical[:, 0, 0], a + b * 300.0)
    np.testing.assert_allclose(f.vertical[:, -1, 0], a + b * 1000.0)
    # descending latitude in the file: the heights follow the flipped data
    ds_desc = ds.isel(lat=slice(None, None, -1))
    fd = open_field(_write(ds_desc, tmp_path / "hhd.nc"), "q")
    np.testing.assert_allclose(fd.lat, f.lat)
    np.testing.assert_allclose(fd.vertical, f.vertical)
    np.testing.assert_array_equal(fd.frame(0), f.frame(0))
    # without orography: model levels
    ds2 = _levels_ds("lev", [0, 1, 2], {"standard_name": "atmosphere_hybrid_height_coordinate",
                                        "positive": "up", "formula_terms": "a: lev b: lev_b"})
    f2 = open_field(_write(ds2, tmp_path / "hh2.nc"), "q")
    assert f2.vertical_kind == "model_level"


def test_sigma_and_flight_levels(tmp_path):
    s = open_field(_write(_levels_ds("sigma", [1.0, 0.9], {
        "standard_name": "atmosphere_sigma_coordinate", "positive": "down"}),
        tmp_path / "s.nc"), "q")
    assert s.vertical_kind == "model_level"
    fl = open_field(_write(_levels_ds("FL", [0, 50, 100], {
        "long_name": "flight level", "axis": "Z"}), tmp_path / "fl.nc"), "q")
    assert fl.vertical_kind == "flight_level"


def test_field_without_time(tmp_path):
    ds = _latlon_ds(LON, np.linspace(-60, 60, NY)).isel(time=0, drop=True)
    p = _write(ds, tmp_path / "nt.nc")
    with pytest.raises(BadInputError, match=r"nt\.nc.*'pm25'.*no time axis"):
        open_field(p)
    f = open_field(p, allow_no_time=True)
    assert f.shape == (1, 1, NY, NX) and f.time_labels() == [""]


# -------------------------------------------------------------------------------- winds
def _rotated_winds_ds(u, v):
    gm = {"grid_mapping_name": "rotated_latitude_longitude",
          "grid_north_pole_longitude": 190.0, "grid_north_pole_latitude": 35.0}
    coords = {"time": _time(),
              "rlat": ("rlat", np.linspace(-5, 5, NY), {"standard_name": "grid_latitude",
                                                        "units": "degrees"}),
              "rlon": ("rlon", np.linspace(-8, 8, NX), {"standard_name": "grid_longitude",
                                                        "units": "degrees"})}
    dims = ("time", "rlat", "rlon")
    return xr.Dataset({"u": (dims, u, {"units": "m s-1", "standard_name": "grid_eastward_wind",
                                       "grid_mapping": "rp"}),
                       "v": (dims, v, {"units": "m s-1", "standard_name": "grid_northward_wind",
                                       "grid_mapping": "rp"}),
                       "rp": ((), np.int32(0), gm)}, coords=coords)


def test_rotated_winds_become_true_speed_preserved(tmp_path):
    rng = np.random.default_rng(3)
    u = rng.normal(size=(NT, NY, NX)).astype(np.float64) * 10
    v = rng.normal(size=(NT, NY, NX)).astype(np.float64) * 10
    p = _write(_rotated_winds_ds(u, v), tmp_path / "w.nc")
    w = open_winds(p)
    assert w.rotate and not w.has_w
    ut, vt, ww = w.frame(1)
    assert ww is None
    np.testing.assert_allclose(np.hypot(ut, vt)[0], np.hypot(u[1], v[1]), rtol=1e-10)
    assert not np.allclose(ut[0], u[1])  # actually rotated
    rlon, rlat = np.meshgrid(w.u.x, w.u.y)
    eu, ev = geo.rotate_winds(u[1], v[1], rlon, rlat, 190.0, 35.0)
    np.testing.assert_allclose(ut[0], eu)
    np.testing.assert_allclose(vt[0], ev)


def test_winds_from_another_file_and_grid_check(tmp_path):
    lon, lat = LON, np.linspace(-60, 60, NY)
    field = open_field(_write(_latlon_ds(lon, lat), tmp_path / "field.nc"))
    wds = _latlon_ds(lon, lat, name="ua")
    wds["va"] = wds.ua * 0 + 1
    wds["wa"] = wds.ua * 0 + 0.1
    wp = _write(wds, tmp_path / "wind.nc")
    w = open_winds(wp, ("ua", "va", "wa"))
    assert not w.rotate and w.has_w
    check_same_grid(field, w)
    u, v, ww = w.frame(0)
    np.testing.assert_allclose(v, 1.0)
    np.testing.assert_allclose(ww, 0.1, rtol=1e-6)
    other = _latlon_ds(lon, np.linspace(-50, 50, NY), name="ua")
    other["va"] = other.ua
    w2 = open_winds(_write(other, tmp_path / "wind2.nc"), ("ua", "va"))
    with pytest.raises(BadInputError, match=r"field\.nc.*'pm25'.*wind2\.nc.*'ua'.*different grids"):
        check_same_grid(field, w2)


# --------------------------------------------------------------------------- bad input
def test_missing_variable_lists_the_ones_there(tmp_path):
    p = _write(_latlon_ds(LON, np.linspace(-60, 60, NY)), tmp_path / "m.nc")
    with pytest.raises(BadInputError, match=r"m\.nc.*'so2' not found.*pm25"):
        open_field(p, "so2")


def test_unknown_grid_mapping_names_file(tmp_path):
    ds, _ = _lambert_ds()
    ds["lcc"].attrs = {"grid_mapping_name": "bogus_projection"}
    p = _write(ds, tmp_path / "g.nc")
    with pytest.raises(BadInputError, match=r"g\.nc.*'o3'.*unknown CF grid_mapping_name"):
        open_field(p)


def test_all_nan_frame(tmp_path):
    ds = _latlon_ds(LON, np.linspace(-60, 60, NY))
    ds.pm25.values[1] = np.nan
    f = open_field(_write(ds, tmp_path / "n.nc"))
    f.frame(0)
    with pytest.raises(BadInputError, match=r"n\.nc.*'pm25'.*frame 1 \(2000-01-02T00:00:00\).*NaN"):
        f.frame(1)


def test_corrupt_and_unknown_files(tmp_path):
    bad = tmp_path / "bad.nc"
    bad.write_bytes(b"this is not netcdf at all" * 10)
    with pytest.raises(BadInputError, match=r"bad\.nc.*corrupt"):
        open_field(bad)
    trunc = tmp_path / "trunc.nc"
    good = _write(_latlon_ds(LON, np.linspace(-60, 60, NY)),
                  tmp_path / "good.nc")
    trunc.write_bytes(good.read_bytes()[:200])
    with pytest.raises(BadInputError, match=r"trunc\.nc"):
        open_field(trunc).frame(0)
    unk = tmp_path / "x.dat"
    unk.write_bytes(b"\x00\x01binary")
    with pytest.raises(UnknownFormatError, match=r"x\.dat.*unknown format"):
        open_field(unk)
    with pytest.raises(BadInputError, match="not found"):
        open_field(tmp_path / "nope.nc")


# ------------------------------------------------------------------------------ laziness
def test_frame_loads_one_time_step_only(tmp_path):
    import dask
    from dask.callbacks import Callback

    ds = _latlon_ds(LON, np.linspace(-60, 60, NY), nt=8)
    f = open_field(_write(ds, tmp_path / "lazy.nc"))
    assert isinstance(f.values, dask.array.Array)
    assert f.values.chunks[0] == (1,) * 8

    loaded = []

    class Count(Callback):
        def _posttask(self, key, result, dsk, state, id):
            if isinstance(result, np.ndarray) and result.ndim >= 3:
                loaded.append(result.shape[0])

    with Count():
        a = f.frame(5)
    np.testing.assert_array_equal(a[0], ds.pm25.values[5])
    assert loaded and max(loaded) == 1  # no task produced more than one time step
    assert isinstance(f.values, dask.array.Array)


# ---------------------------------------------------------------------------------- iris
def test_pp_round_trip(tmp_path):
    import iris  # a pinned dependency: a broken install fails here, not a skip
    import iris.coord_systems
    import iris.coords
    import iris.cube

    cs = iris.coord_systems.GeogCS(6371229.0)
    data = _data((2, NY, NX))
    cube = iris.cube.Cube(data, standard_name="air_temperature", units="K", var_name="tas")
    cube.add_dim_coord(iris.coords.DimCoord(
        [0.0, 6.0], standard_name="time", units="hours since 2000-01-01 00:00:00"), 0)
    cube.add_dim_coord(iris.coords.DimCoord(
        np.linspace(-45, 45, NY), standard_name="latitude", units="degrees", coord_system=cs), 1)
    cube.add_dim_coord(iris.coords.DimCoord(
        np.linspace(0, 300, NX), standard_name="longitude", units="degrees",
        coord_system=cs), 2)
    p = tmp_path / "x.pp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        iris.save(cube, str(p))  # an unpacked PP file: needs nothing optional
    f = open_field(p, standard_name="air_temperature")
    assert f.shape == (2, 1, NY, NX) and f.units == "K"
    assert f.time_labels()[1] == "2000-01-01T06:00:00"
    np.testing.assert_allclose(f.frame(1)[0], data[1][:, np.argsort(
        geo.normalize_longitudes(np.linspace(0, 300, NX)))], rtol=1e-6)


def write_grib2(path, ny: int = 19, nx: int = 36) -> np.ndarray:
    """air_temperature on 3 pressure levels at 2 times, one GRIB2 message each, written by
    iris-grib (pinned dependencies); returns the data (time, level, lat, lon)."""
    import iris
    import iris.coord_systems
    import iris.coords
    import iris.cube
    import iris_grib  # noqa: F401  (iris saves GRIB through it)

    cs = iris.coord_systems.GeogCS(6371229.0)
    rng = np.random.default_rng(0)
    data = (250 + 30 * rng.random((2, 3, ny, nx))).astype(np.float32)
    cubes = iris.cube.CubeList()
    hours = "hours since 2026-01-01 00:00:00"
    for it, hrs in enumerate([0.0, 6.0]):
        for k, plev in enumerate([85000.0, 50000.0, 25000.0]):
            c = iris.cube.Cube(data[it, k], standard_name="air_temperature", units="K")
            c.add_dim_coord(iris.coords.DimCoord(np.linspace(-90, 90, ny), "latitude",
                                                 units="degrees", coord_system=cs), 0)
            c.add_dim_coord(iris.coords.DimCoord(np.arange(nx) * 360.0 / nx, "longitude",
                                                 units="degrees", coord_system=cs), 1)
            c.add_aux_coord(iris.coords.DimCoord([hrs], "time", units=hours))
            c.add_aux_coord(iris.coords.DimCoord([0.0], "forecast_reference_time", units=hours))
            c.add_aux_coord(iris.coords.DimCoord([hrs], "forecast_period", units="hours"))
            c.add_aux_coord(iris.coords.DimCoord([plev], long_name="pressure", units="Pa"))
            cubes.append(c)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iris.save(cubes, str(path))
    return data


def test_grib2_round_trip_through_iris_grib(tmp_path):
    """GRIB2 written by iris-grib reads back (ecCodes) as one 4-D field: levels in hPa from
    the ground up, longitudes normalised to -180..180, values exact."""
    p = tmp_path / "t.grib2"
    data = write_grib2(p)
    ny, nx = data.shape[2:]
    assert p.read_bytes()[:4] == b"GRIB"
    f = open_field(p, standard_name="air_temperature")
    assert f.shape == (2, 3, ny, nx) and f.units == "K"
    assert f.vertical_kind == "pressure_hPa" and list(f.vertical) == [850.0, 500.0, 250.0]
    assert f.time_labels() == ["2026-01-01T00:00:00", "2026-01-01T06:00:00"]
    assert f.lon[0] == -180.0
    # levels from the ground up (as written), longitudes rolled to start at 180W
    np.testing.assert_array_equal(f.frame(1), np.roll(data[1], nx // 2, axis=-1))


def test_grib_without_eccodes_names_the_package(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "eccodes", None)  # as if not installed
    p = tmp_path / "x.grib2"
    p.write_bytes(b"GRIB" + b"\x00" * 60)
    with pytest.raises(MissingDependencyError, match=r"eccodes"):
        open_field(p)


def test_pp_rotated_pole_round_trip(tmp_path):
    import iris  # a pinned dependency: a broken install fails here, not a skip
    import iris.coord_systems
    import iris.coords
    import iris.cube

    cs = iris.coord_systems.RotatedGeogCS(37.5, 177.5, ellipsoid=iris.coord_systems.GeogCS(
        6371229.0))
    rlat, rlon = np.linspace(-5, 5, NY), np.linspace(350, 360, NX)
    data = _data((1, 2, NY, NX))
    cube = iris.cube.Cube(data, standard_name="x_wind", units="m s-1", var_name="u")
    cube.add_dim_coord(iris.coords.DimCoord(
        [12.0], standard_name="time", units="hours since 2000-01-01 00:00:00"), 0)
    cube.add_dim_coord(iris.coords.DimCoord(
        [1000.0, 850.0], long_name="pressure", units="hPa"), 1)
    cube.add_dim_coord(iris.coords.DimCoord(
        rlat, standard_name="grid_latitude", units="degrees", coord_system=cs), 2)
    cube.add_dim_coord(iris.coords.DimCoord(
        rlon, standard_name="grid_longitude", units="degrees", coord_system=cs), 3)
    p = tmp_path / "rot.pp"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iris.save(cube, str(p))  # an unpacked PP file: needs nothing optional
    f = open_field(p, standard_name="x_wind")
    assert f.shape == (1, 2, NY, NX)
    assert f.rotated_pole is not None
    assert f.vertical_kind == "pressure_hPa"
    np.testing.assert_allclose(sorted(f.vertical), [850, 1000])
    lon, lat = geo.rotated_to_true(*np.meshgrid(rlon, rlat), 177.5, 37.5)
    np.testing.assert_allclose(f.lat, lat, atol=1e-4)
    np.testing.assert_allclose(geo.normalize_longitudes(f.lon - lon), 0, atol=1e-4)


def _write_name(path, nx=6, ny=4, times=("01/01/2020  03:00 UTC", "01/01/2020  06:00 UTC"),
                zs=("Z = 50.0 m agl", "Z = 500.0 m agl")):
    cols = [(t, z) for t in times for z in zs]
    n = len(cols)
    hdr = ["NAME III (version 6.3)", "Run name:            TEST",
           "Run time:            01/01/2020 00:00 UTC", "Met data:            NWP",
           "Start of release:    01/01/2020 00:00 UTC", "End of release:      01/01/2020 06:00 UTC",
           "Source strength:     1 g/s", "Release location:    5E 42N",
           "Release height:      10 m agl",
           "Run duration:        6hr 0min", "X grid origin:       0.5", "Y grid origin:       40.5",
           f"X grid size:         {nx}", f"Y grid size:         {ny}",
           "X grid resolution:   1.0", "Y grid resolution:   1.0",
           f"Number of field cols:  {n}", "", "Fields:"]
    def row(label, vals):
        return f"{label:>20s},,,," + ",".join(f"{v:>16s}" for v in vals) + ","
    rows = [row("Species Category:", ["INERT"] * n), row("Name:", ["TEST"] * n),
            row("Quantity:", ["Air Concentration"] * n), row("Species:", ["TRACER"] * n),
            row("Units:", ["g / m^3"] * n), row("Sources:", ["All sources"] * n),
            row("Ensemble Av:", ["No ensemble averaging"] * n),
            row("Time Av or Int:", ["3hr 0min average"] * n),
            row("Horizontal Av or Int:", ["No horizontal averaging"] * n),
            row("Vertical Av or Int:", ["No vertical averaging"] * n),
            row("Prob Perc:", [""] * n), row("Prob Perc Ens:", [""] * n),
            row("Prob Perc Time:", [""] * n), row("Time:", [c[0] for c in cols]),
            row("Z:", [c[1] for c in cols]), row("D:", [""] * n),
            "        X grid,        Y grid, X (Lat-Long), Y (Lat-Long)," + ",".join([""] * n) + ","]
    data = np.arange(nx * ny * n, dtype=float).reshape(n, ny, nx) + 1.0
    lines = []
    for j in range(ny):
        for i in range(nx):
            vals = ",".join(f"{data[k, j, i]:.6e}" for k in range(n))
            lines.append(f"{i + 1},{j + 1},{0.5 + i},{40.5 + j},{vals},")
    open(path, "w").write("\n".join(hdr + rows + lines) + "\n")
    return data


def test_name_iii_field_file(tmp_path):
    """A NAME III gridded output file (text), written here in NAME's own layout."""
    data = _write_name(tmp_path / "Fields_grid1.txt")
    f = open_field(tmp_path / "Fields_grid1.txt")
    assert f.shape == (2, 2, 4, 6)
    assert f.vertical_kind == "height_m"
    np.testing.assert_allclose(f.vertical, [50, 500])
    assert f.time_labels() == ["2020-01-01T03:00:00", "2020-01-01T06:00:00"]
    np.testing.assert_allclose(f.lon, 0.5 + np.arange(6))
    np.testing.assert_allclose(f.lat, 40.5 + np.arange(4))
    np.testing.assert_allclose(f.frame(1)[1], data[3])
    np.testing.assert_allclose(f.frame(0)[0], data[0])
    with pytest.raises(BadInputError, match=r"Fields_grid1\.txt.*'SO2'.*not found.*TRACER"):
        open_field(tmp_path / "Fields_grid1.txt", "SO2")


def test_winds_found_automatically_and_true_winds_not_rotated(tmp_path):
    rng = np.random.default_rng(4)
    u = rng.normal(size=(NT, NY, NX))
    v = rng.normal(size=(NT, NY, NX))
    ds = _rotated_winds_ds(u, v)
    ds["u"].attrs["standard_name"] = "eastward_wind"
    ds["v"].attrs["standard_name"] = "northward_wind"
    ds = ds.rename({"u": "uas", "v": "vas"})
    w = open_winds(_write(ds, tmp_path / "true.nc"))
    assert (w.u.name, w.v.name) == ("uas", "vas") and not w.rotate
    np.testing.assert_allclose(w.frame(0)[0][0], u[0])
    # by common names, with w
    lon, lat = LON, np.linspace(-60, 60, NY)
    wds = _latlon_ds(lon, lat, name="ua")
    wds["va"] = wds.ua * 2
    wds["wa"] = wds.ua * 0.01
    w2 = open_winds(_write(wds, tmp_path / "uvw.nc"))
    assert w2.has_w and w2.w is not None and w2.w.name == "wa"
    nowind = _write(_latlon_ds(lon, lat), tmp_path / "nowind.nc")
    with pytest.raises(BadInputError, match=r"nowind\.nc.*no wind components.*pm25"):
        open_winds(nowind)


def test_glob_pattern_and_millibar_levels(tmp_path):
    lon, lat = LON, np.linspace(-60, 60, NY)
    for k in range(3):
        _write(_latlon_ds(lon, lat, start=k * NT, seed=k), tmp_path / f"part{k}.nc")
    f = open_field(str(tmp_path / "part*.nc"))
    assert f.nt == 3 * NT and len(f.paths) == 3
    with pytest.raises(BadInputError, match="no files match"):
        open_field(str(tmp_path / "nothing*.nc"))
    ds = _levels_ds("level", [1000.0, 500.0], {"units": "millibars", "long_name": "pressure"})
    g = open_field(_write(ds, tmp_path / "mb.nc"), "q")
    assert g.vertical_kind == "pressure_hPa"
    np.testing.assert_allclose(g.vertical, [1000, 500])


def test_packed_int16_era5_like(tmp_path):
    """Packed int16 (scale_factor/add_offset/_FillValue), 0..360 longitudes, 90..-90 latitude,
    a 'valid_time' dimension and pressure levels in hPa: the layout of reanalysis downloads."""
    lon = np.arange(0, 360, 60.0)
    lat = np.array([90.0, 30.0, -30.0, -90.0])
    u = np.random.default_rng(5).normal(size=(2, 2, 4, 6)) * 20
    u[0, 0, 0, 0] = np.nan
    ds = xr.Dataset(
        {"u": (("valid_time", "pressure_level", "latitude", "longitude"), u,
               {"units": "m s**-1", "standard_name": "eastward_wind"})},
        coords={"valid_time": ("valid_time", np.array([0, 3600], np.int64),
                               {"units": "seconds since 1970-01-01",
                                "calendar": "proleptic_gregorian", "standard_name": "time"}),
                "pressure_level": ("pressure_level", [1000.0, 850.0],
                                   {"units": "hPa", "positive": "down"}),
                "latitude": ("latitude", lat, {"units": "degrees_north"}),
                "longitude": ("longitude", lon, {"units": "degrees_east"})})
    p = tmp_path / "era.nc"
    ds.to_netcdf(p, encoding={"u": {"dtype": "int16", "scale_factor": 0.01, "add_offset": 0.0,
                                    "_FillValue": np.int16(-32767)}})
    f = open_field(p)
    assert f.shape == (2, 2, 4, 6) and f.vertical_kind == "pressure_hPa"
    assert f.time_labels() == ["1970-01-01T00:00:00", "1970-01-01T01:00:00"]
    np.testing.assert_allclose(f.lat, lat[::-1])
    np.testing.assert_allclose(f.lon, [-180, -120, -60, 0, 60, 120])
    fr = f.frame(0)
    expect = u[0][:, ::-1, :][:, :, [3, 4, 5, 0, 1, 2]]
    np.testing.assert_allclose(fr, expect, atol=0.006)
    assert np.isnan(fr[0, -1, 3])  # (lat 90, lon 0) was the NaN


# ------------------------------------------------------------------ issue #9: real layouts
REAL = Path(__file__).resolve().parent.parent / "data" / "real" / "climate"


@pytest.mark.parametrize("values, units, expect", [
    (np.array([0, 3, 6], "timedelta64[h]"), None,
     [datetime.timedelta(hours=h) for h in (0, 3, 6)]),
    (np.array([0.0, 1.5]), "hours", [datetime.timedelta(0), datetime.timedelta(hours=1.5)]),
    (np.array([0, 30]), "Minutes", [datetime.timedelta(0), datetime.timedelta(minutes=30)]),
    (np.array([0, 1, 2], np.int32), None, [None, None, None]),  # WRF Time: bare indices
    (np.array(["2021-01-01T00", "NaT"], "datetime64[h]"), None, [None, None]),
])
def test_normalize_times_every_encoding(values, units, expect):
    assert normalize_times(values, units) == expect


def test_no_time_axis_is_one_step_labelled_by_the_scalar_time():
    p = REAL / "rotated_pole.nc"
    with pytest.raises(BadInputError, match=r"rotated_pole\.nc.*no time axis"):
        open_field(p)
    f = open_field(p, allow_no_time=True)
    assert f.nt == 1 and f.time_labels() == ["2006-06-15T00:00:00"]


def test_wrf_dimensions_and_unitless_time():
    f = open_field(REAL / "wrf_int_offsets.nc", "T2")
    assert f.shape == (5, 1, 8, 10) and f.lon.ndim == 2 and f.times == [None] * 5


def test_ncl_hours_become_offsets():
    f = open_field(REAL / "ncl_hours_timedelta.nc", "T")
    assert f.times[1] == datetime.timedelta(hours=3) and f.vertical[0] == 1000.0


def test_split_winds_found_in_whichever_file_holds_them():
    ps = [REAL / "uwnd_mean.nc", REAL / "vwnd_mean.nc"]
    assert auto_wind_names(ps) == ["uwnd", "vwnd"]
    w = open_winds(ps, ["uwnd", "vwnd"])
    assert w.u.paths[0].endswith("uwnd_mean.nc") and w.v.paths[0].endswith("vwnd_mean.nc")
    assert open_field(ps, "vwnd").name == "vwnd"
    u, v, _ = w.steps()
    assert u.shape == v.shape == (12, 1, 73, 144)
    np.testing.assert_array_equal(v[3], w.v.frame(3))
    with pytest.raises(BadInputError, match=r"'q' not found"):
        open_field(ps, "q")
