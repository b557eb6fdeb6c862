"""Issue #9, "real files first": public files nobody in this project wrote (tests/data/real/
materials, origins in its README) run through the default command and come out as assets.

* ``test_default_run_makes_assets``: ``python -m materials_pipeline FILE --no-render`` on every
  corpus file; the manifest's assets (GLB path, .usdc alternate) are read back with independent
  readers (trimesh, decoding Draco with DracoPy, for GLB; pxr for USD; the openvdb binding
  from bpy for VDB).
* ``test_physical_number``: one number per file against an independent parse (pymatgen, ase,
  or a plain token count of the file), or the valence electrons of the header's atoms.
* ``test_cube_whole_grid_matches_independent_readers``, ``test_xsf_whole_grid_...`` (#14): every
  value, the voxel vectors, origin and atoms against a plain token parse and ase.io.cube /
  ase.io.xsf; ``test_vdb_holds_the_independent_grid``: density.vdb voxel by voxel (half
  floats, 2**-11 relative) and its transform against the file parsed without our reader.
  Transposed, flipped or mis-scaled grids fail (mutations in tests/README.md).
* unit tests for the reader fixes: free-text augmentation, compression, signed defaults,
  the negative-charge report, the one-line error for ``--iso 50%e`` on an orbital.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from core.errors import BadInputError
from core.rundir import RunDir
from materials_pipeline.readers.cube import BOHR

REAL = Path(__file__).parents[1] / "data" / "real" / "materials"

# file -> (extra arguments, surfaces expected, signed, vdb volume expected)
CASES = {
    "CHGCAR.oxygen": ((), {"iso"}, False, True),
    "CHGCAR.water": ((), {"iso"}, False, True),
    "LOCPOT.oxygen": ((), {"iso", "iso_neg"}, True, False),
    "AECCAR2_Si": ((), {"iso"}, False, True),
    "CHGCAR_Fe3O4_spin.bz2": ((), {"iso"}, False, True),
    "CHGCAR_Fe3O4_spin.bz2 magnetization": (("--field", "magnetization"), {"iso", "iso_neg"},
                                            True, False),
    "aelta.cube": ((), {"iso"}, False, True),
    "cubegen_h2o_5points.cube": ((), {"iso"}, False, True),
    "pyscf_CO_density.cube.gz": ((), {"iso"}, False, True),
    "orca_grid25mo.cube": ((), {"iso", "iso_neg"}, True, False),
    "orca_grid20mo6-8.cube.gz": ((), {"iso", "iso_neg"}, True, False),
    "orca_grid20_spin.cube": ((), {"iso", "iso_neg"}, True, False),
    "orca_grid20ang_spin.cube": ((), {"iso", "iso_neg"}, True, False),
    "qe_tddfpt_drho-of-eign-1.cube.gz": ((), {"iso", "iso_neg"}, True, False),
    "xcrysden_CO_homo.xsf.gz": ((), {"iso", "iso_neg"}, True, False),
}


def _file(case: str) -> Path:
    return REAL / case.split()[0]


def test_corpus_is_documented_and_small():
    readme = (REAL / "README.md").read_text()
    files = [p for p in REAL.iterdir() if p.suffix not in (".md", ".py")]
    assert {p.name for p in files} == {_file(c).name for c in CASES}
    for p in files:
        assert p.name in readme, f"{p.name}: origin not recorded in the README"
    assert sum(p.stat().st_size for p in files) < 10e6


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run directories, made on first use (one command per corpus case)."""
    made: dict[str, tuple[Path, subprocess.CompletedProcess]] = {}

    def get(case: str):
        if case not in made:
            out = tmp_path_factory.mktemp("real") / "run"
            r = subprocess.run([sys.executable, "-m", "materials_pipeline", str(_file(case)),
                                "--out", str(out), "--no-render", "--engine", "serial",
                                *CASES[case][0]],
                               capture_output=True, text=True, timeout=300)
            made[case] = (out, r)
        return made[case]

    return get


