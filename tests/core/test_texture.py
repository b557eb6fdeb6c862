"""Texture coordinates and an embedded texture (the climate base map's relief): GLB
``TEXCOORD_0`` + ``baseColorTexture``, USD ``primvars:st`` + ``UsdUVTexture``, read back by our
readers, by pygltflib-free JSON parsing and by pxr (Blender's importer: tests/render)."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from core.geometry import Mesh
from core.io import read, write
from core.io.gltf import read_glb, write_glb


def grid_mesh(n: int = 6) -> Mesh:
    u, v = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    verts = np.stack([u.ravel() * 10, v.ravel() * 5, np.zeros(n * n)], -1).astype(np.float32)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, 1:].ravel(), \
        idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], -1), np.stack([a, c, d], -1)])
    uv = np.stack([u.ravel(), v.ravel()], -1).astype(np.float32)
    return Mesh(verts, faces, None, {"uv": uv, "value": u.ravel().astype(np.float32)}, None)


def texture(path: Path) -> Path:
    from PIL import Image

    img = np.zeros((8, 16, 3), np.uint8)
    img[:4] = (200, 40, 40)  # the northern (top) half red, v > 0.5
    img[4:] = (40, 40, 200)
    Image.fromarray(img).save(path, format="JPEG", quality=95)
    return path


def glb_json(path: Path) -> dict:
    data = path.read_bytes()
    (n,) = struct.unpack("<I", data[12:16])
    return json.loads(data[20:20 + n])


def _by_position(m: Mesh) -> np.ndarray:
    order = np.lexsort((m.vertices[:, 1], m.vertices[:, 0]))
    return m.attributes["uv"][order]


@pytest.mark.parametrize("compress", [True, False])
def test_glb_texcoords_round_trip_with_v_flipped_in_the_file(tmp_path, compress):
    m = grid_mesh()
    p = write_glb(m, tmp_path / "g.glb", compress=compress)
    doc = glb_json(p)
    attrs = doc["meshes"][0]["primitives"][0]["attributes"]
    assert "TEXCOORD_0" in attrs and "_uv" not in attrs and "_value" in attrs
    back = read_glb(p)
    np.testing.assert_allclose(_by_position(back), _by_position(m), atol=1e-6)
    if not compress:  # the raw accessor holds glTF's top-left origin: t = 1 - v
        acc = doc["accessors"][attrs["TEXCOORD_0"]]
        view = doc["bufferViews"][acc["bufferView"]]
        data = p.read_bytes()
        (jn,) = struct.unpack("<I", data[12:16])
        start = 20 + jn + 8 + view["byteOffset"]
        st = np.frombuffer(data[start:start + view["byteLength"]], "<f4").reshape(-1, 2)
        np.testing.assert_allclose(st[:, 1], 1.0 - m.attributes["uv"][:, 1])


def test_glb_embeds_the_texture_as_base_colour_and_drops_vertex_colours(tmp_path):
    m = grid_mesh()
    m = Mesh(m.vertices, m.faces, None, m.attributes,
             np.full((m.n_vertices, 4), 255, np.uint8))
    tex = texture(tmp_path / "t.jpg")
    p = write_glb(m, tmp_path / "g.glb", texture=tex)
    doc = glb_json(p)
    pbr = doc["materials"][0]["pbrMetallicRoughness"]
    assert pbr["baseColorTexture"] == {"index": 0, "texCoord": 0}
    assert doc["textures"][0]["source"] == 0 and doc["images"][0]["mimeType"] == "image/jpeg"
    view = doc["bufferViews"][doc["images"][0]["bufferView"]]
    data = p.read_bytes()
    (jn,) = struct.unpack("<I", data[12:16])
    start = 20 + jn + 8 + view["byteOffset"]
    assert data[start:start + view["byteLength"]] == tex.read_bytes()
    assert "COLOR_0" not in doc["meshes"][0]["primitives"][0]["attributes"]
    assert read_glb(p).colors is None


def test_a_texture_needs_uv_and_an_image(tmp_path):
    from core.errors import BadInputError

    m = grid_mesh()
    bare = Mesh(m.vertices, m.faces)
    with pytest.raises(BadInputError, match="'uv'"):
        write_glb(bare, tmp_path / "a.glb", texture=texture(tmp_path / "t.jpg"))
    bad = tmp_path / "t.txt"
    bad.write_text("not an image")
    with pytest.raises(BadInputError, match="not a PNG or JPEG"):
        write_glb(m, tmp_path / "b.glb", texture=bad)
    assert not (tmp_path / "b.glb").exists()


def test_usd_writes_uv_as_st_texcoords(tmp_path):
    pytest.importorskip("pxr")
    from pxr import Sdf, Usd, UsdGeom

    m = grid_mesh()
    p = write(m, tmp_path / "g.usdc", name="g")
    stage = Usd.Stage.Open(str(p))
    prim = next(x for x in stage.Traverse() if x.IsA(UsdGeom.Mesh))
    pv = UsdGeom.PrimvarsAPI(prim).GetPrimvar("st")
    assert pv.GetTypeName() == Sdf.ValueTypeNames.TexCoord2fArray
    assert pv.GetInterpolation() == "vertex"
    back = read(p)
    np.testing.assert_allclose(back.attributes["uv"], m.attributes["uv"])
