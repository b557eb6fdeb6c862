"""The default isosurface level of a grid, chosen by what the grid is (issue #20).

:func:`choose_default` returns a :class:`DefaultLevel`: the ``--iso`` spec it stands for, the
rule that picked it (shown in the log line and the legend's subtitle) and why. Pure: numpy and
a few numbers in, a frozen dataclass out.

Rules, first match wins:

==================  ==========================================================================
``signed``          orbitals, spin and magnetization densities, and any field whose negative
                    part is more than 2 % of its positive part (:func:`iso.fit_default`):
                    ±10 % of max |value|, two surfaces.
``potential``       potentials (LOCPOT, ESP cubes, vaspout potentials), in volts:
                    ±½·min(max V, −min V), half the smaller of the two extremes, so that both
                    signs get a surface. Around a molecule (zero at infinity) the two lobes
                    show its dipole; in a LOCPOT (zero = the cell average) the positive sheet
                    lies half-way up the step from the slab to the vacuum plateau. A potential
                    of one sign only falls back to ±10 % of max |value|.
``molecular``       densities of molecules: 0.002 e/bohr³ (0.0135 e/Å³), the molecular surface
                    VESTA, Avogadro and GaussView draw.
``enclosed``        periodic valence densities: the level enclosing 50 % of the electrons.
``fraction``        anything else (ELF, fields without units): 10 % of the maximum.
==================  ==========================================================================

All-electron or valence, molecule or crystal (densities): decided from the content, the
format only where its writer is known. A density without units in its file (XSF) is read in
e/Å³ or e/bohr³, whichever gives an electron count between the valence electrons and the
nuclear charges (:func:`with_inferred_units`); otherwise it keeps the ``fraction`` rule.

1. A grid that does not tile a periodic cell (a cube or XSF box around atoms, no cell) is a
   molecule: ``molecular``, whatever the electrons (the 0.002 e/bohr³ surface lies in the
   valence tail, where all-electron and pseudo-densities agree).
2. A periodic grid from VASP (CHGCAR, CHG, PARCHG, AECCAR, vaspout.h5) is a PAW pseudo
   (valence) density by construction: ``enclosed``.
3. Another periodic grid (CP2K cube, XSF CRYSTAL from other codes) is all-electron when its
   electrons counted on the grid (positive part × voxel volume) are nearer the sum of the
   nuclear charges ΣZ than the valence electrons Σ Z_val (:func:`valence_electrons`: Z less
   the preceding noble-gas core); all-electron with vacuum in the cell (the grid's minimum
   below the molecular level) is a molecule or slab in a box: ``molecular``; else
   ``enclosed``. Atoms without core electrons (H, He only): valence and all-electron agree.

Core electrons dominate any enclosed-electron rule for an all-electron density: half the
electrons of CO sit inside 2.9 e/Å³, a ball round the oxygen core, which is why molecules get
the molecular surface. A molecular level outside the field's range (made-up or truncated data)
falls back to ``enclosed``, and the reason says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from materials_pipeline import iso
from materials_pipeline.readers.cube import BOHR

if TYPE_CHECKING:
    from materials_pipeline.data import Grid

MOLECULAR_SURFACE = 0.002  # e/bohr^3
MOLECULAR_SPEC = "0.002e/bohr3"
MOLECULAR_LEVEL = MOLECULAR_SURFACE / BOHR**3  # e/Angstrom^3 (0.0135)
VALENCE_WRITERS = frozenset({"chgcar", "chg", "parchg", "aeccar", "vaspout"})  # VASP: PAW
POTENTIAL_UNITS = frozenset({"eV", "V", "Hartree/e", "hartree/e", "Ha/e"})
_NOBLE = (0, 2, 10, 18, 36, 54, 86, 118)

RULE_TEXT = {
    "signed": "±10% of max |value|",
    "potential": "potential: half the smaller extreme, both signs",
    "molecular": "molecular surface, 0.002 e/bohr³",
    "enclosed": "encloses half the electrons",
    "fraction": "10% of max",
    "given": "set by --iso",
}


@dataclass(frozen=True)
class DefaultLevel:
    """A default level: ``spec`` (an ``--iso`` spelling), ``signed`` (± surfaces), ``rule``
    (a key of :data:`RULE_TEXT`) and ``why`` (what in the file picked the rule)."""

    spec: str
    signed: bool
    rule: str
    why: str

    def text(self) -> str:
        """``rule: why``, as the log line and the subtitle say it."""
        return f"{RULE_TEXT[self.rule]} ({self.why})" if self.why else RULE_TEXT[self.rule]


def valence_electrons(numbers: np.ndarray) -> np.ndarray:
    """Z less the preceding noble-gas core, per atom (H 1, C 4, O 6, Fe 8, Ag 11)."""
    z = np.asarray(numbers, dtype=np.int64)
    core = np.asarray(_NOBLE)[np.searchsorted(_NOBLE, z, side="left") - 1]
    return np.where(z > 0, z - np.maximum(core, 0), 0)


def all_electron(electrons: float, numbers: np.ndarray) -> bool | None:
    """True if ``electrons`` (counted on the grid) are nearer ΣZ than Σ Z_val, False if
    nearer the valence count, None when no atom has core electrons (or no atoms)."""
    z = np.asarray(numbers, dtype=np.int64)
    total, valence = int(z.sum()), int(valence_electrons(z).sum())
    if total <= valence:  # H and He only, or no atoms
        return None
    return bool(electrons >= 0.5 * (total + valence))


def infer_density_units(electrons_if_angstrom: float, numbers: np.ndarray) -> str | None:
    """Units of a density whose file does not say (XSF): ``"e/Angstrom^3"`` or ``"e/bohr^3"``,
    the one whose electron count (``electrons_if_angstrom`` is the positive sum times the
    voxel volume in Å³) lies in [0.8 Σ Z_val, 1.1 ΣZ + 1] and the other's not; else None."""
    z = np.asarray(numbers, dtype=np.int64)
    lo, hi = 0.8 * float(valence_electrons(z).sum()), 1.1 * float(z.sum()) + 1.0
    if not len(z) or lo <= 0:
        return None
    ok = {u: lo <= n <= hi for u, n in (("e/Angstrom^3", electrons_if_angstrom),
                                        ("e/bohr^3", electrons_if_angstrom / BOHR**3))}
    found = [u for u, good in ok.items() if good]
    return found[0] if len(found) == 1 else None


