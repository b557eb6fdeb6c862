"""Isosurface levels a person reads: round numbers, or the levels people act on.

* :func:`nice_floor` / :func:`round_levels`: the 1-2-5 series (..., 0.5, 1, 2, 5, 10, ...).
  The default isosurfaces are the 90th and 99th percentiles of the data rounded down to a
  multiple of a 1-2-5 step (0.0008, 0.7, 290: round at the precision the level needs).
* :data:`ACTION_LEVELS`: values people act on, each with its source. Where the field is one of
  these quantities (found from its names, and in a unit that converts to the row's), the
  levels inside the data's range are the isosurfaces, and the legend names them.
  ``--thresholds`` still overrides; a threshold given that equals a row's value is named too.

Pure functions: numbers and strings in, numbers and strings out.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

__all__ = ["ActionLevel", "ACTION_LEVELS", "quantity_of", "action_levels", "nice_floor",
           "round_level", "round_levels", "default_levels", "level_label"]


@dataclass(frozen=True)
class ActionLevel:
    quantity: str  # key of QUANTITIES
    value: float
    units: str  # UDUNITS
    label: str  # what the level means, for the legend
    source: str
    short_term: bool  # an hourly to daily level (isosurface candidates); annual means are not


WHO = "WHO global air quality guidelines 2021, Table 0.1"
EU = "EU Directive 2008/50/EC, Annexes VII and XI"
ICAO = ("ICAO EUR/NAT Volcanic Ash Contingency Plan (EUR Doc 019 / NAT Doc 006 Part II), "
        "contamination areas, 2010")

#: levels people act on; one row per level, each with its source
ACTION_LEVELS: tuple[ActionLevel, ...] = (
    ActionLevel("volcanic ash", 0.2, "mg m-3", "low contamination (aviation)", ICAO, True),
    ActionLevel("volcanic ash", 2.0, "mg m-3", "medium contamination (aviation)", ICAO, True),
    ActionLevel("volcanic ash", 4.0, "mg m-3", "high contamination (aviation)", ICAO, True),
    ActionLevel("PM2.5", 15.0, "ug m-3", "WHO 2021 24-h guideline", WHO, True),
    ActionLevel("PM2.5", 5.0, "ug m-3", "WHO 2021 annual guideline", WHO, False),
    ActionLevel("PM2.5", 25.0, "ug m-3", "EU annual limit", EU, False),
    ActionLevel("PM10", 45.0, "ug m-3", "WHO 2021 24-h guideline", WHO, True),
    ActionLevel("PM10", 15.0, "ug m-3", "WHO 2021 annual guideline", WHO, False),
    ActionLevel("PM10", 50.0, "ug m-3", "EU daily limit", EU, True),
    ActionLevel("PM10", 40.0, "ug m-3", "EU annual limit", EU, False),
    ActionLevel("NO2", 25.0, "ug m-3", "WHO 2021 24-h guideline", WHO, True),
    ActionLevel("NO2", 10.0, "ug m-3", "WHO 2021 annual guideline", WHO, False),
    ActionLevel("NO2", 200.0, "ug m-3", "EU hourly limit", EU, True),
    ActionLevel("NO2", 40.0, "ug m-3", "EU annual limit", EU, False),
    ActionLevel("O3", 100.0, "ug m-3", "WHO 2021 8-h guideline", WHO, True),
    ActionLevel("O3", 60.0, "ug m-3", "WHO 2021 peak-season guideline", WHO, False),
    ActionLevel("O3", 120.0, "ug m-3", "EU 8-h target value", EU, True),
    ActionLevel("O3", 180.0, "ug m-3", "EU information threshold (1 h)", EU, True),
    ActionLevel("O3", 240.0, "ug m-3", "EU alert threshold (1 h)", EU, True),
)

#: how a quantity is recognised in a variable's name, long_name or standard_name (lower case,
#: underscores as spaces)
QUANTITIES: dict[str, str] = {
    "volcanic ash": r"volcanic ash|\bash\b",
    "PM2.5": r"\bpm ?2(\.|p)?5\b|\bpm25\b",
    "PM10": r"\bpm ?10\b",
    "NO2": r"\bno2\b|nitrogen dioxide",
    "O3": r"\bo3\b|\bozone\b",
}


def quantity_of(*names: str) -> str | None:
    """The :data:`QUANTITIES` key the names describe (None: none of them)."""
    text = " ".join(n for n in names if n).lower().replace("_", " ")
    for key, pattern in QUANTITIES.items():
        if re.search(pattern, text):
            return key
    return None


def action_levels(quantity: str | None, units: str) -> list[tuple[float, ActionLevel]]:
    """The rows of ``quantity`` as ``(value in units, row)``, ascending; none when ``units``
    does not convert to the rows' unit (a mole fraction has no fixed mass concentration)."""
    from core.units import factor

    out = []
    for row in ACTION_LEVELS:
        if row.quantity != quantity:
            continue
        try:
            f = factor(row.units, units)
        except ValueError:
            return []
        out.append((row.value * f, row))
    return sorted(out, key=lambda x: x[0])


