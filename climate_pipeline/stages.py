"""Pure geometry stages of the climate pipeline: numpy in, numpy out, no files.

Fields arrive as ``values[z, y, x]`` on geographic coordinates: 1-D ``lon`` (x) and ``lat`` (y)
for regular grids or 2-D ``lon[y, x]``/``lat[y, x]`` for rotated/projected/curvilinear ones, and
heights in metres ``height[z]`` (1-D). Scene coordinates come from a projection of
:mod:`climate_pipeline.geo` (map or globe, km, with a vertical exaggeration).

* :func:`isosurface_geo` extracts the surface in index space and maps its vertices through the
  grid's own coordinates and the projection: exact on the globe and for non-uniform levels.
* :func:`surface_layer` colours a 2-D field on a mesh at a height (2-D fields, ground layers).
* :func:`volume_box` resamples a field onto a uniform box in scene space for OpenVDB (VDB
  grids are uniform: levels are interpolated; on the globe the box is curved-space sampled).
"""

from __future__ import annotations

import numpy as np

from core.errors import BadInputError
from core.geometry import Mesh, Volume, isosurface


def _interp_axis(coord: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Value of a 1-D coordinate at fractional indices (linear; clamped to the ends)."""
    n = len(coord)
    i0 = np.clip(np.floor(idx).astype(np.int64), 0, max(n - 2, 0))
    t = np.clip(idx - i0, 0.0, 1.0) if n > 1 else np.zeros_like(idx)
    i1 = np.minimum(i0 + 1, n - 1)
    return coord[i0] * (1 - t) + coord[i1] * t


def _interp_2d(arr: np.ndarray, jy: np.ndarray, ix: np.ndarray) -> np.ndarray:
    """Bilinear value of a 2-D array [y, x] at fractional (jy, ix)."""
    ny, nx = arr.shape
    j0 = np.clip(np.floor(jy).astype(np.int64), 0, ny - 2)
    i0 = np.clip(np.floor(ix).astype(np.int64), 0, nx - 2)
    ty = np.clip(jy - j0, 0, 1)
    tx = np.clip(ix - i0, 0, 1)
    return ((arr[j0, i0] * (1 - tx) + arr[j0, i0 + 1] * tx) * (1 - ty)
            + (arr[j0 + 1, i0] * (1 - tx) + arr[j0 + 1, i0 + 1] * tx) * ty)


def index_to_geo(kji: np.ndarray, lon: np.ndarray, lat: np.ndarray, height: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lon, lat, height_m) at fractional grid indices ``kji[:, (k, j, i)]``."""
    k, j, i = kji[:, 0], kji[:, 1], kji[:, 2]
    h = _interp_axis(np.asarray(height, np.float64), k)
    lon = np.asarray(lon, np.float64)
    lat = np.asarray(lat, np.float64)
    if lon.ndim == 1:
        return _interp_axis(lon, i), _interp_axis(lat, j), h
    return _interp_2d(lon, j, i), _interp_2d(lat, j, i), h


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals from the faces' winding (unit length)."""
    v = vertices.astype(np.float64)
    f = faces.astype(np.int64)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.zeros_like(v)
    for c in range(3):
        for d in range(3):
            n[:, d] += np.bincount(f[:, c], weights=fn[:, d], minlength=len(v))
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.where(norm > 0, norm, 1)).astype(np.float32)


