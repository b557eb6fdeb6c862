"""A local HTTP server for a run directory: the preview page and the assets it loads.

Bound to 127.0.0.1 only (a login node's other users cannot reach it; forward the port with
``ssh -L PORT:127.0.0.1:PORT host`` to look from a laptop). It serves the run directory, not
only ``preview/``, because the page loads the run's GLB files in place (``../assets/...``).
"""

from __future__ import annotations

import errno
import functools
import http.server
import os
import threading
from pathlib import Path

from core.errors import BadInputError

__all__ = ["HOST", "make_server", "serve_in_thread", "url_of"]

HOST = "127.0.0.1"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Static files, quiet (no line per request), with the types a browser insists on."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".js": "text/javascript", ".wasm": "application/wasm",
                      ".glb": "model/gltf-binary", ".json": "application/json"}

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")  # a re-run's files, not yesterday's
        super().end_headers()


def make_server(root: str | os.PathLike, port: int = 0) -> http.server.ThreadingHTTPServer:
    """A server for ``root`` on 127.0.0.1:``port`` (0: any free port), not yet serving."""
    handler = functools.partial(_Handler, directory=str(Path(root).resolve()))
    try:
        server = http.server.ThreadingHTTPServer((HOST, port), handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise BadInputError(f"--port {port}: already in use on {HOST}; expected a free "
                                "port (--port 0 picks one)") from None
        raise
    server.daemon_threads = True
    return server


def url_of(server: http.server.ThreadingHTTPServer, path: str = "preview/index.html") -> str:
    return f"http://{HOST}:{int(server.server_address[1])}/{path}"


def serve_in_thread(root: str | os.PathLike, port: int = 0
                    ) -> tuple[http.server.ThreadingHTTPServer, threading.Thread]:
    """Serve ``root`` from a daemon thread (the tests' server); ``server.shutdown()`` ends it."""
    server = make_server(root, port)
    thread = threading.Thread(target=server.serve_forever, name="preview-http", daemon=True)
    thread.start()
    return server, thread
