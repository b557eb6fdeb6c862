"""Level of detail: an isosurface with the triangles the picture needs, no more.

A marching-cubes surface has about two triangles per grid cell it crosses, whatever the
picture: a 400 x 800 x 20 pollution field gives 4 million triangles, more than ten per pixel
of an 800 x 450 frame. :func:`triangle_budget` turns the render resolution and the surface's
projected size into a triangle count; :func:`simplify` brings a mesh down to it with a
quadric-error simplifier (``fast-simplification``, the Fast-Quadric-Mesh-Simplification
code that pyvista uses), then carries the per-vertex data over:

* every original vertex is collapsed into exactly one kept vertex (the simplifier's collapse
  history says which); a kept vertex takes the mean of the normals (renormalised), colours
  and float attributes of the vertices collapsed into it, so colours stay interpolated and
  normals stay the smooth isosurface normals, not faceted ones;
* integer attributes (ids) keep the kept vertex's own value;
* the mesh's border (where the surface meets the edge of the grid) is kept, so the surface
  still reaches the edges of the domain.

Pure numpy in, numpy out; no engine, no file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from core.geometry import Mesh

__all__ = ["TRIANGLES_PER_PIXEL", "MAX_LAYERS", "MIN_TRIANGLES", "view_area",
           "projected_pixels", "triangle_budget", "simplify", "lod_mesh"]

# One triangle per pixel the surface covers: with smooth normals a triangle of about one
# pixel is invisible as a facet (the SSIM check of `make bench` measures it).
TRIANGLES_PER_PIXEL = 1.0
# A folded surface covers some pixels several times (it is drawn semi-transparent): count at
# most this many layers of it.
MAX_LAYERS = 4.0
# Below this a surface is left as it is: small surfaces are cheap, and close-ups need them.
MIN_TRIANGLES = 20_000


def view_area(bounds: np.ndarray | Sequence[Sequence[float]]) -> float:
    """The area the camera frames: the two largest extents of the scene's bounds multiplied
    (the cameras of :mod:`core.camera` frame the scene's bounds)."""
    b = np.asarray(bounds, dtype=np.float64).reshape(2, 3)
    ext = np.sort(np.abs(b[1] - b[0]))
    return float(max(ext[2] * ext[1], 1e-300))


def projected_pixels(area: float, scene_view_area: float, resolution: Sequence[int]) -> float:
    """Pixels a surface of ``area`` covers in a frame that shows ``scene_view_area``.

    A surface seen from a random direction shows half its area on average (the mean of
    ``|cos|``), counted at most :data:`MAX_LAYERS` times over the frame.
    """
    w, h = int(resolution[0]), int(resolution[1])
    frac = min(0.5 * float(area) / max(scene_view_area, 1e-300), MAX_LAYERS)
    return frac * w * h


def triangle_budget(area: float, scene_view_area: float, resolution: Sequence[int], *,
                    per_pixel: float = TRIANGLES_PER_PIXEL,
                    minimum: int = MIN_TRIANGLES) -> int:
    """Triangles a surface of ``area`` needs in a frame of ``resolution`` that shows
    ``scene_view_area`` (same length unit squared): ``per_pixel`` per covered pixel, at least
    ``minimum``."""
    px = projected_pixels(area, scene_view_area, resolution)
    return max(int(minimum), int(math.ceil(per_pixel * px)))


def _cluster_map(n: int, faces: np.ndarray, collapses: np.ndarray, out_faces: np.ndarray,
                 n_out: int) -> np.ndarray | None:
    """For each original vertex, the index of the kept vertex it collapsed into, or None when
    the history does not reproduce the simplifier's output (then the caller falls back)."""
    parent = np.arange(n)
    if len(collapses):
        parent[collapses[:, 1]] = collapses[:, 0]  # each vertex is collapsed at most once
    root = parent
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    f = root[faces]
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    kept = np.unique(f[keep])
    if len(kept) != n_out:
        return None
    new = np.full(n, -1, dtype=np.int64)
    new[kept] = np.arange(n_out)
    mapping = new[root]
    if len(out_faces) != int(keep.sum()) or not np.array_equal(mapping[f[keep]], out_faces):
        return None
    return mapping


def _nearest_map(vertices: np.ndarray, kept_positions: np.ndarray) -> np.ndarray:
    """Fallback: each original vertex goes to the nearest kept vertex."""
    from scipy.spatial import cKDTree

    _, idx = cKDTree(kept_positions).query(vertices)
    return np.asarray(idx, dtype=np.int64)


def _mean(mapping: np.ndarray, n_out: int, values: np.ndarray) -> np.ndarray:
    """Mean of ``values`` (n, ...) over the original vertices of each kept vertex."""
    v = values.astype(np.float64).reshape(len(values), -1)
    counts = np.bincount(mapping, minlength=n_out).astype(np.float64)
    out = np.empty((n_out, v.shape[1]))
    for j in range(v.shape[1]):
        out[:, j] = np.bincount(mapping, weights=v[:, j], minlength=n_out)
    out /= np.maximum(counts, 1.0)[:, None]
    return out.reshape((n_out,) + values.shape[1:])


def _vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    v = vertices.astype(np.float64)
    fn = np.cross(v[faces[:, 1]] - v[faces[:, 0]], v[faces[:, 2]] - v[faces[:, 0]])
    out = np.zeros_like(v)
    for k in range(3):
        np.add.at(out, faces[:, k], fn)
    return out


def simplify(mesh: Mesh, target_faces: int, *, aggressiveness: float = 7.0) -> Mesh:
    """``mesh`` with about ``target_faces`` triangles (the mesh itself when it has no more).

    Quadric-error edge collapses (``fast_simplification.simplify``) with the mesh's border
    kept; normals, colours and attributes carried to the kept vertices as described in the
    module docstring. The result's triangles keep their orientation.
    """
    if mesh.n_faces <= max(int(target_faces), 0) or mesh.n_faces < 4:
        return mesh
    import fast_simplification

    verts = np.ascontiguousarray(mesh.vertices, dtype=np.float64)
    faces = np.ascontiguousarray(mesh.faces, dtype=np.int32)
    points, out_faces, collapses = fast_simplification.simplify(
        verts, faces, target_count=max(int(target_faces), 1), agg=aggressiveness,
        return_collapses=True, preserve_border=True)
    out_faces = np.asarray(out_faces, dtype=np.int64).reshape(-1, 3)
    n_out = len(points)
    mapping = _cluster_map(len(verts), faces.astype(np.int64),
                           np.asarray(collapses, dtype=np.int64).reshape(-1, 2),
                           out_faces, n_out)
    if mapping is None:
        mapping = _nearest_map(verts, points)
    elif (lost := mapping < 0).any():
        # vertices of no kept triangle (only in slivers the simplifier dropped, which the
        # NAME ash plume's thin sheets have): the nearest kept vertex
        mapping[lost] = _nearest_map(verts[lost], points)
    if mesh.normals is not None:
        normals = _mean(mapping, n_out, mesh.normals)
    else:
        normals = _vertex_normals(points, out_faces)
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.where(length > 1e-20, normals / np.maximum(length, 1e-300), (0.0, 0.0, 1.0))
    colors = None
    if mesh.colors is not None:
        colors = np.clip(np.rint(_mean(mapping, n_out, mesh.colors)), 0, 255).astype(np.uint8)
    attrs: dict[str, np.ndarray] = {}
    if mesh.attributes:
        # the first original vertex of each kept vertex: its own value for integer attributes
        first = np.full(n_out, -1, dtype=np.int64)
        first[mapping[::-1]] = np.arange(len(mapping))[::-1]
        for name, a in mesh.attributes.items():
            arr = np.asarray(a)
            if arr.dtype.kind in "fc":
                attrs[name] = _mean(mapping, n_out, arr).astype(arr.dtype)
            else:
                attrs[name] = arr[np.maximum(first, 0)]
    return Mesh(points.astype(np.float32), out_faces, normals.astype(np.float32), attrs, colors)


def lod_mesh(mesh: Mesh, scene_view_area: float, resolution: Sequence[int], *,
             full_res: bool = False) -> tuple[Mesh, int]:
    """``(mesh at its triangle budget, faces before)``; ``full_res`` keeps every triangle."""
    before = mesh.n_faces
    if full_res or before <= MIN_TRIANGLES:
        return mesh, before
    target = triangle_budget(mesh.area(), scene_view_area, resolution)
    return simplify(mesh, target), before
