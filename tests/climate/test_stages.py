"""Climate geometry stages: isosurfaces through the map/globe, surface layers, volumes."""

from __future__ import annotations

import numpy as np
import pytest

from climate_pipeline import stages
from climate_pipeline.geo import GlobeProjection, MapProjection


def blob(lon, lat, h, c=(0.0, 40.0, 1000.0), r_km=150.0):
    """Concentration falling off with distance (km) from a point at height c[2] m."""
    L, A, H = np.meshgrid(lon, lat, h, indexing="xy")  # (lat, lon, h)
    dx = np.radians(L - c[0]) * 6371 * np.cos(np.radians(c[1]))
    dy = np.radians(A - c[1]) * 6371
    dz = (H - c[2]) / 1000 * 50  # km, exaggerated like the scene
    v = np.exp(-(dx**2 + dy**2 + dz**2) / (2 * r_km**2))
    return np.ascontiguousarray(v.transpose(2, 0, 1))  # (z, y, x)


LON = np.linspace(-6, 6, 61)
LAT = np.linspace(34, 46, 61)
H = np.concatenate([[0.0], np.geomspace(100, 6000, 15)])  # non-uniform levels


@pytest.mark.parametrize("proj", [MapProjection.for_region(LON, LAT, exaggeration=50),
                                  GlobeProjection(exaggeration=50)])
def test_isosurface_geo_is_a_sphere_in_scene_space(proj):
    v = blob(LON, LAT, H)
    level = np.exp(-0.5)  # at r = r_km
    mesh = stages.isosurface_geo(v, level, LON, LAT, H, proj)
    assert mesh.n_faces > 100
    centre = proj.forward([0.0], [40.0], [1000.0])[0]
    r = np.linalg.norm(mesh.vertices - centre, axis=1)
    assert np.median(r) == pytest.approx(150.0, rel=0.05)
    out = ((mesh.vertices - centre) * mesh.normals).sum(1)
    assert (out > 0).mean() > 0.97  # normals and winding point outward
    assert mesh.volume() > 0
    assert {"lon", "lat", "height_m"} <= set(mesh.attributes)


@pytest.mark.parametrize("flip", ["none", "lat", "lon", "both"])
@pytest.mark.parametrize("globe", [False, True])
@pytest.mark.parametrize("rising", [True, False])
def test_flat_isosurface_normals_face_the_high_side(flip, globe, rising):
    """A horizontal surface (values change with height only) spans no volume: its winding
    comes from the grid map's orientation, whatever the axes' directions and the projection,
    and its normals point out of the region above the level (to the low side), as the
    blob's do."""
    lon = LON[::-1] if flip in ("lon", "both") else LON
    lat = LAT[::-1] if flip in ("lat", "both") else LAT
    v = np.broadcast_to(np.arange(len(H), dtype=np.float32)[:, None, None],
                        (len(H), len(lat), len(lon)))
    v = np.ascontiguousarray(v if rising else v[::-1] * 1)
    proj = (GlobeProjection(exaggeration=50) if globe
            else MapProjection.for_region(lon, lat, exaggeration=50))
    mesh = stages.isosurface_geo(v, 5.5, lon, lat, H, proj, closed=False)
    assert mesh.n_faces > 100
    up = (mesh.vertices / np.linalg.norm(mesh.vertices, axis=1, keepdims=True) if globe
          else np.array([0.0, 0.0, 1.0]))
    facing = (mesh.normals * up).sum(1)
    assert (facing < -0.9).all() if rising else (facing > 0.9).all()
    fn = np.cross(*(mesh.vertices[mesh.faces[:, k]] - mesh.vertices[mesh.faces[:, 0]]
                    for k in (1, 2)))
    along = (fn * (up[mesh.faces[:, 0]] if globe else up)).sum(1)
    assert (along < 0).all() if rising else (along > 0).all()  # the winding agrees


