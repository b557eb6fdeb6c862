"""CF-NetCDF (classic, 64-bit offset, CDF-5; NetCDF-4/HDF5) through xarray + dask, lazy:
:class:`NetCDFReader`, and :func:`field_from_dataset` for an ``xarray.Dataset`` already open.

Axes are found from CF attributes (axis, standard_name, units, positive), not only names.
A curvilinear grid's horizontal dimensions are those of the 2-D latitude/longitude its
variable's CF ``coordinates`` attribute names (``j, i``, ``dim0, dim1``: any names); a
leading dimension that is none of time, vertical, y, x (``month`` without units,
``realization``, ``member``, a unitless ``step``) is the frame axis when there is no time
(one log line says so). WRF and CMAQ/IOAPI output is read in its CF form
(:mod:`climate_pipeline.readers.models`).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import numpy as np

from climate_pipeline import geo
from climate_pipeline.data import Field
from climate_pipeline.readers import models
from climate_pipeline.readers.base import Reader
from climate_pipeline.readers.common import (
    LENGTH_UNITS,
    PRESSURE_UNITS,
    VAR_SYNTAX,
    WIND_NAMES,
    WIND_STANDARD_NAMES,
    no_member,
    norm_units,
    normalize_times,
    say,
    source_attrs,
    split_occurrence,
)
from core.errors import BadInputError

__all__ = ["NetCDFReader", "field_from_dataset"]

_TIME_NAMES = ("time", "t", "times", "valid_time")
_LON_UNITS = ("degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese")
_LAT_UNITS = ("degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn")
_MODEL_LEVEL_SN = ("atmosphere_hybrid_height_coordinate", "atmosphere_sigma_coordinate",
                   "atmosphere_hybrid_sigma_pressure_coordinate", "model_level_number",
                   "atmosphere_ln_pressure_coordinate", "atmosphere_sleve_coordinate")


def _attrs(obj: Any) -> dict:
    d = dict(getattr(obj, "encoding", {}) or {})
    d.update(getattr(obj, "attrs", {}) or {})
    return d


def _axis_of(name: str, c: Any) -> str | None:
    """'T', 'Z', 'Y', 'X' or None for a coordinate variable, from CF attributes first."""
    a = _attrs(c)
    axis = str(a.get("axis", "")).upper()
    if axis in ("T", "Z", "Y", "X"):
        return axis
    sn = str(a.get("standard_name", "")).lower()
    units = norm_units(a.get("units"))
    if sn == "time" or np.issubdtype(c.dtype, np.datetime64) or " since " in str(
            a.get("units", "")) or (c.dtype == object and c.size and
                                    hasattr(np.ravel(c.values)[0], "calendar")):
        return "T"
    if sn in ("longitude", "grid_longitude", "projection_x_coordinate") or units in _LON_UNITS:
        return "X"
    if sn in ("latitude", "grid_latitude", "projection_y_coordinate") or units in _LAT_UNITS:
        return "Y"
    if ("positive" in a or sn in _MODEL_LEVEL_SN or sn in ("air_pressure", "height", "altitude",
                                                           "flight_level", "model_level_number")
            or units in PRESSURE_UNITS):
        return "Z"
    n = name.lower()
    if n in _TIME_NAMES:
        return "T"
    if n in ("lon", "longitude", "x", "rlon", "grid_longitude"):
        return "X"
    if n in ("lat", "latitude", "y", "rlat", "grid_latitude"):
        return "Y"
    if n in ("lev", "level", "levels", "z", "height", "plev", "pressure", "altitude", "fl"):
        return "Z"
    return None


#: names of 2-D latitude/longitude variables that carry neither a standard_name nor CF units
_LAT2D_NAMES = ("lat", "latitude", "nav_lat", "xlat", "xlat_m", "lat_rho", "tlat", "geolat",
                "lat2d")
_LON2D_NAMES = ("lon", "longitude", "nav_lon", "xlong", "xlong_m", "lon_rho", "tlon", "tlong",
                "geolon", "lon2d")


def _lonlat_kind(name: str, c: Any) -> str | None:
    """'lat' or 'lon' for a true latitude/longitude variable (by standard_name, then CF
    units, then name), else None (``grid_latitude``, projection coordinates, ...)."""
    a = _attrs(c)
    sn = str(a.get("standard_name", "")).lower()
    if sn in ("latitude", "longitude"):
        return sn[:3]
    if sn:
        return None
    units = norm_units(a.get("units"))
    if units in _LAT_UNITS:
        return "lat"
    if units in _LON_UNITS:
        return "lon"
    n = name.lower()
    return "lat" if n in _LAT2D_NAMES else "lon" if n in _LON2D_NAMES else None


def _lonlat_dims(ds: Any, da: Any) -> tuple[str, str] | None:
    """(y, x): the dimensions of the 2-D latitude and longitude that the variable's CF
    ``coordinates`` attribute names (or that are among its coordinates), whatever the
    dimensions are called (``j, i`` in CMIP6 ocean files, ``dim0, dim1``, ``nj, ni``); y is
    the one of the two that comes first in the variable's dimensions. None: no such pair."""
    names = str(_attrs(da).get("coordinates", "")).split()
    names += [str(n) for n in da.coords if str(n) not in names]
    dims = [str(d) for d in da.dims]
    found: dict[str, Any] = {}
    for n in names:
        c = da.coords[n] if n in da.coords else ds.variables[n] if n in ds.variables else None
        if c is None or c.ndim != 2 or not {str(d) for d in c.dims} <= set(dims):
            continue
        kind = _lonlat_kind(n, c)
        if kind is not None:
            found.setdefault(kind, c)
    if len(found) != 2 or set(found["lat"].dims) != set(found["lon"].dims):
        return None
    y, x = sorted((str(d) for d in found["lat"].dims), key=dims.index)
    return y, x


