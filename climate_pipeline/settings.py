"""The climate command line and the one value it becomes: :class:`ClimateSettings`.

``build_parser()`` is the CLI; ``settings_from_args(ns)`` is the only reader of its
``argparse.Namespace``. Everything below (:func:`climate_pipeline.pipeline.convert`, the
manifest builder) reads the frozen settings, which the manifest records under
``provenance.settings``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from core.cli import (
    add_asset_args,
    add_dry_run_arg,
    add_engine_args,
    positive_int,
    resolution,
)
from core.io import asset_formats
from core.settings import (
    DEFAULT_RESOLUTION,
    SCENE_SAMPLES,
    RunSettings,
    from_namespace,
    split_list,
)

#: default wind streak length (hours of flow): at the default Iberia episode's 5-10 m/s a
#: streak is 27-54 km, 2-4% of the ~1300 km wide domain
TRAIL_HOURS = 1.5


def non_negative_float(text: str) -> float:
    """An argparse type: a float >= 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not v >= 0.0 or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}")
    return v

__all__ = ["ClimateSettings", "build_parser", "settings_from_args"]


def _levels(text: str) -> tuple[list[float], str]:
    """``A,B[UNIT]``: levels, and the unit the last one carries ('': the field's units), as in
    ``0.2,2,4mg/m3`` or ``45,100ug m-3``."""
    import re

    parts = [x.strip() for x in text.split(",") if x.strip()]
    unit = ""
    if parts:
        m = re.match(r"^([-+0-9.eE]+)\s*([^\d\s.+-].*)$", parts[-1])
        if m:
            parts[-1], unit = m.group(1), m.group(2).strip()
    if unit:
        from core.units import _unit

        if _unit(unit) is None:
            raise argparse.ArgumentTypeError(f"unknown unit {unit!r} in {text!r}; expected a "
                                             "UDUNITS unit such as ug/m3 or mg/m3")
    return _floats(",".join(parts)), unit


def _floats(text: str) -> list[float]:
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas, got {text!r}"
                                         ) from None
    if not vals:
        raise argparse.ArgumentTypeError("expected at least one number")
    return vals


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m climate_pipeline",
        description="Air-quality, dust and climate fields to Blender and Maya assets: volumes, "
                    "isosurfaces, surface layers, coastlines, wind particles; stills and a movie.")
    ap.add_argument("inputs", nargs="*", metavar="FILE", help="CF-NetCDF (one or many, "
                    "concatenated in time), PP, NAME or GRIB files")
    ap.add_argument("--out", type=Path, required=True, help="run directory")
    ap.add_argument("--default", action="store_true",
                    help="write and use the embedded PM10 episode over Iberia")
    ap.add_argument("--var", metavar="NAME[#N]",
                    help="variable name or CF standard_name; NAME#N takes the N-th field of "
                         "that name in file order (1-based: a NAME III file's two "
                         "TRACER_AIR_CONCENTRATION fields are NAME#1 and NAME#2; an unknown "
                         "name lists the fields as NAME#N) [the only data variable; PP and "
                         "NAME files: the first data field, named in the log]")
    ap.add_argument("--member", type=int, default=None, metavar="N",
                    help="ensemble member of a GRIB file [0]")
    ap.add_argument("--wind", default=None, help="wind variables U,V[,W] [u,v,w if present]")
    ap.add_argument("--wind-files", nargs="+", metavar="FILE",
                    help="files holding the winds [the input files]")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--globe", action="store_const", const="globe", dest="mode")
    mode.add_argument("--map", action="store_const", const="map", dest="mode")
    ap.add_argument("--exaggeration", type=float, default=50.0,
                    help="vertical exaggeration [50]")
    ap.add_argument("--thresholds", type=_levels, default=None, metavar="A,B[UNIT]",
                    help="isosurface levels, in UNIT when the last one carries it (0.2,2mg/m3), "
                         "else in the field's units [the quantity's action levels inside the "
                         "data's range (WHO, EU, ICAO ash), else its 90th and 99th percentiles "
                         "rounded to 1-2-5]")
    ap.add_argument("--colormap", default="lajolla")
    ap.add_argument("--frames", type=positive_int, default=None,
                    help="output frames; more than the data's time steps interpolates in time")
    ap.add_argument("--particles", type=int, default=20000, help="wind particles (0: none)")
    ap.add_argument("--batches", type=positive_int, default=None,
                    help="particle batches (parallel tasks; each reads all the winds) [one per "
                         "200,000 particles, at most one per worker]")
    ap.add_argument("--coastlines", default="50m", choices=["110m", "50m", "10m"])
    ap.add_argument("--borders", action="store_true")
    ap.add_argument("--no-volume", action="store_true", help="no .vdb volume")
    ap.add_argument("--show-volume", action="store_true",
                    help="render the volume (written and in scene.usda either way; it costs "
                         "about twice the render time)")
    ap.add_argument("--seed-by", choices=["uniform", "concentration"], default="uniform",
                    help="where particles start and respawn: uniformly over the domain, or "
                         "with probability proportional to the field's excess over its "
                         "median at the first frame (field and winds on one grid) [uniform]")
    ap.add_argument("--streamlines", type=int, default=160, metavar="N",
                    help="streamlines per frame, seeded on a lattice at --streamline-height "
                         "(0: none) [160]")
    ap.add_argument("--streamline-height", type=float, default=1000.0, metavar="M",
                    help="seed height of the streamlines in metres [1000]")
    ap.add_argument("--hide-streamlines", action="store_true",
                    help="do not render the streamlines (written and in scene.usda)")
    ap.add_argument("--trail-hours", type=non_negative_float, default=TRAIL_HOURS,
                    metavar="H",
                    help="length of the wind streaks in hours of flow: each particle's path "
                         "over the last H hours, sampled at the advection sub-steps, fading "
                         "towards its tail and coloured by speed (0: no trails) "
                         f"[{TRAIL_HOURS:g}]")
    ap.add_argument("--hide-trails", action="store_true",
                    help="do not render the wind streaks (written and in scene.usda)")
    ap.add_argument("--show-trails", action="store_true",
                    help=argparse.SUPPRESS)  # deprecated no-op: the streaks show by default
    add_asset_args(ap)
    ap.add_argument("--title")
    ap.add_argument("--resolution", type=resolution, default=DEFAULT_RESOLUTION,
                    metavar="WxH")
    ap.add_argument("--samples", type=positive_int, default=SCENE_SAMPLES["climate"],
                    help="Cycles samples per pixel, denoised [%(default)s]")
    ap.add_argument("--fps", type=positive_int, default=12)
    ap.add_argument("--no-render", action="store_true")
    ap.add_argument("--draft", action="store_true",
                    help="render quick Workbench frames (frames/draft/) instead of final ones")
    add_engine_args(ap)
    add_dry_run_arg(ap)
    return ap


