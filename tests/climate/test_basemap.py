"""The base map's shaded relief (climate_pipeline.basemap), checked against the raster read
directly with PIL at full resolution (an independent decode and lookup)."""

import numpy as np
import pytest
from PIL import Image

from climate_pipeline import basemap as bm
from climate_pipeline import coastlines as cl
from climate_pipeline.geo import GlobeProjection, MapProjection

Image.MAX_IMAGE_PIXELS = None


@pytest.fixture(scope="module")
def full():
    with Image.open(bm.relief_path()) as im:
        assert im.size == (10800, 5400)  # what the module's geometry assumes
        return np.asarray(im.convert("RGB"))  # uint8, 175 MB


def test_full_scale_samples_pixel_centres_exactly(full):
    rng = np.random.default_rng(3)
    col = rng.integers(0, 10800, 200)
    row = rng.integers(0, 5400, 200)
    lon = -180.0 + (col + 0.5) / 30.0
    lat = 90.0 - (row + 0.5) / 30.0
    got = bm.relief_colors(lon, lat, px_per_deg=30.0)
    np.testing.assert_allclose(got, full[row, col] / 255.0, atol=1e-5)


def test_half_scale_is_the_average_of_the_full_raster(full):
    """The DCT-scaled decode at 15 px/degree agrees with a 2x2 box mean of the full image
    (libjpeg's scaled IDCT is close to, not exactly, a box filter)."""
    rng = np.random.default_rng(4)
    col = rng.integers(0, 5400, 400)
    row = rng.integers(1, 2699, 400)
    lon = -180.0 + (col + 0.5) / 15.0
    lat = 90.0 - (row + 0.5) / 15.0
    got = bm.relief_colors(lon, lat, px_per_deg=15.0)
    box = sum(full[2 * row + i, 2 * col + j].astype(np.float32)
              for i in (0, 1) for j in (0, 1)) / (4 * 255.0)
    assert np.median(np.abs(got - box)) < 0.02


def test_longitudes_wrap_and_land_and_sea_differ():
    a = bm.relief_colors([-179.99, 180.01 - 360.0, 179.99], [10.0, 10.0, 10.0])
    np.testing.assert_allclose(a[0], a[1], atol=1e-6)  # the same place
    assert np.abs(a[0] - a[2]).max() < 0.05  # neighbours across the dateline (Pacific)
    # Sahara (sand) vs Atlantic (pale blue): the ocean is bluer than the desert
    sahara, atlantic = bm.relief_colors([13.0, -30.0], [23.0, 30.0])
    assert atlantic[2] > atlantic[0] + 0.1 and sahara[0] > sahara[2]
    assert bm.water_weight(np.stack([sahara, atlantic])).tolist() == [0.0, 1.0]
    toned = bm.film_tone(np.stack([sahara, atlantic]))
    assert toned.dtype == np.uint8 and toned.shape == (2, 4)
    land, sea = toned[:, :3].astype(float)
    assert sea[2] > sea[0] + 30 and land[0] > land[2]  # sea deep blue, land keeps its hue
    assert land.max() < 215  # darkened for the film's dark background


def test_relief_layer_has_the_hill_shade_of_the_pyrenees():
    """Mountains show light and shade; the flat Meseta plateau and the sea are even."""
    bbox = (-4.0, 3.0, 41.0, 44.0)  # the Pyrenees and the Bay of Biscay
    proj = MapProjection.for_region([bbox[0], bbox[1]], [bbox[2], bbox[3]])
    mesh = cl.land_ocean_layer(proj, bbox, "50m", step_deg=1 / 15, relief=True)
    assert mesh.normals is None  # a plane
    ny, nx = 46, 106
    assert mesh.n_vertices == nx * ny
    grey = mesh.colors[:, :3].astype(float).mean(1).reshape(ny, nx)
    lons = np.linspace(bbox[0], bbox[1], nx)
    lats = np.linspace(bbox[2], bbox[3], ny)
    band = (lats > 42.4) & (lats < 43.0)
    mountains = grey[band][:, (lons > 0.0) & (lons < 2.0)]
    sea = grey[lats > 43.8][:, lons < -2.5]
    assert mountains.std() > 1.5 * sea.std()  # the sea keeps the raster's soft shading


def test_water_weight_agrees_with_natural_earth_land():
    """The colour rule for water agrees with the Natural Earth land polygons on 98 % of a
    lon/lat lattice over Europe and North Africa (it differs on coasts, lakes and rivers)."""
    lon, lat = np.meshgrid(np.linspace(-30, 40, 141), np.linspace(25, 70, 91))
    rgb = bm.relief_colors(lon.ravel(), lat.ravel(), 15.0)
    water = bm.water_weight(rgb) > 0.5
    land = cl.land_mask(lon.ravel(), lat.ravel(), "50m")
    assert (water != land).mean() > 0.98


def test_relief_globe_layer_keeps_radial_normals():
    mesh = cl.land_ocean_layer(GlobeProjection(), None, "110m", step_deg=4.0, relief=True)
    n = np.linalg.norm(mesh.normals, axis=1)
    np.testing.assert_allclose(n, 1.0, rtol=1e-5)
    land = mesh.attributes["land"] > 0.5
    blue = mesh.colors[:, 2].astype(int) - mesh.colors[:, 0].astype(int)
    assert np.median(blue[~land]) > 40 > np.median(blue[land])
