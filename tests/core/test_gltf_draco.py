"""Draco-compressed GLB (core.io.gltf): a real isosurface round trip, the file's structure read
by an independent glTF parser (pygltflib) and its Draco buffer decoded by DracoPy directly,
the file read by trimesh, points and lines, empty geometry, damaged files.

Draco reorders vertices: the mesh carries an ``id`` attribute (the original vertex index,
exact in float32), so every decoded vertex is matched to the vertex it was, and each of its
attributes is checked against that vertex's own values.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial import cKDTree

from core.errors import BadInputError
from core.geometry import Curves, Mesh, Points, Volume, isosurface
from core.io.gltf import POSITION_BITS, read_glb, write_glb

GRAD = np.array([0.7, -1.3, 2.1])  # value = GRAD . x + 0.5: a linear function of position


def srgb_to_linear_ref(c8: np.ndarray) -> np.ndarray:
    """The sRGB transfer function, written out independently of the code under test."""
    c = c8.astype(np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _value(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) @ GRAD + 0.5


@pytest.fixture(scope="module")
def iso() -> Mesh:
    """A gyroid isosurface on a sheared 40^3 grid, with colours, ``value`` and ``id``."""
    n = 40
    t = np.linspace(0, 4 * np.pi, n)
    x, y, z = np.meshgrid(t, t, t, indexing="ij")
    f = np.sin(x) * np.cos(y) + np.sin(y) * np.cos(z) + np.sin(z) * np.cos(x)
    affine = np.array([[0.05, 0.01, 0.0, -1.0], [0.0, 0.05, 0.0, 0.5],
                       [0.0, 0.0, 0.04, 2.0], [0, 0, 0, 1]])
    m = isosurface(Volume(f.astype(np.float32), affine), 0.31)
    nv = m.n_vertices
    value = _value(m.vertices).astype(np.float32)
    s = (value - value.min()) / np.ptp(value)
    ids = np.arange(nv)
    colors = np.stack([np.rint(255 * s), np.rint(255 * (1 - s)), ids % 256,  # every byte
                       np.full(nv, 255)], axis=1).astype(np.uint8)
    return Mesh(m.vertices, m.faces, m.normals, {"value": value, "id": ids.astype(np.float32)},
                colors)


@pytest.fixture(scope="module")
def written(iso, tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("draco")
    return {"draco": write_glb(iso, d / "iso.glb", name="iso"),
            "plain": write_glb(iso, d / "iso_plain.glb", name="iso", compress=False)}


def _tolerance(mesh: Mesh) -> float:
    """Draco's worst position error: half a step on each axis, step = extent / (2^bits - 1)."""
    extent = float(np.ptp(mesh.vertices, axis=0).max())
    return float(np.sqrt(3) / 2 * extent / (2 ** POSITION_BITS - 1))


def _canonical(faces: np.ndarray) -> set[tuple[int, int, int]]:
    """Faces as a set, each rotated to start at its smallest index (winding kept)."""
    r = np.argmin(faces, axis=1)
    rows = np.arange(len(faces))[:, None]
    rolled = faces[rows, (r[:, None] + np.arange(3)) % 3]
    return set(map(tuple, rolled.tolist()))


def test_isosurface_round_trip(iso, written):
    back = read_glb(written["draco"])
    assert isinstance(back, Mesh) and back.n_faces == iso.n_faces
    ids = back.attributes["id"].astype(np.int64)
    np.testing.assert_array_equal(back.attributes["id"], ids)  # integral: nothing blended
    assert sorted(ids.tolist()) == list(range(iso.n_vertices))  # each vertex once

    # positions: within the quantization step, and below 1e-4 of the diagonal
    diag = float(np.linalg.norm(np.ptp(iso.vertices, axis=0)))
    tol = _tolerance(iso)
    assert tol < 1e-4 * diag
    err = np.linalg.norm(back.vertices - iso.vertices[ids], axis=1)
    assert err.max() <= tol * 1.001
    dist, _ = cKDTree(iso.vertices).query(back.vertices)  # the same, without the ids
    assert dist.max() <= tol * 1.001

    # every attribute stayed with its vertex
    np.testing.assert_array_equal(back.attributes["value"], iso.attributes["value"][ids])
    np.testing.assert_allclose(back.attributes["value"], _value(back.vertices),
                               atol=np.abs(GRAD).sum() * tol + 1e-5)  # f(decoded position)
    np.testing.assert_array_equal(back.colors, iso.colors[ids])
    cos = np.einsum("ij,ij->i", back.normals.astype(np.float64), iso.normals[ids])
    assert np.degrees(np.arccos(np.clip(cos, -1, 1))).max() < 1.0

    # the same triangles, wound the same way, in terms of the original vertices
    assert _canonical(ids[back.faces]) == _canonical(iso.faces.astype(np.int64))


