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
* **Meshes are Draco-compressed** (``compress=True``, the default): one TRIANGLES primitive
  with the ``KHR_draco_mesh_compression`` extension (in ``extensionsUsed`` and
  ``extensionsRequired``), encoded by DracoPy at compression level 7 (Draco's own default;
  it drops degenerate faces: a repeated vertex index, or corners at the same position; they
  have no area). What each attribute keeps:

  - POSITION: Draco, 14-bit quantization over the largest extent; the error is at most
    sqrt(3)/2 of a step (extent/16383): < 5.3e-5 of the bounding-box diagonal for any shape
    (3.0e-5 measured on a gyroid);
  - NORMAL: Draco octahedral, 10 bits: < 0.25 degree (0.24 measured);
  - COLOR_0: Draco generic, *linear* uint16 normalized VEC4 (see Colour): exact;
  - ``_name`` attributes: Draco generic, float32: lossless (Draco stores float generics raw).

  The extension's ``attributes`` map each semantic to its Draco unique id: the generic
  attributes get explicit ids, ``0, 1, ...`` in the order COLOR_0 (when present), then the
  custom attributes in ``mesh.attributes`` order; DracoPy numbers NORMAL and POSITION after
  them (POSITION last), and the writer reads those ids back from a decode of its own buffer.
  That decode also gives what the extension requires the accessors to describe: the
  *decoded* vertex count and POSITION min/max (Draco drops unused vertices and reorders the
  rest). The accessors carry ``count``, ``componentType``, ``type`` (and ``normalized``,
  POSITION ``min``/``max``) and no ``bufferView``. ``compress=False`` writes plain float32
  accessors instead (debugging, ``--full-res``). Points and curves are never compressed (the
  extension holds triangles only).
* **Colour.** glTF's ``COLOR_0`` is *linear*: our sRGB uint8 colours are converted with the
  exact sRGB transfer function (alpha is linear already, /255). Uncompressed files store
  float32 VEC4; Draco files store the linear value as uint16 *normalized* (UNSIGNED_SHORT):
  linear uint8 would lose 73 of the 256 sRGB levels in the shadows (sRGB 0..6 all become 0,
  errors up to 6 levels), uint16 gives every sRGB byte back exactly, and Draco stores float32
  raw (16 bytes a vertex against 2 for uint8 and 6 for uint16, measured on a noisy colour
  ramp). Blender's importer (its Draco decoder converts the Draco uint16 attribute to the
  accessor's UNSIGNED_SHORT; ``normalized`` is divided by 65535) and three.js (DRACOLoader
  decodes into a ``Uint16Array`` by the accessor's componentType; GLTFLoader sets
  ``normalized`` and treats Draco colours as linear) both decode it. When any alpha < 255 the
  material uses ``alphaMode: BLEND``.
* **Custom attributes** become application-specific attributes named ``_<name>`` (the case
  of ``name`` is kept; Blender imports them as mesh attributes named ``_<name>``), float32,
  SCALAR/VEC2/VEC3/VEC4 by width; wider arrays are split into ``_<name>_0 .. _<name>_{k-1}``.
  Integer ids are exact up to 2**24 in float32.
* **Texture coordinates.** A mesh attribute named ``uv`` (float (n, 2), origin at the
  image's lower left, v up, as USD's ``st``) is written as ``TEXCOORD_0`` with v flipped
  (glTF's origin is the upper left) and read back as ``uv``. ``write_glb(..., texture=IMAGE)``
  embeds a PNG or JPEG in the BIN chunk as the material's ``baseColorTexture`` (linear
  filtering with mipmaps, clamped at the edges); such a mesh carries no ``COLOR_0``, which
  would multiply it.
* **Primitives.** Mesh: TRIANGLES (Draco, or uint32 indices and NORMAL, normalised as the spec
  requires). Points: POINTS. Curves: always LINES (one segment per consecutive point pair,
  uint32 indices); the tube radius is ``asset.extras.vizpipe.radius``, read back into
  ``Curves.radius`` (the renderer builds its own tubes: a tube mesh here multiplied the size
  by the number of sides).
* One buffer in the GLB's BIN chunk, one bufferView per accessor (or the Draco buffer),
  4-byte aligned. An empty geometry gives a valid GLB with an empty node.
