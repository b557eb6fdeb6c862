"""Packed PP data in numpy: WGDOS (``LBPACK=1``) and run-length encoding (``LBPACK=4``).

iris unpacks these with ``mo_pack``, a C extension that is not on PyPI; without it iris
raises ``Unpacking PP fields with LBPACK of 1 requires mo_pack to be installed``.
:func:`install_mo_pack_shim` puts a module named ``mo_pack`` with this module's functions
where iris looks for it (only when the real one is not installed).

WGDOS, as the Unified Model writes it (UMDP F3 appendix B; the same layout as SHUMlib's
``f_shum_wgdos_packing`` and libmo_unpack read): big-endian 32-bit words,

* a field header of 3 words: total length in words (header included), accuracy ``a`` as a
  signed power of two, then columns (upper 16 bits) and rows (lower 16 bits);
* per row: the base value as a 32-bit **IBM** (hexadecimal) float, then one word whose upper
  16 bits are flags (128: zeros bitmap, 64: minimum-value bitmap, 32: missing-data bitmap)
  plus the bits per value (lower 5 bits, 0-31) and whose lower 16 bits count the words that
  follow for this row; then the bitmaps, one bit per column each, in the order missing,
  minimum, zeros (a zeros bitmap has 0 where the value is zero), together padded to a whole
  word; then the values not covered by a bitmap, ``n`` unsigned integers of that many bits
  each, packed MSB first and padded to a whole word. A value is ``base + n * 2**a``; a row
  with 0 bits per value is its base.

WGDOS records of files written little-endian (every 32-bit word byte-swapped, as some
post-processing tools write PP) are recognised by their header and read too.

RLE (UMDP F3): big-endian 32-bit floats where a run of missing-data values is stored as the
missing-data indicator followed by the run length (a float).

Decoding is vectorised in numpy (row headers are walked in Python, then the bitmaps and
values of blocks of rows are gathered at once: every value's bit offset is known from its
row's start and bit width), so a 1920 x 2560 field decodes in about 0.2 s. Damaged data
raises :class:`~core.errors.BadInputError` saying what is wrong (the shim puts the file,
STASH code and offset in front for fields iris unpacks).
"""

from __future__ import annotations

import math
import sys
import types
from typing import Any

import numpy as np

from core.errors import BadInputError

__all__ = ["decompress_wgdos", "decompress_rle", "compress_wgdos", "compress_rle",
           "install_mo_pack_shim"]

_MAX_BITS = 31  # 5 bits of bits-per-value
_FLAG_ZERO, _FLAG_MIN, _FLAG_MDI = 128, 64, 32
_DEFAULT_MDI = -1.0e30


def _fail(what: str, lbrow: int, lbnpt: int, field: str, kind: str = "WGDOS") -> BadInputError:
    name = f"{field}: " if field else ""
    return BadInputError(f"{name}damaged {kind}-packed PP field ({lbrow} x {lbnpt}): {what}")


# ============================================================================ IBM floats
def _ibm_to_float(words: np.ndarray) -> np.ndarray:
    """32-bit IBM hexadecimal floats (as uint32) -> float64, exactly."""
    w = words.astype(np.uint32)
    mant = (w & np.uint32(0x00FFFFFF)).astype(np.float64)
    expo = ((w >> np.uint32(24)) & np.uint32(0x7F)).astype(np.int64)
    value = np.ldexp(mant, (4 * (expo - 70)).astype(np.int32))
    return np.where((w >> np.uint32(31)) != 0, -value, value)


