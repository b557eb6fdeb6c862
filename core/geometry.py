"""Geometry shared by both pipelines: plain dataclasses of numpy arrays, and isosurfaces.

Conventions (the whole project follows them):

* Lengths are in the units named by the producer (``units`` on Volume; the manifest records
  the scene's length unit). World space is right-handed, Z up.
* ``Volume.values[i, j, k]`` is the sample at index (i, j, k); its world position is
  ``affine @ [i, j, k, 1]``. The affine may be any invertible 4x4 (sheared, triclinic cells).
* Colours are sRGB, 8-bit, RGBA: ``colors.shape == (n, 4)``, dtype uint8.
* Per-vertex or per-point attributes are numpy arrays whose first axis has one entry per
  vertex/point (shape (n,) or (n, k)).

Example::

    from core.geometry import Volume, isosurface
    vol = Volume(values=rho, affine=Volume.affine_from_cell(cell, rho.shape), name="density",
                 units="e/Angstrom^3")
    mesh = isosurface(vol, 0.05, periodic=(True, True, True))
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.errors import BadInputError

__all__ = ["Mesh", "Volume", "Points", "Curves", "isosurface", "periodic_weld", "cell_corners"]


def column_extremes(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(a.min(0), a.max(0))`` of a non-empty (n, k) array, bit for bit, column by column.

    numpy reduces an (n, 3) array along axis 0 some twenty times slower than its three
    columns one at a time (7 ms against 0.3 ms for the 227,000 vertices of a 256^3
    isosurface, paid by its bounds, its USD extent and its glTF accessor). Extremes that are
    zeros or NaNs, whose sign or payload could depend on the order of the comparisons, are
    taken from the axis-0 reductions themselves.
    """
    a = np.asarray(a)
    lo = np.array([a[:, c].min() for c in range(a.shape[1])], dtype=a.dtype)
    hi = np.array([a[:, c].max() for c in range(a.shape[1])], dtype=a.dtype)
    if not (np.all(lo != 0) and np.all(hi != 0) and not np.isnan(lo).any()
            and not np.isnan(hi).any()):
        return a.min(0), a.max(0)
    return lo, hi


