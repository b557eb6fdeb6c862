"""Geometry objects from asset files: meshes (``foreach_set``), point clouds and tubes (geometry
nodes), volumes (.vdb); reading the files and removing the objects again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy  # noqa: I001  (render/ is the only package importing bpy, see render/__init__.py)
import numpy as np

from core import colormaps
from core.errors import BadInputError
from core.geometry import Curves, Mesh, Points
from render.scene.color import COLOR_ATTR, UV_MAP
from render.scene.nodes import _Nodes


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
