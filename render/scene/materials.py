"""Materials: Principled BSDF for meshes, points and tubes (colour map, vertex colours, texture
or flat colour; opacity; emission; the isosurface look) and Principled Volume for volumes."""

from __future__ import annotations

import math
from typing import Any

import bpy  # noqa: I001  (render/ is the only package importing bpy, see render/__init__.py)

from core import colormaps
from core.errors import BadInputError
from render.scene.color import COLOR_ATTR, DEFAULT_COLOR, UV_MAP, _srgb_to_linear
from render.scene.nodes import _Nodes


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
