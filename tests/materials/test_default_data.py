"""The embedded default input: real PySCF output, read back through our cube reader.

Nothing here may depend on the machine: the mode's sign is fixed by a convention (LAPACK's
choice differs between BLAS builds and CPUs), and the physics is checked on every grid point
of a region, not by interpolating a coarse grid at one point whose value depends on where the
grid points fall (0.9 Angstrom from the oxygen nucleus, a 16^3 potential grid read +17 V on one
CPU and -1.7 V on another: the geometry, hence the box and its grid, followed the sign).
"""

from __future__ import annotations

import numpy as np
import pytest

from materials_pipeline import default_data
from materials_pipeline.readers import read_density

SMALL = {"density_points": 40, "esp_points": 16}


@pytest.fixture(scope="module")
def two_frames(tmp_path_factory):
    inputs = tmp_path_factory.mktemp("default")
    mode = default_data.normal_mode(inputs, SMALL)
    for i in (0, 1):
        default_data.compute_frame(str(inputs), i, 4, mode, SMALL)
    return inputs, mode


def _points(grid) -> np.ndarray:
    """World coordinates (Angstrom) of every grid point, in the order of ``values.ravel()``."""
    ijk = np.indices(grid.values.shape).reshape(3, -1).T
    return ijk @ grid.affine[:3, :3].T + grid.affine[:3, 3]


def _cone(points, apex, axis, r0, r1, half_angle_deg=60.0) -> np.ndarray:
    """Mask of the points between ``r0`` and ``r1`` from ``apex`` within the cone around
    ``axis``."""
    d = points - apex
    r = np.linalg.norm(d, axis=1)
    cos = d @ (axis / np.linalg.norm(axis)) / np.maximum(r, 1e-12)
    return (r > r0) & (r < r1) & (cos > np.cos(np.radians(half_angle_deg)))


def test_mode_is_the_bend(two_frames):
    _, mode = two_frames
    assert 1500 < mode["freq_cm"] < 1800  # PBE0/6-31G* water bend (harmonic)
    v = np.array(mode["vector"])
    assert np.isclose(np.linalg.norm(v, axis=1).max(), default_data.DEFAULTS["amplitude"])
    # the sign convention: the H z-displacements (the largest, equal by symmetry) are positive,
    # so frame 1 (phase +1) opens the H-O-H angle; the oxygen moves the other way
    assert mode["sign_convention"] == default_data.SIGN_CONVENTION
    assert v[1, 2] == pytest.approx(v[2, 2], rel=1e-4) and v[1, 2] > 0.1
    assert v[0, 2] < 0 and v[1, 1] == pytest.approx(-v[2, 1], rel=1e-4) and v[1, 1] > 0
    assert abs(v[:, 0]).max() < 1e-6  # in the molecular (y, z) plane


def test_mode_sign_does_not_depend_on_the_eigensolver(two_frames, tmp_path, monkeypatch):
    """The eigenvector PySCF hands over, negated (what another BLAS may return), gives the
    same mode.json vector; a cached mode from before the convention (no ``sign_convention``,
    the other sign) is recomputed, not trusted, and the frames computed along it are removed
    (else a re-run would pair the new mode's times with the old frames)."""
    import json

    _, mode = two_frames
    stale = {k: v for k, v in mode.items() if k != "sign_convention"}
    stale["vector"] = (-np.array(mode["vector"])).tolist()
    (tmp_path / "mode.json").write_text(json.dumps(stale))
    old = [tmp_path / "density" / default_data.density_name(0),
           tmp_path / "esp" / default_data.esp_name(0)]
    for f in old:  # frames computed along the stale mode: must not be reused
        f.parent.mkdir()
        f.write_text("stale")
    from pyscf.hessian import thermo

    original = thermo.harmonic_analysis

    def negated(*args, **kwargs):
        res = original(*args, **kwargs)
        res["norm_mode"] = -res["norm_mode"]
        return res

    monkeypatch.setattr(thermo, "harmonic_analysis", negated)
    flipped = default_data.normal_mode(tmp_path, SMALL)
    np.testing.assert_allclose(flipped["vector"], mode["vector"], atol=1e-9)
    assert flipped["freq_cm"] == pytest.approx(mode["freq_cm"], rel=1e-9)
    assert json.loads((tmp_path / "mode.json").read_text())["sign_convention"] \
        == default_data.SIGN_CONVENTION
    assert not any(f.exists() for f in old)
    default_data.normal_mode(tmp_path, SMALL)  # cached now: frames are kept
    (tmp_path / "density" / "frame_keep.cube").write_text("x")
    default_data.normal_mode(tmp_path, SMALL)
    assert (tmp_path / "density" / "frame_keep.cube").exists()


