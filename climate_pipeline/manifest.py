"""The climate run's manifest: frames, static coastlines and base layer, legend, cameras."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import numpy as np

from climate_pipeline import products as P
from climate_pipeline.basemap import write_relief_texture
from climate_pipeline.builders import heights_m, projection
from climate_pipeline.coastlines import coastlines, land_ocean_layer, to_curves
from climate_pipeline.labels import quantity_title, source_of
from climate_pipeline.levels import level_label
from climate_pipeline.products import BACKGROUND
from core import camera, colormaps
from core import manifest as mf
from core.colormaps import colorbar_png, colorbar_size
from core.framecache import write_all
from core.io import RENDER_FORMAT, SUFFIX, asset_paths
from core.rundir import RunDir, frame_name
from core.units import pretty

if TYPE_CHECKING:
    from climate_pipeline.params import FrameParams
    from climate_pipeline.settings import ClimateSettings

def _u(units: str) -> str:
    """A unit as people write it (``ug m-3`` -> ``µg/m³``)."""

    return pretty(units)


def build_static(run: RunDir, field, params: FrameParams, s: ClimateSettings) -> tuple[list, Any]:
    """Coastlines (and borders) as curves and a land/ocean base layer, once per run."""

    lon2, lat2 = field.lonlat_2d()
    bbox = (float(np.min(lon2)), float(np.max(lon2)), float(np.min(lat2)), float(np.max(lat2)))
    proj = projection(params.projection, field.lon, field.lat)
    sdir = run.static
    sdir.mkdir(parents=True, exist_ok=True)
    fmts = params.formats
    files: list[str] = []
    lines = coastlines(s.coastlines, bbox, borders=s.borders)
    radius = coast_radius(scene_corners(field, proj), s.resolution[0])
    curves = to_curves(lines, proj, radius=radius,
                       height_m=coast_height_m(field, radius, params.projection.exaggeration))
    write_all(curves, sdir / P.COASTLINES.stem(), fmts, files, name=P.COASTLINES.stem(),
              meters_per_unit=1000.0, radius=radius)
    globe = params.projection.mode == "globe"
    ext: tuple[float, float, float, float] | None = base_extent(
        bbox, GLOBE_MARGIN if globe else BASE_MARGIN)
    if ext is not None and ext[1] - ext[0] >= 359.8 and ext[2] <= -89.5 and ext[3] >= 89.5:
        ext = None  # the whole globe
    # the relief is a texture (static/base_relief.jpg): the mesh only carries it

    tex = write_relief_texture(sdir / TEXTURE_FILE, ext)
    base = land_ocean_layer(proj, ext, s.coastlines, height_m=-300.0, texture=True,
                            step_deg=base_step(ext, globe))
    write_all(base, sdir / P.BASE.stem(), fmts, files, name=P.BASE.stem(), meters_per_unit=1000.0,
              texture=tex)
    files.append(TEXTURE_FILE)
    del base
    base_path, base_alts = asset_paths(run.static_rel(P.BASE.stem()), fmts)
    coast_path, coast_alts = asset_paths(run.static_rel(P.COASTLINES.stem()), fmts)
    static = [
        P.BASE.asset(base_path, texture=run.static_rel(TEXTURE_FILE), alternates=base_alts),
        P.COASTLINES.asset(coast_path, radius=radius,
                           label=f"coastlines (Natural Earth {s.coastlines})",
                           alternates=coast_alts),
    ]
    return static, proj


def coast_radius(corners: np.ndarray, width_px: int, px: float = 0.75) -> float:
    """Coastline tube radius (km): ``px`` pixels of a frame ``width_px`` wide showing the
    region (its projected ``corners``), so the lines read the same at any zoom: 1.2 km over
    Iberia at 800 px, 13 km over the North Atlantic (1.5 px wide either way)."""
    span = float(np.ptp(np.asarray(corners, float)[:, :2], axis=0).max())
    return round(max(px * span / max(int(width_px), 1), 0.2), 3)


def coast_height_m(field, radius_km: float, exaggeration: float) -> float:
    """Height (m, before the vertical exaggeration) of the coastlines' axis: a tube radius
    above the ground-level layer, which is drawn at the lowest level's height (a
    flight-level band's, kilometres up), so the whole tube is on top and never hidden."""

    h0 = float(heights_m(field)[0]) if field.nz >= 2 else 0.0
    return max(h0, 0.0) + 50.0 + 1000.0 * radius_km / max(float(exaggeration), 1e-6)


BASE_MARGIN = 1.0  # the map's base layer reaches this many region spans beyond each side
TEXTURE_FILE = "base_relief.jpg"  # the base map's texture, in static/
GLOBE_MARGIN = 1.5  # the globe's base patch (the whole globe when that covers it)


