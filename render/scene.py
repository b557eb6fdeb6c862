"""Build a Blender scene from a vizpipe manifest (imported only inside a Blender process).

This is the one module of the project that drives ``bpy``; it runs in the chunk subprocess
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
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import bpy  # noqa: I001  (the only bpy import of the project, see render/__init__.py)
import numpy as np
from mathutils import Matrix, Vector

from core import colormaps
from core.errors import BadInputError, PipelineError
from core.geometry import Curves, Mesh, Points

DEFAULT_BACKGROUND = (0.045, 0.05, 0.065)  # sRGB, a dark blue-grey
COLOR_ATTR = "Col"  # name of the colour attribute made from PLY vertex colours
UV_MAP = "uv"  # the UV map made from a mesh's "uv" attribute (texture coordinates)
DEFAULT_COLOR = (0.8, 0.8, 0.82)
GPU_BACKENDS = ("OPTIX", "CUDA", "HIP", "ONEAPI", "METAL")


class RenderSetupError(PipelineError):
    """The render device or settings cannot be honoured (e.g. no GPU)."""


# ----------------------------------------------------------------------------- scene setup

def reset() -> bpy.types.Scene:
    """An empty scene (factory settings, no objects), Cycles selected."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    return scene


def _srgb_to_linear(rgb: Iterable[float]) -> tuple[float, ...]:
    return tuple(float(x) for x in colormaps.srgb_to_linear(np.asarray(list(rgb), float)))


def setup_render(scene: bpy.types.Scene, *, resolution: tuple[int, int], samples: int,
                 device: str = "CPU", threads: int = 0, transparent: bool = False,
                 exposure: float = 0.0, denoise: str = "albedo_normal") -> dict[str, Any]:
    """Cycles settings; returns what was chosen (device backend, denoiser)."""
    scene.render.engine = "CYCLES"
    scene.render.resolution_x, scene.render.resolution_y = (int(v) for v in resolution)
    scene.render.resolution_percentage = 100
    scene.render.film_transparent = transparent
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGBA" if transparent else "RGB"
    scene.render.image_settings.color_depth = "8"
    scene.render.use_file_extension = False
    if threads > 0:
        scene.render.threads_mode = "FIXED"
        scene.render.threads = int(threads)
    cyc = scene.cycles
    cyc.samples = int(samples)
    cyc.use_adaptive_sampling = True
    cyc.adaptive_threshold = 0.02
    cyc.max_bounces = 6
    cyc.diffuse_bounces = 2
    cyc.glossy_bounces = 2
    cyc.transmission_bounces = 4
    cyc.volume_bounces = 0
    cyc.volume_biased = True  # ray-marched volumes: ~1.5x faster, no visible difference here
    cyc.volume_step_rate = 2.0
    cyc.transparent_max_bounces = 16
    cyc.caustics_reflective = False
    cyc.caustics_refractive = False
    cyc.blur_glossy = 1.0
    cyc.seed = 0  # deterministic noise pattern, the same for every frame
    # a sun or a three-light rig (emissive data is no light: emission_sampling NONE): the
    # light tree's overhead buys nothing (-6 % of a climate frame's time, same SSIM)
    cyc.use_light_tree = False
    chosen = {"device": "CPU", "backend": "", "denoiser": ""}
    if device.upper() == "GPU":
        chosen["backend"] = enable_gpu()
        cyc.device = "GPU"
        chosen["device"] = "GPU"
    else:
        cyc.device = "CPU"
    import _cycles  # Cycles' own module, present wherever Cycles is

    if getattr(_cycles, "with_openimagedenoise", False):
        cyc.use_denoising = True
        cyc.denoiser = "OPENIMAGEDENOISE"
        # the manifest's render.denoise: "albedo" where thin tubes and points make the normal
        # pass noisy at a few samples (climate: SSIM 0.956 vs 0.952 with normals at 6 spp)
        cyc.denoising_input_passes = ("RGB_ALBEDO" if denoise == "albedo"
                                      else "RGB_ALBEDO_NORMAL")
        # the albedo and normal passes go in as they are: ACCURATE denoises them first, two
        # more OIDN passes that cost 8 of a climate frame's 13 CPU seconds at 8 samples, for
        # an SSIM against the 512-sample reference within 0.004 of FAST's
        cyc.denoising_prefilter = "FAST"
        chosen["denoiser"] = "OPENIMAGEDENOISE"
    else:
        cyc.use_denoising = False
    vs = scene.view_settings
    vs.view_transform = "AgX"
    vs.look = "AgX - Medium High Contrast"
    vs.exposure = float(exposure)
    vs.gamma = 1.0
    scene.display_settings.display_device = "sRGB"
    return chosen


