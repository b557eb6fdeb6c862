"""VASP 6 HDF5 output: ``vaspout.h5`` (structure, trajectory, potential) and the charge density
VASP stores in ``vaspwave.h5`` (LCHARGH5) next to it.

Layout (as py4vasp reads it, ``py4vasp/_raw/definition.py``):

* species: ``results/positions/ion_types`` (bytes) and ``results/positions/number_ion_types``;
* structure per ionic step: ``intermediate/ion_dynamics/position_ions`` (steps x atoms x 3,
  fractional, or atoms x 3), ``intermediate/ion_dynamics/lattice_vectors`` (steps x 3 x 3 or
  3 x 3) times the scalar ``intermediate/ion_dynamics/scale`` (1 when absent); the final
  structure (CONTCAR's) in ``results/positions/{position_ions,lattice_vectors,scale}`` (VASP
  >= 6.5) is the one a density comes with when present;
* charge density: ``charge/charge`` (components x nz x ny x nx: 1 total; 2 total and
  magnetization; 4 total and magnetization x, y, z), in ``vaspwave.h5`` (or the file itself);
* local potential (VASP >= 6.5, WRT_POTENTIAL): ``results/potential/{total,hartree,ionic,xc}``
  (components x nz x ny x nx, eV; collinear: up = p0 + p1, down = p0 - p1); WRT_POTENTIAL may
  write any of them alone.

What is drawn by default: the charge density when stored; else a potential, the first stored
of :data:`POTENTIALS` (total, hartree, ionic, xc), as a signed field, with a warning
(``meta["warnings"]`` and a :class:`~materials_pipeline.readers._common.ReaderWarning`) naming
it; else no grid: the structure (or the ionic steps) with a warning that says so.

Units: the density arrays are taken to hold what CHGCAR holds (rho*V_cell, VASP's internal
real-space convention) and are divided by the cell volume -> e/Angstrom^3; ``raw=True`` keeps
them. This is an assumption from VASP's conventions, not from a file written by VASP (none is
available here): check ``values.sum() * voxel_volume`` against NELECT on a real file.
"""

from __future__ import annotations

import importlib.util
import os
import warnings
from pathlib import Path

import numpy as np

from core.errors import BadInputError, MissingDependencyError
from core.geometry import Volume
from materials_pipeline.data import DensityFile, Grid, Structure, Trajectory
from materials_pipeline.readers._common import ReaderWarning
from materials_pipeline.readers.vasp import clean_species

__all__ = ["read_vaspout", "POTENTIALS"]

# results/potential/<part>, in the order of preference for the grid drawn (the first stored
# one is the DensityFile's main grid)
POTENTIALS = ("total", "hartree", "ionic", "xc")


def _h5py():
    if importlib.util.find_spec("h5py") is None:
        raise MissingDependencyError("reading vaspout.h5 needs h5py: pip install h5py")
    import h5py

    return h5py


def _get(f, key):
    return f[key][()] if key in f else None


def _species(f, path) -> list[str]:
    types = _get(f, "results/positions/ion_types")
    counts = _get(f, "results/positions/number_ion_types")
    if types is None or counts is None:
        raise BadInputError(f"{path}: not a VASP vaspout.h5: no results/positions/ion_types "
                            "and number_ion_types")
    names = [clean_species(t.decode() if isinstance(t, bytes) else str(t))
             for t in np.atleast_1d(types)]
    counts = [int(c) for c in np.atleast_1d(counts)]
    if len(names) != len(counts):
        raise BadInputError(f"{path}: {len(names)} ion types but {len(counts)} counts")
    return [s for s, c in zip(names, counts, strict=True) for _ in range(c)]


def _read_group(f, group, symbols, path) -> list[Structure] | None:
    pos = _get(f, f"{group}/position_ions")
    lat = _get(f, f"{group}/lattice_vectors")
    if pos is None or lat is None:
        return None
    scale = _get(f, f"{group}/scale")
    s = 1.0 if scale is None else float(np.asarray(scale).reshape(-1)[0])
    pos = np.asarray(pos, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64) * s
    if pos.ndim == 2:
        pos = pos[None]
    if lat.ndim == 2:
        lat = np.broadcast_to(lat, (len(pos), 3, 3))
    if pos.shape[1:] != (len(symbols), 3) or len(lat) != len(pos):
        raise BadInputError(f"{path}: {group}/position_ions has shape {pos.shape}, "
                            f"expected (steps, {len(symbols)}, 3)")
    return [Structure(symbols, q @ c, c.copy(), (True, True, True))
            for q, c in zip(pos, lat, strict=True)]


def _frames(f, path) -> tuple[list[Structure], Structure]:
    """(the ionic steps, the final structure)."""
    symbols = _species(f, path)
    steps = _read_group(f, "intermediate/ion_dynamics", symbols, path)
    final = _read_group(f, "results/positions", symbols, path)
    if steps is None and final is None:
        raise BadInputError(f"{path}: no structure (intermediate/ion_dynamics/position_ions "
                            "or results/positions/position_ions)")
    if steps is None:
        steps = final
    assert steps is not None
    return steps, (final[-1] if final else steps[-1])