@dataclass(frozen=True, kw_only=True)
class ClimateSettings(RunSettings):
    """A climate run (the fields are the options of ``python -m climate_pipeline``)."""

    samples: int = SCENE_SAMPLES["climate"]

    var: str | None = None
    member: int | None = None  # GRIB ensemble member
    wind: tuple[str, ...] = ()  # U,V[,W] names; () finds them
    wind_files: tuple[str, ...] = ()  # () the inputs
    mode: str = "map"  # map | globe
    exaggeration: float = 50.0
    thresholds: tuple[float, ...] = ()  # () action levels, else rounded percentiles
    thresholds_units: str = ""  # the unit of thresholds ('': the field's)
    colormap: str = "lajolla"
    frames: int | None = None  # None: the data's time steps
    particles: int = 20000
    batches: int | None = None  # None: one per PARTICLES_PER_BATCH, at most one per worker
    coastlines: str = "50m"
    borders: bool = False
    seed_by: str = "uniform"
    streamlines: int = 160
    streamline_height: float = 1000.0
    hide_streamlines: bool = False
    trail_hours: float = TRAIL_HOURS  # wind streak length, hours of flow (0: none)
    hide_trails: bool = False


def settings_from_args(ns: argparse.Namespace) -> ClimateSettings:
    """The settings of one run, from ``build_parser().parse_args(argv)``."""
    return from_namespace(ClimateSettings, ns, mode=ns.mode or "map",
                          wind=split_list(ns.wind),
                          formats=asset_formats(split_list(ns.formats)),
                          thresholds=tuple(ns.thresholds[0] if ns.thresholds else ()),
                          thresholds_units=ns.thresholds[1] if ns.thresholds else "",
                          inputs=tuple(str(p) for p in ns.inputs),
                          wind_files=tuple(str(p) for p in ns.wind_files or ()),
                          particles=max(0, int(ns.particles)),
                          streamlines=max(0, int(ns.streamlines)))
