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

import contextlib
import os
import sys
import time
from pathlib import Path

import numpy as np

from climate_pipeline import default_data
from climate_pipeline.builders import projection
from climate_pipeline.levels import action_levels, default_levels, quantity_of
from climate_pipeline.params import BatchParams, FrameParams, Lod, Projection
from climate_pipeline.settings import ClimateSettings, build_parser, settings_from_args
from core import colormaps, memory
from core.cli import set_log_file
from core.errors import BadInputError
from core.lod import view_area
from core.manifest import checksums_in_background, write_run
from core.rundir import RunDir
from core.runtime import resolve_workers, use_engine, wait_on
from core.runtime.engines import LocalEngine, resolve_engine_name, workers_that_fit
from core.units import factor, readable_unit

__all__ = ["ClimateSettings", "build_parser", "settings_from_args", "convert"]


def with_default_data(s: ClimateSettings, run: RunDir) -> ClimateSettings:
    """``--default``: write the embedded PM10 episode under ``inputs/`` and return the
    settings that read it (variable, title and WHO thresholds unless given)."""

    (run.root / "inputs").mkdir(exist_ok=True)
    nc = default_data.write_netcdf(run.root / "inputs" / "pm10_iberia.nc")
    return s.replace(inputs=(str(nc),), var=s.var or "pm10",
                     title=s.title or "PM10 over Iberia (synthetic episode)",
                     thresholds=s.thresholds or (45.0, 100.0))  # WHO 24-h guideline, twice it


def convert(s: ClimateSettings) -> dict:
    from climate_pipeline.readers import open_field

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
    workers = fitting_workers(resolve_workers(s.workers))
    early = _early_engine(s, workers)  # its workers start while the input is opened
    try:
        field = open_field(paths, s.var, allow_no_time=True, member=s.member)
        _say_what_was_read(field)
        winds = _wind_names(s)
        with memory_for(field, paths, s, winds) as raised:
            if raised and early is not None:  # started with the default budget: again
                early.close(wait=False)
                early = None
                workers = fitting_workers(resolve_workers(s.workers))
            return _convert(s, run, field, paths, winds, checksums, t_start, workers, early)
    finally:
        if early is not None:
            early.close(wait=False)


#: what each local worker imports as it starts (while the master opens the input)
WORKER_PRELOAD = ("climate_pipeline.frames", "climate_pipeline.readers",
                  "climate_pipeline.particles", "climate_pipeline.stages", "core.io.usd",
                  "core.io.vdb", "xarray", "dask.array", "netCDF4")


def _early_engine(s: ClimateSettings, workers: int):
    """The local engine with its worker processes starting in the background, or None (one
    worker runs in this process; serial and COMPSs engines start their own way)."""

    if workers < 2 or resolve_engine_name(s.engine) != "local":
        return None
    eng = LocalEngine(workers=workers, label="climate", preload=WORKER_PRELOAD)
    eng.start_soon()
    return eng


def _convert(s: ClimateSettings, run: RunDir, field, paths: list[str], winds: list[str],
             checksums, t_start: float, workers: int, engine=None) -> dict:

    out = run.root
    nt = field.nt
    n_frames = s.frames or nt
    taus = list(np.linspace(0, nt - 1, n_frames)) if n_frames > 1 else [0.0]
    # one colour range and threshold set for the movie, from a few frames (not all: big data)
    params, pparams = run_params(s, field)
    if s.member is not None:
        params = params.replace(member=s.member)
        pparams = pparams.replace(member=s.member)
    if s.seed_by == "concentration":
        pparams = pparams.replace(field_paths=tuple(paths))
    batches = s.batches or default_batches(s.particles, workers)
    with use_engine(engine or s.engine, workers=workers, label="climate"):
        from climate_pipeline.tasks import build_frame, particle_batch

        pfuts = []  # submitted first: the longest tasks (and priority tasks under COMPSs)
        if s.particles and winds:
            wpaths = [str(Path(p).resolve()) for p in (s.wind_files or paths)]
            per = int(np.ceil(s.particles / batches))
            pfuts = [particle_batch(wpaths, winds, str(out), b, per, 7, [float(t) for t in taus],
                                    pparams) for b in range(batches)]
        futs = [build_frame(paths, s.var, str(out), i, float(t), params)
                for i, t in enumerate(taus)]
        from climate_pipeline.manifest import build_manifest, build_static

        static = build_static(run, field, params, s)  # here, while the workers convert
        metas = wait_on(futs)
        pmetas = wait_on(pfuts) if pfuts else []

    man = build_manifest(run, field, metas, pmetas, params, s, taus=taus, winds=winds,
                         inputs=paths + list(s.wind_files), checksums=checksums.result(),
                         static=static)
    path = write_run(out, man)
    done_n = sum(not m.get("skipped") for m in metas)
    print(f"climate: {len(metas)} frame(s), {done_n} converted, {len(pmetas)} particle "
          f"batch(es), {time.perf_counter() - t_start:.1f}s -> {path}", file=sys.stderr,
          flush=True)
    return {"manifest": str(path), "frames": metas}


