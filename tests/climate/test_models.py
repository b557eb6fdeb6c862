"""WRF ``wrfout`` (WRF-Chem) and CMAQ/IOAPI output read as CF
(``climate_pipeline.readers.models``, issue #17).

The two files are written here at test time with netCDF4 directly, as the models write them
(not with xarray or the project's code): a wrfout of 2 times, 5 levels and a 12 x 10 mass
grid on a Lambert conformal projection (MAP_PROJ 1, TRUELAT1/2, STAND_LON, CEN_LAT/LON,
DX/DY), its lat/lon from pyproj on WRF's sphere, staggered U/V/W/PH/PHB, COSALPHA/SINALPHA of
the grid's real turning (finite differences of the projection, not the cone formula), Times
as char arrays and PM2_5_DRY/o3; and an IOAPI CMAQ file of 3 hours and 3 layers with TFLAG,
blank-padded attributes and an LCC grid (GDTYP 2). No public wrfout or CMAQ sample ships in
a PyPI package (wrf-python has no wheel for Python 3.11; salem and xwrf download theirs at
run time; PseudoNetCDF ships a GRIDDESC, no IOAPI file), so none is used.

References are independent of the module: hand-computed destaggering, rotation and heights;
the IOAPI cell centres with pyproj's ``Proj`` (a projection built another way) and the grid
origin's known answer (the cell on XCENT/YCENT is there exactly); times from the strings and
day-of-year arithmetic written here. The end-to-end tests run the command with default
flags and read the written layer (``layer.usdc`` with pxr) against the raw ground level.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pytest

from climate_pipeline.readers import models

# ======================================================================== the test files
WRF_TIMES = ["2016-10-07_00:00:00", "2016-10-07_03:00:00"]
NT, NZ, NY, NX = 2, 5, 10, 12
G = 9.81  # WRF's gravity (geopotential / G = height)
#: heights above ground (m) of the w-levels (the staggered PH/PHB levels); the mass levels
#: lie halfway: 25, 100, 275, 650, 1350 m
ZW_AGL = np.array([0.0, 50.0, 150.0, 400.0, 900.0, 1800.0])
Z_MASS = np.array([25.0, 100.0, 275.0, 650.0, 1350.0])
WRF_ATTRS = {
    "TITLE": " OUTPUT FROM WRF V4.2.1 MODEL", "START_DATE": "2016-10-07_00:00:00",
    "SIMULATION_START_DATE": "2016-10-07_00:00:00",
    "WEST-EAST_GRID_DIMENSION": NX + 1, "SOUTH-NORTH_GRID_DIMENSION": NY + 1,
    "BOTTOM-TOP_GRID_DIMENSION": NZ + 1, "DX": 30000.0, "DY": 30000.0, "GRIDTYPE": "C",
    "DT": 180.0, "MAP_PROJ": 1, "MAP_PROJ_CHAR": "Lambert Conformal",
    "CEN_LAT": 38.5, "CEN_LON": -85.0, "TRUELAT1": 30.0, "TRUELAT2": 60.0,
    "MOAD_CEN_LAT": 38.5, "STAND_LON": -100.0, "POLE_LAT": 90.0, "POLE_LON": 0.0,
    "GRID_ID": 1, "PARENT_ID": 0, "I_PARENT_START": 1, "J_PARENT_START": 1,
    "HYBRID_OPT": 2, "CHEM_OPT": 112,
}


def _wrf_lcc():
    import pyproj

    return pyproj.Proj(proj="lcc", lat_1=30.0, lat_2=60.0, lat_0=38.5, lon_0=-100.0,
                       R=6370000.0)


def wrf_grid() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, COSALPHA, SINALPHA) of the test grid, each (NY, NX): WRF's mass points
    (the domain centred on CEN_LAT/CEN_LON, DX apart) on its sphere; the turning angle from
    the projection itself: the direction grid +y points to, by finite differences."""
    p = _wrf_lcc()
    xc, yc = p(WRF_ATTRS["CEN_LON"], WRF_ATTRS["CEN_LAT"])
    x = xc + (np.arange(NX) - (NX - 1) / 2) * 30000.0
    y = yc + (np.arange(NY) - (NY - 1) / 2) * 30000.0
    xx, yy = np.meshgrid(x, y)
    lon, lat = p(xx, yy, inverse=True)
    lon1, lat1 = p(xx, yy + 1.0, inverse=True)  # one metre along grid +y
    de = np.radians(lon1 - lon) * np.cos(np.radians(lat))
    dn = np.radians(lat1 - lat)
    beta = np.arctan2(de, dn)  # grid +y, clockwise from true north
    # WRF: u_earth = u cos(alpha) - v sin(alpha), so a grid-y wind's eastward part,
    # v sin(beta), is -v SINALPHA
    return np.asarray(lon), np.asarray(lat), np.cos(beta), -np.sin(beta)


