"""Wind particles: RK4 advection through gridded winds on the sphere, seeding, ageing, trails.

Pure functions and a small stateful :class:`ParticleSystem`; numpy in, numpy out.

Winds live on a regular grid (:class:`WindGrid`): longitudes and latitudes in degrees,
ascending and evenly spaced (longitudes may cover the globe: periodic, with or without a
duplicated end column), optional heights ``z`` in metres (ascending, any spacing) and times
``t`` in seconds. ``u``, ``v`` (true east/north, m/s) and the optional ``w`` are shaped
``(nt, [nz,] nlat, nlon)``.

Integration: classical RK4 in time; winds trilinear in (lon, lat, z) (bilinear in 2-D) and
linear in time (constant outside the time axis); on the sphere of radius R = 6371 km::

    dlon/dt = u / (R cos(lat))   dlat/dt = v / R   dz/dt = w       (angles in radians)

Longitudes are wrapped into ``[lon[0], lon[0] + 360)`` on a global grid. A particle whose
position at any RK stage leaves the domain (latitude or height out of range, longitude out of a
regional grid) is dead: it keeps its last position and ``alive`` is False from then on.

The hot loop is a C kernel (``climate_pipeline._advect_c``, built by setup.py, GIL released,
no threads of its own: parallelism is over particle batches in separate tasks); float32 winds
go through AVX-512F or AVX2 vectors of particles where the CPU has them (bit-identical to its
scalar path). Without it, a vectorised numpy fallback gives the same results within rounding.

Pipeline use (parallel over batches, each through all frames)::

    field = WindField(grid, u, v, w)
    frames = advect_batch(field, n=100_000, seed=7, batch=b, times=frame_times, dt=600.0,
                          max_age=86400.0, trail_length=16)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

try:  # the compiled kernel; optional
    from climate_pipeline import _advect_c  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - exercised where no compiler was around
    _advect_c = None

EARTH_RADIUS = 6371.0e3
DEG = 180.0 / np.pi
RAD = np.pi / 180.0
_COS_MIN = 1e-12
ID_BATCH_SHIFT = 40  # particle id = batch << 40 | serial: unique across batches

__all__ = [
    "EARTH_RADIUS",
    "WindGrid",
    "WindField",
    "Trajectory",
    "ParticleFrame",
    "ParticleSystem",
    "advect",
    "advect_batch",
    "seed_particles",
    "trails_to_polylines",
    "kernel_available",
]


def kernel_available() -> bool:
    """True when the compiled advection kernel is importable."""
    return _advect_c is not None


@dataclass(frozen=True)
class WindGrid:
    """Coordinates of the wind arrays: lon, lat (degrees), z (metres, or None in 2-D), t (s)."""

    lon: np.ndarray
    lat: np.ndarray
    t: np.ndarray
    z: np.ndarray | None = None


def _uniform_step(a: np.ndarray, name: str) -> tuple[float, float]:
    if a.ndim != 1 or a.size < 2:
        raise ValueError(f"{name} needs at least 2 points")
    d = np.diff(a)
    step = float((a[-1] - a[0]) / (a.size - 1))
    if step <= 0 or not np.allclose(d, step, rtol=1e-6, atol=1e-9 * abs(step)):
        raise ValueError(f"{name} must be ascending and evenly spaced")
    return float(a[0]), step


class WindField:
    """Winds packed for advection: (nt, nz, nlat, nlon, ncomp) with u, v[, w] interleaved.

    ``dtype`` float64 (default: interpolation in double, exact for linear fields) or float32
    (the fast path: winds padded to (u, v, w, 0), one 16-byte vector per node, interpolated in
    float32 — about 1e-7 relative on the winds — while positions, RK4 and the spherical
    metric stay in double; the numpy fallback reproduces the same float32 arithmetic).
    Build it once and reuse it for every advection call.
    """

    def __init__(self, grid: WindGrid, u, v, w=None, *, dtype=np.float64):
        lon = np.asarray(grid.lon, dtype=np.float64)
        lat = np.asarray(grid.lat, dtype=np.float64)
        t = np.atleast_1d(np.asarray(grid.t, dtype=np.float64))
        z = None if grid.z is None else np.asarray(grid.z, dtype=np.float64)
        u = np.asarray(u)
        v = np.asarray(v)
        three_d = z is not None
        zarr: np.ndarray = z if z is not None else np.zeros(1)
        if w is not None and not three_d:
            raise ValueError("w needs a vertical axis (grid.z); 2-D winds are u, v only")
        expect = (t.size,) + ((zarr.size,) if three_d else ()) + (lat.size, lon.size)
        for name, a in (("u", u), ("v", v)) + ((("w", np.asarray(w)),) if w is not None else ()):
            if a.shape != expect:
                raise ValueError(f"{name} has shape {a.shape}, the grid needs {expect}")
        if t.size > 1 and np.any(np.diff(t) <= 0):
            raise ValueError("times must be strictly ascending")
        if three_d and zarr.size > 1 and np.any(np.diff(zarr) <= 0):
            raise ValueError("z must be strictly ascending")
        lon0, dlon = _uniform_step(lon, "lon")
        lat0, dlat = _uniform_step(lat, "lat")
        nlon = lon.size
        comps = [u, v] + ([np.asarray(w)] if w is not None else [])
        periodic = False
        if abs(nlon * dlon - 360.0) < 1e-6 * 360.0:
            periodic = True
        elif abs((nlon - 1) * dlon - 360.0) < 1e-6 * 360.0:  # duplicated end column
            periodic = True
            nlon -= 1
            lon = lon[:-1]
            comps = [c[..., :-1] for c in comps]
        if not three_d:
            comps = [c[:, None] for c in comps]
        self.lon, self.lat, self.t = lon, lat, t
        self.z = zarr
        self.three_d = three_d
        self._izlev = np.append(1.0 / np.diff(self.z), 0.0)
        self.periodic = periodic
        self.lon0, self.dlon, self.lat0, self.dlat = lon0, dlon, lat0, dlat
        self.nt, self.nz = t.size, self.z.size
        self.nlat, self.nlon = lat.size, nlon
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError("dtype must be float32 or float64")
        self.nc = 4 if dtype == np.float32 else len(comps)  # float32: padded (u, v, w, 0),
        # one 16-byte vector per node; packed in one array, component by component (no
        # stacked or zero-filled temporaries: a time step of a regional run is 100 MB)
        self.data = np.empty(comps[0].shape + (self.nc,), dtype)
        for c, a in enumerate(comps):
            if not np.isfinite(a).all():
                raise ValueError("winds contain NaN or infinite values")
            self.data[..., c] = a
        self.data[..., len(comps):] = 0

    # --- domain -------------------------------------------------------------------------------
    @property
    def lon_range(self) -> tuple[float, float]:
        if self.periodic:
            return self.lon0, self.lon0 + 360.0
        return self.lon0, self.lon0 + (self.nlon - 1) * self.dlon

    @property
    def lat_range(self) -> tuple[float, float]:
        return self.lat0, self.lat0 + (self.nlat - 1) * self.dlat

    @property
    def z_range(self) -> tuple[float, float]:
        return float(self.z[0]), float(self.z[-1])

    def wrap_lon(self, lon):
        if not self.periodic:
            return lon
        return lon - 360.0 * np.floor((lon - self.lon0) / 360.0)

    def frozen(self, t: float, sign: float = 1.0) -> WindField:
        """The winds at time ``t`` (linear between the two steps around it), constant in time,
        times ``sign`` (-1: the reversed flow, for integrating streamlines backwards)."""
        import copy

        one = self.data.dtype.type
        if self.nt > 1:  # d0 + ft * (d1 - d0), in one new array (a time step of the field)
            t = float(np.clip(t, self.t[0], self.t[-1]))
            it = min(int(np.searchsorted(self.t, t, side="right")) - 1, self.nt - 2)
            ft = (t - self.t[it]) / (self.t[it + 1] - self.t[it])
            slab = np.subtract(self.data[it + 1], self.data[it])
            slab *= one(ft)
            slab += self.data[it]
        else:
            slab = self.data[0].copy()
        if sign != 1.0:
            slab *= one(sign)
        out = copy.copy(self)
        out.t = np.zeros(1)
        out.nt = 1
        out.data = slab[None]
        return out

    def reverse(self) -> None:
        """Reverse the flow in place (every wind times -1): the backward streamlines of a
        :meth:`frozen` field without a second copy of it."""
        np.negative(self.data, out=self.data)

    # --- numpy sampling (same operation order as the C kernel) ---------------------------------
    def sample(self, t, lon, lat, z):
        """Winds (u, v, w) at scalar time t and positions; returns (w3 (3, n), inside)."""
        lon = np.asarray(lon, dtype=np.float64)
        lat = np.asarray(lat, dtype=np.float64)
        z = np.asarray(z, dtype=np.float64)
        n = lon.size
        tt = self.t
        if self.nt > 1:
            if t <= tt[0]:
                it, ft = 0, 0.0
            elif t >= tt[-1]:
                it, ft = self.nt - 2, 1.0
            else:
                it = int(np.searchsorted(tt, t, side="right")) - 1
                ft = (t - tt[it]) / (tt[it + 1] - tt[it])
        else:
            it, ft = 0, 0.0
        inside = np.ones(n, dtype=bool)
        x = (lon - self.lon0) * (1.0 / self.dlon)
        if self.periodic:
            x = x - float(self.nlon) * np.floor(x / float(self.nlon))
            i0 = np.clip(x.astype(np.int64), 0, self.nlon - 1)
            i1 = np.where(i0 + 1 == self.nlon, 0, i0 + 1)
        else:
            inside &= (x >= 0.0) & (x <= float(self.nlon - 1))
            i0 = np.clip(np.where(inside, x, 0.0).astype(np.int64), 0, self.nlon - 2)
            i1 = i0 + 1
        fx = x - i0
        y = (lat - self.lat0) * (1.0 / self.dlat)
        inside &= (y >= 0.0) & (y <= float(self.nlat - 1))
        j0 = np.clip(np.where(inside, y, 0.0).astype(np.int64), 0, self.nlat - 2)
        fy = y - j0
        if self.nz > 1:
            zl = self.z
            inside &= (z >= zl[0]) & (z <= zl[-1])
            k0 = np.clip(np.searchsorted(zl, np.where(inside, z, zl[0]), side="right") - 1,
                         0, self.nz - 2)
            k1 = k0 + 1
            fz = (z - zl[k0]) * self._izlev[k0]
        else:
            k0 = k1 = np.zeros(n, dtype=np.int64)
            fz = np.zeros(n)
        d = self.data
        acc = d.dtype  # float32 fields interpolate in float32, as the kernel's vectors do
        levels = [it, it + 1] if self.nt > 1 else [it]
        tv = []
        fxc, fyc = fx[:, None].astype(acc), fy[:, None].astype(acc)
        fzc = np.asarray(fz, dtype=np.float64)[:, None].astype(acc)
        for a in levels:
            b = d[a]
            a00, b00 = b[k0, j0, i0], b[k0, j0, i1]
            a01, b01 = b[k0, j0 + 1, i0], b[k0, j0 + 1, i1]
            a10, b10 = b[k1, j0, i0], b[k1, j0, i1]
            a11, b11 = b[k1, j0 + 1, i0], b[k1, j0 + 1, i1]
            c00 = a00 + fxc * (b00 - a00)
            c01 = a01 + fxc * (b01 - a01)
            c10 = a10 + fxc * (b10 - a10)
            c11 = a11 + fxc * (b11 - a11)
            d0 = c00 + fyc * (c01 - c00)
            d1 = c10 + fyc * (c11 - c10)
            tv.append(d0 + fzc * (d1 - d0))
        ftc = acc.type(ft)
        val = (tv[0] + ftc * (tv[1] - tv[0]) if len(tv) == 2 else tv[0]).astype(np.float64)
        w3 = np.zeros((3, n))
        m = min(self.nc, 3)
        w3[:m] = val.T[:m]
        w3[:, ~inside] = 0.0
        return w3, inside

    def _rhs(self, t, p):
        w3, inside = self.sample(t, p[0], p[1], p[2])
        c = np.maximum(np.cos(p[1] * RAD), _COS_MIN)
        k = np.empty_like(p)
        k[0] = w3[0] * (DEG / EARTH_RADIUS) / c
        k[1] = w3[1] * (DEG / EARTH_RADIUS)
        k[2] = w3[2]
        return k, inside

    def _run_numpy(self, lon, lat, z, alive, frames, nsteps, t0, out):
        p = np.stack([lon, lat, z]).astype(np.float64)
        alive = alive.astype(bool).copy()
        t = t0
        for f, tf in enumerate(frames):
            ns = int(nsteps[f])
            if ns > 0:
                h = (tf - t) / ns
                for s in range(ns):
                    ts = t + s * h
                    idx = np.flatnonzero(alive)
                    if idx.size == 0:
                        break
                    q = p[:, idx]
                    k1, ok = self._rhs(ts, q)
                    k2, ok2 = self._rhs(ts + 0.5 * h, q + 0.5 * h * k1)
                    ok &= ok2
                    k3, ok3 = self._rhs(ts + 0.5 * h, q + 0.5 * h * k2)
                    ok &= ok3
                    k4, ok4 = self._rhs(ts + h, q + h * k3)
                    ok &= ok4
                    new = q + (h / 6.0) * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
                    if self.periodic:
                        new[0] = self.wrap_lon(new[0])
                    p[:, idx[ok]] = new[:, ok]
                    alive[idx[~ok]] = False
            t = tf
            w3, inside = self.sample(tf, p[0], p[1], p[2])
            alive &= inside
            out["lon"][f], out["lat"][f], out["z"][f] = p
            out["speed"][f] = np.where(alive, np.sqrt(w3[0] * w3[0] + w3[1] * w3[1]
                                                      + w3[2] * w3[2]), 0.0)
            out["alive"][f] = alive

    def advect(self, lon, lat, z, t0, frames, dt, *, use_c: bool | None = None,
               sort: bool = True) -> Trajectory:
        """Advance particles from t0 through the output times ``frames`` with RK4 steps <= dt.

        Between consecutive output times the interval is split into ceil(interval / dt) equal
        steps. Returns a :class:`Trajectory` with arrays shaped (n_frames, n_particles).
        ``use_c`` None: the C kernel when built; False: numpy; True: C or ImportError.
        """
        lon = np.ascontiguousarray(lon, dtype=np.float64).ravel()
        lat = np.ascontiguousarray(lat, dtype=np.float64).ravel()
        n = lon.size
        if z is None:
            z = np.full(n, self.z[0])
        z = np.ascontiguousarray(np.broadcast_to(np.asarray(z, dtype=np.float64), (n,)))
        if lat.size != n:
            raise ValueError("lon and lat differ in length")
        frames = np.atleast_1d(np.asarray(frames, dtype=np.float64))
        if dt <= 0:
            raise ValueError("dt must be positive")
        prev = np.concatenate([[float(t0)], frames[:-1]])
        span = frames - prev
        if np.any(span < 0):
            raise ValueError("output times must be ascending from t0")
        nsteps = np.ceil(span / dt * (1.0 - 1e-12)).astype(np.int64)
        nsteps[(span > 0) & (nsteps < 1)] = 1
        lon = self.wrap_lon(lon)
        alive = np.ones(n, dtype=np.uint8)
        nf = frames.size
        out = {k: np.empty((nf, n)) for k in ("lon", "lat", "z", "speed")}
        out["alive"] = np.empty((nf, n), dtype=np.uint8)
        if use_c is None:
            use_c = _advect_c is not None
        if use_c:
            if _advect_c is None:
                raise ImportError("climate_pipeline._advect_c is not built")
            order = self._locality_order(lon, lat, z) if sort and n > 1 else None
            _advect_c.run(
                self.data,
                (self.data.itemsize, self.nt, self.nz, self.nlat, self.nlon, self.nc,
                 self.lon0, self.dlon, self.lat0, self.dlat, self.periodic),
                np.ascontiguousarray(self.t), np.ascontiguousarray(self.z),
                lon, lat, z, alive, frames, nsteps, float(t0), order,
                out["lon"], out["lat"], out["z"], out["speed"], out["alive"])
        else:
            self._run_numpy(lon, lat, z, alive, frames, nsteps, float(t0), out)
        return Trajectory(frames, out["lon"], out["lat"], out["z"], out["speed"],
                          out["alive"].astype(bool))

    def _locality_order(self, lon, lat, z):
        """Particles ordered by coarse grid block (height band, lat, lon) so that the kernel
        walks the field's memory in order: a 16-bit key, so numpy's stable sort is a radix
        sort (linear time)."""
        nzb = min(self.nz, 16)
        rest = 65535 // nzb
        b = 1
        while (-(-self.nlat // b)) * (-(-self.nlon // b)) > rest:
            b += 1
        nbx = -(-self.nlon // b)
        nby = -(-self.nlat // b)
        x = ((lon - self.lon0) * (1.0 / (self.dlon * b))).astype(np.int64)
        y = ((lat - self.lat0) * (1.0 / (self.dlat * b))).astype(np.int64)
        np.clip(x, 0, nbx - 1, out=x)
        np.clip(y, 0, nby - 1, out=y)
        key = y * nbx + x
        if nzb > 1:
            zs = (z - self.z[0]) * (nzb / (self.z[-1] - self.z[0]))
            k = np.clip(zs.astype(np.int64), 0, nzb - 1)
            key += k * (nbx * nby)
        return np.ascontiguousarray(np.argsort(key.astype(np.uint16), kind="stable"),
                                    dtype=np.int64)


@dataclass
class Trajectory:
    """Advection output, arrays shaped (n_frames, n_particles); ``times`` (n_frames,)."""

    times: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    z: np.ndarray
    speed: np.ndarray
    alive: np.ndarray


def advect(lon, lat, z, u, v, w, grid: WindGrid, t0: float, t1: float, dt: float, *,
           frames=None, use_c: bool | None = None, dtype=np.float64) -> Trajectory:
    """RK4 advection from t0 to t1 with steps <= dt through winds (u, v[, w]) on ``grid``.

    ``frames``: output times (ascending, in (t0, t1]) or an int count of evenly spaced frames
    ending at t1; default: one frame at t1. ``z`` may be None in 2-D. Returns a
    :class:`Trajectory` (positions, speed and alive flag per output frame).
    """
    field = WindField(grid, u, v, w, dtype=dtype)
    if frames is None:
        frames = np.array([t1], dtype=np.float64)
    elif isinstance(frames, int | np.integer):
        frames = np.linspace(t0, t1, int(frames) + 1)[1:]
    return field.advect(lon, lat, z, t0, frames, dt, use_c=use_c)


# --- seeding ---------------------------------------------------------------------------------

def seed_particles(field: WindField, n: int, rng: np.random.Generator, weights=None,
                   z_range: tuple[float, float] | None = None):
    """n positions (lon, lat, z) in the domain.

    Uniform: uniform in area on the sphere (lon uniform, sin(lat) uniform) and in z.
    ``weights``: a non-negative field on the grid nodes, (nlat, nlon) or (nz, nlat, nlon)
    (full longitude count, as the winds); a node is chosen with probability proportional to its
    value, then the position is jittered uniformly within half a grid cell around it (clipped
    to the domain), so each particle's nearest node is the chosen one.
    """
    lo0, lo1 = field.lon_range
    la0, la1 = field.lat_range
    z0, z1 = z_range if z_range is not None else field.z_range
    if weights is None:
        lon = rng.uniform(lo0, lo1, n)
        s0, s1 = np.sin(la0 * RAD), np.sin(la1 * RAD)
        lat = np.clip(np.arcsin(rng.uniform(s0, s1, n)) * DEG, la0, la1)
        zz = rng.uniform(z0, z1, n) if field.nz > 1 else np.full(n, field.z[0])
        return field.wrap_lon(lon), lat, zz
    wgt = np.asarray(weights, dtype=np.float64)
    if wgt.ndim == 2:
        wgt = wgt[None]
    if field.periodic and wgt.shape[-1] == field.nlon + 1:
        wgt = wgt[..., :-1]
    if wgt.shape[1:] != (field.nlat, field.nlon) or wgt.shape[0] not in (1, field.nz):
        raise ValueError(f"weights shape {np.shape(weights)} does not fit the grid")
    wgt = np.where(np.isfinite(wgt) & (wgt > 0), wgt, 0.0)
    total = wgt.sum()
    if total <= 0:
        raise ValueError("weights are zero everywhere")
    flat = rng.choice(wgt.size, size=n, p=(wgt / total).ravel())
    k, j, i = np.unravel_index(flat, wgt.shape)
    lon = field.lon0 + (i + rng.uniform(-0.5, 0.5, n)) * field.dlon
    lat = np.clip(field.lat0 + (j + rng.uniform(-0.5, 0.5, n)) * field.dlat, la0, la1)
    if field.periodic:
        lon = field.wrap_lon(lon)
    else:
        lon = np.clip(lon, lo0, lo1)
    if wgt.shape[0] == 1 or field.nz == 1:
        zz = rng.uniform(z0, z1, n) if field.nz > 1 else np.full(n, field.z[0])
    else:
        zl = field.z
        lo = np.where(k > 0, 0.5 * (zl[np.maximum(k - 1, 0)] + zl[k]), zl[0])
        hi = np.where(k < field.nz - 1, 0.5 * (zl[np.minimum(k + 1, field.nz - 1)] + zl[k]),
                      zl[-1])
        zz = rng.uniform(lo, hi)
    return lon, lat, zz


class WindWindows:
    """Winds read through a sliding window of time steps (issue #15: memory must not grow
    with the number of steps). ``load(i0, i1)`` returns a :class:`WindField` of steps
    ``i0..i1`` (inclusive), read at once; ``t`` are all the steps' times (s). At most
    ``steps`` steps are held in the window (>= 2: the two that bracket the current time).
    Stands in for a WindField in :class:`ParticleSystem`, :func:`advect_batch` and the
    streamlines: the domain comes from the window in hand, ``sample`` and ``advect`` load the
    windows their times need, and an advection across windows is split at the window edges
    (one RK4 sequence per window). With ``steps >= len(t)`` it holds the whole field (one
    read), and advects as the WindField would.

    Each step is read once on the way forward: a window that overlaps the one in hand keeps
    the steps they share (moved within one buffer of ``steps`` slots) and reads only the
    missing ones, in one ``load`` call. With ``prefetch`` the steps after the window are read
    in a background thread while the caller advects (the C kernel releases the GIL): then up
    to ``2 * steps - 1`` steps are in memory at once. ``load`` is only ever called by one
    thread at a time (HDF5 is not thread-safe).
    """

    def __init__(self, load, t, steps: int, prefetch: bool = False):
        self._load = load
        self.t = np.asarray(t, dtype=np.float64)
        self.steps = max(2, int(steps)) if self.t.size > 1 else 1
        self._span: tuple[int, int] | None = None
        self._field: WindField | None = None
        self._buf: np.ndarray | None = None
        self._proto: WindField | None = None
        self._ahead: tuple[int, int, Any] | None = None  # (i0, i1, Future of a WindField)
        self._pool: Any = None  # the prefetch thread (a ThreadPoolExecutor), once needed
        self.prefetch = bool(prefetch) and self.steps < self.t.size
        self.loads = 0  # load calls (for tests and the log)
        self.steps_read = 0  # time steps read, in all (each once on the way forward)
        self._window(0)

    def close(self) -> None:
        """Wait for a prefetch in flight and stop its thread."""
        if self._ahead is not None:
            self._ahead[2].exception()
            self._ahead = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __enter__(self) -> WindWindows:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read(self, i0: int, i1: int) -> WindField:
        self.loads += 1
        self.steps_read += i1 - i0 + 1
        return self._load(i0, i1)

    def _take_ahead(self) -> tuple[int, int, WindField] | None:
        """The prefetched steps (waiting for them if still in flight), or None."""
        if self._ahead is None:
            return None
        a0, a1, fut = self._ahead
        self._ahead = None
        return a0, a1, fut.result()

    def _start_ahead(self, i1: int) -> None:
        """Read the steps after ``i1`` (as many as the next window adds) in the background."""
        nt = self.t.size
        if not self.prefetch or i1 >= nt - 1:
            return
        a0, a1 = i1 + 1, min(i1 + self.steps - 1, nt - 1)
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="wind-prefetch")
        self._ahead = (a0, a1, self._pool.submit(self._read, a0, a1))

    def _window(self, i0: int) -> WindField:
        """The window starting at step ``i0`` (clipped to the end), loaded if not in hand."""
        nt = self.t.size
        i0 = int(min(max(i0, 0), max(nt - self.steps, 0)))
        i1 = min(i0 + self.steps - 1, nt - 1)
        if self._span == (i0, i1):
            assert self._field is not None
            return self._field
        ahead = self._take_ahead()  # (the reader is free from here on)
        if self.steps >= nt:  # the whole field: one read, no buffer
            self._field = self._read(i0, i1)
            self._span = (i0, i1)
            return self._field
        n = i1 - i0 + 1
        old = self._span
        keep = 0  # steps of the window in hand that the new one starts with
        if old is not None and old[0] <= i0 <= old[1]:
            keep = old[1] - i0 + 1
        fill = i0 + keep  # first step still to find
        parts: list[tuple[int, np.ndarray]] = []  # (first step, packed steps) to copy in
        if ahead is not None and ahead[0] == fill:
            a0, a1, chunk = ahead
            take = min(a1, i1) - a0 + 1
            parts.append((a0, chunk.data[:take]))
            fill += take
            self._keep_proto(chunk)
            del chunk  # (its data lives on in parts until copied in)
        del ahead
        if fill <= i1:
            read = self._read(fill, i1)
            parts.append((fill, read.data))
            self._keep_proto(read)
            del read
        if self._buf is None:
            first = parts[0][1]
            self._buf = np.empty((self.steps,) + first.shape[1:], first.dtype)
        buf = self._buf
        if keep:  # move the shared steps to the front, lowest first (slots never overlap)
            assert old is not None
            shift = i0 - old[0]
            for k in range(keep):
                if shift:
                    buf[k] = buf[k + shift]
        for s0, data in parts:
            buf[s0 - i0:s0 - i0 + len(data)] = data
        del parts
        self._field = self._as_window(i0, n)
        self._span = (i0, i1)
        self._start_ahead(i1)
        return self._field

    def _keep_proto(self, field: WindField) -> None:
        """The grid of the windows (every load has the same), kept without its data."""
        if self._proto is None:
            import copy

            self._proto = copy.copy(field)
            self._proto.data = field.data[:0]

    def _as_window(self, i0: int, n: int) -> WindField:
        """A WindField over buffer slots 0..n-1 (steps i0..i0+n-1), no copy."""
        import copy

        assert self._proto is not None
        out = copy.copy(self._proto)
        out.t = self.t[i0:i0 + n]
        out.nt = n
        assert self._buf is not None
        out.data = self._buf[:n]
        return out

    def _step_at(self, t: float, side: Literal["left", "right"]) -> int:
        """Index of the step at or before ``t`` ('right') / before ``t`` ('left')."""
        return int(np.clip(np.searchsorted(self.t, t, side=side) - 1, 0, max(self.t.size - 2,
                                                                                0)))

    def _window_end(self, t1: float) -> float:
        """``t1``, or the last step of the window in hand if that comes first."""
        assert self._span is not None
        return float(min(t1, self.t[self._span[1]]))

    def field_at(self, t: float) -> WindField:
        """A window holding the two steps that bracket ``t``."""
        if self._span is not None:
            i0, i1 = self._span
            if self.t[i0] <= t <= self.t[i1] or self.t.size == 1:
                return self._window(i0)
        return self._window(self._step_at(float(t), "right"))

    def __getattr__(self, name):  # the domain (lon, lat, z, ranges, ...) of the window in hand
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self._window(self._span[0] if self._span else 0), name)

    @property
    def nt(self) -> int:
        return int(self.t.size)

    def sample(self, t, lon, lat, z):
        return self.field_at(float(t)).sample(t, lon, lat, z)

    def frozen(self, t: float, sign: float = 1.0) -> WindField:
        return self.field_at(float(t)).frozen(t, sign)

    def advect(self, lon, lat, z, t0, frames, dt, *, use_c: bool | None = None,
               sort: bool = True) -> Trajectory:
        """As :meth:`WindField.advect`, output time by output time and window by window; a
        particle that dies (in one window, or before one output time) stays dead."""
        frames = np.atleast_1d(np.asarray(frames, dtype=np.float64))
        if frames.size == 1:
            return self._advect_to(lon, lat, z, t0, float(frames[0]), dt, use_c=use_c,
                                   sort=sort)
        parts = []
        alive = None
        t = float(t0)
        for tf in frames:
            tr = self._advect_to(lon, lat, z, t, float(tf), dt, use_c=use_c, sort=sort)
            alive = tr.alive[0] if alive is None else alive & tr.alive[0]
            parts.append(Trajectory(tr.times, tr.lon, tr.lat, tr.z,
                                    np.where(alive, tr.speed[0], 0.0)[None], alive[None]))
            lon, lat, z, t = tr.lon[0], tr.lat[0], tr.z[0], float(tf)
        return Trajectory(frames, *(np.concatenate([getattr(p, k) for p in parts])
                                    for k in ("lon", "lat", "z", "speed", "alive")))

    def _advect_to(self, lon, lat, z, t0, t1: float, dt, *, use_c: bool | None = None,
                   sort: bool = True) -> Trajectory:
        """One output time ``t1``, window by window."""
        t = float(t0)
        lon = np.asarray(lon, np.float64)
        lat = np.asarray(lat, np.float64)
        z = None if z is None else np.asarray(z, np.float64)
        alive = None
        while True:
            wf = self.field_at(t)
            end = self._window_end(t1)
            if end <= t:  # t at the window's last step: move on to the window starting there
                wf = self._window(self._step_at(t, "right"))
                end = self._window_end(t1)
                if end <= t:  # past the last step: the kernel holds the last winds
                    end = float(t1)
            tr = wf.advect(lon, lat, z, t, [end], dt, use_c=use_c, sort=sort)
            alive = tr.alive[0] if alive is None else alive & tr.alive[0]
            lon, lat, z, t = tr.lon[0], tr.lat[0], tr.z[0], end
            if end >= t1:
                return Trajectory(np.array([t1]), lon[None], lat[None], z[None],
                                  np.where(alive, tr.speed[0], 0.0)[None], alive[None])


# --- particle system -------------------------------------------------------------------------

@dataclass
class ParticleFrame:
    """One output frame: per particle position, speed (m/s), age (s) and id."""

    time: float
    lon: np.ndarray
    lat: np.ndarray
    z: np.ndarray
    speed: np.ndarray
    age: np.ndarray
    id: np.ndarray


class ParticleSystem:
    """N particles seeded in a :class:`WindField`, advanced frame by frame, aged and respawned.

    Deterministic given (seed, batch): the generator is ``default_rng([seed, batch])`` and ids
    are ``batch << 40 | serial``, so batches are independent and their ids never collide.
    ``max_age`` (s): particles at least this old, and dead ones, are respawned (new id, age 0)
    at the end of each ``step_to``; initial ages are spread uniformly over [0, max_age) so the
    respawns do not come all at once (``stagger_ages=False``: all start at 0).
    ``trail_length`` K: the last K frames are kept for :meth:`trails`.

    ``trail_duration`` S (seconds, 0: none; instead of ``trail_length``): streaks. Between
    output times the particles are also sampled at the advection sub-steps (every
    ``ceil(S / dt / (trail_points - 1))``-th one, counted back from the output time, and only
    over the last S seconds before it), and :meth:`streaks` gives each particle's path over
    the last S seconds of flow, ending at its current position. Only the last
    ``trail_points + 1`` samples of the N particles are held (never the whole history).
    Sampling splits the kernel's run between output times into pieces at sub-step times, so
    positions agree with an unsampled run to rounding (about 1e-13 degrees), not bit for bit.
    """

    def __init__(self, field: WindField | WindWindows, n: int, *, t0: float | None = None,
                 dt: float = 600.0, seed: int = 0, batch: int = 0, weights=None,
                 max_age: float = np.inf,
                 z_range: tuple[float, float] | None = None, trail_length: int = 0,
                 stagger_ages: bool = True, use_c: bool | None = None,
                 trail_duration: float = 0.0, trail_points: int = 12):
        self.field = field
        self.n = int(n)
        self.dt = float(dt)
        self.batch = int(batch)
        self.rng = np.random.default_rng([int(seed), int(batch)])
        self.weights = weights
        self.max_age = float(max_age)
        self.z_range = z_range
        self.use_c = use_c
        self.t = float(field.t[0] if t0 is None else t0)
        self._serial = 0
        self.lon, self.lat, self.z = seed_particles(self._domain(), self.n, self.rng, weights,
                                                    z_range)
        self.id = self._new_ids(self.n)
        if np.isfinite(self.max_age) and stagger_ages:
            self.age = self.rng.uniform(0.0, self.max_age, self.n)
        else:
            self.age = np.zeros(self.n)
        self.speed = self._speed_now()
        self.trail_length = int(trail_length)
        self.trail_duration = max(float(trail_duration), 0.0)
        if self.trail_length and self.trail_duration:
            raise ValueError("trail_length (per frame) and trail_duration (streaks) exclude "
                             "each other")
        self.trail_points = max(int(trail_points), 2)
        # streaks: a sample every `_trail_every` sub-steps; (time, pos, id, speed) per sample
        self._trail_every = max(1, int(np.ceil(self.trail_duration / self.dt
                                               / (self.trail_points - 1) - 1e-9)))
        self._streak: deque = deque(maxlen=self.trail_points + 1)
        if self.trail_duration:  # the seeds' streaks from the start: traced back (below)
            step = self._trail_every * self.dt
            nb = min(int(np.ceil(self.trail_duration / step - 1e-9)), self.trail_points - 1)
            for j in range(nb, 0, -1):
                self._streak.append((self.t - j * step, np.zeros((self.n, 3)),
                                     np.full(self.n, -1, np.int64),
                                     np.zeros(self.n, np.float32)))
            self._streak.append(self._sample())
            self._backfill(np.ones(self.n, dtype=bool))
        self._trail: deque = deque(maxlen=max(self.trail_length, 1))
        if self.trail_length:
            self._trail.append(self._snapshot())

    def _domain(self) -> WindField:
        """The winds' grid (the window in hand, when read through a window: every window has
        the same grid)."""
        f = self.field
        return f.field_at(self.t) if isinstance(f, WindWindows) else f

    def _new_ids(self, k: int) -> np.ndarray:
        ids = (np.int64(self.batch) << ID_BATCH_SHIFT) + self._serial + np.arange(k, dtype=np.int64)
        self._serial += k
        return ids

    def _speed_now(self):
        w3, inside = self.field.sample(self.t, self.lon, self.lat, self.z)
        return np.where(inside, np.sqrt((w3 * w3).sum(axis=0)), 0.0)

    def _snapshot(self):
        return (np.stack([self.lon, self.lat, self.z], axis=-1), self.id.copy())

    def _sample(self, t=None, lon=None, lat=None, z=None, speed=None):
        """A streak sample: (time, positions (N, 3), ids, speeds float32); default: now."""
        if t is None:
            t, lon, lat, z, speed = self.t, self.lon, self.lat, self.z, self.speed
        return (float(t), np.stack([lon, lat, z], axis=-1), self.id.copy(),
                np.asarray(speed, np.float32))

    def _sample_times(self, t: float) -> np.ndarray:
        """The sub-step times in (self.t, t) at which the streaks sample the particles: every
        ``_trail_every``-th of the ceil((t - self.t) / dt) equal steps, counted back from t,
        over the last trail_duration (and one sample interval more) before t."""
        span = t - self.t
        ns = max(int(np.ceil(span / self.dt * (1.0 - 1e-12))), 1)
        h = span / ns
        m = self._trail_every
        back = (int(np.ceil(self.trail_duration / (m * h) - 1e-9)) + 1) * m
        js = np.arange(ns - m, max(ns - back, 0) - 1, -m)[::-1]
        js = js[js > 0]
        return self.t + js * h

    def _backfill(self, new: np.ndarray) -> None:
        """The streak samples before now of the particles ``new`` (just seeded): their paths
        traced back through the winds frozen at now (reversed flow), so a new particle shows
        a full streak at once; a path leaving the domain stops there (a shorter tail)."""
        idx = np.flatnonzero(new)
        past = [s for s in self._streak if s[0] < self.t]
        if not idx.size or not past:
            return
        back = np.array([self.t - s[0] for s in past[::-1]])  # ascending offsets
        still = self._domain().frozen(self.t, sign=-1.0)
        tr = still.advect(self.lon[idx], self.lat[idx], self.z[idx], 0.0, back, self.dt,
                          use_c=self.use_c)
        del still
        ok = np.cumprod(tr.alive, axis=0).astype(bool)  # inside all the way back
        for k, smp in enumerate(past[::-1]):
            sel = idx[ok[k]]
            smp[1][sel] = np.stack([tr.lon[k], tr.lat[k], tr.z[k]], axis=-1)[ok[k]]
            smp[2][sel] = self.id[sel]
            smp[3][sel] = tr.speed[k][ok[k]]

    def _prune_streak(self) -> None:
        """Drop samples older than needed: keep one at or before now - trail_duration."""
        cut = self.t - self.trail_duration
        while len(self._streak) >= 2 and self._streak[1][0] <= cut:
            self._streak.popleft()

    def frame(self) -> ParticleFrame:
        """The current state as a frame."""
        return ParticleFrame(self.t, self.lon.copy(), self.lat.copy(), self.z.copy(),
                             self.speed.copy(), self.age.copy(), self.id.copy())

    def step_to(self, t: float) -> ParticleFrame:
        """Advance to time t (>= current time), respawn dead and old particles, return a frame."""
        t = float(t)
        if t < self.t:
            raise ValueError(f"cannot step back from {self.t} to {t}")
        if t > self.t:
            samples = self._sample_times(t) if self.trail_duration else np.zeros(0)
            tr = self.field.advect(self.lon, self.lat, self.z, self.t,
                                   np.append(samples, t), self.dt, use_c=self.use_c)
            for k, ts in enumerate(samples):  # the sub-step samples, before any respawn
                self._streak.append(self._sample(ts, tr.lon[k], tr.lat[k], tr.z[k],
                                                 tr.speed[k]))
            self.lon, self.lat, self.z = tr.lon[-1], tr.lat[-1], tr.z[-1]
            self.speed = tr.speed[-1]
            alive = tr.alive[-1]
            del tr
            self.age = self.age + (t - self.t)
            self.t = t
        else:
            alive = np.ones(self.n, dtype=bool)
        respawn = ~alive | (self.age >= self.max_age)
        k = int(respawn.sum())
        if k:
            lon, lat, z = seed_particles(self._domain(), k, self.rng, self.weights,
                                         self.z_range)
            self.lon[respawn], self.lat[respawn], self.z[respawn] = lon, lat, z
            self.id[respawn] = self._new_ids(k)
            self.age[respawn] = 0.0
            w3, inside = self.field.sample(self.t, lon, lat, z)
            self.speed[respawn] = np.where(inside, np.sqrt((w3 * w3).sum(axis=0)), 0.0)
        if self.trail_length:
            self._trail.append(self._snapshot())
        if self.trail_duration:
            self._streak.append(self._sample())
            self._prune_streak()
            if k:
                self._backfill(respawn)
        return self.frame()

    def streaks(self, min_points: int = 2):
        """Each particle's path over the last ``trail_duration`` seconds, ending at its current
        position (the head): tails break where a particle respawned, and a tail not ending at
        a current particle (one that respawned since) is left out.

        Returns (points (M, 3) lon/lat/z, counts (P,), ids (P,), speed (M,) float32 m/s,
        fade (M,) float32): polyline p is the next counts[p] points, oldest first; ``fade``
        runs linearly in time from 0 at a tail's oldest point to 1 at its head. The oldest
        point is interpolated (linearly, in lon/lat/z and speed) to exactly trail_duration
        before now when the samples reach back that far.
        """
        none = (np.zeros((0, 3)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
                np.zeros(0, np.float32), np.zeros(0, np.float32))
        if not self.trail_duration or len(self._streak) < 2:
            return none
        samples = list(self._streak)
        times = np.array([s[0] for s in samples])
        pos = np.stack([s[1] for s in samples], axis=1)  # (N, K, 3)
        ids = np.stack([s[2] for s in samples], axis=1)  # (N, K)
        spd = np.stack([s[3] for s in samples], axis=1)  # (N, K)
        cut = self.t - self.trail_duration
        if times[0] < cut < times[1]:  # the oldest sample to exactly `cut`
            f = (cut - times[0]) / (times[1] - times[0])
            d = pos[:, 1] - pos[:, 0]
            if getattr(self._domain(), "periodic", False):
                d[:, 0] -= 360.0 * np.round(d[:, 0] / 360.0)
            same = ids[:, 0] == ids[:, 1]
            pos[same, 0] += f * d[same]
            spd[same, 0] += np.float32(f) * (spd[same, 1] - spd[same, 0])
            times[0] = cut
        k = len(times)
        tt = np.broadcast_to(times, ids.shape)
        flat_t = tt.reshape(-1)
        # runs of equal id along each row; keep those ending at the head column
        start = np.ones(ids.shape, dtype=bool)
        start[:, 1:] = ids[:, 1:] != ids[:, :-1]
        starts = np.flatnonzero(start.reshape(-1))
        n_all = ids.size
        counts = np.diff(np.append(starts, n_all))
        ends = starts + counts - 1
        keep = (counts >= min_points) & (ends % k == k - 1)
        run_of = np.repeat(keep, counts)
        t0 = np.repeat(flat_t[starts], counts)
        t1 = np.repeat(flat_t[ends], counts)
        fade = ((flat_t - t0) / np.maximum(t1 - t0, 1e-300))[run_of].astype(np.float32)
        return (pos.reshape(-1, 3)[run_of], counts[keep].astype(np.int64),
                ids.reshape(-1)[starts[keep]], spd.reshape(-1)[run_of].astype(np.float32),
                fade)

    def trails(self, min_points: int = 2):
        """Polylines of the last K positions per particle, broken where a particle respawned.

        Returns (points (M, 3) lon/lat/z, counts (P,), ids (P,)): polyline p is the next
        counts[p] points, oldest first; polylines shorter than ``min_points`` are left out.
        Respawning on a global grid leaves lon continuous within a polyline except across the
        dateline wrap, where the points jump by 360 degrees.
        """
        if not self.trail_length or not self._trail:
            return np.zeros((0, 3)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        pos = np.stack([p for p, _ in self._trail], axis=1)  # (N, K, 3)
        ids = np.stack([i for _, i in self._trail], axis=1)  # (N, K)
        return trails_to_polylines(pos, ids, min_points)


def trails_to_polylines(pos, ids, min_points: int = 2):
    """Runs of equal id along axis 1 of ``ids`` (N, K) -> (points, counts, run ids)."""
    n, k = ids.shape
    flat_ids = ids.reshape(-1)
    flat_pos = pos.reshape(-1, pos.shape[-1])
    start = np.ones(n * k, dtype=bool)
    if k > 1:
        same = ids[:, 1:] == ids[:, :-1]
        start.reshape(n, k)[:, 1:] = ~same
    starts = np.flatnonzero(start)
    counts = np.diff(np.append(starts, n * k))
    keep = counts >= min_points
    run_of = np.repeat(keep, counts)
    return flat_pos[run_of], counts[keep].astype(np.int64), flat_ids[starts[keep]]


def streamlines(field: WindField, t: float, lon, lat, z=None, *, duration: float,
                n_points: int, use_c: bool | None = None):
    """Streamlines of the winds frozen at time ``t`` through seed points.

    Each line is integrated ``duration`` seconds of flow backwards and forwards from its seed
    (RK4, ``n_points`` steps each way) and stops where it leaves the domain. Returns
    (points (M, 3) lon/lat/z, counts (L,), speed (M,) m/s, seed index (L,)); seeds outside the
    domain, or whose line has fewer than 2 points, give no line.
    """
    lon = np.asarray(lon, dtype=np.float64).ravel()
    lat = np.asarray(lat, dtype=np.float64).ravel()
    n = lon.size
    z = np.full(n, field.z[0]) if z is None else np.broadcast_to(
        np.asarray(z, dtype=np.float64), (n,)).copy()
    if duration <= 0 or n_points < 1:
        raise ValueError("streamlines need duration > 0 and n_points >= 1")
    times = np.linspace(0.0, duration, n_points + 1)[1:]
    dt = duration / n_points
    still = field.frozen(t)  # one time slab, interpolated once (its own copy)
    w3, inside = still.sample(0.0, field.wrap_lon(lon), lat, z)
    seed_speed = np.sqrt((w3 * w3).sum(axis=0))
    fwd = still.advect(lon, lat, z, 0.0, times, dt, use_c=use_c)
    still.reverse()
    bwd = still.advect(lon, lat, z, 0.0, times, dt, use_c=use_c)
    del still
    # a point counts while the line has stayed inside: leading run of alive steps
    f_ok = np.cumprod(fwd.alive, axis=0).astype(bool)
    b_ok = np.cumprod(bwd.alive, axis=0).astype(bool)
    seed_pos = np.stack([field.wrap_lon(lon), lat, z], axis=-1)[None]  # (1, n, 3)
    fpos = np.stack([fwd.lon, fwd.lat, fwd.z], axis=-1)  # (k, n, 3)
    bpos = np.stack([bwd.lon, bwd.lat, bwd.z], axis=-1)[::-1]
    pos = np.concatenate([bpos, seed_pos, fpos])  # (2k + 1, n, 3), upstream to downstream
    spd = np.concatenate([bwd.speed[::-1], seed_speed[None], fwd.speed])
    ok = np.concatenate([b_ok[::-1] & inside[None], inside[None], f_ok & inside[None]])
    counts = ok.sum(axis=0)
    keep = counts >= 2
    sel = ok[:, keep].T  # (lines, 2k + 1), row-major = point order along each line
    points = pos.transpose(1, 0, 2)[keep][sel]
    speed = spd.T[keep][sel]
    return points, counts[keep].astype(np.int64), speed, np.flatnonzero(keep)


def seed_lattice(field: WindField, n: int) -> tuple[np.ndarray, np.ndarray]:
    """About ``n`` seeds on a regular lon/lat lattice inside the domain, spaced evenly in
    kilometres (fewer columns towards the poles is left to the caller: this is a lattice)."""
    (x0, x1), (y0, y1) = field.lon_range, field.lat_range
    midlat = np.deg2rad(0.5 * (y0 + y1))
    wx = (x1 - x0) * max(np.cos(midlat), 0.05)
    ny = max(1, int(round(np.sqrt(n * (y1 - y0) / max(wx, 1e-9)))))
    nx = max(1, int(round(n / ny)))
    xs = x0 + (np.arange(nx) + 0.5) * (x1 - x0) / nx
    ys = y0 + (np.arange(ny) + 0.5) * (y1 - y0) / ny
    gx, gy = np.meshgrid(xs, ys)
    return gx.ravel(), gy.ravel()


def advect_batch(field: WindField | WindWindows, n: int, *, seed: int, batch: int, times,
                 dt: float, weights=None, max_age: float = np.inf, trail_length: int = 0,
                 z_range=None, use_c: bool | None = None, lazy: bool = False,
                 trail_duration: float = 0.0, trail_points: int = 12):
    """One batch through all output ``times`` (the first is the seeding time).

    Returns a list of (ParticleFrame, trails or None) per output time: trails are
    :meth:`ParticleSystem.trails` (``trail_length`` > 0) or :meth:`ParticleSystem.streaks`
    (``trail_duration`` > 0, seconds: points, counts, ids, speed, fade); ``lazy``: an iterator
    of them, each computed when asked for (a pipeline writes frame i before advancing to
    i + 1, so the frames' trails are never all in memory). Independent per batch: a task per
    batch gives the same particles as running the batches in one process.
    """
    it = _advect_frames(field, n, seed=seed, batch=batch, times=times, dt=dt, weights=weights,
                        max_age=max_age, trail_length=trail_length, z_range=z_range,
                        use_c=use_c, trail_duration=trail_duration, trail_points=trail_points)
    return it if lazy else list(it)


def _advect_frames(field, n, *, seed, batch, times, dt, weights, max_age, trail_length,
                   z_range, use_c, trail_duration=0.0, trail_points=12):
    times = np.asarray(times, dtype=np.float64)
    ps = ParticleSystem(field, n, t0=float(times[0]), dt=dt, seed=seed, batch=batch,
                        weights=weights, max_age=max_age, z_range=z_range,
                        trail_length=trail_length, use_c=use_c,
                        trail_duration=trail_duration, trail_points=trail_points)
    for i, t in enumerate(times):
        fr = ps.frame() if i == 0 else ps.step_to(float(t))
        yield fr, (ps.streaks() if trail_duration else ps.trails() if trail_length else None)
