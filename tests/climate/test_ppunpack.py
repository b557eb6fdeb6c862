"""climate_pipeline.readers.wgdos: WGDOS (LBPACK=1) and RLE (LBPACK=4) packed PP data without
mo_pack, and iris reading such files through :func:`install_mo_pack_shim` (issue #17).

Independent references:

* a WGDOS record written here word by word from the layout of UMDP F3 appendix B (as SHUMlib's
  ``f_shum_wgdos_packing`` and libmo_unpack read it), with all three bitmaps (missing,
  minimum, zeros), which our packer never writes;
* ``tests/data/real/climate/wgdos_packed.pp``: a real UM PP file, WGDOS-packed and written
  little-endian, shipped unmodified in the cf-python 3.21.0 sdist (``cf/test/``, also cfdm
  1.13.3.0's ``cfdm/test/``), MIT licence (NCAS CMS). Its decoding is checked against the
  xconv-lineage C decoder of the ``umfive`` 0.4.0 wheel (``umfive._wgdos.unwgdos``, MIT): the
  digest below is of that decoder's output, recorded once (umfive needs numpy >= 2, so it is
  not a test dependency here), and against the mean cf-python's and cfdm's own tests assert
  for this file (3.8080420658506196). Row 10 of the file is one word short of its 149 values
  (a known UM packing error): we mark its last value missing, where the C decoder reads it
  from the next row's header (-6.720703125); with that value put back the means agree exactly.
"""

from __future__ import annotations

import hashlib
import math
import struct
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from climate_pipeline.readers.wgdos import (
    compress_rle,
    compress_wgdos,
    decompress_rle,
    decompress_wgdos,
    install_mo_pack_shim,
)
from core.errors import BadInputError

REAL = Path(__file__).resolve().parent.parent / "data" / "real" / "climate" / "wgdos_packed.pp"
MDI = -1.0e30
MDI32 = np.float32(MDI)


# ----------------------------------------------------------------------------- helpers
def _records(path: Path) -> list[tuple[list[int], list[float], bytes]]:
    """(LB* integers, B* reals, data record) of each field of a PP file, big- or
    little-endian (plain struct: not iris, not ours)."""
    raw = path.read_bytes()
    end = ">" if struct.unpack(">i", raw[:4])[0] == 256 else "<"
    out, pos = [], 0
    while pos < len(raw):
        assert struct.unpack(end + "i", raw[pos:pos + 4])[0] == 256
        lb = list(struct.unpack(end + "45i", raw[pos + 4:pos + 184]))
        b = list(struct.unpack(end + "19f", raw[pos + 184:pos + 260]))
        (n,) = struct.unpack(end + "i", raw[pos + 264:pos + 268])
        out.append((lb, b, raw[pos + 268:pos + 268 + n]))
        pos += 268 + n + 4
    return out


def _write_pp(path: Path, lb: list[int], b: list[float], payload: bytes) -> None:
    """One big-endian PP field: header record, data record (Fortran record markers)."""
    hdr = struct.pack(">45i", *lb) + struct.pack(">19f", *b)
    n = len(payload)
    path.write_bytes(struct.pack(">i", 256) + hdr + struct.pack(">i", 256)
                     + struct.pack(">i", n) + payload + struct.pack(">i", n))


