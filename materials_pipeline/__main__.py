"""``python -m materials_pipeline``: convert, then render. A thin alias of the command the
application layer registers as the entry point ``vizpipe.main:materials`` (pyproject.toml:
:func:`vizpipe_app.runner.materials_main`, which runs :mod:`materials_pipeline.pipeline`), looked up
by :func:`core.entrypoints.run_entry`: no module of this package imports :mod:`vizpipe_app`."""

from __future__ import annotations

import sys

from core.entrypoints import GROUP_MAIN, run_entry


def main(argv: list[str] | None = None) -> int:
    """``python -m materials_pipeline [arguments]``; ``argv`` replaces ``sys.argv[1:]``."""
    return run_entry(GROUP_MAIN, "materials", argv)


if __name__ == "__main__":
    sys.exit(main())
