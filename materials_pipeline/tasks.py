"""Thin task wrappers of the materials pipeline (the PyCOMPSs-shaped layer).

Only imports, definitions and task decorators live here (PyCOMPSs rules): every task takes
paths and small parameters, calls a function of :mod:`materials_pipeline.frames` or
:mod:`materials_pipeline.default_data`, and returns small metadata.

Directions, as COMPSs sees them: a frame's source file is ``FILE_IN``. ``color_src`` stays a
plain string because it may be None (no colouring), which a file parameter cannot be.
``out_dir`` is the run directory (or the default input's folder) on the shared disk
(``--worker_working_dir=shared_disk``), a plain string: each task writes only its own frame's
files under it (atomic renames, skipped when complete), and ``colour_frame`` rewrites that
frame's meshes; declaring the shared directory ``DIRECTORY_OUT`` would make every frame task a
writer of one datum, run one after another. Results (small dicts) are gathered by the master
with ``compss_wait_on``. Computing units: ``$VIZPIPE_CU_CONVERT`` (default 1), read at import;
``build_frame``'s ``threads`` should match it (the pipeline passes it under COMPSs).
"""

from __future__ import annotations

from core.containers import env_units
from core.runtime import FILE_IN, constraint, task
from materials_pipeline import default_data, frames


@constraint(computing_units=env_units("VIZPIPE_CU_CONVERT"))
@task(returns=1, src=FILE_IN, on_failure="FAIL", time_out=3600)
def build_frame(src, frame_in_file, color_src, out_dir, index, params, threads):
    return frames.build_frame(src, frame_in_file, color_src, out_dir, index, params, threads)


@constraint(computing_units=env_units("VIZPIPE_CU_CONVERT"))
@task(returns=1, on_failure="FAIL", time_out=1800)
def colour_frame(out_dir, index, surfaces, cmap, vmin, vmax, formats):
    return frames.colour_frame(out_dir, index, surfaces, cmap, vmin, vmax, formats)


@constraint(computing_units=env_units("VIZPIPE_CU_CONVERT"))
@task(returns=1, on_failure="FAIL", time_out=1800)
def compute_default_frame(out_dir, index, n_frames, mode, params):
    return default_data.compute_frame(out_dir, index, n_frames, mode, params)
