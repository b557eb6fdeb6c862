"""Is an input file whole? Checks by the bytes its own header promises, before any library reads it.

A NetCDF classic file cut short (a copy interrupted, a quota hit while writing) opens without
complaint in the netCDF library, which returns whatever the missing bytes read as (zeros,
fill values): the run would convert garbage. An HDF5 file (NetCDF4, vaspout.h5) cut short
fails inside HDF5 with a message that says nothing of why. These checks read only the header
and compare what it promises with the file's size:

* :func:`check_netcdf_classic`: ``CDF\\x01`` (classic), ``CDF\\x02`` (64-bit offset) and
  ``CDF\\x05`` (CDF-5), as laid out in "NetCDF Classic and 64-bit Offset Format" (and its
  CDF-5 extension): the header's dimensions, attributes and variables, each variable's begin
  offset, and the number of records; the file must reach the end of the last non-record
  variable and of the last record (numrecs = STREAMING, a file still being written, checks
  the non-record data only);
* :func:`check_hdf5`: the superblock's end-of-file address (versions 0 to 3, a user block
  before it allowed) against the size;
* :func:`check_pp`: a Met Office PP file's Fortran record markers (iris reads the fields it
  can and drops a cut last one without a word).

Each raises :class:`core.errors.BadInputError`, ``PATH: truncated: header promises N bytes,
file has M`` (or ``PATH: truncated: ...`` for a header that is itself cut short), and returns
None for a whole file or one that is not of its format. :func:`check_file` picks the check by
the magic bytes.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable

from core.errors import BadInputError

__all__ = ["check_file", "check_netcdf_classic", "check_hdf5", "check_pp",
           "netcdf_classic_size", "hdf5_size", "pp_size"]

CLASSIC_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
#: a PP file's first Fortran record marker: 256 (the field header), big- or little-endian
PP_MAGIC = (b"\x00\x00\x01\x00", b"\x00\x01\x00\x00")

_NC_DIMENSION, _NC_VARIABLE, _NC_ATTRIBUTE = 0x0A, 0x0B, 0x0C
#: external size of each nc_type (NC_BYTE .. NC_UINT64; 7.. are CDF-5 only)
_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 8, 7: 1, 8: 2, 9: 4, 10: 8, 11: 8}


class _Truncated(Exception):
    """The header itself ends before its last field."""


class _Reader:
    """Big-endian fields of a header read from a file, a block at a time."""

    def __init__(self, fh, size: int) -> None:
        self.fh = fh
        self.size = size
        self.pos = 0
        self.buf = b""
        self.buf_start = 0

    def read(self, n: int) -> bytes:
        if n < 0 or self.pos + n > self.size:
            raise _Truncated
        end = self.buf_start + len(self.buf)
        if self.pos + n > end:
            self.fh.seek(self.pos)
            self.buf = self.fh.read(max(n, 1 << 16))
            self.buf_start = self.pos
        off = self.pos - self.buf_start
        data = self.buf[off:off + n]
        if len(data) != n:
            raise _Truncated
        self.pos += n
        return data

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.size:
            raise _Truncated
        self.pos += n

    def u32(self) -> int:
        return struct.unpack(">I", self.read(4))[0]

    def u64(self) -> int:
        return struct.unpack(">Q", self.read(8))[0]


def _pad4(n: int) -> int:
    return (n + 3) & ~3


# long: walks a NetCDF classic header in file order (dims, attributes, variables)
def netcdf_classic_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(bytes the header promises, bytes the file has) of a NetCDF classic / 64-bit offset /
    CDF-5 file; None when ``path`` is not one. Raises :class:`_Truncated` (internal) when the
    header itself is cut short, BadInputError when it is malformed."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        magic = fh.read(4)
        if magic not in CLASSIC_MAGIC:
            return None
        version = magic[3]
        r = _Reader(fh, size)
        r.pos = 4
        big = version == 5  # CDF-5: every count, length and offset is 64-bit
        count = r.u64 if big else r.u32
        offset = r.u64 if version in (2, 5) else r.u32

        def name() -> str:
            n = count()
            return r.read(_pad4(n))[:n].decode("utf-8", "replace")

        def attrs() -> None:
            tag, n = r.u32(), count()
            if tag == 0 and n == 0:
                return
            if tag != _NC_ATTRIBUTE:
                raise BadInputError(f"{path}: malformed NetCDF header: attribute list tag "
                                    f"{tag:#x} at byte {r.pos - 4}; expected 0x0c or absent")
            for _ in range(n):
                name()
                nc_type, nelems = r.u32(), count()
                if nc_type not in _TYPE_SIZE:
                    raise BadInputError(f"{path}: malformed NetCDF header: attribute type "
                                        f"{nc_type}; expected 1..{11 if big else 6}")
                r.skip(_pad4(nelems * _TYPE_SIZE[nc_type]))

        numrecs = count()
        streaming = numrecs == (0xFFFFFFFFFFFFFFFF if big else 0xFFFFFFFF)
        # dimensions
        tag, n = r.u32(), count()
        dims: list[int] = []
        if not (tag == 0 and n == 0):
            if tag != _NC_DIMENSION:
                raise BadInputError(f"{path}: malformed NetCDF header: dimension list tag "
                                    f"{tag:#x}; expected 0x0a or absent")
            for _ in range(n):
                name()
                dims.append(count())
        attrs()  # global attributes
        tag, n = r.u32(), count()
        fixed_end = 0
        rec_vars: list[tuple[int, int]] = []  # (begin, data bytes of one record)
        if not (tag == 0 and n == 0):
            if tag != _NC_VARIABLE:
                raise BadInputError(f"{path}: malformed NetCDF header: variable list tag "
                                    f"{tag:#x}; expected 0x0b or absent")
            for _ in range(n):
                vname = name()
                ndims = count()
                ids = [count() for _ in range(ndims)]
                attrs()
                nc_type = r.u32()
                count()  # vsize: recomputed from the dimensions (2**32 - 1 when too big)
                begin = offset()
                if nc_type not in _TYPE_SIZE or any(i >= len(dims) for i in ids):
                    raise BadInputError(f"{path}: malformed NetCDF header: variable {vname!r} "
                                        f"has type {nc_type} or dimension ids {ids} out of "
                                        "range")
                record = bool(ids) and dims[ids[0]] == 0
                nbytes = _TYPE_SIZE[nc_type]
                for i in ids[1:] if record else ids:
                    nbytes *= dims[i]
                if record:
                    rec_vars.append((begin, nbytes))
                else:
                    fixed_end = max(fixed_end, begin + nbytes)
        header_end = r.pos
    promised = max(header_end, fixed_end)
    if rec_vars and not streaming and numrecs > 0:
        if len(rec_vars) == 1:  # one record variable: its records are not padded
            recsize = rec_vars[0][1]
        else:
            recsize = sum(_pad4(nb) for _, nb in rec_vars)  # as netCDF-C computes it
        promised = max(promised, max(b + (numrecs - 1) * recsize + nb for b, nb in rec_vars))
    return promised, size


def _check_size(path: str | os.PathLike,
                sizer: Callable[[str | os.PathLike], tuple[int, int] | None], header: str,
                kind: str) -> None:
    """BadInputError when ``sizer(path)`` (``(promised, has)`` or None: not this format)
    says the file is short, or raises :class:`_Truncated` (``header`` itself is cut)."""
    try:
        got = sizer(path)
    except _Truncated:
        raise BadInputError(f"{path}: truncated: the {header} itself is cut short at "
                            f"{os.path.getsize(path)} bytes; expected a complete {kind} "
                            "file") from None
    if got is not None and got[1] < got[0]:
        raise BadInputError(f"{path}: truncated: header promises {got[0]} bytes, file has "
                            f"{got[1]}")


def check_netcdf_classic(path: str | os.PathLike) -> None:
    """Raise BadInputError when a NetCDF classic / 64-bit offset / CDF-5 file is shorter
    than its header promises (or its header is cut short); None otherwise, and for files of
    another format."""
    _check_size(path, netcdf_classic_size, "NetCDF header", "NetCDF")


def hdf5_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(end-of-file address the superblock records: absolute, a user block included, as the
    HDF5 library compares it; bytes the file has) of an HDF5 file, None when ``path`` is not
    HDF5 (no signature at 0, 512, 1024, ...) or its end-of-file address is undefined.
    Raises :class:`_Truncated` for a cut superblock."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        at = 0
        while at + 8 <= size:
            fh.seek(at)
            if fh.read(8) == HDF5_MAGIC:
                break
            at = 512 if at == 0 else at * 2
        else:
            return None
        fh.seek(at + 8)
        head = fh.read(64)
    if not head:
        raise _Truncated
    version = head[0]
    if version in (0, 1):
        if len(head) < 8:
            raise _Truncated
        o = head[5]  # size of offsets
        first = 16 if version == 0 else 20  # base address, after the B-tree K values
    elif version in (2, 3):
        if len(head) < 2:
            raise _Truncated
        o = head[1]
        first = 4
    else:
        return None  # a future superblock: leave it to the library
    if o not in (2, 4, 8):
        return None
    fmt = {2: "<H", 4: "<I", 8: "<Q"}[o]
    need = first + 3 * o  # base, (free space | extension), end of file
    if len(head) < need:
        raise _Truncated
    base = struct.unpack(fmt, head[first:first + o])[0]
    eof = struct.unpack(fmt, head[first + 2 * o:first + 3 * o])[0]
    undefined = (1 << (8 * o)) - 1
    if eof == undefined or base == undefined:
        return None
    return eof, size


def check_hdf5(path: str | os.PathLike) -> None:
    """Raise BadInputError when an HDF5 file (NetCDF4, vaspout.h5) is shorter than its
    superblock's end-of-file address (or its superblock is cut short); None otherwise, and
    for files that are not HDF5."""
    _check_size(path, hdf5_size, "HDF5 superblock", "HDF5")


def pp_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(bytes the Fortran record markers promise, bytes the file has) of a Met Office PP
    file (each field a 256-byte header record and a data record, each record framed by its
    length before and after it; big- or little-endian); None when ``path`` is not PP or its
    markers are not plain 32-bit ones (left to the reader)."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(4)
        if head not in PP_MAGIC:
            return None
        fmt = ">I" if head == PP_MAGIC[0] else "<I"
        pos = 0
        while pos < size:
            if pos + 4 > size:
                return pos + 4, size
            fh.seek(pos)
            n = struct.unpack(fmt, fh.read(4))[0]
            end = pos + 4 + n + 4
            if end > size:
                return end, size
            fh.seek(pos + 4 + n)
            if struct.unpack(fmt, fh.read(4))[0] != n:
                return None  # not the plain record layout: the reader decides
            pos = end
    return pos, size


def check_pp(path: str | os.PathLike) -> None:
    """Raise BadInputError when a PP file ends inside a record (its last field cut short);
    None otherwise, and for files that are not PP."""
    _check_size(path, pp_size, "PP record", "PP")


def check_file(path: str | os.PathLike) -> None:
    """The check of ``path``'s format, by its magic bytes (NetCDF classic, HDF5); nothing for
    other formats. A directory or a missing file is left to the caller."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(8)
    except (IsADirectoryError, FileNotFoundError):
        return
    except OSError as exc:
        raise BadInputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if magic[:4] in CLASSIC_MAGIC:
        check_netcdf_classic(path)
    elif magic[:4] in PP_MAGIC:
        check_pp(path)
    else:
        check_hdf5(path)
