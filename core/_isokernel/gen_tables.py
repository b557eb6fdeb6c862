"""Generate tables.h, the marching-cubes case table of the isosurface kernel, from VTK.

Regenerate (from the repository root, with VTK installed)::

    .venv/bin/python core/_isokernel/gen_tables.py

The table is not typed in by hand: for each of the 256 corner configurations of one cell, VTK's
vtkFlyingEdges3D contours a 2x2x2 image (corners 1.0 inside, 0.0 outside, level 0.5). Every
output point is an edge midpoint, which names the edge in our numbering; the triangles are
recorded as VTK emits them. Using VTK's table makes our surface topologically identical to
VTK's (and watertight: the 256-case table is consistent across shared cell faces).

Conventions of the kernel (index space, ``values[i, j, k]``, k fastest):

* corner ``c = 4*di + 2*dj + dk``; bit c of the case number is set when that corner is inside
  (``value >= level``, VTK's test).
* edges 0-3 run along k, at (di, dj) = (0,0), (0,1), (1,0), (1,1);
  edges 4-7 run along j, at (di, dk) = (0,0), (0,1), (1,0), (1,1);
  edges 8-11 run along i, at (dj, dk) = (0,0), (0,1), (1,0), (1,1).
* triangles wind counter-clockwise seen from outside (the side with values < level) in the
  right-handed (i, j, k) frame. VTK's x, y, z are our k, j, i (a reflection), so VTK's
  winding is reversed here; the script checks the orientation of every triangle against the
  field's gradient.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def edge_of_midpoint(p_ijk: np.ndarray) -> int:
    """Our edge number of the midpoint p (in i, j, k) of one of the 12 cell edges."""
    half = np.isclose(p_ijk, 0.5)
    assert half.sum() == 1, p_ijk
    axis = int(np.flatnonzero(half)[0])  # 0 = i, 1 = j, 2 = k
    o = [int(round(x)) for x in p_ijk]
    if axis == 2:
        return 0 + 2 * o[0] + o[1]
    if axis == 1:
        return 4 + 2 * o[0] + o[2]
    return 8 + 2 * o[1] + o[2]


EDGE_ENDS = {}  # edge -> (corner0, corner1), corner0 the lower index
for e in range(12):
    if e < 4:
        di, dj = divmod(e, 2)
        EDGE_ENDS[e] = ((di, dj, 0), (di, dj, 1))
    elif e < 8:
        di, dk = divmod(e - 4, 2)
        EDGE_ENDS[e] = ((di, 0, dk), (di, 1, dk))
    else:
        dj, dk = divmod(e - 8, 2)
        EDGE_ENDS[e] = ((0, dj, dk), (1, dj, dk))


def trilinear_gradient(corner_vals: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Gradient of the trilinear interpolant of a 2x2x2 cell at p (index space)."""
    g = np.zeros(3)
    for di, dj, dk in itertools.product((0, 1), repeat=3):
        v = corner_vals[di, dj, dk]
        wi = (p[0] if di else 1 - p[0], 1 if di else -1)
        wj = (p[1] if dj else 1 - p[1], 1 if dj else -1)
        wk = (p[2] if dk else 1 - p[2], 1 if dk else -1)
        g[0] += v * wi[1] * wj[0] * wk[0]
        g[1] += v * wi[0] * wj[1] * wk[0]
        g[2] += v * wi[0] * wj[0] * wk[1]
    return g