def _check_attrs(kind: str, n: int, attrs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for key, val in attrs.items():
        arr = np.asarray(val)
        if arr.ndim == 0 or arr.shape[0] != n:
            raise BadInputError(
                f"{kind} attribute {key!r}: expected first dimension {n}, got shape {arr.shape}"
            )
        out[key] = arr
    return out


def _check_colors(kind: str, n: int, colors: np.ndarray | None) -> np.ndarray | None:
    if colors is None:
        return None
    c = np.asarray(colors)
    if c.shape != (n, 4) or c.dtype != np.uint8:
        raise BadInputError(
            f"{kind}.colors: expected uint8 sRGBA of shape ({n}, 4), got {c.dtype} {c.shape}"
        )
    return c


@dataclass
class Mesh:
    """A triangle mesh. ``faces`` index ``vertices``, counter-clockwise seen from outside."""

    vertices: np.ndarray  # (n, 3) float32
    faces: np.ndarray  # (m, 3) integer
    normals: np.ndarray | None = None  # (n, 3) float32, unit length, pointing outward
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    colors: np.ndarray | None = None  # (n, 4) uint8 sRGBA

    def __post_init__(self) -> None:
        self.vertices = np.ascontiguousarray(self.vertices, dtype=np.float32).reshape(-1, 3)
        self.faces = np.ascontiguousarray(self.faces).reshape(-1, 3)
        if not np.issubdtype(self.faces.dtype, np.integer):
            raise BadInputError(f"Mesh.faces: expected integers, got {self.faces.dtype}")
        n = len(self.vertices)
        if self.faces.size and (self.faces.min() < 0 or self.faces.max() >= n):
            raise BadInputError(f"Mesh.faces: indices must lie in [0, {n}), got out-of-range")
        if self.normals is not None:
            self.normals = np.ascontiguousarray(self.normals, dtype=np.float32).reshape(-1, 3)
            if len(self.normals) != n:
                raise BadInputError(f"Mesh.normals: expected {n} rows, got {len(self.normals)}")
        self.attributes = _check_attrs("Mesh", n, self.attributes)
        self.colors = _check_colors("Mesh", n, self.colors)

    @classmethod
    def _trusted(cls, vertices: np.ndarray, faces: np.ndarray, normals: np.ndarray | None
                 ) -> Mesh:
        """Build without validation or copies (for kernels whose output is known good)."""
        m = object.__new__(cls)
        m.vertices, m.faces, m.normals = vertices, faces, normals
        m.attributes, m.colors = {}, None
        return m

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)

    @property
    def n_faces(self) -> int:
        return len(self.faces)

    def bounds(self) -> np.ndarray:
        """[[xmin, ymin, zmin], [xmax, ymax, zmax]] (zeros for an empty mesh)."""
        if not self.n_vertices:
            return np.zeros((2, 3))
        return np.array(column_extremes(self.vertices), dtype=np.float64)

    def area(self) -> float:
        v = self.vertices.astype(np.float64)
        a, b, c = v[self.faces[:, 0]], v[self.faces[:, 1]], v[self.faces[:, 2]]
        return float(0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum())

    def volume(self) -> float:
        """Signed enclosed volume (positive for a closed outward-oriented surface)."""
        v = self.vertices.astype(np.float64)
        a, b, c = v[self.faces[:, 0]], v[self.faces[:, 1]], v[self.faces[:, 2]]
        return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)

    def transformed(self, matrix: np.ndarray) -> Mesh:
        """This mesh under a 4x4 affine (normals by the inverse transpose; winding kept right)."""
        m = np.asarray(matrix, dtype=np.float64)
        lin, t = m[:3, :3], m[:3, 3]
        verts = self.vertices.astype(np.float64) @ lin.T + t
        faces = self.faces if np.linalg.det(lin) > 0 else self.faces[:, ::-1]
        normals = None
        if self.normals is not None:
            normals = _unit(self.normals.astype(np.float64) @ np.linalg.inv(lin))
        return Mesh(verts, faces, normals, dict(self.attributes), self.colors)

    @staticmethod
    def concatenate(meshes: list[Mesh]) -> Mesh:
        """One mesh from many (attributes kept where every part has them)."""
        if not meshes:
            return Mesh(np.zeros((0, 3)), np.zeros((0, 3), np.int64))
        offsets = np.cumsum([0] + [m.n_vertices for m in meshes[:-1]])
        verts = np.concatenate([m.vertices for m in meshes])
        pairs = zip(meshes, offsets, strict=True)
        faces = np.concatenate([m.faces.astype(np.int64) + o for m, o in pairs])
        normals = (
            np.concatenate([m.normals for m in meshes])
            if all(m.normals is not None for m in meshes)
            else None
        )
        keys = set.intersection(*(set(m.attributes) for m in meshes))
        attrs = {k: np.concatenate([m.attributes[k] for m in meshes]) for k in sorted(keys)}
        colors = (
            np.concatenate([m.colors for m in meshes])
            if all(m.colors is not None for m in meshes)
            else None
        )
        return Mesh(verts, faces, normals, attrs, colors)


@dataclass
class Volume:
    """Samples on a structured grid, placed in the world by a 4x4 index-to-world affine."""

    values: np.ndarray  # (ni, nj, nk)
    affine: np.ndarray = field(default_factory=lambda: np.eye(4))
    name: str = "density"
    units: str = ""

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values)
        if self.values.ndim != 3:
            raise BadInputError(
                f"Volume {self.name!r}: expected a 3-D array, got shape {self.values.shape}"
            )
        self.affine = np.asarray(self.affine, dtype=np.float64)
        if self.affine.shape != (4, 4) or not np.allclose(self.affine[3], [0, 0, 0, 1]):
            raise BadInputError(
                f"Volume {self.name!r}: affine must be 4x4 with last row [0, 0, 0, 1]"
            )
        if abs(np.linalg.det(self.affine[:3, :3])) < 1e-300:
            raise BadInputError(f"Volume {self.name!r}: affine is singular")

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.values.shape  # type: ignore[return-value]

    @staticmethod
    def affine_from_cell(
        cell: np.ndarray, shape: tuple[int, int, int], origin=(0.0, 0.0, 0.0), periodic=True
    ) -> np.ndarray:
        """Affine of a grid spanning a cell whose rows are the lattice vectors a, b, c.

        Periodic grids (VASP, XSF general grids without the repeated end point: pass
        ``periodic=True``) have step a/n; grids that include both end points have a/(n-1).
        """
        cell = np.asarray(cell, dtype=np.float64).reshape(3, 3)
        div = np.array(shape, dtype=np.float64) - (0 if periodic else 1)
        m = np.eye(4)
        m[:3, :3] = (cell / div[:, None]).T  # column i = step along index i
        m[:3, 3] = origin
        return m

    def index_to_world(self, ijk: np.ndarray) -> np.ndarray:
        ijk = np.asarray(ijk, dtype=np.float64)
        return ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    def corners(self) -> np.ndarray:
        """World positions of the 8 corner samples."""
        n = np.array(self.shape) - 1
        c = np.array([[i, j, k] for i in (0, n[0]) for j in (0, n[1]) for k in (0, n[2])])
        return self.index_to_world(c)

    def bounds(self) -> np.ndarray:
        c = self.corners()
        return np.array([c.min(0), c.max(0)])


