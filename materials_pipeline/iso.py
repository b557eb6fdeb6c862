"""Isovalue specifications: absolute, fraction of the maximum, percentile, enclosed electrons.

Spellings accepted by ``--iso`` (case-insensitive, spaces ignored):

=====================  =================================================================
``0.05``               absolute, in the grid's units (e/Angstrom^3 for densities)
``0.05e/A3``           absolute with units: e/A3, e/Angstrom^3, e/Å^3, e/bohr3 (converted);
                       ``0.5V`` or ``0.5eV`` for potentials (cube potentials are in volts)
``10%`` / ``10%max``   10 % of the maximum (of |values| for signed fields)
``p95``                the 95th percentile of the values (of |values| for signed fields)
``90%e``               the level whose region ``values >= level`` holds 90 % of the electrons
                       (densities only: needs a non-negative field with a voxel volume)
=====================  =================================================================

:func:`resolve` turns a spec into the absolute level recorded in the manifest. For signed
fields the level is positive and the surfaces are drawn at +level and -level.

Densities with a few negative voxels (AECCAR2's core correction, interpolation ringing): the
enclosed-electron level counts only the positive charge, when the negative charge is at most
:data:`NEGATIVE_CLIP` of it (:func:`negative_charge` says how much; the pipeline reports it).
A field with a larger negative part (a response or difference density, an orbital in a file
that does not say so) is a signed field: :func:`fit_default` picks a symmetric ±10 % of
max |value| for it, as for orbitals, spin and potentials.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from core.errors import BadInputError
from materials_pipeline.readers.cube import BOHR  # Angstrom, the readers' conversion

_UNITS = {
    "": 1.0, "e/a3": 1.0, "e/angstrom3": 1.0, "e/angstrom^3": 1.0, "e/å3": 1.0, "e/å^3": 1.0,
    "e/a^3": 1.0, "e/bohr3": BOHR**-3, "e/bohr^3": BOHR**-3, "ev": 1.0, "v": 1.0,
}
DEFAULT_SPEC = "50%e"
SIGNED_SPEC = "10%"
NEGATIVE_CLIP = 0.02  # negative charge / positive charge clipped for an enclosed level


def default_spec(units: str, signed: bool) -> str:
    """Half the electrons for a density; 10 % of the maximum (|value|) for anything else."""
    return DEFAULT_SPEC if units.startswith("e/") and not signed else SIGNED_SPEC


def charge_sums(values: np.ndarray) -> tuple[float, float]:
    """(sum of the negative values as a positive number, sum of the positive values), float64,
    no voxel volume: what :func:`negative_charge` scales. Computed once, it can be handed to
    :func:`negative_charge`, :func:`fit_default`, :func:`resolve` and :func:`enclosed_level`
    (``sums=``) for the same values, instead of each taking the passes again.

    A grid with no negative voxels (every density from VASP) costs one pass for its minimum
    and one for its sum: no boolean masks and no copies of the values. The sums are the
    masked ones bit for bit (``v[v > 0]`` of a C-contiguous grid with every value > 0 is the
    grid itself, in the same order, so numpy's pairwise summation adds the same numbers in
    the same groups); other grids take the masked sums.
    """
    v = np.asarray(values)
    if v.dtype.kind == "f" and v.size and v.flags.c_contiguous:
        lo = v.min()
        if lo >= 0:  # no negative voxel (a NaN minimum fails the test: masked path)
            neg = float(-v[:0].sum(dtype=np.float64))  # -0.0, as masked
            inside = v if lo > 0 else v[v > 0]
            return neg, float(inside.sum(dtype=np.float64))
    return float(-v[v < 0].sum(dtype=np.float64)), float(v[v > 0].sum(dtype=np.float64))


def negative_charge(values: np.ndarray, voxel_volume: float = 1.0, *,
                    sums: tuple[float, float] | None = None) -> tuple[float, float]:
    """(negative charge as a positive number, positive charge), in electrons:
    :func:`charge_sums` (or ``sums``, its result for these values) times the voxel volume."""
    neg, pos = charge_sums(values) if sums is None else sums
    return neg * voxel_volume, pos * voxel_volume


def fit_default(values: np.ndarray, units: str, signed: bool, voxel_volume: float = 1.0, *,
                sums: tuple[float, float] | None = None) -> tuple[str, bool]:
    """(default spec, signed) that fit the data: a field not marked signed whose negative part
    is more than :data:`NEGATIVE_CLIP` of its positive part (integrated) is drawn as a signed
    field (±10 % of max |value|): a response density, an orbital in a file that does not say
    so. Otherwise :func:`default_spec`. ``sums``: :func:`charge_sums` of ``values``."""
    if signed:
        return SIGNED_SPEC, True
    neg, pos = negative_charge(values, voxel_volume, sums=sums)
    if pos <= 0 or neg > NEGATIVE_CLIP * pos:
        return SIGNED_SPEC, True
    return default_spec(units, False), False


@dataclass(frozen=True)
class IsoSpec:
    kind: str  # absolute | fraction | percentile | enclosed
    value: float
    text: str

    def describe(self, level: float, units: str) -> str:
        if self.kind == "absolute":
            return f"{level:.4g} {units}".strip()
        what = {"fraction": f"{self.value * 100:g}% of max",
                "percentile": f"{self.value:g}th percentile",
                "enclosed": f"encloses {self.value * 100:g}% of the electrons"}[self.kind]
        return f"{level:.4g} {units} ({what})".replace("  ", " ")


def parse(text: str) -> IsoSpec:
    """Parse an ``--iso`` spec; a bad one raises BadInputError listing the spellings."""
    raw = str(text)
    t = raw.strip().lower().replace(" ", "")
    try:
        if m := re.fullmatch(r"([0-9.]+(?:e[-+]?\d+)?)%e", t):
            v = float(m.group(1)) / 100
            if not 0 < v < 1:
                raise ValueError
            return IsoSpec("enclosed", v, raw)
        if m := re.fullmatch(r"([0-9.]+(?:e[-+]?\d+)?)%(?:max)?", t):
            v = float(m.group(1)) / 100
            if not 0 < v <= 1:
                raise ValueError
            return IsoSpec("fraction", v, raw)
        if m := re.fullmatch(r"p([0-9.]+)", t):
            v = float(m.group(1))
            if not 0 < v < 100:
                raise ValueError
            return IsoSpec("percentile", v, raw)
        if m := re.fullmatch(r"([-+]?[0-9.]+(?:e[-+]?\d+)?)(.*)", t):
            unit = m.group(2)
            if unit not in _UNITS:
                raise ValueError
            return IsoSpec("absolute", float(m.group(1)) * _UNITS[unit], raw)
    except ValueError:
        pass
    raise BadInputError(
        f"--iso {raw!r}: expected an absolute value (0.05, 0.05e/A3, 0.002e/bohr3), a fraction "
        "of the maximum (10%), a percentile (p95) or an enclosed-electron fraction (90%e)")


_BLOCK = 1 << 18  # values per block of the binning passes (2 MB temporaries, reused)
_NBINS = 4096


def _bin_index(block: np.ndarray, scale: float, buf: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Bin of each value of ``block`` (``floor(value * scale)``, the maximum in the last bin),
    written into ``idx``'s first ``len(block)`` entries. Monotone in the value."""
    m = len(block)
    np.multiply(block, scale, out=buf[:m])
    ix = idx[:m]
    ix[...] = buf[:m]  # truncation toward zero: the values are positive
    np.minimum(ix, _NBINS - 1, out=ix)
    return ix