def isosurface_geo(values: np.ndarray, level: float, lon: np.ndarray, lat: np.ndarray,
                   height: np.ndarray, projection, *, closed: bool = True) -> Mesh:
    """Isosurface of ``values[z, y, x] == level`` in scene coordinates (km).

    Missing values (NaN) count as below the level. Vertices carry ``lon``, ``lat`` and
    ``height_m`` attributes; normals point out of the region ``values > level``.
    ``closed``: a plume that leaves the domain through a side wall is capped on that wall (a
    closed surface, as ParaView's clip-and-cap would draw it) instead of showing an open
    cut: the field is padded with one column of below-level values beyond each side wall and
    the cap's vertices are moved onto the wall. The ground and the top stay open.
    """
    v = np.asarray(values, dtype=np.float32)
    if v.ndim != 3:
        raise BadInputError(f"isosurface_geo: expected values[z, y, x], got shape {v.shape}")
    if v.shape[0] < 2:
        raise BadInputError("isosurface_geo: a 2-D field has no isosurface; use "
                            "surface_layer")
    finite = np.isfinite(v)
    if not finite.any():
        raise BadInputError("isosurface_geo: every value is missing (NaN)")
    if not finite.all():
        v = np.where(finite, v, np.float32(min(float(np.nanmin(v)), level) - 1.0))
    capped = closed and min(v.shape[1:]) >= 2
    if capped:
        low = np.float32(min(float(np.nanmin(v)), level) - abs(level) * 1e-3 - 1e-6)
        v = np.pad(v, ((0, 0), (1, 1), (1, 1)), constant_values=low)
    mesh = isosurface(Volume(v), level, normals=False)  # index space: (k, j, i)
    if capped:  # back to the unpadded grid; the caps lie between the wall and the padding
        v = v[:, 1:-1, 1:-1]
        ijk = mesh.vertices
        ijk[:, 1] = np.clip(ijk[:, 1] - 1.0, 0.0, v.shape[1] - 1.0)
        ijk[:, 2] = np.clip(ijk[:, 2] - 1.0, 0.0, v.shape[2] - 1.0)
    if not mesh.n_vertices:
        return Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int32), np.zeros((0, 3)),
                    {"lon": np.zeros(0, np.float32), "lat": np.zeros(0, np.float32),
                     "height_m": np.zeros(0, np.float32)})
    glon, glat, gh = index_to_geo(mesh.vertices.astype(np.float64), lon, lat, height)
    xyz = projection.forward(glon, glat, gh)
    faces = mesh.faces
    # the index-space winding is outward for (k, j, i); the geographic map may reflect it
    # (e.g. x = lon, y = lat, z = height is the reverse axis order): orient by the sign of
    # the grid map's Jacobian (not by the vertices: a flat surface spans no volume)
    if grid_orientation(v.shape, lon, lat, height, projection) < 0:
        faces = np.ascontiguousarray(faces[:, ::-1])
    normals = vertex_normals(xyz, faces)
    return Mesh(xyz, faces, normals, {"lon": glon.astype(np.float32),
                                      "lat": glat.astype(np.float32),
                                      "height_m": gh.astype(np.float32)})


def grid_orientation(shape: tuple[int, ...], lon: np.ndarray, lat: np.ndarray,
                     height: np.ndarray, projection) -> float:
    """Sign of det d(scene)/d(k, j, i) of the grid map at the grid's centre (central
    differences of :func:`index_to_geo` then the projection): +1 keeps index-space windings
    outward, -1 reverses them. The map is smooth and keeps one orientation over a grid."""
    centre = (np.asarray(shape[:3], np.float64) - 1) / 2
    cols = []
    for d in range(3):
        step = np.zeros(3)
        step[d] = 0.5 if shape[d] > 1 else 0.0
        if not step[d]:
            return 1.0  # a single row or column spans no volume: keep the index winding
        kji = np.stack([centre - step, centre + step])
        g = projection.forward(*index_to_geo(kji, lon, lat, height))
        cols.append(np.asarray(g[1], np.float64) - np.asarray(g[0], np.float64))
    det = float(np.linalg.det(np.stack(cols, 1)))
    return 1.0 if det >= 0 else -1.0


def surface_layer(values2d: np.ndarray, lon: np.ndarray, lat: np.ndarray, projection,
                  colors: np.ndarray, height_m: float = 0.0, *,
                  drop_missing: bool = False) -> Mesh:
    """A coloured surface for a 2-D field ``values2d[y, x]`` (colours per grid point, uint8
    sRGBA) at ``height_m``; NaN points are transparent (alpha 0), or with ``drop_missing``
    left out with every triangle that touches them (land of an ocean field: no vertex, no
    face). Attribute ``value``. On a flat map, the cells of a curvilinear (2-D lon/lat) grid
    that straddle the map's edge (the antimeridian of its centre: a global ocean grid's
    0/360 seam) are left out, not stretched across the map."""
    v = np.asarray(values2d, dtype=np.float32)
    ny, nx = v.shape
    lon2, lat2 = (np.meshgrid(lon, lat) if np.ndim(lon) == 1 else (np.asarray(lon),
                                                                   np.asarray(lat)))
    xyz = projection.forward(lon2.ravel(), lat2.ravel(), np.full(ny * nx, height_m))
    j, i = np.meshgrid(np.arange(ny - 1), np.arange(nx - 1), indexing="ij")
    a = (j * nx + i).ravel()
    b, c, d = a + 1, a + nx, a + nx + 1
    faces = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])
    keep = None
    if np.ndim(lon) == 2 and getattr(projection, "name", "") == "map":
        centre = float(getattr(projection, "center_lon", 0.0))
        wl = _wrap_lon(lon2.ravel(), centre)[faces]
        keep = (wl.max(1) - wl.min(1)) <= 180.0
    ok = np.isfinite(xyz).all(1) & (np.isfinite(v.ravel()) if drop_missing else True)
    if not np.all(ok):
        good = ok[faces].all(1)
        keep = good if keep is None else keep & good
    sign_from = xyz if keep is None else None
    if keep is not None:
        faces = faces[keep]
    mesh = Mesh(xyz, faces, None, {"value": v.ravel()}, np.asarray(colors).reshape(-1, 4))
    if (_jacobian_sign_2d(xyz, nx) if sign_from is not None else _faces_up(xyz, faces)) < 0:
        mesh.faces = mesh.faces[:, ::-1].copy()
    if not np.all(ok):  # the missing points go, the rest renumbered
        new = np.cumsum(ok) - 1
        mesh = Mesh(xyz[ok], new[mesh.faces], None, {"value": v.ravel()[ok]},
                    np.asarray(colors).reshape(-1, 4)[ok])
    if getattr(projection, "name", "") == "globe":  # curved: smooth normals
        mesh.normals = vertex_normals(mesh.vertices, mesh.faces)
    # on a map the layer is a plane: no normals (every reader derives the same from the faces;
    # they were 12 of the ~50 bytes per vertex written per format per frame)
    kept = mesh.attributes["value"]
    if not np.isfinite(kept).all() and mesh.colors is not None:
        mesh.colors = mesh.colors.copy()
        mesh.colors[~np.isfinite(kept), 3] = 0
    return mesh


