"""The parameters of a materials frame task, typed: what :func:`materials_pipeline.pipeline.
run_params` decides once per run from the settings and every frame task receives. A frozen
dataclass of plain types (it pickles for the task runtime); :meth:`FrameParams.key` is the
plain dict the frame cache keys and the manifest's provenance are made from, the same JSON as
the dict it replaces (a run directory written before is still found complete). The defaults
are the settings' (:class:`materials_pipeline.settings.MaterialsSettings`): nothing reads a
parameter with a default of its own."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["FrameParams", "Lod"]


@dataclass(frozen=True)
class Lod:
    """The isosurfaces' level of detail: whole (``full_res``) or at the triangle budget of a
    picture of ``resolution`` pixels."""

    full_res: bool
    resolution: tuple[int, ...]


@dataclass(frozen=True)
class FrameParams:
    """A materials frame task's parameters (see the settings of the same names)."""

    iso: str | None  # the level(s) as given (None: by what the grid is)
    field: str | None  # the grid to draw in a multi-grid file
    color_field: str | None  # the colour field's grid in --color-by files
    supercell: tuple[int, int, int]
    radius: str  # covalent | vdw
    atom_scale: float
    repeat_boundary: bool
    polyhedra: tuple[str, ...]
    ligands: tuple[str, ...]
    volume: bool  # write density.vdb
    formats: tuple[str, ...]
    show_volume: bool
    lod: Lod

    @classmethod
    def from_settings(cls, s: Any) -> FrameParams:
        """The parameters of a run with settings ``s`` (MaterialsSettings)."""
        return cls(iso=s.iso, field=s.field, color_field=s.color_field,
                   supercell=tuple(s.supercell), radius=s.radius, atom_scale=s.atom_scale,
                   repeat_boundary=s.repeat_boundary, polyhedra=tuple(s.polyhedra),
                   ligands=tuple(s.ligands), volume=s.volume, formats=tuple(s.formats),
                   show_volume=s.show_volume,
                   lod=Lod(full_res=bool(s.full_res), resolution=tuple(s.resolution)))

    def key(self) -> dict[str, Any]:
        """The plain dict of the parameters (lists for tuples, as JSON has them)."""
        d = dataclasses.asdict(self)
        for k in ("supercell", "polyhedra", "ligands", "formats"):
            d[k] = list(d[k])
        d["lod"] = {"full_res": self.lod.full_res, "resolution": list(self.lod.resolution)}
        return d
