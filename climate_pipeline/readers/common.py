"""What the climate readers share: log lines, ``--var NAME#N``, units, times, attributes.

* :func:`say`: one INFO line per run on the ``vizpipe.climate.readers`` logger;
* :func:`split_occurrence`, :data:`VAR_SYNTAX`: ``--var NAME#N``;
* :data:`PRESSURE_UNITS`, :data:`LENGTH_UNITS`, :func:`norm_units`: vertical units;
* :func:`normalize_times`: time coordinate values as ``Field.times`` kinds;
* :func:`source_attrs`: the global attributes that say where data comes from;
* :data:`WIND_STANDARD_NAMES`, :data:`WIND_NAMES`: how wind components are found;
* the CF form of regional model output (WRF, IOAPI): :func:`field_attrs`,
  :func:`ordered_fields`, :func:`standard_atmosphere_height`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.errors import BadInputError

#: what a reader chose for the user (the field of a multi-field file, a non-CF frame axis):
#: one INFO line each; ``vizpipe.*`` reaches the run's ``run.log`` (core.cli.set_log_file)
_log = logging.getLogger("vizpipe.climate.readers")
_said: set[tuple] = set()


def say(line: str) -> None:
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


PRESSURE_UNITS = {"pa": 0.01, "hpa": 1.0, "mbar": 1.0, "millibar": 1.0, "mb": 1.0,
                  "millibars": 1.0, "hectopascal": 1.0, "hectopascals": 1.0, "pascal": 0.01,
                  "pascals": 0.01,
                  "kpa": 10.0, "bar": 1000.0}
LENGTH_UNITS = {"m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
                "km": 1000.0, "kilometer": 1000.0, "kilometers": 1000.0, "kilometre": 1000.0,
                "kilometres": 1000.0, "ft": 0.3048, "feet": 0.3048}


def norm_units(u: Any) -> str:
    return str(u or "").strip().lower().replace(" ", "")


def no_member(ps: list[str], member: int | None) -> None:
    if member is not None:
        raise BadInputError(f"{', '.join(ps)}: --member {member}: ensemble members are read "
                            "from GRIB files only; expected no --member for this format")


#: (u, v, w) standard names and variable names tried, in order, when open_winds gets no names.
WIND_STANDARD_NAMES = (("eastward_wind", "northward_wind", "upward_air_velocity"),
                       ("grid_eastward_wind", "grid_northward_wind", "upward_air_velocity"),
                       ("x_wind", "y_wind", "upward_air_velocity"))
WIND_NAMES = (("u", "v", "w"), ("ua", "va", "wa"), ("U", "V", "W"), ("uwnd", "vwnd", "wwnd"),
              ("u10", "v10", ""), ("10u", "10v", ""), ("U10", "V10", ""),
              ("UGRD", "VGRD", "DZDT"))


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
    scale = _OFFSET_UNITS.get(norm_units(units).split("since")[0]) if units else None
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


#: global attributes that say where data comes from (``climate_pipeline.labels.source_of``)
SOURCE_ATTRS = ("source", "model", "model_name", "source_id", "institution", "title", "TITLE",
                "NAME Version", "Title", "Time Av or Int", "Species", "Quantity")


def source_attrs(attrs: dict) -> dict:
    """The attributes of :data:`SOURCE_ATTRS` that ``attrs`` holds, as short strings."""
    return {k: " ".join(str(attrs[k]).split())[:200] for k in SOURCE_ATTRS
            if k in attrs and str(attrs[k]).strip()}


# ============================================================ regional model output as CF
#: names the CF form of WRF and IOAPI output gives its own variables (fields never take them)
MODEL_RESERVED = ("time", "z", "lat", "lon", "u", "v", "w", "u10", "v10")

#: fields put first (air quality is what these runs are for): a reader that takes the first
#: field by default shows particulate matter, then ozone
_FIRST = ("PM2_5_DRY", "PM25_TOT", "PM25", "PM2_5", "PM10", "PM10_TOT", "o3", "O3")


def ordered_fields(names: list[str], ndim: Mapping[str, int]) -> list[str]:
    """Particulate matter and ozone first (:data:`_FIRST`), then the other 3-D fields, then
    the 2-D ones, each in file order."""
    first = [n for n in _FIRST if n in names]
    rest = [n for n in names if n not in first]
    return first + [n for n in rest if ndim[n] == 4] + [n for n in rest if ndim[n] != 4]


def _text(v: Any) -> str:
    return str(v).strip() if isinstance(v, str) else str(v)


def field_attrs(attrs: Mapping) -> dict:
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


def standard_atmosphere_height(p_pa: Any) -> np.ndarray:
    """Height (m) of pressure ``p_pa`` in the ICAO standard atmosphere (troposphere to 11 km,
    isothermal above, to 20 km and beyond)."""
    p = np.asarray(p_pa, np.float64)
    t0, lapse, p0, r, g = 288.15, 0.0065, 101325.0, 287.05287, 9.80665
    p11 = p0 * (1.0 - lapse * 11000.0 / t0) ** (g / (r * lapse))
    tropo = t0 / lapse * (1.0 - (p / p0) ** (r * lapse / g))
    strato = 11000.0 + r * 216.65 / g * np.log(p11 / p)
    return np.where(p >= p11, tropo, strato)

