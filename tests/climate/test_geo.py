"""Grids and scene coordinates: rotated pole against pyproj and iris, dateline, descending
latitude, map scale, globe radius, CF grid-mapping errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from climate_pipeline.geo import (
    EARTH_RADIUS_KM,
    GlobeProjection,
    MapProjection,
    ascending,
    central_longitude,
    crs_from_cf,
    normalize_longitudes,
    rotate_winds,
    rotated_to_true,
    to_lonlat,
    true_to_rotated,
)
from core.errors import BadInputError

POLES = [(-162.0, 39.25, 0.0), (193.0, 41.0, 0.0), (-170.0, 40.0, 30.0), (0.0, 90.0, 0.0),
         (40.0, -20.0, 0.0)]


def _lon_diff(a, b):
    return np.abs(normalize_longitudes(np.asarray(a) - np.asarray(b)))


@pytest.mark.parametrize("pole_lon,pole_lat,npgl", POLES)
def test_rotated_pole_matches_pyproj(pole_lon, pole_lat, npgl):
    attrs = {"grid_mapping_name": "rotated_latitude_longitude",
             "grid_north_pole_longitude": pole_lon, "grid_north_pole_latitude": pole_lat,
             "north_pole_grid_longitude": npgl}
    crs = crs_from_cf(attrs)
    rng = np.random.default_rng(0)
    rlon = rng.uniform(-180, 180, 2000)
    rlat = rng.uniform(-85, 85, 2000)
    lon_p, lat_p = to_lonlat(rlon, rlat, crs)
    lon, lat = rotated_to_true(rlon, rlat, pole_lon, pole_lat, npgl)
    assert np.abs(lat - lat_p).max() < 1e-9
    ok = np.abs(lat) < 89.9  # longitude is undefined at the true poles
    assert _lon_diff(lon[ok], lon_p[ok]).max() < 1e-8
    # And the inverse.
    rlon2, rlat2 = true_to_rotated(lon, lat, pole_lon, pole_lat, npgl)
    assert _lon_diff(rlon2, rlon).max() < 1e-8 and np.abs(rlat2 - rlat).max() < 1e-9


def test_rotated_pole_from_generated_netcdf(tmp_path):
    """A CF file with a rotated_pole grid mapping, written and read back, gives the pyproj CRS."""
    import xarray as xr
    rlon = np.linspace(-20, 20, 9)
    rlat = np.linspace(-15, 15, 7)
    ds = xr.Dataset(
        {"t": (("rlat", "rlon"), np.zeros((7, 9)), {"grid_mapping": "rotated_pole"}),
         "rotated_pole": ((), 0, {"grid_mapping_name": "rotated_latitude_longitude",
                                  "grid_north_pole_longitude": -162.0,
                                  "grid_north_pole_latitude": 39.25})},
        coords={"rlon": ("rlon", rlon, {"standard_name": "grid_longitude"}),
                "rlat": ("rlat", rlat, {"standard_name": "grid_latitude"})})
    path = tmp_path / "rot.nc"
    ds.to_netcdf(path)
    with xr.open_dataset(path) as back:
        attrs = dict(back[back["t"].attrs.get("grid_mapping", "rotated_pole")].attrs)
    crs = crs_from_cf(attrs)
    R, L = np.meshgrid(rlon, rlat)
    lon_p, lat_p = to_lonlat(R, L, crs)
    lon, lat = rotated_to_true(R, L, -162.0, 39.25)
    assert lon.shape == (7, 9)
    assert _lon_diff(lon, lon_p).max() < 1e-8 and np.abs(lat - lat_p).max() < 1e-9
    # The rotated origin sits at (pole_lon + 180, 90 - pole_lat): Central Europe.
    lon0, lat0 = rotated_to_true(0.0, 0.0, -162.0, 39.25)
    assert abs(lon0 - 18.0) < 1e-9 and abs(lat0 - 50.75) < 1e-9


@settings(max_examples=50, deadline=None)
@given(st.floats(-180, 180), st.floats(-89, 89), st.floats(-180, 180), st.floats(-89, 89))
@example(0.0, 80.0, 0.0, 80.0)  # the true point near the pole: arcsin lost 8.5e-7 degrees here
def test_rotated_round_trip(rlon, rlat, pole_lon, pole_lat):
    lon, lat = rotated_to_true(rlon, rlat, pole_lon, pole_lat)
    r2, l2 = true_to_rotated(lon, lat, pole_lon, pole_lat)
    assert abs(l2 - rlat) < 1e-7
    assert _lon_diff(r2, rlon) < 1e-6


def test_wind_rotation_identity_for_pole_at_north():
    rng = np.random.default_rng(1)
    R, L = np.meshgrid(np.linspace(-170, 170, 12), np.linspace(-80, 80, 9))
    u, v = rng.normal(size=R.shape), rng.normal(size=R.shape)
    # Pole at (180, 90): rotated grid == true grid.
    ut, vt = rotate_winds(u, v, R, L, 180.0, 90.0)
    np.testing.assert_allclose(ut, u, atol=1e-12)
    np.testing.assert_allclose(vt, v, atol=1e-12)


def test_wind_rotation_preserves_speed_and_broadcasts():
    rng = np.random.default_rng(2)
    R, L = np.meshgrid(np.linspace(-40, 40, 17), np.linspace(-30, 30, 13))
    u, v = rng.normal(size=(3, 2) + R.shape), rng.normal(size=(3, 2) + R.shape)
    ut, vt = rotate_winds(u, v, R, L, -162.0, 39.25)
    assert ut.shape == u.shape
    np.testing.assert_allclose(np.hypot(ut, vt), np.hypot(u, v), rtol=1e-12)
    # Rotation really happens away from the central meridian.
    assert np.abs(ut - u).max() > 0.01


def test_wind_rotation_direction_by_finite_difference():
    """A rotated-north wind points where a step in rlat moves the point, in true coordinates."""
    pole = (-162.0, 39.25)
    R, L = np.meshgrid(np.linspace(-30, 30, 7), np.linspace(-20, 20, 5))
    ut, vt = rotate_winds(np.zeros_like(R), np.ones_like(R), R, L, *pole)
    d = 1e-5
    lon0, lat0 = rotated_to_true(R, L, *pole)
    lon1, lat1 = rotated_to_true(R, L + d, *pole)
    dx = normalize_longitudes(lon1 - lon0) * np.cos(np.radians(lat0))
    dy = lat1 - lat0
    ang_fd = np.arctan2(dy, dx)
    ang = np.arctan2(vt, ut)
    assert np.abs(np.angle(np.exp(1j * (ang - ang_fd)))).max() < 1e-4


def test_wind_rotation_matches_iris():
    import iris.coords
    import iris.cube
    from iris.analysis.cartography import rotate_winds as iris_rotate_winds
    from iris.coord_systems import GeogCS, RotatedGeogCS

    sphere = GeogCS(6371229.0)
    cs = RotatedGeogCS(39.25, -162.0, ellipsoid=sphere)
    rlon = np.linspace(-30, 30, 7)
    rlat = np.linspace(-20, 25, 5)

    def cube(data, name):
        c = iris.cube.Cube(data, var_name=name, units="m s-1")
        c.add_dim_coord(iris.coords.DimCoord(rlat, "grid_latitude", units="degrees",
                                             coord_system=cs), 0)
        c.add_dim_coord(iris.coords.DimCoord(rlon, "grid_longitude", units="degrees",
                                             coord_system=cs), 1)
        return c

    rng = np.random.default_rng(3)
    u, v = rng.normal(size=(5, 7)), rng.normal(size=(5, 7))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ut_i, vt_i = iris_rotate_winds(cube(u, "u"), cube(v, "v"), sphere)
    R, L = np.meshgrid(rlon, rlat)
    ut, vt = rotate_winds(u, v, R, L, -162.0, 39.25)
    # iris differentiates numerically; ours is exact.
    np.testing.assert_allclose(ut, ut_i.data, atol=1e-3)
    np.testing.assert_allclose(vt, vt_i.data, atol=1e-3)


def test_lambert_conformal_to_lonlat_and_map_crs():
    import pyproj

    attrs = {"grid_mapping_name": "lambert_conformal_conic", "standard_parallel": [30.0, 60.0],
             "longitude_of_central_meridian": 10.0, "latitude_of_projection_origin": 45.0}
    crs = crs_from_cf(attrs)
    x = np.linspace(-1e6, 1e6, 11)
    lon, lat = to_lonlat(x, np.zeros_like(x), crs)
    fwd = pyproj.Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    xb, yb = fwd.transform(lon, lat)
    np.testing.assert_allclose(xb, x, atol=1e-3)
    np.testing.assert_allclose(yb, 0.0, atol=1e-3)
    proj = MapProjection(10.0, 45.0, crs=crs)
    xyz = proj.forward(lon, lat, 0.0)
    np.testing.assert_allclose(xyz[:, 0], x / 1000.0, atol=1e-6)


@pytest.mark.parametrize("name", ["polar_stereographic", "transverse_mercator", "mercator",
                                  "latitude_longitude"])
def test_other_grid_mappings(name):
    attrs = {
        "polar_stereographic": {"straight_vertical_longitude_from_pole": 0.0,
                                "latitude_of_projection_origin": 90.0,
                                "standard_parallel": 70.0},
        "transverse_mercator": {"scale_factor_at_central_meridian": 0.9996,
                                "longitude_of_central_meridian": 9.0,
                                "latitude_of_projection_origin": 0.0,
                                "false_easting": 500000.0},
        "mercator": {"longitude_of_projection_origin": 0.0, "standard_parallel": 0.0},
        "latitude_longitude": {},
    }[name]
    crs = crs_from_cf({"grid_mapping_name": name, **attrs})
    lon, lat = to_lonlat([0.0] if name != "latitude_longitude" else [10.0], [0.0], crs)
    assert np.all(np.isfinite(lon)) and np.all(np.isfinite(lat))


def test_unknown_grid_mapping_error():
    with pytest.raises(BadInputError) as err:
        crs_from_cf({"grid_mapping_name": "bogus_projection"}, variable="crs")
    msg = str(err.value)
    assert "bogus_projection" in msg and "'crs'" in msg
    assert "rotated_latitude_longitude" in msg and "lambert_conformal_conic" in msg
    with pytest.raises(BadInputError, match="None"):
        crs_from_cf({})


def test_dateline_region_contiguous_and_0_360_equals_180():
    lon360 = np.arange(170.0, 191.0, 1.0)  # 170E .. 170W as 0..360
    lon180 = normalize_longitudes(lon360)  # 170 .. 180, -179 .. -170
    assert lon180.min() < 0 < lon180.max()
    assert central_longitude(lon360) % 360 == pytest.approx(180.0)
    assert central_longitude(lon180) % 360 == pytest.approx(180.0)
    lat = np.full_like(lon360, -40.0)
    p1 = MapProjection.for_region(lon360, lat)
    p2 = MapProjection.for_region(lon180, lat)
    a, b = p1.forward(lon360, lat), p2.forward(lon180, lat)
    np.testing.assert_allclose(a, b, atol=1e-9)
    # Contiguous: x strictly increasing in equal steps (no jump of ~ the Earth's circumference).
    dx = np.diff(a[:, 0])
    assert np.all(dx > 0) and np.ptp(dx) < 1e-9
    assert np.ptp(a[:, 0]) < 20 * 111.2
    # Globe: 0..360 and -180..180 give the same points.
    g = GlobeProjection()
    np.testing.assert_allclose(g.forward(lon360, lat), g.forward(lon180, lat), atol=1e-9)


def test_central_longitude_cases():
    assert central_longitude([-10.0, 20.0]) == pytest.approx(5.0)
    assert central_longitude(np.arange(0.0, 360.0, 2.5)) == 0.0
    assert central_longitude([350.0, 10.0]) == pytest.approx(0.0)
    assert central_longitude([100.0, 260.0]) % 360 == pytest.approx(180.0)


def test_normalize_longitudes():
    lon = np.array([0.0, 90.0, 180.0, 270.0, 359.0, -181.0])
    out = normalize_longitudes(lon)
    assert np.all(out >= -180) and np.all(out < 180)
    np.testing.assert_allclose(np.mod(out - lon, 360.0), 0.0, atol=1e-12)
    out = normalize_longitudes(lon, 180.0)
    assert np.all(out >= 0) and np.all(out < 360)


def test_descending_latitude_flip():
    lat = np.array([60.0, 50.0, 40.0])
    data = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    lat2, data2 = ascending(lat, data, axis=1)
    np.testing.assert_array_equal(lat2, [40.0, 50.0, 60.0])
    np.testing.assert_array_equal(data2[:, 0], data[:, 2])
    # Already ascending: unchanged.
    lat3, data3 = ascending(lat2, data2, axis=1)
    assert data3 is data2
    with pytest.raises(BadInputError):
        ascending([0.0, 10.0, 5.0])


def test_map_projection_scale_and_exaggeration():
    p = MapProjection(0.0, 0.0, exaggeration=20.0)
    xyz = p.forward([0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1000.0])
    assert xyz[1, 1] == pytest.approx(111.19, abs=0.05)  # 1 degree of latitude
    assert xyz[2, 0] == pytest.approx(111.19, abs=0.05)  # 1 degree of longitude at the equator
    assert xyz[2, 2] == pytest.approx(20.0)  # 1 km * 20
    np.testing.assert_allclose(p.up([0, 1], [0, 1]), [[0, 0, 1], [0, 0, 1]])
    assert p.name == "map"


def test_globe_radius_and_up():
    g = GlobeProjection(exaggeration=30.0)
    rng = np.random.default_rng(4)
    lon, lat = rng.uniform(-180, 360, 500), rng.uniform(-90, 90, 500)
    h = rng.uniform(0, 5000, 500)
    xyz = g.forward(lon, lat, h)
    r = np.linalg.norm(xyz, axis=1)
    np.testing.assert_allclose(r, EARTH_RADIUS_KM + h / 1000.0 * 30.0, rtol=1e-12)
    up = g.up(lon, lat)
    np.testing.assert_allclose(up, xyz / r[:, None], atol=1e-12)
    np.testing.assert_allclose(g.forward(0, 90), [[0, 0, EARTH_RADIUS_KM]], atol=1e-9)
    assert g.name == "globe"
