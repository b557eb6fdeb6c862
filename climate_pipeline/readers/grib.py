"""GRIB 1 and 2 through ecCodes directly -> ``Field`` (lazy: one time step read at a time):
:class:`GribReader`.

iris-grib leaves ensemble members as separate, indistinguishable cubes, reads GRIB 1
pressure levels as heights and gives reduced Gaussian grids as a 1-D point list; ecCodes keys
say exactly what each message is. A file is indexed once (the keys of every message and its
byte offset); values are decoded per time step.

* variables: by ``shortName``, ``cfVarName``, ``cfName``, ``name`` or ``paramId``;
* ensemble members (``number``): member 0, or the one asked for (``member=``);
* levels: the level type with most levels, ordered from the ground up (pressure and model
  levels descending, heights ascending);
* grids: regular lat-lon and regular Gaussian (1-D axes; latitudes made ascending,
  longitudes rolled like the other readers), reduced Gaussian (each latitude row regridded
  linearly, periodic in longitude, to the regular grid of the longest row), and any grid
  ecCodes gives point coordinates for (Lambert, polar stereographic, Mercator, ...: 2-D
  latitudes/longitudes, a curvilinear field).

What was picked or regridded is in ``Field.notes`` (the command prints it as one line).
"""

from __future__ import annotations

import datetime
import functools
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from climate_pipeline import geo
from climate_pipeline.data import Field
from climate_pipeline.readers.base import Reader
from core.errors import BadInputError, MissingDependencyError

__all__ = ["GribReader", "regrid_reduced_row"]

#: keys read from every message (cheap: coded values, not concept look-ups)
_KEYS = ("editionNumber", "centre", "table2Version", "indicatorOfParameter", "discipline",
         "parameterCategory", "parameterNumber", "typeOfLevel", "level", "number",
         "validityDate", "validityTime", "gridType", "Ni", "Nj", "numberOfDataPoints",
         "totalLength", "offset")
#: concept keys (a table look-up each, ~10 ms): read once per parameter
_NAME_KEYS = ("shortName", "cfVarName", "cfName", "name", "paramId", "units")
_PARAM_ID = ("editionNumber", "centre", "table2Version", "indicatorOfParameter", "discipline",
             "parameterCategory", "parameterNumber")
#: level types whose values decrease upwards (pressure; ECMWF model levels count down)
_DOWNWARD = ("isobaricInhPa", "isobaricInPa", "hybrid", "pressureFromGroundLayer")
_PRESSURE_HPA = {"isobaricInhPa": 1.0, "isobaricInPa": 0.01}


def _ec() -> Any:
    # pyproj first: importing the eccodes wheel (eccodeslib/eckitlib 2.50) before pyproj
    # 3.7 leaves pyproj without its PROJ database ("no database context specified") and the
    # process crashes at exit (double free); in this order both work.
    import pyproj  # noqa: F401

    try:
        import eccodes
    except Exception as exc:  # ImportError, or RuntimeError when the library is missing
        raise MissingDependencyError(f"GRIB files need the eccodes package (pip install "
                                     f"eccodes): {exc}") from exc
    return eccodes


@dataclass(frozen=True)
class _Msg:
    path: str
    offset: int
    length: int
    keys: dict


def _get(ec: Any, h: Any, keys: tuple[str, ...]) -> dict:
    k = {}
    for key in keys:
        try:
            k[key] = ec.codes_get(h, key) if ec.codes_is_defined(h, key) else None
        except Exception:
            k[key] = None
    return k


def _index(paths: list[str]) -> list[_Msg]:
    """Every message's keys and place, for each file (cached per file, size and mtime)."""
    out: list[_Msg] = []
    for p in paths:
        st = os.stat(p)
        out.extend(_index_file(p, st.st_size, st.st_mtime_ns))
    if not out:
        raise BadInputError(f"{', '.join(paths)}: no GRIB messages; expected a GRIB file")
    return out