def _wrap_lon(lon: np.ndarray, centre: float) -> np.ndarray:
    """Longitudes wrapped into [centre - 180, centre + 180) (as the flat map wraps them)."""
    from climate_pipeline.geo import normalize_longitudes

    return normalize_longitudes(lon, centre)


def _faces_up(xyz: np.ndarray, faces: np.ndarray) -> float:
    """Do most of ``faces`` (by area) wind counter-clockwise seen from above (outside on a
    globe)? The sign of a curvilinear grid's map is taken over all its cells, not at one
    corner (which may lie on a seam or a fold)."""
    if not len(faces):
        return 1.0
    p0, p1, p2 = xyz[faces[:, 0]], xyz[faces[:, 1]], xyz[faces[:, 2]]
    n = np.cross(p1 - p0, p2 - p0)
    r = np.linalg.norm(p0, axis=1, keepdims=True)
    up = np.where(r > 1000, p0 / np.where(r > 0, r, 1), np.array([0.0, 0.0, 1.0]))
    return float(np.sum(n * up))


def _jacobian_sign_2d(xyz: np.ndarray, nx: int) -> float:
    """Does the (i, j) grid map counter-clockwise seen from above (outside on a globe)?"""
    p0, px, py = xyz[0], xyz[1], xyz[nx]
    n = np.cross(px - p0, py - p0)
    up = p0 / np.linalg.norm(p0) if np.linalg.norm(p0) > 1000 else np.array([0, 0, 1.0])
    return float(np.dot(n, up))


