"""Wind streaks: each particle's path over the last ``trail_hours`` of flow, sampled at the
advection sub-steps, ending at the particle, fading towards the tail, coloured by speed."""

from __future__ import annotations

import numpy as np
import pytest

from climate_pipeline import default_data as dd
from climate_pipeline import particles as P
from climate_pipeline.__main__ import main
from climate_pipeline.settings import TRAIL_HOURS, build_parser, settings_from_args
from core.manifest import read_manifest
from core.rundir import RunDir

R_KM = P.EARTH_RADIUS / 1e3
SMALL = {"nlon": 40, "nlat": 28, "nz": 6, "hours": 4}


def _uniform(speed=10.0, hours=24):
    lon = np.linspace(-10.0, 10.0, 41)
    lat = np.linspace(30.0, 50.0, 41)
    t = np.arange(hours + 1) * 3600.0
    u = np.full((t.size, lat.size, lon.size), speed)
    return P.WindField(P.WindGrid(lon, lat, t), u, np.zeros_like(u))


def _runs(counts):
    st = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return st, st + counts - 1


@pytest.mark.parametrize("use_c", [None, False])
def test_uniform_wind_streak_is_straight_of_speed_times_duration_ending_at_the_head(use_c):
    field = _uniform(10.0)
    dur = 1.5 * 3600.0
    ps = P.ParticleSystem(field, 300, dt=600.0, seed=2, max_age=1e9, use_c=use_c,
                          trail_duration=dur)
    ref = P.ParticleSystem(field, 300, dt=600.0, seed=2, max_age=1e9, use_c=use_c)
    for k in (1, 2, 3):
        t = k * 3.0 * 3600.0 + 77.0  # not a multiple of dt: sub-steps a little shorter
        a, b = ps.step_to(t), ref.step_to(t)
        np.testing.assert_array_equal(a.id, b.id)  # the same respawns
        np.testing.assert_allclose(a.lon, b.lon, rtol=0, atol=1e-10)  # rounding only
        pts, counts, ids, speed, fade = ps.streaks()
        assert len(counts) > 0.8 * ps.n and counts.max() <= ps.trail_points + 1
        st, en = _runs(counts)
        where = {int(i): j for j, i in enumerate(ps.id)}
        j = np.array([where[int(i)] for i in ids])
        # the head is the particle
        np.testing.assert_array_equal(pts[en, 0], ps.lon[j])
        np.testing.assert_array_equal(pts[en, 1], ps.lat[j])
        full = counts == counts.max()
        # eastward only (a parallel: lat constant), length = speed * duration (one sub-step)
        np.testing.assert_allclose(pts[:, 1], np.repeat(pts[st, 1], counts), atol=1e-9)
        km = (pts[en, 0] - pts[st, 0]) * np.pi / 180 * R_KM * np.cos(np.radians(pts[st, 1]))
        assert np.abs(km[full] - 10.0 * dur / 1e3).max() < 10.0 * 600.0 / 1e3
        assert np.abs(km[full] - 10.0 * dur / 1e3).max() < 1e-6  # trimmed exactly
        assert (km > 0).all() and (km <= 10.0 * dur / 1e3 + 1e-6).all()
        # fade: 0 at the tail, 1 at the head, increasing; speed per point
        assert (fade[st] == 0).all() and (fade[en] == 1).all()
        same = np.ones(len(fade) - 1, dtype=bool)
        same[en[:-1]] = False
        assert (np.diff(fade)[same] > 0).all()
        assert speed.dtype == np.float32 and fade.dtype == np.float32
        np.testing.assert_allclose(speed, 10.0, rtol=1e-6)


def test_respawn_breaks_the_tail_and_a_new_particle_has_a_traced_back_streak():
    field = _uniform(10.0)
    ps = P.ParticleSystem(field, 400, dt=600.0, seed=3, max_age=3 * 3600.0,
                          stagger_ages=False, trail_duration=3600.0)
    pts, counts, ids, _, _ = ps.streaks()  # at the start: traced back already
    assert len(counts) > 300
    old = set(ps.id.tolist())
    ps.step_to(3 * 3600.0)  # every particle is 3 h old: all respawn
    assert not set(ps.id.tolist()) & old
    pts, counts, ids, speed, fade = ps.streaks()
    assert not set(ids.tolist()) & old  # no tail of a respawned particle is left
    assert set(ids.tolist()) <= set(ps.id.tolist()) and len(counts) > 300
    st, en = _runs(counts)
    seg = np.abs(np.diff(pts[:, 0]))
    inner = np.ones(len(seg), dtype=bool)
    inner[en[:-1]] = False
    assert seg[inner].max() < 0.2  # consecutive samples 10 min apart, never across respawns
    # a respawn in the middle of a row of samples breaks it in two runs
    pos = np.arange(2 * 4 * 3, dtype=float).reshape(2, 4, 3)
    tid = np.array([[1, 1, 5, 5], [2, 2, 2, 2]])
    _, c, rid = P.trails_to_polylines(pos, tid)
    assert c.tolist() == [2, 2, 4] and rid.tolist() == [1, 5, 2]


def test_streaks_hold_a_bounded_number_of_samples():
    field = _uniform(10.0)
    ps = P.ParticleSystem(field, 50, dt=600.0, seed=1, max_age=1e9, trail_duration=4 * 3600.0,
                          trail_points=6)
    assert ps._trail_every == 5  # 24 sub-steps in 4 h, at most 6 points: every 5th
    for k in range(1, 6):
        ps.step_to(k * 4.0 * 3600.0)
        assert len(ps._streak) <= 7
    _, counts, *_ = ps.streaks()
    assert counts.max() <= 7


