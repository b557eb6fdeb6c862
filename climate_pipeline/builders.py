"""The build steps of the climate frame products: one function per row of
:mod:`climate_pipeline.products` whose ``scope`` is ``frame``.

A build step takes the frame's :class:`FrameContext` (the field at the frame's time, in the
run's display unit, its grid, heights and projection, and the frame parameters) and its own
row (for its file stems and look numbers: they live in the row only) and yields
:class:`Piece` objects, one per file stem (``iso_0``, ``iso_1``, ...). A piece does no work
until its ``make`` is called: the frame task (:func:`climate_pipeline.frames.
frame_from_field`) first asks whether an earlier run already wrote the piece's files with
the same product key (``parts`` add what else shapes them) and calls ``make`` only when not.
``make`` returns the geometry (a :class:`core.geometry.Mesh`, ``Points``, ``Curves`` or a
volume for :func:`core.io.vdb.write_vdb`) and what it measured (the record that ``frame.json``
keeps and the manifest reads: an isosurface's level and triangle counts).

Also here: the scene helpers that the frame task, the particle task and the manifest share
(the projection, level heights, the field at a fractional time).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from climate_pipeline import stages
from climate_pipeline.params import FrameParams, Projection
from core import colormaps
from core.geometry import Mesh
from core.lod import lod_mesh

__all__ = ["FrameContext", "Piece", "layer", "isosurfaces", "volume", "projection",
           "heights_m", "load_time", "vdb_tolerance", "VDB_BELOW_LOWEST"]


def projection(spec: Projection, lon: np.ndarray, lat: np.ndarray):
    """The scene's projection of a region (``map``) or of the globe."""
    from climate_pipeline.geo import GlobeProjection, MapProjection

    if spec.mode == "globe":
        return GlobeProjection(exaggeration=float(spec.exaggeration))
    return MapProjection.for_region(lon, lat, exaggeration=float(spec.exaggeration))


def heights_m(field) -> np.ndarray:
    """Level heights in metres for the scene (pressure via the standard atmosphere)."""
    v = np.asarray(field.vertical, dtype=np.float64)
    if v.ndim > 1:  # hybrid height over orography: the mean profile places the levels
        v = v.reshape(v.shape[0], -1).mean(1)
    kind = field.vertical_kind
    if kind == "height_m":
        return v
    if kind == "pressure_hPa":
        return 44330.8 * (1 - (v / 1013.25) ** 0.190263)
    if kind == "flight_level":
        return v * 100 * 0.3048
    return np.arange(len(v), dtype=np.float64) * 500.0  # model levels: nominal 500 m


def load_time(field, tau: float) -> np.ndarray:
    """The field at fractional data time ``tau`` (linear between the two steps around it)."""
    t0 = int(np.floor(tau))
    t1 = min(t0 + 1, field.nt - 1)
    w = tau - t0
    a = field.frame(t0).astype(np.float32)
    if w <= 1e-9 or t1 == t0:
        return a
    return (1 - w) * a + w * field.frame(t1).astype(np.float32)


@dataclass
class FrameContext:
    """What a frame's build steps read: ``values`` (nz, ny, nx) at the frame's time in the
    display unit ``params.units``, the grid, the level heights (m) and the projection."""

    field: Any
    values: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    heights: np.ndarray
    proj: Any
    params: FrameParams

    @property
    def three_d(self) -> bool:
        return int(self.field.nz) >= 2


@dataclass
class Piece:
    """One file stem of a product: ``make()`` -> (geometry, record), called only when its
    files are not already written with the key ``parts`` add to."""

    stem: str
    make: Callable[[], tuple[Any, dict]]
    parts: tuple = ()
    #: reuse the record an earlier run wrote when every file is kept (measured numbers
    #: that only ``make`` could give again, like an isosurface's triangle counts)
    keep_record: bool = False
    #: options of the writer (a volume's pruning ``tolerance``)
    write_kw: dict = field(default_factory=dict)


def layer(ctx: FrameContext, row: Any) -> Iterator[Piece]:
    """The ground level as a coloured sheet (missing cells left out: no vertex, no face)."""

    def make() -> tuple[Mesh, dict]:
        p = ctx.params
        ground = ctx.values[0]
        colors = colormaps.apply(ground, p.colormap, *p.range)
        mesh = stages.surface_layer(ground, ctx.lon, ctx.lat, ctx.proj, colors,
                                    height_m=float(ctx.heights[0]) if ctx.three_d else 0.0,
                                    drop_missing=True)
        return mesh, {}

    yield Piece(row.stem(), make)


def isosurfaces(ctx: FrameContext, row: Any) -> Iterator[Piece]:
    """One closed isosurface per threshold (walls capped at the domain's sides), simplified
    to the frame's triangle budget (:mod:`core.lod`), in the threshold's colour."""
    if not ctx.three_d:
        return
    p = ctx.params
    lod_key = p.key()["lod"]  # the key: as the dict it replaced
    for k, level in enumerate(p.thresholds):

        def make(level: float = level) -> tuple[Mesh, dict]:
            mesh = stages.isosurface_geo(ctx.values, level, ctx.lon, ctx.lat, ctx.heights,
                                         ctx.proj)
            mesh, before = lod_mesh(mesh, p.lod.view_area, p.lod.resolution,
                                    full_res=p.lod.full_res)
            rgba = colormaps.apply([level], p.colormap, *p.range)[0]
            mesh.colors = np.tile(rgba, (mesh.n_vertices, 1))
            return mesh, {"level": level, "faces": mesh.n_faces, "faces_full": before}

        yield Piece(row.stem(k=k), make, parts=(k, lod_key, "capped"), keep_record=True)


VDB_BELOW_LOWEST = 0.5  # field.vdb keeps voxels from half the lowest isosurface level up


def vdb_tolerance(params: FrameParams) -> float:
    """Voxels below this stay inactive in ``field.vdb`` (OpenVDB's ``copyFromArray``
    tolerance about a background of 0): :data:`VDB_BELOW_LOWEST` times the lowest isosurface
    level, so the volume holds the plume the surfaces show and a margin below it, not the
    background haze of the whole domain (it is drawn at ``density_scale`` 0.008 per colour
    range: the pruned haze is at most ~0.4 % extinction per km). At least 2 % of the colour
    range, as before, when there is no level."""
    vmin, vmax = params.range
    levels = [abs(x) for x in params.thresholds if x]
    floor = 0.02 * (vmax - vmin)
    return float(max(floor, VDB_BELOW_LOWEST * min(levels))) if levels else float(floor)


def volume(ctx: FrameContext, row: Any) -> Iterator[Piece]:
    """The 3-D field as a sparse OpenVDB grid named by the row's ``look["grid"]`` (regular
    grids only)."""
    if not ctx.three_d or np.ndim(ctx.lon) != 1:
        return

    def make() -> tuple[Any, dict]:
        to_volume = stages.volume_globe if ctx.params.projection.mode == "globe" \
            else stages.volume_map
        return to_volume(ctx.values, ctx.lon, ctx.lat, ctx.heights, ctx.proj,
                         row.look["grid"], ctx.params.units), {}

    yield Piece(row.stem(), make, write_kw={"tolerance": vdb_tolerance(ctx.params)})