def _dim_axis(da: Any, d: Any, hd: tuple[str, str] | None) -> str | None:
    """'T', 'Z', 'Y', 'X' or None for dimension ``d`` of ``da``: its coordinate variable's
    CF attributes, else (no coordinate variable) its name, else the dimensions of the 2-D
    latitude/longitude ``hd`` (:func:`_lonlat_dims`)."""
    c = da.coords[d] if d in da.coords else None
    ax = _axis_of(str(d), c) if c is not None else None
    if ax is None and c is None:
        n = str(d).lower()
        ax = ("T" if n in _TIME_NAMES else "X" if n in ("x", "lon", "rlon", "ni", "nx", "i",
                                                       "west_east", "west_east_stag")
              else "Y" if n in ("y", "lat", "rlat", "nj", "ny", "j", "south_north",
                                "south_north_stag")
              else "Z" if n in ("z", "lev", "level", "nz", "k", "bottom_top",
                                "bottom_top_stag") else None)
    if ax is None and hd is not None and str(d) in hd:
        ax = "Y" if str(d) == hd[0] else "X"
    return ax


def _frame_dim(ds: Any, da: Any) -> tuple[str | None, bool]:
    """The dimension the frames step along: (the CF time dimension, False); else, with no
    time, (a leading dimension that is none of vertical, y, x, True): ``month`` without
    units (ERA-Interim monthly means), ``realization``, ``member``, a unitless ``step``;
    else (None, False)."""
    dims = [str(d) for d in da.dims]
    t = next((d for d in dims if d in da.coords and _axis_of(d, da.coords[d]) == "T"), None)
    t = t or next((d for d in dims if d.lower() in _TIME_NAMES), None)
    if t is not None:
        return t, False
    big = [d for d in dims if da.sizes[d] > 1]
    if len(big) >= 3 and _dim_axis(da, big[0], _lonlat_dims(ds, da)) is None:
        return big[0], True
    return None, False


