"""Strong-scaling benchmark of the conversion graphs: the same inputs, 1, 2, 4 ... workers.

    python -m vizpipe_app.scaling --workers 1,2,4 [--pipeline materials,climate] [--out DIR]
        [--json FILE] [--frames N] [--size N] [--render] [--engine local]

Generates its inputs once (materials: a series of Gaussian cube files of a vibrating
water-like molecule on an N^3 grid; climate: the default PM10 transport run written by
``climate_pipeline.default_data`` at a reduced size), then runs each pipeline's command
(``python -m materials_pipeline`` / ``python -m climate_pipeline``, ``--no-render`` unless
``--render``) from scratch for every worker count, and reports per run:

    workers  wall s  speedup  efficiency  tasks  task s  overhead/task s  identical  load

``speedup`` = wall(first count) / wall (times the first count, so a table starting at 1
worker reads as usual), ``efficiency`` = speedup / workers, ``task s`` = the sum of the
compute seconds the tasks record in their metadata (``frame.json`` ...), ``overhead/task``
= (wall * workers - task s) / tasks: what each task costs beyond its own work (process
start, imports, scheduling, idle workers at the end, the serial parts: input checksums,
manifest, static assets). A run with N workers is confined to N cores (``--no-pin``: not
confined), so its reader threads cannot borrow the other cores. ``identical``: the run's
assets equal the first run's (VDB files compared by grid values and transform: OpenVDB
writes a random UUID per file). ``load``: the 1-minute load average at the end of the run
(other work sharing the cores).

On a MareNostrum 5 node: ``module load COMPSs/3.4`` is not needed (this drives the local
engine); run ``python -m vizpipe_app.scaling --workers 1,2,4,8,16,32,56,112 --frames 112`` inside an
interactive allocation (``salloc -q gp_interactive -n 1 -c 112``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from core.cli import main_wrapper, positive_int
from core.errors import BadInputError, PipelineError
from core.rundir import RunDir

PIPELINES = ("materials", "climate")
ASSET_SUFFIXES = (".ply", ".glb", ".vdb")
BOHR = 0.529177210903  # Angstrom


@dataclass
class Run:
    """One timed run of a pipeline with a number of workers."""

    pipeline: str
    workers: int
    wall_s: float
    tasks: int
    task_s: float
    progress: list[str] = field(default_factory=list)
    digest: str = ""
    speedup: float = 1.0
    efficiency: float = 1.0
    overhead_per_task_s: float = 0.0
    identical: bool = True
    load: float = 0.0  # 1-minute load average when the run ended (other work on the machine)


# ---------------------------------------------------------------------------------- inputs

def molecule(frame: int, frames: int):
    """Positions (Angstrom, in a 10 A box) of a bending triatomic at phase ``frame/frames``."""
    import numpy as np

    phase = 2 * np.pi * frame / max(frames, 1)
    half = np.deg2rad(52.0 + 8.0 * np.sin(phase))
    r = 0.96 + 0.03 * np.cos(phase)
    c = np.array([5.0, 5.0, 5.2])
    return np.array([c, c + r * np.array([np.sin(half), 0, -np.cos(half)]),
                     c + r * np.array([-np.sin(half), 0, -np.cos(half)])])


def write_cube(path: Path, positions, numbers: list[int], size: int, box: float = 10.0) -> Path:
    """A Gaussian cube file (atomic units) with a sum of Gaussian densities, atomically."""
    import numpy as np

    from core.atomic import atomic_path

    step = box / size / BOHR  # bohr
    pos_b = np.asarray(positions) / BOHR
    x = (np.arange(size) * step).astype(np.float64)
    rho = np.zeros((size, size, size))
    for p, z in zip(pos_b, numbers, strict=True):
        w = 0.6 + 0.1 * z  # wider for heavier atoms
        gx, gy, gz = (np.exp(-((x - p[k]) ** 2) / (2 * w * w)) for k in range(3))
        rho += 0.1 * z * gx[:, None, None] * gy[None, :, None] * gz[None, None, :]
    lines = ["vizpipe scaling benchmark frame", "sum of Gaussian densities",
             f"{len(numbers):5d} {0:12.6f} {0:12.6f} {0:12.6f}"]
    for k in range(3):
        v = [0.0, 0.0, 0.0]
        v[k] = step
        lines.append(f"{size:5d} {v[0]:12.6f} {v[1]:12.6f} {v[2]:12.6f}")
    for p, z in zip(pos_b, numbers, strict=True):
        lines.append(f"{z:5d} {float(z):12.6f} {p[0]:12.6f} {p[1]:12.6f} {p[2]:12.6f}")
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n" + _cube_rows(rho) + "\n")
    return path


def _cube_rows(rho) -> str:
    """Cube data: for each (x, y), the z column in rows of six values (``%13.5e``)."""
    import io

    import numpy as np

    cols = rho.reshape(-1, rho.shape[2])
    full = cols.shape[1] // 6 * 6
    per_col = full // 6 + (cols.shape[1] > full)
    buf = io.StringIO()
    np.savetxt(buf, cols[:, :full].reshape(-1, 6), fmt="%13.5e")
    lines = buf.getvalue().splitlines()
    if cols.shape[1] == full:
        return "\n".join(lines)
    buf = io.StringIO()
    np.savetxt(buf, cols[:, full:], fmt="%13.5e")
    rest = buf.getvalue().splitlines()
    out = [""] * (len(cols) * per_col)
    k = full // 6
    for c in range(len(cols)):
        out[c * per_col:c * per_col + k] = lines[c * k:(c + 1) * k]
        out[c * per_col + k] = rest[c]
    return "\n".join(out)


def materials_inputs(folder: Path, frames: int, size: int) -> list[Path]:
    """``frames`` cube files (``size``^3 grid) of a vibrating O-H-H molecule, written once."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(frames):
        p = folder / f"frame_{i:04d}.cube"
        if not p.exists():
            write_cube(p, molecule(i, frames), [8, 1, 1], size)
        paths.append(p)
    return paths


