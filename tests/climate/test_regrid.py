"""Curvilinear winds resampled onto a regular lat-lon grid (climate_pipeline.regrid)."""

from __future__ import annotations

import numpy as np
import pytest

from climate_pipeline.regrid import CurvilinearRegrid


def _lambert_like(nj: int = 30, ni: int = 40):
    """A rotated, sheared 2-D lon/lat grid, as a Lambert conformal domain draws it."""
    j, i = np.mgrid[0:nj, 0:ni].astype(np.float64)
    lon = -10 + 0.5 * i + 0.08 * j + 0.002 * i * j
    lat = 35 + 0.4 * j - 0.05 * i
    return lon, lat


def test_linear_fields_are_reproduced_inside_and_nearest_outside():
    lon, lat = _lambert_like()
    rg = CurvilinearRegrid(lon, lat)
    assert rg.lon[0] == lon.min() and rg.lon[-1] == lon.max()
    assert rg.lat[0] == lat.min() and rg.lat[-1] == lat.max()
    f = 3.0 * lon - 2.0 * lat + 1.0  # barycentric interpolation is exact for linear fields
    stack = np.stack([f, 2 * f])[:, None]  # (2 steps, 1 level, nj, ni)
    out = rg(stack)
    assert out.shape == (2, 1, len(rg.lat), len(rg.lon)) and out.dtype == np.float32
    tx, ty = np.meshgrid(rg.lon, rg.lat)
    want = 3.0 * tx - 2.0 * ty + 1.0
    from matplotlib.path import Path as MPath

    edge = np.concatenate([np.column_stack([lon[0], lat[0]]),
                           np.column_stack([lon[:, -1], lat[:, -1]]),
                           np.column_stack([lon[-1, ::-1], lat[-1, ::-1]]),
                           np.column_stack([lon[::-1, 0], lat[::-1, 0]])])
    inside = MPath(edge).contains_points(np.column_stack([tx.ravel(), ty.ravel()]),
                                         radius=-1e-6).reshape(tx.shape)
    assert inside.mean() > 0.5
    np.testing.assert_allclose(out[0, 0][inside], want[inside], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(out[1, 0], 2 * out[0, 0], rtol=1e-6)
    # outside the domain (the map's corners): the nearest source value, never extrapolated
    rest = out[0, 0][~inside]
    assert rest.min() >= f.min() - 1e-3 and rest.max() <= f.max() + 1e-3


def test_missing_values_become_calm_and_shapes_are_checked():
    lon, lat = _lambert_like(10, 12)
    rg = CurvilinearRegrid(lon, lat)
    u = np.full((10, 12), np.nan)
    assert (rg(u) == 0).all()
    with pytest.raises(ValueError, match="expected"):
        rg(np.zeros((11, 12)))
    with pytest.raises(ValueError, match="2-D"):
        CurvilinearRegrid(lon[0], lat[0])


def test_a_domain_across_the_date_line_stays_narrow():
    lon, lat = _lambert_like(10, 12)
    lon = (lon + 185.0 + 180.0) % 360.0 - 180.0  # spans 175 E .. 175 W
    assert np.ptp(lon) > 300
    rg = CurvilinearRegrid(lon, lat)
    assert np.ptp(rg.lon) < 20
