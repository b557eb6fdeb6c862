"""Wind particles: RK4 advection on the sphere against analytic solutions, seeding, respawn."""

from __future__ import annotations

import numpy as np
import pytest

from climate_pipeline import particles as P
from climate_pipeline.particles import (
    EARTH_RADIUS,
    ParticleSystem,
    WindField,
    WindGrid,
    advect,
    seed_particles,
)

R = EARTH_RADIUS
DEG = 180.0 / np.pi
NO_KERNEL = "C advection kernel not built (no C compiler at install; see test_kernels_built)"
# numpy and C: the C cases are skipped, and so recorded, where the kernel is missing
ENGINES = [pytest.param(False, id="numpy"),
           pytest.param(True, id="c", marks=pytest.mark.skipif(not P.kernel_available(),
                                                                reason=NO_KERNEL))]


def _global_grid(step=2.0, lon0=0.0, t=(0.0,), z=None, dup_end=False):
    n = int(round(360.0 / step)) + (1 if dup_end else 0)
    lon = lon0 + step * np.arange(n)
    lat = np.linspace(-90.0, 90.0, int(round(180.0 / step)) + 1)
    return WindGrid(lon=lon, lat=lat, t=np.asarray(t, dtype=float),
                    z=None if z is None else np.asarray(z, dtype=float))


def _nodes(grid):
    shape = (len(grid.t),) + ((len(grid.z),) if grid.z is not None else ()) + (
        len(grid.lat), len(grid.lon))
    if grid.z is None:
        T, Y, X = np.meshgrid(grid.t, grid.lat, grid.lon, indexing="ij")
        return T, None, Y, X, shape
    T, Z, Y, X = np.meshgrid(grid.t, grid.z, grid.lat, grid.lon, indexing="ij")
    return T, Z, Y, X, shape


@pytest.mark.parametrize("use_c", ENGINES)
def test_polar_solid_body_rotation_returns_after_one_period(use_c):
    U = 40.0
    g = _global_grid(2.0)
    _, _, Y, _, shape = _nodes(g)
    u = U * np.cos(np.deg2rad(Y))
    v = np.zeros(shape)
    lat0 = np.array([-60.0, -20.0, 0.0, 40.0, 70.0])  # on grid nodes: u exact there
    lon0 = np.array([3.0, 100.0, 181.0, 359.0, 250.5])
    period = 2 * np.pi * R / U
    tr = advect(lon0, lat0, None, u, v, None, g, 0.0, period, period / 50, frames=4,
                use_c=use_c)
    assert tr.alive.all()
    np.testing.assert_allclose(tr.lat[-1], lat0, atol=1e-12)
    dlon = (tr.lon[-1] - lon0 + 180.0) % 360.0 - 180.0
    np.testing.assert_allclose(dlon, 0.0, atol=1e-9)
    # a quarter period: 90 degrees east, wrapped into [0, 360)
    np.testing.assert_allclose(tr.lon[0], (lon0 + 90.0) % 360.0, atol=1e-9)
    np.testing.assert_allclose(tr.speed[0], U * np.cos(np.deg2rad(lat0)), rtol=1e-12)


def _tilted_field(step=0.25):
    """Solid-body rotation about the axis through (0E, 0N).

    u = -U sin(lat) cos(lon), v = U sin(lon).
    """
    g = _global_grid(step)
    _, _, Y, X, _ = _nodes(g)
    U = 50.0
    u = -U * np.sin(np.deg2rad(Y)) * np.cos(np.deg2rad(X))
    v = U * np.sin(np.deg2rad(X))
    return WindField(g, u, v), U


def _tilted_exact(lon0, lat0, angle):
    lo, la = np.deg2rad(lon0), np.deg2rad(lat0)
    x, y, z = np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)
    y2 = y * np.cos(angle) - z * np.sin(angle)
    z2 = y * np.sin(angle) + z * np.cos(angle)
    return np.rad2deg(np.arctan2(y2, x)) % 360.0, np.rad2deg(np.arcsin(z2))


def _great_circle_m(lon1, lat1, lon2, lat2):
    a, b = np.deg2rad(lat1), np.deg2rad(lat2)
    d = np.deg2rad(lon2 - lon1)
    c = np.clip(np.sin(a) * np.sin(b) + np.cos(a) * np.cos(b) * np.cos(d), -1, 1)
    return R * np.arccos(c)