def enable_gpu() -> str:
    """Enable the first GPU backend with devices; raise RenderSetupError if there is none."""
    prefs = bpy.context.preferences.addons["cycles"].preferences
    for backend in GPU_BACKENDS:
        try:
            prefs.compute_device_type = backend
        except TypeError:
            continue  # backend not compiled in
        prefs.get_devices()
        gpus = [d for d in prefs.devices if d.type == backend]
        if gpus:
            for d in prefs.devices:
                d.use = d.type == backend
            return backend
    raise RenderSetupError("no GPU device found (tried " + ", ".join(GPU_BACKENDS)
                           + "); render with --device CPU")


def setup_draft(scene: bpy.types.Scene) -> dict[str, Any]:
    """Workbench settings for ``--draft`` (after :func:`setup_render`: size, threads, PNG):
    solid studio-lit colours from each object's vertex colour attribute (see
    :meth:`SceneBuilder.build`), FXAA, a transparent film (the overlay step draws the
    background) and the Standard view transform, so the colours read as they are."""
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.film_transparent = True
    scene.render.image_settings.color_mode = "RGBA"
    scene.display.render_aa = "FXAA"
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "VERTEX"  # the active colour attribute ("Attribute" in the UI)
    shading.show_shadows = False
    shading.show_cavity = False
    shading.show_object_outline = False
    shading.show_specular_highlight = True
    vs = scene.view_settings
    vs.view_transform = "Standard"
    vs.look = "None"
    return {"device": "CPU", "backend": "Workbench", "denoiser": ""}


def _draft_colors(a: dict, geom: Any, n: int) -> np.ndarray | None:
    """(n, 4) linear RGBA per vertex for the Workbench draft: the asset's colour map baked on
    the CPU, else None (keep the file's vertex colours), else its flat colour."""
    attrs = getattr(geom, "attributes", {}) or {}
    cmap = a.get("colormap")
    if a.get("texture") and "uv" in attrs:  # the image sampled at the vertices
        srgba = np.ones((n, 4))
        srgba[:, :3] = _sample_image(Path(a["texture"]), np.asarray(attrs["uv"]))
    elif cmap and cmap.get("attribute") in attrs:
        values = _scalar_attributes({"v": attrs[cmap["attribute"]]})["v"]
        srgba = colormaps.apply(values, cmap["name"], float(cmap["vmin"]), float(cmap["vmax"]),
                                log=bool(cmap.get("log"))) / 255.0
    elif getattr(geom, "colors", None) is not None and "color" not in a:
        return None
    else:
        srgba = np.ones((n, 4))
        srgba[:, :3] = np.asarray(a.get("color", DEFAULT_COLOR), np.float64)[:3]
    lin = np.empty((n, 4), np.float32)
    lin[:, :3] = colormaps.srgb_to_linear(srgba[:, :3])
    lin[:, 3] = 1.0
    return lin


def _sample_image(path: Path, uv: np.ndarray) -> np.ndarray:
    """sRGB colours in [0, 1] of an image at texture coordinates ``uv`` (v up), nearest."""
    from PIL import Image

    with Image.open(path) as im:
        img = np.asarray(im.convert("RGB"))
    h, w = img.shape[:2]
    x = np.clip((uv[:, 0] * w).astype(np.int64), 0, w - 1)
    y = np.clip(((1.0 - uv[:, 1]) * h).astype(np.int64), 0, h - 1)
    return img[y, x] / 255.0


def _set_draft_colors(me: bpy.types.Mesh, colors: np.ndarray | None) -> None:
    """Write ``colors`` as the mesh's active colour attribute (Workbench's VERTEX colour)."""
    cas = me.color_attributes
    if colors is not None:
        if COLOR_ATTR in cas:
            cas.remove(cas[COLOR_ATTR])
        cas.new(COLOR_ATTR, "FLOAT_COLOR", "POINT").data.foreach_set("color", colors.ravel())
    if COLOR_ATTR in cas:
        cas.active_color_name = COLOR_ATTR
        cas.default_color_name = COLOR_ATTR


