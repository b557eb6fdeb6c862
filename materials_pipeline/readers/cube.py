"""Gaussian cube files (Gaussian cubegen, PySCF cubegen, CP2K, ORCA, Psi4, CASTEP's castep2cube).

Layout: two comment lines; ``natoms ox oy oz [nval]``; three voxel lines ``n_i vx vy vz``;
``|natoms|`` atom lines ``Z charge x y z``; when natoms < 0 one (possibly wrapped) line
``nmo idx_1 .. idx_nmo``; then the values, C order (the third voxel axis fastest), with
``nval`` (or ``nmo``) values per point.

Units: a positive voxel count means Bohr, a negative one Angstrom (Gaussian's convention). We
return Angstrom lengths and, from Bohr files, convert the values:

* density and spin density (e/Bohr^3) -> e/Angstrom^3 (divided by 0.529177210903**3);
* orbital (Bohr^-3/2) -> Angstrom^-3/2 (divided by 0.529177210903**1.5): psi**2 still
  integrates to 1; grids ``orbital_<index>`` (or ``orbital``), signed;
* potential: kept as written, atomic units ``Hartree/e`` (PySCF's cubegen.mep, Gaussian).

The format cannot tell a density from a potential: ``kind=`` decides; without it we read the
comment lines (PySCF: "Electron density in real space (e/Bohr^3)", "Orbital value in real
space (1/Bohr^3)", "Molecular electrostatic potential in real space"; Gaussian: "... density
...", "... potential ...", "MO coefficients", "spin density" -> kind "spin", signed); natoms < 0
means orbitals; else density, and ``meta["kind_guessed"]`` is True.

Placement: ``values[i, j, k]`` is at ``origin + i*v0 + j*v1 + k*v2`` (the affine), a
non-periodic box (``periodic=False``, structure without a cell) unless ``periodic=True`` is
passed or the file is CP2K's or castep2cube's (periodic: CP2K grids tile the cell; castep2cube
repeats the first plane at the end, which we drop).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from core.errors import BadInputError
from materials_pipeline.data import DensityFile, Grid, Structure
from materials_pipeline.readers._common import Lines, open_buffer, parse_floats

__all__ = ["read_cube", "BOHR", "guess_kind"]

BOHR = 0.529177210903  # Angstrom (CODATA 2018; ase.units.Bohr is CODATA 2014, 6e-10 smaller)

_KIND_PATTERNS = (
    ("potential", re.compile(r"potential|\besp\b|\bmep\b", re.I)),
    ("orbital", re.compile(r"orbital|\bMOs?\b|wave ?function|\bpsi\b", re.I)),
    ("elf", re.compile(r"\belf\b|localization function|localisation function", re.I)),
    ("spin", re.compile(r"spin[ _-]?density|magneti[sz]ation", re.I)),
    ("density", re.compile(r"density|charge", re.I)),
)


def guess_kind(comments: str, natoms: int) -> tuple[str, bool]:
    """(kind, guessed) from the two comment lines and the sign of the atom count."""
    if natoms < 0:
        return "orbital", False
    for kind, pat in _KIND_PATTERNS:
        if pat.search(comments):
            return kind, False
    return "density", True


def _ints_floats(line: bytes | None, path, lineno: int, what: str, nint: int, nfloat: int
                 ) -> tuple[list[int], list[float], list[bytes]]:
    toks = line.split() if line is not None else []
    try:
        ints = [int(t) for t in toks[:nint]]
        floats = [float(t) for t in toks[nint:nint + nfloat]]
    except ValueError:
        ints, floats = [], []
    if len(ints) < nint or len(floats) < nfloat or not np.all(np.isfinite(floats)):
        got = "end of file" if line is None else repr(line.decode("latin-1").strip()[:60])
        raise BadInputError(f"{path}: line {lineno}: expected {what}, got {got}")
    return ints, floats, toks[nint + nfloat:]


# long: a cube file parsed in file order (header, atoms, orbitals, values), one buffer
def read_cube(path: str | os.PathLike, *, kind: str | None = None,
              periodic: bool | None = None, threads: int | None = None,
              structure_only: bool = False) -> DensityFile | Structure:
    """Read a Gaussian cube file into a :class:`DensityFile` (see the module notes on units).

    * ``kind``: "density", "potential", "orbital", "elf", "spin" ... (else from the comments).
    * ``periodic``: the grid tiles a periodic cell (CP2K) rather than a box around a molecule.
    """
    p = Path(path)
    label = p.name
    with open_buffer(p) as buf:
        ln = Lines(buf)
        c1 = ln.next()
        c2 = ln.next()
        if c1 is None or c2 is None:
            raise BadInputError(f"{label}: not a cube file: fewer than 2 comment lines")
        comments = (c1 + b"\n" + c2).decode("utf-8", "replace")
        (natoms,), origin, more = _ints_floats(ln.next(), label, ln.lineno,
                                               "'natoms ox oy oz' (cube line 3)", 1, 3)
        nval = 1
        if more:
            try:
                nval = int(more[0])
            except ValueError:
                nval = 1
            nval = max(nval, 1)
        shape = []
        axes = np.empty((3, 3))
        for i in range(3):
            (n,), vec, _ = _ints_floats(ln.next(), label, ln.lineno,
                                        f"voxel axis {i + 1} 'n vx vy vz'", 1, 3)
            if n == 0:
                raise BadInputError(f"{label}: line {ln.lineno}: voxel axis {i + 1} has 0 "
                                    "points")
            shape.append(n)
            axes[i] = vec
        angstrom = any(n < 0 for n in shape)
        shape = [abs(n) for n in shape]
        to_ang = 1.0 if angstrom else BOHR
        numbers = np.empty(abs(natoms), dtype=np.int64)
        positions = np.empty((abs(natoms), 3))
        for a in range(abs(natoms)):
            (z,), vals, _ = _ints_floats(ln.next(), label, ln.lineno,
                                         f"atom {a + 1} of {abs(natoms)} 'Z charge x y z'",
                                         1, 4)
            numbers[a] = z
            positions[a] = vals[1:4]
        mo_indices: list[int] = []
        if natoms < 0:
            line = ln.next()
            toks = line.split() if line is not None else []
            try:
                nmo = int(toks[0])
                mo_indices = [int(t) for t in toks[1:]]
                while len(mo_indices) < nmo:
                    more_line = ln.next()
                    if more_line is None:
                        raise ValueError
                    mo_indices.extend(int(t) for t in more_line.split())
            except (ValueError, IndexError):
                raise BadInputError(f"{label}: line {ln.lineno}: expected the orbital list "
                                    "'nmo idx...' after the atoms (negative atom count)"
                                    ) from None
            nval = max(nmo, 1)
        from ase.data import chemical_symbols

        symbols = [chemical_symbols[z] if 0 <= z < len(chemical_symbols) else "X"
                   for z in numbers]
        positions = positions * to_ang
        vox = axes * to_ang  # rows: step along voxel axis i, Angstrom
        origin_a = np.array(origin) * to_ang
        upper2 = c2.decode("utf-8", "replace").upper()
        program = ""
        if "castep2cube" in comments:
            program = "castep2cube"
        elif "QUICKSTEP" in comments.upper() or "CP2K" in comments.upper():
            program = "cp2k"
        if periodic is None:
            periodic = program in ("cp2k", "castep2cube")
        drop_end = program == "castep2cube"
        cell_shape = [n - 1 if drop_end else n for n in shape]
        box = vox * np.array(cell_shape)[:, None]
        cell = box if periodic else np.zeros((3, 3))
        structure = Structure(symbols, positions, cell, (periodic,) * 3, numbers)
        if structure_only:
            return structure
        total = shape[0] * shape[1] * shape[2] * nval
        flat, end = parse_floats(buf, ln.pos, total, path=label, what="volumetric data",
                                 threads=threads)
        rest = bytes(buf[end:end + 4096]).split()
        if rest:
            raise BadInputError(
                f"{label}: more values than the {'x'.join(map(str, shape))} grid"
                f"{f' x {nval} values per point' if nval > 1 else ''} holds "
                f"(next token {rest[0].decode('latin-1')[:20]!r}; wrong grid dimensions?)")
    guessed = False
    if kind is None:
        kind, guessed = guess_kind(comments, natoms)
    # OUTER LOOP: X, MIDDLE LOOP: Y, INNER LOOP: Z (Gaussian); other orders are transposed
    order = [0, 1, 2]
    if "OUTER LOOP" in upper2:
        try:
            order = ["XYZ".index(s[0]) for s in upper2.split()[2::3]][:3]
        except ValueError:
            order = [0, 1, 2]
        if sorted(order) != [0, 1, 2]:
            order = [0, 1, 2]
    data = flat.reshape(shape[0], shape[1], shape[2], nval)
    if kind in ("density", "spin"):
        factor, units = (1.0 if angstrom else BOHR ** 3), "e/Angstrom^3"
    elif kind == "orbital":
        factor, units = (1.0 if angstrom else BOHR ** 1.5), "Angstrom^-3/2"
    elif kind == "potential":
        factor, units = 1.0, "Hartree/e"
    else:
        factor, units = 1.0, ""
    affine = np.eye(4)
    affine[:3, :3] = vox.T
    affine[:3, 3] = origin_a
    grids: dict[str, Grid] = {}
    for m in range(nval):
        arr = data[..., m]
        if order != [0, 1, 2]:
            arr = arr.transpose(order)
        if drop_end:
            arr = arr[:-1, :-1, :-1]
        arr = np.ascontiguousarray(arr)
        if factor != 1.0:
            arr /= factor
        if kind == "orbital":
            name = f"orbital_{mo_indices[m]}" if m < len(mo_indices) else (
                "orbital" if nval == 1 else f"orbital_{m + 1}")
        else:
            name = kind if nval == 1 else f"{kind}_{m + 1}"
        signed = kind in ("orbital", "potential", "spin")
        grids[name] = Grid(name, arr, affine.copy(), units, periodic=bool(periodic),
                           signed=signed)
    meta = {
        "comment": comments,
        "length_units_in_file": "Angstrom" if angstrom else "Bohr",
        "kind_guessed": guessed,
        "program": program,
        "origin": origin_a,
        "mo_indices": mo_indices,
        "values_divided_by": factor,
    }
    return DensityFile(str(p), "cube", structure, grids, kind, meta)