def test_tilted_solid_body_rotation_analytic_and_fourth_order():
    field, U = _tilted_field(0.25)
    # circles of angular radius 30..50 degrees around the axis: they stay away from the poles
    lon0 = np.array([30.0, 40.0, 50.0, 320.0, 35.0])
    lat0 = np.array([0.0, 10.0, -5.0, 20.0, -30.0])
    period = 2 * np.pi * R / U
    t1 = 0.5 * period
    ex_lon, ex_lat = _tilted_exact(lon0, lat0, 2 * np.pi * t1 / period)
    errs = []
    for nsteps in (8, 16):
        tr = field.advect(lon0, lat0, None, 0.0, [t1], t1 / nsteps)
        assert tr.alive.all()
        errs.append(_great_circle_m(tr.lon[0], tr.lat[0], ex_lon, ex_lat).max())
    # the RK4 error over half a revolution in 8 steps is ~ (pi/8)^5/120 * 8 rad * R ~ 4 km
    assert errs[0] < 10e3
    assert errs[1] < 1e3
    order = np.log2(errs[0] / errs[1])
    assert 3.5 < order < 4.6, (errs, order)
    # fine steps: only the bilinear interpolation error of the 0.25 degree grid is left
    tr = field.advect(lon0, lat0, None, 0.0, [t1], t1 / 200)
    assert _great_circle_m(tr.lon[0], tr.lat[0], ex_lon, ex_lat).max() < 200.0


@pytest.mark.parametrize("use_c", ENGINES)
def test_constant_winds_exact_latitude_and_loxodrome_fourth_order(use_c):
    g = _global_grid(5.0)
    _, _, _, _, shape = _nodes(g)
    Uc, Vc = 15.0, 10.0
    u, v = np.full(shape, Uc), np.full(shape, Vc)
    lat0 = np.array([-40.0, 0.0, 12.3, 30.0])
    lon0 = np.array([10.0, 200.0, 33.3, 359.0])
    t1 = 3 * 86400.0
    phi1 = lat0 + Vc * t1 / R * DEG
    # dlon/dt = U / (R cos(lat)) with lat linear in t: lon = U/V ln(sec + tan) (Mercator)
    merc = lambda p: np.log(np.tan(np.pi / 4 + np.deg2rad(p) / 2))  # noqa: E731
    exact_lon = lon0 + Uc / Vc * (merc(phi1) - merc(lat0)) * DEG
    errs = []
    for dt in (4 * 3600.0, 2 * 3600.0):
        tr = advect(lon0, lat0, None, u, v, None, g, 0.0, t1, dt, use_c=use_c)
        np.testing.assert_allclose(tr.lat[0], phi1, rtol=0, atol=1e-10)  # dlat = v t / R
        d = (tr.lon[0] - exact_lon + 180.0) % 360.0 - 180.0
        errs.append(np.abs(d).max())
    assert errs[0] < 1e-4
    order = np.log2(errs[0] / errs[1])
    assert 3.5 < order < 4.6, (errs, order)


@pytest.mark.parametrize("use_c", ENGINES)
def test_time_interpolation_linear_between_levels(use_c):
    T = 6 * 3600.0
    g = _global_grid(5.0, t=(0.0, T, 2 * T))
    _, _, _, _, shape = _nodes(g)
    V = np.array([2.0, 10.0, 4.0])
    v = np.broadcast_to(V[:, None, None], shape).copy()
    u = np.zeros(shape)
    lat0 = np.array([-10.0, 5.0])
    lon0 = np.array([0.0, 90.0])
    t_out = np.array([0.5 * T, T, 1.5 * T, 2 * T, 2.5 * T])  # the last beyond the axis
    tr = advect(lon0, lat0, None, u, v, None, g, 0.0, 2.5 * T, 1800.0, frames=t_out,
                use_c=use_c)

    def disp(t):  # integral of the piecewise-linear v(t), constant after the last level
        tt = np.union1d(np.linspace(0, min(t, 2 * T), 5), [0.0, min(t, T)])  # kinks on nodes
        vv = np.interp(tt, [0, T, 2 * T], V)
        s = np.trapz(vv, tt)
        return s + max(t - 2 * T, 0.0) * V[-1]

    for f, t in enumerate(t_out):
        np.testing.assert_allclose(tr.lat[f], lat0 + disp(t) / R * DEG, rtol=0, atol=1e-10)
        np.testing.assert_allclose(tr.speed[f], np.interp(t, [0, T, 2 * T], V), rtol=1e-12)
    np.testing.assert_allclose(tr.lon, np.broadcast_to(lon0, tr.lon.shape), atol=1e-12)


