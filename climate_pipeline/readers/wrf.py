"""WRF ``wrfout`` files (WRF-Chem included) in the CF form of
:mod:`climate_pipeline.readers.models` (which the NetCDF reader asks first).

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
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from climate_pipeline.readers.common import (
    MODEL_RESERVED,
    field_attrs,
    ordered_fields,
    standard_atmosphere_height,
)
from core.errors import BadInputError

__all__ = ["is_wrf", "wrf_variables", "wrf_to_cf", "destagger", "grid_to_earth",
           "earth_to_grid", "wrf_times", "wrf_rotation", "G", "WRF_EARTH_RADIUS"]

#: gravity WRF divides geopotential by (wrf-python's Constants.G)
G = 9.81
#: the sphere WRF's grids are defined on (metres)
WRF_EARTH_RADIUS = 6370000.0
#: the dimension WRF steps along
TIME_DIM = "Time"

_WRF_DIMS = {"Time": "time", "bottom_top": "z", "south_north": "y", "west_east": "x"}
_WIND_SN = {"u": "eastward_wind", "v": "northward_wind", "w": "upward_air_velocity"}


def is_wrf(attrs: Mapping, variables: Mapping[str, Sequence[str]], dims: set[str]) -> bool:
    """Whether a NetCDF header (global attributes, {variable: dims}, dims) is WRF output."""
    return bool({"west_east", "south_north"} <= dims
                and ("MAP_PROJ" in attrs or "Times" in variables)
                and {"XLAT", "XLONG"} <= set(variables))


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


# ================================================================================= fields
def _wrf_fields(variables: Mapping[str, Sequence[str]]) -> list[str]:
    """The WRF variables kept under their own names: on the mass points, 3-D or 2-D."""
    keep = []
    for n, dims in variables.items():
        d = tuple(dims)
        if n in ("XLAT", "XLONG", "COSALPHA", "SINALPHA", "U10", "V10") or n in MODEL_RESERVED:
            continue
        if d in (("Time", "bottom_top", "south_north", "west_east"),
                 ("Time", "south_north", "west_east")):
            keep.append(n)
    return ordered_fields(keep, {n: len(variables[n]) for n in keep})


def _wrf_winds(variables: Mapping[str, Sequence[str]]) -> list[str]:
    out = [n for n, raw in (("u", "U"), ("v", "V")) if raw in variables]
    if len(out) < 2:
        return []
    out += ["w"] if "W" in variables else []
    if "U10" in variables and "V10" in variables:
        out += ["u10", "v10"]
    return out


def wrf_variables(variables: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """(name, standard_name) of the variables :func:`wrf_to_cf` gives, from the header's
    {variable: dims}."""
    table = [(n, "") for n in _wrf_fields(variables)]
    winds = _wrf_winds(variables)
    table += [(n, _WIND_SN.get(n, "")) for n in winds]
    return table


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
                             field_attrs(da.attrs))
    out.update(_earth_winds(ds, _wrf_winds(variables), cosa, sina))
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


def _earth_winds(ds: Any, winds: list[str], cosa: np.ndarray, sina: np.ndarray) -> dict:
    """The wind variables ``winds`` (:func:`_wrf_winds`) on the mass points, earth-relative
    (turned with COSALPHA/SINALPHA ``cosa``, ``sina``)."""
    import xarray as xr

    out: dict[str, Any] = {}
    if not winds:
        return out
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
    return out


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

