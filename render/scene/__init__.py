"""Build a Blender scene from a vizpipe manifest (imported only inside a Blender process).

This is the one package of the project that drives ``bpy``; it runs in the chunk subprocess
(``python -m render.blender_chunk``), never in the driver. Everything the scene needs is read
from the manifest and the asset files:

* meshes from PLY (built with ``foreach_set``), smooth-shaded with the file's normals as custom
  normals; coloured by a colour-mapped attribute (Attribute -> Map Range -> ColorRamp built
  from :func:`core.colormaps.ramp_stops`), else by their vertex colours, else flat ``color``;
  ``opacity`` < 1 makes them see-through (Principled alpha), ``emission`` makes them glow;
* volumes from ``.vdb`` (a volume object, Principled Volume: density = grid x
  ``density_scale``, colour and emission following the colour map);
* points as a Cycles point cloud (geometry nodes: Mesh to Points, radius from
  ``radius_attribute`` or ``radius``), coloured like meshes;
* curves as tubes (geometry nodes: Mesh to Curve -> Curve to Mesh with a circle profile);
* a camera per frame (location, look_at, up, lens) and a key/fill/rim light rig that follows
  the camera, scaled to the scene bounds; world colour from ``render.background``;
  Cycles with the AgX view transform and OpenImageDenoise.

Object names are ``<asset name>`` for static assets and ``<asset name>.<frame:04d>`` for
per-frame ones. :func:`build_frame` builds one frame's objects (the render loop builds, renders
and removes them frame by frame); :func:`build_animation` builds every frame with keyframed
visibility for the artists' ``scene.blend``.

One module per concern; this package's names are the interface:

* :mod:`render.scene.devices`    Cycles settings, GPU backends (``setup_render``, ``reset``);
* :mod:`render.scene.color`      sRGB and display colours to scene linear (OpenColorIO);
* :mod:`render.scene.camera`     the camera from the manifest's specs;
* :mod:`render.scene.lights`     world, sun, key/fill/rim rig;
* :mod:`render.scene.nodes`      node-tree helpers;
* :mod:`render.scene.materials`  surface and volume materials;
* :mod:`render.scene.objects`    meshes, points, tubes and volumes from asset files;
* :mod:`render.scene.draft`      the ``--draft`` (Workbench) look;
* :mod:`render.scene.builder`    :class:`SceneBuilder`, :func:`prepare`, :func:`build_animation`.
"""


from __future__ import annotations

from render.scene.builder import SceneBuilder, build_animation, keyframe_visibility, prepare
from render.scene.camera import add_camera, camera_matrix, default_camera, scene_scale, set_camera
from render.scene.color import (
    COLOR_ATTR,
    DEFAULT_BACKGROUND,
    DEFAULT_COLOR,
    UV_MAP,
    display_to_linear,
)
from render.scene.devices import GPU_BACKENDS, RenderSetupError, enable_gpu, reset, setup_render
from render.scene.draft import setup_draft
from render.scene.lights import add_light_rig, add_sun, setup_world
from render.scene.materials import surface_material, volume_material
from render.scene.objects import (
    curves_object,
    mesh_data,
    points_object,
    read_geometry,
    remove_objects,
    vertex_data,
    volume_object,
)

__all__ = [
    "COLOR_ATTR", "DEFAULT_BACKGROUND", "DEFAULT_COLOR", "GPU_BACKENDS", "UV_MAP",
    "RenderSetupError", "SceneBuilder",
    "add_camera", "add_light_rig", "add_sun", "build_animation", "camera_matrix",
    "curves_object", "default_camera", "display_to_linear", "enable_gpu", "keyframe_visibility",
    "mesh_data", "points_object", "prepare", "read_geometry", "remove_objects", "reset",
    "scene_scale", "set_camera", "setup_draft", "setup_render", "setup_world",
    "surface_material", "vertex_data", "volume_material", "volume_object",
]
