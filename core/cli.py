"""Shared command-line plumbing: engine options and one-line errors.

::

    import argparse
    from core.cli import add_engine_args, engine_from_args, main_wrapper, set_log_file

    @main_wrapper
    def main(argv=None):
        parser = argparse.ArgumentParser(prog="python -m climate_pipeline")
        parser.add_argument("run_dir")
        add_engine_args(parser)
        args = parser.parse_args(argv)
        set_log_file(RunDir(args.run_dir).run_log)
        with engine_from_args(args, label="climate"):
            ...

    if __name__ == "__main__":
        main()

A :class:`core.errors.PipelineError` (TaskError included) ends the command with one line on
stderr, ``error: <message>``, and exit status 1: ``FILE: what is wrong, what was expected``
(a failed task shows its original error, :attr:`core.errors.TaskError.message`, not its call);
the full traceback (and a failed task's call, parameters and own traceback) goes to the log
file when one is configured (a run's ``run.log``, and ``logs/errors.log`` beside it), and to
stderr with ``VIZPIPE_DEBUG=1``. A full disk or file-size limit (ENOSPC, EFBIG, EDQUOT) is one
such line too. Ctrl-C exits with status 130. Other exceptions are bugs: they keep Python's
traceback. :func:`one_line_errors` makes an argparse parser's errors one ``error:`` line.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import traceback
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from core.errors import PipelineError, TaskError, disk_message
from core.rundir import RunDir
from core.runtime import ENGINES, use_engine
from core.settings import env

__all__ = ["add_engine_args", "add_dry_run_arg", "engine_from_args", "main_wrapper", "set_log_file",
           "format_error", "debug_enabled", "one_line_errors"]

_LOGGER = "vizpipe"
R = TypeVar("R")


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return n


def resolution(text: str) -> tuple[int, int]:
    """argparse type: an image size ``WxH`` (each at least 16)."""
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH, e.g. 800x450, got {text!r}") from None
    if w < 16 or h < 16:
        raise argparse.ArgumentTypeError(f"resolution must be at least 16x16, got {text!r}")
    return w, h


def add_engine_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--engine {local,serial,compss}`` and ``--workers N`` to ``parser``.

    Both default to None, meaning: ``VIZPIPE_ENGINE`` / ``VIZPIPE_WORKERS``, else compss under
    the COMPSs runtime (local elsewhere) and the cores available. They are resolved, and bad
    environment values reported, by :func:`engine_from_args`.
    """

    group = parser.add_argument_group("execution")
    group.add_argument(
        "--engine", choices=ENGINES, default=None,
        help="where tasks run: local worker processes, serial (in-process, for debugging) or "
             "compss (PyCOMPSs) [default: $VIZPIPE_ENGINE, else compss under runcompss, "
             "else local]")
    group.add_argument(
        "--workers", type=positive_int, default=None, metavar="N",
        help="worker processes of the local engine [default: $VIZPIPE_WORKERS, else the "
             "cores available]")
    return parser


