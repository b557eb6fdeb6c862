"""The materials pipeline command: files -> assets -> manifest (+ scene.usda) -> render.

    python -m materials_pipeline FILE_OR_DIR... --out DIR [--iso SPEC] [--supercell N,N,N]
        [--field NAME] [--color-by FILE_OR_DIR...] [--color-field NAME] [--colormap NAME]
        [--radius covalent|vdw] [--repeat-boundary] [--polyhedra Ti,Si] [--orbit-frames N]
        [--resolution WxH] [--samples N] [--engine ...] [--workers N] [--no-render]

With no input, ``--default`` (what ``make materials`` runs) computes a water vibration with
PySCF and converts it. Several files (or a folder) are a series: one frame per file, in
natural sort order. A single frame becomes a still (frames/0000.png, rendered first, alone)
and an orbit of the camera around it (``--orbit-frames``, 0 for the still alone). The default
level fits the grid (:mod:`materials_pipeline.levels`); the log line says which rule chose it.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

from core.cli import set_log_file
from core.errors import BadInputError
from core.manifest import checksums_in_background, write_run
from core.rundir import RunDir
from core.runtime import resolve_workers, use_engine, wait_on
from materials_pipeline import default_data
from materials_pipeline.levels import DefaultLevel
from materials_pipeline.manifest import UNIT_TEXT, build_manifest
from materials_pipeline.params import FrameParams
from materials_pipeline.readers import guess_format, read_trajectory
from materials_pipeline.settings import MaterialsSettings, build_parser, settings_from_args

__all__ = ["MaterialsSettings", "build_parser", "settings_from_args", "convert",
           "expand_inputs", "frame_sources", "make_params"]

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


def make_params(s: MaterialsSettings) -> FrameParams:
    """What a frame task needs (its ``key()``: JSON values the cache key hashes)."""
    return FrameParams.from_settings(s)


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


def with_default_data(s: MaterialsSettings, run: RunDir) -> MaterialsSettings:
    """``--default``: compute the PySCF water frames and return the settings that read them
    (densities, coloured by the potential; the title unless given)."""
    from materials_pipeline.default_data import inputs_dir

    density, esp = generate_default(s, inputs_dir(run.root, s.frames))
    return s.replace(inputs=tuple(str(p) for p in density), color_by=tuple(map(str, esp)),
                     title=s.title or "Water, bending vibration (PySCF PBE0/6-31G*)")
    # the level: the molecular surface, 0.002 e/bohr³ (materials_pipeline.levels' default
    # for a non-periodic density), the classic MEP-mapped surface


def convert(s: MaterialsSettings) -> dict:
    """Run the conversion graph; returns {"manifest": path, "frames": metas}."""

    run = RunDir(s.out.resolve())
    out = run.root
    out.mkdir(parents=True, exist_ok=True)
    set_log_file(run.run_log)
    t0 = time.perf_counter()
    if s.default:
        s = with_default_data(s, run)
    color_files = expand_inputs(list(s.color_by), "--color-by") if s.color_by else None
    if not s.inputs:
        raise BadInputError("no input: give files or folders, or --default")
    files = expand_inputs(list(s.inputs))
    frames = frame_sources(files)
    colours = _pair_colour_sources(frames, color_files)

    all_inputs = sorted({Path(s).resolve() for s, _ in frames} |
                        {p.resolve() for p in color_files or []})
    checksums = checksums_in_background(all_inputs)  # overlaps with the conversion
    params = make_params(s)
    n = len(frames)

    workers = min(resolve_workers(s.workers), n)  # one file: no worker processes
    with use_engine(s.engine, workers=workers, label="materials") as eng:
        from materials_pipeline.tasks import build_frame, colour_frame

        # parser threads: the cores shared out between the workers (no oversubscription);
        # under COMPSs, the task's computing units
        threads = max(1, len(os.sched_getaffinity(0)) // workers)
        if eng.name == "compss":
            from core.containers import env_units

            threads = int(env_units("VIZPIPE_CU_CONVERT"))
        metas = wait_on([build_frame(src, k, c, str(out), i, params, threads)
                         for i, ((src, k), c) in enumerate(zip(frames, colours, strict=True))])
        crange = None
        cmap = s.colormap
        if color_files:
            from core import colormaps
            from materials_pipeline.stages import colour_range

            cmap = cmap or DIVERGING_DEFAULT
            crange = colour_range([s for m in metas for s in m.get("color_stats", [])],
                                  colormaps.is_diverging(cmap))
            wait_on([colour_frame(str(out), m["index"], [s["name"] for s in m["surfaces"]],
                                  cmap, crange[0], crange[1], params.formats)
                     for m in metas if m.get("surfaces")])
    log_frame_warnings(metas)
    log_levels(metas)

    manifest = build_manifest(run, metas, params, s, cmap=cmap, crange=crange,
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


def level_lines(metas: list[dict]) -> list[str]:
    """One line per frame whose level rule differs from the frame before it (a series with
    one rule: one line): the level and the rule that picked it (materials_pipeline.levels)."""

    lines, last = [], None
    for m in sorted(metas, key=lambda m: m["index"]):
        if "level_rule" not in m or m["level_rule"] == last:
            continue
        last = m["level_rule"]
        rule = DefaultLevel("", bool(m.get("signed")), m["level_rule"], m.get("level_why", ""))
        sign = "±" if m.get("signed") else ""
        level = m["level_text"].replace(m["units"], UNIT_TEXT.get(m["units"], m["units"])) \
            if m.get("units") else m["level_text"]
        lines.append(f"{Path(m['source']).name}: isosurface {sign}{level}: {rule.text()}")
    return lines


def log_levels(metas: list[dict]) -> None:
    """:func:`level_lines` to stderr and run.log."""
    import logging

    log = logging.getLogger("vizpipe.materials")
    for line in level_lines(metas):
        log.info(line)
        print(f"materials: {line}", file=sys.stderr, flush=True)


def generate_default(s: MaterialsSettings, inputs: Path) -> tuple[list[Path], list[Path]]:
    """PySCF frames as cube files in inputs/density and inputs/esp (parallel tasks);
    returns the two file lists."""

    n = int(s.frames)
    for sub in ("density", "esp"):
        (inputs / sub).mkdir(parents=True, exist_ok=True)
    mode = default_data.normal_mode(inputs)

    with use_engine(s.engine, workers=min(resolve_workers(s.workers), n), label="pyscf"):
        from materials_pipeline.tasks import compute_default_frame

        wait_on([compute_default_frame(str(inputs), i, n, mode, {}) for i in range(n)])
    missing = [i for i in range(n) if not (inputs / "density" / default_data.density_name(i))
               .exists()]
    if missing:
        raise BadInputError(f"{inputs}: default frames {missing} were not computed")
    return ([inputs / "density" / default_data.density_name(i) for i in range(n)],
            [inputs / "esp" / default_data.esp_name(i) for i in range(n)])
