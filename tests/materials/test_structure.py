"""Atoms, bonds, cell, boundary atoms, supercells and polyhedra (materials_pipeline.structure).

Bond sets are checked against two independent neighbour lists: ASE's ``neighbor_list`` (with
``natural_cutoffs * tolerance``, the same criterion) and pymatgen's ``get_neighbor_list``
(filtered per pair by the same cutoffs).
"""

from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.geometry import Curves, Mesh, Points
from materials_pipeline.data import Structure
from materials_pipeline.structure import (
    Bonds,
    atoms_points,
    bond_curves,
    cell_edges,
    coordination_polyhedra,
    covalent_radii,
    element_colors,
    find_bonds,
    repeat_boundary_atoms,
    supercell,
    vdw_radii,
    wrap_positions,
)

TOL = 1.15
SI_BOND = 5.43 * np.sqrt(3) / 4  # 2.3513 Angstrom


# --------------------------------------------------------------------------- helpers


def from_ase(atoms: Atoms) -> Structure:
    return Structure(atoms.get_chemical_symbols(), atoms.positions.copy(),
                     atoms.cell.array.copy(), tuple(bool(p) for p in atoms.pbc))


def to_ase(s: Structure) -> Atoms:
    return Atoms(s.symbols, positions=s.positions, cell=s.cell, pbc=s.pbc)


def canonical(i, j, image) -> set[tuple[int, ...]]:
    """Keep each bond once: i < j, or i == j with a lexicographically positive image."""
    out = set()
    for a, b, s in zip(np.asarray(i).tolist(), np.asarray(j).tolist(),
                       np.asarray(image).astype(int).tolist(), strict=True):
        if a > b or (a == b and tuple(s) < (0, 0, 0)):
            a, b, s = b, a, [-x for x in s]
        out.add((a, b, *s))
    return out


def bond_set(b: Bonds) -> set[tuple[int, ...]]:
    return {(i, j, *s) for i, j, s in zip(b.i.tolist(), b.j.tolist(), b.image.tolist(),
                                          strict=True)}


def ase_bond_set(atoms: Atoms, tol: float = TOL, min_distance: float = 0.1):
    from ase.neighborlist import natural_cutoffs, neighbor_list

    i, j, s, d = neighbor_list("ijSd", atoms, np.array(natural_cutoffs(atoms)) * tol)
    keep = d >= min_distance
    return canonical(i[keep], j[keep], s[keep])


def pymatgen_bond_set(s: Structure, tol: float = TOL, min_distance: float = 0.1):
    from pymatgen.core import Lattice
    from pymatgen.core import Structure as PmgStructure

    pm = PmgStructure(Lattice(s.cell, pbc=s.pbc), s.symbols, s.positions,
                      coords_are_cartesian=True)
    r = covalent_radii(s.numbers)
    c, p, off, d = pm.get_neighbor_list(2 * r.max() * tol + 0.01)
    keep = (d <= (r[c] + r[p]) * tol) & (d >= min_distance)
    return canonical(c[keep], p[keep], off[keep])


def assert_consistent(s: Structure, b: Bonds) -> None:
    """Vectors and lengths agree with positions, images and the cell; each bond once."""
    vec = s.positions[b.j] + b.image @ s.cell - s.positions[b.i]
    np.testing.assert_allclose(b.vector, vec, atol=1e-9)
    np.testing.assert_allclose(b.length, np.linalg.norm(vec, axis=1), atol=1e-12)
    for i, j, s in zip(b.i.tolist(), b.j.tolist(), b.image.tolist(), strict=True):
        assert i < j or (i == j and tuple(s) > (0, 0, 0))
    assert len(bond_set(b)) == len(b)


def sheared_triclinic() -> Structure:
    """A strongly sheared cell (b and c lean far over a) with C, O, H, Si atoms."""
    rng = np.random.default_rng(7)
    cell = np.array([[4.0, 0.0, 0.0], [9.0, 3.5, 0.0], [-6.0, 7.5, 3.8]])
    frac = rng.random((14, 3))
    symbols = list(rng.choice(["C", "O", "H", "Si"], 14))
    return Structure(symbols, frac @ cell, cell, (True, True, True))


