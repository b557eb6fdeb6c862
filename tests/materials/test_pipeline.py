"""The materials command end to end (no render): assets, manifest, resume, bad input."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.manifest import read_manifest
from core.rundir import RunDir
from materials_pipeline.__main__ import main

SI_CELL = np.array([[0.0, 2.715, 2.715], [2.715, 0.0, 2.715], [2.715, 2.715, 0.0]])


def gaussian_density(cell, frac_positions, shape, sigma=0.6, electrons=8.0):
    """Periodic sum of Gaussians around atoms; returns rho (e/A^3) normalised to electrons."""
    idx = np.stack(np.meshgrid(*[np.arange(n) / n for n in shape], indexing="ij"), -1)
    rho = np.zeros(shape)
    for f in frac_positions:
        d = idx - f
        d -= np.round(d)
        rho += np.exp(-((d @ cell) ** 2).sum(-1) / (2 * sigma**2))
    vol = abs(np.linalg.det(cell))
    return rho * electrons / (rho.mean() * vol)


def write_chgcar(path: Path, cell, frac, species, rho):
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.vasp import Chgcar, Poscar

    s = Structure(Lattice(cell), species, frac)
    Chgcar(Poscar(s), {"total": rho * s.volume}).write_file(str(path))
    return path


@pytest.fixture(scope="module")
def si_chgcar(tmp_path_factory):
    d = tmp_path_factory.mktemp("si")
    frac = [[0, 0, 0], [0.25, 0.25, 0.25]]
    rho = gaussian_density(SI_CELL, frac, (24, 24, 24))
    return write_chgcar(d / "CHGCAR", SI_CELL, frac, ["Si", "Si"], rho)


@pytest.fixture(scope="module")
def cube_series(tmp_path_factory):
    """Three cube files written by ase (a molecule moving), plus a potential-like field."""
    import ase.io
    from ase import Atoms

    d = tmp_path_factory.mktemp("series")
    paths = []
    for k in range(3):
        atoms = Atoms("OH2", positions=[[5, 5, 5], [5.76, 5.59 + 0.05 * k, 5], [4.24, 5.59, 5]],
                      cell=[10, 10, 10], pbc=False)
        x = np.arange(32) * 10 / 32
        g = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1)
        rho = sum(np.exp(-((g - p) ** 2).sum(-1) / 0.5) for p in atoms.positions)
        p = d / f"frame_{k}.cube"
        ase.io.write(p, atoms, format="cube", data=rho)
        paths.append(p)
    return paths


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "materials_pipeline", *args],
                          capture_output=True, text=True, timeout=300)


def content_hash(p: Path) -> str:
    if p.suffix == ".vdb":  # VDB files carry a random UUID: compare grid values and affine
        from core.io.vdb import read_vdb

        v = read_vdb(p)
        return hashlib.sha256(v.values.tobytes() + v.affine.tobytes()).hexdigest()
    return hashlib.sha256(p.read_bytes()).hexdigest()


def tree_hashes(run: Path) -> dict[str, str]:
    return {str(p.relative_to(run)): content_hash(p) for p in sorted(RunDir(run).assets.rglob("*"))
            if p.is_file() and p.suffix in (".ply", ".glb", ".vdb")}


def usd_volume_file(usd: Path) -> Path:
    """The file a USD volume asset's OpenVDB field resolves to (as Maya/usdview load it)."""
    from pxr import Usd, UsdVol

    stage = Usd.Stage.Open(str(usd))
    fields = [UsdVol.OpenVDBAsset(p) for p in stage.Traverse() if p.IsA(UsdVol.OpenVDBAsset)]
    assert fields, f"{usd}: no OpenVDBAsset"
    return Path(fields[0].GetFilePathAttr().Get().resolvedPath).resolve()