def enclosed_level(values: np.ndarray, fraction: float, voxel_volume: float = 1.0, *,
                   sums: tuple[float, float] | None = None,
                   extremes: tuple[float, float] | None = None) -> float:
    """The largest level L such that the voxels with values >= L hold at least ``fraction``
    of the total (positive) charge. Exact (L is one of the sample values), O(n): a charge-
    weighted count of 4096 equal bins (``np.bincount``, block by block: no sort, no copy of
    the grid when every value is positive) finds the bin, a sort of that bin's few samples
    finds the value. ``sums`` (:func:`charge_sums`) and ``extremes`` ((min, max), no NaN) of
    ``values``, when known, save their passes over the grid."""
    v = np.asarray(values).ravel()
    if v.size == 0:
        raise BadInputError("enclosed-electron isovalue needs a positive density")
    lo, hi = (v.min(), None) if extremes is None else extremes
    pos = v if v.dtype.kind == "f" and lo > 0 else v[v > 0]  # the same values, same order
    # the sum of v[v > 0], as charge_sums takes it (the same numbers in the same order)
    total = float(pos.sum(dtype=np.float64)) if sums is None else sums[1]
    if not total > 0:
        raise BadInputError("enclosed-electron isovalue needs a positive density")
    target = fraction * total
    scale = _NBINS / float(pos.max() if hi is None else hi)  # max > 0: the positive max
    n = min(_BLOCK, pos.size)
    buf, idx = np.empty(n), np.empty(n, np.intp)
    weights = np.zeros(_NBINS)
    for i in range(0, pos.size, _BLOCK):
        block = pos[i:i + _BLOCK]
        weights += np.bincount(_bin_index(block, scale, buf, idx), weights=block,
                               minlength=_NBINS)
    above = np.cumsum(weights[::-1])[::-1]  # above[b]: charge in bins b, b+1, ...
    b = int(np.nonzero(above >= target)[0].max())
    outside = float(above[b + 1]) if b + 1 < _NBINS else 0.0
    parts = [block[_bin_index(block, scale, buf, idx) == b]
             for block in (pos[i:i + _BLOCK] for i in range(0, pos.size, _BLOCK))]
    in_bin = np.sort(np.concatenate(parts).astype(np.float64))[::-1]
    reach = outside + np.cumsum(in_bin)
    k = int(np.searchsorted(reach, target * (1 - 1e-12)))
    return float(in_bin[min(k, len(in_bin) - 1)])