@pytest.mark.parametrize("use_c", ENGINES)
def test_trilinear_interpolation_exact_for_linear_fields(use_c):
    grid = WindGrid(lon=np.linspace(-20.0, 30.0, 26), lat=np.linspace(10.0, 60.0, 21),
                    t=np.array([0.0]), z=np.array([0.0, 100.0, 300.0, 1000.0, 5000.0]))
    _, Z, Y, X, _ = _nodes(grid)
    lin = lambda x, y, z: 3.0 + 0.2 * x - 0.1 * y + 0.002 * z  # noqa: E731
    u = lin(X, Y, Z)
    v = -1.0 + 0.05 * X + 0.3 * Y - 0.001 * Z
    w = 0.01 * X - 0.02 * Y + 1e-4 * Z
    field = WindField(grid, u, v, w)
    rng = np.random.default_rng(3)
    x = rng.uniform(-20, 30, 500)
    y = rng.uniform(10, 60, 500)
    z = rng.uniform(0, 5000, 500)
    w3, inside = field.sample(0.0, x, y, z)
    assert inside.all()
    np.testing.assert_allclose(w3[0], lin(x, y, z), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(w3[1], -1.0 + 0.05 * x + 0.3 * y - 0.001 * z, atol=1e-12)
    np.testing.assert_allclose(w3[2], 0.01 * x - 0.02 * y + 1e-4 * z, atol=1e-12)
    # the kernel's own interpolation: speed at the start positions (no step)
    tr = field.advect(x, y, z, 0.0, [0.0], 60.0, use_c=use_c)
    np.testing.assert_allclose(tr.speed[0], np.sqrt((w3 ** 2).sum(axis=0)), rtol=1e-12)


@pytest.mark.parametrize("use_c", ENGINES)
@pytest.mark.parametrize("lon0,dup_end,start,expect", [
    (0.0, False, 359.0, 1.0), (0.0, True, 359.0, 1.0), (-180.0, False, 179.0, -179.0),
    (-180.0, False, -179.0, 179.0),
])
def test_longitude_wraps_across_the_dateline(use_c, lon0, dup_end, start, expect):
    g = _global_grid(2.0, lon0=lon0, dup_end=dup_end)
    _, _, _, _, shape = _nodes(g)
    U = 10.0 * (1 if expect != 179.0 else -1)
    u, v = np.full(shape, U), np.zeros(shape)
    t = 2.0 * np.deg2rad(1.0) * R / abs(U)  # 2 degrees at the equator
    tr = advect(np.array([start]), np.array([0.0]), None, u, v, None, g, 0.0, t, t / 7,
                use_c=use_c)
    assert tr.alive.all()
    np.testing.assert_allclose(tr.lon[0], expect, atol=1e-9)
    assert lon0 <= tr.lon[0, 0] < lon0 + 360.0


@pytest.mark.parametrize("use_c", ENGINES)
def test_particles_leaving_a_regional_domain_die(use_c):
    grid = WindGrid(lon=np.linspace(0.0, 10.0, 11), lat=np.linspace(40.0, 50.0, 11),
                    t=np.array([0.0, 1e6]), z=np.array([0.0, 1000.0, 2000.0]))
    _, _, _, _, shape = _nodes(grid)
    u = np.full(shape, 20.0)
    v = np.zeros(shape)
    w = np.full(shape, 0.01)
    field = WindField(grid, u, v, w)
    assert not field.periodic
    lon = np.array([9.5, 1.0, 1.0, 1.0])
    lat = np.array([45.0, 45.0, 45.0, 49.99])
    z = np.array([500.0, 500.0, 1990.0, 500.0])
    frames = np.arange(1, 7) * 3600.0  # 20 m/s: 0.72 degrees of longitude per hour at 45N
    tr = field.advect(lon, lat, z, 0.0, frames, 600.0, use_c=use_c)
    assert not tr.alive[1, 0]  # left through the east edge in the second hour
    assert tr.alive[:, 1].all()  # about 0.9 degree an hour: 6.5 E after 6 h
    assert not tr.alive[0, 2]  # through the top (z 1990 + 36 m)
    assert tr.alive[:, 3].all()  # v = 0: stays on its latitude
    # the dead keep their last position inside the domain
    assert 0.0 <= tr.lon[-1, 0] <= 10.0 and tr.z[-1, 2] <= 2000.0
    assert (tr.speed[~tr.alive] == 0).all()


def test_weighted_seeding_follows_the_weights():
    grid = WindGrid(lon=np.linspace(0.0, 9.0, 10), lat=np.linspace(0.0, 5.0, 6),
                    t=np.array([0.0]))
    shape = (1, 6, 10)
    field = WindField(grid, np.zeros(shape), np.zeros(shape))
    rng = np.random.default_rng(11)
    wgt = rng.uniform(0, 1, (6, 10)) ** 2
    wgt[2, 3] = 0.0
    n = 60000
    lon, lat, _ = seed_particles(field, n, np.random.default_rng(5), weights=wgt)
    i = np.rint(lon).astype(int)
    j = np.rint(lat).astype(int)
    counts = np.zeros((6, 10))
    np.add.at(counts, (j, i), 1)
    expected = n * wgt / wgt.sum()
    assert counts[2, 3] == 0
    m = expected > 0
    chi2 = (((counts - expected) ** 2)[m] / expected[m]).sum()
    dof = m.sum() - 1
    assert chi2 < dof + 6 * np.sqrt(2 * dof), chi2
    # uniform seeding: uniform in area (sin(lat) uniform)
    g = _global_grid(5.0)
    f2 = WindField(g, np.zeros((1, 37, 72)), np.zeros((1, 37, 72)))
    lo, la, _ = seed_particles(f2, 40000, np.random.default_rng(1))
    assert abs(np.mean(np.sin(np.deg2rad(la)))) < 0.02
    assert abs(np.mean(np.abs(np.sin(np.deg2rad(la)))) - 0.5) < 0.01
    assert lo.min() >= 0 and lo.max() < 360


def _regional_system(**kw):
    grid = WindGrid(lon=np.linspace(0.0, 20.0, 21), lat=np.linspace(30.0, 50.0, 21),
                    t=np.array([0.0, 86400.0]), z=np.array([0.0, 1000.0, 3000.0]))
    shape = (2, 3, 21, 21)
    rng = np.random.default_rng(0)
    u = 15.0 + rng.normal(0, 3, shape)
    v = rng.normal(0, 3, shape)
    w = rng.normal(0, 0.01, shape)
    return WindField(grid, u, v, w)


def test_respawn_keeps_count_and_renews_ids_and_ages():
    field = _regional_system()
    n = 500
    ps = ParticleSystem(field, n, dt=600.0, seed=4, batch=2, max_age=4 * 3600.0,
                        trail_length=5)
    ids0 = ps.id.copy()
    assert (ids0 >> P.ID_BATCH_SHIFT == 2).all() and len(np.unique(ids0)) == n
    seen = set(ids0.tolist())
    for k in range(1, 9):
        fr = ps.step_to(k * 3600.0)
        assert fr.lon.shape == (n,) and fr.time == k * 3600.0
        assert (fr.age < 4 * 3600.0).all() and (fr.age >= 0).all()
        # all positions valid (respawned ones inside the domain)
        assert ((fr.lon >= 0) & (fr.lon <= 20) & (fr.lat >= 30) & (fr.lat <= 50)).all()
        new = set(fr.id.tolist()) - seen
        seen |= new
        assert len(np.unique(fr.id)) == n
        assert (fr.speed > 0).all()
    assert len(seen) > n  # some were respawned (old or blown out east)
    pts, counts, rid = ps.trails()
    assert counts.sum() == len(pts) and (counts >= 2).all() and (counts <= 5).all()
    # a polyline's consecutive points are within one hour's travel (never across a respawn)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    seg = np.diff(pts, axis=0)
    inside = np.ones(len(pts) - 1, dtype=bool)
    inside[starts[1:] - 1] = False
    assert np.abs(seg[inside, 0]).max() < 2.0
    assert set(rid.tolist()) <= seen


def test_trails_break_where_the_id_changes():
    ids = np.array([[1, 1, 1, 1], [2, 2, 7, 7], [3, 8, 8, 9]])
    pos = np.arange(12 * 3, dtype=float).reshape(3, 4, 3)
    pts, counts, rid = P.trails_to_polylines(pos, ids)
    assert counts.tolist() == [4, 2, 2, 2]
    assert rid.tolist() == [1, 2, 7, 8]
    np.testing.assert_array_equal(pts[:4], pos[0])
    np.testing.assert_array_equal(pts[-2:], pos[2, 1:3])


def test_batches_are_deterministic_and_independent():
    field = _regional_system()
    times = np.arange(0, 5) * 3600.0
    kw = dict(seed=9, times=times, dt=900.0, max_age=7200.0, trail_length=3)
    a = P.advect_batch(field, 200, batch=0, **kw)
    b = P.advect_batch(field, 200, batch=0, **kw)
    c = P.advect_batch(field, 200, batch=1, **kw)
    for (fa, ta), (fb, tb) in zip(a, b, strict=True):
        np.testing.assert_array_equal(fa.lon, fb.lon)
        np.testing.assert_array_equal(fa.id, fb.id)
        np.testing.assert_array_equal(ta[0], tb[0])
    assert not np.allclose(a[0][0].lon, c[0][0].lon)
    assert not set(a[-1][0].id.tolist()) & set(c[-1][0].id.tolist())


def test_2d_field_weighted_system_runs():
    g = _global_grid(5.0, t=(0.0, 3600.0))
    shape = (2, 37, 72)
    field = WindField(g, np.full(shape, 10.0), np.full(shape, 1.0))
    wgt = np.zeros((37, 72))
    wgt[20, 10] = 1.0
    ps = ParticleSystem(field, 50, dt=300.0, weights=wgt, max_age=1e9, stagger_ages=False)
    assert np.all(np.abs(ps.lat - 10.0) <= 2.5) and np.all(np.abs(ps.lon - 50.0) <= 2.5)
    fr = ps.step_to(3600.0)
    assert (fr.z == 0).all() and (fr.age == 3600.0).all()


@pytest.mark.skipif(not P.kernel_available(), reason=NO_KERNEL)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("periodic", [True, False])
def test_c_kernel_equals_numpy_fallback(dtype, periodic):
    rng = np.random.default_rng(21)
    if periodic:
        lon = np.arange(0.0, 360.0, 3.0)
        lat = np.linspace(-87.0, 87.0, 59)
    else:
        lon = np.linspace(-30.0, 40.0, 36)
        lat = np.linspace(20.0, 70.0, 26)
    z = np.array([0.0, 200.0, 700.0, 1500.0, 4000.0, 9000.0])
    t = np.array([0.0, 5000.0, 12000.0, 20000.0])
    shape = (4, 6, lat.size, lon.size)
    u = rng.normal(10, 15, shape)
    v = rng.normal(0, 10, shape)
    w = rng.normal(0, 0.2, shape)
    field = WindField(WindGrid(lon, lat, t, z), u, v, w, dtype=dtype)
    n = 3000
    lo, la, zz = seed_particles(field, n, rng)
    frames = [1000.0, 4000.0, 9000.0, 15000.0, 21000.0]
    a = field.advect(lo, la, zz, 0.0, frames, 700.0, use_c=True)
    b = field.advect(lo, la, zz, 0.0, frames, 700.0, use_c=False)
    np.testing.assert_array_equal(a.alive, b.alive)
    assert 0.2 < a.alive[-1].mean() < 1.0  # some died, some lived: both paths exercised
    for k in ("lon", "lat", "z", "speed"):
        np.testing.assert_allclose(getattr(a, k), getattr(b, k), rtol=1e-9, atol=1e-9)
    # 2-D winds (no z, no w)
    f2 = WindField(WindGrid(lon, lat, t), u[:, 0], v[:, 0], dtype=dtype)
    a = f2.advect(lo, la, None, 0.0, frames, 700.0, use_c=True)
    b = f2.advect(lo, la, None, 0.0, frames, 700.0, use_c=False)
    np.testing.assert_array_equal(a.alive, b.alive)
    for k in ("lon", "lat", "z", "speed"):
        np.testing.assert_allclose(getattr(a, k), getattr(b, k), rtol=1e-9, atol=1e-9)


@pytest.mark.skipif(not P.kernel_available(), reason=NO_KERNEL)
@pytest.mark.parametrize("periodic", [True, False])
def test_vector_kernels_are_bit_identical_to_the_scalar_one(periodic, monkeypatch):
    """The AVX2 and AVX-512 paths (chosen by CPU) give exactly the scalar path's numbers, with
    particles dying mid-step and a last block shorter than a vector (n = 1001)."""
    from climate_pipeline import _advect_c

    rng = np.random.default_rng(5)
    lon = np.arange(0.0, 360.0, 4.0) if periodic else np.linspace(-30.0, 40.0, 36)
    lat = np.linspace(-80.0, 80.0, 41) if periodic else np.linspace(20.0, 70.0, 26)
    z = np.array([0.0, 150.0, 600.0, 2000.0, 6000.0])
    t = np.array([0.0, 4000.0, 9000.0])
    shape = (3, 5, lat.size, lon.size)
    field = WindField(WindGrid(lon, lat, t, z), rng.normal(10, 25, shape),
                      rng.normal(0, 15, shape), rng.normal(0, 0.3, shape), dtype=np.float32)
    lo, la, zz = seed_particles(field, 1001, rng)
    frames = [500.0, 3000.0, 8000.0, 9500.0]
    runs = {}
    for isa in ("scalar", "avx2", "best"):
        monkeypatch.setenv("VIZPIPE_ADVECT_ISA", isa)
        runs[isa] = field.advect(lo, la, zz, 0.0, frames, 600.0, use_c=True)
    assert 0.1 < runs["scalar"].alive[-1].mean() < 0.95
    for isa in ("avx2", "best"):
        for k in ("lon", "lat", "z", "speed", "alive"):
            np.testing.assert_array_equal(getattr(runs[isa], k), getattr(runs["scalar"], k))
    monkeypatch.setenv("VIZPIPE_ADVECT_ISA", "scalar")
    assert _advect_c.isa() == "scalar"
    monkeypatch.delenv("VIZPIPE_ADVECT_ISA")
    assert _advect_c.isa() in ("scalar", "avx2", "avx512f")


def test_bad_grids_are_refused():
    g = WindGrid(lon=np.array([0.0, 1.0, 3.0]), lat=np.array([0.0, 1.0]), t=np.array([0.0]))
    with pytest.raises(ValueError, match="evenly spaced"):
        WindField(g, np.zeros((1, 2, 3)), np.zeros((1, 2, 3)))
    g = WindGrid(lon=np.array([0.0, 1.0, 2.0]), lat=np.array([0.0, 1.0]), t=np.array([0.0]))
    with pytest.raises(ValueError, match="shape"):
        WindField(g, np.zeros((1, 3, 2)), np.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match="vertical"):
        WindField(g, np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match="dtype"):
        WindField(g, np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), dtype=np.int32)


