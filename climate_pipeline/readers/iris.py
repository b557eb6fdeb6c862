"""What iris reads: Met Office PP and NAME text output -> ``Field`` (:class:`PPReader`,
:class:`NameReader`).

``var`` may be ``NAME#N``: the N-th field of that name in file order (NAME III's two
``TRACER_AIR_CONCENTRATION`` fields); with no ``var``, a file's first data field is taken
(one log line names it and the others). WGDOS/RLE-packed PP data is unpacked without
mo_pack (:mod:`climate_pipeline.readers.wgdos`).
"""

from __future__ import annotations

import dataclasses
import datetime
import warnings
from typing import Any

import numpy as np

from climate_pipeline import geo
from climate_pipeline.data import Field
from climate_pipeline.readers.base import Reader
from climate_pipeline.readers.common import (
    LENGTH_UNITS,
    PRESSURE_UNITS,
    VAR_SYNTAX,
    no_member,
    normalize_times,
    say,
    source_attrs,
    split_occurrence,
)
from climate_pipeline.readers.wgdos import install_mo_pack_shim
from core.errors import BadInputError, MissingDependencyError

__all__ = ["PPReader", "NameReader"]


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
        say(f"{where}: {how}: using the first in the file, "
             f"{entries[pos[id(cube)]]}; the others: {', '.join(others)} (choose with "
             f"{VAR_SYNTAX})")
        notes.append(f"field {label}, the first of {len(pool)} (--var picks another)")
    return cube, (label if "#" in label else cube.var_name or cube.name()), notes


def _load(ps: list[str], member: int | None) -> list:
    """The cubes of ``ps`` in the files' order (:func:`_file_order`)."""
    from core.integrity import check_file

    for p in ps:  # a PP file cut short (iris drops its last field without a word)
        check_file(p)
    no_member(ps, member)
    try:
        import iris
        import iris.cube
    except Exception as exc:
        raise MissingDependencyError(f"{ps[0]}: reading PP/NAME/GRIB needs scitools-iris "
                                     f"({exc})") from exc
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
    return _file_order(cubes, raw_keys, ps)


@dataclasses.dataclass
class _Dims:
    """A cube's data as (time, level, y, x) (lazy, masked points NaN) and the coordinates
    along them; a leading dimension that is not time (realization, member) as the frames."""

    data: Any
    tcoord: Any
    zcoord: Any
    ycoord: Any
    xcoord: Any
    frame_n: int | None = None
    frame_coord: Any = None


