"""A climate dataset of any logical size that is never written: every time step is computed
when it is read.

    ds = lazy_dataset(100 * 10**9)            # 100 GB: 977 steps of 20 x 400 x 800
    ds = lazy_dataset(steps=10, nz=4, ny=40, nx=80)

The dataset is what :func:`vizpipe_app.bigrun.write_big` writes to a CF-NetCDF file (a
pollutant ``pm2p5`` and winds ``u``, ``v``, ``w``, float32, on time x height x lat x lon,
with the file's CF attributes and the same analytic fields, step for step), as an
``xarray.Dataset`` whose variables are dask arrays of one chunk per time step, each chunk a
call of :func:`step_values` on its step index (``dask.array.map_blocks`` with no input
array: the chunk's ``block_id`` is the step): building it costs a few tuples of ``steps``
entries (dask's chunk sizes and offsets), no values and no task per step. Reading a step
computes that step only, so the climate pipeline's in-memory entry point
(:func:`climate_pipeline.api.convert_dataset`) can be run on data larger than any disk.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from vizpipe_app.bigrun import NX, NY, NZ, VARS, step_bytes

__all__ = ["lazy_dataset", "step_values", "steps_for"]

T0 = np.datetime64("2026-01-01T00:00:00", "ns")  # write_big: "hours since 2026-01-01"


def steps_for(size_bytes: int, nz: int = NZ, ny: int = NY, nx: int = NX) -> int:
    """Time steps whose four variables make about ``size_bytes`` (at least 2)."""
    return max(2, round(int(size_bytes) / step_bytes(nz, ny, nx)))


def step_values(name: str, k: int, nt: int, nz: int = NZ, ny: int = NY, nx: int = NX
                ) -> np.ndarray:
    """Variable ``name`` at time step ``k`` of ``nt``, (nz, ny, nx) float32: the values
    :func:`vizpipe_app.bigrun.write_big` writes there (same expressions, same float32
    arithmetic; the test compares them with the file)."""
    y = np.linspace(-1, 1, ny, dtype=np.float32)[None, :, None]
    x = np.linspace(-1, 1, nx, dtype=np.float32)[None, None, :]
    z = np.linspace(0, 1, nz, dtype=np.float32)[:, None, None]
    ph = np.float32(2 * np.pi * k / max(nt, 2))
    cx, cy = 0.5 * np.cos(ph), 0.4 * np.sin(ph)
    if name == "pm2p5":
        a = 4 + 90 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 0.03 - z**2 / 0.15) \
            + 30 * np.exp(-((x + cx) ** 2 + (y + 0.3) ** 2) / 0.01 - z**2 / 0.05)
    elif name == "u":
        a = 8 + 6 * y * np.cos(ph) + 10 * z + 0 * x
    elif name == "v":
        a = 4 * np.sin(np.pi * x + ph) * (1 - 0.5 * z) + 0 * y
    elif name == "w":
        a = 0.02 * np.cos(np.pi * x) * np.sin(np.pi * y) * z
    else:
        raise KeyError(f"{name!r}: expected one of {[v[0] for v in VARS]}")
    out = np.empty((nz, ny, nx), np.float32)
    out[...] = a  # broadcast and cast to float32, as netCDF4 stores it
    return out


def _block(block_id: tuple[int, ...] | None = None, *, var: str, nt: int, nz: int, ny: int,
           nx: int) -> np.ndarray:
    """The chunk ``block_id`` = (step, 0, 0, 0): (1, nz, ny, nx)."""
    assert block_id is not None
    return step_values(var, int(block_id[0]), nt, nz, ny, nx)[None]


def lazy_dataset(size_bytes: int | None = None, *, steps: int | None = None, nz: int = NZ,
                 ny: int = NY, nx: int = NX) -> Any:
    """The dataset of ``size_bytes`` logical bytes (the four float32 variables; rounded to
    whole steps, at least 2), or of ``steps`` time steps, on nz x ny x nx; nothing is
    computed until a step is read."""
    import dask.array as da
    import xarray as xr

    if (size_bytes is None) == (steps is None):
        raise ValueError("lazy_dataset: give size_bytes or steps, not both or neither")
    nt = int(steps) if steps is not None else steps_for(int(size_bytes or 0), nz, ny, nx)
    if nt < 1 or min(nz, ny, nx) < 1:
        raise ValueError(f"lazy_dataset: expected >= 1 step and a non-empty grid, got {nt} "
                         f"steps of {nz} x {ny} x {nx}")
    chunks = ((1,) * nt, (nz,), (ny,), (nx,))
    meta = np.empty((0, 0, 0, 0), np.float32)
    dims = ("time", "height", "lat", "lon")
    data_vars = {}
    for name, units, std in VARS:
        # no input array: a chunk is a function of its index alone (da.arange would hold a
        # materialised task per step, 200 bytes each)
        arr = da.map_blocks(_block, dtype=np.float32, chunks=chunks, meta=meta,
                            name=f"lazy-{name}-{nt}x{nz}x{ny}x{nx}", var=name, nt=nt, nz=nz,
                            ny=ny, nx=nx)
        data_vars[name] = xr.Variable(dims, arr, {"units": units, "standard_name": std})
    time = xr.Variable("time", T0 + np.arange(nt, dtype=np.int64) * np.timedelta64(1, "h"),
                       {"standard_name": "time"},
                       encoding={"units": "hours since 2026-01-01", "calendar": "standard"})
    coords = {
        "time": time,
        "height": xr.Variable("height", np.linspace(0, 8000, nz).astype(np.float32),
                              {"units": "m", "positive": "up", "standard_name": "height"}),
        "lat": xr.Variable("lat", np.linspace(30, 62, ny).astype(np.float32),
                           {"units": "degrees_north", "standard_name": "latitude"}),
        "lon": xr.Variable("lon", np.linspace(-25, 40, nx).astype(np.float32),
                           {"units": "degrees_east", "standard_name": "longitude"}),
    }
    return xr.Dataset(data_vars, coords, attrs={
        "Conventions": "CF-1.8",
        "title": "synthetic regional PM2.5 run, computed on demand (vizpipe scale check)"})


def own_peak_rss_mb() -> float:
    """This process's peak resident size (MB): ``VmHWM``, the high-water mark of its own
    address space. Not ``ru_maxrss``: a process started by ``subprocess`` (vfork, then exec)
    inherits there the peak of the process that started it, so a command run from a test
    process that had grown to 650 MB reported 666 MB for a 396 MB run."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # no /proc (not Linux): the kernel's rusage, the parent's peak included

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    """``python -m vizpipe_app.lazydata --size 100GB --out DIR [--frames 4]``: convert the
    first frames of a lazily generated dataset with :func:`climate_pipeline.api.
    convert_dataset` (default flags otherwise: particles, streamlines, volumes, isosurfaces
    on); one JSON line on stdout: steps, logical GB, seconds, this process's peak RSS."""
    import argparse
    import json
    import time
    from pathlib import Path

    from climate_pipeline.api import convert_dataset
    from vizpipe_app.bigrun import parse_size

    ap = argparse.ArgumentParser(prog="python -m vizpipe_app.lazydata",
                                 description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--size", type=parse_size, default=parse_size("1GB"),
                    help="logical size (steps of nz x ny x nx x 4 variables) [1GB]")
    ap.add_argument("--grid", default=f"{NZ}x{NY}x{NX}", help=f"NZxNYxNX [{NZ}x{NY}x{NX}]")
    ap.add_argument("--frames", type=int, default=4, help="the first N time steps [4]")
    ap.add_argument("--out", type=Path, required=True, help="run directory")
    ap.add_argument("--no-manifest", action="store_true", help="assets only")
    a = ap.parse_args(argv)
    try:
        nz, ny, nx = (int(n) for n in a.grid.lower().split("x"))
    except ValueError:
        ap.error(f"--grid: expected NZxNYxNX, got {a.grid!r}")
    t0 = time.perf_counter()
    ds = lazy_dataset(a.size, nz=nz, ny=ny, nx=nx)
    nt = ds.sizes["time"]
    res = convert_dataset(ds, "pm2p5", a.out, frames=list(range(min(a.frames, nt))),
                          manifest=not a.no_manifest)
    print(json.dumps({"steps": nt, "logical_gb": ds.nbytes / 1e9,
                      "grid": [nz, ny, nx], "frames": len(res["frames"]),
                      "seconds": time.perf_counter() - t0,
                      "maxrss_mb": own_peak_rss_mb(),
                      "wind_window": [p.get("wind_window") for p in res["particles"]]}),
          flush=True)
    return 0


if __name__ == "__main__":
    import sys

    from core.cli import main_wrapper

    sys.exit(main_wrapper(main)())
