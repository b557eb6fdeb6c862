"""The climate run's manifest: frames, static coastlines and base layer, legend, cameras."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from core import camera
from core import manifest as mf
from core.io import RENDER_FORMAT, SUFFIX, asset_paths
from core.rundir import RunDir, frame_name

if TYPE_CHECKING:
    from climate_pipeline.settings import ClimateSettings

UNITS = {"ug m-3": "µg/m³", "ug/m3": "µg/m³", "kg m-3": "kg/m³", "m s-1": "m/s"}


def _u(units: str) -> str:
    return UNITS.get(units, units)


def build_static(run: RunDir, field, params: dict, s: ClimateSettings) -> tuple[list, Any]:
    """Coastlines (and borders) as curves and a land/ocean base layer, once per run."""
    from climate_pipeline.coastlines import coastlines, land_ocean_layer, to_curves
    from climate_pipeline.frames import projection
    from core.framecache import write_all

    lon2, lat2 = field.lonlat_2d()
    bbox = (float(np.min(lon2)), float(np.max(lon2)), float(np.min(lat2)), float(np.max(lat2)))
    proj = projection(params["projection"], field.lon, field.lat)
    sdir = run.static
    sdir.mkdir(parents=True, exist_ok=True)
    fmts = params["formats"]
    files: list[str] = []
    lines = coastlines(s.coastlines, bbox, borders=s.borders)
    radius = 1.2 if params["projection"]["mode"] == "map" else 3.0
    curves = to_curves(lines, proj, height_m=50.0, radius=radius)
    write_all(curves, sdir / "coastlines", fmts, files, name="coastlines",
              meters_per_unit=1000.0, radius=radius)
    base = land_ocean_layer(proj, bbox, s.coastlines, height_m=-300.0)
    write_all(base, sdir / "base", fmts, files, name="base", meters_per_unit=1000.0)
    base_path, base_alts = asset_paths(run.static_rel("base"), fmts)
    coast_path, coast_alts = asset_paths(run.static_rel("coastlines"), fmts)
    static = [
        mf.asset("base", "mesh", base_path, units="", label="land and ocean",
                 alternates=base_alts),
        mf.asset("coastlines", "curves", coast_path, units="", radius=radius,
                 color=[0.92, 0.92, 0.9], label=f"coastlines (Natural Earth {s.coastlines})",
                 alternates=coast_alts),
    ]
    return static, proj


def scene_corners(field, proj) -> np.ndarray:
    """The 8 corners (km) of the region's box, ground to the top level, in the scene's
    projection: what the cameras frame."""
    from climate_pipeline.frames import heights_m

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


def build_manifest(run: RunDir, field, metas: list[dict], pmetas: list[dict], params: dict,
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
    if params["projection"]["mode"] == "globe":
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
    vmin, vmax = params["range"]
    cm = {"name": params["colormap"], "vmin": vmin, "vmax": vmax, "units": field.units}
    from climate_pipeline.frames import SPEED_MAX, STREAM_CMAP, stream_radius, stream_range

    fmts = params["formats"]
    frames = []
    for k, m in enumerate(sorted(metas, key=lambda x: x["index"])):
        rel = run.frame_rel(m["index"])
        path, alts = asset_paths(f"{rel}/layer", fmts)
        assets = [mf.asset("layer", "mesh", path, units=field.units,
                           colormap={**cm, "attribute": "value"}, opacity=0.85,
                           alternates=alts, label="lowest level")]
        for surf in m.get("surfaces", []):
            nm = surf["name"]
            path, alts = asset_paths(f"{rel}/{nm}", fmts)
            extra = {"faces": surf["faces"]}
            if "faces_full" in surf:
                extra["faces_full"] = surf["faces_full"]
            assets.append(mf.asset(nm, "mesh", path, units=field.units,
                                   level=surf["level"], opacity=0.8, emission=0.3,
                                   alternates=alts, **extra,
                                   label=f"{surf['level']:g} {_u(field.units)}"))
        if "field.vdb" in m.get("files", []):
            assets.append(mf.asset("field", "volume", f"{rel}/field.vdb", units=field.units,
                                   grid="field", colormap={**cm, "attribute": "field"},
                                   density_scale=0.008 / max(vmax - vmin, 1e-12),
                                   emission=0.15, hidden=not s.show_volume,
                                   alternates=[f"{rel}/field.usdc"] if "usd" in fmts else None))
        stream = f"{frame_name(m['index'])}/streamlines{SUFFIX[RENDER_FORMAT]}"
        if any(stream in b.get("files", []) for b in pmetas):
            lo, hi = stream_range(SPEED_MAX)
            path, alts = asset_paths(f"{rel}/streamlines", fmts)
            assets.append(mf.asset("streamlines", "curves", path,
                                   units="m/s", opacity=0.6, emission=0.3,
                                   radius=stream_radius(params["projection"]["mode"]),
                                   colormap={"name": STREAM_CMAP, "vmin": lo, "vmax": hi,
                                             "attribute": "speed", "units": "m/s"},
                                   hidden=s.hide_streamlines, alternates=alts))
        for b in pmetas:
            bb = b["batch"]
            path, alts = asset_paths(f"{rel}/particles_b{bb:02d}", fmts)
            assets.append(mf.asset(f"particles_b{bb:02d}", "points", path, units="m/s",
                                   radius_attribute="radius",
                                   colormap={"name": "lajolla", "vmin": 0.0,
                                             "vmax": SPEED_MAX, "attribute": "speed",
                                             "units": "m/s"},
                                   alternates=alts))
            path, alts = asset_paths(f"{rel}/trails_b{bb:02d}", fmts)
            assets.append(mf.asset(f"trails_b{bb:02d}", "curves", path,
                                   units="", radius=0.35, color=[0.9, 0.92, 1.0], opacity=0.45,
                                   hidden=not s.show_trails, alternates=alts))
        frames.append(mf.frame(k, assets, time=float(taus[k]), label=m["label"],
                               camera=cams[k]))
    name = field.long_name or field.standard_name.replace("_", " ") or field.name
    levels = ", ".join(f"{t:g}" for t in params["thresholds"])
    legend: dict[str, Any]
    legend = {"title": s.title or name,
              "subtitle": f"isosurfaces at {levels} {_u(field.units)} · vertical ×"
                          f"{params['projection']['exaggeration']:g}"
                          + (f" · {sum(b['n'] for b in pmetas)} wind particles" if pmetas
                             else "")
                          + (f" seeded by {field.name}" if pmetas and s.seed_by == "concentration"
                             else ""),
              "items": ([{"label": "wind particles (speed)", "color": [0.98, 0.8, 0.5]}]
                        if pmetas else [])
              + ([{"label": "streamlines (speed)", "color": [0.62, 0.66, 0.92]}]
                 if any("streamlines" in f for b in pmetas for f in b.get("files", []))
                 else [])}
    from core.colormaps import colorbar_png, colorbar_size

    colorbar_png(run.static / "colorbar.png", params["colormap"], vmin, vmax,
                 label=name, units=_u(field.units),
                 size_px=colorbar_size(s.resolution[1]))
    legend["colorbar"] = {"image": run.static_rel("colorbar.png"), "label": name, "colormap": cm}
    if not legend["items"]:
        legend.pop("items")
    man = mf.new_manifest(legend["title"], "climate", length_unit="km", bounds=bounds,
                          meters_per_unit=1000.0, fps=float(s.fps), legend=legend,
                          render={"resolution": list(s.resolution),
                                  "samples": int(s.samples),
                                  "background": [0.03, 0.04, 0.06]})
    man["frames"] = frames
    man["static"] = static_assets
    man["provenance"] = mf.provenance(inputs, {**params, "winds": winds, "taus": list(taus),
                                               "particles": s.particles,
                                               "seed_by": s.seed_by},
                                      checksums=checksums, engine=str(s.engine or ""),
                                      settings=s.to_json())
    return man
