"""The render tasks: one Blender process per chunk of frames, one for scene.blend.

Thin wrappers (PyCOMPSs rules: a task module holds only imports and definitions) around
:func:`render.process.run_blender`. Arguments are paths and small values; outputs are files
in the run directory (frames, logs, scene.blend), each written atomically by the child.
Under COMPSs the same tasks run on the workers, which need the ``bpy`` wheel (or run them in
the render container).
"""

from __future__ import annotations

from pathlib import Path

from core.runtime import task
from render.paths import logs_dir
from render.process import run_blender


def chunk_args(run_dir: str, frames: list[int], resolution: list[int] | None,
               samples: int | None, device: str, threads: int) -> list[str]:
    """Command-line arguments of ``render.blender_chunk`` for a chunk."""
    args = [str(run_dir), "--frames", ",".join(str(i) for i in frames), "--device", device,
            "--threads", str(int(threads))]
    if resolution:
        args += ["--resolution", f"{int(resolution[0])}x{int(resolution[1])}"]
    if samples:
        args += ["--samples", str(int(samples))]
    return args


@task(returns=1)
def render_chunk(run_dir: str, frames: list[int], resolution: list[int] | None,
                 samples: int | None, device: str, threads: int) -> dict:
    """Render ``frames`` in one Blender process; ``{"frames", "seconds", "wall_s"}``."""
    tag = f"frames {frames[0]:04d}-{frames[-1]:04d}"
    log = logs_dir(Path(run_dir)) / f"render_{frames[0]:04d}_{frames[-1]:04d}.log"
    return run_blender(chunk_args(run_dir, frames, resolution, samples, device, threads),
                       log, tag)


@task(returns=1)
def write_blend(run_dir: str, out: str, resolution: list[int] | None) -> dict:
    """Write the whole animation to ``out`` (a .blend) in one Blender process."""
    args = [str(run_dir), "--blend", str(out)]
    if resolution:
        args += ["--resolution", f"{int(resolution[0])}x{int(resolution[1])}"]
    return run_blender(args, logs_dir(Path(run_dir)) / "blend.log", "scene.blend")
