"""Materials input formats: a declarative registry, as in ``ase/io/formats.py``.

:data:`FORMATS` is a :class:`core.formats.Registry` (the one registry of every domain) with one
:class:`core.formats.Format` per format: its name, what :func:`read` returns for it
(``density`` -> :class:`~materials_pipeline.data.DensityFile`, ``structure`` -> ``Structure``,
``trajectory`` -> ``Trajectory``), the module implementing it (imported only when used), its
file-name globs, magic bytes and content test, whether it holds several frames, and fixed
reader options.

:func:`guess_format` is ``FORMATS.detect`` (CONTENT first: the first 256 KiB, decompressed for
.gz/.bz2/.xz) followed by one materials step, the VASP flavour (:func:`_vasp_flavour`):

* magic bytes: HDF5 (``vaspout.h5``), ASE's ULM (``.traj``);
* XSF: the first keyword is CRYSTAL, SLAB, POLYMER, MOLECULE, ATOMS, PRIMVEC, ANIMSTEPS or
  BEGIN_BLOCK_DATAGRID_3D;
* cube: two comment lines, ``natoms ox oy oz [nval]``, three ``n vx vy vz`` lines;
* VASP: a POSCAR header (scale, 3 lattice vectors, [species], counts, [Selective], mode) then
  ``Direct configuration=`` (XDATCAR), or positions followed by a ``nx ny nz`` line (volumetric),
  or positions alone (POSCAR/CONTCAR);
* extended XYZ: an atom count, then a ``Lattice=``/``Properties=`` line (or a plain XYZ);

then by NAME (globs, case-insensitive, compression suffix ignored). VASP volumetric files
look alike inside: the name says CHGCAR / CHG / AECCAR / PARCHG / LOCPOT / ELFCAR; without a
telling name, "augmentation occupancies" means CHGCAR, 10 values per line CHG, else CHGCAR is
assumed (``meta["format_guessed"]`` True: pass ``format="locpot"`` for a renamed LOCPOT).

Example::

    from materials_pipeline.readers import read, read_density, read_structure, read_trajectory
    rho = read_density("run/CHGCAR")          # DensityFile, grids["density"] in e/Angstrom^3
    atoms = read_structure("run/CHGCAR")      # header only: fast
    traj = read_trajectory("md/XDATCAR")
    cube = read("h2o_homo.cube", kind="orbital")

Large grids are parsed by the compiled ``materials_pipeline._fastfloat`` with up to 4 threads
(the CPUs this process may use); inside parallel workers pass ``threads=1`` (every reader
accepts it) so that workers do not oversubscribe the cores.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import BadInputError
from core.formats import Format, Registry

if TYPE_CHECKING:
    from materials_pipeline.data import DensityFile, Structure, Trajectory

__all__ = ["Format", "FORMATS", "get_format", "guess_format", "read", "read_density",
           "read_structure", "read_trajectory", "known_formats"]

_HEAD_BYTES = 1 << 18


# ------------------------------------------------------------------------- content tests

def _lines(head: bytes, n: int = 4000) -> list[bytes]:
    return head.split(b"\n", n)[:n]


def _nfloats(line: bytes, n: int) -> bool:
    toks = line.split()
    if len(toks) < n:
        return False
    try:
        [float(t) for t in toks[:n]]
    except ValueError:
        return False
    return True


def _is_int(tok: bytes) -> bool:
    return tok.lstrip(b"+-").isdigit()


def _vasp_layout(head: bytes) -> str | None:
    """'xdatcar', 'volumetric', 'poscar' or None from a POSCAR-like header."""
    lines = _lines(head)
    if len(lines) < 7:
        return None
    if not lines[1].split() or not _nfloats(lines[1], 1):
        return None
    if not all(_nfloats(lines[k], 3) for k in (2, 3, 4)):
        return None
    i = 5
    toks = lines[i].split()
    if not toks:
        return None
    if not _is_int(toks[0]):
        if not all(t[:1].isalpha() for t in toks):
            return None
        i += 1
    if i >= len(lines):
        return None
    try:
        counts = [int(t) for t in lines[i].split()]
    except ValueError:
        return None
    if not counts or any(c < 0 for c in counts):
        return None
    natoms = sum(counts)
    i += 1
    if i >= len(lines):
        return "poscar"
    low = lines[i].strip().lower()
    if b"configuration" in low:
        return "xdatcar"
    if low[:1] == b"s":
        i += 1
        low = lines[i].strip().lower() if i < len(lines) else b""
    if low[:1] not in (b"d", b"c", b"k"):
        return None
    i += 1
    for k in range(i, min(i + natoms, len(lines))):
        if not _nfloats(lines[k], 3):
            return None
    i += natoms
    if i >= len(lines) - 1 and len(head) >= _HEAD_BYTES:
        return "poscar"  # header longer than what we looked at
    while i < len(lines) and not lines[i].strip():
        i += 1
    if i < len(lines):
        t = lines[i].split()
        if len(t) == 3 and all(x.isdigit() for x in t):
            return "volumetric"
    return "poscar"


def _chg_style(head: bytes) -> bool:
    """A volumetric file written as a CHG: 10 values per line, no augmentation occupancies
    (a CHGCAR writes 5)."""
    if b"augmentation occupancies" in head:
        return False
    lines = _lines(head)
    for i, line in enumerate(lines[:-1]):
        t = line.split()
        if i > 6 and len(t) == 3 and all(x.isdigit() for x in t):
            return len(lines[i + 1].split()) == 10
    return False


def _sniff_chgcar(head: bytes) -> bool:
    """A VASP volumetric file (any flavour: the name tells which, see _vasp_flavour) not
    written as a CHG."""
    return _vasp_layout(head) == "volumetric" and not _chg_style(head)


def _sniff_chg(head: bytes) -> bool:
    return _vasp_layout(head) == "volumetric" and _chg_style(head)


def _sniff_poscar(head: bytes) -> bool:
    return _vasp_layout(head) == "poscar"


def _sniff_xdatcar(head: bytes) -> bool:
    return _vasp_layout(head) == "xdatcar"


def _sniff_cube(head: bytes) -> bool:
    lines = _lines(head, 8)
    if len(lines) < 7:
        return False
    t = lines[2].split()
    if len(t) not in (4, 5) or not _is_int(t[0]) or not _nfloats(b" ".join(t[1:4]), 3):
        return False
    if len(t) == 5 and not _is_int(t[4]):
        return False
    for k in (3, 4, 5):
        v = lines[k].split()
        if len(v) != 4 or not _is_int(v[0]) or not _nfloats(b" ".join(v[1:]), 3):
            return False
    if int(t[0]) != 0:
        a = lines[6].split()
        if len(a) < 5 or not _is_int(a[0]) or not _nfloats(b" ".join(a[1:5]), 4):
            return False
    return True


_XSF_FIRST = {b"ANIMSTEPS", b"CRYSTAL", b"SLAB", b"POLYMER", b"MOLECULE", b"ATOMS", b"PRIMVEC",
              b"BEGIN_BLOCK_DATAGRID_3D", b"BEGIN_BLOCK_DATAGRID3D", b"BEGIN_INFO", b"INFO",
              b"DIM-GROUP"}


def _sniff_xsf(head: bytes) -> bool:
    for line in _lines(head, 200):
        s = line.strip()
        if not s or s.startswith(b"#"):
            continue
        return s.split()[0].upper() in _XSF_FIRST
    return False


def _sniff_extxyz(head: bytes) -> bool:
    lines = _lines(head, 4)
    if len(lines) < 3 or not lines[0].strip().isdigit():
        return False
    if re.search(rb"\b(Lattice|Properties|pbc)\s*=", lines[1], re.I):
        return True
    t = lines[2].split()
    return (int(lines[0]) == 0 or (len(t) >= 4 and t[0][:1].isalpha()
                                   and _nfloats(b" ".join(t[1:4]), 3)))


# ------------------------------------------------------------------------------ registry

_D, _S, _T = "density", "structure", "trajectory"
_R = "materials_pipeline.readers."
_HDF5 = b"\x89HDF\r\n\x1a\n"


def _vasp(name: str, description: str, globs: tuple[str, ...], sniff: Any = None) -> Format:
    """A VASP volumetric flavour: one reader, the flavour as its option."""
    return Format(name=name, description=description, kinds=(_D,), module=_R + "vasp",
                  reader="read_volumetric", globs=globs, sniff=sniff,
                  options=(("flavour", name),))


# Names and globs in this order decide a file by name (first match). Only chgcar and chg have
# content tests among the VASP volumetric flavours: the others look like a CHGCAR inside and
# are told by name (see _vasp_flavour).
FORMATS = Registry("materials", (
    _vasp("chgcar", "VASP CHGCAR (charge density)", ("CHGCAR*", "*CHGCAR*", "*.chgcar"),
          _sniff_chgcar),
    _vasp("aeccar", "VASP AECCAR0/1/2 (all-electron core/atomic/valence density)",
          ("AECCAR*", "*AECCAR*", "*.aeccar")),
    _vasp("parchg", "VASP PARCHG (partial charge density)", ("PARCHG*", "*PARCHG*", "*.parchg")),
    _vasp("locpot", "VASP LOCPOT (local potential, eV)", ("LOCPOT*", "*LOCPOT*", "*.locpot")),
    _vasp("elfcar", "VASP ELFCAR (electron localization function)",
          ("ELFCAR*", "*ELFCAR*", "*.elfcar")),
    _vasp("chg", "VASP CHG (charge density, lower precision)",
          ("CHG", "CHG.*", "CHG_*", "CHG-*", "*_CHG", "*.chg"), _sniff_chg),
    Format(name="cube", description="Gaussian cube", kinds=(_D,), module=_R + "cube",
           reader="read_cube", globs=("*.cube", "*.cub"), sniff=_sniff_cube),
    Format(name="xsf", description="XCrySDen XSF/AXSF (structure, animation, DATAGRID_3D)",
           kinds=(_D, _S, _T), module=_R + "xsf", reader="read_xsf", globs=("*.xsf", "*.axsf"),
           sniff=_sniff_xsf, multi_frame=True),
    Format(name="xdatcar", description="VASP XDATCAR (MD/relaxation trajectory)", kinds=(_T,),
           module=_R + "structures", reader="read_xdatcar",
           globs=("XDATCAR*", "*XDATCAR*", "*.xdatcar"), sniff=_sniff_xdatcar, multi_frame=True),
    Format(name="poscar", description="VASP POSCAR/CONTCAR", kinds=(_S,),
           module=_R + "structures", reader="read_poscar",
           globs=("POSCAR*", "CONTCAR*", "*POSCAR*", "*CONTCAR*", "*.vasp", "*.poscar"),
           sniff=_sniff_poscar),
    Format(name="extxyz", description="extended XYZ (ase.io)", kinds=(_T,),
           module=_R + "structures", reader="read_ase", globs=("*.xyz", "*.extxyz"),
           sniff=_sniff_extxyz, multi_frame=True, options=(("ase_format", "extxyz"),)),
    Format(name="traj", description="ASE trajectory (ase.io)", kinds=(_T,),
           module=_R + "structures", reader="read_ase", globs=("*.traj",),
           magic=(b"- of Ulm", b"PickleTrajectory"), multi_frame=True,
           options=(("ase_format", "traj"),)),
    Format(name="vaspout", description="VASP 6 HDF5 output (vaspout.h5; density from "
           "vaspwave.h5)", kinds=(_D, _S, _T), module=_R + "vaspout", reader="read_vaspout",
           globs=("vaspout*.h5", "vaspwave*.h5", "*.h5"), magic=(_HDF5,), multi_frame=True),
), content_order=("xsf", "cube", "xdatcar", "chgcar", "chg", "poscar", "extxyz"))

_VASP_VOLUMETRIC = ("chgcar", "aeccar", "parchg", "locpot", "elfcar", "chg")


def known_formats() -> str:
    """``name (globs)`` of every format, for messages."""
    return FORMATS.known()


def get_format(name: str) -> Format:
    """The format called ``name`` (UnknownFormatError listing the known ones otherwise)."""
    return FORMATS.get(name)


def _vasp_flavour(path: Path, head: bytes, fmt: Format, how: str) -> tuple[Format, str]:
    """The materials step after ``FORMATS.detect``: VASP volumetric files look alike inside.

    Content said chgcar or chg: a flavour's name (LOCPOT, AECCAR2 ...) decides; else
    "augmentation occupancies" or 10 values per line (chg) are sure, and a CHGCAR without
    them is a guess (how ``content (guessed)``). Content said poscar but the name is a
    volumetric one: a CHGCAR cut right after its header, trust the name."""
    if how != "content":
        return fmt, how
    if fmt.name in ("chgcar", "chg"):
        for name in _VASP_VOLUMETRIC:
            f = FORMATS.get(name)
            if f.matches_name(path):
                return f, "content"
        if fmt.name == "chgcar" and b"augmentation occupancies" not in head:
            return fmt, "content (guessed)"
        return fmt, "content"
    if fmt.name == "poscar":
        named = FORMATS.by_name(path)
        if named is not None and named.name in _VASP_VOLUMETRIC:
            return named, "name"
    return fmt, how


def _detect(path: str | os.PathLike) -> tuple[Format, str]:
    """(format, how): how is 'content', 'name' or 'content (guessed)'."""
    from materials_pipeline.readers._common import read_head

    p = Path(path)
    head = read_head(p, _HEAD_BYTES)  # BadInputError for a directory, a missing/empty file
    fmt, how = FORMATS.detect(p, head)
    return _vasp_flavour(p, head, fmt, how)


def guess_format(path: str | os.PathLike) -> Format:
    """The format of ``path``: by content first, then by name (see the module notes)."""
    return _detect(path)[0]


# ---------------------------------------------------------------------------------- read

def _call(fmt: Format, path: str | os.PathLike, **kw: Any) -> Any:
    opts = dict(fmt.options)
    opts.update(kw)
    return fmt.reader_func(path)(path, **opts)


def _resolve(path: str | os.PathLike, format: str | None) -> tuple[Format, str]:
    if format:
        return get_format(format), "argument"
    return _detect(path)


def read(path: str | os.PathLike, format: str | None = None, **kw: Any
         ) -> DensityFile | Structure | Trajectory:
    """Read ``path`` into our dataclasses (format by ``format``, else content, else name).

    Keyword arguments go to the format's reader (e.g. ``kind=`` for cube files,
    ``species=`` for VASP 4 headers, ``spin_channels=True`` for CHGCARs, ``threads=``).
    """
    from materials_pipeline.data import DensityFile

    fmt, how = _resolve(path, format)
    obj = _call(fmt, path, **kw)
    if isinstance(obj, DensityFile):
        obj.meta.setdefault("detected_by", how)
        obj.meta.setdefault("format_guessed", how == "content (guessed)")
    return obj


def read_density(path: str | os.PathLike, format: str | None = None, **kw: Any) -> DensityFile:
    """A file's grids (DensityFile); BadInputError if the file holds no volumetric data."""
    from materials_pipeline.data import DensityFile

    fmt, how = _resolve(path, format)
    if "density" not in fmt.kinds:
        raise BadInputError(f"{path}: a {fmt.name} file ({fmt.description}) holds no "
                            "volumetric data")
    obj = _call(fmt, path, **kw)
    if not isinstance(obj, DensityFile):
        raise BadInputError(f"{path}: this {fmt.name} file holds no volumetric data "
                            f"(a {type(obj).__name__.lower()})")
    obj.meta.setdefault("detected_by", how)
    obj.meta.setdefault("format_guessed", how == "content (guessed)")
    return obj


