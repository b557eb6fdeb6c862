"""Our compiled isosurface kernel (``core._isokernel_c``), with a numpy-level interface.

Marching cubes over every cell in one pass, with VTK's case table (so the surface has the
same vertices and triangles as vtkFlyingEdges3D), vertices shared through per-plane edge
caches, world-space vertices and unit normals straight from the kernel::

    from core import isokernel
    if isokernel.available():
        verts, faces, normals = isokernel.extract(values, 0.3, affine)

The C source, its case table and the generator of that table are in core/_isokernel/;
``pip install -e .`` (setup.py) builds it. When it is not built, ``available()`` is False and
callers use VTK.
"""

from __future__ import annotations

import numpy as np

from core.errors import BadInputError

__all__ = ["available", "extract"]

try:
    from core import _isokernel_c as _c  # type: ignore[attr-defined]
except ImportError:  # not built (no compiler at install time)
    _c = None


def available() -> bool:
    """True when the compiled kernel is importable."""
    return _c is not None


def extract(
    values: np.ndarray,
    level: float,
    affine: np.ndarray,
    normals: bool = True,
    flip: bool = False,
    periodic: tuple[bool, bool, bool] = (False, False, False),
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Isosurface of ``values == level`` (marching cubes, VTK's triangulation).

    * ``values[i, j, k]``: a 3-D float32 or float64 array (other dtypes are converted to
      float32, non-contiguous arrays copied); at least 2 samples per axis.
    * ``affine``: 4x4 (or 3x4) index-to-world map, world = A @ [i, j, k] + t; any invertible A.
    * Inside is ``values >= level`` (``values < level`` with ``flip``): faces wind
      counter-clockwise seen from outside and normals (the field's gradient, central
      differences, mapped by the inverse transpose of A) point outward, for det(A) < 0 too.
    * ``periodic`` axes are read as if the first layer were repeated after the last
      (``np.pad(values, ..., mode="wrap")`` by one sample along them), so the surface reaches
      the far cell face; the kernel wraps the index instead of copying the array, with the
      padded array's result bit for bit.

    Returns ``(vertices float32 (n, 3), faces int32 (m, 3), normals float32 (n, 3) or None)``.
    Vertices next to NaN samples are NaN (the caller decides whether that is an error).
    """
    if _c is None:
        raise RuntimeError("core._isokernel_c is not built (pip install -e . with a C compiler)")
    verts, faces, nrm, _ = extract_checked(values, level, affine, normals, flip, periodic)
    return verts, faces, nrm


def extract_checked(
    values: np.ndarray, level: float, affine: np.ndarray, normals: bool = True,
    flip: bool = False, periodic: tuple[bool, bool, bool] = (False, False, False),
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, bool]:
    """:func:`extract`, plus whether any vertex came out NaN (a NaN sample on the surface)."""
    if _c is None:
        raise RuntimeError("core._isokernel_c is not built (pip install -e . with a C compiler)")
    vals = np.asarray(values)
    if vals.ndim != 3:
        raise BadInputError(f"isosurface: expected a 3-D array, got shape {vals.shape}")
    per = tuple(bool(p) for p in periodic)
    if len(per) != 3:
        raise BadInputError(f"isosurface: periodic needs 3 flags, got {periodic!r}")
    if any(s + (p and s > 0) < 2 for s, p in zip(vals.shape, per, strict=True)):
        raise BadInputError(f"isosurface: need at least 2 samples per axis, got {vals.shape}"
                            + (f" (periodic {per})" if any(per) else ""))
    if vals.dtype.kind == "f" and vals.dtype.itemsize in (4, 8):
        vals = vals.astype(vals.dtype.newbyteorder("="), copy=False)  # native byte order
    else:
        vals = vals.astype(np.float64 if vals.dtype.kind == "f" and vals.dtype.itemsize > 8
                           else np.float32)
    vals = np.ascontiguousarray(vals)
    level = float(level)
    if not np.isfinite(level):
        raise BadInputError(f"isosurface: level must be finite, got {level}")
    aff = np.asarray(affine, dtype=np.float64)
    if aff.shape not in ((4, 4), (3, 4)):
        raise BadInputError(f"isosurface: affine must be 4x4 or 3x4, got shape {aff.shape}")
    lin = aff[:3, :3]
    if not np.isfinite(aff[:3]).all() or abs(np.linalg.det(lin)) < 1e-300:
        raise BadInputError("isosurface: the affine must be finite and invertible")
    vb, fb, nb, nv, nf, nan_found = _c.extract(
        vals, level, tuple(lin.ravel().tolist()), tuple(aff[:3, 3].tolist()), bool(normals),
        bool(flip), per,
    )
    verts = _as_rows(vb, nv, np.float32)
    faces = _as_rows(fb, nf, np.int32)
    nrm = _as_rows(nb, nv, np.float32) if normals else None
    return verts, faces, nrm, bool(nan_found)


def _as_rows(buf, n: int, dtype) -> np.ndarray:
    if n == 0:
        return np.zeros((0, 3), dtype)
    return np.frombuffer(buf, dtype=dtype, count=3 * n).reshape(n, 3)
