"""The work of one climate frame and of one particle batch (called by the thin tasks).

``build_frame`` and ``particle_batch`` open their inputs from paths (skipping complete
outputs); ``frame_from_field`` and ``particles_from_winds`` do the work on a Field / Winds
already open, which is also how :mod:`climate_pipeline.api` converts an in-memory dataset.

Frame outputs in ``RUN/assets/NNNN/``: ``iso_<k>.glb|usdc[|ply]`` (one per threshold,
simplified to the frame's triangle budget: :mod:`core.lod`), ``field.vdb|usdc`` (3-D fields
on a regular grid, map mode), ``layer.glb|usdc[|ply]`` (2-D fields, or the lowest level of
3-D ones), ``particles_bBB.*`` and ``trails_bBB.*`` (one per particle
batch), and ``frame.json`` last. Frames between data time steps interpolate linearly in time.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from climate_pipeline import particles as pt
from climate_pipeline import products as P
from climate_pipeline.builders import FrameContext, heights_m, load_time, projection
from climate_pipeline.params import BatchParams, FrameParams
from climate_pipeline.products import PARTICLE_CMAP, STREAM_CMAP, TRAIL_RADIUS, stream_range
from core import colormaps
from core.errors import BadInputError
from core.framecache import Reuse, done, file_stat, params_key, product_files, write_all, write_meta
from core.geometry import Curves, Points
from core.memory import tune_malloc, wind_window_plan
from core.rundir import RunDir

ASSET_VERSION = 6  # 2: streamlines; 3: field.usd references the .vdb beside it; 4: .usdc,
# Draco GLB, level of detail; 5: the layer leaves missing cells out, a curvilinear grid's
# seam cells cut on the map; 6: frame.json records its products (the manifest's source)
M_PER_KM = 1000.0


def open_field(paths: list[str], var: str | None, member: int | None = None):
    """The command's reading of a field: a field without a time axis is one still frame."""
    from climate_pipeline.readers import open_field as _open

    return _open(paths, var, allow_no_time=True, member=member)


def build_frame(paths: list[str], var: str | None, out_dir: str, index: int, tau: float,
                params: FrameParams) -> dict:
    """Isosurfaces, volume and surface layer of one output frame (skipped when complete)."""
    tune_malloc()  # reuse freed blocks: no page faults per array (core.memory)
    t_start = time.perf_counter()
    fdir = RunDir(out_dir).frame_dir(index)
    source = params_key(ASSET_VERSION, paths, var, tau, [file_stat(p) for p in paths])
    key = params_key(source, params.key())
    if (cached := done(fdir / "frame.json", key)) is not None:
        return {**cached, "skipped": True}
    field = open_field(paths, var, params.member)
    return frame_from_field(field, out_dir, index, tau, params, key, t_start=t_start,
                            source=source)


def frame_from_field(field, out_dir: str, index: int, tau: float, params: FrameParams,
                     key: str, *,
                     t_start: float | None = None, source: str | None = None) -> dict:
    """The work of :func:`build_frame` on a field already open (a file's, or an in-memory
    dataset's: :mod:`climate_pipeline.api`): ``assets/NNNN/*`` and ``frame.json`` (with
    ``key``, the identity of the inputs and parameters) written, its metadata returned.

    The products are the frame rows of :mod:`climate_pipeline.products`, in their order:
    each row's build step yields its pieces (:mod:`climate_pipeline.builders`), each piece
    is written under the stem the row names and recorded in ``frame.json``'s ``products``
    (the manifest's source).

    ``source``: the identity of the inputs alone (``key`` without the parameters); with it,
    files an earlier run wrote for the same product key are kept (:class:`core.framecache.
    Reuse`): another ``--formats`` writes only the new formats, another level of detail only
    the isosurfaces."""
    tune_malloc()
    if t_start is None:
        t_start = time.perf_counter()
    fdir = RunDir(out_dir).frame_dir(index)
    fdir.mkdir(parents=True, exist_ok=True)
    reuse = Reuse(fdir / "frame.json")
    shared = {k: v for k, v in params.key().items() if k not in ("formats", "lod")}
    old = {r["stem"]: r for r in reuse.old.get("products", [])}  # records of kept pieces
    values = load_time(field, tau)  # (nz, ny, nx)
    if params.scale != 1.0:  # into the run's display unit (µg/m³ for g/m3 ash)
        values *= np.float32(params.scale)
    ctx = FrameContext(field, values, field.lon, field.lat, heights_m(field),
                       projection(params.projection, field.lon, field.lat), params)
    files: list[str] = []
    meta: dict[str, Any] = {"index": index, "tau": tau, "key": key, "products": []}
    t_write = 0.0
    for row in P.PRODUCTS:
        if row.scope != "frame" or row.build is None or not row.wanted(params):
            continue
        for piece in row.build(ctx, row):
            pf = row.files(piece.stem, params.formats)
            names = [n for _, n in pf]
            ok = reuse.kept(names, [params_key(source or key, shared, piece.parts, f)
                                    for f, _ in pf])
            kept = [n for n, k in zip(names, ok, strict=True) if k]
            files += names
            if len(kept) == len(names) and (not piece.keep_record or piece.stem in old):
                meta["products"].append(old.get(piece.stem) or
                                        {"product": row.name, "stem": piece.stem})
                continue
            geom, rec = piece.make()
            t = time.perf_counter()
            _write_piece(row, geom, fdir / piece.stem, params.formats, kept,
                         **piece.write_kw)
            t_write += time.perf_counter() - t
            del geom
            meta["products"].append({"product": row.name, "stem": piece.stem, **rec})
    meta["write_seconds"] = t_write
    meta.update(files=files, label=time_label(field, tau), time_index=int(np.floor(tau)),
                units=params.units, name=field.name, long_name=field.long_name,
                standard_name=field.standard_name, vmax_frame=float(np.nanmax(values)),
                seconds=time.perf_counter() - t_start)
    reuse.record(meta)
    write_meta(fdir / "frame.json", meta)
    return {**meta, "skipped": False}