def test_oriented_mode_convention():
    amp = 0.3
    rng = np.random.default_rng(0)
    for _ in range(20):
        v = rng.normal(size=(4, 3))
        a, b = default_data.oriented_mode(v, amp), default_data.oriented_mode(-v, amp)
        np.testing.assert_array_equal(a, b)
        assert a.ravel()[np.abs(a).argmax()] > 0
        assert np.linalg.norm(a, axis=1).max() == pytest.approx(amp)
        np.testing.assert_allclose(np.abs(a) / np.abs(a).max(), np.abs(v) / np.abs(v).max())
    # tied largest components of opposite sign (an antisymmetric mode): the first one, in
    # (atom, x, y, z) order, is positive, whichever is larger by rounding
    for eps in (1e-9, -1e-9):
        v = np.array([[0.0, 0.0, 0.01], [0.0, -(0.5 + eps), 0.2], [0.0, 0.5, -0.2]])
        for s in (1, -1):
            out = default_data.oriented_mode(s * v, 1.0)
            assert out[1, 1] > 0 > out[2, 1]
            assert out[1, 1] == pytest.approx(-out[2, 1], rel=1e-8)
    with pytest.raises(ValueError, match="non-zero"):
        default_data.oriented_mode(np.zeros((3, 3)), 1.0)


def test_density_cube_holds_pyscf_density_in_e_per_cubic_angstrom(two_frames):
    """Point by point, at the reader's world coordinates: units, placement and axis order
    (placement-independent, unlike a voxel sum over the undersampled 1s cusp)."""
    inputs, mode = two_frames
    from pyscf.dft import numint

    from materials_pipeline.readers.cube import BOHR

    d = read_density(inputs / "density" / default_data.density_name(1))
    g = d.main_grid()
    assert g.units == "e/Angstrom^3"
    assert list(d.structure.symbols) == ["O", "H", "H"]
    expect = np.asarray(mode["positions"]) + np.sin(2 * np.pi / 4) * np.asarray(mode["vector"])
    np.testing.assert_allclose(d.structure.positions, expect, atol=1e-5)
    mol = default_data._mol(mode["symbols"], expect, default_data.DEFAULTS["basis"])
    dm = default_data._scf(mol, default_data.DEFAULTS["xc"]).make_rdm1()
    pts = _points(g)
    pick = np.random.default_rng(1).choice(len(pts), 4000, replace=False)
    pick = np.union1d(pick, np.argsort(g.values.ravel())[-50:])  # the densest points too
    rho = numint.eval_rho(mol, mol.eval_gto("GTOval", pts[pick] / BOHR), dm) / BOHR**3
    np.testing.assert_allclose(g.values.ravel()[pick], rho, rtol=1e-3, atol=1e-6 * rho.max())
    # the voxel sum: ten electrons up to the undersampled O 1s cusp (a 40^3 grid: 9.5-9.7
    # here, 9.3-12 for grids of 34-43 points, where the points fall near the nucleus decides)
    assert g.values.sum() * g.voxel_volume == pytest.approx(10.0, rel=0.25)


def test_potential_is_negative_on_the_lone_pair_side_positive_beyond_the_hydrogens(two_frames):
    """Checked on every grid point of a region, for both frames: no interpolation near a
    nucleus, so true wherever the coarse (16^3) grid points fall."""
    inputs, _ = two_frames
    from materials_pipeline.stages import display_units

    for i in (0, 1):
        o, h1, h2 = read_density(inputs / "density" / default_data.density_name(i)) \
            .structure.positions
        v = display_units(read_density(inputs / "esp" / default_data.esp_name(i)).main_grid())
        assert v.units == "V"
        pts, vals = _points(v), v.values.ravel()
        lone_pair = _cone(pts, o, o - 0.5 * (h1 + h2), 1.2, 2.0)
        assert lone_pair.sum() >= 20
        assert vals[lone_pair].min() < -1.0  # about -2 to -3 V
        for h in (h1, h2):
            tip = _cone(pts, h, h - o, 0.6, 1.2)
            assert tip.sum() >= 10
            assert vals[tip].min() > 0.3  # about +1.3 V and up


def test_frames_differ_by_the_vibration(two_frames):
    inputs, _ = two_frames
    a = read_density(inputs / "density" / default_data.density_name(0)).structure.positions
    b = read_density(inputs / "density" / default_data.density_name(1)).structure.positions
    assert 0.05 < np.abs(a - b).max() < 0.5
    # a frame already there is not recomputed
    assert default_data.compute_frame(str(inputs), 0, 4, {}, {})["skipped"]