def _arrange(cube: Any, where: str, notes: list[str]) -> _Dims:
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
        say(f"{where}: {dname!r} ({frame_n} steps) is not a time, vertical, y or x axis: "
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
    return _Dims(data, tcoord, zcoord, ycoord, xcoord, frame_n, frame_coord)


def _coord_times(c: Any) -> list:
    if not c.units.is_time_reference():  # offsets ("hours") or bare numbers
        return normalize_times(np.asarray(c.points), str(c.units))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return list(c.units.num2date(c.points))


def _times(cube: Any, d: _Dims, allow_no_time: bool, where: str) -> tuple[list, str]:
    """(times, calendar) of the frames."""
    if d.frame_n is not None:
        times: list = [None] * d.frame_n
        fc = d.frame_coord
        if fc is not None and str(fc.units) not in ("unknown", "1", "no_unit"):
            got = normalize_times(np.asarray(fc.points), str(fc.units))
            if all(isinstance(t, datetime.timedelta) for t in got):
                times = got  # offsets: a forecast step in hours
        return times, "standard"
    if d.tcoord is None:
        scal = cube.coords("time")
        if not allow_no_time and not scal:
            raise BadInputError(f"{where}: no time axis; expected a time coordinate")
        times = _coord_times(scal[0])[:1] if scal else [None]
        return times, str(scal[0].units.calendar or "standard") if scal else "standard"
    return _coord_times(d.tcoord), str(d.tcoord.units.calendar or "standard")


def _vertical(zcoord: Any) -> tuple[np.ndarray, str, str]:
    """(values, kind, units) of the levels."""
    if zcoord is None:
        return np.zeros(1), "none", ""
    vals = np.asarray(zcoord.points, np.float64)
    u = str(zcoord.units).lower().replace(" ", "")
    zn = zcoord.name().lower()
    if "flight" in zn or zn.startswith("fl"):
        return vals, "flight_level", "FL"
    if u in PRESSURE_UNITS:
        return vals * PRESSURE_UNITS[u], "pressure_hPa", "hPa"
    if u in LENGTH_UNITS:
        return vals * LENGTH_UNITS[u], "height_m", "m"
    return vals, "model_level", u or "1"


def _horizontal(d: _Dims) -> tuple[Any, np.ndarray, np.ndarray, Any, Any, Any, Any]:
    """(data reordered: latitudes ascending, longitudes increasing; lon, lat, crs, x, y,
    rotated pole) of the cube's x/y coordinates."""
    data = d.data
    x = np.asarray(d.xcoord.points, np.float64)
    y = np.asarray(d.ycoord.points, np.float64)
    if y.size > 1 and np.all(np.diff(y) < 0):
        y = y[::-1].copy()
        data = data[:, :, ::-1, :]
    cs = d.xcoord.coord_system
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
    return data, lon, lat, crs, xs, ys, rotated


def _open_iris(ps: list[str], var: str | None, standard_name: str | None,
               allow_no_time: bool, member: int | None) -> Field:
    cube, name, notes = _pick_cube(_load(ps, member), var, standard_name, ", ".join(ps))
    where = f"{', '.join(ps)}: variable {name!r}"
    d = _arrange(cube, where, notes)
    times, calendar = _times(cube, d, allow_no_time, where)
    vertical, vkind, vunits = _vertical(d.zcoord)
    data, lon, lat, crs, xs, ys, rotated = _horizontal(d)
    return Field(
        name=name, values=data, times=times, lon=lon, lat=lat,
        standard_name=str(cube.standard_name or ""), units=str(cube.units),
        long_name=str(cube.long_name or ""), calendar=calendar,
        vertical=vertical, vertical_kind=vkind, vertical_units=vunits,
        crs=crs, x=xs, y=ys, rotated_pole=rotated, paths=tuple(ps), notes=tuple(notes),
        attrs=source_attrs(dict(cube.attributes)),
    )


class _IrisReader(Reader):
    """A format iris loads (the cubes of one or more files, in file order)."""

    def open(self, paths: list[str], var: str | None, *, standard_name: str | None,
             allow_no_time: bool, member: int | None) -> Field:
        return _open_iris(paths, var, standard_name, allow_no_time, member)

    def variables(self, path: str) -> list[tuple[str, str]]:
        import iris

        from core.integrity import check_file

        check_file(path)  # a PP file cut short (iris drops its last field without a word)

        install_mo_pack_shim()  # WGDOS/RLE-packed PP without mo_pack
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            return [(c.var_name or c.name(), str(c.standard_name or "")) for c in iris.load(path)]


class NameReader(_IrisReader):
    """NAME (the Met Office dispersion model) text output."""

    name = "name"
    description = "NAME text output (read with iris)"

    def guess_can_open(self, path: str, head: bytes) -> bool:
        """NAME text output: the file starts with ``NAME`` (``NAME III (version 6.3)``)."""
        return head.lstrip()[:4].upper() == b"NAME"


class PPReader(_IrisReader):
    """Met Office PP: a big-endian (or little-endian) Fortran record of 64 words = 256
    bytes, iris's test."""

    name = "pp"
    description = "Met Office PP (read with iris)"
    globs = ("*.pp",)
    magic = (b"\x00\x00\x01\x00", b"\x00\x01\x00\x00")
