"""``python -m materials_pipeline``: see :mod:`materials_pipeline.pipeline`."""

import sys

from materials_pipeline.pipeline import main

sys.exit(main())
