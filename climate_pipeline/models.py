"""Regional model output as CF: WRF ``wrfout`` files (WRF-Chem included) and CMAQ / IOAPI files.

Neither model writes CF. The NetCDF reader (:mod:`climate_pipeline.readers`) asks
:func:`open_model_output` first; for a file of one of these models it gets an
``xarray.Dataset`` in the CF form below, lazy (dask, one time step per chunk), and reads it
as any curvilinear CF file; for any other file it gets ``None`` and goes on as before.

* ``open_model_output(paths) -> xarray.Dataset | None`` (several files: along time)
* ``variable_table(path) -> [(name, standard_name), ...] | None``: the variables the
  dataset will have, from the header only (wind names for the particles)
* ``model_of(path) -> "wrf" | "ioapi" | None``; ``to_cf(ds)``, ``wrf_to_cf(ds)``,
  ``ioapi_to_cf(ds)``: the same from a Dataset already open (``decode_times=False``)
* helpers, tested on their own: ``destagger``, ``grid_to_earth``, ``earth_to_grid``,
  ``wrf_times``, ``wrf_rotation``, ``ioapi_times``, ``ioapi_lonlat``, ``ioapi_heights``,
  ``standard_atmosphere_height``

The CF form (both models)::

    dims     time, z, y, x
    time     (time) datetime64[ns], standard_name time
    z        (z) metres, positive up, standard_name height: height above ground of the
             model's levels (one number per level: the scene's map is flat)
    lat, lon (y, x) degrees, standard_name latitude / longitude
    fields   (time, z, y, x) or (time, y, x), attribute ``coordinates: lat lon``; units and
             long_name from the file (IOAPI's blank padding stripped)

WRF (global ``MAP_PROJ`` or a ``Times`` variable, dims west_east/south_north, XLAT/XLONG):

* lat/lon: ``XLAT``/``XLONG`` at the first time (a moving nest keeps its first position);
* time: ``Times`` (``b'2016-10-07_00:00:00'`` char arrays), else ``XTIME`` (minutes since
  the start, its own units), else none (steps);
* winds ``u``, ``v``, ``w`` (eastward_wind, northward_wind, upward_air_velocity, m s-1) on
  the mass points: ``U`` (west_east_stag) and ``V`` (south_north_stag) are the mean of the
  two faces of each cell, then turned to earth east/north with WRF's ``COSALPHA``/
  ``SINALPHA``: ``u_e = u cos - v sin``, ``v_n = v cos + u sin`` (files without them: the
  angle from the projection, as wrf-python's uvmet); ``W`` (bottom_top_stag) is the mean of
  the w-levels below and above. ``U10``/``V10`` become earth-relative ``u10``/``v10``;
* z: height **above ground** of the mass levels, ``(PH + PHB) / 9.81`` on the w-levels,
  averaged to the mass levels (mean of the two w-levels, as wrf-python's ``z``), less the
  lowest w-level (the terrain), averaged over the grid at the first time. Above ground, not
  above sea level: the levels follow the terrain, so one number per level fits every column
  best above ground, and the scene's map has no terrain to stand them on (the spread over
  the grid is at most a few per cent of the height for the lowest levels);
* every other variable on the mass points, 3-D (Time, bottom_top, south_north, west_east)
  or 2-D (Time, south_north, west_east), is kept under its own name: T, QVAPOR, the
  WRF-Chem species (``PM2_5_DRY``, ``o3``, ...), T2; staggered, soil and 1-D ones are not.
  Files of WRF's own tools without ``XLAT``/``XLONG`` (``geo_em``, ``met_em``) are left to
  the CF reader.

CMAQ / IOAPI (found by global ``GDTYP``, ``NCOLS``, ``NROWS`` with dims ROW/COL):

* lat/lon of the cell centres, ``XORIG + (i + 0.5) XCELL``, ``YORIG + (j + 0.5) YCELL`` in
  the grid's projection through pyproj, on IOAPI's sphere of radius 6,370,000 m: GDTYP 2
  Lambert conformal (``P_ALP``, ``P_BET`` standard parallels, ``P_GAM`` central meridian,
  ``XCENT``/``YCENT`` the origin), 6 polar stereographic, 7 equatorial Mercator, 1 lat-lon;
* time: ``TFLAG`` of the first variable (YYYYDDD, HHMMSS), else ``SDATE``/``STIME`` and
  ``TSTEP`` steps (HHMMSS);
* z: the middle of each layer between its ``VGLVLS`` interfaces, as a height above ground:
  sigma-pressure (VGTYP 1, 2, 7) ``p = VGTOP + sigma (p0 - VGTOP)`` with p0 = 1013.25 hPa,
  then the ICAO standard atmosphere's height of p; pressure levels (4) the same; height
  levels (5 above ground, 6 above sea level) as they are; any other: layer numbers;
* every variable on (TSTEP, LAY, ROW, COL) but ``TFLAG``, under its own name (O3, PM25_TOT).

Field order (both): particulate matter and ozone first (``PM2_5_DRY``, ``PM25_TOT``, ``PM10``,
``o3``/``O3``), then the other 3-D fields, the 2-D ones, the winds; each in file order.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.errors import BadInputError

__all__ = ["open_model_output", "variable_table", "model_of", "to_cf", "wrf_to_cf",
           "ioapi_to_cf", "destagger", "grid_to_earth", "earth_to_grid", "wrf_times",
           "wrf_rotation", "ioapi_times", "ioapi_lonlat", "ioapi_heights",
           "standard_atmosphere_height", "G", "IOAPI_EARTH_RADIUS", "WRF_EARTH_RADIUS"]

#: gravity WRF divides geopotential by (wrf-python's Constants.G)
G = 9.81
#: the sphere IOAPI (and so CMAQ) grids are defined on, and WRF's (metres)
IOAPI_EARTH_RADIUS = 6370000.0
WRF_EARTH_RADIUS = 6370000.0

_WRF_DIMS = {"Time": "time", "bottom_top": "z", "south_north": "y", "west_east": "x"}
_IOAPI_DIMS = {"TSTEP": "time", "LAY": "z", "ROW": "y", "COL": "x"}
_RESERVED = ("time", "z", "lat", "lon", "u", "v", "w", "u10", "v10")
_WIND_SN = {"u": "eastward_wind", "v": "northward_wind", "w": "upward_air_velocity"}


# ================================================================================ detection
def _header(path: str) -> tuple[dict, dict[str, tuple[str, ...]], set[str]] | None:
    """(global attributes, {variable: dims}, dims) of a NetCDF file, header only; None when
    netCDF4 cannot open it (the reader then says what is wrong)."""
    try:
        import netCDF4

        with netCDF4.Dataset(path) as nc:
            attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}
            return (attrs, {n: tuple(v.dimensions) for n, v in nc.variables.items()},
                    set(nc.dimensions))
    except Exception:
        return None


def _kind(attrs: Mapping, variables: Mapping[str, Sequence[str]], dims: set[str]) -> str | None:
    if ({"west_east", "south_north"} <= dims and ("MAP_PROJ" in attrs or "Times" in variables)
            and {"XLAT", "XLONG"} <= set(variables)):
        return "wrf"
    if {"ROW", "COL"} <= dims and {"GDTYP", "NCOLS", "NROWS"} <= set(attrs):
        return "ioapi"
    return None


def model_of(path: str | os.PathLike) -> str | None:
    """"wrf" for WRF output, "ioapi" for CMAQ/IOAPI files, None for anything else."""
    h = _header(os.fspath(path))
    return _kind(*h) if h else None


# ==================================================================================== public
def open_model_output(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> Any:
    """The CF form of WRF or CMAQ/IOAPI files (several: one dataset along time, in time
    order), lazy with one time step per chunk; None when the first file is neither."""
    import xarray as xr

    ps = [os.fspath(p) for p in ([paths] if isinstance(paths, str | os.PathLike) else paths)]
    if not ps:
        return None
    kinds = [model_of(p) for p in ps[:1]]
    if kinds[0] is None:
        return None
    kinds += [model_of(p) for p in ps[1:]]
    if len(set(kinds)) > 1:
        raise BadInputError(f"{', '.join(ps)}: {kinds[0]} output mixed with other files "
                            f"({dict(zip(ps, kinds, strict=True))}); expected files of one "
                            "model run")
    tdim = "Time" if kinds[0] == "wrf" else "TSTEP"
    parts = []
    for p in ps:
        try:
            raw = xr.open_dataset(p, chunks={tdim: 1}, decode_times=False,
                                  decode_timedelta=False)
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BadInputError(f"{p}: corrupt or unreadable {kinds[0].upper()} file "
                                f"({first}); expected NetCDF model output") from exc
        parts.append(to_cf(raw, where=p))
    if len(parts) == 1:
        return parts[0]
    if all(d.sizes["time"] and "time" in d.coords for d in parts):
        parts.sort(key=lambda d: d["time"].values[0])
    first = parts[0]
    parts = [first] + [d.assign_coords(z=first["z"].values, lat=first["lat"],
                                       lon=first["lon"]) for d in parts[1:]]
    return xr.concat(parts, dim="time", data_vars="minimal", coords="minimal",
                     compat="override", join="override", combine_attrs="override")


def variable_table(path: str | os.PathLike) -> list[tuple[str, str]] | None:
    """(name, standard_name) of the data variables :func:`open_model_output` gives for this
    file, from its header only; None when it is no WRF or IOAPI file."""
    h = _header(os.fspath(path))
    kind = _kind(*h) if h else None
    if h is None or kind is None:
        return None
    _, variables, _ = h
    if kind == "ioapi":
        return [(n, "") for n in _ioapi_fields(variables)]
    table = [(n, "") for n in _wrf_fields(variables)]
    winds = _wrf_winds(variables)
    table += [(n, _WIND_SN.get(n, "")) for n in winds]
    return table


def to_cf(ds: Any, where: str = "<memory>") -> Any:
    """``ds`` (opened with ``decode_times=False``) in the CF form when it is WRF or IOAPI
    output (by its attributes and dimensions), else ``ds`` itself."""
    kind = _kind(ds.attrs, {n: v.dims for n, v in ds.variables.items()}, set(map(str, ds.dims)))
    if kind == "wrf":
        return wrf_to_cf(ds, where)
    if kind == "ioapi":
        return ioapi_to_cf(ds, where)
    return ds


# ================================================================================= numerics
def destagger(a: Any, axis: int) -> Any:
    """Mean of neighbours along ``axis`` (n + 1 faces -> n cells): WRF's staggered winds
    and w-level quantities to mass points. numpy, dask or anything sliceable."""
    n = a.shape[axis]
    lo = [slice(None)] * a.ndim
    hi = [slice(None)] * a.ndim
    lo[axis], hi[axis] = slice(0, n - 1), slice(1, n)
    return (a[tuple(lo)] + a[tuple(hi)]) * 0.5


def grid_to_earth(u: Any, v: Any, cosalpha: Any, sinalpha: Any) -> tuple[Any, Any]:
    """Grid-relative (along x, along y) winds to earth east/north with WRF's COSALPHA and
    SINALPHA: ``u_e = u cos - v sin``, ``v_n = v cos + u sin``."""
    return u * cosalpha - v * sinalpha, v * cosalpha + u * sinalpha


def earth_to_grid(ue: Any, vn: Any, cosalpha: Any, sinalpha: Any) -> tuple[Any, Any]:
    """The inverse of :func:`grid_to_earth` (a rotation: its transpose)."""
    return ue * cosalpha + vn * sinalpha, vn * cosalpha - ue * sinalpha


def wrf_rotation(attrs: Mapping, lon: np.ndarray, lat: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(COSALPHA, SINALPHA) of a WRF grid from its projection, for files that lack them: the
    angle wrf-python's uvmet turns winds by, ``cone * (lon - STAND_LON)`` (sign of the
    latitude in the southern hemisphere), with the cone of the Lambert conformal projection
    (MAP_PROJ 1), 1 for polar stereographic (2) and 0 for Mercator and lat-lon (3, 6).
    WRF's SINALPHA is minus the sine of that angle."""
    proj = int(attrs.get("MAP_PROJ", 0))
    t1 = float(attrs.get("TRUELAT1", 0.0))
    t2 = float(attrs.get("TRUELAT2", t1))
    if proj == 1:
        r = np.radians
        if abs(t1 - t2) > 0.1:
            cone = (np.log10(np.cos(r(t1))) - np.log10(np.cos(r(t2)))) / (
                np.log10(np.tan(r(45.0 - abs(t1) / 2.0)))
                - np.log10(np.tan(r(45.0 - abs(t2) / 2.0))))
        else:
            cone = np.sin(r(abs(t1)))
    elif proj == 2:
        cone = 1.0
    else:
        cone = 0.0
    stand = float(attrs.get("STAND_LON", attrs.get("CEN_LON", 0.0)))
    d = (np.asarray(lon, np.float64) - stand + 180.0) % 360.0 - 180.0
    a = np.radians(np.where(np.asarray(lat) < 0, -d, d) * cone)
    return np.cos(a), -np.sin(a)