def test_chgcar_to_assets_and_manifest(si_chgcar, tmp_path):
    out = tmp_path / "run"
    assert main([str(si_chgcar), "--out", str(out), "--no-render", "--iso", "50%e",
                 "--engine", "serial"]) == 0
    man = read_manifest(out)
    assert len(man["frames"]) == 48  # a single frame becomes a camera orbit
    f0 = man["frames"][0]
    kinds = {a["name"]: a["kind"] for a in f0["assets"]}
    assert kinds == {"density": "volume", "iso": "mesh", "atoms": "points", "bonds": "curves"}
    iso = next(a for a in f0["assets"] if a["name"] == "iso")
    density = next(a for a in f0["assets"] if a["name"] == "density")
    assert not density["hidden"]
    meta = json.loads((RunDir(out).frame_dir(0) / "frame.json").read_text())
    assert meta["electrons_total"] == pytest.approx(8.0, rel=1e-6)
    assert meta["electrons_enclosed"] == pytest.approx(4.0, rel=0.02)
    assert iso["level"] == pytest.approx(meta["level"])
    assert meta["nbonds"] == 4  # diamond: 4 bonds per 2 atoms
    assert man["static"][0]["name"] == "cell"
    assert "e/Å³" in man["legend"]["subtitle"]
    assert RunDir(out).scene.exists()
    prov = man["provenance"]
    assert prov["inputs"][0]["path"].endswith("CHGCAR")
    assert prov["parameters"]["iso"] == "50%e"
    # the volume's USD alternate is a binary crate naming the .vdb beside it
    assert density["path"] == "assets/0000/density.vdb"
    assert density["alternates"] == ["assets/0000/density.usdc"]
    assert (out / density["alternates"][0]).read_bytes()[:8] == b"PXR-USDC"
    assert usd_volume_file(out / density["alternates"][0]) == (out / density["path"]).resolve()
    st = prov["settings"]  # the frozen settings the command line became, recorded whole
    assert st["iso"] == "50%e" and st["render"] is False and st["engine"] == "serial"
    assert st["inputs"] == [str(si_chgcar)] and st["formats"] == ["usd", "glb"]  # no PLY


def test_series_serial_equals_parallel(cube_series, tmp_path):
    a, b = tmp_path / "serial", tmp_path / "local"
    assert main([*map(str, cube_series), "--out", str(a), "--no-render", "--iso", "0.3",
                 "--engine", "serial"]) == 0
    assert main([*map(str, cube_series), "--out", str(b), "--no-render", "--iso", "0.3",
                 "--engine", "local", "--workers", "2"]) == 0
    ha, hb = tree_hashes(a), tree_hashes(b)
    assert ha and ha == hb
    man = read_manifest(b)
    assert len(man["frames"]) == 3
    vol = next(a for a in man["frames"][0]["assets"] if a["kind"] == "volume")
    assert vol["hidden"] is True  # a molecule's box: written, in scene.usda, not rendered
    assert [f["label"] for f in man["frames"]][0].startswith("frame_0.cube")


