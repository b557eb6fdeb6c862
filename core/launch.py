"""The command lines a COMPSs run launches, built by pure functions (``--dry-run`` prints them).

::

    python -m core.launch runcompss climate [--no-graph] [--no-trace] [--no-summary]
        [--log-level off|info|debug] [--exec] -- <python -m climate_pipeline arguments>
    python -m core.launch enqueue materials [--account A] [--qos Q] [--nodes N]
        [--exec-time MIN] [--cpus-per-node N] [--image SIF] [--log-level L] [--exec] -- <args>

prints (or with ``--exec`` runs) ``runcompss --lang=python --pythonpath=<root> -g -t --summary
<root>/climate_pipeline/app.py <args>`` or ``enqueue_compss --project_name=... ... <app> <args>``
(flags exactly as in the COMPSs manual; see ../shared/PYCOMPSS.md). Paths in the arguments
are made absolute (``--out``'s value, and every argument naming an existing file or folder).

Defaults come from the environment: ``VIZPIPE_ACCOUNT`` (else the user's primary group, which
is the project account on MareNostrum), ``VIZPIPE_QOS`` (gp_debug), ``VIZPIPE_NODES`` (2),
``VIZPIPE_EXEC_TIME`` (minutes, 30), ``VIZPIPE_CPUS_PER_NODE`` (112), ``VIZPIPE_IMAGE`` (the
image master and workers run in: ``--container_image``; none by default),
``VIZPIPE_CONTAINER_COMPSS_PATH`` (/opt/COMPSs). Render tasks run Blender in
``VIZPIPE_BLENDER_IMAGE`` (default ``<root>/containers/blender.sif``) with the project root,
the run directory, the inputs' folders and ``VIZPIPE_CONTAINER_BINDS`` bound.
"""

from __future__ import annotations

import argparse
import grp
import os
import shlex
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import BadInputError, MissingDependencyError

__all__ = ["ROOT", "APPS", "EnqueueConfig", "app_path", "absolute_args", "bind_paths",
           "blender_image", "add_binds", "container_options", "covered", "env_units",
           "enqueue_command",
           "runcompss_command", "singularity_command", "wall_clock_limit", "compss_lines",
           "dry_run_lines", "render_subprocess", "run_pipeline", "app_main"]

#: the project root: what goes on ``--pythonpath``
ROOT = Path(__file__).resolve().parent.parent
APPS = {"climate": "climate_pipeline/app.py", "materials": "materials_pipeline/app.py"}
ENQUEUE_FLAGS = ("--project_name", "--qos", "--num_nodes", "--exec_time", "--cpus_per_node",
                 "--worker_working_dir", "--log_level", "--lang", "--pythonpath",
                 "--container_image", "--container_compss_path", "--container_opts",
                 "--wall_clock_limit")
LOG_LEVELS = ("off", "info", "debug")


# --------------------------------------------------------------------------- environment


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise BadInputError(f"{name}={text!r}: expected a whole number >= 1")
    return n


def env_units(name: str, default: int = 1) -> str:
    """``@constraint(computing_units=...)`` from the environment variable ``name`` (a string,
    as PyCOMPSs takes it); read when a task module is imported."""
    return str(_env_int(name, default))


def blender_image() -> str:
    """The Blender image of the render tasks: ``$VIZPIPE_BLENDER_IMAGE``, else
    ``<root>/containers/blender.sif`` (absolute)."""
    text = os.environ.get("VIZPIPE_BLENDER_IMAGE", "").strip()
    return str(Path(text).expanduser().resolve() if text else ROOT / "containers" / "blender.sif")


def _split_paths(text: str) -> list[str]:
    return [p for chunk in text.split(os.pathsep) for p in chunk.split(",") if p.strip()]


def bind_paths(paths: Iterable[str | os.PathLike] = ()) -> list[str]:
    """Folders to bind into the Blender image: the project root, ``$VIZPIPE_CONTAINER_BINDS``
    and ``paths`` (files stand for their folder); absolute, without ones inside another."""
    found: list[Path] = [ROOT]
    for p in [*_split_paths(os.environ.get("VIZPIPE_CONTAINER_BINDS", "")), *paths]:
        q = Path(p).expanduser().resolve()
        found.append(q.parent if q.is_file() else q)
    out: list[Path] = []
    for q in sorted(set(found), key=lambda x: (len(x.parts), str(x))):
        if not any(q == o or o in q.parents for o in out):
            out.append(q)
    return [str(q) for q in out]


