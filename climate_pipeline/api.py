"""The climate pipeline's in-memory entry point: an ``xarray.Dataset`` already open (read lazily
from files, or generated on demand) -> the usual run directory.

    from climate_pipeline.api import convert_dataset

    ds = xr.open_dataset("run.nc", chunks={"time": 1})
    convert_dataset(ds, "pm2p5", "out/run", wind=("u", "v", "w"), frames=[0, 1, 2, 3])

It does what ``python -m climate_pipeline FILE --var VAR --wind U,V,W --out DIR --no-render``
does, with the same frame and particle code (:func:`climate_pipeline.frames.frame_from_field`,
:func:`climate_pipeline.frames.particles_from_winds`: the work of the command's tasks, here on
a field read by :func:`climate_pipeline.readers.field_from_dataset` instead of from paths),
the same colour range, thresholds and per-task memory budget, the same static assets and
manifest; in this process, one frame and one particle batch after another (no engine, no
workers). For the same frames, the assets equal the command's on the file the dataset was
read from (``tests/climate/test_api.py``).

Memory is what the command's tasks hold: a frame reads its one or two time steps, the
particles read the winds through a window of time steps sized from the budget, the colour
range reads three steps; so the peak does not grow with the dataset's number of steps
(``tests/climate/test_bench_scale.py``: 1 GB to 100 GB of lazily generated data).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from climate_pipeline import frames as fr
from climate_pipeline import products as P
from climate_pipeline.pipeline import _say_what_was_read, default_batches, memory_for, run_params
from climate_pipeline.settings import ClimateSettings
from core.cli import set_log_file
from core.errors import BadInputError
from core.framecache import done, params_key
from core.rundir import RunDir

__all__ = ["convert_dataset"]


def _taus(frames: int | Sequence[float] | None, nt: int) -> list[float]:
    """Output frames as fractional time steps: None, every step (the command's default);
    an int N, N frames spread over the steps (``--frames N``); a sequence, those steps
    (fractions interpolate in time)."""
    if frames is None or isinstance(frames, (int, np.integer)):
        n = nt if frames is None else int(frames)
        if n < 1:
            raise BadInputError(f"frames={frames}: expected a number of frames >= 1")
        return [float(t) for t in (np.linspace(0, nt - 1, n) if n > 1 else [0.0])]
    taus = [float(t) for t in frames]
    if not taus:
        raise BadInputError("frames=[]: expected at least one time step")
    bad = [t for t in taus if not 0 <= t <= nt - 1]
    if bad:
        raise BadInputError(f"frames {bad}: expected time steps within 0..{nt - 1}")
    return taus


# long: the in-process pipeline end to end under one log handler; to split by step
def convert_dataset(ds: Any, var: str | None, out: str | os.PathLike, *,
                    wind: Sequence[str] | None = ("u", "v", "w"),
                    frames: int | Sequence[float] | None = None,
                    particles: int = 20000, batches: int | None = None,
                    manifest: bool = True, resume: bool = False, **options: Any) -> dict:
    """Convert variable ``var`` of ``ds`` (None: its only data variable) into the run
    directory ``out``: ``assets/NNNN/*`` per output frame, the particles, ``static/*``,
    ``manifest.json`` and ``scene.usda`` (``manifest=False``: assets only). Nothing is
    rendered.

    ``ds``: an ``xarray.Dataset`` with CF attributes as a NetCDF file has them (time,
    vertical, latitude/longitude or a grid mapping), dask-backed or lazily indexed (chunked
    one time step per chunk here); a time step is read when a frame needs it.
    ``wind``: the u, v[, w] variables of ``ds`` (None or (): no particles or streamlines).
    ``frames``: None, every time step; N, N frames spread over the steps (``--frames N``);
    a list, those time steps (fractions interpolate in time).
    ``particles``, ``batches``: as ``--particles`` (default 20000) and ``--batches``
    (default: one per 200,000 particles, for one worker).
    ``resume``: keep the frames and batches already complete for the same data (dask's
    token of the arrays) and parameters.
    ``options``: any other field of :class:`climate_pipeline.settings.ClimateSettings`
    (``mode``, ``exaggeration``, ``thresholds``, ``colormap``, ``formats``, ``volume``,
    ``streamlines``, ``streamline_height``, ``seed_by``, ``coastlines``, ``title``, ...),
    each defaulting to the command's default.

    Returns ``{"manifest": path or None, "frames": [frame metadata],
    "particles": [batch metadata]}``.
    """
    from climate_pipeline.readers import field_from_dataset, winds_from_dataset

    t_start = time.perf_counter()
    for k in ("out", "inputs", "default", "var", "wind", "particles", "batches", "frames"):
        if k in options:
            raise TypeError(f"convert_dataset: {k!r} is not an option here")
    s = ClimateSettings(out=Path(out), var=var, wind=tuple(wind or ()),
                        particles=max(0, int(particles)), batches=batches, render=False,
                        engine="in-process", workers=1, **options)

    run = RunDir(s.out.resolve())
    run.root.mkdir(parents=True, exist_ok=True)
    import logging

    logger = logging.getLogger("vizpipe")
    had = list(logger.handlers)
    handler = set_log_file(run.run_log)
    try:
        field = field_from_dataset(ds, var)
        _say_what_was_read(field)
        names = list(s.wind) if s.particles else []
        winds = winds_from_dataset(ds, names) if names else None
        taus = _taus(frames, field.nt)
        s = s.replace(frames=len(taus))
        with memory_for(field, ["<memory>"], s, names):
            params, pparams = run_params(s, field)
            token = _token(field.values)
            out_dir = str(run.root)
            metas = []
            for i, tau in enumerate(taus):
                source = params_key(fr.ASSET_VERSION, "dataset", token, var, tau)
                key = params_key(source, params.key())
                cached = done(run.frame_dir(i) / "frame.json", key) if resume else None
                metas.append({**cached, "skipped": True} if cached is not None else
                             fr.frame_from_field(field, out_dir, i, tau, params, key,
                                                 source=source if resume else None))
            pmetas = []
            if winds is not None:
                nb = s.batches or default_batches(s.particles, 1)
                per = int(np.ceil(s.particles / nb))
                wtoken = [_token(c.values) for c in (winds.u, winds.v, winds.w)
                          if c is not None]
                for b in range(nb):
                    key = params_key(fr.ASSET_VERSION, "dataset", wtoken, names, b, per, 7,
                                        taus, pparams.key())
                    cached = (done(run.assets / f"{P.PARTICLES.stem(batch=b)}.json", key)
                              if resume else None)
                    pmetas.append({**cached, "skipped": True} if cached is not None else
                                  fr.particles_from_winds(winds, names, out_dir, b, per, 7,
                                                          taus, pparams, key, where="<memory>",
                                                          field=field))
        path = None
        if manifest:
            from climate_pipeline.manifest import build_manifest, build_static
            from core.manifest import write_run

            static = build_static(run, field, params, s)
            man = build_manifest(run, field, metas, pmetas, params, s, taus=taus,
                                 winds=names, inputs=[], checksums={}, static=static)
            path = write_run(run.root, man)
        print(f"climate: {len(metas)} frame(s), {len(pmetas)} particle batch(es) from a "
              f"dataset, {time.perf_counter() - t_start:.1f}s -> {path or run.root}",
              file=sys.stderr, flush=True)
    finally:
        if handler not in had:
            logger.removeHandler(handler)
            handler.close()
    return {"manifest": str(path) if path else None, "frames": metas, "particles": pmetas}


def _token(values: Any) -> str:
    """dask's identity of a lazy array (its graph's name: no values read)."""
    from dask.base import tokenize

    return str(tokenize(values))


