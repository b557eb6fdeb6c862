"""What every text reader shares: opening a file as one buffer, exact float parsing, errors.

* :func:`open_buffer` maps a file into memory (mmap, no copy) or, for gzip/bzip2/xz files,
  decompresses it into one ``bytes``; empty files and directories are a
  :class:`~core.errors.BadInputError` naming them.
* :func:`parse_floats` parses ``count`` whitespace-separated numbers (Fortran style too:
  ``0.1234E+01``, ``-.5E-3``, ``1.0D+00``, ``0.123-100``) from a byte offset, exactly as
  ``float()`` would (bit for bit), with the compiled ``materials_pipeline._fastfloat``
  (GIL released, several threads for long runs of fixed-layout lines) or a numpy fallback when
  it is not built. Truncated data, non-numeric tokens and NaN/Inf raise BadInputError naming
  the file, the block and the value.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import mmap
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError

_ff: Any
try:
    from materials_pipeline import _fastfloat as _ff  # type: ignore[attr-defined,no-redef]
except ImportError:  # not built: numpy fallback (correct, several times slower)
    _ff = None

__all__ = ["ReaderWarning", "line_of", "compiled", "open_buffer", "read_head", "parse_floats",
           "parse_grid", "skip_tokens", "while_parsing",
           "fortran_to_c", "default_threads", "Lines", "COMPRESSED_MAGIC"]

class ReaderWarning(UserWarning):
    """A reader skipped or repaired something in a file it could still read (the message
    names the file and line); the pipeline logs these and records them in the manifest."""


COMPRESSED_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_OPENERS: dict[str, Any] = {"gzip": gzip.open, "bzip2": bz2.open, "xz": lzma.open}


def compiled() -> bool:
    """True when the compiled parser is importable (else numpy parses, slower)."""
    return _ff is not None


def default_threads() -> int:
    """Threads for one large grid: the CPUs this process may use, at most 4."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        n = os.cpu_count() or 1
    return max(1, min(4, n))


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise BadInputError(f"{path}: is a directory, not a file")
    if not path.exists():
        raise BadInputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: empty file")


def _compression(head: bytes) -> str | None:
    return next((kind for magic, kind in COMPRESSED_MAGIC if head.startswith(magic)), None)


def read_head(path: str | os.PathLike, size: int = 1 << 18) -> bytes:
    """The first ``size`` bytes of a file (decompressed if it is gzip/bzip2/xz)."""
    p = Path(path)
    _check_file(p)
    with open(p, "rb") as fh:
        head = fh.read(size)
    kind = _compression(head)
    if kind is None:
        return head
    try:
        with _OPENERS[kind](p, "rb") as fh:
            head = fh.read(size)
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise BadInputError(f"{p}: corrupt {kind} file ({e})") from None
    if not head:
        raise BadInputError(f"{p}: empty file (after {kind} decompression)")
    return head


@contextmanager
def open_buffer(path: str | os.PathLike) -> Iterator[bytes | mmap.mmap]:
    """The whole file as one read-only buffer: an mmap (plain files) or bytes (compressed)."""
    p = Path(path)
    _check_file(p)
    with open(p, "rb") as fh:
        kind = _compression(fh.read(6))
        if kind is not None:
            try:
                with _OPENERS[kind](p, "rb") as zf:
                    data = zf.read()
            except (OSError, EOFError, lzma.LZMAError) as e:
                raise BadInputError(f"{p}: corrupt {kind} file ({e})") from None
            if not data:
                raise BadInputError(f"{p}: empty file (after {kind} decompression)")
            yield data
            return
        try:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # not mappable (special file): one read
            fh.seek(0)
            yield fh.read()
            return
    try:
        if hasattr(mm, "madvise") and hasattr(mmap, "MADV_SEQUENTIAL"):
            mm.madvise(mmap.MADV_SEQUENTIAL)
        yield mm
    finally:
        try:
            mm.close()
        except BufferError:  # a view is still alive (only on error paths): the GC closes it
            pass


class Lines:
    """Line-by-line reading of a buffer's header parts, keeping the byte offset.

    ``next()`` returns the next line (bytes, without the newline) and advances ``pos``;
    ``peek()`` looks without advancing; ``lineno`` counts lines (1-based) for messages.
    """

    def __init__(self, buf, pos: int = 0, lineno: int = 0):
        self.buf, self.pos, self.lineno = buf, pos, lineno
        self.n = len(buf)

    def next(self) -> bytes | None:
        if self.pos >= self.n:
            return None
        nl = self.buf.find(b"\n", self.pos)
        end = self.n if nl < 0 else nl
        line = self.buf[self.pos:end]
        self.pos = end + 1 if nl >= 0 else self.n
        self.lineno += 1
        return line.rstrip(b"\r")

    def peek(self) -> bytes | None:
        pos, lineno = self.pos, self.lineno
        line = self.next()
        self.pos, self.lineno = pos, lineno
        return line

    def next_nonblank(self) -> bytes | None:
        while True:
            line = self.next()
            if line is None or line.strip():
                return line


