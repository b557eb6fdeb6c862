"""The default climate input: CF-valid, and the pollutant moves with the winds it ships."""

from __future__ import annotations

import numpy as np
import pytest

from climate_pipeline import default_data as dd

SMALL = {"nlon": 48, "nlat": 32, "nz": 6, "hours": 4}


def test_blob_moves_with_a_uniform_wind():
    lon = np.linspace(-10, 5, 151)
    lat = np.linspace(35, 45, 101)
    LON, LAT = np.meshgrid(lon, lat)
    c = np.exp(-((LON + 5) ** 2 + (LAT - 40) ** 2) / 0.3)[None]
    u = np.full_like(c, 10.0)
    v = np.full_like(c, 5.0)
    dt = 600.0
    for _ in range(36):  # 6 hours
        c = dd._advect_horizontal(c, u, v, lon, lat, dt)
    w = c[0] / c[0].sum()
    clon, clat = (w * LON).sum(), (w * LAT).sum()
    t = 36 * dt
    expect_lat = 40 + np.degrees(5.0 * t / dd.R_EARTH)
    expect_lon = -5 + np.degrees(10.0 * t / (dd.R_EARTH * np.cos(np.radians(40.05))))
    assert clat == pytest.approx(expect_lat, abs=0.02)
    assert clon == pytest.approx(expect_lon, abs=0.02)


def test_vertical_mixing_conserves_mass_and_is_stable():
    z = dd.grid({**dd.DEFAULTS, "nz": 12})[2]
    m = dd.mixing_matrix(z, 600.0)
    thick = np.gradient(z)
    c = np.zeros((12, 1, 1))
    c[0] = 100.0
    for _ in range(500):
        c = np.einsum("kl,lij->kij", m, c)
        assert c.min() >= -1e-9
    assert (thick * c[:, 0, 0]).sum() == pytest.approx(100.0 * thick[0], rel=1e-9)
    assert np.ptp(c) < 1.0  # well mixed after ~3.5 days


def test_winds_are_non_divergent():
    lon, lat, z = dd.grid(dd.DEFAULTS)
    u, v, _ = dd.winds(lon, lat, z, 10.0)
    k = 6
    x = np.radians(lon) * dd.R_EARTH * np.cos(np.radians(40.0))
    y = np.radians(lat) * dd.R_EARTH
    # the stream function uses a fixed 40N metric: divergence in that metric vanishes
    div = np.gradient(u[k], x, axis=1) + np.gradient(v[k], y, axis=0)
    scale = np.abs(np.gradient(u[k], x, axis=1)).max()
    assert np.abs(div).max() < 0.05 * scale


def test_netcdf_is_cf_and_physically_sane(tmp_path):
    import xarray as xr

    p = dd.write_netcdf(tmp_path / "pm10.nc", SMALL)
    ds = xr.open_dataset(p, decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    assert ds.pm10.attrs["units"] == "ug m-3"
    assert ds.u.attrs["standard_name"] == "eastward_wind"
    assert ds.pm10.dims == ("time", "height", "lat", "lon")
    assert ds.sizes["time"] == 4 and str(ds.time.values[1])[:13] == "2026-07-01 01"
    pm = ds.pm10.values
    assert np.isfinite(pm).all() and pm.min() >= 11.9  # background 12 ug m-3
    i = int(np.abs(ds.lat.values - 40.42).argmin())
    j = int(np.abs(ds.lon.values + 3.70).argmin())
    assert pm[-1, 0, i, j] > pm[0, 0, i, j]  # Madrid's emissions build up
    assert dd.write_netcdf(p, SMALL) == p  # kept, not recomputed