@contextlib.contextmanager
def memory_for(field, paths: list[str], s: ClimateSettings, winds: list[str]):
    """Check, before any work, that one frame (and two steps of the winds) fit the per-task
    memory budget. A budget the user set (VIZPIPE_MEMORY_BUDGET_MB) that is too small is an
    error naming the frame's size; the default budget is raised for this run (and its
    workers) to what one frame needs: a valid file converts with default settings."""

    nz, ny, nx = (int(n) for n in field.shape[1:])
    itemsize = int(getattr(getattr(field.values, "dtype", None), "itemsize", 4) or 4)
    need = memory.frame_need_bytes(nz * ny * nx, itemsize)
    step_mb = nz * ny * nx * max(itemsize, 4) / 2**20
    what = f"one frame ({nz} x {ny} x {nx} values, {step_mb:.0f} MB)"
    if s.particles and winds:
        plan = memory.wind_window_plan(nz, ny, nx, len(winds), 2, itemsize)
        wind_need = 2 * plan.step_bytes + nz * ny * nx * 16
        if wind_need > need:
            need, what = wind_need, (f"two time steps of the winds ({nz} x {ny} x {nx}, "
                                     f"{len(winds)} components, packed for the particles)")
    budget = memory.budget_bytes()
    mb = -(-need // 2**20)
    if need <= budget:
        yield False
        return
    if memory.budget_set():
        raise BadInputError(
            f"{paths[0]}: variable {field.name!r}: {what} needs about {mb} MB to convert, "
            f"more than the per-task memory budget of {budget // 2**20} MB "
            f"(VIZPIPE_MEMORY_BUDGET_MB); expected a budget of at least {mb} MB")
    import logging

    line = (f"climate: memory: {what} needs about {mb} MB: the per-task budget is raised "
            f"from {budget // 2**20} MB to {mb} MB for this run (VIZPIPE_MEMORY_BUDGET_MB)")
    logging.getLogger("vizpipe.climate").info(line)
    print(line, file=sys.stderr, flush=True)
    os.environ[memory.BUDGET_ENV] = str(mb)
    try:
        yield True
    finally:
        os.environ.pop(memory.BUDGET_ENV, None)


def fitting_workers(workers: int) -> int:
    """``workers``, or fewer when that many tasks' declared memory does not fit the memory
    available now (one line says so)."""

    fit = workers_that_fit(workers)
    if fit < workers:
        from core.memory import task_memory_mb

        print(f"climate: memory: {workers} workers of {task_memory_mb()} MB each do not fit "
              f"the memory available now; running {fit}", file=sys.stderr, flush=True)
    return fit


def run_params(s: ClimateSettings, field) -> tuple[FrameParams, BatchParams]:
    """The frame tasks' and particle batches' parameters of a run (the command's and
    ``climate_pipeline.api.convert_dataset``'s): one colour range and threshold set for the
    movie, the percentiles of a few time steps (not all: big data)."""
    from climate_pipeline.products import SPEED_MAX, particle_radius

    sample = range_sample(field)
    shown = display_units(field, sample, s.thresholds_units if s.thresholds else "")
    sample *= shown["scale"]
    vmin, vmax = (float(x) for x in np.percentile(sample, [1, 99.5], overwrite_input=True))
    thresholds = [float(t) * shown["thresholds_scale"] for t in s.thresholds]
    if not thresholds:
        thresholds, shown["levels_rule"] = default_levels(sample, shown["quantity"],
                                                          shown["units"])
    del sample
    formats = tuple(s.formats)
    from climate_pipeline.manifest import scene_corners
    from climate_pipeline.products import BACKGROUND

    proj_spec = Projection(mode=s.mode, exaggeration=s.exaggeration)
    corners = scene_corners(field, projection(proj_spec, field.lon, field.lat))
    lod = Lod(full_res=bool(s.full_res), resolution=tuple(s.resolution),
              view_area=round(view_area(np.array([corners.min(0), corners.max(0)])), 3))
    params = FrameParams(projection=proj_spec, thresholds=tuple(thresholds), range=(vmin, vmax),
                         # values are multiplied by scale into units (core.units.readable_unit)
                         units=shown["units"], scale=shown["scale"],
                         quantity=shown["quantity"], levels_rule=shown["levels_rule"],
                         # the part of the map that stands out from the film's dark background
                         colormap=colormaps.readable(s.colormap, BACKGROUND),
                         volume=s.volume, formats=formats, lod=lod)
    pparams = BatchParams(projection=proj_spec, formats=formats, dt=600.0, max_age_h=12,
                          trail_hours=float(s.trail_hours),
                          particle_radius=particle_radius(s.mode), speed_max=SPEED_MAX,
                          streamlines=s.streamlines,
                          streamline_height_m=float(s.streamline_height), seed_by=s.seed_by,
                          field_var=s.var if s.seed_by == "concentration" else None)
    return params, pparams


def display_units(field, sample: np.ndarray, thresholds_units: str = "") -> dict:
    """The unit a run shows its field in, and what follows from it: ``units`` (UDUNITS, or
    ppb...), ``scale`` (file values times scale), ``quantity`` (an action-level quantity of
    ``climate_pipeline.levels``, or None), ``thresholds_scale`` (``--thresholds`` given in
    ``thresholds_units``, '' the file's, into ``units``) and ``levels_rule`` (which rule
    chose the levels). The unit puts the top of the colour range (the 99.5th percentile of
    ``sample``, file units) between 0.1 and 1000, in the action levels' unit where that
    fits."""
    from core.errors import BadInputError

    quantity = quantity_of(field.name, field.long_name, field.standard_name,
                           str(field.attrs.get("Species", "")))
    acts = action_levels(quantity, field.units) if field.units else []
    typical = float(np.percentile(sample, 99.5)) if sample.size else 0.0
    units, scale = readable_unit(field.units, typical,
                                 prefer=acts[0][1].units if acts else None)
    t_scale = 1.0
    if thresholds_units:
        try:
            t_scale = factor(thresholds_units, units)
        except ValueError:
            raise BadInputError(f"{field.paths[0] if field.paths else '<memory>'}: "
                                f"--thresholds in {thresholds_units!r}, but {field.name!r} is "
                                f"in {field.units or 'no units'!r}; expected a unit that "
                                "converts to it") from None
    else:
        t_scale = scale
    return {"units": units, "scale": scale, "quantity": quantity, "thresholds_scale": t_scale,
            "levels_rule": "--thresholds"}


def range_sample(field) -> np.ndarray:
    """The finite values of the first, middle and last time steps, in one array (the colour
    range and default thresholds are percentiles of it): read a step at a time into one
    buffer, no concatenated or masked copies (a step of a regional run is 25-250 MB)."""
    steps = sorted({0, field.nt // 2, field.nt - 1})
    buf: np.ndarray | None = None
    n = 0
    for t in steps:
        a = field.frame(t).ravel()
        if buf is None:
            buf = np.empty(a.size * len(steps), a.dtype)
        ok = np.isfinite(a)
        k = int(ok.sum())
        buf[n:n + k] = a if k == a.size else a[ok]
        n += k
        del a, ok
    assert buf is not None
    return buf[:n]


#: particles per batch by default: each batch reads every wind step (about 0.13 s per step of
#: a 20 x 400 x 800 grid) and advects its particles (11 M particle-steps/s); below this many
#: particles, a second batch repeats the reading for less advection than it saves
PARTICLES_PER_BATCH = 200_000


def default_batches(particles: int, workers: int) -> int:
    """One particle batch per PARTICLES_PER_BATCH particles, at most one per worker."""
    return max(1, min(int(workers), -(-int(particles) // PARTICLES_PER_BATCH)))


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