# ------------------------------------------------------------------------------ floats

def _excerpt(buf, pos: int) -> str:
    end = pos
    n = len(buf)
    while end < n and end - pos < 40 and buf[end:end + 1] not in (b" ", b"\n", b"\t", b"\r"):
        end += 1
    return bytes(buf[pos:end]).decode("latin-1")


def line_of(buf, pos: int) -> int:
    """1-based line number of byte ``pos`` (for messages; works on mmaps too)."""
    if pos <= 0:
        return 1
    arr = np.frombuffer(buf, dtype=np.uint8, count=min(pos, len(buf)))
    n = int(np.count_nonzero(arr == 10))
    del arr
    return n + 1


def _back_over_space(buf, offset: int, end: int) -> int:
    while end > offset and buf[end - 1:end] in (b" ", b"\n", b"\r", b"\t", b"\v", b"\f"):
        end -= 1
    return end


def _fail(path, what: str, count: int, n: int, end: int, status: int, buf) -> BadInputError:
    if status == 1:
        return BadInputError(f"{path}: {what} expected {count} values, found {n} (truncated?)")
    token = _excerpt(buf, end)
    where = f"value {n + 1} of {count} (line {line_of(buf, end)})"
    if status == 3:
        return BadInputError(f"{path}: {what} {where} is {token!r} (NaN or infinite)")
    if re.match(r"^[A-Za-z_]{3,}", token):
        return BadInputError(
            f"{path}: {what} expected {count} values, found {n} before {token!r} "
            f"(line {line_of(buf, end)}; wrong grid dimensions or truncated data?)")
    return BadInputError(f"{path}: {what} {where} is not a number: {token!r}")


_FORTRAN_EXP = re.compile(rb"(?<=[0-9.])([+-]\d{3,})")


def _py_float(tok: bytes) -> float:
    t = tok.replace(b"D", b"E").replace(b"d", b"e")
    if b"e" not in t and b"E" not in t:
        t = _FORTRAN_EXP.sub(rb"E\1", t)
    return float(t)


def _parse_numpy(buf, offset: int, count: int) -> tuple[np.ndarray, int, int, int]:
    """Fallback: (values, n_parsed, end, status) with the C parser's status codes."""
    chunk = bytes(buf[offset:])
    parts = chunk.split(None, count)
    if len(parts) <= count:
        toks, end = parts, offset + len(chunk.rstrip())
    else:
        toks = parts[:count]
        end = _back_over_space(buf, offset, len(buf) - len(parts[count]))
    out = np.empty(len(toks))
    try:
        out[:] = np.array(toks, dtype=np.float64) if toks else out
    except ValueError:
        for i, t in enumerate(toks):
            try:
                out[i] = _py_float(t)
            except ValueError:
                pos = offset + _nth_token_offset(chunk, i)
                return out[:i], i, pos, 2
    bad = ~np.isfinite(out)
    if bad.any():
        i = int(np.argmax(bad))
        return out[:i], i, offset + _nth_token_offset(chunk, i), 3
    if len(toks) < count:
        return out, len(toks), len(buf), 1
    return out, count, end, 0


def _nth_token_offset(chunk: bytes, i: int) -> int:
    for k, m in enumerate(re.finditer(rb"\S+", chunk)):
        if k == i:
            return m.start()
    return len(chunk)


# work to run beside this thread's next large parse (materials_pipeline.frames: the USD import)
_beside = threading.local()
BESIDE_MIN_VALUES = 1 << 20  # smaller grids parse in a few ms: nothing to overlap


@contextmanager
def while_parsing(work: Callable[[], object]) -> Iterator[None]:
    """Run ``work()`` in the calling thread while the first grid of at least
    BESIDE_MIN_VALUES values read in the block is parsed by the compiled parser in a helper
    thread (the parser is C with the GIL released: it imports nothing, so ``work`` may import
    modules that must not load beside another import, as pxr). If no such grid is parsed,
    ``work()`` runs when the block ends; not at all if the block raises."""
    _beside.work = work
    try:
        yield
    except BaseException:
        _beside.work = None
        raise
    pending, _beside.work = getattr(_beside, "work", None), None
    if pending is not None:
        pending()


