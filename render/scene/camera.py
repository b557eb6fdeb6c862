"""The camera: placed from the manifest's camera specs, or a default 3/4 view of the bounds."""

from __future__ import annotations

from typing import Any

import bpy  # noqa: I001  (render/ is the only package importing bpy, see render/__init__.py)
import numpy as np
from mathutils import Matrix, Vector

from core.errors import BadInputError


def scene_scale(bounds: Any) -> tuple[Vector, float]:
    """(centre, diagonal length) of the manifest bounds."""
    b = np.asarray(bounds, dtype=np.float64)
    centre = Vector(((b[0] + b[1]) / 2).tolist())
    return centre, max(float(np.linalg.norm(b[1] - b[0])), 1e-6)


def add_camera(scene: bpy.types.Scene, bounds: Any) -> bpy.types.Object:
    cam_data = bpy.data.cameras.new("Camera")
    cam = bpy.data.objects.new("Camera", cam_data)
    scene.collection.objects.link(cam)
    scene.camera = cam
    _, diag = scene_scale(bounds)
    cam_data.clip_start = diag * 1e-3
    cam_data.clip_end = diag * 100.0
    cam_data.sensor_fit = "AUTO"
    return cam


def camera_matrix(spec: dict) -> Matrix:
    """World matrix of a Blender camera at ``location`` looking at ``look_at`` with ``up``."""
    loc = Vector(spec["location"])
    target = Vector(spec["look_at"])
    up = Vector(spec.get("up", (0.0, 0.0, 1.0)))
    back = loc - target  # the camera looks down its -Z
    if back.length < 1e-12:
        raise BadInputError(f"camera: location equals look_at ({list(loc)})")
    z = back.normalized()
    x = up.cross(z)
    if x.length < 1e-9:  # looking along up: pick any perpendicular
        x = Vector((1.0, 0.0, 0.0)).cross(z)
        if x.length < 1e-9:
            x = Vector((0.0, 1.0, 0.0)).cross(z)
    x.normalize()
    y = z.cross(x)
    m = Matrix((x, y, z)).transposed().to_4x4()
    m.translation = loc
    return m


def set_camera(cam: bpy.types.Object, spec: dict, frame: int | None = None) -> None:
    """Place the camera (and keyframe it at ``frame`` when given)."""
    m = camera_matrix(spec)
    prev = cam.rotation_euler.copy()
    cam.location = m.translation
    cam.rotation_euler = m.to_3x3().to_euler("XYZ", prev)
    if "lens_mm" in spec:
        cam.data.lens = float(spec["lens_mm"])
    if "ortho_scale" in spec:
        cam.data.type = "ORTHO"
        cam.data.ortho_scale = float(spec["ortho_scale"])
    if frame is not None:
        cam.keyframe_insert("location", frame=frame)
        cam.keyframe_insert("rotation_euler", frame=frame)
        cam.data.keyframe_insert("lens", frame=frame)


def default_camera(manifest: dict, aspect: float) -> dict:
    """A camera for frames that have none: the manifest's camera spec, else a 3/4 view."""
    from core.camera import fit_distance, look_from

    spec = manifest.get("camera", {})
    b = np.asarray(manifest["bounds"], dtype=np.float64)
    target = spec.get("target", ((b[0] + b[1]) / 2).tolist())
    lens = float(spec.get("lens_mm", 50.0))
    dist = spec.get("distance") or fit_distance(b, lens, aspect)
    loc = look_from(target, spec.get("azimuth_deg", -60.0), spec.get("elevation_deg", 25.0),
                    dist)
    return {"location": loc, "look_at": list(target), "up": [0.0, 0.0, 1.0], "lens_mm": lens}
