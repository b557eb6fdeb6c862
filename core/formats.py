"""One format registry for every file the project reads or writes, as in ``ase/io/formats.py``.

A :class:`Format` is one declarative, keyword-only entry: its name, what it holds, the module
implementing it (imported only when used), its reader and writer there, file-name patterns,
magic bytes, a content test (``sniff``) and whether one file can hold several frames. A
:class:`Registry` holds the entries of one domain and answers the same questions for all:

* ``core.io.FORMATS``: the asset formats we write (PLY, glTF, OpenVDB, USD);
* ``materials_pipeline.readers.FORMATS``: VASP, cube, XSF, extxyz, ASE trajectories, vaspout;
* ``climate_pipeline.readers.FORMATS``: CF-NetCDF, GRIB, PP, NAME.

Detection is the same everywhere: magic bytes first, then the content tests (in the
registry's ``content_order``, by default the order of its formats), then the file name (a
compression suffix ``.gz``/``.bz2``/``.xz`` ignored; the first format whose pattern matches).
An unknown file's error lists the known formats. What a domain knows beyond that (VASP
volumetric files all look alike inside: their name says which one) is a small step of its own
after :meth:`Registry.detect`.

Besides its reader and writer, a format may name other functions of its module by role
(``functions=(("variables", "variable_table"),)``; :meth:`Format.function`), so that code
dispatching on the format asks the registry instead of testing format names.
"""

from __future__ import annotations

import fnmatch
import importlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import BadInputError, UnknownFormatError

__all__ = ["Format", "Registry", "COMPRESSION_SUFFIXES", "strip_compression"]

COMPRESSION_SUFFIXES = (".gz", ".bz2", ".xz")


def strip_compression(name: str) -> str:
    """``CHGCAR.gz`` -> ``CHGCAR``; other names unchanged."""
    low = name.lower()
    for s in COMPRESSION_SUFFIXES:
        if low.endswith(s):
            return name[: -len(s)]
    return name


@dataclass(frozen=True, kw_only=True)
class Format:
    """One file format: what it holds, where its code lives, how to recognise it."""

    name: str
    description: str
    kinds: tuple[str, ...]  # what it holds: mesh/points/curves/volume, density/structure/...
    module: str  # imported only when the reader or writer is used
    reader: str | None = None
    writer: str | None = None
    globs: tuple[str, ...] = ()  # file-name patterns, case-insensitive: "*.ply", "CHGCAR*"
    magic: tuple[bytes, ...] = ()  # leading bytes
    sniff: Callable[[bytes], bool] | None = None  # content test on the file's first bytes
    multi_frame: bool = False  # one file can hold several frames (trajectory, time series)
    options: tuple[tuple[str, Any], ...] = ()  # fixed keywords for the reader
    functions: tuple[tuple[str, str], ...] = ()  # other functions of ``module``, by role

    def _func(self, attr: str | None, what: str, path: str | os.PathLike | None) -> Callable:
        if attr is None:
            where = f"{path}: " if path is not None else ""
            raise BadInputError(f"{where}format {self.name!r} ({self.description}) has no "
                                f"{what}")
        return getattr(importlib.import_module(self.module), attr)

    def reader_func(self, path: str | os.PathLike | None = None) -> Callable[..., Any]:
        return self._func(self.reader, "reader", path)

    def writer_func(self, path: str | os.PathLike | None = None) -> Callable[..., Any]:
        return self._func(self.writer, "writer", path)

    def function(self, role: str, path: str | os.PathLike | None = None) -> Callable[..., Any]:
        """The module's function for ``role`` (one of :attr:`functions`); BadInputError
        naming the format when it has none."""
        return self._func(dict(self.functions).get(role), f"{role!r} function", path)

    def matches_name(self, path: str | os.PathLike) -> bool:
        """Whether the file name (compression suffix ignored) matches one of the globs."""
        name = strip_compression(Path(path).name).lower()
        return any(fnmatch.fnmatchcase(name, g.lower()) for g in self.globs)

    @property
    def suffixes(self) -> tuple[str, ...]:
        """The ``.ext`` of the patterns of the form ``*.ext``."""
        return tuple(g[1:].lower() for g in self.globs
                     if g.startswith("*.") and not any(c in g[2:] for c in "*?["))

    def matches_magic(self, head: bytes) -> bool:
        return any(head.startswith(m) for m in self.magic)


class Registry:
    """The formats of one domain.

    Iteration, :meth:`known` and name matching follow the order of ``formats``. Content tests
    run in ``content_order`` (names of formats with a ``sniff``, most specific first); formats
    with a content test that it does not name run after those it names, in registry order.
    Without ``content_order`` the content tests run in registry order.
    """

    def __init__(self, domain: str, formats: tuple[Format, ...], *,
                 content_order: tuple[str, ...] | None = None) -> None:
        names = [f.name for f in formats]
        if len(set(names)) != len(names):
            raise ValueError(f"{domain} formats: duplicate names in {names}")
        self.domain = domain
        self.formats = tuple(formats)
        self.magic_bytes = max((len(m) for f in formats for m in f.magic), default=0)
        by_name = {f.name: f for f in formats}
        order = tuple(content_order or ())
        bad = [n for n in order if n not in by_name or by_name[n].sniff is None]
        if bad or len(set(order)) != len(order):
            raise ValueError(f"{domain} formats: content_order {order} names formats "
                             f"without a content test, unknown or repeated: {bad}")
        self.sniffers = tuple(by_name[n] for n in order) + tuple(
            f for f in formats if f.sniff is not None and f.name not in order)

    def __iter__(self) -> Iterator[Format]:
        return iter(self.formats)

    def __len__(self) -> int:
        return len(self.formats)

    def known(self) -> str:
        """``name (patterns)`` of every format, for error messages."""
        return ", ".join(f"{f.name} ({' '.join(f.globs[:3]) or 'by content'})"
                         for f in self.formats)

    def get(self, name: str) -> Format:
        """The format called ``name`` (UnknownFormatError listing the known ones otherwise)."""
        for f in self.formats:
            if f.name == name.lower():
                return f
        raise UnknownFormatError(f"unknown {self.domain} format {name!r}; known formats: "
                                 f"{self.known()}")

    def by_magic(self, head: bytes) -> Format | None:
        return next((f for f in self.formats if f.magic and f.matches_magic(head)), None)

    def by_content(self, head: bytes) -> Format | None:
        """The first format (in ``content_order``) whose content test accepts ``head``."""
        return next((f for f in self.sniffers if f.sniff is not None and f.sniff(head)), None)

    def by_name(self, path: str | os.PathLike) -> Format | None:
        return next((f for f in self.formats if f.matches_name(path)), None)

    def detect(self, path: str | os.PathLike, head: bytes | None) -> tuple[Format, str]:
        """(format, how) with how ``content`` or ``name``: magic bytes, content tests, name.
        ``head`` is the file's first bytes (None: the file does not exist yet)."""
        if head is not None:
            f = self.by_magic(head) or self.by_content(head)
            if f is not None:
                return f, "content"
        f = self.by_name(path)
        if f is not None:
            return f, "name"
        p = Path(path)
        raise UnknownFormatError(
            f"{p}: unknown format (content not recognised, name {p.name!r} matches no "
            f"pattern); known formats: {self.known()}")
