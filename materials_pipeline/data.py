"""What the materials readers return: plain dataclasses of numpy arrays, in explicit units.

Units, always: lengths in Angstrom, densities in e/Angstrom^3 (VASP's rho*V divided by the cell
volume; cube files converted from Bohr), potentials in eV (LOCPOT) or as the file states
(``units`` says), ELF dimensionless.

Grid convention (as :class:`core.geometry.Volume`): ``values[i, j, k]`` is the sample at
fractional coordinate ``(i/n0, j/n1, k/n2)`` of a periodic cell (VASP, XSF general grids after
dropping the repeated end point) or at ``origin + i*a/n0 + ...`` for a non-periodic box (cube
files: ``periodic=False`` and the affine holds the voxel axes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.geometry import Volume


@dataclass
class Structure:
    """Atoms in a cell. ``cell`` rows are the lattice vectors a, b, c (Angstrom)."""

    symbols: list[str]  # element symbols, suffixes stripped ("Fe_pv" -> "Fe")
    positions: np.ndarray  # (n, 3) Cartesian, Angstrom
    cell: np.ndarray = field(default_factory=lambda: np.zeros((3, 3)))  # zeros: no cell
    pbc: tuple[bool, bool, bool] = (True, True, True)
    numbers: np.ndarray | None = None  # atomic numbers (filled from symbols if None)

    def __post_init__(self) -> None:
        from ase.data import atomic_numbers

        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 3)
        self.cell = np.asarray(self.cell, dtype=np.float64).reshape(3, 3)
        self.symbols = [str(s) for s in self.symbols]
        if self.numbers is None:
            self.numbers = np.array([atomic_numbers.get(s, 0) for s in self.symbols], np.int64)
        self.numbers = np.asarray(self.numbers, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.positions)

    @property
    def has_cell(self) -> bool:
        return bool(abs(np.linalg.det(self.cell)) > 1e-12)

    @property
    def volume(self) -> float:
        return float(abs(np.linalg.det(self.cell)))

    def fractional(self) -> np.ndarray:
        return self.positions @ np.linalg.inv(self.cell)


@dataclass
class Grid:
    """One scalar field on a grid with its placement and units."""

    name: str  # "density", "magnetization", "magnetization_x", "potential", "elf", "orbital"
    values: np.ndarray  # (n0, n1, n2) float32/float64
    affine: np.ndarray  # 4x4 index -> world (Angstrom)
    units: str  # "e/Angstrom^3", "eV", "" ...
    periodic: bool = True  # the grid tiles its cell (no repeated end point)
    signed: bool = False  # values of both signs are meaningful (orbitals, spin, differences)

    def volume(self) -> Volume:
        return Volume(self.values, self.affine, self.name, self.units)

    @property
    def voxel_volume(self) -> float:
        return float(abs(np.linalg.det(self.affine[:3, :3])))


@dataclass
class DensityFile:
    """What one volumetric file holds: its structure and one or more named grids."""

    path: str
    format: str  # registry name: "chgcar", "locpot", "cube", "xsf", ...
    structure: Structure
    grids: dict[str, Grid]
    kind: str = "density"  # density | potential | elf | orbital | ...
    meta: dict = field(default_factory=dict)  # comment line, spin, code version ...

    def main_grid(self) -> Grid:
        """The grid a user means by 'the density' of this file (first in reading order)."""
        return next(iter(self.grids.values()))


@dataclass
class Trajectory:
    """A sequence of structures (XDATCAR, AXSF, extxyz, ASE .traj) with optional times (fs)."""

    path: str
    format: str
    frames: list[Structure]
    times_fs: np.ndarray | None = None
