"""Benign variation accepted (issue #17): files other writers produce that differ from VASP's
own output in harmless ways convert, with a warning that says what was done.

* a CHGCAR whose writer filled the last line of each grid with zeros (pymatgen reads it);
* a vaspout.h5 with a potential but no charge density: the potential drawn as a signed field;
* a vaspout.h5 with neither: atoms and bonds, and one "no grid" warning.

The CHGCARs are written by pymatgen (Chgcar.write_file) or ASE (CHG) and then padded here; the
vaspout.h5 files are hand-built with h5py in VASP's layout (no VASP run here) and checked
against py4vasp, VASP's own reader.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from core.errors import BadInputError
from core.manifest import read_manifest
from core.rundir import RunDir
from materials_pipeline.readers import read, read_density
from materials_pipeline.readers._common import ReaderWarning

ZERO = "0.00000000000E+00"


# ------------------------------------------------------------------------------- CHGCAR


def _write_chgcar(path: Path, shape, spin: bool) -> Path:
    """A (spin-polarized) CHGCAR written by pymatgen: 5 values per line, the last line of
    each grid short when the grid's size is not a multiple of 5."""
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.vasp import Chgcar, Poscar

    lat = Lattice.from_parameters(4.1, 4.4, 4.9, 82.0, 97.0, 104.0)
    s = Structure(lat, ["Fe", "Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5], [0.25, 0.1, 0.7]])
    rng = np.random.default_rng(3)
    data = {"total": (rng.random(shape) + 0.1) * s.volume}
    if spin:
        data["diff"] = (rng.random(shape) - 0.5) * s.volume
    Chgcar(Poscar(s), data).write_file(str(path))
    return path


def _write_chg(path: Path, shape) -> Path:
    """A CHG written by ASE: 10 values per line."""
    from ase.build import bulk
    from ase.calculators.vasp import VaspChargeDensity

    vcd = VaspChargeDensity(None)
    vcd.atoms = [bulk("Si", "diamond", a=5.43)]
    vcd.chg = [np.random.default_rng(4).random(shape) + 0.1]
    vcd.write(str(path), format="chg")
    return path


def _grid_lines(lines: list[str]) -> list[int]:
    """Index of the last data line of every grid (after each 'nx ny nz' line)."""
    out, need = [], 0
    for i, line in enumerate(lines):
        t = line.split()
        if need == 0 and len(t) == 3 and all(x.isdigit() for x in t):
            need = int(t[0]) * int(t[1]) * int(t[2])
        elif need > 0:
            need -= len(t)
            if need == 0:
                out.append(i)
    return out


def _pad(src: Path, dst: Path, values: list[str], *, own_line: bool = False) -> Path:
    """``src`` with ``values`` appended to the last line of every grid (or on a line of
    their own after it)."""
    lines = src.read_text().split("\n")
    for i in reversed(_grid_lines(lines)):
        if own_line:
            lines.insert(i + 1, " " + " ".join(values))
        else:
            lines[i] = lines[i].rstrip() + " " + " ".join(values)
    dst.write_text("\n".join(lines))
    return dst


def _per_line_and_last(path: Path) -> tuple[int, int]:
    lines = path.read_text().split("\n")
    last = _grid_lines(lines)[0]
    first = next(i for i, ln in enumerate(lines) if len(ln.split()) == 3
                 and all(x.isdigit() for x in ln.split())) + 1
    return len(lines[first].split()), len(lines[last].split())


@pytest.mark.parametrize("shape,spin", [((7, 4, 3), False),  # 84: 4 on the last line
                                        ((6, 4, 3), True),   # 72: 2 on the last line
                                        ((6, 4, 2), True),   # 48: 3, as 373248 = 72^3
                                        ((9, 8, 8), True)])  # 576: 1
def test_chgcar_zero_padding_accepted_like_pymatgen(tmp_path, shape, spin):
    """Zeros filling the last line of each grid (what the writer of issue #17's file did:
    "2 values after grid 1 beyond its 373248") are dropped, with a warning naming the file,
    the grid and how many; the values equal pymatgen's reading of the padded file."""
    from pymatgen.io.vasp import Chgcar

    src = _write_chgcar(tmp_path / "CHGCAR.orig", shape, spin)
    per_line, on_last = _per_line_and_last(src)
    assert per_line == 5 and 0 < on_last < 5
    npad = per_line - on_last
    p = _pad(src, tmp_path / "CHGCAR", [ZERO] * npad)
    with pytest.warns(ReaderWarning) as said:
        d = read_density(p)
    assert [str(w.message) for w in said] == d.meta["warnings"]
    ref = Chgcar.from_file(str(p))
    vol = ref.structure.volume
    np.testing.assert_allclose(d.grids["density"].values, ref.data["total"] / vol,
                               rtol=1e-14, atol=0)
    if spin:
        np.testing.assert_allclose(d.grids["magnetization"].values, ref.data["diff"] / vol,
                                   rtol=1e-14, atol=0)
    # and equal to the unpadded file's reading
    np.testing.assert_array_equal(d.grids["density"].values,
                                  read_density(src).grids["density"].values)
    notes = d.meta["warnings"]
    assert len(notes) == (2 if spin else 1)
    count = shape[0] * shape[1] * shape[2]
    for g, note in enumerate(notes, 1):
        assert note.startswith("CHGCAR: line ")
        assert (f"dropped {npad} zero value(s) padding the last line of grid {g} "
                f"({'x'.join(map(str, shape))} = {count} values)") in note


def test_chg_ten_per_line_padding_accepted(tmp_path):
    """A CHG holds 10 values per line: up to 9 zeros fill its last line."""
    from pymatgen.io.vasp import Chgcar

    src = _write_chg(tmp_path / "CHG.orig", (5, 5, 5))  # 125: 5 on the last line
    per_line, on_last = _per_line_and_last(src)
    assert (per_line, on_last) == (10, 5)
    p = _pad(src, tmp_path / "CHG", ["0.0"] * 5)
    with pytest.warns(ReaderWarning, match="dropped 5 zero value"):
        d = read(p)
    ref = Chgcar.from_file(str(p))
    np.testing.assert_allclose(d.grids["density"].values,
                               ref.data["total"] / ref.structure.volume, rtol=1e-12, atol=0)


@pytest.mark.parametrize("case", ["nonzero", "more_than_the_line", "own_line", "nonzero_D"])
def test_chgcar_extra_values_still_refused(tmp_path, case):
    """Anything but zeros filling the last line stays an error: a non-zero value, more zeros
    than the line has room for, zeros on a line of their own."""
    src = _write_chgcar(tmp_path / "CHGCAR.orig", (7, 4, 3), False)  # 4 on the last line
    values, own = {"nonzero": (["1.0E-06"], False),
                   "more_than_the_line": ([ZERO] * 2, False),
                   "own_line": ([ZERO], True),
                   "nonzero_D": (["0.1D-05"], False)}[case]
    p = _pad(src, tmp_path / "CHGCAR", values, own_line=own)
    with pytest.raises(BadInputError, match=r"values after grid 1 beyond its 84 = 7x4x3"):
        read_density(p)


def _convert(src: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "materials_pipeline", str(src), "--out",
                           str(out), "--no-render", "--engine", "serial"],
                          capture_output=True, text=True, timeout=300)


def test_padded_chgcar_converts_with_warning(tmp_path):
    """End to end: exit 0, a density, the padding warnings in the frame's metadata, the run
    log and the manifest's provenance."""
    src = _write_chgcar(tmp_path / "CHGCAR.orig", (9, 8, 8), True)
    p = _pad(src, tmp_path / "CHGCAR", [ZERO] * 2)
    out = tmp_path / "run"
    res = _convert(p, out)
    assert res.returncode == 0, res.stderr[-2000:]
    meta = json.loads((RunDir(out).frame_dir(0) / "frame.json").read_text())
    notes = meta["warnings"]
    assert len(notes) == 2
    for g, n in enumerate(notes, 1):
        assert n.startswith("CHGCAR: line ") and n.endswith(
            f": dropped 2 zero value(s) padding the last line of grid {g} (9x8x8 = 576 values)")
    log = (out / "run.log").read_text()
    for n in notes:
        assert n in log and f"materials: warning: {n}" in res.stderr
    assert read_manifest(out)["provenance"]["parameters"]["warnings"] == notes
    assert "density.vdb" in meta["files"] and meta["grid"] == "density"


# ---------------------------------------------------------------------------- vaspout.h5

GAAS_CELL = np.array([[0.0, 2.825, 2.825], [2.825, 0.0, 2.825], [2.825, 2.825, 0.0]])


def _write_vaspout(d: Path, potentials: dict[str, np.ndarray] | None = None) -> Path:
    """Hand-built vaspout.h5 in VASP's layout (py4vasp's schema; no VASP run here): zincblende
    GaAs, two ionic steps, the final structure in results/positions, the given potentials
    ``results/potential/<part>`` (components x nz x ny x nx, eV) and no charge density."""
    import h5py

    d.mkdir(parents=True, exist_ok=True)
    steps = np.array([[[0, 0, 0], [0.26, 0.25, 0.25]], [[0, 0, 0], [0.25, 0.25, 0.25]]])
    p = d / "vaspout.h5"
    with h5py.File(p, "w") as f:
        f["version/major"], f["version/minor"], f["version/patch"] = 6, 5, 0
        f["results/positions/ion_types"] = np.array([b"Ga_d", b"As"])
        f["results/positions/number_ion_types"] = np.array([1, 1])
        f["intermediate/ion_dynamics/position_ions"] = steps
        f["intermediate/ion_dynamics/lattice_vectors"] = np.stack([GAAS_CELL, GAAS_CELL])
        f["intermediate/ion_dynamics/scale"] = 1.0
        f["results/positions/position_ions"] = steps[-1]
        f["results/positions/lattice_vectors"] = GAAS_CELL
        f["results/positions/scale"] = 1.0
        for part, arr in (potentials or {}).items():
            f[f"results/potential/{part}"] = arr
    return p


def _potential(shape=(10, 9, 8), spin: int = 1, seed: int = 0) -> np.ndarray:
    """A smooth periodic field of both signs, (components, nz, ny, nx), eV."""
    nz, ny, nx = shape
    z, y, x = np.meshgrid(np.arange(nz) / nz, np.arange(ny) / ny, np.arange(nx) / nx,
                          indexing="ij")
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 1.5, 3)
    v = (a[0] * np.sin(2 * np.pi * x) * np.cos(2 * np.pi * y)
         + a[1] * np.sin(2 * np.pi * z + a[2]) + 0.1 * rng.standard_normal(shape))
    return np.stack([v, 0.2 * v][:spin])


