"""The render driver: manifest -> frames (Blender chunks in parallel) -> movie. No bpy here.

::

    python -m render RUN_DIR [--frames A:B] [--resolution WxH] [--samples N]
                     [--device CPU|GPU] [--chunk N] [--engine local|serial|compss]
                     [--workers N] [--no-movie] [--no-blend] [--force] [--draft]

1. Reads and validates ``RUN_DIR/manifest.json`` (every asset file must exist; the legend's
   colour bar image too). A bad manifest, a missing asset or a folder without a manifest ends
   with one ``error: ...`` line and exit status 1.
2. Picks the frames to render: those selected by ``--frames`` (manifest indices, ``A:B`` is
   A <= index < B, ``A:`` and ``:B`` are open, ``A`` is one frame) whose final PNG is not
   already there (complete, with the requested size); ``--force`` renders them all again.
3. Splits them into chunks (``--chunk`` frames each, by default an even share per worker,
   at most 8) and runs one Blender subprocess per chunk as a task
   (:func:`render.tasks.render_chunk`) on the chosen engine, plus one that writes
   ``RUN_DIR/scene.blend`` (all frames, keyframed visibility and camera) when it is missing or
   older than the manifest. Each frame file is renamed into place when complete, so a failing
   chunk keeps the frames rendered before it, and a re-run renders only what is missing.
4. Encodes ``RUN_DIR/movie.mp4`` (H.264, the manifest's fps) once every frame of the manifest
   is rendered (``--no-movie`` skips it).

Cycles' threads per chunk are the cores shared out between the workers.

``--draft`` renders the same frames, camera and overlays with Blender's Workbench engine
(solid colours: vertex colours, colour maps baked per vertex, flat asset colours) for checking
camera, framing and timing: ``frames/draft/NNNN.png`` and ``movie_draft.mp4``, done or not on
their own (a draft frame never counts for a final render, nor the reverse); no scene.blend.

Under the COMPSs runtime each chunk is :func:`render.tasks.render_chunk_container` (Blender in
its Singularity image, per ``@container`` over ``@binary``); elsewhere, PyCOMPSs's sequential
mode included, it is :func:`render.tasks.render_chunk` (a ``python -m render.blender_chunk``
subprocess with the ``bpy`` wheel). ``--dry-run`` prints the command lines a run would launch
(per chunk: ``singularity exec ... blender ...`` on a COMPSs worker, ``python -m
render.blender_chunk ...`` here) and runs nothing.

The options are parsed once into a :class:`render.settings.RenderSettings` (the parser's
defaults are its fields'); :func:`run` and :func:`dry_run_lines` take that value, so a caller
in this process (a pipeline's COMPSs application) builds one and renders without argv.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import time
from pathlib import Path

from core.cli import (
    add_dry_run_arg,
    add_engine_args,
    main_wrapper,
    positive_int,
    resolution,
    set_log_file,
)
from core.errors import ManifestError, PipelineError
from core.manifest import read_manifest
from core.rundir import RunDir
from render import paths
from render.settings import DEVICES, MAX_DEFAULT_CHUNK, RenderSettings, default_of

log = logging.getLogger("vizpipe.render")


def say(msg: str) -> None:
    """A progress line on stdout, also logged to RUN_DIR/run.log."""
    print(msg, flush=True)
    log.info(msg)


def parse_frame_range(text: str) -> tuple[int | None, int | None]:
    """``A:B`` -> (A, B) (B exclusive; either may be omitted); ``A`` -> (A, A + 1)."""
    t = text.strip()
    try:
        if ":" in t:
            a, b = t.split(":", 1)
            lo = int(a) if a.strip() else None
            hi = int(b) if b.strip() else None
        else:
            lo = int(t)
            hi = lo + 1
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected A:B, A: , :B or A (frame indices), "
                                         f"got {text!r}") from None
    return lo, hi


parse_resolution = resolution  # the CLI's WxH parser (core.cli.resolution)


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m render",
        description="Render a vizpipe run directory with Blender (Cycles): frames/NNNN.png, "
                    "scene.blend and movie.mp4.")
    ap.add_argument("run_dir", type=Path, help="run directory holding manifest.json")
    ap.add_argument("--frames", type=parse_frame_range, default=default_of("frames"),
                    metavar="A:B",
                    help="frame indices to render: A:B (B excluded), A:, :B or A [all]")
    ap.add_argument("--resolution", type=parse_resolution, default=default_of("resolution"),
                    metavar="WxH",
                    help=f"image size [manifest render.resolution, else "
                         f"{paths.DEFAULT_RESOLUTION[0]}x{paths.DEFAULT_RESOLUTION[1]}]")
    ap.add_argument("--samples", type=positive_int, default=default_of("samples"),
                    metavar="N",
                    help=f"Cycles samples per pixel [manifest render.samples, else "
                         f"{paths.DEFAULT_SAMPLES}]")
    ap.add_argument("--device", type=str.upper, choices=list(DEVICES),
                    default=default_of("device"),
                    help=f"Cycles device; GPU uses OptiX/CUDA/HIP/oneAPI when present "
                         f"[{default_of('device')}]")
    ap.add_argument("--chunk", type=positive_int, default=default_of("chunk"), metavar="N",
                    help=f"frames per Blender process [an even share per worker, at most "
                         f"{MAX_DEFAULT_CHUNK}]")
    ap.add_argument("--no-movie", action="store_true", default=not default_of("movie"),
                    help="do not encode movie.mp4")
    ap.add_argument("--no-blend", action="store_true", default=not default_of("blend"),
                    help="do not write scene.blend")
    ap.add_argument("--force", action="store_true", default=default_of("force"),
                    help="render the selected frames again even if they exist")
    ap.add_argument("--draft", action="store_true", default=default_of("draft"),
                    help="quick Workbench frames (solid colours, same camera and overlays) in "
                         "frames/draft/ and movie_draft.mp4; final frames are left alone")
    add_engine_args(ap)
    add_dry_run_arg(ap)
    return ap


def select_frames(manifest: dict, rng: tuple[int | None, int | None] | None) -> list[int]:
    """Manifest frame indices within ``rng`` (sorted)."""
    indices = sorted(f["index"] for f in manifest["frames"])
    if rng is None:
        return indices
    lo, hi = rng
    sel = [i for i in indices if (lo is None or i >= lo) and (hi is None or i < hi)]
    if not sel:
        a = "" if lo is None else lo
        b = "" if hi is None else hi
        raise PipelineError(f"--frames {a}:{b}: no frame of the manifest in this range "
                            f"(indices {indices[0]}..{indices[-1]})")
    return sel


def make_chunks(frames: list[int], chunk: int | None, workers: int) -> list[list[int]]:
    """Consecutive chunks; by default an even share per worker, at most MAX_DEFAULT_CHUNK."""
    if not frames:
        return []
    size = chunk or max(1, min(MAX_DEFAULT_CHUNK, math.ceil(len(frames) / max(1, workers))))
    return [frames[i:i + size] for i in range(0, len(frames), size)]


def first_still(manifest: dict, todo: list[int]) -> list[int]:
    """``[first frame]`` of an orbit around one frame (``camera.mode`` "orbit") still to
    render with others: rendered alone, every core, before the rest (a picture within one
    frame's time); else ``[]``."""
    first = min(f["index"] for f in manifest["frames"])
    orbit = manifest.get("camera", {}).get("mode") == "orbit"
    return [first] if orbit and len(todo) > 1 and todo[0] == first else []


def check_run(run_dir: Path) -> dict:
    """Read the manifest (assets checked); also check the legend's colour bar image."""
    if not run_dir.exists():
        raise ManifestError(f"{run_dir}: no such run directory")
    manifest = read_manifest(run_dir)
    bar = manifest.get("legend", {}).get("colorbar")
    if bar and not (run_dir / bar["image"]).exists():
        raise ManifestError(f"{run_dir / 'manifest.json'}: field legend/colorbar/image: "
                            f"file missing: {run_dir / bar['image']}")
    return manifest


def blend_outdated(run_dir: Path) -> bool:
    blend = paths.blend_path(run_dir)
    if not blend.exists():
        return True
    return blend.stat().st_mtime < RunDir(run_dir).manifest.stat().st_mtime


def probe_device(run_dir: Path, device: str) -> None:
    """Fail early, with the child's own message, if the device cannot be used."""
    from render.process import run_blender

    run_blender(["--probe-device", device], paths.logs_dir(run_dir) / "device.log",
                f"--device {device}", echo=False)


def movie_outdated(run_dir: Path, frames: list[Path], draft: bool = False) -> bool:
    movie = paths.movie_path(run_dir, draft)
    if not movie.exists():
        return True
    newest = max([p.stat().st_mtime for p in frames]
                 + [RunDir(run_dir).manifest.stat().st_mtime])
    return movie.stat().st_mtime < newest


def _threads(engine: object, n_tasks: int) -> int:
    """Cycles threads per Blender process: the cores shared out between concurrent tasks."""
    if use_container_form():  # COMPSs places the task on its computing units: use those
        return compss_threads()
    if getattr(engine, "name", "") != "local":
        return 0  # serial, sequential mode: one process at a time, all cores
    from core.runtime import default_workers

    workers = int(getattr(engine, "workers", 1) or 1)
    return max(1, default_workers() // max(1, min(workers, n_tasks)))


def compss_threads() -> int:
    """Cycles threads of a chunk task under COMPSs: its computing units ($VIZPIPE_CU_RENDER)."""
    from core.containers import env_units

    return int(env_units("VIZPIPE_CU_RENDER"))


def _plan(settings: RenderSettings, run_dir: Path, manifest: dict
          ) -> tuple[tuple[int, int], int, list[int], list[int]]:
    """(resolution, samples, selected frames, frames to render) for ``settings``."""
    resolution = settings.resolution or paths.manifest_resolution(manifest)
    samples = settings.samples or paths.manifest_samples(manifest)
    selected = select_frames(manifest, settings.frames)
    todo = [i for i in selected
            if settings.force or not paths.frame_done(run_dir, i, resolution,
                                                      paths.frame_key(manifest, i),
                                                      settings.draft)]
    return resolution, samples, selected, todo


def use_container_form() -> bool:
    """Chunks as Blender-in-Singularity binary tasks: only under the COMPSs runtime."""
    from core.runtime import UNDER_COMPSS

    return UNDER_COMPSS


def _submit_chunk(run_dir: Path, chunk: list[int], resolution: tuple[int, int], samples: int,
                  device: str, threads: int, draft: bool = False) -> object:
    """Submit one chunk task in the form this process uses (see :func:`use_container_form`)."""
    if use_container_form():
        if draft:
            raise PipelineError("--draft renders with the bpy wheel here, not in the Blender "
                                "image under COMPSs: run python -m render RUN_DIR --draft")
        from core.containers import covered
        from core.runtime.taskdef import task_def
        from render.tasks import render_chunk_container

        tdef = task_def(render_chunk_container)
        options = tdef.container.get("options", "") if tdef else _runtime_options()
        if not covered(run_dir, options):
            raise PipelineError(
                f"{run_dir}: not bound into the Blender image (@container options "
                f"{options!r}); set VIZPIPE_CONTAINER_BINDS to include it before the run")
        return render_chunk_container(str(run_dir), ",".join(map(str, chunk)),
                                      f"{resolution[0]}x{resolution[1]}", int(samples), device,
                                      int(threads))
    from render.tasks import render_chunk

    return render_chunk(str(run_dir), chunk, list(resolution), samples, device, threads, draft)


def _runtime_options() -> str:
    """The bind options the container task was decorated with (read as render.tasks did)."""
    from core.containers import bind_paths, container_options

    return container_options(bind_paths())


def dry_run_lines(settings: RenderSettings) -> list[str]:
    """The command lines :func:`run` would launch for ``settings`` (nothing is run)."""
    import shlex

    from core.containers import bind_paths, blender_image, container_options, singularity_command
    from core.runtime.binary_local import substitute
    from render.process import blender_command
    from render.tasks import CHUNK_ARGS, chunk_args

    run_dir = settings.run_dir.resolve()
    manifest = check_run(run_dir)
    resolution, samples, _selected, todo = _plan(settings, run_dir, manifest)
    compss_chunks = make_chunks(todo, settings.chunk, 1)  # one worker slot per task under COMPSs
    image, options = blender_image(), container_options(bind_paths([run_dir]))
    lines = [f"# {len(todo)} frame(s) to render in {run_dir}",
             "# COMPSs worker, per chunk (COMPSs adds --bind <sandbox> --bind <appdir> "
             "--pwd <sandbox>):"]
    for c in compss_chunks:  # the @binary args of render_chunk_container, substituted
        words = substitute(CHUNK_ARGS, {
            "run_dir": str(run_dir), "frames": ",".join(map(str, c)),
            "resolution": f"{resolution[0]}x{resolution[1]}", "samples": int(samples),
            "device": settings.device, "threads": compss_threads()})
        lines.append(shlex.join(singularity_command(image, options, "blender", words)))
    from core.runtime import default_workers, resolve_workers

    workers = resolve_workers(settings.workers)
    chunks = make_chunks(todo, settings.chunk, workers)
    threads = max(1, default_workers() // max(1, min(workers, len(chunks) or 1)))
    lines.append(f"# here, {workers} worker(s), per chunk:")
    for c in chunks:
        cmd = blender_command(chunk_args(str(run_dir), c, list(resolution), samples,
                                         settings.device, threads, settings.draft))
        lines.append(shlex.join(cmd))
    return lines


def run(settings: RenderSettings) -> dict:
    """Render as ``settings`` ask; returns a summary dict."""
    run_dir = settings.run_dir.resolve()
    manifest = check_run(run_dir)
    set_log_file(RunDir(run_dir).run_log)
    resolution, samples, selected, todo = _plan(settings, run_dir, manifest)
    skipped = len(selected) - len(todo)
    draft = bool(settings.draft)
    need_blend = settings.blend and not draft and (settings.force or blend_outdated(run_dir))
    how = "Workbench draft" if draft else f"{samples} samples, {settings.device}"
    say(f"render: {run_dir.name}: {len(selected)} frame(s) selected, {skipped} already "
        f"rendered, {len(todo)} to render at {resolution[0]}x{resolution[1]}, {how}")
    if todo and settings.device == "GPU" and not draft:
        probe_device(run_dir, "GPU")

    from core.runtime import use_engine, wait_on
    from render.tasks import write_blend

    t0 = time.perf_counter()
    results: list[dict] = []
    if todo or need_blend:
        with use_engine(settings.engine, workers=settings.workers, label="render") as engine:
            workers = int(getattr(engine, "workers", 1) or 1)
            # an orbit's first frame alone, first: a picture within one frame's time for a
            # person waiting (not in a batch job under COMPSs: one more Blender start there;
            # not for drafts, a second a frame anyway)
            if not draft and engine.name != "compss" and (
                    first := first_still(manifest, todo)):
                r = wait_on([_submit_chunk(run_dir, first, resolution, samples, settings.device,
                                           _threads(engine, 1), draft)])[0]
                results.append(r if isinstance(r, dict)
                               else _container_result(run_dir, first, resolution))
                say(f"render: first still {paths.final_frame(run_dir, first[0], draft)} after "
                    f"{time.perf_counter() - t0:.1f}s; now the other {len(todo) - 1} frame(s)")
                todo = todo[1:]
            chunks = make_chunks(todo, settings.chunk, workers)
            threads = _threads(engine, len(chunks))  # (the .blend task is brief)
            futures = [_submit_chunk(run_dir, c, resolution, samples, settings.device, threads,
                                     draft) for c in chunks]
            if need_blend:
                futures.append(write_blend(str(run_dir), str(paths.blend_path(run_dir)),
                                           list(resolution)))
            results += [r if isinstance(r, dict) else _container_result(run_dir, c, resolution)
                        for r, c in zip(wait_on(futures), [*chunks, []], strict=False)]
    wall = time.perf_counter() - t0
    per_frame = [s for r in results for s in r.get("seconds", [])]
    rendered = sum(len(r.get("frames", [])) for r in results)
    if per_frame:
        d = 2 if draft else 1
        say(f"render: {rendered} {'draft ' if draft else ''}frame(s) in {wall:.1f}s wall, "
            f"{sum(per_frame) / len(per_frame):.{d}f}s per frame in Blender "
            f"(min {min(per_frame):.{d}f}s, max {max(per_frame):.{d}f}s)")

    movie = None
    if settings.movie and len(manifest["frames"]) > 1:  # one still: no movie
        all_frames = sorted(f["index"] for f in manifest["frames"])
        missing = [i for i in all_frames
                   if not paths.frame_done(run_dir, i, resolution, paths.frame_key(manifest, i),
                                           draft)]
        if missing:
            say(f"render: movie not made: {len(missing)} frame(s) of the manifest are not "
                f"rendered at {resolution[0]}x{resolution[1]} (first: {missing[0]})")
        else:
            files = [paths.final_frame(run_dir, i, draft) for i in all_frames]
            movie = paths.movie_path(run_dir, draft)
            if settings.force or rendered or movie_outdated(run_dir, files, draft):
                from render.movie import encode

                t1 = time.perf_counter()
                encode(files, movie, float(manifest.get("fps", 24)))
                say(f"render: {movie} ({len(files)} frames, {manifest.get('fps', 24)} fps) "
                    f"encoded in {time.perf_counter() - t1:.1f}s")
            else:
                say(f"render: {movie} is up to date")
    return {"selected": selected, "rendered": rendered, "skipped": skipped,
            "seconds_per_frame": per_frame, "wall_s": wall,
            "movie": str(movie) if movie else None}


def _container_result(run_dir: Path, chunk: list[int], resolution: tuple[int, int]) -> dict:
    """A container chunk returns Blender's exit code: the frames it left complete."""
    done = [i for i in chunk if paths.png_size(paths.final_frame(run_dir, i)) == tuple(resolution)]
    return {"frames": done, "seconds": [], "wall_s": 0.0}


@main_wrapper
def main(argv: list[str] | None = None) -> int:
    """Command line entry point (see the module docstring)."""
    settings = RenderSettings.from_args(build_parser().parse_args(argv))
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if settings.dry_run:
        print("\n".join(dry_run_lines(settings)))
        return 0
    run(settings)
    return 0