def with_inferred_units(grid: Grid, numbers: np.ndarray) -> tuple[Grid, str]:
    """A density grid without units (XSF) in e/Å³ when its electron count says which units
    the file holds (:func:`infer_density_units`; values from e/bohr³ divided by bohr³), and
    a note saying so; the grid unchanged and "" otherwise (ELF, orbitals, a count that fits
    neither or both, more than 2 % negative charge)."""
    if grid.units or grid.signed:
        return grid, ""
    neg, pos = iso.negative_charge(grid.values, grid.voxel_volume)
    units = None if neg > iso.NEGATIVE_CLIP * pos else infer_density_units(pos, numbers)
    if units is None:
        return grid, ""
    import dataclasses

    values = grid.values if units == "e/Angstrom^3" else grid.values / BOHR**3
    note = (f"grid {grid.name!r} has no units in the file: read as a density in "
            f"{units.replace('Angstrom^3', 'Å³').replace('bohr^3', 'bohr³')}, from its "
            f"electron count ({pos if units == 'e/Angstrom^3' else pos / BOHR**3:.3g} e, "
            f"ΣZ = {int(np.sum(numbers))})")
    return dataclasses.replace(grid, values=values, units="e/Angstrom^3"), note


def potential_half_level(vmin: float, vmax: float) -> float | None:
    """½·min(vmax, −vmin): a level both signs reach; None for a one-signed potential."""
    if not (vmin < 0 < vmax):
        return None
    return 0.5 * min(vmax, -vmin)


def _count_text(electrons: float, numbers: np.ndarray) -> str:
    z = np.asarray(numbers, dtype=np.int64)
    return (f"{electrons:.3g} e on the grid, ΣZ = {int(z.sum())}, "
            f"valence {int(valence_electrons(z).sum())}")


