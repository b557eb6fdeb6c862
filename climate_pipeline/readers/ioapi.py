"""CMAQ / IOAPI files in the CF form of :mod:`climate_pipeline.readers.models` (which the
NetCDF reader asks first).

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
"""

from __future__ import annotations

import datetime
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

__all__ = ["is_ioapi", "ioapi_variables", "ioapi_to_cf", "ioapi_times", "ioapi_lonlat",
           "ioapi_heights", "IOAPI_EARTH_RADIUS"]

#: the sphere IOAPI (and so CMAQ) grids are defined on (metres)
IOAPI_EARTH_RADIUS = 6370000.0
#: the dimension IOAPI steps along
TIME_DIM = "TSTEP"


def is_ioapi(attrs: Mapping, variables: Mapping[str, Sequence[str]], dims: set[str]) -> bool:
    """Whether a NetCDF header (global attributes, {variable: dims}, dims) is IOAPI output."""
    return {"ROW", "COL"} <= dims and {"GDTYP", "NCOLS", "NROWS"} <= set(attrs)


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


def _ioapi_fields(variables: Mapping[str, Sequence[str]]) -> list[str]:
    keep = [n for n, d in variables.items() if tuple(d) == ("TSTEP", "LAY", "ROW", "COL")
            and n != "TFLAG" and n not in MODEL_RESERVED]
    return ordered_fields(keep, {n: 4 for n in keep})


def ioapi_variables(variables: Mapping[str, Sequence[str]]) -> list[tuple[str, str]]:
    """(name, standard_name) of the variables :func:`ioapi_to_cf` gives, from the header's
    {variable: dims}."""
    return [(n, "") for n in _ioapi_fields(variables)]


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
    out = {n: xr.Variable(("time", "z", "y", "x"), ds[n].data, field_attrs(ds[n].attrs))
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
