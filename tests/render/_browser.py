"""Headless Chromium over the DevTools protocol, through a pipe (stdlib only, no websocket).

Chromium's ``--remote-debugging-pipe`` reads protocol messages from fd 3 and writes to fd 4,
each a JSON text ended by a NUL byte; a small shell ``exec`` maps the child's stdin/stdout
there. WebGL runs on the CPU (SwiftShader through ANGLE), as on a machine with no GPU.

::

    with Chromium() as browser:
        page = browser.open("http://127.0.0.1:8000/preview/index.html")
        page.wait_for("window.vizpipePreview && window.vizpipePreview.ready")
        png = page.screenshot()
        print(page.errors())   # console errors, uncaught exceptions, failed loads
"""

from __future__ import annotations

import base64
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

#: the Debian package that provides the browser (what .ci/run installs)
PACKAGE = "chromium"
_CANDIDATES = ("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome",
               "google-chrome-stable")


def find_chromium() -> str | None:
    """The browser binary (``$VIZPIPE_CHROMIUM`` first), or None."""
    env = os.environ.get("VIZPIPE_CHROMIUM")
    if env:
        return env if Path(env).exists() or shutil.which(env) else None
    for name in _CANDIDATES:
        path = name if os.path.isabs(name) else shutil.which(name)
        if path and Path(path).exists():
            return path
    return None


FLAGS = (
    "--headless=new", "--no-sandbox", "--remote-debugging-pipe", "--no-first-run",
    "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    "--mute-audio", "--hide-scrollbars", "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader", "--ignore-gpu-blocklist", "--enable-webgl",
)


class ProtocolError(RuntimeError):
    pass


class Chromium:
    """One headless browser process; :meth:`open` gives pages (tabs)."""

    def __init__(self, width: int = 960, height: int = 540, log: Path | None = None) -> None:
        exe = find_chromium()
        if exe is None:
            raise FileNotFoundError(f"no Chromium found (apt-get install -y {PACKAGE})")
        self.width, self.height = width, height
        self.profile = tempfile.mkdtemp(prefix="vizpipe-chromium-")
        self.log_path = log or Path(self.profile) / "chromium.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in close())
        cmd = ["sh", "-c", 'exec "$@" 3<&0 4>&1 0</dev/null 1>/dev/null', "sh", exe, *FLAGS,
               f"--user-data-dir={self.profile}", f"--window-size={width},{height}",
               "about:blank"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log)
        self._next = 0
        self._lock = threading.Lock()
        self._replies: dict[int, queue.Queue] = {}
        self.events: list[dict] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.version = self.send("Browser.getVersion", timeout=60)["product"]

    # -- protocol
    def _read(self) -> None:
        buf = b""
        stream = self.proc.stdout
        assert stream is not None
        while True:
            chunk = stream.read1(1 << 16) if hasattr(stream, "read1") else stream.read(4096)
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                if "id" in msg:
                    q = self._replies.get(msg["id"])
                    if q is not None:
                        q.put(msg)
                else:
                    self.events.append(msg)
        for q in list(self._replies.values()):  # the browser died: wake every waiter
            q.put({"error": {"message": "the browser closed the pipe"}})

    def send(self, method: str, params: dict | None = None, *, session: str | None = None,
             timeout: float = 30.0) -> dict:
        with self._lock:
            self._next += 1
            msg_id = self._next
            q: queue.Queue = queue.Queue()
            self._replies[msg_id] = q
            msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
            if session:
                msg["sessionId"] = session
            assert self.proc.stdin is not None
            self.proc.stdin.write(json.dumps(msg).encode() + b"\0")
            self.proc.stdin.flush()
        try:
            reply = q.get(timeout=timeout)
        except queue.Empty:
            raise ProtocolError(f"{method}: no reply in {timeout} s") from None
        finally:
            self._replies.pop(msg_id, None)
        if "error" in reply:
            raise ProtocolError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    # -- pages
    def open(self, url: str) -> Page:
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True}
                            )["sessionId"]
        page = Page(self, session, target)
        for domain in ("Runtime", "Log", "Page", "Network"):
            page.send(f"{domain}.enable")
        page.send("Emulation.setDeviceMetricsOverride",
                  {"width": self.width, "height": self.height, "deviceScaleFactor": 1,
                   "mobile": False})
        page.started = time.monotonic()
        page.send("Page.navigate", {"url": url})
        return page

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                try:
                    self.send("Browser.close", timeout=5)
                except ProtocolError:
                    pass
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        finally:
            self._log.close()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Page:
    """One tab, attached with a flat session."""

    def __init__(self, browser: Chromium, session: str, target: str) -> None:
        self.browser, self.session, self.target = browser, session, target
        self.started = time.monotonic()

    def send(self, method: str, params: dict | None = None, timeout: float = 30.0) -> dict:
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def _events(self) -> list[dict]:
        return [e for e in self.browser.events if e.get("sessionId") == self.session]

    def evaluate(self, expression: str, *, await_promise: bool = False,
                 timeout: float = 30.0) -> Any:
        res = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": await_promise}, timeout=timeout)
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text")
            raise ProtocolError(f"{expression}: {text}")
        return res["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0, poll: float = 0.1) -> Any:
        """Poll ``expression`` until it is truthy; raise with the page's errors on timeout."""
        end = time.monotonic() + timeout
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > end:
                raise TimeoutError(f"{expression} still false after {timeout} s; page errors: "
                                   f"{self.errors()}")
            time.sleep(poll)

    def screenshot(self) -> bytes:
        """The page as the viewer sees it (PNG bytes)."""
        data = self.send("Page.captureScreenshot", {"format": "png"}, timeout=60)["data"]
        return base64.b64decode(data)

    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and failed loads, one line each."""
        out = []
        for e in self._events():
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                  for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append("exception: " + str(d.get("exception", {}).get("description")
                                               or d.get("text")))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                entry = p["entry"]
                out.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
            elif m == "Network.loadingFailed" and not p.get("canceled"):
                out.append(f"network: {p.get('errorText')} ({p.get('requestId')})")
        return out

    def requests(self) -> list[str]:
        """Every URL the page asked for."""
        return [e["params"]["request"]["url"] for e in self._events()
                if e.get("method") == "Network.requestWillBeSent"]
