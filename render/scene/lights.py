"""World (background gradient, ambient), sun, and the key/fill/rim rig that follows the camera."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import bpy  # noqa: I001  (render/ is the only package importing bpy, see render/__init__.py)
import numpy as np
from mathutils import Vector

from render.scene.camera import scene_scale
from render.scene.color import DEFAULT_BACKGROUND, _srgb_to_linear, display_to_linear
from render.scene.nodes import _Nodes, _socket


def setup_world(scene: bpy.types.Scene, background: Iterable[float] | None,
                sky: Iterable[float] | None = None, sky_strength: float = 1.0) -> None:
    """World: what the camera sees is a soft vertical gradient around ``background`` (sRGB as
    displayed, through the view transform); what lights the scene is the plain colour (a faint
    ambient), or ``sky`` (sRGB) times ``sky_strength``: the soft fill of a sunlit scene, which
    keeps shadows from going black."""
    world = bpy.data.worlds.new("World")
    scene.world = world
    tree = world.node_tree
    tree.nodes.clear()
    nodes = _Nodes(tree)
    base = np.asarray(list(background or DEFAULT_BACKGROUND), dtype=np.float64)
    top = display_to_linear(scene, np.clip(base * 1.3 + 0.006, 0, 1))
    bottom = display_to_linear(scene, np.clip(base * 0.75, 0, 1))
    coords = nodes.new("ShaderNodeTexCoord")
    sep = nodes.new("ShaderNodeSeparateXYZ")
    nodes.link(coords.outputs["Window"], sep.inputs["Vector"])
    mix = nodes.new("ShaderNodeMix", data_type="RGBA", clamp_factor=True)
    nodes.link(sep.outputs["Y"], _socket(mix.inputs, "Factor_Float"))
    _socket(mix.inputs, "A_Color").default_value = (*bottom, 1.0)
    _socket(mix.inputs, "B_Color").default_value = (*top, 1.0)
    seen = nodes.new("ShaderNodeBackground")
    nodes.link(_socket(mix.outputs, "Result_Color"), seen.inputs["Color"])
    ambient = nodes.new("ShaderNodeBackground")
    ambient.inputs["Color"].default_value = (*_srgb_to_linear(base if sky is None else sky),
                                             1.0)
    ambient.inputs["Strength"].default_value = 1.0 if sky is None else float(sky_strength)
    path = nodes.new("ShaderNodeLightPath")
    pick = nodes.new("ShaderNodeMixShader")
    nodes.link(path.outputs["Is Camera Ray"], pick.inputs["Fac"])
    nodes.link(ambient.outputs["Background"], pick.inputs[1])
    nodes.link(seen.outputs["Background"], pick.inputs[2])
    out = nodes.new("ShaderNodeOutputWorld")
    nodes.link(pick.outputs["Shader"], out.inputs["Surface"])
    # a faint, even ambient: found by the BSDFs' own rays, not importance-sampled as a light
    # (that cost a quarter of a climate frame's time for no visible change)
    world.cycles.sampling_method = "NONE"


def add_sun(scene: bpy.types.Scene, light: dict) -> bpy.types.Object:
    """One sun fixed in the world (``light``: the manifest's ``render.light``: ``direction``
    towards the sun in scene coordinates, ``strength``, ``angle_deg``, ``color``): maps and
    globes are lit as the Earth is, the same way in every frame of an orbit, with soft
    shadows of the plume on the ground."""
    data = bpy.data.lights.new("Sun", "SUN")
    data.energy = float(light.get("strength", 3.5))
    data.angle = math.radians(float(light.get("angle_deg", 3.0)))
    data.color = tuple(light.get("color", (1.0, 0.97, 0.92)))
    obj = bpy.data.objects.new("Sun", data)
    scene.collection.objects.link(obj)
    towards_sun = Vector(light["direction"]).normalized()
    obj.rotation_euler = (-towards_sun).to_track_quat("-Z", "Y").to_euler()
    return obj


def add_light_rig(scene: bpy.types.Scene, cam: bpy.types.Object, bounds: Any,
                  distance: float) -> list[bpy.types.Object]:
    """Key (sun), fill and rim (area lights) parented to the camera, scaled to the bounds.

    Parenting keeps the lighting the same in every frame of an orbit. ``distance`` is the
    camera's distance to its target (lights behind the subject are placed from it).
    """
    _, diag = scene_scale(bounds)
    lights = []

    def light(name: str, kind: str, energy: float, local: tuple[float, float, float],
              aim: tuple[float, float, float], size: float = 0.0, color=(1.0, 1.0, 1.0)):
        data = bpy.data.lights.new(name, kind)
        data.energy = energy
        data.color = color
        if kind == "AREA":
            data.shape = "DISK"
            data.size = size
        elif kind == "SUN":
            data.angle = math.radians(4.0)
        obj = bpy.data.objects.new(name, data)
        scene.collection.objects.link(obj)
        obj.parent = cam
        direction = Vector(aim) - Vector(local)
        obj.location = local
        obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()
        lights.append(obj)
        return obj

    d = distance
    target = (0.0, 0.0, -d)  # the subject, in camera space
    # key: a sun from the upper left, slightly warm
    light("KeyLight", "SUN", 3.2, (-0.8 * d, 0.9 * d, 0.2 * d), target, color=(1.0, 0.96, 0.9))
    # fill: a large soft area light from the right, cool and weak
    fill_pos = (1.1 * d, -0.1 * d, -0.2 * d)
    fill_dist = (Vector(fill_pos) - Vector(target)).length
    light("FillLight", "AREA", 1.2 * fill_dist**2, fill_pos, target, size=0.8 * diag,
          color=(0.8, 0.88, 1.0))
    # rim: behind the subject, above, to outline silhouettes
    rim_pos = (0.3 * d, 0.9 * d, -2.1 * d)
    rim_dist = (Vector(rim_pos) - Vector(target)).length
    light("RimLight", "AREA", 2.5 * rim_dist**2, rim_pos, target, size=0.5 * diag)
    return lights
