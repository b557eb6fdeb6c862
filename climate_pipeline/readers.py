"""Readers: CF-NetCDF (xarray + dask, lazy) and what iris reads (PP, NAME, GRIB2) -> ``Field``.

* ``open_field(paths, var=None, *, standard_name=None, allow_no_time=False, member=None)
  -> Field`` (GRIB: :mod:`climate_pipeline.grib`)
* ``open_winds(paths, names=("u", "v"), ...) -> Winds`` (rotated-pole winds rotated lazily;
  each component is read from whichever of the files holds it: ``uwnd.nc`` + ``vwnd.nc``)
* ``field_from_dataset(ds, var=None, ...) -> Field``, ``winds_from_dataset(ds, names)``: the
  same from an ``xarray.Dataset`` already open (in memory, lazily generated)
* ``check_same_grid(field, winds)``
* ``FORMATS`` (a :class:`core.formats.Registry`: NetCDF, GRIB, NAME, PP) and
  ``guess_format(path)``: which reader reads a file (magic bytes, content, then name)

Axes are found from CF attributes (axis, standard_name, units, positive), not only names.
A curvilinear grid's horizontal dimensions are those of the 2-D latitude/longitude its
variable's CF ``coordinates`` attribute names (``j, i``, ``dim0, dim1``: any names); a
leading dimension that is none of time, vertical, y, x (``month`` without units,
``realization``, ``member``, a unitless ``step``) is the frame axis when there is no time
(one log line says so). ``var`` may be ``NAME#N``: the N-th field of that name in file order
(NAME III's two ``TRACER_AIR_CONCENTRATION`` fields); with no ``var``, a PP or NAME file's
first data field is taken (one log line names it and the others). Log lines go to the
``vizpipe.climate.readers`` logger and the ``Field.notes``.
Every error is one line naming the file, the variable and what was expected.
"""

from __future__ import annotations

import datetime
import logging
import os
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from climate_pipeline import geo
from climate_pipeline.data import Field, Winds
from core.errors import BadInputError, MissingDependencyError
from core.formats import Format, Registry

__all__ = ["open_field", "open_winds", "field_from_dataset", "winds_from_dataset",
           "check_same_grid", "FORMATS", "guess_format", "WIND_NAMES", "WIND_STANDARD_NAMES"]

#: what a reader chose for the user (the field of a multi-field file, a non-CF frame axis):
#: one INFO line each; ``vizpipe.*`` reaches the run's ``run.log`` (core.cli.set_log_file)
_log = logging.getLogger("vizpipe.climate.readers")
_said: set[tuple] = set()


def _say(line: str) -> None:
    """Log ``line`` once per run, not once per frame task that reopens the file: once per
    process and set of log files (a run in this process with a new ``run.log`` hears it
    again)."""
    key = (line, tuple(id(h) for h in logging.getLogger("vizpipe").handlers))
    if key not in _said:
        _said.add(key)
        _log.info(line)


#: ``--var NAME#N``: the N-th field called NAME in file order (1-based)
_OCCURRENCE = re.compile(r"^(?P<name>.+)#(?P<k>[0-9]+)$")
VAR_SYNTAX = "--var NAME, or NAME#N for the N-th field of that name in file order"


def split_occurrence(var: str | None) -> tuple[str | None, int | None]:
    """``"NAME#2"`` -> ``("NAME", 2)``; ``"NAME"`` -> ``("NAME", None)``."""
    m = _OCCURRENCE.match(var) if var else None
    if m is None:
        return var, None
    return m.group("name"), int(m.group("k"))


def _sniff_name(head: bytes) -> bool:
    """NAME text output: the file starts with ``NAME`` (``NAME III (version 6.3)``)."""
    return head.lstrip()[:4].upper() == b"NAME"