@pytest.mark.parametrize("case", sorted(CASES))
def test_default_run_makes_assets(case, runs):
    import trimesh
    from pxr import Usd, UsdGeom

    from core.manifest import read_manifest

    out, r = runs(case)
    assert r.returncode == 0, r.stderr[-2000:]
    _, surfaces, signed, vdb = CASES[case]
    man = read_manifest(out)
    f0 = man["frames"][0]
    assets = {a["name"]: a for a in f0["assets"]}
    assert surfaces <= set(assets)
    assert ("iso_neg" in assets) == signed
    meta = json.loads((RunDir(out).frame_dir(0) / "frame.json").read_text())
    assert meta["signed"] == signed
    level = meta["level"]
    assert 0 < level < meta["vmax"]
    for name in surfaces:
        a = assets[name]
        assert a["level"] == pytest.approx(-level if name == "iso_neg" else level)
        if signed:  # two colours, one per sign
            assert a["color"] != assets["iso" if name == "iso_neg" else "iso_neg"]["color"]
        surf = next(s for s in meta["surfaces"] if s["name"] == name)
        nfaces = surf["faces"]  # after the level of detail (core.lod); faces_full: before
        assert a["faces"] == nfaces and a["faces_full"] == surf["faces_full"] >= nfaces
        # the renderer's GLB is the path, the USD crate its alternate (no PLY by default)
        assert a["path"].endswith(".glb")
        assert a["alternates"] == [a["path"][:-len(".glb")] + ".usdc"]
        assert not (out / a["path"]).with_suffix(".ply").exists()
        # USD (pxr): the mesh as written, every triangle
        stage = Usd.Stage.Open(str(out / a["alternates"][0]))
        meshes = [UsdGeom.Mesh(p) for p in stage.Traverse() if p.IsA(UsdGeom.Mesh)]
        assert len(meshes) == 1
        counts = np.asarray(meshes[0].GetFaceVertexCountsAttr().Get())
        assert len(counts) == nfaces and (counts == 3).all()
        pts = np.asarray(meshes[0].GetPointsAttr().Get(), dtype=np.float64).reshape(-1, 3)
        tri = pts[np.asarray(meshes[0].GetFaceVertexIndicesAttr().Get(), dtype=np.int64)
                  .reshape(-1, 3)]
        assert np.isfinite(pts).all()
        # GLB (trimesh, which decodes Draco with DracoPy): Draco drops the triangles with two
        # corners at one position (no area; marching cubes makes them where the level equals
        # a grid value) and nothing else (core/io/gltf.py)
        no_area = ((tri[:, 0] == tri[:, 1]).all(1) | (tri[:, 1] == tri[:, 2]).all(1)
                   | (tri[:, 0] == tri[:, 2]).all(1))
        glb = trimesh.load(out / a["path"], process=False)
        gmeshes = list(glb.geometry.values())  # an empty surface: a GLB with an empty node
        assert len(gmeshes) == (1 if nfaces else 0)
        assert sum(len(g.faces) for g in gmeshes) == nfaces - int(no_area.sum())
        if not gmeshes:
            continue
        gv = np.asarray(gmeshes[0].vertices, dtype=np.float64)
        assert np.isfinite(gv).all()
        # the same surface: glTF is Y-up, (x, y, z) -> (x, z, -y); Draco quantizes positions
        # to 14 bits over the largest extent, an error < 5.3e-5 of the bounding-box diagonal
        ref = tri[~no_area].reshape(-1, 3)[:, [0, 2, 1]] * [1.0, 1.0, -1.0]
        diag = np.linalg.norm(ref.max(0) - ref.min(0))
        np.testing.assert_allclose(gv.min(0), ref.min(0), rtol=0, atol=5.3e-5 * diag)
        np.testing.assert_allclose(gv.max(0), ref.max(0), rtol=0, atol=5.3e-5 * diag)
    assert sum(s["faces"] for s in meta["surfaces"]) > 0
    assert ("density" in assets) == vdb
    if vdb:
        from core.deps import require

        (openvdb,) = require("openvdb")
        grids, _ = openvdb.readAll(str(out / assets["density"]["path"]))
        assert grids[0].activeVoxelCount() > 0
    atoms = trimesh.load(out / assets["atoms"]["path"])  # a GLB of POINTS: a point cloud
    assert [type(g).__name__ for g in atoms.geometry.values()] == ["PointCloud"]
    assert sum(len(g.vertices) for g in atoms.geometry.values()) == meta["natoms"] > 0


def _tokens_after(text: str, marker_line: int, count: int) -> np.ndarray:
    """A plain parse: ``count`` numbers after line ``marker_line`` (0-based)."""
    toks = " ".join(text.splitlines()[marker_line + 1:]).split()[:count]
    return np.array([float(t) for t in toks])


def _read(name: str, **kw):
    from materials_pipeline.readers import read

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read(REAL / name, **kw)


def _open_text(p: Path) -> str:
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(p.suffix)
    return opener(p, "rt").read() if opener else p.read_text()


