"""Plain dataclasses the climate readers return (see ``climate_pipeline.readers``).

``Field.values`` is a lazy (dask) array of shape (nt, nz, ny, nx); ``Field.frame(t)`` loads one
time step only, so data larger than memory is processed frame by frame. Everything else is
numpy arrays, strings and numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.errors import BadInputError, PipelineError

__all__ = ["Field", "Winds", "VERTICAL_KINDS"]

#: Values of ``Field.vertical_kind``.
VERTICAL_KINDS = ("height_m", "pressure_hPa", "model_level", "flight_level", "none")


def _iso(t: Any) -> str:
    if t is None:
        return ""
    if isinstance(t, np.datetime64):
        return str(np.datetime_as_string(t, unit="s"))
    if hasattr(t, "isoformat"):
        try:
            return str(t.isoformat(timespec="seconds"))
        except TypeError:
            return str(t.isoformat())
    return str(t)


@dataclass
class Field:
    """One variable on its grid.

    values       lazy array (dask), shape (nt, nz, ny, nx); fill values already NaN
    times        list of cftime datetimes (or np.datetime64); datetime.timedelta offsets when
                 the time has no reference date (WRF/NCL "hours"); [None] * nt when the file
                 has no time or bare numbers (steps, taken as hourly)
    lon, lat     true geographic degrees, 1-D (regular grid, lengths nx, ny) or 2-D (ny, nx)
    vertical     level values, shape (nz,) or (nz, ny, nx) (hybrid height over orography)
    vertical_kind one of VERTICAL_KINDS; vertical_units the units of ``vertical``
    crs          pyproj CRS of the native grid, None for plain lat-lon
    x, y         native 1-D projection (or rotated-pole) coordinates when projected, else None
    rotated_pole (grid_north_pole_longitude, grid_north_pole_latitude,
                 north_pole_grid_longitude) for rotated-pole grids, else None
    paths        source files
    notes        what the reader chose or changed (member, level type, regridding), one
                 phrase each, for the run's log
    attrs        the file's global attributes that say where the data comes from (source,
                 model, title; NAME's header), strings, for the title
                 (``climate_pipeline.labels``)
    """

    name: str
    values: Any
    times: list
    lon: np.ndarray
    lat: np.ndarray
    standard_name: str = ""
    units: str = ""
    long_name: str = ""
    calendar: str = "standard"
    vertical: np.ndarray = field(default_factory=lambda: np.zeros(1))
    vertical_kind: str = "none"
    vertical_units: str = ""
    crs: Any = None
    x: np.ndarray | None = None
    y: np.ndarray | None = None
    rotated_pole: tuple[float, float, float] | None = None
    paths: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    attrs: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int, int]:
        return tuple(int(n) for n in self.values.shape)  # type: ignore[return-value]

    @property
    def nt(self) -> int:
        return self.shape[0]

    @property
    def nz(self) -> int:
        return self.shape[1]

    def lonlat_2d(self) -> tuple[np.ndarray, np.ndarray]:
        """(lon, lat), each of shape (ny, nx)."""
        if self.lon.ndim == 2:
            return self.lon, self.lat
        lon2, lat2 = np.meshgrid(self.lon, self.lat)
        return lon2, lat2

    def time_labels(self) -> list[str]:
        """ISO 8601 strings, one per time step ('' when the field has no time)."""
        return [_iso(t) for t in self.times]

    def _where(self) -> str:
        src = ", ".join(self.paths) if self.paths else "<memory>"
        return f"{src}: variable {self.name!r}"

    def frame(self, t: int) -> np.ndarray:
        """Time step ``t`` as a numpy array (nz, ny, nx), loading that step only.

        Raises BadInputError when the frame is entirely NaN (missing data).
        """
        if not -self.nt <= t < self.nt:
            raise BadInputError(f"{self._where()}: time index {t} out of range 0..{self.nt - 1}")
        a = self.values[t]
        # synchronous: one step is one chunk, and HDF5 (netCDF4) is not thread-safe, so dask's
        # threaded scheduler inside a worker process gives sporadic "NetCDF: HDF error"
        try:
            a = np.asarray(a.compute(scheduler="synchronous") if hasattr(a, "compute") else a)
        except (MemoryError, PipelineError):
            raise
        except Exception as exc:  # the reader's lazy load: a file cut short, a bad record
            msg = " ".join(str(exc).split()) or type(exc).__name__
            raise BadInputError(f"{self._where()}: frame {t}: cannot read its values "
                                f"({type(exc).__name__}: {msg}); expected a complete, "
                                "readable file") from exc
        finite = np.isfinite(a)
        if a.size and not finite.any():
            label = self.time_labels()[t]
            raise BadInputError(
                f"{self._where()}: frame {t} ({label or 'no time'}) is all NaN/missing; "
                "expected at least one valid value"
            )
        if not finite.all() and np.isinf(a).any():
            label = self.time_labels()[t]
            raise BadInputError(
                f"{self._where()}: frame {t} ({label or 'no time'}) holds "
                f"{int(np.isinf(a).sum())} infinite value(s); expected finite values "
                "(missing ones as NaN or the _FillValue)")
        return a

    def steps(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Time steps ``start:stop`` (all by default) at once, (n, nz, ny, nx): one read, not
        one per step (a city box with thousands of steps); fill values NaN (no all-NaN
        check)."""
        a = self.values[start:stop]
        return np.asarray(a.compute(scheduler="synchronous") if hasattr(a, "compute") else a)


@dataclass
class Winds:
    """Wind components as Fields on one grid; ``frame(t)`` gives true east/north components.

    ``rotate`` is True when u, v are along a rotated-pole grid's axes: ``frame`` then rotates
    them to true east/north (``geo.rotate_winds``), one time step at a time.
    """

    u: Field
    v: Field
    w: Field | None = None
    rotate: bool = False

    @property
    def has_w(self) -> bool:
        return self.w is not None

    def _true_east_north(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """u, v (any leading axes) rotated from a rotated-pole grid to true east/north."""
        if (self.rotate and self.u.rotated_pole is not None and self.u.x is not None
                and self.u.y is not None):
            from climate_pipeline import geo

            plon, plat, npgl = self.u.rotated_pole
            rlon, rlat = np.meshgrid(self.u.x, self.u.y)
            u, v = geo.rotate_winds(u, v, rlon, rlat, plon, plat, npgl)
        return u, v

    def frame(self, t: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(u, v, w-or-None) at time step ``t``, each (nz, ny, nx), u/v true east/north."""
        u = self.u.frame(t)
        v = self.v.frame(t)
        w = self.w.frame(t) if self.w is not None else None
        return (*self._true_east_north(u, v), w)

    def steps(self, start: int = 0, stop: int | None = None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(u, v, w-or-None) at time steps ``start:stop`` (all by default), each
        (n, nz, ny, nx), read at once."""
        u, v = self.u.steps(start, stop), self.v.steps(start, stop)
        w = self.w.steps(start, stop) if self.w is not None else None
        return (*self._true_east_north(u, v), w)
