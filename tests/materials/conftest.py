"""Small materials files written by the libraries' own writers (pymatgen, ase, pyscf).

Every fixture writes into a per-session temporary folder once; the reference arrays the
writers were given come back with the paths so tests compare against the source of truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest


@dataclass
class Written:
    path: Path
    data: dict = field(default_factory=dict)  # what the writer was given
    obj: object = None  # the writer's own object (pymatgen Structure, ase Atoms ...)


def smooth_field(shape, seed=0, positive=True, k=3):
    """A smooth periodic random field (a few low Fourier modes)."""
    rng = np.random.default_rng(seed)
    f = np.zeros(shape, complex)
    f[:k, :k, :k] = rng.normal(size=(k, k, k)) + 1j * rng.normal(size=(k, k, k))
    d = np.fft.ifftn(f).real
    d = (d - d.min()) / (d.max() - d.min())
    return d * 20 + 0.01 if positive else (d - 0.5) * 4


def _triclinic_structure():
    from pymatgen.core import Lattice, Structure

    lat = Lattice.from_parameters(4.1, 4.4, 4.9, 82.0, 97.0, 104.0)
    return Structure(lat, ["Fe", "Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.1, 0.7]])


@pytest.fixture(scope="session")
def mat_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("materials_files")


@pytest.fixture(scope="session")
def chgcar_pmg(mat_dir) -> Written:
    """pymatgen CHGCAR, triclinic, 12x14x10 (non-cubic: catches axis-order mistakes)."""
    from pymatgen.io.vasp.outputs import Chgcar

    s = _triclinic_structure()
    rho = smooth_field((12, 14, 10), seed=1)
    path = mat_dir / "CHGCAR"
    Chgcar(s, {"total": rho}).write_file(path)
    return Written(path, {"total": rho}, s)


@pytest.fixture(scope="session")
def chgcar_spin(mat_dir) -> Written:
    """pymatgen spin-polarized CHGCAR (total + diff) with augmentation blocks."""
    from pymatgen.io.vasp.outputs import Chgcar

    s = _triclinic_structure()
    rho = smooth_field((10, 12, 8), seed=2)
    mag = smooth_field((10, 12, 8), seed=3, positive=False)
    aug = {"total": {1: np.linspace(0, 1, 7), 2: np.linspace(1, 2, 7), 3: np.arange(4.0)},
           "diff": {1: np.linspace(0, -1, 7), 2: np.linspace(-1, 2, 7), 3: np.arange(4.0)}}
    path = mat_dir / "CHGCAR_spin"
    Chgcar(s, {"total": rho, "diff": mag}, data_aug=aug).write_file(path)
    return Written(path, {"total": rho, "diff": mag}, s)


@pytest.fixture(scope="session")
def chgcar_soc(mat_dir) -> Written:
    """pymatgen non-collinear CHGCAR (total, diff_x, diff_y, diff_z: pymatgen's is_soc)."""
    from pymatgen.io.vasp.outputs import Chgcar

    s = _triclinic_structure()
    shape = (8, 6, 10)
    data = {"total": smooth_field(shape, 4)}
    for i, key in enumerate(("diff_x", "diff_y", "diff_z")):
        data[key] = smooth_field(shape, 5 + i, positive=False)
    path = mat_dir / "CHGCAR_soc"
    Chgcar(s, data).write_file(path)
    return Written(path, data, s)


@pytest.fixture(scope="session")
def chgcar_ase(mat_dir) -> Written:
    """ase's VaspChargeDensity writer (CHG-like layout, 10 values per line, chg=True)."""
    from ase.build import bulk
    from ase.calculators.vasp import VaspChargeDensity

    atoms = bulk("Si", "diamond", a=5.43)
    rho = smooth_field((9, 8, 7), seed=6)
    cd = VaspChargeDensity(filename=None)
    cd.atoms = [atoms]
    cd.chg = [rho]  # ase stores rho (divides/multiplies by the volume itself)
    path = mat_dir / "CHG"
    cd.write(str(path), format="chg")
    path2 = mat_dir / "ase_CHGCAR"
    cd.write(str(path2), format="chgcar")
    return Written(path, {"rho": rho, "chgcar": path2}, atoms)


@pytest.fixture(scope="session")
def pyscf_cubes(mat_dir) -> dict[str, Written]:
    """PySCF cubegen: density, orbital (HOMO), electrostatic potential of water (STO-3G)."""
    from pyscf import gto, scf
    from pyscf.tools import cubegen

    mol = gto.M(atom="O 0 0 0; H 0 0.757 0.587; H 0 -0.757 0.587", basis="sto-3g",
                verbose=0)
    mf = scf.RHF(mol).run()
    dm = mf.make_rdm1()
    homo = mol.nelectron // 2 - 1
    out = {}
    d = mat_dir / "water_density.cube"
    cubegen.density(mol, str(d), dm, nx=40, ny=42, nz=38, margin=4.0)
    out["density"] = Written(d, {"nelectron": mol.nelectron}, mol)
    o = mat_dir / "water_homo.cube"
    cubegen.orbital(mol, str(o), mf.mo_coeff[:, homo], nx=24, ny=26, nz=22, margin=4.0)
    out["orbital"] = Written(o, {}, mol)
    p = mat_dir / "water_mep.cube"
    cubegen.mep(mol, str(p), dm, nx=10, ny=10, nz=10)
    out["mep"] = Written(p, {}, mol)
    return out


@pytest.fixture(scope="session")
def cube_ase(mat_dir) -> Written:
    """ase's cube writer on a triclinic (non-orthogonal voxel axes) periodic cell."""
    import ase.io
    from ase import Atoms

    atoms = Atoms("CO", positions=[[0.1, 0.2, 0.3], [1.0, 1.1, 1.2]],
                  cell=[[5.0, 0, 0], [1.0, 5.5, 0], [0.5, 0.7, 6.0]], pbc=True)
    data = smooth_field((8, 9, 10), seed=7)
    path = mat_dir / "ase_tri.cube"
    with open(path, "w") as fh:
        ase.io.write(fh, atoms, format="cube", data=data)
    return Written(path, {"data": data}, atoms)


@pytest.fixture(scope="session")
def xsf_ase(mat_dir) -> Written:
    """ase's write_xsf with a DATAGRID (periodic crystal) and an animation (AXSF)."""
    import ase.io
    from ase.build import bulk

    atoms = bulk("Cu", "fcc", a=3.6) * (1, 1, 2)
    atoms.rattle(0.05, seed=1)
    data = smooth_field((6, 7, 8), seed=8)
    path = mat_dir / "cu.xsf"
    with open(path, "w") as fh:
        ase.io.write(fh, atoms, format="xsf", data=data)
    frames = []
    for i in range(3):
        a = atoms.copy()
        a.positions[0] += 0.1 * i
        a.cell[2, 2] += 0.05 * i  # variable cell
        frames.append(a)
    anim = mat_dir / "cu_anim.axsf"
    ase.io.write(anim, frames, format="xsf")
    return Written(path, {"data": data, "anim": anim, "frames": frames}, atoms)


@pytest.fixture(scope="session")
def structures_ase(mat_dir) -> dict[str, Written]:
    """POSCAR (direct, cartesian, VASP 4), XDATCAR, extxyz, .traj written by ase.io."""
    import ase.io
    from ase.build import bulk
    from ase.constraints import FixAtoms

    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    atoms.cell[0, 1] = 0.3  # make it triclinic
    atoms.rattle(0.02, seed=3)
    out = {}
    p = mat_dir / "POSCAR"
    ase.io.write(p, atoms, format="vasp", direct=True)
    out["poscar"] = Written(p, {}, atoms)
    c = mat_dir / "CONTCAR_cart"
    fixed = atoms.copy()
    fixed.set_constraint(FixAtoms(indices=[0, 1]))  # selective dynamics
    ase.io.write(c, fixed, format="vasp", direct=False)
    out["contcar"] = Written(c, {}, fixed)
    v4 = mat_dir / "POSCAR_vasp4"
    ase.io.write(v4, atoms, format="vasp", vasp5=False, direct=True)
    out["vasp4"] = Written(v4, {}, atoms)
    frames = []
    for i in range(4):
        a = atoms.copy()
        a.positions += 0.01 * i
        frames.append(a)
    x = mat_dir / "XDATCAR"
    ase.io.write(x, frames, format="vasp-xdatcar")
    out["xdatcar"] = Written(x, {}, frames)
    e = mat_dir / "md.extxyz"
    ase.io.write(e, frames, format="extxyz")
    out["extxyz"] = Written(e, {}, frames)
    t = mat_dir / "md.traj"
    ase.io.write(t, frames, format="traj")
    out["traj"] = Written(t, {}, frames)
    return out