def _strings(a: Any) -> list[str]:
    a = np.asarray(a)
    if a.dtype.kind == "S" and a.ndim == 2 and a.dtype.itemsize == 1:  # raw char array
        return [b"".join(row).decode("ascii", "replace") for row in a]
    return [(x.decode("ascii", "replace") if isinstance(x, bytes) else str(x))
            for x in np.ravel(a)]


def wrf_times(times: Any) -> np.ndarray:
    """WRF ``Times`` (``b'2016-10-07_00:00:00'``, as strings or one char per element) as
    datetime64[ns]."""
    out = []
    for s in _strings(times):
        s = s.strip().strip("\x00").replace("_", "T")
        try:
            out.append(np.datetime64(s, "ns"))
        except ValueError as exc:
            raise BadInputError(f"WRF Times value {s!r}: expected YYYY-MM-DD_hh:mm:ss") from exc
    return np.array(out, "datetime64[ns]")


def _yyyyddd_hhmmss(date: int, time: int) -> datetime.datetime:
    year, ddd = divmod(int(date), 1000)
    hh, rest = divmod(int(time), 10000)
    mm, ss = divmod(rest, 100)
    return (datetime.datetime(year, 1, 1) + datetime.timedelta(
        days=ddd - 1, hours=hh, minutes=mm, seconds=ss))


