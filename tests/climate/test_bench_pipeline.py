"""Whole-process climate benchmarks: 2-worker per-frame speedup, and the scale check (a large
CF file with default flags, 1 and 2 workers: time and peak RSS of the process tree). Inputs
are generated once into ``out/bench-data``."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.benchmark

DATA = Path("out/bench-data")


def _frame_params(path: Path):
    """The command's frame parameters for ``path`` at default formats and level of detail
    (the view area as ``climate_pipeline.pipeline.run_params`` computes it), in the file's
    units."""
    from climate_pipeline.frames import open_field, projection
    from climate_pipeline.manifest import scene_corners
    from climate_pipeline.params import FrameParams, Lod, Projection
    from core.lod import view_area

    proj = Projection(mode="map", exaggeration=50.0)
    f = open_field([str(path)], None)
    c = scene_corners(f, projection(proj, f.lon, f.lat))
    return FrameParams(projection=proj, thresholds=(30.0, 60.0), range=(5.0, 105.0),
                       units=f.units, scale=1.0, quantity=None, levels_rule="--thresholds",
                       colormap="lajolla", volume=True, formats=("usd", "glb"),
                       lod=Lod(full_res=False, resolution=(800, 450),
                               view_area=view_area(np.array([c.min(0), c.max(0)]))))


def test_per_frame_speedup_two_workers(benchmark, tmp_path, report_ratio):
    """The per-frame stage (read one step, isosurfaces, VDB, layer, GLB+USD) through the
    local engine, warm, 1 worker process against 2 (engine start-up excluded: reported by the
    runtime benchmarks)."""
    from climate_pipeline.tasks import build_frame
    from core.runtime import use_engine, wait_on

    # a regional run of realistic frame size: 24 steps of 30 x 400 x 500 (24 MB each)
    data = _write_big(DATA / "medium.nc", nt=24, nz=30, ny=400, nx=500)
    params = _frame_params(data)
    taus = [float(t) for t in range(24)]

    import os

    def stage(workers: int, out: Path, pin: bool = True) -> float:
        shutil.rmtree(out, ignore_errors=True)
        mask = os.sched_getaffinity(0)
        if workers == 1 and pin:  # one worker = one core, as each of the 2 workers gets
            os.sched_setaffinity(0, {min(mask)})
        try:
            return _stage(workers, out)
        finally:
            os.sched_setaffinity(0, mask)

    def _stage(workers: int, out: Path) -> float:
        with use_engine("local", workers=workers, label=f"bench-{workers}") as eng:
            if workers > 1:
                eng.start()
            # warm every worker (imports, file handles) on a throw-away run directory
            wait_on([build_frame([str(data)], "conc", str(out) + "-warm", i, t, params)
                     for i, t in enumerate(taus[:workers * 2])])
            t0 = time.perf_counter()
            wait_on([build_frame([str(data)], "conc", str(out), i, t, params)
                     for i, t in enumerate(taus)])
            return time.perf_counter() - t0

    one, two, free = [], [], []
    for _ in range(2):  # interleaved
        one.append(stage(1, tmp_path / "one"))
        two.append(stage(2, tmp_path / "two"))
        free.append(stage(1, tmp_path / "free", pin=False))
    benchmark.pedantic(lambda: None, rounds=1)
    report_ratio("climate per-frame stage, 2 workers vs 1 unpinned in-process run",
                 min(free) / min(two),
                 reference=f"the in-process run uses both cores in OpenVDB/USD's thread pools: "
                           f"{min(free):.1f} s")
    report_ratio("climate per-frame stage, 2 workers vs 1", min(one) / min(two), 1.7,
                 reference=f"24 frames of 24 MB: 1 worker {min(one):.1f} s, 2 workers "
                           f"{min(two):.1f} s (warm engine)")


def _write_big(path: Path, nt: int = 40, nz: int = 50, ny: int = 1000, nx: int = 1250) -> Path:
    """A CF file of ``conc`` written one time step at a time (never all in memory)."""
    import netCDF4

    if path.exists():
        return path
    tmp = path.with_suffix(".part")
    with netCDF4.Dataset(tmp, "w") as ds:
        for name, n in (("time", None), ("height", nz), ("lat", ny), ("lon", nx)):
            ds.createDimension(name, n)
        t = ds.createVariable("time", "f8", ("time",))
        t.units, t.calendar, t.standard_name = "hours since 2026-01-01", "standard", "time"
        h = ds.createVariable("height", "f4", ("height",))
        h.units, h.positive, h.standard_name = "m", "up", "height"
        h[:] = np.linspace(0, 10000, nz)
        la = ds.createVariable("lat", "f4", ("lat",))
        la.units, la.standard_name = "degrees_north", "latitude"
        la[:] = np.linspace(30, 60, ny)
        lo = ds.createVariable("lon", "f4", ("lon",))
        lo.units, lo.standard_name = "degrees_east", "longitude"
        lo[:] = np.linspace(-20, 30, nx)
        c = ds.createVariable("conc", "f4", ("time", "height", "lat", "lon"),
                              chunksizes=(1, nz, ny, nx))
        c.units, c.long_name = "ug m-3", "tracer concentration"
        y = np.linspace(-1, 1, ny, dtype=np.float32)[None, :, None]
        x = np.linspace(-1, 1, nx, dtype=np.float32)[None, None, :]
        zz = np.linspace(0, 1, nz, dtype=np.float32)[:, None, None]
        for k in range(nt):
            cx = -0.6 + 1.2 * k / nt
            blob = np.exp(-((x - cx) ** 2 + y**2) / 0.05 - zz**2 / 0.1) * 100
            c[k] = (blob + 5).astype(np.float32)
            t[k] = k
    tmp.rename(path)
    return path


def test_big_cf_file_default_flags_one_and_two_workers(benchmark, report_ratio):
    """The scale check of issue #15 (MEASURE.md: "large means large"): a CF-NetCDF file of
    20 levels x 400 x 800 with pm2p5 and u, v, w winds, converted with default flags (every
    stage on) by 1 and by 2 workers, interleaved, twice each; minimum wall time and the peak
    RSS of the whole process tree. Size: ``VIZPIPE_BIG_SIZE`` (``make bench BIG_SIZE=6GB``),
    default 1GB (10 steps), what a CI machine affords."""
    from vizpipe_app import bigrun

    size = bigrun.parse_size(os.environ.get("VIZPIPE_BIG_SIZE", "1GB"))
    nt = bigrun.steps_for(size)
    src = bigrun.write_big(DATA / f"big_{nt}x{bigrun.NZ}x{bigrun.NY}x{bigrun.NX}.nc", nt)
    gb = src.stat().st_size / 1e9
    runs: dict[int, list] = {1: [], 2: []}
    out = Path("out/bench-big")
    for _ in range(2):
        for w in (1, 2):
            runs[w].append(bigrun.run_once(src, out / f"w{w}", w, out / f"w{w}.log"))
    shutil.rmtree(out, ignore_errors=True)
    benchmark.pedantic(lambda: None, rounds=1)
    t1, t2 = (min(r.wall_s for r in runs[w]) for w in (1, 2))
    m1, m2 = (max(r.peak_rss_mb for r in runs[w]) / 1024 for w in (1, 2))
    what = f"{gb:.1f} GB CF file, {nt} steps of 20 x 400 x 800 x 4 variables, default flags"
    report_ratio(f"climate {gb:.0f} GB file, peak RSS, 1 worker", m1, 2.0, better="lower",
                 unit="GB", reference=f"{what}; process tree, max of 2 runs; {t1:.1f} s")
    report_ratio(f"climate {gb:.0f} GB file, peak RSS, 2 workers", m2, 2.0, better="lower",
                 unit="GB", reference=f"{what}; process tree, max of 2 runs; {t2:.1f} s")
    report_ratio(f"climate {gb:.0f} GB file, 2 workers vs 1", t1 / t2, 1.7,
                 reference=f"{what}; whole command, min of 2 interleaved: {t1:.1f} s vs "
                           f"{t2:.1f} s")