def tiny_cell() -> Structure:
    """Cells shorter than the bond cutoff: several layers of images, self-bonds."""
    cell = np.array([[2.1, 0.0, 0.0], [0.7, 1.9, 0.0], [0.3, 0.4, 2.6]])
    frac = np.array([[0.0, 0.0, 0.0], [0.45, 0.5, 0.55]])
    return Structure(["Li", "H"], frac @ cell, cell, (True, True, True))


# --------------------------------------------------------------------------- element data


def test_element_tables():
    assert covalent_radii([14])[0] == pytest.approx(1.11)
    assert vdw_radii([6])[0] == pytest.approx(1.70)
    from ase.data import vdw_radii as ase_vdw

    z_missing = int(np.flatnonzero(np.isnan(ase_vdw))[0])
    assert vdw_radii([z_missing])[0] == pytest.approx(1.5 * covalent_radii([z_missing])[0])
    assert np.isfinite(vdw_radii(np.arange(119))).all()
    c = element_colors([1, 8, 118], alpha=200)
    assert c.dtype == np.uint8 and c.shape == (3, 4)
    assert c[0].tolist() == [255, 255, 255, 200]  # Jmol H is white
    assert c[1].tolist() == [255, 13, 13, 200]  # Jmol O (1.0, 0.051, 0.051)


def test_atoms_points_attributes():
    s = from_ase(bulk("NaCl", "rocksalt", a=5.64))
    pts = atoms_points(s)
    assert isinstance(pts, Points) and len(pts) == 2
    assert pts.attributes["radius"].dtype == np.float32
    np.testing.assert_allclose(pts.attributes["radius"], 0.5 * covalent_radii([11, 17]),
                               rtol=1e-6)
    assert pts.attributes["element"].tolist() == [11, 17]
    assert pts.attributes["element"].dtype == np.int32
    assert pts.attributes["index"].tolist() == [0, 1]
    np.testing.assert_array_equal(pts.colors, element_colors([11, 17]))
    vdw = atoms_points(s, radius="vdw", scale=1.0)
    np.testing.assert_allclose(vdw.attributes["radius"], vdw_radii([11, 17]), rtol=1e-6)
    assert atoms_points(s, radius=0.4).attributes["radius"].tolist() == pytest.approx([0.4, 0.4])
    with pytest.raises(ValueError, match="radius"):
        atoms_points(s, radius="ionic")


# --------------------------------------------------------------------------- bonds


@pytest.mark.parametrize("build", [
    lambda: bulk("Si", "diamond", a=5.43, cubic=True),
    lambda: bulk("Si", "diamond", a=5.43),  # primitive fcc cell, triclinic vectors
    lambda: bulk("Si", "diamond", a=5.43, cubic=True).repeat((2, 2, 2)),
    lambda: bulk("Si", "diamond", a=5.43).repeat((2, 2, 2)),
], ids=["conventional", "primitive", "conventional-2x2x2", "primitive-2x2x2"])
def test_silicon_four_neighbours(build):
    atoms = build()
    s = from_ase(atoms)
    b = find_bonds(s)
    assert (b.coordination(len(s)) == 4).all()
    np.testing.assert_allclose(b.length, SI_BOND, atol=1e-6)
    assert round(float(b.length[0]), 2) == 2.35
    assert len(b) == 2 * len(s)
    assert_consistent(s, b)
    assert bond_set(b) == ase_bond_set(atoms)


@pytest.mark.parametrize("make", [sheared_triclinic, tiny_cell], ids=["sheared", "tiny"])
def test_bonds_match_ase_and_pymatgen(make):
    s = make()
    b = find_bonds(s)
    assert len(b) > 0
    assert_consistent(s, b)
    assert bond_set(b) == ase_bond_set(to_ase(s))
    assert bond_set(b) == pymatgen_bond_set(s)


def test_tiny_cell_has_many_images():
    s = tiny_cell()
    b = find_bonds(s)
    # the cutoff exceeds the cell lengths: Li bonds to several of its own images
    self_bonds = b.subset(b.i == b.j)
    assert len(self_bonds) >= 3
    assert (np.abs(b.image).max()) >= 1


def test_unwrapped_positions_match_ase():
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.05, seed=3)
    rng = np.random.default_rng(3)
    atoms.positions += rng.integers(-3, 4, (len(atoms), 3)) @ atoms.cell.array
    s = from_ase(atoms)
    b = find_bonds(s)
    assert_consistent(s, b)
    assert bond_set(b) == ase_bond_set(atoms)
    assert (b.coordination(len(s)) == 4).all()