def density_default(*, periodic: bool, writer: str, electrons: float, numbers: np.ndarray,
                    vmin: float, vmax: float) -> DefaultLevel:
    """The rule for a non-negative density in e/Å³ (see the module notes, 1 to 3)."""
    ae = all_electron(electrons, numbers)
    kind = {True: "all-electron", False: "valence", None: "no core electrons"}[ae]
    counted = _count_text(electrons, numbers)
    fits = vmin < MOLECULAR_LEVEL < vmax
    if not periodic:
        if fits:
            return DefaultLevel(MOLECULAR_SPEC, False, "molecular",
                                f"non-periodic grid round a molecule, {kind}: {counted}")
        return DefaultLevel(iso.DEFAULT_SPEC, False, "enclosed",
                            f"non-periodic grid, but 0.0135 e/Å³ is outside the values "
                            f"[{vmin:.3g}, {vmax:.3g}]")
    if writer in VALENCE_WRITERS:
        return DefaultLevel(iso.DEFAULT_SPEC, False, "enclosed",
                            f"periodic valence density ({writer}: PAW pseudo-density)")
    if ae is not False and vmin < MOLECULAR_LEVEL and fits:
        return DefaultLevel(MOLECULAR_SPEC, False, "molecular",
                            f"periodic {kind} density with vacuum: {counted}")
    return DefaultLevel(iso.DEFAULT_SPEC, False, "enclosed", f"periodic {kind} density: "
                        f"{counted}")


def choose_default(values: np.ndarray, *, units: str, signed: bool, periodic: bool,
                   writer: str, numbers: np.ndarray, voxel_volume: float,
                   extremes: tuple[float, float],
                   sums: tuple[float, float] | None = None) -> DefaultLevel:
    """The default level of a grid: ``values`` in ``units`` (densities in e/Å³, potentials
    in volts or eV), ``signed`` as the reader says, ``periodic`` grid, ``writer`` (the
    format's registry name), the atoms' ``numbers``, ``extremes`` (min, max) and ``sums``
    (:func:`iso.charge_sums` of ``values``, when known). See the module notes."""
    vmin, vmax = float(extremes[0]), float(extremes[1])
    if units in POTENTIAL_UNITS:
        half = potential_half_level(vmin, vmax)
        if half is None:
            return DefaultLevel(iso.SIGNED_SPEC, True, "signed",
                                f"potential of one sign only, [{vmin:.3g}, {vmax:.3g}] {units}")
        return DefaultLevel(f"{half:.6g}", True, "potential",
                            f"extremes {vmin:.3g} and {vmax:.3g} {units}")
    spec, is_signed = iso.fit_default(values, units, signed, voxel_volume,
                                      sums=None if signed else sums)
    if is_signed:
        why = "orbital, spin or magnetization" if signed else "both signs in the values"
        return DefaultLevel(iso.SIGNED_SPEC, True, "signed", why)
    if spec != iso.DEFAULT_SPEC:  # not a density in e/...: ELF, unknown units
        return DefaultLevel(spec, False, "fraction", f"units {units!r}" if units else
                            "no units")
    _, pos = iso.negative_charge(values, voxel_volume, sums=sums)
    return density_default(periodic=periodic, writer=writer, electrons=pos, numbers=numbers,
                           vmin=vmin, vmax=vmax)


def default_for(grid: Grid, writer: str, numbers: np.ndarray, *,
                extremes: tuple[float, float] | None = None,
                sums: tuple[float, float] | None = None) -> DefaultLevel:
    """:func:`choose_default` for a :class:`~materials_pipeline.data.Grid` (potentials
    already in volts: :func:`materials_pipeline.stages.display_units`) written by ``writer``
    around atoms ``numbers``; ``extremes``/``sums`` as there, taken here when None."""
    v = grid.values
    if extremes is None:
        extremes = (float(v.min()), float(v.max()))
    if sums is None and not grid.signed:
        sums = iso.charge_sums(v)
    return choose_default(v, units=grid.units, signed=grid.signed, periodic=grid.periodic,
                          writer=writer, numbers=numbers, voxel_volume=grid.voxel_volume,
                          extremes=extremes, sums=sums)
