"""Level of detail (core.lod), sparse VDB volumes and the --formats choice (issue #16).

References are analytic: a sphere's radius and radial normals, a torus's Euler
characteristic, a colour that is a known function of position, a blob's voxel count.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import BadInputError
from core.geometry import Mesh, Volume, isosurface
from core.io import DEFAULT_FORMATS, RENDER_FORMAT, asset_formats, asset_paths
from core.lod import MIN_TRIANGLES, lod_mesh, simplify, triangle_budget, view_area


def _grid(n: int, lo: float = -1.0, hi: float = 1.0):
    x = np.linspace(lo, hi, n)
    step = (hi - lo) / (n - 1)
    aff = np.diag([step, step, step, 1.0])
    aff[:3, 3] = lo
    return np.meshgrid(x, x, x, indexing="ij"), aff


def _sphere(n: int = 120, r: float = 0.7) -> Mesh:
    (x, y, z), aff = _grid(n)
    return isosurface(Volume(np.sqrt(x * x + y * y + z * z), aff), r)


def _torus(n: int = 120, big: float = 0.6, small: float = 0.25) -> Mesh:
    (x, y, z), aff = _grid(n)
    f = (np.sqrt(x * x + y * y) - big) ** 2 + z * z
    return isosurface(Volume(f, aff), small * small)


def _euler(m: Mesh) -> int:
    f = m.faces
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    n_edges = len(np.unique(edges, axis=0))
    return len(np.unique(f)) - n_edges + len(f)


def _with_data(m: Mesh) -> Mesh:
    """The mesh with a colour and a float attribute that are linear in position, and ids."""
    v = m.vertices.astype(np.float64)
    red = np.clip(np.rint(127.5 + 120 * v[:, 0]), 0, 255)
    colors = np.stack([red, np.full(len(v), 40.0), 255 - red, np.full(len(v), 255.0)], 1)
    return Mesh(m.vertices, m.faces, m.normals,
                {"height": (2.0 * v[:, 2] + 1.0).astype(np.float32),
                 "id": np.arange(len(v), dtype=np.int64)},
                colors.astype(np.uint8))


def test_budget_is_one_triangle_per_covered_pixel():
    # a 1 x 1 sphere of area 4 pi r^2 in a 10 x 10 view: half its area faces the camera
    area, view, res = 4 * math.pi * 2.0**2, 100.0, (800, 450)
    want = math.ceil(0.5 * area / view * 800 * 450)
    assert triangle_budget(area, view, res) == want
    # twice the pixels, twice the triangles
    assert triangle_budget(area, view, (1600, 900)) == pytest.approx(4 * want, rel=1e-6)
    # a tiny surface still gets the floor, a huge one at most MAX_LAYERS frames' worth
    assert triangle_budget(1e-6, view, res) == MIN_TRIANGLES
    assert triangle_budget(1e9, view, res) == 4 * 800 * 450
    # the view is the two largest extents of the bounds, whatever their order
    assert view_area([[0, 0, 0], [3, 40, 20]]) == 800.0


def test_simplify_keeps_shape_normals_and_topology():
    full = _torus()
    assert full.n_faces > 60_000
    target = full.n_faces // 8
    low = simplify(full, target)
    assert target * 0.9 <= low.n_faces <= target
    # topology: a torus stays a torus (V - E + F = 0), closed (every edge in two faces)
    assert _euler(full) == 0 and _euler(low) == 0
    # shape: every vertex stays on the analytic surface, within a fraction of a grid step
    v = low.vertices.astype(np.float64)
    tube = np.sqrt((np.hypot(v[:, 0], v[:, 1]) - 0.6) ** 2 + v[:, 2] ** 2)
    step = 2.0 / 119
    assert np.abs(tube - 0.25).max() < 0.25 * step
    # normals: smooth (carried over from the isosurface), not faceted: the analytic normal
    ring = np.stack([v[:, 0], v[:, 1], np.zeros(len(v))], 1)
    ring *= (0.6 / np.maximum(np.linalg.norm(ring, axis=1), 1e-12))[:, None]
    # (isosurface normals point down the gradient: f grows away from the tube's core)
    want = (ring - v) / np.linalg.norm(v - ring, axis=1, keepdims=True)
    ang = np.degrees(np.arccos(np.clip((low.normals * want).sum(1), -1, 1)))
    assert np.median(ang) < 1.0 and ang.max() < 8.0
    # winding: the face normals point the way the vertex normals do (outwards)
    a, b, c = (v[low.faces[:, k]] for k in range(3))
    fn = np.cross(b - a, c - a)
    assert ((fn * low.normals[low.faces].mean(1)).sum(1) > 0).mean() > 0.999


def test_simplify_interpolates_colours_and_attributes():
    full = _with_data(_sphere())
    low = simplify(full, full.n_faces // 10)
    assert low.n_faces < full.n_faces // 9
    v = low.vertices.astype(np.float64)
    # the colour at each kept vertex is the mean of its cluster: close to the linear function
    red = 127.5 + 120 * v[:, 0]
    assert np.abs(low.colors[:, 0].astype(float) - red).max() < 8
    assert (low.colors[:, 1] == 40).all() and (low.colors[:, 3] == 255).all()
    np.testing.assert_allclose(low.attributes["height"], 2.0 * v[:, 2] + 1.0, atol=0.06)
    assert low.attributes["height"].dtype == np.float32
    # ids are not averaged: each is one of the original ids, each used at most once
    ids = low.attributes["id"]
    assert ids.dtype == np.int64 and len(np.unique(ids)) == len(ids)
    assert ids.min() >= 0 and ids.max() < full.n_vertices


def test_simplify_keeps_the_border_where_a_surface_meets_the_grid_edge():
    # a wavy sheet z = 0.1 sin(3x) cut by the grid's box: an open surface with a border
    (x, y, z), aff = _grid(100)
    m = isosurface(Volume(z - 0.1 * np.sin(3 * x), aff), 0.0)
    low = simplify(m, m.n_faces // 10)
    assert low.n_faces < m.n_faces // 9
    # the sheet still reaches every edge of the box
    for axis in (0, 1):
        lo, hi = low.vertices[:, axis].min(), low.vertices[:, axis].max()
        assert lo == pytest.approx(-1.0, abs=1e-6) and hi == pytest.approx(1.0, abs=1e-6)


def test_lod_mesh_full_res_and_small_meshes_are_untouched():
    m = _sphere(150)
    assert m.n_faces > 2 * MIN_TRIANGLES
    same, before = lod_mesh(m, 4.0, (800, 450), full_res=True)
    assert same is m and before == m.n_faces
    # in an 80 x 45 frame the sphere covers ~2800 px: the budget is the floor
    low, before = lod_mesh(m, 4.0, (80, 45))
    assert before == m.n_faces and 0.9 * MIN_TRIANGLES <= low.n_faces <= MIN_TRIANGLES
    # in an 800 x 450 frame it needs more triangles than it has: kept whole
    assert lod_mesh(m, 4.0, (800, 450))[0].n_faces == m.n_faces
    small = _sphere(40)
    assert small.n_faces < MIN_TRIANGLES
    assert lod_mesh(small, 4.0, (80, 45))[0] is small


def test_empty_space_costs_nothing_in_a_vdb(tmp_path):
    """A small blob in a large empty grid: the file grows with the blob, not the grid."""
    from core.io.vdb import read_vdb, write_vdb

    sizes = {}
    for n in (64, 256):
        vals = np.zeros((n, n, n), np.float32)
        vals[10:26, 10:26, 10:26] = np.linspace(1, 2, 16 ** 3, dtype=np.float32).reshape(16, 16, 16)
        vals[40, 40, 40] = 1e-4  # below the tolerance: pruned, not stored
        p = write_vdb(Volume(vals, name="density"), tmp_path / f"b{n}.vdb", tolerance=1e-3,
                      half=True)
        sizes[n] = p.stat().st_size
        back = read_vdb(p)  # the active voxels' bounding box: the lone 1e-4 voxel is gone
        assert back.values.shape == (16, 16, 16)
        np.testing.assert_allclose(back.affine[:3, 3], [10, 10, 10])
        np.testing.assert_allclose(back.values, vals[10:26, 10:26, 10:26], rtol=2.0**-11)
    # 64x more voxels, the same file (a few hundred bytes of tree and metadata apart)
    assert sizes[256] < sizes[64] + 1024
    # the blob touches 3^3 leaves of 8^3 voxels: at most 27 x 512 half floats, against 32 MB
    # for the dense 256^3 grid
    assert sizes[256] < 27 * 512 * 2


def test_formats_by_consumer():
    assert DEFAULT_FORMATS == ("usd", "glb") and RENDER_FORMAT in DEFAULT_FORMATS
    assert asset_formats(["PLY", "usd"]) == ("usd", "glb", "ply")  # the renderer's is added
    assert asset_formats(["usd"]) == ("usd", "glb")
    with pytest.raises(BadInputError) as err:
        asset_formats(["usd", "obj"])
    msg = str(err.value)
    assert msg.startswith("--formats:") and "obj" in msg and "usd, glb, ply" in msg
    assert asset_paths("assets/0000/iso_0", ("usd", "glb", "ply")) == (
        "assets/0000/iso_0.glb", ["assets/0000/iso_0.usdc", "assets/0000/iso_0.ply"])
    assert asset_paths("assets/0000/iso_0", ("glb",)) == ("assets/0000/iso_0.glb", None)


@pytest.mark.parametrize("scale, half_stored", [(1.0, True), (101325.0, False), (1e-8, False)])
def test_half_floats_only_where_they_fit(tmp_path, scale, half_stored):
    """Pressure in Pa (> 65504) or concentrations in kg m-3 (< 2**-14) would become inf or
    lose their digits in float16: those grids are stored as float32."""
    from core.io.vdb import fits_half, read_vdb, write_vdb

    vals = (np.linspace(1.0, 2.0, 8**3) * scale).reshape(8, 8, 8).astype(np.float32)
    assert fits_half(vals) is half_stored
    back = read_vdb(write_vdb(Volume(vals), tmp_path / "v.vdb", half=True)).values
    assert np.isfinite(back).all()
    err = np.abs(back.astype(np.float64) / vals - 1).max()
    assert err <= (2.0**-11 if half_stored else 0.0)
    assert bool(err > 0) == half_stored  # half really is stored where it fits


def test_simplify_carries_data_past_vertices_of_no_kept_triangle():
    # a vertex in no triangle at all (and the slivers of the NAME ash plume's thin sheets)
    # maps to no kept vertex in the collapse history: its colour/attributes went to index -1
    # (np.bincount: "'list' argument must have no negative elements")
    m = _with_data(_sphere(60))
    lone = np.array([[5.0, 5.0, 5.0]], np.float32)
    m = Mesh(np.vstack([m.vertices, lone]), m.faces, np.vstack([m.normals, [[0, 0, 1]]]),
             {k: np.concatenate([v, v[:1]]) for k, v in m.attributes.items()},
             np.vstack([m.colors, m.colors[:1]]))
    s = simplify(m, m.n_faces // 4)
    assert s.n_faces <= m.n_faces // 4 + 10
    assert np.isfinite(s.normals).all() and s.colors.shape == (len(s.vertices), 4)
    assert all(len(v) == len(s.vertices) for v in s.attributes.values())


def test_a_vdb_with_no_active_voxel_reads_back_empty(tmp_path):
    # a climate frame whose field lies wholly below the tolerance writes a grid with no active
    # voxel; reading it back gave "negative dimensions are not allowed" (resume test, CI)
    from core.io.vdb import read_vdb, write_vdb

    v = Volume(np.full((4, 5, 6), 0.1, np.float32), np.eye(4), "field", "ug m-3")
    back = read_vdb(write_vdb(v, tmp_path / "empty.vdb", tolerance=1.0))
    assert back.values.shape == (0, 0, 0) and back.name == "field"
