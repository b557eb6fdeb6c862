"""Our compiled isosurface kernel against VTK's vtkFlyingEdges3D (the fallback path of
core.geometry.isosurface) and against the geometry it must produce."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from core import isokernel
from core.errors import BadInputError
from core.geometry import Mesh, Volume, isosurface

pytestmark = pytest.mark.skipif(not isokernel.available(), reason="core._isokernel_c not built")

SHEAR = np.array([[0.9, 0.3, 0.1, 1.5], [0.0, 1.1, 0.2, -2.0], [0.05, 0.0, 0.8, 0.5],
                  [0, 0, 0, 1.0]])
MIRROR = np.diag([1.0, -1.0, 1.0, 1.0]) @ SHEAR  # det < 0


def vtk_isosurface(monkeypatch, values, level, affine=None) -> Mesh:
    """core.geometry.isosurface on its VTK fallback path (vtkFlyingEdges3D)."""
    affine = np.eye(4) if affine is None else affine
    with monkeypatch.context() as m:
        m.setattr(isokernel, "available", lambda: False)
        return isosurface(Volume(values, affine), level)


def smooth_field(shape, seed, sigma=2.0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return gaussian_filter(rng.standard_normal(shape), sigma).astype(dtype)


def blob(n=32, sign=1.0, dtype=np.float32):
    """A Gaussian blob in the middle of the grid: a closed surface for levels in (0, 1)."""
    x = np.arange(n) - (n - 1) / 2
    r2 = x[:, None, None] ** 2 + 0.8 * x[None, :, None] ** 2 + 1.2 * x[None, None, :] ** 2
    return (sign * np.exp(-r2 / (2 * (n / 6) ** 2))).astype(dtype)


def canonical_faces(faces: np.ndarray) -> np.ndarray:
    """Each face as its lexicographically smallest rotation (keeps the winding), rows sorted."""
    faces = np.asarray(faces, dtype=np.int64)
    rots = np.stack([np.roll(faces, -q, axis=1) for q in range(3)], axis=1)  # (m, 3, 3)
    key = rots[:, :, 0] * (1 << 42) + rots[:, :, 1] * (1 << 21) + rots[:, :, 2]
    f = rots[np.arange(len(faces)), np.argmin(key, axis=1)]
    return f[np.lexsort(f.T[::-1])]


def assert_same_surface(ours: Mesh, ref: Mesh, spacing: float = 1.0) -> None:
    """Same vertex set (1-to-1, within 1e-5 of the spacing), same oriented triangles, same
    normals and area. Vertices closer together than the tolerance (a sample within rounding
    of the level puts a vertex of each of its cut edges on it) are matched as a group."""
    assert ours.n_vertices == ref.n_vertices
    assert ours.n_faces == ref.n_faces
    if not ref.n_vertices:
        return
    tol = 1e-5 * spacing
    tree = cKDTree(ref.vertices.astype(np.float64))
    dist, idx = tree.query(ours.vertices.astype(np.float64))
    assert dist.max() <= tol
    pairs = tree.query_pairs(2 * tol, output_type="ndarray")
    n = ref.n_vertices
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    # a bijection up to groups of coincident vertices
    assert np.array_equal(np.bincount(group[idx], minlength=n), np.bincount(group, minlength=n))
    assert np.array_equal(canonical_faces(group[idx][ours.faces]),
                          canonical_faces(group[ref.faces]))
    assert ours.area() == pytest.approx(ref.area(), rel=1e-5)
    if ref.normals is not None:
        assert np.abs(ours.normals - ref.normals[idx]).max() < 1e-4


def edge_use_counts(faces):
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    return counts


def directed_edges_unique(faces):
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    return len(np.unique(e, axis=0)) == len(e)


# --- agreement with VTK -------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape, seed, pct, affine",
    [
        ((40, 36, 33), 1, 60, SHEAR),
        ((24, 30, 70), 2, 35, SHEAR),  # two 64-bit words per row
        ((9, 11, 64), 3, 50, np.eye(4)),  # rows exactly one word
        ((9, 11, 65), 4, 50, SHEAR),  # one sample into the second word
        ((6, 7, 129), 5, 45, MIRROR),
        ((33, 28, 31), 6, 70, MIRROR),
    ],
)
def test_matches_vtk_on_smooth_random_fields(monkeypatch, shape, seed, pct, affine):
    vals = smooth_field(shape, seed)
    level = float(np.percentile(vals, pct))
    ours = isosurface(Volume(vals, affine), level)
    assert_same_surface(ours, vtk_isosurface(monkeypatch, vals, level, affine))


def test_matches_vtk_on_white_noise(monkeypatch):
    """Every ambiguous case shows up; the output outgrows its first buffer."""
    vals = np.random.default_rng(7).random((48, 50, 52)).astype(np.float32)
    ours = isosurface(Volume(vals, SHEAR), 0.5)
    assert ours.n_vertices > 100_000
    assert_same_surface(ours, vtk_isosurface(monkeypatch, vals, 0.5, SHEAR))


def test_every_case_on_a_single_cell(monkeypatch):
    for case in range(256):
        vals = np.array([(case >> c) & 1 for c in range(8)], np.float32).reshape(2, 2, 2)
        vals = vals * 0.8 + 0.1  # 0.1 outside, 0.9 inside
        ours = isosurface(Volume(vals, SHEAR), 0.5)
        assert_same_surface(ours, vtk_isosurface(monkeypatch, vals, 0.5, SHEAR))


def test_float64_input(monkeypatch):
    vals = smooth_field((30, 26, 70), 8, dtype=np.float64)
    level = float(np.percentile(vals, 55))
    ours = isosurface(Volume(vals, SHEAR), level)
    assert_same_surface(ours, vtk_isosurface(monkeypatch, vals, level, SHEAR))
    v32, f32, _ = isokernel.extract(vals.astype(np.float32), level, SHEAR)
    assert Mesh(v32, f32).area() == pytest.approx(ours.area(), rel=1e-4)


def test_ties_use_vtks_test_value_at_least_level(monkeypatch):
    """Samples exactly at the level are inside (value >= level), as in VTK."""
    vals = np.random.default_rng(9).integers(0, 3, (12, 13, 14)).astype(np.float32)
    ours = isosurface(Volume(vals), 1.0)
    ref = vtk_isosurface(monkeypatch, vals, 1.0)
    assert (ours.n_vertices, ours.n_faces) == (ref.n_vertices, ref.n_faces)
    a, b = ours.vertices, ref.vertices
    assert np.array_equal(a[np.lexsort(a.T)], b[np.lexsort(b.T)])


def test_float32_samples_against_a_double_level(monkeypatch):
    """The comparison is exact in double precision: a float32 sample just below a double level
    is outside even though rounding the level to float32 would make them equal."""
    f = np.float32(0.1)
    level = float(f) + 1e-12
    vals = smooth_field((10, 11, 12), 10) * 0.01 + f
    vals[::3, ::2, ::4] = f
    ours = isosurface(Volume(vals), level)
    ref = vtk_isosurface(monkeypatch, vals, level)
    assert (ours.n_vertices, ours.n_faces) == (ref.n_vertices, ref.n_faces)
    assert ours.n_faces != isosurface(Volume(vals), float(f)).n_faces  # the samples at f count


# --- geometry ----------------------------------------------------------------------------------


def test_closed_blob_is_watertight_and_outward():
    mesh = isosurface(Volume(blob(), SHEAR), 0.4)
    assert mesh.n_faces > 500
    assert (edge_use_counts(mesh.faces) == 2).all()
    assert directed_edges_unique(mesh.faces)  # consistently oriented
    assert mesh.volume() > 0
    assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1, atol=1e-5)
    centre = SHEAR[:3, :3] @ np.full(3, 15.5) + SHEAR[:3, 3]
    radial = mesh.vertices - centre
    assert (np.einsum("ij,ij->i", radial, mesh.normals) > 0).all()
    # face winding agrees with the vertex normals
    a, b, c = (mesh.vertices.astype(np.float64)[mesh.faces[:, q]] for q in range(3))
    fn = np.cross(b - a, c - a)
    assert (np.einsum("ij,ij->i", fn, mesh.normals[mesh.faces].sum(1)) > 0).mean() > 0.999


def test_left_handed_affine_keeps_orientation(monkeypatch):
    vals = blob(24)
    right = isosurface(Volume(vals, SHEAR), 0.3)
    left = isosurface(Volume(vals, MIRROR), 0.3)
    assert right.volume() > 0 and left.volume() == pytest.approx(right.volume(), rel=1e-5)
    mirrored = right.transformed(MIRROR @ np.linalg.inv(SHEAR))
    assert np.allclose(left.vertices, mirrored.vertices, atol=1e-4)
    assert np.array_equal(canonical_faces(left.faces), canonical_faces(mirrored.faces))
    assert np.allclose(left.normals, mirrored.normals, atol=1e-4)
    assert_same_surface(left, vtk_isosurface(monkeypatch, vals, 0.3, MIRROR))


@pytest.mark.parametrize("affine", [SHEAR, MIRROR])
def test_flip_encloses_the_low_region(monkeypatch, affine):
    vals = blob(24, sign=-1.0)
    verts, faces, nrm = isokernel.extract(vals, -0.3, affine, flip=True)
    mesh = Mesh(verts, faces, nrm)
    assert mesh.volume() > 0
    pos = isosurface(Volume(-vals, affine), 0.3)
    assert mesh.volume() == pytest.approx(pos.volume(), rel=1e-3)
    centre = affine[:3, :3] @ np.full(3, 11.5) + affine[:3, 3]
    assert (np.einsum("ij,ij->i", mesh.vertices - centre, mesh.normals) > 0).all()
    # and without flip the same surface comes out inside-out
    v2, f2, n2 = isokernel.extract(vals, -0.3, affine, flip=False)
    assert np.array_equal(v2, verts) and np.array_equal(f2, faces[:, [0, 2, 1]])
    assert np.array_equal(n2, -nrm)
    assert_same_surface(isosurface(Volume(vals, affine), -0.3),
                        vtk_isosurface(monkeypatch, vals, -0.3, affine))


def test_extract_interface():
    vals = blob(16)
    v, f, n = isokernel.extract(vals, 0.5, np.eye(4))
    assert v.dtype == np.float32 and v.shape[1] == 3 and f.dtype == np.int32 and f.shape[1] == 3
    assert n.dtype == np.float32 and n.shape == v.shape
    v2, f2, n2 = isokernel.extract(vals, 0.5, np.eye(4)[:3], normals=False)
    assert n2 is None and np.array_equal(v, v2) and np.array_equal(f, f2)
    # non-contiguous and integer inputs are converted
    v3, f3, _ = isokernel.extract(np.asfortranarray(vals), 0.5, np.eye(4))
    assert np.array_equal(v3, v) and np.array_equal(f3, f)
    vi, fi, _ = isokernel.extract((vals * 10).astype(np.int16), 5, np.eye(4))
    assert len(fi) > 0
    # arrays stay valid after the call (the kernel's memory is owned by them)
    v[:] += 1.0
    assert np.isfinite(v).all()


def test_tiny_and_degenerate_grids():
    v, f, n = isokernel.extract(np.zeros((2, 2, 2), np.float32), 0.5, np.eye(4))
    assert v.shape == (0, 3) and f.shape == (0, 3) and n.shape == (0, 3)
    one = np.zeros((2, 2, 2), np.float32)
    one[1, 1, 1] = 1.0
    v, f, n = isokernel.extract(one, 0.5, np.eye(4))
    assert len(v) == 3 and len(f) == 1
    for shape in [(1, 5, 5), (5, 1, 5), (5, 5, 1)]:
        with pytest.raises(BadInputError, match="at least 2"):
            isokernel.extract(np.zeros(shape, np.float32), 0.5, np.eye(4))
        with pytest.raises(BadInputError, match="at least 2"):
            isosurface(Volume(np.zeros(shape, np.float32)), 0.5)
    with pytest.raises(BadInputError, match="3-D"):
        isokernel.extract(np.zeros((4, 4), np.float32), 0.5, np.eye(4))
    with pytest.raises(BadInputError, match="invertible"):
        isokernel.extract(one, 0.5, np.diag([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(BadInputError, match="finite"):
        isokernel.extract(one, float("nan"), np.eye(4))


def test_nan_next_to_the_surface_is_an_error(monkeypatch):
    """NaN compares below any level (VTK's test), so a NaN sample among outside samples is
    harmless while one among inside samples is cut out by the surface: an error, like a NaN on
    the surface itself, and like on the VTK path."""
    vals = blob(16)
    holed = vals.copy()
    holed[0, 0, 0] = np.nan  # outside the blob, away from the surface
    assert isosurface(Volume(holed), 0.3).n_faces == isosurface(Volume(vals), 0.3).n_faces
    *_, nan_found = isokernel.extract_checked(holed, 0.3, np.eye(4))
    assert not nan_found
    for where in [(8, 8, 8), tuple(np.argwhere(vals > 0.3)[0])]:  # deep inside, on the surface
        bad = vals.copy()
        bad[where] = np.nan
        with pytest.raises(BadInputError, match="NaN"):
            isosurface(Volume(bad), 0.3)
        with pytest.raises(BadInputError, match="NaN"):
            vtk_isosurface(monkeypatch, bad, 0.3)
    with pytest.raises(BadInputError, match="NaN"):
        isosurface(Volume(np.full((5, 6, 7), np.nan, np.float32)), 0.1)


def test_threads_give_the_same_result():
    fields = [smooth_field((30, 31, 32), s) for s in range(4)]
    serial = [isokernel.extract(f, 0.0, SHEAR) for f in fields]
    out = [None] * 4

    def work(i):
        out[i] = isokernel.extract(fields[i], 0.0, SHEAR)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(serial, out, strict=True):
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


# --- periodic axes without a padded copy ---------------------------------------------------


def _padded(vals, periodic):
    return np.pad(vals, [(0, 1) if p else (0, 0) for p in periodic], mode="wrap")


@pytest.mark.parametrize("periodic", [(True, True, True), (True, False, True),
                                      (False, True, False), (False, False, True),
                                      (True, False, False), (False, False, False)])
@pytest.mark.parametrize("shape, dtype", [((9, 11, 63), np.float32), ((9, 11, 64), np.float64),
                                          ((7, 6, 127), np.float64), ((1, 5, 7), np.float32),
                                          ((12, 13, 130), np.float32)])
def test_periodic_flags_equal_the_padded_grid_bit_for_bit(shape, dtype, periodic):
    """extract(values, periodic=...) wraps indices instead of copying: vertices, faces and
    normals are exactly those of the grid padded with its first layer (np.pad wrap)."""
    vals = smooth_field(shape, sum(shape), sigma=1.0, dtype=dtype)
    padded = _padded(vals, periodic)
    if min(padded.shape) < 2:
        return
    for pct in (35, 70):
        level = float(np.percentile(vals, pct))
        for normals in (True, False):
            for flip, affine in ((False, SHEAR), (True, MIRROR)):
                ref = isokernel.extract_checked(padded, level, affine, normals, flip)
                got = isokernel.extract_checked(vals, level, affine, normals, flip, periodic)
                for a, b in zip(ref, got, strict=True):
                    if isinstance(a, np.ndarray):
                        assert a.dtype == b.dtype and np.array_equal(a.view(np.uint8),
                                                                     b.view(np.uint8))
                    else:
                        assert a == b


def test_periodic_isosurface_is_the_padded_one(monkeypatch):
    """core.geometry.isosurface closes periodic axes in the kernel (no np.pad copy of the
    grid): the same mesh as the kernel on the padded grid, and as VTK on it."""
    vals = smooth_field((20, 22, 24), 9, sigma=1.5, dtype=np.float64)
    level = float(np.percentile(vals, 60))
    per = (True, True, True)
    mesh = isosurface(Volume(vals, SHEAR), level, periodic=per)
    v, f, n, _ = isokernel.extract_checked(_padded(vals, per), level, SHEAR)
    assert np.array_equal(mesh.vertices, v) and np.array_equal(mesh.faces, f)
    assert np.array_equal(mesh.normals, n)
    with monkeypatch.context() as m:
        m.setattr(isokernel, "available", lambda: False)
        ref = isosurface(Volume(vals, SHEAR), level, periodic=per)
    assert_same_surface(mesh, ref)
    # NaN on a wrapped sample: found through the wrap as through the copy
    bad = vals.copy()
    bad[0, 3, tuple(np.argwhere(vals[0, 3] > level)[0])[0]] = np.nan
    assert isokernel.extract_checked(bad, level, SHEAR, periodic=per)[3] == \
        isokernel.extract_checked(_padded(bad, per), level, SHEAR)[3]


def test_periodic_size_checks():
    one_layer = np.zeros((1, 5, 5), np.float32)
    isokernel.extract(one_layer, 0.5, np.eye(4), periodic=(True, False, False))  # 2 with wrap
    with pytest.raises(BadInputError, match="at least 2"):
        isokernel.extract(one_layer, 0.5, np.eye(4), periodic=(False, True, True))
    with pytest.raises(BadInputError, match="3 flags"):
        isokernel.extract(one_layer, 0.5, np.eye(4), periodic=(True,))
