"""Asset writers, each round-tripped through an independent reader; atomicity; the registry.

Independent readers: trimesh (PLY), pygltflib (GLB), the openvdb binding (VDB), pxr (USD).
Our own readers (core.io.read_*) are checked as well, after the independent ones.
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import BadInputError, UnknownFormatError
from core.geometry import Curves, Mesh, Points, Volume
from core.io import FORMATS, guess_format, read, write
from core.io.gltf import read_glb, write_glb
from core.io.ply import write_ply
from core.io.usd import read_usd, write_usd, write_usd_sequence, write_usd_volume
from core.io.vdb import write_vdb

ROOT = Path(__file__).resolve().parents[2]


def srgb_to_linear_ref(c8: np.ndarray) -> np.ndarray:
    """The sRGB transfer function, written out independently of the code under test."""
    c = c8.astype(np.float64) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def mesh(rng) -> Mesh:
    n = 40
    normals = rng.normal(size=(n, 3))
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    return Mesh(rng.uniform(-3, 5, (n, 3)), rng.integers(0, n, (60, 3)), normals,
                {"speed": rng.random(n), "wind": rng.random((n, 3)), "id": np.arange(n)},
                rng.integers(0, 256, (n, 4)).astype(np.uint8))


@pytest.fixture
def points(rng) -> Points:
    n = 25
    return Points(rng.uniform(-1, 1, (n, 3)),
                  {"radius": rng.uniform(0.1, 0.3, n), "age": rng.random(n),
                   "id": np.arange(100, 100 + n)},
                  rng.integers(0, 256, (n, 4)).astype(np.uint8))


@pytest.fixture
def curves(rng) -> Curves:
    lines = [rng.random((3, 3)), rng.random((5, 3)), rng.random((2, 3))]
    c = Curves.from_polylines(lines, radius=0.05)
    c.colors = rng.integers(0, 256, (len(c.points), 4)).astype(np.uint8)
    c.attributes = {"speed": rng.random(len(c.points))}
    return c


@pytest.fixture
def sheared_volume(rng) -> Volume:
    cell = np.array([[4.0, 0.0, 0.0], [1.5, 3.5, 0.0], [0.7, 0.9, 5.0]])  # triclinic
    aff = Volume.affine_from_cell(cell, (6, 7, 8), origin=(0.25, -1.0, 2.0))
    return Volume(rng.random((6, 7, 8)).astype(np.float32) + 0.5, aff, "rho", "e/A^3")


# --------------------------------------------------------------------------------------- PLY

def test_ply_mesh_via_trimesh(tmp_path, mesh):
    import trimesh

    p = write_ply(mesh, tmp_path / "m.ply")
    t = trimesh.load(p, process=False)
    np.testing.assert_array_equal(t.vertices, mesh.vertices.astype(np.float64))
    np.testing.assert_array_equal(t.faces, mesh.faces)
    np.testing.assert_array_equal(t.visual.vertex_colors, mesh.colors)
    np.testing.assert_allclose(t.vertex_normals, mesh.normals, atol=1e-6)
    raw = t.metadata["_ply_raw"]["vertex"]["data"]
    np.testing.assert_array_equal(raw["speed"], mesh.attributes["speed"].astype(np.float32))
    np.testing.assert_array_equal(raw["wind_2"], mesh.attributes["wind"][:, 2].astype(np.float32))


def test_ply_points_and_curves_via_trimesh(tmp_path, points, curves):
    import trimesh

    pc = trimesh.load(write_ply(points, tmp_path / "p.ply"))
    np.testing.assert_array_equal(pc.vertices, points.positions.astype(np.float64))
    np.testing.assert_array_equal(pc.colors, points.colors)
    path = trimesh.load(write_ply(curves, tmp_path / "c.ply"), process=False)
    got = [np.asarray(path.vertices)[e.points] for e in path.entities]
    assert [len(g) for g in got] == curves.counts.tolist()
    for g, want in zip(got, curves.polylines(), strict=True):
        np.testing.assert_array_equal(g, want.astype(np.float64))


@st.composite
def meshes(draw):
    n = draw(st.integers(3, 30))
    m = draw(st.integers(1, 40))
    coords = st.floats(-1e6, 1e6, allow_nan=False, width=32)
    verts = np.array(draw(st.lists(st.tuples(coords, coords, coords), min_size=n, max_size=n)),
                     dtype=np.float32)
    faces = np.array(draw(st.lists(st.tuples(*[st.integers(0, n - 1)] * 3), min_size=m,
                                   max_size=m)), dtype=np.int64)
    colors = None
    if draw(st.booleans()):
        colors = np.array(draw(st.lists(st.tuples(*[st.integers(0, 255)] * 4), min_size=n,
                                        max_size=n)), dtype=np.uint8)
    return Mesh(verts, faces, colors=colors)


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(m=meshes())
def test_ply_roundtrip_property(tmp_path, m):
    import trimesh

    p = write_ply(m, tmp_path / "h.ply")
    t = trimesh.load(p, process=False)
    np.testing.assert_array_equal(t.vertices, m.vertices.astype(np.float64))
    np.testing.assert_array_equal(t.faces, m.faces)
    if m.colors is not None:
        np.testing.assert_array_equal(t.visual.vertex_colors, m.colors)
    back = read(p)
    np.testing.assert_array_equal(back.vertices, m.vertices)
    np.testing.assert_array_equal(back.faces, m.faces)


# --------------------------------------------------------------------------------------- GLB

def _gltf_load(path: Path):
    import pygltflib

    g = pygltflib.GLTF2().load_binary(str(path))
    blob = g.binary_blob()
    np_types = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
    widths = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}

    def acc(i: int) -> np.ndarray:
        a = g.accessors[i]
        v = g.bufferViews[a.bufferView]
        dt = np.dtype(np_types[a.componentType])
        k = widths[a.type]
        assert v.byteStride in (None, dt.itemsize * k)
        arr = np.frombuffer(blob, dtype=dt, count=a.count * k,
                            offset=(v.byteOffset or 0) + (a.byteOffset or 0))
        return arr.reshape(a.count, k) if k > 1 else arr

    return g, acc


def _expected_gltf_positions(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return np.stack([v[:, 0], v[:, 2], -v[:, 1]], axis=1)  # documented (x, y, z) -> (x, z, -y)


def test_glb_mesh_via_pygltflib(tmp_path, mesh):
    """The plain float32 layout (``compress=False``); Draco: tests/core/test_gltf_draco.py."""
    p = write_glb(mesh, tmp_path / "m.glb", name="iso", compress=False)
    data = p.read_bytes()
    magic, version, total = struct.unpack_from("<III", data)
    assert (magic, version, total) == (0x46546C67, 2, len(data))
    g, acc = _gltf_load(p)
    assert g.asset.version == "2.0"
    prim = g.meshes[0].primitives[0]
    assert prim.mode == 4
    pos_acc = g.accessors[prim.attributes.POSITION]
    pos = acc(prim.attributes.POSITION)
    np.testing.assert_array_equal(pos, _expected_gltf_positions(mesh.vertices))
    np.testing.assert_allclose(pos_acc.min, pos.min(0))
    np.testing.assert_allclose(pos_acc.max, pos.max(0))
    idx_acc = g.accessors[prim.indices]
    assert idx_acc.componentType == 5125  # uint32
    np.testing.assert_array_equal(acc(prim.indices).reshape(-1, 3), mesh.faces)
    np.testing.assert_allclose(acc(prim.attributes.NORMAL),
                               _expected_gltf_positions(mesh.normals), atol=1e-6)
    colour = acc(prim.attributes.COLOR_0)
    np.testing.assert_allclose(colour[:, :3], srgb_to_linear_ref(mesh.colors[:, :3]), atol=1e-6)
    np.testing.assert_allclose(colour[:, 3], mesh.colors[:, 3] / 255.0, atol=1e-7)
    extra = g.meshes[0].primitives[0].attributes
    raw = json.loads(g.to_json())["meshes"][0]["primitives"][0]["attributes"]
    assert {"_speed", "_wind", "_id"} <= set(raw)
    np.testing.assert_allclose(acc(raw["_speed"]), mesh.attributes["speed"], rtol=1e-6)
    np.testing.assert_array_equal(acc(raw["_id"]), mesh.attributes["id"].astype(np.float32))
    assert g.accessors[raw["_wind"]].type == "VEC3"
    assert extra.POSITION is not None
    assert g.materials[0].alphaMode == "BLEND"  # random colours have alpha < 255
    # our reader undoes the conventions exactly
    back = read(p)
    np.testing.assert_array_equal(back.vertices, mesh.vertices)
    np.testing.assert_array_equal(back.colors, mesh.colors)
    np.testing.assert_array_equal(back.faces, mesh.faces)


def test_glb_axis_convention_is_a_rotation(tmp_path):
    """Z-up data shows up as glTF +Y; winding and handedness are kept."""
    tri = Mesh([[0, 0, 0], [1, 0, 0], [0, 1, 0]], [[0, 1, 2]], [[0, 0, 1]] * 3)
    g, acc = _gltf_load(write_glb(tri, tmp_path / "t.glb", compress=False))
    pos = acc(0)
    n = np.cross(pos[1] - pos[0], pos[2] - pos[0])  # CCW face normal in glTF space
    np.testing.assert_allclose(n, [0, 1, 0])  # our +Z is glTF's +Y (up)
    np.testing.assert_allclose(acc(1), [[0, 1, 0]] * 3)
    assert not any(getattr(nd, "rotation", None) or getattr(nd, "matrix", None) for nd in g.nodes)


def test_glb_points_and_curves(tmp_path, points, curves):
    g, acc = _gltf_load(write_glb(points, tmp_path / "p.glb"))
    prim = g.meshes[0].primitives[0]
    assert prim.mode == 0 and prim.indices is None
    np.testing.assert_array_equal(acc(prim.attributes.POSITION),
                                  _expected_gltf_positions(points.positions))
    raw = json.loads(g.to_json())["meshes"][0]["primitives"][0]["attributes"]
    np.testing.assert_allclose(acc(raw["_radius"]), points.attributes["radius"], rtol=1e-6)

    # curves are LINES whatever their radius (one index pair per segment); the radius is
    # recorded for the renderer, which builds its own tubes
    for radius in (0.05, 0.0):
        curves.radius = radius
        g, acc = _gltf_load(write_glb(curves, tmp_path / "lines.glb"))
        prim = g.meshes[0].primitives[0]
        assert prim.mode == 1
        np.testing.assert_array_equal(acc(prim.attributes.POSITION),
                                      _expected_gltf_positions(curves.points))
        np.testing.assert_allclose(acc(prim.attributes.COLOR_0)[:, :3],
                                   srgb_to_linear_ref(curves.colors[:, :3]), atol=1e-6)
        seg = acc(prim.indices).reshape(-1, 2)
        assert len(seg) == int((curves.counts - 1).sum())
        np.testing.assert_array_equal(seg[:, 1] - seg[:, 0], 1)
        assert json.loads(g.to_json())["asset"]["extras"]["vizpipe"]["radius"] == radius
        back = read_glb(tmp_path / "lines.glb")
        np.testing.assert_array_equal(back.counts, curves.counts)
        np.testing.assert_array_equal(back.points, curves.points)
        assert back.radius == radius


def test_glb_empty_mesh_is_valid(tmp_path):
    import pygltflib

    p = write_glb(Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64)), tmp_path / "e.glb")
    g = pygltflib.GLTF2().load_binary(str(p))
    assert g.scenes[0].nodes == [0] and not g.meshes and not g.buffers
    assert read_glb(p).n_vertices == 0


# --------------------------------------------------------------------------------------- VDB

def test_vdb_via_openvdb(tmp_path, sheared_volume):
    from core.deps import require

    (openvdb,) = require("openvdb")
    vol = sheared_volume
    p = write_vdb(vol, tmp_path / "rho.vdb")
    grids, _meta = openvdb.readAll(str(p))
    (g,) = grids
    assert g.name == "rho"
    arr = np.zeros(vol.shape, np.float32)
    g.copyToArray(arr, ijk=(0, 0, 0))
    np.testing.assert_array_equal(arr, vol.values)
    for ijk in [(0, 0, 0), (1, 0, 0), (0, 1, 0), (0, 0, 1), (5, 6, 7), (2, 3, 4)]:
        np.testing.assert_allclose(g.transform.indexToWorld(ijk), vol.index_to_world(ijk),
                                   rtol=0, atol=1e-12)
    back = read(p)
    np.testing.assert_allclose(back.affine, vol.affine, atol=1e-12)


# --------------------------------------------------------------------------------------- USD

@pytest.mark.parametrize("suffix", [".usd", ".usda", ".usdc"])
def test_usd_mesh_via_pxr(tmp_path, mesh, suffix):
    from pxr import Usd, UsdGeom

    p = write_usd(mesh, tmp_path / f"m{suffix}", name="iso", meters_per_unit=1e-10)
    head = p.read_bytes()[:8]
    assert head.startswith(b"#usda") if suffix == ".usda" else head == b"PXR-USDC"
    stage = Usd.Stage.Open(str(p))
    assert UsdGeom.GetStageUpAxis(stage) == UsdGeom.Tokens.z
    assert UsdGeom.GetStageMetersPerUnit(stage) == pytest.approx(1e-10)
    assert stage.GetDefaultPrim().GetPath() == "/iso"
    m = UsdGeom.Mesh(stage.GetPrimAtPath("/iso/mesh"))
    np.testing.assert_array_equal(np.asarray(m.GetPointsAttr().Get()), mesh.vertices)
    np.testing.assert_array_equal(np.asarray(m.GetFaceVertexIndicesAttr().Get()),
                                  mesh.faces.reshape(-1))
    assert set(m.GetFaceVertexCountsAttr().Get()) == {3}
    assert m.GetSubdivisionSchemeAttr().Get() == "none"
    np.testing.assert_array_equal(np.asarray(m.GetNormalsAttr().Get()), mesh.normals)
    assert m.GetNormalsInterpolation() == "vertex"
    dc = m.GetDisplayColorPrimvar()
    assert dc.GetInterpolation() == "vertex"
    np.testing.assert_allclose(np.asarray(dc.Get()), srgb_to_linear_ref(mesh.colors[:, :3]),
                               atol=1e-6)
    np.testing.assert_allclose(np.asarray(m.GetDisplayOpacityPrimvar().Get()),
                               mesh.colors[:, 3] / 255, atol=1e-7)
    pv = UsdGeom.PrimvarsAPI(m)
    np.testing.assert_allclose(np.asarray(pv.GetPrimvar("speed").Get()),
                               mesh.attributes["speed"], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(pv.GetPrimvar("wind").Get()),
                               mesh.attributes["wind"], rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(pv.GetPrimvar("id").Get()), mesh.attributes["id"])
    ext = np.asarray(m.GetExtentAttr().Get())
    np.testing.assert_allclose(ext, mesh.bounds(), rtol=1e-6)
    back = read(p)
    np.testing.assert_array_equal(back.colors, mesh.colors)
    np.testing.assert_array_equal(back.faces, mesh.faces)


def test_usd_points_and_curves_via_pxr(tmp_path, points, curves):
    from pxr import Usd, UsdGeom

    stage = Usd.Stage.Open(str(write_usd(points, tmp_path / "p.usda", name="particles")))
    pts = UsdGeom.Points(stage.GetPrimAtPath("/particles/points"))
    np.testing.assert_array_equal(np.asarray(pts.GetPointsAttr().Get()), points.positions)
    np.testing.assert_allclose(np.asarray(pts.GetWidthsAttr().Get()),
                               2 * points.attributes["radius"], rtol=1e-6)  # diameters
    assert pts.GetWidthsInterpolation() == "vertex"
    np.testing.assert_array_equal(np.asarray(pts.GetIdsAttr().Get()), points.attributes["id"])
    np.testing.assert_allclose(
        np.asarray(UsdGeom.PrimvarsAPI(pts).GetPrimvar("age").Get()), points.attributes["age"],
        rtol=1e-6)

    stage = Usd.Stage.Open(str(write_usd(curves, tmp_path / "c.usd", name="coast")))
    bc = UsdGeom.BasisCurves(stage.GetPrimAtPath("/coast/curves"))
    assert bc.GetTypeAttr().Get() == "linear"
    np.testing.assert_array_equal(np.asarray(bc.GetCurveVertexCountsAttr().Get()), curves.counts)
    np.testing.assert_array_equal(np.asarray(bc.GetPointsAttr().Get()), curves.points)
    assert list(bc.GetWidthsAttr().Get()) == pytest.approx([2 * curves.radius])
    assert bc.GetWidthsInterpolation() == "constant"
    back = read_usd(tmp_path / "c.usd")
    assert back.radius == pytest.approx(curves.radius)
    np.testing.assert_array_equal(back.colors, curves.colors)


def test_usd_volume_via_pxr(tmp_path, sheared_volume):
    from pxr import Usd, UsdVol

    (tmp_path / "assets").mkdir()
    vdb = write_vdb(sheared_volume, tmp_path / "assets" / "rho.vdb")
    p = write_usd_volume(vdb, "rho", tmp_path / "usd" / "rho.usda", name="density")
    stage = Usd.Stage.Open(str(p))
    vol = UsdVol.Volume(stage.GetPrimAtPath("/density"))
    assert vol and stage.GetDefaultPrim() == vol.GetPrim()
    field_path = vol.GetFieldPath("rho")
    field = UsdVol.OpenVDBAsset(stage.GetPrimAtPath(field_path))
    fp = field.GetFilePathAttr().Get()
    assert fp.path == "../assets/rho.vdb"
    assert Path(fp.resolvedPath).resolve() == vdb.resolve()
    assert field.GetFieldNameAttr().Get() == "rho"

    # a Volume through write_usd writes the .vdb next to the USD file, with the voxel extent
    p2 = write_usd(sheared_volume, tmp_path / "v.usdc")
    stage = Usd.Stage.Open(str(p2))
    vol = UsdVol.Volume(stage.GetDefaultPrim())
    field = UsdVol.OpenVDBAsset(stage.GetPrimAtPath(vol.GetFieldPath("rho")))
    assert field.GetFilePathAttr().Get().path == "./v.vdb"
    assert (tmp_path / "v.vdb").exists()
    assert read(tmp_path / "v.vdb").name == "rho"
    lo, hi = np.asarray(vol.GetExtentAttr().Get())
    assert (lo <= sheared_volume.bounds()[0]).all() and (hi >= sheared_volume.bounds()[1]).all()


def test_usd_several_grids_in_one_volume(tmp_path, sheared_volume):
    from pxr import Usd, UsdVol

    other = Volume(sheared_volume.values * 2, sheared_volume.affine, "spin")
    p = write([sheared_volume, other], tmp_path / "both.usda")
    stage = Usd.Stage.Open(str(p))
    vol = UsdVol.Volume(stage.GetDefaultPrim())
    assert sorted(vol.GetFieldPaths()) == ["rho", "spin"]
    assert read(tmp_path / "both.vdb", name="spin").name == "spin"


def test_usd_sequence_time_samples(tmp_path, rng):
    from pxr import Usd, UsdGeom

    frames = {t: Points(rng.random((5 + t, 3)), {"speed": rng.random(5 + t)}) for t in (3, 4, 6)}
    p = write_usd_sequence(frames, tmp_path / "particles.usd", fps=12, radius=0.1)
    stage = Usd.Stage.Open(str(p))
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (3, 6)
    assert stage.GetTimeCodesPerSecond() == 12
    pts = UsdGeom.Points(stage.GetPrimAtPath("/geom/points"))
    for t, want in frames.items():
        np.testing.assert_array_equal(np.asarray(pts.GetPointsAttr().Get(t)), want.positions)
        assert read_usd(p, time=t).attributes["speed"].shape == (5 + t,)


def test_usd_files_pass_the_checker(tmp_path, mesh, points, curves, sheared_volume):
    from core.usdscene import check_usd

    for i, obj in enumerate([mesh, points, curves, sheared_volume]):
        p = write_usd(obj, tmp_path / f"a{i}.usda", meters_per_unit=1e-10)
        assert check_usd(p) == [], p.read_text()


# ------------------------------------------------------------------------------- atomicity

_CHILD = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    import numpy as np
    from core.atomic import tmp_name
    from core.geometry import Mesh, Volume
    from core.io import write

    path, mode = Path(sys.argv[2]), sys.argv[3]
    n = 40000
    rng = np.random.default_rng(0)
    if path.suffix == ".vdb":
        obj = Volume(rng.random((40, 40, 40)).astype(np.float32))
    else:
        obj = Mesh(rng.random((n, 3)), rng.integers(0, n, (n, 3)))
    if mode == "fifo":   # the temporary is a FIFO: the write blocks after the first 64 KiB
        os.mkfifo(tmp_name(path))
        print("FIFO", tmp_name(path), flush=True)
    else:                # every byte written; block just before the rename
        real = os.fsync
        def hook(fd):
            real(fd)
            print("READY", tmp_name(path), flush=True)
            time.sleep(120)
        os.fsync = hook
    write(obj, path)
    print("DONE", flush=True)
""")


