"""Memory asserted: the climate command's peak RSS (whole process tree, workers included) must
not grow with the number of time steps (issue #14, part 4; the reading itself is issue #15).

Memory, unlike time, is not noisy: the same command on the same file peaks within a few MB
on any machine. Two CF-NetCDF files differ only in their number of time steps (4 and 48) on
the same grid, each with a pollutant and u, v, w winds: the 48-step file (211 MB) is several
times the per-task memory budget the test sets (``VIZPIPE_MEMORY_BUDGET_MB``, 64 MB; the knob
the windowed reading of issue #15 sizes its window from, so that a small field may still be
read whole only when it fits). The command runs with every stage on (isosurfaces, volume,
layer, particles, streamlines; no render), the same output frames and particles, one worker.
A design that reads per frame and per window of time steps peaks the same on both files, up
to the budget; one that reads the whole wind field for each particle batch grows by the
48-step winds and their copies (before issue #15: +605 MB; 399 MB at 4 steps, 1004 MB at
48). Since: particle batches read the winds through a window of time steps sized from the
budget (``particles.WindWindows``), and netCDF-C's chunk cache is bounded (it kept up to
64 MiB of past steps per variable): +37 MB (363 MB, 400 MB).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
NZ, NY, NX = 10, 120, 240
STEP_MB = 4 * NZ * NY * NX * 4 / 2**20  # one time step of the 4 variables, float32: 4.4 MB
BUDGET_MB = 64  # the per-task budget the run is given; the file holds 48 steps = 211 MB
FLAGS = ["--var", "pm25", "--wind", "u,v,w", "--no-render", "--frames", "4",
         "--particles", "3000", "--batches", "1", "--workers", "1", "--coastlines", "110m"]


def write_steps(path: Path, nt: int) -> Path:
    """pm25 + u, v, w on (nt, NZ, NY, NX), written one time step at a time (netCDF4)."""
    import netCDF4

    tmp = path.with_suffix(".part.nc")
    with netCDF4.Dataset(tmp, "w") as ds:
        for name, n in (("time", None), ("height", NZ), ("lat", NY), ("lon", NX)):
            ds.createDimension(name, n)
        t = ds.createVariable("time", "f8", ("time",))
        t.units, t.calendar, t.standard_name = "hours since 2026-01-01", "standard", "time"
        h = ds.createVariable("height", "f4", ("height",))
        h.units, h.positive, h.standard_name = "m", "up", "height"
        h[:] = np.linspace(0, 7000, NZ)
        la = ds.createVariable("lat", "f4", ("lat",))
        la.units, la.standard_name = "degrees_north", "latitude"
        la[:] = np.linspace(35, 55, NY)
        lo = ds.createVariable("lon", "f4", ("lon",))
        lo.units, lo.standard_name = "degrees_east", "longitude"
        lo[:] = np.linspace(-15, 25, NX)
        dims = ("time", "height", "lat", "lon")
        out = {}
        for name, units, std in (("pm25", "ug m-3", "mass_concentration_of_pm2p5_ambient_"
                                  "aerosol_particles_in_air"), ("u", "m s-1", "eastward_wind"),
                                 ("v", "m s-1", "northward_wind"),
                                 ("w", "m s-1", "upward_air_velocity")):
            var = ds.createVariable(name, "f4", dims, chunksizes=(1, NZ, NY, NX))
            var.units, var.standard_name = units, std
            out[name] = var
        y = np.linspace(-1, 1, NY, dtype=np.float32)[None, :, None]
        x = np.linspace(-1, 1, NX, dtype=np.float32)[None, None, :]
        z = np.linspace(0, 1, NZ, dtype=np.float32)[:, None, None]
        for k in range(nt):
            ph = 2 * np.pi * k / max(nt, 2)
            cx = 0.5 * np.cos(ph)
            out["pm25"][k] = (5 + 80 * np.exp(-((x - cx) ** 2 + y**2) / 0.05 - z**2 / 0.2)
                              ).astype(np.float32)
            out["u"][k] = np.broadcast_to(8 + 4 * y * np.cos(ph) + 2 * z, (NZ, NY, NX))
            out["v"][k] = np.broadcast_to(3 * np.sin(np.pi * x + ph) + 0 * z, (NZ, NY, NX))
            out["w"][k] = np.broadcast_to(0.01 * np.cos(np.pi * x) * y + 0 * z, (NZ, NY, NX))
            t[k] = k
    tmp.rename(path)
    return path


def peak_tree_rss(argv: list[str], env: dict, log: Path) -> float:
    """Run ``argv``; the peak of the summed RSS of the process and all its descendants,
    sampled every 20 ms (MB); the run must succeed."""
    from vizpipe_app.bigrun import peak_tree_rss as _peak

    rc, _wall, peak = _peak(argv, env, log, cwd=ROOT, timeout=900)
    assert rc == 0, log.read_text()[-3000:]
    return peak


@pytest.fixture(scope="module")
def peaks(tmp_path_factory) -> dict[int, float]:
    root = tmp_path_factory.mktemp("memory")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIZPIPE_MEMORY_BUDGET_MB": str(BUDGET_MB)}
    env.pop("VIZPIPE_ENGINE", None)
    out = {}
    for nt in (4, 48):
        src = write_steps(root / f"steps{nt}.nc", nt)
        out[nt] = peak_tree_rss([sys.executable, "-m", "climate_pipeline", str(src),
                                 "--out", str(root / f"run{nt}"), *FLAGS], env,
                                root / f"run{nt}.log")
        src.unlink()
    return out


def test_peak_rss_does_not_grow_with_time_steps(peaks):
    growth = peaks[48] - peaks[4]
    assert growth < BUDGET_MB, (
        f"peak RSS of the process tree: {peaks[4]:.0f} MB for 4 steps, {peaks[48]:.0f} MB for "
        f"48 steps of {STEP_MB:.1f} MB (+{growth:.0f} MB; allowed: the {BUDGET_MB} MB budget)")


def test_peak_rss_stays_under_what_a_task_declares(peaks):
    """The 48-step file is 3.3 times the budget; the whole command (master and task in one
    process: one worker) stays under what one task declares, the budget plus a fixed
    overhead for the interpreter and libraries (``core.memory.task_memory_mb``)."""
    from core.memory import TASK_BASE_MB

    file_mb = 48 * STEP_MB
    assert file_mb > 3 * BUDGET_MB
    assert peaks[48] < BUDGET_MB + TASK_BASE_MB, (
        f"peak RSS {peaks[48]:.0f} MB for a {file_mb:.0f} MB file, budget {BUDGET_MB} MB: "
        f"more than the budget + {TASK_BASE_MB} MB")


def test_the_measurement_sees_the_workers(tmp_path):
    """peak_tree_rss sums the descendants: a child holding 200 MB counts."""
    code = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
            "'import numpy as np, time; a = np.ones(25_000_000); time.sleep(1.0)'], check=True)")
    peak = peak_tree_rss([sys.executable, "-c", code], dict(os.environ), tmp_path / "log")
    assert peak > 190