_STEPS = (1.0, 2.0, 5.0)


def nice_floor(x: float) -> float:
    """The largest number of the 1-2-5 series not above ``x`` (``x`` > 0)."""
    if not x > 0 or not math.isfinite(x):
        raise ValueError(f"nice_floor needs a positive finite number, got {x!r}")
    k = math.floor(math.log10(x))
    best = 10.0 ** (k - 1) * 5.0
    for s in _STEPS + (10.0,):
        v = s * 10.0 ** k
        if v <= x * (1 + 1e-9):
            best = v
    return float(f"{best:.6g}")


def round_level(x: float, lo: float, finer: int = 0) -> float:
    """``x`` rounded down to a multiple of a 1-2-5 step about a quarter of its height above
    ``lo`` (the data's minimum): 0.00083 -> 0.0008, 0.79 -> 0.7 over a zero minimum, 290.3
    K -> 290 over 250 K (a temperature has no meaningful zero). ``finer`` steps the step
    down the series that many times."""
    step = nice_floor(max((x - lo) / 4.0, abs(x) * 1e-6, 1e-300))
    for _ in range(finer):
        step = nice_floor(step * (1 - 1e-6))
    v = math.floor(x / step * (1 + 1e-12)) * step
    return float(f"{v:.6g}")


def round_levels(values, lo: float) -> list[float]:
    """``values`` (above ``lo``, the data's minimum) each rounded down by
    :func:`round_level`, distinct and ascending: a level that would repeat the one below is
    rounded more finely."""
    out: list[float] = []
    for x in sorted(float(v) for v in values if v > lo):
        for finer in range(8):
            v = round_level(x, lo, finer)
            if v > lo and (not out or v > out[-1]):
                out.append(v)
                break
    return out


def default_levels(sample: np.ndarray, quantity: str | None, units: str
                   ) -> tuple[list[float], str]:
    """``(levels, rule)``: the isosurface levels for a field whose values (in ``units``)
    ``sample`` holds, and the rule that chose them: the quantity's short-term action levels
    inside the data's range (at most three, each at least 1.5 times the one below), else the
    90th and 99th percentiles rounded down to the 1-2-5 series."""
    finite = np.asarray(sample, dtype=np.float64)
    lo, hi = float(np.min(finite)), float(np.max(finite))
    acts = [(v, r) for v, r in action_levels(quantity, units) if r.short_term and lo < v < hi]
    picked: list[float] = []
    for v, _r in acts:
        if not picked or v >= 1.5 * picked[-1]:
            picked.append(v)
    if picked:
        return picked[:3], f"{quantity} action levels"
    p90, p99 = np.percentile(finite, [90, 99])
    got = round_levels([p90, p99], lo)
    if not got:  # the percentiles sit on the minimum (a field mostly at one value)
        return [float(f"{(lo + hi) / 2:.3g}")], "the middle of the data's range"
    return got, "90th and 99th percentiles, rounded to 1-2-5 steps"


def level_label(value: float, units_shown: str, quantity: str | None, units: str) -> str:
    """``0.2 mg/m³``, with what the level means where it is an action level
    (``0.2 mg/m³ · low contamination (aviation)``)."""
    text = f"{value:g} {units_shown}".strip()
    for v, row in action_levels(quantity, units):
        if math.isclose(v, value, rel_tol=1e-6):
            return f"{text} · {row.label}"
    return text