def test_draco_is_at_least_3x_smaller(written):
    draco, plain = written["draco"].stat().st_size, written["plain"].stat().st_size
    assert plain >= 3 * draco, (plain, draco)


def test_structure_via_pygltflib_and_dracopy(iso, written):
    """The JSON as an independent parser sees it; the Draco buffer decoded by DracoPy."""
    import DracoPy
    import pygltflib

    g = pygltflib.GLTF2().load_binary(str(written["draco"]))
    doc = json.loads(g.to_json())
    ext = "KHR_draco_mesh_compression"
    assert ext in doc["extensionsUsed"] and ext in doc["extensionsRequired"]
    prim = doc["meshes"][0]["primitives"][0]
    assert prim["mode"] == 4
    draco = prim["extensions"][ext]
    # unique ids: the generics in order (COLOR_0, then the custom attributes), NORMAL, POSITION
    assert draco["attributes"] == {"COLOR_0": 0, "_value": 1, "_id": 2, "NORMAL": 3,
                                   "POSITION": 4}
    assert set(draco["attributes"]) == set(prim["attributes"])
    acc = {k: doc["accessors"][i] for k, i in prim["attributes"].items()}
    acc["indices"] = doc["accessors"][prim["indices"]]
    for i in [*prim["attributes"].values(), prim["indices"]]:  # the data is in the Draco buffer
        assert g.accessors[i].bufferView is None and g.accessors[i].sparse is None
    assert {k: acc["COLOR_0"][k] for k in ("componentType", "normalized", "count", "type")} \
        == {"componentType": 5123, "normalized": True, "count": iso.n_vertices, "type": "VEC4"}
    assert (acc["_value"]["componentType"], acc["_value"]["type"]) == (5126, "SCALAR")
    assert (acc["NORMAL"]["componentType"], acc["NORMAL"]["type"]) == (5126, "VEC3")
    assert (acc["indices"]["componentType"], acc["indices"]["count"]) == (5125, 3 * iso.n_faces)
    record = doc["asset"]["extras"]["vizpipe"]
    assert record["compression"] == "draco"
    assert record["quantization_bits"] == {"POSITION": POSITION_BITS, "NORMAL": 10,
                                           "COLOR_0": 16}

    view = g.bufferViews[draco["bufferView"]]
    raw = g.binary_blob()[view.byteOffset or 0:(view.byteOffset or 0) + view.byteLength]
    dec = DracoPy.decode(raw)
    by_id = {a["unique_id"]: a for a in dec.attributes}
    assert by_id[draco["attributes"]["POSITION"]]["attribute_type"] == 0
    assert by_id[draco["attributes"]["NORMAL"]]["attribute_type"] == 1
    pos = by_id[draco["attributes"]["POSITION"]]["data"]
    assert len(pos) == acc["POSITION"]["count"] == len(dec.points)
    np.testing.assert_array_equal(acc["POSITION"]["min"], pos.min(0))  # the decoded bounds
    np.testing.assert_array_equal(acc["POSITION"]["max"], pos.max(0))
    ids = by_id[draco["attributes"]["_id"]]["data"][:, 0].astype(np.int64)
    v = iso.vertices[ids]
    gltf = np.stack([v[:, 0], v[:, 2], -v[:, 1]], axis=1)  # documented (x, y, z) -> (x, z, -y)
    assert np.abs(pos - gltf).max() <= _tolerance(iso)
    colour = by_id[draco["attributes"]["COLOR_0"]]["data"] / 65535.0
    np.testing.assert_allclose(colour[:, :3], srgb_to_linear_ref(iso.colors[ids, :3]),
                               atol=0.5 / 65535 + 1e-9)
    np.testing.assert_array_equal(by_id[draco["attributes"]["_value"]]["data"][:, 0],
                                  iso.attributes["value"][ids])