def _iris_template(path: Path, ny: int = 24, nx: int = 36) -> None:
    """An unpacked PP file of a global field written by iris (STASH m01s00i024)."""
    import iris
    import iris.coord_systems
    import iris.coords
    import iris.cube
    from iris.fileformats.pp import STASH

    cs = iris.coord_systems.GeogCS(6371229.0)
    lat = np.linspace(-86.25, 86.25, ny)
    cube = iris.cube.Cube(np.zeros((ny, nx), np.float32), standard_name="surface_temperature",
                          units="K", attributes={"STASH": STASH(1, 0, 24)})
    cube.add_aux_coord(iris.coords.DimCoord(0.0, standard_name="time",
                                            units="hours since 2000-01-01 00:00:00"))
    cube.add_dim_coord(iris.coords.DimCoord(lat, standard_name="latitude", units="degrees",
                                            coord_system=cs), 0)
    cube.add_dim_coord(iris.coords.DimCoord(np.arange(nx) * 360.0 / nx,
                                            standard_name="longitude", units="degrees",
                                            coord_system=cs, circular=True), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iris.save(cube, str(path))


def _packed_pp(tmp_path: Path, field: np.ndarray, name: str, *, acc: int = -8,
               lbpack: int = 1, cut: int | None = None) -> Path:
    """iris's unpacked PP of ``field``'s grid, its data record replaced by ``field`` packed
    with our packer (LBPACK, BACC, LBLREC and the record length set to match); ``cut``: the
    packed bytes truncated to that many (LBLREC still consistent: a damaged packed field,
    not a damaged file)."""
    template = tmp_path / "template.pp"
    if not template.exists():
        _iris_template(template, *field.shape)
    ((lb, b, _),) = _records(template)
    payload = compress_wgdos(field, acc, b[17]) if lbpack == 1 else compress_rle(field, b[17])
    if cut is not None:
        payload = payload[:cut]
    lb[20], lb[14] = lbpack, len(payload) // 4
    b[5] = float(acc)
    out = tmp_path / name
    _write_pp(out, lb, b, payload)
    return out


def _field(seed: int, shape=(24, 36), mdi: float = MDI) -> np.ndarray:
    """Smooth-plus-noise temperatures with missing cells, a zero row, a constant row, an
    all-missing row and a row with many zeros (the bitmaps and 0-bit rows)."""
    rng = np.random.default_rng(seed)
    ny, nx = shape
    a = 250.0 + 40.0 * np.cos(np.linspace(-1.5, 1.5, ny))[:, None] + rng.normal(0, 3, shape)
    a[rng.random(shape) < 0.1] = mdi
    a[1] = 0.0
    a[2] = 3.5
    a[3] = mdi
    a[4, ::3] = 0.0
    a[5] -= 400.0  # negative bases
    return a.astype(np.float32)


def _check_round_trip(a: np.ndarray, acc: int, mdi: float = MDI) -> np.ndarray:
    got = decompress_wgdos(compress_wgdos(a, acc, mdi), a.shape[0], a.shape[1], mdi)
    assert got.dtype == np.float32 and got.shape == a.shape
    miss = a == np.float32(mdi)
    assert (got[miss] == np.float32(mdi)).all()
    # half a step of 2**acc, plus the float32 rounding of the decoded value
    bound = 2.0 ** (acc - 1) + np.spacing(np.abs(a[~miss]).astype(np.float32))
    err = np.abs(got[~miss].astype(np.float64) - a[~miss])
    assert (err <= bound).all(), f"max error {err.max()} at accuracy 2**{acc}"
    return got


# ------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("acc", [-12, -6, -2, 0, 3])
def test_round_trip_within_half_the_accuracy(acc):
    a = _field(acc + 20)
    got = _check_round_trip(a, acc)
    assert (got[1] == 0.0).all() and (got[3] == MDI32).all()
    if acc <= -1:
        assert (got[2] == 3.5).all()  # on the 2**acc grid: exact


@given(st.integers(1, 9), st.integers(2, 40), st.integers(-20, 6), st.integers(0, 2**32 - 1),
       st.floats(1e-3, 1e5), st.floats(0.0, 0.6))
def test_round_trip_property(ny, nx, acc, seed, scale, missing):
    rng = np.random.default_rng(seed)
    a = (rng.standard_normal((ny, nx)) * scale).astype(np.float32)
    a[rng.random((ny, nx)) < missing] = MDI32
    a[rng.random((ny, nx)) < 0.1] = 0.0
    v = a[a != MDI32].astype(np.float64)
    steps = float(v.max() - v.min()) / 2.0**acc if v.size else 0.0
    try:
        compress_wgdos(a, acc, MDI)
    except BadInputError as exc:
        assert "more than 31 bits" in str(exc) and steps > 2**31 - 2
    else:
        assert steps < 2**31 + 1
        _check_round_trip(a, acc)


def test_wide_rows_use_31_bits_and_wider_ones_are_refused():
    a = np.array([[0.0, 1.0, 2.0**31 - 128]], np.float32).repeat(2, 0)
    a[1] = [5.0, 5.0, 5.0]  # a constant row: 0 bits, the base alone
    packed = compress_wgdos(a, 0, MDI)
    assert (struct.unpack(">I", packed[16:20])[0] >> 16) & 31 == 31
    np.testing.assert_array_equal(decompress_wgdos(packed, 2, 3, MDI), a)
    with pytest.raises(BadInputError, match="more than 31 bits at accuracy 2\\*\\*0"):
        compress_wgdos(np.array([[0.0, 2.0**32]], np.float32), 0, MDI)


def test_other_mdi_and_nan_cells():
    a = _field(3, (6, 10), mdi=-32768.0)
    _check_round_trip(a, -4, mdi=-32768.0)
    b = np.array([[1.0, np.nan, 3.0]], np.float32)
    np.testing.assert_array_equal(decompress_wgdos(compress_wgdos(b, -4, MDI), 1, 3, MDI),
                                  [[1.0, MDI32, 3.0]])


def test_same_count_other_shape_as_mo_pack():
    a = np.arange(24, dtype=np.float32).reshape(8, 3)
    np.testing.assert_array_equal(decompress_wgdos(compress_wgdos(a, -1, MDI), 4, 6, MDI),
                                  a.reshape(4, 6))


@pytest.mark.parametrize("mdi", [MDI, -1073741824.0])
def test_rle_round_trip(mdi):
    a = _field(7, (12, 20), mdi=mdi)
    a[-1, -4:] = np.float32(mdi)  # a run at the very end
    a[0, 0] = np.float32(mdi)  # and at the start
    packed = compress_rle(a, mdi)
    assert len(packed) < a.nbytes
    np.testing.assert_array_equal(decompress_rle(packed, 12, 20, mdi), a)
    # a run of exactly mdi cells: its count equals the MDI only if mdi is a count; here a
    # count that looks like the marker is read as a count, as UMDP F3 has it
    b = np.array([[7.0, 2.0, 2.0, 9.0]], np.float32)
    np.testing.assert_array_equal(decompress_rle(compress_rle(b, 2.0), 1, 4, 2.0), b)


# ------------------------------------------------------------------ the spec, by hand
def _ibm(x: float) -> int:
    """The classic examples of IBM hexadecimal floats (exact values)."""
    return {1.0: 0x41100000, -118.625: 0xC276A000, 100.0: 0x42640000}[x]


def _hand_record() -> tuple[bytes, np.ndarray]:
    """2 rows x 5 columns at accuracy 2**-2, written word by word from UMDP F3.

    Row 0: base 1.0, 3 bits per value, no bitmaps: n = 0, 1, 2, 7, 5.
    Row 1: base -118.625, 2 bits per value, all three bitmaps (flags 32 + 64 + 128): missing
    10000, minimum 01000, zeros 11101 (0 = zero), 15 bits padded with ones to a word; the
    two remaining cells (columns 2, 4) n = 3, 1."""
    row0 = [_ibm(1.0), (3 << 16) | 1, int("000001010111101".ljust(32, "0"), 2)]
    bitmaps = int(("10000" "01000" "11101").ljust(32, "1"), 2)
    row1 = [_ibm(-118.625), ((128 + 64 + 32 + 2) << 16) | 2, bitmaps,
            int("1101".ljust(32, "0"), 2)]
    words = [3 + len(row0) + len(row1), (-2) & 0xFFFFFFFF, (5 << 16) | 2, *row0, *row1]
    want = np.array([[1.0, 1.25, 1.5, 2.75, 2.25],
                     [MDI, -118.625, -117.875, 0.0, -118.375]], np.float32)
    return struct.pack(f">{len(words)}I", *words), want


def test_hand_written_record_with_every_bitmap():
    data, want = _hand_record()
    np.testing.assert_array_equal(decompress_wgdos(data, 2, 5, MDI), want)
    swapped = struct.pack(f"<{len(data) // 4}I", *struct.unpack(f">{len(data) // 4}I", data))
    np.testing.assert_array_equal(decompress_wgdos(swapped, 2, 5, MDI), want)  # little-endian


def test_row_a_word_short_is_read_as_a_broken_row():
    """A row one word short of its values (a UM packing error libmo_unpack calls a "broken
    row") whose rows still chain to the declared length: the values that fit are read, the
    rest are missing. A row 9 bits wide keeps 3 of its 5 values in its 1 word."""
    data, want = _hand_record()
    bits = int("000000001000000010000000111".ljust(32, "0"), 2)  # 1, 2, 7 at 9 bits
    got = decompress_wgdos(_corrupt(_corrupt(data, 4, (9 << 16) | 1), 5, bits), 2, 5, MDI)
    np.testing.assert_array_equal(got[0], np.float32([1.25, 1.5, 2.75, MDI, MDI]))
    np.testing.assert_array_equal(got[1], want[1])


def _corrupt(data: bytes, word: int, value: int) -> bytes:
    w = list(struct.unpack(f">{len(data) // 4}I", data))
    w[word] = value
    return struct.pack(f">{len(w)}I", *w)


@pytest.mark.parametrize("damage, message", [
    (lambda d: d[:20], r"truncated: the header declares 10 words \(40 bytes\), the data "
                       r"record holds 20 bytes"),
    (lambda d: d[:8], "truncated: 8 bytes, the field header alone needs 12"),
    (lambda d: _corrupt(d, 4, (0x0103 << 16) | 1), r"row 0: bit width/flags 0x0103 is not "
                                                   r"valid"),
    (lambda d: _corrupt(d, 4, (3 << 16) | 900), "row 0: its 900 words run past the end"),
    (lambda d: _corrupt(d, 2, (6 << 16) | 2), "header says 2 rows x 6 columns, expected 2 x 5"),
    (lambda d: _corrupt(_corrupt(d + bytes(4), 4, (9 << 16) | 1), 0, 11),
     "row 0: declares 1 words but its bitmaps and 5 values at 9 bits need 2"),
    (lambda d: _corrupt(d, 0, 2), "bad length: the header declares 2 words"),
    (lambda d: _corrupt(_corrupt(d[:-8], 7, ((128 + 64 + 32 + 2) << 16) | 0), 0, 8),
     "row 1: declares 0 words, its bitmaps alone need 1"),
])
def test_damaged_records_say_what_is_wrong(damage, message):
    data, _ = _hand_record()
    with pytest.raises(BadInputError, match=message) as err:
        decompress_wgdos(damage(data), 2, 5, MDI, field="m01s00i024")
    assert str(err.value).startswith("m01s00i024: damaged WGDOS-packed PP field (2 x 5)")


@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 7)), min_size=1, max_size=4),
       st.integers(0, 10**6), st.booleans())
