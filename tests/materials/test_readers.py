"""Materials readers against the libraries that wrote the files (pymatgen, ase, pyscf).

Files come from tests/materials/conftest.py (the libraries' own writers); a few layouts no
library here writes (multi-orbital and Angstrom cubes, XSF general grids, variable-cell
XDATCAR, vaspout.h5) are hand-built below, each with a comment saying so.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import BadInputError, UnknownFormatError
from materials_pipeline.data import DensityFile, Structure, Trajectory
from materials_pipeline.readers import (
    FORMATS,
    _common,
    guess_format,
    read,
    read_density,
    read_structure,
    read_trajectory,
)
from materials_pipeline.readers.cube import BOHR

# ------------------------------------------------------------------------------ helpers


def _pmg_chgcar(path):
    from pymatgen.io.vasp.outputs import Chgcar

    return Chgcar.from_file(str(path))


def _assert_structure(ours: Structure, symbols, positions, cell, atol=1e-6):
    assert list(ours.symbols) == list(symbols)
    np.testing.assert_allclose(ours.cell, cell, atol=atol)
    np.testing.assert_allclose(ours.positions, positions, atol=atol)


def _edit(src: Path, dst: Path, fn) -> Path:
    dst.write_text(fn(src.read_text()))
    return dst


# ------------------------------------------------------------------------- the registry


def test_registry_lines_are_declarative():
    names = [f.name for f in FORMATS]
    assert len(names) == len(set(names))
    for f in FORMATS:
        assert set(f.kinds) <= {"density", "structure", "trajectory"}
        assert f.module.startswith("materials_pipeline.readers.")
        assert f.globs
    # reader modules are imported lazily: the registry alone imports none of them
    import subprocess
    import sys

    code = ("import sys, materials_pipeline.readers; "
            "print(any(m.startswith('materials_pipeline.readers.') and "
            "m != 'materials_pipeline.readers.registry' for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


def test_unknown_format_lists_known_ones(tmp_path):
    p = tmp_path / "notes.txt"
    p.write_text("hello\nthis is not a simulation file\n")
    with pytest.raises(UnknownFormatError) as e:
        read(p)
    msg = str(e.value)
    assert "notes.txt" in msg and "chgcar" in msg and "cube" in msg and "xsf" in msg
    with pytest.raises(UnknownFormatError, match="known formats"):
        read(p, format="nosuchformat")


def test_directory_and_empty_file_and_missing(tmp_path):
    with pytest.raises(BadInputError, match="directory"):
        read(tmp_path)
    empty = tmp_path / "CHGCAR"
    empty.write_bytes(b"")
    with pytest.raises(BadInputError, match="CHGCAR: empty file"):
        read_density(empty)
    with pytest.raises(BadInputError, match="no such file"):
        read(tmp_path / "LOCPOT")


# ------------------------------------------------------------------------- VASP: CHGCAR


def test_chgcar_equals_pymatgen_bit_for_bit(chgcar_pmg):
    ours = read_density(chgcar_pmg.path)
    pmg = _pmg_chgcar(chgcar_pmg.path)
    g = ours.grids["density"]
    assert ours.format == "chgcar" and ours.kind == "density"
    assert g.units == "e/Angstrom^3" and g.periodic and not g.signed
    assert g.values.shape == (12, 14, 10) and g.values.flags.c_contiguous
    v = ours.meta["divided_by"]
    assert v == pytest.approx(pmg.structure.volume, rel=1e-12)
    assert np.array_equal(g.values, pmg.data["total"] / v)
    s = pmg.structure
    _assert_structure(ours.structure, [x.specie.symbol for x in s], s.cart_coords,
                      s.lattice.matrix)
    # values[i, j, k] is the sample at fractional (i/n0, j/n1, k/n2): the writer's array
    np.testing.assert_allclose(g.values * v, chgcar_pmg.data["total"], rtol=1e-10)
    # affine: periodic step cell/n along each index
    np.testing.assert_allclose(g.affine[:3, :3], (s.lattice.matrix / [[12], [14], [10]]).T)
    # electrons: sum * voxel volume = mean of rho*V
    assert g.values.sum() * g.voxel_volume == pytest.approx(
        chgcar_pmg.data["total"].mean(), rel=1e-9)


def test_chgcar_spin_polarized_with_augmentation(chgcar_spin):
    ours = read_density(chgcar_spin.path, spin_channels=True)
    pmg = _pmg_chgcar(chgcar_spin.path)
    v = ours.meta["divided_by"]
    assert list(ours.grids)[:2] == ["density", "magnetization"]
    assert ours.meta["spin"] == "collinear"
    assert ours.meta["augmentation_blocks_skipped"] == 6
    assert np.array_equal(ours.grids["density"].values, pmg.data["total"] / v)
    assert np.array_equal(ours.grids["magnetization"].values, pmg.data["diff"] / v)
    assert ours.grids["magnetization"].signed
    up, down = ours.grids["spin_up"].values, ours.grids["spin_down"].values
    np.testing.assert_allclose(up + down, ours.grids["density"].values, rtol=1e-12)
    np.testing.assert_allclose(up - down, ours.grids["magnetization"].values, atol=1e-12)


def test_chgcar_noncollinear_four_grids(chgcar_soc):
    ours = read_density(chgcar_soc.path)
    pmg = _pmg_chgcar(chgcar_soc.path)
    v = ours.meta["divided_by"]
    assert ours.meta["spin"] == "noncollinear"
    for ours_name, key in [("density", "total"), ("magnetization_x", "diff_x"),
                           ("magnetization_y", "diff_y"), ("magnetization_z", "diff_z")]:
        assert np.array_equal(ours.grids[ours_name].values, pmg.data[key] / v), ours_name
        assert ours.grids[ours_name].values.shape == (8, 6, 10)


def test_ase_chg_ten_per_line_and_ase_chgcar(chgcar_ase):
    from ase.calculators.vasp import VaspChargeDensity

    chg = read_density(chgcar_ase.path)
    assert chg.format == "chg"  # by name; 10 values per line
    ref = VaspChargeDensity(str(chgcar_ase.path))
    np.testing.assert_allclose(chg.main_grid().values, ref.chg[-1], rtol=1e-13)
    np.testing.assert_allclose(chg.main_grid().values, chgcar_ase.data["rho"], rtol=1e-4)
    assert chg.structure.symbols == ["Si", "Si"]
    car = read_density(chgcar_ase.data["chgcar"])
    ref2 = VaspChargeDensity(str(chgcar_ase.data["chgcar"]))
    np.testing.assert_allclose(car.main_grid().values, ref2.chg[-1], rtol=1e-13)


def test_chg_with_several_images(tmp_path, chgcar_ase):
    """VASP's CHG from an MD run holds one image (header + grid) per NBLOCK steps."""
    from ase.calculators.vasp import VaspChargeDensity

    atoms = chgcar_ase.obj
    cd = VaspChargeDensity(filename=None)
    a2 = atoms.copy()
    a2.positions[1] += 0.1
    cd.atoms = [atoms, a2]
    cd.chg = [chgcar_ase.data["rho"], chgcar_ase.data["rho"] * 2]
    path = tmp_path / "CHG"
    cd.write(str(path), format="chg")
    last = read_density(path)
    first = read_density(path, image=0)
    assert last.meta["images"] == 2
    np.testing.assert_allclose(last.main_grid().values, first.main_grid().values * 2,
                               rtol=1e-4)
    np.testing.assert_allclose(last.structure.positions, a2.positions, atol=1e-9)