def _hhmmss_seconds(step: int) -> int:
    sign = -1 if step < 0 else 1
    hh, rest = divmod(abs(int(step)), 10000)
    mm, ss = divmod(rest, 100)
    return sign * (hh * 3600 + mm * 60 + ss)


def ioapi_times(attrs: Mapping, tflag: Any = None, nt: int | None = None) -> np.ndarray | None:
    """Times of an IOAPI file as datetime64[ns]: ``TFLAG[t, 0, :]`` (YYYYDDD, HHMMSS) when
    given (``tflag`` of shape (nt, nvars, 2) or (nt, 2)), else ``SDATE``/``STIME`` plus
    t * ``TSTEP`` (HHMMSS) for ``nt`` steps. None for a time-independent file (TSTEP 0,
    SDATE year 0 or the -635 IOAPI writes for none)."""
    if tflag is not None:
        tf = np.asarray(tflag)
        tf = tf[:, 0, :] if tf.ndim == 3 else tf
        if tf.size and not np.all(tf[:, 0] <= 0) and np.all(tf[:, 0] >= 1000):
            return np.array([_yyyyddd_hhmmss(d, t) for d, t in tf], "datetime64[ns]")
    sdate, stime = int(attrs.get("SDATE", 0)), int(attrs.get("STIME", 0))
    step = _hhmmss_seconds(int(attrs.get("TSTEP", 0)))
    if sdate < 1000:
        return None
    n = 1 if nt is None else int(nt)
    if step == 0 and n > 1:
        return None
    t0 = np.datetime64(_yyyyddd_hhmmss(sdate, stime), "ns")
    return t0 + np.arange(n) * np.timedelta64(step, "s")


