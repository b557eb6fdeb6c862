"""``python -m render.preview RUN_DIR [--serve]``: see :mod:`render.preview.driver`."""

import sys

from render.preview.driver import main

if __name__ == "__main__":
    sys.exit(main())