def test_locpot_elfcar_units_and_kinds(tmp_path, chgcar_pmg):
    from pymatgen.io.vasp.outputs import Elfcar, Locpot

    s = chgcar_pmg.obj
    pot = (chgcar_pmg.data["total"] - 10.0) * 0.7
    Locpot(s, {"total": pot}).write_file(tmp_path / "LOCPOT")
    lp = read_density(tmp_path / "LOCPOT")
    assert lp.format == "locpot" and lp.kind == "potential"
    g = lp.grids["potential"]
    assert g.units == "eV" and g.signed and lp.meta["divided_by"] == 1.0
    np.testing.assert_allclose(g.values, pot, rtol=1e-10)
    elf = np.clip(chgcar_pmg.data["total"] / 25, 0, 1)
    Elfcar(s, {"total": elf}).write_file(tmp_path / "ELFCAR")
    ef = read_density(tmp_path / "ELFCAR")
    assert ef.kind == "elf" and ef.grids["elf"].units == ""
    np.testing.assert_allclose(ef.grids["elf"].values, elf, rtol=1e-10)


def test_locpot_spin_polarized(tmp_path, chgcar_spin):
    shutil.copy(chgcar_spin.path, tmp_path / "LOCPOT")
    lp = read_density(tmp_path / "LOCPOT")
    assert list(lp.grids) == ["potential", "potential_up", "potential_down"]
    np.testing.assert_allclose(
        lp.grids["potential"].values,
        (lp.grids["potential_up"].values + lp.grids["potential_down"].values) / 2)


@pytest.mark.parametrize("name,fmt", [("AECCAR2", "aeccar"), ("PARCHG.0012.ALLK", "parchg"),
                                      ("CHGCAR.relax", "chgcar"), ("LOCPOT", "locpot"),
                                      ("ELFCAR", "elfcar"), ("CHG", "chg")])
def test_vasp_flavour_by_name(tmp_path, chgcar_pmg, name, fmt):
    p = tmp_path / name
    shutil.copy(chgcar_pmg.path, p)
    f = read_density(p)
    assert f.format == fmt and f.meta["detected_by"] == "content"
    if fmt == "aeccar":
        assert f.meta["aeccar"] == "valence"


def test_content_detection_renamed_file(tmp_path, chgcar_pmg, chgcar_spin):
    p = tmp_path / "data.bin"
    shutil.copy(chgcar_pmg.path, p)
    assert guess_format(p).name == "chgcar"
    f = read(p)
    assert isinstance(f, DensityFile) and f.meta["format_guessed"]
    q = tmp_path / "something.dat"
    shutil.copy(chgcar_spin.path, q)  # augmentation occupancies: surely a CHGCAR
    g = read_density(q)
    assert g.format == "chgcar" and not g.meta["format_guessed"]
    # a forced format
    lp = read_density(p, format="locpot")
    assert lp.kind == "potential" and lp.meta["detected_by"] == "argument"


def test_compressed_chgcar(tmp_path, chgcar_pmg):
    p = tmp_path / "CHGCAR.gz"
    p.write_bytes(gzip.compress(chgcar_pmg.path.read_bytes()))
    assert guess_format(p).name == "chgcar"
    a, b = read_density(p), read_density(chgcar_pmg.path)
    assert np.array_equal(a.main_grid().values, b.main_grid().values)


def test_read_structure_from_chgcar_is_header_only(chgcar_pmg):
    s = read_structure(chgcar_pmg.path)
    ref = _pmg_chgcar(chgcar_pmg.path).structure
    _assert_structure(s, [x.specie.symbol for x in ref], ref.cart_coords, ref.lattice.matrix)
    t = read_trajectory(chgcar_pmg.path)
    assert len(t.frames) == 1


# ------------------------------------------------------------------- VASP header variants