@dataclass
class Points:
    """A point set with per-point attributes (radius, speed, age, id, element ...)."""

    positions: np.ndarray  # (n, 3) float32
    attributes: dict[str, np.ndarray] = field(default_factory=dict)
    colors: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.positions = np.ascontiguousarray(self.positions, dtype=np.float32).reshape(-1, 3)
        self.attributes = _check_attrs("Points", len(self.positions), self.attributes)
        self.colors = _check_colors("Points", len(self.positions), self.colors)

    def __len__(self) -> int:
        return len(self.positions)

    def bounds(self) -> np.ndarray:
        if not len(self):
            return np.zeros((2, 3))
        return np.array(column_extremes(self.positions), dtype=np.float64)


@dataclass
class Curves:
    """Polylines: ``points`` of all curves back to back, ``counts[c]`` points in curve c."""

    points: np.ndarray  # (n, 3) float32
    counts: np.ndarray  # (ncurves,) int
    attributes: dict[str, np.ndarray] = field(default_factory=dict)  # per point
    colors: np.ndarray | None = None
    radius: float = 0.0  # tube radius for renderers and tube meshes (world units)

    def __post_init__(self) -> None:
        self.points = np.ascontiguousarray(self.points, dtype=np.float32).reshape(-1, 3)
        self.counts = np.asarray(self.counts, dtype=np.int64).reshape(-1)
        if self.counts.sum() != len(self.points) or (self.counts < 2).any():
            raise BadInputError(
                f"Curves: counts must be >= 2 each and sum to {len(self.points)} points, "
                f"got sum {int(self.counts.sum())}"
            )
        self.attributes = _check_attrs("Curves", len(self.points), self.attributes)
        self.colors = _check_colors("Curves", len(self.points), self.colors)

    @classmethod
    def from_polylines(cls, lines: list[np.ndarray], **kw) -> Curves:
        lines = [np.asarray(p, dtype=np.float32).reshape(-1, 3) for p in lines]
        pts = np.concatenate(lines) if lines else np.zeros((0, 3), np.float32)
        return cls(pts, np.array([len(p) for p in lines], dtype=np.int64), **kw)

    def edges(self) -> np.ndarray:
        """(n_segments, 2) point-index pairs, one per segment of every polyline."""
        if not len(self.counts):
            return np.zeros((0, 2), np.int64)
        starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        idx = np.concatenate([np.arange(s, s + c - 1)
                              for s, c in zip(starts, self.counts, strict=True)])
        return np.stack([idx, idx + 1], -1)

    def polylines(self) -> list[np.ndarray]:
        return np.split(self.points, np.cumsum(self.counts)[:-1]) if len(self.counts) else []

    def bounds(self) -> np.ndarray:
        if not len(self.points):
            return np.zeros((2, 3))
        return np.array(column_extremes(self.points), dtype=np.float64)

    def tubes(self, radius: float | None = None, sides: int = 8) -> Mesh:
        """A tube mesh around every polyline (for formats without curves, e.g. glTF)."""
        r = self.radius if radius is None else radius
        if r <= 0:
            raise BadInputError("Curves.tubes: radius must be > 0")
        parts = [_tube(p, r, sides) for p in self.polylines()]
        return Mesh.concatenate(parts)