def read_structure(path: str | os.PathLike, format: str | None = None, index: int = -1,
                   **kw: Any) -> Structure:
    """The atoms of any supported file (frame ``index`` of a trajectory; for volumetric
    files the header only is parsed)."""
    from materials_pipeline.data import DensityFile, Trajectory

    fmt, _ = _resolve(path, format)
    if "trajectory" in fmt.kinds:
        kw.setdefault("index", index)
    obj = _call(fmt, path, structure_only=True, **kw)
    if isinstance(obj, DensityFile):
        return obj.structure
    if isinstance(obj, Trajectory):
        return obj.frames[index]
    return obj


def read_trajectory(path: str | os.PathLike, format: str | None = None, **kw: Any
                    ) -> Trajectory:
    """Frames of a trajectory file; a single structure (or a density file's) is one frame."""
    from materials_pipeline.data import DensityFile, Structure, Trajectory

    fmt, _ = _resolve(path, format)
    if fmt.kinds == ("density",):  # header only
        obj = _call(fmt, path, structure_only=True, **kw)
    elif fmt.name == "vaspout":  # its ionic steps, not its density
        obj = _call(fmt, path, quantity="structure", **kw)
    else:
        obj = _call(fmt, path, **kw)
    if isinstance(obj, Trajectory):
        return obj
    if isinstance(obj, DensityFile):
        return Trajectory(str(path), fmt.name, [obj.structure])
    if isinstance(obj, Structure):
        return Trajectory(str(path), fmt.name, [obj])
    raise BadInputError(f"{path}: no structure in this {fmt.name} file")