def _ioapi_crs(attrs: Mapping, where: str) -> Any:
    import pyproj

    gdtyp = int(attrs.get("GDTYP", -1))
    a, b, g = (float(attrs.get(k, 0.0)) for k in ("P_ALP", "P_BET", "P_GAM"))
    sphere = f"+a={IOAPI_EARTH_RADIUS:.1f} +b={IOAPI_EARTH_RADIUS:.1f} +units=m +no_defs"
    if gdtyp == 2:      # LAMGRD3
        s = f"+proj=lcc +lat_1={a} +lat_2={b} +lat_0={float(attrs['YCENT'])} +lon_0={g}"
    elif gdtyp == 6:    # POLGRD3: P_ALP = 1 north / -1 south, P_BET true-scale latitude
        s = f"+proj=stere +lat_0={90.0 if a >= 0 else -90.0} +lat_ts={b} +lon_0={g}"
    elif gdtyp == 7:    # EQMGRD3: P_ALP true-scale latitude, P_GAM central meridian
        s = f"+proj=merc +lat_ts={a} +lon_0={g}"
    else:
        raise BadInputError(f"{where}: IOAPI GDTYP {gdtyp} is not supported; expected 1 "
                            "(lat-lon), 2 (Lambert), 6 (polar stereographic) or 7 (Mercator)")
    return pyproj.CRS.from_proj4(f"{s} {sphere}")