def _earth_wind(t: int) -> tuple[np.ndarray, np.ndarray]:
    """The earth-relative wind of the test file at the mass points, (NZ, NY, NX) each."""
    k = np.arange(NZ)[:, None, None]
    i = np.arange(NX)[None, None, :]
    ue = (8.0 + k + 0.25 * i + t) * np.ones((NZ, NY, NX))
    vn = (2.0 - 0.5 * k + 0.1 * np.arange(NY)[None, :, None]) * np.ones((NZ, NY, NX))
    return ue, vn


def _stagger(mass: np.ndarray, axis: int) -> np.ndarray:
    """Face values whose neighbour means are ``mass`` exactly (face 0 = the first cell)."""
    m = np.moveaxis(mass, axis, 0)
    f = np.empty((m.shape[0] + 1,) + m.shape[1:])
    f[0] = m[0]
    for n in range(m.shape[0]):
        f[n + 1] = 2.0 * m[n] - f[n]
    return np.moveaxis(f, 0, axis)


def pm25(t: int) -> np.ndarray:
    k = np.arange(NZ)[:, None, None]
    j = np.arange(NY)[None, :, None]
    i = np.arange(NX)[None, None, :]
    plume = 60.0 * np.exp(-((i - 7.0 - 2 * t) ** 2 + (j - 4.0) ** 2) / 6.0)
    return ((5.0 + plume) * (1.0 - 0.15 * k) + 0.01 * i + 0.001 * j).astype(np.float32)


def terrain() -> np.ndarray:
    return (150.0 + 12.0 * np.arange(NX)[None, :] + 5.0 * np.arange(NY)[:, None]) * np.ones(
        (NY, NX))


def write_wrfout(path: Path) -> Path:
    """A wrfout as WRF writes it (NetCDF classic 64-bit offset, WRF's variable attributes)."""
    import netCDF4

    lon, lat, cosa, sina = wrf_grid()
    hgt = terrain()
    with netCDF4.Dataset(path, "w", format="NETCDF3_64BIT_OFFSET") as nc:
        for d, n in (("Time", None), ("DateStrLen", 19), ("west_east", NX),
                     ("south_north", NY), ("bottom_top", NZ), ("bottom_top_stag", NZ + 1),
                     ("soil_layers_stag", 4), ("west_east_stag", NX + 1),
                     ("south_north_stag", NY + 1)):
            nc.createDimension(d, n)
        nc.setncatts(WRF_ATTRS)

        def var(name, dtype, dims, desc, units, stagger="", data=None, coords=True):
            v = nc.createVariable(name, dtype, dims)
            if dtype == "f4":
                v.FieldType = np.int32(104)
                v.MemoryOrder = {4: "XYZ", 3: "XY ", 2: "Z  "}.get(len(dims), "0  ")
                v.description = desc
                v.units = units
                v.stagger = stagger
                if coords and "west_east" in "".join(dims):
                    v.coordinates = "XLONG XLAT XTIME"
            if data is not None:
                v[:] = data
            return v

        times = nc.createVariable("Times", "S1", ("Time", "DateStrLen"))
        times[:] = netCDF4.stringtochar(np.array(WRF_TIMES, "S19"))
        var("XTIME", "f4", ("Time",), "minutes since 2016-10-07 00:00:00",
            "minutes since 2016-10-07 00:00:00", data=[0.0, 180.0])
        both = lambda a: np.stack([a] * NT)  # noqa: E731 (static in time)
        var("XLAT", "f4", ("Time", "south_north", "west_east"),
            "LATITUDE, SOUTH IS NEGATIVE", "degree_north", data=both(lat), coords=False)
        var("XLONG", "f4", ("Time", "south_north", "west_east"),
            "LONGITUDE, WEST IS NEGATIVE", "degree_east", data=both(lon), coords=False)
        var("XLAT_U", "f4", ("Time", "south_north", "west_east_stag"),
            "LATITUDE, SOUTH IS NEGATIVE", "degree_north", "X", np.zeros((NT, NY, NX + 1)),
            coords=False)
        var("COSALPHA", "f4", ("Time", "south_north", "west_east"),
            "Local cosine of map rotation", "", data=both(cosa))
        var("SINALPHA", "f4", ("Time", "south_north", "west_east"),
            "Local sine of map rotation", "", data=both(sina))
        var("HGT", "f4", ("Time", "south_north", "west_east"), "Terrain Height", "m",
            data=both(hgt))
        var("ZNU", "f4", ("Time", "bottom_top"), "eta values on half (mass) levels", "",
            data=both(np.linspace(0.995, 0.6, NZ)))
        var("P_TOP", "f4", ("Time",), "PRESSURE TOP OF THE MODEL", "Pa", data=[5000.0] * NT)
        var("SMOIS", "f4", ("Time", "soil_layers_stag", "south_north", "west_east"),
            "SOIL MOISTURE", "m3 m-3", "Z", np.full((NT, 4, NY, NX), 0.3))
        u = np.empty((NT, NZ, NY, NX + 1))
        v = np.empty((NT, NZ, NY + 1, NX))
        for t in range(NT):
            ue, vn = _earth_wind(t)
            ug = ue * cosa + vn * sina  # the inverse of WRF's rotation (hand-written here)
            vg = vn * cosa - ue * sina
            u[t] = _stagger(ug, 2)
            v[t] = _stagger(vg, 1)
        var("U", "f4", ("Time", "bottom_top", "south_north", "west_east_stag"),
            "x-wind component", "m s-1", "X", u)
        var("V", "f4", ("Time", "bottom_top", "south_north_stag", "west_east"),
            "y-wind component", "m s-1", "Y", v)
        kk = np.arange(NZ + 1)[:, None, None]
        ii = np.arange(NX)[None, None, :]
        var("W", "f4", ("Time", "bottom_top_stag", "south_north", "west_east"),
            "z-wind component", "m s-1", "Z", np.stack([0.01 * kk + 0.001 * ii + 0.1 * t
                                                        + 0 * hgt for t in range(NT)]))
        zw = hgt[None] + ZW_AGL[:, None, None]  # above sea level
        phb = 0.9 * G * zw
        ph = np.stack([G * zw - phb + (t * 5.0 * G) for t in range(NT)])  # t=1: 5 m higher
        var("PHB", "f4", ("Time", "bottom_top_stag", "south_north", "west_east"),
            "base-state geopotential", "m2 s-2", "Z", np.stack([phb] * NT))
        var("PH", "f4", ("Time", "bottom_top_stag", "south_north", "west_east"),
            "perturbation geopotential", "m2 s-2", "Z", ph)
        var("T", "f4", ("Time", "bottom_top", "south_north", "west_east"),
            "perturbation potential temperature theta-t0", "K", "",
            np.full((NT, NZ, NY, NX), 2.5))
        var("T2", "f4", ("Time", "south_north", "west_east"), "TEMP at 2 M", "K", "",
            np.full((NT, NY, NX), 290.0))
        var("U10", "f4", ("Time", "south_north", "west_east"), "U at 10 M", "m s-1", "",
            both(_earth_wind(0)[0][0] * cosa + _earth_wind(0)[1][0] * sina))
        var("V10", "f4", ("Time", "south_north", "west_east"), "V at 10 M", "m s-1", "",
            both(_earth_wind(0)[1][0] * cosa - _earth_wind(0)[0][0] * sina))
        var("PM2_5_DRY", "f4", ("Time", "bottom_top", "south_north", "west_east"),
            "pm2.5 aerosol dry mass", "ug m^-3", "", np.stack([pm25(t) for t in range(NT)]))
        var("o3", "f4", ("Time", "bottom_top", "south_north", "west_east"),
            "O3 mixing ratio", "ppmv", "", np.full((NT, NZ, NY, NX), 0.04))
    return path


