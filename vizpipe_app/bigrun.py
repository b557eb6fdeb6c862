"""The scale check: a large CF-NetCDF file, converted with default flags, 1 and 2 workers,
timed, with the peak RSS of the whole process tree.

    python -m vizpipe_app.bigrun [--size 6GB] [--workers 1,2] [--data DIR] [--out DIR]
        [--json FILE] [--keep]

The file is what a user's regional air-quality run looks like: ``--steps`` x 20 levels x
400 x 800 (lat x lon), a pollutant ``pm2p5`` and ``u``, ``v``, ``w`` winds, float32, one
chunk per time step and level block, written one time step at a time (never all in memory).
``--size`` picks the number of steps (6 GB: 60 steps of 4 x 25.6 MB); the default, 1 GB (10
steps), is what ``make bench`` affords on a 2-core machine.

Each run is ``python -m climate_pipeline FILE --var pm2p5 --wind u,v,w --out DIR
--workers N --no-render``: default flags otherwise (particles, streamlines, volumes,
isosurfaces all on), as MEASURE.md asks. The peak RSS is the sum over the command and every
descendant (the local engine's workers), sampled every 20 ms with psutil.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.cli import main_wrapper
from core.errors import BadInputError, PipelineError

NZ, NY, NX = 20, 400, 800
VARS = (("pm2p5", "ug m-3", "mass_concentration_of_pm2p5_ambient_aerosol_particles_in_air"),
        ("u", "m s-1", "eastward_wind"), ("v", "m s-1", "northward_wind"),
        ("w", "m s-1", "upward_air_velocity"))


def step_bytes(nz: int = NZ, ny: int = NY, nx: int = NX) -> int:
    """Bytes of one time step of the four variables (float32)."""
    return 4 * len(VARS) * nz * ny * nx


def parse_size(text: str) -> int:
    """'6GB', '500MB', '1.5G', '100GiB' -> bytes (decimal units for GB/MB, binary for GiB)."""
    t = text.strip().upper().replace(" ", "")
    units = {"GIB": 2**30, "MIB": 2**20, "GB": 10**9, "MB": 10**6, "G": 10**9, "M": 10**6,
             "TB": 10**12, "T": 10**12, "B": 1}
    for suffix, mult in units.items():
        if t.endswith(suffix):
            try:
                return int(float(t[: -len(suffix)]) * mult)
            except ValueError:
                break
    raise argparse.ArgumentTypeError(f"expected a size like 6GB or 500MB, got {text!r}")


def steps_for(size: int) -> int:
    """Time steps whose four variables make about ``size`` bytes (at least 2)."""
    return max(2, round(size / step_bytes()))


def write_big(path: Path, nt: int, nz: int = NZ, ny: int = NY, nx: int = NX) -> Path:
    """pm2p5 + u, v, w on (nt, nz, ny, nx), written one step at a time to ``path`` (kept if
    it is already there with the same shape; written to a temporary name and renamed)."""
    import netCDF4
    import numpy as np

    if path.exists():
        with netCDF4.Dataset(path) as ds:
            if ds.variables["pm2p5"].shape == (nt, nz, ny, nx):
                return path
        path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with netCDF4.Dataset(tmp, "w") as ds:
        ds.Conventions = "CF-1.8"
        ds.title = "synthetic regional PM2.5 run (vizpipe scale check)"
        for name, n in (("time", None), ("height", nz), ("lat", ny), ("lon", nx)):
            ds.createDimension(name, n)
        t = ds.createVariable("time", "f8", ("time",))
        t.units, t.calendar, t.standard_name = "hours since 2026-01-01", "standard", "time"
        h = ds.createVariable("height", "f4", ("height",))
        h.units, h.positive, h.standard_name = "m", "up", "height"
        h[:] = np.linspace(0, 8000, nz) ** 1.0
        la = ds.createVariable("lat", "f4", ("lat",))
        la.units, la.standard_name = "degrees_north", "latitude"
        la[:] = np.linspace(30, 62, ny)
        lo = ds.createVariable("lon", "f4", ("lon",))
        lo.units, lo.standard_name = "degrees_east", "longitude"
        lo[:] = np.linspace(-25, 40, nx)
        dims = ("time", "height", "lat", "lon")
        out = {}
        for name, units, std in VARS:
            var = ds.createVariable(name, "f4", dims, chunksizes=(1, nz, ny, nx))
            var.units, var.standard_name = units, std
            out[name] = var
        from vizpipe_app.lazydata import step_values  # the fields, shared with the lazy set

        for k in range(nt):
            for name, var in out.items():
                var[k] = step_values(name, k, nt, nz, ny, nx)
            t[k] = k
    tmp.rename(path)
    return path


@dataclass
class Result:
    workers: int
    wall_s: float
    peak_rss_mb: float
    file_gb: float
    steps: int


def peak_tree_rss(argv: list[str], env: dict | None = None, log: Path | None = None,
                  cwd: Path | None = None, timeout: float = 7200,
                  per_process: dict[int, int] | None = None) -> tuple[int, float, float]:
    """Run ``argv``; return (exit status, wall seconds, peak MB of the summed RSS of the
    process and all its descendants, sampled every 20 ms). ``per_process``, if given, gets
    each process's own peak RSS in bytes, by pid (the first is the command itself)."""
    import psutil

    fh: Any = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
    try:
        t0 = time.perf_counter()
        proc = psutil.Popen(argv, stdout=fh, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        peak = 0
        stop = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not stop.is_set():
                try:
                    procs = [proc, *proc.children(recursive=True)]
                except psutil.Error:
                    break
                total = 0
                for p in procs:
                    try:
                        rss = p.memory_info().rss
                    except psutil.Error:
                        continue
                    total += rss
                    if per_process is not None:
                        per_process[p.pid] = max(per_process.get(p.pid, 0), rss)
                peak = max(peak, total)
                time.sleep(0.02)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        rc = proc.wait(timeout=timeout)
        wall = time.perf_counter() - t0
        stop.set()
        th.join()
    finally:
        if log:
            fh.close()
    return rc, wall, peak / 2**20


def run_once(src: Path, out: Path, workers: int, log: Path) -> Result:
    shutil.rmtree(out, ignore_errors=True)
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ}
    env.pop("VIZPIPE_ENGINE", None)
    argv = [sys.executable, "-m", "climate_pipeline", str(src), "--var", "pm2p5", "--wind",
            "u,v,w", "--out", str(out), "--workers", str(workers), "--no-render"]
    rc, wall, peak = peak_tree_rss(argv, env, log)
    if rc != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["(no output)"]
        raise PipelineError(f"{log}: the {workers}-worker run failed (exit {rc}): {tail[0]}")
    import netCDF4

    with netCDF4.Dataset(src) as ds:
        nt = len(ds.dimensions["time"])
    return Result(workers, wall, peak, src.stat().st_size / 1e9, nt)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m vizpipe_app.bigrun", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("--size", type=parse_size, default=parse_size("1GB"),
                    help="file size (steps of 20 x 400 x 800 x 4 variables) [1GB]")
    ap.add_argument("--workers", default="1,2", help="worker counts [1,2]")
    ap.add_argument("--data", type=Path, default=Path("out/bench-data"),
                    help="where the generated file is kept between runs [out/bench-data]")
    ap.add_argument("--out", type=Path, default=Path("out/bigrun"), help="run directories")
    ap.add_argument("--json", type=Path, help="write the results here")
    ap.add_argument("--keep", action="store_true", help="keep the run directories")
    a = ap.parse_args(argv)
    try:
        counts = [int(w) for w in a.workers.split(",")]
    except ValueError:
        raise BadInputError(f"--workers: expected counts like 1,2, got {a.workers!r}") from None
    nt = steps_for(a.size)
    src = a.data / f"big_{nt}x{NZ}x{NY}x{NX}.nc"
    t = time.perf_counter()
    write_big(src, nt)
    print(f"bigrun: {src} ({src.stat().st_size / 1e9:.2f} GB, {nt} steps) ready in "
          f"{time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    results = []
    a.out.mkdir(parents=True, exist_ok=True)
    for w in counts:
        r = run_once(src, a.out / f"w{w}", w, a.out / f"w{w}.log")
        results.append(r)
        print(f"bigrun: {w} worker(s): {r.wall_s:.1f} s, peak RSS {r.peak_rss_mb:.0f} MB",
              file=sys.stderr, flush=True)
        if not a.keep:
            shutil.rmtree(a.out / f"w{w}", ignore_errors=True)
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main_wrapper(main)())