# --- streamlines ---------------------------------------------------------------------------------
def _zonal(lon, lat, U=20.0, times=(0.0, 3600.0)):
    t = np.asarray(times)
    _T, Y, _X = np.meshgrid(t, lat, lon, indexing="ij")
    u = U * np.cos(np.deg2rad(Y))
    return P.WindField(P.WindGrid(lon, lat, t, None), u, 0 * u, dtype=np.float32)


@pytest.mark.parametrize("use_c", ENGINES)
def test_streamlines_of_solid_body_rotation_are_latitude_circles(use_c):
    U, k, dur = 20.0, 12, 6 * 3600.0
    f = _zonal(np.arange(0.0, 360.0, 2.0), np.linspace(-80, 80, 81), U)
    pts, counts, spd, seeds = P.streamlines(f, 1800.0, [10.0, 100.0], [30.0, -45.0],
                                           duration=dur, n_points=k, use_c=use_c)
    assert counts.tolist() == [2 * k + 1] * 2 and seeds.tolist() == [0, 1]
    first = pts[:counts[0]]
    np.testing.assert_allclose(first[:, 1], 30.0, atol=1e-9)  # stays on its latitude circle
    step = U * dur / k / R * DEG  # u / (R cos lat) * dt, with u = U cos lat
    lon = np.unwrap(first[:, 0], period=360.0)
    np.testing.assert_allclose(np.diff(lon), step, rtol=1e-5)  # upstream to downstream
    assert lon[k] == pytest.approx(10.0)  # the seed is the middle point
    np.testing.assert_allclose(spd[:counts[0]], U * np.cos(np.deg2rad(30.0)), rtol=1e-5)