def _ibm_floor(v: float) -> tuple[int, float]:
    """The largest IBM float <= v: (its 32 bits, its value)."""
    if v == 0.0:
        return 0, 0.0
    neg = v < 0.0
    a = abs(v)
    e = -(-math.frexp(a)[1] // 4)  # 16**(e-1) <= a < 16**e
    if e + 64 < 0:  # below the IBM range (|v| < 16**-65; a float32 never is)
        return (0, 0.0) if not neg else ((1 << 31) | (1 << 20), -math.ldexp(1.0, -260))
    mant_f = math.ldexp(a, 24 - 4 * e)  # exact: a power-of-two scaling
    mant = math.ceil(mant_f) if neg else math.floor(mant_f)  # toward -inf
    if mant >= 1 << 24:  # rounded up to the next power of 16
        mant, e = 1 << 20, e + 1
    if not math.isfinite(v) or e + 64 > 127:
        raise OverflowError(f"{v!r} is beyond the IBM float range")
    bits = (int(neg) << 31) | ((e + 64) << 24) | mant
    return bits, float(_ibm_to_float(np.array([bits], np.uint32))[0])


# ============================================================================== WGDOS
def _words(data: Any) -> np.ndarray:
    raw = np.frombuffer(memoryview(data).cast("B"), dtype=np.uint8)
    return np.frombuffer(raw[: raw.size - raw.size % 4].tobytes(), dtype=">u4")


# long: one pass over the rows of a WGDOS record, its bit fields read in order
def decompress_wgdos(data: Any, lbrow: int, lbnpt: int, mdi: float = _DEFAULT_MDI, *,
                     field: str = "") -> np.ndarray:
    """Unpack a WGDOS-packed PP data record (bytes) -> float32 array of shape (lbrow, lbnpt).

    ``mdi`` fills the cells of the missing-data bitmap; ``field`` (e.g. the STASH code) is
    named in errors. The packed header must hold lbrow x lbnpt values (a different split of
    the same count is taken, as mo_pack does)."""
    lbrow, lbnpt = int(lbrow), int(lbnpt)
    words = _words(data)
    nbytes = len(memoryview(data).cast("B"))
    if words.size < 3:
        raise _fail(f"truncated: {nbytes} bytes, the field header alone needs 12", lbrow,
                    lbnpt, field)
    want = lbrow * lbnpt
    cols, rows = int(words[2] >> 16), int(words[2] & 0xFFFF)
    if cols * rows != want or cols == 0:
        swapped = words.byteswap().view(">u4")  # a little-endian file's word order
        c2, r2 = int(swapped[2] >> 16), int(swapped[2] & 0xFFFF)
        if c2 * r2 == want and c2 > 0:
            words, cols, rows = swapped, c2, r2
        else:
            raise _fail(f"its header says {rows} rows x {cols} columns, expected {lbrow} x "
                        f"{lbnpt} (LBROW x LBNPT)", lbrow, lbnpt, field)
    total = int(words[0])
    acc_pow = int(np.int32(np.uint32(words[1])))
    if total < 3 or total > words.size:
        what = ("truncated" if total > words.size else "bad length")
        raise _fail(f"{what}: the header declares {total} words ({4 * total} bytes), the data "
                    f"record holds {nbytes} bytes", lbrow, lbnpt, field)
    if not -128 <= acc_pow <= 127:
        raise _fail(f"accuracy 2**{acc_pow} is out of range (expected -128..127)", lbrow,
                    lbnpt, field)

    # Row headers: sequential (each row's length says where the next one starts).
    start = np.empty(rows, np.int64)
    nop = np.empty(rows, np.int64)
    hdr = np.empty(rows, np.int64)
    base_ibm = np.empty(rows, np.uint32)
    pos = 3
    for r in range(rows):
        if pos + 2 > total:
            raise _fail(f"truncated: row {r} of {rows} starts at word {pos}, past the end of "
                        f"the {total}-word packed data", lbrow, lbnpt, field)
        base_ibm[r] = words[pos]
        h = int(words[pos + 1])
        hdr[r], nop[r], start[r] = h >> 16, h & 0xFFFF, pos + 2
        pos += 2 + int(nop[r])
        if pos > total:
            raise _fail(f"row {r}: its {int(nop[r])} words run past the end of the "
                        f"{total}-word packed data (to word {pos})", lbrow, lbnpt, field)
    bad = np.flatnonzero(hdr & 0xFF00)
    if bad.size:
        r = int(bad[0])
        raise _fail(f"row {r}: bit width/flags 0x{int(hdr[r]):04x} is not valid (expected "
                    f"0-{_MAX_BITS} bits per value plus flags 32, 64, 128)", lbrow, lbnpt,
                    field)
    bpv = hdr & 31
    has = [(hdr & f) != 0 for f in (_FLAG_MDI, _FLAG_MIN, _FLAG_ZERO)]
    nmaps = has[0].astype(np.int64) + has[1] + has[2]
    map_words = (nmaps * cols + 31) // 32
    no_room = np.flatnonzero(map_words > nop)
    if no_room.size:
        r = int(no_room[0])
        raise _fail(f"row {r}: declares {int(nop[r])} words, its bitmaps alone need "
                    f"{int(map_words[r])}", lbrow, lbnpt, field)

    # A big-endian byte view of the words (bitmaps), and the words as uint64 padded so the
    # two-word gathers below stay in range (data).
    ctx = _Packed(words.astype(">u4").view(np.uint8), np.zeros(words.size + 2, np.uint64),
                  cols, math.ldexp(1.0, acc_pow), np.float32(mdi))
    ctx.wide[: words.size] = words
    ctx.broken_rows_ok = pos == total
    out = np.empty((rows, cols), np.float32)
    base = _ibm_to_float(base_ibm)
    huge = np.flatnonzero(~(np.abs(base) <= np.finfo(np.float32).max))
    if huge.size:
        r = int(huge[0])
        raise _fail(f"row {r}: base value {float(base[r]):.6g} (IBM 0x{int(base_ibm[r]):08x}) is "
                    "beyond the float32 range", lbrow, lbnpt, field)
    step = max(1, _BLOCK_CELLS // cols)  # rows per block: arrays that stay in cache
    for r0 in range(0, rows, step):
        sl = slice(r0, min(rows, r0 + step))
        why = ctx.block(out[sl], start[sl], nop[sl], bpv[sl], [h[sl] for h in has],
                        map_words[sl], base[sl], r0)
        if why:
            raise _fail(why, lbrow, lbnpt, field)
    return out.reshape(lbrow, lbnpt)


_BLOCK_CELLS = 1 << 16


class _Packed:
    """One WGDOS record being decoded, a block of rows at a time."""

    def __init__(self, byte_view: np.ndarray, wide: np.ndarray, cols: int, scale: float,
                 mdi: np.float32) -> None:
        self.byte_view, self.wide, self.cols, self.scale, self.mdi = (byte_view, wide, cols,
                                                                       scale, mdi)
        self.col_bits = np.arange(cols, dtype=np.int64)
        self.broken_rows_ok = False

    def bitmap(self, first_bit: np.ndarray) -> np.ndarray:
        """(rows, cols) bits starting at each row's ``first_bit`` (MSB first)."""
        bit = first_bit[:, None] + self.col_bits[None, :]
        return (self.byte_view[bit >> 3] >> (7 - (bit & 7)).astype(np.uint8)) & 1

    def block(self, out: np.ndarray, start: np.ndarray, nop: np.ndarray, bpv: np.ndarray,
              has: list[np.ndarray], map_words: np.ndarray, base: np.ndarray,
              r0: int) -> str:
        """Decode rows into ``out``; returns what is wrong with them, or ""."""
        nr, cols = out.shape
        missing = minimum = zero = None
        present: np.ndarray | None = None
        if any(h.any() for h in has):
            slot = np.zeros(nr, np.int64)
            special = np.zeros((nr, cols), bool)
            maps = []
            for flags, one_means in zip(has, (1, 1, 0), strict=True):  # missing, min, zero
                m = np.zeros((nr, cols), bool)
                rr = np.flatnonzero(flags)
                if rr.size:
                    m[rr] = self.bitmap(start[rr] * 32 + slot[rr] * cols) == one_means
                    slot[rr] += 1
                    special |= m
                maps.append(m)
            missing, minimum, zero = maps
            present = ~special
            ndata = present.sum(axis=1, dtype=np.int64)
        else:
            ndata = np.full(nr, cols, np.int64)
        need = map_words + (ndata * bpv + 31) // 32
        short = np.flatnonzero(need > nop)
        if short.size:
            # Rows a word or so short of their values are a known UM packing error (libmo_unpack
            # reads them as "broken rows"): the values that fit are read, the rest are missing.
            # Allowed only when the rows chain to the declared total length, so a damaged row
            # length cannot pass for one.
            r = int(short[0])
            if not self.broken_rows_ok:
                return (f"row {r0 + r}: declares {int(nop[r])} words but its bitmaps and "
                        f"{int(ndata[r])} values at {int(bpv[r])} bits need {int(need[r])}")
            if present is None:
                present = np.ones((nr, cols), bool)
                missing = np.zeros((nr, cols), bool)
            assert missing is not None
            fit = (nop[short] - map_words[short]) * 32 // np.maximum(bpv[short], 1)
            lost = present[short] & (np.cumsum(present[short], axis=1) > fit[:, None])
            missing[short] |= lost
            present[short] &= ~lost
        # The k-th value of row r (k counting cells no bitmap covers) starts at bit
        # (row data start) * 32 + k * bpv[r]; bitmapped cells read a harmless value.
        if present is None:
            k = np.broadcast_to(self.col_bits, (nr, cols))
        else:
            k = np.cumsum(present, axis=1, dtype=np.int64) - 1
            np.maximum(k, 0, out=k)
        bitpos = ((start + map_words) * 32)[:, None] + k * bpv[:, None]
        w = bitpos >> 5
        pair = (self.wide[w] << np.uint64(32)) | self.wide[w + 1]
        bits = bpv.astype(np.uint64)[:, None]
        shift = (np.uint64(64) - (bitpos & 31).astype(np.uint64) - bits) & np.uint64(63)
        n = (pair >> shift) & ((np.uint64(1) << bits) - np.uint64(1))
        with np.errstate(over="ignore"):  # beyond float32: inf, as the C decoders give
            np.add(base[:, None], n * self.scale, out=out, casting="unsafe")
        if minimum is not None and minimum.any():  # minimum-value bitmap: the base
            out[minimum] = np.broadcast_to(base[:, None], out.shape)[minimum]
        if zero is not None:
            out[zero] = 0.0
        if missing is not None:
            out[missing] = self.mdi
        return ""


def compress_wgdos(array: Any, accuracy_bits: float = -6, mdi: float = _DEFAULT_MDI) -> bytes:
    """Pack a 2-D array with WGDOS at accuracy ``2**accuracy_bits`` -> the data record bytes.

    Every value comes back within ``2**(accuracy_bits - 1)`` (plus float32 rounding); cells
    equal to ``mdi`` (or NaN) go into a missing-data bitmap, values that round to zero into a
    zeros bitmap when that is smaller. Values too spread out for 31 bits at that accuracy, or
    infinite, raise BadInputError."""
    a = np.asarray(array, dtype=np.float64)
    if a.ndim != 2:
        raise BadInputError(f"WGDOS packing needs a 2-D field, got shape {a.shape}")
    rows, cols = a.shape
    if not (0 < rows < 1 << 16 and 0 < cols < 1 << 16):
        raise BadInputError(f"WGDOS packing: {rows} x {cols} does not fit 16-bit counts")
    acc_pow = int(round(float(accuracy_bits)))
    if not -128 <= acc_pow <= 127:
        raise BadInputError(f"WGDOS accuracy 2**{acc_pow} is out of range (-128..127)")
    acc = math.ldexp(1.0, acc_pow)
    mdi32 = float(np.float32(mdi))
    body: list[bytes] = []
    for r in range(rows):
        x = a[r]
        miss = (x == mdi32) | np.isnan(x)
        if np.isinf(x[~miss]).any():
            raise BadInputError(f"WGDOS packing: row {r} holds an infinite value")
        valid = ~miss
        candidates = [(np.zeros(cols, bool), valid)]
        scaled = np.rint(x / acc)
        zeros = valid & (scaled == 0)
        if zeros.any():
            candidates.append((zeros, valid & ~zeros))
        best: tuple[int, bytes] | None = None
        for zmap, keep in candidates:
            vals = x[keep]
            if vals.size:
                lo = float(np.min(scaled[keep])) * acc
                try:
                    ibm, b = _ibm_floor(lo)  # on the 2**a grid, when IBM holds it
                except OverflowError as exc:
                    raise BadInputError(f"WGDOS packing: row {r}: {exc}") from exc
                n = np.maximum(np.rint((vals - b) / acc), 0.0)
                top = float(n.max())
                if top >= 2.0 ** _MAX_BITS:
                    raise BadInputError(
                        f"WGDOS packing: row {r} spans {float(vals.min())!r}..{float(vals.max())!r}"
                        f", more than {_MAX_BITS} bits at accuracy 2**{acc_pow}")
                nbits = int(top).bit_length()
            else:
                ibm, n, nbits = 0, np.zeros(0), 0
            # bitmaps: 1 = missing; the zeros bitmap inverted (0 = zero); padded with 1s
            maps = ([miss] if miss.any() else []) + ([~zmap] if zmap.any() else [])
            flags = (_FLAG_MDI if miss.any() else 0) | (_FLAG_ZERO if zmap.any() else 0)
            if maps:
                mbits = np.concatenate(maps)
                mbits = np.concatenate([mbits, np.ones((-mbits.size) % 32, bool)])
                map_bytes = np.packbits(mbits).tobytes()
            else:
                map_bytes = b""
            if nbits:
                ints = n.astype(np.uint64)
                shifts = np.arange(nbits - 1, -1, -1, dtype=np.uint64)
                dbits = ((ints[:, None] >> shifts[None, :]) & np.uint64(1)).astype(bool).ravel()
                dbits = np.concatenate([dbits, np.zeros((-dbits.size) % 32, bool)])
                data_bytes = np.packbits(dbits).tobytes()
            else:
                data_bytes = b""
            nwords = (len(map_bytes) + len(data_bytes)) // 4
            if nwords >= 1 << 16:
                raise BadInputError(f"WGDOS packing: row {r} needs {nwords} words (max 65535)")
            row = (np.array([ibm, ((flags | nbits) << 16) | nwords], ">u4").tobytes()
                   + map_bytes + data_bytes)
            if best is None or len(row) < best[0]:
                best = (len(row), row)
        assert best is not None
        body.append(best[1])
    total = 3 + sum(len(b) for b in body) // 4
    head = np.array([total, acc_pow & 0xFFFFFFFF, (cols << 16) | rows], ">u4").tobytes()
    return head + b"".join(body)


# ================================================================================ RLE
def _rle_decode(thin: np.ndarray, mdi32: np.float32, want: int) -> tuple[np.ndarray | None, str]:
    marks = np.flatnonzero(thin == mdi32).tolist()
    kept: list[int] = []
    next_free = 0
    for p in marks:  # the word after a marker is its count, even when it equals the MDI
        if p >= next_free:
            kept.append(p)
            next_free = p + 2
    if kept and kept[-1] + 1 >= thin.size:
        return None, (f"truncated: the missing-data run at word {kept[-1]} has no count "
                      f"({thin.size} words)")
    idx = np.asarray(kept, np.int64)
    counts = thin[idx + 1].astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(counts) | (counts < 1) | (counts > want)
                         | (counts != np.floor(counts)))
    if bad.size:
        i = int(bad[0])
        return None, (f"run length {float(counts[i])!r} at word {int(idx[i]) + 1} is not a "
                      "positive whole number")
    lengths = np.ones(thin.size, np.int64)
    lengths[idx] = counts.astype(np.int64)
    lengths[idx + 1] = 0
    total = int(lengths.sum())
    if total != want:
        return None, (f"decodes to {total} values, expected {want} "
                      f"({'truncated' if total < want else 'too many values'})")
    values = thin.astype(np.float32)
    values[idx] = mdi32
    return np.repeat(values, lengths), ""


def decompress_rle(data: Any, lbrow: int, lbnpt: int, mdi: float = _DEFAULT_MDI, *,
                   field: str = "") -> np.ndarray:
    """Expand a run-length-encoded PP data record -> float32 array of shape (lbrow, lbnpt)."""
    lbrow, lbnpt = int(lbrow), int(lbnpt)
    raw = memoryview(data).cast("B")
    if len(raw) % 4:
        raise _fail(f"{len(raw)} bytes is not a whole number of 32-bit words", lbrow, lbnpt,
                    field, "RLE")
    out, why = _rle_decode(np.frombuffer(raw, dtype=">f4"), np.float32(mdi), lbrow * lbnpt)
    if out is None:
        raise _fail(why, lbrow, lbnpt, field, "RLE")
    return out.reshape(lbrow, lbnpt)


def compress_rle(array: Any, mdi: float = _DEFAULT_MDI) -> bytes:
    """Run-length encode the missing-data runs of ``array`` -> big-endian float32 bytes."""
    flat = np.asarray(array, dtype=np.float32).ravel()
    mdi32 = np.float32(mdi)
    is_m = flat == mdi32
    edges = np.flatnonzero(np.diff(np.concatenate([[False], is_m, [False]]).astype(np.int8)))
    pieces: list[np.ndarray] = []
    prev = 0
    for s, e in zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True):
        pieces.append(flat[prev:s])
        pieces.append(np.array([mdi32, e - s], np.float32))
        prev = e
    pieces.append(flat[prev:])
    return np.concatenate(pieces).astype(">f4").tobytes()


