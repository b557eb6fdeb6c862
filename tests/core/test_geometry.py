"""Geometry dataclasses and isosurfaces against analytic cases and a second library."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import BadInputError
from core.geometry import Curves, Mesh, Points, Volume, isosurface, periodic_weld

TRICLINIC = np.array([[6.0, 0.0, 0.0], [2.0, 5.5, 0.0], [1.0, 1.5, 5.0]])  # rows a, b, c


def gaussian_in_cell(cell, n, centre_frac, sigma, sign=1.0):
    """exp(-d^2 / 2 sigma^2) with d the minimum-image distance to the centre (periodic)."""
    shape = (n, n, n)
    idx = np.stack(np.meshgrid(*[np.arange(s) for s in shape], indexing="ij"), -1).reshape(-1, 3)
    frac = idx / np.array(shape)
    d = frac - np.asarray(centre_frac)
    d -= np.round(d)
    cart = d @ cell
    r2 = (cart**2).sum(1)
    values = sign * np.exp(-r2 / (2 * sigma**2)).reshape(shape)
    return Volume(values, Volume.affine_from_cell(cell, shape))


def sphere_radius(level, sigma):
    return sigma * np.sqrt(-2 * np.log(level))


def edge_use_counts(faces):
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    _, counts = np.unique(e, axis=0, return_counts=True)
    return counts


def test_sphere_area_and_volume_in_triclinic_cell():
    sigma, level = 0.9, 0.2
    vol = gaussian_in_cell(TRICLINIC, 72, [0.5, 0.5, 0.5], sigma)
    mesh = isosurface(vol, level)
    r = sphere_radius(level, sigma)
    assert mesh.area() == pytest.approx(4 * np.pi * r**2, rel=0.01)
    assert mesh.volume() == pytest.approx(4 / 3 * np.pi * r**3, rel=0.01)
    centre = np.array([0.5, 0.5, 0.5]) @ TRICLINIC
    dist = np.linalg.norm(mesh.vertices - centre, axis=1)
    assert np.abs(dist - r).max() < 0.03  # every vertex on the analytic sphere
    assert (edge_use_counts(mesh.faces) == 2).all()  # closed, manifold


def test_normals_point_outward_and_match_winding():
    vol = gaussian_in_cell(TRICLINIC, 48, [0.5, 0.5, 0.5], 0.9)
    mesh = isosurface(vol, 0.3)
    centre = np.array([0.5, 0.5, 0.5]) @ TRICLINIC
    radial = mesh.vertices - centre
    radial /= np.linalg.norm(radial, axis=1, keepdims=True)
    assert np.allclose(np.linalg.norm(mesh.normals, axis=1), 1, atol=1e-4)
    assert (np.einsum("ij,ij->i", radial, mesh.normals) > 0.95).mean() > 0.99
    assert mesh.volume() > 0  # counter-clockwise seen from outside


def test_negative_level_encloses_the_negative_lobe():
    sigma = 0.9
    vol = gaussian_in_cell(TRICLINIC, 48, [0.5, 0.5, 0.5], sigma, sign=-1.0)
    mesh = isosurface(vol, -0.2)
    r = sphere_radius(0.2, sigma)
    assert mesh.volume() == pytest.approx(4 / 3 * np.pi * r**3, rel=0.02)
    centre = np.array([0.5, 0.5, 0.5]) @ TRICLINIC
    radial = mesh.vertices - centre
    assert (np.einsum("ij,ij->i", radial, mesh.normals) > 0).mean() > 0.99


def test_left_handed_affine_keeps_outward_orientation():
    vol = gaussian_in_cell(np.eye(3) * 5, 40, [0.5, 0.5, 0.5], 0.8)
    mirror = np.diag([-1.0, 1.0, 1.0, 1.0]) @ vol.affine
    mesh = isosurface(Volume(vol.values, mirror), 0.3)
    assert mesh.volume() > 0
    assert mesh.vertices[:, 0].max() <= 0


def test_periodic_surface_closes_across_cell_faces():
    """A blob centred on a cell corner: open pieces without periodicity, a closed torus surface
    (after welding images) with it, and all vertices inside the parallelepiped."""
    sigma, level = 0.9, 0.25
    vol = gaussian_in_cell(TRICLINIC, 40, [0.0, 0.0, 0.0], sigma)
    open_mesh = isosurface(vol, level)
    assert (edge_use_counts(open_mesh.faces) == 1).any()  # holes at the cell faces

    mesh = isosurface(vol, level, periodic=(True, True, True))
    frac = mesh.vertices @ np.linalg.inv(TRICLINIC)
    assert frac.min() >= -1e-5 and frac.max() <= 1 + 1e-5
    welded = periodic_weld(mesh, TRICLINIC)
    assert (edge_use_counts(welded.faces) == 2).all()
    r = sphere_radius(level, sigma)
    assert mesh.area() == pytest.approx(4 * np.pi * r**2, rel=0.02)


def test_matches_scikit_image_marching_cubes():
    from skimage.measure import marching_cubes

    rng = np.random.default_rng(1)
    from scipy.ndimage import gaussian_filter

    vals = gaussian_filter(rng.standard_normal((40, 36, 32)), 3.0).astype(np.float32)
    level = float(np.percentile(vals, 70))
    mesh = isosurface(Volume(vals), level)
    v, f, _, _ = marching_cubes(vals, level)
    # different triangulations of the same surface: same area, same vertex cloud extent
    sk = Mesh(v, f)
    assert mesh.area() == pytest.approx(sk.area(), rel=0.01)
    assert np.allclose(mesh.bounds(), sk.bounds(), atol=1e-3)


def test_empty_and_bad_inputs():
    vol = Volume(np.zeros((4, 4, 4), np.float32))
    assert isosurface(vol, 1.0).n_faces == 0
    with pytest.raises(BadInputError, match="NaN"):
        isosurface(Volume(np.full((4, 4, 4), np.nan)), 0.1)
    holed = np.ones((6, 6, 6), np.float32)
    holed[2:4, 2:4, 2:4] = np.nan
    with pytest.raises(BadInputError, match="NaN"):
        isosurface(Volume(holed), 0.5)
    with pytest.raises(BadInputError, match="3-D"):
        Volume(np.zeros((4, 4)))
    with pytest.raises(BadInputError, match="singular"):
        Volume(np.zeros((2, 2, 2)), np.diag([1.0, 0.0, 1.0, 1.0]))
    with pytest.raises(BadInputError, match="faces"):
        Mesh(np.zeros((3, 3)), [[0, 1, 5]])
    with pytest.raises(BadInputError, match="colors"):
        Points(np.zeros((2, 3)), colors=np.zeros((2, 3)))
    with pytest.raises(BadInputError, match="counts"):
        Curves(np.zeros((3, 3)), [2, 2])


def test_affine_from_cell_places_samples_on_fractional_grid():
    aff = Volume.affine_from_cell(TRICLINIC, (10, 20, 30), origin=(1, 2, 3))
    vol = Volume(np.zeros((10, 20, 30)), aff)
    assert np.allclose(vol.index_to_world([10, 0, 0]), TRICLINIC[0] + [1, 2, 3])
    assert np.allclose(vol.index_to_world([5, 10, 15]), 0.5 * TRICLINIC.sum(0) + [1, 2, 3])


@settings(max_examples=25, deadline=None)
@given(
    shear=st.lists(st.floats(-0.6, 0.6), min_size=3, max_size=3),
    scale=st.floats(0.05, 3.0),
    level=st.floats(0.15, 0.8),
)
def test_isosurface_commutes_with_the_affine(shear, scale, level):
    """Extracting in a sheared frame equals extracting in index space, then transforming."""
    vol = gaussian_in_cell(np.eye(3) * 16, 16, [0.5, 0.5, 0.5], 3.0)
    aff = np.eye(4)
    aff[:3, :3] = scale * np.array([[1, shear[0], shear[1]], [0, 1, shear[2]], [0, 0, 1]])
    aff[:3, 3] = [3.0, -1.0, 2.0]
    direct = isosurface(Volume(vol.values, aff), level)
    via_index = isosurface(Volume(vol.values), level).transformed(aff)
    assert np.allclose(direct.vertices, via_index.vertices, atol=1e-4 * max(scale, 1))
    assert np.array_equal(direct.faces, via_index.faces)
    assert np.allclose(direct.normals, via_index.normals, atol=1e-3)


def test_curves_tubes_and_mesh_concatenate():
    c = Curves.from_polylines([np.c_[np.linspace(0, 1, 5), np.zeros(5), np.zeros(5)]], radius=0.1)
    tube = c.tubes(sides=12)
    assert tube.n_vertices == 5 * 12
    # lateral area of a cylinder of length 1 and radius 0.1 (polygonal: slightly less)
    assert tube.area() == pytest.approx(2 * np.pi * 0.1 * 1.0, rel=0.03)
    both = Mesh.concatenate([tube, tube.transformed(np.diag([1, 1, 1, 1.0]))])
    assert both.n_faces == 2 * tube.n_faces and both.faces.max() == 2 * tube.n_vertices - 1