def _vasp_plain(name: str, dims_line: int):
    text = _open_text(REAL / name)
    lines = text.splitlines()
    n = int(np.prod([int(t) for t in lines[dims_line].split()]))
    return _tokens_after(text, dims_line, n)


def _check_chgcar_oxygen():
    d = _read("CHGCAR.oxygen")
    raw = _vasp_plain("CHGCAR.oxygen", 10)  # rho*V, x fastest
    np.testing.assert_allclose(d.grids["density"].values.ravel(order="F") * 1000.0, raw)


def _check_chgcar_water():
    d = _read("CHGCAR.water")
    raw = _vasp_plain("CHGCAR.water", 12)
    vol = abs(np.linalg.det(d.structure.cell))  # 15 x 15 x 15 * 0.529^3 (scale 0.529...)
    np.testing.assert_allclose(d.grids["density"].values.ravel(order="F") * vol, raw)


def _check_locpot_oxygen():
    d = _read("LOCPOT.oxygen")
    raw = _vasp_plain("LOCPOT.oxygen", 10)  # eV, not divided by the volume
    np.testing.assert_allclose(d.grids["potential"].values.ravel(order="F"), raw)


def _check_aeccar2():
    from pymatgen.io.vasp.outputs import Chgcar

    d = _read("AECCAR2_Si")
    g = d.grids["density"]
    assert g.values.sum() * g.voxel_volume == pytest.approx(8.0, abs=1e-6)  # 2 Si x 4
    ref = Chgcar.from_file(str(REAL / "AECCAR2_Si")).data["total"]
    neg_ref = -ref[ref < 0].sum() / ref.size
    from materials_pipeline import iso

    assert iso.negative_charge(g.values, g.voxel_volume)[0] == pytest.approx(neg_ref, rel=1e-9)


def _check_fe3o4():
    from pymatgen.io.vasp.outputs import Chgcar

    d = _read("CHGCAR_Fe3O4_spin.bz2")
    rho, mag = d.grids["density"], d.grids["magnetization"]
    valence = {"Fe": 8, "O": 6}
    n = sum(valence[s] for s in d.structure.symbols)
    assert n == 96 and len(d.structure) == 14
    assert rho.values.sum() * rho.voxel_volume == pytest.approx(n, rel=1e-9)
    ref = Chgcar.from_file(str(REAL / "CHGCAR_Fe3O4_spin.bz2"))
    assert mag.values.sum() * mag.voxel_volume == pytest.approx(
        ref.data["diff"].sum() / ref.data["diff"].size, rel=1e-9)
    assert d.meta["augmentation_blocks_skipped"] == 28  # one per atom per grid


def _ase_cube(name: str) -> dict:
    import ase.io.cube

    return ase.io.cube.read_cube(io.StringIO(_open_text(REAL / name)))


def _check_cube(name: str, power: float, angstrom: bool = False):
    d = _read(name)
    ref = _ase_cube(name)["data"]
    factor = 1.0 if angstrom else BOHR ** power
    g = d.main_grid()
    np.testing.assert_allclose(g.values * factor, ref, rtol=1e-12, atol=0)


def _check_co_electrons():
    """All-electron CO: the density in the 4 bohr box holds nearly its 14 electrons (ase's
    values in e/bohr³ times its voxel in bohr³); ours, in e/Å³, the same count."""
    from ase.units import Bohr as ase_bohr

    ref = _ase_cube("pyscf_CO_density.cube.gz")
    n_ref = ref["data"].sum() * abs(np.linalg.det(ref["spacing"])) / ase_bohr**3
    assert 13.5 < n_ref < 14.0
    g = _read("pyscf_CO_density.cube.gz").main_grid()
    assert g.values.sum() * g.voxel_volume == pytest.approx(n_ref, rel=1e-6)


def _check_orbitals_6_8():
    text = _open_text(REAL / "orca_grid20mo6-8.cube.gz")
    ref = _tokens_after(text, 2 + 1 + 3 + 7 - 1, 20 ** 3 * 3 + 4)[4:].reshape(20, 20, 20, 3)
    d = _read("orca_grid20mo6-8.cube.gz")
    assert list(d.grids) == ["orbital_6", "orbital_7", "orbital_8"]
    for k, g in enumerate(d.grids.values()):
        np.testing.assert_allclose(g.values * BOHR ** 1.5, ref[..., k], rtol=1e-12)
    # orbitals are normalised: sum psi^2 dV over the box is at most 1 (the box cuts tails)
    g = d.grids["orbital_6"]
    assert 0.5 < (g.values ** 2).sum() * g.voxel_volume <= 1.0 + 1e-6