def test_advect_batch_yields_streaks_and_windows_agree():
    field = _uniform(8.0, hours=10)
    t = field.t
    steps = {"n": 0}

    def load(i0, i1):
        steps["n"] += 1
        return P.WindField(P.WindGrid(field.lon, field.lat, t[i0:i1 + 1]),
                           field.data[i0:i1 + 1, 0, :, :, 0], field.data[i0:i1 + 1, 0, :, :, 1])

    times = np.linspace(0.0, 9.5 * 3600.0, 4)
    kw = dict(seed=5, batch=0, times=times, dt=600.0, max_age=6 * 3600.0, trail_duration=5400.0)
    a = P.advect_batch(field, 100, **kw)
    b = P.advect_batch(P.WindWindows(load, t, steps=3), 100, **kw)
    for (fa, sa), (fb, sb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(fa.id, fb.id)
        assert len(sa) == 5 and len(sa[1]) > 50
        np.testing.assert_array_equal(sa[1], sb[1])
        np.testing.assert_allclose(sb[0], sa[0], atol=1e-9)


# --- files and the manifest ------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_nc(tmp_path_factory):
    return dd.write_netcdf(tmp_path_factory.mktemp("streaks") / "pm10.nc", SMALL)


def _run(small_nc, out, *flags):
    assert main([str(small_nc), "--out", str(out), "--var", "pm10", "--no-render",
                 "--thresholds", "13", "--frames", "3", "--particles", "200", "--batches", "1",
                 "--engine", "serial", "--coastlines", "110m", "--streamlines", "0",
                 *flags]) == 0
    return read_manifest(out)


def test_streak_files_manifest_and_rerun_with_new_trail_hours(small_nc, tmp_path):
    out = tmp_path / "run"
    man = _run(small_nc, out)
    (a,) = [a for a in man["frames"][2]["assets"] if a["name"] == "trails_b00"]
    assert a["kind"] == "curves" and not a.get("hidden", False)  # visible by default
    assert a["colormap"] == {"name": "lajolla[0.35:1]", "vmin": 0.0, "vmax": a["colormap"]["vmax"],
                             "attribute": "speed", "units": "m/s"}
    assert a["opacity_attribute"] == "fade" and a["emission"] == 0.6
    assert a["radius"] == pytest.approx(1.0) and a["label"] == "wind streaks (speed)"
    assert man["legend"]["items"][-1]["label"] == "wind streaks (speed)"  # after the levels
    from core.io.gltf import read_glb
    from core.io.usd import read_usd

    glb = read_glb(out / a["path"])
    assert {"speed", "fade"} <= set(glb.attributes) and len(glb.counts) > 100
    assert glb.colors is not None and len(glb.colors) == len(glb.points)
    st, en = _runs(glb.counts)
    np.testing.assert_array_equal(glb.attributes["fade"][st], 0)
    np.testing.assert_array_equal(glb.attributes["fade"][en], 1)
    (usd_path,) = [p for p in a["alternates"] if p.endswith((".usdc", ".usd", ".usda"))]
    usd = read_usd(out / usd_path)
    for k in ("speed", "fade"):
        np.testing.assert_allclose(usd.attributes[k], glb.attributes[k], rtol=1e-6)
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(str(out / usd_path))
    (curves,) = [p for p in stage.Traverse() if p.IsA(UsdGeom.BasisCurves)]
    pv = UsdGeom.PrimvarsAPI(curves)
    assert pv.GetPrimvar("speed").GetInterpolation() == UsdGeom.Tokens.vertex
    assert pv.GetPrimvar("fade").IsDefined()
    # another --trail-hours: the trails are rewritten, the particles' files kept
    fdir = RunDir(out).frame_dir(2)
    before = {p.name: p.stat().st_mtime_ns for p in fdir.iterdir()}
    man = _run(small_nc, out, "--trail-hours", "0.5")
    after = {p.name: p.stat().st_mtime_ns for p in fdir.iterdir()}
    assert after["particles_b00.glb"] == before["particles_b00.glb"]
    assert after["trails_b00.glb"] != before["trails_b00.glb"]
    shorter = read_glb(fdir / "trails_b00.glb")
    assert shorter.counts.max() < glb.counts.max()
    assert man["provenance"]["settings"]["trail_hours"] == 0.5


def test_hide_trails_and_no_trails(small_nc, tmp_path):
    man = _run(small_nc, tmp_path / "hide", "--hide-trails")
    (a,) = [a for a in man["frames"][1]["assets"] if a["name"] == "trails_b00"]
    assert a["hidden"] is True
    assert man["legend"]["items"][-1]["label"] == "wind particles (speed)"
    man = _run(small_nc, tmp_path / "none", "--trail-hours", "0")
    assert not [a for f in man["frames"] for a in f["assets"] if a["name"] == "trails_b00"]
    assert not list(RunDir(tmp_path / "none").frame_dir(1).glob("trails_*"))


def test_trail_settings():
    ap = build_parser()
    s = settings_from_args(ap.parse_args(["x.nc", "--out", "o"]))
    assert s.trail_hours == TRAIL_HOURS and not s.hide_trails
    s = settings_from_args(ap.parse_args(["x.nc", "--out", "o", "--show-trails",
                                                "--trail-hours", "2"]))
    assert s.trail_hours == 2.0 and not s.hide_trails  # --show-trails: accepted, a no-op
    assert "--show-trails" not in ap.format_help()
    assert f"[{TRAIL_HOURS:g}]" in " ".join(ap.format_help().split())
    with pytest.raises(SystemExit):
        ap.parse_args(["x.nc", "--out", "o", "--trail-hours", "-1"])