def _bake_modifiers(obj: bpy.types.Object) -> None:
    """Replace a geometry-nodes object's mesh by its evaluated mesh (the draft: Workbench
    reads only an object's own active colour attribute, which generated meshes lack)."""
    dg = bpy.context.evaluated_depsgraph_get()
    me = bpy.data.meshes.new_from_object(obj.evaluated_get(dg), preserve_all_data_layers=True,
                                         depsgraph=dg)
    old = obj.data
    groups = [m.node_group for m in obj.modifiers if m.type == "NODES" and m.node_group]
    obj.modifiers.clear()
    obj.data = me
    if old.users == 0:
        bpy.data.meshes.remove(old)
    for g in groups:
        if g.users == 0:
            bpy.data.node_groups.remove(g)
    _set_draft_colors(me, None)


def _ocio_processor(scene: bpy.types.Scene) -> Any:
    """OpenColorIO CPU processor of the scene's view transform (scene linear -> display)."""
    import importlib
    import sys

    base = Path(bpy.utils.resource_path("LOCAL"))
    for site in sorted(base.glob("python/lib/python3.*/site-packages")):
        if str(site) not in sys.path:
            sys.path.append(str(site))
    ocio = importlib.import_module("PyOpenColorIO")  # carried by the bpy wheel
    cfg = ocio.Config.CreateFromFile(str(base / "datafiles" / "colormanagement" / "config.ocio"))
    vs = scene.view_settings
    group = ocio.GroupTransform()
    exposure = 2.0 ** float(vs.exposure)
    if exposure != 1.0:
        group.appendTransform(ocio.MatrixTransform.Scale([exposure] * 3 + [1.0]))
    if vs.look and vs.look != "None":
        group.appendTransform(ocio.LookTransform(src="scene_linear", dst="scene_linear",
                                                 looks=vs.look))
    group.appendTransform(ocio.DisplayViewTransform(
        src="scene_linear", display=scene.display_settings.display_device,
        view=vs.view_transform))
    return cfg.getProcessor(group).getDefaultCPUProcessor()


def display_to_linear(scene: bpy.types.Scene, rgb: Iterable[float]) -> tuple[float, float, float]:
    """The scene-linear colour that the scene's view transform shows as display ``rgb``.

    Solved by a multiplicative fixed-point iteration on the OCIO transform (AgX mixes the
    channels, so there is no per-channel inverse). Falls back to the plain sRGB decoding when
    OpenColorIO is not importable.
    """
    target = np.clip(np.asarray(list(rgb), dtype=np.float64), 1e-4, 0.98)
    guess = np.asarray(colormaps.srgb_to_linear(target), dtype=np.float64)
    try:
        proc = _ocio_processor(scene)
    except Exception:  # noqa: BLE001 - any OCIO problem: the approximate answer is fine
        return tuple(float(x) for x in guess)  # type: ignore[return-value]
    def f(u: np.ndarray) -> np.ndarray:  # log display colour of exp(u)
        y = np.asarray(proc.applyRGB([float(v) for v in np.exp(u)]), dtype=np.float64)
        return np.log(np.maximum(y, 1e-9))

    u, goal = np.log(np.maximum(guess, 1e-7)), np.log(target)
    best, best_err = u.copy(), np.inf
    for _ in range(30):  # damped Newton in log space, finite-difference Jacobian
        r = f(u) - goal
        err = float(np.abs(r).max())
        if err < best_err:
            best, best_err = u.copy(), err
        if err < 1e-4:
            break
        jac = np.stack([(f(u + h) - f(u)) / 1e-3 for h in np.eye(3) * 1e-3], axis=1)
        try:
            step = np.linalg.solve(jac, r)
        except np.linalg.LinAlgError:
            break
        u = np.clip(u - np.clip(step, -2.0, 2.0), -16.0, 4.0)
    return tuple(float(v) for v in np.exp(best))  # type: ignore[return-value]


def _socket(sockets: Any, identifier: str) -> Any:
    """A node socket by identifier (Mix nodes have several sockets with the same name)."""
    for sock in sockets:
        if sock.identifier == identifier:
            return sock
    raise KeyError(identifier)


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


# ----------------------------------------------------------------------------- materials

class _Nodes:
    """Small helper to add and link shader nodes."""

    def __init__(self, tree: bpy.types.NodeTree):
        self.tree = tree
        self.x = -900

    def new(self, kind: str, **props: Any) -> bpy.types.Node:
        node = self.tree.nodes.new(kind)
        node.location = (self.x, 0)
        self.x += 220
        for k, v in props.items():
            setattr(node, k, v)
        return node

    def link(self, out: bpy.types.NodeSocket, inp: bpy.types.NodeSocket) -> None:
        self.tree.links.new(out, inp)