def test_slab_periodic_in_two_axes():
    atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat((2, 2, 2))
    atoms.pbc = (True, True, False)
    s = from_ase(atoms)
    b = find_bonds(s)
    assert bond_set(b) == ase_bond_set(atoms)
    assert (b.image[:, 2] == 0).all()
    coord = b.coordination(len(s))
    assert coord.min() == 2 and coord.max() == 4  # surface atoms lose bonds along c


def test_water_without_cell():
    atoms = molecule("H2O")
    s = Structure(atoms.get_chemical_symbols(), atoms.positions)  # zero cell, pbc default
    b = find_bonds(s)
    assert len(b) == 2
    syms = sorted("".join(sorted((s.symbols[i], s.symbols[j]))) for i, j in zip(b.i, b.j,
                                                                              strict=True))
    assert syms == ["HO", "HO"]
    np.testing.assert_allclose(b.length, atoms.get_distance(0, 1), atol=1e-9)
    assert (b.image == 0).all()


def test_rocksalt_six_neighbours():
    atoms = bulk("NaCl", "rocksalt", a=5.64).repeat((2, 2, 2))
    s = from_ase(atoms)
    b = find_bonds(s)
    assert (b.coordination(len(s)) == 6).all()
    np.testing.assert_allclose(b.length, 2.82, atol=1e-9)
    z = s.numbers
    assert (z[b.i] != z[b.j]).all()  # Na-Cl only
    assert bond_set(b) == ase_bond_set(atoms) == pymatgen_bond_set(s)


def test_max_bond_min_distance_and_radii():
    s = from_ase(bulk("NaCl", "rocksalt", a=5.64))
    assert len(find_bonds(s, max_bond=2.5)) == 0
    assert len(find_bonds(s, min_distance=3.0)) == 0
    assert len(find_bonds(s, radii={"Na": 0.1, "Cl": 0.1})) == 0
    assert len(find_bonds(Structure([], np.zeros((0, 3))))) == 0
    with pytest.raises(ValueError, match="tolerance"):
        find_bonds(s, tolerance=0)


def test_mixed_radii_groups_match_ase():
    """Small and large atoms (H ... K, Cs) are queried per radius group: same bonds as ASE."""
    rng = np.random.default_rng(11)
    n = 1200
    shape = np.array([[1.0, 0, 0], [0.6, 0.8, 0], [-0.4, 0.3, 0.9]])
    cell = shape * (n / 0.09 / abs(np.linalg.det(shape))) ** (1 / 3)
    symbols = list(rng.choice(["H", "C", "O", "N", "K", "Cs"], n, p=[.4, .3, .15, .13, .01, .01]))
    s = Structure(symbols, rng.random((n, 3)) @ cell - [5.0, 0, 0], cell, (True, False, True))
    b = find_bonds(s)
    assert_consistent(s, b)
    assert bond_set(b) == ase_bond_set(to_ase(s))


def _all_fields_equal(a: Bonds, b: Bonds) -> None:
    for f in ("i", "j", "image", "vector", "length"):
        x, y = getattr(a, f), getattr(b, f)
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), f


def _small_structures():
    rng = np.random.default_rng(21)
    out = [from_ase(bulk("Si", "diamond", a=5.43, cubic=True)), from_ase(bulk("Si", "diamond",
           a=5.43).repeat((2, 2, 2))), from_ase(bulk("NaCl", "rocksalt", a=5.64)),
           sheared_triclinic(), tiny_cell(), perovskite(False)]
    m = molecule("C6H6")
    out.append(Structure(m.get_chemical_symbols(), m.positions))  # no cell
    for _ in range(40):
        n = int(rng.integers(1, 40))
        cell = (np.eye(3) + rng.normal(0, 0.3, (3, 3))) * rng.uniform(2.5, 10)
        symbols = list(rng.choice(["H", "C", "O", "Si", "Na", "K", "Cs"], n))
        pos = rng.random((n, 3)) @ cell + rng.integers(-2, 3, (n, 3)) @ cell
        out.append(Structure(symbols, pos, cell, tuple(bool(x) for x in rng.integers(0, 2, 3))))
    return out


@pytest.mark.parametrize("kw", [{}, {"max_bond": 2.0}, {"tolerance": 1.4},
                                {"pairs": [("C", "H"), ("Si", "O"), ("Ti", "O")]},
                                {"min_distance": 1.0}, {"radii": {"H": 0.6}}],
                         ids=["default", "max_bond", "tolerance", "pairs", "min_distance",
                              "radii"])