def _check_xsf_co():
    text = _open_text(REAL / "xcrysden_CO_homo.xsf.gz")
    lines = text.splitlines()
    start = next(i for i, s in enumerate(lines) if s.strip() == "DATAGRID_3D_G98CUBE")
    ref = _tokens_after(text, start + 5, 33 * 25 * 25)
    d = _read("xcrysden_CO_homo.xsf.gz")
    g = d.main_grid()
    assert g.values.min() < 0 < g.values.max()  # an orbital: drawn with both signs
    # the whole grid, first index fastest (XSF), the repeated end points kept (no PRIMVEC: a box)
    np.testing.assert_array_equal(g.values, ref.reshape((33, 25, 25), order="F"))


def _check_qe_drho():
    ref = _ase_cube("qe_tddfpt_drho-of-eign-1.cube.gz")["data"]
    d = _read("qe_tddfpt_drho-of-eign-1.cube.gz")
    g = d.main_grid()
    np.testing.assert_allclose(g.values * BOHR ** 3, ref, rtol=1e-12)
    # a response density: its positive and negative charges nearly cancel
    from materials_pipeline import iso

    neg, pos = iso.negative_charge(g.values, g.voxel_volume)
    assert neg == pytest.approx(pos, rel=0.01)


PHYSICS = {
    "CHGCAR.oxygen": _check_chgcar_oxygen,
    "CHGCAR.water": _check_chgcar_water,
    "LOCPOT.oxygen": _check_locpot_oxygen,
    "AECCAR2_Si": _check_aeccar2,
    "CHGCAR_Fe3O4_spin.bz2": _check_fe3o4,
    "aelta.cube": lambda: _check_cube("aelta.cube", 3),
    "cubegen_h2o_5points.cube": lambda: _check_cube("cubegen_h2o_5points.cube", 3),
    "pyscf_CO_density.cube.gz": _check_co_electrons,
    "orca_grid25mo.cube": lambda: _check_cube("orca_grid25mo.cube", 1.5),
    "orca_grid20mo6-8.cube.gz": _check_orbitals_6_8,
    "orca_grid20_spin.cube": lambda: _check_cube("orca_grid20_spin.cube", 3),
    "orca_grid20ang_spin.cube": lambda: _check_cube("orca_grid20ang_spin.cube", 3, True),
    "qe_tddfpt_drho-of-eign-1.cube.gz": _check_qe_drho,
    "xcrysden_CO_homo.xsf.gz": _check_xsf_co,
}


@pytest.mark.parametrize("name", sorted(PHYSICS))
def test_physical_number(name):
    PHYSICS[name]()


# ------------------------------------------ whole grids against independent readers (#14)

_BOHR_2018 = 0.529177210903  # Angstrom, CODATA 2018: the Bohr our cube reader converts with
VDB_TOLERANCE = 0.01  # materials_pipeline/frames.py: |value| <= 1% of the level stays inactive

# cube file -> (our grid names, power of Bohr in the file's value units: 3 density and spin,
# 1.5 orbital, 0 for a file in Angstrom, whose values are kept as written)
CUBES = {
    "aelta.cube": (["density"], 3),
    "cubegen_h2o_5points.cube": (["density"], 3),
    "pyscf_CO_density.cube.gz": (["density"], 3),
    "orca_grid25mo.cube": (["orbital_5"], 1.5),
    "orca_grid20mo6-8.cube.gz": (["orbital_6", "orbital_7", "orbital_8"], 1.5),
    "orca_grid20_spin.cube": (["spin"], 3),
    "orca_grid20ang_spin.cube": (["spin"], 0),
    "qe_tddfpt_drho-of-eign-1.cube.gz": (["density"], 3),
}
# ase.io.cube 3.29 takes the values per point from line 3's fifth token only: ORCA's three
# orbitals (natoms < 0, "3 6 7 8" after the atoms) fail its reshape; the plain parse covers it
_ASE_CUBE_CANNOT = {"orca_grid20mo6-8.cube.gz"}