@pytest.mark.parametrize("use_c", ENGINES)
def test_streamlines_stop_at_the_domain_edge(use_c):
    f = _zonal(np.linspace(-10.0, 10.0, 21), np.linspace(30, 50, 21), U=30.0)
    pts, counts, _spd, seeds = P.streamlines(f, 0.0, [0.0, 50.0], [40.0, 40.0],
                                            duration=24 * 3600.0, n_points=20, use_c=use_c)
    assert seeds.tolist() == [0]  # the seed outside the domain gives no line
    assert 2 <= counts[0] < 41  # 30 m/s for a day leaves a 20-degree box both ways
    assert pts[:, 0].min() >= -10.0 and pts[:, 0].max() <= 10.0


def test_frozen_winds_interpolate_linearly_in_time():
    lon, lat = np.arange(0.0, 360.0, 10.0), np.linspace(-60, 60, 13)
    t = np.array([0.0, 3600.0, 7200.0])
    _T, _Y, X = np.meshgrid(t, lat, lon, indexing="ij")
    u = 5.0 + _T / 3600.0 * np.cos(np.deg2rad(X))
    f = P.WindField(P.WindGrid(lon, lat, t, None), u, 0 * u, dtype=np.float32)
    fz = f.frozen(5400.0)
    assert fz.nt == 1 and f.nt == 3  # the original is untouched
    w3, inside = fz.sample(0.0, np.array([0.0, 180.0]), np.array([0.0, 0.0]), None)
    np.testing.assert_allclose(w3[0], [6.5, 3.5], rtol=1e-6)
    back = f.frozen(5400.0, -1.0)
    np.testing.assert_allclose(back.sample(0.0, np.array([0.0]), np.array([0.0]), None)[0][0],
                               -6.5, rtol=1e-6)