IOAPI_NT, IOAPI_NZ, IOAPI_NY, IOAPI_NX = 3, 3, 9, 11
IOAPI_ATTRS = {
    "IOAPI_VERSION": "ioapi-3.2: $Id: init3.F90 98 2018-04-05 14:35:07Z coats $".ljust(80),
    "EXEC_ID": "????????????????".ljust(80), "FTYPE": np.int32(1),
    "CDATE": np.int32(2016282), "CTIME": np.int32(120000), "WDATE": np.int32(2016282),
    "WTIME": np.int32(120000), "SDATE": np.int32(2016281), "STIME": np.int32(0),
    "TSTEP": np.int32(10000), "NTHIK": np.int32(1), "NCOLS": np.int32(IOAPI_NX),
    "NROWS": np.int32(IOAPI_NY), "NLAYS": np.int32(IOAPI_NZ), "NVARS": np.int32(2),
    "GDTYP": np.int32(2), "P_ALP": 33.0, "P_BET": 45.0, "P_GAM": -97.0, "XCENT": -97.0,
    "YCENT": 40.0, "XORIG": -66000.0, "YORIG": -54000.0, "XCELL": 12000.0, "YCELL": 12000.0,
    "VGTYP": np.int32(7), "VGTOP": np.float32(5000.0),
    "VGLVLS": np.array([1.0, 0.995, 0.99, 0.98], np.float32),
    "GDNAM": "SMALL_12KM      ", "UPNAM": "CMAQ_CCTM       ",
    "VAR-LIST": "O3              PM25_TOT        ",
    "FILEDESC": "Concentration file output from CMAQ".ljust(80), "HISTORY": "",
}
#: IOAPI's day of year: 7 October 2016 (a leap year) is day 281
IOAPI_TIMES = [datetime.datetime(2016, 10, 7, h) for h in range(IOAPI_NT)]