def test_bad_frame_keeps_good_ones_and_rerun_redoes_only_it(cube_series, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for p in cube_series:
        (src / p.name).write_bytes(p.read_bytes())
    bad = src / "frame_1.cube"
    good_bytes = bad.read_bytes()
    bad.write_bytes(good_bytes[: len(good_bytes) // 2])  # truncated
    out = tmp_path / "run"
    res = run_cli(str(src), "--out", str(out), "--no-render", "--iso", "0.3",
                  "--engine", "local", "--workers", "1")
    assert res.returncode != 0
    err = res.stderr.strip().splitlines()[-1]
    assert err.startswith("error:") and "frame_1.cube" in err
    run = RunDir(out)
    assert run.frame_meta(0).exists() and run.frame_meta(2).exists()
    assert not run.frame_meta(1).exists()
    kept = [RunDir(out).frame_dir(0) / n for n in ("iso.glb", "iso.usdc", "density.vdb")]
    stamp0 = [p.stat().st_mtime_ns for p in kept]
    bad.write_bytes(good_bytes)
    res = run_cli(str(src), "--out", str(out), "--no-render", "--iso", "0.3",
                  "--engine", "local", "--workers", "1")
    assert res.returncode == 0, res.stderr
    assert "1 converted, 2 already there" in res.stderr
    assert [p.stat().st_mtime_ns for p in kept] == stamp0


@pytest.mark.parametrize("make_input, message", [
    (lambda d: d, "empty folder"),
    (lambda d: (d / "x.dat").write_text("hello\n") and d / "x.dat", "format"),
    (lambda d: d / "missing", "no such file"),
])
def test_bad_inputs_one_line(tmp_path, make_input, message):
    d = tmp_path / "in"
    d.mkdir()
    target = make_input(d)
    res = run_cli(str(target), "--out", str(tmp_path / "run"), "--no-render", "--engine",
                  "serial")
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], lines
    assert not (tmp_path / "run" / "manifest.json").exists()


def test_colour_by_second_field_shares_one_range(cube_series, tmp_path):
    out = tmp_path / "run"
    assert main([*map(str, cube_series), "--out", str(out), "--no-render", "--iso", "0.3",
                 "--color-by", str(cube_series[0]), "--engine", "serial"]) == 0
    man = read_manifest(out)
    cms = {json.dumps(a["colormap"]) for f in man["frames"] for a in f["assets"]
           if a["name"] == "iso"}
    assert len(cms) == 1  # one colour range for the whole movie
    assert man["legend"]["colorbar"]["image"] == "static/colorbar.png"
    from core.io.gltf import read_glb

    iso = next(a for a in man["frames"][1]["assets"] if a["name"] == "iso")
    assert iso["path"].endswith(".glb")  # what the renderer reads: Draco, colours exact
    mesh = read_glb(out / iso["path"])
    assert mesh.colors is not None and "color_value" in mesh.attributes
    assert len(np.unique(mesh.colors, axis=0)) > 10


def test_supercell_and_signed_field(tmp_path):
    """A signed field (difference density) in a supercell: surfaces at +level and -level."""
    frac = [[0, 0, 0], [0.25, 0.25, 0.25]]
    a = gaussian_density(SI_CELL, frac[:1], (20, 20, 20), electrons=4)
    b = gaussian_density(SI_CELL, frac[1:], (20, 20, 20), electrons=4)
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.vasp import Chgcar, Poscar

    s = Structure(Lattice(SI_CELL), ["Si", "Si"], frac)
    path = tmp_path / "CHGCAR"
    Chgcar(Poscar(s), {"total": (a + b) * s.volume, "diff": (a - b) * s.volume}).write_file(
        str(path))
    out = tmp_path / "run"
    assert main([str(path), "--out", str(out), "--no-render", "--field", "magnetization",
                 "--iso", "20%", "--supercell", "2,2,1", "--engine", "serial"]) == 0
    meta = json.loads((RunDir(out).frame_dir(0) / "frame.json").read_text())
    assert [s["name"] for s in meta["surfaces"]] == ["iso", "iso_neg"]
    assert meta["natoms"] == 8
    man = read_manifest(out)
    labels = [i["label"] for i in man["legend"]["items"]]
    assert labels[0].startswith("+") and labels[1].startswith("−")


def test_xdatcar_trajectory_is_one_frame_per_step(tmp_path):
    import ase.io
    from ase.build import bulk

    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    steps = []
    for k in range(3):
        a = atoms.copy()
        a.positions[0] += [0.05 * k, 0, 0]
        steps.append(a)
    path = tmp_path / "XDATCAR"
    ase.io.write(path, steps, format="vasp-xdatcar")
    out = tmp_path / "run"
    assert main([str(path), "--out", str(out), "--no-render", "--engine", "serial"]) == 0
    man = read_manifest(out)
    assert len(man["frames"]) == 3
    assert {a["name"] for a in man["frames"][2]["assets"]} == {"atoms", "bonds"}
    assert man["frames"][1]["label"] == "XDATCAR step 2"
    meta = json.loads((RunDir(out).frame_dir(2) / "frame.json").read_text())
    assert meta["natoms"] == 8 and meta["nbonds"] == 16
    assert man["legend"]["title"].startswith("Structure")


def test_vaspout_h5_converts_without_deadlock(tmp_path):
    """A vaspout.h5 input: its reader imports h5py while the frame task pre-imports the
    writers. pxr's libraries release the GIL inside dlopen, so a pxr import overlapping
    another thread's compiled import deadlocked here every time; pxr is now imported after
    the reader's own imports (beside the C parse of a large grid, or after the read) and
    before the prewarm thread starts."""
    from tests.core.test_formats import _vaspout

    src = _vaspout(tmp_path)
    out = tmp_path / "run"
    res = subprocess.run([sys.executable, "-m", "materials_pipeline", str(src), "--out",
                          str(out), "--no-render", "--workers", "1"], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    man = read_manifest(out)
    assert man["frames"] and (RunDir(out).frame_dir(0) / "density.usdc").exists()