# ============================================================================ the shim
def _shim_module() -> types.ModuleType:
    mod = types.ModuleType("mo_pack", "vizpipe's numpy stand-in for mo_pack "
                                      "(climate_pipeline.readers.wgdos)")

    def decompress_wgdos_(packed_data_buffer: Any, nrows: int, ncols: int,
                          missing_data_indicator: float = _DEFAULT_MDI) -> np.ndarray:
        return decompress_wgdos(packed_data_buffer, nrows, ncols, missing_data_indicator)

    def decompress_rle_(packed_data_buffer: Any, nrows: int, ncols: int,
                        missing_data_indicator: float = _DEFAULT_MDI) -> np.ndarray:
        return decompress_rle(packed_data_buffer, nrows, ncols, missing_data_indicator)

    def compress_wgdos_(unpacked_data: Any, accuracy: float = -6,
                        missing_data_indicator: float = _DEFAULT_MDI) -> bytes:
        return compress_wgdos(unpacked_data, accuracy, missing_data_indicator)

    def compress_rle_(unpacked_data: Any,
                      missing_data_indicator: float = _DEFAULT_MDI) -> bytes:
        return compress_rle(unpacked_data, missing_data_indicator)

    for name, fn in (("decompress_wgdos", decompress_wgdos_), ("decompress_rle", decompress_rle_),
                     ("compress_wgdos", compress_wgdos_), ("compress_rle", compress_rle_)):
        fn.__name__ = fn.__qualname__ = name
        fn.__module__ = "mo_pack"
        setattr(mod, name, fn)
    mod.__dict__["VIZPIPE_SHIM"] = True
    return mod


