"""The climate run's products, one row each: what a frame or a run writes and how it looks.

A row holds everything about a product (issue #23): its asset name and file stem, its kind,
its build step (a function of :mod:`climate_pipeline.builders` for frame products), the
look numbers of its manifest entry (fixed ones in ``look``, the ones that depend on the run
in ``look_of``: colour maps, radii, opacity by rank), its legend label, the frame parameter
that asks for it and the setting that hides it at render time.

The frame task (:func:`climate_pipeline.frames.frame_from_field`) loops over the frame rows:
it calls each row's build step, writes the files the row names and records one entry per
file stem in ``frame.json`` (``products``). The manifest
(:func:`climate_pipeline.manifest.build_manifest`) makes each frame's asset entries from
those records and the rows, with :meth:`Product.entry`; nothing else names a product's files.

Adding a product: one row here and its build step in ``builders.py``. See README "How to add
a product". The particle products (``batch`` scope) are written by the particle batch task,
which carries the particles' state through every frame.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from climate_pipeline import builders
from core.colormaps import readable
from core.framecache import product_files
from core.io import RENDER_FORMAT

__all__ = ["Product", "Look", "PRODUCTS", "BY_NAME", "LAYER", "ISO", "VOLUME", "STREAMLINES",
           "PARTICLES", "TRAILS", "COASTLINES", "BASE", "BACKGROUND", "PARTICLE_CMAP",
           "STREAM_CMAP", "SPEED_MAX", "TRAIL_RADIUS", "particle_radius", "stream_radius",
           "stream_range", "iso_opacity", "layer_ramp"]

BACKGROUND = (0.03, 0.04, 0.06)  # sRGB: the film's dark blue-black (colours are checked
# against it: core.colormaps.readable)
#: the wind colour maps, without their ends that vanish on the film's dark background (a
#: slow particle was near-black in plain lajolla): ``core.colormaps.readable``
PARTICLE_CMAP = readable("lajolla", BACKGROUND)
STREAM_CMAP = readable("devon", BACKGROUND)
SPEED_MAX = 15.0  # m/s, top of the particles' and streamlines' colour maps
TRAIL_RADIUS = 0.5  # streak tube radius, times the particle radius


def particle_radius(mode: str) -> float:
    """The particles' sphere radius (km) in a ``map`` or ``globe`` scene."""
    return 2.0 if mode == "map" else 4.0


def stream_radius(mode: str) -> float:
    """Tube radius of the streamlines in scene units (km): thin beside the particles."""
    return 0.25 if mode == "map" else 0.5


def stream_range(speed_max: float) -> tuple[float, float]:
    """Colour range of the streamlines' speed: the dark low end of the map is left out, so
    slow lines stay visible on a dark background."""
    return -0.5 * float(speed_max), float(speed_max)


def iso_opacity(k: int, n: int) -> float:
    """Opacity facing the camera of the ``k``-th of ``n`` isosurfaces (1 at its silhouette:
    the renderer's isosurface look): the outer, lowest level a faint veil, the inner levels
    denser, so every level reads through the ones around it."""
    return round(0.3 + 0.35 * k / max(max(n, 1) - 1, 1), 3)


def layer_ramp(vmin: float, thresholds: Sequence[float]) -> list[float]:
    """The ground layer's opacity ramp: clear up to a tenth of the way from the field's
    minimum to the lowest isosurface level, full ``opacity`` from that level up (clean air
    shows the map; the plume's footprint reads as colour)."""
    t0 = float(min(thresholds)) if thresholds else float(vmin)
    lo = float(vmin) + 0.1 * (t0 - float(vmin))
    return [lo, t0 if t0 > lo else lo + 1e-6]


@dataclass(frozen=True)
class Look:
    """What the manifest entries of a run share: its frame parameters (colour range,
    thresholds, display unit), its settings (mode, what is hidden) and how a level reads in
    the legend."""

    params: Any  # climate_pipeline.params.FrameParams
    settings: Any  # climate_pipeline.settings.ClimateSettings
    level_text: Callable[[float], str]

    @property
    def colormap(self) -> dict:
        p = self.params
        return {"name": p.colormap, "vmin": p.range[0], "vmax": p.range[1], "units": p.units}

    @property
    def speed_map(self) -> dict:
        return {"name": PARTICLE_CMAP, "vmin": 0.0, "vmax": SPEED_MAX, "attribute": "speed",
                "units": "m/s"}