# The climate input formats (core.formats.Registry: magic bytes, then content tests, then
# names). Every reader is called as reader(paths, var=, standard_name=, allow_no_time=,
# member=) -> Field, with the files of one format; the "variables" function as
# variables(path) -> [(name, standard_name), ...] of the file's data variables. A new input
# format is one entry here and its reader (and variables) function.
FORMATS = Registry("climate", (
    Format(name="netcdf", description="CF-NetCDF (classic, 64-bit offset, CDF-5; NetCDF-4/HDF5)",
           kinds=("field",), module="climate_pipeline.readers", reader="_open_netcdf",
           functions=(("variables", "_netcdf_variables"),),
           globs=("*.nc", "*.nc4", "*.cdf", "*.netcdf", "*.nc3"),
           magic=(b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF\r\n\x1a\n"), multi_frame=True),
    Format(name="grib", description="GRIB 1/2 (read with ecCodes)", kinds=("field",),
           module="climate_pipeline.grib", reader="open_grib",
           functions=(("variables", "variable_table"),),
           globs=("*.grib", "*.grib2", "*.grb", "*.grb2"), magic=(b"GRIB",), multi_frame=True),
    Format(name="name", description="NAME text output (read with iris)", kinds=("field",),
           module="climate_pipeline.readers", reader="_open_iris",
           functions=(("variables", "_iris_variables"),), sniff=_sniff_name, multi_frame=True),
    # PP: a big-endian (or little-endian) Fortran record of 64 words = 256 bytes, iris's test
    Format(name="pp", description="Met Office PP (read with iris)", kinds=("field",),
           module="climate_pipeline.readers", reader="_open_iris",
           functions=(("variables", "_iris_variables"),), globs=("*.pp",),
           magic=(b"\x00\x00\x01\x00", b"\x00\x01\x00\x00"), multi_frame=True),
))
_HEAD_BYTES = 64

_TIME_NAMES = ("time", "t", "times", "valid_time")
_LON_UNITS = ("degrees_east", "degree_east", "degree_e", "degrees_e", "degreee", "degreese")
_LAT_UNITS = ("degrees_north", "degree_north", "degree_n", "degrees_n", "degreen", "degreesn")
_PRESSURE_UNITS = {"pa": 0.01, "hpa": 1.0, "mbar": 1.0, "millibar": 1.0, "mb": 1.0,
                   "millibars": 1.0, "hectopascal": 1.0, "hectopascals": 1.0, "pascal": 0.01,
                   "pascals": 0.01,
                   "kpa": 10.0, "bar": 1000.0}
_LENGTH_UNITS = {"m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
                 "km": 1000.0, "kilometer": 1000.0, "kilometers": 1000.0, "kilometre": 1000.0,
                 "kilometres": 1000.0, "ft": 0.3048, "feet": 0.3048}
_MODEL_LEVEL_SN = ("atmosphere_hybrid_height_coordinate", "atmosphere_sigma_coordinate",
                   "atmosphere_hybrid_sigma_pressure_coordinate", "model_level_number",
                   "atmosphere_ln_pressure_coordinate", "atmosphere_sleve_coordinate")


def _paths(paths: Any) -> list[str]:
    import glob

    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    out: list[str] = []
    for p in paths:
        p = os.fspath(p)
        if not os.path.exists(p) and glob.has_magic(p):
            hits = sorted(glob.glob(p))
            if not hits:
                raise BadInputError(f"{p}: no files match this pattern; expected input files")
            out.extend(hits)
        else:
            out.append(p)
    if not out:
        raise BadInputError("open_field: no input files given; expected one or more paths")
    for p in out:
        if not os.path.exists(p):
            raise BadInputError(f"{p}: file not found; expected an existing input file")
    return out


def guess_format(path: str) -> Format:
    """The format of one file: ``FORMATS.detect`` (magic bytes, content, then name), and a
    file named like NetCDF without its signature is a corrupt one (not a guess)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc})") from exc
    fmt, how = FORMATS.detect(path, head)
    if how == "name" and fmt.name == "netcdf":
        raise BadInputError(
            f"{path}: corrupt or not a NetCDF file (no NetCDF/HDF5 signature); "
            "expected a CF-NetCDF file")
    return fmt


def _no_member(ps: list[str], member: int | None) -> None:
    if member is not None:
        raise BadInputError(f"{', '.join(ps)}: --member {member}: ensemble members are read "
                            "from GRIB files only; expected no --member for this format")


# ============================================================================ public API
def open_field(paths: Any, var: str | None = None, *, standard_name: str | None = None,
               allow_no_time: bool = False, member: int | None = None) -> Field:
    """A lazily-read ``Field`` from one or many files (concatenated along time).

    ``var`` selects by variable name (or CF standard_name; ``NAME#N``: the N-th field of that
    name in file order), ``standard_name`` by CF standard_name; with neither, the only data
    variable with two or more dimensions is taken (PP, NAME: the first in the file, logged).
    Given several files of which
    only some hold ``var`` (``uwnd.nc`` + ``vwnd.nc``), the field is read from those.
    ``allow_no_time``: a field without a time axis is one time step (its scalar time
    coordinate, if any, labels it) instead of an error. ``member``: the ensemble member of a
    GRIB file [0] (an error for other formats).
    """
    ps = _paths(paths)
    if len(ps) > 1 and (var is not None or standard_name is not None):
        ps = _holders(ps, var, standard_name)
    fmts = {guess_format(p) for p in ps}
    if len(fmts) > 1:
        raise BadInputError(f"{', '.join(ps)}: mixed formats {sorted(f.name for f in fmts)}; "
                            "expected files of one format")
    fmt = fmts.pop()
    return fmt.reader_func(ps[0])(ps, var=var, standard_name=standard_name,
                                  allow_no_time=allow_no_time, member=member,
                                  **dict(fmt.options))


def _holders(ps: list[str], var: str | None, standard_name: str | None) -> list[str]:
    """The files among ``ps`` that hold ``var`` (or ``standard_name``); all of them when none
    or every one does (the reader then names what is missing)."""
    var = split_occurrence(var)[0]
    hold = []
    for p in ps:
        table = _variable_table(p)
        if any((var is not None and var in (n, sn)) or
               (standard_name is not None and sn == standard_name) for n, sn in table):
            hold.append(p)
    return hold or ps


#: (u, v, w) standard names and variable names tried, in order, when open_winds gets no names.
WIND_STANDARD_NAMES = (("eastward_wind", "northward_wind", "upward_air_velocity"),
                       ("grid_eastward_wind", "grid_northward_wind", "upward_air_velocity"),
                       ("x_wind", "y_wind", "upward_air_velocity"))
WIND_NAMES = (("u", "v", "w"), ("ua", "va", "wa"), ("U", "V", "W"), ("uwnd", "vwnd", "wwnd"),
              ("u10", "v10", ""), ("10u", "10v", ""), ("U10", "V10", ""),
              ("UGRD", "VGRD", "DZDT"))


def _variable_table(path: str) -> list[tuple[str, str]]:
    """(name, standard_name) of the data variables of one file."""
    return guess_format(path).function("variables", path)(path)


def _netcdf_variables(path: str) -> list[tuple[str, str]]:
    import xarray as xr

    from core.integrity import check_file

    check_file(path)  # truncated? (classic NetCDF reads missing bytes as data)
    from climate_pipeline import models

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


def _iris_variables(path: str) -> list[tuple[str, str]]:
    import iris

    from core.integrity import check_file

    check_file(path)  # a PP file cut short (iris drops its last field without a word)

    from climate_pipeline.ppunpack import install_mo_pack_shim
    install_mo_pack_shim()  # WGDOS/RLE-packed PP without mo_pack
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return [(c.var_name or c.name(), str(c.standard_name or "")) for c in iris.load(path)]


def auto_wind_names(paths: Any, required: bool = True) -> list[str]:
    """The u, v[, w] variable names of ``paths`` (one file, or several: components may be in
    different files) found by standard_name, then by common names; none found:
    BadInputError listing the variables (``required=False``: an empty list)."""
    ps = _paths(paths)
    path = ", ".join(ps)
    table = [row for p in ps for row in _variable_table(p)]
    by_sn = {sn: n for n, sn in table if sn}
    names = {n for n, _ in table}
    for us, vs, ws in WIND_STANDARD_NAMES:
        if us in by_sn and vs in by_sn:
            return [by_sn[us], by_sn[vs]] + ([by_sn[ws]] if ws in by_sn else [])
    for un, vn, wn in WIND_NAMES:
        if un in names and vn in names:
            return [un, vn] + ([wn] if wn and wn in names else [])
    if not required:
        return []
    raise BadInputError(f"{path}: no wind components found (tried standard_names "
                        f"{[t[:2] for t in WIND_STANDARD_NAMES]} and names "
                        f"{[t[:2] for t in WIND_NAMES]}); variables there: "
                        f"{[n for n, _ in table]}; pass the u, v[, w] names")


def open_winds(paths: Any, names: Sequence[str] | None = None, *,
               standard_names: Sequence[str] | None = None,
               allow_no_time: bool = False, member: int | None = None) -> Winds:
    """u, v (and w when a third name is given) as ``Winds``.

    With neither ``names`` nor ``standard_names`` the components are found by CF standard_name
    (eastward_wind/northward_wind/upward_air_velocity, grid_eastward_wind..., x_wind...) or
    by common names (u/v/w, ua/va/wa, U/V/W, ...); w is taken when present.
    Components along a rotated-pole grid's axes (any standard_name other than
    eastward_wind/northward_wind) are flagged for rotation to true east/north in ``frame``.
    """
    if names is None and standard_names is None:
        names = auto_wind_names(paths)
    if standard_names is not None:
        comps = [open_field(paths, standard_name=s, allow_no_time=allow_no_time,
                            member=member) for s in standard_names]
    else:
        if not names or len(names) not in (2, 3):
            raise BadInputError(f"open_winds: expected 2 or 3 wind variable names, got {names}")
        comps = [open_field(paths, n, allow_no_time=allow_no_time, member=member)
                 for n in names]
    u, v = comps[0], comps[1]
    w = comps[2] if len(comps) > 2 else None
    winds = Winds(u=u, v=v, w=w)
    _same_grid(u, v)
    if w is not None:
        _same_grid(u, w)
    true_sn = ("eastward_wind", "northward_wind")
    winds.rotate = (u.rotated_pole is not None
                    and not (u.standard_name in true_sn and v.standard_name in true_sn))
    return winds


def field_from_dataset(ds: Any, var: str | None = None, *, standard_name: str | None = None,
                       allow_no_time: bool = True) -> Field:
    """A ``Field`` from an open ``xarray.Dataset`` (CF attributes as a NetCDF file has them;
    lazy dask arrays, or lazily indexed ones, which are chunked one time step per chunk):
    what :func:`open_field` makes of a NetCDF file once it has opened it, nothing read yet.
    ``var`` / ``standard_name`` select as in :func:`open_field`; errors name ``<memory>``."""
    import dataclasses

    name = _select(ds, "<memory>", var, standard_name)
    da = ds[name]
    if da.chunks is None:  # numpy or a backend's lazy array: one time step per chunk
        tdim = _frame_dim(ds, da)[0]
        ds = ds.assign({name: da.chunk({tdim: 1} if tdim else {})})
    field = _field_from_xarray(ds, name, ["<memory>"], allow_no_time)
    return dataclasses.replace(field, paths=())


def winds_from_dataset(ds: Any, names: Sequence[str] = ("u", "v", "w"), *,
                       allow_no_time: bool = True) -> Winds:
    """u, v (and w with a third name) of an open ``xarray.Dataset`` as ``Winds``: what
    :func:`open_winds` makes of files (same grid checked; rotated-pole components flagged
    for rotation to true east/north)."""
    if len(names) not in (2, 3):
        raise BadInputError(f"<memory>: expected 2 or 3 wind variable names, got {names}")
    comps = [field_from_dataset(ds, n, allow_no_time=allow_no_time) for n in names]
    u, v = comps[0], comps[1]
    w = comps[2] if len(comps) > 2 else None
    winds = Winds(u=u, v=v, w=w)
    _same_grid(u, v)
    if w is not None:
        _same_grid(u, w)
    true_sn = ("eastward_wind", "northward_wind")
    winds.rotate = (u.rotated_pole is not None
                    and not (u.standard_name in true_sn and v.standard_name in true_sn))
    return winds


def check_same_grid(field: Field, winds: Winds) -> None:
    """Raise BadInputError (naming both files and variables) unless the horizontal grids and
    time steps of ``field`` and ``winds`` match."""
    _same_grid(field, winds.u)


def _same_grid(a: Field, b: Field) -> None:
    def where(f: Field) -> str:
        return f"{', '.join(f.paths) or '<memory>'} variable {f.name!r}"

    problem = ""
    la, lb = a.lonlat_2d(), b.lonlat_2d()
    if la[0].shape != lb[0].shape:
        problem = f"grid shapes {la[0].shape} and {lb[0].shape} differ"
    elif not (np.allclose(geo.normalize_longitudes(la[0] - lb[0]), 0.0, atol=1e-5)
              and np.allclose(la[1], lb[1], atol=1e-5)):
        problem = "longitudes/latitudes differ"
    elif a.nt != b.nt:
        problem = f"numbers of time steps {a.nt} and {b.nt} differ"
    if problem:
        raise BadInputError(f"{where(a)} and {where(b)} are on different grids: {problem}; "
                            "expected the same horizontal grid and times")


# ================================================================================= time
_OFFSET_UNITS = {"s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
                 "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0, "h": 3600.0,
                 "hr": 3600.0, "hrs": 3600.0, "hour": 3600.0, "hours": 3600.0,
                 "d": 86400.0, "day": 86400.0, "days": 86400.0}


def normalize_times(values: Any, units: Any = None) -> list:
    """Time coordinate values as the ``Field.times`` kinds: datetimes (cftime, datetime or
    np.datetime64) for absolute times; ``datetime.timedelta`` for offsets from an unknown
    base (``timedelta64`` as xarray decodes "hours"; numbers with offset units such as
    "hours" or "minutes"); ``None`` for bare numbers without units (WRF/NCL ``Time``
    indices), which the pipeline takes as steps of one hour."""
    import datetime

    out: list = []
    scale = _OFFSET_UNITS.get(_norm_units(units).split("since")[0]) if units else None
    for v in (list(np.ravel(values)) if np.ndim(values) else [values]):
        if v is None:
            out.append(None)
        elif isinstance(v, np.timedelta64):
            out.append(None if np.isnat(v) else datetime.timedelta(
                microseconds=float(v / np.timedelta64(1, "us"))))
        elif isinstance(v, datetime.timedelta):
            out.append(v)
        elif isinstance(v, np.datetime64):
            out.append(None if np.isnat(v) else v)
        elif isinstance(v, (int, float, np.integer, np.floating)):
            out.append(datetime.timedelta(seconds=float(v) * scale)
                       if scale is not None and np.isfinite(v) else None)
        else:
            out.append(v)
    if any(t is None for t in out):  # partly missing: steps, not a broken time axis
        return [None] * len(out)
    return out


# =============================================================================== NetCDF
def _attrs(obj: Any) -> dict:
    d = dict(getattr(obj, "encoding", {}) or {})
    d.update(getattr(obj, "attrs", {}) or {})
    return d


def _norm_units(u: Any) -> str:
    return str(u or "").strip().lower().replace(" ", "")


def _axis_of(name: str, c: Any) -> str | None:
    """'T', 'Z', 'Y', 'X' or None for a coordinate variable, from CF attributes first."""
    a = _attrs(c)
    axis = str(a.get("axis", "")).upper()
    if axis in ("T", "Z", "Y", "X"):
        return axis
    sn = str(a.get("standard_name", "")).lower()
    units = _norm_units(a.get("units"))
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
            or units in _PRESSURE_UNITS):
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
    units = _norm_units(a.get("units"))
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
                 allow_no_time: bool, member: int | None = None) -> Field:
    import xarray as xr

    from core.integrity import check_file

    for p in ps:  # truncated? (classic NetCDF reads missing bytes as data)
        check_file(p)
    _no_member(ps, member)
    _bounded_chunk_cache()
    coder = xr.coders.CFDatetimeCoder(use_cftime=True)
    where = ", ".join(ps)
    from climate_pipeline import models

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
                _say(f"{path}: {len(named)} variables have standard_name {base!r}: using the "
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
    _say(f"{path}: {len(cands)} data variables; drawing the first, {chosen!r} (also "
         f"{', '.join(n for n in cands if n != chosen)}; choose with {VAR_SYNTAX})")
    return chosen


def _field_from_xarray(ds: Any, name: str, ps: list[str], allow_no_time: bool) -> Field:
    da = ds[name]
    where = f"{', '.join(ps)}: variable {name!r}"
    a = _attrs(da)
    axes: dict[str, str] = {}
    notes: list[str] = []
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
        _say(f"{where}: dimension {d!r} ({da.sizes[d]} steps"
             f"{', units ' + repr(str(units)) if units else ', no units'}) is not a CF time, "
             f"vertical, y or x axis: it leads, so it is the frame axis (one frame per {d})")
    if "X" not in axes or "Y" not in axes:
        raise BadInputError(f"{where}: dims {da.dims}: expected horizontal x and y axes "
                            "(CF axis X/Y, longitude/latitude or projection coordinates)")
    if "T" not in axes and not allow_no_time:
        raise BadInputError(f"{where}: no time axis (dims {da.dims}); expected a CF time "
                            "coordinate (pass allow_no_time=True for a single static field)")

    # --- time
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
    else:
        # one analysis, a snapshot, a climatology: one step, labelled by a scalar time if any
        scalar = [c for cn, c in da.coords.items() if c.ndim == 0
                  and _axis_of(str(cn), c) == "T"]
        da = da.expand_dims("__time__")
        axes["T"] = "__time__"
        times = (normalize_times(np.ravel(scalar[0].values), _attrs(scalar[0]).get("units"))
                 if scalar else [None])
        calendar = str(getattr(times[0], "calendar", "") or "standard")

    # --- vertical
    if "Z" in axes:
        zc = da.coords[axes["Z"]] if axes["Z"] in da.coords else None
        vertical, vkind, vunits = _vertical(ds, zc, da.sizes[axes["Z"]], axes)
    else:
        da = da.expand_dims("__z__")
        axes["Z"] = "__z__"
        vertical, vkind, vunits = np.zeros(1), "none", ""
    da = da.transpose(axes["T"], axes["Z"], axes["Y"], axes["X"])
    xd, yd = axes["X"], axes["Y"]

    # --- horizontal grid
    gm_name = a.get("grid_mapping")
    crs = None
    rotated = None
    x = y = None
    xc = ds[xd] if xd in ds.variables else None
    yc = ds[yd] if yd in ds.variables else None
    gm_attrs: dict = {}
    yflip, xorder = False, None  # horizontal reordering, applied to 3-D vertical too
    if gm_name:
        gm_name = str(gm_name).split(":")[0].strip()
        if gm_name not in ds.variables:
            raise BadInputError(f"{where}: grid_mapping variable {gm_name!r} not found; "
                                "expected a CF grid-mapping variable")
        gm_attrs = dict(ds[gm_name].attrs)
    gmn = gm_attrs.get("grid_mapping_name")
    if gm_attrs and gmn != "latitude_longitude":
        try:
            crs = geo.crs_from_cf(gm_attrs, variable=str(gm_name))
        except BadInputError as exc:
            raise BadInputError(f"{where}: {exc}") from exc
        if xc is None or yc is None or xc.ndim != 1 or yc.ndim != 1:
            raise BadInputError(f"{where}: grid mapping {gmn!r} needs 1-D x/y coordinate "
                                "variables")
        x = np.asarray(xc.values, np.float64)
        y = np.asarray(yc.values, np.float64)
        if gmn == "rotated_latitude_longitude":
            rotated = (float(gm_attrs.get("grid_north_pole_longitude", 0.0)),
                       float(gm_attrs.get("grid_north_pole_latitude", 90.0)),
                       float(gm_attrs.get("north_pole_grid_longitude", 0.0)))
        else:
            f = _LENGTH_UNITS.get(_norm_units(_attrs(xc).get("units", "m")), 1.0)
            x, y = x * f, y * f
        if y.size > 1 and np.all(np.diff(y) < 0):
            y = y[::-1].copy()
            da = da.isel({yd: slice(None, None, -1)})
            yflip = True
        xx, yy = np.meshgrid(x, y)
        if rotated is not None:
            lon, lat = geo.rotated_to_true(xx, yy, *rotated)
        else:
            lon, lat = geo.to_lonlat(xx, yy, crs)
    else:
        lon2 = lat2 = None
        for cn, c in da.coords.items():
            if c.ndim == 2 and set(c.dims) == {xd, yd}:
                ax = _axis_of(str(cn), c)
                if ax == "X" or _attrs(c).get("standard_name") == "longitude":
                    lon2 = c.transpose(yd, xd).values
                elif ax == "Y" or _attrs(c).get("standard_name") == "latitude":
                    lat2 = c.transpose(yd, xd).values
        if lon2 is not None and lat2 is not None:  # curvilinear
            lon = np.asarray(lon2, np.float64)
            lat = np.asarray(lat2, np.float64)
        elif xc is not None and yc is not None and xc.ndim == 1 and yc.ndim == 1:
            lon = np.asarray(xc.values, np.float64)
            lat = np.asarray(yc.values, np.float64)
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
        else:
            raise BadInputError(f"{where}: no longitude/latitude found; expected 1-D lon/lat, "
                                "2-D auxiliary lat/lon coordinates or a CF grid_mapping")

    if vertical.ndim == 3:
        if yflip:
            vertical = vertical[:, ::-1, :]
        if xorder is not None:
            vertical = vertical[:, :, xorder]
        vertical = np.ascontiguousarray(vertical)
    values = da.data
    if not hasattr(values, "compute"):
        import dask.array as dsa

        values = dsa.from_array(values, chunks=(1,) + values.shape[1:])
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    return Field(
        name=name, values=values, times=times, lon=lon, lat=lat,
        standard_name=str(a.get("standard_name", "")), units=str(a.get("units", "")),
        long_name=str(a.get("long_name", "")), calendar=calendar,
        vertical=vertical, vertical_kind=vkind, vertical_units=vunits,
        crs=crs, x=x, y=y, rotated_pole=rotated, paths=tuple(ps), notes=tuple(notes),
        attrs=source_attrs(dict(getattr(ds, "attrs", {}) or {})),  # not the encoding's path
    )


#: global attributes that say where data comes from (``climate_pipeline.labels.source_of``)
SOURCE_ATTRS = ("source", "model", "model_name", "source_id", "institution", "title", "TITLE",
                "NAME Version", "Title", "Time Av or Int", "Species", "Quantity")


def source_attrs(attrs: dict) -> dict:
    """The attributes of :data:`SOURCE_ATTRS` that ``attrs`` holds, as short strings."""
    return {k: " ".join(str(attrs[k]).split())[:200] for k in SOURCE_ATTRS
            if k in attrs and str(attrs[k]).strip()}


def _vertical(ds: Any, zc: Any, nz: int, axes: dict) -> tuple[np.ndarray, str, str]:
    if zc is None:
        return np.arange(nz, dtype=np.float64), "model_level", "1"
    a = _attrs(zc)
    sn = str(a.get("standard_name", "")).lower()
    units = _norm_units(a.get("units"))
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
    if units in _PRESSURE_UNITS or sn in ("air_pressure", "pressure"):
        return vals * _PRESSURE_UNITS.get(units, 1.0), "pressure_hPa", "hPa"
    if units in _LENGTH_UNITS or sn in ("height", "altitude", "height_above_mean_sea_level"):
        return vals * _LENGTH_UNITS.get(units, 1.0), "height_m", "m"
    return vals, "model_level", str(a.get("units", "1"))


# ================================================================================= iris
def _cube_key(c: Any) -> str:
    """What tells one field of an iris file from another (the fields that merge share it)."""
    return repr((c.name(), str(c.units), [str(m) for m in c.cell_methods],
                 sorted((str(k), str(v)) for k, v in c.attributes.items())))


def _file_order(cubes: Any, raw_keys: list[tuple[str, str]], ps: list[str]) -> list:
    """``iris.load``'s cubes (merged and sorted by standard_name: "no inherent order") in the
    order of their first field in the files: ``raw_keys`` is (name, :func:`_cube_key`) of
    each field as iris read it, in the order it read them, which is the files' order but for
    the PP fields other fields refer to (orography, read last), so PP cubes go by the first
    field of their STASH code in the files' headers."""
    first: dict[str, int] = {}
    first_name: dict[str, int] = {}
    for i, (n, k) in enumerate(raw_keys):
        first.setdefault(k, i)
        first_name.setdefault(n, i)
    stash: dict[str, int] = {}
    if any("STASH" in c.attributes for c in cubes):
        from iris.fileformats import pp

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for p in ps:
                try:
                    for f in pp.load(p):  # headers only
                        stash.setdefault(str(f.stash), len(stash))
                except Exception:  # not PP after all: the order iris read the fields in
                    break

    def pos(c: Any) -> tuple[int, int]:
        seen = first.get(_cube_key(c), first_name.get(c.name(), len(raw_keys)))
        return stash.get(str(c.attributes.get("STASH")), len(stash)), seen

    return sorted(cubes, key=pos)


#: attributes that tell apart fields of one name (NAME's averaging columns, UM STASH codes)
_TELLING = ("Time Av or Int", "Vertical Av or Int", "Horizontal Av or Int", "Ensemble Av",
            "STASH", "Sources", "Species Category")


def _cube_labels(cubes: list) -> tuple[list[str], list[str]]:
    """(labels, entries) per cube, in order: the label is the cube's name, ``NAME#k`` (the k-th
    of that name, 1-based) where names repeat; the entry adds what tells same-named fields
    apart (cell methods, units, grid shape, attributes that differ: at most three)."""
    from collections import Counter

    count = Counter(c.name() for c in cubes)
    seen: Counter = Counter()
    labels, entries = [], []
    for c in cubes:
        n = c.name()
        seen[n] += 1
        if count[n] == 1:
            labels.append(n)
            entries.append(n)
            continue
        labels.append(f"{n}#{seen[n]}")
        group = [o for o in cubes if o.name() == n]
        tell: list[str] = []

        def differs(f: Any, group: list = group) -> bool:
            return len({f(o) for o in group}) > 1

        cm = "; ".join(str(m) for m in c.cell_methods)
        if differs(lambda o: tuple(str(m) for m in o.cell_methods)):
            tell.append(cm or "no cell method")
        if differs(lambda o: str(o.units)):
            tell.append(str(c.units))
        if differs(lambda o: o.shape):
            tell.append(" x ".join(str(k) for k in c.shape))
        keys = sorted({str(k) for o in group for k in o.attributes},
                      key=lambda k: (_TELLING.index(k) if k in _TELLING else len(_TELLING), k))
        for k in keys:
            if differs(lambda o, k=k: str(o.attributes.get(k, ""))):
                tell.append(f"{k}: {c.attributes.get(k, '-')}")
        entries.append(f"{labels[-1]} ({', '.join(tell[:3]) or 'same metadata'})")
    return labels, entries


def _pick_cube(cubes: list, var: str | None, standard_name: str | None,
               where: str) -> tuple[Any, str, list[str]]:
    """(cube, its name for the Field, notes): the cube ``var`` names (its var_name, name or
    long_name; ``NAME#k``: the k-th of that name in file order) or of ``standard_name``;
    with neither, the first data field (2 or more dimensions) in file order. Several matches
    that are pieces of one variable are merged; otherwise the first is taken and one log line
    names it and the others."""
    import iris.cube

    labels, entries = _cube_labels(cubes)
    hint = f"variables there: {', '.join(entries)}; choose with {VAR_SYNTAX}"
    k = None
    if var is not None:
        pool = [c for c in cubes if var in (c.var_name, c.name(), c.long_name)]
        base, k = split_occurrence(var)
        if pool:
            k = None  # a name that itself ends in #N
        elif k is not None:
            pool = [c for c in cubes if base in (c.var_name, c.name(), c.long_name)]
        what = f"variable {var!r}"
    elif standard_name is not None:
        pool = [c for c in cubes if c.standard_name == standard_name]
        what = f"standard_name {standard_name!r}"
    else:
        pool = [c for c in cubes if c.ndim >= 2]
        what = "a data field (2 or more dimensions)"
    if not pool:
        raise BadInputError(f"{where}: {what} not found; {hint}")
    pos = {id(c): i for i, c in enumerate(cubes)}
    if k is not None:
        if not 1 <= k <= len(pool):
            raise BadInputError(
                f"{where}: {what} not found: {len(pool)} field(s) named {base!r} "
                f"({', '.join(labels[pos[id(c)]] for c in pool)}); {hint}")
        cube = pool[k - 1]
    else:
        if len(pool) > 1 and len({c.name() for c in pool}) == 1:
            try:  # pieces of one variable iris did not merge (e.g. NAME columns)
                pool = [iris.cube.CubeList(pool).merge_cube()]
            except Exception:
                pass
        cube = pool[0]
    notes: list[str] = []
    label = labels[pos[id(cube)]] if id(cube) in pos else cube.name()
    if k is None and len(pool) > 1:
        others = [entries[pos[id(c)]] for c in pool[1:]]
        how = (f"{len(pool)} data fields" if var is None and standard_name is None
               else f"{len(pool)} fields match {what}")
        _say(f"{where}: {how}: using the first in the file, "
             f"{entries[pos[id(cube)]]}; the others: {', '.join(others)} (choose with "
             f"{VAR_SYNTAX})")
        notes.append(f"field {label}, the first of {len(pool)} (--var picks another)")
    return cube, (label if "#" in label else cube.var_name or cube.name()), notes


def _open_iris(ps: list[str], var: str | None, standard_name: str | None,
               allow_no_time: bool, member: int | None = None) -> Field:
    from core.integrity import check_file

    for p in ps:  # a PP file cut short (iris drops its last field without a word)
        check_file(p)
    _no_member(ps, member)
    try:
        import iris
        import iris.cube
    except Exception as exc:
        raise MissingDependencyError(f"{ps[0]}: reading PP/NAME/GRIB needs scitools-iris "
                                     f"({exc})") from exc
    from climate_pipeline.ppunpack import install_mo_pack_shim
    install_mo_pack_shim()  # WGDOS/RLE-packed PP without mo_pack
    where = ", ".join(ps)
    raw_keys: list[tuple[str, str]] = []  # every raw field (PP field, NAME column), in order

    def in_file_order(cube: Any, field: Any, filename: Any) -> None:
        raw_keys.append((cube.name(), _cube_key(cube)))

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            cubes = iris.load(ps, callback=in_file_order)
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(f"{where}: corrupt or unreadable file ({msg}); expected "
                            "PP/NAME/GRIB data iris can load") from exc
    cube, name, notes = _pick_cube(_file_order(cubes, raw_keys, ps), var, standard_name,
                                   where)
    where = f"{where}: variable {name!r}"
    import dask.array as dsa

    data = cube.lazy_data()
    if not np.issubdtype(data.dtype, np.floating):
        data = data.astype(np.float64)
    data = dsa.ma.filled(data, np.nan)

    def dimcoord(axis: str) -> Any:
        cs = cube.coords(axis=axis, dim_coords=True)
        return cs[0] if cs else None

    order: list[int | None] = []
    tcoord = dimcoord("T")
    zcoord = dimcoord("Z")
    ycoord, xcoord = dimcoord("Y"), dimcoord("X")
    if xcoord is None or ycoord is None:
        raise BadInputError(f"{where}: expected x and y dimension coordinates")
    for c in (tcoord, zcoord, ycoord, xcoord):
        order.append(cube.coord_dims(c)[0] if c is not None else None)
    present = [d for d in order if d is not None]
    extra = [d for d in range(cube.ndim) if d not in present]
    frame_coord = frame_n = None
    if tcoord is None and [d for d in extra if cube.shape[d] != 1] == [0]:
        # a leading dimension that is not time (realization, member): the frame axis
        order[0] = 0
        frame_n = cube.shape[0]
        fc = cube.coords(dimensions=(0,), dim_coords=True) or cube.coords(dimensions=(0,))
        frame_coord = fc[0] if fc else None
        dname = frame_coord.name() if frame_coord is not None else "dimension 0"
        notes.append(f"frame axis {dname!r} ({frame_n} steps; not a CF time)")
        _say(f"{where}: {dname!r} ({frame_n} steps) is not a time, vertical, y or x axis: "
             f"it leads, so it is the frame axis (one frame per {dname})")
        present = [d for d in order if d is not None]
        extra = [d for d in range(cube.ndim) if d not in present]
    for d in extra:
        if cube.shape[d] != 1:
            raise BadInputError(f"{where}: cannot identify dimension {d} "
                                f"(length {cube.shape[d]}); expected time, level, y, x")
    data = data.transpose(present + extra)
    data = data.reshape(data.shape[:len(present)])
    for i, od in enumerate(order):
        if od is None:
            data = dsa.expand_dims(data, i) if hasattr(dsa, "expand_dims") else data[
                (slice(None),) * i + (None,)]
    def iris_times(c: Any) -> list:
        if not c.units.is_time_reference():  # offsets ("hours") or bare numbers
            return normalize_times(np.asarray(c.points), str(c.units))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return list(c.units.num2date(c.points))

    if frame_n is not None:
        times = [None] * frame_n
        if frame_coord is not None and str(frame_coord.units) not in ("unknown", "1", "no_unit"):
            got = normalize_times(np.asarray(frame_coord.points), str(frame_coord.units))
            if all(isinstance(t, datetime.timedelta) for t in got):
                times = got  # offsets: a forecast step in hours
        calendar = "standard"
    elif tcoord is None:
        scal = cube.coords("time")
        if not allow_no_time and not scal:
            raise BadInputError(f"{where}: no time axis; expected a time coordinate")
        times = iris_times(scal[0])[:1] if scal else [None]
        calendar = str(scal[0].units.calendar or "standard") if scal else "standard"
    else:
        times = iris_times(tcoord)
        calendar = str(tcoord.units.calendar or "standard")

    if zcoord is not None:
        vals = np.asarray(zcoord.points, np.float64)
        u = str(zcoord.units).lower().replace(" ", "")
        zn = zcoord.name().lower()
        if "flight" in zn or zn.startswith("fl"):
            vertical, vkind, vunits = vals, "flight_level", "FL"
        elif u in _PRESSURE_UNITS:
            vertical, vkind, vunits = vals * _PRESSURE_UNITS[u], "pressure_hPa", "hPa"
        elif u in _LENGTH_UNITS:
            vertical, vkind, vunits = vals * _LENGTH_UNITS[u], "height_m", "m"
        else:
            vertical, vkind, vunits = vals, "model_level", u or "1"
    else:
        vertical, vkind, vunits = np.zeros(1), "none", ""

    x = np.asarray(xcoord.points, np.float64)
    y = np.asarray(ycoord.points, np.float64)
    if y.size > 1 and np.all(np.diff(y) < 0):
        y = y[::-1].copy()
        data = data[:, :, ::-1, :]
    cs = xcoord.coord_system
    crs = rotated = None
    xs = ys = None
    from iris.coord_systems import GeogCS, RotatedGeogCS

    if isinstance(cs, RotatedGeogCS):
        rotated = (float(cs.grid_north_pole_longitude), float(cs.grid_north_pole_latitude),
                   float(cs.north_pole_grid_longitude or 0.0))
        import pyproj

        crs = pyproj.CRS.from_cf({"grid_mapping_name": "rotated_latitude_longitude",
                                  "grid_north_pole_longitude": rotated[0],
                                  "grid_north_pole_latitude": rotated[1],
                                  "north_pole_grid_longitude": rotated[2]})
        xx, yy = np.meshgrid(x, y)
        lon, lat = geo.rotated_to_true(xx, yy, *rotated)
        xs, ys = x, y
    elif cs is None or isinstance(cs, GeogCS):
        lon, lat = x, y
        c0 = geo.central_longitude(lon) if lon.size > 1 else 0.0
        lonw = geo.normalize_longitudes(lon, c0)
        order_x = np.argsort(lonw, kind="stable")
        if np.any(order_x != np.arange(lon.size)):
            data = data[..., order_x]
        lon = lonw[order_x]
    else:
        import pyproj

        crs = pyproj.CRS(cs.as_cartopy_crs())
        xx, yy = np.meshgrid(x, y)
        lon, lat = geo.to_lonlat(xx, yy, crs)
        xs, ys = x, y
    return Field(
        name=name, values=data, times=times, lon=lon, lat=lat,
        standard_name=str(cube.standard_name or ""), units=str(cube.units),
        long_name=str(cube.long_name or ""), calendar=calendar,
        vertical=vertical, vertical_kind=vkind, vertical_units=vunits,
        crs=crs, x=xs, y=ys, rotated_pole=rotated, paths=tuple(ps), notes=tuple(notes),
        attrs=source_attrs(dict(cube.attributes)),
    )
