"""Writes the four small files of this corpus that no public package ships in the layouts
issue #9 reports (WRF/NCL time encodings, a tiny city box, winds on odd longitude axes).

They are written with the netCDF4 library directly (not with vizpipe or xarray), so the
pipeline reads files it did not write. Values are analytic (no random numbers), so the files
are byte-for-byte reproducible with the same netCDF4/HDF5 versions; the committed copies
were written with netCDF4 1.7.5.1 (HDF5 1.14). Run from anywhere:

    .venv/bin/python tests/data/real/climate/write_independent.py [OUTDIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import netCDF4
import numpy as np


def _var(ds, name, dtype, dims, attrs, data):
    v = ds.createVariable(name, dtype, dims)
    for k, val in attrs.items():
        v.setncattr(k, val)
    v[:] = data
    return v


def ncl_hours_timedelta(path: Path) -> None:
    """NCL-style: ``time`` in plain "hours" (no reference date: xarray decodes it to a
    timedelta), 4 pressure levels, 1-D lat/lon, u/v winds beside the temperature."""
    nt, nz, ny, nx = 6, 4, 9, 12
    with netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC") as ds:
        ds.title = "NCL-style file: time as hours without a reference date"
        for d, n in (("time", None), ("lev", nz), ("lat", ny), ("lon", nx)):
            ds.createDimension(d, n)
        _var(ds, "time", "f8", ("time",), {"units": "hours", "long_name": "forecast hour"},
             np.arange(nt) * 3.0)
        lev = np.array([1000.0, 850.0, 700.0, 500.0])
        _var(ds, "lev", "f8", ("lev",), {"units": "hPa", "long_name": "pressure"}, lev)
        lat = np.linspace(30.0, 46.0, ny)
        lon = np.linspace(-10.0, 12.0, nx)
        _var(ds, "lat", "f4", ("lat",), {"units": "degrees_north"}, lat)
        _var(ds, "lon", "f4", ("lon",), {"units": "degrees_east"}, lon)
        t, k, j, i = np.meshgrid(np.arange(nt), np.arange(nz), np.arange(ny), np.arange(nx),
                                 indexing="ij")
        ta = 290.0 - 12.0 * k + 2.0 * np.sin(0.5 * i + 0.3 * t) * np.cos(0.4 * j)
        _var(ds, "T", "f4", ("time", "lev", "lat", "lon"), {"units": "K",
             "long_name": "temperature"}, ta)
        _var(ds, "U", "f4", ("time", "lev", "lat", "lon"), {"units": "m/s"},
             5.0 + 2.0 * np.cos(0.3 * j + 0.2 * t) + k)
        _var(ds, "V", "f4", ("time", "lev", "lat", "lon"), {"units": "m/s"},
             -1.0 + 1.5 * np.sin(0.4 * i))


def wrf_int_offsets(path: Path) -> None:
    """WRF-like: dims Time/south_north/west_east, an integer ``Time`` variable with no units
    at all (offsets), 2-D XLAT/XLONG on a small Lambert-like curvilinear patch, T2."""
    nt, ny, nx = 5, 8, 10
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.TITLE = "WRF-like output: integer Time offsets without units"
        for d, n in (("Time", None), ("south_north", ny), ("west_east", nx)):
            ds.createDimension(d, n)
        _var(ds, "Time", "i4", ("Time",), {}, np.arange(nt, dtype=np.int32))
        j, i = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        xlat = 40.0 + 0.25 * j + 0.02 * i
        xlong = -4.0 + 0.3 * i - 0.03 * j
        _var(ds, "XLAT", "f4", ("south_north", "west_east"),
             {"units": "degree_north", "description": "LATITUDE, SOUTH IS NEGATIVE"}, xlat)
        _var(ds, "XLONG", "f4", ("south_north", "west_east"),
             {"units": "degree_east", "description": "LONGITUDE, WEST IS NEGATIVE"}, xlong)
        tt = np.arange(nt)[:, None, None]
        t2 = 285.0 + 0.5 * j[None] - 0.2 * i[None] + 3.0 * np.sin(0.8 * tt)
        _var(ds, "T2", "f4", ("Time", "south_north", "west_east"),
             {"units": "K", "description": "TEMP at 2 M", "coordinates": "XLONG XLAT"}, t2)


def city_box(path: Path) -> None:
    """A city box of 4 x 3 points with 2,000 hourly steps (no calendar attribute), NO2 and
    10 m winds."""
    nt, ny, nx = 2000, 3, 4
    with netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC") as ds:
        ds.title = "city box: 4 x 3 points, 2000 hourly steps"
        for d, n in (("time", None), ("lat", ny), ("lon", nx)):
            ds.createDimension(d, n)
        _var(ds, "time", "i4", ("time",), {"units": "hours since 2021-01-01 00:00:00",
                                           "standard_name": "time"}, np.arange(nt))
        _var(ds, "lat", "f8", ("lat",), {"units": "degrees_north"}, [41.36, 41.40, 41.44])
        _var(ds, "lon", "f8", ("lon",), {"units": "degrees_east"},
             [2.10, 2.15, 2.20, 2.25])
        t = np.arange(nt)[:, None, None]
        j, i = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        no2 = 30.0 + 20.0 * np.sin(2 * np.pi * t / 24.0) ** 2 + 5.0 * i[None] + 3.0 * j[None]
        _var(ds, "no2", "f4", ("time", "lat", "lon"),
             {"units": "ug m-3", "long_name": "NO2 concentration at the surface",
              "standard_name": "mass_concentration_of_nitrogen_dioxide_in_air"}, no2)
        _var(ds, "u10", "f4", ("time", "lat", "lon"), {"units": "m s-1"},
             2.0 + np.cos(2 * np.pi * t / 24.0) + 0.0 * i[None])
        _var(ds, "v10", "f4", ("time", "lat", "lon"), {"units": "m s-1"},
             1.0 + 0.1 * j[None] + 0.0 * t)


def winds_lon_axes(path_seam: Path, path_desc: Path) -> None:
    """Regional winds and a field on two awkward longitude axes:

    * ``winds_seam_0_360.nc``: 0..360 longitudes with Greenwich inside the domain, stored
      340..359, 0..20 (ascending in 0..360 terms, a jump at the seam), latitudes descending;
    * ``winds_descending_lon.nc``: longitudes 30E down to 0E (descending).
    """
    def write(path, lon, lat, title):
        nt, ny, nx = 3, len(lat), len(lon)
        with netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC") as ds:
            ds.title = title
            for d, n in (("time", None), ("lat", ny), ("lon", nx)):
                ds.createDimension(d, n)
            _var(ds, "time", "f8", ("time",), {"units": "days since 2000-01-01",
                                               "calendar": "noleap"}, [0.0, 0.25, 0.5])
            _var(ds, "lat", "f4", ("lat",), {"units": "degrees_north"}, lat)
            _var(ds, "lon", "f4", ("lon",), {"units": "degrees_east"}, lon)
            t = np.arange(nt)[:, None, None]
            la = np.asarray(lat)[None, :, None]
            lo = np.asarray(lon)[None, None, :]
            _var(ds, "u", "f4", ("time", "lat", "lon"), {"units": "m s-1",
                 "standard_name": "eastward_wind"},
                 8.0 * np.cos(np.radians(la - 45.0) * 4) + 0.0 * lo + 0.5 * t)
            _var(ds, "v", "f4", ("time", "lat", "lon"), {"units": "m s-1",
                 "standard_name": "northward_wind"},
                 3.0 * np.sin(np.radians(lo) * 6) + 0.0 * la + 0.0 * t)
            _var(ds, "pm25", "f4", ("time", "lat", "lon"),
                 {"units": "ug m-3", "long_name": "PM2.5"},
                 10.0 + np.abs(np.sin(np.radians(lo) * 3)) * 20.0 + 0.2 * (la - 30.0) + t
                 # not symmetric about 0E, so a longitude flip shows
                 + 0.15 * ((lo + 180.0) % 360.0 - 180.0))

    seam = np.concatenate([np.arange(340.0, 360.0), np.arange(0.0, 21.0)])
    write(path_seam, seam, np.arange(60.0, 34.0, -1.0),
          "winds on 0..360 longitudes, Greenwich inside the domain, latitude descending")
    write(path_desc, np.arange(30.0, -0.5, -1.0), np.arange(30.0, 51.0, 1.0),
          "winds on a descending longitude axis")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ncl_hours_timedelta(out / "ncl_hours_timedelta.nc")
    wrf_int_offsets(out / "wrf_int_offsets.nc")
    city_box(out / "city_box_4x3.nc")
    winds_lon_axes(out / "winds_seam_0_360.nc", out / "winds_descending_lon.nc")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
