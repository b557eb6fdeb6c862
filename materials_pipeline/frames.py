"""The work of one frame: read, compute geometry, write every asset atomically.

Called by the thin task wrappers in :mod:`materials_pipeline.tasks`. Each function takes paths
and small parameters and returns small JSON-able metadata; nothing here reads module state.

Frame outputs, in ``RUN/assets/NNNN/``::

    iso.glb|usdc[|ply]     isosurface (+ iso_neg.* for signed fields), vertex colours,
                           simplified to the frame's triangle budget (core.lod)
    density.vdb|usdc       the field as an OpenVDB grid with the cell's (sheared) affine
    atoms.glb|usdc[|ply]   atoms as points (radius, element, index) / instanced spheres
    bonds.glb|usdc[|ply]   half-bonds in the two element colours
    cell.glb|usdc[|ply]    the cell's edges (copied to static/ when all frames share a cell)
    polyhedra.*            coordination polyhedra (when asked)

    .glb is what the renderer reads (Draco meshes), .usdc what Blender and Maya open,
    .ply only with --formats ...,ply.
    frame.json             metadata; written last: its presence with the same parameters
                           hash marks the frame complete, so a re-run skips it
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from core import colormaps
from core.atomic import atomic_path
from core.deps import require
from core.errors import BadInputError
from core.framecache import Reuse, params_key, product_files, write_all
from core.framecache import done as _done
from core.framecache import file_stat as _stat
from core.framecache import write_meta as _write_meta
from core.geometry import Mesh
from core.lod import lod_mesh, view_area
from core.memory import tune_malloc
from core.rundir import RunDir
from materials_pipeline import iso, levels, stages
from materials_pipeline import products as P
from materials_pipeline.data import DensityFile, Trajectory
from materials_pipeline.params import FrameParams
from materials_pipeline.readers import read, read_structure
from materials_pipeline.readers._common import ReaderWarning
from materials_pipeline.stages import formula

METERS_PER_ANGSTROM = 1e-10
FRAME_META = "frame.json"
# Bump when what a frame's files contain changes for the same inputs and parameters: a re-run
# then rebuilds frames made by older code instead of skipping them.
ASSET_VERSION = 7  # 4: density.usd references the .vdb beside it; 5: .usdc, Draco GLB, LOD;
# 6: a vaspout.h5 without a charge density draws its potential (was: atoms only); 7: default
# levels by what the grid is (materials_pipeline.levels), potentials in volts
COLOUR_META = "colour.json"


def _write_all(obj, stem: Path, formats: list[str], files: list[str], *, name: str,
               radius: float | None = None, skip: list[str] | tuple[str, ...] = (),
               clock: list[float] | None = None, **usd_kw: Any) -> None:
    """:func:`core.framecache.write_all` in Angstrom; the seconds it took are added to
    ``clock[0]`` (the frame's ``write_seconds``)."""
    t = time.perf_counter()
    write_all(obj, stem, formats, files, name=name, meters_per_unit=METERS_PER_ANGSTROM,
              radius=radius, skip=skip, **usd_kw)
    if clock is not None:
        clock[0] += time.perf_counter() - t


def _select_grid(data, field: str | None, src: str):
    if field is None:
        return data.main_grid()
    if field not in data.grids:
        raise BadInputError(f"{src}: no grid named {field!r}; this file has "
                            f"{', '.join(data.grids)}")
    return data.grids[field]


def read_source(src: str, frame_in_file: int | None, threads: int = 0):
    """(DensityFile or None, Structure) of one frame of a source file (``threads``: parser
    threads, 0 for the reader's default)."""

    data = read(src, threads=threads) if threads else read(src)
    if isinstance(data, DensityFile):
        return data, data.structure
    if isinstance(data, Trajectory):
        if frame_in_file is None:  # planned as one frame (a vaspout.h5 with no grid): the
            return None, read_structure(src)  # final structure (VASP's CONTCAR)
        if not 0 <= frame_in_file < len(data.frames):
            raise BadInputError(f"{src}: trajectory frame {frame_in_file} does not exist "
                                f"({len(data.frames)} frames)")
        return None, data.frames[frame_in_file]
    return None, data


# long: read, checks, then every product with shared kept-file state; to split by product
def build_frame(src: str, frame_in_file: int | None, color_src: str | None, out_dir: str,
                index: int, params: FrameParams, threads: int = 0) -> dict:
    """Stage A of a frame: every asset but the colour-mapped surfaces' final files.

    Returns metadata (level, units, cell, bounds, colour-field statistics ...). Skips the work
    when ``frame.json`` exists with the same parameters and its files are there.
    """
    tune_malloc()  # reuse freed blocks: no page faults per array (core.memory)

    t0 = time.perf_counter()
    fdir = RunDir(out_dir).frame_dir(index)
    source = params_key(ASSET_VERSION, src, frame_in_file, color_src, _stat(src),
                        _stat(color_src))
    key = params_key(source, params.key())
    if (cached := _done(fdir / FRAME_META, key)) is not None:
        return {**cached, "skipped": True}
    fdir.mkdir(parents=True, exist_ok=True)

    # files an earlier run wrote with the same product key stay (another --formats writes
    # only the new formats; another level of detail only the surfaces)
    reuse = Reuse(fdir / FRAME_META)
    clock = [0.0]  # seconds spent writing assets
    shared = {k: v for k, v in params.key().items() if k not in ("formats", "lod")}

    def keep(stem: str, *parts: Any, names: list[str] | None = None) -> list[str]:
        names = names or [n for _, n in product_files(stem, formats)]
        keys = [params_key(source, shared, parts, n) for n in names]
        return [n for n, ok in zip(names, reuse.kept(names, keys), strict=True) if ok]

    from materials_pipeline.readers._common import while_parsing

    warm = _Prewarm(params)  # imports the writers need, while the parser runs in C
    with warnings.catch_warnings(record=True) as caught, while_parsing(warm.start):
        warnings.simplefilter("always", ReaderWarning)  # reported below, in the metadata
        data, structure = read_source(src, frame_in_file, threads)
    for w in caught:  # the others as without the recording
        if not issubclass(w.category, ReaderWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    reps = params.supercell
    formats = list(params.formats)
    lod = params.key()["lod"]
    files: list[str] = []
    meta: dict[str, Any] = {"index": index, "source": src, "frame_in_file": frame_in_file,
                            "format": getattr(data, "format", None), "key": key}
    if data is None and frame_in_file in (None, 0):  # atoms only: what the reader said about
        # the file ("no grid" ...), once per file; a grid's reader puts them in data.meta
        said = [str(w.message) for w in caught if issubclass(w.category, ReaderWarning)]
        if said:
            meta["warnings"] = list(dict.fromkeys(said))
    bounds = []

    if data is not None:
        grid = stages.tile_grid(_select_grid(data, params.field, src), reps)
        numbers = np.tile(structure.numbers, int(np.prod(reps)))
        notes = list(data.meta.get("warnings", []))
        if grid.units in levels.POTENTIAL_UNITS:  # potentials in volts (cube: Hartree/e)
            grid = stages.display_units(grid)
        elif not grid.units and data.kind == "density" and not params.iso:
            grid, unit_note = levels.with_inferred_units(grid, numbers)  # XSF: e/Å³, e/bohr³
            notes += [f"{src}: {unit_note}"] if unit_note else []
        # the extremes, not a mask or a |values| copy (134 MB fresh pages for 256^3): a NaN
        # makes both NaN, an infinity is one of them
        vmin, vmax = float(grid.values.min()), float(grid.values.max())
        if not (np.isfinite(vmin) and np.isfinite(vmax)):
            raise BadInputError(f"{src}: grid {grid.name!r} contains NaN or infinite values")
        # the grid's charge sums, taken once for the default, the level and the metadata
        charge_sums = functools.cache(lambda: iso.charge_sums(grid.values))
        spec_text = params.iso
        choice = levels.DefaultLevel(spec_text, grid.signed, "given", "") if spec_text else \
            levels.default_for(grid, str(data.format), numbers, extremes=(vmin, vmax),
                               sums=None if grid.signed else charge_sums())
        spec_text = choice.spec
        if choice.signed and not grid.signed:  # a "density" with both signs: ±10 %
            grid = dataclasses.replace(grid, signed=True)
            neg, pos = iso.negative_charge(grid.values, grid.voxel_volume, sums=charge_sums())
            notes.append(f"{src}: grid {grid.name!r} has both signs (negative part "
                         f"{neg:.3g}, positive part {pos:.3g}, integrated): drawn as a "
                         f"signed field at ±{spec_text} of max |value|")
        spec = iso.parse(spec_text)
        level = iso.resolve(spec, grid.values, signed=grid.signed,
                            voxel_volume=grid.voxel_volume, units=grid.units, source=src,
                            field=grid.name, extremes=(vmin, vmax),
                            sums=charge_sums() if spec.kind == "enclosed" and not grid.signed
                            else None)
        meta.update(level=level, level_text=spec.describe(level, grid.units), units=grid.units,
                    level_rule=choice.rule, level_why=choice.why,
                    grid=grid.name, signed=grid.signed, kind=data.kind, periodic=grid.periodic,
                    vmax=max(-vmin, vmax))  # max |value|
        if not grid.signed and grid.units.startswith("e/"):
            v = grid.values  # all positive: charge_sums summed the grid itself, same order
            whole = v.dtype.kind == "f" and v.flags.c_contiguous and vmin > 0
            total = charge_sums()[1] if whole else float(v.sum(dtype=np.float64))
            meta["electrons_total"] = float(total * grid.voxel_volume)
            meta["electrons_enclosed"] = iso.enclosed_charge(grid.values, level,
                                                              grid.voxel_volume)
            neg, pos = iso.negative_charge(grid.values, grid.voxel_volume, sums=charge_sums())
            got = meta["electrons_enclosed"] / pos if pos > 0 else 0.0
            if spec.kind == "enclosed" and got > spec.value + 0.05:
                notes.append(f"{src}: grid {grid.name!r} is too coarse for --iso {spec.text}: "
                             f"the densest voxel alone holds more; the surface at "
                             f"{level:.4g} encloses {got:.0%} of the electrons")
            if neg > 0:  # clipped for an enclosed level (AECCAR2's core correction ...)
                meta["electrons_negative"] = neg
            if neg > 0 and spec.kind == "enclosed":
                nvox = int(np.count_nonzero(grid.values < 0))
                notes.append(f"{src}: grid {grid.name!r}: {nvox} voxel(s) below zero hold "
                             f"{neg:.4g} e of negative charge, clipped to 0 for the "
                             "enclosed-electron level")
        if notes:
            meta["warnings"] = notes
        warm.join()  # the writers' modules, OpenVDB's library: loaded while numpy worked
        colour_grid = None
        if color_src is not None:
            cdata = data if color_src == src else read_source(color_src, None, threads)[0]
            if cdata is None:
                raise BadInputError(f"{color_src}: --color-by needs a volumetric file")
            colour_grid = stages.display_units(stages.tile_grid(
                _select_grid(cdata, params.color_field, color_src), reps))
            meta.update(color_units=colour_grid.units, color_grid=colour_grid.name)
        surf_stats = []
        scene_area = view_area(grid.volume().bounds())
        for name, mesh in stages.surfaces(grid, level):
            bounds.append(mesh.bounds())
            # the level of detail first: the colour field is then sampled at the kept vertices
            mesh, before = lod_mesh(mesh, scene_area, lod["resolution"],
                                    full_res=lod["full_res"])
            if colour_grid is not None:
                mesh.attributes["color_value"] = stages.sample(colour_grid, mesh.vertices)
                surf_stats.append(stages.value_stats(mesh.attributes["color_value"]))
                raw = fdir / f"{name}.raw.npz"
                with atomic_path(raw) as tmp, open(tmp, "wb") as fh:
                    nrm = mesh.normals if mesh.normals is not None else np.zeros((0, 3))
                    np.savez(fh, vertices=mesh.vertices, faces=mesh.faces, normals=nrm,
                             values=mesh.attributes["color_value"])
                files.append(raw.name)
            else:
                _write_all(mesh, fdir / name, formats, files, name=name,
                           skip=keep(name, lod), clock=clock)
            meta.setdefault("surfaces", []).append({"name": name, "vertices": mesh.n_vertices,
                                                    "faces": mesh.n_faces,
                                                    "faces_full": before})
        meta["color_stats"] = surf_stats
        if params.volume and not grid.signed:
            from core.io.vdb import write_vdb

            vol = grid.volume()
            vnames = ["density.vdb"] + (["density.usdc"] if "usd" in formats else [])
            kept = keep("density", names=vnames)
            if "density.vdb" not in kept:
                # voxels within 1% of the isovalue of zero stay inactive: sparse, 3x faster
                # to write, invisible in the render (their extinction is ~0.6% per Angstrom);
                # 16-bit floats (5e-4 relative), half the bytes
                t = time.perf_counter()
                write_vdb(vol, fdir / "density.vdb", half=True,
                          tolerance=P.DENSITY.build["tolerance"] * level)
                clock[0] += time.perf_counter() - t
                kept = []  # the .usdc names the .vdb beside it: rewritten with it
            files.append("density.vdb")
            if "usd" in formats:
                if "density.usdc" not in kept:
                    from core.io.usd import write_usd_volume

                    write_usd_volume(fdir / "density.vdb", [vol.name], fdir / "density.usdc",
                                     meters_per_unit=METERS_PER_ANGSTROM)
                files.append("density.usdc")
        if grid.periodic:  # a cube file's box is padding around a molecule: frame the content
            bounds.append(grid.volume().bounds())

    warm.join()
    structure = stages.tile_structure(structure, reps)

    meta["formula"] = formula(structure.symbols, structure.has_cell)
    meta.update(natoms=len(structure), cell=structure.cell.tolist(),
                has_cell=structure.has_cell, symbols=sorted(set(structure.symbols)))
    if len(structure):
        from materials_pipeline import structure as st

        if structure.has_cell:  # atoms outside the cell (MD, extxyz) next to their density
            structure = st.wrap_positions(structure)
        shown = st.repeat_boundary_atoms(structure) if params.repeat_boundary \
            else structure
        atoms = st.atoms_points(shown, radius=params.radius,
                                scale=float(params.atom_scale))
        _write_all(atoms, fdir / P.ATOMS.name, formats, files, name=P.ATOMS.name,
                   instanced_spheres=True, skip=keep(P.ATOMS.name), clock=clock)
        bounds.append(atoms.bounds())
        bonds = st.find_bonds(structure, tolerance=P.BONDS.build["tolerance"])
        meta["nbonds"] = int(len(bonds.i))
        curves = st.bond_curves(structure, bonds, radius=P.BONDS.look["radius"])
        _write_all(curves, fdir / P.BONDS.name, formats, files, name=P.BONDS.name,
                   radius=P.BONDS.look["radius"], skip=keep(P.BONDS.name), clock=clock)
        if params.polyhedra:
            poly = st.coordination_polyhedra(structure, bonds, list(params.polyhedra),
                                             ligands=list(params.ligands) or None)
            _write_all(poly, fdir / P.POLYHEDRA.name, formats, files, name=P.POLYHEDRA.name,
                       skip=keep(P.POLYHEDRA.name), clock=clock)
    if structure.has_cell:
        from materials_pipeline.structure import cell_edges

        edges = cell_edges(structure.cell)
        _write_all(edges, fdir / P.CELL.name, formats, files, name=P.CELL.name,
                   radius=P.CELL.look["radius"], skip=keep(P.CELL.name), clock=clock)
        bounds.append(edges.bounds())
    if not bounds:
        raise BadInputError(f"{src}: nothing to show (no grid and no atoms)")
    b = np.array([[bb[0] for bb in bounds], [bb[1] for bb in bounds]])
    meta["bounds"] = [b[0].min(0).tolist(), b[1].max(0).tolist()]
    meta["files"] = files
    meta["write_seconds"] = clock[0]
    meta["seconds"] = time.perf_counter() - t0
    reuse.record(meta)
    _write_meta(fdir / FRAME_META, meta)
    return {**meta, "skipped": False}


def colour_frame(out_dir: str, index: int, surfaces: list[str], cmap: str, vmin: float,
                 vmax: float, formats: list[str]) -> dict:
    """Stage B: colour the saved surfaces with one range shared by all frames and write them."""
    tune_malloc()  # reuse freed blocks: no page faults per array (core.memory)

    t0 = time.perf_counter()
    fdir = RunDir(out_dir).frame_dir(index)
    key = params_key(surfaces, cmap, vmin, vmax, formats,
                     [_stat(str(fdir / f"{s}.raw.npz")) for s in surfaces])
    if _done(fdir / COLOUR_META, key) is not None:
        return {"index": index, "skipped": True}
    files: list[str] = []
    for name in surfaces:
        with np.load(fdir / f"{name}.raw.npz") as z:
            values = z["values"]
            nrm = z["normals"] if len(z["normals"]) == len(z["vertices"]) else None
            mesh = Mesh(z["vertices"], z["faces"], nrm, {"color_value": values},
                        colormaps.apply(values, cmap, vmin, vmax))
        _write_all(mesh, fdir / name, formats, files, name=name)
    _write_meta(fdir / COLOUR_META, {"key": key, "files": files})
    return {"index": index, "skipped": False, "seconds": time.perf_counter() - t0}


class _Prewarm:
    """Import the heavy writer modules while the reader's C parser runs (it releases the GIL),
    so that a one-file run overlaps its imports with the parse.

    ``start()`` runs beside the parse of the first large grid
    (:func:`materials_pipeline.readers._common.while_parsing`: the parser thread runs C only,
    imports nothing), or after a read that parsed none. It imports USD (pxr) first, in the
    calling thread, then the other modules in a thread: pxr's libraries release the GIL
    inside their dlopen, so a pxr import that overlaps another thread's import of a compiled
    module deadlocks on the loader lock (seen every time with a vaspout.h5 input, whose
    reader imports h5py; also with scipy.spatial and jsonschema). The modules left to the
    thread do not do that (OpenVDB's binding among them, 45 ms: it was loaded by the first
    write_vdb; jsonschema), and the reader's own imports are over by then. ``join()`` comes
    before the frame's first writer and any second read: the work in between (the level,
    numpy on the grid) loads no library.
    """

    def __init__(self, params: FrameParams) -> None:
        self.params = params
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        if "usd" in self.params.formats:
            _import_quietly(("pxr.Usd", "pxr.UsdGeom", "pxr.UsdVol", "core.io.usd"))
        mods = ["core.io.vdb", "core.io.gltf", "DracoPy", "fast_simplification",
                "materials_pipeline.structure"]
        if "ply" in self.params.formats:
            mods.append("core.io.ply")
        if self.params.volume:
            mods.append("openvdb")  # through core.deps (bpy's copy)
        # the manifest's validator (core.manifest.validate, 50 ms): a one-file run converts
        # its frame in the process that writes the manifest; a worker imports it for nothing,
        # once, beside its first parse
        mods.append("jsonschema")
        self.thread = threading.Thread(target=_import_quietly, args=(mods,), name="prewarm",
                                       daemon=True)
        self.thread.start()

    def join(self) -> None:
        if self.thread is None:  # start() did not run (the read raised first)
            self.start()
        assert self.thread is not None
        self.thread.join()


def _import_quietly(modules) -> None:
    """Import ``modules``; a missing one is reported properly where it is really needed."""
    import importlib


    for m in modules:
        try:
            if m == "openvdb":
                require(m)
            else:
                importlib.import_module(m)
        except ImportError:  # MissingDependencyError too
            pass
