"""Progress lines for long runs, on stderr.

``[assets] 12/48 done (25%), 3.2 tasks/s, ETA 0:00:11``

At most one line per ``min_interval`` seconds (0.5 s: two lines a second), plus a final line
from :meth:`Progress.flush` / :meth:`Progress.close`. The engines drive it from done-callbacks
on their futures; serial loops call :meth:`Progress.advance` themselves::

    with Progress(len(frames), "frames") as prog:
        for f in frames:
            render(f)
            prog.advance()

Silent when the environment sets ``VIZPIPE_PROGRESS=0``. Thread-safe.
"""

from __future__ import annotations

import datetime
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["Progress", "format_progress", "progress_enabled"]


def progress_enabled() -> bool:
    """False when ``VIZPIPE_PROGRESS`` is set to 0/false/no/off."""
    from core.settings import env

    return bool(env("VIZPIPE_PROGRESS"))


def _rate(rate: float) -> str:
    return f"{rate:.1f}" if rate >= 0.1 else f"{rate:.2g}"


def format_progress(label: str, done: int, total: int, elapsed: float, failed: int = 0) -> str:
    """One progress line: ``[label] done/total done (pct%), rate tasks/s, ETA h:mm:ss``."""
    pct = int(100 * done / total) if total else 100
    rate = done / elapsed if elapsed > 0 else 0.0
    if done >= total:
        eta = "0:00:00"
    elif rate > 0:
        eta = str(datetime.timedelta(seconds=round((total - done) / rate)))
    else:
        eta = "?"
    line = f"[{label}] {done}/{total} done ({pct}%), {_rate(rate)} tasks/s, ETA {eta}"
    if failed:
        line += f", {failed} failed"
    return line


class Progress:
    """Counts finished tasks against a (possibly growing) total and prints throttled lines.

    ``total`` may grow with :meth:`add_total` as an engine submits more tasks. Rates count
    from the creation of the object.
    """

    def __init__(self, total: int = 0, label: str = "vizpipe", *, stream: TextIO | None = None,
                 min_interval: float = 0.5, enabled: bool | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.label = label
        self.total = int(total)
        self.done = 0
        self.failed = 0
        self.enabled = progress_enabled() if enabled is None else enabled
        self.min_interval = min_interval
        self._stream = stream
        self._clock = clock
        self._start = clock()
        self._last_print = self._start
        self._last_state: tuple[int, int, int] | None = None
        self._lock = threading.Lock()

    # -- counting
    def add_total(self, n: int = 1) -> None:
        """Announce ``n`` more units of work."""
        with self._lock:
            self.total += n

    def advance(self, n: int = 1, failed: int = 0) -> None:
        """Count ``n`` finished units (``failed`` of them failed); print if a line is due."""
        with self._lock:
            self.done += n
            self.failed += failed
            if self.done > self.total:
                self.total = self.done
            now = self._clock()
            if now - self._last_print >= self.min_interval:
                self._emit(now)

    def watch(self, future: Any) -> Any:
        """Advance when ``future`` (anything with ``add_done_callback``) finishes."""
        self.add_total(1)

        def _done(fut: Any) -> None:
            status = getattr(fut, "status", None)
            if status is None and hasattr(fut, "exception"):
                try:
                    status = "error" if fut.exception() is not None else "finished"
                except BaseException:  # cancelled
                    status = "cancelled"
            self.advance(1, failed=int(status not in (None, "finished")))

        future.add_done_callback(_done)
        return future

    # -- output
    def line(self, now: float | None = None) -> str:
        """The current progress line."""
        now = self._clock() if now is None else now
        return format_progress(self.label, self.done, self.total, now - self._start, self.failed)

    def flush(self) -> None:
        """Print the current line unless it was the last one printed (the final line)."""
        with self._lock:
            if self.total or self.done:
                self._emit(self._clock())

    close = flush

    def _emit(self, now: float) -> None:
        state = (self.done, self.total, self.failed)
        if not self.enabled or state == self._last_state:
            return
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            stream.write(self.line(now) + "\n")
            stream.flush()
        except (OSError, ValueError):  # closed stream at interpreter exit
            return
        self._last_print = now
        self._last_state = state

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
