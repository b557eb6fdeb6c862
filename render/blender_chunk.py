"""Blender-side entry point: render a chunk of frames, or write scene.blend (one per process).

bpy keeps global state, so the driver starts one process per chunk::

    python -m render.blender_chunk RUN_DIR --frames 0,1,2 [--resolution 800x450]
        [--samples 32] [--device CPU|GPU] [--threads N] [--draft]
    python -m render.blender_chunk RUN_DIR --blend scene.blend [--resolution WxH]
    python -m render.blender_chunk --probe-device GPU

A chunk builds the static assets once, then for each frame builds that frame's objects, places
the camera, renders a clean RGB plate (no overlays) to ``frames/raw/NNNN.png`` and composes
the final ``frames/NNNN.png`` (background, title, time label, colour bar, legend; see
:mod:`render.overlay`). Both files are written under a temporary name and renamed, so a frame
file exists only when complete, and a failure keeps the frames rendered before it. Each frame
prints ``frame N done in Xs``; an error prints one ``error: ...`` line on stderr and exits 1.
``--draft`` renders with Workbench (solid colours, see :func:`render.scene.setup_draft`) into
``frames/draft/`` (:mod:`render.paths`), with the same camera and overlays.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from core.atomic import atomic_path
from core.cli import resolution as parse_resolution
from core.errors import PipelineError
from core.manifest import read_manifest
from core.settings import env_text


def _parse_frames(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _quiet_render():
    """Context manager silencing Blender's per-tile progress lines on stdout (fd level)."""
    import contextlib

    @contextlib.contextmanager
    def quiet():
        sys.stdout.flush()
        saved = os.dup(1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 1)
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(devnull)
            os.close(saved)

    return quiet()


_STAGES = ("sync", "bvh", "sampling", "denoise")


def _stage_of(status: str, sampled: bool) -> str:
    """The stage a Cycles status string belongs to (``render_stats`` messages)."""
    low = status.lower()
    if "denois" in low and not low.startswith("loading"):
        return "denoise"
    if "sample" in low or "path tracing" in low or "rendered" in low:
        return "sampling"
    if "bvh" in low:
        return "bvh"
    return "other" if sampled else "sync"


class _StageClock:
    """Splits one ``bpy.ops.render.render`` call by Cycles' status messages.

    ``render_stats`` handlers get Blender's stats line (``... | Synchronizing object | x``,
    ``... | Updating Scene BVH``, ``... | Sample 5/32``, ``... | Denoising``); each message's
    stage (:func:`_stage_of`) is charged the time until the next message. ``render_pre`` and
    ``render_post`` bound the engine's part; what follows ``render_post`` (image write) is
    ``other``.
    """

    def __init__(self) -> None:
        self.events: list[tuple[float, str]] = []

    def on_stats(self, text, *_args) -> None:
        parts = [p.strip() for p in str(text).split("|")]
        status = parts[-1]  # the status is the last field, or the one before an object name
        if len(parts) >= 2 and parts[-2].lower().startswith(("synchronizing", "updating",
                                                              "loading")):
            status = parts[-2]
        self.events.append((time.perf_counter(), status))

    def on_pre(self, *_args) -> None:
        self.events.append((time.perf_counter(), "<pre>"))

    def on_post(self, *_args) -> None:
        self.events.append((time.perf_counter(), "<post>"))

    def __enter__(self):
        import bpy

        self.events = []
        h = bpy.app.handlers
        h.render_stats.append(self.on_stats)
        h.render_pre.append(self.on_pre)
        h.render_post.append(self.on_post)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        import bpy

        self.t1 = time.perf_counter()
        h = bpy.app.handlers
        for lst, fn in ((h.render_stats, self.on_stats), (h.render_pre, self.on_pre),
                        (h.render_post, self.on_post)):
            if fn in lst:
                lst.remove(fn)

    def split(self) -> dict[str, float]:
        """Seconds per stage (sync, bvh, sampling, denoise, other), summing to the call."""
        out = dict.fromkeys((*_STAGES, "other"), 0.0)
        prev_t, prev = self.t0, "sync"  # before the first message: scene export
        sampled = False
        for t, status in self.events:
            out[prev] += t - prev_t
            if status == "<post>":
                prev = "other"
            elif status != "<pre>":
                prev = _stage_of(status, sampled)
                sampled = sampled or prev == "sampling"
            prev_t = t
        out[prev] += self.t1 - prev_t
        return out