def vtk_case(case: int):
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

    vals = np.array([(case >> c) & 1 for c in range(8)], dtype=np.float32).reshape(2, 2, 2)
    img = vtkImageData()
    img.SetDimensions(2, 2, 2)
    img.GetPointData().SetScalars(numpy_to_vtk(vals.ravel(), deep=1))  # point id = 4i + 2j + k
    fe = vtkFlyingEdges3D()
    fe.SetInputData(img)
    fe.SetValue(0, 0.5)
    fe.SetComputeNormals(False)
    fe.SetComputeScalars(False)
    fe.Update()
    out = fe.GetOutput()
    if out.GetNumberOfPoints() == 0:
        return vals, []
    xyz = vtk_to_numpy(out.GetPoints().GetData()).astype(np.float64)
    ijk = xyz[:, ::-1]
    edges = [edge_of_midpoint(p) for p in ijk]
    tris = vtk_to_numpy(out.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    return vals, [[edges[v] for v in t] for t in tris]


def build():
    table = []
    for case in range(256):
        vals, tris = vtk_case(case)
        inside = vals >= 0.5
        crossing = {e for e, (a, b) in EDGE_ENDS.items() if inside[a] != inside[b]}
        used = {e for t in tris for e in t}
        assert used == crossing, (case, used, crossing)  # every crossing edge gets a vertex
        mid = {e: (np.array(a) + np.array(b)) / 2.0 for e, (a, b) in EDGE_ENDS.items()}
        fixed = []
        for t in tris:
            t = [t[0], t[2], t[1]]  # VTK's x, y, z = our k, j, i: a reflection reverses winding
            a, b, c = (mid[e] for e in t)
            n = np.cross(b - a, c - a)
            outward = -trilinear_gradient(vals.astype(np.float64), (a + b + c) / 3.0)
            assert np.dot(n, outward) > 0, (case, t, n, outward)
            fixed.append(t)
        assert len(fixed) <= 5
        table.append(fixed)
    return table


def check_watertight(table) -> None:
    """Random binary volumes: every interior edge shared by two triangles."""
    rng = np.random.default_rng(0)
    for trial in range(20):
        n = 6
        inside = rng.random((n, n, n)) < 0.5
        inside[0], inside[-1], inside[:, 0], inside[:, -1] = False, False, False, False
        inside[:, :, 0], inside[:, :, -1] = False, False
        verts: dict = {}
        faces = []
        for i, j, k in itertools.product(range(n - 1), repeat=3):
            case = 0
            for di, dj, dk in itertools.product((0, 1), repeat=3):
                if inside[i + di, j + dj, k + dk]:
                    case |= 1 << (4 * di + 2 * dj + dk)
            for t in table[case]:
                ids = []
                for e in t:
                    a, b = EDGE_ENDS[e]
                    key = tuple(sorted([(i + a[0], j + a[1], k + a[2]),
                                        (i + b[0], j + b[1], k + b[2])]))
                    ids.append(verts.setdefault(key, len(verts)))
                faces.append(ids)
        directed: dict = {}
        for f in faces:
            for a, b in ((f[0], f[1]), (f[1], f[2]), (f[2], f[0])):
                directed[(a, b)] = directed.get((a, b), 0) + 1
        for (a, b), cnt in directed.items():
            assert cnt == 1 and directed.get((b, a)) == 1, ("not closed/oriented", trial)


def write_header(table, path: Path) -> None:
    lines = [
        "/* Marching-cubes case table of the vizpipe isosurface kernel. GENERATED: do not edit.",
        " * Regenerate: .venv/bin/python core/_isokernel/gen_tables.py (derived from VTK's",
        " * vtkFlyingEdges3D, see that script for the corner/edge numbering and orientation).",
        " * ISO_NTRI[case]: number of triangles; ISO_TRIS[case]: 3 edge numbers per triangle,",
        " * counter-clockwise seen from outside (values < level) in the (i, j, k) frame. */",
        "#ifndef VIZPIPE_ISO_TABLES_H",
        "#define VIZPIPE_ISO_TABLES_H",
        "",
        "static const unsigned char ISO_NTRI[256] = {",
    ]
    counts = [len(t) for t in table]
    for r in range(0, 256, 16):
        lines.append("    " + ", ".join(str(c) for c in counts[r:r + 16]) + ",")
    lines.append("};")
    lines.append("")
    lines.append("static const unsigned char ISO_TRIS[256][15] = {")
    for case, tris in enumerate(table):
        flat = [e for t in tris for e in t] + [0] * (15 - 3 * len(tris))
        lines.append("    {" + ", ".join(f"{e:2d}" for e in flat) + f"}}, /* {case:3d} */")
    lines.append("};")
    lines.append("")
    lines.append("#endif")
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    table = build()
    check_watertight(table)
    out = HERE / "tables.h"
    write_header(table, out)
    print(f"wrote {out} ({sum(len(t) for t in table)} triangles in 256 cases)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
