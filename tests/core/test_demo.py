"""vizpipe_app.demo: the analytic model is physical, frames are built once, the manifest is
valid."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.geometry import Volume
from core.manifest import read_manifest
from core.rundir import RunDir
from core.runtime import use_engine
from vizpipe_app import demo

SMALL = {"frames": 2, "grid": [40, 38, 39], "resolution": [160, 90], "samples": 4}


def _params(**kw) -> dict:
    return {**demo.DEFAULTS, **SMALL, **kw}


def test_density_holds_ten_electrons():
    p = _params(grid=[96, 90, 93])
    cell = np.asarray(p["cell"])
    shape = tuple(p["grid"])
    aff = Volume.affine_from_cell(cell, shape)
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1)
    xyz = ijk @ aff[:3, :3].T + aff[:3, 3]
    rho = demo.density(xyz, demo.atom_positions(0.0, p))
    voxel = abs(np.linalg.det(cell)) / np.prod(shape)
    assert rho.sum() * voxel == pytest.approx(10.0, rel=2e-3)  # O 8 e + 2 H 1 e


def test_potential_is_that_of_a_neutral_dipole():
    p = _params()
    atoms = demo.atom_positions(0.0, p)
    o, h1, h2 = atoms
    bisector = (h1 + h2) / 2 - o
    bisector /= np.linalg.norm(bisector)
    # electron-rich (negative) behind the oxygen, electron-poor (positive) beyond the hydrogens
    assert demo.potential(o - 1.5 * bisector, atoms) < -1.0
    assert demo.potential(h1 + 0.8 * (h1 - o), atoms) > 1.0
    # neutral: the potential falls off faster than 1/r (dipole ~ 1/r^2)
    far = demo.potential(o + np.array([200.0, 0, 0]), atoms)
    assert abs(far) < 1e-3


def test_geometry_is_rigid_and_loops():
    p = _params()
    a0 = demo.atom_positions(0.0, p)
    a1 = demo.atom_positions(0.37, p)
    for a in (a0, a1):
        assert np.linalg.norm(a[1] - a[0]) == pytest.approx(1.0, abs=1e-9)
        cos = np.dot(a[1] - a[0], a[2] - a[0])
        assert math.degrees(math.acos(cos)) == pytest.approx(109.47, abs=1e-6)
    np.testing.assert_allclose(demo.atom_positions(p["duration_ps"], p), a0, atol=1e-9)
    speeds = demo.atom_speeds(0.2, p)
    assert np.all((speeds > 1.0) & (speeds < 20.0))  # Angstrom/ps: thermal, a few 100 m/s


def test_frame_geometry_contents():
    p = _params()
    vols, iso, pts, bonds, trails = demo.frame_geometry(1, p)
    assert [v.name for v in vols] == ["density", "density_outside"]
    assert np.all(vols[1].values <= vols[0].values + 1e-7)
    assert iso.n_faces > 100 and iso.colors is not None
    phi = iso.attributes["potential"]
    assert phi.min() < 0 < phi.max()
    assert np.abs(phi).max() < 1.5 * p["potential_range"]
    # the isosurface lies where the density equals the level
    rho = demo.density(iso.vertices.astype(np.float64), demo.atom_positions(
        demo.frame_time(1, p), p))
    assert np.median(np.abs(rho / p["iso_level"] - 1)) < 0.05
    assert len(pts) == 3 and set(pts.attributes) == {"radius", "element", "speed"}
    assert list(trails.counts) == [p["trail_samples"]] * 3
    assert list(bonds.counts) == [8, 8]


def test_run_builds_once_and_writes_a_valid_manifest(tmp_path):
    with use_engine("serial"):
        first = demo.run(tmp_path, SMALL)
        assert not any(r["skipped"] for r in first["frames"])
        mtime = (RunDir(tmp_path).frame_dir(1) / "density_iso.ply").stat().st_mtime_ns
        m_mtime = RunDir(tmp_path).manifest.stat().st_mtime_ns
        again = demo.run(tmp_path, SMALL)
    assert all(r["skipped"] for r in again["frames"])
    assert (RunDir(tmp_path).frame_dir(1) / "density_iso.ply").stat().st_mtime_ns == mtime
    assert RunDir(tmp_path).manifest.stat().st_mtime_ns == m_mtime  # nothing changed
    m = read_manifest(tmp_path)  # schema and every asset file (alternates included)
    assert [f["index"] for f in m["frames"]] == [0, 1]
    assert m["render"]["resolution"] == [160, 90]
    assert m["legend"]["colorbar"]["colormap"]["units"] == "V"
    assert (tmp_path / m["legend"]["colorbar"]["image"]).exists()
    names = [a["name"] for a in m["frames"][0]["assets"]]
    assert names == ["density", "density_iso", "atoms", "bonds", "trails"]
    assert m["frames"][1]["label"] == "t = 0.50 ps"
    assert m["provenance"]["parameters"]["frames"] == 2
    iso = m["frames"][0]["assets"][1]
    if demo._alternate_writers():
        assert iso["alternates"]
        if ".usd" in demo._alternate_writers():
            assert RunDir(tmp_path).scene.exists()


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        demo.main(["out", "--frames", "0"])
    assert exc.value.code == 2
    assert "--frames" in capsys.readouterr().err
