"""Blender's own glTF importer reads our textured GLB (the climate base map): the embedded
image becomes the material's Base Color image texture, TEXCOORD_0 a UV map whose (u, v) are
our ``uv`` (Blender flips glTF's t back: v up, as we write it). Blender runs in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from core.io.gltf import write_glb
from tests.core.test_texture import grid_mesh, texture

pytestmark = pytest.mark.bpy

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import json, sys
    import bpy
    import numpy as np

    glb, out = sys.argv[1], sys.argv[2]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=glb)
    obj = next(o for o in bpy.context.scene.objects if o.type == "MESH")
    me = obj.data
    nl = len(me.loops)
    loop_vert = np.empty(nl, np.int32)
    me.loops.foreach_get("vertex_index", loop_vert)
    uv = np.empty(2 * nl, np.float32)
    me.uv_layers[0].data.foreach_get("uv", uv)
    co = np.empty(3 * len(me.vertices), np.float32)
    me.vertices.foreach_get("co", co)
    mat = obj.material_slots[0].material
    bsdf = next(n for n in mat.node_tree.nodes if n.type == "BSDF_PRINCIPLED")
    link = bsdf.inputs["Base Color"].links[0]
    img = link.from_node.image if link.from_node.type == "TEX_IMAGE" else None
    json.dump({"uv": uv.reshape(-1, 2).tolist(), "loop_vert": loop_vert.tolist(),
               "co": co.reshape(-1, 3).tolist(), "from": link.from_node.type,
               "size": list(img.size) if img else None,
               "colors": len(me.color_attributes)}, open(out, "w"))
""")


def test_blender_imports_the_texture_and_the_uv_map(tmp_path):
    m = grid_mesh()
    p = write_glb(m, tmp_path / "g.glb", texture=texture(tmp_path / "t.jpg"))
    script = tmp_path / "imp.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out.json"
    res = subprocess.run([sys.executable, str(script), str(p), str(out)], capture_output=True,
                         text=True, cwd=ROOT, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    got = json.loads(out.read_text())
    assert got["from"] == "TEX_IMAGE" and got["size"] == [16, 8] and got["colors"] == 0
    co, uv, lv = np.array(got["co"]), np.array(got["uv"]), np.array(got["loop_vert"])
    # each loop's UV is the uv we wrote at the nearest vertex (Draco quantizes positions)
    d = np.linalg.norm(co[lv][:, None, :] - m.vertices[None, :, :], axis=2)
    assert d.min(1).max() < 0.01
    ours = m.attributes["uv"][d.argmin(1)]
    np.testing.assert_allclose(uv, ours, atol=1e-5)
