"""Readers: CF-NetCDF (xarray + dask, lazy), GRIB (ecCodes) and what iris reads (PP, NAME)
-> ``Field``. One reader class per format, beside its content test, in a module of its own
(:mod:`.netcdf`, :mod:`.grib`, :mod:`.iris`; WRF and CMAQ/IOAPI output through the NetCDF
reader: :mod:`.models`); :mod:`.registry` lists the classes.

* ``open_field(paths, var=None, *, standard_name=None, allow_no_time=False, member=None)
  -> Field``
* ``open_winds(paths, names=("u", "v"), ...) -> Winds`` (rotated-pole winds rotated lazily;
  each component is read from whichever of the files holds it: ``uwnd.nc`` + ``vwnd.nc``)
* ``field_from_dataset(ds, var=None, ...) -> Field``, ``winds_from_dataset(ds, names)``: the
  same from an ``xarray.Dataset`` already open (in memory, lazily generated)
* ``check_same_grid(field, winds)``
* ``READERS`` (the reader classes), ``FORMATS`` (the same as a
  :class:`core.formats.Registry`: NetCDF, GRIB, NAME, PP) and ``guess_format(path)``: which
  reader reads a file (magic bytes, content, then name)

``var`` may be ``NAME#N``: the N-th field of that name in file order. Log lines go to the
``vizpipe.climate.readers`` logger and the ``Field.notes``.
Every error is one line naming the file, the variable and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from climate_pipeline import geo
from climate_pipeline.data import Field, Winds
from climate_pipeline.readers.base import Reader
from climate_pipeline.readers.common import (
    SOURCE_ATTRS,
    VAR_SYNTAX,
    WIND_NAMES,
    WIND_STANDARD_NAMES,
    normalize_times,
    source_attrs,
    split_occurrence,
)
from climate_pipeline.readers.netcdf import field_from_dataset
from climate_pipeline.readers.registry import FORMATS, READERS, guess_format, guess_reader
from core.errors import BadInputError

__all__ = ["open_field", "open_winds", "field_from_dataset", "winds_from_dataset",
           "check_same_grid", "auto_wind_names", "FORMATS", "READERS", "Reader",
           "guess_format", "guess_reader", "WIND_NAMES", "WIND_STANDARD_NAMES",
           "normalize_times", "source_attrs", "SOURCE_ATTRS", "split_occurrence",
           "VAR_SYNTAX"]


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
    readers = {guess_reader(p) for p in ps}
    if len(readers) > 1:
        raise BadInputError(f"{', '.join(ps)}: mixed formats "
                            f"{sorted(r.name for r in readers)}; expected files of one format")
    return readers.pop()().open(ps, var, standard_name=standard_name,
                                allow_no_time=allow_no_time, member=member)


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


def _variable_table(path: str) -> list[tuple[str, str]]:
    """(name, standard_name) of the data variables of one file."""
    return guess_reader(path)().variables(path)


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
    return _winds(comps)


def winds_from_dataset(ds: Any, names: Sequence[str] = ("u", "v", "w"), *,
                       allow_no_time: bool = True) -> Winds:
    """u, v (and w with a third name) of an open ``xarray.Dataset`` as ``Winds``: what
    :func:`open_winds` makes of files (same grid checked; rotated-pole components flagged
    for rotation to true east/north)."""
    if len(names) not in (2, 3):
        raise BadInputError(f"<memory>: expected 2 or 3 wind variable names, got {names}")
    return _winds([field_from_dataset(ds, n, allow_no_time=allow_no_time) for n in names])


def _winds(comps: list[Field]) -> Winds:
    """u, v[, w] on one grid as ``Winds``; components along a rotated-pole grid's axes are
    flagged for rotation to true east/north."""
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