def test_plume_leaving_the_domain_is_capped_not_cut():
    """A blob centred on the east wall: the default surface is closed there (every edge
    shared by two faces off the ground: no open cut), its cap lies on the wall and the
    surface keeps the cells next to it; closed=False leaves the cut open."""
    v = blob(LON - 6.0, LAT, H)  # centre at lon 6, the domain's east edge
    proj = MapProjection.for_region(LON, LAT, exaggeration=50)
    level = float(np.exp(-0.5))

    def open_edges(m):  # edges of one face only, off the ground (the ground stays open)
        e = np.sort(np.concatenate([m.faces[:, [0, 1]], m.faces[:, [1, 2]],
                                    m.faces[:, [2, 0]]]), axis=1)
        edges, counts = np.unique(e, axis=0, return_counts=True)
        aloft = (m.attributes["height_m"][edges] > 1.0).any(axis=1)
        return int(((counts == 1) & aloft).sum())

    capped = stages.isosurface_geo(v, level, LON, LAT, H, proj)
    cut = stages.isosurface_geo(v, level, LON, LAT, H, proj, closed=False)
    assert open_edges(cut) > 20
    assert open_edges(capped) == 0
    assert capped.volume() > 0
    lon = capped.attributes["lon"]
    assert lon.max() == pytest.approx(LON[-1], abs=1e-4)  # the cap, on the east wall
    assert (np.abs(lon - LON[-1]) < 1e-4).sum() > 20
    assert capped.n_faces >= cut.n_faces


def test_grid_orientation_is_the_sign_of_the_grid_maps_jacobian():
    proj = MapProjection.for_region(LON, LAT)
    shape = (len(H), len(LAT), len(LON))
    s = stages.grid_orientation(shape, LON, LAT, H, proj)
    assert s in (1.0, -1.0)
    assert stages.grid_orientation(shape, LON[::-1], LAT, H, proj) == -s  # one axis reflected
    assert stages.grid_orientation(shape, LON[::-1], LAT[::-1], H, proj) == s  # two: rotated


def test_nan_counts_as_below_and_all_nan_errors():
    v = blob(LON, LAT, H)
    v[:, :5, :] = np.nan
    mesh = stages.isosurface_geo(v, 0.5, LON, LAT, H, MapProjection.for_region(LON, LAT))
    assert np.isfinite(mesh.vertices).all()
    from core.errors import BadInputError

    with pytest.raises(BadInputError, match="missing"):
        stages.isosurface_geo(np.full_like(v, np.nan), 0.5, LON, LAT, H,
                              MapProjection.for_region(LON, LAT))


def test_surface_layer_faces_up_and_nan_transparent():
    from core.colormaps import apply

    v = blob(LON, LAT, H)[0]
    v[0, 0] = np.nan
    for proj in (MapProjection.for_region(LON, LAT), GlobeProjection()):
        m = stages.surface_layer(v, LON, LAT, proj, apply(v, "viridis", 0, 1), height_m=0)
        up = proj.up(np.array([0.0]), np.array([40.0]))[0]
        assert (m.normals is None) == (proj.name == "map")  # a plane needs none
        normals = stages.vertex_normals(m.vertices, m.faces)  # what a reader derives
        mid = len(normals) // 2
        assert np.dot(normals[mid], up) > 0.9  # the faces' winding points up
        assert m.colors[0, 3] == 0 and m.colors[1, 3] == 255


def test_volume_map_places_samples_exactly():
    proj = MapProjection.for_region(LON, LAT, exaggeration=50)
    v = blob(LON, LAT, H)
    vol = stages.volume_map(v, LON, LAT, H, proj, "pm10", "ug m-3")
    vals, new_h = stages.uniform_levels(v, H)
    nz = len(new_h)
    assert vol.values.shape == (nz, len(LAT), len(LON))
    assert np.linalg.det(vol.affine[:3, :3]) > 0  # right-handed: not a mirror image
    # every sample sits where the projection puts its grid point, with its value
    rng = np.random.default_rng(2)
    for kz, ky, kx in zip(rng.integers(0, nz, 20), rng.integers(0, len(LAT), 20),
                          rng.integers(0, len(LON), 20), strict=True):
        idx = [nz - 1 - kz, ky, kx]  # levels from the top
        np.testing.assert_allclose(vol.index_to_world(idx),
                                   proj.forward([LON[kx]], [LAT[ky]], [new_h[kz]])[0],
                                   atol=1e-6)
        assert vol.values[tuple(idx)] == vals[kz, ky, kx]
    # uniform levels: the value at a level equals linear interpolation in height
    k = 7
    expect = np.array([np.interp(new_h[k], H, v[:, 30, 30])])
    assert vals[k, 30, 30] == pytest.approx(expect[0], rel=1e-5)
    assert vals.dtype == np.float32
    # evenly spaced levels pass through unchanged (no resampling copy)
    even = np.linspace(0.0, 5000.0, 6)
    w = np.random.default_rng(1).random((6, 4, 5)).astype(np.float32)
    same, hh = stages.uniform_levels(w, even)
    assert same is w and np.array_equal(hh, even)


