"""Grids and scene coordinates for the climate pipeline (pure functions, numpy in, numpy out).

* ``crs_from_cf`` : a pyproj CRS from a CF ``grid_mapping`` variable's attributes.
* ``to_lonlat`` : projected/rotated x, y -> true geographic lon, lat.
* ``rotated_to_true`` / ``rotate_winds`` : rotated-pole grids (CF ``rotated_latitude_longitude``)
  and their winds, rotated to true east/north (exact: the rotation's tangent map, no finite
  differences).
* ``normalize_longitudes`` / ``central_longitude`` / ``ascending`` : 0..360 vs -180..180,
  dateline-crossing regions kept contiguous, descending latitude flipped.
* ``MapProjection`` / ``GlobeProjection`` : lon, lat, height (m) -> scene x, y, z in km (Z up),
  with a vertical exaggeration; ``.up(lon, lat)`` gives local vertical unit vectors.

Example::

    proj = MapProjection.for_region(lon, lat, exaggeration=50)
    xyz = proj.forward(lon2d.ravel(), lat2d.ravel(), height_m.ravel())
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from core.errors import BadInputError

__all__ = [
    "EARTH_RADIUS_KM",
    "SUPPORTED_GRID_MAPPINGS",
    "crs_from_cf",
    "to_lonlat",
    "rotated_to_true",
    "true_to_rotated",
    "rotate_winds",
    "normalize_longitudes",
    "central_longitude",
    "ascending",
    "MapProjection",
    "GlobeProjection",
]

EARTH_RADIUS_KM = 6371.0

#: CF grid_mapping_name values that pyproj.CRS.from_cf implements.
SUPPORTED_GRID_MAPPINGS = (
    "albers_conical_equal_area",
    "azimuthal_equidistant",
    "geostationary",
    "lambert_azimuthal_equal_area",
    "lambert_conformal_conic",
    "lambert_cylindrical_equal_area",
    "latitude_longitude",
    "mercator",
    "oblique_mercator",
    "orthographic",
    "polar_stereographic",
    "rotated_latitude_longitude",
    "sinusoidal",
    "stereographic",
    "transverse_mercator",
    "vertical_perspective",
)


# --------------------------------------------------------------------------------------- CRS
def crs_from_cf(grid_mapping_attrs: dict[str, Any], *, variable: str = "") -> Any:
    """A ``pyproj.CRS`` from the attributes of a CF grid-mapping variable.

    ``variable`` (the grid-mapping or data variable's name) only makes error messages precise.
    Raises BadInputError for an unknown or missing ``grid_mapping_name``.
    """
    import pyproj

    attrs = {k: (v.tolist() if isinstance(v, np.ndarray | np.generic) else v)
             for k, v in dict(grid_mapping_attrs).items()}
    where = f" (variable {variable!r})" if variable else ""
    name = attrs.get("grid_mapping_name")
    if name not in SUPPORTED_GRID_MAPPINGS:
        raise BadInputError(
            f"unknown CF grid_mapping_name {name!r}{where}; expected one of: "
            + ", ".join(SUPPORTED_GRID_MAPPINGS)
        )
    try:
        return pyproj.CRS.from_cf(attrs)
    except Exception as exc:  # pyproj raises CRSError and friends
        raise BadInputError(
            f"CF grid mapping {name!r}{where}: attributes {attrs} do not define a CRS: {exc}"
        ) from exc


def to_lonlat(x: Any, y: Any, crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """True geographic (lon, lat) in degrees of points ``x, y`` given in ``crs``.

    ``crs`` is a pyproj CRS (or anything pyproj.CRS accepts, e.g. a cartopy CRS). Projected
    coordinates are in the CRS's units (metres for CF grid mappings); rotated-pole ones in
    rotated degrees. The datum is kept (no datum shift): the target is the CRS's own geodetic CRS.
    """
    import pyproj

    crs = pyproj.CRS(crs)
    tr = pyproj.Transformer.from_crs(crs, _geographic_of(crs), always_xy=True)
    return _transform(tr, x, y)


def _transform(tr: Any, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """``tr.transform`` on broadcast arrays of any shape (size-1 arrays passed as scalars, which
    pyproj's point path needs without numpy's deprecated array-to-scalar conversion)."""
    xa, ya = np.broadcast_arrays(np.asarray(x, np.float64), np.asarray(y, np.float64))
    if xa.size == 1:
        a, b = tr.transform(float(xa.item()), float(ya.item()))
        return np.full(xa.shape, a, np.float64), np.full(xa.shape, b, np.float64)
    a, b = tr.transform(np.ascontiguousarray(xa), np.ascontiguousarray(ya))
    return np.asarray(a, np.float64).reshape(xa.shape), np.asarray(b, np.float64).reshape(xa.shape)


def _geographic_of(crs: Any) -> Any:
    """The plain (unrotated) geographic CRS on the datum of ``crs``.

    ``geodetic_crs`` of a derived geographic CRS (rotated pole) is the rotated CRS itself, so a
    geographic CRS is built from its datum instead.
    """
    import pyproj
    from pyproj.crs import GeographicCRS

    if crs.is_derived or crs.geodetic_crs is None or crs.geodetic_crs.is_derived:
        try:
            return GeographicCRS(datum=crs.datum)
        except Exception:
            return pyproj.CRS("EPSG:4326")
    return crs.geodetic_crs


# ------------------------------------------------------------------------------ rotated pole
def _rot_matrix(pole_lon: float, pole_lat: float, north_pole_grid_longitude: float = 0.0
                ) -> np.ndarray:
    """3x3 matrix taking rotated-frame unit vectors to true-frame unit vectors.

    Convention of CF / PROJ ``ob_tran`` (o_lon_p = north_pole_grid_longitude): the rotated
    north pole lies at true (pole_lon, pole_lat); with north_pole_grid_longitude = 0 the rotated
    origin (0, 0) lies at true (pole_lon + 180, 90 - pole_lat).
    """
    a = -np.radians(90.0 - pole_lat)
    ry = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    b = np.radians(pole_lon + 180.0)
    rz = np.array([[np.cos(b), -np.sin(b), 0.0], [np.sin(b), np.cos(b), 0.0], [0.0, 0.0, 1.0]])
    c = -np.radians(north_pole_grid_longitude)
    rz0 = np.array([[np.cos(c), -np.sin(c), 0.0], [np.sin(c), np.cos(c), 0.0], [0.0, 0.0, 1.0]])
    return rz @ ry @ rz0


def _unit_xyz(lon_deg: np.ndarray, lat_deg: np.ndarray) -> np.ndarray:
    lo, la = np.radians(lon_deg), np.radians(lat_deg)
    return np.stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)], -1)


def _east_north(lon_deg: np.ndarray, lat_deg: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lo, la = np.radians(lon_deg), np.radians(lat_deg)
    east = np.stack([-np.sin(lo), np.cos(lo), np.zeros_like(lo)], -1)
    north = np.stack([-np.sin(la) * np.cos(lo), -np.sin(la) * np.sin(lo), np.cos(la)], -1)
    return east, north


def _xyz_to_lonlat(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon = np.degrees(np.arctan2(v[..., 1], v[..., 0]))
    # atan2, not arcsin: arcsin(z) loses half the digits near the poles (|z| -> 1)
    lat = np.degrees(np.arctan2(v[..., 2], np.hypot(v[..., 0], v[..., 1])))
    return lon, lat


def rotated_to_true(rlon: Any, rlat: Any, pole_lon: float, pole_lat: float,
                    north_pole_grid_longitude: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """True (lon, lat) in degrees (lon in -180..180) of rotated-pole grid points.

    ``pole_lon``, ``pole_lat`` are CF ``grid_north_pole_longitude`` / ``_latitude``.
    ``rlon``, ``rlat`` broadcast against each other (pass a meshgrid for a 2D grid).
    """
    rlon, rlat = np.broadcast_arrays(np.asarray(rlon, np.float64), np.asarray(rlat, np.float64))
    m = _rot_matrix(pole_lon, pole_lat, north_pole_grid_longitude)
    return _xyz_to_lonlat(_unit_xyz(rlon, rlat) @ m.T)


def true_to_rotated(lon: Any, lat: Any, pole_lon: float, pole_lat: float,
                    north_pole_grid_longitude: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Inverse of ``rotated_to_true``: rotated (rlon, rlat) of true (lon, lat)."""
    lon, lat = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
    m = _rot_matrix(pole_lon, pole_lat, north_pole_grid_longitude)
    return _xyz_to_lonlat(_unit_xyz(lon, lat) @ m)


def rotate_winds(u: Any, v: Any, rlon: Any, rlat: Any, pole_lon: float, pole_lat: float,
                 north_pole_grid_longitude: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Winds given along a rotated-pole grid's axes -> true eastward/northward components.

    ``u``, ``v`` broadcast against ``rlon``, ``rlat`` (e.g. u of shape (time, level, y, x) with a
    meshgrid of shape (y, x)). The rotated frame's local east/north unit vectors are carried to
    the true frame by the (exact, linear) rotation and projected on true east/north, so speed is
    preserved to rounding. At the true poles, where east is undefined, the limit along the
    meridian through the point is used.
    """
    rlon = np.asarray(rlon, np.float64)
    rlat = np.asarray(rlat, np.float64)
    rlon, rlat = np.broadcast_arrays(rlon, rlat)
    m = _rot_matrix(pole_lon, pole_lat, north_pole_grid_longitude)
    er, nr = _east_north(rlon, rlat)
    er, nr = er @ m.T, nr @ m.T
    lon, lat = _xyz_to_lonlat(_unit_xyz(rlon, rlat) @ m.T)
    et, nt = _east_north(lon, lat)
    cos_a = np.einsum("...i,...i->...", er, et)  # rotated east . true east
    sin_a = np.einsum("...i,...i->...", er, nt)  # rotated east . true north
    # Renormalise: the pair (cos_a, sin_a) is a rotation angle; keep speed exact.
    norm = np.hypot(cos_a, sin_a)
    norm = np.where(norm > 0, norm, 1.0)
    cos_a, sin_a = cos_a / norm, sin_a / norm
    u = np.asarray(u, np.float64)
    v = np.asarray(v, np.float64)
    u_true = u * cos_a - v * sin_a
    v_true = u * sin_a + v * cos_a
    return u_true, v_true


# ------------------------------------------------------------------------------- longitudes
def normalize_longitudes(lon: Any, center: float = 0.0) -> np.ndarray:
    """Longitudes wrapped into [center - 180, center + 180)."""
    lon = np.asarray(lon, np.float64)
    return (lon - center + 180.0) % 360.0 - 180.0 + center


def central_longitude(lon: Any) -> float:
    """Centre of the shortest arc holding all longitudes (in -180..180).

    A region 170E..170W (given as 170..190 or 170..-170) is centred on 180, not on 0: the
    largest gap between the sorted longitudes is the part of the circle the data leaves out.
    """
    lon = np.unique(np.mod(np.asarray(lon, np.float64).ravel(), 360.0))
    lon = lon[np.isfinite(lon)]
    if lon.size == 0:
        raise BadInputError("central_longitude: no finite longitudes")
    if lon.size == 1:
        return float(normalize_longitudes(lon[0]))
    gaps = np.diff(np.concatenate([lon, [lon[0] + 360.0]]))
    k = int(np.argmax(gaps))
    if gaps[k] <= 360.0 / lon.size * 1.0000001 and gaps.max() - gaps.min() < 1e-9:
        return 0.0  # evenly spaced global grid: keep Greenwich at the centre
    start = lon[(k + 1) % lon.size]  # first longitude after the gap
    end = lon[k]  # last longitude before the gap
    width = (end - start) % 360.0
    return float(normalize_longitudes(start + width / 2.0))


def ascending(lat: Any, data: Any = None, axis: int = -1) -> tuple[np.ndarray, Any]:
    """(lat, data) with latitude increasing: both flipped along ``axis`` of data if needed.

    ``lat`` is 1D. Returns ``data`` unchanged (possibly None) when latitude already ascends.
    Raises BadInputError for a non-monotonic latitude.
    """
    lat = np.asarray(lat, np.float64)
    if lat.ndim != 1:
        raise BadInputError(f"ascending: expected 1D latitude, got shape {lat.shape}")
    d = np.diff(lat)
    if lat.size < 2 or np.all(d > 0):
        return lat, data
    if not np.all(d < 0):
        raise BadInputError("ascending: latitude is neither increasing nor decreasing")
    if data is not None:
        data = np.flip(np.asarray(data), axis=axis)
    return lat[::-1].copy(), data


# ------------------------------------------------------------------------------ projections
@dataclass
class MapProjection:
    """Flat scene coordinates in km: x east, y north, z up = height_m / 1000 * exaggeration.

    Without ``crs`` an equirectangular projection centred on (center_lon, center_lat) with true
    scale along the central parallel (1 degree of latitude = 111.19 km). With ``crs`` (a
    projected pyproj CRS, e.g. the data's Lambert conformal grid) x, y come from that CRS, in km,
    relative to the projected centre. Longitudes are wrapped relative to ``center_lon``, so a
    region across the dateline stays contiguous.
    """

    center_lon: float = 0.0
    center_lat: float = 0.0
    exaggeration: float = 1.0
    crs: Any = None
    radius_km: float = EARTH_RADIUS_KM
    name: str = "map"

    @classmethod
    def for_region(cls, lon: Any, lat: Any, **kw: Any) -> MapProjection:
        """Centred on the data's longitudes (dateline-aware) and mid latitude."""
        lat = np.asarray(lat, np.float64)
        clat = float((np.nanmin(lat) + np.nanmax(lat)) / 2.0)
        return cls(center_lon=central_longitude(lon), center_lat=clat, **kw)

    def _xy_km(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.crs is None:
            k = np.radians(1.0) * self.radius_km
            x = (normalize_longitudes(lon, self.center_lon) - self.center_lon) * k
            x = x * np.cos(np.radians(self.center_lat))
            return x, (lat - self.center_lat) * k
        import pyproj

        crs = pyproj.CRS(self.crs)
        tr = pyproj.Transformer.from_crs(_geographic_of(crs), crs, always_xy=True)
        x, y = _transform(tr, lon, lat)
        x0, y0 = tr.transform(float(self.center_lon), float(self.center_lat))
        return (x - x0) / 1000.0, (y - y0) / 1000.0

    def forward(self, lon: Any, lat: Any, height_m: Any = 0.0) -> np.ndarray:
        lon, lat, h = np.broadcast_arrays(np.asarray(lon, np.float64),
                                          np.asarray(lat, np.float64),
                                          np.asarray(height_m, np.float64))
        x, y = self._xy_km(lon.ravel(), lat.ravel())
        z = h.ravel() / 1000.0 * self.exaggeration
        return np.stack([x, y, z], -1)

    def up(self, lon: Any, lat: Any) -> np.ndarray:
        lon, lat = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
        out = np.zeros((lon.size, 3))
        out[:, 2] = 1.0
        return out


@dataclass
class GlobeProjection:
    """Sphere of radius ``radius_km`` centred at the origin, Z through the north pole, X through
    (0E, 0N). A point at height h (m) lies at radius ``radius_km + h / 1000 * exaggeration``.
    """

    exaggeration: float = 1.0
    radius_km: float = EARTH_RADIUS_KM
    name: str = "globe"

    def forward(self, lon: Any, lat: Any, height_m: Any = 0.0) -> np.ndarray:
        lon, lat, h = np.broadcast_arrays(np.asarray(lon, np.float64),
                                          np.asarray(lat, np.float64),
                                          np.asarray(height_m, np.float64))
        r = self.radius_km + h.ravel() / 1000.0 * self.exaggeration
        return _unit_xyz(lon.ravel(), lat.ravel()) * r[:, None]

    def up(self, lon: Any, lat: Any) -> np.ndarray:
        lon, lat = np.broadcast_arrays(np.asarray(lon, np.float64), np.asarray(lat, np.float64))
        return _unit_xyz(lon.ravel(), lat.ravel())