def resolve(spec: IsoSpec, values: np.ndarray, *, signed: bool = False,
            voxel_volume: float = 1.0, units: str = "", source: str = "",
            field: str = "", sums: tuple[float, float] | None = None,
            extremes: tuple[float, float] | None = None) -> float:
    """Absolute level for ``spec`` on ``values`` (positive for signed fields).

    An enclosed-electron level on a density with a few negative voxels counts the positive
    charge only (see the module notes); on a signed field it is an error naming ``source``
    and ``field``. ``sums`` (:func:`charge_sums`) and ``extremes`` ((min, max) of values
    without NaN), when the caller has them, save passes over the grid; the level is the same.
    """
    where = f"{source}: " if source else ""
    what = f"field {field!r}: " if field else ""
    if extremes is None:
        vmin, top = float(np.nanmin(values)), None
    else:
        vmin, top = float(extremes[0]), float(extremes[1])

    def vmax_of(absolute: bool) -> float:  # nanmax of values (of |values|)
        if top is None:
            return float(np.nanmax(np.abs(values) if absolute else values))
        return max(-vmin, top) if absolute else top

    if spec.kind == "absolute":
        level = abs(spec.value) if signed else spec.value
    elif spec.kind == "fraction":
        level = spec.value * vmax_of(signed)
    elif spec.kind == "percentile":
        level = float(np.nanpercentile(np.abs(values) if signed else values, spec.value))
    else:
        if sums is None and not signed:
            sums = charge_sums(values)
        neg, pos = negative_charge(values, voxel_volume, sums=sums)
        if signed or pos <= 0 or neg > NEGATIVE_CLIP * pos:
            kind = "a signed field" if signed else (
                f"negative values ({neg:.3g} e negative against {pos:.3g} e positive)")
            raise BadInputError(
                f"{where}{what}--iso {spec.text}: expected a non-negative density for an "
                f"enclosed-electron level, got {kind}; use a fraction of max |value| "
                f"({SIGNED_SPEC}) or an absolute level (±)")
        level = enclosed_level(values, spec.value, voxel_volume, sums=sums, extremes=extremes)
        vmax = vmax_of(False)
        if level >= vmax:  # one voxel holds the fraction (coarse grid): the next value down
            below = np.asarray(values)[np.asarray(values) < vmax]
            level = float(below.max()) if below.size else level
    vmax = vmax_of(signed)
    if not signed and not (vmin < level < vmax):
        raise BadInputError(f"{where}isovalue {level:.4g} {units} is outside the field's range "
                            f"[{vmin:.4g}, {vmax:.4g}]: no surface")
    if signed and not 0 < level < vmax:
        raise BadInputError(f"{where}isovalue ±{level:.4g} {units} is outside the field's range "
                            f"(max |value| {vmax:.4g}): no surface")
    return float(level)


def enclosed_charge(values: np.ndarray, level: float, voxel_volume: float) -> float:
    """Electrons in the voxels where values >= level."""
    v = np.asarray(values)
    return float(v[v >= level].sum(dtype=np.float64) * voxel_volume)
