"""vizpipe core: what both pipelines stand on. Imports nothing heavy at import time.

* :mod:`core.geometry` — ``Mesh``, ``Volume``, ``Points``, ``Curves`` dataclasses and
  ``isosurface(volume, level, periodic=...)``.
* :mod:`core.io` — writers and readers chosen by suffix: PLY, glTF binary (.glb), OpenVDB
  (.vdb), USD (.usd/.usda/.usdc); every write is atomic.
* :mod:`core.manifest` — the run manifest (JSON Schema ``manifest.schema.json``) and provenance.
* :mod:`core.usdscene` — ``scene.usda`` assembling every frame with time samples.
* :mod:`core.colormaps` — perceptual colour maps, Blender ramps, colour bar images.
* :mod:`core.camera` — camera framing and orbits written into the manifest.
* :mod:`core.runtime` — the task decorator and engines (PyCOMPSs, local dask, serial).
* :mod:`core.cli` — ``--engine``/``--workers`` and the one-line error convention.
* :mod:`core.errors` — ``PipelineError`` and its subclasses.
"""

import os as _os

# One BLAS thread unless the user says otherwise: the pipelines' linear algebra is 3x3 and
# small products, and OpenBLAS's idle threads spin in sched_yield after each call (9% of a
# climate frame task's CPU, half its kernel time; on two busy workers they take a core's
# time from the other worker). Effective where numpy is not loaded yet: the pipelines'
# packages import this first; worker processes inherit it.
BLAS_THREADS_DEFAULTED = "OPENBLAS_NUM_THREADS" not in _os.environ  # (benchmarks give
# the reference scripts the environment without this default)
_os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
