"""``python -m climate_pipeline``: convert, then render (:func:`vizpipe_app.runner.run_pipeline`
over :mod:`climate_pipeline.pipeline`). An entry module: the top of the import stack, like
``app.py`` beside it; the pipeline's own modules never import :mod:`vizpipe_app`."""

from __future__ import annotations

import sys

from climate_pipeline import pipeline
from vizpipe_app.runner import run_pipeline


def main(argv: list[str] | None = None) -> int:
    """``python -m climate_pipeline [arguments]``; ``argv`` replaces ``sys.argv[1:]``."""
    return run_pipeline("climate", pipeline, argv)


if __name__ == "__main__":
    sys.exit(main())
