"""Pure stage functions of the materials pipeline: numpy in, numpy out, no files, no tasks."""

from __future__ import annotations

import numpy as np

from core.errors import BadInputError
from core.geometry import Mesh, isosurface
from materials_pipeline.data import Grid, Structure


def tile_grid(grid: Grid, reps: tuple[int, int, int]) -> Grid:
    """The grid repeated (n1, n2, n3) times along its cell vectors (periodic grids only)."""
    reps = tuple(int(r) for r in reps)  # type: ignore[assignment]
    if reps == (1, 1, 1):
        return grid
    if not grid.periodic:
        raise BadInputError(f"grid {grid.name!r}: a supercell needs a periodic grid "
                            "(cube files describe a finite box)")
    return Grid(grid.name, np.tile(grid.values, reps), grid.affine, grid.units, True,
                grid.signed)


HARTREE_EV = 27.211386245988  # eV per Hartree: 1 Hartree/e = 27.21 V


def display_units(grid: Grid) -> Grid:
    """Potentials in volts for colour bars (atomic units from cube files converted)."""
    if grid.units in ("Hartree/e", "hartree/e", "Ha/e"):
        return Grid(grid.name, grid.values * HARTREE_EV, grid.affine, "V", grid.periodic,
                    grid.signed)
    return grid


def sample(grid: Grid, points: np.ndarray) -> np.ndarray:
    """Trilinear interpolation of ``grid`` at world ``points`` (periodic wrap for periodic
    grids, clamped at the box faces otherwise). float32 result, one value per point."""
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    inv = np.linalg.inv(grid.affine)
    idx = pts @ inv[:3, :3].T + inv[:3, 3]
    shape = np.array(grid.values.shape)
    if grid.periodic:
        idx = np.mod(idx, shape)
    else:
        idx = np.clip(idx, 0, shape - 1)
    i0 = np.floor(idx).astype(np.int64)
    t = idx - i0
    if grid.periodic:
        i0 %= shape
        i1 = (i0 + 1) % shape
    else:
        i0 = np.minimum(i0, shape - 2)
        t = idx - i0
        i1 = i0 + 1
    v = grid.values
    out = np.zeros(len(pts), dtype=np.float64)
    for cx, wx in ((i0[:, 0], 1 - t[:, 0]), (i1[:, 0], t[:, 0])):
        for cy, wy in ((i0[:, 1], 1 - t[:, 1]), (i1[:, 1], t[:, 1])):
            for cz, wz in ((i0[:, 2], 1 - t[:, 2]), (i1[:, 2], t[:, 2])):
                out += wx * wy * wz * v[cx, cy, cz]
    return out.astype(np.float32)


def surfaces(grid: Grid, level: float) -> list[tuple[str, Mesh]]:
    """Isosurfaces of a grid: ``[("iso", +level)]``, plus ``("iso_neg", -level)`` for signed
    fields. Periodic grids are closed across the cell faces."""
    per = (grid.periodic,) * 3
    vol = grid.volume()
    out = [("iso", isosurface(vol, abs(level) if grid.signed else level, periodic=per))]
    if grid.signed:
        out.append(("iso_neg", isosurface(vol, -abs(level), periodic=per)))
    return out


def formula(symbols: list[str], periodic: bool) -> str:
    """Hill formula of the atoms (C, H, then alphabetical: ``CO``, ``H2O``, ``CH4``); reduced
    to the formula unit for a periodic cell (``Fe6O8`` -> ``Fe3O4``). Empty without atoms."""
    if not symbols:
        return ""
    from ase.formula import Formula

    f = Formula.from_list(list(symbols))
    return (f.reduce()[0] if periodic else f).format("hill")


def tile_structure(structure: Structure, reps: tuple[int, int, int]) -> Structure:
    """Atoms of a supercell (delegates to materials_pipeline.structure.supercell)."""
    if tuple(reps) == (1, 1, 1):
        return structure
    from materials_pipeline.structure import supercell

    return supercell(structure, tuple(int(r) for r in reps))  # type: ignore[arg-type]


def value_stats(values: np.ndarray) -> dict[str, float]:
    """Robust range of a colour field on a surface (2nd/98th percentiles and extremes)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not len(v):
        return {"p2": 0.0, "p98": 0.0, "min": 0.0, "max": 0.0}
    p2, p98 = np.percentile(v, [2, 98])
    return {"p2": float(p2), "p98": float(p98), "min": float(v.min()), "max": float(v.max())}


def colour_range(stats: list[dict[str, float]], diverging: bool) -> tuple[float, float]:
    """One range for every frame (so colours mean the same over the movie)."""
    if not stats:
        return (-1.0, 1.0) if diverging else (0.0, 1.0)
    lo = min(s["p2"] for s in stats)
    hi = max(s["p98"] for s in stats)
    if diverging:
        m = max(abs(lo), abs(hi)) or 1.0
        return -m, m
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi
