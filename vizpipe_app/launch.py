"""The command lines a COMPSs run launches, built by pure functions (``--dry-run`` prints them).

::

    python -m vizpipe_app.launch runcompss climate [--no-graph] [--no-trace] [--no-summary]
        [--log-level off|info|debug] [--exec] -- <python -m climate_pipeline arguments>
    python -m vizpipe_app.launch enqueue materials [--account A] [--qos Q] [--nodes N]
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
the run directory, the inputs' folders and ``VIZPIPE_CONTAINER_BINDS`` bound
(:mod:`core.containers`).
"""

from __future__ import annotations

import argparse
import grp
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from core.containers import ROOT, bind_paths, container_options
from core.errors import BadInputError, MissingDependencyError
from core.settings import env

__all__ = ["ROOT", "APPS", "EnqueueConfig", "app_path", "absolute_args", "enqueue_command",
           "runcompss_command", "wall_clock_limit", "compss_lines", "run_paths", "main"]

APPS = {"climate": "climate_pipeline/app.py", "materials": "materials_pipeline/app.py"}
ENQUEUE_FLAGS = ("--project_name", "--qos", "--num_nodes", "--exec_time", "--cpus_per_node",
                 "--worker_working_dir", "--log_level", "--lang", "--pythonpath",
                 "--container_image", "--container_compss_path", "--container_opts",
                 "--wall_clock_limit")
LOG_LEVELS = ("off", "info", "debug")


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
        cfg = cls(account=env("VIZPIPE_ACCOUNT") or _default_account(),
                  qos=env("VIZPIPE_QOS"),
                  nodes=env("VIZPIPE_NODES"),
                  exec_time=env("VIZPIPE_EXEC_TIME"),
                  cpus_per_node=env("VIZPIPE_CPUS_PER_NODE"),
                  image=env("VIZPIPE_IMAGE"),
                  compss_path=env("VIZPIPE_CONTAINER_COMPSS_PATH"))
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


def run_paths(args: Sequence[str]) -> list[str]:
    """The run directory and the existing input paths among absolute pipeline arguments."""
    return [a for a in absolute_args(args) if Path(a).is_absolute()] + [
        a.split("=", 1)[1] for a in absolute_args(args) if a.startswith("--out=")]


def compss_lines(pipeline: str, args: Sequence[str]) -> list[str]:
    """The ``runcompss`` and ``enqueue_compss`` lines of a pipeline run, with comments."""
    binds = bind_paths(run_paths(args))
    return ["# local COMPSs run (login or interactive node):",
            shlex.join(runcompss_command(pipeline, args)),
            "# MareNostrum 5 job (module load COMPSs/3.4 first):",
            shlex.join(enqueue_command(pipeline, args, EnqueueConfig.from_env(), binds))]


# --------------------------------------------------------------------------- command line


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m vizpipe_app.launch",
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
    return enqueue_command(ns.pipeline, args, cfg, bind_paths(run_paths(args)))


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
