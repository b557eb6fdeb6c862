"""Where a 3-D box lands in a rendered frame: Blender's pinhole camera redone in numpy.

Independent of ``render`` and ``core.camera``: only the manifest's camera entry (``location``,
``look_at``, ``up``, ``lens_mm``) and the image size go in. The camera follows Blender's
conventions as ``render/scene/camera.py`` sets them up: it looks down its local -Z, its local +Y
is the image's up, ``x = up x z`` and ``y = z x x`` with ``z = (location - look_at)/|...|``; the
sensor is Blender's default 36 mm with sensor fit AUTO (the 36 mm span the longer image side);
no lens shift. Pixel coordinates: ``u`` from the left edge, ``v`` from the top edge, pixel
(row r, column c) covering ``[c, c + 1) x [r, r + 1)``.
"""

from __future__ import annotations

import numpy as np

SENSOR_MM = 36.0  # Blender's default camera sensor width


def camera_axes(cam: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(location, right, up, back) unit vectors of a manifest camera entry."""
    loc = np.asarray(cam["location"], dtype=np.float64)
    back = loc - np.asarray(cam["look_at"], dtype=np.float64)
    back /= np.linalg.norm(back)
    right = np.cross(np.asarray(cam.get("up", (0.0, 0.0, 1.0)), dtype=np.float64), back)
    right /= np.linalg.norm(right)
    return loc, right, np.cross(back, right), back


def focal_px(cam: dict, size: tuple[int, int]) -> float:
    """Focal length in pixels (sensor fit AUTO: the sensor width spans the longer side)."""
    return float(cam.get("lens_mm", 50.0)) / SENSOR_MM * max(size)


def project(points, cam: dict, size: tuple[int, int]) -> np.ndarray:
    """(n, 2) pixel coordinates (u, v) of world ``points``; all must lie in front of it."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    loc, right, up, back = camera_axes(cam)
    d = p - loc
    depth = -(d @ back)
    if (depth <= 0).any():
        raise ValueError("a point lies behind the camera")
    f = focal_px(cam, size)
    w, h = size
    return np.stack([w / 2 + f * (d @ right) / depth, h / 2 - f * (d @ up) / depth], -1)


def box_corners(lo, hi) -> np.ndarray:
    """The 8 corners of the axis-aligned box [lo, hi]."""
    lo, hi = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
    return np.array([[(lo, hi)[i][0], (lo, hi)[j][1], (lo, hi)[k][2]]
                     for i in (0, 1) for j in (0, 1) for k in (0, 1)])


def transformed(points, matrix) -> np.ndarray:
    """``points`` moved by a 4x4 column-vector matrix (the manifest's ``transform``)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    m = np.asarray(matrix, dtype=np.float64)
    return p @ m[:3, :3].T + m[:3, 3]


def screen_box(corners, cam: dict, size: tuple[int, int]) -> tuple[float, float, float, float]:
    """(u0, v0, u1, v1): the pixel rectangle holding the projection of ``corners``.

    The projection of a convex body lies inside the convex hull of its corners' projections,
    so the rectangle of the 8 projected corners of a box bounds everything inside the box.
    """
    uv = project(corners, cam, size)
    return (float(uv[:, 0].min()), float(uv[:, 1].min()),
            float(uv[:, 0].max()), float(uv[:, 1].max()))


def box_mask(box: tuple[float, float, float, float], size: tuple[int, int],
             margin: float = 0.0) -> np.ndarray:
    """(h, w) bool: pixels that overlap ``box`` grown by ``margin`` pixels on every side."""
    w, h = size
    u0, v0, u1, v1 = box
    cols = np.arange(w)
    rows = np.arange(h)
    in_u = (cols + 1 > u0 - margin) & (cols < u1 + margin)
    in_v = (rows + 1 > v0 - margin) & (rows < v1 + margin)
    return in_v[:, None] & in_u[None, :]


def unproject(u: float, v: float, depth: float, cam: dict, size: tuple[int, int]) -> np.ndarray:
    """The world point at pixel (u, v), ``depth`` in front of the camera (along its view)."""
    loc, right, up, back = camera_axes(cam)
    f = focal_px(cam, size)
    w, h = size
    return loc + depth * (-back + (u - w / 2) / f * right - (v - h / 2) / f * up)


def depth(points, cam: dict) -> np.ndarray:
    """Distance of ``points`` in front of the camera, along its view direction."""
    loc, _, _, back = camera_axes(cam)
    return -((np.asarray(points, dtype=np.float64).reshape(-1, 3) - loc) @ back)


def footprint(points, radii, cam: dict, size: tuple[int, int], edges=None) -> np.ndarray:
    """(h, w) bool: pixels whose centre the projection of spheres of ``radii`` around
    ``points`` covers, or with ``edges`` ((m, 2) point indices), of tubes along those
    segments (radius: the mean of the two ends'). A sphere of radius r at depth d projects
    to a disc of radius r f / d pixels, near enough for small r / d."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    uv = project(p, cam, size)
    r_px = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(p),)) \
        * focal_px(cam, size) / depth(p, cam)
    w, h = size
    pix = np.stack(np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5), -1).reshape(-1, 2)
    if edges is None:
        d = np.linalg.norm(pix[:, None, :] - uv[None], axis=-1) - r_px[None]
    else:
        e = np.asarray(edges).reshape(-1, 2)
        a, b = uv[e[:, 0]], uv[e[:, 1]]
        ab = b - a
        t = ((pix[:, None, :] - a[None]) * ab[None]).sum(-1) / np.maximum((ab**2).sum(-1), 1e-12)
        t = np.clip(t, 0.0, 1.0)
        near = a[None] + t[..., None] * ab[None]
        d = np.linalg.norm(pix[:, None, :] - near, axis=-1) - 0.5 * (r_px[e[:, 0]] + r_px[e[:, 1]])
    return (d.min(1) <= 0).reshape(h, w)