def base_extent(bbox: tuple[float, float, float, float], margin: float = BASE_MARGIN
                ) -> tuple[float, float, float, float]:
    """The base layer's lon/lat box on a map: the region's ``bbox`` (lon0, lon1, lat0, lat1)
    grown by ``margin`` spans on every side (latitudes clamped at the poles, longitudes at
    most a full turn), so the oblique cameras never see the layer's edge (tested against every
    frame's camera in tests/climate/test_look.py)."""
    lon0, lon1, lat0, lat1 = bbox
    if lon1 < lon0:
        lon1 += 360.0
    dlon, dlat = (lon1 - lon0) * margin, (lat1 - lat0) * margin
    c = 0.5 * (lon0 + lon1)
    # just under half a turn: both ends at +-180 degrees from the centre would wrap onto one
    # side of the map (the projection wraps longitudes about its centre) and fold the layer
    half = min(0.5 * (lon1 - lon0) + dlon, 179.95)
    return (c - half, c + half, max(lat0 - dlat, -90.0), min(lat1 + dlat, 90.0))


def base_step(bbox: tuple[float, float, float, float] | None, globe: bool = False) -> float:
    """Grid step (degrees) of the base layer, whose detail is its texture: about 150 columns
    over ``bbox`` (None: the globe) on a map (a plane), at most 1 degree on a globe (the
    sphere's facets stay within a few hundred metres of it)."""
    lon0, lon1, lat0, lat1 = bbox if bbox is not None else (-180.0, 180.0, -90.0, 90.0)
    span = max((lon1 - lon0) % 360.0 or 360.0, lat1 - lat0)
    return min(span / 150.0, 1.0) if globe else span / 150.0


SUN_AZIMUTH, SUN_ELEVATION = 300.0, 45.0  # degrees: from the north-west, as the relief
# raster's own hill shade is lit (cartographic convention), so plume and mountains agree


def sun_light(mode: str, lon2: np.ndarray, lat2: np.ndarray) -> dict:
    """The manifest's ``render.light``: one sun at :data:`SUN_AZIMUTH` (clockwise from
    north) and :data:`SUN_ELEVATION` above the region's centre; on a globe the direction is
    taken in the local east/north/up frame there."""
    az, el = np.radians(SUN_AZIMUTH), np.radians(SUN_ELEVATION)
    e, n, u = np.eye(3)
    if mode == "globe":
        from climate_pipeline.geo import _east_north, _unit_xyz

        lon_c, lat_c = _centre_lonlat(lon2, lat2)
        e, n = (v[0] for v in _east_north(np.array([lon_c]), np.array([lat_c])))
        u = _unit_xyz(np.array([lon_c]), np.array([lat_c]))[0]
    d = (np.sin(az) * e + np.cos(az) * n) * np.cos(el) + np.sin(el) * u
    return {"kind": "sun", "direction": [round(float(x), 6) for x in d], "strength": 2.4,
            "angle_deg": 3.0, "sky": [0.55, 0.68, 0.9], "sky_strength": 0.35}


def scene_corners(field, proj) -> np.ndarray:
    """The 8 corners (km) of the region's box, ground to the top level, in the scene's
    projection: what the cameras frame."""

    lon2, lat2 = field.lonlat_2d()
    h = heights_m(field)
    return proj.forward(np.array([lon2.min(), lon2.max(), lon2.min(), lon2.max()] * 2),
                        np.array([lat2.min(), lat2.min(), lat2.max(), lat2.max()] * 2),
                        np.array([0.0] * 4 + [float(h[-1])] * 4))


def _centre_lonlat(lon2: np.ndarray, lat2: np.ndarray) -> tuple[float, float]:
    """Centre of a lon/lat region, across the dateline too (mean of unit vectors)."""
    lo, la = np.radians(lon2.ravel()), np.radians(lat2.ravel())
    v = np.array([(np.cos(la) * np.cos(lo)).mean(), (np.cos(la) * np.sin(lo)).mean(),
                  np.sin(la).mean()])
    return (float(np.degrees(np.arctan2(v[1], v[0]))),
            float(np.degrees(np.arctan2(v[2], np.hypot(v[0], v[1])))))


