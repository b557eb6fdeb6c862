"""Atoms, bonds, the unit cell and coordination polyhedra as geometry (pure numpy functions).

Everything here takes a :class:`materials_pipeline.data.Structure` (Cartesian positions in
Angstrom, cell rows a, b, c, ``pbc`` per axis) and returns plain data: :class:`core.geometry`
``Points``, ``Curves`` and ``Mesh`` objects, or a :class:`Bonds` table. No bpy, no file I/O.

Element data come from ``ase.data``: covalent radii (Cordero et al.), van der Waals radii
(where a value is missing: 1.5 x the covalent radius) and Jmol colours (sRGB, as uint8).

Bonds come from a neighbour list over the atoms wrapped into the cell plus the *ghost*
periodic images that lie within the largest bond cutoff of the cell faces (as many images as
needed along each periodic axis, so strongly sheared cells and cells shorter than the cutoff
are exact). Atoms are grouped by covalent radius (one group for a single element); each pair
of groups is searched at its own largest cutoff and every candidate pair is then filtered by
its own cutoff, so a few large atoms (K, Cs) do not inflate the search for all the small
ones. Large structures search with k-d trees (``scipy.spatial.cKDTree``): memory grows with
the number of atoms and of candidate pairs, not with N^2 (about 35 MB for 100,000 silicon
atoms). Small ones (real atoms x all points up to :data:`DENSE_PAIRS`: a unit cell, a
molecule) compare every real atom with every point in numpy instead, which is faster than
building trees and does not import scipy (a quarter to half a second of a one-file run); both
searches give the same bonds.

Typical use::

    s = wrap_positions(structure)                 # atoms into the cell (optional)
    bonds = find_bonds(s)
    atoms = atoms_points(repeat_boundary_atoms(s)) # spheres, boundary atoms repeated
    sticks = bond_curves(s, bonds)                 # half-bonds in the two element colours
    cell = cell_edges(s.cell)
    poly = coordination_polyhedra(s, bonds, ["Ti"])
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, overload

import numpy as np

from core.errors import BadInputError
from core.geometry import Curves, Mesh, Points
from materials_pipeline.data import Structure

__all__ = [
    "Bonds",
    "atoms_points",
    "bond_curves",
    "cell_edges",
    "coordination_polyhedra",
    "covalent_radii",
    "element_colors",
    "find_bonds",
    "repeat_boundary_atoms",
    "supercell",
    "vdw_radii",
    "wrap_positions",
]

_NZ = 119  # atomic numbers 0 (X, dummy) .. 118
# brute-force candidate search up to this many (real atom, point) distances; k-d trees above
DENSE_PAIRS = 1 << 16
_AXIS_EPS = 1e-9  # norms below this (Angstrom) mean "no lattice vector along this axis"


# --------------------------------------------------------------------------- element data


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(covalent radii, vdW radii, Jmol colours uint8 RGBA) indexed by atomic number 0..118."""
    from ase.data import covalent_radii as cov_src
    from ase.data import vdw_radii as vdw_src
    from ase.data.colors import jmol_colors

    cov = np.full(_NZ, 1.5)
    cov[: min(_NZ, len(cov_src))] = np.asarray(cov_src, np.float64)[:_NZ]
    cov = np.where(np.isfinite(cov) & (cov > 0), cov, 1.5)
    vdw = np.full(_NZ, np.nan)
    vdw[: min(_NZ, len(vdw_src))] = np.asarray(vdw_src, np.float64)[:_NZ]
    vdw = np.where(np.isfinite(vdw) & (vdw > 0), vdw, 1.5 * cov)
    rgb = np.full((_NZ, 3), 1.0)  # white where Jmol has no colour (Z > 109)
    n = min(_NZ, len(jmol_colors))
    rgb[:n] = np.asarray(jmol_colors, np.float64)[:n]
    rgba = np.full((_NZ, 4), 255, np.uint8)
    rgba[:, :3] = np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)
    for a in (cov, vdw, rgba):
        a.setflags(write=False)
    return cov, vdw, rgba


def _numbers(numbers: np.ndarray | Sequence[int]) -> np.ndarray:
    z = np.asarray(numbers, dtype=np.int64).reshape(-1)
    if z.size and (z.min() < 0 or z.max() >= _NZ):
        raise BadInputError(f"atomic numbers must lie in [0, {_NZ - 1}], got {z.min()}..{z.max()}")
    return z


