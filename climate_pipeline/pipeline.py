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

import sys
import time
from pathlib import Path

import numpy as np

from climate_pipeline.settings import ClimateSettings, build_parser, settings_from_args
from core.cli import set_log_file
from core.errors import BadInputError
from core.rundir import RunDir

__all__ = ["ClimateSettings", "build_parser", "settings_from_args", "convert"]


def with_default_data(s: ClimateSettings, run: RunDir) -> ClimateSettings:
    """``--default``: write the embedded PM10 episode under ``inputs/`` and return the
    settings that read it (variable, title and WHO thresholds unless given)."""
    from climate_pipeline import default_data

    (run.root / "inputs").mkdir(exist_ok=True)
    nc = default_data.write_netcdf(run.root / "inputs" / "pm10_iberia.nc")
    return s.replace(inputs=(str(nc),), var=s.var or "pm10",
                     title=s.title or "PM10 over Iberia (synthetic episode)",
                     thresholds=s.thresholds or (45.0, 100.0))  # WHO 24-h guideline, twice it


def convert(s: ClimateSettings) -> dict:
    from climate_pipeline.readers import open_field
    from core.manifest import checksums_in_background
    from core.runtime import resolve_workers, use_engine, wait_on

    run = RunDir(s.out.resolve())
    out = run.root
    out.mkdir(parents=True, exist_ok=True)
    set_log_file(run.run_log)
    t_start = time.perf_counter()
    if s.default:
        s = with_default_data(s, run)
    if not s.inputs:
        raise BadInputError("no input: give files, or --default")
    paths = [str(Path(p).resolve()) for p in s.inputs]
    for p in paths:
        if not Path(p).exists():
            raise BadInputError(f"{p}: no such file")
    checksums = checksums_in_background(paths + list(s.wind_files))
    field = open_field(paths, s.var, allow_no_time=True, member=s.member)
    _say_what_was_read(field)
    nt = field.nt
    n_frames = s.frames or nt
    taus = list(np.linspace(0, nt - 1, n_frames)) if n_frames > 1 else [0.0]
    # one colour range and threshold set for the movie, from a few frames (not all: big data)
    sample = np.concatenate([field.frame(t).ravel() for t in sorted({0, nt // 2, nt - 1})])
    sample = sample[np.isfinite(sample)]
    vmin, vmax = float(np.percentile(sample, 1)), float(np.percentile(sample, 99.5))
    thresholds = list(s.thresholds) or [float(np.percentile(sample, q)) for q in (90, 99)]
    formats = list(s.formats)
    params = {"projection": {"mode": s.mode, "exaggeration": s.exaggeration},
              "thresholds": thresholds, "range": [vmin, vmax], "colormap": s.colormap,
              "volume": s.volume, "formats": formats}
    if s.member is not None:
        params["member"] = s.member
    winds = _wind_names(s)
    workers = resolve_workers(s.workers)
    batches = s.batches or workers
    from climate_pipeline.frames import SPEED_MAX

    pparams = {"projection": params["projection"], "formats": formats, "dt": 600.0,
               "max_age_h": 12, "trail": 8, "particle_radius": 2.0 if s.mode == "map" else 4.0,
               "speed_max": SPEED_MAX, "streamlines": s.streamlines,
               "streamline_height_m": float(s.streamline_height),
               "seed_by": s.seed_by}
    if s.member is not None:
        pparams["member"] = s.member
    if s.seed_by == "concentration":
        pparams.update(field_paths=paths, field_var=s.var)
    with use_engine(s.engine, workers=workers, label="climate"):
        from climate_pipeline.tasks import build_frame, particle_batch

        futs = [build_frame(paths, s.var, str(out), i, float(t), params)
                for i, t in enumerate(taus)]
        pfuts = []
        if s.particles and winds:
            wpaths = [str(Path(p).resolve()) for p in (s.wind_files or paths)]
            per = int(np.ceil(s.particles / batches))
            pfuts = [particle_batch(wpaths, winds, str(out), b, per, 7, [float(t) for t in taus],
                                    pparams) for b in range(batches)]
        metas = wait_on(futs)
        pmetas = wait_on(pfuts) if pfuts else []
    from climate_pipeline.manifest import build_manifest
    from core.manifest import write_run

    man = build_manifest(run, field, metas, pmetas, params, s, taus=taus, winds=winds,
                         inputs=paths + list(s.wind_files), checksums=checksums.result())
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


def _wind_names(s: ClimateSettings) -> list[str]:
    """--wind, else the u, v[, w] found in the wind files (or the inputs: components may be
    in different files), in any format the readers take; none there: no particles."""
    if s.wind:
        return list(s.wind)
    from climate_pipeline.readers import auto_wind_names

    return auto_wind_names(list(s.wind_files or s.inputs), required=False)