# --- the volume on the globe ---------------------------------------------------------------------
def _voxel_geo(vol, proj, idx):
    """(lon, lat, height m) of voxel centres ``idx`` (n, 3) of ``vol``."""
    p = idx @ vol.affine[:3, :3].T + vol.affine[:3, 3]
    r = np.linalg.norm(p, axis=1)
    lon = np.degrees(np.arctan2(p[:, 1], p[:, 0]))
    lat = np.degrees(np.arcsin(p[:, 2] / r))
    return lon, lat, (r - proj.radius_km) * 1000.0 / proj.exaggeration


def test_globe_volume_puts_each_value_at_its_place_on_the_shell():
    from climate_pipeline.geo import GlobeProjection
    from climate_pipeline.stages import volume_globe

    lon = np.linspace(-10.0, 5.0, 31)
    lat = np.linspace(35.0, 45.0, 21)
    h = np.array([0.0, 500.0, 1500.0, 3000.0, 5000.0])  # uneven levels
    # a field linear in height and in latitude: trilinear sampling reproduces it exactly
    values = (h[:, None, None] / 1000.0 + 0.1 * lat[None, :, None]) * np.ones((1, 1, lon.size))
    proj = GlobeProjection(exaggeration=50.0)
    vol = volume_globe(values, lon, lat, h, proj, "field", "ug m-3", max_voxels=96)
    assert max(vol.values.shape) <= 96 + 3 and vol.values.dtype == np.float32
    idx = np.argwhere(vol.values > 0)
    assert len(idx) > 1000
    vlon, vlat, vh = _voxel_geo(vol, proj, idx)
    assert vlon.min() >= -10.0 - 1e-6 and vlon.max() <= 5.0 + 1e-6
    assert vlat.min() >= 35.0 - 1e-6 and vh.min() >= -1e-6 and vh.max() <= 5000.0 + 1e-6
    expect = vh / 1000.0 + 0.1 * vlat
    np.testing.assert_allclose(vol.values[tuple(idx.T)], expect, rtol=2e-5)
    # outside the patch (east of 5E at mid-shell) stays empty
    p = proj.forward([8.0], [40.0], [2500.0])[0]
    i = np.round(np.linalg.solve(vol.affine[:3, :3], p - vol.affine[:3, 3])).astype(int)
    if np.all((i >= 0) & (i < vol.values.shape)):
        assert vol.values[tuple(i)] == 0.0


def test_globe_volume_wraps_across_the_seam_of_a_global_grid():
    from climate_pipeline.geo import GlobeProjection
    from climate_pipeline.stages import volume_globe

    lon = np.arange(0.0, 360.0, 5.0)
    lat = np.linspace(-60.0, 60.0, 25)
    h = np.array([0.0, 10000.0])
    field2d = 2.0 + np.cos(np.radians(lon))[None, :] * np.ones((lat.size, 1))
    values = np.stack([field2d, field2d])
    proj = GlobeProjection(exaggeration=100.0)
    vol = volume_globe(values, lon, lat, h, proj, "field", "", max_voxels=128)
    idx = np.argwhere(vol.values > 0)
    vlon, _vlat, _vh = _voxel_geo(vol, proj, idx)
    seam = (vlon % 360.0) > 355.0  # between the last column (355E) and the first (0E)
    assert seam.sum() > 20
    got = vol.values[tuple(idx[seam].T)]
    # linear in longitude between the two columns around the seam
    f = ((vlon[seam] % 360.0) - 355.0) / 5.0
    want = (1 - f) * (2.0 + np.cos(np.radians(355.0))) + f * 3.0
    np.testing.assert_allclose(got, want, rtol=1e-5)