def _cube_plain(name: str) -> dict:
    """A plain token parse of a cube file by the format's description: two comment lines,
    ``natoms ox oy oz [nval]``, three ``n vx vy vz``, the atoms ``Z q x y z``, (natoms < 0) the
    orbital list ``nmo i1 .. inmo``, then the values, the third axis fastest and ``nval`` per
    point. Lengths in Angstrom: Bohr unless a voxel count is negative (Gaussian's rule)."""
    lines = _open_text(REAL / name).splitlines()
    head = lines[2].split()
    natoms = int(head[0])
    nval = int(head[4]) if len(head) > 4 else 1
    axes = [lines[3 + i].split() for i in range(3)]
    shape = tuple(abs(int(a[0])) for a in axes)
    angstrom = any(int(a[0]) < 0 for a in axes)
    to_ang = 1.0 if angstrom else _BOHR_2018
    atoms = np.array([lines[6 + a].split()[:5] for a in range(abs(natoms))], dtype=float)
    toks = " ".join(lines[6 + abs(natoms):]).split()
    labels: list[int] = []
    if natoms < 0:
        nmo = int(toks[0])
        labels = [int(t) for t in toks[1:1 + nmo]]
        toks, nval = toks[1 + nmo:], nmo
    vals = np.array(toks, dtype=float)
    assert vals.size == np.prod(shape) * nval
    return {"shape": shape, "data": vals.reshape(*shape, nval), "labels": labels,
            "angstrom": angstrom, "file_lengths_to_angstrom": to_ang,
            "origin": np.array(head[1:4], dtype=float) * to_ang,
            "step": np.array([a[1:4] for a in axes], dtype=float) * to_ang,  # rows: axis i
            "numbers": atoms[:, 0].astype(int), "positions": atoms[:, 2:5] * to_ang}


def _assert_placement(g, origin, step, atol=1e-12):
    """values[i, j, k] sits at origin + i*step[0] + j*step[1] + k*step[2]."""
    np.testing.assert_allclose(g.affine[:3, :3], np.asarray(step).T, rtol=0, atol=atol)
    np.testing.assert_allclose(g.affine[:3, 3], origin, rtol=0, atol=atol)


@pytest.mark.parametrize("name", sorted(CUBES))
def test_cube_whole_grid_matches_independent_readers(name):
    """Every value, the voxel vectors, origin and atoms of every corpus cube file against a plain
    token parse and ase.io.cube: a transposed, flipped or mis-scaled grid fails."""
    from ase.units import Bohr as ase_bohr

    names, power = CUBES[name]
    d = _read(name)
    plain = _cube_plain(name)
    assert list(d.grids) == names
    divisor = _BOHR_2018 ** power  # one division per value in the reader: exact equality
    for m, gname in enumerate(names):
        g = d.grids[gname]
        assert g.values.shape == plain["shape"] and not g.periodic
        np.testing.assert_array_equal(g.values, plain["data"][..., m] / divisor)
        _assert_placement(g, plain["origin"], plain["step"])
    assert d.meta["mo_indices"] == plain["labels"]
    np.testing.assert_array_equal(d.structure.numbers, plain["numbers"])
    np.testing.assert_allclose(d.structure.positions, plain["positions"], rtol=0, atol=1e-12)
    if name in _ASE_CUBE_CANNOT:
        return
    ref = _ase_cube(name)
    for m, gname in enumerate(names):
        np.testing.assert_array_equal(d.grids[gname].values, ref["datas"][m] / divisor)
    # ase multiplies every length by its own Bohr (CODATA 2014), negative voxel counts
    # included: back to the file's numbers, then to Angstrom by the file's own rule
    back = plain["file_lengths_to_angstrom"] / ase_bohr
    for gname in names:
        _assert_placement(d.grids[gname], ref["origin"] * back, ref["spacing"] * back)
    np.testing.assert_array_equal(d.structure.numbers, ref["atoms"].numbers)
    np.testing.assert_allclose(d.structure.positions, ref["atoms"].positions * back, rtol=0,
                               atol=1e-12)


def _xsf_plain(text: str) -> dict:
    """A plain parse of the first DATAGRID_3D of an XSF text and of its ATOMS block: values
    with the first index fastest, n points spanning the vectors end point included."""
    lines = text.splitlines()
    start = next(i for i, s in enumerate(lines) if "DATAGRID_3D_" in s.upper()
                 and not s.strip().upper().startswith("END"))
    shape = tuple(int(t) for t in lines[start + 1].split())
    origin = np.array(lines[start + 2].split(), dtype=float)
    span = np.array([lines[start + 3 + i].split() for i in range(3)], dtype=float)
    end = next(i for i in range(start, len(lines)) if lines[i].strip().startswith("END_DATA"))
    vals = np.array(" ".join(lines[start + 6:end]).split(), dtype=float)
    first = next(i for i, s in enumerate(lines) if s.strip() == "ATOMS")
    last = next(i for i in range(first + 1, len(lines)) if not lines[i].split()[0].isdigit())
    atoms = np.array([s.split()[:4] for s in lines[first + 1:last]], dtype=float)
    return {"shape": shape, "data": vals.reshape(shape, order="F"), "origin": origin,
            "span": span, "numbers": atoms[:, 0].astype(int), "positions": atoms[:, 1:4]}