def cell_corners(cell, origin=(0.0, 0.0, 0.0)) -> np.ndarray:
    """(8, 3) corners of the parallelepiped spanned by the rows a, b, c of ``cell``, in the
    order (i, j, k) in {0, 1}^3 with k fastest."""
    a, b, c = np.asarray(cell, dtype=np.float64).reshape(3, 3)
    o = np.asarray(origin, dtype=np.float64)
    return np.array([o + i * a + j * b + k * c for i in (0, 1) for j in (0, 1) for k in (0, 1)])


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return (v / np.where(n > 0, n, 1)).astype(np.float32)


def _tube(line: np.ndarray, radius: float, sides: int) -> Mesh:
    p = line.astype(np.float64)
    t = np.gradient(p, axis=0)
    t = _unit(t).astype(np.float64)
    # a rotation-minimising-ish frame: project a fixed helper onto the normal plane
    helper = np.where(np.abs(t[:, 2:3]) < 0.9, [[0.0, 0.0, 1.0]], [[1.0, 0.0, 0.0]])
    n1 = _unit(np.cross(t, helper)).astype(np.float64)
    n2 = np.cross(t, n1)
    ang = np.linspace(0, 2 * np.pi, sides, endpoint=False)
    ring = np.cos(ang)[None, :, None] * n1[:, None, :] + np.sin(ang)[None, :, None] * n2[:, None, :]
    verts = (p[:, None, :] + radius * ring).reshape(-1, 3)
    normals = ring.reshape(-1, 3)
    n = len(p)
    i = np.arange(n - 1)[:, None]
    s = np.arange(sides)[None, :]
    a = i * sides + s
    b = i * sides + (s + 1) % sides
    c = (i + 1) * sides + s
    d = (i + 1) * sides + (s + 1) % sides
    faces = np.concatenate([np.stack([a, b, d], -1), np.stack([a, d, c], -1)], axis=1)
    return Mesh(verts, faces.reshape(-1, 3), normals)


def _pad_periodic(values: np.ndarray, periodic: tuple[bool, bool, bool]) -> np.ndarray:
    """Append the first layer after the last along every periodic axis (closes the cell)."""
    pad = [(0, 1) if p else (0, 0) for p in periodic]
    return np.pad(values, pad, mode="wrap") if any(periodic) else values


