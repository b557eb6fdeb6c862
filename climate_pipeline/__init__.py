"""Climate pipeline: pollution, dust and climate fields to Blender and Maya assets."""

import core as _core  # noqa: F401  (before numpy: one BLAS thread, see core/__init__.py)