class _Timer:
    """Accumulates the seconds spent in wrapped functions (asset loading)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, fn):
        def timed(*args, **kwargs):
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t

        return timed


def render_frames(run_dir: Path, frames: list[int], *, resolution: tuple[int, int] | None,
                  samples: int | None, device: str, threads: int,
                  draft: bool = False) -> list[float]:
    """Render the given frame indices (``draft``: Workbench); returns the seconds each took."""
    import bpy

    from render import overlay, paths
    from render import scene as sc

    manifest = read_manifest(run_dir, check_files=False)
    res = resolution or paths.manifest_resolution(manifest)
    spp = samples or paths.manifest_samples(manifest)
    by_index = {f["index"]: f for f in manifest["frames"]}
    missing = [i for i in frames if i not in by_index]
    if missing:
        raise PipelineError(f"{run_dir}: frames {missing} are not in the manifest")
    t0 = time.perf_counter()
    scene, builder, cam, chosen = sc.prepare(manifest, run_dir, resolution=res, samples=spp,
                                             device=device, threads=threads, draft=draft)
    if draft:  # compile Workbench's shaders on a tiny image, outside the frames' times
        scene.render.resolution_percentage = 10
        with _quiet_render():
            bpy.ops.render.render()
        scene.render.resolution_percentage = 100
    how = ("Workbench draft" if draft else
           f"{chosen['device']}{' ' + chosen['backend'] if chosen['backend'] else ''}, "
           f"{spp} samples")
    print(f"chunk {frames[0]:04d}-{frames[-1]:04d}: scene ready in "
          f"{time.perf_counter() - t0:.1f}s ({how}, {res[0]}x{res[1]}, "
          f"denoiser {chosen['denoiser'] or 'none'})", flush=True)
    aspect = res[0] / res[1]
    timings = []
    # asset import: the builder's GLB reads and VDB grid loads, timed where
    # render/scene/builder.py calls them
    from render.scene import builder as scb

    loading = _Timer()
    scb.read_geometry = loading.wrap(scb.read_geometry)
    scb.volume_object = loading.wrap(scb.volume_object)
    clock = _StageClock()
    for index in frames:
        t1 = time.perf_counter()
        loading.seconds = 0.0
        f = by_index[index]
        objs = builder.build_frame(f)
        sc.set_camera(cam, f.get("camera") or sc.default_camera(manifest, aspect))
        scene.frame_set(index)
        t_build = time.perf_counter() - t1
        t_import = loading.seconds
        raw = paths.raw_frame(run_dir, index, draft)
        with atomic_path(raw) as tmp:
            scene.render.filepath = str(tmp)
            with _quiet_render(), clock:
                bpy.ops.render.render(write_still=True)
            if not tmp.exists():
                raise PipelineError(f"frame {index}: Blender wrote no image to {tmp}")
        t_render = clock.t1 - clock.t0
        t2 = time.perf_counter()
        overlay.compose_file(raw, paths.final_frame(run_dir, index, draft), manifest, f,
                             run_dir, draft=draft)
        t_overlay = time.perf_counter() - t2
        sc.remove_objects(objs)
        dt = time.perf_counter() - t1
        timings.append(dt)
        st = clock.split()
        print(f"frame {index}: build {t_build:.2f} s (import {t_import:.2f} s), render "
              f"{t_render:.2f} s (sync {st['sync']:.2f}, BVH {st['bvh']:.2f}, sampling "
              f"{st['sampling']:.2f}, denoise {st['denoise']:.2f}, other {st['other']:.2f} s), "
              f"overlay {t_overlay:.2f} s", flush=True)
        if env_text("VIZPIPE_RENDER_STATS"):  # the raw Cycles messages, for checking
            for t, status in clock.events:
                print(f"  stats {t - clock.t0:7.3f} {status}", flush=True)
        print(f"frame {index} done in {dt:.{2 if draft else 1}f}s", flush=True)
    return timings


def write_blend(run_dir: Path, out: Path, resolution: tuple[int, int] | None) -> None:
    """The whole animation as a .blend (volumes referenced by paths relative to it)."""
    import bpy

    from render import paths
    from render import scene as sc

    manifest = read_manifest(run_dir, check_files=False)
    res = resolution or paths.manifest_resolution(manifest)
    t0 = time.perf_counter()
    sc.build_animation(manifest, run_dir, resolution=res,
                       samples=paths.manifest_samples(manifest))
    out = out if out.is_absolute() else run_dir / out
    with atomic_path(out) as tmp:
        # relative_remap=False: the volume paths are already '//...' relative to RUN_DIR
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp), compress=True, relative_remap=False,
                                    copy=True)
    print(f"blend {out.name} written in {time.perf_counter() - t0:.1f}s "
          f"({len(bpy.data.objects)} objects)", flush=True)


def probe_device(device: str) -> str:
    """Check that the device can be used; returns a one-line description."""
    from render import scene as sc

    sc.reset()
    if device.upper() == "GPU":
        return f"GPU ({sc.enable_gpu()})"
    return "CPU"


def _die_with_parent() -> None:
    """Linux: end this process when the task that started it dies (no orphan renders)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGTERM), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    _die_with_parent()
    ap = argparse.ArgumentParser(prog="python -m render.blender_chunk",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("run_dir", nargs="?")
    ap.add_argument("--frames", type=_parse_frames, help="comma-separated frame indices")
    ap.add_argument("--blend", type=Path, help="write the whole animation to this .blend")
    ap.add_argument("--resolution", type=parse_resolution)
    ap.add_argument("--samples", type=int)
    ap.add_argument("--device", default="CPU", choices=["CPU", "GPU", "cpu", "gpu"])
    ap.add_argument("--threads", type=int, default=0, help="Cycles threads (0: all cores)")
    ap.add_argument("--draft", action="store_true",
                    help="Workbench draft frames in frames/draft/ (--samples is ignored)")
    ap.add_argument("--probe-device", choices=["CPU", "GPU", "cpu", "gpu"])
    args = ap.parse_args(argv)
    try:
        if args.probe_device:
            print(f"device: {probe_device(args.probe_device)}", flush=True)
            return 0
        if not args.run_dir:
            ap.error("RUN_DIR is required")
        run_dir = Path(args.run_dir).resolve()
        if args.blend:
            write_blend(run_dir, args.blend, args.resolution)
        elif args.frames:
            render_frames(run_dir, args.frames, resolution=args.resolution,
                          samples=args.samples, device=args.device.upper(),
                          threads=args.threads, draft=args.draft)
        else:
            ap.error("give --frames or --blend")
    except PipelineError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr, flush=True)
        return 1
    except Exception as exc:  # a bug or a Blender failure: traceback for the log, one line
        import traceback

        traceback.print_exc()
        msg = " ".join(str(exc).split())
        print(f"error: {type(exc).__name__}: {msg}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
