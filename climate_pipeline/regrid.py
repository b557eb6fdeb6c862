"""Winds on a curvilinear grid (WRF, CMAQ, rotated poles, Lambert GRIB) resampled onto a
regular lat-lon grid, so that the particle kernel (which samples a regular grid) can
advect through them.

The target grid spans the source's longitudes and latitudes with as many columns and rows as
the source has; each target point is interpolated linearly inside the Delaunay triangle of
source points (lon, lat) that holds it (barycentric weights, computed once per grid), and
takes the nearest source point outside their hull (a domain's corners on a Lambert map).
The components must already be earth-relative (east/north):
:mod:`climate_pipeline.readers.wrf` rotates WRF's grid-relative winds. Missing values (NaN:
land in an ocean current) become 0.
Pure numpy and scipy.spatial; the weights cost one triangulation, each step one gather.
"""

from __future__ import annotations

import numpy as np

__all__ = ["CurvilinearRegrid"]


class CurvilinearRegrid:
    """Resample ``(..., nj, ni)`` arrays from 2-D ``lon, lat`` onto regular 1-D axes."""

    def __init__(self, lon: np.ndarray, lat: np.ndarray) -> None:
        from scipy.spatial import Delaunay, cKDTree

        lon = np.asarray(lon, np.float64)
        lat = np.asarray(lat, np.float64)
        if lon.shape != lat.shape or lon.ndim != 2:
            raise ValueError(f"curvilinear lon/lat must be 2-D of one shape, got {lon.shape} "
                             f"and {lat.shape}")
        # a domain across the date line: work in 0..360 when that makes it narrower
        if np.ptp(lon) > 180 and np.ptp(lon % 360) < np.ptp(lon):
            lon = lon % 360
        nj, ni = lon.shape
        self.shape = (nj, ni)
        self.lon = np.linspace(lon.min(), lon.max(), ni)
        self.lat = np.linspace(lat.min(), lat.max(), nj)
        src = np.column_stack([lon.ravel(), lat.ravel()])
        tx, ty = np.meshgrid(self.lon, self.lat)
        tgt = np.column_stack([tx.ravel(), ty.ravel()])
        tri = Delaunay(src)
        simplex = tri.find_simplex(tgt)
        inside = simplex >= 0
        idx = np.zeros((len(tgt), 3), np.int64)
        wts = np.zeros((len(tgt), 3), np.float64)
        s = simplex[inside]
        trans = tri.transform[s]  # (m, 3, 2): the affine to barycentric coordinates
        b = np.einsum("mij,mj->mi", trans[:, :2], tgt[inside] - trans[:, 2])
        idx[inside] = tri.simplices[s]
        wts[inside] = np.column_stack([b, 1.0 - b.sum(axis=1)])
        if (~inside).any():
            _, near = cKDTree(src).query(tgt[~inside])
            idx[~inside, 0] = near
            wts[~inside, 0] = 1.0
        self.idx, self.wts = idx, wts.astype(np.float32)

    def __call__(self, a: np.ndarray) -> np.ndarray:
        """``a`` (..., nj, ni) on the regular grid: (..., len(lat), len(lon)), float32."""
        a = np.asarray(a)
        if a.shape[-2:] != self.shape:
            raise ValueError(f"expected (..., {self.shape[0]}, {self.shape[1]}), got {a.shape}")
        lead = a.shape[:-2]
        flat = a.reshape(-1, self.shape[0] * self.shape[1])
        out = np.empty((flat.shape[0], len(self.idx)), np.float32)
        for r in range(flat.shape[0]):  # one level of one step at a time: small temporaries
            row = np.nan_to_num(flat[r].astype(np.float32, copy=False), nan=0.0)
            out[r] = (row[self.idx] * self.wts).sum(axis=1)
        return out.reshape(*lead, len(self.lat), len(self.lon))