def _colormap_color(nodes: _Nodes, cmap: dict, attribute: str) -> tuple[Any, Any]:
    """Attribute -> [log10] -> Map Range(vmin..vmax -> 0..1) -> ColorRamp.

    Returns (colour output socket, normalised value socket).
    """
    attr = nodes.new("ShaderNodeAttribute", attribute_name=attribute, attribute_type="GEOMETRY")
    value = attr.outputs["Fac"]
    vmin, vmax = float(cmap["vmin"]), float(cmap["vmax"])
    if cmap.get("log"):
        if vmin <= 0 or vmax <= 0:
            raise BadInputError(f"colour map {cmap['name']}: log scale needs vmin, vmax > 0")
        log = nodes.new("ShaderNodeMath", operation="LOGARITHM")
        log.inputs[1].default_value = 10.0
        nodes.link(value, log.inputs[0])
        value = log.outputs[0]
        vmin, vmax = math.log10(vmin), math.log10(vmax)
    rng = nodes.new("ShaderNodeMapRange", clamp=True)
    rng.inputs["From Min"].default_value = vmin
    rng.inputs["From Max"].default_value = vmax if vmax != vmin else vmin + 1.0
    nodes.link(value, rng.inputs["Value"])
    ramp = nodes.new("ShaderNodeValToRGB")
    _fill_ramp(ramp.color_ramp, cmap["name"])
    nodes.link(rng.outputs["Result"], ramp.inputs["Fac"])
    return ramp.outputs["Color"], rng.outputs["Result"]


def _fill_ramp(ramp: Any, name: str) -> None:
    stops = colormaps.ramp_stops(name, 32)
    ramp.interpolation = "LINEAR"
    ramp.color_mode = "RGB"
    els = ramp.elements
    while len(els) < len(stops):
        els.new(0.5)
    for el, (pos, rgba) in zip(els, stops, strict=False):  # els may hold more
        el.position = pos
        el.color = rgba


def surface_material(name: str, a: dict, attributes: set[str], has_colors: bool,
                     isosurface: bool = False) -> bpy.types.Material:
    """Principled BSDF for meshes, points and tubes, coloured as the asset asks.

    ``isosurface``: the materials look of a density/orbital surface (see
    :func:`_isosurface_look`).
    """
    mat = bpy.data.materials.new(name)
    tree = mat.node_tree
    tree.nodes.clear()
    nodes = _Nodes(tree)
    color = _asset_color(nodes, a, attributes, has_colors)
    bsdf = nodes.new("ShaderNodeBsdfPrincipled")
    out = nodes.new("ShaderNodeOutputMaterial")
    nodes.link(bsdf.outputs["BSDF"], out.inputs["Surface"])
    if isinstance(color, tuple):
        bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    else:
        nodes.link(color, bsdf.inputs["Base Color"])
    bsdf.inputs["Roughness"].default_value = 1.0 if a.get("matte") else 0.38
    bsdf.inputs["Specular IOR Level"].default_value = 0.0 if a.get("matte") else 0.5
    opacity = float(a.get("opacity", 1.0))
    alpha = _alpha_field(nodes, a, attributes, opacity)
    if isosurface:
        _isosurface_look(nodes, bsdf, out, mat, opacity)
    elif alpha is not None:
        nodes.link(alpha, bsdf.inputs["Alpha"])
    elif opacity < 1.0:
        bsdf.inputs["Alpha"].default_value = opacity
        bsdf.inputs["Coat Weight"].default_value = 0.3  # a glassy sheen on see-through skins
    emission = float(a.get("emission", 0.0))
    if emission > 0:
        if isinstance(color, tuple):
            bsdf.inputs["Emission Color"].default_value = (*color, 1.0)
        else:
            nodes.link(color, bsdf.inputs["Emission Color"])
        bsdf.inputs["Emission Strength"].default_value = emission
        # a glow of the data, seen by the camera, not a light: Cycles would otherwise put
        # every emissive triangle of the tubes and skins in its light tree and sample them
        # all for every shading point (13 s for one sample of the climate scene)
        mat.cycles.emission_sampling = "NONE"
    return mat