def add_binds(paths: Iterable[str | os.PathLike]) -> str:
    """Add ``paths`` to ``$VIZPIPE_CONTAINER_BINDS`` in this process (before
    :mod:`render.tasks` is imported: its decorators read it then); returns the new value."""
    old = _split_paths(os.environ.get("VIZPIPE_CONTAINER_BINDS", ""))
    new = [str(Path(p).expanduser().resolve()) for p in paths]
    value = os.pathsep.join(dict.fromkeys([*old, *new]))
    os.environ["VIZPIPE_CONTAINER_BINDS"] = value
    return value


def container_options(binds: Iterable[str]) -> str:
    """``--bind A --bind B`` (the ``options`` of ``@container``)."""
    return " ".join(f"--bind {shlex.quote(b)}" for b in binds)


def covered(path: str | os.PathLike, options: str) -> bool:
    """Whether ``path`` lies inside a folder that ``options`` binds."""
    words = shlex.split(options)
    binds = [Path(words[i + 1].split(":")[0]) for i, w in enumerate(words[:-1]) if w == "--bind"]
    p = Path(path).resolve()
    return any(p == b or b in p.parents for b in binds)



# --------------------------------------------------------------------------- command lines


def app_path(pipeline: str) -> Path:
    """``<root>/climate_pipeline/app.py`` or the materials one."""
    if pipeline not in APPS:
        raise BadInputError(f"pipeline {pipeline!r}: expected one of {', '.join(APPS)}")
    return ROOT / APPS[pipeline]


def absolute_args(args: Sequence[str]) -> list[str]:
    """Pipeline arguments with paths made absolute, ``--dry-run`` and ``--engine`` dropped
    (under COMPSs the engine is COMPSs)."""
    out: list[str] = []
    it = iter(args)
    for a in it:
        if a == "--dry-run" or a.startswith("--engine="):
            continue
        if a == "--engine":
            next(it, None)
            continue
        if a == "--out":
            out += [a, str(Path(next(it, "")).expanduser().resolve())]
        elif a.startswith("--out="):
            out.append("--out=" + str(Path(a[6:]).expanduser().resolve()))
        elif not a.startswith("-") and a and Path(a).expanduser().exists():
            out.append(str(Path(a).expanduser().resolve()))
        else:
            out.append(a)
    return out


def runcompss_command(pipeline: str, args: Sequence[str], *, graph: bool = True,
                      trace: bool = True, summary: bool = True,
                      log_level: str | None = None) -> list[str]:
    """``runcompss --lang=python --pythonpath=<root> [-g] [-t] [--summary] app.py args``."""
    cmd = ["runcompss", "--lang=python", f"--pythonpath={ROOT}"]
    cmd += ["-g"] * graph + ["-t"] * trace + ["--summary"] * summary
    if log_level:
        cmd.append(f"--log_level={log_level}")
    return [*cmd, str(app_path(pipeline)), *absolute_args(args)]