@functools.lru_cache(maxsize=64)
def _index_file(p: str, size: int, mtime_ns: int) -> tuple[_Msg, ...]:
    ec = _ec()
    out: list[_Msg] = []
    names: dict[tuple, dict] = {}
    try:
        with open(p, "rb") as fh:
            while True:
                h = ec.codes_grib_new_from_file(fh, headers_only=True)
                if h is None:
                    break
                try:
                    k = _get(ec, h, _KEYS)
                    pid = tuple(k[x] for x in _PARAM_ID)
                    if pid not in names:
                        names[pid] = _get(ec, h, _NAME_KEYS)
                    k.update(names[pid])
                    m = _Msg(p, int(k["offset"]), int(k["totalLength"]), k)
                    if m.offset + m.length > size:  # ecCodes reads a cut last message
                        raise BadInputError(
                            f"{p}: truncated: header promises {m.offset + m.length} bytes, "
                            f"file has {size} (GRIB message {len(out) + 1} at byte "
                            f"{m.offset} is cut short)")
                    out.append(m)
                finally:
                    ec.codes_release(h)
    except (BadInputError, MissingDependencyError):
        raise
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(f"{p}: corrupt or unreadable GRIB file ({msg}); expected "
                            "GRIB 1 or 2 messages") from exc
    return tuple(out)


def _matches(k: dict, var: str | None, standard_name: str | None) -> bool:
    if var is not None:
        return var in {str(k[x]) for x in ("shortName", "cfVarName", "cfName", "name",
                                           "paramId") if k[x] is not None}
    if standard_name is not None:
        return str(k["cfName"]) == standard_name
    return True


