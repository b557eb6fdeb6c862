"""The ``--draft`` look: Workbench settings and per-vertex colours baked on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy  # noqa: I001  (render/ is the only package importing bpy, see render/__init__.py)
import numpy as np

from core import colormaps
from render.scene.color import COLOR_ATTR, DEFAULT_COLOR
from render.scene.objects import _scalar_attributes


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