* ``asset.extras.vizpipe`` records the axis mapping, the kind, ``compression`` (``"draco"`` or
  ``"none"``) and, for Draco, ``quantization_bits`` per attribute and the Draco level.
* Reading (:func:`read_glb`) decodes Draco primitives with DracoPy; a damaged or truncated
  file raises :class:`~core.errors.BadInputError` naming the file and what is wrong.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.errors import BadInputError, PipelineError
from core.geometry import Curves, Mesh, Points, column_extremes

__all__ = ["write_glb", "read_glb", "zup_to_gltf", "gltf_to_zup"]

_GLB_MAGIC = 0x46546C67  # b"glTF"
_CHUNK_JSON = 0x4E4F534A
_CHUNK_BIN = 0x004E4942
_FLOAT, _UINT32, _UINT16 = 5126, 5125, 5123
_ARRAY_BUFFER, _ELEMENT_ARRAY_BUFFER = 34962, 34963
_MODE_POINTS, _MODE_LINES, _MODE_TRIANGLES = 0, 1, 4
_TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4"}
_WIDTH = {v: k for k, v in _TYPES.items()}
_DRACO = "KHR_draco_mesh_compression"

# Draco settings (module docstring): the position step is 1/16383 of the largest extent, so
# the error stays below 1e-4 of the bounding-box diagonal whatever the shape. Level 7 is the
# knee: on the climate benchmark's 640k-triangle layer it encodes in 0.69 s against 1.21 s
# for level 10, for a file 2.3% larger (1.44 MB against 1.40 MB; level 5: 1.60 MB).
POSITION_BITS = 14
NORMAL_BITS = 10
DRACO_LEVEL = 7
_COLOR_MAX = 65535  # COLOR_0 in Draco files: linear, uint16 normalized
_DRACO_POSITION, _DRACO_NORMAL = 0, 1  # draco::GeometryAttribute::Type

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

    def view(self, data: bytes | memoryview, *, target: int | None = None) -> int:
        """A bufferView over ``data`` (appended to the buffer, 4-byte aligned)."""
        v: dict = {"buffer": 0, "byteOffset": self.offset, "byteLength": len(data)}
        if target is not None:
            v["target"] = target
        self.views.append(v)
        pad = (-len(data)) % 4
        self.chunks += [data, b"\0" * pad]
        self.offset += len(data) + pad
        return len(self.views) - 1

    def add(self, arr: np.ndarray, *, target: int | None, minmax: bool = False) -> int:
        arr = np.ascontiguousarray(arr)
        ctype = {np.dtype("<f4"): _FLOAT, np.dtype("<u4"): _UINT32}[arr.dtype.newbyteorder("<")]
        width = 1 if arr.ndim == 1 else arr.shape[1]
        data = np.ascontiguousarray(
            arr.astype(arr.dtype.newbyteorder("<"), copy=False)).reshape(-1).data.cast("B")
        acc: dict = {"bufferView": self.view(data, target=target), "componentType": ctype,
                     "count": int(arr.shape[0]), "type": _TYPES[width]}
        if minmax:
            lo, hi = column_extremes(arr.reshape(len(arr), -1))
            acc["min"] = [float(x) for x in lo]
            acc["max"] = [float(x) for x in hi]
        self.accessors.append(acc)
        return len(self.accessors) - 1

    def describe(self, acc: dict) -> int:
        """An accessor with no bufferView (its data lives in a Draco buffer)."""
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
    """``{"_name": float32 array}`` with widths 1..4 (wider arrays split per component);
    ``uv`` becomes ``TEXCOORD_0``."""
    out: dict[str, np.ndarray] = {}
    for name, arr in attributes.items():
        a = np.asarray(arr)
        if name == "uv" and a.ndim == 2 and a.shape[1] == 2:  # glTF's origin is the top left
            out["TEXCOORD_0"] = np.stack([a[:, 0], 1.0 - a[:, 1]], -1).astype(np.float32)
            continue
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
    """A plain (uncompressed) primitive: float32 attributes, uint32 indices."""
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