def _compiled_call(count: int, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` (a compiled parser call, GIL released), with the pending
    :func:`while_parsing` work running in this thread meanwhile when the grid is large."""
    work = getattr(_beside, "work", None)
    if work is None or count < BESIDE_MIN_VALUES:
        return fn(*args)
    _beside.work = None
    result: list[Any] = []
    error: list[BaseException] = []

    def parse() -> None:
        try:
            result.append(fn(*args))
        except BaseException as exc:  # re-raised in the caller's thread
            error.append(exc)

    helper = threading.Thread(target=parse, name="parse", daemon=True)
    helper.start()
    try:
        work()
    finally:
        helper.join()
    if error:
        raise error[0]
    return result[0]


def parse_floats(buf, offset: int, count: int, *, path, what: str,
                 out: np.ndarray | None = None, threads: int | None = None
                 ) -> tuple[np.ndarray, int]:
    """``count`` numbers from ``buf`` at byte ``offset`` -> (float64 array, end offset).

    ``out`` (a C-contiguous float64 array of ``count`` values) is filled if given. Raises
    BadInputError naming ``path`` and ``what`` (e.g. "grid 1") for truncated data, a token
    that is not a number, or NaN/Inf.
    """
    if out is None:
        out = np.empty(count, dtype=np.float64)
    if count == 0:
        return out, offset
    if _ff is not None:
        nth = default_threads() if threads is None else max(1, int(threads))
        n, end, status = _compiled_call(count, _ff.parse_into, buf, offset, out, nth)
    else:
        vals, n, end, status = _parse_numpy(buf, offset, count)
        out[:n] = vals[:n]
    if status != 0:
        raise _fail(path, what, count, n, end, status, buf)
    return out, end


def parse_grid(buf, offset: int, shape: tuple[int, int, int], *, path, what: str,
               divisor: float = 1.0, threads: int | None = None) -> tuple[np.ndarray, int]:
    """A grid stored x fastest (VASP, XSF) -> (C-contiguous ``values[i, j, k]`` / divisor, end).

    Equals ``parse_floats(...).reshape(shape, order="F") / divisor`` bit for bit; the compiled
    path parses a few planes at a time straight into place (no full-size temporary).
    """
    n0, n1, n2 = (int(s) for s in shape)
    count = n0 * n1 * n2
    if _ff is None:
        flat, end = parse_floats(buf, offset, count, path=path, what=what, threads=threads)
        return fortran_to_c(flat, (n0, n1, n2), divisor), end
    out = np.empty((n0, n1, n2), dtype=np.float64)
    nth = default_threads() if threads is None else max(1, int(threads))
    n, end, status = _compiled_call(count, _ff.parse_grid, buf, offset, out, n0, n1, n2,
                                    float(divisor), nth)
    if status != 0:
        raise _fail(path, what, count, n, end, status, buf)
    return out, end


def skip_tokens(buf, offset: int, count: int, *, path, what: str) -> int:
    """Skip ``count`` tokens (augmentation blocks); returns the offset after them."""
    if _ff is not None:
        n, end = _ff.skip(buf, offset, count)
    else:
        chunk = bytes(buf[offset:])
        parts = chunk.split(None, count)
        n = min(len(parts), count)
        end = (_back_over_space(buf, offset, len(buf) - len(parts[count]))
               if len(parts) > count else len(buf))
    if n < count:
        raise BadInputError(f"{path}: {what} expected {count} values, found {n} (truncated?)")
    return end


def fortran_to_c(flat: np.ndarray, shape: tuple[int, int, int], divisor: float = 1.0
                 ) -> np.ndarray:
    """Values stored x fastest (Fortran order) -> C-contiguous ``values[i, j, k]`` / divisor.

    ``values[i, j, k] = flat[i + n0*(j + n1*k)] / divisor`` (one IEEE division per value, so
    the result equals ``flat.reshape(shape, order="F") / divisor`` bit for bit).
    """
    n0, n1, n2 = (int(s) for s in shape)
    if _ff is not None and flat.dtype == np.float64 and flat.flags.c_contiguous:
        out = np.empty((n0, n1, n2), dtype=np.float64)
        _ff.f2c(flat, out, n0, n1, n2, float(divisor))
        return out
    out = np.ascontiguousarray(flat.reshape(n2, n1, n0).transpose(2, 1, 0))
    if divisor != 1.0:
        out /= divisor
    return out