def pm25_cmaq(t: int) -> np.ndarray:
    k = np.arange(IOAPI_NZ)[:, None, None]
    j = np.arange(IOAPI_NY)[None, :, None]
    i = np.arange(IOAPI_NX)[None, None, :]
    blob = 40.0 * np.exp(-((i - 3.0 - t) ** 2 + (j - 6.0) ** 2) / 5.0)
    return ((3.0 + blob) * (1.0 - 0.2 * k) + 0.02 * i + 0.003 * j).astype(np.float32)


def write_cmaq(path: Path, tflag: bool = True) -> Path:
    """An IOAPI CONC file as CMAQ writes it (classic NetCDF, attributes blank-padded)."""
    import netCDF4

    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as nc:
        for d, n in (("TSTEP", None), ("DATE-TIME", 2), ("LAY", IOAPI_NZ), ("VAR", 2),
                     ("ROW", IOAPI_NY), ("COL", IOAPI_NX)):
            nc.createDimension(d, n)
        nc.setncatts(IOAPI_ATTRS)
        if tflag:
            tf = nc.createVariable("TFLAG", "i4", ("TSTEP", "VAR", "DATE-TIME"))
            tf.units = "<YYYYDDD,HHMMSS>"
            tf.long_name = "TFLAG".ljust(16)
            tf.var_desc = "Timestep-valid flags:  (1) YYYYDDD or (2) HHMMSS".ljust(80)
            tf[:] = np.array([[[2016281, h * 10000]] * 2 for h in range(IOAPI_NT)], np.int32)
        for name, units, desc, data in (
                ("O3", "ppmV", "Variable O3",
                 np.full((IOAPI_NT, IOAPI_NZ, IOAPI_NY, IOAPI_NX), 0.035, np.float32)),
                ("PM25_TOT", "ug m-3", "total PM2.5 mass",
                 np.stack([pm25_cmaq(t) for t in range(IOAPI_NT)]))):
            v = nc.createVariable(name, "f4", ("TSTEP", "LAY", "ROW", "COL"))
            v.long_name = name.ljust(16)
            v.units = units.ljust(16)
            v.var_desc = desc.ljust(80)
            v[:] = data
    return path


@pytest.fixture(scope="module")
def wrfout(tmp_path_factory) -> Path:
    return write_wrfout(tmp_path_factory.mktemp("wrf") / "wrfout_d01_2016-10-07_00:00:00")


@pytest.fixture(scope="module")
def cmaq(tmp_path_factory) -> Path:
    return write_cmaq(tmp_path_factory.mktemp("cmaq") / "CCTM_CONC_v532_20161007.nc")


# ============================================================================= unit tests
def test_destagger_by_hand():
    a = np.array([1.0, 3.0, 7.0, 15.0])
    np.testing.assert_array_equal(models.destagger(a, 0), [2.0, 5.0, 11.0])
    b = np.arange(24.0).reshape(2, 3, 4)  # along x: neighbours differ by 1, along z by 12
    np.testing.assert_array_equal(models.destagger(b, 2), b[:, :, :3] + 0.5)
    np.testing.assert_array_equal(models.destagger(b, 0), b[:1] + 6.0)
    np.testing.assert_array_equal(models.destagger(b, 1)[0, :, 0], [2.0, 6.0])


def test_rotation_by_hand_and_back():
    """A uniform 10 m/s westerly on a grid turned by 30 degrees (SINALPHA 0.5): along the
    grid it is (10 cos 30, -10 sin 30) = (8.660254, -5); turned back, (10, 0)."""
    cos, sin = np.full((2, 3), np.sqrt(3) / 2), np.full((2, 3), 0.5)
    ug, vg = models.earth_to_grid(np.full((2, 3), 10.0), np.zeros((2, 3)), cos, sin)
    np.testing.assert_allclose(ug, 8.660254, rtol=1e-6)
    np.testing.assert_allclose(vg, -5.0, rtol=1e-12)
    ue, vn = models.grid_to_earth(ug, vg, cos, sin)
    np.testing.assert_allclose(ue, 10.0, rtol=1e-12)
    np.testing.assert_allclose(vn, 0.0, atol=1e-12)
    # a southerly along grid y (u = 0, v = 4) with SINALPHA -0.6, COSALPHA 0.8: 2.4 east
    ue, vn = models.grid_to_earth(0.0, 4.0, 0.8, -0.6)
    assert (ue, vn) == pytest.approx((2.4, 3.2))


def test_rotation_from_projection_matches_the_grid_geometry():
    """wrf_rotation (the cone formula, for files without COSALPHA/SINALPHA) against the
    grid's real turning from finite differences of the projection; east of STAND_LON in the
    north, grid +y points east of north, so SINALPHA < 0 (a grid-y wind blows to the NE)."""
    lon, lat, cosa, sina = wrf_grid()
    c, s = models.wrf_rotation(WRF_ATTRS, lon, lat)
    np.testing.assert_allclose(c, cosa, atol=2e-6)
    np.testing.assert_allclose(s, sina, atol=2e-6)
    assert (sina < -0.1).all()  # the grid is 5-20 degrees east of STAND_LON: not trivial
    ue, _ = models.grid_to_earth(0.0, 1.0, c, s)
    assert (ue > 0).all()


