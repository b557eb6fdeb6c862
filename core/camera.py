"""Camera framing, decided by pure code and written into the manifest per frame.

A camera frames a bounding box: its distance is chosen so the box's bounding sphere fills the
vertical field of view of a lens (default 50 mm on a 36 mm sensor, Blender's default).
"""

from __future__ import annotations

import math

import numpy as np

SENSOR_MM = 36.0


def fit_distance(bounds, lens_mm: float = 50.0, aspect: float = 16 / 9, margin: float = 1.1
                 ) -> float:
    """Distance at which a sphere around ``bounds`` fits the narrower field of view."""
    b = np.asarray(bounds, dtype=np.float64)
    radius = max(0.5 * float(np.linalg.norm(b[1] - b[0])), 1e-9)
    # Blender's sensor fit AUTO applies the sensor width to the longer image side
    fov_long = 2 * math.atan(SENSOR_MM / (2 * lens_mm))
    fov_short = 2 * math.atan(math.tan(fov_long / 2) / max(aspect, 1 / aspect))
    return margin * radius / math.sin(fov_short / 2)


def _basis(direction: np.ndarray, up=(0.0, 0.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    """Right and up vectors of a camera looking along -direction (direction: target->camera)."""
    d = direction / np.linalg.norm(direction)
    right = np.cross(np.asarray(up, dtype=np.float64), d)
    if np.linalg.norm(right) < 1e-9:
        right = np.array([1.0, 0.0, 0.0])
    right /= np.linalg.norm(right)
    return right, np.cross(d, right)


def fit_distance_points(points, target, direction, lens_mm: float = 50.0,
                        aspect: float = 16 / 9, margin: float = 1.05, up=(0.0, 0.0, 1.0)
                        ) -> float:
    """Smallest distance along ``direction`` (target -> camera) at which every point projects
    inside the image (perspective, Blender's sensor fit), with ``margin`` >= 1 of slack."""
    q = np.asarray(points, dtype=np.float64).reshape(-1, 3) - np.asarray(target, np.float64)
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    right, up = _basis(d, up)
    tan_long = SENSOR_MM / (2 * lens_mm)
    tan_x, tan_y = (tan_long, tan_long / aspect) if aspect >= 1 else (tan_long * aspect, tan_long)
    depth = q @ d  # how far each point sits towards the camera
    need = np.maximum(np.abs(q @ right) * margin / tan_x, np.abs(q @ up) * margin / tan_y)
    return float(np.max(depth + need))


def look_from(target, azimuth_deg: float, elevation_deg: float, distance: float) -> list[float]:
    az, el = math.radians(azimuth_deg), math.radians(elevation_deg)
    t = np.asarray(target, dtype=np.float64)
    d = np.array([math.cos(el) * math.cos(az), math.cos(el) * math.sin(az), math.sin(el)])
    return (t + distance * d).tolist()


def orbit(bounds, n_frames: int, *, turns: float = 1.0, azimuth_deg: float = -60.0,
          elevation_deg: float = 25.0, lens_mm: float = 50.0, aspect: float = 16 / 9,
          margin: float = 1.1, points=None) -> list[dict]:
    """Per-frame cameras circling the box centre (``turns`` full turns over the frames).

    Without ``points`` the distance fits the box's bounding sphere (safe for any view). With
    ``points`` (e.g. the 8 corners of a unit cell) it is the smallest distance at which all of
    them stay in the image from every camera of the orbit: tight framing, constant distance.
    """
    b = np.asarray(bounds, dtype=np.float64)
    target = ((b[0] + b[1]) / 2).tolist()
    if points is None:
        dist = fit_distance(b, lens_mm, aspect, margin)
    else:
        dist = max(
            fit_distance_points(points, target,
                                np.subtract(look_from(target, azimuth_deg + 360.0 * turns * f
                                                      / max(n_frames, 1), elevation_deg, 1.0),
                                            target), lens_mm, aspect, margin)
            for f in range(n_frames)
        )
    out = []
    for f in range(n_frames):
        az = azimuth_deg + 360.0 * turns * f / max(n_frames, 1)
        out.append({"location": look_from(target, az, elevation_deg, dist), "look_at": target,
                    "up": [0.0, 0.0, 1.0], "lens_mm": lens_mm})
    return out


def orbit_about(target, up, front, n_frames: int, points, *, turns: float = 0.0,
                elevation_deg: float = 50.0, lens_mm: float = 35.0, aspect: float = 16 / 9,
                margin: float = 1.05) -> list[dict]:
    """Cameras circling ``target`` about an arbitrary ``up`` axis (e.g. the local vertical of a
    region on a globe), starting on the ``front`` side, ``elevation_deg`` above the plane
    normal to ``up``; the camera's up vector is ``up``, and the distance is the smallest at
    which every one of ``points`` stays in the image from every camera."""
    t = np.asarray(target, dtype=np.float64)
    u = np.asarray(up, dtype=np.float64)
    u = u / np.linalg.norm(u)
    f = np.asarray(front, dtype=np.float64)
    f = f - (f @ u) * u
    if np.linalg.norm(f) < 1e-9:
        raise ValueError("orbit_about: front must not be parallel to up")
    f /= np.linalg.norm(f)
    r = np.cross(u, f)
    el = math.radians(elevation_deg)
    dirs = []
    for k in range(n_frames):
        az = 2 * math.pi * turns * k / max(n_frames, 1)
        h = math.cos(az) * f + math.sin(az) * r
        dirs.append(math.cos(el) * h + math.sin(el) * u)
    dist = max(fit_distance_points(points, t, d, lens_mm, aspect, margin, up=u) for d in dirs)
    return [{"location": (t + dist * d).tolist(), "look_at": t.tolist(), "up": u.tolist(),
             "lens_mm": lens_mm} for d in dirs]


def static(bounds, n_frames: int, **kw) -> list[dict]:
    return orbit(bounds, n_frames, turns=0.0, **kw)


def orthographic(cams: list[dict], points, *, aspect: float = 16 / 9, margin: float = 1.06
                 ) -> list[dict]:
    """The same cameras made orthographic (VESTA's default projection): one ``ortho_scale``
    for all of them, the smallest view width (scene units, along the image's wider side, as
    Blender's sensor fit AUTO reads it) that keeps every one of ``points`` in every frame,
    times ``margin``."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    need = 0.0
    for c in cams:
        loc, target = np.asarray(c["location"], float), np.asarray(c["look_at"], float)
        up = np.asarray(c.get("up", (0.0, 0.0, 1.0)), float)
        back = (loc - target) / np.linalg.norm(loc - target)
        x = np.cross(up, back)
        x /= np.linalg.norm(x)
        y = np.cross(back, x)
        rel = p - target
        w = 2.0 * float(np.abs(rel @ x).max())
        h = 2.0 * float(np.abs(rel @ y).max())
        need = max(need, max(w, h * aspect) if aspect >= 1.0 else max(h, w / aspect))
    scale = round(need * margin, 6)
    return [{**c, "ortho_scale": scale} for c in cams]