def _alpha_field(nodes: _Nodes, a: dict, attributes: set[str], opacity: float) -> Any:
    """An alpha socket for opacity that varies over the asset, or None (constant):

    * ``opacity_ramp: [v0, v1]``: transparent at or below v0 of the colour map's attribute,
      ``opacity`` from v1 up (a ground layer whose clean air shows the map beneath);
    * ``opacity_attribute: NAME``: ``opacity`` times the attribute (0..1; streaks whose tails
      fade).
    """
    cmap = a.get("colormap") or {}
    ramp = a.get("opacity_ramp")
    if ramp and cmap.get("attribute") in attributes:
        attr = nodes.new("ShaderNodeAttribute", attribute_name=cmap["attribute"],
                         attribute_type="GEOMETRY")
        rng = nodes.new("ShaderNodeMapRange", clamp=True, interpolation_type="SMOOTHSTEP")
        rng.inputs["From Min"].default_value = float(ramp[0])
        rng.inputs["From Max"].default_value = max(float(ramp[1]), float(ramp[0]) + 1e-12)
        rng.inputs["To Min"].default_value = 0.0
        rng.inputs["To Max"].default_value = opacity
        nodes.link(attr.outputs["Fac"], rng.inputs["Value"])
        return rng.outputs["Result"]
    name = a.get("opacity_attribute")
    if name and name in attributes:
        attr = nodes.new("ShaderNodeAttribute", attribute_name=name, attribute_type="GEOMETRY")
        mul = nodes.new("ShaderNodeMath", operation="MULTIPLY", use_clamp=True)
        nodes.link(attr.outputs["Fac"], mul.inputs[0])
        mul.inputs[1].default_value = opacity
        return mul.outputs[0]
    return None


def _isosurface_look(nodes: _Nodes, bsdf, out, mat: bpy.types.Material,
                     opacity: float) -> None:
    """VESTA/batoms-style isosurface: opacity follows the facing ratio (``opacity`` where
    the surface faces the camera, 1 at the silhouette), back faces hidden so the atoms and
    bonds inside show through, low specular and no coat (no white highlight blobs)."""
    bsdf.inputs["Roughness"].default_value = 0.5
    bsdf.inputs["Specular IOR Level"].default_value = 0.15
    bsdf.inputs["Coat Weight"].default_value = 0.0
    facing = nodes.new("ShaderNodeLayerWeight")
    facing.inputs["Blend"].default_value = 0.5
    alpha = nodes.new("ShaderNodeMapRange", clamp=True)  # facing 0..1 -> opacity..1
    alpha.inputs["To Min"].default_value = min(max(opacity, 0.0), 1.0)
    alpha.inputs["To Max"].default_value = 1.0
    nodes.link(facing.outputs["Facing"], alpha.inputs["Value"])
    nodes.link(alpha.outputs["Result"], bsdf.inputs["Alpha"])
    geometry = nodes.new("ShaderNodeNewGeometry")
    clear = nodes.new("ShaderNodeBsdfTransparent")
    mix = nodes.new("ShaderNodeMixShader")  # Cycles: back faces fully transparent
    nodes.link(geometry.outputs["Backfacing"], mix.inputs["Fac"])
    nodes.link(bsdf.outputs["BSDF"], mix.inputs[1])
    nodes.link(clear.outputs["BSDF"], mix.inputs[2])
    nodes.link(mix.outputs["Shader"], out.inputs["Surface"])
    mat.use_backface_culling = True  # EEVEE and the viewport
    mat.use_backface_culling_shadow = True


def _asset_color(nodes: _Nodes, a: dict, attributes: set[str], has_colors: bool
                 ) -> Any:
    """A colour socket (colour map or colour attribute) or a linear RGB tuple (flat colour)."""
    cmap = a.get("colormap")
    if a.get("texture") and "uv" in attributes:  # an image over the mesh's UV map
        tex = nodes.new("ShaderNodeTexImage", interpolation="Cubic", extension="EXTEND")
        tex.image = bpy.data.images.load(str(a["texture"]), check_existing=True)
        uv = nodes.new("ShaderNodeUVMap", uv_map=UV_MAP)
        nodes.link(uv.outputs["UV"], tex.inputs["Vector"])
        return tex.outputs["Color"]
    if cmap and cmap.get("attribute") in attributes:
        return _colormap_color(nodes, cmap, cmap["attribute"])[0]
    if has_colors and "color" not in a:
        attr = nodes.new("ShaderNodeAttribute", attribute_name=COLOR_ATTR,
                         attribute_type="GEOMETRY")
        return attr.outputs["Color"]
    return _srgb_to_linear(a.get("color", DEFAULT_COLOR))