def _write_piece(row: P.Product, geom: Any, stem: Path, formats: tuple[str, ...],
                 kept: list[str], tolerance: float = 0.0) -> None:
    """Write one piece's files (those in ``kept`` stay as they are): a volume as ``.vdb``
    plus the ``.usdc`` that references it (rewritten with it), anything else in every
    format (:func:`core.framecache.write_all`)."""
    if row.kind != "volume":
        write_all(geom, stem, formats, [], name=stem.name, meters_per_unit=M_PER_KM,
                  skip=kept)
        return
    from core.io.usd import write_usd_volume
    from core.io.vdb import write_vdb

    vdb = stem.with_name(f"{stem.name}.vdb")
    write_vdb(geom, vdb, tolerance=tolerance, half=True)
    if "usd" in formats:
        write_usd_volume(vdb, [row.look["grid"]], stem.with_name(f"{stem.name}.usdc"),
                         meters_per_unit=M_PER_KM)


def time_label(field, tau: float) -> str:
    """The (interpolated) time of fractional step ``tau``, e.g. '2026-07-01 13:30 UTC'."""
    ts = field.times
    if not ts or ts[0] is None:
        return f"step {tau:g}"
    import datetime

    secs = _seconds(field)
    dt = float(np.interp(tau, np.arange(len(secs)), secs))
    if isinstance(ts[0], np.datetime64):  # any unit (e.g. hours): milliseconds, then numpy's
        t = ts[0].astype("datetime64[ms]") + np.timedelta64(int(round(dt * 1000)), "ms")
        return f"{str(t)[:16].replace('T', ' ')} UTC"
    t = ts[0] + datetime.timedelta(seconds=dt)
    if isinstance(t, datetime.timedelta):  # offsets from an unknown base (WRF/NCL "hours")
        return f"+{t.total_seconds() / 3600.0:g} h"
    try:
        return f"{t.strftime('%Y-%m-%d %H:%M')} UTC"
    except AttributeError:
        return str(t)[:16].replace("T", " ")


#: the particle parameters that shape only the ``trails_bBB`` files (another --trail-hours
#: advects again, keeps the particles' files and rewrites the trails')
TRAIL_PARAMS = ("trail_hours", "trail_points")


def trail_key(params: BatchParams) -> dict:
    """The streak parameters of ``params``, for the trails' file keys."""
    return {"trail_hours": float(params.trail_hours), "trail_points": int(params.trail_points)}


def particle_batch(wind_paths: list[str], names: list[str], out_dir: str, batch: int, n: int,
                   seed: int, taus: list[float], params: BatchParams) -> dict:
    """One batch of wind particles advected through every output frame (state carries over
    time, so the batch, not the frame, is the unit of parallel work)."""
    tune_malloc()  # reuse freed blocks: no page faults per array (core.memory)
    from climate_pipeline.readers import open_winds

    t_start = time.perf_counter()
    odir = Path(out_dir)
    shared = {k: v for k, v in params.key().items() if k not in ("formats", "lod")
              and k not in TRAIL_PARAMS}  # the streaks' parameters key the trails files only
    source = params_key(ASSET_VERSION, wind_paths, names, batch, n, seed, taus, shared,
                        [file_stat(p) for p in wind_paths])
    # the level of detail is the isosurfaces'
    key = params_key(source, params.formats, trail_key(params))
    marker = RunDir(odir).assets / f"{P.PARTICLES.stem(batch=batch)}.json"
    if (cached := done(marker, key)) is not None:
        return {**cached, "skipped": True}
    winds = open_winds(wind_paths, names, allow_no_time=True, member=params.member)
    return particles_from_winds(winds, names, out_dir, batch, n, seed, taus, params, key,
                                where=wind_paths[0], t_start=t_start, source=source)


