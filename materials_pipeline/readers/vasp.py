"""VASP files: the POSCAR header they share, and the volumetric ones (CHGCAR & co).

Volumetric files (CHGCAR, CHG, AECCAR0/1/2, PARCHG, LOCPOT, ELFCAR) are a POSCAR followed by
blocks of ``nx ny nz`` and ``nx*ny*nz`` values, x fastest (Fortran order), any number per line
(CHGCAR 5, CHG 10). CHGCAR blocks may be followed by "augmentation occupancies" blocks (PAW
one-centre data, skipped) and a line of per-atom magnetic moments; spin-polarized files have a
second block (the magnetization density, "up minus down"), non-collinear ones four (density and
magnetization x, y, z). Free text after a complete grid that is neither (some converters write
"augment ..." lines) is skipped up to the next grid of the same dimensions, with a
:class:`~materials_pipeline.readers._common.ReaderWarning` and a note in ``meta["warnings"]``.
So are zeros padding a grid's last line (some writers fill it to the values per line; at most
that many minus one, all zero: anything else after a grid stays an error).

Units (what :func:`read_volumetric` returns):

* CHGCAR, CHG, PARCHG, AECCAR*: VASP writes rho*V_cell; we divide by the cell volume:
  ``e/Angstrom^3`` (so ``values.sum() * grid.voxel_volume`` is the number of electrons).
* LOCPOT: eV, as written (kind "potential"). ELFCAR: dimensionless (kind "elf").

Grid names: ``density`` (+ ``magnetization`` | ``magnetization_x/_y/_z``; optional derived
``spin_up``/``spin_down``), ``potential`` (spin-polarized LOCPOTs hold spin up and down
potentials: ``potential`` is their mean, ``potential_up``/``potential_down`` the blocks), ``elf``
(``elf_up``/``elf_down`` when spin-polarized). ``DensityFile.main_grid()`` is always the first.

Headers: VASP 5/6 (species line, species with suffixes ``Fe_pv``, ``Fe/``, ``Fe_sv_GW/1a2b``
-> ``Fe``) and VASP 4 (no species line: the species come from ``species=``, the comment line or
a POTCAR next to the file, else an error says what is missing); selective dynamics; Direct or
Cartesian; a scale factor (negative: the cell volume) or three per-axis factors.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.errors import BadInputError
from core.geometry import Volume
from materials_pipeline.data import DensityFile, Grid, Structure
from materials_pipeline.readers._common import (
    Lines,
    ReaderWarning,
    line_of,
    open_buffer,
    parse_grid,
    skip_tokens,
)

__all__ = ["PoscarHeader", "parse_poscar_header", "read_volumetric", "clean_species",
           "FLAVOURS"]

# flavour -> (kind, divide by the cell volume, units)
FLAVOURS: dict[str, tuple[str, bool, str]] = {
    "chgcar": ("density", True, "e/Angstrom^3"),
    "chg": ("density", True, "e/Angstrom^3"),
    "parchg": ("density", True, "e/Angstrom^3"),
    "aeccar": ("density", True, "e/Angstrom^3"),
    "locpot": ("potential", False, "eV"),
    "elfcar": ("elf", False, ""),
}

_SPECIES_SPLIT = re.compile(r"[_/.:]")


def clean_species(token: str) -> str:
    """POTCAR-style species label -> element symbol: ``Fe_pv`` / ``Fe/`` / ``Fe_sv_GW/ab`` -> Fe."""
    base = _SPECIES_SPLIT.split(token.strip(), 1)[0]
    return base[:1].upper() + base[1:].lower()


def _is_element(sym: str) -> bool:
    from ase.data import atomic_numbers

    return sym in atomic_numbers and sym != "X"


def _floats(line: bytes, n: int, path, lineno: int, what: str) -> list[float]:
    toks = line.split()
    try:
        vals = [float(t.replace(b"D", b"E").replace(b"d", b"e")) for t in toks[:n]]
    except ValueError:
        vals = []
    if len(vals) < n:
        # fixed-width columns can touch ("123.456789-12.345678"): pick the numbers out
        found = re.findall(rb"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?", line)
        try:
            vals = [float(t.replace(b"D", b"E").replace(b"d", b"e")) for t in found[:n]]
        except ValueError:
            vals = []
    if len(vals) < n or not np.all(np.isfinite(vals)):
        text = line.decode("latin-1").strip()
        raise BadInputError(f"{path}: line {lineno}: expected {what} ({n} numbers), "
                            f"got {text[:60]!r}")
    return vals


@dataclass
class PoscarHeader:
    """The POSCAR part of a VASP file, parsed."""

    comment: str
    cell: np.ndarray  # rows a, b, c in Angstrom (scale applied)
    species: list[str]  # per type, cleaned
    counts: list[int]
    positions: np.ndarray  # Cartesian Angstrom
    vasp5: bool  # species line present
    selective_dynamics: bool
    direct: bool
    end: int  # byte offset just after the last position line
    lineno: int  # line number of the last header line read
    species_source: str = "species line"
    raw_species: list[str] = field(default_factory=list)

    @property
    def symbols(self) -> list[str]:
        return [s for s, c in zip(self.species, self.counts, strict=True) for _ in range(c)]

    @property
    def natoms(self) -> int:
        return int(sum(self.counts))

    def structure(self) -> Structure:
        return Structure(self.symbols, self.positions, self.cell, (True, True, True))


def _potcar_species(path: Path) -> list[str] | None:
    pot = path.parent / "POTCAR"
    if not pot.is_file():
        return None
    try:
        text = pot.read_text(errors="replace")
    except OSError:
        return None
    found = re.findall(r"TITEL\s*=\s*\S+\s+(\S+)", text)
    return [clean_species(s) for s in found] or None


def _comment_species(comment: str, ntypes: int) -> list[str] | None:
    toks = [re.sub(r"[^A-Za-z]", "", t) for t in comment.split()]
    toks = [t[:1].upper() + t[1:].lower() for t in toks if t]
    if len(toks) >= ntypes and all(_is_element(t) for t in toks[:ntypes]):
        return toks[:ntypes]
    # a formula: "FeO", "Fe2O3", "Si8 bulk"
    out: list[str] = []
    for tok in comment.split():
        parts = re.findall(r"([A-Z][a-z]?)(\d*\.?\d*)", tok)
        if parts and "".join(a + b for a, b in parts) == tok and all(
                _is_element(a) for a, _ in parts):
            out.extend(a for a, _ in parts if a not in out)
    return out if len(out) == ntypes else None


def _scale_cell(lattice: np.ndarray, scale: list[float], path, lineno: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """(cell, per-axis factor for Cartesian positions)."""
    if len(scale) == 3:
        s = np.array(scale, dtype=np.float64)
        if np.any(s <= 0):
            raise BadInputError(f"{path}: line {lineno}: per-axis scale factors must be "
                                f"positive, got {scale}")
        return lattice * s[None, :], s
    s0 = scale[0]
    if s0 == 0:
        raise BadInputError(f"{path}: line {lineno}: scale factor is 0")
    if s0 < 0:  # the cell volume
        v0 = abs(np.linalg.det(lattice))
        if v0 <= 0:
            raise BadInputError(f"{path}: the lattice vectors are linearly dependent")
        s0 = (-s0 / v0) ** (1.0 / 3.0)
    return lattice * s0, np.full(3, s0)


# long: the POSCAR header in file order, each line checked where it is read
def parse_poscar_header(buf, path, *, species: list[str] | None = None, pos: int = 0,
                        with_positions: bool = True, lines: Lines | None = None,
                        check_species: bool = True) -> PoscarHeader:
    """Parse a POSCAR (or the POSCAR part of a CHGCAR/XDATCAR) from byte ``pos``.

    ``with_positions=False`` stops after the counts line (XDATCAR); ``check_species=False``
    names unresolved VASP 4 species "X" instead of failing.
    """
    ln = lines if lines is not None else Lines(buf, pos)

    def need(what: str) -> bytes:
        line = ln.next()
        if line is None:
            raise BadInputError(f"{path}: file ends at line {ln.lineno} before {what} "
                                "(not a VASP file, or truncated)")
        return line

    comment = need("the comment line").decode("utf-8", "replace").strip()
    scale_line = need("the scale factor")
    toks = scale_line.split()
    scale: list[float] = []
    for t in toks[:3]:
        try:
            scale.append(float(t))
        except ValueError:
            break
    if len(scale) == 2:
        scale = scale[:1]
    if not scale:
        raise BadInputError(f"{path}: line {ln.lineno}: expected the scale factor, got "
                            f"{scale_line.decode('latin-1').strip()[:60]!r}")
    lat = np.array([_floats(need("the lattice vectors"), 3, path, ln.lineno,
                            f"lattice vector {'abc'[i]}") for i in range(3)])
    cell, axis_scale = _scale_cell(lat, scale, path, ln.lineno)
    if abs(np.linalg.det(cell)) < 1e-12:
        raise BadInputError(f"{path}: the lattice vectors are linearly dependent (zero volume)")

    line6 = need("the species or counts line")
    toks6 = line6.split()
    vasp5 = bool(toks6) and not toks6[0].lstrip(b"+-").isdigit()
    raw_species: list[str] = []
    if vasp5:
        raw_species = [t.decode("utf-8", "replace") for t in toks6]
        counts_line = need("the atom counts")
    else:
        counts_line = line6
    try:
        counts = [int(t) for t in counts_line.split()]
    except ValueError:
        counts = []
    if not counts or any(c < 0 for c in counts):
        raise BadInputError(f"{path}: line {ln.lineno}: expected the atom counts per species, "
                            f"got {counts_line.decode('latin-1').strip()[:60]!r}")
    if vasp5:
        # the species line may carry more tokens (comments): keep as many as there are counts
        if len(raw_species) < len(counts):
            raise BadInputError(f"{path}: species line names {len(raw_species)} species, the "
                                f"counts line has {len(counts)} numbers")
        raw_species = raw_species[:len(counts)]
        spec = [clean_species(s) for s in raw_species]
        source = "species line"
    else:
        spec, source = None, ""
        if species is not None:
            spec, source = [clean_species(s) for s in species], "species argument"
        if spec is None:
            spec = _comment_species(comment, len(counts))
            source = "comment line"
        if spec is None and path is not None and not isinstance(path, bytes):
            spec = _potcar_species(Path(path))
            source = "POTCAR"
        if (spec is None or len(spec) != len(counts)) and not check_species:
            spec, source = ["X"] * len(counts), "unresolved"
        if spec is None or len(spec) != len(counts):
            raise BadInputError(
                f"{path}: VASP 4 header without a species line: the {len(counts)} species "
                f"are named neither by the comment line {comment[:50]!r} nor by a POTCAR next "
                f"to the file; pass species=[...] (e.g. species={['Fe', 'O'][:len(counts)]})")
        raw_species = list(spec)
    assert spec is not None
    hdr = PoscarHeader(comment, cell, spec, counts, np.zeros((0, 3)), vasp5, False, True,
                       ln.pos, ln.lineno, source, raw_species)
    if not with_positions:
        return hdr
    mode = need("the coordinate mode (Direct/Cartesian)")
    if mode.strip()[:1] in (b"S", b"s"):
        hdr.selective_dynamics = True
        mode = need("the coordinate mode (Direct/Cartesian)")
    hdr.direct = mode.strip()[:1] not in (b"C", b"c", b"K", b"k")
    n = hdr.natoms
    pos_arr = np.empty((n, 3))
    for i in range(n):
        pos_arr[i] = _floats(need(f"the position of atom {i + 1} of {n}"), 3, path,
                             ln.lineno, f"the position of atom {i + 1}")
    hdr.positions = pos_arr @ cell if hdr.direct else pos_arr * axis_scale[None, :]
    hdr.end, hdr.lineno = ln.pos, ln.lineno
    return hdr


def _dims(line: bytes) -> tuple[int, int, int] | None:
    toks = line.split()
    if len(toks) == 3 and all(t.isdigit() for t in toks):
        d = tuple(int(t) for t in toks)
        return d if all(x > 0 for x in d) else None  # type: ignore[return-value]
    return None


def _grid_names(kind: str, n: int) -> list[str]:
    if kind == "density":
        names = {1: ["density"], 2: ["density", "magnetization"],
                 4: ["density", "magnetization_x", "magnetization_y", "magnetization_z"]}
    elif kind == "potential":
        names = {1: ["potential"], 2: ["potential_up", "potential_down"],
                 4: ["potential", "potential_x", "potential_y", "potential_z"]}
    elif kind == "elf":
        names = {1: ["elf"], 2: ["elf_up", "elf_down"],
                 4: ["elf", "elf_x", "elf_y", "elf_z"]}
    else:
        names = {1: [kind]}
    return names.get(n, [f"{kind}_{i}" if i else kind for i in range(n)])


# long: one loop over a CHGCAR's blocks (grids, augmentation, moments, images, text)
def _read_blocks(buf, hdr: PoscarHeader, label: str, flavour: str, divisor: float,
                 threads: int | None, parse: bool = True):
    """The grids after a header: (blocks, augmentation blocks skipped, magnetic-moment lines,
    offset of the next image's header or None)."""
    ln = Lines(buf, hdr.end, hdr.lineno)
    first = ln.next_nonblank()
    dims = _dims(first) if first is not None else None
    if dims is None:
        got = "the end of the file" if first is None else repr(
            first.decode("latin-1").strip()[:60])
        raise BadInputError(
            f"{label}: expected the grid dimensions 'nx ny nz' after the {hdr.natoms} atom "
            f"positions (line {ln.lineno}), got {got} (a POSCAR/CONTCAR, or a truncated "
            f"{flavour.upper()}?)")
    blocks: list[tuple[np.ndarray | None, tuple[int, int, int]]] = []
    magmom_lines: list[str] = []
    notes: list[str] = []
    n_aug = 0
    next_pos = None
    while dims is not None:
        g = len(blocks) + 1
        count = dims[0] * dims[1] * dims[2]
        gstart = ln.pos
        if parse:
            vals, end = parse_grid(buf, ln.pos, dims, path=label, what=f"grid {g}",
                                   divisor=divisor, threads=threads)
            blocks.append((vals, dims))
        else:
            end = skip_tokens(buf, ln.pos, count, path=label, what=f"grid {g}")
            blocks.append((None, dims))
        ln.pos = end
        # what follows: the rest of the last data line, augmentation blocks, a line of
        # magnetic moments, the next grid's dimensions, the next image, or the end
        dims = None
        extra = 0
        rest = ln.next()
        if rest is not None and rest.strip():
            pad = _zero_padding(buf, gstart, end, rest)
            if pad:  # the writer filled the grid's last line with zeros (pymatgen reads it)
                msg = (f"{label}: line {line_of(buf, end)}: dropped {pad} zero value(s) "
                       f"padding the last line of grid {g} "
                       f"({'x'.join(map(str, blocks[-1][1]))} = {count} values)")
                notes.append(msg)
                warnings.warn(msg, ReaderWarning, stacklevel=3)
            else:
                extra += len(rest.split())
        while True:
            start = ln.pos
            line = ln.next()
            if line is None:
                break
            s = line.strip()
            if not s:
                continue
            if s.startswith(b"augmentation occupancies"):
                try:
                    naug = int(s.split()[-1])
                except ValueError:
                    raise BadInputError(
                        f"{label}: line {line_of(buf, start)}: bad augmentation header "
                        f"{s.decode('latin-1')[:60]!r}") from None
                ln.pos = skip_tokens(buf, ln.pos, naug, path=label,
                                     what=f"augmentation block after grid {g}")
                n_aug += 1
                continue
            d = _dims(s)
            if d is not None:
                dims = d
                break
            toks = s.split()
            try:
                [float(t.replace(b"D", b"E")) for t in toks]
            except ValueError:
                # the next image of a multi-image CHG starts with its comment line
                if _header_follows(buf, start):
                    next_pos = start
                    break
                # free text after a complete grid (some converters write "augment ..." lines
                # instead of VASP's "augmentation occupancies" blocks): skip it up to the next
                # grid of the same dimensions, or the end, and say so
                first_line = line_of(buf, start)
                dims, nskip = _skip_free_text(ln, blocks[-1][1])
                msg = (f"{label}: line {first_line}: skipped {nskip} line(s) of unrecognised "
                       f"text after grid {g} (starting {s.decode('latin-1')[:40]!r}); "
                       f"{'reading the next grid' if dims else f'kept {g} grid(s)'}")
                notes.append(msg)
                warnings.warn(msg, ReaderWarning, stacklevel=3)
                break
            extra += len(toks)
            if extra <= 3 * hdr.natoms:
                magmom_lines.append(s.decode("latin-1"))
        if extra not in (0, hdr.natoms, 3 * hdr.natoms):
            raise BadInputError(
                f"{label}: {extra} values after grid {g} beyond its {count} = "
                f"{'x'.join(map(str, blocks[-1][1]))} (wrong grid dimensions?)")
        if next_pos is not None:
            break
    return blocks, n_aug, magmom_lines, next_pos, notes


def _zero_padding(buf, start: int, end: int, rest: bytes) -> int:
    """How many zeros pad the last line of the grid whose values run from byte ``start`` to
    ``end`` (``rest``: the remainder of that line): 0 unless every value in ``rest`` is zero
    and the line holds no more values than the grid's first line (a writer that fills its
    last line: at most values-per-line - 1 zeros; VASP writes 5 per line, or 10)."""
    toks = rest.split()
    try:
        if any(float(t.replace(b"D", b"E").replace(b"d", b"e")) != 0.0 for t in toks):
            return 0
    except ValueError:
        return 0
    per_line = len((Lines(buf, start).next_nonblank() or b"").split())
    on_line = len(bytes(buf[buf.rfind(b"\n", 0, end) + 1:end]).split())
    return len(toks) if 0 < on_line and on_line + len(toks) <= per_line else 0


def _skip_free_text(ln: Lines, dims: tuple[int, int, int]
                    ) -> tuple[tuple[int, int, int] | None, int]:
    """Skip lines up to one holding ``nx ny nz`` equal to ``dims`` (the next grid of a spin
    or non-collinear file; consumed) or the end: (those dims or None, lines skipped)."""
    n = 1
    while (line := ln.next()) is not None:
        if _dims(line) == dims:
            return dims, n
        n += 1
    return None, n


def _header_follows(buf, pos: int) -> bool:
    try:
        parse_poscar_header(buf, "<image>", pos=pos, check_species=False)
    except BadInputError:
        return False
    return True


# long: a VASP volumetric file: header, blocks, then its grids by flavour
def read_volumetric(path: str | os.PathLike, flavour: str = "chgcar", *,
                    kind: str | None = None, species: list[str] | None = None,
                    spin_channels: bool = False, raw: bool = False, image: int = -1,
                    threads: int | None = None, structure_only: bool = False
                    ) -> DensityFile | Structure:
    """Read a CHGCAR, CHG, AECCAR, PARCHG, LOCPOT or ELFCAR into a :class:`DensityFile`.

    * ``flavour``: which of them (the registry passes it; it decides kind and units).
    * ``kind``: override the quantity ("density", "potential", "elf") for odd file names.
    * ``species``: element symbols for VASP 4 headers without a species line.
    * ``spin_channels``: also return ``spin_up = (rho + m)/2`` and ``spin_down = (rho - m)/2``
      for spin-polarized densities.
    * ``raw``: keep VASP's numbers (rho*V for densities; units then say so).
    * ``image``: which image of a multi-image file (VASP's CHG from MD holds one per NBLOCK
      steps, each with its own header); default the last; ``meta["images"]`` counts them.
    * ``threads``: parser threads for large grids (default: the CPUs we may use, at most 4).
    * ``structure_only``: parse the header only and return the :class:`Structure`.
    """
    p = Path(path)
    if flavour not in FLAVOURS:
        raise BadInputError(f"{p}: unknown VASP volumetric flavour {flavour!r}; "
                            f"known: {', '.join(FLAVOURS)}")
    fkind, divide, units = FLAVOURS[flavour]
    kind = kind or fkind
    if kind != fkind:
        divide, units = (True, "e/Angstrom^3") if kind == "density" else (False, "")
        if kind == "potential":
            units = "eV"
    label = p.name
    with open_buffer(p) as buf:
        hdr = parse_poscar_header(buf, p, species=species)
        if structure_only:  # the (first) header: no need to look at the grids
            return hdr.structure()
        n_images = 0
        while True:  # VASP's CHG from MD runs holds one image (header + grids) per block
            keep = image < 0 or n_images == image
            volume = abs(float(np.linalg.det(hdr.cell)))
            divisor = volume if (divide and not raw) else 1.0
            blocks, n_aug, magmom_lines, next_pos, notes = _read_blocks(
                buf, hdr, label, flavour, divisor, threads, parse=keep)
            n_images += 1
            if keep:
                kept = (hdr, blocks, n_aug, magmom_lines, volume, divisor, notes)
            if next_pos is None or (image >= 0 and n_images > image):
                break
            hdr = parse_poscar_header(buf, p, species=hdr.raw_species if not hdr.vasp5 else
                                      species, pos=next_pos)
    if image >= n_images:
        raise BadInputError(f"{label}: image {image} requested, the file holds {n_images}")
    hdr, blocks, n_aug, magmom_lines, volume, divisor, notes = kept
    structure = hdr.structure()
    if raw and divide:
        units = "e (rho*V_cell, as written by VASP)"
    names = _grid_names(kind, len(blocks))
    spin = {1: "none", 2: "collinear", 4: "noncollinear"}.get(len(blocks), "unknown")
    grids: dict[str, Grid] = {}
    for name, (vals, shape) in zip(names, blocks, strict=True):
        assert vals is not None
        signed = name.startswith(("magnetization", "potential")) or kind == "potential"
        grids[name] = Grid(name, vals, Volume.affine_from_cell(hdr.cell, shape, periodic=True),
                           units, periodic=True, signed=signed)
    if kind == "potential" and len(blocks) == 2:
        up, down = grids["potential_up"], grids["potential_down"]
        mean = (up.values + down.values) * 0.5
        grids = {"potential": Grid("potential", mean, up.affine, units, True, True), **grids}
    if spin_channels and kind == "density" and len(blocks) == 2:
        rho, mag = grids["density"], grids["magnetization"]
        grids["spin_up"] = Grid("spin_up", (rho.values + mag.values) * 0.5, rho.affine, units)
        grids["spin_down"] = Grid("spin_down", (rho.values - mag.values) * 0.5, rho.affine,
                                  units)
    meta = {
        "comment": hdr.comment,
        "flavour": flavour,
        "header": "vasp5" if hdr.vasp5 else "vasp4",
        "species_source": hdr.species_source,
        "species_labels": hdr.raw_species,
        "spin": spin,
        "selective_dynamics": hdr.selective_dynamics,
        "augmentation_blocks_skipped": n_aug,
        "divided_by": divisor,
        "cell_volume": volume,
        "images": n_images,
    }
    if magmom_lines:
        meta["magmom_lines"] = magmom_lines
    if notes:
        meta["warnings"] = notes
    if flavour == "aeccar":
        m = re.search(r"AECCAR(\d)", p.name.upper())
        if m:
            meta["aeccar"] = {"0": "core", "1": "atomic", "2": "valence"}.get(m.group(1), "")
    return DensityFile(str(p), flavour, structure, grids, kind, meta)