def climate_inputs(folder: Path, size: int, hours: int) -> Path:
    """The default PM10 run on a ``size`` x ``0.7 size`` x 8 grid over ``hours`` steps."""
    # the benchmark driver, not the core runtime, needs the climate generator: imported here
    from climate_pipeline.default_data import write_netcdf

    folder.mkdir(parents=True, exist_ok=True)
    p = {"nlon": size, "nlat": max(8, int(size * 0.7)), "nz": 8, "hours": hours}
    return write_netcdf(folder / f"pm10_{size}_{hours}h.nc", p)


# ---------------------------------------------------------------------------------- runs

def command(pipeline: str, inputs: list[str], out: Path, workers: int, *, engine: str,
            render: bool, frames: int) -> list[str]:
    """The pipeline's command line for one run."""
    cmd = [sys.executable, "-m", f"{pipeline}_pipeline", *inputs, "--out", str(out),
           "--engine", engine, "--workers", str(workers)]
    if pipeline == "climate":  # fixed batches: the same particles whatever the worker count
        cmd += ["--var", "pm10", "--frames", str(frames), "--particles", "4000",
                "--batches", "4", "--coastlines", "110m"]
    if not render:
        cmd.append("--no-render")
    return cmd


def task_records(run_dir: Path) -> list[dict]:
    """Every task's metadata (frame.json, colour.json, particles_bNN.json) with seconds."""
    out = []
    for p in sorted(RunDir(run_dir).assets.rglob("*.json")):
        try:
            meta = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(meta, dict) and "seconds" in meta:
            out.append(meta)
    return out


def content_digest(run_dir: Path) -> str:
    """One digest of every asset's content (VDB: grid values and affine, not the file)."""
    h = hashlib.sha256()
    for p in sorted(RunDir(run_dir).assets.rglob("*")):
        if not p.is_file() or p.suffix not in ASSET_SUFFIXES:
            continue
        h.update(p.relative_to(run_dir).as_posix().encode())
        if p.suffix == ".vdb":
            from core.io.vdb import read_vdb

            v = read_vdb(p)
            h.update(v.values.tobytes() + v.affine.tobytes())
        else:
            h.update(p.read_bytes())
    return h.hexdigest()


def cores_for(workers: int) -> set[int] | None:
    """The first ``workers`` cores this process may use, or None when there are fewer."""
    cores = sorted(os.sched_getaffinity(0))
    return set(cores[:workers]) if workers <= len(cores) else None


def run_once(pipeline: str, inputs: list[str], out: Path, workers: int, *, engine: str = "local",
             render: bool = False, frames: int = 8, pin: bool = True) -> Run:
    """Run the pipeline fresh into ``out`` (removed first) and time it.

    With ``pin`` the run is confined to ``workers`` cores (its worker processes, reader
    threads and background hashing included), so that N workers means N cores: without it a
    1-worker run already uses every core through its reader threads.
    """
    if out.exists():
        shutil.rmtree(out)
    cmd = command(pipeline, inputs, out, workers, engine=engine, render=render, frames=frames)
    env = {**os.environ, "VIZPIPE_WORKERS": str(workers)}
    cores = cores_for(workers) if pin else None

    def confine() -> None:
        if cores:
            os.sched_setaffinity(0, cores)

    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, preexec_fn=confine)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        tail = (res.stderr or res.stdout).strip().splitlines()[-5:]
        raise PipelineError(f"{pipeline} with {workers} worker(s) failed (exit "
                            f"{res.returncode}): {' | '.join(tail)}")
    recs = task_records(out)
    lines = [ln for ln in res.stderr.splitlines()
             if re.match(rf"^\s*({pipeline}|render)\b", ln)]
    return Run(pipeline, workers, wall, len(recs), sum(float(r["seconds"]) for r in recs),
               lines[-3:], content_digest(out), load=os.getloadavg()[0])