def add_dry_run_arg(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--dry-run``: print the command lines a run would launch (runcompss,
    enqueue_compss, singularity exec blender ...; see :mod:`vizpipe_app.launch`) and run nothing."""
    parser.add_argument(
        "--dry-run", action="store_true",
        help="print the exact command lines this run would launch (runcompss, enqueue_compss, "
             "singularity exec blender ...), with absolute paths, and run nothing")
    return parser


def add_asset_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--formats`` (which asset files, by consumer), ``--full-res`` (no level of
    detail) and ``--no-preview`` (no browser page); :func:`core.io.asset_formats` checks the
    first."""
    parser.add_argument(
        "--formats", default="usd,glb", metavar="LIST",
        help="asset formats: usd (binary .usdc, for Blender/Maya/Houdini), glb (Draco glTF, "
             "the renderer's and the browser's; always written), ply (ParaView, MeshLab) "
             "[usd,glb]")
    parser.add_argument(
        "--full-res", action="store_true",
        help="keep every isosurface triangle (default: simplified to about one triangle per "
             "pixel it covers at --resolution)")
    parser.add_argument(
        "--no-preview", action="store_true",
        help="do not write RUN/preview/index.html, the browser view of the assets written "
             "after the conversion (python -m render.preview RUN writes it later)")
    return parser


def engine_from_args(args: argparse.Namespace, label: str | None = None
                     ) -> AbstractContextManager[Any]:
    """The ``use_engine(...)`` context manager for parsed ``--engine``/``--workers``."""

    return use_engine(args.engine, workers=args.workers, label=label)


class _LogFile(logging.FileHandler):
    """A log file that a full disk (or file size limit) silences instead of printing
    logging's "--- Logging error ---" traceback on stderr: the run's error line says it."""

    def handleError(self, record: logging.LogRecord) -> None:
        exc = sys.exc_info()[1]
        if disk_message(exc) is None:
            super().handleError(record)


def set_log_file(path: str | os.PathLike) -> logging.Handler:
    """Log the ``vizpipe`` logger (INFO and up) to ``path``, e.g. a run's ``run.log``.

    Error tracebacks from :func:`main_wrapper` go there too. Returns the handler.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger(_LOGGER)
    for h in logger.handlers:
        if isinstance(h, logging.FileHandler) and Path(h.baseFilename) == path.resolve():
            return h
    handler = _LogFile(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET or logger.level > logging.INFO:
        logger.setLevel(logging.INFO)
    return handler


def debug_enabled() -> bool:
    """True when ``VIZPIPE_DEBUG`` is set to a true value (1, true, yes, on)."""

    return bool(env("VIZPIPE_DEBUG"))


def format_error(err: BaseException) -> str:
    """``error: <message>`` on one line (a TaskError's user message, not its call)."""
    text = err.message if isinstance(err, TaskError) else str(err)
    msg = " ".join(text.split()) or type(err).__name__
    return f"error: {msg}"


def one_line_errors(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Make ``parser`` report a bad option as one line, ``error: --frames: expected ...; see
    PROG --help`` (exit status 2, as argparse), instead of its usage block."""

    def error(message: str) -> NoReturn:
        msg = " ".join(message.split())
        if msg.startswith("argument "):
            msg = msg[len("argument "):]
        print(f"error: {msg}; see {parser.prog} --help", file=sys.stderr, flush=True)
        sys.exit(2)

    parser.error = error  # type: ignore[method-assign]
    return parser


def _file_handlers() -> list[logging.FileHandler]:
    seen: list[logging.FileHandler] = []
    for logger in (logging.getLogger(_LOGGER), logging.getLogger()):
        for h in logger.handlers:
            if isinstance(h, logging.FileHandler) and h not in seen:
                seen.append(h)
    return seen


def _details(err: BaseException) -> str:
    text = "".join(traceback.format_exception(type(err), err, err.__traceback__))
    if isinstance(err, TaskError) and err.traceback_text:
        text += f"\nThe task's own traceback ({err.name}):\n{err.traceback_text}"
    return text


def _report(err: BaseException) -> None:
    details = _details(err)
    handlers = _file_handlers()
    if handlers:
        record = logging.LogRecord(_LOGGER, logging.ERROR, __file__, 0, "%s\n%s",
                                   (format_error(err), details.rstrip()), None)
        saved, logging.raiseExceptions = logging.raiseExceptions, False
        try:  # a full disk must not print logging's own traceback
            for h in handlers:
                h.handle(record)
        finally:
            logging.raiseExceptions = saved
        _write_error_log(err, details)
    if debug_enabled():
        sys.stderr.write(details)
    print(format_error(err), file=sys.stderr, flush=True)


def _run_dirs() -> list[Path]:
    """The run directories whose ``run.log`` is logged to (:func:`set_log_file`)."""

    logs = [Path(h.baseFilename) for h in _file_handlers()]
    return [p.parent for p in logs if p == RunDir(p.parent).run_log]


def _write_error_log(err: BaseException, details: str) -> None:
    """Append the error's whole context (the task's call and parameters, tracebacks) to
    ``logs/errors.log`` of each run whose ``run.log`` is logged to; never raises."""
    import time


    for root in _run_dirs():
        run = RunDir(root)
        try:
            run.errors_log.parent.mkdir(parents=True, exist_ok=True)
            with open(run.errors_log, "a", encoding="utf-8") as fh:
                fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} pid {os.getpid()}: "
                         f"{format_error(err)}\n{err}\n{details.rstrip()}\n\n")
        except Exception:  # a full disk: the one line on stderr still says what is wrong
            pass


def main_wrapper(fn: Callable[..., R]) -> Callable[..., R]:
    """Decorate a command's ``main``: one ``error:`` line and exit 1 on a PipelineError.

    KeyboardInterrupt prints ``error: interrupted`` and exits 130. The decorated function's
    return value is returned unchanged on success (``raise SystemExit(main())`` works too).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> R:
        try:
            return fn(*args, **kwargs)
        except PipelineError as err:
            _report(err)
            sys.exit(1)
        except OSError as err:  # a full disk (or file size limit): one line, not a bug
            runs = _run_dirs()
            msg = disk_message(err, str(runs[0]) if runs else None)
            if msg is None:
                raise
            full = PipelineError(msg)
            full.__cause__ = err  # the log keeps where it happened
            _report(full)
            sys.exit(1)
        except KeyboardInterrupt:
            print("error: interrupted", file=sys.stderr, flush=True)
            sys.exit(130)

    return wrapper