def _grids_from(arr, names, cell, units, divisor, path, key) -> dict[str, Grid]:
    a = np.asarray(arr, dtype=np.float64)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4:
        raise BadInputError(f"{path}: {key} has shape {a.shape}, expected "
                            "(components, nz, ny, nx)")
    if not np.isfinite(a).all():
        raise BadInputError(f"{path}: {key} holds NaN or infinite values")
    out = {}
    for i, name in enumerate(names[: len(a)]):
        vals = np.ascontiguousarray(a[i].T)  # (nz, ny, nx) C -> values[x, y, z]
        if divisor != 1.0:
            vals /= divisor
        shape = (vals.shape[0], vals.shape[1], vals.shape[2])
        out[name] = Grid(name, vals, Volume.affine_from_cell(cell, shape, periodic=True),
                         units, periodic=True, signed=i > 0 or units == "eV")
    return out


# long: everything read inside one open vaspout.h5 (structure, trajectory, checks)
def read_vaspout(path: str | os.PathLike, *, quantity: str | None = None, raw: bool = False,
                 structure_only: bool = False, index: int = -1, threads: int | None = None
                 ) -> DensityFile | Structure | Trajectory:
    """Read a VASP 6 ``vaspout.h5`` (see the module notes for layout and units).

    ``quantity``: "charge", "potential" or "structure" (default: the charge density when
    stored, else the potential, else the structure, or the Trajectory of the ionic steps).
    ``index``: the ionic step for ``structure_only`` (default the final structure).
    """
    h5py = _h5py()
    p = Path(path)
    if p.is_dir():
        raise BadInputError(f"{p}: is a directory, not a file")
    if not p.exists():
        raise BadInputError(f"{p}: no such file")
    from core.integrity import check_hdf5

    check_hdf5(p)  # truncated? one line that says so, not HDF5's
    try:
        f = h5py.File(p, "r")
    except OSError as e:
        raise BadInputError(f"{p}: not a readable HDF5 file ({e})") from None
    with f:
        frames, structure = _frames(f, p)
        if structure_only:
            return structure if index == -1 else frames[index]
        cell, volume = structure.cell, structure.volume
        sources = [(f, p)]
        wave = p.with_name("vaspwave.h5")
        if wave.is_file() and wave != p:
            check_hdf5(wave)
            sources.append((h5py.File(wave, "r"), wave))
        try:
            charge_src = next(((g, q) for g, q in sources if "charge/charge" in g), None)
            pot_src = next((part for part in POTENTIALS
                            if f"results/potential/{part}" in f), None)
            want = quantity or ("charge" if charge_src else "potential" if pot_src else None)
            if want == "structure":
                want = None
            meta = {"steps": len(frames), "file_layout": "py4vasp schema"}
            notes: list[str] = []
            if quantity is None and want != "charge":  # say what is drawn instead, or not
                notes.append(
                    f"{p}: no charge density; drawing the {pot_src} potential as a signed "
                    "field" if pot_src else
                    f"{p}: no grid (no charge density in it or in vaspwave.h5 beside it, no "
                    "potential under results/potential): atoms and bonds only")
                for note in notes:
                    warnings.warn(note, ReaderWarning, stacklevel=2)
            if want == "charge":
                if charge_src is None:
                    raise BadInputError(f"{p}: no charge density (charge/charge) in it or in "
                                        "vaspwave.h5 next to it (set LCHARGH5 = T)")
                g, q = charge_src
                arr = g["charge/charge"][()]
                n = 1 if np.ndim(arr) == 3 else len(arr)
                names = {1: ["density"], 2: ["density", "magnetization"],
                         4: ["density", "magnetization_x", "magnetization_y",
                             "magnetization_z"]}.get(n, [f"density_{i}" for i in range(n)])
                units = "e (rho*V_cell)" if raw else "e/Angstrom^3"
                grids = _grids_from(arr, names, cell, units, 1.0 if raw else volume, q,
                                    "charge/charge")
                meta.update(source=str(q), divided_by=1.0 if raw else volume,
                            spin={1: "none", 2: "collinear", 4: "noncollinear"}.get(n, "?"))
                return DensityFile(str(p), "vaspout", structure, grids, "density", meta)
            if want == "potential":
                if not pot_src:
                    raise BadInputError(f"{p}: no potential (results/potential/"
                                        f"{'|'.join(POTENTIALS)}; set WRT_POTENTIAL)")
                grids = {}
                for part in POTENTIALS:
                    key = f"results/potential/{part}"
                    if key not in f:
                        continue
                    arr = np.asarray(f[key][()], dtype=np.float64)
                    if arr.ndim == 3:
                        arr = arr[None]
                    base = "potential" if part == "total" else f"potential_{part}"
                    comps = [arr[0]]
                    names = [base]
                    if len(arr) == 2:
                        comps += [arr[0] + arr[1], arr[0] - arr[1]]
                        names += [f"{base}_up", f"{base}_down"]
                    elif len(arr) == 4:
                        comps += [arr[1], arr[2], arr[3]]
                        names += [f"{base}_x", f"{base}_y", f"{base}_z"]
                    grids.update(_grids_from(np.array(comps), names, cell, "eV", 1.0, p, key))
                meta.update(source=str(p))
                if notes:
                    meta["warnings"] = notes
                return DensityFile(str(p), "vaspout", structure, grids, "potential", meta)
            if want is not None:
                raise BadInputError(f"{p}: unknown quantity {want!r} (charge, potential or "
                                    "structure)")
        finally:
            for g, _ in sources[1:]:
                g.close()
    if len(frames) > 1:
        return Trajectory(str(p), "vaspout", frames)
    return structure