def _spawn(path: Path, mode: str) -> tuple[subprocess.Popen, Path]:
    # VIZPIPE_FSYNC=1: the child's fsync hook marks "written, not yet renamed"
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(ROOT), str(path), mode],
                            stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "VIZPIPE_FSYNC": "1"})
    line = proc.stdout.readline().split()
    assert line and line[0] in ("FIFO", "READY"), line
    return proc, Path(line[1])


@pytest.mark.parametrize("suffix", [".ply", ".glb"])
def test_killed_mid_write_through_fifo_leaves_no_file(tmp_path, suffix):
    final = tmp_path / f"big{suffix}"
    proc, tmp = _spawn(final, "fifo")
    try:
        with open(tmp, "rb") as fifo:
            first = fifo.read(4096)  # the writer is now blocked inside write(), mid-file
            assert first[:4] in (b"ply\n", b"glTF")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not final.exists()


@pytest.mark.parametrize("suffix", [".ply", ".glb", ".usd", ".usda", ".vdb"])
def test_killed_before_rename_leaves_no_file(tmp_path, suffix):
    final = tmp_path / f"big{suffix}"
    proc, tmp = _spawn(final, "fsync")
    try:
        assert tmp.exists() and tmp.stat().st_size > 0  # fully written under the temp name
        assert tmp.suffix == suffix
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not final.exists()
    assert guess_format(tmp).suffixes == next(f for f in FORMATS if suffix in f.suffixes).suffixes