def _draco_primitive(b: _Builder, mesh: Mesh, path: str | Path, *, position_bits: int,
                     normal_bits: int, level: int) -> dict | None:
    """One TRIANGLES primitive whose data is a Draco buffer (module docstring); None when
    every face is degenerate (Draco drops them: nothing is left to draw)."""
    from core.deps import require

    (draco,) = require("DracoPy")
    pos = zup_to_gltf(mesh.vertices)
    lo, hi = column_extremes(pos)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        raise BadInputError(f"{path}: mesh vertices must be finite to be Draco-quantized")
    # generic attributes under explicit unique ids 0, 1, ...: COLOR_0 first, then ours
    generic: dict[int, np.ndarray] = {}
    semantic: dict[int, str] = {}
    if mesh.colors is not None:
        lin16 = np.rint(_srgb8_to_linear(mesh.colors) * _COLOR_MAX).astype(np.uint16)
        generic[0], semantic[0] = lin16, "COLOR_0"
    for key, arr in _attribute_arrays(mesh.attributes).items():
        uid = len(generic)
        generic[uid] = np.ascontiguousarray(arr.reshape(len(arr), -1))
        semantic[uid] = key
    extra: dict = {}
    if mesh.normals is not None:  # DracoPy takes float64 normals only
        extra = {"normals": zup_to_gltf(_unit_normals(mesh.normals)).astype(np.float64),
                 "normal_quantization_bits": int(normal_bits)}
    try:
        buf = draco.encode(pos, np.ascontiguousarray(mesh.faces, dtype=np.uint32),
                           quantization_bits=int(position_bits), compression_level=int(level),
                           generic_attributes=generic or None, **extra)
    except Exception as exc:  # DracoPy's EncodingFailedException, ...
        if _all_degenerate(mesh):
            return None
        raise PipelineError(f"{path}: Draco cannot encode the mesh "
                            f"({type(exc).__name__}: {exc})") from None
    # The accessors must describe the decoded data (KHR_draco_mesh_compression): decode our
    # own buffer for the vertex and face counts, POSITION's bounds and NORMAL/POSITION's ids.
    dec = draco.decode(buf)
    ids: dict[str, int] = {}
    for att in dec.attributes:
        uid, kind = int(att["unique_id"]), int(att["attribute_type"])
        if kind == _DRACO_POSITION:
            ids["POSITION"] = uid
        elif kind == _DRACO_NORMAL and mesh.normals is not None:
            ids["NORMAL"] = uid
        elif uid in semantic:
            ids[semantic[uid]] = uid
    wanted = ["POSITION", *(["NORMAL"] if mesh.normals is not None else []),
              *semantic.values()]
    if sorted(ids) != sorted(wanted):  # DracoPy changed how it numbers attributes
        raise PipelineError(f"{path}: Draco buffer holds {sorted(ids)}, expected {wanted}")
    count = len(dec.points)
    dlo, dhi = column_extremes(np.asarray(dec.points, dtype=np.float32))
    attrs = {"POSITION": b.describe({"componentType": _FLOAT, "count": count, "type": "VEC3",
                                     "min": [float(x) for x in dlo],
                                     "max": [float(x) for x in dhi]})}
    if mesh.normals is not None:
        attrs["NORMAL"] = b.describe({"componentType": _FLOAT, "count": count, "type": "VEC3"})
    for uid, key in semantic.items():
        if key == "COLOR_0":
            acc = {"componentType": _UINT16, "normalized": True, "count": count, "type": "VEC4"}
        else:
            acc = {"componentType": _FLOAT, "count": count,
                   "type": _TYPES[generic[uid].shape[1]]}
        attrs[key] = b.describe(acc)
    return {"attributes": attrs, "mode": _MODE_TRIANGLES, "material": 0,
            "indices": b.describe({"componentType": _UINT32, "count": 3 * len(dec.faces),
                                   "type": "SCALAR"}),
            "extensions": {_DRACO: {"bufferView": b.view(buf),
                                    "attributes": {k: ids[k] for k in attrs}}}}


def _all_degenerate(mesh: Mesh) -> bool:
    """Whether no face has area (repeated indices or coincident corners)."""
    v = mesh.vertices.astype(np.float64)
    a, b, c = v[mesh.faces[:, 0]], v[mesh.faces[:, 1]], v[mesh.faces[:, 2]]
    return not np.cross(b - a, c - a).any()