def uniform_levels(values: np.ndarray, height: np.ndarray, n: int | None = None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Resample ``values[z, y, x]`` onto ``n`` evenly spaced heights spanning ``height``
    (linear in height); returns (values, new heights)."""
    h = np.asarray(height, np.float64)
    n = n or max(len(h), int(np.ceil((h[-1] - h[0]) / max(np.diff(h).min(), 1e-9))) + 1)
    n = min(n, 4 * len(h))
    new = np.linspace(h[0], h[-1], n)
    if n == len(h) and np.allclose(h, new, rtol=0, atol=1e-6 * max(abs(h[-1] - h[0]), 1.0)):
        return np.asarray(values, dtype=np.float32), new  # already evenly spaced
    k = np.interp(new, h, np.arange(len(h)))
    k0 = np.clip(np.floor(k).astype(int), 0, len(h) - 2)
    t = (k - k0).astype(np.float32)[:, None, None]
    v = np.asarray(values, dtype=np.float32)
    out = v[k0]  # a copy (fancy indexing), then lerped in place in float32
    out += (v[k0 + 1] - out) * t
    return out, new


def volume_map(values: np.ndarray, lon: np.ndarray, lat: np.ndarray, height: np.ndarray,
               projection, name: str, units: str) -> Volume:
    """A VDB-ready Volume on a flat map for a regular lon/lat grid: levels made uniform,
    the equirectangular map is affine in (lon, lat) so the grid maps exactly.

    The samples keep the field's memory order, with the levels reversed: index (i, j, k) is
    (level from the top, lat, lon), and the affine maps it to the scene (its columns -dz, dy,
    dx keep it right-handed). Transposing to (lon, lat, level) instead cost a cache-hostile
    copy of the whole frame (57 ms for a 24 MB frame; reversing the levels: 5 ms).
    """
    if np.ndim(lon) != 1:
        raise BadInputError("volume_map: needs 1-D lon/lat (regular grid); resample "
                            "curvilinear grids first")
    vals, h = uniform_levels(values, height)
    if not np.isfinite(vals).all():
        vals = np.nan_to_num(vals, nan=0.0)
    top = projection.forward([lon[0]], [lat[0]], [h[-1]])[0]
    ex = projection.forward([lon[-1]], [lat[0]], [h[0]])[0] - projection.forward(
        [lon[0]], [lat[0]], [h[0]])[0]
    ey = projection.forward([lon[0]], [lat[-1]], [h[0]])[0] - projection.forward(
        [lon[0]], [lat[0]], [h[0]])[0]
    ez = top - projection.forward([lon[0]], [lat[0]], [h[0]])[0]
    aff = np.eye(4)
    aff[:3, 0] = -ez / (len(h) - 1)
    aff[:3, 1] = ey / (len(lat) - 1)
    aff[:3, 2] = ex / (len(lon) - 1)
    aff[:3, 3] = top
    return Volume(np.ascontiguousarray(vals[::-1]), aff, name, units)


def volume_globe(values: np.ndarray, lon: np.ndarray, lat: np.ndarray, height: np.ndarray,
                 projection, name: str, units: str, max_voxels: int = 192) -> Volume:
    """A VDB-ready Volume of a regular lon/lat field on the globe: the spherical shell is
    resampled onto a Cartesian voxel grid around it (``max_voxels`` along its longest side).

    Each voxel centre goes back to (lon, lat, height) through the projection's sphere
    (radius + height x exaggeration) and takes the trilinear value in (lon, lat, height index)
    of ``values[z, y, x]``; voxels outside the shell stay 0, so the grid is sparse in the VDB.
    Longitudes spanning the globe wrap.
    """
    from scipy.ndimage import map_coordinates

    if np.ndim(lon) != 1:
        raise BadInputError("volume_globe: needs 1-D lon/lat (regular grid); resample "
                            "curvilinear grids first")
    lon = np.asarray(lon, np.float64)
    lat = np.asarray(lat, np.float64)
    h = np.asarray(height, np.float64)
    vals = np.nan_to_num(np.asarray(values, np.float32), nan=0.0)
    dlon = float(np.median(np.diff(lon)))
    periodic = abs(len(lon) * dlon - 360.0) < 1e-6 * 360.0
    if periodic:  # one wrapped column so interpolation crosses the seam
        vals = np.concatenate([vals, vals[..., :1]], axis=-1)
    # bounding box of the shell patch: every grid column at the bottom and the top
    glon, glat = np.meshgrid(np.append(lon, lon[-1] + dlon) if periodic else lon, lat)
    ends = [projection.forward(glon.ravel(), glat.ravel(), hh) for hh in (h[0], h[-1])]
    lo = np.minimum(ends[0].min(0), ends[1].min(0))
    hi = np.maximum(ends[0].max(0), ends[1].max(0))
    vox = float((hi - lo).max()) / (max_voxels - 1)
    lo, hi = lo - vox, hi + vox  # a voxel of margin for the bulge between grid columns
    shape = np.ceil((hi - lo) / vox).astype(int) + 1
    out = np.zeros(tuple(shape), np.float32)  # index order (x, y, z), as VDB
    jy = np.arange(shape[1]) * vox + lo[1]
    kz = np.arange(shape[2]) * vox + lo[2]
    yy, zz = np.meshgrid(jy, kz, indexing="ij")
    r_in = projection.radius_km + h[0] / 1000.0 * projection.exaggeration
    r_out = projection.radius_km + h[-1] / 1000.0 * projection.exaggeration
    lat_idx = np.arange(len(lat), dtype=np.float64)
    for i in range(shape[0]):  # one x slab at a time: bounded memory
        x = lo[0] + i * vox
        r = np.sqrt(x * x + yy * yy + zz * zz)
        shell = (r >= r_in) & (r <= r_out)
        if not shell.any():
            continue
        rs, ys, zs = r[shell], yy[shell], zz[shell]
        vlon = np.degrees(np.arctan2(ys, x))
        vlat = np.degrees(np.arcsin(np.clip(zs / rs, -1.0, 1.0)))
        vh = (rs - projection.radius_km) * 1000.0 / projection.exaggeration
        fi = ((vlon - lon[0]) % 360.0) / dlon
        fj = np.interp(vlat, lat, lat_idx, left=-1.0, right=-1.0)
        fk = np.interp(vh, h, np.arange(len(h), dtype=np.float64))
        inside = (fj >= 0) & (fi <= vals.shape[-1] - 1)
        v = np.zeros(len(rs), np.float32)
        if inside.any():
            v[inside] = map_coordinates(vals, np.stack([fk[inside], fj[inside], fi[inside]]),
                                        order=1, mode="nearest", prefilter=False)
        out[i][shell] = v
    aff = np.eye(4)
    aff[:3, :3] *= vox
    aff[:3, 3] = lo
    return Volume(out, aff, name, units)