def test_trimesh_reads_it(iso, written):
    """A third reader: trimesh's own glTF parser (its Draco handler maps ids via DracoPy)."""
    import trimesh

    scene = trimesh.load(written["draco"], process=False)
    (geom,) = scene.geometry.values()
    ids = geom.vertex_attributes["_id"][:, 0].astype(np.int64)
    v = iso.vertices[ids]
    gltf = np.stack([v[:, 0], v[:, 2], -v[:, 1]], axis=1)  # documented (x, y, z) -> (x, z, -y)
    assert np.abs(geom.vertices - gltf).max() <= _tolerance(iso)
    assert _canonical(ids[geom.faces]) == _canonical(iso.faces.astype(np.int64))
    np.testing.assert_array_equal(geom.vertex_attributes["_value"][:, 0],
                                  iso.attributes["value"][ids])


def test_uncompressed_is_plain_float32(iso, written):
    import pygltflib

    g = pygltflib.GLTF2().load_binary(str(written["plain"]))
    doc = json.loads(g.to_json())
    assert "extensionsUsed" not in doc and doc["asset"]["extras"]["vizpipe"]["compression"] \
        == "none"
    prim = doc["meshes"][0]["primitives"][0]
    assert "extensions" not in prim
    for i in [*prim["attributes"].values(), prim["indices"]]:
        assert "bufferView" in doc["accessors"][i]
    assert doc["accessors"][prim["attributes"]["COLOR_0"]]["componentType"] == 5126
    back = read_glb(written["plain"])  # exact, in the original order
    np.testing.assert_array_equal(back.vertices, iso.vertices)
    np.testing.assert_array_equal(back.faces, iso.faces)
    np.testing.assert_array_equal(back.colors, iso.colors)


def test_mesh_without_normals_or_colours(tmp_path):
    rng = np.random.default_rng(3)
    v = rng.uniform(-1, 1, (30, 3))
    faces = np.arange(30).reshape(-1, 3)
    wide = rng.random((30, 6)).astype(np.float32)  # split into _wide_0 .. _wide_5
    attrs = {"id": np.arange(30), "wide": wide}
    p = write_glb(Mesh(v, faces, attributes=attrs), tmp_path / "m.glb")
    back = read_glb(p)
    assert back.normals is None and back.colors is None and back.n_faces == 10
    ids = back.attributes["id"].astype(np.int64)
    got = np.stack([back.attributes[f"wide_{j}"] for j in range(6)], axis=1)
    np.testing.assert_array_equal(got, wide[ids])


def test_points_stay_plain(tmp_path):
    rng = np.random.default_rng(5)
    pts = Points(rng.uniform(-1, 1, (20, 3)), {"radius": rng.random(20)},
                 rng.integers(0, 256, (20, 4)).astype(np.uint8))
    p = write_glb(pts, tmp_path / "p.glb")
    doc = json.loads(__import__("pygltflib").GLTF2().load_binary(str(p)).to_json())
    assert "extensionsUsed" not in doc and doc["meshes"][0]["primitives"][0]["mode"] == 0
    back = read_glb(p)
    assert isinstance(back, Points)
    np.testing.assert_array_equal(back.positions, pts.positions)
    np.testing.assert_array_equal(back.colors, pts.colors)
    np.testing.assert_allclose(back.attributes["radius"], pts.attributes["radius"], rtol=1e-7)