def _header_variant(text: str, *, species=None, selective=False, cartesian=False,
                    negative_scale=False) -> str:
    """Rewrite pymatgen's CHGCAR header (pymatgen always writes scale 1, Direct)."""
    lines = text.split("\n")
    lat = np.array([[float(x) for x in lines[k].split()] for k in (2, 3, 4)])
    counts = [int(x) for x in lines[6].split()]
    n = sum(counts)
    frac = np.array([[float(x) for x in lines[8 + i].split()] for i in range(n)])
    head = [lines[0]]
    if negative_scale:  # the cell volume, lattice given at half size
        head.append(f"  {-abs(np.linalg.det(lat)):.12f}")
        head += [" ".join(f"{x / 2:.10f}" for x in row) for row in lat]
    else:
        head.append("   1.0")
        head += lines[2:5]
    head.append(species if species is not None else lines[5])
    head.append(lines[6])
    if selective:
        head.append("Selective dynamics")
    if cartesian:
        head.append("Cartesian")
        # Cartesian positions are scaled like the lattice (VASP): write them unscaled
        file_lat = lat / 2 if negative_scale else lat
        head += [" ".join(f"{x:.10f}" for x in row) + (" T T F" if selective else "")
                 for row in frac @ file_lat]
    else:
        head.append("Direct")
        head += [lines[8 + i] + (" F F T" if selective else "") for i in range(n)]
    return "\n".join(head + lines[8 + n:])


@pytest.mark.parametrize("variant", [
    dict(species="Fe_pv/3a1b2c   O_s"),
    dict(species="Fe/  O_GW_new/abcd"),
    dict(species="Fe_sv_GW/abcd O"),
    dict(selective=True),
    dict(cartesian=True, selective=True),
    dict(negative_scale=True, cartesian=True),
])
def test_vasp_header_variants(tmp_path, chgcar_pmg, variant):
    ref = read_density(chgcar_pmg.path)
    p = _edit(chgcar_pmg.path, tmp_path / "CHGCAR", lambda t: _header_variant(t, **variant))
    f = read_density(p)
    assert f.structure.symbols == ["Fe", "Fe", "O"]
    np.testing.assert_allclose(f.structure.cell, ref.structure.cell, atol=1e-8)
    np.testing.assert_allclose(f.structure.positions, ref.structure.positions, atol=1e-7)
    np.testing.assert_allclose(f.main_grid().values, ref.main_grid().values, rtol=1e-9)
    assert f.meta["selective_dynamics"] == variant.get("selective", False)


def test_vasp4_header_species(tmp_path, chgcar_pmg):
    from pymatgen.io.vasp.outputs import Chgcar

    c = Chgcar(chgcar_pmg.obj, {"total": chgcar_pmg.data["total"]})
    p = tmp_path / "CHGCAR"
    c.write_file(p, vasp4_compatible=True)  # no species line; comment "None"
    with pytest.raises(BadInputError, match=r"CHGCAR: VASP 4 header without a species line.*"
                                            r"species="):
        read_density(p)
    f = read_density(p, species=["Fe", "O"])
    assert f.structure.symbols == ["Fe", "Fe", "O"] and f.meta["header"] == "vasp4"
    # species from the comment line
    (tmp_path / "sub").mkdir()
    q = _edit(p, tmp_path / "sub" / "CHGCAR", lambda t: "Fe2O1 relaxed\n" + t.split("\n", 1)[1])
    assert read_density(q).structure.symbols == ["Fe", "Fe", "O"]
    # species from a POTCAR next to the file
    (tmp_path / "POTCAR").write_text("  PAW_PBE Fe_pv 02Aug2007\n   TITEL  = PAW_PBE Fe_pv "
                                     "02Aug2007\n...\n   TITEL  = PAW_PBE O 08Apr2002\n")
    g = read_density(p)
    assert g.structure.symbols == ["Fe", "Fe", "O"] and g.meta["species_source"] == "POTCAR"


# ---------------------------------------------------------------------------- bad input


def test_truncated_chgcar(tmp_path, chgcar_pmg):
    data = chgcar_pmg.path.read_bytes()
    p = tmp_path / "CHGCAR"
    p.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(BadInputError,
                       match=r"CHGCAR: grid 1 expected 1680 values, found \d+ \(truncated\?\)"):
        read_density(p)


def test_wrong_grid_counts(tmp_path, chgcar_pmg):
    # dimensions larger than the data: the data runs out
    p = _edit(chgcar_pmg.path, tmp_path / "CHGCAR",
              lambda t: t.replace("   12   14   10", "   12   14   11", 1))
    with pytest.raises(BadInputError, match=r"grid 1 expected 1848 values, found 1680"):
        read_density(p)
    # dimensions smaller than the data: values left over
    q = _edit(chgcar_pmg.path, tmp_path / "CHGCAR2",
              lambda t: t.replace("   12   14   10", "   12   14    9", 1))
    with pytest.raises(BadInputError, match=r"CHGCAR2: 168 values after grid 1 beyond its "
                                            r"1512 = 12x14x9 \(wrong grid dimensions\?\)"):
        read_density(q, format="chgcar")


def test_garbage_and_nan_tokens(tmp_path, chgcar_pmg):
    text = chgcar_pmg.path.read_text()
    head, data = text.split("   12   14   10\n", 1)
    toks = data.split()

    def with_token(i, tok):
        t = list(toks)
        t[i] = tok
        return head + "   12   14   10\n" + "\n".join(
            " ".join(t[k:k + 5]) for k in range(0, len(t), 5)) + "\n"

    p = tmp_path / "CHGCAR"
    p.write_text(with_token(100, "0.12x45E+01"))
    with pytest.raises(BadInputError, match=r"CHGCAR: grid 1 value 101 of 1680 \(line \d+\) is "
                                            r"not a number: '0.12x45E\+01'"):
        read_density(p)
    p.write_text(with_token(7, "NaN"))
    with pytest.raises(BadInputError, match=r"grid 1 value 8 of 1680 .* is 'NaN' \(NaN or "
                                            r"infinite\)"):
        read_density(p)
    p.write_text(with_token(1679, "-Infinity"))
    with pytest.raises(BadInputError, match="NaN or infinite"):
        read_density(p)


def test_poscar_is_not_a_density(structures_ase):
    with pytest.raises(BadInputError, match="POSCAR: a poscar file .* holds no volumetric"):
        read_density(structures_ase["poscar"].path)


def test_chgcar_cut_after_header(tmp_path, chgcar_pmg):
    text = chgcar_pmg.path.read_text()
    p = tmp_path / "CHGCAR"
    p.write_text(text.split("   12   14   10")[0])
    with pytest.raises(BadInputError, match="CHGCAR: expected the grid dimensions"):
        read_density(p)


