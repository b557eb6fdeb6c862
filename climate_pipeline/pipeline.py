"""The climate pipeline command: NetCDF/PP/NAME/GRIB -> assets -> manifest -> render.

    python -m climate_pipeline FILE... --out DIR [--var NAME] [--wind U,V[,W]]
        [--wind-files FILE...] [--globe|--map] [--exaggeration X] [--thresholds A,B]
        [--frames N] [--particles N] [--batches B] [--coastlines 110m|50m|10m] [--borders]
        [--engine ...] [--workers N] [--no-render]

With ``--default`` (what ``make climate`` runs) it first writes the embedded PM10 episode
(:mod:`climate_pipeline.default_data`). One task per output frame (isosurfaces, volume,
surface layer) and one task per particle batch (each batch advected through all frames).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from core.cli import (
    add_dry_run_arg,
    add_engine_args,
    positive_int,
    resolution,
    set_log_file,
)
from core.errors import BadInputError


def _floats(text: str) -> list[float]:
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}"
                                         ) from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one number")
    return vals


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m climate_pipeline",
        description="Air-quality, dust and climate fields to Blender and Maya assets: volumes, "
                    "isosurfaces, surface layers, coastlines, wind particles; stills and a movie.")
    ap.add_argument("inputs", nargs="*", metavar="FILE", help="CF-NetCDF (one or many, "
                    "concatenated in time), PP, NAME or GRIB files")
    ap.add_argument("--out", type=Path, required=True, help="run directory")
    ap.add_argument("--default", action="store_true",
                    help="write and use the embedded PM10 episode over Iberia")
    ap.add_argument("--var", help="variable name or CF standard_name [the only data variable]")
    ap.add_argument("--member", type=int, default=None, metavar="N",
                    help="ensemble member of a GRIB file [0]")
    ap.add_argument("--wind", default=None, help="wind variables U,V[,W] [u,v,w if present]")
    ap.add_argument("--wind-files", nargs="+", metavar="FILE",
                    help="files holding the winds [the input files]")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--globe", action="store_const", const="globe", dest="mode")
    mode.add_argument("--map", action="store_const", const="map", dest="mode")
    ap.add_argument("--exaggeration", type=float, default=50.0,
                    help="vertical exaggeration [50]")
    ap.add_argument("--thresholds", type=_floats, default=None,
                    help="isosurface levels in the field's units [the 90th and 99th "
                         "percentiles of the first frame]")
    ap.add_argument("--colormap", default="lajolla")
    ap.add_argument("--frames", type=positive_int, default=None,
                    help="output frames; more than the data's time steps interpolates in time")
    ap.add_argument("--particles", type=int, default=20000, help="wind particles (0: none)")
    ap.add_argument("--batches", type=positive_int, default=None,
                    help="particle batches (parallel tasks) [one per worker]")
    ap.add_argument("--coastlines", default="50m", choices=["110m", "50m", "10m"])
    ap.add_argument("--borders", action="store_true")
    ap.add_argument("--no-volume", action="store_true", help="no .vdb volume")
    ap.add_argument("--show-volume", action="store_true",
                    help="render the volume (written and in scene.usda either way; it costs "
                         "about twice the render time)")
    ap.add_argument("--seed-by", choices=["uniform", "concentration"], default="uniform",
                    help="where particles start and respawn: uniformly over the domain, or "
                         "with probability proportional to the field's excess over its "
                         "median at the first frame (field and winds on one grid) [uniform]")
    ap.add_argument("--streamlines", type=int, default=160, metavar="N",
                    help="streamlines per frame, seeded on a lattice at --streamline-height "
                         "(0: none) [160]")
    ap.add_argument("--streamline-height", type=float, default=1000.0, metavar="M",
                    help="seed height of the streamlines in metres [1000]")
    ap.add_argument("--hide-streamlines", action="store_true",
                    help="do not render the streamlines (written and in scene.usda)")
    ap.add_argument("--show-trails", action="store_true",
                    help="render particle trails (written and in scene.usda either way)")
    ap.add_argument("--formats", default="ply,glb,usd")
    ap.add_argument("--title")
    ap.add_argument("--resolution", type=resolution, default=(800, 450), metavar="WxH")
    ap.add_argument("--samples", type=positive_int, default=12)
    ap.add_argument("--fps", type=positive_int, default=12)
    ap.add_argument("--no-render", action="store_true")
    add_engine_args(ap)
    add_dry_run_arg(ap)
    return ap


def convert(args: argparse.Namespace) -> dict:
    from climate_pipeline.readers import open_field
    from core.cli import engine_from_args
    from core.manifest import checksums_in_background
    from core.runtime import resolve_workers, wait_on

    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    set_log_file(out / "run.log")
    t_start = time.perf_counter()
    if args.default:
        from climate_pipeline import default_data

        (out / "inputs").mkdir(exist_ok=True)
        args.inputs = [str(default_data.write_netcdf(out / "inputs" / "pm10_iberia.nc"))]
        args.var = args.var or "pm10"
        args.title = args.title or "PM10 over Iberia (synthetic episode)"
        args.thresholds = args.thresholds or [45.0, 100.0]  # WHO 24-h guideline, and twice it
    if not args.inputs:
        raise BadInputError("no input: give files, or --default")
    paths = [str(Path(p).resolve()) for p in args.inputs]
    for p in paths:
        if not Path(p).exists():
            raise BadInputError(f"{p}: no such file")
    checksums = checksums_in_background(paths + list(args.wind_files or []))
    field = open_field(paths, args.var, allow_no_time=True, member=args.member)
    _say_what_was_read(field)
    nt = field.nt
    n_frames = args.frames or nt
    taus = list(np.linspace(0, nt - 1, n_frames)) if n_frames > 1 else [0.0]
    # one colour range and threshold set for the movie, from a few frames (not all: big data)
    sample = np.concatenate([field.frame(t).ravel() for t in sorted({0, nt // 2, nt - 1})])
    sample = sample[np.isfinite(sample)]
    vmin, vmax = float(np.percentile(sample, 1)), float(np.percentile(sample, 99.5))
    thresholds = args.thresholds or [float(np.percentile(sample, q)) for q in (90, 99)]
    mode = args.mode or "map"
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    params = {"projection": {"mode": mode, "exaggeration": args.exaggeration},
              "thresholds": thresholds, "range": [vmin, vmax], "colormap": args.colormap,
              "volume": not args.no_volume, "formats": formats}
    if args.member is not None:
        params["member"] = args.member
    winds = _wind_names(args, field)
    args.workers = resolve_workers(args.workers)
    batches = args.batches or args.workers
    n_part = max(0, int(args.particles))
    from climate_pipeline.frames import SPEED_MAX

    pparams = {"projection": params["projection"], "formats": formats, "dt": 600.0,
               "max_age_h": 12, "trail": 8, "particle_radius": 2.0 if mode == "map" else 4.0,
               "speed_max": SPEED_MAX, "streamlines": max(0, int(args.streamlines)),
               "streamline_height_m": float(args.streamline_height),
               "seed_by": args.seed_by}
    if args.member is not None:
        pparams["member"] = args.member
    if args.seed_by == "concentration":
        pparams.update(field_paths=paths, field_var=args.var)
    with engine_from_args(args, label="climate") as _eng:
        from climate_pipeline.tasks import build_frame, particle_batch

        futs = [build_frame(paths, args.var, str(out), i, float(t), params)
                for i, t in enumerate(taus)]
        pfuts = []
        if n_part and winds:
            wpaths = [str(Path(p).resolve()) for p in (args.wind_files or paths)]
            per = int(np.ceil(n_part / batches))
            pfuts = [particle_batch(wpaths, winds, str(out), b, per, 7, [float(t) for t in taus],
                                    pparams) for b in range(batches)]
        metas = wait_on(futs)
        pmetas = wait_on(pfuts) if pfuts else []
    from climate_pipeline.manifest import build_manifest
    from core.manifest import write_run

    man = build_manifest(out, field, metas, pmetas, params, args, taus=taus, winds=winds,
                         inputs=paths + list(args.wind_files or []),
                         checksums=checksums.result())
    path = write_run(out, man)
    done_n = sum(not m.get("skipped") for m in metas)
    print(f"climate: {len(metas)} frame(s), {done_n} converted, {len(pmetas)} particle "
          f"batch(es), {time.perf_counter() - t_start:.1f}s -> {path}", file=sys.stderr,
          flush=True)
    return {"manifest": str(path), "frames": metas}


def _say_what_was_read(field) -> None:
    """One line on stderr and in run.log: the field's shape, a still, and what the reader
    chose or changed (ensemble member, level type, regridding)."""
    import logging

    what = [f"climate: {field.name}: {field.nt} time step(s), {field.nz} level(s), grid "
            f"{' x '.join(str(n) for n in field.shape[2:])}"]
    if field.nt == 1:
        what.append("no time axis: one still frame (--frames N orbits the camera)"
                    if field.times[0] is None else "one time: a still")
    what += list(getattr(field, "notes", ()))
    line = "; ".join(what)
    logging.getLogger("vizpipe.climate").info(line)
    print(line, file=sys.stderr, flush=True)


def _wind_names(args: argparse.Namespace, field) -> list[str]:
    """--wind, else the u, v[, w] found in the wind files (or the inputs: components may be
    in different files), in any format the readers take; none there: no particles."""
    if args.wind:
        return [x.strip() for x in args.wind.split(",") if x.strip()]
    from climate_pipeline.readers import auto_wind_names

    return auto_wind_names(list(args.wind_files or args.inputs), required=False)
