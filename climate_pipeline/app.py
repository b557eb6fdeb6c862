"""The COMPSs application of the climate pipeline: conversion and render in one COMPSs run.

::

    runcompss --lang=python --pythonpath=$ROOT -g -t --summary \
        $ROOT/climate_pipeline/app.py <the arguments of python -m climate_pipeline>
    enqueue_compss ... --lang=python --pythonpath=$ROOT $ROOT/climate_pipeline/app.py <arguments>

(``python -m core.launch {runcompss|enqueue} climate -- <arguments>`` prints these lines.)
The tasks are COMPSs tasks (``core.runtime`` *is* PyCOMPSs under the runtime): one per frame
and per particle batch for the conversion, then one Blender-in-Singularity task per chunk of
frames (:func:`render.tasks.render_chunk_container`). The render runs in this process, not as
a ``python -m render`` child as the plain command does, so that its tasks are this
application's. Outside COMPSs the same file runs with the engine ``--engine`` names.
"""

from __future__ import annotations

import sys
from pathlib import Path

from core.cli import main_wrapper


def render_in_process(run_dir: Path, engine: str | None, workers: int | None) -> dict:
    """Render ``run_dir`` with the render driver in this process (same engine)."""
    from core.runtime import resolve_workers
    from render.driver import build_parser, run

    argv = [str(run_dir), "--workers", str(resolve_workers(workers))]
    if engine:
        argv += ["--engine", engine]
    return run(build_parser().parse_args(argv))


@main_wrapper
def main(argv: list[str] | None = None) -> int:
    """Convert, then render (unless --no-render); --dry-run prints the command lines."""
    from climate_pipeline.pipeline import build_parser, convert, dry_run_lines
    from core.launch import add_binds

    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.dry_run:
        print("\n".join(dry_run_lines("climate", argv, args.out)))
        return 0
    # the Blender image must see the run directory and the inputs: bind them (read when
    # render.tasks is imported, after this)
    add_binds([args.out, *args.inputs])
    render_workers = args.workers  # the conversion may lower args.workers
    result = convert(args)
    if not args.no_render:
        render_in_process(Path(result["manifest"]).parent, args.engine, render_workers)
    return 0


if __name__ == "__main__":
    main()