def test_wrf_times_decoded():
    chars = np.array([list(s.encode()) for s in WRF_TIMES], np.uint8).view("S1")
    want = np.array(["2016-10-07T00:00", "2016-10-07T03:00"], "datetime64[ns]")
    np.testing.assert_array_equal(models.wrf_times(chars), want)
    np.testing.assert_array_equal(models.wrf_times(np.array(WRF_TIMES, "S19")), want)
    np.testing.assert_array_equal(models.wrf_times(WRF_TIMES), want)


def test_ioapi_times_from_tflag_and_from_sdate():
    tf = np.array([[[2016281, 0], [2016281, 0]], [[2016281, 10000], [2016281, 10000]],
                   [[2016282, 233000], [2016282, 233000]]], np.int32)
    got = models.ioapi_times({}, tf)
    want = np.array(["2016-10-07T00:00", "2016-10-07T01:00", "2016-10-08T23:30"],
                    "datetime64[ns]")
    np.testing.assert_array_equal(got, want)
    # no TFLAG: SDATE 2016366 (31 December of a leap year) 23:00, hourly, over the year end
    got = models.ioapi_times({"SDATE": 2016366, "STIME": 230000, "TSTEP": 10000}, None, 3)
    np.testing.assert_array_equal(got, np.array(
        ["2016-12-31T23:00", "2017-01-01T00:00", "2017-01-01T01:00"], "datetime64[ns]"))
    # a time-independent file (TSTEP 0, SDATE 0): no times
    assert models.ioapi_times({"SDATE": 0, "STIME": 0, "TSTEP": 0}, np.zeros((1, 1, 2)),
                              1) is None


def test_ioapi_lonlat_against_pyproj():
    """Cell centres XORIG + (i + 0.5) XCELL on the LCC grid, against pyproj's ``Proj`` on
    IOAPI's sphere; the cell centred on the origin is at (XCENT, YCENT) exactly, and the
    column on the central meridian P_GAM keeps its longitude."""
    import pyproj

    lon, lat = models.ioapi_lonlat(IOAPI_ATTRS)
    assert lon.shape == (IOAPI_NY, IOAPI_NX)
    p = pyproj.Proj(proj="lcc", lat_1=33.0, lat_2=45.0, lat_0=40.0, lon_0=-97.0, R=6370000.0)
    x = -66000.0 + (np.arange(IOAPI_NX) + 0.5) * 12000.0
    y = -54000.0 + (np.arange(IOAPI_NY) + 0.5) * 12000.0
    rlon, rlat = p(*np.meshgrid(x, y), inverse=True)
    np.testing.assert_allclose(lon, rlon, atol=1e-9)
    np.testing.assert_allclose(lat, rlat, atol=1e-9)
    assert (lon[4, 5], lat[4, 5]) == pytest.approx((-97.0, 40.0), abs=1e-9)
    np.testing.assert_allclose(lon[:, 5], -97.0, atol=1e-9)
    assert (np.diff(lat[:, 5]) > 0.1).all()  # row 0 is the southern one
    # the Cartesian origin off the central meridian (XCENT != P_GAM): shifted grids agree
    off = {**IOAPI_ATTRS, "XCENT": -90.0}
    x0, y0 = p(-90.0, 40.0)
    olon, olat = models.ioapi_lonlat(off)
    rlon, rlat = p(*np.meshgrid(x + x0, y + y0), inverse=True)
    np.testing.assert_allclose(olon, rlon, atol=1e-9)
    np.testing.assert_allclose(olat, rlat, atol=1e-9)
    # lat-lon grids (GDTYP 1): degrees already
    ll = {**IOAPI_ATTRS, "GDTYP": 1, "XORIG": -10.0, "YORIG": 35.0, "XCELL": 0.5,
          "YCELL": 0.25}
    llon, llat = models.ioapi_lonlat(ll)
    assert (llon[0, 0], llat[0, 0], llon[0, 1], llat[1, 0]) == (-9.75, 35.125, -9.25, 35.375)


