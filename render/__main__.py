"""``python -m render RUN_DIR ...``: see :mod:`render.driver` (no bpy in this process)."""

import sys

from render.driver import main

if __name__ == "__main__":
    sys.exit(main())