def test_vaspout_potential_without_charge_reads_like_py4vasp(tmp_path):
    """The Hartree potential (collinear: total, up, down) is the main grid, signed, in eV, equal
    to py4vasp's reading of the same dataset; a warning says it is drawn instead."""
    from py4vasp import raw
    from py4vasp.calculation._potential import Potential

    hart = _potential(spin=2)
    p = _write_vaspout(tmp_path, {"hartree": hart})
    with pytest.warns(ReaderWarning, match="no charge density; drawing the hartree"):
        d = read(p)
    assert d.kind == "potential"
    assert list(d.grids) == ["potential_hartree", "potential_hartree_up",
                             "potential_hartree_down"]
    main = d.main_grid()
    assert main.name == "potential_hartree" and main.signed and main.units == "eV"
    assert d.meta["warnings"] == [
        f"{p}: no charge density; drawing the hartree potential as a signed field"]
    # py4vasp's reading: its schema finds the dataset (VASP >= 6.5), its Potential refinery
    # orders the axes [x, y, z] and forms up/down (its read() insists on a total potential,
    # which this file lacks, so the refinery's generator is called directly)
    with raw.access("potential", path=tmp_path) as r:
        assert r.total_potential.is_none() and not r.hartree_potential.is_none()
        theirs = dict(Potential.from_data(r)._generate_items("hartree"))
    assert set(theirs) == {"hartree", "hartree_up", "hartree_down"}
    for k, a in theirs.items():
        ours = d.grids[k.replace("hartree", "potential_hartree")]
        assert ours.values.shape == a.shape == (8, 9, 10)
        np.testing.assert_array_equal(ours.values, a)
    # the grid spans the final structure's cell
    np.testing.assert_allclose(main.affine[:3, :3], (GAAS_CELL / np.array([8, 9, 10])[:, None]).T,
                               rtol=0, atol=1e-14)


