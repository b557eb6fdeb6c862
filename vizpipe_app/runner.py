"""Convert, then render: the body of ``python -m <pipeline>`` and of its COMPSs application.

This module sits above the pipelines and the renderer. :func:`materials_main`,
:func:`climate_main` (``python -m <pipeline>``, ``vizpipe <pipeline>``) and
:func:`materials_app`, :func:`climate_app` (``<pipeline>/app.py``) are registered as entry
points in pyproject.toml (groups ``vizpipe.main`` and ``vizpipe.app``); a pipeline's entry
modules run them through :func:`core.entrypoints.run_entry`, so nothing below imports this
module. Each hands :func:`run_pipeline` its pipeline module, which provides
``build_parser()``, ``settings_from_args(ns)`` and ``convert(settings)``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from core.containers import add_binds
from core.rundir import RunDir
from vizpipe_app.launch import compss_lines

if TYPE_CHECKING:
    from core.settings import RunSettings
    from render.settings import RenderSettings

__all__ = ["dry_run_lines", "render_settings", "render_subprocess", "run_pipeline", "app_main",
           "materials_main", "climate_main", "materials_app", "climate_app"]


def dry_run_lines(pipeline: str, argv: list[str], out: Path) -> list[str]:
    """The runcompss/enqueue_compss lines of a pipeline run, and its render chunks' lines when
    ``out`` already holds a manifest (what ``--dry-run`` prints)."""
    import subprocess

    from core.errors import PipelineError

    lines = compss_lines(pipeline, argv)
    if RunDir(out).manifest.exists():  # the render package's own dry run (no bpy here)
        from render.settings import RenderSettings

        rargv = RenderSettings(run_dir=out.resolve(), dry_run=True).to_argv()
        proc = subprocess.run([sys.executable, "-m", "render", *rargv],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise PipelineError(f"render --dry-run of {out.resolve()}: "
                                f"{proc.stderr.strip() or proc.returncode}")
        lines += proc.stdout.splitlines()
    else:
        lines.append(f"# render: chunk lines once {RunDir(out.resolve()).manifest} exists "
                     f"(python -m render {out.resolve()} --dry-run)")
    return lines


def render_settings(run_dir: Path, settings: RunSettings) -> RenderSettings:
    """What rendering ``run_dir`` after the conversion asks of the renderer: the run's engine,
    its workers resolved here (``$VIZPIPE_WORKERS``, else the cores) and its ``--draft``."""
    from core.runtime import resolve_workers
    from render.settings import RenderSettings

    return RenderSettings(run_dir=run_dir, engine=settings.engine or None,
                          workers=resolve_workers(settings.workers), draft=settings.draft)


def render_subprocess(rsettings: RenderSettings) -> None:
    """Render as ``rsettings`` ask, with the render command in its own process (bpy stays out
    of the caller's); a failure is one PipelineError naming the run's log."""
    import subprocess

    from core.errors import PipelineError

    run_dir = rsettings.run_dir
    res = subprocess.run([sys.executable, "-m", "render", *rsettings.to_argv()])
    if res.returncode != 0:
        raise PipelineError(f"render of {run_dir} failed (exit {res.returncode}); "
                            f"see {RunDir(run_dir).run_log}")


def run_pipeline(name: str, pipeline: ModuleType, argv: list[str] | None = None, *,
                 app: bool = False) -> int:
    """The body of ``python -m <name>_pipeline`` and of its COMPSs application (``app=True``):
    convert, then render unless --no-render; --dry-run prints the command lines instead.
    ``pipeline`` is the pipeline's module: ``build_parser()`` parses ``argv`` once,
    ``settings_from_args`` turns it into the frozen settings, ``convert(settings)`` runs.
    The command renders in a child process (bpy stays out of ours); the application renders
    in this process, so the render tasks are this COMPSs application's.
    """
    from core.cli import main_wrapper, one_line_errors
    from core.rundir import run_lock

    @main_wrapper
    def run(argv: list[str] | None) -> int:
        argv = sys.argv[1:] if argv is None else list(argv)
        parser = one_line_errors(pipeline.build_parser())
        settings = pipeline.settings_from_args(parser.parse_args(argv))
        if settings.dry_run:
            print("\n".join(dry_run_lines(name, argv, settings.out)))
            return 0
        with run_lock(settings.out):  # one run per --out, until the render is done too
            return _convert_and_render(settings)

    def _convert_and_render(settings) -> int:
        if app:  # the Blender image must see the run directory and the inputs: bind them
            add_binds([settings.out, *settings.inputs])  # (read when render.tasks is imported)
        result = pipeline.convert(settings)
        run_dir = Path(result["manifest"]).parent
        if settings.preview:  # RUN/preview/index.html: the assets in a browser (issue #21)
            from render.preview import write_preview

            print(write_preview(run_dir).line(), flush=True)
        if not settings.render:
            return 0
        if not app:
            render_subprocess(render_settings(run_dir, settings))
            return 0
        from render.driver import run as render_run

        render_run(render_settings(run_dir, settings))
        return 0

    return run(argv)


def app_main(name: str, pipeline: ModuleType, argv: list[str] | None = None) -> int:
    """The body of ``<name>_pipeline/app.py``: :func:`run_pipeline` as the application."""
    return run_pipeline(name, pipeline, argv, app=True)


def materials_main(argv: list[str] | None = None) -> int:
    """``python -m materials_pipeline [arguments]`` (entry point ``vizpipe.main:materials``)."""
    from materials_pipeline import pipeline

    return run_pipeline("materials", pipeline, argv)


def climate_main(argv: list[str] | None = None) -> int:
    """``python -m climate_pipeline [arguments]`` (entry point ``vizpipe.main:climate``)."""
    from climate_pipeline import pipeline

    return run_pipeline("climate", pipeline, argv)


def materials_app(argv: list[str] | None = None) -> int:
    """``materials_pipeline/app.py [arguments]`` (entry point ``vizpipe.app:materials``)."""
    from materials_pipeline import pipeline

    return app_main("materials", pipeline, argv)


def climate_app(argv: list[str] | None = None) -> int:
    """``climate_pipeline/app.py [arguments]`` (entry point ``vizpipe.app:climate``)."""
    from climate_pipeline import pipeline

    return app_main("climate", pipeline, argv)