@pytest.mark.parametrize("suffix", [".ply", ".glb", ".usdc", ".vdb"])
def test_failed_write_leaves_nothing(tmp_path, monkeypatch, mesh, sheared_volume, suffix):
    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", boom)
    monkeypatch.setenv("VIZPIPE_FSYNC", "1")
    obj = sheared_volume if suffix == ".vdb" else mesh
    with pytest.raises(OSError, match="disk full"):
        write(obj, tmp_path / f"x{suffix}")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    write(obj, tmp_path / f"x{suffix}")  # the same process can write the same name again
    assert [p.name for p in tmp_path.iterdir()] == [f"x{suffix}"]


def test_no_fsync_unless_asked(tmp_path, monkeypatch, mesh):
    calls = []
    monkeypatch.setattr(os, "fsync", lambda fd: calls.append(fd))
    monkeypatch.delenv("VIZPIPE_FSYNC", raising=False)
    write(mesh, tmp_path / "a.ply")
    assert calls == []
    monkeypatch.setenv("VIZPIPE_FSYNC", "1")
    write(mesh, tmp_path / "b.ply")
    assert len(calls) == 1


# -------------------------------------------------------------------------------- registry

def test_registry_unknown_suffix_lists_known_formats(tmp_path, mesh):
    with pytest.raises(UnknownFormatError) as err:
        write(mesh, tmp_path / "m.obj")
    msg = str(err.value)
    assert "m.obj" in msg
    for name in ("ply", "glb", "vdb", "usd", ".usda"):
        assert name in msg
    with pytest.raises(UnknownFormatError, match="known formats"):
        guess_format(tmp_path / "nothing.xyz")


