"""Readers of materials input files, one module per family, and their registry
(:mod:`.registry`: ``read``, ``read_density``, ``read_structure``, ``read_trajectory``,
``guess_format``, re-exported here), which picks the reader by content, then by name. The
layout mirrors :mod:`climate_pipeline.readers` (a registry module beside one module per
format family); the reader modules are imported only when a file of theirs is read.

* :mod:`.vasp`: POSCAR header, CHGCAR / CHG / AECCAR / PARCHG / LOCPOT / ELFCAR
* :mod:`.cube`: Gaussian cube (densities, orbitals, potentials)
* :mod:`.xsf`: XCrySDen XSF/AXSF (structures, animations, DATAGRID_3D)
* :mod:`.structures`: POSCAR/CONTCAR, XDATCAR, extxyz and ASE .traj (ase.io)
* :mod:`.vaspout`: VASP 6 HDF5 (vaspout.h5 / vaspwave.h5, h5py)
* :mod:`._common`: buffers (mmap), the exact compiled float parser and its numpy fallback

Every reader returns the dataclasses of :mod:`materials_pipeline.data` (numpy arrays with
units), never a library's object, and raises :class:`core.errors.BadInputError` naming the
file and the problem for bad input.
"""

from materials_pipeline.readers.registry import (
    FORMATS,
    Format,
    get_format,
    guess_format,
    known_formats,
    read,
    read_density,
    read_structure,
    read_trajectory,
)

__all__ = ["Format", "FORMATS", "get_format", "guess_format", "read", "read_density",
           "read_structure", "read_trajectory", "known_formats"]