def _windows_case(nt=9, step=3600.0):
    """Regional 3-D winds varying in time, space and height (u, v, w), nt hourly steps."""
    grid = WindGrid(lon=np.linspace(-10.0, 20.0, 31), lat=np.linspace(30.0, 55.0, 26),
                    t=np.arange(nt) * step, z=np.array([0.0, 500.0, 1500.0, 4000.0]))
    T, Z, Y, X = np.meshgrid(grid.t, grid.z, grid.lat, grid.lon, indexing="ij")
    u = 6.0 + 3.0 * np.sin(T / 7000.0 + X / 9.0) + 0.001 * Z
    v = 2.0 * np.cos(T / 5000.0 - Y / 7.0)
    w = 0.02 * np.sin(X / 5.0) * np.cos(T / 9000.0)
    return grid, u, v, w


@pytest.mark.parametrize("use_c", ENGINES)
@pytest.mark.parametrize("steps", [2, 3, 9])
def test_wind_windows_advect_like_the_whole_field(use_c, steps):
    """Particles advected through a window of ``steps`` time steps end where they end in the
    whole field (each window's RK4 sequence stops at its last step: RK4-close, not bitwise;
    with every step in one window, identical), the window never holds more steps than asked,
    and each window is read once on the way forward."""
    grid, u, v, w = _windows_case()
    whole = WindField(grid, u, v, w, dtype=np.float32)
    held = []

    def load(i0, i1):
        held.append(i1 - i0 + 1)
        g = WindGrid(grid.lon, grid.lat, grid.t[i0:i1 + 1], grid.z)
        return WindField(g, u[i0:i1 + 1], v[i0:i1 + 1], w[i0:i1 + 1], dtype=np.float32)

    win = P.WindWindows(load, grid.t, steps)
    times = np.array([0.0, 2.5, 5.0, 8.0]) * 3600.0
    a = P.advect_batch(whole, 400, seed=3, batch=1, times=times, dt=600.0, max_age=5 * 3600,
                       trail_length=3, use_c=use_c)
    b = P.advect_batch(win, 400, seed=3, batch=1, times=times, dt=600.0, max_age=5 * 3600,
                       trail_length=3, use_c=use_c)
    assert max(held) <= steps and win.loads == len(held)
    assert win.loads == (1 if steps >= 9 else int(np.ceil(8 / (steps - 1))))
    for (fa, _), (fb, _) in zip(a, b, strict=True):
        np.testing.assert_array_equal(fa.id, fb.id)  # the same respawns
        tol = 0 if steps >= 9 else 1e-6
        np.testing.assert_allclose(fb.lon, fa.lon, rtol=0, atol=tol)
        np.testing.assert_allclose(fb.lat, fa.lat, rtol=0, atol=tol)
        np.testing.assert_allclose(fb.z, fa.z, rtol=0, atol=1e3 * tol)
        np.testing.assert_allclose(fb.speed, fa.speed, rtol=1e-5, atol=1e-6)
    assert any(np.abs(fa.lon - a[0][0].lon).max() > 0.5 for fa, _ in a[1:])  # they moved


