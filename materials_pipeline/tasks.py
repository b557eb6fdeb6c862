"""Thin task wrappers of the materials pipeline (the PyCOMPSs-shaped layer).

Only imports, definitions and task decorators live here (PyCOMPSs rules): every task takes
paths and small parameters, calls a function of :mod:`materials_pipeline.frames` or
:mod:`materials_pipeline.default_data`, and returns small metadata.
"""

from __future__ import annotations

from core.runtime import constraint, task
from materials_pipeline import default_data, frames


@constraint(computing_units="1")
@task(returns=1, on_failure="FAIL", time_out=3600)
def build_frame(src, frame_in_file, color_src, out_dir, index, params, threads):
    return frames.build_frame(src, frame_in_file, color_src, out_dir, index, params, threads)


@constraint(computing_units="1")
@task(returns=1, on_failure="FAIL", time_out=1800)
def colour_frame(out_dir, index, surfaces, cmap, vmin, vmax, formats):
    return frames.colour_frame(out_dir, index, surfaces, cmap, vmin, vmax, formats)


@constraint(computing_units="1")
@task(returns=1, on_failure="FAIL", time_out=1800)
def compute_default_frame(out_dir, index, n_frames, mode, params):
    return default_data.compute_frame(out_dir, index, n_frames, mode, params)