def test_corrupt_header(tmp_path, chgcar_pmg):
    p = _edit(chgcar_pmg.path, tmp_path / "CHGCAR",
              lambda t: t.replace(t.split("\n")[3], "   1.0  abc  2.0", 1))
    with pytest.raises(BadInputError, match=r"CHGCAR: line 4: expected lattice vector b"):
        read_density(p)


# --------------------------------------------------------------------------------- cube


def test_pyscf_density_cube(pyscf_cubes):
    import ase.io.cube

    w = pyscf_cubes["density"]
    f = read(w.path)
    assert f.format == "cube" and f.kind == "density" and not f.meta["kind_guessed"]
    g = f.grids["density"]
    assert g.units == "e/Angstrom^3" and not g.periodic
    with open(w.path) as fh:
        ref = ase.io.cube.read_cube(fh)
    # ase keeps the file's numbers (e/Bohr^3) and converts lengths to Angstrom
    np.testing.assert_array_equal(g.values, ref["data"] / BOHR**3)
    # (ase's Bohr is CODATA 2014, ours 2018: lengths agree to 1e-9)
    np.testing.assert_allclose(g.affine[:3, :3], ref["spacing"].T, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(g.affine[:3, 3], ref["origin"], rtol=1e-8)
    np.testing.assert_allclose(f.structure.positions, ref["atoms"].positions, rtol=1e-8,
                               atol=1e-12)
    assert f.structure.symbols == ["O", "H", "H"] and not f.structure.has_cell
    # units: the integral is unit-independent, and close to the 10 electrons of water
    n_bohr = ref["data"].sum() * abs(np.linalg.det(g.affine[:3, :3] / BOHR))
    n_ang = g.values.sum() * g.voxel_volume
    assert n_ang == pytest.approx(n_bohr, rel=1e-12)
    assert n_ang == pytest.approx(w.data["nelectron"], rel=0.1)


def test_pyscf_orbital_and_mep_cubes(pyscf_cubes):
    o = read(pyscf_cubes["orbital"].path)
    assert o.kind == "orbital" and o.main_grid().signed
    g = o.main_grid()
    assert g.units == "Angstrom^-3/2"
    assert (g.values**2).sum() * g.voxel_volume == pytest.approx(1.0, abs=0.02)
    assert g.values.min() < 0 < g.values.max()
    p = read(pyscf_cubes["mep"].path)
    assert p.kind == "potential" and p.main_grid().units == "Hartree/e"
    # an explicit kind wins
    assert read(pyscf_cubes["mep"].path, kind="density").kind == "density"


def test_ase_cube_triclinic(cube_ase):
    f = read(cube_ase.path)
    g = f.main_grid()
    assert f.meta["kind_guessed"]
    cell = cube_ase.obj.cell.array
    np.testing.assert_allclose(g.affine[:3, :3], (cell / [[8], [9], [10]]).T, atol=1e-5)
    np.testing.assert_allclose(g.values * BOHR**3, cube_ase.data["data"], rtol=1e-5)
    np.testing.assert_allclose(f.structure.positions, cube_ase.obj.positions, atol=1e-5)


def _write_cube(path, *, natoms_sign=1, angstrom=False, nmo=0, data=None):
    """Gaussian-style cube (hand-built: pyscf and ase write neither negative atom counts
    with an orbital list nor Angstrom cubes)."""
    shape = data.shape[:3]
    vox = np.array([[0.3, 0.0, 0.0], [0.05, 0.32, 0.0], [0.0, 0.04, 0.35]])
    lines = [" Gaussian cube", " MO coefficients"]
    lines.append(f"{natoms_sign * 2:5d} {-1.0:11.6f} {-1.5:11.6f} {-2.0:11.6f}")
    for n, v in zip(shape, vox, strict=True):
        lines.append(f"{-n if angstrom else n:5d} {v[0]:11.6f} {v[1]:11.6f} {v[2]:11.6f}")
    lines.append(f"{8:5d} {8.0:11.6f} {0.0:11.6f} {0.0:11.6f} {0.1:11.6f}")
    lines.append(f"{1:5d} {1.0:11.6f} {0.9:11.6f} {0.2:11.6f} {0.3:11.6f}")
    if nmo:
        lines.append(f"{nmo:5d}" + "".join(f"{5 + m:5d}" for m in range(nmo)))
    vals = data.reshape(-1)
    body = []
    per_point = data.shape[3] if data.ndim == 4 else 1
    row = shape[2] * per_point
    for r in range(0, vals.size, row):  # Gaussian: 6 per line, each (i, j) row on new lines
        chunk = vals[r:r + row]
        body += [" ".join(f"{x:13.5E}" for x in chunk[k:k + 6]) for k in range(0, row, 6)]
    path.write_text("\n".join(lines + body) + "\n")
    return vox


def test_cube_negative_atom_count_orbitals(tmp_path):
    rng = np.random.default_rng(3)
    data = rng.normal(size=(4, 5, 6, 3)).round(5)
    p = tmp_path / "mos.cube"
    vox = _write_cube(p, natoms_sign=-1, nmo=3, data=data)
    f = read(p)
    assert f.kind == "orbital" and list(f.grids) == ["orbital_5", "orbital_6", "orbital_7"]
    assert f.meta["mo_indices"] == [5, 6, 7]
    for m, name in enumerate(f.grids):
        g = f.grids[name]
        assert g.signed and g.values.shape == (4, 5, 6)
        np.testing.assert_allclose(g.values * BOHR**1.5, data[..., m], rtol=1e-12)
    g = f.grids["orbital_5"]
    np.testing.assert_allclose(g.affine[:3, :3], vox.T * BOHR, rtol=1e-12)
    np.testing.assert_allclose(g.affine[:3, 3], np.array([-1.0, -1.5, -2.0]) * BOHR)


def test_cube_angstrom_units(tmp_path):
    data = np.random.default_rng(4).random((3, 4, 5)).round(5)
    p = tmp_path / "ang.cube"
    vox = _write_cube(p, angstrom=True, data=data)
    f = read(p, kind="density")
    assert f.meta["length_units_in_file"] == "Angstrom"
    np.testing.assert_allclose(f.main_grid().values, data, rtol=1e-12)
    np.testing.assert_allclose(f.main_grid().affine[:3, :3], vox.T)
    np.testing.assert_allclose(f.structure.positions[1], [0.9, 0.2, 0.3])


def test_cube_bad_counts(tmp_path, pyscf_cubes):
    text = pyscf_cubes["density"].path.read_text()
    n = read(pyscf_cubes["density"].path).main_grid().values.shape
    p = tmp_path / "short.cube"
    p.write_text(text[: len(text) // 2])
    with pytest.raises(BadInputError, match=rf"short.cube: volumetric data expected "
                                            rf"{n[0] * n[1] * n[2]} values, found \d+ "
                                            r"\(truncated\?\)"):
        read(p)
    q = tmp_path / "long.cube"
    q.write_text(text + " 1.0E-01 2.0E-01\n")
    with pytest.raises(BadInputError, match=f"long.cube: more values than the "
                                            f"{n[0]}x{n[1]}x{n[2]} grid"):
        read(q)


# ---------------------------------------------------------------------------------- XSF


def test_ase_xsf_datagrid(xsf_ase):
    import ase.io.xsf

    f = read(xsf_ase.path)
    assert isinstance(f, DensityFile) and f.format == "xsf"
    g = f.main_grid()
    with open(xsf_ase.path) as fh:
        data, origin, span, atoms = ase.io.xsf.read_xsf(fh, read_data=True)
    assert np.array_equal(g.values, data)
    assert g.periodic and g.values.shape == (6, 7, 8)
    np.testing.assert_allclose(g.affine[:3, :3], (atoms.cell.array / [[6], [7], [8]]).T)
    _assert_structure(f.structure, atoms.get_chemical_symbols(), atoms.positions,
                      atoms.cell.array, atol=1e-12)
    assert g.units == "" and not f.meta["units_known"]


def test_ase_axsf_animation(xsf_ase):
    t = read(xsf_ase.data["anim"])
    assert isinstance(t, Trajectory) and len(t.frames) == 3
    for ours, ref in zip(t.frames, xsf_ase.data["frames"], strict=True):
        _assert_structure(ours, ref.get_chemical_symbols(), ref.positions, ref.cell.array,
                          atol=1e-12)
    assert read_structure(xsf_ase.data["anim"], index=0).positions[0] == pytest.approx(
        xsf_ase.data["frames"][0].positions[0])


def test_xsf_general_grids_several(tmp_path):
    """Hand-built (XCrySDen spec; QE pp.x / VESTA layout): two grids with the repeated end
    point over the cell, and a third as a sub-box."""
    cell = np.array([[4.0, 0, 0], [0.5, 4.2, 0], [0.3, 0.2, 5.0]])
    rng = np.random.default_rng(5)
    per = rng.random((4, 5, 6))
    full = np.pad(per, [(0, 1)] * 3, mode="wrap")  # end point repeats the first
    box = rng.random((3, 3, 3))

    def grid(name, arr, origin, span):
        vals = arr.transpose(2, 1, 0).reshape(-1)  # x fastest
        out = [f"BEGIN_DATAGRID_3D_{name}", " ".join(map(str, arr.shape)),
               " ".join(map(str, origin))] + [" ".join(f"{x:.8f}" for x in v) for v in span]
        out += [" ".join(f"{x:.10f}" for x in vals[k:k + 6]) for k in range(0, vals.size, 6)]
        return out + ["END_DATAGRID_3D"]

    lines = ["# comment", "CRYSTAL", "PRIMVEC"] + [" ".join(map(str, v)) for v in cell]
    lines += ["PRIMCOORD", "2 1", "14 0.0 0.0 0.0", "Si 1.0 1.0 1.0", "",
              "BEGIN_BLOCK_DATAGRID_3D", "my_block"]
    lines += grid("rho", full, [0, 0, 0], cell) + grid("rho", full * 2, [0, 0, 0], cell)
    lines += grid("local", box, [1, 1, 1], np.eye(3))
    lines += ["END_BLOCK_DATAGRID_3D"]
    p = tmp_path / "general.xsf"
    p.write_text("\n".join(lines) + "\n")
    f = read(p)
    assert list(f.grids) == ["rho", "rho_2", "local"]
    assert f.grids["rho"].periodic and f.grids["rho"].values.shape == (4, 5, 6)
    np.testing.assert_allclose(f.grids["rho"].values, per, atol=1e-10)
    np.testing.assert_allclose(f.grids["rho_2"].values, per * 2, atol=1e-10)
    np.testing.assert_allclose(f.grids["rho"].affine[:3, :3], (cell / [[4], [5], [6]]).T)
    loc = f.grids["local"]
    assert not loc.periodic and loc.values.shape == (3, 3, 3)
    np.testing.assert_allclose(loc.affine[:3, :3], np.eye(3) / 2)
    np.testing.assert_allclose(loc.affine[:3, 3], [1, 1, 1])
    assert f.structure.symbols == ["Si", "Si"]
    # a grid with too few values
    bad = tmp_path / "bad.xsf"
    bad.write_text(p.read_text().replace("5 6 7", "5 6 8", 1))
    with pytest.raises(BadInputError, match=r"bad.xsf: grid 'rho' expected 240 values, found "
                                            r"210 before 'END_DATAGRID_3D'"):
        read(bad)


# ---------------------------------------------------------------- structures, trajectories


def test_poscar_contcar_vasp4(structures_ase):
    import ase.io

    for key in ("poscar", "contcar", "vasp4"):
        w = structures_ase[key]
        s = read(w.path)
        assert isinstance(s, Structure), key
        ref = ase.io.read(w.path, format="vasp")
        _assert_structure(s, ref.get_chemical_symbols(), ref.positions, ref.cell.array,
                          atol=1e-12)
    assert guess_format(structures_ase["contcar"].path).name == "poscar"


def test_xdatcar_extxyz_traj(structures_ase):
    import ase.io

    for key, fmt in (("xdatcar", "vasp-xdatcar"), ("extxyz", "extxyz"), ("traj", "traj")):
        w = structures_ase[key]
        t = read_trajectory(w.path)
        refs = ase.io.read(w.path, index=":", format=fmt)
        assert len(t.frames) == len(refs) == 4, key
        for ours, ref in zip(t.frames, refs, strict=True):
            _assert_structure(ours, ref.get_chemical_symbols(), ref.positions, ref.cell.array,
                              atol=1e-10)
        last = read_structure(w.path)
        np.testing.assert_allclose(last.positions, refs[-1].positions, atol=1e-10)


def test_xdatcar_variable_cell(tmp_path, structures_ase):
    """Hand-built variable-cell XDATCAR (VASP writes a header before every block when the
    cell changes; ase writes constant-cell XDATCARs only)."""
    import io

    import ase.io

    frames = structures_ase["xdatcar"].obj
    out = []
    for i, a in enumerate(frames):
        b = a.copy()
        b.set_cell(a.cell.array * (1 + 0.01 * i), scale_atoms=True)
        buf = io.StringIO()
        ase.io.write(buf, b, format="vasp", direct=True)
        text = buf.getvalue().replace("Direct", f"Direct configuration= {i + 1:5d}")
        out.append((text, b))
    p = tmp_path / "XDATCAR"
    p.write_text("".join(t for t, _ in out))
    t = read_trajectory(p)
    assert len(t.frames) == 4
    for ours, (_, ref) in zip(t.frames, out, strict=True):
        _assert_structure(ours, ref.get_chemical_symbols(), ref.positions, ref.cell.array,
                          atol=1e-10)


def _write_vaspout(d: Path) -> dict:
    """Hand-built vaspout.h5 + vaspwave.h5 with py4vasp's layout (no VASP run here): two ionic
    steps, a collinear density and potential; returns the arrays written."""
    import h5py

    cell = np.array([[3.0, 0, 0], [0.3, 3.2, 0], [0, 0.1, 3.5]])
    frac = np.array([[[0, 0, 0], [0.5, 0.5, 0.5]], [[0.01, 0, 0], [0.5, 0.52, 0.5]]])
    pot = np.random.default_rng(0).random((2, 5, 4, 3))
    rho = np.random.default_rng(1).random((2, 5, 4, 3))  # (components, z, y, x)
    with h5py.File(d / "vaspout.h5", "w") as f:
        f["version/major"], f["version/minor"], f["version/patch"] = 6, 5, 0
        f["results/positions/ion_types"] = np.array([b"Ga", b"As_d"])
        f["results/positions/number_ion_types"] = np.array([1, 1])
        f["intermediate/ion_dynamics/position_ions"] = frac
        f["intermediate/ion_dynamics/lattice_vectors"] = np.stack([cell, cell])
        f["intermediate/ion_dynamics/scale"] = 2.0
        f["results/potential/total"] = pot
    with h5py.File(d / "vaspwave.h5", "w") as f:
        f["charge/charge"] = rho
    return {"cell": cell, "frac": frac, "pot": pot, "rho": rho}


def test_vaspout_minimal_h5(tmp_path):
    w = _write_vaspout(tmp_path)
    cell, frac, pot, rho = w["cell"], w["frac"], w["pot"], w["rho"]
    p = tmp_path / "vaspout.h5"
    assert guess_format(p).name == "vaspout"
    d = read_density(p)
    vol = abs(np.linalg.det(cell * 2))
    assert list(d.grids) == ["density", "magnetization"]
    g = d.grids["density"]
    assert g.values.shape == (3, 4, 5)  # values[x, y, z]
    np.testing.assert_allclose(g.values[2, 1, 4], rho[0, 4, 1, 2] / vol)
    assert d.structure.symbols == ["Ga", "As"]
    np.testing.assert_allclose(d.structure.cell, cell * 2)
    np.testing.assert_allclose(d.structure.positions[1], frac[1, 1] @ (cell * 2))
    v = read_density(p, quantity="potential")
    assert v.kind == "potential" and set(v.grids) == {"potential", "potential_up",
                                                      "potential_down"}
    np.testing.assert_allclose(v.grids["potential_up"].values[0, 0, 0],
                               pot[0, 0, 0, 0] + pot[1, 0, 0, 0])
    t = read_trajectory(p)
    assert len(t.frames) == 2


@pytest.mark.parametrize("fixture", ["test_readers", "test_formats"])
def test_vaspout_fixture_reads_alike_in_py4vasp(tmp_path, fixture):
    """The hand-built vaspout.h5 files (here and tests/core/test_formats.py) read by py4vasp,
    VASP's own reader, and by ours: density grid (axis order), lattice (scale), positions of
    every ionic step, species, potential. A wrong layout assumption in the fixtures or in the
    reader fails here."""
    py4vasp = pytest.importorskip("py4vasp", reason="py4vasp-core (the test extra) not installed")
    if fixture == "test_readers":
        _write_vaspout(tmp_path)
        p = tmp_path / "vaspout.h5"
    else:
        from tests.core.test_formats import _vaspout

        p = _vaspout(tmp_path)
    calc = py4vasp.Calculation.from_path(tmp_path)
    dens = calc.density.read()  # charge[x, y, z] (py4vasp transposes VASP's z, y, x), rho*V
    st = dens["structure"]
    lattice = st["lattice_vectors"]  # Angstrom, scale applied
    raw = read_density(p, raw=True)
    d = read_density(p)
    names = ["density"] + (["magnetization"] if "magnetization" in dens else [])
    assert list(d.grids) == names
    for ours, theirs in zip(names, ["charge", "magnetization"], strict=False):
        assert raw.grids[ours].values.shape == dens[theirs].shape
        np.testing.assert_array_equal(raw.grids[ours].values, dens[theirs])
        np.testing.assert_allclose(d.grids[ours].values,
                                   dens[theirs] / abs(np.linalg.det(lattice)), rtol=1e-14,
                                   atol=0)
        # values[i, j, k] at fractional (i/nx, j/ny, k/nz) of the cell
        step = lattice / np.array(dens[theirs].shape)[:, None]
        np.testing.assert_allclose(d.grids[ours].affine[:3, :3], step.T, rtol=0, atol=1e-14)
        np.testing.assert_array_equal(d.grids[ours].affine[:3, 3], 0.0)
    np.testing.assert_array_equal(d.structure.cell, lattice)
    np.testing.assert_allclose(d.structure.positions, st["positions"] @ lattice, rtol=0,
                               atol=1e-14)
    # py4vasp keeps POTCAR suffixes ("As_d"); VASP's element is the part before "_"
    assert d.structure.symbols == [e.split("_")[0] for e in st["elements"]]
    steps = calc.structure[:].read()
    t = read_trajectory(p)
    assert len(t.frames) == len(steps["positions"])
    for k, frame in enumerate(t.frames):
        np.testing.assert_array_equal(frame.cell, steps["lattice_vectors"][k])
        np.testing.assert_allclose(frame.positions,
                                   steps["positions"][k] @ steps["lattice_vectors"][k], rtol=0,
                                   atol=1e-14)
    pot = calc.potential.read()  # total[x, y, z]; collinear: total_up, total_down
    v = read_density(p, quantity="potential")
    theirs = {k: a for k, a in pot.items() if k.startswith("total")}
    assert {k.replace("total", "potential") for k in theirs} == set(v.grids)
    for k, a in theirs.items():
        np.testing.assert_array_equal(v.grids[k.replace("total", "potential")].values, a)


def test_every_reader_takes_threads_and_read_structure(chgcar_pmg, pyscf_cubes, xsf_ase,
                                                      structures_ase):
    """Pipelines pass the same keywords to every file: threads=, and read_structure/
    read_trajectory work on every format."""
    paths = [chgcar_pmg.path, pyscf_cubes["density"].path, xsf_ase.path,
             xsf_ase.data["anim"]] + [w.path for w in structures_ase.values()]
    for p in paths:
        obj = read(p, threads=1)
        assert isinstance(obj, DensityFile | Structure | Trajectory), p
        s = read_structure(p)
        assert isinstance(s, Structure) and len(s) > 0, p
        assert len(read_trajectory(p).frames) >= 1


# -------------------------------------------------------------- the float parser itself

_FORMATS = [
    lambda x: repr(x),
    lambda x: f"{x:.17g}",
    lambda x: f"{x:.10E}",
    lambda x: f"{x:.5E}",
    lambda x: f"{x:#11.5G}",
    lambda x: f"{x:.6f}",
]


def _fortran(x: float, digits: int = 11) -> str:
    """VASP's E17.11 (0.xxxE+yy, -.xxxE+yy; the E dropped for 3-digit exponents)."""
    if x == 0:
        return "0." + "0" * digits + "E+00"
    s = f"{abs(x):.{digits - 1}E}"
    mant, exp = s.split("E")
    e = int(exp) + 1
    body = mant.replace(".", "")
    sign = "-" if x < 0 else ""
    lead = "." if x < 0 else "0."
    return f"{sign}{lead}{body}" + (f"E{e:+03d}" if abs(e) < 100 else f"{e:+04d}")


def _pyfloat(tok: str) -> float:
    """float() of a Fortran token (D exponent, or 0.123-100 without the letter)."""
    t = tok.replace("D", "E")
    if "E" not in t and t[-4:-3] in ("+", "-") and t[-5:-4].isdigit():
        t = t[:-4] + "E" + t[-4:]
    return float(t)


_finite = st.floats(min_value=-1e300, max_value=1e300, width=64)  # tokens stay finite


@settings(max_examples=300, deadline=None)
@given(st.lists(_finite, min_size=1, max_size=60), st.integers(0, len(_FORMATS) + 1))
def test_parser_equals_python_float(values, which):
    if which < len(_FORMATS):
        toks = [_FORMATS[which](v) for v in values]
    elif which == len(_FORMATS):
        toks = [_fortran(v) for v in values]
    else:
        toks = [f"{v:.14E}".replace("E", "D") for v in values]
    text = ("  \n".join(" ".join(toks[k:k + 5]) for k in range(0, len(toks), 5))).encode()
    expect = np.array([_pyfloat(t) for t in toks])
    got, end = _common.parse_floats(text, 0, len(toks), path="x", what="test")
    assert np.array_equal(got.view(np.uint64), expect.view(np.uint64))
    assert end == len(text.rstrip())


def test_parser_threads_and_layout_changes():
    """Long runs of fixed-layout lines are split between threads; any irregularity (a longer
    line, mixed token widths) must still give the sequential result."""
    rng = np.random.default_rng(9)
    vals = rng.normal(size=40_000) * 10.0 ** rng.integers(-120, 120, size=40_000)
    fort = [_fortran(v) for v in vals]  # all 17 characters wide: uniform lines
    mixed = [repr(v) for v in vals]
    expect = np.tile(np.array([_pyfloat(t) for t in fort]), 30)
    n = expect.size  # 1.2 million: above the threading threshold (2**20)

    def text_of(toks, edit=None):
        lines = [" " + " ".join(toks[k:k + 5]) for k in range(0, len(toks), 5)]
        if edit:
            edit(lines)
        return ("\n".join(lines) + "\n").encode()

    uniform = text_of(fort * 30)
    longer = text_of(fort * 30, lambda ls: ls.__setitem__(170_000, ls[170_000] + "   "))
    shorter = text_of(fort * 30, lambda ls: ls.__setitem__(5, ls[5][1:]))
    for text in (uniform, longer, shorter):
        for threads in (1, 2, 3, 4):
            got, end = _common.parse_floats(text, 0, n, path="x", what="t", threads=threads)
            assert np.array_equal(got.view(np.uint64), expect.view(np.uint64)), threads
            assert end == len(text) - 1
    mixed_text = text_of(mixed * 30)
    got, _ = _common.parse_floats(mixed_text, 0, n, path="x", what="t", threads=4)
    assert np.array_equal(got, np.tile(vals, 30))
    # errors found by a thread are reported as the sequential parser reports them
    bad = bytearray(uniform)
    pos = bad.index(b" ", len(bad) * 3 // 4) + 1
    bad[pos:pos + 17] = b"NaN".rjust(17)  # a whole token
    with pytest.raises(BadInputError, match=r"value 900001 of 1200000 .* is 'NaN' \(NaN or "
                                            r"infinite\)"):
        _common.parse_floats(bytes(bad), 0, n, path="x", what="t", threads=4)


@pytest.mark.parametrize("shape", [(61, 77, 256), (64, 64, 300), (7, 5, 3)])
def test_parse_grid_into_c_order(shape):
    """Fortran-ordered text straight into C order (threads on plane ranges that start on a
    line start: 61*77 planes are not a multiple of 5 tokens per line)."""
    rng = np.random.default_rng(11)
    n = shape[0] * shape[1] * shape[2]
    base = [_fortran(v) for v in rng.normal(size=20_011)]
    toks = (base * (n // len(base) + 1))[:n]
    text = ("   61   77  256\n" + "\n".join(" " + " ".join(toks[k:k + 5])
                                           for k in range(0, n, 5)) + "\n").encode()
    flat, end0 = _common.parse_floats(text, 16, n, path="x", what="g", threads=1)
    for div in (1.0, 3.7):
        expect = flat.reshape(shape, order="F") / div
        for threads in (1, 2, 4):
            got, end = _common.parse_grid(text, 16, shape, path="x", what="g", divisor=div,
                                          threads=threads)
            assert got.flags.c_contiguous and got.shape == shape
            assert np.array_equal(got, expect) and end == end0, (div, threads)
    bad = bytearray(text)
    cut = len(bad) * 2 // 3
    with pytest.raises(BadInputError, match=rf"g expected {n} values, found \d+ \(trunc"):
        _common.parse_grid(bytes(bad[:cut]), 16, shape, path="x", what="g", threads=4)
    pos = bad.index(b" 0.", len(bad) // 2) + 1
    k = len(bytes(bad[16:pos]).split())
    bad[pos:pos + 3] = b"0.x"
    with pytest.raises(BadInputError, match=rf"value {k + 1} of {n} .* not a number"):
        _common.parse_grid(bytes(bad), 16, shape, path="x", what="g", threads=4)


def test_parser_numpy_fallback(monkeypatch, chgcar_spin):
    ref = read_density(chgcar_spin.path)
    monkeypatch.setattr(_common, "_ff", None)
    assert not _common.compiled()
    f = read_density(chgcar_spin.path)
    for name in ref.grids:
        assert np.array_equal(f.grids[name].values, ref.grids[name].values)
    with pytest.raises(BadInputError, match="value 3 of 4 .* is not a number: 'x1'"):
        _common.parse_floats(b"1.0 2.0 x1 3", 0, 4, path="f", what="grid 1")
    with pytest.raises(BadInputError, match=r"expected 5 values, found 4 \(truncated"):
        _common.parse_floats(b"1.0 2.0 1D3 0.5-100", 0, 5, path="f", what="grid 1")
    got, _ = _common.parse_floats(b"1.0 2.0 1D3 0.5-100", 0, 4, path="f", what="grid 1")
    assert list(got) == [1.0, 2.0, 1000.0, 0.5e-100]


def test_parser_is_compiled():
    # the build (pip install -e . / setup.py build_ext) must have made the extension
    assert _common.compiled()


def test_while_parsing_runs_work_beside_the_compiled_parse(monkeypatch, chgcar_spin):
    """``while_parsing(work)``: work runs in the caller's thread while the first large grid is
    parsed in a helper thread (the frame task imports USD there), the values unchanged; after
    the read when no grid is large enough; not at all when the read fails; a parse error
    still raises in the caller."""
    import threading

    ref = read_density(chgcar_spin.path)
    ff = _common._ff
    me = threading.current_thread().name

    class Gate:  # the compiled module; its grid parse waits until work() has begun
        def __init__(self):
            self.begun = threading.Event()
            self.parsed_in: list[str] = []

        def __getattr__(self, name):
            return getattr(ff, name)

        def parse_grid(self, *args):
            self.parsed_in.append(threading.current_thread().name)
            assert self.begun.wait(10), "the parse ran before work(), not beside it"
            return ff.parse_grid(*args)

    gate = Gate()
    seen: list[str] = []

    def work():
        seen.append(threading.current_thread().name)
        gate.begun.set()

    monkeypatch.setattr(_common, "_ff", gate)
    monkeypatch.setattr(_common, "BESIDE_MIN_VALUES", 1)  # every grid counts as large
    with _common.while_parsing(work):
        f = read_density(chgcar_spin.path)
        assert seen == [me]  # once, beside the first grid's parse
    assert seen == [me] and gate.parsed_in[0] == "parse" and set(gate.parsed_in[1:]) == {me}
    for name in ref.grids:
        assert np.array_equal(f.grids[name].values, ref.grids[name].values)

    monkeypatch.setattr(_common, "_ff", ff)
    monkeypatch.setattr(_common, "BESIDE_MIN_VALUES", 1 << 40)
    seen.clear()
    with _common.while_parsing(work):
        read_density(chgcar_spin.path)
        assert seen == []
    assert seen == [me]  # when the block ended

    seen.clear()
    with pytest.raises(BadInputError), _common.while_parsing(work):
        read_density(chgcar_spin.path.parent / "no such file")
    assert seen == []
    monkeypatch.setattr(_common, "BESIDE_MIN_VALUES", 1)
    with pytest.raises(BadInputError, match="not a number"), _common.while_parsing(work):
        _common.parse_grid(b"1.0 2.0 x1 3", 0, (2, 2, 1), path="f", what="grid 1")
    assert seen == [me]
