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

CHUNK_BYTES = 4 << 20  # float32 staging buffer of one slab of planes (grids not float32)


def _slab_planes(shape: tuple[int, ...]) -> int:
    """Planes per slab: a multiple of 8 (OpenVDB's leaf size, so that every leaf is filled by
    one ``copyFromArray`` call, as with the whole array at once) within CHUNK_BYTES."""
    plane = max(1, int(np.prod(shape[1:]))) * 4
    return max(8, CHUNK_BYTES // plane // 8 * 8)


def _check_finite(vals: np.ndarray, name: str) -> None:
    if not np.isfinite(vals).all():
        raise BadInputError(f"VDB grid {name!r}: values contain NaN or infinity")


def _grid(openvdb, vol: Volume, background: float, tolerance: float):
    grid = openvdb.FloatGrid(background)
    src = np.asarray(vol.values)
    if src.dtype == np.float32 and src.dtype.isnative and src.flags.c_contiguous:
        _check_finite(src, vol.name)
        grid.copyFromArray(src, tolerance=tolerance)
    else:
        # Other dtypes (float64 densities) go in slab by slab through a small float32 buffer
        # instead of a float32 copy of the whole grid (67 MB of fresh pages for 256^3): the
        # same values (numpy's float32 rounding), the same finiteness check, the same grid.
        n = _slab_planes(src.shape)
        buf = np.empty((min(n, len(src)),) + src.shape[1:], np.float32)
        for i in range(0, len(src), n):
            slab = buf[:min(n, len(src) - i)]
            with np.errstate(over="ignore"):  # too large for float32: inf, refused just below
                np.copyto(slab, src[i:i + len(slab)], casting="unsafe")
            _check_finite(slab, vol.name)
            grid.copyFromArray(slab, ijk=(i, 0, 0), tolerance=tolerance)
    return describe_grid(openvdb, grid, vol)


HALF_MAX = 65504.0  # the largest finite float16
HALF_MIN_NORMAL = 2.0**-14  # below it float16 is subnormal: less than 11 significant bits


def fits_half(values: np.ndarray, background: float = 0.0, tolerance: float = 0.0) -> bool:
    """Whether every value that stays active (further than ``tolerance`` from
    ``background``) is a normal float16: ``2**-14 <= |v| < 65504``, so storing it as half
    keeps 11 significant bits (relative error <= 2**-11). Zero is exact in float16 too.
    Read slab by slab (no full-size temporaries)."""
    src = np.asarray(values)
    n = _slab_planes(src.shape)
    for i in range(0, len(src), n):
        a = np.abs(src[i:i + n], dtype=np.float64)
        active = np.abs(src[i:i + n] - background) > tolerance
        a = a[active & (a > 0)]
        if a.size and (a.max() >= HALF_MAX or a.min() < HALF_MIN_NORMAL):
            return False
    return True


def describe_grid(openvdb, grid, vol: Volume):
    """Name, index-to-world transform, class and units of ``grid`` from ``vol``."""
    grid.name = vol.name
    grid.transform = openvdb.createLinearTransform(vol.affine.T.tolist())
    grid.gridClass = openvdb.GridClass.FOG_VOLUME
    if vol.units:
        grid["units"] = vol.units
    return grid


def write_vdb(volumes: Volume | list[Volume], path: str | Path, *, background: float = 0.0,
              tolerance: float = 0.0, half: bool = False) -> Path:
    """Write one or more volumes as named float grids in one .vdb, atomically.

    Voxels within ``tolerance`` of ``background`` stay inactive (sparse storage: an inactive
    leaf costs nothing in the file, an inactive 8^3 leaf is not even allocated). ``half``:
    store the values as 16-bit floats (OpenVDB's ``saveFloatAsHalf``; relative precision
    2**-11, half the bytes; Blender reads them as floats) when every active value fits
    (:func:`fits_half`); a grid that does not (pressure in Pa, concentrations in kg m-3) is
    stored as 32-bit floats.
    """
    (openvdb,) = require("openvdb")
    vols = [volumes] if isinstance(volumes, Volume) else list(volumes)
    names = [v.name for v in vols]
    if len(set(names)) != len(names):
        raise BadInputError(f"{path}: VDB grid names must be unique, got {names}")
    grids = [_grid(openvdb, v, background, tolerance) for v in vols]
    for g, v in zip(grids, vols, strict=True):
        g.saveFloatAsHalf = bool(half) and fits_half(v.values, background, tolerance)
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
    if min(shape) <= 0:  # no active voxel (a frame whose field lies below the tolerance)
        i0 = j0 = k0 = 0
        arr = np.zeros((0, 0, 0), dtype=np.float32)
    else:
        arr = np.zeros(shape, dtype=np.float32)
        g.copyToArray(arr, ijk=(i0, j0, k0))
    m = np.array(g.transform.indexToWorld((0, 0, 0)))
    cols = [np.array(g.transform.indexToWorld(e)) - m for e in ((1, 0, 0), (0, 1, 0), (0, 0, 1))]
    aff = np.eye(4)
    aff[:3, :3] = np.stack(cols, 1)
    aff[:3, 3] = m + aff[:3, :3] @ np.array([i0, j0, k0], dtype=np.float64)
    units = g["units"] if "units" in g else ""
    return Volume(arr, aff, g.name, units)
