"""climate_pipeline.frames helpers for issue #9: wind grids the particle kernel takes, and
time labels/seconds for every time encoding the readers return."""

from __future__ import annotations

import datetime
from types import SimpleNamespace

import cftime
import numpy as np
import pytest

from climate_pipeline import particles as pt
from climate_pipeline.frames import _seconds, regular_wind_grid, time_label


def _wind(nlat, nlon, f):
    lat = np.linspace(10, 50, nlat)
    lon = np.linspace(-20, 40, nlon)
    return lon, lat, f(lon[None, None, :], lat[None, :, None]) * np.ones((2, nlat, nlon))


def test_descending_lon_is_flipped_with_the_winds():
    lon, lat, u = _wind(5, 7, lambda x, y: x + 0 * y)
    lo, la, (uu,) = regular_wind_grid(lon[::-1], lat, [u[..., ::-1]])
    np.testing.assert_array_equal(lo, lon)
    np.testing.assert_array_equal(uu, u)
    pt._uniform_step(lo, "lon")


def test_seam_in_0_360_is_unwrapped():
    lon = np.concatenate([np.arange(340.0, 360.0), np.arange(0.0, 21.0)])
    u = np.broadcast_to(np.arange(lon.size, dtype=float), (1, 3, lon.size))
    lo, _la, (uu,) = regular_wind_grid(lon, np.array([0.0, 1.0, 2.0]), [u])
    np.testing.assert_allclose(lo, np.arange(340.0, 381.0))
    np.testing.assert_array_equal(uu, u)


def test_float32_rounding_is_snapped_not_refused():
    lon = (31.5 + 0.11 * np.arange(17)).astype(np.float32).astype(np.float64)
    with pytest.raises(ValueError, match="evenly spaced"):
        pt._uniform_step(lon, "lon")
    lo, _la, _ = regular_wind_grid(lon, np.array([0.0, 1.0]), [np.zeros((1, 2, 17))])
    assert pt._uniform_step(lo, "lon")[1] == pytest.approx(0.11, rel=1e-6)


def test_gaussian_latitudes_are_resampled_linearly():
    x, _w = np.polynomial.legendre.leggauss(16)
    lat = np.degrees(np.arcsin(x))  # Gaussian latitudes, ascending, uneven
    lon = np.arange(8) * 45.0
    v = np.broadcast_to((2.0 * lat + 1.0)[:, None], (1, 16, 8)).copy()
    lo, la, (vv,) = regular_wind_grid(lon, lat, [v])
    pt._uniform_step(la, "lat")
    assert la[0] == lat[0] and la[-1] == lat[-1]
    np.testing.assert_allclose(vv[0, :, 3], 2.0 * la + 1.0, rtol=1e-12)  # linear: exact


def _field(times):
    return SimpleNamespace(times=times, nt=len(times))


@pytest.mark.parametrize("times, label, secs", [
    ([datetime.timedelta(hours=h) for h in (0, 3, 6)], "+4.5 h", [0, 10800, 21600]),
    ([cftime.DatetimeNoLeap(2000, 1, 1), cftime.DatetimeNoLeap(2000, 1, 1, 6)],
     "2000-01-01 03:00 UTC", [0, 21600]),
    ([np.datetime64("2021-01-01T00"), np.datetime64("2021-01-01T01")],
     "2021-01-01 00:30", [0, 3600]),
    ([None, None, None], "step 1.5", [0, 3600, 7200]),
])
def test_time_labels_and_seconds_for_each_encoding(times, label, secs):
    f = _field(times)
    np.testing.assert_array_equal(_seconds(f), secs)
    assert time_label(f, 1.5 if len(times) > 2 else 0.5).startswith(label)