def wall_clock_limit(exec_time: int) -> int:
    """Seconds for ``--wall_clock_limit``: below ``exec_time`` minutes by 10% (at most 5 min),
    so COMPSs stops cleanly before SLURM kills the job."""
    total = int(exec_time) * 60
    return total - min(300, max(1, total // 10))


def _default_account() -> str:
    try:
        return grp.getgrgid(os.getgid()).gr_name
    except KeyError:
        return str(os.getgid())


@dataclass
class EnqueueConfig:
    """The SLURM/COMPSs settings of an ``enqueue_compss`` job."""

    account: str
    qos: str = "gp_debug"
    nodes: int = 2
    exec_time: int = 30  # minutes
    cpus_per_node: int = 112
    log_level: str = "off"
    image: str | None = None  # --container_image (COMPSs inside it)
    compss_path: str = "/opt/COMPSs"

    @classmethod
    def from_env(cls, **overrides: object) -> EnqueueConfig:
        """Settings from ``VIZPIPE_*`` variables; ``overrides`` that are not None win."""
        cfg = cls(account=os.environ.get("VIZPIPE_ACCOUNT", "").strip() or _default_account(),
                  qos=os.environ.get("VIZPIPE_QOS", "").strip() or "gp_debug",
                  nodes=_env_int("VIZPIPE_NODES", 2),
                  exec_time=_env_int("VIZPIPE_EXEC_TIME", 30),
                  cpus_per_node=_env_int("VIZPIPE_CPUS_PER_NODE", 112),
                  image=os.environ.get("VIZPIPE_IMAGE", "").strip() or None,
                  compss_path=(os.environ.get("VIZPIPE_CONTAINER_COMPSS_PATH", "").strip()
                               or "/opt/COMPSs"))
        for key, value in overrides.items():
            if value is not None:
                setattr(cfg, key, value)
        if cfg.log_level not in LOG_LEVELS:
            raise BadInputError(f"log level {cfg.log_level!r}: expected one of "
                                f"{', '.join(LOG_LEVELS)}")
        return cfg


def enqueue_command(pipeline: str, args: Sequence[str], cfg: EnqueueConfig,
                    binds: Sequence[str] = ()) -> list[str]:
    """The ``enqueue_compss`` line for MareNostrum 5 (SLURM); ``binds`` go in
    ``--container_opts`` when ``cfg.image`` is set."""
    cmd = ["enqueue_compss", f"--project_name={cfg.account}", f"--qos={cfg.qos}",
           f"--num_nodes={cfg.nodes}", f"--exec_time={cfg.exec_time}",
           f"--cpus_per_node={cfg.cpus_per_node}", "--worker_working_dir=shared_disk",
           f"--wall_clock_limit={wall_clock_limit(cfg.exec_time)}",
           f"--log_level={cfg.log_level}", "--lang=python", f"--pythonpath={ROOT}"]
    if cfg.image:
        cmd += [f"--container_image={Path(cfg.image).expanduser().resolve()}",
                f"--container_compss_path={cfg.compss_path}",
                f"--container_opts={container_options(binds or bind_paths())}"]
    return [*cmd, str(app_path(pipeline)), *absolute_args(args)]


def singularity_command(image: str, options: str, binary: str, args: Sequence[str]) -> list[str]:
    """What a COMPSs worker runs for ``@container`` over ``@binary``, less the sandbox part
    COMPSs adds (``--bind <sandbox> --bind <appdir> --pwd <sandbox>``): runnable by hand."""
    return ["singularity", "exec", *shlex.split(options), image, binary, *args]


def _run_paths(args: Sequence[str]) -> list[str]:
    """The run directory and the existing input paths among absolute pipeline arguments."""
    return [a for a in absolute_args(args) if Path(a).is_absolute()] + [
        a.split("=", 1)[1] for a in absolute_args(args) if a.startswith("--out=")]


def compss_lines(pipeline: str, args: Sequence[str]) -> list[str]:
    """The ``runcompss`` and ``enqueue_compss`` lines of a pipeline run, with comments."""
    binds = bind_paths(_run_paths(args))
    return ["# local COMPSs run (login or interactive node):",
            shlex.join(runcompss_command(pipeline, args)),
            "# MareNostrum 5 job (module load COMPSs/3.4 first):",
            shlex.join(enqueue_command(pipeline, args, EnqueueConfig.from_env(), binds))]


# --------------------------------------------------------------------- the pipelines' commands


def dry_run_lines(pipeline: str, argv: list[str], out: Path) -> list[str]:
    """The runcompss/enqueue_compss lines of a pipeline run, and its render chunks' lines when
    ``out`` already holds a manifest (what ``--dry-run`` prints)."""
    import subprocess

    from core.errors import PipelineError

    lines = compss_lines(pipeline, argv)
    if (out / "manifest.json").exists():  # the render package's own dry run (no bpy here)
        proc = subprocess.run([sys.executable, "-m", "render", str(out.resolve()), "--dry-run"],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise PipelineError(f"render --dry-run of {out.resolve()}: "
                                f"{proc.stderr.strip() or proc.returncode}")
        lines += proc.stdout.splitlines()
    else:
        lines.append(f"# render: chunk lines once {out.resolve() / 'manifest.json'} exists "
                     f"(python -m render {out.resolve()} --dry-run)")
    return lines


def render_subprocess(run_dir: Path, engine: str | None, workers: int | None) -> None:
    """Render ``run_dir`` with the render command in its own process (bpy stays out of the
    caller's); a failure is one PipelineError naming the run's log."""
    import subprocess

    from core.errors import PipelineError
    from core.runtime import resolve_workers

    cmd = [sys.executable, "-m", "render", str(run_dir)]
    if engine:
        cmd += ["--engine", engine]
    cmd += ["--workers", str(resolve_workers(workers))]
    res = subprocess.run(cmd)
    if res.returncode != 0:
        raise PipelineError(f"render of {run_dir} failed (exit {res.returncode}); "
                            f"see {run_dir / 'run.log'}")


def run_pipeline(pipeline: str, argv: list[str] | None = None, *, app: bool = False) -> int:
    """The body of ``python -m <pipeline>_pipeline`` and of its COMPSs application
    (``app=True``): convert, then render unless --no-render; --dry-run prints the command
    lines instead. The command renders in a child process (bpy stays out of ours); the
    application renders in this process, so the render tasks are this COMPSs application's.
    """
    import importlib

    from core.cli import main_wrapper

    @main_wrapper
    def run(argv: list[str] | None) -> int:
        mod = importlib.import_module(f"{pipeline}_pipeline.pipeline")
        argv = sys.argv[1:] if argv is None else list(argv)
        args = mod.build_parser().parse_args(argv)
        if args.dry_run:
            print("\n".join(dry_run_lines(pipeline, argv, args.out)))
            return 0
        if app:  # the Blender image must see the run directory and the inputs: bind them
            add_binds([args.out, *args.inputs])  # (read when render.tasks is imported)
        render_workers = args.workers  # the conversion may lower args.workers
        result = mod.convert(args)
        if args.no_render:
            return 0
        run_dir = Path(result["manifest"]).parent
        if not app:
            render_subprocess(run_dir, args.engine, render_workers)
            return 0
        from core.runtime import resolve_workers
        from render.driver import build_parser
        from render.driver import run as render_run

        rargv = [str(run_dir), "--workers", str(resolve_workers(render_workers))]
        if args.engine:
            rargv += ["--engine", args.engine]
        render_run(build_parser().parse_args(rargv))
        return 0

    return run(argv)


def app_main(pipeline: str, argv: list[str] | None = None) -> int:
    """The body of ``<pipeline>_pipeline/app.py``: :func:`run_pipeline` as the application."""
    return run_pipeline(pipeline, argv, app=True)

# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m core.launch",
        description="Print (or run) the runcompss / enqueue_compss line of a pipeline run.")
    ap.add_argument("launcher", choices=["runcompss", "enqueue"])
    ap.add_argument("pipeline", choices=list(APPS))
    ap.add_argument("--account", help="[$VIZPIPE_ACCOUNT, else your primary group]")
    ap.add_argument("--qos", help="[$VIZPIPE_QOS, else gp_debug]")
    ap.add_argument("--nodes", type=int, help="[$VIZPIPE_NODES, else 2]")
    ap.add_argument("--exec-time", type=int, help="minutes [$VIZPIPE_EXEC_TIME, else 30]")
    ap.add_argument("--cpus-per-node", type=int, help="[$VIZPIPE_CPUS_PER_NODE, else 112]")
    ap.add_argument("--image", help="image master and workers run in [$VIZPIPE_IMAGE, none]")
    ap.add_argument("--log-level", choices=LOG_LEVELS, default=None)
    ap.add_argument("--no-graph", action="store_true", help="runcompss: no -g")
    ap.add_argument("--no-trace", action="store_true", help="runcompss: no -t")
    ap.add_argument("--no-summary", action="store_true", help="runcompss: no --summary")
    ap.add_argument("--exec", action="store_true", help="run the line instead of printing it")
    ap.epilog = "After --, the pipeline's own arguments (as for python -m <pipeline>)."
    return ap


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Our options before ``--``, the pipeline's arguments (``ns.args``) after it."""
    argv = list(argv)
    cut = argv.index("--") if "--" in argv else len(argv)
    ns = build_parser().parse_args(argv[:cut])
    ns.args = argv[cut + 1:]
    return ns


def command_from_args(ns: argparse.Namespace) -> list[str]:
    """The command line :func:`main` prints or runs."""
    args = ns.args
    if ns.launcher == "runcompss":
        return runcompss_command(ns.pipeline, args, graph=not ns.no_graph,
                                 trace=not ns.no_trace, summary=not ns.no_summary,
                                 log_level=ns.log_level)
    for name in ("nodes", "exec_time", "cpus_per_node"):
        if getattr(ns, name) is not None and getattr(ns, name) < 1:
            raise BadInputError(f"--{name.replace('_', '-')}: expected a whole number >= 1")
    cfg = EnqueueConfig.from_env(account=ns.account, qos=ns.qos, nodes=ns.nodes,
                                 exec_time=ns.exec_time, cpus_per_node=ns.cpus_per_node,
                                 image=ns.image, log_level=ns.log_level)
    return enqueue_command(ns.pipeline, args, cfg, bind_paths(_run_paths(args)))


def main(argv: list[str] | None = None) -> int:
    from core.cli import main_wrapper

    @main_wrapper
    def _main() -> int:
        ns = parse_args(sys.argv[1:] if argv is None else argv)
        cmd = command_from_args(ns)
        if ns.exec:
            sys.stdout.flush()
            try:
                os.execvp(cmd[0], cmd)
            except OSError as exc:
                raise MissingDependencyError(
                    f"{cmd[0]}: {exc.strerror} (on MareNostrum: module load COMPSs/3.4)"
                ) from None
        print(shlex.join(cmd))
        return 0

    return _main()


if __name__ == "__main__":
    raise SystemExit(main())
