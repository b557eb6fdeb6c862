"""glTF 2.0 binary (.glb) for meshes, point sets and polylines, written by hand (numpy + json).

Conventions (read these before loading the files elsewhere):

* **Axis.** Our world is Z-up, glTF is Y-up (+Y up, +Z forward, right-handed). Positions and
  normals are *baked* into glTF's frame with the proper rotation ``(x, y, z) -> (x, z, -y)``
  (:func:`zup_to_gltf`; -90 degrees about X, so winding is unchanged). No node carries a
  transform. Every importer therefore shows the scene upright, and Blender's importer, which
  maps glTF ``(x, y, z) -> (x, -z, y)``, gives back our exact Z-up coordinates in the mesh data
  with an identity object transform. Readers of the raw buffers must apply
  :func:`gltf_to_zup` (``(x, y, z) -> (x, -z, y)``) to get our coordinates back. The choice is
  recorded in ``asset.extras.vizpipe``.
* **Colour.** glTF's ``COLOR_0`` is *linear*: our sRGB uint8 colours are converted with the
  exact sRGB transfer function and stored as float32 VEC4 (alpha is linear already, /255).
  When any alpha < 255 the material uses ``alphaMode: BLEND``.
* **Custom attributes** become application-specific attributes named ``_<name>`` (the case
  of ``name`` is kept; Blender imports them as mesh attributes), float32, SCALAR/VEC2/VEC3/
  VEC4 by width; wider arrays are split into ``_<name>_0 .. _<name>_{k-1}``. Integer ids are
  exact up to 2**24 in float32.
* **Primitives.** Mesh: TRIANGLES with uint32 indices (and NORMAL, normalised as the spec
  requires). Points: POINTS. Curves: a tube mesh (:meth:`Curves.tubes`, colours and
  attributes carried to the ring vertices) when ``radius > 0``, otherwise LINES (one segment
  per consecutive point pair, uint32 indices).
* One buffer in the GLB's BIN chunk, one bufferView per accessor, 4-byte aligned; POSITION has
  min/max as the spec requires. An empty geometry gives a valid GLB with an empty node.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.errors import BadInputError
from core.geometry import Curves, Mesh, Points, column_extremes

__all__ = ["write_glb", "read_glb", "zup_to_gltf", "gltf_to_zup"]

_GLB_MAGIC = 0x46546C67  # b"glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
_FLOAT, _UINT32 = 5126, 5125
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_MODE_POINTS, _MODE_LINES, _MODE_TRIANGLES = 0, 1, 4
_TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}
_WIDTH = {v: k for k, v in _TYPES.items()}

# The Z-up -> Y-up rotation (-90 deg about X), as a matrix acting on row vectors.
_ZUP_TO_YUP = np.array([[1, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=np.float32)


def zup_to_gltf(v: np.ndarray) -> np.ndarray:
    """Map our Z-up vectors to glTF's Y-up frame: ``(x, y, z) -> (x, z, -y)``."""
    return np.ascontiguousarray(np.asarray(v, dtype=np.float32) @ _ZUP_TO_YUP)


def gltf_to_zup(v: np.ndarray) -> np.ndarray:
    """Inverse of :func:`zup_to_gltf`: ``(x, y, z) -> (x, -z, y)``."""
    return np.ascontiguousarray(np.asarray(v, dtype=np.float32) @ _ZUP_TO_YUP.T)