def _segments(counts: np.ndarray) -> np.ndarray:
    """Vertex index pairs (i, i+1) of every segment of back-to-back polylines."""
    n = int(counts.sum())
    starts = np.zeros(n, dtype=bool)
    ends = np.cumsum(counts) - 1
    starts[ends] = True  # a segment may not start at a curve's last point
    first = np.flatnonzero(~starts)
    return np.stack([first, first + 1], -1)


# long: one .glb built in file order (geometry by kind, Draco/plain, texture, chunks)
def write_glb(obj: Mesh | Points | Curves, path: str | Path, *, name: str = "geom",
              compress: bool = True, position_bits: int = POSITION_BITS,
              normal_bits: int = NORMAL_BITS, draco_level: int = DRACO_LEVEL,
              texture: str | Path | None = None) -> Path:
    """Write a Mesh, Points or Curves as a glTF 2.0 binary (.glb), atomically.

    See the module docstring for the axis, colour, attribute and compression conventions.
    ``name`` names the node and the mesh inside the file. ``compress`` (meshes only): Draco
    with ``position_bits`` / ``normal_bits`` quantization at ``draco_level`` (0..10); False
    writes plain float32 accessors. ``texture``: a PNG or JPEG embedded as the base colour of
    a mesh with a ``uv`` attribute (its vertex colours are left out: glTF would multiply them).
    """
    b = _Builder()
    if texture is not None:
        if not isinstance(obj, Mesh) or "uv" not in obj.attributes:
            raise BadInputError(f"{path}: a texture needs a mesh with a 'uv' attribute")
        obj = Mesh(obj.vertices, obj.faces, obj.normals, obj.attributes, None)
    kind = {Mesh: "mesh", Points: "points", Curves: "curves"}.get(type(obj), "")
    record: dict = {"source_up_axis": "Z", "axis_mapping": "(x, y, z)_zup -> (x, z, -y)_gltf",
                    "kind": kind, "compression": "none"}
    draco = False
    if isinstance(obj, Mesh):
        n, args = obj.n_vertices, dict(
            positions=obj.vertices, mode=_MODE_TRIANGLES, indices=obj.faces,
            normals=obj.normals, colors=obj.colors, attributes=obj.attributes)
        if obj.n_faces == 0:
            n = 0
        draco = compress and n > 0
    elif isinstance(obj, Points):
        n, args = len(obj), dict(
            positions=obj.positions, mode=_MODE_POINTS, indices=None, normals=None,
            colors=obj.colors, attributes=obj.attributes)
    elif isinstance(obj, Curves):
        n, args = len(obj.points), dict(
            positions=obj.points, mode=_MODE_LINES, indices=_segments(obj.counts),
            normals=None, colors=obj.colors, attributes=obj.attributes)
        record["radius"] = float(obj.radius)
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
                  "extras": {"vizpipe": record}},
        "scene": 0,
        "scenes": [{"name": name, "nodes": [0]}],
        "nodes": [node],
    }
    prim: dict | None = None
    if draco and isinstance(obj, Mesh):
        prim = _draco_primitive(b, obj, path, position_bits=position_bits,
                                normal_bits=normal_bits, level=draco_level)
        if prim is not None:
            doc["extensionsUsed"] = [_DRACO]
            doc["extensionsRequired"] = [_DRACO]
            bits = {"POSITION": int(position_bits)}
            if obj.normals is not None:
                bits["NORMAL"] = int(normal_bits)
            if obj.colors is not None:
                bits["COLOR_0"] = 16
            record.update(compression="draco", quantization_bits=bits,
                          draco_level=int(draco_level))
    elif n > 0:
        prim = _primitive(b, **args)  # type: ignore[arg-type]
    if prim is not None and texture is not None:
        data = Path(texture).read_bytes()
        mime = "image/png" if data[:4] == b"\x89PNG" else "image/jpeg"
        if mime == "image/jpeg" and data[:2] != b"\xff\xd8":
            raise BadInputError(f"{texture}: not a PNG or JPEG image (glTF textures)")
        doc["images"] = [{"name": Path(texture).stem, "mimeType": mime,
                          "bufferView": b.view(data)}]
        doc["samplers"] = [{"magFilter": 9729, "minFilter": 9987,  # linear, mipmapped
                            "wrapS": 33071, "wrapT": 33071}]  # clamp to edge
        doc["textures"] = [{"sampler": 0, "source": 0}]
        material["pbrMetallicRoughness"] = {
            "baseColorFactor": [1.0, 1.0, 1.0, 1.0], "metallicFactor": 0.0,
            "roughnessFactor": 1.0, "baseColorTexture": {"index": 0, "texCoord": 0}}
    if prim is not None:
        doc["meshes"] = [{"name": name, "primitives": [prim]}]
        doc["materials"] = [material]
        node["mesh"] = 0
        doc["buffers"] = [{"byteLength": b.nbytes}]
        doc["bufferViews"] = b.views
        doc["accessors"] = b.accessors

    js = json.dumps(doc, separators=(",", ":")).encode("utf-8")
    js += b" " * ((-len(js)) % 4)
    chunks: list[bytes | memoryview] = [struct.pack("<II", len(js), _CHUNK_JSON), js]
    if prim is not None and b.nbytes:  # the BIN chunk: the arrays written one after the other
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


