"""The parameters of the climate tasks, typed: what :func:`climate_pipeline.pipeline.
run_params` decides once per run and every frame task (:class:`FrameParams`) and particle
batch (:class:`BatchParams`) receives. Frozen dataclasses of plain types: they pickle for the
task runtime, and :meth:`key` is the plain dict the frame cache keys and the manifest's
provenance are made from (the same JSON as the dicts these classes replace, so a run
directory written before is still found complete)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from climate_pipeline.settings import TRAIL_HOURS

#: at most this many samples along a particle's streak (head included)
TRAIL_POINTS = 12

#: field metadata: the field enters :meth:`key` only when it differs from its default (the
#: parameters the pipeline sets only sometimes; keys of runs without them stay as they were)
KEYED_IF_SET = {"keyed_if_set": True}


def _key(p: Any) -> dict[str, Any]:
    """``dataclasses.asdict(p)``, less the ``KEYED_IF_SET`` fields left at their default."""
    d = dataclasses.asdict(p)
    for f in dataclasses.fields(p):
        if f.metadata.get("keyed_if_set") and d[f.name] == f.default:
            del d[f.name]
    return d


@dataclass(frozen=True)
class Projection:
    """How the scene is laid out: ``mode`` ``"map"`` (a flat regional map) or ``"globe"``;
    heights times ``exaggeration``."""

    mode: str
    exaggeration: float


@dataclass(frozen=True)
class Lod:
    """The isosurfaces' level of detail: whole (``full_res``) or at the triangle budget of a
    picture of ``resolution`` pixels showing ``view_area`` (scene units squared)."""

    full_res: bool
    resolution: tuple[int, ...]
    view_area: float


@dataclass(frozen=True)
class FrameParams:
    """A frame task's parameters: one colour range and threshold set for the movie."""

    projection: Projection
    thresholds: tuple[float, ...]
    range: tuple[float, float]
    #: the display unit; file values times ``scale`` are in it (core.units.readable_unit)
    units: str
    scale: float
    #: the action-level quantity (climate_pipeline.levels), or None
    quantity: str | None
    #: which rule chose the thresholds
    levels_rule: str
    colormap: str
    volume: bool
    formats: tuple[str, ...]
    lod: Lod
    #: the ensemble member read (None: the reader's choice)
    member: int | None = field(default=None, metadata=KEYED_IF_SET)

    def key(self) -> dict[str, Any]:
        """The parameters as a plain dict (cache keys, provenance)."""
        return _key(self)

    def replace(self, **changes: Any) -> FrameParams:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_key(cls, d: dict[str, Any]) -> FrameParams:
        """The parameters :meth:`key` gave (or a manifest's provenance ``parameters``, whose
        other entries are left out), read back."""
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        lod = d["lod"]
        return cls(**{**kw, "projection": Projection(**d["projection"]),
                      "thresholds": tuple(d["thresholds"]), "range": tuple(d["range"]),
                      "formats": tuple(d["formats"]),
                      "lod": Lod(full_res=lod["full_res"], resolution=tuple(lod["resolution"]),
                                 view_area=lod["view_area"])})


@dataclass(frozen=True)
class BatchParams:
    """A particle batch's parameters."""

    projection: Projection
    formats: tuple[str, ...]
    speed_max: float
    particle_radius: float
    seed_by: str = "uniform"
    #: advection time step, s
    dt: float = 600.0
    #: particles older than this respawn, hours
    max_age_h: int = 12
    #: the streaks behind the particles: hours, samples at most (head included)
    trail_hours: float = TRAIL_HOURS
    trail_points: int = field(default=TRAIL_POINTS, metadata=KEYED_IF_SET)
    #: streamlines per frame (0: none), their height (m, clamped into the grid) and points
    streamlines: int = 160
    streamline_height_m: float = 1000.0
    streamline_points: int = field(default=24, metadata=KEYED_IF_SET)
    #: ``seed_by == "concentration"``: the field seeding the particles (its variable, files)
    field_var: str | None = field(default=None, metadata=KEYED_IF_SET)
    field_paths: tuple[str, ...] | None = field(default=None, metadata=KEYED_IF_SET)
    member: int | None = field(default=None, metadata=KEYED_IF_SET)

    def key(self) -> dict[str, Any]:
        """The parameters as a plain dict (cache keys): ``field_var`` in it whenever the
        particles are seeded by concentration (None too: the reader's choice of variable)."""
        d = _key(self)
        if self.seed_by == "concentration":
            d["field_var"] = self.field_var
        return d

    def replace(self, **changes: Any) -> BatchParams:
        return dataclasses.replace(self, **changes)
