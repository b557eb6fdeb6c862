"""``python -m climate_pipeline``: convert, then render. A thin alias of the command the
application layer registers as the entry point ``vizpipe.main:climate`` (pyproject.toml:
:func:`vizpipe_app.runner.climate_main`, which runs :mod:`climate_pipeline.pipeline`), looked up
by :func:`core.entrypoints.run_entry`: no module of this package imports :mod:`vizpipe_app`."""

from __future__ import annotations

import sys

from core.entrypoints import GROUP_MAIN, run_entry


def main(argv: list[str] | None = None) -> int:
    """``python -m climate_pipeline [arguments]``; ``argv`` replaces ``sys.argv[1:]``."""
    return run_entry(GROUP_MAIN, "climate", argv)


if __name__ == "__main__":
    sys.exit(main())
