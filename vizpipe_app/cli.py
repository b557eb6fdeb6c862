"""``vizpipe COMMAND [arguments]``: one command for every tool of the project.

::

    vizpipe materials FILE_OR_DIR... --out DIR ...   # = python -m materials_pipeline ...
    vizpipe climate FILE... --out DIR ...            # = python -m climate_pipeline ...
    vizpipe render RUN_DIR ...                       # = python -m render ...
    vizpipe preview RUN_DIR [--serve]                # = python -m render.preview ...
    vizpipe demo OUT_DIR ...                         # = python -m vizpipe_app.demo ...
    vizpipe launch {runcompss|enqueue} PIPELINE ...  # = python -m vizpipe_app.launch ...
    vizpipe scaling --workers 1,2,4 ...              # = python -m vizpipe_app.scaling ...

Each subcommand *is* the module's command: the arguments after its name go to that command's
``main(argv)`` unchanged, so flags, help (``vizpipe render --help``), exit statuses and one-line
``error:`` messages are the same. Installed as a console script (pyproject.toml
``[project.scripts]``); ``python -m vizpipe_app`` runs it too. The commands' modules are
imported only when one runs, so ``vizpipe --help`` is quick.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

__all__ = ["COMMANDS", "Subcommand", "build_parser", "main"]


@dataclass(frozen=True)
class Subcommand:
    """``vizpipe NAME``: ``target`` (``module:function``, the function taking ``argv``) is the
    command ``module`` (``python -m module``) runs."""

    name: str
    target: str
    module: str
    summary: str

    def load(self) -> Callable[[list[str] | None], int]:
        mod, func = self.target.split(":")
        return cast(Callable[[list[str] | None], int], getattr(importlib.import_module(mod), func))


COMMANDS: tuple[Subcommand, ...] = (
    Subcommand("materials", "vizpipe_app.runner:materials_main", "materials_pipeline",
               "densities, atoms, bonds, cell -> assets -> frames -> movie"),
    Subcommand("climate", "vizpipe_app.runner:climate_main", "climate_pipeline",
               "pollution fields, coastlines, wind particles -> assets -> frames -> movie"),
    Subcommand("render", "render.driver:main", "render",
               "a run directory's manifest -> frames (Blender) -> movie"),
    Subcommand("preview", "render.preview.driver:main", "render.preview",
               "write RUN_DIR/preview/index.html, the assets in a browser (--serve)"),
    Subcommand("demo", "vizpipe_app.demo:main", "vizpipe_app.demo",
               "build the demo run directory (an analytic scene; then vizpipe render)"),
    Subcommand("launch", "vizpipe_app.launch:main", "vizpipe_app.launch",
               "print (or --exec) the runcompss / enqueue_compss line of a pipeline run"),
    Subcommand("scaling", "vizpipe_app.scaling:main", "vizpipe_app.scaling",
               "strong scaling of the conversion graphs over --workers 1,2,4 ..."),
)
_BY_NAME = {c.name: c for c in COMMANDS}


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser: ``vizpipe --help`` lists the subcommands (each one's own
    arguments are its command's, parsed by that command)."""
    ap = argparse.ArgumentParser(
        prog="vizpipe",
        description="Simulation output -> Blender/Maya assets -> frames -> movie. "
                    "Each command is the same as python -m MODULE (in brackets); "
                    "`vizpipe COMMAND --help` shows its options.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True)
    for c in COMMANDS:
        sub.add_parser(c.name, help=f"{c.summary} (python -m {c.module})", add_help=False)
    return ap


def main(argv: list[str] | None = None) -> int:
    """``vizpipe [COMMAND [arguments]]``; ``argv`` replaces ``sys.argv[1:]``."""
    from core.cli import one_line_errors

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in _BY_NAME:
        return _BY_NAME[argv[0]].load()(argv[1:])
    # no command, an unknown one, or --help: the parser prints the help or one error line
    one_line_errors(build_parser()).parse_args(argv)
    return 2  # not reached: a known command was dispatched above


if __name__ == "__main__":
    sys.exit(main())