def test_dense_search_equals_kd_trees(monkeypatch, kw):
    """Small structures search by brute force (no scipy import), large ones with k-d trees:
    both give the very same Bonds (indices, images, vectors and lengths bit for bit)."""
    from materials_pipeline import structure as st

    for s in _small_structures():
        monkeypatch.setattr(st, "DENSE_PAIRS", 0)
        tree = find_bonds(s, **kw)
        monkeypatch.setattr(st, "DENSE_PAIRS", 1 << 40)
        dense = find_bonds(s, **kw)
        _all_fields_equal(dense, tree)
        assert_consistent(s, dense)


def test_small_structures_do_not_import_scipy():
    import subprocess
    import sys

    a = bulk("Si", "diamond", a=5.43, cubic=True)  # ase.build itself imports scipy.spatial
    code = ("import sys\n"
            "import numpy as np\n"
            "from materials_pipeline.data import Structure\n"
            "from materials_pipeline.structure import find_bonds\n"
            f"s = Structure(['Si'] * 8, np.array({a.positions.tolist()}), "
            f"np.array({a.cell.array.tolist()}))\n"
            "assert len(find_bonds(s)) == 16\n"
            "print(sorted(m for m in sys.modules if m.startswith('scipy.spatial')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_memory_is_linear_not_quadratic():
    import tracemalloc

    rng = np.random.default_rng(5)
    n = 20_000
    cell = np.eye(3) * (n / 0.05) ** (1 / 3)
    s = Structure(["Si"] * n, rng.random((n, 3)) @ cell, cell)
    tracemalloc.start()
    try:
        b = find_bonds(s)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(b) > 0
    assert peak < 48 * 2**20  # an N x N float matrix would be 3.2 GB


coords = st.floats(0.0, 0.999, allow_nan=False)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    diag=st.tuples(*[st.floats(2.0, 7.0)] * 3),
    shear=st.tuples(*[st.floats(-5.0, 5.0)] * 3),
    frac=st.lists(st.tuples(coords, coords, coords), min_size=1, max_size=7),
    elements=st.lists(st.sampled_from(["H", "C", "O", "Si", "Na"]), min_size=7, max_size=7),
    shifts=st.lists(st.tuples(*[st.integers(-3, 3)] * 3), min_size=7, max_size=7),
)
def test_bonds_invariant_under_lattice_translation(diag, shear, frac, elements, shifts):
    cell = np.array([[diag[0], 0, 0], [shear[0], diag[1], 0], [shear[1], shear[2], diag[2]]])
    n = len(frac)
    s = Structure(elements[:n], np.array(frac) @ cell, cell, (True, True, True))
    t = np.array(shifts[:n])
    moved = Structure(s.symbols, s.positions + t @ cell, cell, (True, True, True))
    b0, b1 = find_bonds(s), find_bonds(moved)
    assert_consistent(moved, b1)
    # the same bonds: image shifts by t_i - t_j, vectors and lengths unchanged
    expect = canonical(b0.i, b0.j, b0.image + t[b0.i] - t[b0.j])
    assert bond_set(b1) == expect
    assert sorted(np.round(b0.length, 9)) == sorted(np.round(b1.length, 9))
    wrapped = wrap_positions(moved)
    f = wrapped.fractional()
    assert (f > -1e-6).all() and (f < 1.0).all()
    b2 = find_bonds(wrapped)
    assert len(b2) == len(b0)
    np.testing.assert_allclose(np.sort(b2.length), np.sort(b0.length), atol=1e-9)
    assert bond_set(b1) == ase_bond_set(to_ase(moved))


# --------------------------------------------------------------------------- bond curves