@pytest.mark.parametrize("parts,drawn", [(("xc", "ionic"), "ionic"),
                                         (("xc", "hartree", "ionic"), "hartree"),
                                         (("xc",), "xc"),
                                         (("hartree", "total"), "total")])
def test_vaspout_potential_order_of_preference(tmp_path, parts, drawn):
    """total, then hartree, ionic, xc: the first one stored is the main grid, named in the
    warning."""
    p = _write_vaspout(tmp_path, {part: _potential(seed=i) for i, part in enumerate(parts)})
    with pytest.warns(ReaderWarning, match=f"drawing the {drawn} potential"):
        d = read(p)
    name = "potential" if drawn == "total" else f"potential_{drawn}"
    assert d.main_grid().name == name
    assert set(d.grids) == {"potential" if q == "total" else f"potential_{q}" for q in parts}
    assert d.meta["warnings"] == [
        f"{p}: no charge density; drawing the {drawn} potential as a signed field"]
    # asked for explicitly: no warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", ReaderWarning)
        assert "warnings" not in read(p, quantity="potential").meta


def test_vaspout_potential_without_charge_converts_signed(tmp_path):
    """End to end: exit 0; the manifest's frame has the potential's positive and negative
    isosurfaces (eV, at +-level), atoms and bonds; the warning line is in the frame's metadata,
    the run log, stderr and the manifest's provenance."""
    hart = _potential()
    p = _write_vaspout(tmp_path / "in", {"hartree": hart})
    out = tmp_path / "run"
    res = _convert(p, out)
    assert res.returncode == 0, res.stderr[-2000:]
    line = f"{p}: no charge density; drawing the hartree potential as a signed field"
    meta = json.loads((RunDir(out).frame_dir(0) / "frame.json").read_text())
    assert meta["warnings"] == [line]
    assert meta["grid"] == "potential_hartree" and meta["signed"] is True
    assert meta["kind"] == "potential" and meta["units"] == "eV"
    vmax = float(np.abs(hart[0]).max())
    assert meta["vmax"] == pytest.approx(vmax, rel=1e-12)
    assert 0 < meta["level"] < vmax
    man = read_manifest(out)
    assets = {a["name"]: a for a in man["frames"][0]["assets"]}
    assert {"iso", "iso_neg", "atoms", "bonds"} <= set(assets)
    assert assets["iso"]["units"] == assets["iso_neg"]["units"] == "eV"
    assert assets["iso"]["level"] == pytest.approx(meta["level"])
    assert assets["iso_neg"]["level"] == pytest.approx(-meta["level"])
    for name in ("iso", "iso_neg"):
        assert (out / assets[name]["path"]).stat().st_size > 0
    assert meta["nbonds"] > 0
    assert man["provenance"]["parameters"]["warnings"] == [line]
    assert (out / "run.log").read_text().count(line) == 1
    assert res.stderr.count(f"materials: warning: {line}") == 1