@dataclass(frozen=True)
class Product:
    """One product of a climate run."""

    name: str  # the asset name (``{k}``/``{batch}`` filled in per file)
    kind: str  # mesh | points | curves | volume (core.manifest asset kinds)
    scope: str  # frame (one per frame task) | batch (one per particle batch) | static
    look: dict[str, Any] = field(default_factory=dict)  # fixed manifest look fields
    label: str = ""  # legend/asset label ('' none)
    hidden_by: str = ""  # the ClimateSettings flag that hides it at render time ('' never;
    # "!flag": hidden unless the flag is set)
    units: str = ""  # the values' unit when fixed (winds: m/s); '' the field's
    #: frame scope: the build step, ``build(ctx, row)`` -> pieces (climate_pipeline.builders)
    build: Callable[..., Any] | None = field(default=None, compare=False)
    #: the run's look numbers of an entry: ``look_of(look, record)`` -> manifest fields
    look_of: Callable[[Look, dict], dict] | None = field(default=None, compare=False)
    written_if: str = ""  # the FrameParams flag that asks for it ('' always)

    def stem(self, **kw: Any) -> str:
        """The file stem (and asset name) of one file: ``iso_{k}``, ``particles_b{batch:02d}``."""
        return self.name.format(**kw)

    def hidden(self, settings: Any) -> bool:
        """Whether ``settings`` hide it (``hidden_by`` "!flag": hidden unless the flag)."""
        if not self.hidden_by:
            return False
        flag = self.hidden_by.lstrip("!")
        return bool(getattr(settings, flag)) != self.hidden_by.startswith("!")

    def wanted(self, params: Any) -> bool:
        """Whether a frame task with ``params`` writes it."""
        return not self.written_if or bool(getattr(params, self.written_if))

    def files(self, stem: str, formats: Sequence[str]) -> list[tuple[str, str]]:
        """``[(format, file name)]`` of one stem: a volume's ``.vdb`` (and the ``.usdc``
        that references it), else one file per format (the renderer's always)."""
        if self.kind == "volume":
            return [("vdb", f"{stem}.vdb")] + ([("usd", f"{stem}.usdc")] if "usd" in formats
                                              else [])
        return product_files(stem, tuple(formats))

    def entry(self, rel: str, record: dict, look: Look) -> dict:
        """The manifest entry of one recorded stem (``record["stem"]``) in the frame folder
        ``rel``: the path the renderer loads, the other formats as alternates, the row's
        look and the run's (``look_of``), hidden when the settings say so."""
        stem = record["stem"]
        files = [(f, f"{rel}/{n}") for f, n in self.files(stem, look.params.formats)]
        path = next(n for f, n in files if f in ("vdb", RENDER_FORMAT))  # what Blender loads
        alts = [n for _, n in files if n != path] or None
        extra = self.look_of(look, record) if self.look_of else {}
        if self.hidden_by:
            extra["hidden"] = self.hidden(look.settings)
        return self.asset(path, stem=stem, alternates=alts, **extra)

    def asset(self, path: str, *, stem: str | None = None, **extra: Any) -> dict:
        """The manifest entry: the row's look, then what the run measured (``extra``)."""
        from core import manifest as mf

        kw = {**self.look, **({"label": self.label} if self.label else {}), **extra}
        if "units" not in kw:
            kw["units"] = self.units
        return mf.asset(stem or self.name, self.kind, path, **kw)


#: the ground-level field as a coloured sheet
LAYER = Product("layer", "mesh", "frame", {"opacity": 0.85, "shadow": False},
                label="lowest level", build=builders.layer,
                look_of=lambda lk, r: {"units": lk.params.units,
                                       "colormap": {**lk.colormap, "attribute": "value"},
                                       "opacity_ramp": layer_ramp(lk.params.range[0],
                                                                  lk.params.thresholds)})
#: isosurfaces, one per threshold: the outer levels a faint veil (iso_opacity)
ISO = Product("iso_{k}", "mesh", "frame", {"emission": 0.3}, build=builders.isosurfaces,
              look_of=lambda lk, r: {"units": lk.params.units, "level": r["level"],
                                     "opacity": iso_opacity(int(r["stem"].rsplit("_", 1)[1]),
                                                            len(lk.params.thresholds)),
                                     "faces": r["faces"],
                                     **({"faces_full": r["faces_full"]} if "faces_full" in r
                                        else {}),
                                     "label": lk.level_text(r["level"])})
#: the field as an OpenVDB volume (written with --volume; hidden unless --show-volume):
#: 0.008 extinction per km per colour range
VOLUME = Product("field", "volume", "frame", {"emission": 0.15, "grid": "field"},
                 hidden_by="!show_volume", build=builders.volume, written_if="volume",
                 look_of=lambda lk, r: {
                     "units": lk.params.units,
                     "colormap": {**lk.colormap, "attribute": "field"},
                     "density_scale": 0.008 / max(lk.params.range[1] - lk.params.range[0],
                                                  1e-12)})
#: streamlines of the winds frozen at the frame's time (written by particle batch 0)
STREAMLINES = Product("streamlines", "curves", "batch", {"opacity": 0.6, "emission": 0.3},
                      hidden_by="hide_streamlines", units="m/s",
                      look_of=lambda lk, r: {
                          "radius": stream_radius(lk.params.projection.mode),
                          "colormap": {"name": STREAM_CMAP, "attribute": "speed",
                                       "units": "m/s",
                                       **dict(zip(("vmin", "vmax"),
                                                  stream_range(SPEED_MAX), strict=True))}})
#: wind particles, one file per batch and frame
PARTICLES = Product("particles_b{batch:02d}", "points", "batch",
                    {"radius_attribute": "radius"}, units="m/s",
                    look_of=lambda lk, r: {"colormap": lk.speed_map})
#: wind streaks (each particle's path over --trail-hours, fading to its tail)
TRAILS = Product("trails_b{batch:02d}", "curves", "batch",
                 {"opacity_attribute": "fade", "emission": 0.6},
                 label="wind streaks (speed)", hidden_by="hide_trails", units="m/s",
                 look_of=lambda lk, r: {
                     "colormap": lk.speed_map,
                     "radius": particle_radius(lk.settings.mode) * TRAIL_RADIUS})
#: Natural Earth coastlines (and borders), light, over everything
COASTLINES = Product("coastlines", "curves", "static",
                     {"shadow": False, "color": [0.92, 0.92, 0.9]})
#: the shaded-relief base map (a texture on a UV grid)
BASE = Product("base", "mesh", "static", {"matte": True}, label="Natural Earth shaded relief")

PRODUCTS: tuple[Product, ...] = (LAYER, ISO, VOLUME, STREAMLINES, PARTICLES, TRAILS,
                                 COASTLINES, BASE)
BY_NAME = {p.name: p for p in PRODUCTS}
