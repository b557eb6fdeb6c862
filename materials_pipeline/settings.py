"""The materials command line and the one value it becomes: :class:`MaterialsSettings`.

``build_parser()`` is the CLI; ``settings_from_args(ns)`` is the only reader of its
``argparse.Namespace`` (it also checks ``--formats``). Everything below
(:func:`materials_pipeline.pipeline.convert`, the manifest builder) reads the frozen settings,
which the manifest records under ``provenance.settings``.
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

__all__ = ["MaterialsSettings", "build_parser", "settings_from_args", "parse_formats"]


def non_negative_int(text: str) -> int:
    """argparse type (``--orbit-frames``): a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def parse_supercell(text: str) -> tuple[int, int, int]:
    try:
        reps = tuple(int(x) for x in text.replace("x", ",").split(","))
    except ValueError:
        reps = ()
    if len(reps) == 1:
        reps = reps * 3
    if len(reps) != 3 or min(reps) < 1:
        raise argparse.ArgumentTypeError(f"expected N,N,N with N >= 1, got {text!r}")
    return reps  # type: ignore[return-value]


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m materials_pipeline",
        description="Electron densities and structures (VASP, cube, XSF, XYZ, ASE) to Blender "
                    "and Maya assets, stills and a movie.")
    ap.add_argument("inputs", nargs="*", metavar="FILE_OR_DIR",
                    help="volumetric or structure files, or folders of them (a series)")
    ap.add_argument("--out", type=Path, required=True, help="run directory")
    ap.add_argument("--default", action="store_true",
                    help="compute the embedded default input (PySCF water vibration) first")
    ap.add_argument("--frames", type=positive_int, default=16,
                    help="frames of the default input [16]")
    ap.add_argument("--iso", default=None,
                    help="isovalue: 0.05 | 0.05e/A3 | 0.002e/bohr3 | 0.5V | 10%% (of max) | p95 "
                         "| 90%%e (enclosed electrons) [50%%e for densities of periodic "
                         "valence grids (VASP), 0.002e/bohr3 for molecules, ±10%% for "
                         "orbitals and spin, ±half the smaller extreme for potentials: "
                         "materials_pipeline.levels]")
    ap.add_argument("--field", help="grid to contour (e.g. magnetization) [the file's first]")
    ap.add_argument("--color-by", nargs="+", metavar="FILE_OR_DIR",
                    help="colour the surface by a second field: one file, or one per frame")
    ap.add_argument("--color-field", help="grid of the --color-by files [their first]")
    ap.add_argument("--colormap", default=None, help="colour map [vik for potentials]")
    ap.add_argument("--supercell", type=parse_supercell, default=(1, 1, 1), metavar="N,N,N")
    ap.add_argument("--radius", default="covalent", choices=["covalent", "vdw"])
    ap.add_argument("--atom-scale", type=float, default=0.45)
    ap.add_argument("--repeat-boundary", action="store_true",
                    help="repeat atoms on cell faces on the opposite faces")
    ap.add_argument("--polyhedra", default="", help="coordination polyhedra around these "
                    "elements, e.g. Ti,Si")
    ap.add_argument("--ligands", default="", help="only these elements as polyhedron corners, "
                    "e.g. O")
    ap.add_argument("--no-volume", action="store_true", help="no .vdb volume")
    ap.add_argument("--show-volume", action="store_true",
                    help="render the volume also for non-periodic (molecular) grids")
    add_asset_args(ap)
    ap.add_argument("--title", help="title of the stills [from the input]")
    ap.add_argument("--ortho", action="store_true",
                    help="orthographic camera (VESTA's projection: no perspective, parallel "
                         "lattice planes stay parallel)")
    ap.add_argument("--orbit-frames", type=non_negative_int, default=48,
                    help="frames of the camera orbit around a single frame, rendered after "
                         "its first still (frames/0000.png); 0: the still alone [48]")
    ap.add_argument("--resolution", type=resolution, default=DEFAULT_RESOLUTION,
                    metavar="WxH")
    ap.add_argument("--samples", type=positive_int, default=SCENE_SAMPLES["materials"],
                    help="Cycles samples per pixel, denoised [%(default)s]")
    ap.add_argument("--fps", type=positive_int, default=12)
    ap.add_argument("--no-render", action="store_true", help="assets and manifest only")
    ap.add_argument("--draft", action="store_true",
                    help="render quick Workbench frames (frames/draft/) instead of final ones")
    add_engine_args(ap)
    add_dry_run_arg(ap)
    return ap


@dataclass(frozen=True, kw_only=True)
class MaterialsSettings(RunSettings):
    """A materials run (the fields are the options of ``python -m materials_pipeline``)."""

    samples: int = SCENE_SAMPLES["materials"]

    frames: int = 16  # frames of the default input
    iso: str | None = None  # None: by what the grid is (materials_pipeline.levels)
    field: str | None = None
    color_by: tuple[str, ...] = ()
    color_field: str | None = None
    colormap: str | None = None
    supercell: tuple[int, int, int] = (1, 1, 1)
    radius: str = "covalent"
    atom_scale: float = 0.45
    repeat_boundary: bool = False
    polyhedra: tuple[str, ...] = ()
    ligands: tuple[str, ...] = ()
    orbit_frames: int = 48  # after the first still; 0: the still alone
    ortho: bool = False  # orthographic camera


def parse_formats(text: str) -> tuple[str, ...]:
    """``--formats``: :func:`core.io.asset_formats` (the renderer's GLB always)."""
    return asset_formats(split_list(text))


def settings_from_args(ns: argparse.Namespace) -> MaterialsSettings:
    """The settings of one run, from ``build_parser().parse_args(argv)``."""
    return from_namespace(MaterialsSettings, ns, formats=parse_formats(ns.formats),
                          inputs=tuple(str(p) for p in ns.inputs),
                          color_by=tuple(str(p) for p in ns.color_by or ()),
                          polyhedra=split_list(ns.polyhedra), ligands=split_list(ns.ligands))