def _when(k: dict) -> datetime.datetime:
    d, t = int(k["validityDate"] or 0), int(k["validityTime"] or 0)
    return datetime.datetime(d // 10000, d // 100 % 100, d % 100, t // 100, t % 100)


def _decode(m: _Msg) -> Any:
    ec = _ec()
    with open(m.path, "rb") as fh:
        fh.seek(m.offset)
        raw = fh.read(m.length)
    return ec.codes_new_from_message(raw)


def _values(h: Any) -> np.ndarray:
    ec = _ec()
    vals = np.asarray(ec.codes_get_values(h), np.float64)
    if ec.codes_is_defined(h, "bitmapPresent") and ec.codes_get(h, "bitmapPresent"):
        vals[vals == ec.codes_get_double(h, "missingValue")] = np.nan
    return vals


def regrid_reduced_row(lon_row: np.ndarray, values_row: np.ndarray, lon_out: np.ndarray,
                       periodic: bool) -> np.ndarray:
    """One latitude row of a reduced grid, linear in longitude onto ``lon_out`` (periodic
    rows wrap at 360 degrees). NaN where the two neighbours are not both valid."""
    ok = np.isfinite(values_row)
    if not ok.any():
        return np.full(lon_out.shape, np.nan)
    kw = {"period": 360.0} if periodic else {}
    out = np.interp(lon_out, lon_row, np.where(ok, values_row, 0.0), **kw)
    if not ok.all():  # a missing neighbour makes the point missing
        bad = np.interp(lon_out, lon_row, (~ok).astype(np.float64), **kw)
        out[bad > 0] = np.nan
    return out


@dataclass
class _Grid:
    kind: str  # "regular" | "reduced" | "points"
    shape: tuple[int, int]  # (ny, nx) after reordering
    lon: np.ndarray
    lat: np.ndarray
    order: Any = None  # regular: (flip_y, x order, consecutive-j) ; reduced: rows
    note: str = ""


def _grid(m: _Msg, where: str) -> _Grid:
    ec = _ec()
    h = _decode(m)
    try:
        gt = str(m.keys["gridType"])
        if gt in ("sh", "spherical_harmonics"):
            raise BadInputError(f"{where}: spherical harmonics (gridType 'sh'); expected a "
                                "grid-point field (convert with ecCodes/MIR first)")
        lats = np.asarray(ec.codes_get_double_array(h, "latitudes"), np.float64)
        lons = np.asarray(ec.codes_get_double_array(h, "longitudes"), np.float64)
        if gt == "reduced_gg":
            pl = np.asarray(ec.codes_get_long_array(h, "pl"), np.int64)
            pl = pl[pl > 0]
            nlon = int(pl.max())
            starts = np.concatenate([[0], np.cumsum(pl)[:-1]])
            row_lat = lats[starts]
            span = lons[starts + pl - 1] - lons[starts]
            periodic = bool(np.all(np.abs(span + 360.0 / pl - 360.0) < 1e-3 * 360.0 / pl))
            lon0 = float(lons[0])
            step = 360.0 / nlon if periodic else float(span.max()) / (nlon - 1)
            lon_out = lon0 + step * np.arange(nlon)
            flip = row_lat.size > 1 and row_lat[0] > row_lat[-1]
            lat = row_lat[::-1] if flip else row_lat
            lonn = geo.normalize_longitudes(lon_out, geo.central_longitude(lon_out))
            xo = np.argsort(lonn, kind="stable")
            note = (f"reduced Gaussian grid ({int(pl.sum())} points, rows of {int(pl.min())}"
                    f"..{nlon}) regridded to a regular {nlon} x {len(pl)} grid, linear in "
                    "longitude along each latitude row")
            return _Grid("reduced", (len(pl), nlon), lonn[xo], lat.copy(),
                         (pl, starts, lons, lon_out, periodic, flip, xo), note)
        ni, nj = int(m.keys["Ni"] or 0), int(m.keys["Nj"] or 0)
        if ni <= 0 or nj <= 0 or ni * nj != lats.size:
            raise BadInputError(f"{where}: grid type {gt!r} with {lats.size} points is not an "
                                "Ni x Nj grid; expected a regular, reduced Gaussian or "
                                "projected grid")
        jcons = bool(ec.codes_is_defined(h, "jPointsAreConsecutive")
                     and ec.codes_get(h, "jPointsAreConsecutive"))

        def shaped(a: np.ndarray) -> np.ndarray:
            return a.reshape(ni, nj).T if jcons else a.reshape(nj, ni)

        lat2, lon2 = shaped(lats), shaped(lons)
        if gt in ("regular_ll", "regular_gg"):
            lat = lat2[:, 0].copy()
            lon = lon2[0, :].copy()
            flip = lat.size > 1 and lat[0] > lat[-1]
            if flip:
                lat = lat[::-1].copy()
            c0 = geo.central_longitude(lon) if lon.size > 1 else 0.0
            lonw = geo.normalize_longitudes(lon, c0)
            xo = np.argsort(lonw, kind="stable")
            return _Grid("regular", (nj, ni), lonw[xo], lat, (flip, xo, jcons))
        lon2 = geo.normalize_longitudes(lon2, geo.central_longitude(lon2))
        return _Grid("points", (nj, ni), lon2, lat2, (False, None, jcons),
                     f"{gt} grid: {ni} x {nj} points with their own latitudes/longitudes")
    finally:
        ec.codes_release(h)


def _on_grid(vals: np.ndarray, g: _Grid) -> np.ndarray:
    if g.kind == "reduced":
        pl, starts, lons, lon_out, periodic, flip, xo = g.order
        rows = [regrid_reduced_row(lons[s:s + n], vals[s:s + n], lon_out, periodic)
                for s, n in zip(starts, pl, strict=True)]
        a = np.stack(rows)
        return (a[::-1] if flip else a)[:, xo]
    flip, xo, jcons = g.order
    ny, nx = g.shape
    a = vals.reshape(nx, ny).T if jcons else vals.reshape(ny, nx)
    if flip:
        a = a[::-1]
    return a[:, xo] if xo is not None else a


def _read_step(row: list[_Msg | None], g: _Grid) -> np.ndarray:
    """(nz, ny, nx) of one time step: one message per level (NaN where one is missing)."""
    ec = _ec()
    out = np.full((len(row),) + g.shape, np.nan, np.float64)
    for k, m in enumerate(row):
        if m is None:
            continue
        h = _decode(m)
        try:
            out[k] = _on_grid(_values(h), g)
        finally:
            ec.codes_release(h)
    return out


#: wind components' shortNames: drawn only when asked for (they drive the particles)
_WIND_SHORT = frozenset({"u", "v", "w", "10u", "10v", "100u", "100v", "wz"})


def _pick(msgs: list[_Msg], var: str | None, standard_name: str | None, member: int | None,
          where: str) -> tuple[str, list[_Msg], str, list, list[str]]:
    """(name, messages, level type, levels from the ground up, notes): the messages of the
    variable asked for (or the first in file order, winds last), of one ensemble member and
    of the level type with most levels."""
    table: dict[str, str] = {}
    for m in msgs:
        table.setdefault(str(m.keys["shortName"]), str(m.keys["name"]))
    there = ", ".join(f"{s} ({n})" for s, n in table.items())
    pick = [m for m in msgs if _matches(m.keys, var, standard_name)]
    what = (f"variable {var!r}" if var is not None else f"standard_name {standard_name!r}"
            if standard_name is not None else "a variable")
    if not pick:
        raise BadInputError(f"{where}: {what} not found; variables there: {there}")
    names = sorted({str(m.keys["shortName"]) for m in pick})
    notes: list[str] = []
    if len(names) > 1 and (var is not None or standard_name is not None):
        raise BadInputError(f"{where}: {what} is ambiguous ({len(names)} variables: "
                            f"{names}); pass --var with one of: {there}")
    if len(names) > 1:  # no --var: the first field in file order, winds last
        order = list(dict.fromkeys(str(m.keys["shortName"]) for m in pick))
        drawn = next((n for n in order if n not in _WIND_SHORT), order[0])
        notes.append(f"{len(order)} variables; drawing the first, {drawn!r} (also "
                     f"{', '.join(n for n in order if n != drawn)}; choose with --var)")
        pick = [m for m in pick if str(m.keys["shortName"]) == drawn]
        names = [drawn]
    name = names[0]
    where = f"{where}: variable {name!r}"
    # ensemble members
    numbers = sorted({int(m.keys["number"] or 0) for m in pick})
    if member is not None and member not in numbers:
        raise BadInputError(f"{where}: no ensemble member {member}; members there: {numbers}")
    if len(numbers) > 1 or member is not None:
        chosen = member if member is not None else (0 if 0 in numbers else numbers[0])
        pick = [m for m in pick if int(m.keys["number"] or 0) == chosen]
        if len(numbers) > 1:
            notes.append(f"ensemble member {chosen} of {len(numbers)} ({numbers[0]}.."
                         f"{numbers[-1]}; --member N picks another)")
    # level type
    by_type: dict[str, set] = {}
    for m in pick:
        by_type.setdefault(str(m.keys["typeOfLevel"]), set()).add(m.keys["level"])
    ltype = max(by_type, key=lambda t: len(by_type[t]))
    if len(by_type) > 1:
        notes.append(f"levels of type {ltype!r} (also in the file: "
                     f"{sorted(set(by_type) - {ltype})})")
        pick = [m for m in pick if str(m.keys["typeOfLevel"]) == ltype]
    levels = sorted(by_type[ltype], key=float, reverse=ltype in _DOWNWARD)
    return name, pick, ltype, levels, notes


def _vertical(ltype: str, levels: list, nz: int) -> tuple[np.ndarray, str, str]:
    """(values, kind, units) of the levels of type ``ltype``."""
    lv = np.asarray(levels, np.float64)
    if ltype in _PRESSURE_HPA:
        return lv * _PRESSURE_HPA[ltype], "pressure_hPa", "hPa"
    if ltype in ("heightAboveGround", "heightAboveSea", "depthBelowSea") and nz > 1:
        return lv, "height_m", "m"
    if nz > 1:
        return lv, "model_level", "1"
    return np.zeros(1), "none", ""


def _open_grib(ps: list[str], var: str | None, standard_name: str | None,
               member: int | None) -> Field:
    """One variable of one or more GRIB files as a lazy ``Field`` (see the module doc)."""
    import dask
    import dask.array as dsa

    where = ", ".join(ps)
    try:
        _ec()
    except MissingDependencyError as exc:
        raise MissingDependencyError(f"{where}: {exc}") from exc
    name, pick, ltype, levels, notes = _pick(_index(ps), var, standard_name, member, where)
    where = f"{where}: variable {name!r}"
    # grids
    grids = {(m.keys["gridType"], m.keys["Ni"], m.keys["Nj"], m.keys["numberOfDataPoints"])
             for m in pick}
    if len(grids) > 1:
        raise BadInputError(f"{where}: messages on {len(grids)} different grids "
                            f"{sorted(map(str, grids))}; expected one grid per variable")
    g = _grid(pick[0], where)
    if g.note:
        notes.append(g.note)
    times = sorted({_when(m.keys) for m in pick})
    table_tz: dict[tuple, _Msg] = {}
    for m in pick:
        key = (_when(m.keys), m.keys["level"])
        if key in table_tz:
            raise BadInputError(f"{where}: two messages for time {key[0]:%Y-%m-%d %H:%M} and "
                                f"level {key[1]} (after choosing the member and level type); "
                                "expected one field per time and level")
        table_tz[key] = m
    steps = []
    nz = len(levels)
    for t in times:
        row = [table_tz.get((t, lev)) for lev in levels]
        d = dask.delayed(_read_step, pure=True)(row, g)
        steps.append(dsa.from_delayed(d, shape=(nz,) + g.shape, dtype=np.float64))
    values = dsa.stack(steps)
    k0 = pick[0].keys
    vertical, vkind, vunits = _vertical(ltype, levels, nz)
    if nz > 1 or len(times) > 1 or notes:
        notes.insert(0, f"{name} ({k0['name']}, {k0['units']}): {len(times)} time(s), {nz} "
                        f"level(s) of type {ltype}")
    cf = str(k0["cfName"] or "")
    return Field(
        name=name, values=values, times=list(times), lon=g.lon, lat=g.lat,
        standard_name="" if cf in ("unknown", "None") else cf, units=str(k0["units"] or ""),
        long_name=str(k0["name"] or ""), calendar="standard", vertical=vertical,
        vertical_kind=vkind, vertical_units=vunits, paths=tuple(ps), notes=tuple(notes),
        attrs={"source": f"GRIB {k0['editionNumber']}, centre {k0['centre']}"}
        if k0.get("centre") not in (None, "", "unknown") else {})


class GribReader(Reader):
    """GRIB 1 and 2, read with ecCodes (see the module doc)."""

    name = "grib"
    description = "GRIB 1/2 (read with ecCodes)"
    globs = ("*.grib", "*.grib2", "*.grb", "*.grb2")
    magic = (b"GRIB",)

    def open(self, paths: list[str], var: str | None, *, standard_name: str | None,
             allow_no_time: bool, member: int | None) -> Field:
        del allow_no_time  # GRIB messages always carry a validity time
        return _open_grib(paths, var, standard_name, member)

    def variables(self, path: str) -> list[tuple[str, str]]:
        """(shortName, CF standard name) of each variable of a GRIB file, in file order."""
        seen: dict[str, str] = {}
        for m in _index([path]):
            sn = str(m.keys["shortName"])
            cf = str(m.keys["cfName"] or "")
            seen.setdefault(sn, "" if cf in ("unknown", "None") else cf)
        return list(seen.items())