def test_ioapi_heights():
    """Sigma-pressure interfaces 1, 0.995, 0.99, 0.98 under VGTOP 50 hPa: the middles' pressure
    p = 5000 + sigma (101325 - 5000) Pa, and its height in the standard atmosphere
    (44330.8 m (1 - (p/101325)^0.190263), hand-written here)."""
    z, attrs = models.ioapi_heights(IOAPI_ATTRS, 3)
    mid = np.array([0.9975, 0.9925, 0.985])
    p = 5000.0 + mid * (101325.0 - 5000.0)
    want = 44330.77 * (1.0 - (p / 101325.0) ** 0.190263)
    np.testing.assert_allclose(z, want, rtol=2e-4)
    assert 15.0 < z[0] < 25.0 and attrs["units"] == "m" and attrs["positive"] == "up"
    # 20 km: above the tropopause, the isothermal layer (5474.9 hPa at 20 km)
    assert models.standard_atmosphere_height(5474.89) == pytest.approx(20000.0, abs=2.0)
    # height levels (VGTYP 5) as they are; an unknown type: layer numbers
    z5, _ = models.ioapi_heights({"VGTYP": 5, "VGLVLS": [0.0, 20.0, 60.0]}, 2)
    np.testing.assert_array_equal(z5, [10.0, 40.0])
    zn, a = models.ioapi_heights({"VGTYP": -9999, "VGLVLS": [0.0, 0.0]}, 1)
    assert list(zn) == [1.0] and a["units"] == "1"


# ========================================================================= the CF datasets
def test_detection(wrfout, cmaq, tmp_path):
    assert models.model_of(wrfout) == "wrf"
    assert models.model_of(cmaq) == "ioapi"
    real = Path(__file__).resolve().parent.parent / "data" / "real" / "climate"
    # a WRF-like file without MAP_PROJ or Times (the corpus's) stays with the CF reader
    assert models.model_of(real / "wrf_int_offsets.nc") is None
    assert models.open_model_output(real / "wrf_int_offsets.nc") is None
    bad = tmp_path / "not.nc"
    bad.write_bytes(b"not a netcdf file")
    assert models.model_of(bad) is None


