"""The climate run's products, one row each: what a frame or a run writes and how it looks.

A row holds everything that was spelled in several places before (issue #23): the asset
name and file stem (``frames.py`` writes them, ``manifest.py`` lists them), the kind, the
look numbers of the manifest entry (opacity, emission, shadow, colour), the legend label,
and the setting that hides it. The frame and batch tasks write files named by
:meth:`Product.stem`; :func:`climate_pipeline.manifest.build_manifest` makes each entry with
:meth:`Product.asset` from the row plus what the run measured (paths, colour ranges, levels).

Adding a product: one row here, and its build step in ``frames.py`` (the frame task for
per-frame products, the batch task for per-batch ones); the manifest lists it from the
row. See README "How to add a product".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Product", "PRODUCTS", "LAYER", "ISO", "VOLUME", "STREAMLINES", "PARTICLES",
           "TRAILS", "COASTLINES", "BASE"]


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

    def stem(self, **kw: Any) -> str:
        """The file stem (and asset name) of one file: ``iso_{k}``, ``particles_b{batch:02d}``."""
        return self.name.format(**kw)

    def hidden(self, settings: Any) -> bool:
        """Whether ``settings`` hide it (``hidden_by`` "!flag": hidden unless the flag)."""
        if not self.hidden_by:
            return False
        flag = self.hidden_by.lstrip("!")
        return bool(getattr(settings, flag)) != self.hidden_by.startswith("!")

    def asset(self, path: str, *, stem: str | None = None, **extra: Any) -> dict:
        """The manifest entry: the row's look, then what the run measured (``extra``)."""
        from core import manifest as mf

        kw = {**self.look, **({"label": self.label} if self.label else {}), **extra}
        if "units" not in kw:
            kw["units"] = self.units
        return mf.asset(stem or self.name, self.kind, path, **kw)


#: the ground-level field as a coloured sheet
LAYER = Product("layer", "mesh", "frame", {"opacity": 0.85, "shadow": False},
                label="lowest level")
#: isosurfaces, one per threshold (opacity by rank: manifest.iso_opacity)
ISO = Product("iso_{k}", "mesh", "frame", {"emission": 0.3})
#: the field as an OpenVDB volume (hidden unless --show-volume)
VOLUME = Product("field", "volume", "frame", {"emission": 0.15, "grid": "field"},
                 hidden_by="!show_volume")
#: streamlines of the winds frozen at the frame's time (written by particle batch 0)
STREAMLINES = Product("streamlines", "curves", "batch", {"opacity": 0.6, "emission": 0.3},
                      hidden_by="hide_streamlines", units="m/s")
#: wind particles, one file per batch and frame
PARTICLES = Product("particles_b{batch:02d}", "points", "batch",
                    {"radius_attribute": "radius"}, units="m/s")
#: wind streaks (each particle's path over --trail-hours, fading to its tail)
TRAILS = Product("trails_b{batch:02d}", "curves", "batch",
                 {"opacity_attribute": "fade", "emission": 0.6},
                 label="wind streaks (speed)", hidden_by="hide_trails", units="m/s")
#: Natural Earth coastlines (and borders), light, over everything
COASTLINES = Product("coastlines", "curves", "static",
                     {"shadow": False, "color": [0.92, 0.92, 0.9]})
#: the shaded-relief base map (a texture on a UV grid)
BASE = Product("base", "mesh", "static", {"matte": True}, label="Natural Earth shaded relief")

PRODUCTS: tuple[Product, ...] = (LAYER, ISO, VOLUME, STREAMLINES, PARTICLES, TRAILS,
                                 COASTLINES, BASE)
