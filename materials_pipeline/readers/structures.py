"""Structures and trajectories: POSCAR/CONTCAR, XDATCAR (ours), extended XYZ and ASE .traj (ase.io).

* POSCAR/CONTCAR: the header parser of :mod:`materials_pipeline.readers.vasp` (VASP 4/5/6,
  suffixed species, selective dynamics, Direct/Cartesian, negative or per-axis scale);
  velocities and predictor-corrector blocks after the positions are ignored.
* XDATCAR: constant cell (one header, then ``Direct configuration= N`` blocks) and variable
  cell (a header before every block); each block's coordinates go through the compiled float
  parser. No times in the format (``times_fs`` None; VASP's POTIM is not in the file).
* extxyz and ``.traj``: ase.io (correct and fast enough); frames become our Structures.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from core.errors import BadInputError
from materials_pipeline.data import Structure, Trajectory
from materials_pipeline.readers._common import Lines, line_of, open_buffer, parse_floats
from materials_pipeline.readers.vasp import parse_poscar_header

__all__ = ["read_poscar", "read_xdatcar", "read_ase"]


def read_poscar(path: str | os.PathLike, *, species: list[str] | None = None,
                structure_only: bool = True, threads: int | None = None) -> Structure:
    """A POSCAR/CONTCAR (``species=`` names the elements of a VASP 4 file without them;
    ``structure_only`` and ``threads`` are accepted for a uniform reader interface)."""
    p = Path(path)
    with open_buffer(p) as buf:
        return parse_poscar_header(buf, p, species=species).structure()


def read_xdatcar(path: str | os.PathLike, *, species: list[str] | None = None,
                 structure_only: bool = False, index: int = -1, threads: int | None = None
                 ) -> Trajectory | Structure:
    """An XDATCAR as a :class:`Trajectory` (frame ``index`` only with ``structure_only``)."""
    p = Path(path)
    label = p.name
    frames: list[Structure] = []
    numbers: list[int] = []
    with open_buffer(p) as buf:
        ln = Lines(buf)
        hdr = parse_poscar_header(buf, p, species=species, with_positions=False, lines=ln)
        symbols = hdr.symbols
        natoms = hdr.natoms
        cell = hdr.cell
        while True:
            start, start_no = ln.pos, ln.lineno
            line = ln.next()
            if line is None:
                break
            s = line.strip()
            if not s:
                continue
            low = s.lower()
            if b"configuration" in low or low.startswith((b"direct", b"cartesian")):
                direct = not low.startswith((b"c", b"k"))
                try:
                    numbers.append(int(s.split(b"=")[-1]))
                except ValueError:
                    numbers.append(len(frames) + 1)
                flat, end = parse_floats(buf, ln.pos, 3 * natoms, path=label,
                                         what=f"frame {len(frames) + 1} positions", threads=1)
                ln.pos = end
                ln.next()  # rest of the last line
                xyz = flat.reshape(natoms, 3)
                pos = xyz @ cell if direct else xyz
                frames.append(Structure(symbols, pos, cell.copy(), (True, True, True)))
            else:  # a variable-cell XDATCAR repeats the header before every block
                ln.pos, ln.lineno = start, start_no
                try:
                    hdr = parse_poscar_header(buf, p, species=species, with_positions=False,
                                              lines=ln)
                except BadInputError as e:
                    raise BadInputError(f"{label}: line {line_of(buf, start)}: expected "
                                        f"'Direct configuration=' or a new header ({e})"
                                        ) from None
                if hdr.natoms != natoms or hdr.symbols != symbols:
                    raise BadInputError(f"{label}: line {line_of(buf, start)}: the atoms change "
                                        f"between frames ({natoms} -> {hdr.natoms})")
                cell = hdr.cell
    if not frames:
        raise BadInputError(f"{label}: no 'Direct configuration=' block (an XDATCAR without "
                            "frames, or a POSCAR?)")
    if structure_only:
        return frames[index]
    traj = Trajectory(str(p), "xdatcar", frames)
    return traj


def _to_structure(atoms) -> Structure:
    cell = np.asarray(atoms.cell.array if hasattr(atoms.cell, "array") else atoms.cell)
    pbc = (bool(atoms.pbc[0]), bool(atoms.pbc[1]), bool(atoms.pbc[2]))
    return Structure(atoms.get_chemical_symbols(), atoms.get_positions(), cell, pbc,
                     atoms.get_atomic_numbers())


def read_ase(path: str | os.PathLike, *, ase_format: str, structure_only: bool = False,
             index: int = -1, threads: int | None = None) -> Trajectory | Structure:
    """extxyz / ASE .traj through ase.io.read (all frames -> Trajectory)."""
    import ase.io

    p = Path(path)
    if p.is_dir():
        raise BadInputError(f"{p}: is a directory, not a file")
    if not p.exists():
        raise BadInputError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise BadInputError(f"{p}: empty file")
    try:
        images = ase.io.read(p, index=":", format=ase_format)
    except Exception as e:  # ase raises many kinds: one line naming the file
        raise BadInputError(f"{p}: cannot read as {ase_format}: {type(e).__name__}: {e}"
                            ) from None
    if not isinstance(images, list):
        images = [images]
    if not images:
        raise BadInputError(f"{p}: no frames")
    frames = [_to_structure(a) for a in images]
    if structure_only:
        return frames[index]
    times = None
    info_times = [a.info.get("time_fs") for a in images]
    if all(isinstance(t, int | float) for t in info_times):
        times = np.array(info_times, dtype=np.float64)
    return Trajectory(str(p), ase_format, frames, times)