def test_any_damage_decodes_or_is_a_bad_input_error(flips, cut, rle):
    """Flipped bits and truncation anywhere: a field of the right shape, or BadInputError
    (never an IndexError, an overflow warning or a crash)."""
    a = _field(9, (9, 14))
    data = bytearray(compress_rle(a, MDI) if rle else compress_wgdos(a, -6, MDI))
    for at, bit in flips:
        data[at % len(data)] ^= 1 << bit
    data = data[: max(0, len(data) - cut % 64)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            got = (decompress_rle if rle else decompress_wgdos)(bytes(data), 9, 14, MDI)
        except BadInputError:
            return
    assert got.shape == (9, 14) and got.dtype == np.float32


@pytest.mark.parametrize("thin, message", [
    ([1.0, MDI], "truncated: the missing-data run at word 1 has no count"),
    ([1.0, MDI, 0.5, 2.0], "run length 0.5 at word 2 is not a positive whole number"),
    ([1.0, MDI, 2.0], r"decodes to 3 values, expected 4 \(truncated\)"),
    ([1.0, 2.0, 3.0, 4.0, 5.0], r"decodes to 5 values, expected 4 \(too many values\)"),
])
def test_damaged_rle_says_what_is_wrong(thin, message):
    with pytest.raises(BadInputError, match=message):
        decompress_rle(np.array(thin, ">f4").tobytes(), 2, 2, MDI)
    with pytest.raises(BadInputError, match="not a whole number of 32-bit words"):
        decompress_rle(b"\x00" * 7, 2, 2, MDI)


# -------------------------------------------------------------------- the real UM file
#: sha256 of the field as umfive 0.4.0's C decoder unpacks it (float32, little-endian
#: bytes), with the broken row's last cell [10, 191] set to the missing-data value
UMFIVE_DIGEST = "1ed3a64f985f4a8778472dc668bb38445ed480e908a4d66c64d8352d5bcc7fa8"
CF_MEAN = 3.8080420658506196  # cf-python's and cfdm's test_PP_WGDOS_UNPACKING


def test_real_um_file_equals_an_independent_decoder():
    assert hashlib.sha256(REAL.read_bytes()).hexdigest().startswith("d34064f2a68d")
    ((lb, b, data),) = _records(REAL)
    assert (lb[20], lb[17], lb[18], lb[41], b[5]) == (1, 145, 192, 30201, -12.0)
    got = decompress_wgdos(data, lb[17], lb[18], b[17])
    assert got.shape == (145, 192) and got.dtype == np.float32
    assert np.argwhere(got == np.float32(b[17])).tolist() == [[10, 191]]  # the broken row
    assert hashlib.sha256(got.astype("<f4").tobytes()).hexdigest() == UMFIVE_DIGEST
    xconv = got.copy()
    xconv[10, 191] = -6.720703125
    assert float(xconv.mean(dtype=np.float64)) == pytest.approx(CF_MEAN, rel=1e-13)
    np.testing.assert_array_equal(got[0, :4], np.float32([-3.0783691, -3.1230469,
                                                           -3.1643066, -3.2021484]))


def test_decode_speed_of_a_um_sized_field():
    """A 1920 x 2560 field (N1280-like) with a missing-data bitmap in every row decodes in
    well under a second (about 0.2 s on the project's 2 cores); 3 s is the bound that fails
    only for a per-value Python loop."""
    rng = np.random.default_rng(0)
    a = (np.cumsum(rng.standard_normal((1920, 2560)), axis=1) + 280.0).astype(np.float32)
    a[:, 100:400] = MDI32
    packed = compress_wgdos(a, -10, MDI)
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        got = decompress_wgdos(packed, 1920, 2560, MDI)
        best = min(best, time.perf_counter() - t)
    keep = a != MDI32
    assert np.abs(got[keep].astype(np.float64) - a[keep]).max() <= 2.0 ** -11 + 2.0 ** -15
    assert best < 3.0, f"{best:.2f} s"


# ------------------------------------------------------------------------------- iris
def test_iris_reads_wgdos_and_rle_fields_with_the_shim(tmp_path):
    import iris

    mod = install_mo_pack_shim()
    assert sys.modules["mo_pack"] is mod and install_mo_pack_shim() is mod
    import iris.fileformats.pp as pp

    assert pp.mo_pack is mod
    a = _field(11)
    for lbpack, name in ((1, "w.pp"), (4, "r.pp")):
        path = _packed_pp(tmp_path, a, name, lbpack=lbpack)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            cube = iris.load_cube(str(path))
        data = np.ma.filled(cube.data, MDI32)
        want = decompress_wgdos(_records(path)[0][2], 24, 36, MDI) if lbpack == 1 else a
        np.testing.assert_array_equal(data, want)
        assert cube.data.mask.sum() == (a == MDI32).sum()


def _cli(path: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "climate_pipeline", str(path), "--out",
                           str(out), "--no-render", "--engine", "serial", "--coastlines",
                           "110m"], capture_output=True, text=True, timeout=600)