@pytest.mark.parametrize("steps", [2, 1])
def test_vaspout_without_any_grid_converts_atoms_and_bonds(tmp_path, steps):
    """Neither a charge density nor a potential: atoms, bonds and the cell of the final
    structure, and one warning line that says "no grid"."""
    import h5py

    p = _write_vaspout(tmp_path / "in")
    if steps == 1:  # one ionic step: a Structure, not a Trajectory
        with h5py.File(p, "a") as f:
            del f["intermediate"]
    out = tmp_path / "run"
    res = _convert(p, out)
    assert res.returncode == 0, res.stderr[-2000:]
    meta = json.loads((RunDir(out).frame_dir(0) / "frame.json").read_text())
    assert len(meta["warnings"]) == 1
    line = meta["warnings"][0]
    assert line.startswith(f"{p}: no grid") and "atoms and bonds only" in line
    assert "\n" not in line
    assert "level" not in meta and "surfaces" not in meta
    assert meta["natoms"] == 2 and meta["nbonds"] > 0 and meta["symbols"] == ["As", "Ga"]
    names = {a["name"] for a in read_manifest(out)["frames"][0]["assets"]}
    assert {"atoms", "bonds"} <= names and not names & {"iso", "iso_neg", "density"}
    log = (out / "run.log").read_text()
    assert log.count("no grid") == 1 and line in log
    assert res.stderr.count("no grid") == 1
    # the final structure (results/positions), As at (1/4, 1/4, 1/4)
    from materials_pipeline.readers import read_structure

    s = read_structure(p)
    np.testing.assert_allclose(s.positions[1], np.array([0.25] * 3) @ GAAS_CELL)