def _normalized(out: np.ndarray, acc: dict) -> np.ndarray:
    """Integer data of a ``normalized`` accessor as floats in [0, 1] (or [-1, 1])."""
    if not acc.get("normalized"):
        return out
    top = float(np.iinfo(_NP[acc["componentType"]]).max)  # type: ignore[type-var]
    return np.maximum(out.astype(np.float32) / np.float32(top), np.float32(-1.0))


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
    out = _normalized(out.reshape(count, width), acc)
    return out[:, 0] if width == 1 else out


def _draco_decode(doc: dict, blob: bytes, prim: dict, path: Path
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``(faces, {semantic: array})`` of a KHR_draco_mesh_compression primitive."""
    from core.deps import require

    (draco,) = require("DracoPy")
    ext = prim["extensions"][_DRACO]
    view = doc["bufferViews"][ext["bufferView"]]
    start = view.get("byteOffset", 0)
    end = start + view["byteLength"]
    if end > len(blob):
        raise BadInputError(f"{path}: the Draco buffer (bytes {start}..{end}) runs past the "
                            f"end of the binary chunk ({len(blob)} bytes): truncated file")
    try:
        dec = draco.decode(bytes(blob[start:end]))
    except Exception as exc:  # DracoPy raises its own types (FileTypeException, ...)
        raise BadInputError(f"{path}: the Draco buffer does not decode "
                            f"({type(exc).__name__}: {exc})") from None
    if not hasattr(dec, "faces"):
        raise BadInputError(f"{path}: the Draco buffer holds a point cloud, not a mesh")
    by_id = {int(a["unique_id"]): a for a in dec.attributes}
    out: dict[str, np.ndarray] = {}
    for key, uid in ext["attributes"].items():
        if key not in prim["attributes"]:
            continue
        if uid not in by_id:
            raise BadInputError(f"{path}: Draco attribute {key} (unique id {uid}) is not in "
                                f"the Draco buffer (ids {sorted(by_id)})")
        acc = doc["accessors"][prim["attributes"][key]]
        data = np.asarray(by_id[uid]["data"])
        data = data.reshape(len(data), -1)
        if acc.get("normalized"):
            data = _normalized(data, acc)
        elif acc["componentType"] == _FLOAT:
            data = data.astype(np.float32, copy=False)
        out[key] = data[:, 0] if data.shape[1] == 1 else data
    return np.asarray(dec.faces, dtype=np.int64).reshape(-1, 3), out


def _chunks(path: Path, data: bytes) -> tuple[dict, bytes]:
    """The JSON document and the BIN chunk of a GLB, checked against truncation."""
    if len(data) < 20 or data[:4] != b"glTF":
        raise BadInputError(f"{path}: not a GLB file (no 'glTF' magic)")
    _magic, version, total = struct.unpack_from("<III", data, 0)
    if version != 2:
        raise BadInputError(f"{path}: glTF version {version}, expected 2")
    if total != len(data):
        raise BadInputError(f"{path}: damaged or truncated GLB: the header says {total} bytes, "
                            f"the file has {len(data)}")
    off, doc, blob = 12, None, b""
    while off + 8 <= len(data):
        length, ctype = struct.unpack_from("<II", data, off)
        if off + 8 + length > len(data):
            raise BadInputError(f"{path}: damaged GLB: the chunk at byte {off} ({length} bytes)"
                                f" runs past the end of the file ({len(data)} bytes)")
        body = data[off + 8: off + 8 + length]
        if ctype == _CHUNK_JSON:
            try:
                doc = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise BadInputError(f"{path}: the GLB's JSON chunk does not parse: {exc}"
                                    ) from None
        elif ctype == _CHUNK_BIN and not blob:
            blob = body
        off += 8 + length
    if not isinstance(doc, dict):
        raise BadInputError(f"{path}: GLB has no JSON chunk")
    return doc, blob


def read_glb(path: str | Path) -> Mesh | Points | Curves:
    """Read the first primitive of the first mesh of a .glb back into our Z-up dataclasses.

    Undoes :func:`write_glb`'s conventions (axis, linear colours, ``_name`` attributes) and
    decodes Draco primitives (vertex order then differs from what was written; every
    attribute stays with its vertex). Triangle primitives give a Mesh, POINTS give Points,
    LINES give Curves (with the radius recorded by :func:`write_glb`). Meant for files this
    project writes; other simple GLBs work too. A damaged file raises BadInputError.
    """
    path = Path(path)
    doc, blob = _chunks(path, path.read_bytes())
    try:
        return _geometry(doc, blob, path)
    except BadInputError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
        what = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise BadInputError(f"{path}: damaged glTF document ({what})") from None


def _geometry(doc: dict, blob: bytes, path: Path) -> Mesh | Points | Curves:
    record = doc.get("asset", {}).get("extras", {}).get("vizpipe", {})
    kind = record.get("kind")
    radius = float(record.get("radius", 0.0))
    meshes = doc.get("meshes", [])
    if not meshes:  # an empty geometry: its kind is recorded by write_glb
        empty = np.zeros((0, 3), np.float32)
        if kind == "points":
            return Points(empty)
        if kind == "curves":
            return Curves(empty, np.zeros(0, np.int64), radius=radius)
        return Mesh(empty, np.zeros((0, 3), np.int64))
    prim = meshes[0]["primitives"][0]
    attrs = prim["attributes"]
    mode = prim.get("mode", _MODE_TRIANGLES)
    idx: np.ndarray | None = None
    decoded: dict[str, np.ndarray] = {}
    if _DRACO in prim.get("extensions", {}):
        idx, decoded = _draco_decode(doc, blob, prim, path)

    def get(key: str) -> np.ndarray:
        return decoded[key] if key in decoded else _accessor(doc, blob, attrs[key], path)

    pos = gltf_to_zup(get("POSITION"))
    normals = colors = None
    if "NORMAL" in attrs:
        normals = gltf_to_zup(get("NORMAL"))
    if "COLOR_0" in attrs:
        from core.io import linear_to_srgb8

        c = get("COLOR_0").astype(np.float64)
        if c.shape[1] == 3:
            c = np.concatenate([c, np.ones((len(c), 1))], axis=1)
        colors = linear_to_srgb8(c)
    custom: dict[str, np.ndarray] = {}
    for key in attrs:
        if key.startswith("_"):
            custom[key[1:]] = get(key)
    if "TEXCOORD_0" in attrs:
        st = get("TEXCOORD_0").astype(np.float32)
        custom["uv"] = np.stack([st[:, 0], 1.0 - st[:, 1]], -1)
    if idx is None and "indices" in prim:
        idx = _accessor(doc, blob, prim["indices"], path).astype(np.int64)
    if mode == _MODE_TRIANGLES:
        faces = idx if idx is not None else np.arange(len(pos))
        return Mesh(pos, faces.reshape(-1, 3), normals, custom, colors)
    if mode == _MODE_POINTS:
        return Points(pos, custom, colors)
    if mode == _MODE_LINES:
        seg = (idx if idx is not None else np.arange(len(pos))).reshape(-1, 2)
        starts = np.flatnonzero(np.concatenate([[True], seg[1:, 0] != seg[:-1, 1]]))
        ends = np.concatenate([starts[1:], [len(seg)]])
        return Curves(pos, ends - starts + 1, custom, colors, radius=radius)
    raise BadInputError(f"{path}: primitive mode {mode} not supported (triangles, points, lines)")
