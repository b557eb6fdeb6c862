"""climate_pipeline.readers.grib (ecCodes) on the corpus's GRIB files, against raw ecCodes
values."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from climate_pipeline.readers import open_field
from climate_pipeline.readers.grib import regrid_reduced_row
from core.errors import BadInputError

D = Path(__file__).resolve().parent.parent / "data" / "real" / "climate"
ERA5 = D / "era5-levels-members.grib"


def _raw(path: Path, **want) -> list[tuple[dict, np.ndarray]]:
    """(keys, values) of the messages whose keys equal ``want`` (plain ecCodes)."""
    import pyproj  # noqa: F401  (before eccodes: see climate_pipeline.readers.grib)

    ec = importlib.import_module("eccodes")
    out = []
    with open(path, "rb") as fh:
        while (h := ec.codes_grib_new_from_file(fh)) is not None:
            try:
                k = {x: ec.codes_get(h, x) for x in ("shortName", "number", "level",
                                                     "validityDate", "validityTime", "Ni",
                                                     "Nj")}
                if all(k[a] == b for a, b in want.items()):
                    out.append((k, ec.codes_get_values(h)))
            finally:
                ec.codes_release(h)
    return out


@pytest.mark.parametrize("member", [None, 3])
def test_era5_member_levels_and_values(member):
    f = open_field(ERA5, "t", member=member)
    assert f.shape == (4, 2, 61, 120) and f.units == "K"
    assert f.vertical_kind == "pressure_hPa" and list(f.vertical) == [850.0, 500.0]
    assert f.time_labels()[:2] == ["2017-01-01T00:00:00", "2017-01-01T12:00:00"]
    assert any(f"member {member or 0} of 10" in n for n in f.notes)
    (k, raw), = _raw(ERA5, shortName="t", number=member or 0, level=500,
                    validityDate=20170101, validityTime=1200)
    grid = raw.reshape(k["Nj"], k["Ni"])[::-1]  # north to south in the file
    order = np.argsort(((np.arange(k["Ni"]) * 3.0) + 180) % 360 - 180, kind="stable")
    np.testing.assert_array_equal(f.frame(1)[1], grid[:, order])
    assert f.lat[0] < f.lat[-1] and f.lon[0] == -180.0


def test_variable_by_cf_name_and_errors_list_the_variables():
    assert open_field(ERA5, "air_temperature").name == "t"
    # no --var: the first field in file order, named in the notes with the others
    first = open_field(ERA5)
    assert first.name == "z"
    assert any("drawing the first, 'z'" in n and "t" in n for n in first.notes)
    with pytest.raises(BadInputError, match=r"'q' not found; variables there: z .*t \("):
        open_field(ERA5, "q")
    with pytest.raises(BadInputError, match=r"no ensemble member 12; members there: \[0, 1"):
        open_field(ERA5, "t", member=12)


def test_member_is_refused_for_netcdf():
    with pytest.raises(BadInputError, match=r"rotated_pole\.nc: --member 1.*GRIB"):
        open_field(D / "rotated_pole.nc", member=1)


def test_reduced_gaussian_regridded_rows():
    f = open_field(D / "reduced_gg.grib")
    assert f.shape == (1, 1, 96, 192) and any("reduced Gaussian" in n for n in f.notes)
    (k, raw), = _raw(D / "reduced_gg.grib")
    a = f.frame(0)[0]
    assert np.isfinite(a).all()
    assert raw.min() <= a.min() and a.max() <= raw.max()
    assert np.all(np.diff(f.lat) > 0) and np.allclose(np.diff(f.lon), 360 / 192)


def test_regrid_reduced_row_is_linear_and_periodic():
    lon = np.arange(20) * 18.0
    vals = np.cos(np.deg2rad(lon))
    out = regrid_reduced_row(lon, vals, np.array([0.0, 9.0, 351.0, 18.0]), periodic=True)
    np.testing.assert_allclose(out, [1.0, (1 + np.cos(np.deg2rad(18))) / 2,
                                     (1 + np.cos(np.deg2rad(342))) / 2, np.cos(np.deg2rad(18))])
    vals[3] = np.nan
    out = regrid_reduced_row(lon, vals, np.array([45.0, 60.0, 90.0]), periodic=True)
    assert np.isnan(out[:2]).all() and np.isfinite(out[2])


@pytest.mark.parametrize("name, kind", [("lambert_grid.grib", "lambert"),
                                        ("polar_stereo.grib2", "polar_stereographic")])
def test_projected_grids_are_curvilinear(name, kind):
    f = open_field(D / name)
    assert f.lon.ndim == 2 and f.lon.shape == f.shape[2:]
    assert any(kind in n for n in f.notes)
    assert np.isfinite(f.lon).all() and np.abs(f.lat).max() <= 90


def _triplets(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ecCodes' own (latitude, longitude, value) of every point of a one-message file: the
    place of each value whatever the scanning mode, independent of any reshaping."""
    import pyproj  # noqa: F401  (before eccodes: see climate_pipeline.readers.grib)

    ec = importlib.import_module("eccodes")
    with open(path, "rb") as fh:
        h = ec.codes_grib_new_from_file(fh)
    try:
        return tuple(np.asarray(ec.codes_get_array(h, k), np.float64)  # type: ignore[return-value]
                     for k in ("latitudes", "longitudes", "values"))
    finally:
        ec.codes_release(h)


def test_scanning_mode_64_latitudes_ascend():
    f = open_field(D / "scanning_mode_64.grib")
    (k, raw), = _raw(D / "scanning_mode_64.grib")
    assert f.lat[0] < f.lat[-1]
    assert np.nanmax(f.frame(0)) == pytest.approx(raw.max())


def test_scanning_mode_64_values_stay_at_their_latitudes_and_longitudes():
    """Every value of the field sits at ecCodes' latitude and longitude for it (a reader
    that flipped only the data rows, or only the latitudes, fails here); the rows are not
    symmetric, so a flip cannot pass by chance."""
    f = open_field(D / "scanning_mode_64.grib")
    lat, lon, val = _triplets(D / "scanning_mode_64.grib")
    a = f.frame(0)[0]
    j = np.abs(np.asarray(f.lat)[None, :] - lat[:, None]).argmin(1)
    dlon = (np.asarray(f.lon)[None, :] - lon[:, None] + 180.0) % 360.0 - 180.0
    i = np.abs(dlon).argmin(1)
    assert np.abs(np.asarray(f.lat)[j] - lat).max() < 1e-6
    assert np.abs(dlon[np.arange(lon.size), i]).max() < 1e-6
    np.testing.assert_array_equal(a[j, i], val)
    assert not np.allclose(a, a[::-1])