class _Builder:
    """Accumulates accessors and buffer views over one binary buffer."""

    def __init__(self) -> None:
        self.chunks: list[bytes | memoryview] = []  # the arrays' own memory: no copies
        self.offset = 0
        self.views: list[dict] = []
        self.accessors: list[dict] = []

    def add(self, arr: np.ndarray, *, target: int | None, minmax: bool = False) -> int:
        arr = np.ascontiguousarray(arr)
        ctype = {np.dtype("<f4"): _FLOAT, np.dtype("<u4"): _UINT32}[arr.dtype.newbyteorder("<")]
        width = 1 if arr.ndim == 1 else arr.shape[1]
        data = np.ascontiguousarray(
            arr.astype(arr.dtype.newbyteorder("<"), copy=False)).reshape(-1).data.cast("B")
        view: dict = {"buffer": 0, "byteOffset": self.offset, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.views.append(view)
        pad = (-len(data)) % 4
        self.chunks += [data, b"\0" * pad]
        self.offset += len(data) + pad
        acc: dict = {"bufferView": len(self.views) - 1, "componentType": ctype,
                     "count": int(arr.shape[0]), "type": _TYPES[width]}
        if minmax:
            lo, hi = column_extremes(arr.reshape(len(arr), -1))
            acc["min"] = [float(x) for x in lo]
            acc["max"] = [float(x) for x in hi]
        self.accessors.append(acc)
        return len(self.accessors) - 1

    @property
    def nbytes(self) -> int:
        return self.offset


def _srgb8_to_linear(colors: np.ndarray) -> np.ndarray:
    from core.io import srgb8_to_linear

    return srgb8_to_linear(colors)


def _unit_normals(n: np.ndarray) -> np.ndarray:
    """Unit normals as the spec requires; zero or non-finite ones become +Z (before the swap)."""
    n = np.asarray(n, dtype=np.float64)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    bad = ~np.isfinite(length[:, 0]) | (length[:, 0] < 1e-12)
    out = n / np.where(bad[:, None], 1.0, length)
    out[bad] = (0.0, 0.0, 1.0)
    return out.astype(np.float32)


def _attribute_arrays(attributes: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``{"_name": float32 array}`` with widths 1..4 (wider arrays split per component)."""
    out: dict[str, np.ndarray] = {}
    for name, arr in attributes.items():
        a = np.asarray(arr)
        if a.dtype.kind not in "fiub":
            raise BadInputError(f"glTF attribute {name!r}: numeric values expected, got {a.dtype}")
        a = a.astype(np.float32).reshape(len(a), -1)
        if a.shape[1] == 1:
            out[f"_{name}"] = a[:, 0]
        elif a.shape[1] <= 4:
            out[f"_{name}"] = a
        else:
            for j in range(a.shape[1]):
                out[f"_{name}_{j}"] = a[:, j]
    return out


def _primitive(b: _Builder, positions: np.ndarray, *, mode: int, indices: np.ndarray | None,
               normals: np.ndarray | None, colors: np.ndarray | None,
               attributes: dict[str, np.ndarray]) -> dict:
    attrs = {"POSITION": b.add(zup_to_gltf(positions), target=_ARRAY_BUFFER, minmax=True)}
    if normals is not None:
        attrs["NORMAL"] = b.add(zup_to_gltf(_unit_normals(normals)), target=_ARRAY_BUFFER)
    if colors is not None:
        attrs["COLOR_0"] = b.add(_srgb8_to_linear(colors), target=_ARRAY_BUFFER)
    for key, arr in _attribute_arrays(attributes).items():
        attrs[key] = b.add(arr, target=_ARRAY_BUFFER)
    prim: dict = {"attributes": attrs, "mode": mode, "material": 0}
    if indices is not None:
        prim["indices"] = b.add(indices.astype(np.uint32).reshape(-1),
                                target=_ELEMENT_ARRAY_BUFFER)
    return prim


def _segments(counts: np.ndarray) -> np.ndarray:
    """Vertex index pairs (i, i+1) of every segment of back-to-back polylines."""
    n = int(counts.sum())
    starts = np.zeros(n, dtype=bool)
    ends = np.cumsum(counts) - 1
    starts[ends] = True  # a segment may not start at a curve's last point
    first = np.flatnonzero(~starts)
    return np.stack([first, first + 1], -1)


def write_glb(obj: Mesh | Points | Curves, path: str | Path, *, name: str = "geom",
              tube_sides: int = 8) -> Path:
    """Write a Mesh, Points or Curves as a glTF 2.0 binary (.glb), atomically.

    See the module docstring for the axis, colour and attribute conventions. ``name`` names
    the node and the mesh inside the file; ``tube_sides`` is the polygon of curve tubes.
    """
    b = _Builder()
    kind = {Mesh: "mesh", Points: "points", Curves: "curves"}.get(type(obj), "")
    if isinstance(obj, Curves) and obj.radius > 0:
        sides = int(tube_sides)
        tube = obj.tubes(sides=sides)
        colors = None if obj.colors is None else np.repeat(obj.colors, sides, axis=0)
        attrs = {k: np.repeat(v, sides, axis=0) for k, v in obj.attributes.items()}
        obj = Mesh(tube.vertices, tube.faces, tube.normals, attrs, colors)
    if isinstance(obj, Mesh):
        n, args = obj.n_vertices, dict(
            positions=obj.vertices, mode=_MODE_TRIANGLES, indices=obj.faces,
            normals=obj.normals, colors=obj.colors, attributes=obj.attributes)
        if obj.n_faces == 0:
            n = 0
    elif isinstance(obj, Points):
        n, args = len(obj), dict(
            positions=obj.positions, mode=_MODE_POINTS, indices=None, normals=None,
            colors=obj.colors, attributes=obj.attributes)
    elif isinstance(obj, Curves):
        n, args = len(obj.points), dict(
            positions=obj.points, mode=_MODE_LINES, indices=_segments(obj.counts),
            normals=None, colors=obj.colors, attributes=obj.attributes)
    else:
        raise BadInputError(f"{path}: write_glb cannot write a {type(obj).__name__} "
                            "(glTF holds Mesh, Points, Curves)")

    rgba = args["colors"]
    blend = isinstance(rgba, np.ndarray) and bool((rgba[:, 3] < 255).any())
    material = {"name": f"{name}_material", "doubleSided": True,
                "pbrMetallicRoughness": {"baseColorFactor": [1.0, 1.0, 1.0, 1.0],
                                         "metallicFactor": 0.0, "roughnessFactor": 0.5}}
    if blend:
        material["alphaMode"] = "BLEND"
    node: dict = {"name": name}
    doc: dict = {
        "asset": {"version": "2.0", "generator": "vizpipe core.io.gltf",
                  "extras": {"vizpipe": {"source_up_axis": "Z",
                                         "axis_mapping": "(x, y, z)_zup -> (x, z, -y)_gltf",
                                         "kind": kind}}},
        "scene": 0,
        "scenes": [{"name": name, "nodes": [0]}],
        "nodes": [node],
    }
    if n > 0:
        prim = _primitive(b, **args)  # type: ignore[arg-type]
        doc["meshes"] = [{"name": name, "primitives": [prim]}]
        doc["materials"] = [material]
        node["mesh"] = 0
        doc["buffers"] = [{"byteLength": b.nbytes}]
        doc["bufferViews"] = b.views
        doc["accessors"] = b.accessors

    js = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    js += b" " * ((-len(js)) % 4)
    chunks: list[bytes | memoryview] = [struct.pack("<II", len(js), _CHUNK_JSON), js]
    if n > 0 and b.nbytes:  # the BIN chunk: the arrays written one after the other
        chunks += [struct.pack("<II", b.nbytes, _CHUNK_BIN), *b.chunks]
    total = 12 + sum(len(c) for c in chunks)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(struct.pack("<III", _GLB_MAGIC, 2, total))
        for c in chunks:
            fh.write(c)
    return Path(path)


# ----------------------------------------------------------------------------------- reading

_NP = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8,
       5122: np.int16, 5120: np.int8}


def _accessor(doc: dict, blob: bytes, i: int, path: Path) -> np.ndarray:
    acc = doc["accessors"][i]
    if "sparse" in acc or "bufferView" not in acc:
        raise BadInputError(f"{path}: accessor {i}: sparse or view-less accessors not supported")
    view = doc["bufferViews"][acc["bufferView"]]
    dt = np.dtype(_NP[acc["componentType"]]).newbyteorder("<")
    width = _WIDTH[acc["type"]]
    itemsize = dt.itemsize * width
    stride = view.get("byteStride", itemsize)
    start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
    count = acc["count"]
    if count and start + (count - 1) * stride + itemsize > len(blob):
        raise BadInputError(f"{path}: accessor {i} runs past the end of the binary chunk")
    if stride == itemsize:
        out = np.frombuffer(blob, dtype=dt, count=count * width, offset=start)
    else:
        raw = np.frombuffer(blob, dtype=np.uint8)[start:]
        rows = np.lib.stride_tricks.as_strided(raw, shape=(count, itemsize), strides=(stride, 1))
        out = rows.copy().view(dt)
    out = out.reshape(count, width)
    if acc.get("normalized"):
        out = out.astype(np.float32) / float(np.iinfo(dt).max)  # type: ignore[type-var]
    return out[:, 0] if width == 1 else out


def read_glb(path: str | Path) -> Mesh | Points | Curves:
    """Read the first primitive of the first mesh of a .glb back into our Z-up dataclasses.

    Undoes :func:`write_glb`'s conventions (axis, linear colours, ``_name`` attributes).
    Triangle primitives give a Mesh, POINTS give Points, LINES give Curves (tube meshes stay
    meshes). Meant for files this project writes; other simple GLBs work too.
    """
    path = Path(path)
    data = path.read_bytes()
    if len(data) < 20 or data[:4] != b"glTF":
        raise BadInputError(f"{path}: not a GLB file (no 'glTF' magic)")
    _magic, version, _total = struct.unpack_from("<III", data, 0)
    if version != 2:
        raise BadInputError(f"{path}: glTF version {version}, expected 2")
    off, doc, blob = 12, None, b""
    while off + 8 <= len(data):
        length, ctype = struct.unpack_from("<II", data, off)
        body = data[off + 8: off + 8 + length]
        if ctype == _CHUNK_JSON:
            doc = json.loads(body.decode("utf-8"))
        elif ctype == _CHUNK_BIN and not blob:
            blob = body
        off += 8 + length
    if doc is None:
        raise BadInputError(f"{path}: GLB has no JSON chunk")
    meshes = doc.get("meshes", [])
    if not meshes:  # an empty geometry: its kind is recorded by write_glb
        kind = doc.get("asset", {}).get("extras", {}).get("vizpipe", {}).get("kind")
        empty = np.zeros((0, 3), np.float32)
        if kind == "points":
            return Points(empty)
        if kind == "curves":
            return Curves(empty, np.zeros(0, np.int64))
        return Mesh(empty, np.zeros((0, 3), np.int64))
    prim = meshes[0]["primitives"][0]
    attrs = prim["attributes"]
    pos = gltf_to_zup(_accessor(doc, blob, attrs["POSITION"], path))
    normals = colors = None
    if "NORMAL" in attrs:
        normals = gltf_to_zup(_accessor(doc, blob, attrs["NORMAL"], path))
    if "COLOR_0" in attrs:
        from core.io import linear_to_srgb8

        c = _accessor(doc, blob, attrs["COLOR_0"], path).astype(np.float64)
        if c.shape[1] == 3:
            c = np.concatenate([c, np.ones((len(c), 1))], axis=1)
        colors = linear_to_srgb8(c)
    custom: dict[str, np.ndarray] = {}
    for key, idx in attrs.items():
        if key.startswith("_"):
            custom[key[1:]] = _accessor(doc, blob, idx, path)
    mode = prim.get("mode", _MODE_TRIANGLES)
    idx = _accessor(doc, blob, prim["indices"], path).astype(np.int64) \
        if "indices" in prim else None
    if mode == _MODE_TRIANGLES:
        faces = idx if idx is not None else np.arange(len(pos))
        return Mesh(pos, faces.reshape(-1, 3), normals, custom, colors)
    if mode == _MODE_POINTS:
        return Points(pos, custom, colors)
    if mode == _MODE_LINES:
        seg = (idx if idx is not None else np.arange(len(pos))).reshape(-1, 2)
        starts = np.flatnonzero(np.concatenate([[True], seg[1:, 0] != seg[:-1, 1]]))
        ends = np.concatenate([starts[1:], [len(seg)]])
        return Curves(pos, ends - starts + 1, custom, colors)
    raise BadInputError(f"{path}: primitive mode {mode} not supported (triangles, points, lines)")
