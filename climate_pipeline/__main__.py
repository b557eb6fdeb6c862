"""``python -m climate_pipeline``: see :mod:`climate_pipeline.pipeline`."""

import sys

from climate_pipeline.pipeline import main

sys.exit(main())
