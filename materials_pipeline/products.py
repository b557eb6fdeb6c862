"""The materials run's products, one row each: file stem, kind, look and build constants.

What was spelled in several places before (issue #23): the bond radius 0.12 in the frame task
and the manifest, the cell's radius and colour three times, the hidden knobs
``bond_tolerance``/``bond_radius``/``vdb_tolerance`` read with their own defaults from the
parameter dict. Each now lives in its row: the frame task (``frames.py``) writes files named
by the row and builds with its constants, the manifest (``manifest.py``) makes each entry
with :meth:`Product.asset` from the row plus what the frame measured.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Product", "PRODUCTS", "DENSITY", "ISO", "ATOMS", "BONDS", "POLYHEDRA", "CELL"]


@dataclass(frozen=True)
class Product:
    """One product of a materials run."""

    name: str  # asset name and file stem
    kind: str  # mesh | points | curves | volume
    look: dict[str, Any] = field(default_factory=dict)  # fixed manifest look fields
    label: str = ""
    units: str = ""
    build: dict[str, float] = field(default_factory=dict)  # constants of its build step

    def asset(self, path: str, *, name: str | None = None, **extra: Any) -> dict:
        """The manifest entry: the row's look, then what the frame measured (``extra``)."""
        from core import manifest as mf

        kw = {**self.look, **({"label": self.label} if self.label else {}), **extra}
        kw.setdefault("units", self.units)
        return mf.asset(name or self.name, self.kind, path, **kw)


#: the field below the isovalue as an OpenVDB volume; voxels within ``tolerance`` x the
#: level of zero stay inactive (sparse, 3x faster to write, invisible in the render)
DENSITY = Product("density", "volume", {"emission": 0.15},
                  label="the field below the isovalue", build={"tolerance": 0.01})
#: isosurfaces (``iso``, or ``iso_pos``/``iso_neg`` for signed fields); opacity by whether
#: atoms are inside (see VESTA: see-through over atoms)
ISO = Product("iso", "mesh", build={"opacity_with_atoms": 0.4, "opacity": 0.9})
#: atoms as instanced spheres, Jmol colours; radius = covalent/vdW radius x ``scale``
ATOMS = Product("atoms", "points", {"radius_attribute": "radius"},
                label="atoms (Jmol colours)", units="Angstrom")
#: bonds from a k-d-tree neighbour list: pairs closer than ``tolerance`` x the sum of
#: covalent radii, tubes of ``radius`` (Angstrom) split at the midpoint in two colours
BONDS = Product("bonds", "curves", {"radius": 0.12}, label="bonds", units="Angstrom",
                build={"tolerance": 1.15})
#: coordination polyhedra (--polyhedra, --ligands)
POLYHEDRA = Product("polyhedra", "mesh", {"opacity": 0.6}, label="coordination polyhedra")
#: the unit cell's edges
CELL = Product("cell", "curves", {"radius": 0.03, "color": [0.75, 0.75, 0.8]},
               label="unit cell", units="Angstrom")

PRODUCTS: tuple[Product, ...] = (DENSITY, ISO, ATOMS, BONDS, POLYHEDRA, CELL)