@pytest.mark.parametrize("steps,prefetch", [(2, False), (2, True), (3, True)])
def test_wind_windows_read_each_step_once_and_prefetch_changes_nothing(steps, prefetch):
    """Forward through the run, a window that overlaps the one in hand keeps their shared
    steps: every step is read exactly once (the old windows re-read their overlap), in at
    most ``steps`` at a time; reading ahead in a thread gives bit-identical particles."""
    import threading

    grid, u, v, w = _windows_case()
    read: list[int] = []
    threads = set()

    def load(i0, i1):
        read.extend(range(i0, i1 + 1))
        threads.add(threading.current_thread().name)
        assert i1 - i0 + 1 <= steps
        g = WindGrid(grid.lon, grid.lat, grid.t[i0:i1 + 1], grid.z)
        return WindField(g, u[i0:i1 + 1], v[i0:i1 + 1], w[i0:i1 + 1], dtype=np.float32)

    times = np.arange(0.0, 8.01, 0.5) * 3600.0
    ref = P.advect_batch(P.WindWindows(load, grid.t, steps), 300, seed=5, batch=0,
                         times=times, dt=600.0, max_age=4 * 3600, trail_length=2)
    read.clear()
    threads.clear()
    with P.WindWindows(load, grid.t, steps, prefetch=prefetch) as win:
        got = P.advect_batch(win, 300, seed=5, batch=0, times=times, dt=600.0,
                             max_age=4 * 3600, trail_length=2, lazy=True)
        got = list(got)
        assert win.steps_read == len(read)
    assert sorted(read) == list(range(grid.t.size))  # each step once
    assert any(n.startswith("wind-prefetch") for n in threads) == prefetch
    for (fa, ta), (fb, tb) in zip(ref, got, strict=True):
        for k in ("lon", "lat", "z", "speed", "age", "id"):
            np.testing.assert_array_equal(getattr(fb, k), getattr(fa, k))
        np.testing.assert_array_equal(tb[0], ta[0])


def test_wind_windows_streamlines_and_sampling_pick_the_bracketing_steps():
    grid, u, v, w = _windows_case()
    whole = WindField(grid, u, v, w, dtype=np.float32)
    win = P.WindWindows(lambda i0, i1: WindField(
        WindGrid(grid.lon, grid.lat, grid.t[i0:i1 + 1], grid.z), u[i0:i1 + 1], v[i0:i1 + 1],
        w[i0:i1 + 1], dtype=np.float32), grid.t, 2)
    lon, lat, z = np.array([0.0, 5.0]), np.array([40.0, 45.0]), np.array([100.0, 2000.0])
    for t in (0.0, 3600.0 * 4.3, 3600.0 * 8):  # late, then back to an early time
        np.testing.assert_array_equal(win.sample(t, lon, lat, z)[0],
                                      whole.sample(t, lon, lat, z)[0])
        np.testing.assert_array_equal(win.frozen(t).data, whole.frozen(t).data)