def summarize(runs: list[Run]) -> list[Run]:
    """Fill speedup, efficiency, overhead and identity relative to each pipeline's first run."""
    first: dict[str, Run] = {}
    for r in runs:
        base = first.setdefault(r.pipeline, r)
        r.speedup = base.wall_s * base.workers / r.wall_s
        r.efficiency = r.speedup / r.workers
        r.overhead_per_task_s = (r.wall_s * r.workers - r.task_s) / max(r.tasks, 1)
        r.identical = r.digest == base.digest
    return runs


def table(runs: list[Run]) -> str:
    """Markdown table of the runs."""
    rows = ["| pipeline | workers | wall s | speedup | efficiency | tasks | task s | "
            "overhead/task s | identical | load |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
    for r in runs:
        rows.append(f"| {r.pipeline} | {r.workers} | {r.wall_s:.2f} | {r.speedup:.2f} | "
                    f"{r.efficiency:.2f} | {r.tasks} | {r.task_s:.2f} | "
                    f"{r.overhead_per_task_s:.3f} | {'yes' if r.identical else 'NO'} | "
                    f"{r.load:.1f} |")
    return "\n".join(rows)


def _counts(text: str) -> list[int]:
    try:
        counts = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"expected worker counts like 1,2,4, got {text!r}")
    return counts


def _pipelines(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    bad = [n for n in names if n not in PIPELINES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"unknown pipeline {bad}; choose from "
                                         f"{', '.join(PIPELINES)}")
    return names


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m vizpipe_app.scaling",
                                 description="Strong scaling of the conversion graphs.")
    ap.add_argument("--workers", type=_counts, default=[1, 2], help="worker counts [1,2]")
    ap.add_argument("--pipeline", type=_pipelines, default=list(PIPELINES),
                    help="materials,climate [both]")
    ap.add_argument("--out", type=Path, default=Path("out/scaling"), help="work folder")
    ap.add_argument("--json", type=Path, help="also write the runs as JSON here")
    ap.add_argument("--frames", type=positive_int, default=16, help="frames per run [16]")
    ap.add_argument("--size", type=positive_int, default=64,
                    help="materials grid points per axis [64]")
    ap.add_argument("--climate-size", type=positive_int, default=120,
                    help="climate grid longitudes [120] (latitudes 0.7x, 8 levels)")
    ap.add_argument("--engine", default="local", choices=["local", "serial"],
                    help="engine of the timed runs [local]")
    ap.add_argument("--render", action="store_true", help="also render (Blender) in each run")
    ap.add_argument("--no-pin", dest="pin", action="store_false",
                    help="do not confine a run with N workers to N cores")
    return ap


@main_wrapper
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out: Path = args.out.resolve()
    inputs: dict[str, list[str]] = {}
    if "materials" in args.pipeline:
        inputs["materials"] = [str(p) for p in materials_inputs(
            out / "inputs" / f"cube_{args.size}_{args.frames}", args.frames, args.size)]
    if "climate" in args.pipeline:
        inputs["climate"] = [str(climate_inputs(out / "inputs", args.climate_size,
                                                max(2, args.frames // 2)))]
    if any(not v for v in inputs.values()):
        raise BadInputError("no inputs generated")
    runs = []
    for name in args.pipeline:
        for w in args.workers:
            r = run_once(name, inputs[name], out / "runs" / f"{name}_w{w}", w,
                         engine=args.engine, render=args.render, frames=args.frames,
                         pin=args.pin)
            print(f"scaling: {name} {w} worker(s): {r.wall_s:.2f}s, {r.tasks} tasks",
                  file=sys.stderr, flush=True)
            runs.append(r)
    summarize(runs)
    print(table(runs))
    for r in runs:
        for ln in r.progress:
            print(f"  [{r.pipeline} w{r.workers}] {ln.strip()}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"cpus": len(os.sched_getaffinity(0)),
                                         "runs": [asdict(r) for r in runs]}, indent=1))
    bad = [f"{r.pipeline} w{r.workers}" for r in runs if not r.identical]
    if bad:
        raise PipelineError(f"assets differ from the first run's in: {', '.join(bad)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
