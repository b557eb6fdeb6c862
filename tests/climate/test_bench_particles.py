"""Particle advection throughput: 1e6 particles, RK4 through 3-D time-dependent winds.

Grid 4 time levels x 20 heights x 181 latitudes x 360 longitudes (global, periodic), smooth
jet-like winds with w; one process, one thread (the C kernel has no threads of its own).
The target figure uses float32 winds (the kernel's vector path, AVX-512F or AVX2 chosen by
CPU, else scalar); float64 winds are reported alongside without a target.
Figure: particle-steps per second (one RK4 step = 4 trilinear x time-linear wind samples),
target >= 10 M/s per core (the issue's "Scale and speed").
"""

from __future__ import annotations

import numpy as np
import pytest

from climate_pipeline import particles as P

pytestmark = pytest.mark.benchmark

N = 1_000_000
STEPS = 12  # 2 output frames of 6 RK4 steps each


@pytest.fixture(scope="module")
def field():
    lon = np.arange(0.0, 360.0, 1.0)
    lat = np.linspace(-90.0, 90.0, 181)
    z = np.linspace(0.0, 19000.0, 20)
    t = np.arange(4) * 21600.0
    T, Z, Y, X = np.meshgrid(t, z, lat, lon, indexing="ij", sparse=True)
    rl, rx = np.deg2rad(Y), np.deg2rad(X)
    u = 25.0 * np.cos(rl) * (1 + Z / 20000.0) + 6.0 * np.sin(3 * rx + T / 5e4)
    v = 8.0 * np.cos(2 * rx - T / 4e4) * np.cos(rl) + 0 * Z
    w = 0.05 * np.sin(4 * rx) * np.cos(rl) * np.sin(np.pi * Z / 19000.0) + 0 * T
    shape = (4, 20, 181, 360)
    args = (P.WindGrid(lon, lat, t, z), np.broadcast_to(u, shape), np.broadcast_to(v, shape),
            np.broadcast_to(w, shape))
    return {np.float32: P.WindField(*args, dtype=np.float32),
            np.float64: P.WindField(*args, dtype=np.float64)}


@pytest.mark.skipif(not P.kernel_available(),
                    reason="C advection kernel not built (no C compiler at install)")
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
def test_bench_particle_advection(benchmark, report_ratio, field, dtype):
    field = field[dtype]
    rng = np.random.default_rng(0)
    lon, lat, z = P.seed_particles(field, N, rng, z_range=(200.0, 18000.0))
    frames = [3600.0, 7200.0]

    def run():
        return field.advect(lon, lat, z, 0.0, frames, 600.0)

    tr = benchmark.pedantic(run, rounds=3, warmup_rounds=0)
    assert tr.lon.shape == (2, N)
    assert tr.alive[-1].mean() > 0.95
    rate = N * STEPS / benchmark.stats.stats.min
    benchmark.extra_info.update(particle_steps_per_s=rate)
    if dtype is np.float32:  # the fast path: float32 winds (as NetCDF usually stores them)
        from climate_pipeline import _advect_c

        report_ratio("particle advection, particle-steps per second per core", rate / 1e6,
                     10.0, unit="M/s", reference=f"{_advect_c.isa()} path")
    else:
        report_ratio("particle advection, float64 winds, M steps/s per core", rate / 1e6,
                     None, unit="M/s")
    assert rate > 1e6  # a sanity floor; the target is reported, not asserted