def covalent_radii(numbers: np.ndarray | Sequence[int]) -> np.ndarray:
    """Covalent radii (Angstrom, float64) of atomic numbers (``ase.data.covalent_radii``)."""
    return _tables()[0][_numbers(numbers)]


def vdw_radii(numbers: np.ndarray | Sequence[int]) -> np.ndarray:
    """Van der Waals radii (Angstrom, float64); 1.5 x covalent where ase has no value."""
    return _tables()[1][_numbers(numbers)]


def element_colors(numbers: np.ndarray | Sequence[int], alpha: int = 255) -> np.ndarray:
    """Jmol colours of atomic numbers as (n, 4) uint8 sRGBA with the given alpha."""
    c = _tables()[2][_numbers(numbers)].copy()
    c[:, 3] = np.uint8(alpha)
    return c


def _structure_numbers(structure: Structure) -> np.ndarray:
    assert structure.numbers is not None  # filled by Structure.__post_init__
    return _numbers(structure.numbers)


# --------------------------------------------------------------------------- cell helpers


def _periodic_axes(structure: Structure) -> list[int]:
    """Axes that are periodic *and* have a lattice vector."""
    norms = np.linalg.norm(structure.cell, axis=1)
    return [k for k in range(3) if structure.pbc[k] and norms[k] > _AXIS_EPS]


def _full_cell(cell: np.ndarray) -> np.ndarray:
    """The cell with zero rows (non-periodic axes without a vector) completed orthonormally.

    Used only to compute fractional coordinates along the periodic axes; raises when the
    given vectors are themselves linearly dependent.
    """
    cell = np.array(cell, dtype=np.float64).reshape(3, 3)
    zero = np.linalg.norm(cell, axis=1) <= _AXIS_EPS
    given = cell[~zero]
    if zero.any():
        if len(given) == 0:
            fill = np.eye(3)
        else:
            # orthonormal complement of the span of the given rows
            _, _, vt = np.linalg.svd(given)
            fill = vt[len(given):]
        cell[zero] = fill
    if abs(np.linalg.det(cell)) < 1e-12:
        raise BadInputError(f"cell vectors are linearly dependent: {cell.tolist()}")
    return cell


def _face_distances(cell: np.ndarray) -> np.ndarray:
    """Distance between each pair of opposite faces of the parallelepiped (Angstrom)."""
    vol = abs(np.linalg.det(cell))
    areas = np.array([np.linalg.norm(np.cross(cell[(k + 1) % 3], cell[(k + 2) % 3]))
                      for k in range(3)])
    return vol / areas