def ioapi_lonlat(attrs: Mapping, where: str = "<memory>") -> tuple[np.ndarray, np.ndarray]:
    """(lon, lat) of the cell centres of an IOAPI grid, each (NROWS, NCOLS), row 0 south."""
    import pyproj

    nrows, ncols = int(attrs["NROWS"]), int(attrs["NCOLS"])
    xc = float(attrs["XORIG"]) + (np.arange(ncols) + 0.5) * float(attrs["XCELL"])
    yc = float(attrs["YORIG"]) + (np.arange(nrows) + 0.5) * float(attrs["YCELL"])
    xx, yy = np.meshgrid(xc, yc)
    if int(attrs.get("GDTYP", -1)) == 1:  # LATGRD3: already degrees
        return xx, yy
    crs = _ioapi_crs(attrs, where)
    geog = pyproj.CRS.from_proj4(f"+proj=longlat +a={IOAPI_EARTH_RADIUS:.1f} "
                                 f"+b={IOAPI_EARTH_RADIUS:.1f} +no_defs")
    to_xy = pyproj.Transformer.from_crs(geog, crs, always_xy=True)
    # the Cartesian origin is (XCENT, YCENT), which need not be on the central meridian
    x0, y0 = to_xy.transform(float(attrs.get("XCENT", attrs.get("P_GAM", 0.0))),
                             float(attrs.get("YCENT", 0.0)))
    lon, lat = pyproj.Transformer.from_crs(crs, geog, always_xy=True).transform(
        xx + x0, yy + y0)
    return np.asarray(lon, np.float64), np.asarray(lat, np.float64)


def standard_atmosphere_height(p_pa: Any) -> np.ndarray:
    """Height (m) of pressure ``p_pa`` in the ICAO standard atmosphere (troposphere to 11 km,
    isothermal above, to 20 km and beyond)."""
    p = np.asarray(p_pa, np.float64)
    t0, lapse, p0, r, g = 288.15, 0.0065, 101325.0, 287.05287, 9.80665
    p11 = p0 * (1.0 - lapse * 11000.0 / t0) ** (g / (r * lapse))
    tropo = t0 / lapse * (1.0 - (p / p0) ** (r * lapse / g))
    strato = 11000.0 + r * 216.65 / g * np.log(p11 / p)
    return np.where(p >= p11, tropo, strato)


