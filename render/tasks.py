"""The render tasks: one Blender process per chunk of frames, one for scene.blend.

Thin wrappers (PyCOMPSs rules: a task module holds only imports and definitions) around
:func:`render.process.run_blender`. Arguments are paths and small values; outputs are files
in the run directory (frames, logs, scene.blend), each written atomically by the child.

Two forms of the chunk task:

* :func:`render_chunk` runs ``python -m render.blender_chunk ...`` (the ``bpy`` wheel) and
  returns ``{"frames", "seconds", "wall_s"}``; used by the local and serial engines, and by
  PyCOMPSs's sequential mode (where ``@container`` raises ``NotInPyCOMPSsException``).
* :func:`render_chunk_container` is the COMPSs form: ``@container(engine="SINGULARITY")`` over
  ``@binary(binary="blender")``; on a worker COMPSs runs ``singularity exec ... <image>
  blender <args>``, where ``blender`` in the image runs ``python3 -m render.blender_chunk``, so
  ``args`` are exactly that module's arguments. Returns the exit code.

Decorator arguments are evaluated once, when this module is imported (the master registers the
task on its first call from them; a worker never imports a @binary task's module). So the
image (``$VIZPIPE_BLENDER_IMAGE``, default ``<root>/containers/blender.sif``), the bind options
(the project root plus ``$VIZPIPE_CONTAINER_BINDS``) and the computing units
(``$VIZPIPE_CU_RENDER``) are read from the environment at import: ``climate_pipeline/app.py``
and ``materials_pipeline/app.py`` set the binds to the run directory and the inputs' folders
before anything imports this module, and the render driver refuses a run directory they do
not cover. (A factory building the task inside a function is not an option: PyCOMPSs tasks
must be module-level definitions.)
"""

from __future__ import annotations

from pathlib import Path

from core.containers import bind_paths, blender_image, container_options, env_units
from core.runtime import binary, constraint, container, task
from render.paths import logs_dir
from render.process import run_blender

#: ``render.blender_chunk``'s arguments for a chunk, as ``@binary`` args
CHUNK_ARGS = ("{{run_dir}} --frames {{frames}} --resolution {{resolution}} "
              "--samples {{samples}} --device {{device}} --threads {{threads}}")


def chunk_args(run_dir: str, frames: list[int], resolution: list[int] | None,
               samples: int | None, device: str, threads: int,
               draft: bool = False) -> list[str]:
    """Command-line arguments of ``render.blender_chunk`` for a chunk."""
    args = [str(run_dir), "--frames", ",".join(str(i) for i in frames), "--device", device,
            "--threads", str(int(threads))]
    if resolution:
        args += ["--resolution", f"{int(resolution[0])}x{int(resolution[1])}"]
    if samples:
        args += ["--samples", str(int(samples))]
    if draft:
        args.append("--draft")
    return args


@constraint(computing_units=env_units("VIZPIPE_CU_RENDER"))
@task(returns=1, on_failure="RETRY", time_out=4 * 3600)
def render_chunk(run_dir: str, frames: list[int], resolution: list[int] | None,
                 samples: int | None, device: str, threads: int, draft: bool = False) -> dict:
    """Render ``frames`` in one Blender process (``draft``: Workbench, frames/draft/);
    ``{"frames", "seconds", "wall_s"}``."""
    kind = "draft" if draft else "render"
    tag = f"{'draft ' if draft else ''}frames {frames[0]:04d}-{frames[-1]:04d}"
    log = logs_dir(Path(run_dir)) / f"{kind}_{frames[0]:04d}_{frames[-1]:04d}.log"
    return run_blender(chunk_args(run_dir, frames, resolution, samples, device, threads, draft),
                       log, tag)


@constraint(computing_units=env_units("VIZPIPE_CU_RENDER"))
@container(engine="SINGULARITY", image=blender_image(), options=container_options(bind_paths()))
@binary(binary="blender", args=CHUNK_ARGS, fail_by_exit_value=True)
@task(returns=1, on_failure="RETRY", time_out=4 * 3600)
def render_chunk_container(  # type: ignore[empty-body]
        run_dir: str, frames: str, resolution: str, samples: int, device: str,
        threads: int) -> int:
    """Render ``frames`` ("0,1,2") at ``resolution`` ("800x450") with Blender in the image.

    The body never runs: COMPSs runs the binary (see the module docstring); the task returns
    Blender's exit code, and a non-zero one fails it.
    """


@constraint(computing_units="1")
@task(returns=1, on_failure="RETRY", time_out=3600)
def write_blend(run_dir: str, out: str, resolution: list[int] | None) -> dict:
    """Write the whole animation to ``out`` (a .blend) in one Blender process."""
    args = [str(run_dir), "--blend", str(out)]
    if resolution:
        args += ["--resolution", f"{int(resolution[0])}x{int(resolution[1])}"]
    return run_blender(args, logs_dir(Path(run_dir)) / "blend.log", "scene.blend")