def test_curves_are_lines_with_their_radius(tmp_path):
    rng = np.random.default_rng(6)
    cur = Curves.from_polylines([rng.random((5, 3)), rng.random((2, 3)), rng.random((7, 3))],
                                attributes={"speed": rng.random(14)},
                                colors=rng.integers(0, 256, (14, 4)).astype(np.uint8),
                                radius=0.03)
    p = write_glb(cur, tmp_path / "c.glb")
    doc = json.loads(__import__("pygltflib").GLTF2().load_binary(str(p)).to_json())
    prim = doc["meshes"][0]["primitives"][0]
    assert prim["mode"] == 1 and "extensions" not in prim
    assert doc["accessors"][prim["attributes"]["POSITION"]]["count"] == 14  # no tube rings
    assert doc["asset"]["extras"]["vizpipe"]["radius"] == 0.03
    back = read_glb(p)
    assert isinstance(back, Curves) and back.radius == 0.03
    np.testing.assert_array_equal(back.counts, cur.counts)
    np.testing.assert_array_equal(back.points, cur.points)
    np.testing.assert_array_equal(back.colors, cur.colors)
    np.testing.assert_allclose(back.attributes["speed"], cur.attributes["speed"], rtol=1e-7)


def test_empty_geometry(tmp_path):
    import pygltflib

    p = write_glb(Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64)), tmp_path / "e.glb")
    g = pygltflib.GLTF2().load_binary(str(p))
    assert not g.meshes and not g.extensionsRequired
    assert read_glb(p).n_faces == 0
    p = write_glb(Curves(np.zeros((0, 3)), np.zeros(0, np.int64), radius=0.5), tmp_path / "c.glb")
    back = read_glb(p)
    assert isinstance(back, Curves) and len(back.points) == 0 and back.radius == 0.5


def test_only_degenerate_faces_give_an_empty_mesh(tmp_path):
    """Draco drops faces without area; when none is left the file holds an empty node."""
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32)
    back = read_glb(write_glb(Mesh(v, [[0, 1, 2], [3, 3, 0]]), tmp_path / "flat.glb"))
    assert isinstance(back, Mesh) and back.n_faces == 0
    back = read_glb(write_glb(Mesh(v, [[0, 1, 3], [0, 1, 2]]), tmp_path / "one.glb"))
    assert back.n_faces == 1


def _one_line_error(path: Path) -> str:
    with pytest.raises(BadInputError) as err:
        read_glb(path)
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg
    return msg


@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1])
def test_truncated_file(written, tmp_path, keep):
    data = written["draco"].read_bytes()
    p = tmp_path / "cut.glb"
    p.write_bytes(data[:int(len(data) * keep)])
    assert "truncated" in _one_line_error(p)


def test_damaged_draco_buffer(written, tmp_path):
    """Same length, garbage where the Draco buffer is: DracoPy's error becomes ours."""
    data = bytearray(written["draco"].read_bytes())
    json_len = struct.unpack_from("<I", data, 12)[0]
    start = 12 + 8 + json_len + 8  # the BIN chunk's first byte: the Draco buffer
    data[start:start + 64] = b"\xff" * 64
    p = tmp_path / "bad.glb"
    p.write_bytes(bytes(data))
    assert "Draco" in _one_line_error(p)


def test_damaged_json(written, tmp_path):
    data = bytearray(written["draco"].read_bytes())
    i = data.index(b'"accessors"')
    data[i:i + 11] = b'"ACCESSORS"'  # still JSON, but no accessors
    p = tmp_path / "nojson.glb"
    p.write_bytes(bytes(data))
    assert "damaged glTF document" in _one_line_error(p)
    data[20:24] = b"\x00\xff\xfe\x00"  # not UTF-8 JSON any more
    p.write_bytes(bytes(data))
    _one_line_error(p)


def test_non_finite_vertices_are_refused(tmp_path):
    v = np.array([[0, 0, 0], [1, 0, 0], [0, np.nan, 0]], dtype=np.float32)
    with pytest.raises(BadInputError, match="finite"):
        write_glb(Mesh(v, [[0, 1, 2]]), tmp_path / "nan.glb")
    assert not (tmp_path / "nan.glb").exists()