def _wrap_shifts(structure: Structure, axes: list[int], eps: float = 1e-7
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(fractional coordinates wrapped into [-eps, 1-eps) along ``axes``, integer shifts w).

    ``wrapped_cartesian = positions - w @ cell``.
    """
    full = _full_cell(structure.cell)
    frac: np.ndarray = structure.positions @ np.linalg.inv(full)
    w = np.zeros(frac.shape, np.int64)
    if axes:
        w[:, axes] = np.floor(frac[:, axes] + eps).astype(np.int64)
        frac[:, axes] -= w[:, axes]
    return frac, w


def wrap_positions(structure: Structure, eps: float = 1e-7) -> Structure:
    """A copy of the structure with atoms moved into the cell along its periodic axes.

    Fractional coordinates end in ``[-eps, 1 - eps)`` (as ``ase.Atoms.wrap``), so an atom a
    rounding error below a face stays on that face instead of jumping to the opposite one.
    Non-periodic axes (or a structure without a cell) are left as they are.
    """
    axes = _periodic_axes(structure)
    if not axes or not len(structure):
        return _copy(structure)
    _, w = _wrap_shifts(structure, axes, eps)
    return _copy(structure, positions=structure.positions - w @ structure.cell)


def _pbc(structure: Structure) -> tuple[bool, bool, bool]:
    p = structure.pbc
    return (bool(p[0]), bool(p[1]), bool(p[2]))


def _copy(structure: Structure, positions: np.ndarray | None = None) -> Structure:
    return Structure(
        list(structure.symbols),
        structure.positions.copy() if positions is None else positions,
        structure.cell.copy(),
        _pbc(structure),
        numbers=None if structure.numbers is None else structure.numbers.copy(),
    )


def supercell(structure: Structure, reps: Sequence[int]) -> Structure:
    """The structure repeated ``n1 x n2 x n3`` times along a, b, c.

    Atom order follows ``ase.Atoms.repeat``: all atoms of image (0, 0, 0), then image
    (0, 0, 1), ... with the c index fastest. The cell rows are scaled by the repetitions.
    """
    reps_t = tuple(int(r) for r in reps)
    if len(reps_t) != 3 or min(reps_t) < 1:
        raise BadInputError(f"supercell: expected three integers >= 1, got {tuple(reps)}")
    for k in range(3):
        if reps_t[k] > 1 and np.linalg.norm(structure.cell[k]) <= _AXIS_EPS:
            raise BadInputError(
                f"supercell: cannot repeat along axis {'abc'[k]} without a lattice vector")
    shifts = np.array(list(itertools.product(*(range(r) for r in reps_t))), np.float64)
    offsets = shifts @ structure.cell  # (m, 3)
    pos = (offsets[:, None, :] + structure.positions[None, :, :]).reshape(-1, 3)
    m = len(shifts)
    return Structure(
        symbols=list(structure.symbols) * m,
        positions=pos,
        cell=structure.cell * np.array(reps_t, np.float64)[:, None],
        pbc=_pbc(structure),
        numbers=np.tile(_structure_numbers(structure), m),
    )


@overload
def repeat_boundary_atoms(structure: Structure, tol: float = ..., *,
                          return_index: Literal[False] = ...) -> Structure: ...


@overload
def repeat_boundary_atoms(structure: Structure, tol: float = ..., *,
                          return_index: Literal[True]) -> tuple[Structure, np.ndarray]: ...


def repeat_boundary_atoms(structure: Structure, tol: float = 1e-3, *,
                          return_index: bool = False) -> Structure | tuple[Structure, np.ndarray]:
    """Atoms on cell faces, edges and corners duplicated on the opposite faces (as VESTA shows).

    Atoms are first wrapped into the cell along the periodic axes (:func:`wrap_positions`);
    an atom whose fractional coordinate along a periodic axis is within ``tol`` of 0 gets a
    copy at +1 along that axis, within ``tol`` of 1 a copy at -1; an atom on an edge or a corner
    gets every combination (one atom at the origin of a cube gives all 8 corners). The first
    ``len(structure)`` atoms of the result are the wrapped originals, in order, the copies
    follow. With ``return_index=True`` also returns, for every atom of the result, the index of
    the original atom it repeats.

    Bonds are best computed on the original (wrapped) structure: the copies are periodic
    images, not new atoms.
    """
    axes = _periodic_axes(structure)
    n = len(structure)
    if not axes or not n:
        out = _copy(structure)
        return (out, np.arange(n)) if return_index else out
    frac, w = _wrap_shifts(structure, axes)
    wrapped = structure.positions - w @ structure.cell
    # per atom and axis: the shifts {0} plus +1 (near 0) or -1 (near 1)
    src = [np.arange(n)]
    shifts = [np.zeros((n, 3))]
    for k in axes:
        cur_src = np.concatenate(src)
        cur_shift = np.concatenate(shifts)
        fk = frac[cur_src, k]
        lo = np.abs(fk) < tol
        hi = np.abs(fk - 1.0) < tol
        add_lo = cur_shift[lo].copy()
        add_lo[:, k] += 1.0
        add_hi = cur_shift[hi].copy()
        add_hi[:, k] -= 1.0
        src = [cur_src, cur_src[lo], cur_src[hi]]
        shifts = [cur_shift, add_lo, add_hi]
    index = np.concatenate(src)
    shift = np.concatenate(shifts)
    # originals first (shift 0 rows are exactly the first n after the loop), copies after
    positions = wrapped[index] + shift @ structure.cell
    symbols = [structure.symbols[i] for i in index]
    out = Structure(symbols, positions, structure.cell.copy(), _pbc(structure),
                    numbers=_structure_numbers(structure)[index])
    return (out, index) if return_index else out


# --------------------------------------------------------------------------- atoms


def atoms_points(structure: Structure, *, radius: str | float | Mapping[str, float] = "covalent",
                 scale: float = 0.5, alpha: int = 255) -> Points:
    """The atoms as points for instanced spheres.

    Attributes: ``radius`` (float32, Angstrom: the element's covalent or van der Waals radius
    times ``scale``; a number gives every atom that radius, ``scale`` not applied; a mapping
    symbol -> radius overrides the covalent radii for the symbols it names, then scaled),
    ``element`` (atomic number, int32), ``index`` (atom index in the structure, int32).
    Colours: Jmol element colours, uint8 sRGBA.
    """
    z = _structure_numbers(structure)
    n = len(z)
    if isinstance(radius, str):
        if radius == "covalent":
            r = covalent_radii(z) * scale
        elif radius in ("vdw", "vdW", "van der waals"):
            r = vdw_radii(z) * scale
        else:
            raise BadInputError(
                f"atoms_points: radius must be 'covalent', 'vdw', a number or a mapping, "
                f"got {radius!r}")
    elif isinstance(radius, Mapping):
        base = covalent_radii(z)
        over = np.array([radius.get(s, np.nan) for s in structure.symbols], np.float64)
        r = np.where(np.isfinite(over), over, base) * scale
    else:
        r = np.full(n, float(radius))
    return Points(
        structure.positions,
        attributes={"radius": r.astype(np.float32), "element": z.astype(np.int32),
                    "index": np.arange(n, dtype=np.int32)},
        colors=element_colors(z, alpha),
    )


# --------------------------------------------------------------------------- bonds


@dataclass
class Bonds:
    """A bond table: atom ``i`` to the periodic image of atom ``j`` shifted by ``image``.

    ``vector[b] = positions[j] + image @ cell - positions[i]`` (Angstrom, with the positions of
    the structure the bonds were found on) and ``length = |vector|``. Every bond appears once:
    ``i < j``, or ``i == j`` with an image whose first non-zero component is positive.
    """

    i: np.ndarray  # (m,) int64
    j: np.ndarray  # (m,) int64
    image: np.ndarray  # (m, 3) int64 lattice offset of j's image
    vector: np.ndarray  # (m, 3) float64
    length: np.ndarray  # (m,) float64

    def __len__(self) -> int:
        return len(self.i)

    @classmethod
    def empty(cls) -> Bonds:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, 3), np.int64),
                   np.zeros((0, 3)), np.zeros(0))

    def coordination(self, n_atoms: int) -> np.ndarray:
        """Number of bonds of each atom (a bond of an atom to its own image counts twice)."""
        return (np.bincount(self.i, minlength=n_atoms)
                + np.bincount(self.j, minlength=n_atoms)).astype(np.int64)

    def subset(self, mask: np.ndarray) -> Bonds:
        """The bonds selected by a boolean mask or an index array."""
        return Bonds(self.i[mask], self.j[mask], self.image[mask], self.vector[mask],
                     self.length[mask])


def _lex_negative(s: np.ndarray) -> np.ndarray:
    """Rows whose first non-zero component is negative."""
    s0, s1, s2 = s[:, 0], s[:, 1], s[:, 2]
    return (s0 < 0) | ((s0 == 0) & ((s1 < 0) | ((s1 == 0) & (s2 < 0))))


def _ghost_images(frac: np.ndarray, axes: list[int], reach: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Periodic images of wrapped atoms within ``reach`` (fractional units) of the cell.

    Returns (source atom index, integer shift) of each ghost; works axis by axis so that edge
    and corner images come from images of images, and takes as many shifts per axis as the
    reach needs (cells thinner than the cutoff get several layers of images).
    """
    n = len(frac)
    src = np.arange(n)
    shift = np.zeros((n, 3), np.int64)
    for k in axes:
        m = int(np.ceil(reach[k])) + 1
        fk = frac[src, k] + shift[:, k]
        parts_src, parts_shift = [src], [shift]
        for s in range(-m, m + 1):
            if s == 0:
                continue
            g = fk + s
            sel = np.flatnonzero((g >= -reach[k]) & (g <= 1.0 + reach[k]))
            if sel.size:
                sh = shift[sel].copy()
                sh[:, k] += s
                parts_src.append(src[sel])
                parts_shift.append(sh)
        src = np.concatenate(parts_src)
        shift = np.concatenate(parts_shift)
    return src[n:], shift[n:]


def _radius_groups(r: np.ndarray, ratio: float = 1.3) -> np.ndarray:
    """Group label per atom: atoms whose radii lie within ``ratio`` of each other share one.

    Querying each pair of groups at its own largest cutoff keeps a few large atoms (K, Cs,
    Ba ...) from inflating the candidate pairs of all the small ones.
    """
    uniq = np.unique(r)
    labels = np.zeros(len(uniq), np.int64)
    first = uniq[0]
    for k in range(1, len(uniq)):
        if uniq[k] > ratio * first:
            first = uniq[k]
            labels[k] = labels[k - 1] + 1
        else:
            labels[k] = labels[k - 1]
    return labels[np.searchsorted(uniq, r)]


def _search_cutoff(rg: np.ndarray, g: int, h: int, tolerance: float,
                   max_bond: float | None) -> float:
    """Search radius of radius groups g and h: their largest cutoff, a hair wider (candidates
    may sit exactly on it; every candidate is then tested against its own exact cutoff)."""
    c = (rg[g] + rg[h]) * tolerance
    if max_bond is not None:
        c = min(c, float(max_bond))
    return c * (1.0 + 1e-9) + 1e-9


def _candidate_pairs(pts: np.ndarray, n: int, group: np.ndarray, rg: np.ndarray,
                     tolerance: float, max_bond: float | None, leafsize: int
                     ) -> np.ndarray:
    """(m, 2) point-index pairs closer than their group pair's cutoff, at least one real.

    ``pts`` are the n real atoms followed by the ghosts; ``group`` labels every point.
    Few points (``n * len(pts) <= DENSE_PAIRS``): :func:`_candidate_pairs_dense`. Otherwise
    one k-d tree per radius group: ``query_pairs`` inside a group, ``sparse_distance_matrix``
    between groups (real atoms of one against all points of the other, and ghosts of the one
    against real atoms of the other), so ghost-ghost pairs across groups are never built.
    Pairs may come in any order and orientation (find_bonds orients and sorts them).
    """
    if n * len(pts) <= DENSE_PAIRS:
        return _candidate_pairs_dense(pts, n, group, rg, tolerance, max_bond)
    from scipy.spatial import cKDTree

    def cutoff(g: int, h: int) -> float:
        return _search_cutoff(rg, g, h, tolerance, max_bond)

    def tree(idx: np.ndarray):
        return cKDTree(pts[idx], leafsize=leafsize, balanced_tree=False, compact_nodes=False)

    ng = len(rg)
    members = [np.flatnonzero(group == g) for g in range(ng)]  # real first: indices < n
    out: list[np.ndarray] = []
    if ng == 1:
        pairs = tree(members[0]).query_pairs(cutoff(0, 0), output_type="ndarray")
        return pairs[pairs[:, 0] < n]  # p < q and ghosts come last: drop ghost-ghost pairs
    real = [m[m < n] for m in members]
    ghost = [m[m >= n] for m in members]
    for g in range(ng):
        if not len(members[g]):
            continue
        loc = tree(members[g]).query_pairs(cutoff(g, g), output_type="ndarray")
        pr = members[g][loc]
        out.append(pr[pr[:, 0] < n])
        del loc, pr
        for h in range(g + 1, ng):
            c = cutoff(g, h)
            for a, b in ((real[g], members[h]), (ghost[g], real[h])):
                if not len(a) or not len(b):
                    continue
                sdm = tree(a).sparse_distance_matrix(tree(b), c, output_type="ndarray")
                out.append(np.column_stack([a[sdm["i"]], b[sdm["j"]]]))
                del sdm
    return np.concatenate(out) if out else np.zeros((0, 2), np.int64)


def _candidate_pairs_dense(pts: np.ndarray, n: int, group: np.ndarray, rg: np.ndarray,
                           tolerance: float, max_bond: float | None) -> np.ndarray:
    """:func:`_candidate_pairs` by brute force: every real atom against every later point
    (real atoms come first, so each real pair once, and no ghost-ghost pair), kept within its
    group pair's search radius. For small structures: O(n * len(pts)) time and memory."""
    ng = len(rg)
    radius = np.array([[_search_cutoff(rg, g, h, tolerance, max_bond) for h in range(ng)]
                       for g in range(ng)])
    d = pts[None, :, :] - pts[:n, None, :]  # (n, m, 3)
    d2 = np.einsum("ijk,ijk->ij", d, d)
    del d
    near = d2 <= radius[group[:n]][:, group] ** 2
    near &= np.arange(len(pts))[None, :] > np.arange(n)[:, None]
    p, q = np.nonzero(near)
    return np.column_stack([p, q]).astype(np.int64)


def _allowed_pairs(pairs: Collection[tuple[str, str]]) -> np.ndarray:
    """(119, 119) boolean table of the element pairs allowed to bond."""
    from ase.data import atomic_numbers

    table = np.zeros((_NZ, _NZ), bool)
    for pair in pairs:
        if len(pair) != 2 or any(s not in atomic_numbers for s in pair):
            raise BadInputError(f"find_bonds: pairs must be element symbol pairs, got {pair!r}")
        a, b = (atomic_numbers[s] for s in pair)
        table[a, b] = table[b, a] = True
    return table


# long: vectorised search with periodic images: checks, pairs, images, filters
def find_bonds(structure: Structure, *, tolerance: float = 1.15, min_distance: float = 0.1,
               max_bond: float | None = None, radii: Mapping[str, float] | None = None,
               pairs: Collection[tuple[str, str]] | None = None, leafsize: int = 16) -> Bonds:
    """Bonds from covalent radii, with periodic images, by a neighbour list.

    Two atoms (or an atom and a periodic image) are bonded when
    ``min_distance <= d <= tolerance * (r_i + r_j)`` (and ``d <= max_bond`` if given), with
    ``r`` the covalent radii of ``ase.data`` (``radii`` overrides them per symbol). ``pairs``
    restricts bonds to the given unordered element pairs, e.g. ``[("Ti", "O")]`` for a
    perovskite, where covalent radii would also bond the metals to each other.

    Periodic axes are those with ``pbc`` set and a lattice vector; any triclinic cell works.
    The atoms are wrapped into the cell, and the ghost images within the largest cutoff of the
    cell faces (as many layers as the face distances need) join them in neighbour searches at
    the largest cutoff of each pair of radius groups (``scipy.spatial.cKDTree`` queries, one
    ``query_pairs`` for a single element; for a few atoms, every real atom against every
    point in numpy: see :data:`DENSE_PAIRS`); each candidate pair is then kept by its own
    cutoff. Memory grows with atoms and candidate pairs, never N^2.
    Images in the result refer to the structure's own (possibly unwrapped) positions.

    Returns a :class:`Bonds` table, sorted by (i, j, image).
    """
    n = len(structure)
    if n < 1:
        return Bonds.empty()
    if tolerance <= 0:
        raise BadInputError(f"find_bonds: tolerance must be > 0, got {tolerance}")
    z = _structure_numbers(structure)
    r = covalent_radii(z)
    if radii:
        over = np.array([radii.get(s, np.nan) for s in structure.symbols], np.float64)
        r = np.where(np.isfinite(over), over, r)
    rmax = 2.0 * float(r.max()) * tolerance
    if max_bond is not None:
        rmax = min(rmax, float(max_bond))
    if rmax <= 0 or rmax < min_distance:
        return Bonds.empty()

    pos = structure.positions
    cell = structure.cell
    axes = _periodic_axes(structure)
    if axes:
        frac, w = _wrap_shifts(structure, axes)
        wrapped = pos - w @ cell
        reach = np.zeros(3)
        search = rmax * (1.0 + 1e-9) + 1e-9
        reach[axes] = search / _face_distances(_full_cell(cell))[axes] + 1e-6
        g_src, g_shift = _ghost_images(frac, axes, reach)
        pts = np.concatenate([wrapped, wrapped[g_src] + g_shift @ cell]) if g_src.size else wrapped
        del frac, wrapped
    else:
        w = np.zeros((n, 3), np.int64)
        g_src = np.zeros(0, np.int64)
        g_shift = np.zeros((0, 3), np.int64)
        pts = pos

    group = _radius_groups(r)
    rg = np.array([r[group == g].max() for g in range(int(group.max()) + 1)])
    cand = _candidate_pairs(pts, n, np.concatenate([group, group[g_src]]), rg, tolerance,
                             max_bond, leafsize)
    del pts
    if not len(cand):
        return Bonds.empty()
    a, b = cand[:, 0], cand[:, 1]
    del cand
    src = np.concatenate([np.arange(n), g_src])
    i, j = src[a], src[b]
    # point p sits at wrapped[src[p]] + shift[p] @ cell, and wrapped = positions - w @ cell
    image = w[i] - w[j]
    ga, gb = a >= n, b >= n
    if g_src.size:
        image[gb] += g_shift[b[gb] - n]
        image[ga] -= g_shift[a[ga] - n]
    ghostly = ga | gb
    del a, b, ga, gb, src

    vec = pos[j] - pos[i]
    if axes:
        vec += image @ cell
    length = np.sqrt(np.einsum("ij,ij->i", vec, vec))
    cutoff = (r[i] + r[j]) * tolerance
    if max_bond is not None:
        cutoff = np.minimum(cutoff, float(max_bond))
    keep = (length <= cutoff) & (length >= min_distance)
    if pairs is not None:
        keep &= _allowed_pairs(pairs)[z[i], z[j]]
    i, j, image, ghostly = i[keep], j[keep], image[keep], ghostly[keep]
    del vec, length, cutoff, keep

    # one orientation per bond: i < j, or i == j with a positive image
    flip = (i > j) | ((i == j) & _lex_negative(image))
    i, j = np.where(flip, j, i), np.where(flip, i, j)
    image[flip] *= -1
    if ghostly.any():  # a bond across the boundary is found from both of its atoms: keep one
        key = np.unique(np.column_stack([i[ghostly], j[ghostly], image[ghostly]]), axis=0)
        i = np.concatenate([i[~ghostly], key[:, 0]])
        j = np.concatenate([j[~ghostly], key[:, 1]])
        image = np.concatenate([image[~ghostly], key[:, 2:5]])
    order = np.lexsort((image[:, 2], image[:, 1], image[:, 0], j, i))
    i, j, image = i[order].astype(np.int64), j[order].astype(np.int64), image[order]
    vec = pos[j] - pos[i]
    if axes:
        vec += image @ cell
    length = np.sqrt(np.einsum("ij,ij->i", vec, vec))
    return Bonds(i, j, image.astype(np.int64), vec, length)


def bond_curves(structure: Structure, bonds: Bonds, *, radius: float = 0.12,
                alpha: int = 255) -> Curves:
    """Bonds as 2-point polylines split at the midpoint, each half in its own atom's colour.

    For bond b there are two curves: from atom i to the midpoint (i's colour and element),
    then from atom j towards i's image to the midpoint (j's colour and element). A bond across
    the cell boundary thus shows one half at each of its atoms, both inside the cell when the
    atoms are. Point attributes: ``element`` (int32) and ``bond`` (index into ``bonds``).
    ``radius`` is the tube radius (Angstrom).
    """
    m = len(bonds)
    z = _structure_numbers(structure)
    if m == 0:
        return Curves(np.zeros((0, 3)), np.zeros(0, np.int64),
                      attributes={"element": np.zeros(0, np.int32),
                                  "bond": np.zeros(0, np.int32)},
                      colors=np.zeros((0, 4), np.uint8), radius=radius)
    pi = structure.positions[bonds.i]
    pj = structure.positions[bonds.j]
    half = 0.5 * bonds.vector
    pts = np.empty((m, 4, 3), np.float64)
    pts[:, 0] = pi
    pts[:, 1] = pi + half
    pts[:, 2] = pj
    pts[:, 3] = pj - half
    elem = np.empty((m, 4), np.int64)
    elem[:, :2] = z[bonds.i][:, None]
    elem[:, 2:] = z[bonds.j][:, None]
    elem = elem.reshape(-1)
    return Curves(
        pts.reshape(-1, 3),
        np.full(2 * m, 2, np.int64),
        attributes={"element": elem.astype(np.int32),
                    "bond": np.repeat(np.arange(m, dtype=np.int32), 4)},
        colors=element_colors(elem, alpha),
        radius=radius,
    )


# --------------------------------------------------------------------------- cell


def cell_edges(cell: np.ndarray, origin: Sequence[float] = (0.0, 0.0, 0.0), *,
               color: Sequence[int] = (40, 40, 40, 255), radius: float = 0.03) -> Curves:
    """The 12 edges of the cell parallelepiped as 12 two-point polylines.

    ``cell`` rows are a, b, c. Edges are ordered: the 4 parallel to a, then b, then c.
    Point attribute ``axis`` (0, 1, 2) says which lattice vector an edge is parallel to.
    """
    cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    o = np.asarray(origin, dtype=np.float64).reshape(3)
    lines = []
    axis = []
    for k in range(3):
        u, v = cell[(k + 1) % 3], cell[(k + 2) % 3]
        for base in (o, o + u, o + v, o + u + v):
            lines.append(np.stack([base, base + cell[k]]))
            axis += [k, k]
    pts = np.concatenate(lines)
    col = np.tile(np.asarray(color, np.uint8).reshape(1, 4), (len(pts), 1))
    return Curves(pts, np.full(12, 2, np.int64),
                  attributes={"axis": np.array(axis, np.int32)}, colors=col, radius=radius)


# --------------------------------------------------------------------------- polyhedra


def coordination_polyhedra(structure: Structure, bonds: Bonds, centers: Sequence[str], *,
                           ligands: Sequence[str] | None = None, min_neighbors: int = 4,
                           alpha: int = 160, flat: bool = False) -> Mesh:
    """Convex hulls of the bonded neighbours of every atom whose symbol is in ``centers``.

    Neighbours are taken at their bonded image positions (so polyhedra of atoms near the cell
    boundary are whole); ``ligands`` restricts them to the given symbols. Atoms with fewer than
    ``min_neighbors`` neighbours, or coplanar ones, get no polyhedron. Each polyhedron is a
    closed mesh with faces wound counter-clockwise seen from outside, coloured with the centre
    element's Jmol colour and ``alpha``. Vertex attributes: ``element`` (centre's atomic
    number) and ``center`` (centre's atom index). With ``flat=True`` every face has its own
    three vertices and the face normal (for flat shading; the mesh is then not welded).
    """
    from scipy.spatial import ConvexHull, QhullError

    z = _structure_numbers(structure)
    pos = structure.positions
    want = set(centers)
    is_center = np.array([sym in want for sym in structure.symbols], bool)
    if ligands is None:
        is_ligand = np.ones(len(z), bool)
    else:
        lig = set(ligands)
        is_ligand = np.array([sym in lig for sym in structure.symbols], bool)
    # every bond seen from both ends: (centre, neighbour image position), grouped by centre
    ctr = np.concatenate([bonds.i, bonds.j])
    nbr = np.concatenate([bonds.j, bonds.i])
    npos = np.concatenate([pos[bonds.i] + bonds.vector, pos[bonds.j] - bonds.vector])
    keep = is_center[ctr] & is_ligand[nbr]
    ctr, npos = ctr[keep], npos[keep]
    order = np.argsort(ctr, kind="stable")
    ctr, npos = ctr[order], npos[order]
    uniq, starts, counts = np.unique(ctr, return_index=True, return_counts=True)
    parts: list[Mesh] = []
    for c, start, count in zip(uniq.tolist(), starts.tolist(), counts.tolist(), strict=True):
        pts = npos[start:start + count]
        if len(pts) < max(4, min_neighbors):
            continue
        try:
            hull = ConvexHull(pts)
        except QhullError:  # coplanar or degenerate neighbours
            continue
        used = hull.vertices
        remap = np.full(len(pts), -1, np.int64)
        remap[used] = np.arange(len(used))
        faces = remap[hull.simplices]
        verts = pts[used]
        a, b, cc = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
        normal = np.cross(b - a, cc - a)
        wrong = np.einsum("ij,ij->i", normal, hull.equations[:, :3]) < 0
        faces[wrong] = faces[wrong][:, ::-1]
        if flat:
            verts = verts[faces.reshape(-1)]
            fn = hull.equations[:, :3]
            normals = np.repeat(fn / np.linalg.norm(fn, axis=1, keepdims=True), 3, axis=0)
            faces = np.arange(len(verts)).reshape(-1, 3)
        else:
            normals = None
        nv = len(verts)
        parts.append(Mesh(
            verts, faces, normals,
            attributes={"element": np.full(nv, z[c], np.int32),
                        "center": np.full(nv, c, np.int32)},
            colors=np.repeat(element_colors([z[c]], alpha), nv, axis=0),
        ))
    if not parts:
        return Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64),
                    attributes={"element": np.zeros(0, np.int32),
                                "center": np.zeros(0, np.int32)},
                    colors=np.zeros((0, 4), np.uint8))
    return Mesh.concatenate(parts)
