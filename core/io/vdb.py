"""OpenVDB volumes (.vdb): named float grids with the exact index-to-world affine.

Uses the OpenVDB 12 Python binding carried by the bpy 5.0 wheel (importable without bpy).
OpenVDB maps index to world with row vectors (``world = [i j k 1] @ M``), so the grid
transform is the transpose of our column-vector ``Volume.affine``; a sheared (triclinic)
affine is kept exactly and Blender renders it sheared.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.deps import require
from core.errors import BadInputError
from core.geometry import Volume


def _grid(openvdb, vol: Volume, background: float, tolerance: float):
    vals = np.ascontiguousarray(vol.values, dtype=np.float32)
    if not np.isfinite(vals).all():
        raise BadInputError(f"VDB grid {vol.name!r}: values contain NaN or infinity")
    grid = openvdb.FloatGrid(background)
    grid.copyFromArray(vals, tolerance=tolerance)
    grid.name = vol.name
    grid.transform = openvdb.createLinearTransform(vol.affine.T.tolist())
    grid.gridClass = openvdb.GridClass.FOG_VOLUME
    if vol.units:
        grid["units"] = vol.units
    return grid


def write_vdb(volumes: Volume | list[Volume], path: str | Path, *, background: float = 0.0,
              tolerance: float = 0.0) -> Path:
    """Write one or more volumes as named float grids in one .vdb, atomically.

    Voxels within ``tolerance`` of ``background`` stay inactive (sparse storage).
    """
    (openvdb,) = require("openvdb")
    vols = [volumes] if isinstance(volumes, Volume) else list(volumes)
    names = [v.name for v in vols]
    if len(set(names)) != len(names):
        raise BadInputError(f"{path}: VDB grid names must be unique, got {names}")
    grids = [_grid(openvdb, v, background, tolerance) for v in vols]
    with atomic_path(path) as tmp:
        openvdb.write(str(tmp), grids=grids)
    return Path(path)


def read_vdb(path: str | Path, name: str | None = None) -> Volume:
    """Read one grid (the first if ``name`` is None) back as a dense Volume."""
    (openvdb,) = require("openvdb")
    path = Path(path)
    try:
        grids, _meta = openvdb.readAll(str(path))
    except Exception as exc:  # the binding raises plain RuntimeError/IOError
        raise BadInputError(f"{path}: cannot read as OpenVDB: {exc}") from None
    if name is not None:
        grids = [g for g in grids if g.name == name]
        if not grids:
            raise BadInputError(f"{path}: no grid named {name!r}")
    g = grids[0]
    (i0, j0, k0), (i1, j1, k1) = g.evalActiveVoxelBoundingBox()
    shape = (i1 - i0 + 1, j1 - j0 + 1, k1 - k0 + 1)
    arr = np.zeros(shape, dtype=np.float32)
    g.copyToArray(arr, ijk=(i0, j0, k0))
    m = np.array(g.transform.indexToWorld((0, 0, 0)))
    cols = [np.array(g.transform.indexToWorld(e)) - m for e in ((1, 0, 0), (0, 1, 0), (0, 0, 1))]
    aff = np.eye(4)
    aff[:3, :3] = np.stack(cols, 1)
    aff[:3, 3] = m + aff[:3, :3] @ np.array([i0, j0, k0], dtype=np.float64)
    units = g["units"] if "units" in g else ""
    return Volume(arr, aff, g.name, units)