def _xsf_ase(text: str):
    """ase.io.xsf on the text, with the block keywords spelled as ase expects
    (``BEGIN_BLOCK_DATAGRID_3D``, ``BEGIN_DATAGRID_3D_<name>``; XCrySDen's converter wrote
    ``BEGIN_BLOCK_DATAGRID3D`` and ``DATAGRID_3D_G98CUBE``, both valid XSF): the data untouched."""
    import ase.io.xsf

    fixed = text.replace("BEGIN_BLOCK_DATAGRID3D", "BEGIN_BLOCK_DATAGRID_3D").replace(
        "\nDATAGRID_3D_", "\nBEGIN_DATAGRID_3D_")
    return ase.io.xsf.read_xsf(io.StringIO(fixed), read_data=True)


def _check_xsf_against_independent(path: Path, text: str):
    from materials_pipeline.readers import read

    d = read(path)
    g = d.main_grid()
    plain = _xsf_plain(text)
    arr, origin, span, atoms = _xsf_ase(text)
    assert g.values.shape == plain["shape"] == arr.shape
    np.testing.assert_array_equal(g.values, plain["data"])
    np.testing.assert_array_equal(g.values, arr)
    # no PRIMVEC: a box, not periodic; a general grid: n points span the vectors, step span/(n-1)
    assert not g.periodic and not d.structure.cell.any()
    np.testing.assert_array_equal(origin, plain["origin"])
    np.testing.assert_array_equal(span, plain["span"])
    _assert_placement(g, origin, span / (np.array(arr.shape) - 1)[:, None])
    np.testing.assert_array_equal(d.structure.numbers, plain["numbers"])
    np.testing.assert_array_equal(d.structure.numbers, atoms.numbers)
    np.testing.assert_array_equal(d.structure.positions, plain["positions"])
    np.testing.assert_array_equal(d.structure.positions, atoms.positions)
    return g


def test_xsf_whole_grid_matches_independent_readers(tmp_path):
    """XCrySDen's CO HOMO: every value, the grid placement and the atoms against a plain parse
    and ase.io.xsf. The HOMO (a sigma orbital) is exactly symmetric under x <-> y and x -> -x,
    y -> -y on this grid, so the same file layout with every value replaced by its index
    (all distinct) is checked too: a swap or flip of any axis fails there."""
    import re

    text = _open_text(REAL / "xcrysden_CO_homo.xsf.gz")
    g = _check_xsf_against_independent(REAL / "xcrysden_CO_homo.xsf.gz", text)
    assert g.values.shape == (33, 25, 25)  # along z (the molecule's axis), y, x
    lines = text.splitlines(keepends=True)
    start = next(i for i, s in enumerate(lines) if s.strip() == "DATAGRID_3D_G98CUBE") + 6
    end = next(i for i, s in enumerate(lines) if s.strip() == "END_DATAGRID_3D")
    counter = iter(range(33 * 25 * 25))
    body = [re.sub(r"\S+", lambda _: f"{next(counter)}.0", s) for s in lines[start:end]]
    assert next(counter, None) is None  # every value replaced
    labelled = "".join(lines[:start] + body + lines[end:])
    p = tmp_path / "labelled.xsf"
    p.write_text(labelled)
    g = _check_xsf_against_independent(p, labelled)
    i, j, k = np.indices((33, 25, 25))
    np.testing.assert_array_equal(g.values, i + 33 * (j + 25 * k))  # the first index fastest