# long: the climate manifest (camera, frames' assets, legend, colour checks) in one pass
def build_manifest(run: RunDir, field, metas: list[dict], pmetas: list[dict], params: FrameParams,
                   s: ClimateSettings, *, taus, winds, inputs, checksums,
                   static: tuple[list, Any] | None = None) -> dict:
    """The run's manifest; ``static``: :func:`build_static`'s result when the caller built
    the static assets already (while the workers ran)."""
    static_assets, proj = static or build_static(run, field, params, s)
    lon2, lat2 = field.lonlat_2d()
    corners = scene_corners(field, proj)
    bounds = np.array([corners.min(0), corners.max(0)])
    aspect = s.resolution[0] / s.resolution[1]
    n = len(metas)
    if params.projection.mode == "globe":
        # look down on the region from its south, about its local vertical
        from climate_pipeline.geo import _east_north

        lon_c, lat_c = _centre_lonlat(lon2, lat2)
        centre = proj.forward([lon_c], [lat_c], [0.0])[0]
        _e, north = _east_north(np.array([lon_c]), np.array([lat_c]))
        edge = proj.forward(lon2[::4, ::4].ravel(), lat2[::4, ::4].ravel(), 0.0)
        cams = camera.orbit_about(centre, centre, -north[0], n, np.vstack([corners, edge]),
                                  turns=0.04, elevation_deg=55, aspect=aspect, margin=1.04)
    else:
        cams = camera.orbit(bounds, n, turns=0.06, azimuth_deg=-95, elevation_deg=58,
                            lens_mm=35, aspect=aspect, margin=1.02, points=corners)
    vmin, vmax = params.range
    units = params.units  # the display unit the values were scaled to
    cm = {"name": params.colormap, "vmin": vmin, "vmax": vmax, "units": units}

    def level_text(level: float) -> str:
        return level_label(level, _u(units), params.quantity, units)

    look = P.Look(params, s, level_text)
    frame_rows = [r for r in P.PRODUCTS if r.scope == "frame"]
    once = [r for r in P.PRODUCTS if r.scope == "batch" and "{batch" not in r.name]
    per_batch = [r for r in P.PRODUCTS if r.scope == "batch" and "{batch" in r.name]
    frames = []
    for k, m in enumerate(sorted(metas, key=lambda x: x["index"])):
        rel = run.frame_rel(m["index"])
        recs = m.get("products", [])
        # the frame task's products, in the rows' order; then the particle batches' (their
        # files are listed in each batch's marker)
        assets = [row.entry(rel, rec, look) for row in frame_rows for rec in recs
                  if rec["product"] == row.name]
        assets += [row.entry(rel, {"stem": row.stem()}, look) for row in once
                   if any(_wrote(b, m["index"], row.stem()) for b in pmetas)]
        assets += [row.entry(rel, {"stem": row.stem(batch=b["batch"])}, look)
                   for b in pmetas for row in per_batch
                   if _wrote(b, m["index"], row.stem(batch=b["batch"]))]
        frames.append(mf.frame(k, assets, time=float(taus[k]), label=m["label"],
                               camera=cams[k]))
    streaks_shown = not s.hide_trails and any(
        _wrote(b, m["index"], P.TRAILS.stem(batch=b["batch"])) for b in pmetas for m in metas)

    name = quantity_title(field.name, field.long_name, field.standard_name, field.attrs)
    levels = ", ".join(f"{t:g}" for t in params.thresholds)
    rule = params.levels_rule
    why = " (action levels)" if rule.endswith("action levels") else ""
    iso_items = [{"label": level_text(t),
                  "color": [round(float(c) / 255.0, 4) for c in
                            colormaps.apply([t], params.colormap, vmin, vmax)[0][:3]]}
                 for t in params.thresholds]
    legend: dict[str, Any]
    source = source_of(field.attrs)
    legend = {"title": s.title or name,
              "subtitle": (f"{source} · " if source else "")
                          + f"isosurfaces at {levels} {_u(units)}{why} · vertical ×"
                          f"{params.projection.exaggeration:g}"
                          + (f" · {sum(b['n'] for b in pmetas)} wind particles" if pmetas
                             else "")
                          + (f" seeded by {field.name}" if pmetas and s.seed_by == "concentration"
                             else ""),
              "items": iso_items + ([{"label": "wind streaks (speed)" if streaks_shown
                          else "wind particles (speed)", "color": [0.98, 0.8, 0.5]}]
                        if pmetas else [])
              + ([{"label": "streamlines (speed)", "color": [0.62, 0.66, 0.92]}]
                 if any("streamlines" in f for b in pmetas for f in b.get("files", []))
                 else [])}

    colorbar_png(run.static / "colorbar.png", params.colormap, vmin, vmax,
                 label=_two_lines(name), units=_u(units),
                 size_px=colorbar_size(s.resolution[1]))
    legend["colorbar"] = {"image": run.static_rel("colorbar.png"), "label": name, "colormap": cm}
    if not legend["items"]:
        legend.pop("items")
    man = mf.new_manifest(legend["title"], "climate", length_unit="km", bounds=bounds,
                          meters_per_unit=1000.0, fps=float(s.fps), legend=legend,
                          render={"resolution": list(s.resolution),
                                  "samples": int(s.samples),
                                  "background": list(BACKGROUND), "denoise": "albedo",
                                  "light": sun_light(params.projection.mode,
                                                     lon2, lat2)})
    man["frames"] = frames
    man["static"] = static_assets
    for line in colormaps.unreadable(man):  # the colour maps are cut to pass: a regression
        print(f"climate: warning: {line}", file=sys.stderr, flush=True)
    man["provenance"] = mf.provenance(inputs, {**params.key(), "winds": winds, "taus": list(taus),
                                               "particles": s.particles,
                                               "seed_by": s.seed_by},
                                      checksums=checksums, engine=str(s.engine or ""),
                                      settings=s.to_json())
    return man



def _two_lines(text: str, width: int = 28) -> str:
    """A colour-bar label broken after a word near ``width`` characters (its bar is narrow)."""
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:2]) if len(text) > width else text


def _wrote(batch_meta: dict, index: int, stem: str) -> bool:
    """Whether a particle batch wrote ``stem`` for frame ``index`` (no streaks with
    ``--trail-hours 0``, streamlines from batch 0 only)."""
    return f"{frame_name(index)}/{stem}{SUFFIX[RENDER_FORMAT]}" in batch_meta.get("files", [])