def test_wrf_dataset_in_cf_form(wrfout):
    import netCDF4

    ds = models.open_model_output(wrfout)
    assert dict(ds.sizes) == {"time": NT, "z": NZ, "y": NY, "x": NX}
    np.testing.assert_array_equal(ds["time"].values, np.array(
        ["2016-10-07T00:00", "2016-10-07T03:00"], "datetime64[ns]"))
    # heights above ground of the mass levels at the first time (t = 1 is 5 m higher)
    np.testing.assert_allclose(ds["z"].values, Z_MASS, atol=2e-3)
    assert ds["z"].attrs["units"] == "m" and ds["z"].attrs["positive"] == "up"
    with netCDF4.Dataset(wrfout) as nc:
        np.testing.assert_array_equal(ds["lat"].values, nc["XLAT"][0])
        np.testing.assert_array_equal(ds["lon"].values, nc["XLONG"][0])
        raw_pm = np.asarray(nc["PM2_5_DRY"][:])
        raw_w = np.asarray(nc["W"][:], np.float64)
    assert ds["lat"].attrs["standard_name"] == "latitude"
    assert ds["lon"].attrs["standard_name"] == "longitude"
    # kept: mass-point fields under their names; dropped: staggered, soil, 1-D, lat/lon
    assert list(ds.data_vars) == ["PM2_5_DRY", "o3", "T", "HGT", "T2", "u", "v", "w", "u10",
                                  "v10"]  # particulate matter, ozone, 3-D, 2-D, winds
    assert not {"U", "V", "W", "PH", "PHB", "SMOIS", "XLAT_U", "ZNU", "Times", "XLAT",
                "COSALPHA"} & set(ds.data_vars)
    pm = ds["PM2_5_DRY"]
    assert pm.dims == ("time", "z", "y", "x") and pm.attrs["coordinates"] == "lat lon"
    assert pm.attrs["units"] == "ug m^-3" and pm.attrs["long_name"] == "pm2.5 aerosol dry mass"
    assert pm.chunks is not None and pm.chunks[0] == (1, 1)  # lazy, one step per chunk
    np.testing.assert_array_equal(pm.values, raw_pm)
    for name, sn in (("u", "eastward_wind"), ("v", "northward_wind"),
                     ("w", "upward_air_velocity")):
        assert ds[name].attrs["standard_name"] == sn and ds[name].attrs["units"] == "m s-1"
        assert ds[name].dims == ("time", "z", "y", "x")
    for t in range(NT):  # the earth wind the file was written from, back
        ue, vn = _earth_wind(t)
        np.testing.assert_allclose(ds["u"].values[t], ue, rtol=2e-5, atol=2e-5)
        np.testing.assert_allclose(ds["v"].values[t], vn, rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(ds["w"].values, 0.5 * (raw_w[:, :-1] + raw_w[:, 1:]),
                               rtol=1e-6)
    np.testing.assert_allclose(ds["w"].values[0, 0, 0, :3], [0.005, 0.006, 0.007], atol=1e-7)
    ue0, vn0 = _earth_wind(0)
    np.testing.assert_allclose(ds["u10"].values[0], ue0[0], rtol=2e-5)
    np.testing.assert_allclose(ds["v10"].values[1], vn0[0], rtol=2e-5, atol=2e-5)
    assert ds.attrs["MAP_PROJ"] == 1 and ds.attrs["source_model"] == "WRF"


def test_wrf_without_alpha_or_times_uses_the_projection_and_xtime(wrfout, tmp_path):
    """A wrfout subset without COSALPHA/SINALPHA and Times: the cone formula turns the
    winds, XTIME ("minutes since") labels the steps."""
    import xarray as xr

    raw = xr.open_dataset(wrfout, decode_times=False).drop_vars(
        ["COSALPHA", "SINALPHA", "Times"])
    ds = models.to_cf(raw)
    np.testing.assert_array_equal(ds["time"].values, np.array(
        ["2016-10-07T00:00", "2016-10-07T03:00"], "datetime64[ns]"))
    ue, vn = _earth_wind(1)
    np.testing.assert_allclose(ds["u"].values[1], ue, atol=1e-4)
    np.testing.assert_allclose(ds["v"].values[1], vn, atol=1e-4)


def test_two_wrfouts_along_time(wrfout, tmp_path):
    """One wrfout per time (as WRF writes with frames_per_outfile=1), given out of order."""
    import xarray as xr

    ps = []
    with xr.open_dataset(wrfout, decode_times=False, decode_cf=False) as full:
        for t in (1, 0):
            p = tmp_path / f"wrfout_t{t}.nc"
            full.isel(Time=[t]).to_netcdf(p, format="NETCDF3_64BIT",
                                          unlimited_dims=["Time"])
            ps.append(p)
    ds = models.open_model_output(ps)
    assert ds.sizes["time"] == 2
    np.testing.assert_array_equal(ds["time"].values, np.array(
        ["2016-10-07T00:00", "2016-10-07T03:00"], "datetime64[ns]"))
    np.testing.assert_allclose(ds["PM2_5_DRY"].values[1], pm25(1))
    np.testing.assert_allclose(ds["z"].values, Z_MASS, atol=2e-3)


def test_cmaq_dataset_in_cf_form(cmaq, tmp_path):
    ds = models.open_model_output(cmaq)
    assert dict(ds.sizes) == {"time": IOAPI_NT, "z": IOAPI_NZ, "y": IOAPI_NY, "x": IOAPI_NX}
    np.testing.assert_array_equal(ds["time"].values,
                                  np.array(IOAPI_TIMES, "datetime64[ns]"))
    assert list(ds.data_vars) == ["PM25_TOT", "O3"]  # particulate matter first
    pm = ds["PM25_TOT"]
    assert pm.attrs["units"] == "ug m-3" and pm.attrs["long_name"] == "total PM2.5 mass"
    assert pm.attrs["coordinates"] == "lat lon"
    np.testing.assert_array_equal(pm.values[2], pm25_cmaq(2))
    lon, lat = models.ioapi_lonlat(IOAPI_ATTRS)
    np.testing.assert_array_equal(ds["lon"].values, lon)
    np.testing.assert_array_equal(ds["lat"].values, lat)
    assert ds["z"].attrs["units"] == "m" and np.all(np.diff(ds["z"].values) > 0)
    assert ds.attrs["GDNAM"] == "SMALL_12KM"
    # without TFLAG: SDATE/STIME/TSTEP
    ds2 = models.open_model_output(write_cmaq(tmp_path / "notflag.nc", tflag=False))
    np.testing.assert_array_equal(ds2["time"].values, ds["time"].values)


def test_variable_table_from_the_header(wrfout, cmaq):
    table = dict(models.variable_table(wrfout))
    assert table["u"] == "eastward_wind" and table["v"] == "northward_wind"
    assert table["w"] == "upward_air_velocity" and table["PM2_5_DRY"] == ""
    assert list(table) == list(models.open_model_output(wrfout).data_vars)
    assert models.variable_table(cmaq) == [("PM25_TOT", ""), ("O3", "")]


# ============================================================ through the reader and command
def test_open_field_reads_the_models(wrfout, cmaq):
    """The generic reader's open_field on both files (needs the hook in readers/netcdf.py and its
    curvilinear support): frames = time steps, 2-D lat/lon, heights in metres, times."""
    from climate_pipeline.readers import auto_wind_names, open_field, open_winds

    f = open_field(wrfout, "PM2_5_DRY")
    assert f.shape == (NT, NZ, NY, NX) and f.lon.shape == (NY, NX)
    assert f.vertical_kind == "height_m"
    np.testing.assert_allclose(f.vertical, Z_MASS, atol=2e-3)
    assert f.time_labels() == ["2016-10-07T00:00:00", "2016-10-07T03:00:00"]
    np.testing.assert_array_equal(f.frame(1), pm25(1))
    assert auto_wind_names([wrfout]) == ["u", "v", "w"]
    w = open_winds([wrfout], ["u", "v", "w"])
    np.testing.assert_allclose(w.u.frame(0), _earth_wind(0)[0], rtol=2e-5, atol=2e-5)
    c = open_field(cmaq, "PM25_TOT")
    assert c.shape == (IOAPI_NT, IOAPI_NZ, IOAPI_NY, IOAPI_NX) and c.lat.shape == (9, 11)
    assert c.time_labels()[2] == "2016-10-07T02:00:00"
    np.testing.assert_array_equal(c.frame(0), pm25_cmaq(0))


def _main(argv: list[str]) -> int:
    from climate_pipeline.__main__ import main

    return int(main(argv))


def _layer(out: Path, frame: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Frame ``frame``'s layer from its exact ``layer.usdc`` (pxr, :func:`usd_layer`): vertex
    (x, y) in km, ``value`` per vertex, and the frame's time label."""
    from core.manifest import read_manifest
    from tests.climate.test_real_files import usd_layer

    xyz, _faces, value = usd_layer(out, frame)
    fr = read_manifest(out)["frames"][frame]
    return xyz[:, :2], value, fr.get("label", "")


def _check_run(out: Path, lon: np.ndarray, lat: np.ndarray, ground: list[np.ndarray],
               labels: list[str]) -> None:
    """Frames = time steps with the right labels; each frame's layer holds the raw ground
    level at eight fixed grid points, found by where the run's map puts their lon/lat."""
    from scipy.spatial import cKDTree

    from climate_pipeline.geo import MapProjection
    from core.manifest import read_manifest

    man = read_manifest(out)
    assert len(man["frames"]) == len(ground)
    spec = man["provenance"]["parameters"]["projection"]
    proj = MapProjection.for_region(lon.ravel(), lat.ravel(),
                                    exaggeration=float(spec["exaggeration"]))
    ny, nx = lon.shape
    pts = [(0, 0), (0, nx - 1), (ny - 1, 0), (ny - 1, nx - 1), (ny // 2, nx // 2),
           (1, nx // 3), (ny - 2, 2 * nx // 3), (ny // 3, nx - 2)]
    jj, ii = np.array(pts).T
    want_xy = proj.forward(lon[jj, ii], lat[jj, ii])[:, :2]
    for t, g in enumerate(ground):
        xy, value, label = _layer(out, t)
        tree = cKDTree(xy)
        spacing = float(np.median(tree.query(xy, k=2)[0][:, 1]))
        d, idx = tree.query(want_xy)
        assert d.max() <= 0.05 * spacing, (t, d.max(), spacing)
        np.testing.assert_allclose(value[idx], g[jj, ii], rtol=1e-6, err_msg=f"frame {t}")
        assert label.startswith(labels[t]), (t, label, labels[t])


def _raw_ground(path: Path, title: str) -> tuple[str, list[np.ndarray]]:
    """The variable of ``path`` whose description (WRF) or var_desc (IOAPI) is the run's
    title, read with netCDF4: its lowest level (index 0 of bottom_top/LAY) at each time."""
    import netCDF4

    with netCDF4.Dataset(path) as nc:
        (name,) = [n for n, v in nc.variables.items()
                   if str(getattr(v, "description", getattr(v, "var_desc", ""))).strip()
                   == title]
        a = np.asarray(nc[name][:], np.float64)
    return name, [a[t, 0] if a.ndim == 4 else a[t] for t in range(a.shape[0])]


def test_wrfout_converts_with_default_flags(wrfout, tmp_path):
    """``python -m climate_pipeline wrfout --out DIR`` with nothing else (render aside):
    one frame per time step, labelled with the Times; the default field (particulate
    matter: the fields come first) on the layer, raw ground level at fixed points; the
    winds u, v, w found for the particles."""
    from core.manifest import read_manifest

    out = tmp_path / "run"
    assert _main([str(wrfout), "--out", str(out), "--no-render", "--engine", "serial"]) == 0
    man = read_manifest(out)
    name, ground = _raw_ground(wrfout, man["title"])
    assert name == "PM2_5_DRY"
    lon, lat, _, _ = wrf_grid()
    _check_run(out, lon.astype(np.float32).astype(np.float64),
               lat.astype(np.float32).astype(np.float64), ground,
               ["2016-10-07 00:00", "2016-10-07 03:00"])
    assert man["provenance"]["parameters"]["winds"] == ["u", "v", "w"]
    assert any(a["name"].startswith("particles") for a in man["frames"][-1]["assets"])


def test_cmaq_converts_with_default_flags(cmaq, tmp_path):
    from core.manifest import read_manifest

    out = tmp_path / "run"
    assert _main([str(cmaq), "--out", str(out), "--no-render", "--engine", "serial"]) == 0
    name, ground = _raw_ground(cmaq, read_manifest(out)["title"])
    assert name == "PM25_TOT"
    lon, lat = models.ioapi_lonlat(IOAPI_ATTRS)
    _check_run(out, lon, lat, ground,
               ["2016-10-07 00:00", "2016-10-07 01:00", "2016-10-07 02:00"])