# long: checks, then the C kernel or VTK flying edges and orientation; half is comments
def isosurface(
    volume: Volume,
    level: float,
    *,
    periodic: tuple[bool, bool, bool] = (False, False, False),
    normals: bool = True,
) -> Mesh:
    """Triangle mesh of ``volume.values == level`` in world coordinates.

    * Any invertible affine works (sheared, triclinic cells); vertices and normals are mapped
      exactly (normals by the inverse transpose).
    * ``periodic`` axes are closed: the grid is taken to repeat with period n along them, so
      the surface reaches the far cell face and meets its image on the near face.
    * Orientation: the surface encloses the region *beyond* the level away from zero, i.e.
      ``values > level`` for ``level >= 0`` and ``values < level`` for a negative level (the
      negative lobe of an orbital, spin or difference density). Faces wind counter-clockwise
      seen from outside, and normals point outward, for either sign.
    * NaN samples next to the surface are an error (they would poison its vertices); an
      all-NaN volume is an error.

    The kernel is our compiled marching cubes (core.isokernel: VTK's case table, so the same
    vertices and triangles as vtkFlyingEdges3D, and faster single-threaded); VTK's
    vtkFlyingEdges3D is the fallback when the extension is not built. This function adds the
    affine, periodic closure and orientation.
    """
    from core import isokernel

    vals = volume.values
    if not np.issubdtype(vals.dtype, np.floating):
        vals = vals.astype(np.float32)
    level = float(level)
    if not np.isfinite(level):
        raise BadInputError(f"isosurface of {volume.name!r}: level must be finite, got {level}")
    negative = level < 0
    per = tuple(bool(p) for p in periodic)
    padded = tuple(s + (p and s > 0) for s, p in zip(vals.shape, per, strict=True))
    if any(s < 2 for s in padded):
        raise BadInputError(
            f"isosurface of {volume.name!r}: need at least 2 samples per axis, got {padded}"
        )

    if isokernel.available():  # world-space vertices, outward unit normals, CCW faces
        # the kernel closes periodic axes itself (wrapped indices): no padded copy of the grid
        verts, faces, nrm, nan_found = isokernel.extract_checked(
            vals, level, volume.affine, normals=bool(normals), flip=negative,
            periodic=per)  # type: ignore[arg-type]
        if nan_found:  # NaN samples next to the surface poison its vertices
            raise BadInputError(f"isosurface of {volume.name!r}: values contain NaN")
        if not len(verts) and np.isnan(vals).all():
            raise BadInputError(f"isosurface of {volume.name!r}: all values are NaN")
        return Mesh._trusted(verts, faces, nrm)

    vals = np.ascontiguousarray(_pad_periodic(vals, per))  # type: ignore[arg-type]
    _require_vtk()
    from vtkmodules.util.numpy_support import numpy_to_vtk, vtk_to_numpy
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

    # VTK runs x fastest, so a C-ordered (i, j, k) array is VTK's (x, y, z) = (k, j, i). Fold
    # that axis swap and the whole affine into the image's direction matrix: VTK then emits
    # world-space points and world-space unit normals itself (no extra passes in numpy).
    lin = volume.affine[:3, :3]
    direction = lin[:, ::-1]
    img = vtkImageData()
    ni, nj, nk = vals.shape
    img.SetDimensions(nk, nj, ni)
    img.SetDirectionMatrix(*direction.ravel().tolist())
    img.SetOrigin(*volume.affine[:3, 3].tolist())
    img.GetPointData().SetScalars(numpy_to_vtk(vals.ravel(), deep=0))
    fe = vtkFlyingEdges3D()
    fe.SetInputData(img)
    fe.SetValue(0, level)
    fe.SetComputeScalars(False)
    fe.SetComputeNormals(bool(normals))
    fe.Update()
    out = fe.GetOutput()
    if out.GetNumberOfPoints() == 0:
        if np.isnan(vals).all():
            raise BadInputError(f"isosurface of {volume.name!r}: all values are NaN")
        return Mesh(np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32),
                    np.zeros((0, 3), np.float32) if normals else None)

    verts = vtk_to_numpy(out.GetPoints().GetData())
    if np.isnan(verts.min()):  # NaN samples next to the surface poison its vertices
        raise BadInputError(f"isosurface of {volume.name!r}: values contain NaN")
    tri = vtk_to_numpy(out.GetPolys().GetConnectivityArray()).reshape(-1, 3)
    # VTK winds faces (and points normals) away from values > level in its own index frame;
    # a direction matrix with negative determinant reflects both into the world, and a
    # negative level swaps inside and outside. Flip both when exactly one of these holds.
    flip = (np.linalg.det(direction) < 0) != negative
    dtype = np.int32 if len(verts) < 2**31 else np.int64
    faces = np.empty(tri.shape, dtype)
    faces[:, 0] = tri[:, 0]
    faces[:, 1] = tri[:, 2 if flip else 1]
    faces[:, 2] = tri[:, 1 if flip else 2]
    nrm = None
    if normals:
        nrm = vtk_to_numpy(out.GetPointData().GetNormals())
        if flip:
            np.negative(nrm, out=nrm)
    return Mesh._trusted(verts, faces, nrm)


def periodic_weld(mesh: Mesh, cell: np.ndarray, decimals: int = 4) -> Mesh:
    """Merge vertices that coincide modulo the lattice (rows of ``cell``), for topology checks.

    The result is the surface on the 3-torus: a periodic isosurface closed across the cell
    faces is watertight after welding (every edge shared by exactly two faces).
    """
    cell = np.asarray(cell, dtype=np.float64)
    frac = mesh.vertices.astype(np.float64) @ np.linalg.inv(cell)
    frac = np.round(frac, decimals) % 1.0
    frac = np.round(frac, decimals) % 1.0  # 0.99999 -> 1.0 -> 0.0
    _, inverse = np.unique(frac, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    faces = inverse[mesh.faces]
    a, b, c = faces.T
    keep = (a != b) & (b != c) & (a != c)
    verts = np.zeros((inverse.max() + 1, 3), np.float32)
    verts[inverse] = mesh.vertices
    return Mesh(verts, faces[keep])


def _require_vtk() -> None:
    from core.deps import available, require

    if not available("vtkmodules"):
        require("vtk")