def _layer_values(out: Path) -> np.ndarray:
    """Frame 0's layer ``value`` primvar from its USD alternate, read with pxr."""
    from pxr import Usd, UsdGeom

    from core.manifest import read_manifest

    (a,) = [a for a in read_manifest(out)["frames"][0]["assets"] if a["name"] == "layer"]
    (usd,) = [r for r in a["alternates"] if r.endswith(".usdc")]
    stage = Usd.Stage.Open(str(out / usd))
    (mesh,) = [UsdGeom.Mesh(x) for x in Usd.PrimRange(stage.GetDefaultPrim())
               if x.IsA(UsdGeom.Mesh)]
    return np.asarray(UsdGeom.PrimvarsAPI(mesh).GetPrimvar("value").Get(), np.float32)


@pytest.mark.parametrize("which", ["written here", "real UM file"])
def test_command_converts_wgdos_packed_pp(tmp_path, which):
    if which == "written here":
        path = _packed_pp(tmp_path, _field(5), "packed.pp")
    else:
        path = REAL
    ((lb, b, data),) = _records(path)
    want = decompress_wgdos(data, lb[17], lb[18], b[17])
    want = np.sort(want[want != np.float32(b[17])])
    res = _cli(path, tmp_path / "run")
    assert res.returncode == 0, res.stderr
    got = _layer_values(tmp_path / "run")
    got = np.sort(got[np.isfinite(got)])
    np.testing.assert_array_equal(got, want)  # every unpacked value, once, exactly


def test_truncated_packed_field_is_one_error_line(tmp_path):
    path = _packed_pp(tmp_path, _field(6), "cut.pp", cut=400)
    res = _cli(path, tmp_path / "run")
    assert res.returncode != 0
    assert "Traceback" not in res.stderr
    errors = [x for x in res.stderr.splitlines() if x.startswith("error:")]
    assert len(errors) == 1, res.stderr
    assert str(path) in errors[0] and "STASH m01s00i024" in errors[0]
    assert "truncated: the header declares" in errors[0] and "holds 400 bytes" in errors[0]
