"""``python -m render.preview RUN_DIR [--serve] [--port N]``: write ``RUN_DIR/preview/``.

Reads and validates ``RUN_DIR/manifest.json`` (every asset file must exist), writes the page
(:func:`render.preview.writer.write_preview`) and prints one line saying where it is. With
``--serve`` it then serves the run directory on 127.0.0.1 and prints the page's URL until
Ctrl-C. A bad run is one ``error: ...`` line and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli import main_wrapper, one_line_errors

__all__ = ["build_parser", "main"]


def _port(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got {text!r}"
                                         ) from None
    if not 0 <= n <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0..65535, got {text!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="python -m render.preview",
        description="Write RUN_DIR/preview/index.html: every frame of the run in a browser "
                    "(three.js, vendored; no render, no internet), and optionally serve it.")
    ap.add_argument("run_dir", type=Path, metavar="RUN_DIR",
                    help="a run directory (the --out of a pipeline or of the demo)")
    ap.add_argument("--serve", action="store_true",
                    help="then serve RUN_DIR on 127.0.0.1 and print the page's URL (Ctrl-C "
                         "stops)")
    ap.add_argument("--port", type=_port, default=8000,
                    help="port of --serve (0: any free one) [8000]")
    return ap


@main_wrapper
def main(argv: list[str] | None = None) -> int:
    args = one_line_errors(build_parser()).parse_args(argv)
    from render.preview.writer import write_preview

    info = write_preview(args.run_dir)
    print(info.line() if not args.serve else f"preview: {info.index} ({info.frames} frames, "
          f"{info.nbytes / 1e6:.1f} MB)", flush=True)
    if not args.serve:
        return 0
    from render.preview.serve import make_server, url_of

    server = make_server(args.run_dir, args.port)
    print(f"serving {Path(args.run_dir).resolve()} at {url_of(server)} (Ctrl-C stops)",
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr, flush=True)
    finally:
        server.server_close()
    return 0