def _vasp_plain_grid(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(the first grid / cell volume, cell rows in Angstrom) by a plain parse of a VASP 5
    CHGCAR-style file: x fastest, rho*V_cell as written."""
    lines = _open_text(REAL / name).splitlines()
    scale = float(lines[1].split()[0])
    assert scale > 0
    cell = scale * np.array([lines[2 + i].split()[:3] for i in range(3)], dtype=float)
    nat = sum(int(t) for t in lines[6].split())
    assert lines[7].strip()[0] in "Dd"  # Direct
    dims_line = 8 + nat + 1
    shape = tuple(int(t) for t in lines[dims_line].split())
    raw = _tokens_after("\n".join(lines), dims_line, int(np.prod(shape)))
    return raw.reshape(shape, order="F") / abs(np.linalg.det(cell)), cell


def _independent_grid(case: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values in e/Angstrom^3, origin, step rows) of a case's density, not by our reader."""
    name = _file(case).name
    if name in CUBES:
        plain = _cube_plain(name)
        return (plain["data"][..., 0] / _BOHR_2018 ** CUBES[name][1], plain["origin"],
                plain["step"])
    values, cell = _vasp_plain_grid(name)
    return values, np.zeros(3), cell / np.array(values.shape)[:, None]


@pytest.mark.parametrize("case", sorted(c for c in CASES if CASES[c][3]))
def test_vdb_holds_the_independent_grid(case, runs):
    """density.vdb of the default run, voxel by voxel, against the file parsed independently
    (half floats as written: 2**-11 relative; voxels within the writer's tolerance of 0
    inactive, decided on the float32 values before the half conversion), and its
    index-to-world transform against the file's origin and voxel vectors: a transposed or
    flipped grid in the reader or in the VDB writer fails."""
    from core.deps import require
    from core.manifest import read_manifest

    out, r = runs(case)
    assert r.returncode == 0, r.stderr[-2000:]
    ref, origin, step = _independent_grid(case)
    meta = json.loads((RunDir(out).frame_dir(0) / "frame.json").read_text())
    assert meta["units"] == "e/Angstrom^3" and not meta["signed"]
    tol = VDB_TOLERANCE * meta["level"]
    path = next(a["path"] for a in read_manifest(out)["frames"][0]["assets"]
                if a["name"] == "density")
    (openvdb,) = require("openvdb")
    grids, _ = openvdb.readAll(str(out / path))
    assert len(grids) == 1
    vdb = grids[0]
    lo, hi = vdb.evalActiveVoxelBoundingBox()
    assert min(lo) >= 0 and all(h < n for h, n in zip(hi, ref.shape, strict=True))
    arr = np.zeros(ref.shape, np.float32)
    vdb.copyToArray(arr, ijk=(0, 0, 0))
    ref32 = ref.astype(np.float32)
    active = np.abs(ref32) > tol
    edge = np.isclose(np.abs(ref32), tol, rtol=1e-6, atol=0)  # either side of the threshold
    assert (active & ~edge).sum() > 0
    # the writer stores the voxels as half floats (saveFloatAsHalf, frames.py): rounding to
    # nearest with an 11-bit significand is within 2**-11 relative (2**-25 absolute below
    # half's smallest normal, 2**-14); float32 reads them back exactly
    np.testing.assert_allclose(arr[active & ~edge], ref32[active & ~edge], rtol=2.0 ** -11,
                               atol=2.0 ** -25)
    np.testing.assert_array_equal(arr[~active & ~edge], 0.0)
    assert vdb.activeVoxelCount() == int(np.count_nonzero(arr))
    corners = [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), tuple(n - 1 for n in ref.shape)]
    for ijk in corners:
        np.testing.assert_allclose(vdb.transform.indexToWorld(ijk),
                                   origin + np.array(ijk, dtype=float) @ step, rtol=0,
                                   atol=1e-9)


# ------------------------------------------------------------------ the reader fixes, unit


def test_free_text_augmentation_warns_and_keeps_the_grid():
    from materials_pipeline.readers import read
    from materials_pipeline.readers._common import ReaderWarning

    with pytest.warns(ReaderWarning, match=r"CHGCAR.water: line 20: skipped 1 line"):
        d = read(REAL / "CHGCAR.water")
    assert d.meta["warnings"] and list(d.grids) == ["density"]


def test_free_text_between_spin_grids(tmp_path):
    """Free text after grid 1 of a spin CHGCAR: skipped up to grid 2, both grids read."""
    from materials_pipeline.readers import read
    from materials_pipeline.readers._common import ReaderWarning

    text = bz2.open(REAL / "CHGCAR_Fe3O4_spin.bz2", "rt").read()
    ref = read(REAL / "CHGCAR_Fe3O4_spin.bz2")
    lines = text.splitlines(keepends=True)
    first_aug = next(i for i, s in enumerate(lines) if s.startswith("augmentation"))
    lines.insert(first_aug, "augment charges written by converter v1.2\n 1 2 3 4\n")
    p = tmp_path / "CHGCAR"
    p.write_text("".join(lines))
    with pytest.warns(ReaderWarning, match="reading the next grid"):
        d = read(p)
    for name in ("density", "magnetization"):
        np.testing.assert_array_equal(d.grids[name].values, ref.grids[name].values)


