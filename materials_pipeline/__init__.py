"""Materials pipeline: electron densities and structures to Blender and Maya assets.

* :mod:`materials_pipeline.readers` — format registry and readers (VASP, cube, XSF, ...).
* :mod:`materials_pipeline.data` — what readers return (Structure, Grid, DensityFile, ...).
* :mod:`materials_pipeline.iso` — isovalue specifications.
* :mod:`materials_pipeline.structure` — atoms, bonds, cell edges, polyhedra.
* :mod:`materials_pipeline.stages` — pure per-frame geometry stages.
* :mod:`materials_pipeline.frames`, :mod:`materials_pipeline.tasks` — per-frame work and tasks.
* :mod:`materials_pipeline.pipeline` — the command line (``python -m materials_pipeline``).
"""

import core as _core  # noqa: F401  (before numpy: one BLAS thread, see core/__init__.py)