def _bounded_chunk_cache() -> None:
    """netCDF-C keeps a chunk cache per open variable, 64 MiB by default: a file chunked one
    time step per chunk that is read step by step fills it with up to 64 MiB of past steps
    per variable (u, v, w and the field: +200 MB over 48 steps of a 10 x 120 x 240 grid), so
    memory grew with the number of steps. We read each chunk once, so a small cache costs no
    speed: 1/64 of the task's memory budget per variable, at most 16 MiB."""
    import netCDF4

    from core.memory import budget_bytes

    size = int(min(16 * 2**20, budget_bytes() // 64))
    if netCDF4.get_chunk_cache()[0] != size:
        netCDF4.set_chunk_cache(size=size)


def _open_netcdf(ps: list[str], var: str | None, standard_name: str | None,
                 allow_no_time: bool, member: int | None) -> Field:
    import xarray as xr

    from core.integrity import check_file

    for p in ps:  # truncated? (classic NetCDF reads missing bytes as data)
        check_file(p)
    no_member(ps, member)
    _bounded_chunk_cache()
    coder = xr.coders.CFDatetimeCoder(use_cftime=True)
    where = ", ".join(ps)
    model = models.open_model_output(ps)  # WRF wrfout, CMAQ/IOAPI: their CF form; else None
    if model is not None:
        return _field_from_xarray(model, _select(model, where, var, standard_name), ps,
                                  allow_no_time)
    # Probe the first file (lazy, no dask) to find the variable and its time dimension, so the
    # real open chunks one time step per chunk whatever the dimension is called.
    try:
        probe = xr.open_dataset(ps[0], decode_times=coder, decode_timedelta=False)
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise BadInputError(f"{ps[0]}: corrupt or unreadable NetCDF file "
                            f"({type(exc).__name__}: {first}); expected a CF-NetCDF file"
                            ) from exc
    try:
        name = _select(probe, ps[0], var, standard_name)
        tdim = _frame_dim(probe, probe[name])[0]  # time, or a leading month/member axis
    finally:
        probe.close()
    chunks: dict = {tdim: 1} if tdim else {}
    try:
        if len(ps) == 1:
            ds = xr.open_dataset(ps[0], chunks=chunks, decode_times=coder,
                                 decode_timedelta=False)
        else:
            kw: dict[str, Any] = dict(chunks=chunks, decode_times=coder, decode_timedelta=False,
                      data_vars="minimal", coords="minimal", compat="override",
                      join="override")
            try:
                ds = xr.open_mfdataset(ps, combine="by_coords", **kw)
            except Exception:
                if not tdim:
                    raise
                ds = xr.open_mfdataset(ps, combine="nested", concat_dim=tdim, **kw)
    except PermissionError:
        raise
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(f"{where}: variable {name!r}: cannot open/combine the files "
                            f"({msg}); expected CF-NetCDF files that concatenate along time"
                            ) from exc
    return _field_from_xarray(ds, name, ps, allow_no_time)

def _candidates(ds: Any) -> list[str]:
    refs: set[str] = set()
    for v in ds.variables.values():
        a = _attrs(v)
        for key in ("bounds", "climatology", "grid_mapping", "coordinates", "cell_measures"):
            if key in a:
                refs.update(str(a[key]).replace(":", " ").split())
        if "formula_terms" in a:
            refs.update(str(a["formula_terms"]).split()[1::2])
    return [n for n, v in ds.data_vars.items() if v.ndim >= 2 and n not in refs]


def _select(ds: Any, path: str, var: str | None, standard_name: str | None) -> str:
    there = ", ".join(f"{n} ({_attrs(v).get('standard_name', '-')})"
                      for n, v in ds.data_vars.items())
    if var is not None:
        if var in ds.data_vars:
            return var
        # a CF standard_name, or NAME#N: NetCDF names are unique, so N counts the variables
        # of that name (one) or else of that standard_name, in file order
        base, k = split_occurrence(var)
        named = [str(base)] if base in ds.data_vars else [
            n for n in _candidates(ds) if _attrs(ds[n]).get("standard_name") == base]
        if k is not None and 1 <= k <= len(named):
            return named[k - 1]
        if k is None and named:
            if len(named) > 1:
                say(f"{path}: {len(named)} variables have standard_name {base!r}: using the "
                     f"first in the file, {named[0]!r} (also {', '.join(named[1:])}; choose "
                     f"with {VAR_SYNTAX})")
            return named[0]
        raise BadInputError(f"{path}: variable {var!r} not found"
                            + (f": {len(named)} variable(s) named {base!r} ("
                               + ", ".join(f"{base}#{i + 1} = {n}" for i, n in
                                           enumerate(named)) + ")" if k is not None else "")
                            + f"; variables there: {there}; choose with {VAR_SYNTAX}")
    if standard_name is not None:
        hits = [n for n, v in ds.data_vars.items()
                if _attrs(v).get("standard_name") == standard_name]
        if len(hits) == 1:
            return hits[0]
        if not hits:
            raise BadInputError(f"{path}: no variable with standard_name {standard_name!r}; "
                                f"variables there: {there}")
        raise BadInputError(f"{path}: several variables with standard_name {standard_name!r}: "
                            f"{hits}; pass a variable name")
    cands = _candidates(ds)
    if len(cands) == 1:
        return cands[0]
    if not cands:
        raise BadInputError(f"{path}: no data variables with two or more dimensions to draw; "
                            f"pass a variable name ({VAR_SYNTAX}); variables there: {there}")
    # several: the first in file order, the wind components last (they drive the particles)
    winds = {n for trio in WIND_NAMES for n in trio if n} | {
        n for n in cands if _attrs(ds[n]).get("standard_name") in
        {sn for trio in WIND_STANDARD_NAMES for sn in trio}}
    chosen = next((n for n in cands if n not in winds), cands[0])
    say(f"{path}: {len(cands)} data variables; drawing the first, {chosen!r} (also "
         f"{', '.join(n for n in cands if n != chosen)}; choose with {VAR_SYNTAX})")
    return chosen


def _axes(ds: Any, da: Any, where: str,
          notes: list[str]) -> tuple[Any, dict[str, str], str | None]:
    """(``da`` without its other dimensions of length 1, {"T"/"Z"/"Y"/"X": dimension}, the
    frame axis: a leading dimension that is not CF time, or None)."""
    axes: dict[str, str] = {}
    # horizontal dims of a curvilinear grid: those of the 2-D lat/lon (CF coordinates attribute)
    hd = _lonlat_dims(ds, da)
    unknown: list[str] = []
    for d in da.dims:
        ax = _dim_axis(da, d, hd)
        if ax is None or ax in axes:
            if da.sizes[d] == 1:
                da = da.isel({d: 0}, drop=True)
                continue
            if ax is None:
                unknown.append(str(d))
                continue
            raise BadInputError(f"{where}: cannot identify dimension {d!r} as time, vertical, "
                                "y or x (expected CF axis/standard_name/units attributes)")
        axes[ax] = d
    frame_axis = None
    if unknown:
        d = unknown[0]
        if "T" in axes or len(unknown) > 1 or d != str(da.dims[0]):
            raise BadInputError(f"{where}: cannot identify dimension {d!r} as time, vertical, "
                                "y or x (expected CF axis/standard_name/units attributes; a "
                                "leading dimension of another kind is the frame axis only "
                                "when there is no time axis)")
        # a leading non-CF axis (month without units, realization, member, a unitless step):
        # the frames step along it, as along time
        axes["T"] = frame_axis = d
        c = da.coords[d] if d in da.coords else None
        units = _attrs(c).get("units") if c is not None else None
        notes.append(f"frame axis {d!r} ({da.sizes[d]} steps; not a CF time)")
        say(f"{where}: dimension {d!r} ({da.sizes[d]} steps"
            f"{', units ' + repr(str(units)) if units else ', no units'}) is not a CF time, "
            f"vertical, y or x axis: it leads, so it is the frame axis (one frame per {d})")
    return da, axes, frame_axis


def _times(da: Any, axes: dict[str, str], frame_axis: str | None) -> tuple[Any, list, str]:
    """(``da``, its times, their calendar); without a time axis ``da`` gains one of length 1
    (``axes["T"]`` set to it), labelled by a scalar time coordinate if any."""
    if "T" in axes:
        tc = da.coords[axes["T"]] if axes["T"] in da.coords else None
        times = (normalize_times(np.ravel(tc.values), _attrs(tc).get("units"))
                 if tc is not None else [None] * da.sizes[axes["T"]])
        if frame_axis is not None and not all(
                t is None or isinstance(t, datetime.timedelta) for t in times):
            times = [None] * len(times)  # labels (member names), not times: steps
        tenc = _attrs(tc) if tc is not None else {}
        calendar = str(tenc.get("calendar") or
                       (getattr(times[0], "calendar", "") if times else "") or "standard")
        return da, times, calendar
    # one analysis, a snapshot, a climatology: one step, labelled by a scalar time if any
    scalar = [c for cn, c in da.coords.items() if c.ndim == 0
              and _axis_of(str(cn), c) == "T"]
    da = da.expand_dims("__time__")
    axes["T"] = "__time__"
    times = (normalize_times(np.ravel(scalar[0].values), _attrs(scalar[0]).get("units"))
             if scalar else [None])
    return da, times, str(getattr(times[0], "calendar", "") or "standard")


@dataclasses.dataclass
class _Grid:
    """A variable's horizontal grid: ``da`` reordered to it (latitudes ascending, longitudes
    increasing), true longitudes/latitudes, and for a projected grid its CRS and x/y."""

    da: Any
    lon: np.ndarray
    lat: np.ndarray
    crs: Any = None
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    rotated: tuple[float, float, float] | None = None
    yflip: bool = False  # y reversed (applied to a 3-D vertical too)
    xorder: np.ndarray | None = None  # x reordered (likewise)


def _horizontal(ds: Any, da: Any, a: dict, xd: str, yd: str, where: str) -> _Grid:
    """The horizontal grid of ``da`` (its attributes ``a``; x, y dimensions ``xd``, ``yd``):
    a CF grid mapping's, else 2-D auxiliary or 1-D longitude/latitude."""
    gm_name = a.get("grid_mapping")
    xc = ds[xd] if xd in ds.variables else None
    yc = ds[yd] if yd in ds.variables else None
    gm_attrs: dict = {}
    if gm_name:
        gm_name = str(gm_name).split(":")[0].strip()
        if gm_name not in ds.variables:
            raise BadInputError(f"{where}: grid_mapping variable {gm_name!r} not found; "
                                "expected a CF grid-mapping variable")
        gm_attrs = dict(ds[gm_name].attrs)
    if gm_attrs and gm_attrs.get("grid_mapping_name") != "latitude_longitude":
        return _projected(da, str(gm_name), gm_attrs, xc, yc, yd, where)
    return _lonlat(da, xc, yc, xd, yd, where)


def _projected(da: Any, gm_name: str, gm_attrs: dict, xc: Any, yc: Any, yd: str,
               where: str) -> _Grid:
    """A grid in a CF grid mapping's projection (rotated pole included): 1-D x/y."""
    gmn = gm_attrs.get("grid_mapping_name")
    try:
        crs = geo.crs_from_cf(gm_attrs, variable=gm_name)
    except BadInputError as exc:
        raise BadInputError(f"{where}: {exc}") from exc
    if xc is None or yc is None or xc.ndim != 1 or yc.ndim != 1:
        raise BadInputError(f"{where}: grid mapping {gmn!r} needs 1-D x/y coordinate "
                            "variables")
    x = np.asarray(xc.values, np.float64)
    y = np.asarray(yc.values, np.float64)
    rotated = None
    if gmn == "rotated_latitude_longitude":
        rotated = (float(gm_attrs.get("grid_north_pole_longitude", 0.0)),
                   float(gm_attrs.get("grid_north_pole_latitude", 90.0)),
                   float(gm_attrs.get("north_pole_grid_longitude", 0.0)))
    else:
        f = LENGTH_UNITS.get(norm_units(_attrs(xc).get("units", "m")), 1.0)
        x, y = x * f, y * f
    yflip = False
    if y.size > 1 and np.all(np.diff(y) < 0):
        y = y[::-1].copy()
        da = da.isel({yd: slice(None, None, -1)})
        yflip = True
    xx, yy = np.meshgrid(x, y)
    if rotated is not None:
        lon, lat = geo.rotated_to_true(xx, yy, *rotated)
    else:
        lon, lat = geo.to_lonlat(xx, yy, crs)
    return _Grid(da, lon, lat, crs=crs, x=x, y=y, rotated=rotated, yflip=yflip)


def _lonlat(da: Any, xc: Any, yc: Any, xd: str, yd: str, where: str) -> _Grid:
    """A longitude/latitude grid: 2-D auxiliary coordinates (curvilinear) or 1-D axes
    (latitudes made ascending, longitudes increasing from the central one)."""
    lon2 = lat2 = None
    for cn, c in da.coords.items():
        if c.ndim == 2 and set(c.dims) == {xd, yd}:
            ax = _axis_of(str(cn), c)
            if ax == "X" or _attrs(c).get("standard_name") == "longitude":
                lon2 = c.transpose(yd, xd).values
            elif ax == "Y" or _attrs(c).get("standard_name") == "latitude":
                lat2 = c.transpose(yd, xd).values
    if lon2 is not None and lat2 is not None:  # curvilinear
        return _Grid(da, np.asarray(lon2, np.float64), np.asarray(lat2, np.float64))
    if xc is None or yc is None or xc.ndim != 1 or yc.ndim != 1:
        raise BadInputError(f"{where}: no longitude/latitude found; expected 1-D lon/lat, "
                            "2-D auxiliary lat/lon coordinates or a CF grid_mapping")
    lon = np.asarray(xc.values, np.float64)
    lat = np.asarray(yc.values, np.float64)
    yflip, xorder = False, None
    lat_new, _ = geo.ascending(lat)
    if lat.size > 1 and lat_new[0] != lat[0]:
        da = da.isel({yd: slice(None, None, -1)})
        lat = lat_new
        yflip = True
    if lon.size > 1:
        c0 = geo.central_longitude(lon)
        lonw = geo.normalize_longitudes(lon, c0)
        if lonw[-1] == lonw[0] + 360.0:
            lonw[-1] -= 360.0
        order = np.argsort(lonw, kind="stable")
        if np.any(order != np.arange(lon.size)):
            da = da.isel({xd: order})
            xorder = order
        lon = lonw[order]
    return _Grid(da, lon, lat, yflip=yflip, xorder=xorder)


def _field_from_xarray(ds: Any, name: str, ps: list[str], allow_no_time: bool) -> Field:
    da = ds[name]
    where = f"{', '.join(ps)}: variable {name!r}"
    a = _attrs(da)
    notes: list[str] = []
    da, axes, frame_axis = _axes(ds, da, where, notes)
    if "X" not in axes or "Y" not in axes:
        raise BadInputError(f"{where}: dims {da.dims}: expected horizontal x and y axes "
                            "(CF axis X/Y, longitude/latitude or projection coordinates)")
    if "T" not in axes and not allow_no_time:
        raise BadInputError(f"{where}: no time axis (dims {da.dims}); expected a CF time "
                            "coordinate (pass allow_no_time=True for a single static field)")
    da, times, calendar = _times(da, axes, frame_axis)
    if "Z" in axes:
        zc = da.coords[axes["Z"]] if axes["Z"] in da.coords else None
        vertical, vkind, vunits = _vertical(ds, zc, da.sizes[axes["Z"]], axes)
    else:
        da = da.expand_dims("__z__")
        axes["Z"] = "__z__"
        vertical, vkind, vunits = np.zeros(1), "none", ""
    da = da.transpose(axes["T"], axes["Z"], axes["Y"], axes["X"])
    g = _horizontal(ds, da, a, axes["X"], axes["Y"], where)
    da = g.da
    if vertical.ndim == 3:
        if g.yflip:
            vertical = vertical[:, ::-1, :]
        if g.xorder is not None:
            vertical = vertical[:, :, g.xorder]
        vertical = np.ascontiguousarray(vertical)
    values = da.data
    if not hasattr(values, "compute"):
        import dask.array as dsa

        values = dsa.from_array(values, chunks=(1,) + values.shape[1:])
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    return Field(
        name=name, values=values, times=times, lon=g.lon, lat=g.lat,
        standard_name=str(a.get("standard_name", "")), units=str(a.get("units", "")),
        long_name=str(a.get("long_name", "")), calendar=calendar,
        vertical=vertical, vertical_kind=vkind, vertical_units=vunits,
        crs=g.crs, x=g.x, y=g.y, rotated_pole=g.rotated, paths=tuple(ps), notes=tuple(notes),
        attrs=source_attrs(dict(getattr(ds, "attrs", {}) or {})),  # not the encoding's path
    )

def _vertical(ds: Any, zc: Any, nz: int, axes: dict) -> tuple[np.ndarray, str, str]:
    if zc is None:
        return np.arange(nz, dtype=np.float64), "model_level", "1"
    a = _attrs(zc)
    sn = str(a.get("standard_name", "")).lower()
    units = norm_units(a.get("units"))
    vals = np.asarray(zc.values, np.float64)
    name = str(zc.name).lower()
    if sn == "atmosphere_hybrid_height_coordinate":
        terms = str(a.get("formula_terms", "")).split()
        ft = dict(zip([t.rstrip(":") for t in terms[0::2]], terms[1::2], strict=False))
        if "orog" in ft and ft["orog"] in ds.variables and "a" in ft and ft["a"] in ds.variables:
            av = np.asarray(ds[ft["a"]].values, np.float64)
            bv = (np.asarray(ds[ft["b"]].values, np.float64) if "b" in ft and ft["b"]
                  in ds.variables else np.zeros_like(av))
            og = ds[ft["orog"]]
            yd, xd = axes.get("Y"), axes.get("X")
            if yd in og.dims and xd in og.dims:
                og = og.transpose(..., yd, xd)
            orog = np.asarray(og.values, np.float64)
            orog = orog.reshape((-1,) + orog.shape[-2:])[0]  # first time if time-varying
            return av[:, None, None] + bv[:, None, None] * orog[None], "height_m", "m"
        return np.arange(nz, dtype=np.float64), "model_level", "1"
    if sn in _MODEL_LEVEL_SN:
        return vals, "model_level", str(a.get("units", "1"))
    if sn == "flight_level" or units in ("fl", "flightlevel", "hft", "100ft") or \
            name.startswith("fl") or "flight" in str(a.get("long_name", "")).lower():
        return vals, "flight_level", "FL"
    if units in PRESSURE_UNITS or sn in ("air_pressure", "pressure"):
        return vals * PRESSURE_UNITS.get(units, 1.0), "pressure_hPa", "hPa"
    if units in LENGTH_UNITS or sn in ("height", "altitude", "height_above_mean_sea_level"):
        return vals * LENGTH_UNITS.get(units, 1.0), "height_m", "m"
    return vals, "model_level", str(a.get("units", "1"))


def field_from_dataset(ds: Any, var: str | None = None, *, standard_name: str | None = None,
                       allow_no_time: bool = True) -> Field:
    """A ``Field`` from an open ``xarray.Dataset`` (CF attributes as a NetCDF file has them;
    lazy dask arrays, or lazily indexed ones, which are chunked one time step per chunk):
    what :func:`open_field` makes of a NetCDF file once it has opened it, nothing read yet.
    ``var`` / ``standard_name`` select as in :func:`open_field`; errors name ``<memory>``."""
    name = _select(ds, "<memory>", var, standard_name)
    da = ds[name]
    if da.chunks is None:  # numpy or a backend's lazy array: one time step per chunk
        tdim = _frame_dim(ds, da)[0]
        ds = ds.assign({name: da.chunk({tdim: 1} if tdim else {})})
    field = _field_from_xarray(ds, name, ["<memory>"], allow_no_time)
    return dataclasses.replace(field, paths=())


class NetCDFReader(Reader):
    """CF-NetCDF files (WRF and CMAQ/IOAPI output in its CF form), lazily, one time step per
    dask chunk; several files are combined along time."""

    name = "netcdf"
    description = "CF-NetCDF (classic, 64-bit offset, CDF-5; NetCDF-4/HDF5)"
    globs = ("*.nc", "*.nc4", "*.cdf", "*.netcdf", "*.nc3")
    magic = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n")

    def open(self, paths: list[str], var: str | None, *, standard_name: str | None,
             allow_no_time: bool, member: int | None) -> Field:
        return _open_netcdf(paths, var, standard_name, allow_no_time, member)

    def variables(self, path: str) -> list[tuple[str, str]]:
        import xarray as xr

        from core.integrity import check_file

        check_file(path)  # truncated? (classic NetCDF reads missing bytes as data)
        table = models.variable_table(path)  # WRF, CMAQ/IOAPI: the variables of their CF form
        if table is not None:
            return table
        try:
            with xr.open_dataset(path, decode_times=False) as ds:
                return [(str(n), str(v.attrs.get("standard_name", "")))
                        for n, v in ds.data_vars.items()]
        except Exception as exc:
            raise BadInputError(f"{path}: corrupt or unreadable NetCDF file ({exc}); "
                                "expected a CF-NetCDF file") from exc
