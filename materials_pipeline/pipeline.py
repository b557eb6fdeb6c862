"""The materials pipeline command: files -> assets -> manifest (+ scene.usda) -> render.

    python -m materials_pipeline FILE_OR_DIR... --out DIR [--iso SPEC] [--supercell N,N,N]
        [--field NAME] [--color-by FILE_OR_DIR...] [--color-field NAME] [--colormap NAME]
        [--radius covalent|vdw] [--repeat-boundary] [--polyhedra Ti,Si] [--orbit-frames N]
        [--resolution WxH] [--samples N] [--engine ...] [--workers N] [--no-render]

With no input, ``--default`` (what ``make materials`` runs) computes a water vibration with
PySCF and converts it. Several files (or a folder) are a series: one frame per file, in
natural sort order. A single frame becomes an orbit of the camera around it.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from core.cli import (
    add_dry_run_arg,
    add_engine_args,
    positive_int,
    resolution,
    set_log_file,
)
from core.errors import BadInputError

DIVERGING_DEFAULT = "vik"


def natural_key(path: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def expand_inputs(items: list[str], what: str = "input") -> list[Path]:
    """Files and folders -> files, folders expanded in natural sort order."""
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            files = sorted((f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")
                            and f.name != "mode.json"), key=natural_key)
            if not files:
                raise BadInputError(f"{p}: empty folder, no {what} files in it")
            out.extend(files)
        elif p.exists():
            out.append(p)
        else:
            raise BadInputError(f"{p}: no such file or folder")
    return out


def frame_sources(files: list[Path]) -> list[tuple[str, int | None]]:
    """(path, frame in file) per frame: one per volumetric/structure file, one per step of a
    trajectory (XDATCAR, AXSF animations, multi-frame extxyz/traj)."""
    from materials_pipeline.formats import guess_format, read_trajectory

    out: list[tuple[str, int | None]] = []
    for f in files:
        fmt = guess_format(f)
        animated = fmt.kinds == ("trajectory",) or (
            fmt.name == "xsf" and b"ANIMSTEPS" in f.open("rb").read(1 << 16).upper())
        if animated:  # structure trajectories are small: count their frames here
            traj = read_trajectory(f)
            out.extend((str(f), k) for k in range(len(traj.frames)))
        else:  # volumetric files are read once, by their frame's task
            out.append((str(f), None))
    return out


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
                    help="isovalue: 0.05 | 0.05e/A3 | 10%% (of max) | p95 | 90%%e (enclosed "
                         "electrons) [50%%e for densities, 10%% for other fields]")
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
    ap.add_argument("--formats", default="ply,glb,usd", help="mesh formats [ply,glb,usd]")
    ap.add_argument("--title", help="title of the stills [from the input]")
    ap.add_argument("--orbit-frames", type=positive_int, default=48,
                    help="frames of the camera orbit around a single frame [48]")
    ap.add_argument("--resolution", type=resolution, default=(800, 450), metavar="WxH")
    ap.add_argument("--samples", type=positive_int, default=12)
    ap.add_argument("--fps", type=positive_int, default=12)
    ap.add_argument("--no-render", action="store_true", help="assets and manifest only")
    add_engine_args(ap)
    add_dry_run_arg(ap)
    return ap


def make_params(args: argparse.Namespace) -> dict[str, Any]:
    formats = [f.strip().lower() for f in args.formats.split(",") if f.strip()]
    if "ply" not in formats:
        formats.insert(0, "ply")  # the renderer loads PLY
    bad = [f for f in formats if f not in ("ply", "glb", "usd")]
    if bad:
        raise BadInputError(f"--formats: unknown {bad}; choose from ply, glb, usd")
    return {
        "iso": args.iso, "field": args.field, "color_field": args.color_field,
        "supercell": list(args.supercell), "radius": args.radius, "atom_scale": args.atom_scale,
        "repeat_boundary": bool(args.repeat_boundary),
        "polyhedra": [e.strip() for e in args.polyhedra.split(",") if e.strip()],
        "ligands": [e.strip() for e in args.ligands.split(",") if e.strip()],
        "volume": not args.no_volume, "formats": formats, "show_volume": args.show_volume,
    }


def _pair_colour_sources(frames: list[tuple[str, int | None]], color: list[Path] | None
                         ) -> list[str | None]:
    if not color:
        return [None] * len(frames)
    if len(color) == 1:
        return [str(color[0])] * len(frames)
    if len(color) != len(frames):
        raise BadInputError(f"--color-by: {len(color)} files for {len(frames)} frames; give one "
                            "file, or one per frame")
    return [str(c) for c in color]


def convert(args: argparse.Namespace) -> dict:
    """Run the conversion graph; returns {"manifest": path, "frames": metas}."""
    from core.cli import engine_from_args
    from core.runtime import wait_on

    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    set_log_file(out / "run.log")
    t0 = time.perf_counter()
    color_files = expand_inputs(args.color_by, "--color-by") if args.color_by else None
    if args.default:
        inputs = out / "inputs" / f"{args.frames}-frames"
        density, esp = generate_default(args, inputs)
        args.inputs = [str(p) for p in density]
        color_files = esp
        args.title = args.title or "Water, bending vibration (PySCF PBE0/6-31G*)"
        args.iso = args.iso or "0.002e/bohr3"  # the classic MEP-mapped molecular surface
    if not args.inputs:
        raise BadInputError("no input: give files or folders, or --default")
    files = expand_inputs(args.inputs)
    frames = frame_sources(files)
    colours = _pair_colour_sources(frames, color_files)
    from core.manifest import checksums_in_background

    all_inputs = sorted({Path(s).resolve() for s, _ in frames} |
                        {p.resolve() for p in color_files or []})
    checksums = checksums_in_background(all_inputs)  # overlaps with the conversion
    params = make_params(args)
    n = len(frames)
    from core.runtime import resolve_workers

    args.workers = min(resolve_workers(args.workers), n)  # one file: no worker processes
    with engine_from_args(args, label="materials") as eng:
        from materials_pipeline.tasks import build_frame, colour_frame

        # parser threads: the cores shared out between the workers (no oversubscription);
        # under COMPSs, the task's computing units
        threads = max(1, len(os.sched_getaffinity(0)) // args.workers)
        if eng.name == "compss":
            from core.containers import env_units

            threads = int(env_units("VIZPIPE_CU_CONVERT"))
        metas = wait_on([build_frame(src, k, c, str(out), i, params, threads)
                         for i, ((src, k), c) in enumerate(zip(frames, colours, strict=True))])
        crange = None
        cmap = args.colormap
        if color_files:
            from core import colormaps
            from materials_pipeline.stages import colour_range

            cmap = cmap or DIVERGING_DEFAULT
            crange = colour_range([s for m in metas for s in m.get("color_stats", [])],
                                  colormaps.is_diverging(cmap))
            wait_on([colour_frame(str(out), m["index"], [s["name"] for s in m["surfaces"]],
                                  cmap, crange[0], crange[1], params["formats"])
                     for m in metas if m.get("surfaces")])
    log_frame_warnings(metas)
    from core.manifest import write_run
    from materials_pipeline.manifest import build_manifest

    manifest = build_manifest(out, metas, params, args, cmap=cmap, crange=crange,
                              inputs=all_inputs, checksums=checksums.result())
    path = write_run(out, manifest)
    done = sum(not m.get("skipped") for m in metas)
    print(f"materials: {n} frame(s), {done} converted, {n - done} already there, "
          f"{time.perf_counter() - t0:.1f}s -> {path}", file=sys.stderr, flush=True)
    return {"manifest": str(path), "frames": metas}


def log_frame_warnings(metas: list[dict]) -> None:
    """What the readers skipped or clipped, per frame: one line each to stderr and run.log
    (also in the manifest's provenance)."""
    import logging

    log = logging.getLogger("vizpipe.materials")
    for m in sorted(metas, key=lambda m: m["index"]):
        for note in m.get("warnings", []):
            log.warning(note)
            print(f"materials: warning: {note}", file=sys.stderr, flush=True)


def generate_default(args: argparse.Namespace, inputs: Path) -> tuple[list[Path], list[Path]]:
    """PySCF frames as cube files in inputs/density and inputs/esp (parallel tasks);
    returns the two file lists."""
    from core.cli import engine_from_args
    from core.runtime import wait_on
    from materials_pipeline import default_data

    n = int(args.frames)
    for sub in ("density", "esp"):
        (inputs / sub).mkdir(parents=True, exist_ok=True)
    mode = default_data.normal_mode(inputs)
    from core.runtime import resolve_workers

    saved = args.workers
    args.workers = min(resolve_workers(args.workers), n)
    with engine_from_args(args, label="pyscf") as _eng:
        from materials_pipeline.tasks import compute_default_frame

        wait_on([compute_default_frame(str(inputs), i, n, mode, {}) for i in range(n)])
    args.workers = saved
    missing = [i for i in range(n) if not (inputs / "density" / default_data.density_name(i))
               .exists()]
    if missing:
        raise BadInputError(f"{inputs}: default frames {missing} were not computed")
    return ([inputs / "density" / default_data.density_name(i) for i in range(n)],
            [inputs / "esp" / default_data.esp_name(i) for i in range(n)])
