"""Whole scenes: manifest assets into objects (:class:`SceneBuilder`), the scene a render
chunk starts from (:func:`prepare`) and the keyframed animation of ``scene.blend``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import bpy  # noqa: I001  (render/ is the only package importing bpy, see render/__init__.py)
from mathutils import Matrix, Vector

from core.errors import BadInputError
from core.geometry import Curves, Mesh, Points
from render.scene.camera import add_camera, default_camera, scene_scale, set_camera
from render.scene.devices import reset, setup_render
from render.scene.draft import _bake_modifiers, _draft_colors, _set_draft_colors, setup_draft
from render.scene.lights import add_light_rig, add_sun, setup_world
from render.scene.materials import surface_material, volume_material
from render.scene.objects import (
    _positions,
    curves_object,
    mesh_data,
    points_object,
    read_geometry,
    volume_object,
)


class SceneBuilder:
    """Turns manifest assets into Blender objects (materials cached per display settings)."""

    def __init__(self, scene: bpy.types.Scene, run_dir: Path, manifest: dict,
                 relative_volumes: bool = False, draft: bool = False):
        self.scene = scene
        self.draft = draft
        self.run_dir = run_dir
        self.manifest = manifest
        self.relative_volumes = relative_volumes
        self._materials: dict[str, bpy.types.Material] = {}
        _, diag = scene_scale(manifest["bounds"])
        self.default_radius = diag * 0.004

    def _material(self, a: dict, kind: str, attributes: set[str], has_colors: bool
                  ) -> bpy.types.Material:
        keys = ("colormap", "color", "opacity", "emission", "density_scale", "grid",
                "opacity_ramp", "opacity_attribute", "matte", "texture")
        # isosurfaces (meshes with a level) get the VESTA look: soft, see-through skins
        iso = kind == "mesh" and "level" in a
        key = json.dumps([a["name"], kind, {k: a.get(k) for k in keys}, sorted(attributes),
                          has_colors, iso], sort_keys=True)
        mat = self._materials.get(key)
        if mat is None:
            name = f"{a['name']}_material"
            if kind == "volume":
                mat = volume_material(name, a)
            else:
                mat = surface_material(name, a, attributes, has_colors, isosurface=iso)
            self._materials[key] = mat
        return mat

    def build(self, a: dict, obj_name: str) -> bpy.types.Object:
        """One asset as a linked object named ``obj_name``."""
        path = self.run_dir / a["path"]
        kind = a["kind"]
        if "texture" in a:
            a = {**a, "texture": str(self.run_dir / a["texture"])}
        if kind == "volume":
            if path.suffix.lower() != ".vdb":
                raise BadInputError(f"{path}: volume assets must be .vdb files")
            mat = self._material(a, kind, set(), False)
            rel = None
            if self.relative_volumes:
                rel = "//" + Path(os.path.relpath(path, self.run_dir)).as_posix()
            obj = volume_object(obj_name, path, a, mat, rel)
        else:
            try:
                geom = read_geometry(path)
            except (OSError, ValueError, KeyError) as exc:
                raise BadInputError(f"{path}: cannot read asset {a['name']!r}: {exc}") from None
            attrs = set(getattr(geom, "attributes", {}))
            has_colors = getattr(geom, "colors", None) is not None
            mat = self._material(a, kind, attrs, has_colors)
            if kind == "mesh":
                if not isinstance(geom, Mesh):
                    raise BadInputError(f"{path}: asset {a['name']!r} is a mesh in the "
                                        f"manifest but the file holds {type(geom).__name__}")
                obj = bpy.data.objects.new(obj_name, mesh_data(obj_name, geom))
                obj.data.materials.append(mat)
            elif kind == "points":
                pts = geom if isinstance(geom, Points) else Points(_positions(geom))
                obj = points_object(obj_name, pts, a, mat, self.default_radius, self.draft)
            elif kind == "curves":
                if not isinstance(geom, Curves):
                    raise BadInputError(f"{path}: asset {a['name']!r} is curves in the "
                                        f"manifest but the file holds {type(geom).__name__}")
                obj = curves_object(obj_name, geom, a, mat, self.default_radius, self.draft)
            else:  # the schema allows no other kind
                raise BadInputError(f"asset {a['name']!r}: unknown kind {kind!r}")
            if self.draft:
                n = len(obj.data.vertices)
                _set_draft_colors(obj.data, _draft_colors(a, geom, n))
        if "transform" in a:
            obj.matrix_world = Matrix(a["transform"])
        if a.get("shadow") is False:
            obj.visible_shadow = False
        obj["vizpipe_asset"] = a["name"]
        obj["vizpipe_units"] = a.get("units", "")
        self.scene.collection.objects.link(obj)
        if self.draft and obj.type == "MESH" and obj.modifiers:
            _bake_modifiers(obj)
        return obj

    def build_static(self) -> list[bpy.types.Object]:
        return [self.build(a, a["name"]) for a in self.manifest.get("static", [])
                if not a.get("hidden")]

    def build_frame(self, frame: dict) -> list[bpy.types.Object]:
        return [self.build(a, f"{a['name']}.{frame['index']:04d}") for a in frame["assets"]
                if not a.get("hidden")]


def keyframe_visibility(obj: bpy.types.Object, frame: int, first: int, last: int) -> None:
    """Visible (render and viewport) only at ``frame`` within [first, last]."""
    def key(f: int, hidden: bool) -> None:
        obj.hide_render = hidden
        obj.hide_viewport = hidden
        obj.keyframe_insert("hide_render", frame=f)
        obj.keyframe_insert("hide_viewport", frame=f)

    if frame > first:
        key(frame - 1, True)
    key(frame, False)
    if frame < last:
        key(frame + 1, True)


def prepare(manifest: dict, run_dir: Path, *, resolution: tuple[int, int], samples: int,
            device: str = "CPU", threads: int = 0, transparent: bool = False,
            relative_volumes: bool = False, draft: bool = False
            ) -> tuple[bpy.types.Scene, SceneBuilder, bpy.types.Object, dict]:
    """Empty scene with render settings, world, camera, light rig and the static assets;
    ``draft``: Workbench (:func:`setup_draft`), no world (the overlay draws the background)."""
    scene = reset()
    r = manifest.get("render", {})
    chosen = setup_render(scene, resolution=resolution, samples=samples, device=device,
                          threads=threads, transparent=transparent,
                          exposure=float(r.get("exposure", 0.0)),
                          denoise=str(r.get("denoise", "albedo_normal")))
    if draft:
        chosen = setup_draft(scene)
    else:
        light = r.get("light", {})
        setup_world(scene, r.get("background"), light.get("sky"),
                    float(light.get("sky_strength", 1.0)))
    frames = manifest["frames"]
    scene.frame_start = min(f["index"] for f in frames)
    scene.frame_end = max(f["index"] for f in frames)
    scene.render.fps = max(1, round(float(manifest.get("fps", 24))))
    cam = add_camera(scene, manifest["bounds"])
    aspect = resolution[0] / resolution[1]
    spec = frames[0].get("camera") or default_camera(manifest, aspect)
    dist = (Vector(spec["location"]) - Vector(spec["look_at"])).length
    if r.get("light", {}).get("kind") == "sun":
        add_sun(scene, r["light"])
    else:
        add_light_rig(scene, cam, manifest["bounds"], dist)
    builder = SceneBuilder(scene, run_dir, manifest, relative_volumes, draft)
    builder.build_static()
    return scene, builder, cam, chosen


def build_animation(manifest: dict, run_dir: Path, *, resolution: tuple[int, int],
                    samples: int) -> bpy.types.Scene:
    """Every frame's objects with keyframed visibility and the camera animation."""
    scene, builder, cam, _ = prepare(manifest, run_dir, resolution=resolution, samples=samples,
                                     transparent=False, relative_volumes=True)
    aspect = resolution[0] / resolution[1]
    first, last = scene.frame_start, scene.frame_end
    for f in manifest["frames"]:
        for obj in builder.build_frame(f):
            keyframe_visibility(obj, f["index"], first, last)
        set_camera(cam, f.get("camera") or default_camera(manifest, aspect), frame=f["index"])
    for obj in scene.objects:  # visibility and cameras jump from frame to frame
        ad = obj.animation_data
        if ad and ad.action:
            _constant_interpolation(ad.action)
    scene.frame_set(first)
    return scene


def _constant_interpolation(action: Any) -> None:
    """Set every keyframe of an action to CONSTANT (works with 5.0's layered actions too)."""
    curves = list(getattr(action, "fcurves", []) or [])
    for layer in getattr(action, "layers", []):
        for strip in layer.strips:
            for bag in getattr(strip, "channelbags", []):
                curves.extend(bag.fcurves)
    for fc in curves:
        if fc.data_path in ("hide_render", "hide_viewport"):
            for kp in fc.keyframe_points:
                kp.interpolation = "CONSTANT"