def ioapi_heights(attrs: Mapping, nlay: int) -> tuple[np.ndarray, dict]:
    """(height of each layer's middle, the attributes of that coordinate). See the module
    docstring for what each VGTYP gives."""
    vgtyp = int(attrs.get("VGTYP", -9999))
    lv = np.atleast_1d(np.asarray(attrs.get("VGLVLS", []), np.float64))
    mid = 0.5 * (lv[:-1] + lv[1:]) if lv.size == nlay + 1 else (lv if lv.size == nlay else None)
    base = {"axis": "Z", "positive": "up"}
    if mid is not None and vgtyp in (1, 2, 7):
        top = float(attrs.get("VGTOP", 5000.0))
        p = top + mid * (101325.0 - top)
        return standard_atmosphere_height(p), {
            **base, "units": "m", "standard_name": "height",
            "long_name": "height above ground of the layer middle (sigma-pressure layers in "
                         "the standard atmosphere, surface at 1013.25 hPa)"}
    if mid is not None and vgtyp == 4:
        p = mid if mid.max() > 2000.0 else mid * 100.0
        return standard_atmosphere_height(p), {
            **base, "units": "m", "standard_name": "height",
            "long_name": "height of the pressure level in the standard atmosphere"}
    if mid is not None and vgtyp in (5, 6):
        return mid, {**base, "units": "m", "standard_name": "height",
                     "long_name": "height of the layer middle" +
                                  (" above ground" if vgtyp == 5 else " above sea level")}
    return np.arange(1.0, nlay + 1.0), {**base, "units": "1",
                                        "standard_name": "model_level_number",
                                        "long_name": f"layer (VGTYP {vgtyp})"}


# ====================================================================================== WRF
#: fields put first (air quality is what these runs are for): a reader that takes the first
#: field by default shows particulate matter, then ozone
_FIRST = ("PM2_5_DRY", "PM25_TOT", "PM25", "PM2_5", "PM10", "PM10_TOT", "o3", "O3")


def _ordered(names: list[str], ndim: Mapping[str, int]) -> list[str]:
    """Particulate matter and ozone first (:data:`_FIRST`), then the other 3-D fields, then
    the 2-D ones, each in file order."""
    first = [n for n in _FIRST if n in names]
    rest = [n for n in names if n not in first]
    return first + [n for n in rest if ndim[n] == 4] + [n for n in rest if ndim[n] != 4]


def _wrf_fields(variables: Mapping[str, Sequence[str]]) -> list[str]:
    """The WRF variables kept under their own names: on the mass points, 3-D or 2-D."""
    keep = []
    for n, dims in variables.items():
        d = tuple(dims)
        if n in ("XLAT", "XLONG", "COSALPHA", "SINALPHA", "U10", "V10") or n in _RESERVED:
            continue
        if d in (("Time", "bottom_top", "south_north", "west_east"),
                 ("Time", "south_north", "west_east")):
            keep.append(n)
    return _ordered(keep, {n: len(variables[n]) for n in keep})


def _wrf_winds(variables: Mapping[str, Sequence[str]]) -> list[str]:
    out = [n for n, raw in (("u", "U"), ("v", "V")) if raw in variables]
    if len(out) < 2:
        return []
    out += ["w"] if "W" in variables else []
    if "U10" in variables and "V10" in variables:
        out += ["u10", "v10"]
    return out


def _text(v: Any) -> str:
    return str(v).strip() if isinstance(v, str) else str(v)


def _field_attrs(attrs: Mapping) -> dict:
    """A field's attributes: blank padding stripped (IOAPI), WRF's ``description`` or
    IOAPI's ``var_desc`` as long_name (IOAPI's long_name is the variable's name again),
    ``coordinates: lat lon``."""
    out = {k: _text(v) if isinstance(v, str) else v for k, v in attrs.items()
           if k not in ("coordinates", "stagger", "FieldType", "MemoryOrder", "_FillValue",
                        "missing_value")}
    desc = str(attrs.get("description", attrs.get("var_desc", ""))).strip()
    if desc:
        out["long_name"] = desc
    out["coordinates"] = "lat lon"
    return out


