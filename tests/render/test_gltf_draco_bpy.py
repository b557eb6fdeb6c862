"""Blender's own glTF importer reads our Draco GLB (core.io.gltf.write_glb).

``bpy.ops.import_scene.gltf`` decodes the ``KHR_draco_mesh_compression`` primitive with the
Draco library the bpy wheel ships (``io_scene_gltf2/libextern_draco.so``), then maps glTF's
Y-up to Blender's Z-up with ``(x, y, z) -> (x, -z, y)``: since write_glb baked our Z-up into
glTF with the inverse rotation, Blender's mesh data holds our own coordinates, under an
identity object transform. What was found (bpy 5.0.1):

* every attribute inside the Draco buffer is decoded by its unique id, the generic ones
  included: the custom float attributes come in as POINT-domain FLOAT attributes named as in
  the file (``_value``, ``_id``: the leading underscore is kept);
* COLOR_0 as *uint16 normalized* linear (what write_glb stores) is read: Blender's Draco
  decoder converts to the accessor's UNSIGNED_SHORT and its importer divides by 65535; it
  becomes the ``Color`` attribute (BYTE_COLOR, CORNER domain, stored as sRGB bytes);
* nothing was refused; the importer logs no Draco warning (the accessors' counts match the
  decoded data), and the colours come back byte for byte.

Blender runs in a subprocess (bpy keeps global state); the data comes back in an .npz file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from core.geometry import Mesh, Volume, isosurface
from core.io.gltf import POSITION_BITS, read_glb, write_glb

pytestmark = pytest.mark.bpy

ROOT = Path(__file__).resolve().parents[2]
GRAD = np.array([0.4, 1.1, -0.9])

SCRIPT = textwrap.dedent("""
    import json, sys
    import bpy
    import numpy as np

    glb, out = sys.argv[1], sys.argv[2]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    res = bpy.ops.import_scene.gltf(filepath=glb)
    objs = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    me = objs[0].data
    n, nl = len(me.vertices), len(me.loops)
    co = np.empty(n * 3, np.float32)
    me.vertices.foreach_get("co", co)
    loop_vert = np.empty(nl, np.int32)
    me.loops.foreach_get("vertex_index", loop_vert)
    tri = np.array([len(p.vertices) == 3 for p in me.polygons])
    arrays = {"co": co.reshape(-1, 3), "loop_vert": loop_vert}
    for name in ("_value", "_id"):
        a = me.attributes.get(name)
        if a is not None and a.domain == "POINT" and a.data_type == "FLOAT":
            v = np.empty(n, np.float32)
            a.data.foreach_get("value", v)
            arrays[name] = v
    col = me.color_attributes.get("Color")
    if col is not None:
        c = np.empty(len(col.data) * 4, np.float32)
        col.data.foreach_get("color_srgb", c)
        arrays["color_srgb"] = c.reshape(-1, 4)
    np.savez(out, **arrays)
    print("JSON" + json.dumps({
        "result": sorted(res), "objects": len(objs), "polygons": len(me.polygons),
        "all_triangles": bool(tri.all()), "matrix": [list(r) for r in objs[0].matrix_world],
        "attributes": sorted(a.name for a in me.attributes),
        "color": None if col is None else [col.domain, col.data_type],
    }))
""")


def _mesh() -> Mesh:
    """A gyroid isosurface with colours (every byte value), ``value`` and ``id``."""
    t = np.linspace(0, 4 * np.pi, 32)
    x, y, z = np.meshgrid(t, t, t, indexing="ij")
    f = np.sin(x) * np.cos(y) + np.sin(y) * np.cos(z) + np.sin(z) * np.cos(x)
    m = isosurface(Volume(f.astype(np.float32), np.diag([0.1, 0.1, 0.08, 1.0])), 0.2)
    n = m.n_vertices
    value = (m.vertices.astype(np.float64) @ GRAD - 1.0).astype(np.float32)
    s = (value - value.min()) / np.ptp(value)
    colors = np.stack([np.rint(255 * s), np.arange(n) % 256, np.rint(255 * (1 - s)),
                       np.full(n, 255)], axis=1).astype(np.uint8)
    return Mesh(m.vertices, m.faces, m.normals,
                {"value": value, "id": np.arange(n, dtype=np.float32)}, colors)


def test_blender_imports_our_draco_glb(tmp_path):
    mesh = _mesh()
    glb = write_glb(mesh, tmp_path / "iso.glb", name="iso")
    assert "KHR_draco_mesh_compression" in glb.read_bytes()[:4096].decode("latin-1")
    out = tmp_path / "blender.npz"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(glb), str(out)],
                          capture_output=True, text=True, env=env, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = (proc.stdout + proc.stderr).splitlines()
    assert "Draco Decoder: Decode primitive" in "\n".join(log)  # Draco, not a fallback
    assert not [ln for ln in log if "Draco" in ln and ("WARNING" in ln or "ERROR" in ln)]
    info = json.loads(proc.stdout.split("JSON", 1)[1].strip().splitlines()[0])
    assert info["result"] == ["FINISHED"] and info["objects"] == 1
    np.testing.assert_allclose(info["matrix"], np.eye(4), atol=1e-7)  # no transform
    assert info["all_triangles"] and info["polygons"] == mesh.n_faces == read_glb(glb).n_faces
    assert {"_value", "_id"} <= set(info["attributes"]), info["attributes"]
    assert info["color"] == ["CORNER", "BYTE_COLOR"]

    got = np.load(out)
    ids = got["_id"].astype(np.int64)
    assert sorted(ids.tolist()) == list(range(mesh.n_vertices))
    # Blender's Z-up coordinates are ours, within Draco's quantization
    extent = float(np.ptp(mesh.vertices, axis=0).max())
    tol = np.sqrt(3) / 2 * extent / (2 ** POSITION_BITS - 1)
    err = np.linalg.norm(got["co"] - mesh.vertices[ids], axis=1)
    assert err.max() <= tol * 1.001, (err.max(), tol)
    np.testing.assert_array_equal(got["_value"], mesh.attributes["value"][ids])
    # per corner: the sRGB bytes of the corner's vertex, exactly (uint16 linear in the file)
    want = mesh.colors[ids[got["loop_vert"]]]
    np.testing.assert_array_equal(np.rint(got["color_srgb"] * 255).astype(np.uint8), want)