def volume_material(name: str, a: dict) -> bpy.types.Material:
    """Principled Volume: density = grid x density_scale; colour/emission from the colour map."""
    mat = bpy.data.materials.new(name)
    tree = mat.node_tree
    tree.nodes.clear()
    nodes = _Nodes(tree)
    grid = a.get("grid", "density")
    attr = nodes.new("ShaderNodeAttribute", attribute_name=grid, attribute_type="GEOMETRY")
    dens = nodes.new("ShaderNodeMath", operation="MULTIPLY", use_clamp=False)
    nodes.link(attr.outputs["Fac"], dens.inputs[0])
    dens.inputs[1].default_value = float(a.get("density_scale", 1.0))
    clamp0 = nodes.new("ShaderNodeMath", operation="MAXIMUM")
    nodes.link(dens.outputs[0], clamp0.inputs[0])
    clamp0.inputs[1].default_value = 0.0
    vol = nodes.new("ShaderNodeVolumePrincipled")
    out = nodes.new("ShaderNodeOutputMaterial")
    nodes.link(vol.outputs["Volume"], out.inputs["Volume"])
    nodes.link(clamp0.outputs[0], vol.inputs["Density"])
    vol.inputs["Density Attribute"].default_value = ""  # density comes from the link above
    cmap = a.get("colormap")
    emission = float(a.get("emission", 0.0))
    if cmap:
        color, norm = _colormap_color(nodes, cmap, cmap.get("attribute") or grid)
        nodes.link(color, vol.inputs["Color"])
        if emission > 0:
            nodes.link(color, vol.inputs["Emission Color"])
            strength = nodes.new("ShaderNodeMath", operation="MULTIPLY")
            nodes.link(norm, strength.inputs[0])
            strength.inputs[1].default_value = emission
            nodes.link(strength.outputs[0], vol.inputs["Emission Strength"])
    else:
        rgb = _srgb_to_linear(a.get("color", DEFAULT_COLOR))
        vol.inputs["Color"].default_value = (*rgb, 1.0)
        if emission > 0:
            vol.inputs["Emission Color"].default_value = (*rgb, 1.0)
            # emission follows the density, as a glow of the field itself
            strength = nodes.new("ShaderNodeMath", operation="MULTIPLY")
            nodes.link(clamp0.outputs[0], strength.inputs[0])
            strength.inputs[1].default_value = emission
            nodes.link(strength.outputs[0], vol.inputs["Emission Strength"])
    return mat


# ----------------------------------------------------------------------------- geometry

