"""Writes the two corpus files no public real file covered, with pymatgen's own writer
(``pymatgen.io.vasp.Chgcar.write_file``, an implementation independent of vizpipe):

* ``CHGCAR_Fe3O4_spin.bz2``: ISPIN=2 CHGCAR of the 14-atom primitive (slightly strained,
  triclinic) Fe3O4 spinel cell, with one "augmentation occupancies" block per atom after each
  grid, as VASP writes them; total density of 96 valence electrons (Fe 8, O 6) and a
  magnetization of -4 per tetrahedral Fe and +4 per octahedral Fe (net +8 mu_B).
* ``AECCAR2_Si``: a valence density of Si (8 electrons) with small negative values where the
  density is low (in VASP's AECCAR2 they come from the partial core correction).

The densities are sums of periodic Gaussians (synthetic values, exact electron counts), not
a VASP run. Run: ``.venv/bin/python tests/data/real/materials/make_pymatgen_files.py``.
"""

from __future__ import annotations

import bz2
from pathlib import Path

import numpy as np
from pymatgen.core import Lattice, Structure
from pymatgen.io.vasp.outputs import Chgcar

HERE = Path(__file__).parent


def gaussians(struct: Structure, shape, centres, weights, sigma) -> np.ndarray:
    """sum_k w_k * normalised periodic Gaussian at centre k, in e/Angstrom^3, on the grid."""
    cell = struct.lattice.matrix
    frac = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), -1)
    out = np.zeros(shape)
    for c, w, s in zip(centres, weights, sigma, strict=True):
        d = frac - c
        d -= np.round(d)
        r2 = np.sum((d @ cell) ** 2, axis=-1)
        g = np.exp(-r2 / (2 * s * s))
        out += w * g / (g.sum() * struct.volume / g.size)  # integrates to w exactly
    return out


def fe3o4() -> None:
    conv = Structure.from_spacegroup("Fd-3m", Lattice.cubic(8.396), ["Fe", "Fe", "O"],
                                     [[0.0, 0.0, 0.0], [0.625, 0.625, 0.625],
                                      [0.3799, 0.3799, 0.3799]])
    prim = conv.get_primitive_structure()
    assert len(prim) == 14, len(prim)
    strain = np.array([[1.01, 0.02, 0.0], [0.0, 0.99, 0.015], [0.0, 0.0, 1.0]])
    prim = Structure(Lattice(prim.lattice.matrix @ strain), prim.species, prim.frac_coords)
    prim = prim.get_sorted_structure()
    shape = (24, 24, 24)
    fe = [i for i, s in enumerate(prim) if s.specie.symbol == "Fe"]
    # tetrahedral (A) Fe: the two with no O closer than 1.95 A ... by coordination: 4 vs 6
    coord = [len(prim.get_neighbors(prim[i], 2.3)) for i in fe]
    tet = {i for i, c in zip(fe, coord, strict=True) if c == 4}
    assert len(tet) == 2, coord
    val = [8.0 if s.specie.symbol == "Fe" else 6.0 for s in prim]
    sig = [0.45 if s.specie.symbol == "Fe" else 0.55 for s in prim]
    rho = gaussians(prim, shape, prim.frac_coords, val, sig)
    mw = [(-4.0 if i in tet else 4.0) if i in fe else 0.0 for i in range(len(prim))]
    mag = gaussians(prim, shape, prim.frac_coords, mw, [0.35] * len(prim))
    v = prim.volume
    rng = np.random.default_rng(7)
    aug = {k + 1: rng.normal(0, 0.05, 18 if k in fe else 8) for k in range(len(prim))}
    aug_m = {k + 1: rng.normal(0, 0.02, 18 if k in fe else 8) for k in range(len(prim))}
    ch = Chgcar(prim, {"total": rho * v, "diff": mag * v},
                data_aug={"total": aug, "diff": aug_m})
    tmp = HERE / "CHGCAR_Fe3O4_spin"
    ch.write_file(tmp)
    (HERE / "CHGCAR_Fe3O4_spin.bz2").write_bytes(bz2.compress(tmp.read_bytes(), 9))
    tmp.unlink()


def aeccar2() -> None:
    a = 5.43
    si = Structure(Lattice([[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]]),
                   ["Si", "Si"], [[0, 0, 0], [0.25, 0.25, 0.25]])
    shape = (30, 30, 30)
    bonds = [(np.array([0.125, 0.125, 0.125]) + s) % 1 for s in
             ([0, 0, 0], [0.5, 0, 0], [0, 0.5, 0], [0, 0, 0.5])]
    holes = [[0.5, 0.5, 0.5], [0.75, 0.75, 0.75]]  # the empty tetrahedral sites
    centres = list(si.frac_coords) + bonds + holes
    # 2.01 per Si core region + 1 per bond, minus 0.01 spread around each empty site (small
    # negative values where the density is low, as AECCAR2 has): 8 electrons in all
    weights = [2.01, 2.01] + [1.0] * 4 + [-0.01, -0.01]
    sigma = [0.9, 0.9] + [0.5] * 4 + [0.5, 0.5]
    rho = gaussians(si, shape, centres, weights, sigma)
    Chgcar(si, {"total": rho * si.volume}).write_file(HERE / "AECCAR2_Si")


if __name__ == "__main__":
    fe3o4()
    aeccar2()
