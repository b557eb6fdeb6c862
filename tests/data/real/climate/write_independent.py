"""Writes the small files of this corpus that no public package ships in the layouts
issue #9 reports (WRF/NCL time encodings, a tiny city box, winds on odd longitude axes) and
issue #17 (a CMIP6 curvilinear ocean field, an ERA-Interim ``month`` axis, NAME III output
with repeated field names).

They are written with the netCDF4 library directly (the NAME III file as plain text; not
with vizpipe, xarray or iris), so the pipeline reads files it did not write. Values are
analytic (no random numbers), so the files are byte-for-byte reproducible with the same
netCDF4/HDF5 versions; the committed copies were written with netCDF4 1.7.5.1 (HDF5 1.14).
Run from anywhere:

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


# ------------------------------------------------------------------- issue #17 (grids, fields)
#: the files of issue #17 (:func:`grids_and_fields`); the files above are not rewritten by it
ISSUE_17 = ("tos_Omon_curvilinear_gn.nc", "erai_monthly_month_axis.nc",
            "NAMEIII_five_fields.txt")


def cmip6_curvilinear(path: Path) -> None:
    """CMIP6-style ocean output on a curvilinear grid, as the CMOR tables write it
    (``tos_Omon_..._gn``): dimensions ``time, j, i`` with integer index coordinates ``j``/``i``
    (units "1", no axis), 2-D ``latitude``/``longitude`` named by the variable's CF
    ``coordinates`` attribute, their cell corners in ``vertices_latitude``/``_longitude``
    (``bounds``), ``time_bnds``, land as ``_FillValue`` 1e20 (netCDF4 masks it), a noleap
    calendar. The grid is global and distorted (rows bend with longitude, columns with
    latitude) and its longitudes run 0..360 starting at 73E (as NEMO's ORCA grids), so the
    0/360 seam lies inside the i range."""
    nt, ny, nx = 3, 30, 48
    with netCDF4.Dataset(path, "w", format="NETCDF4_CLASSIC") as ds:
        ds.Conventions = "CF-1.7 CMIP-6.2"
        ds.activity_id = "CMIP"
        ds.table_id = "Omon"
        ds.variable_id = "tos"
        ds.grid_label = "gn"
        ds.grid = "curvilinear test grid, 48 x 30 (tripolar-like distortion)"
        ds.title = "CMIP6-style tos on a curvilinear (j, i) grid, analytic values"
        for d, n in (("time", None), ("j", ny), ("i", nx), ("bnds", 2), ("vertices", 4)):
            ds.createDimension(d, n)
        _var(ds, "time", "f8", ("time",), {"units": "days since 1850-01-01",
             "calendar": "noleap", "standard_name": "time", "axis": "T",
             "bounds": "time_bnds", "long_name": "time"}, [15.5, 45.0, 74.5])
        _var(ds, "time_bnds", "f8", ("time", "bnds"), {},
             [[0.0, 31.0], [31.0, 59.0], [59.0, 90.0]])
        _var(ds, "j", "i4", ("j",), {"units": "1",
             "long_name": "cell index along second dimension"}, np.arange(ny))
        _var(ds, "i", "i4", ("i",), {"units": "1",
             "long_name": "cell index along first dimension"}, np.arange(nx))

        def grid(jj, ii):
            """lat, lon (0..360) at fractional indices."""
            lat = -78.0 + 160.0 * jj / (ny - 1) + 3.0 * np.sin(2 * np.pi * ii / nx)
            lon = (73.0 + 360.0 * ii / nx + 4.0 * np.sin(np.pi * jj / (ny - 1))) % 360.0
            return lat, lon

        j, i = np.meshgrid(np.arange(ny, dtype=float), np.arange(nx, dtype=float),
                           indexing="ij")
        lat, lon = grid(j, i)
        corners = [grid(j + dj, i + di) for dj, di in ((-.5, -.5), (-.5, .5), (.5, .5),
                                                       (.5, -.5))]
        _var(ds, "latitude", "f8", ("j", "i"), {"standard_name": "latitude",
             "long_name": "latitude", "units": "degrees_north",
             "bounds": "vertices_latitude"}, lat)
        _var(ds, "longitude", "f8", ("j", "i"), {"standard_name": "longitude",
             "long_name": "longitude", "units": "degrees_east",
             "bounds": "vertices_longitude"}, lon)
        _var(ds, "vertices_latitude", "f8", ("j", "i", "vertices"),
             {"units": "degrees_north"}, np.stack([np.clip(c[0], -90, 90) for c in corners], -1))
        _var(ds, "vertices_longitude", "f8", ("j", "i", "vertices"),
             {"units": "degrees_east"}, np.stack([c[1] for c in corners], -1))
        # land: two "continents" and an Antarctic rim (NaN once read; _FillValue in the file)
        la, lo = np.radians(lat), np.radians(lon)
        land = ((np.cos(la) * np.cos(lo - 4.4) > 0.75) | (np.cos(la) * np.cos(lo - 1.7) > 0.8)
                | (lat < -70.0))
        t = np.arange(nt)[:, None, None]
        tos = 28.0 * np.cos(la)[None] ** 2 - 1.5 + 0.8 * np.sin(lo)[None] + 0.5 * t
        v = ds.createVariable("tos", "f4", ("time", "j", "i"), fill_value=np.float32(1e20))
        v.setncatts({"standard_name": "sea_surface_temperature",
                     "long_name": "Sea Surface Temperature", "units": "degC",
                     "cell_methods": "area: mean where sea time: mean",
                     "coordinates": "latitude longitude", "missing_value": np.float32(1e20)})
        v[:] = np.ma.masked_array(tos, np.broadcast_to(land, tos.shape))


def erai_month_axis(path: Path) -> None:
    """ERA-Interim-style monthly means with a leading ``month`` dimension (1..12, an integer
    coordinate without units: no CF time), ``latitude`` 90..-90 and ``longitude`` from 0 east
    as ECMWF writes them (here 6-degree steps, 0..354), and the field packed as ``short``
    with ``scale_factor``/``add_offset`` and ``_FillValue``/``missing_value`` -32767
    (sea-surface temperature: missing over land)."""
    nm, ny, nx = 12, 31, 60
    with netCDF4.Dataset(path, "w", format="NETCDF3_64BIT_OFFSET") as ds:
        ds.Conventions = "CF-1.0"
        ds.history = "ERA-Interim-style monthly climatology, analytic values"
        for d, n in (("month", nm), ("latitude", ny), ("longitude", nx)):
            ds.createDimension(d, n)
        _var(ds, "month", "i4", ("month",), {"long_name": "month"}, np.arange(1, nm + 1))
        lat = np.linspace(90.0, -90.0, ny)
        lon = np.arange(nx) * 6.0
        _var(ds, "latitude", "f4", ("latitude",), {"units": "degrees_north",
             "long_name": "latitude"}, lat)
        _var(ds, "longitude", "f4", ("longitude",), {"units": "degrees_east",
             "long_name": "longitude"}, lon)
        m = np.arange(nm)[:, None, None]
        la = np.radians(lat)[None, :, None]
        lo = np.radians(lon)[None, None, :]
        sst = (271.5 + 30.0 * np.cos(la) ** 2 + 3.0 * np.sin(la) * np.cos(2 * np.pi * m / 12)
               + 1.0 * np.sin(2 * lo) + 0.0 * m)
        land = (np.cos(la) * np.cos(lo - 0.4) > 0.7) | (la < np.radians(-66.0))
        sst = np.where(np.broadcast_to(land, sst.shape), np.nan, sst)
        lo, hi = float(np.nanmin(sst)), float(np.nanmax(sst))  # as ECMWF packs: the range
        scale, offset = (hi - lo) / (2 ** 16 - 4), (hi + lo) / 2  # over -32766..32766
        packed = np.where(np.isnan(sst), -32767, np.round((sst - offset) / scale)).astype("i2")
        v = ds.createVariable("sst", "i2", ("month", "latitude", "longitude"),
                              fill_value=np.int16(-32767))
        v.set_auto_maskandscale(False)
        v.setncatts({"scale_factor": scale, "add_offset": offset, "units": "K",
                     "missing_value": np.int16(-32767), "long_name": "Sea surface temperature",
                     "standard_name": "sea_surface_temperature"})
        v[:] = packed


def name_iii_five_fields(path: Path) -> None:
    """NAME III gridded output in the column layout of NAME 5.3 field files (iris-test-data's
    ``NAME/NAMEIII_field.txt``): 16 heading rows, 4 preliminary columns, sparse rows (cells
    that are zero in every column are left out). Five fields at each of 3 times, as NAME
    writes a run's requests: the tracer's air concentration twice, a 1-hour **integral**
    (g s / m^3) and a 1-hour **average** (g / m^3): both are called
    ``TRACER_AIR_CONCENTRATION`` by iris, told apart by their cell method), dry, wet and total
    deposition. Values are a drifting analytic plume."""
    nx, ny = 16, 12
    x0, y0, dx, dy = -6.0, 49.5, 0.25, 0.2
    times = ["03/11/2009 19:00 UTC", "03/11/2009 20:00 UTC", "03/11/2009 21:00 UTC"]
    fields = [  # (quantity, units, time av or int, vertical av, z, scale)
        ("Air Concentration", "g s / m^3", "1hr 0min integral", "Boundary layer average",
         "Boundary layer average", 3600.0),
        ("Air Concentration", "g / m^3", "1hr 0min average", "Boundary layer average",
         "Boundary layer average", 1.0),
        ("Dry deposition", "g / m^2", "1hr 0min integral", "", "", 40.0),
        ("Wet deposition", "g / m^2", "1hr 0min integral", "", "", 25.0),
        ("Deposition", "g / m^2", "1hr 0min integral", "", "", 65.0),
    ]
    cols = [(t, f) for t in range(len(times)) for f in range(len(fields))]
    n = len(cols)

    def line(first4, cells):
        return ",".join(f"{c:>24s}" for c in first4) + "," + ",".join(
            f"{c:>26s}" for c in cells) + ","

    head = [" NAME III (version 5.3)                    ",
            " Run name:                   Issue17_Release_03112009",
            " Run time:                   03/11/2009 23:57:12.652 UTC",
            " Met data:                   NWP Flow.analytic_flow",
            " Start of release:           03/11/2009 18:00 UTC",
            " End of release:             03/11/2009 21:00 UTC",
            " Source strength:            1.000000 g / s",
            " Release location:           4.9000W   50.3000N",
            " Release height:             5.000m agl +/- 5.000m",
            " Run duration:               3hr 0min",
            f" X grid origin:                {x0:.6f}    ",
            f" Y grid origin:                 {y0:.5f}    ",
            f" X grid size:                         {nx}",
            f" Y grid size:                         {ny}",
            f" X grid resolution:            {dx:.7E}",
            f" Y grid resolution:            {dy:.7E}",
            " Number of preliminary cols:            4",
            f" Number of field cols:                 {n}",
            " ", " Fields:"]
    rows = {
        "Species Category": ["CHEMISTRY-SPECIES"] * n,
        "Name": [f"Unnamed Field Req {f + 1}" for _, f in cols],
        "Quantity": [fields[f][0] for _, f in cols],
        "Species": ["TRACER"] * n,
        "Units": [fields[f][1] for _, f in cols],
        "Sources": ["All sources"] * n,
        "Ensemble Av": ["No ensemble averaging"] * n,
        "Time Av or Int": [fields[f][2] for _, f in cols],
        "Horizontal Av or Int": ["No horizontal averaging"] * n,
        "Vertical Av or Int": [fields[f][3] for _, f in cols],
        "Prob Perc": [""] * n, "Prob Perc Ens": [""] * n, "Prob Perc Time": [""] * n,
        "Time": [times[t] for t, _ in cols],
        "Z": [fields[f][4] for _, f in cols],
        "D": [""] * n,
    }
    lines = head + [line([""] * 4, cells) for cells in rows.values()]
    lines.append(line(["X Index", "Y Index", "X (Lat-Long)", "Y (Lat-Long)"], [""] * n))
    j, i = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
    conc = []  # (time, ny, nx) g/m^3, a plume drifting east
    for t in range(len(times)):
        cx, cy = 3.0 + 3.5 * t, 5.0 + 0.5 * t
        c = 2.0e-6 * np.exp(-((i - cx) ** 2 / (4.0 + 3.0 * t) + (j - cy) ** 2 / 3.0))
        conc.append(np.where(c < 1e-10, 0.0, c))
    for jj in range(ny):
        for ii in range(nx):
            vals = [conc[t][jj, ii] * fields[f][5] for t, f in cols]
            if not any(vals):
                continue
            first4 = [f"{ii + 1}", f"{jj + 1}", f"{x0 + ii * dx:.6f}", f"{y0 + jj * dy:.5f}"]
            lines.append(line(first4, [f"{v:.7E}" for v in vals]))
    path.write_text("\n".join(lines) + "\n")


def grids_and_fields(out: Path) -> None:
    """The three files of issue #17 (:data:`ISSUE_17`)."""
    cmip6_curvilinear(out / ISSUE_17[0])
    erai_month_axis(out / ISSUE_17[1])
    name_iii_five_fields(out / ISSUE_17[2])


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    ncl_hours_timedelta(out / "ncl_hours_timedelta.nc")
    wrf_int_offsets(out / "wrf_int_offsets.nc")
    city_box(out / "city_box_4x3.nc")
    winds_lon_axes(out / "winds_seam_0_360.nc", out / "winds_descending_lon.nc")
    grids_and_fields(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent)