def _scalar_attributes(attrs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Scalar float attributes for Blender (vectors become their magnitude)."""
    out = {}
    for k, v in attrs.items():
        v = np.asarray(v)
        if v.ndim == 2:
            v = np.linalg.norm(v.astype(np.float64), axis=1)
        out[k] = np.ascontiguousarray(v, dtype=np.float32)
    return out


def _add_attributes(me: bpy.types.Mesh, attrs: dict[str, np.ndarray],
                    colors: np.ndarray | None) -> None:
    uv = np.asarray(attrs.get("uv", np.zeros((0, 0))))
    if uv.ndim == 2 and uv.shape[1] == 2 and len(me.loops):  # texture coordinates: a UV map
        loops = np.empty(len(me.loops), np.int32)
        me.loops.foreach_get("vertex_index", loops)
        me.uv_layers.new(name=UV_MAP).data.foreach_set(
            "uv", np.ascontiguousarray(uv[loops], np.float32).ravel())
        attrs = {k: v for k, v in attrs.items() if k != "uv"}
    for k, v in _scalar_attributes(attrs).items():
        if k in me.attributes:  # a reserved name (position, radius of a point cloud ...)
            k = f"{k}_"
        me.attributes.new(k, "FLOAT", "POINT").data.foreach_set("value", v)
    if colors is not None:
        lin = np.empty((len(colors), 4), np.float32)
        lin[:, :3] = colormaps.srgb_to_linear(colors[:, :3] / 255.0)
        lin[:, 3] = colors[:, 3] / 255.0
        ca = me.color_attributes.new(COLOR_ATTR, "FLOAT_COLOR", "POINT")
        ca.data.foreach_set("color", lin.ravel())


def mesh_data(name: str, mesh: Mesh) -> bpy.types.Mesh:
    """A Blender mesh from a Mesh (foreach_set: fast and deterministic)."""
    me = bpy.data.meshes.new(name)
    nv, nf = mesh.n_vertices, mesh.n_faces
    me.vertices.add(nv)
    me.vertices.foreach_set("co", mesh.vertices.ravel())
    me.loops.add(3 * nf)
    me.loops.foreach_set("vertex_index", mesh.faces.astype(np.int32).ravel())
    me.polygons.add(nf)
    me.polygons.foreach_set("loop_start", np.arange(0, 3 * nf, 3, dtype=np.int32))
    me.update(calc_edges=True)
    me.polygons.foreach_set("use_smooth", np.ones(nf, dtype=bool))
    if mesh.normals is not None and nv:
        me.normals_split_custom_set_from_vertices(mesh.normals.astype(np.float32))
    _add_attributes(me, mesh.attributes, mesh.colors)
    me.validate(clean_customdata=False)
    me.update()
    return me


def vertex_data(name: str, positions: np.ndarray, attrs: dict[str, np.ndarray],
                colors: np.ndarray | None, edges: np.ndarray | None = None) -> bpy.types.Mesh:
    """A mesh of loose vertices (and edges) carrying point attributes: input to geometry nodes."""
    me = bpy.data.meshes.new(name)
    me.vertices.add(len(positions))
    me.vertices.foreach_set("co", np.ascontiguousarray(positions, np.float32).ravel())
    if edges is not None and len(edges):
        me.edges.add(len(edges))
        me.edges.foreach_set("vertices", np.ascontiguousarray(edges, np.int32).ravel())
    _add_attributes(me, attrs, colors)
    me.update()
    return me


def _radius_field(gn: bpy.types.NodeTree, nodes: _Nodes, a: dict, attrs: dict,
                  default: float) -> Any:
    """Socket or float for the radius: the named attribute if present, else the asset radius."""
    name = a.get("radius_attribute")
    if name and name in attrs:
        na = nodes.new("GeometryNodeInputNamedAttribute", data_type="FLOAT")
        na.inputs["Name"].default_value = name
        return na.outputs["Attribute"]
    return float(a.get("radius", default))


def _geometry_nodes(obj: bpy.types.Object, name: str) -> tuple[bpy.types.NodeTree, _Nodes,
                                                                 Any, Any]:
    gn = bpy.data.node_groups.new(name, "GeometryNodeTree")
    gn.interface.new_socket("Geometry", in_out="INPUT", socket_type="NodeSocketGeometry")
    gn.interface.new_socket("Geometry", in_out="OUTPUT", socket_type="NodeSocketGeometry")
    nodes = _Nodes(gn)
    gin = nodes.new("NodeGroupInput")
    gout = gn.nodes.new("NodeGroupOutput")
    mod = obj.modifiers.new("vizpipe", "NODES")
    mod.node_group = gn
    return gn, nodes, gin, gout


def points_object(name: str, pts: Points, a: dict, mat: bpy.types.Material,
                  default_radius: float, draft: bool = False) -> bpy.types.Object:
    """A point cloud of spheres (Cycles renders them natively) via geometry nodes; ``draft``:
    low-poly sphere meshes instead (Workbench colours meshes by their colour attribute)."""
    me = vertex_data(name, pts.positions, pts.attributes, pts.colors)
    obj = bpy.data.objects.new(name, me)
    gn, nodes, gin, gout = _geometry_nodes(obj, f"{name}_points")
    radius = _radius_field(gn, nodes, a, pts.attributes, default_radius)
    m2p = nodes.new("GeometryNodeMeshToPoints", mode="VERTICES")
    nodes.link(gin.outputs[0], m2p.inputs["Mesh"])
    if isinstance(radius, float):
        m2p.inputs["Radius"].default_value = radius
    else:
        nodes.link(radius, m2p.inputs["Radius"])
    points = m2p.outputs["Points"]
    if draft:
        ico = nodes.new("GeometryNodeMeshIcoSphere")
        ico.inputs["Radius"].default_value = 1.0
        ico.inputs["Subdivisions"].default_value = 1  # 20 faces: plenty for a draft
        inst = nodes.new("GeometryNodeInstanceOnPoints")
        nodes.link(points, inst.inputs["Points"])
        nodes.link(ico.outputs["Mesh"], inst.inputs["Instance"])
        rad = nodes.new("GeometryNodeInputRadius")
        nodes.link(rad.outputs["Radius"], inst.inputs["Scale"])
        real = nodes.new("GeometryNodeRealizeInstances")
        nodes.link(inst.outputs["Instances"], real.inputs["Geometry"])
        points = real.outputs["Geometry"]
    _set_material_out(nodes, points, mat, gout)
    return obj


def _set_material_out(nodes, geometry, mat: bpy.types.Material, gout) -> None:
    """Set Material on ``geometry`` and send it to the group output (end of every tree)."""
    setmat = nodes.new("GeometryNodeSetMaterial")
    setmat.inputs["Material"].default_value = mat
    nodes.link(geometry, setmat.inputs["Geometry"])
    nodes.link(setmat.outputs["Geometry"], gout.inputs[0])
    gout.location = (nodes.x, 0)


def curves_object(name: str, cur: Curves, a: dict, mat: bpy.types.Material,
                  default_radius: float, draft: bool = False) -> bpy.types.Object:
    """Tubes around polylines: Mesh to Curve -> Curve to Mesh (circle profile; ``draft``: 5
    sides instead of 12)."""
    me = vertex_data(name, cur.points, cur.attributes, cur.colors, cur.edges())
    obj = bpy.data.objects.new(name, me)
    gn, nodes, gin, gout = _geometry_nodes(obj, f"{name}_tubes")
    r_default = float(a.get("radius", cur.radius or default_radius))
    radius = _radius_field(gn, nodes, {**a, "radius": r_default}, cur.attributes, r_default)
    m2c = nodes.new("GeometryNodeMeshToCurve")
    nodes.link(gin.outputs[0], m2c.inputs["Mesh"])
    profile = nodes.new("GeometryNodeCurvePrimitiveCircle", mode="RADIUS")
    profile.inputs["Resolution"].default_value = 5 if draft else 12
    profile.inputs["Radius"].default_value = 1.0
    c2m = nodes.new("GeometryNodeCurveToMesh")
    nodes.link(m2c.outputs["Curve"], c2m.inputs["Curve"])
    nodes.link(profile.outputs["Curve"], c2m.inputs["Profile Curve"])
    c2m.inputs["Fill Caps"].default_value = True
    if isinstance(radius, float):
        c2m.inputs["Scale"].default_value = radius
    else:
        nodes.link(radius, c2m.inputs["Scale"])
    smooth = nodes.new("GeometryNodeSetShadeSmooth")
    nodes.link(c2m.outputs["Mesh"], smooth.inputs["Geometry"])
    _set_material_out(nodes, smooth.outputs["Geometry"], mat, gout)
    return obj


def volume_object(name: str, path: Path, a: dict, mat: bpy.types.Material,
                  blend_path: str | None = None) -> bpy.types.Object:
    """A volume object reading ``path`` (.vdb); ``blend_path`` is the path stored in a .blend."""
    vol = bpy.data.volumes.new(name)
    vol.filepath = str(path)
    vol.grids.load()
    grid = a.get("grid")
    names = [g.name for g in vol.grids]
    if not names:
        raise BadInputError(f"{path}: no grids could be read from this .vdb")
    if grid and grid not in names:
        raise BadInputError(f"{path}: no grid named {grid!r} (grids: {', '.join(names)})")
    vol.materials.append(mat)
    if blend_path:
        vol.filepath = blend_path
    return bpy.data.objects.new(name, vol)


# ----------------------------------------------------------------------------- assets

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


def read_geometry(path: Path) -> Any:
    """A mesh, points or curves asset from its .glb (the manifest's path: Draco meshes, read
    by :func:`core.io.gltf.read_glb`) or .ply (manifests of older runs)."""
    suffix = path.suffix.lower()
    if suffix == ".glb":
        from core.io.gltf import read_glb

        return read_glb(path)
    if suffix == ".ply":
        from core.io.ply import read_ply

        return read_ply(path)
    raise BadInputError(f"{path}: the renderer loads meshes, points and curves from .glb "
                        f"(or .ply), got {suffix or 'no suffix'}")


def _positions(geom: Any) -> np.ndarray:
    if isinstance(geom, Mesh):
        return geom.vertices
    if isinstance(geom, Curves):
        return geom.points
    return geom.positions


def remove_objects(objs: list[bpy.types.Object]) -> None:
    """Delete objects and the data only they used (meshes, volumes, node groups)."""
    for obj in objs:
        data = obj.data
        groups = [m.node_group for m in obj.modifiers if m.type == "NODES" and m.node_group]
        bpy.data.objects.remove(obj, do_unlink=True)
        if isinstance(data, bpy.types.Mesh) and data.users == 0:
            bpy.data.meshes.remove(data)
        elif isinstance(data, bpy.types.Volume) and data.users == 0:
            bpy.data.volumes.remove(data)
        for g in groups:
            if g.users == 0:
                bpy.data.node_groups.remove(g)


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


# ----------------------------------------------------------------------------- whole scenes

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
