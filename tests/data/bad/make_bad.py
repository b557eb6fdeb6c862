"""The bad-input corpus (issue #17, "a broken file never becomes a picture"): broken copies of the
real files in ``tests/data/real`` and bad command lines, each a :class:`Case` that
``tests/core/test_bad_corpus.py`` runs through the commands.

    python tests/data/bad/make_bad.py [DEST]     # default: this folder

Deterministic (fixed seeds, no time stamps: the same bytes on every run, which the test
checks against the files committed here); each case is one folder ``DEST/<case>/`` holding
its input file(s) under the name the format is recognised by (``CHGCAR``, ``x.cube``, ...).
Cases that need no file of their own (bad option values) name a real file. Cases that need
a process of their own (a full disk, two runs at once) are in the test, not here.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
REAL = ROOT / "tests" / "data" / "real"
CLIMATE, MATERIALS = REAL / "climate", REAL / "materials"

#: random bytes per file: enough to pass every "is this the format" sniff that reads a head
RANDOM_BYTES = 4096


@dataclass(frozen=True)
class Case:
    """One bad input: the command (``climate`` or ``materials``), its input files (relative
    to the corpus folder; ``real:`` names a file of tests/data/real), extra options, and what
    the one error line must contain (``names``: the file or option; ``expect``: any of these
    words, case-insensitive)."""

    name: str
    pipeline: str
    inputs: tuple[str, ...]
    args: tuple[str, ...] = ()
    names: str = ""  # default: the first input's file name
    expect: tuple[str, ...] = ()
    partial: bool = False  # a series: frames before the bad one may be written (and kept)
    why: str = ""

    def input_paths(self, corpus: Path) -> list[Path]:
        return [REAL / self.pipeline / p[5:] if p.startswith("real:") else corpus / p
                for p in self.inputs]

    def must_name(self) -> str:
        return self.names or Path(self.inputs[0].removeprefix("real:")).name


CASES: list[Case] = []


def case(*args, **kwargs) -> None:
    CASES.append(Case(*args, **kwargs))


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- the writers

def _netcdf_from(src: Path, dest: Path, fmt: str, edit=None) -> Path:
    """``src`` rewritten by netCDF4 in ``fmt`` (NETCDF3_CLASSIC, NETCDF3_64BIT_OFFSET,
    NETCDF3_64BIT_DATA, NETCDF4), each data variable passed through ``edit(name, array)``.
    No history attribute: the same bytes every time."""
    import netCDF4

    with netCDF4.Dataset(src) as s, netCDF4.Dataset(dest, "w", format=fmt) as d:
        s.set_auto_maskandscale(False)
        d.setncatts({k: s.getncattr(k) for k in s.ncattrs()})
        for name, dim in s.dimensions.items():
            d.createDimension(name, None if dim.isunlimited() else len(dim))
        for name, v in s.variables.items():
            attrs = {k: v.getncattr(k) for k in v.ncattrs()}
            fill = attrs.pop("_FillValue", None)
            out = d.createVariable(name, v.dtype, v.dimensions, fill_value=fill)
            out.set_auto_maskandscale(False)
            out.setncatts(attrs)
            data = v[...]
            if edit is not None:
                data = edit(name, np.array(data))
            out[...] = data
    return dest


def _truncate(data: bytes, keep: int | float) -> bytes:
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    assert 0 < n < len(data)
    return data[:n]


def _grib_message_end(data: bytes) -> int:
    """Where the file's first GRIB message ends (section 0's total length)."""
    assert data[:4] == b"GRIB"
    if data[7] == 1:
        return int.from_bytes(data[4:7], "big")
    return int.from_bytes(data[8:16], "big")


def _cut_at_line(text: str, keep: float) -> str:
    """The first ``keep`` of ``text``, cut at the end of a line (whole numbers, fewer)."""
    return text[: text.rindex("\n", 0, int(len(text) * keep)) + 1]


def _vaspout(dest: Path) -> Path:
    """A vaspout.h5 in py4vasp's layout (as tests/core/test_formats.py builds one), with a
    charge density large enough that cutting the file cuts data."""
    import h5py

    cell = np.diag([3.0, 3.2, 3.5])
    with h5py.File(dest, "w", track_order=False, libver="earliest") as f:
        def put(key, value):
            f.create_dataset(key, data=value, track_times=False)

        put("version/major", 6)
        put("version/minor", 5)
        put("version/patch", 0)
        put("results/positions/ion_types", np.array([b"Ga", b"As"]))
        put("results/positions/number_ion_types", np.array([1, 1]))
        put("intermediate/ion_dynamics/position_ions",
            np.array([[[0, 0, 0], [0.5, 0.5, 0.5]], [[0.01, 0, 0], [0.5, 0.52, 0.5]]]))
        put("intermediate/ion_dynamics/lattice_vectors", np.stack([cell, cell]))
        put("intermediate/ion_dynamics/scale", 1.0)
        put("charge/charge", _rng(1).random((1, 12, 10, 8)))
    return dest


def _replace_value(text: str, first_data_line: int, token: str, nth: int = 3) -> str:
    """``text`` with the ``nth`` number of line ``first_data_line`` replaced by ``token``."""
    lines = text.split("\n")
    toks = lines[first_data_line].split()
    toks[nth] = token
    lines[first_data_line] = " " + " ".join(toks)
    return "\n".join(lines)


def _name_file() -> str:
    """A small NAME III gridded output (NAME's text layout; no real one is small enough)."""
    nx, ny, times = 4, 3, ("01/01/2020  03:00 UTC", "01/01/2020  06:00 UTC")
    hdr = ["NAME III (version 6.3)", "Run name:            TEST",
           "Run time:            01/01/2020 00:00 UTC", "Met data:            NWP",
           "Start of release:    01/01/2020 00:00 UTC",
           "End of release:      01/01/2020 06:00 UTC", "Source strength:     1 g/s",
           "Release location:    5E 42N", "Release height:      10 m agl",
           "Run duration:        6hr 0min", "X grid origin:       0.5",
           "Y grid origin:       40.5", f"X grid size:         {nx}",
           f"Y grid size:         {ny}", "X grid resolution:   1.0",
           "Y grid resolution:   1.0", f"Number of field cols:  {len(times)}", "", "Fields:"]

    def row(label, vals):
        return f"{label:>20s},,,," + ",".join(f"{v:>16s}" for v in vals) + ","

    n = len(times)
    rows = [row("Species Category:", ["INERT"] * n), row("Name:", ["TEST"] * n),
            row("Quantity:", ["Air Concentration"] * n), row("Species:", ["TRACER"] * n),
            row("Units:", ["g / m^3"] * n), row("Sources:", ["All sources"] * n),
            row("Ensemble Av:", ["No ensemble averaging"] * n),
            row("Time Av or Int:", ["3hr 0min average"] * n),
            row("Horizontal Av or Int:", ["No horizontal averaging"] * n),
            row("Vertical Av or Int:", ["No vertical averaging"] * n),
            row("Prob Perc:", [""] * n), row("Prob Perc Ens:", [""] * n),
            row("Prob Perc Time:", [""] * n), row("Time:", list(times)),
            row("Z:", ["Z = 50.0 m agl"] * n), row("D:", [""] * n),
            "        X grid,        Y grid, X (Lat-Long), Y (Lat-Long)," + ",".join([""] * n)
            + ","]
    lines = [f"{i + 1},{j + 1},{0.5 + i},{40.5 + j},"
             + ",".join(f"{1.0 + k + i + j:.6e}" for k in range(n)) + ","
             for j in range(ny) for i in range(nx)]
    return "\n".join(hdr + rows + lines) + "\n"


# ----------------------------------------------------------------------------- the cases

def write_corpus(dest: Path) -> list[Case]:
    """Write every case's files under ``dest`` (emptied first, this script kept); returns
    :data:`CASES`."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    olds = [p for p in dest.iterdir() if p.is_dir()]
    if olds and dest.resolve() != HERE and not (dest / "empty-x-nc").is_dir():
        raise SystemExit(f"{dest}: not empty and not a bad-input corpus; expected a new or "
                         "empty folder (its folders would be replaced)")
    for p in olds:  # an earlier corpus: replaced whole (no stale cases)
        shutil.rmtree(p)
    CASES.clear()

    def put(case_name: str, file_name: str, data: bytes | str) -> str:
        d = dest / case_name
        d.mkdir(parents=True, exist_ok=True)
        (d / file_name).write_bytes(data.encode() if isinstance(data, str) else data)
        return f"{case_name}/{file_name}"

    # empty files and random bytes under every known suffix
    suffixes = [("climate", "x.nc"), ("climate", "x.grib2"), ("climate", "x.grb"),
                ("climate", "x.pp"), ("climate", "Fields_grid1.txt"),
                ("materials", "CHGCAR"), ("materials", "x.cube"), ("materials", "x.xsf"),
                ("materials", "vaspout.h5"), ("materials", "x.vasp"), ("materials", "POSCAR"),
                ("materials", "x.xyz"), ("materials", "CHGCAR.gz"),
                ("materials", "CHGCAR.bz2"), ("materials", "CHGCAR.xz")]
    for i, (pipe, fname) in enumerate(suffixes):
        tag = fname.replace(".", "-").lower()
        case(f"empty-{tag}", pipe, (put(f"empty-{tag}", fname, b""),),
             expect=("empty", "format", "no ", "not ", "corrupt", "cannot", "expected"))
        case(f"random-{tag}", pipe, (put(f"random-{tag}", fname, _rng(100 + i).bytes(
            RANDOM_BYTES)),), expect=("format", "corrupt", "not ", "cannot", "expected"))
    # random bytes that begin like the format (they pass the magic-bytes test)
    for tag, pipe, fname, head in [("cdf1", "climate", "x.nc", b"CDF\x01"),
                                   ("hdf5", "climate", "x.nc", b"\x89HDF\r\n\x1a\n"),
                                   ("grib", "climate", "x.grib2", b"GRIB"),
                                   ("name", "climate", "Fields_grid1.txt",
                                    b"NAME III (version 6.3)\n"),
                                   ("hdf5", "materials", "vaspout.h5", b"\x89HDF\r\n\x1a\n")]:
        cname = f"magic-then-random-{tag}-{pipe}"
        case(cname, pipe, (put(cname, fname, head + _rng(len(CASES)).bytes(RANDOM_BYTES)),),
             expect=("corrupt", "truncated", "cannot", "not ", "expected"))

    # NetCDF classic, 64-bit offset and CDF-5, cut short in their data (the netCDF library
    # reads the missing bytes as values), and NetCDF-4 (HDF5) cut short
    tmp = dest / "_tmp"
    tmp.mkdir(exist_ok=True)
    try:
        for fmt, tag in [("NETCDF3_CLASSIC", "cdf1"), ("NETCDF3_64BIT_OFFSET", "cdf2"),
                         ("NETCDF3_64BIT_DATA", "cdf5")]:
            whole = _netcdf_from(CLIMATE / "rotated_pole.nc", tmp / f"{tag}.nc", fmt)
            cname = f"truncated-netcdf-{tag}"
            case(cname, "climate", (put(cname, "rotated_pole.nc",
                                        _truncate(whole.read_bytes(), 0.6)),),
                 expect=("truncated",), why="header promises more bytes than the file has")
        cname = "truncated-netcdf-cdf1-header"
        case(cname, "climate", (put(cname, "rotated_pole.nc", _truncate(
            (tmp / "cdf1.nc").read_bytes(), 200)),), expect=("truncated",))
        cname = "truncated-netcdf4-head"  # the first 300 kB of a 1.8 MB NetCDF-4 file
        case(cname, "climate", (put(cname, "A1B_north_america.nc", _truncate(
            (CLIMATE / "A1B_north_america.nc").read_bytes(), 300_000)),),
             expect=("truncated",))
        cname = "truncated-netcdf4-tail"  # all but its last 2 kB
        data = (CLIMATE / "rotated_pole.nc").read_bytes()
        case(cname, "climate", (put(cname, "rotated_pole.nc",
                                    _truncate(data, len(data) - 2048)),),
             expect=("truncated",))

        # values: Inf in a grid, an all-NaN variable (classic files: small)
        def with_inf(name, a):
            if name == "air_pressure_at_sea_level":
                a = a.copy()
                a[3, 5] = np.inf
            return a

        def all_nan(name, a):
            return np.full_like(a, np.nan) if name == "air_pressure_at_sea_level" else a

        for cname, edit, words in [("inf-in-grid-netcdf", with_inf, ("infinite", "inf")),
                                   ("all-nan-variable-netcdf", all_nan, ("nan", "missing",
                                                                        "no valid", "finite"))]:
            f = _netcdf_from(CLIMATE / "rotated_pole.nc", tmp / f"{cname}.nc",
                             "NETCDF3_CLASSIC", edit)
            case(cname, "climate", (put(cname, "rotated_pole.nc", f.read_bytes()),),
                 expect=words)
    finally:
        shutil.rmtree(tmp)

    # GRIB 1 and 2, PP, NAME cut short
    for cname, src, keep in [("truncated-grib1", "regular_gg_pl.grib", 0.5),
                             ("truncated-grib1-end-marker", "regular_gg_pl.grib", -4),
                             ("truncated-grib2", "polar_stereo.grib2", 0.5),
                             ("truncated-grib2-end-marker", "regular_ll_msl.grib", -4),
                             ("truncated-pp", "air_temp.pp", 0.5),
                             ("truncated-pp-record", "wind_speed_lake_victoria.pp", 2000)]:
        data = (CLIMATE / src).read_bytes()
        if isinstance(keep, int) and keep < 0:  # the first message less its last bytes
            n = _grib_message_end(data) + keep  # ("7777"; files may pad after it)
        else:
            n = keep
        case(cname, "climate", (put(cname, src, _truncate(data, n)),),
             expect=("truncated", "corrupt", "cut", "incomplete", "cannot", "expected"))
    name_text = _name_file()
    case("truncated-name", "climate", (put("truncated-name", "Fields_grid1.txt",
                                           name_text[: int(len(name_text) * 0.8)]),),
         expect=("truncated", "corrupt", "cannot", "expected", "missing"))

    # climate options
    nc = "real:winds_descending_lon.nc"
    case("wind-component-missing", "climate", (nc,),
         ("--var", "pm25", "--wind", "u,nonexistent", "--particles", "50"),
         expect=("nonexistent",))
    case("frames-zero-climate", "climate", (nc,), ("--frames", "0"), names="--frames")
    case("resolution-bad-climate", "climate", (nc,), ("--resolution", "10x"),
         names="--resolution")
    case("variable-missing", "climate", (nc,), ("--var", "nonexistent"),
         expect=("not found",))

    # materials: each format cut short
    water = (MATERIALS / "CHGCAR.water").read_text()
    case("truncated-chgcar", "materials", (put("truncated-chgcar", "CHGCAR",
                                               water[: water.index("0.53864269470E+02")]),),
         expect=("truncated", "expected", "values", "incomplete", "short"))
    cube = (MATERIALS / "cubegen_h2o_5points.cube").read_text()
    case("truncated-cube", "materials", (put("truncated-cube", "h2o.cube",
                                             _cut_at_line(cube, 2 / 3)),),
         expect=("truncated", "expected", "values", "incomplete", "short"))
    xsf = gzip.decompress((MATERIALS / "xcrysden_CO_homo.xsf.gz").read_bytes())
    case("truncated-xsf", "materials", (put("truncated-xsf", "co_homo.xsf",
                                            _cut_at_line(xsf.decode(), 0.05)),),
         expect=("truncated", "expected", "values", "incomplete", "short", "END_"))
    raw = water.encode()
    for suffix, compress in [("gz", lambda b: gzip.compress(b, mtime=0)),
                             ("bz2", bz2.compress), ("xz", lzma.compress)]:
        cname = f"truncated-{suffix}-stream"
        packed = compress(raw)
        case(cname, "materials", (put(cname, f"CHGCAR.{suffix}", _truncate(packed, 0.5)),),
             expect=("truncated", "corrupt", "compressed", "end", "cannot"))
    vo = io.BytesIO()
    tmp = dest / "_tmp"
    tmp.mkdir(exist_ok=True)
    try:
        vo.write(_vaspout(tmp / "vaspout.h5").read_bytes())
    finally:
        shutil.rmtree(tmp)
    case("truncated-vaspout-h5", "materials", (put("truncated-vaspout-h5", "vaspout.h5",
                                                   _truncate(vo.getvalue(), 0.6)),),
         expect=("truncated",))

    # materials: NaN / Inf in grids, zero or negative grid sizes, atom counts that disagree
    lines = cube.split("\n")
    first_data = 6 + abs(int(lines[2].split()[0]))
    case("nan-in-cube", "materials", (put("nan-in-cube", "h2o.cube",
                                          _replace_value(cube, first_data, "NaN")),),
         expect=("nan", "finite", "infinite"))
    case("inf-in-chgcar", "materials", (put("inf-in-chgcar", "CHGCAR",
                                            water.replace("0.26517347371E+04", "Infinity")),),
         expect=("nan", "finite", "infinite"))
    zero = lines.copy()
    zero[3] = "    0    2.485368    0.000000    0.000000"
    case("zero-grid-cube", "materials", (put("zero-grid-cube", "h2o.cube", "\n".join(zero)),),
         expect=("grid", "voxel", "points", "size", "dimension"))
    case("zero-grid-chgcar", "materials", (put("zero-grid-chgcar", "CHGCAR", water.replace(
        "   3   3   3", "   0   3   3")),), expect=("grid", "points", "size", "dimension"))
    case("negative-grid-chgcar", "materials", (put("negative-grid-chgcar", "CHGCAR",
                                                   water.replace("   3   3   3",
                                                                 "   3  -3   3")),),
         expect=("grid", "points", "size", "dimension", "negative"))
    more = lines.copy()
    more[2] = "    5" + lines[2][5:]  # 5 atoms announced, 3 listed
    case("atom-count-cube", "materials", (put("atom-count-cube", "h2o.cube", "\n".join(more)),),
         expect=("atom", "expected", "values"))
    poscar = water[: water.index("\n\n")] + "\n"
    case("atom-count-poscar", "materials", (put("atom-count-poscar", "POSCAR", poscar.replace(
        "     1     2", "     1     5")),), expect=("atom", "position", "expected"))
    case("atom-count-chgcar", "materials", (put("atom-count-chgcar", "CHGCAR", water.replace(
        "     1     2", "     1     5")),), expect=("atom", "position", "expected"))
    xyz = "5\nwater\nO 0 0 0\nH 0.76 0.59 0\nH -0.76 0.59 0\n"
    case("atom-count-xyz", "materials", (put("atom-count-xyz", "water.xyz", xyz),),
         expect=("atom", "line", "expected"))

    # materials options
    cubefile = "real:cubegen_h2o_5points.cube"
    case("iso-not-a-number", "materials", (cubefile,), ("--iso", "abc"), names="--iso")
    case("orbit-frames-negative", "materials", (cubefile,), ("--orbit-frames", "-1"),
         names="--orbit-frames")
    case("resolution-bad-materials", "materials", (cubefile,), ("--resolution", "10x"),
         names="--resolution")

    # a series whose second frame is cut short: the first frame is converted and kept
    case("series-second-frame-truncated", "materials",
         (put("series-second-frame-truncated", "frame_0.cube", cube),
          put("series-second-frame-truncated", "frame_1.cube", cube[: len(cube) // 2])),
         names="frame_1.cube", partial=True,
         expect=("truncated", "expected", "values", "incomplete", "short"))
    return list(CASES)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    dest = Path(argv[0]) if argv else HERE
    cases = write_corpus(dest)
    size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file()
               and p.parent != dest)
    print(f"{len(cases)} cases, {size / 1e6:.2f} MB in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