def test_registry_wrong_kind(tmp_path, sheared_volume, points):
    with pytest.raises(BadInputError) as err:
        write(sheared_volume, tmp_path / "v.ply")
    msg = str(err.value)
    assert "v.ply" in msg and "mesh" in msg and "volume" in msg
    with pytest.raises(BadInputError, match="vdb"):
        write(points, tmp_path / "p.vdb")
    assert not list(tmp_path.iterdir())


def test_registry_guesses_by_magic(tmp_path, mesh, sheared_volume):
    files = {
        "ply": write(mesh, tmp_path / "a.ply"),
        "glb": write(mesh, tmp_path / "a.glb"),
        "vdb": write(sheared_volume, tmp_path / "a.vdb"),
        "usd": write(mesh, tmp_path / "a.usdc"),
    }
    write(mesh, tmp_path / "b.usda")
    files["usda"] = tmp_path / "b.usda"
    for name, p in files.items():
        anon = p.rename(tmp_path / f"{name}.bin")  # no telling suffix: magic bytes decide
        assert guess_format(anon).name == ("usd" if name.startswith("usd") else name)
        obj = read(anon)
        assert type(obj) is (Volume if name == "vdb" else Mesh)
    # no file yet: the suffix decides
    assert guess_format(tmp_path / "new.usda").name == "usd"
    # Draco drops the random mesh's degenerate faces (a repeated corner): they have no area
    proper = int((np.sort(mesh.faces, axis=1)[:, :2] != np.sort(mesh.faces, axis=1)[:, 1:])
                 .all(axis=1).sum())
    assert read(tmp_path / "glb.bin", format="glb").n_faces == proper < mesh.n_faces


