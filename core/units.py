"""Units a person reads.

Two pure helpers for every label a picture carries (colour bar, subtitle, legend, manifest):

* :func:`readable_unit` picks, with cf-units (UDUNITS-2), the prefixed unit of the same kind
  that puts a typical value between 0.1 and 1000: ash at 8e-4 g/m3 is shown as 800 µg/m³
  (or 0.8 mg/m³ where aviation's levels are in mg/m³), a dust load in g/m² rather than
  kg/m², a mole fraction in ppb. It returns the unit and the exact factor to multiply the
  values by. Pressures are shown in hPa (the weather map's unit, whatever the size). Units
  of other kinds (K, m/s, "1") are kept as they are: their conventional unit is not a
  matter of size.
* :func:`pretty` writes a CF/UDUNITS unit string as people write it: ``ug m-3`` -> ``µg/m³``,
  ``kg m-2 s-1`` -> ``kg/(m²·s)``, ``m s-1`` -> ``m/s``.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

__all__ = ["readable_unit", "pretty", "FAMILIES"]

#: the quantities whose unit follows the size of the values: (kind, the candidates from the
#: largest unit to the smallest, in UDUNITS spelling)
FAMILIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("mass concentration", ("kg m-3", "g m-3", "mg m-3", "ug m-3", "ng m-3")),
    ("mass per area", ("kg m-2", "g m-2", "mg m-2", "ug m-2")),
    ("deposition rate", ("kg m-2 s-1", "g m-2 s-1", "mg m-2 s-1", "ug m-2 s-1",
                         "ng m-2 s-1")),
)
#: mole and mass fractions (dimensionless, so only when the unit says it is one)
FRACTIONS = (("1e-6", "ppm"), ("1e-9", "ppb"), ("1e-12", "ppt"))
_FRACTION_UNIT = re.compile(r"^\s*(mol\s*/?\s*mol(-1)?|kg\s*/?\s*kg(-1)?|mol mol-1|kg kg-1|"
                            r"ppm[vm]?|ppb[vm]?|ppt[vm]?|1e-0?[69]|1e-12)\s*$", re.I)
LOW, HIGH = 0.1, 1000.0


@lru_cache(maxsize=256)
def _unit(text: str):
    import cf_units

    try:
        return cf_units.Unit(_udunits(text))
    except (ValueError, TypeError):
        return None


def _udunits(text: str) -> str:
    """``µg/m³``-style spellings back to UDUNITS (cf-units parses ``ug/m3``)."""
    t = text.replace("µ", "u").replace("μ", "u").replace("³", "3").replace("²", "2")
    return {"ppmv": "1e-6", "ppm": "1e-6", "ppbv": "1e-9", "ppb": "1e-9", "pptv": "1e-12",
            "ppt": "1e-12"}.get(t.strip().lower(), t)


def factor(src: str, dst: str) -> float:
    """The exact factor from ``src`` to ``dst`` (powers of ten rounded to be exact)."""
    a, b = _unit(src), _unit(dst)
    if a is None or b is None or not a.is_convertible(b):
        raise ValueError(f"cannot convert {src!r} to {dst!r}")
    f = float(a.convert(1.0, b))
    k = round(math.log10(f)) if f > 0 else 0
    return float(10.0 ** k) if f > 0 and abs(f / 10.0 ** k - 1) < 1e-9 else f


def readable_unit(units: str, typical: float, prefer: str | None = None
                  ) -> tuple[str, float]:
    """``(unit, factor)``: the unit (UDUNITS spelling, or ppm/ppb/ppt; :func:`pretty` for
    labels) to show values of ``units`` in, so that ``typical`` (a
    high but common value: the top of the colour range) falls in [0.1, 1000), and the factor
    to multiply values by. ``prefer`` (a unit of the same kind, say the unit of the
    quantity's action levels) wins whenever it puts ``typical`` in that span. Unknown or
    unparsable units, units of other kinds, a zero or non-finite ``typical``: ``(units,
    1.0)``."""
    src = _unit(units) if units else None
    if src is None or not math.isfinite(typical) or typical == 0:
        return units, 1.0
    cands: list[str] = []  # UDUNITS spellings
    if _FRACTION_UNIT.match(units):
        cands = [shown for _u, shown in FRACTIONS]
    else:
        for _kind, members in FAMILIES:
            if src.is_convertible(members[0]):
                cands = list(members)
                break
    if not cands and src.is_convertible("Pa"):  # weather maps speak hPa, whatever the size
        return ("hPa", factor(units, "hPa")) if units != "hPa" else (units, 1.0)
    if not cands:
        return units, 1.0
    scaled = [(u, factor(units, u)) for u in cands]
    if prefer is not None and (pu := _unit(prefer)) is not None and pu.is_convertible(src):
        f = factor(units, prefer)
        if LOW <= abs(typical) * f < HIGH:
            return prefer, f
    # the largest unit that shows the typical value as 1 or more (no leading "0.00")
    fitting = [(s, f) for s, f in scaled if LOW <= abs(typical) * f < HIGH]
    if not fitting:
        return units, 1.0
    above_one = [(s, f) for s, f in fitting if abs(typical) * f >= 1.0]
    return (above_one or fitting)[0]


_SUP = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
_TOKEN = re.compile(r"^([A-Za-zµμ%°]+)(\^?(-?\d+))?$")


def pretty(units: str) -> str:
    """A CF/UDUNITS unit string as people write it (``ug m-3`` -> ``µg/m³``). Strings it
    does not understand come back unchanged."""
    text = (units or "").strip()
    if not text or text in ("1", "-"):
        return "" if text in ("1", "-") else text
    if "/" in text and " " not in text:  # g/m3, ug/m3, m/s
        top, _, bottom = text.partition("/")
        return _join([_one(top, 1)], [_one(bottom, 1)]) if _TOKEN.match(top) and \
            _TOKEN.match(bottom) else text
    num: list[str] = []
    den: list[str] = []
    for tok in re.split(r"[\s.·*]+", text):
        m = _TOKEN.match(tok)
        if not m:
            return text
        exp = int(m.group(3)) if m.group(3) else 1
        (num if exp > 0 else den).append(_one(m.group(1), abs(exp)))
    return _join(num, den)


def _one(symbol: str, exp: int | str) -> str:
    m = _TOKEN.match(symbol)
    if m and m.group(3):  # "m3" inside "g/m3"
        symbol, exp = m.group(1), int(m.group(3))
    if len(symbol) > 1 and symbol[0] == "u" and symbol[1:] in ("g", "m", "mol", "s", "Pa"):
        symbol = "µ" + symbol[1:]
    e = int(exp)
    return symbol + (str(e).translate(_SUP) if e != 1 else "")


def _join(num: list[str], den: list[str]) -> str:
    top = "·".join(num) or "1"
    if not den:
        return top
    bottom = den[0] if len(den) == 1 else "(" + "·".join(den) + ")"
    return f"{top}/{bottom}"
