"""Thin task wrappers of the climate pipeline (the PyCOMPSs-shaped layer): paths and small
parameters in, small metadata out; the work is in :mod:`climate_pipeline.frames`.

Directions, as COMPSs sees them: the input files are ``COLLECTION_FILE_IN`` (the runtime
checks they exist and orders the tasks after any writer). ``out_dir`` is the run directory on
the shared disk (``--worker_working_dir=shared_disk``), a plain string: every frame task and
every particle batch writes its own files under ``assets/NNNN/`` there (atomic renames,
skipped when complete), and particle batches write into every frame's folder. Declaring it
``DIRECTORY_OUT`` would make all these tasks writers of one datum, which COMPSs runs one after
another, and let it move versions of the run directory. The results (small dicts) are
gathered by the master with ``compss_wait_on``. Computing units per task:
``$VIZPIPE_CU_CONVERT`` (default 1), read at import. Memory per task (``memory_size``, GB):
:func:`core.memory.task_memory_gb`, the per-task budget ``$VIZPIPE_MEMORY_BUDGET_MB`` plus
what a task process holds besides its data; the frames and the wind window are sized to fit
it (``climate_pipeline.pipeline.memory_for`` checks one frame before any work).
"""

from __future__ import annotations

from climate_pipeline import frames
from core.containers import env_units
from core.memory import task_memory_gb
from core.runtime import COLLECTION_FILE_IN, constraint, task


@constraint(computing_units=env_units("VIZPIPE_CU_CONVERT"), memory_size=task_memory_gb())
@task(returns=1, paths=COLLECTION_FILE_IN, on_failure="FAIL", time_out=3600)
def build_frame(paths, var, out_dir, index, tau, params):
    return frames.build_frame(paths, var, out_dir, index, tau, params)


@constraint(computing_units=env_units("VIZPIPE_CU_CONVERT"), memory_size=task_memory_gb())
@task(returns=1, wind_paths=COLLECTION_FILE_IN, on_failure="FAIL", time_out=7200,
      priority=True)  # the longest tasks: started first, so no worker idles at the end
def particle_batch(wind_paths, names, out_dir, batch, n, seed, taus, params):
    return frames.particle_batch(wind_paths, names, out_dir, batch, n, seed, taus, params)