def test_registry_lists_formats():
    names = [f.name for f in FORMATS]
    assert names == ["ply", "glb", "vdb", "usd"]
    assert all(f.magic and f.suffixes and f.kinds for f in FORMATS)


@pytest.mark.parametrize("suffix", [".ply", ".glb", ".usda"])
@pytest.mark.parametrize("kind", ["mesh", "points", "curves"])
def test_empty_geometry_round_trips(tmp_path, suffix, kind):
    """A frame with nothing in it (no trails yet, no coast in the box) still writes a file."""
    empty = {"mesh": Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64)),
             "points": Points(np.zeros((0, 3))),
             "curves": Curves(np.zeros((0, 3)), np.zeros(0, np.int64))}[kind]
    p = write(empty, tmp_path / f"e{suffix}")
    back = read(p)
    n = {"mesh": "vertices", "points": "positions", "curves": "points"}[kind]
    assert len(getattr(back, n)) == 0


def test_usd_empty_geometry_with_attributes(tmp_path):
    """An empty curve set with (empty) attributes: no bonds in a frame is not an error."""
    from core.geometry import Curves
    from core.io.usd import read_usd, write_usd

    empty = Curves(np.zeros((0, 3)), np.zeros(0, np.int64),
                   {"element": np.zeros(0, np.int32), "v": np.zeros((0, 3), np.float32)},
                   np.zeros((0, 4), np.uint8))
    write_usd(empty, tmp_path / "e.usd", radius=0.1)
    back = read_usd(tmp_path / "e.usd")
    assert len(back.points) == 0


def test_usd_points_as_instanced_spheres(tmp_path):
    from pxr import Usd, UsdGeom

    from core.geometry import Points
    from core.io.usd import write_usd
    from core.usdscene import check_usd

    pts = Points(np.array([[0, 0, 0], [1.5, 0, 0]]), {"radius": np.array([0.3, 0.6])},
                 np.array([[255, 0, 0, 255], [255, 255, 255, 255]], np.uint8))
    p = write_usd(pts, tmp_path / "atoms.usda", name="atoms", instanced_spheres=True)
    stage = Usd.Stage.Open(str(p))
    inst = UsdGeom.PointInstancer(stage.GetPrimAtPath("/atoms/spheres"))
    assert list(inst.GetProtoIndicesAttr().Get()) == [0, 0]
    scales = np.array(inst.GetScalesAttr().Get())
    assert np.allclose(scales[:, 0], [0.3, 0.6])
    sphere = UsdGeom.Sphere(stage.GetPrimAtPath(inst.GetPrototypesRel().GetTargets()[0]))
    assert sphere.GetRadiusAttr().Get() == 1.0
    assert check_usd(p) == []