def install_mo_pack_shim() -> Any:
    """Make iris unpack WGDOS/RLE PP fields without mo_pack; returns the module iris uses.

    The real ``mo_pack``, when importable, is left alone. Otherwise a module named
    ``mo_pack`` with this module's functions goes into ``sys.modules`` (for an
    ``iris.fileformats.pp`` imported later) and into ``iris.fileformats.pp`` itself (iris
    imports mo_pack when pp is imported, but looks it up when it unpacks, so setting it after
    import works too), and iris's lazy unpacking names the file and field in our errors.
    Idempotent and cheap."""
    mod = sys.modules.get("mo_pack")
    if mod is None:
        try:
            import mo_pack as mod  # type: ignore[import-not-found,no-redef]
        except ImportError:
            mod = _shim_module()
            sys.modules["mo_pack"] = mod
    try:
        import iris.fileformats.pp as pp  # imports mo_pack, the one in sys.modules now
    except ImportError:  # no iris: nothing to do but the module above
        return mod
    if getattr(pp, "mo_pack", None) is None:
        setattr(pp, "mo_pack", mod)  # noqa: B010  (iris reads it when it unpacks)
    if getattr(mod, "VIZPIPE_SHIM", False):
        _name_the_field_in_errors(pp)
    return mod


def _name_the_field_in_errors(pp: Any) -> None:
    """iris unpacks lazily (``PPDataProxy.__getitem__``, when the data is computed), where no
    caller knows the file: our errors from there get the file, the field's STASH code and its
    byte offset put in front."""
    proxy = getattr(pp, "PPDataProxy", None)
    if proxy is None or getattr(proxy.__getitem__, "_vizpipe_names_field", False):
        return
    original = proxy.__getitem__

    def __getitem__(self: Any, keys: Any) -> Any:
        try:
            return original(self, keys)
        except BadInputError as exc:
            path, offset = getattr(self, "path", "?"), getattr(self, "offset", None)
            raise BadInputError(f"{path}: {_field_label(path, offset)}{exc}") from exc

    __getitem__._vizpipe_names_field = True  # type: ignore[attr-defined]
    proxy.__getitem__ = __getitem__


def _field_label(path: Any, offset: Any) -> str:
    """"field STASH m01s30i201 at byte 268: " from the PP header before the data record
    (a PP file's Fortran records; a fields file has none there: then the offset alone)."""
    if not isinstance(offset, int):
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(offset - 268)
            blob = fh.read(268)
        for end in (">", "<"):
            if (len(blob) == 268 and np.frombuffer(blob[:4], end + "i4")[0] == 256
                    and np.frombuffer(blob[260:264], end + "i4")[0] == 256):
                lb = np.frombuffer(blob[4:184], end + "i4")
                stash, model = int(lb[41]), int(lb[44])
                if stash > 0:
                    return (f"field STASH m{model:02d}s{stash // 1000:02d}i{stash % 1000:03d}"
                            f" at byte {offset}: ")
    except (OSError, ValueError):
        pass
    return f"field at byte {offset}: "