def test_bond_curves_halves_and_colours():
    s = from_ase(bulk("NaCl", "rocksalt", a=5.64))
    b = find_bonds(s)
    c = bond_curves(s, b, radius=0.1)
    assert isinstance(c, Curves) and c.radius == 0.1
    assert len(c.counts) == 2 * len(b) and (c.counts == 2).all()
    pts = c.points.reshape(-1, 4, 3).astype(np.float64)
    pi, pj = s.positions[b.i], s.positions[b.j]
    np.testing.assert_allclose(pts[:, 0], pi, atol=1e-5)
    np.testing.assert_allclose(pts[:, 1], pi + b.vector / 2, atol=1e-5)  # midpoint
    np.testing.assert_allclose(pts[:, 2], pj, atol=1e-5)
    np.testing.assert_allclose(pts[:, 3], pj - b.vector / 2, atol=1e-5)
    # each half is half a bond long
    np.testing.assert_allclose(np.linalg.norm(pts[:, 1] - pts[:, 0], axis=1), b.length / 2,
                               atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(pts[:, 3] - pts[:, 2], axis=1), b.length / 2,
                               atol=1e-5)
    elem = c.attributes["element"].reshape(-1, 4)
    assert (elem[:, :2] == s.numbers[b.i][:, None]).all()
    assert (elem[:, 2:] == s.numbers[b.j][:, None]).all()
    col = c.colors.reshape(-1, 4, 4)
    np.testing.assert_array_equal(col[:, 0], element_colors(s.numbers[b.i]))
    np.testing.assert_array_equal(col[:, 2], element_colors(s.numbers[b.j]))
    assert (c.attributes["bond"].reshape(-1, 4) == np.arange(len(b))[:, None]).all()
    # NaCl primitive: Na at the origin, every bond crosses the cell: both halves start at atoms
    assert len(bond_curves(s, Bonds.empty()).counts) == 0


def test_bond_curves_periodic_halves_stay_near_their_atoms():
    s = wrap_positions(from_ase(bulk("Si", "diamond", a=5.43, cubic=True)))
    b = find_bonds(s)
    c = bond_curves(s, b)
    pts = c.points.reshape(-1, 4, 3).astype(np.float64)
    frac = (pts.reshape(-1, 3) @ np.linalg.inv(s.cell))
    # every half-bond starts at an atom inside the cell and reaches at most half a bond out
    assert frac.min() > -SI_BOND / 2 / 5.43 - 1e-6 and frac.max() < 1 + SI_BOND / 2 / 5.43
    crossing = (b.image != 0).any(axis=1)
    assert crossing.any()


# --------------------------------------------------------------------------- cell


def test_cell_edges_lengths():
    cell = np.array([[4.0, 0, 0], [1.5, 3.0, 0], [0.5, 0.7, 5.0]])
    e = cell_edges(cell, origin=(1.0, 2.0, 3.0))
    assert isinstance(e, Curves) and len(e.counts) == 12 and (e.counts == 2).all()
    seg = e.points.reshape(12, 2, 3).astype(np.float64)
    lengths = np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1)
    expect = np.repeat(np.linalg.norm(cell, axis=1), 4)
    np.testing.assert_allclose(lengths, expect, rtol=1e-6)
    corners = {tuple(np.round(p, 4)) for p in seg.reshape(-1, 3)}
    assert len(corners) == 8
    far = np.array([1.0, 2.0, 3.0]) + cell.sum(0)
    assert tuple(np.round(far, 4)) in corners
    assert e.attributes["axis"].tolist() == [0] * 8 + [1] * 8 + [2] * 8


# --------------------------------------------------------------------------- boundary, supercell


@pytest.mark.parametrize("frac, count", [
    ((0.0, 0.0, 0.0), 8), ((0.5, 0.0, 0.0), 4), ((0.5, 0.5, 0.0), 2), ((0.5, 0.5, 0.5), 1),
    ((1.0 - 1e-5, 0.5, 0.5), 2), ((-1e-5, 0.5, 0.5), 2),
])
def test_repeat_boundary_atoms_counts(frac, count):
    cell = np.diag([3.0, 3.0, 3.0])
    s = Structure(["Po"], np.array([frac]) @ cell, cell)
    out, index = repeat_boundary_atoms(s, return_index=True)
    assert len(out) == count and (index == 0).all()
    f = out.fractional()
    assert (f > -1e-3).all() and (f < 1 + 1e-3).all()
    assert len({tuple(np.round(p, 6)) for p in out.positions}) == count


def test_repeat_boundary_fcc_and_triclinic():
    fcc = from_ase(bulk("Cu", "fcc", a=3.6, cubic=True))  # corner + 3 face centres
    out = repeat_boundary_atoms(fcc)
    assert len(out) == 8 + 3 * 2
    assert out.symbols == ["Cu"] * 14 and (out.numbers == 29).all()
    np.testing.assert_allclose(out.positions[:4], wrap_positions(fcc).positions)
    tri = from_ase(bulk("Si", "diamond", a=5.43))  # atom at the origin of a triclinic cell
    assert len(repeat_boundary_atoms(tri)) == 8 + 1
    mol = Structure(["O"], np.zeros((1, 3)))  # no cell: nothing to repeat
    assert len(repeat_boundary_atoms(mol)) == 1


