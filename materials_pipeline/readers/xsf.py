"""XCrySDen XSF/AXSF: structures, animations and DATAGRID_3D blocks.

Sections: CRYSTAL | SLAB | POLYMER | MOLECULE (periodicity), PRIMVEC (cell, Angstrom), CONVVEC
(ignored), PRIMCOORD (``natoms 1`` then ``Z|symbol x y z [fx fy fz]``), ATOMS (molecules, lines
until the next keyword), ANIMSTEPS n with numbered PRIMVEC i / PRIMCOORD i / ATOMS i (an
animation -> :class:`Trajectory`), and BEGIN_BLOCK_DATAGRID_3D ... one or more
``BEGIN_DATAGRID_3D_<name>`` (``nx ny nz``, origin, three spanning vectors, values x fastest,
``END_DATAGRID_3D``) ... END_BLOCK_DATAGRID_3D. Every grid becomes a :class:`Grid` keyed by its
name (``grid_<n>`` when unnamed, ``_2``... appended to repeated names).

Grid placement. XSF grids are "general": they include the end point, so n samples span the
spanning vectors with step span/(n-1).

* spanning vectors equal to the cell (PRIMVEC): the last sample on each axis repeats the first
  one; it is dropped and the grid is periodic (``periodic=True``, step cell/(n-1));
* spanning vectors equal to cell*(n+1)/n: ASE's ``write_xsf`` writes the periodic grid itself
  (no repeated point) with these vectors; kept whole, periodic, step cell/n (``meta`` says so);
* anything else: a box, ``periodic=False``, step span/(n-1), origin as given.

Units: the format has none. Lengths are Angstrom by definition; values are "whatever the
writer wrote" (Quantum ESPRESSO's pp.x: e/Bohr^3 for densities, VESTA: as its source): units
"" and ``kind`` "density" unless ``kind=``/``units=`` say otherwise; ``meta["units_known"]``
is False. XSF forces (Hartree/Angstrom) are not read.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from core.errors import BadInputError
from core.geometry import Volume
from materials_pipeline.data import DensityFile, Grid, Structure, Trajectory
from materials_pipeline.readers._common import Lines, open_buffer, parse_grid

__all__ = ["read_xsf", "KEYWORDS"]

KEYWORDS = ("ANIMSTEPS", "CRYSTAL", "SLAB", "POLYMER", "MOLECULE", "PRIMVEC", "CONVVEC",
            "PRIMCOORD", "CONVCOORD", "ATOMS", "BEGIN_BLOCK_DATAGRID_3D",
            "BEGIN_BLOCK_DATAGRID3D", "BEGIN_BLOCK_DATAGRID_2D", "BEGIN_BLOCK_DATAGRID2D",
            "BEGIN_INFO", "INFO", "DIM-GROUP")

_BLOCK3D = re.compile(rb"^BEGIN_BLOCK_DATAGRID_?3D", re.I)
_BLOCK2D = re.compile(rb"^BEGIN_BLOCK_DATAGRID_?2D", re.I)
_GRID3D = re.compile(rb"^(?:BEGIN_)?DATAGRID_?3D_?(.*)$", re.I)
_END_GRID = re.compile(rb"^END_DATAGRID_?3D", re.I)
_END_BLOCK = re.compile(rb"^END_BLOCK_DATAGRID_?3D", re.I)


def _is_keyword(line: bytes) -> bool:
    tok = line.split(None, 1)[0].upper() if line.split() else b""
    return tok.decode("latin-1") in KEYWORDS or tok.startswith(
        (b"BEGIN_", b"END_", b"DATAGRID"))


def _atom(tokens: list[bytes], path, lineno: int) -> tuple[int, list[float]]:
    from ase.data import atomic_numbers

    if len(tokens) < 4:
        raise BadInputError(f"{path}: line {lineno}: expected an atom 'Z x y z', got "
                            f"{b' '.join(tokens).decode('latin-1')[:60]!r}")
    t0 = tokens[0].decode("latin-1")
    if t0.lstrip("+-").isdigit():
        z = int(t0)
    else:
        sym = t0[:1].upper() + t0[1:].lower()
        if sym not in atomic_numbers:
            raise BadInputError(f"{path}: line {lineno}: unknown element {t0!r}")
        z = atomic_numbers[sym]
    try:
        xyz = [float(t) for t in tokens[1:4]]
    except ValueError:
        raise BadInputError(f"{path}: line {lineno}: bad coordinates in "
                            f"{b' '.join(tokens).decode('latin-1')[:60]!r}") from None
    return z, xyz


def _structure(numbers: list[int], pos: list[list[float]], cell, pbc) -> Structure:
    from ase.data import chemical_symbols

    syms = [chemical_symbols[z] if 0 <= z < len(chemical_symbols) else "X" for z in numbers]
    c = np.zeros((3, 3)) if cell is None else cell
    return Structure(syms, np.array(pos, dtype=np.float64).reshape(-1, 3), c, pbc,
                     np.array(numbers, dtype=np.int64))


def _grid_placement(shape, origin, span, cell, name, path):
    """(values slicer, affine, periodic, note)."""
    shape_a = np.array(shape, dtype=np.float64)
    if cell is not None:
        tol = 1e-4 * max(1.0, float(np.abs(cell).max()))
        if np.allclose(span, cell, atol=tol):
            per_shape = tuple(n - 1 for n in shape)
            if min(per_shape) < 1:
                raise BadInputError(f"{path}: grid {name!r} has fewer than 2 points on an axis")
            aff = Volume.affine_from_cell(cell, per_shape, origin=origin, periodic=True)
            return (slice(0, -1),) * 3, aff, True, "general grid, repeated end point dropped"
        if np.allclose(span, cell * ((shape_a + 1) / shape_a)[:, None], atol=tol):
            aff = Volume.affine_from_cell(cell, tuple(shape), origin=origin, periodic=True)
            return (slice(None),) * 3, aff, True, "ASE write_xsf convention (periodic grid)"
    div = np.maximum(shape_a - 1, 1)
    aff = np.eye(4)
    aff[:3, :3] = (span / div[:, None]).T
    aff[:3, 3] = origin
    return (slice(None),) * 3, aff, False, "general grid (box), step span/(n-1)"


# long: one pass over an (A)XSF file's sections, the parser's state in locals
def read_xsf(path: str | os.PathLike, *, kind: str = "density", units: str = "",
             threads: int | None = None, structure_only: bool = False, index: int = -1
             ) -> DensityFile | Structure | Trajectory:
    """Read an XSF/AXSF file: a DensityFile if it holds 3-D grids, else a Trajectory for
    ANIMSTEPS files, else a Structure (see the module notes on grids and units)."""
    p = Path(path)
    label = p.name
    frames: list[Structure] = []
    grids: dict[str, Grid] = {}
    notes: dict[str, str] = {}
    nsteps = None
    pbc = (False, False, False)
    cell: np.ndarray | None = None
    saw_any = False

    with open_buffer(p) as buf:
        ln = Lines(buf)
        line = ln.next()
        while line is not None:
            s = line.strip()
            if not s or s.startswith(b"#"):
                line = ln.next()
                continue
            key = s.split()[0].upper()
            if key == b"ANIMSTEPS":
                saw_any = True
                try:
                    nsteps = int(s.split()[1])
                except (IndexError, ValueError):
                    raise BadInputError(f"{label}: line {ln.lineno}: bad ANIMSTEPS line") from None
            elif key in (b"CRYSTAL", b"SLAB", b"POLYMER", b"MOLECULE"):
                saw_any = True
                pbc = {b"CRYSTAL": (True, True, True), b"SLAB": (True, True, False),
                       b"POLYMER": (True, False, False), b"MOLECULE": (False, False, False)}[key]
            elif key in (b"PRIMVEC", b"CONVVEC"):
                saw_any = True
                vecs = []
                for _ in range(3):
                    v = ln.next_nonblank()
                    try:
                        vals = [float(t) for t in (v or b"").split()[:3]]
                    except ValueError:
                        vals = []
                    if len(vals) != 3:
                        raise BadInputError(f"{label}: line {ln.lineno}: expected a {key.decode()} "
                                            "vector 'x y z'")
                    vecs.append(vals)
                if key == b"PRIMVEC":
                    cell = np.array(vecs, dtype=np.float64)
            elif key in (b"PRIMCOORD", b"CONVCOORD"):
                saw_any = True
                head = ln.next_nonblank()
                try:
                    nat = int((head or b"").split()[0])
                except (IndexError, ValueError):
                    raise BadInputError(f"{label}: line {ln.lineno}: expected 'natoms 1' after "
                                        f"{key.decode()}") from None
                nums, pos = [], []
                for _ in range(nat):
                    a = ln.next_nonblank()
                    if a is None:
                        raise BadInputError(f"{label}: file ends inside {key.decode()} "
                                            f"({nat} atoms expected)")
                    z, xyz = _atom(a.split(), label, ln.lineno)
                    nums.append(z)
                    pos.append(xyz)
                if key == b"PRIMCOORD":
                    frames.append(_structure(nums, pos, cell, pbc))
            elif key == b"ATOMS":
                saw_any = True
                nums, pos = [], []
                while True:
                    nxt = ln.peek()
                    if nxt is None:
                        break
                    t = nxt.strip()
                    if not t or t.startswith(b"#"):
                        ln.next()
                        continue
                    if _is_keyword(t):
                        break
                    ln.next()
                    z, xyz = _atom(t.split(), label, ln.lineno)
                    nums.append(z)
                    pos.append(xyz)
                frames.append(_structure(nums, pos, cell, pbc))
            elif _BLOCK3D.match(key):
                saw_any = True
                if structure_only:
                    break
                ln.next_nonblank()  # the block's name
                while True:
                    g = ln.next_nonblank()
                    if g is None:
                        raise BadInputError(f"{label}: file ends inside a DATAGRID_3D block")
                    gs = g.strip()
                    if _END_BLOCK.match(gs):
                        break
                    m = _GRID3D.match(gs)
                    if not m:
                        raise BadInputError(f"{label}: line {ln.lineno}: expected "
                                            f"BEGIN_DATAGRID_3D_<name>, got "
                                            f"{gs.decode('latin-1')[:60]!r}")
                    name = m.group(1).decode("utf-8", "replace").strip() or f"grid_{len(grids) + 1}"
                    base, k = name, 2
                    while name in grids:
                        name, k = f"{base}_{k}", k + 1
                    dims_line = ln.next_nonblank()
                    try:
                        shape = tuple(int(t) for t in (dims_line or b"").split()[:3])
                    except ValueError:
                        shape = ()
                    if len(shape) != 3 or min(shape) < 1:
                        raise BadInputError(f"{label}: line {ln.lineno}: grid {name!r}: expected "
                                            "'nx ny nz'")
                    vecs = []
                    for _ in range(4):
                        v = ln.next_nonblank()
                        try:
                            vec = [float(t) for t in (v or b"").split()[:3]]
                        except ValueError:
                            vec = []
                        if len(vec) != 3:
                            raise BadInputError(f"{label}: line {ln.lineno}: grid {name!r}: "
                                                "expected the origin and 3 spanning vectors")
                        vecs.append(vec)
                    origin = np.array(vecs[0])
                    span = np.array(vecs[1:])
                    count = shape[0] * shape[1] * shape[2]
                    grid_shape = (shape[0], shape[1], shape[2])
                    values, end = parse_grid(buf, ln.pos, grid_shape, path=label,
                                           what=f"grid {name!r}", threads=threads)
                    ln.pos = end
                    tail = ln.next_nonblank()
                    if tail is None or not _END_GRID.match(tail.strip()):
                        got = "end of file" if tail is None else repr(
                            tail.decode("latin-1").strip()[:40])
                        raise BadInputError(
                            f"{label}: grid {name!r}: expected END_DATAGRID_3D after "
                            f"{count} = {'x'.join(map(str, shape))} values, got {got} "
                            "(wrong grid dimensions?)")
                    sl, aff, periodic, note = _grid_placement(shape, origin, span, cell,
                                                              name, label)
                    if sl[0] != slice(None):
                        values = np.ascontiguousarray(values[sl])
                    grids[name] = Grid(name, values, aff, units,
                                       periodic=periodic, signed=kind != "density")
                    notes[name] = note
            elif _BLOCK2D.match(key) or key in (b"BEGIN_INFO", b"INFO"):
                saw_any = True
                end_re = re.compile(rb"^END_(BLOCK_DATAGRID_?2D|INFO)", re.I)
                while True:
                    info = ln.next()
                    if info is None or end_re.match(info.strip()):
                        break
            else:
                raise BadInputError(f"{label}: line {ln.lineno}: unexpected "
                                    f"{s.decode('latin-1')[:60]!r} (not an XSF keyword)")
            line = ln.next()
    if not saw_any:
        raise BadInputError(f"{label}: no XSF keywords (CRYSTAL, PRIMVEC, ATOMS, "
                            "BEGIN_BLOCK_DATAGRID_3D ...)")
    if not frames and cell is not None:
        frames.append(_structure([], [], cell, pbc))
    if structure_only:
        if not frames:
            raise BadInputError(f"{label}: no atoms or cell in this XSF file")
        return frames[index]
    if grids:
        structure = frames[-1] if frames else _structure([], [], None, pbc)
        meta = {"grid_notes": notes, "units_known": bool(units), "animation_steps": nsteps,
                "frames": len(frames)}
        return DensityFile(str(p), "xsf", structure, grids, kind, meta)
    if nsteps is not None:
        if nsteps != len(frames):
            raise BadInputError(f"{label}: ANIMSTEPS {nsteps} but {len(frames)} frames found "
                                "(truncated?)")
        return Trajectory(str(p), "xsf", frames)
    if not frames:
        raise BadInputError(f"{label}: no atoms, cell or grid in this XSF file")
    return frames[-1]
