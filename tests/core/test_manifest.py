"""Manifest: schema validation on write and read, provenance, precise errors."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from core import manifest as mf
from core.camera import fit_distance, orbit
from core.errors import ManifestError
from core.rundir import RunDir


def small_manifest(tmp_path):
    RunDir(tmp_path).frame_dir(0).mkdir(parents=True)
    (RunDir(tmp_path).frame_dir(0) / "iso.ply").write_bytes(b"ply\n")
    src = tmp_path / "input.dat"
    src.write_bytes(b"12345")
    box = np.array([[0, 0, 0], [1, 2, 3]])
    m = mf.new_manifest("t", "demo", length_unit="angstrom", bounds=box)
    iso = mf.asset("iso", "mesh", "assets/0000/iso.ply", units="e/Angstrom^3",
                   level=np.float32(0.5), colormap={"name": "viridis", "vmin": 0, "vmax": 1})
    m["frames"].append(mf.frame(0, [iso], time=0.0, label="t = 0 fs", camera=orbit(box, 1)[0]))
    m["provenance"] = mf.provenance([src], {"iso": 0.5, "shape": np.array([2, 2])}, engine="serial")
    return m


def test_round_trip_and_provenance(tmp_path):
    m = small_manifest(tmp_path)
    path = mf.write_manifest(tmp_path, m)
    back = mf.read_manifest(tmp_path)
    assert back["frames"][0]["assets"][0]["level"] == 0.5
    prov = back["provenance"]
    assert prov["inputs"][0]["sha256"] == (
        "5994471abb01112afcc18159f6cc74b4f511b99806da59b3caf5a9c173cacfc5")
    assert prov["inputs"][0]["size"] == 5
    assert prov["parameters"] == {"iso": 0.5, "shape": [2, 2]}
    assert "numpy" in prov["packages"] and "python" in prov["packages"]
    assert json.loads(path.read_text())["schema"] == "vizpipe-manifest"


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda m: m["frames"][0]["assets"][0].update(kind="blob"), "frames/0/assets/0/kind"),
        (lambda m: m["frames"][0]["assets"][0].pop("path"), "frames/0/assets/0"),
        (lambda m: m.update(bounds=[[0, 0], [1, 1]]), "bounds/0"),
        (lambda m: m.update(version=2), "version"),
        (lambda m: m["frames"][0]["assets"][0].update(opacity=3), "frames/0/assets/0/opacity"),
        (lambda m: m.update(extra_thing=1), "(top level)"),
    ],
)
def test_invalid_field_is_named(tmp_path, mutate, field):
    m = small_manifest(tmp_path)
    mutate(m)
    with pytest.raises(ManifestError, match=re.escape(f"field {field}")):
        mf.write_manifest(tmp_path, m)
    assert not RunDir(tmp_path).manifest.exists()  # nothing written


def test_read_errors(tmp_path):
    with pytest.raises(ManifestError, match="no manifest here"):
        mf.read_manifest(tmp_path)
    RunDir(tmp_path).manifest.write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        mf.read_manifest(tmp_path)
    m = small_manifest(tmp_path)
    mf.write_manifest(tmp_path, m)
    (RunDir(tmp_path).frame_dir(0) / "iso.ply").unlink()
    with pytest.raises(ManifestError, match=r"asset 'iso' file missing: .*assets/0000/iso.ply"):
        mf.read_manifest(tmp_path)


def test_duplicate_frame_index(tmp_path):
    m = small_manifest(tmp_path)
    m["frames"].append(dict(m["frames"][0]))
    with pytest.raises(ManifestError, match="duplicate frame index"):
        mf.validate(m)


def test_camera_frames_the_box():
    b = np.array([[0, 0, 0], [10, 10, 10]])
    cams = orbit(b, 8)
    centre = np.array([5, 5, 5])
    d = fit_distance(b)
    for c in cams:
        assert np.allclose(c["look_at"], centre)
        assert np.linalg.norm(np.array(c["location"]) - centre) == pytest.approx(d)
    # a full turn: first and (virtual) last+1 camera coincide, consecutive ones differ
    assert not np.allclose(cams[0]["location"], cams[1]["location"])
    # the bounding sphere fits the vertical field of view (16:9, 50 mm lens, 36 mm sensor)
    half_fov_v = np.arctan(np.tan(np.arctan(18 / 50)) / (16 / 9))
    assert np.sin(half_fov_v) * d >= 0.5 * np.linalg.norm(b[1] - b[0])


def test_orbit_with_points_keeps_every_point_in_frame():
    from core.camera import SENSOR_MM

    cell = np.array([[6.0, 0, 0], [2.0, 5.5, 0], [1.0, 1.5, 5.0]])
    pts = np.array([i * cell[0] + j * cell[1] + k * cell[2]
                    for i in (0, 1) for j in (0, 1) for k in (0, 1)])
    b = np.array([pts.min(0), pts.max(0)])
    cams = orbit(b, 12, points=pts, margin=1.0, aspect=16 / 9)
    tan_x = SENSOR_MM / 100.0
    tan_y = tan_x * 9 / 16
    worst = 0.0
    for c in cams:
        loc, tgt = np.array(c["location"]), np.array(c["look_at"])
        fwd = (tgt - loc) / np.linalg.norm(tgt - loc)
        right = np.cross(fwd, [0, 0, 1.0])
        right /= np.linalg.norm(right)
        up = np.cross(right, fwd)
        q = pts - loc
        z = q @ fwd
        u = np.maximum(np.abs(q @ right) / (z * tan_x), np.abs(q @ up) / (z * tan_y))
        assert (u <= 1 + 1e-9).all()  # inside the image
        worst = max(worst, u.max())
    assert worst > 0.999  # and tight: some corner touches the edge in some frame
    assert fit_distance(b) > np.linalg.norm(np.array(cams[0]["location"]) - cams[0]["look_at"])


def test_orbit_about_a_tilted_axis_frames_points_with_that_up_vector():
    from core.camera import SENSOR_MM, orbit_about

    rng = np.random.default_rng(3)
    axis = np.array([0.8, 0.1, 0.6])  # e.g. the local vertical of a region on a globe
    centre = 6371.0 * axis / np.linalg.norm(axis)
    pts = centre + rng.normal(scale=300.0, size=(50, 3))
    cams = orbit_about(centre, axis, [0, 0, -1.0], 5, pts, turns=0.1, elevation_deg=55,
                       lens_mm=35.0, margin=1.0, aspect=16 / 9)
    tan_x = SENSOR_MM / 70.0
    tan_y = tan_x * 9 / 16
    worst = 0.0
    for c in cams:
        loc, tgt, upv = (np.array(c[k]) for k in ("location", "look_at", "up"))
        fwd = (tgt - loc) / np.linalg.norm(tgt - loc)
        u_hat = upv / np.linalg.norm(upv)
        assert np.degrees(np.arcsin(-fwd @ u_hat)) == pytest.approx(55.0)  # the elevation
        right = np.cross(fwd, u_hat)
        right /= np.linalg.norm(right)
        up = np.cross(right, fwd)
        q = pts - loc
        z = q @ fwd
        u = np.maximum(np.abs(q @ right) / (z * tan_x), np.abs(q @ up) / (z * tan_y))
        assert (u <= 1 + 1e-9).all()
        worst = max(worst, u.max())
    assert worst > 0.999


def test_writing_the_manifest_removes_temporaries_a_killed_run_left_in_static(tmp_path):
    # a run SIGKILLed while its main process wrote static/base.glb leaves the temporary; the
    # re-run rewrites static/ and, with its manifest, clears what the dead run left
    m = small_manifest(tmp_path)
    static = RunDir(tmp_path).static
    static.mkdir()
    (static / "base.glb").write_bytes(b"glTF")
    stale = static / ".base.glb.4242.tmp.glb"
    stale.write_bytes(b"glT")
    frame_tmp = RunDir(tmp_path).frame_dir(0) / ".other.ply.4242.tmp.ply"
    frame_tmp.write_bytes(b"p")
    mf.write_manifest(tmp_path, m)
    assert not stale.exists() and (static / "base.glb").exists()
    assert frame_tmp.exists()  # frames' temporaries are their tasks' business
