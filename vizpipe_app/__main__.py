"""``python -m vizpipe_app COMMAND [arguments]``: the ``vizpipe`` command (vizpipe_app.cli)."""

import sys

from vizpipe_app.cli import main

if __name__ == "__main__":
    sys.exit(main())