def test_supercell_matches_ase_repeat():
    atoms = bulk("NaCl", "rocksalt", a=5.64)
    s = supercell(from_ase(atoms), (2, 3, 1))
    ref = atoms.repeat((2, 3, 1))
    assert len(s) == 12
    np.testing.assert_allclose(s.positions, ref.positions, atol=1e-12)
    np.testing.assert_allclose(s.cell, ref.cell.array, atol=1e-12)
    assert s.symbols == ref.get_chemical_symbols()
    assert (find_bonds(s).coordination(len(s)) == 6).all()
    with pytest.raises(ValueError, match="supercell"):
        supercell(s, (0, 1, 1))


# --------------------------------------------------------------------------- polyhedra


def _edges_shared_twice(mesh: Mesh) -> bool:
    f = mesh.faces
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    directed = {tuple(x) for x in e.tolist()}
    # closed and consistently oriented: every directed edge once, its reverse present
    return len(directed) == len(e) and all((b, a) in directed for a, b in directed)


def perovskite(ti_at_origin: bool) -> Structure:
    a = 3.905
    if ti_at_origin:
        frac = [[0.5, 0.5, 0.5], [0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5]]
    else:
        frac = [[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]]
    cell = np.eye(3) * a
    return Structure(["Sr", "Ti", "O", "O", "O"], np.array(frac) @ cell, cell)


@pytest.mark.parametrize("ti_at_origin", [False, True])
def test_perovskite_octahedra(ti_at_origin):
    s = perovskite(ti_at_origin)
    b = find_bonds(s)
    m = coordination_polyhedra(s, b, ["Ti"], ligands=["O"])
    assert m.n_vertices == 6 and m.n_faces == 8
    assert _edges_shared_twice(m)
    d = 3.905 / 2
    assert m.volume() == pytest.approx(4.0 / 3.0 * d**3, rel=1e-5)  # outward: positive
    centre = s.positions[1]
    np.testing.assert_allclose(np.linalg.norm(m.vertices - centre, axis=1), d, atol=1e-5)
    np.testing.assert_array_equal(m.colors, element_colors([22] * 6, alpha=160))
    assert (m.attributes["center"] == 1).all() and (m.attributes["element"] == 22).all()


def test_pairs_restrict_bonds():
    s = perovskite(False)
    b_all = find_bonds(s)
    assert (s.numbers[b_all.i] == s.numbers[b_all.j]).any()  # covalent radii bond Sr-Sr too
    b = find_bonds(s, pairs=[("O", "Ti")])
    assert b.coordination(len(s)).tolist() == [0, 6, 2, 2, 2]
    m = coordination_polyhedra(s, b, ["Ti"])
    assert m.n_faces == 8
    with pytest.raises(ValueError, match="pairs"):
        find_bonds(s, pairs=[("Ti", "Xx")])


def test_sio4_tetrahedra_and_flat():
    r = 1.61
    tet = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3) * r
    pos = np.vstack([[0, 0, 0], tet, tet + [6.0, 0, 0], [[6.0, 0, 0]]])
    s = Structure(["Si", "O", "O", "O", "O", "O", "O", "O", "O", "Si"], pos)
    b = find_bonds(s)
    m = coordination_polyhedra(s, b, ["Si"])
    assert m.n_faces == 8 and m.n_vertices == 8
    assert _edges_shared_twice(m)
    assert m.volume() == pytest.approx(2 * 8 * r**3 / (9 * np.sqrt(3)), rel=1e-5)
    flat = coordination_polyhedra(s, b, ["Si"], flat=True)
    assert flat.n_vertices == 24 and flat.normals is not None
    assert flat.volume() == pytest.approx(m.volume(), rel=1e-6)
    fv = flat.vertices[flat.faces].astype(np.float64)
    n = np.cross(fv[:, 1] - fv[:, 0], fv[:, 2] - fv[:, 0])
    assert (np.einsum("ij,ij->i", n, flat.normals[flat.faces[:, 0]]) > 0).all()
    # fewer than 4 neighbours: nothing
    assert coordination_polyhedra(s, b, ["O"]).n_faces == 0
