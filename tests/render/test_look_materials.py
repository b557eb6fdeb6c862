"""The materials scene's isosurface look (issue #18 item 4, after VESTA and batoms).

A small signed field (a p-orbital-like lobe pair around a water molecule, in a .cube file)
goes through ``materials_pipeline --no-render``; Blender then builds its first frame with
:func:`render.scene.prepare` / ``build_frame`` in a subprocess (bpy keeps global state) and
reports the isosurface materials: back faces culled (EEVEE) and sent to a Transparent BSDF by
Geometry.Backfacing (Cycles), alpha from Layer Weight's Facing output mapped to
[opacity, 1], no coat, low specular, and the VESTA colours (yellow +, cyan -). With a colour
map (``--color-by``) the lobes keep the colour map. Material settings, not pixels.
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

pytestmark = pytest.mark.bpy

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from render import scene as S

    run, out = Path(sys.argv[1]), sys.argv[2]
    m = json.loads((run / "manifest.json").read_text())
    sc, builder, cam, _ = S.prepare(m, run, resolution=(64, 36), samples=1)
    objs = builder.build_frame(m["frames"][0])
    res = {}
    for o in objs:
        if o.type != "MESH" or not o.data.materials:
            continue
        mat = o.data.materials[0]
        nodes = mat.node_tree.nodes
        bsdf = next(n for n in nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
        out_node = next(n for n in nodes if n.bl_idname == "ShaderNodeOutputMaterial")
        surf = out_node.inputs["Surface"].links[0].from_node
        alpha_links = bsdf.inputs["Alpha"].links
        alpha_from = alpha_links[0].from_node if alpha_links else None
        facing = None
        if alpha_from is not None and alpha_from.bl_idname == "ShaderNodeMapRange":
            lk = alpha_from.inputs["Value"].links
            facing = [lk[0].from_node.bl_idname, lk[0].from_socket.name] if lk else None
        fac_links = surf.inputs["Fac"].links if surf.bl_idname == "ShaderNodeMixShader" else []
        res[o["vizpipe_asset"]] = {
            "backface_culling": mat.use_backface_culling,
            "coat": bsdf.inputs["Coat Weight"].default_value,
            "specular": bsdf.inputs["Specular IOR Level"].default_value,
            "roughness": bsdf.inputs["Roughness"].default_value,
            "base_color": list(bsdf.inputs["Base Color"].default_value)[:3],
            "base_linked": bool(bsdf.inputs["Base Color"].links),
            "alpha_from": alpha_from.bl_idname if alpha_from else None,
            "alpha_min": (alpha_from.inputs["To Min"].default_value
                          if alpha_from is not None and alpha_from.bl_idname ==
                          "ShaderNodeMapRange" else None),
            "facing": facing,
            "surface": surf.bl_idname,
            "mix_fac": ([fac_links[0].from_node.bl_idname, fac_links[0].from_socket.name]
                        if fac_links else None),
            "mix_second": (surf.inputs[2].links[0].from_node.bl_idname
                           if surf.bl_idname == "ShaderNodeMixShader" else None),
        }
    Path(out).write_text(json.dumps(res))
""")


def _cube(path: Path) -> None:
    from ase import Atoms
    from ase.io.cube import write_cube

    atoms = Atoms("OH2", positions=[[0, 0, 0.12], [0, 0.76, -0.47], [0, -0.76, -0.47]])
    atoms.center(vacuum=3.0)
    n = 28
    c = atoms.cell.lengths()
    g = np.stack(np.meshgrid(*[np.linspace(0, L, n, endpoint=False) for L in c],
                             indexing="ij"), -1) - atoms.positions[0]
    field = g[..., 0] * np.exp(-(g**2).sum(-1) / 1.5)  # a p_x lobe pair: + and -
    with path.open("w") as fh:
        write_cube(fh, atoms, data=field)


def _materials(tmp_path: Path, name: str, *extra: str) -> dict:
    cube = tmp_path / "px.cube"
    if not cube.exists():
        _cube(cube)
    run = tmp_path / name
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-m", "materials_pipeline", str(cube), "--out", str(run),
                    "--no-render", "--no-volume", "--formats", "glb", "--orbit-frames", "1",
                    "--workers", "1", *extra], check=True, cwd=ROOT, env=env, timeout=300,
                   capture_output=True)
    out = tmp_path / f"{name}.json"
    subprocess.run([sys.executable, "-c", SCRIPT, str(run), str(out)], check=True, cwd=ROOT,
                   env=env, timeout=300)
    return json.loads(out.read_text())


def _linear(c: float) -> float:
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def test_signed_isosurface_look(tmp_path):
    from materials_pipeline.manifest import SIGNED_COLOURS

    mats = _materials(tmp_path, "signed")
    assert {"iso", "iso_neg"} <= set(mats), mats.keys()
    for name, m in mats.items():
        if not name.startswith("iso"):
            continue
        assert m["backface_culling"], name
        assert m["coat"] == 0.0 and m["specular"] <= 0.2 and 0.4 <= m["roughness"] <= 0.6
        assert m["alpha_from"] == "ShaderNodeMapRange" and 0.3 <= m["alpha_min"] <= 0.6
        assert m["facing"] == ["ShaderNodeLayerWeight", "Facing"]
        assert m["surface"] == "ShaderNodeMixShader"
        assert m["mix_fac"] == ["ShaderNodeNewGeometry", "Backfacing"]
        assert m["mix_second"] == "ShaderNodeBsdfTransparent"
        assert not m["base_linked"]
    yellow, cyan = mats["iso"]["base_color"], mats["iso_neg"]["base_color"]
    assert yellow == pytest.approx([_linear(c) for c in SIGNED_COLOURS[0]], abs=1e-4)
    assert cyan == pytest.approx([_linear(c) for c in SIGNED_COLOURS[1]], abs=1e-4)
    assert yellow[0] > 0.6 and yellow[1] > 0.5 and yellow[2] < 0.1  # yellow
    assert cyan[0] < 0.1 and cyan[1] > 0.5 and cyan[2] > 0.6  # cyan
    # the atoms keep their own (non-isosurface) material
    if "atoms" in mats:
        assert not mats["atoms"]["backface_culling"]


def test_colour_map_kept_on_signed_lobes(tmp_path):
    _cube(tmp_path / "px.cube")
    mats = _materials(tmp_path, "cmap", "--color-by", str(tmp_path / "px.cube"))
    for name in ("iso", "iso_neg"):
        assert mats[name]["base_linked"], name  # colour map, not yellow/cyan
        assert mats[name]["backface_culling"] and mats[name]["coat"] == 0.0
