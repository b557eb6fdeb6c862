"""Thin task wrappers of the climate pipeline (the PyCOMPSs-shaped layer): paths and small
parameters in, small metadata out; the work is in :mod:`climate_pipeline.frames`."""

from __future__ import annotations

from climate_pipeline import frames
from core.runtime import constraint, task


@constraint(computing_units="1")
@task(returns=1, on_failure="FAIL", time_out=3600)
def build_frame(paths, var, out_dir, index, tau, params):
    return frames.build_frame(paths, var, out_dir, index, tau, params)


@constraint(computing_units="1")
@task(returns=1, on_failure="FAIL", time_out=7200)
def particle_batch(wind_paths, names, out_dir, batch, n, seed, taus, params):
    return frames.particle_batch(wind_paths, names, out_dir, batch, n, seed, taus, params)
