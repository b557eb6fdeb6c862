"""The climate readers, as classes: which one reads a file.

:data:`READERS` lists the reader classes (one line per format); a new format is one class in
a module of its own and one entry here. :data:`FORMATS` is the same list as a
:class:`core.formats.Registry` (what the other domains have; ``climate:<name>`` in errors and
in ``tests/core/test_formats.py``), built from the classes' attributes. :func:`guess_reader`
asks each class in turn whether it can open a file by its content, then goes by file name.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

from climate_pipeline.readers.base import HEAD_BYTES, Reader
from climate_pipeline.readers.grib import GribReader
from climate_pipeline.readers.iris import NameReader, PPReader
from climate_pipeline.readers.netcdf import NetCDFReader
from core.errors import BadInputError
from core.formats import Format, Registry

__all__ = ["READERS", "FORMATS", "ReaderFormat", "guess_reader", "guess_format"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ReaderFormat(Format):
    """A ``core.formats`` entry for a :class:`Reader` class: its reader and ``variables``
    functions are the methods of an instance of ``reader_class``."""

    reader_class: type[Reader]

    @classmethod
    def of(cls, reader: type[Reader]) -> ReaderFormat:
        probe = reader()
        return cls(name=reader.name, description=reader.description, kinds=("field",),
                   module=reader.__module__, reader="open",
                   functions=(("variables", "variables"),), globs=reader.globs,
                   magic=reader.magic, multi_frame=True, reader_class=reader,
                   sniff=(lambda head: probe.guess_can_open("", head))
                   if reader.has_content_test() else None)

    def _func(self, attr: str | None, what: str, path: str | os.PathLike | None
              ) -> Callable[..., Any]:
        if attr is None:  # the error naming the format
            return super()._func(attr, what, path)
        return getattr(self.reader_class(), attr)


#: the climate readers; content tests run in this order, then file names are matched
READERS: tuple[type[Reader], ...] = (NetCDFReader, GribReader, NameReader, PPReader)
FORMATS = Registry("climate", tuple(ReaderFormat.of(r) for r in READERS))


def _head(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(HEAD_BYTES)
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc})") from exc


def guess_reader(path: str) -> type[Reader]:
    """The reader class of one file: the first whose :meth:`Reader.guess_can_open` accepts
    its first bytes, else the first whose file-name patterns match (UnknownFormatError
    listing the known formats otherwise); a file named like NetCDF without its signature is
    a corrupt one (not a guess)."""
    head = _head(path)
    for reader in READERS:
        if reader().guess_can_open(path, head):
            return reader
    fmt, _ = FORMATS.detect(path, None)  # by name
    if fmt.name == NetCDFReader.name:
        raise BadInputError(
            f"{path}: corrupt or not a NetCDF file (no NetCDF/HDF5 signature); "
            "expected a CF-NetCDF file")
    return _reader_of(fmt)


def _reader_of(fmt: Format) -> type[Reader]:
    return next(r for r in READERS if r.name == fmt.name)


def guess_format(path: str) -> Format:
    """The ``core.formats`` entry of one file's reader (:func:`guess_reader`)."""
    return FORMATS.get(guess_reader(path).name)