@pytest.mark.parametrize("opener,suffix", [(gzip.open, ".gz"), (bz2.open, ".bz2"),
                                           (lzma.open, ".xz")])
@pytest.mark.parametrize("name", ["CHGCAR.water", "orca_grid25mo.cube"])
def test_compressed_inputs_read_like_plain_ones(tmp_path, opener, suffix, name):
    from materials_pipeline.readers import guess_format

    p = tmp_path / (name + suffix)
    with opener(p, "wb") as fh:
        fh.write((REAL / name).read_bytes())
    assert guess_format(p).name == guess_format(REAL / name).name
    a, b = _read(name), _read(str(p))
    for k in a.grids:
        np.testing.assert_array_equal(a.grids[k].values, b.grids[k].values)


def test_signed_defaults():
    from materials_pipeline import iso

    orb = _read("orca_grid25mo.cube").main_grid()
    assert iso.fit_default(orb.values, orb.units, orb.signed, orb.voxel_volume) == ("10%", True)
    drho = _read("qe_tddfpt_drho-of-eign-1.cube.gz").main_grid()
    assert not drho.signed  # the comments say nothing: read as a density ...
    assert iso.fit_default(drho.values, drho.units, drho.signed,  # ... drawn as a signed one
                           drho.voxel_volume) == ("10%", True)
    aec = _read("AECCAR2_Si").main_grid()
    assert iso.fit_default(aec.values, aec.units, aec.signed, aec.voxel_volume) == ("50%e",
                                                                                     False)


def test_enclosed_level_clips_a_few_negative_voxels():
    from materials_pipeline import iso

    g = _read("AECCAR2_Si").main_grid()
    assert (g.values < 0).sum() > 0
    level = iso.resolve(iso.parse("50%e"), g.values, voxel_volume=g.voxel_volume,
                        units=g.units)
    clipped = np.clip(g.values, 0, None)
    assert level == iso.enclosed_level(clipped, 0.5, g.voxel_volume)
    assert iso.enclosed_charge(g.values, level, g.voxel_volume) == pytest.approx(4.0, rel=0.02)


def test_negative_charge_reported_in_manifest_and_log(runs):
    out, r = runs("AECCAR2_Si")
    assert r.returncode == 0, r.stderr
    man = json.loads(RunDir(out).manifest.read_text())
    neg = man["provenance"]["parameters"]["electrons_negative"][0]
    g = _read("AECCAR2_Si").main_grid()
    from materials_pipeline import iso

    assert neg == pytest.approx(iso.negative_charge(g.values, g.voxel_volume)[0])
    assert "negative clipped" in man["legend"]["subtitle"]
    assert "negative charge, clipped" in RunDir(out).run_log.read_text()
    assert "negative charge, clipped" in r.stderr


def test_explicit_enclosed_level_on_an_orbital_is_one_clear_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "materials_pipeline",
                        str(REAL / "orca_grid25mo.cube"), "--out", str(tmp_path / "run"),
                        "--no-render", "--engine", "serial", "--iso", "50%e"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode != 0
    err = [s for s in r.stderr.splitlines() if s.startswith("error")]
    assert len(err) == 1, r.stderr
    assert "orca_grid25mo.cube" in err[0] and "field 'orbital_5'" in err[0]
    assert "expected a non-negative density" in err[0]


def test_enclosed_level_on_a_signed_grid_raises():
    from materials_pipeline import iso

    g = _read("orca_grid25mo.cube").main_grid()
    with pytest.raises(BadInputError, match=r"f\.cube: field 'orbital': --iso 50%e"):
        iso.resolve(iso.parse("50%e"), g.values, signed=True, source="f.cube",
                    field="orbital")


def test_coarse_grid_enclosed_level_still_draws_a_surface():
    """cubegen's 5x5x5 water: the densest voxel alone holds half the electrons; the level
    steps down to the next value, so a surface exists."""
    from materials_pipeline import iso

    g = _read("cubegen_h2o_5points.cube").main_grid()
    level = iso.resolve(iso.parse("50%e"), g.values, voxel_volume=g.voxel_volume)
    assert level < g.values.max()
    assert level == np.sort(np.unique(g.values))[-2]
