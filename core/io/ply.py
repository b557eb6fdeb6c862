"""Binary little-endian PLY for meshes, point sets and polylines, with named attributes.

Layout written (readable by trimesh, Blender's PLY importer, MeshLab, ParaView)::

    element vertex N: float x y z [nx ny nz] [uchar red green blue alpha] [<attr> ...]
    element face M:   list uchar int vertex_indices          (meshes)
    element edge E:   int vertex1 int vertex2                 (curves, one edge per segment)

Vector attributes of width k become properties ``<name>_0 .. <name>_{k-1}``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.errors import BadInputError
from core.geometry import Curves, Mesh, Points

_PLY_TYPES = {
    "f4": "float", "f8": "double", "i4": "int", "u4": "uint", "i2": "short", "u2": "ushort",
    "i1": "char", "u1": "uchar",
}
_NP_TYPES = {v: k for k, v in _PLY_TYPES.items()}
_NP_TYPES.update({"float32": "f4", "float64": "f8", "int32": "i4", "uint32": "u4",
                  "int8": "i1", "uint8": "u1", "int16": "i2", "uint16": "u2"})


def _vertex_fields(positions, normals, colors, attributes):
    cols: list[tuple[str, np.ndarray]] = []
    for i, ax in enumerate("xyz"):
        cols.append((ax, positions[:, i].astype("<f4")))
    if normals is not None:
        for i, ax in enumerate(("nx", "ny", "nz")):
            cols.append((ax, normals[:, i].astype("<f4")))
    if colors is not None:
        for i, ax in enumerate(("red", "green", "blue", "alpha")):
            cols.append((ax, colors[:, i].astype("u1")))
    for name, arr in attributes.items():
        a = np.asarray(arr)
        if a.dtype.kind not in "fiub":
            raise BadInputError(f"PLY attribute {name!r}: numeric values expected, got {a.dtype}")
        if a.dtype == np.float64 or a.dtype.kind == "b":
            a = a.astype(np.float32 if a.dtype.kind == "f" else np.uint8)
        if a.dtype == np.int64:
            a = a.astype(np.int32)
        if a.dtype == np.uint64:
            a = a.astype(np.uint32)
        if a.ndim == 1:
            cols.append((name, a))
        else:
            for j in range(a.shape[1]):
                cols.append((f"{name}_{j}", a[:, j]))
    dtype = np.dtype([(n, a.dtype.newbyteorder("<")) for n, a in cols])
    rec = np.empty(len(positions), dtype=dtype)
    for n, a in cols:
        rec[n] = a
    return rec


def _header(rec: np.ndarray, extra: list[str], comments: list[str]) -> bytes:
    lines = ["ply", "format binary_little_endian 1.0", "comment written by vizpipe core.io.ply"]
    lines += [f"comment {c}" for c in comments]
    lines.append(f"element vertex {len(rec)}")
    for name in rec.dtype.names:
        lines.append(f"property {_PLY_TYPES[rec.dtype[name].str[1:]]} {name}")
    lines += extra
    lines.append("end_header")
    return ("\n".join(lines) + "\n").encode("ascii")


def write_ply(obj: Mesh | Points | Curves, path: str | Path,
              comments: tuple[str, ...] | list[str] = ()) -> Path:
    """Write a Mesh, Points or Curves as binary PLY, atomically."""
    if isinstance(obj, Mesh):
        rec = _vertex_fields(obj.vertices, obj.normals, obj.colors, obj.attributes)
        faces = np.empty(obj.n_faces, dtype=[("n", "u1"), ("v", "<i4", (3,))])
        faces["n"] = 3
        faces["v"] = obj.faces
        extra = [f"element face {obj.n_faces}", "property list uchar int vertex_indices"]
        body = [rec, faces]
    elif isinstance(obj, Points):
        rec = _vertex_fields(obj.positions, None, obj.colors, obj.attributes)
        extra, body = [], [rec]
    elif isinstance(obj, Curves):
        rec = _vertex_fields(obj.points, None, obj.colors, obj.attributes)
        edges = obj.edges().astype("<i4")
        extra = [f"element edge {len(edges)}", "property int vertex1", "property int vertex2"]
        body = [rec, np.ascontiguousarray(edges)]
    else:
        raise BadInputError(f"write_ply: cannot write {type(obj).__name__} as PLY")
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(_header(rec, extra, list(comments)))
        for b in body:  # the arrays' own bytes, no copies
            fh.write(b.reshape(-1).view(np.uint8).data)
    return Path(path)


def read_ply(path: str | Path) -> Mesh | Points | Curves:
    """Read a binary little-endian PLY as written by :func:`write_ply` (and most others whose
    faces are triangles). Returns Mesh if it has faces, Curves if it has edges, else Points."""
    path = Path(path)
    data = path.read_bytes()
    end = data.find(b"end_header\n")
    if not data.startswith(b"ply") or end < 0:
        raise BadInputError(f"{path}: not a PLY file (no 'ply' magic or no end_header)")
    header = data[:end].decode("ascii", "replace").splitlines()
    if "format binary_little_endian 1.0" not in header:
        raise BadInputError(f"{path}: only binary_little_endian PLY is supported")
    elements: list[tuple[str, int, list[tuple[str, str]]]] = []
    for line in header:
        tok = line.split()
        if not tok:
            continue
        if tok[0] == "element":
            elements.append((tok[1], int(tok[2]), []))
        elif tok[0] == "property" and elements:
            if tok[1] == "list":
                elements[-1][2].append((tok[4], f"list:{tok[2]}:{tok[3]}"))
            else:
                elements[-1][2].append((tok[2], tok[1]))
    off = end + len(b"end_header\n")
    arrays: dict[str, np.ndarray] = {}
    for name, count, props in elements:
        if any(t.startswith("list:") for _, t in props):
            (pname, t), = props
            _, ct, it = t.split(":")
            dt = np.dtype([("n", _NP_TYPES[ct]), ("v", "<" + _NP_TYPES[it], (3,))])
            rec = np.frombuffer(data, dtype=dt, count=count, offset=off)
            if count and (rec["n"] != 3).any():
                raise BadInputError(f"{path}: element {name} has non-triangle faces")
            arrays[name] = rec["v"]
        else:
            dt = np.dtype([(p, "<" + _NP_TYPES[t]) for p, t in props])
            rec = np.frombuffer(data, dtype=dt, count=count, offset=off)
            arrays[name] = rec
        off += dt.itemsize * count
    if off != len(data):
        raise BadInputError(f"{path}: expected {off} bytes from the header, file has {len(data)}")
    v = arrays["vertex"]
    names = list(v.dtype.names)
    pos = np.stack([v["x"], v["y"], v["z"]], -1)
    used = {"x", "y", "z"}
    normals = colors = None
    if {"nx", "ny", "nz"} <= set(names):
        normals = np.stack([v["nx"], v["ny"], v["nz"]], -1)
        used |= {"nx", "ny", "nz"}
    if {"red", "green", "blue"} <= set(names):
        alpha = v["alpha"] if "alpha" in names else np.full(len(v), 255, np.uint8)
        colors = np.stack([v["red"], v["green"], v["blue"], alpha], -1).astype(np.uint8)
        used |= {"red", "green", "blue", "alpha"}
    attrs: dict[str, np.ndarray] = {}
    rest = [n for n in names if n not in used]
    groups: dict[str, list[str]] = {}
    for n in rest:
        base, _, idx = n.rpartition("_")
        key = base if idx.isdigit() and base else n
        groups.setdefault(key, []).append(n)
    for key, cols in groups.items():
        attrs[key] = np.array(v[cols[0]]) if len(cols) == 1 else np.stack([v[c] for c in cols], -1)
    if "face" in arrays:
        return Mesh(pos, np.array(arrays["face"]), normals, attrs, colors)
    if "edge" in arrays:
        e = arrays["edge"]
        e = np.stack([e["vertex1"], e["vertex2"]], -1)
        # curves: a new polyline starts wherever an edge does not continue the previous one
        if len(e) == 0:
            return Curves(pos, np.zeros(0, np.int64), attrs, colors)
        starts = np.flatnonzero(np.concatenate([[True], e[1:, 0] != e[:-1, 1]]))
        ends = np.concatenate([starts[1:], [len(e)]])
        counts = ends - starts + 1
        return Curves(pos, counts, attrs, colors)
    return Points(pos, attrs, colors)
