"""Atomic file output: write to a temporary name in the same folder, then rename.

The rename is atomic for every other process: a writer killed at any moment (SIGKILL, a
wall-clock limit) leaves no file under the final name. Surviving a crash of the machine
itself needs the data on disk before the rename: ``VIZPIPE_FSYNC=1`` adds an ``fsync`` per
file. It is off by default because it serialises parallel writers on the file system's
journal (the 2-worker climate frame stage ran 18% slower with it) and is slow on GPFS; the
frame records (:mod:`core.framecache`) hold each file's size and SHA-256, so a file a crash
truncated is rebuilt on the next run (``VIZPIPE_VERIFY=sha256`` checks every byte).
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path

from core.settings import env


def tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    The temporary keeps the final suffix (some libraries pick the format by suffix). On any
    exception, or if the process dies, no file exists under the final name.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(final)
    try:
        yield tmp
        if env("VIZPIPE_FSYNC"):  # on disk before the rename
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, final)
    except OSError as exc:  # a full disk: say which file (a write() error names none)
        if exc.filename is None and exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
            exc.filename = str(final)
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))