# long: one batch through every frame: wind window, prefetch, writes share its state
def particles_from_winds(winds, names: list[str], out_dir: str, batch: int, n: int, seed: int,
                         taus: list[float], params: BatchParams, key: str, *, where: str,
                         field=None, t_start: float | None = None,
                         source: str | None = None) -> dict:
    """The work of :func:`particle_batch` on winds already open (a file's, or an in-memory
    dataset's: :mod:`climate_pipeline.api`): every frame's ``particles_bBB``, ``trails_bBB``
    (and batch 0's ``streamlines``) written, then ``assets/particles_bBB.json`` with ``key``.
    ``where`` names the source in errors; ``field``: the field for ``seed_by=concentration``
    (None: opened from ``params.field_paths``). ``source``: the identity of the inputs
    and the parameters other than the formats; with it, files an earlier run wrote with the
    same product key are kept (another ``--formats`` advects again but writes only the new
    formats' files)."""

    tune_malloc()
    if t_start is None:
        t_start = time.perf_counter()
    marker = RunDir(out_dir).assets / f"{P.PARTICLES.stem(batch=batch)}.json"
    f = winds.u
    nt = f.nt
    secs = _seconds(f)
    lon0 = np.asarray(f.lon, np.float64)
    lat0 = np.asarray(f.lat, np.float64)
    regrid = None
    if lon0.ndim != 1:  # curvilinear (WRF, CMAQ, rotated pole): resampled onto lat-lon
        from climate_pipeline.regrid import CurvilinearRegrid

        try:
            regrid = CurvilinearRegrid(lon0, lat0)
        except ValueError as e:
            raise BadInputError(f"{where}: winds {','.join(names)}: {e}") from None
        lon0, lat0 = regrid.lon, regrid.lat
    z = heights_m(f) if f.nz >= 2 else None
    grids: list[tuple[np.ndarray, np.ndarray]] = []

    def load(i0: int, i1: int) -> pt.WindField:
        """Steps i0..i1 of the winds, read at once and packed for the kernel."""
        u, v, w = winds.steps(i0, i1 + 1)
        if regrid is not None:
            u, v = regrid(u), regrid(v)
            w = regrid(w) if w is not None else None
        lon, lat, comps = regular_wind_grid(lon0, lat0,
                                            [u, v] + ([w] if w is not None else []))
        grids[:] = [(lon, lat)]
        u, v = comps[0], comps[1]
        w = comps[2] if w is not None else None
        del comps
        try:
            return pt.WindField(pt.WindGrid(lon, lat, secs[i0:i1 + 1], z),
                                u if z is not None else u[:, 0],
                                v if z is not None else v[:, 0],
                                (w if z is not None else None), dtype=np.float32)
        except ValueError as e:  # the grid or the values do not suit the particle kernel
            raise BadInputError(f"{where}: winds {','.join(names)}: {e}") from None

    # the window: as many steps as the task's memory budget holds (all of a small field, as
    # one read: thousands of steps of a city box), at least the two around the current time;
    # the steps after it are read while the kernel runs
    plan = wind_window_plan(f.nz, len(lat0), len(lon0), 3 if f.nz >= 2 and winds.has_w
                            else 2, nt)
    if plan.prefetch and "usd" in params.formats:
        import core.io.usd  # noqa: F401  (pxr loads here, not beside the reader's thread)
    wf = pt.WindWindows(load, secs, steps=plan.steps, prefetch=plan.prefetch)
    lon, lat = grids[0]
    times = np.interp(taus, np.arange(nt), secs)
    weights = (seed_weights(params, taus[0], lat, lon, z, field)
               if params.seed_by == "concentration" else None)
    batch_iter = pt.advect_batch(wf, n, seed=seed, batch=batch, times=times, weights=weights,
                                 dt=float(params.dt),
                                 max_age=float(params.max_age_h) * 3600,
                                 trail_duration=trail_key(params)["trail_hours"] * 3600.0,
                                 trail_points=trail_key(params)["trail_points"], lazy=True)
    proj = projection(params.projection, lon, lat)

    files: list[str] = []
    frames_done = 0
    fmts = params.formats
    reuse = Reuse(marker) if source is not None else None

    def kept(fdir: Path, stem: str) -> list[str]:
        """The files of ``stem`` in ``fdir`` already written with their product key (the
        trails': the streak parameters too)."""
        if reuse is None:
            return []
        pf = product_files(stem, fmts)
        rel = [f"{fdir.name}/{n}" for _, n in pf]
        extra = (trail_key(params),) if stem.startswith("trails_") else ()
        ok = reuse.kept(rel, [params_key(source, r, *extra) for r in rel])
        return [n for (_, n), k in zip(pf, ok, strict=True) if k]

    for i, (fr, trails) in enumerate(batch_iter):
        frames_done += 1
        fdir = RunDir(out_dir).frame_dir(i)
        fdir.mkdir(parents=True, exist_ok=True)
        zz = fr.z if z is not None else np.full(len(fr.lon), 10.0)
        pts = Points(proj.forward(fr.lon, fr.lat, zz),
                     {"speed": fr.speed.astype(np.float32), "age": fr.age.astype(np.float32),
                      "id": fr.id.astype(np.int64),
                      "radius": np.full(len(fr.lon), params.particle_radius, np.float32)},
                     colormaps.apply(fr.speed, PARTICLE_CMAP, 0, params.speed_max))
        written: list[str] = []
        stem = P.PARTICLES.stem(batch=batch)
        write_all(pts, fdir / stem, fmts, written, name="particles",
                  meters_per_unit=M_PER_KM, skip=kept(fdir, stem))
        if trails is not None:  # streaks: sub-step samples over the last trail_hours
            p3, counts, _ids, tspeed, fade = trails
            tz = p3[:, 2] if z is not None else np.full(len(p3), 10.0)
            cur = Curves(proj.forward(p3[:, 0], p3[:, 1], tz) if len(p3) else p3, counts,
                         {"speed": tspeed.astype(np.float32), "fade": fade.astype(np.float32)},
                         colormaps.apply(tspeed, PARTICLE_CMAP, 0, params.speed_max),
                         radius=params.particle_radius * TRAIL_RADIUS)
            del p3, tspeed, fade
            stem = P.TRAILS.stem(batch=batch)
            write_all(cur, fdir / stem, fmts, written, name="trails",
                      meters_per_unit=M_PER_KM, skip=kept(fdir, stem))
        if batch == 0 and int(params.streamlines) > 0:
            _write_streamlines(wf, float(times[i]), proj, z is not None, fdir, params,
                               written, skip=kept(fdir, P.STREAMLINES.stem()))
        files += [f"{fdir.name}/{x}" for x in written]
    wf.close()
    meta = {"key": key, "batch": batch, "n": n, "frames": frames_done,
            "files": files, "seconds": time.perf_counter() - t_start,
            "wind_window": {"steps": wf.steps, "of": nt, "reads": wf.loads,
                            "steps_read": wf.steps_read, "prefetch": wf.prefetch,
                            "budget_mb": plan.budget // 2**20}}
    if reuse is not None:
        reuse.record(meta)
    write_meta(marker, meta)
    return {**meta, "skipped": False}


def seed_weights(params: BatchParams, tau: float, lat: np.ndarray, lon: np.ndarray,
                 z: np.ndarray | None, field=None) -> np.ndarray:
    """Particle seeding weights on the winds' grid (``--seed-by concentration``): the field at
    the first output time above its median, so particles start, and respawn, in the plumes
    rather than spread over a background that covers most of the domain. ``field``: the field
    already open (None: opened from ``params.field_paths``)."""
    paths, var = list(params.field_paths or ["<memory>"]), params.field_var
    if field is None:
        field = open_field(paths, var, params.member)
    values = np.nan_to_num(load_time(field, tau), nan=0.0)
    if z is None:
        values = values[:1]
    want = ((len(z),) if z is not None else (1,)) + (len(lat), len(lon))
    if values.shape != want:
        raise BadInputError(f"{paths[0]}: --seed-by concentration needs {var or 'the field'} on "
                            f"the winds' grid {want} (levels, lat, lon); it is on "
                            f"{values.shape}")
    excess = np.maximum(values - np.median(values), 0.0)
    if not (excess > 0).any():
        raise BadInputError(f"{paths[0]}: --seed-by concentration: {var or 'the field'} is "
                            "uniform at the first output time; seed uniformly instead")
    return excess


def _write_streamlines(wf, t: float, proj, three_d: bool, fdir: Path, params: BatchParams,
                       written: list[str], skip: list[str] | tuple[str, ...] = ()) -> None:
    """``streamlines.glb|usdc[|ply]`` (those in ``skip`` kept as they are): streamlines of
    the winds frozen at time ``t`` from a seed lattice at ``streamline_height_m`` (clamped
    into the grid), each reaching about 6% of the domain's width up- and downstream at the
    median wind speed; coloured by speed."""

    slon, slat = pt.seed_lattice(wf, int(params.streamlines))
    zlo, zhi = wf.z_range
    zs = float(np.clip(params.streamline_height_m, zlo, zhi)) if three_d else 0.0
    w3, inside = wf.sample(t, slon, slat, np.full(slon.size, zs))
    speed = np.sqrt((w3 * w3).sum(axis=0))[inside]
    (x0, x1), (y0, y1) = wf.lon_range, wf.lat_range
    width_m = 6371e3 * np.deg2rad(max(x1 - x0, y1 - y0))
    med = float(np.median(speed)) if speed.size else 0.0
    if med <= 0:
        return
    pts, counts, spd, _ = pt.streamlines(wf, t, slon, slat, zs, duration=0.06 * width_m / med,
                                         n_points=int(params.streamline_points))
    if not len(counts):
        return
    zz = pts[:, 2] if three_d else np.full(len(pts), 10.0)
    cur = Curves(proj.forward(pts[:, 0], pts[:, 1], zz), counts,
                 attributes={"speed": spd.astype(np.float32)},
                 colors=colormaps.apply(spd, STREAM_CMAP, *stream_range(params.speed_max)),
                 radius=P.stream_radius(params.projection.mode))
    write_all(cur, fdir / P.STREAMLINES.stem(), params.formats, written,
              name=P.STREAMLINES.stem(), meters_per_unit=M_PER_KM, skip=skip)


def _seconds(field) -> np.ndarray:
    """Seconds since the first time step (uniform hourly steps if times are missing):
    datetimes (cftime, datetime), np.datetime64, and offsets (datetime.timedelta)."""
    ts = field.times
    if not ts or ts[0] is None or len(ts) < 2:
        return np.arange(field.nt, dtype=np.float64) * 3600.0
    if isinstance(ts[0], np.datetime64):
        d = np.asarray(ts, dtype="datetime64[ms]")
        return (d - d[0]).astype(np.float64) / 1000.0
    return np.array([(t - ts[0]).total_seconds() for t in ts], dtype=np.float64)


def _regular_axis(a: np.ndarray, comps: list[np.ndarray], axis: int, periodic: bool
                  ) -> tuple[np.ndarray, list[np.ndarray]]:
    """An ascending, evenly spaced axis for the particle kernel: flipped if descending,
    unwrapped across the 0/360 seam (longitudes), snapped to its uniform step when the
    spacing differs by rounding only (float32 coordinates), else the components are
    interpolated linearly onto as many evenly spaced points (Gaussian latitudes)."""
    a = np.asarray(a, np.float64)
    if a.size < 2:
        return a, comps
    if periodic:
        a = np.rad2deg(np.unwrap(np.deg2rad(a)))
    if a[-1] < a[0]:
        a = a[::-1].copy()
        comps = [np.flip(c, axis=axis) for c in comps]
    if np.any(np.diff(a) <= 0):
        return a, comps  # not monotonic: the kernel says so
    even = np.linspace(a[0], a[-1], a.size)
    step = (a[-1] - a[0]) / (a.size - 1)
    if np.allclose(a, even, rtol=0, atol=1e-3 * step):
        return even, comps
    idx = np.interp(even, a, np.arange(a.size, dtype=np.float64))
    i0 = np.clip(np.floor(idx).astype(np.int64), 0, a.size - 2)
    t = (idx - i0).reshape([-1 if k == axis % comps[0].ndim else 1
                            for k in range(comps[0].ndim)])
    out = [np.take(c, i0, axis=axis) * (1 - t) + np.take(c, i0 + 1, axis=axis) * t
           for c in comps]
    return even, out


def regular_wind_grid(lon: np.ndarray, lat: np.ndarray, comps: list[np.ndarray]
                      ) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Winds ``comps[...][..., lat, lon]`` on ascending, evenly spaced lon/lat (see
    :func:`_regular_axis`): a regular grid is never refused for its orientation or for
    rounding in its coordinates; Gaussian latitudes are resampled linearly."""
    lon, comps = _regular_axis(lon, comps, -1, periodic=True)
    lat, comps = _regular_axis(lat, comps, -2, periodic=False)
    return lon, lat, comps