def wrf_to_cf(ds: Any, where: str = "<memory>") -> Any:
    """A wrfout Dataset (opened with ``decode_times=False``, best chunked along Time) in the
    CF form of the module docstring."""
    import xarray as xr

    variables = {n: tuple(map(str, v.dims)) for n, v in ds.variables.items()}
    if "XLAT" not in ds.variables or "XLONG" not in ds.variables:
        raise BadInputError(f"{where}: WRF output without XLAT/XLONG; expected the 2-D "
                            "latitude and longitude of the mass points")
    nt = int(ds.sizes.get("Time", 1))

    def first(name: str) -> np.ndarray:
        a = ds[name]
        a = a.isel(Time=0) if "Time" in a.dims else a
        return np.asarray(a.values, np.float64)

    lat, lon = first("XLAT"), first("XLONG")
    if "COSALPHA" in ds.variables and "SINALPHA" in ds.variables:
        cosa, sina = first("COSALPHA"), first("SINALPHA")
    else:
        cosa, sina = wrf_rotation(ds.attrs, lon, lat)
    times = None
    if "Times" in ds.variables:
        times = wrf_times(ds["Times"].values)
    elif "XTIME" in ds.variables and " since " in str(ds["XTIME"].attrs.get("units", "")):
        import cftime

        xt = ds["XTIME"]
        dts = cftime.num2date(np.asarray(xt.values, np.float64), xt.attrs["units"],
                              only_use_cftime_datetimes=False,
                              only_use_python_datetimes=True)
        times = np.array(list(np.ravel(dts)), "datetime64[ns]")
    if times is not None and times.size != nt:
        raise BadInputError(f"{where}: {times.size} Times for {nt} time steps; expected one "
                            "per step")

    out: dict[str, Any] = {}
    for n in _wrf_fields(variables):
        da = ds[n]
        out[n] = xr.Variable(tuple(_WRF_DIMS[d] for d in da.dims), da.data,
                             _field_attrs(da.attrs))
    winds = _wrf_winds(variables)
    if winds:
        cos32 = cosa.astype(np.float32)
        sin32 = sina.astype(np.float32)
        u = destagger(ds["U"].data, 3)
        v = destagger(ds["V"].data, 2)
        ue, vn = grid_to_earth(u, v, cos32, sin32)
        dims4 = ("time", "z", "y", "x")
        desc = "earth-relative, on the mass points (destaggered, turned with COSALPHA/SINALPHA)"
        out["u"] = xr.Variable(dims4, ue, {"units": "m s-1", "standard_name": "eastward_wind",
                                           "long_name": f"eastward wind ({desc})",
                                           "coordinates": "lat lon"})
        out["v"] = xr.Variable(dims4, vn, {"units": "m s-1",
                                           "standard_name": "northward_wind",
                                           "long_name": f"northward wind ({desc})",
                                           "coordinates": "lat lon"})
        if "w" in winds:
            out["w"] = xr.Variable(dims4, destagger(ds["W"].data, 1), {
                "units": "m s-1", "standard_name": "upward_air_velocity",
                "long_name": "upward wind on the mass levels (mean of the w-levels)",
                "coordinates": "lat lon"})
        if "u10" in winds:
            e10, n10 = grid_to_earth(ds["U10"].data, ds["V10"].data, cos32, sin32)
            for name, arr, what in (("u10", e10, "eastward"), ("v10", n10, "northward")):
                out[name] = xr.Variable(("time", "y", "x"), arr, {
                    "units": "m s-1", "long_name": f"10 m {what} wind (earth-relative)",
                    "coordinates": "lat lon"})
    nz = int(ds.sizes.get("bottom_top", 0))
    coords: dict[str, Any] = {
        "lat": (("y", "x"), lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": (("y", "x"), lon, {"units": "degrees_east", "standard_name": "longitude"}),
    }
    if nz:
        coords["z"] = ("z", _wrf_heights(ds, nz, where), {
            "units": "m", "positive": "up", "axis": "Z", "standard_name": "height",
            "long_name": "height above ground of the mass levels (mean over the grid, "
                         "first time; (PH+PHB)/9.81 averaged from the w-levels)"})
    if times is not None:
        coords["time"] = ("time", times, {"standard_name": "time", "axis": "T"})
    attrs = {k: v for k, v in ds.attrs.items()}
    attrs["source_model"] = "WRF"
    return xr.Dataset(out, coords=coords, attrs=attrs)


def _wrf_heights(ds: Any, nz: int, where: str) -> np.ndarray:
    """Height above ground (m) of the mass levels, mean over the grid at the first time;
    files without PH/PHB: ZNU eta levels through the standard atmosphere (surface 1013.25
    hPa, top P_TOP), else level numbers."""
    if "PH" in ds.variables and "PHB" in ds.variables:
        ph = ds["PH"].isel(Time=0) if "Time" in ds["PH"].dims else ds["PH"]
        phb = ds["PHB"].isel(Time=0) if "Time" in ds["PHB"].dims else ds["PHB"]
        zw = (np.asarray(ph.values, np.float64) + np.asarray(phb.values, np.float64)) / G
        if zw.shape[0] != nz + 1:
            raise BadInputError(f"{where}: PH has {zw.shape[0]} levels for {nz} mass levels; "
                                "expected bottom_top_stag = bottom_top + 1")
        zm = destagger(zw, 0) - zw[0][None]
        return zm.reshape(nz, -1).mean(axis=1)
    if "ZNU" in ds.variables:
        znu = np.ravel(np.asarray(ds["ZNU"].values, np.float64))[:nz]
        top = float(np.ravel(np.asarray(ds["P_TOP"].values))[0]) if "P_TOP" in ds else 5000.0
        return standard_atmosphere_height(top + znu * (101325.0 - top))
    return np.arange(1.0, nz + 1.0)


# ==================================================================================== IOAPI
def _ioapi_fields(variables: Mapping[str, Sequence[str]]) -> list[str]:
    keep = [n for n, d in variables.items()
            if tuple(d) == ("TSTEP", "LAY", "ROW", "COL") and n != "TFLAG" and n not in _RESERVED]
    return _ordered(keep, {n: 4 for n in keep})


def ioapi_to_cf(ds: Any, where: str = "<memory>") -> Any:
    """A CMAQ/IOAPI Dataset (opened with ``decode_times=False``) in the CF form of the
    module docstring."""
    import xarray as xr

    a = ds.attrs
    try:
        lon, lat = ioapi_lonlat(a, where)
    except KeyError as exc:
        raise BadInputError(f"{where}: IOAPI grid attribute {exc} missing; expected GDTYP, "
                            "P_ALP/P_BET/P_GAM, XCENT/YCENT, XORIG/YORIG, XCELL/YCELL, "
                            "NCOLS/NROWS") from exc
    if lon.shape != (ds.sizes["ROW"], ds.sizes["COL"]):
        raise BadInputError(f"{where}: NROWS x NCOLS {lon.shape} differ from the ROW x COL "
                            f"dimensions ({ds.sizes['ROW']}, {ds.sizes['COL']})")
    nt = int(ds.sizes.get("TSTEP", 1))
    tflag = np.asarray(ds["TFLAG"].values) if "TFLAG" in ds.variables else None
    times = ioapi_times(a, tflag, nt)
    nlay = int(ds.sizes.get("LAY", 1))
    z, zattrs = ioapi_heights(a, nlay)
    out = {n: xr.Variable(("time", "z", "y", "x"), ds[n].data, _field_attrs(ds[n].attrs))
           for n in _ioapi_fields({n: tuple(map(str, v.dims)) for n, v in ds.variables.items()})}
    coords: dict[str, Any] = {
        "lat": (("y", "x"), lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": (("y", "x"), lon, {"units": "degrees_east", "standard_name": "longitude"}),
        "z": ("z", z, zattrs),
    }
    if times is not None and times.size == nt:
        coords["time"] = ("time", times, {"standard_name": "time", "axis": "T"})
    attrs = {k: (v.strip() if isinstance(v, str) else v) for k, v in a.items()}
    attrs["source_model"] = "CMAQ/IOAPI"
    return xr.Dataset(out, coords=coords, attrs=attrs)
