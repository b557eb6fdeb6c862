"""The embedded default input of ``make climate``: a physically coherent air-quality run.

A synthetic but self-consistent PM10 episode over Iberia and the western Mediterranean
(10.5W-5E, 35-45N, real coastlines), 48 hourly steps on 12 height levels (0-3 km):

* winds: a westerly jet plus an anticyclone drifting east, from a stream function (so the
  horizontal flow is non-divergent), with a logarithmic boundary-layer profile in height and a
  weak vertical velocity from a sea-breeze-like pattern;
* PM10: emitted at the ground at real city locations (Madrid, Barcelona, Lisbon, Porto,
  Valencia, Seville, Bilbao), carried by *those same winds* with a semi-Lagrangian scheme
  (backward trajectories, bilinear interpolation), mixed vertically by diffusion and removed by
  first-order deposition. The pollutant therefore moves with the wind the particles show.

Written as CF-1.10 NetCDF (``xarray``): ``pm10`` (ug m-3,
``mass_concentration_of_pm10_ambient_aerosol_particles_in_air``), ``u``, ``v``, ``w`` (m s-1,
eastward_wind / northward_wind / upward_air_velocity), coordinates time (hours since ...,
standard calendar), height (m), lat, lon (degrees).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

R_EARTH = 6371e3
CITIES = {  # name: (lon, lat, emission in kg/h, order of magnitude of urban PM10 sources)
    "Madrid": (-3.70, 40.42, 900.0), "Barcelona": (2.17, 41.39, 700.0),
    "Lisbon": (-9.14, 38.72, 500.0), "Porto": (-8.61, 41.15, 350.0),
    "Valencia": (-0.38, 39.47, 400.0), "Seville": (-5.98, 37.39, 350.0),
    "Bilbao": (-2.93, 43.26, 300.0),
}
DEFAULTS = {"nlon": 156, "nlat": 100, "nz": 12, "hours": 48, "lon0": -10.5, "lon1": 5.0,
            "lat0": 35.0, "lat1": 45.0, "top_m": 3000.0}


def grid(p: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lon = np.linspace(p["lon0"], p["lon1"], p["nlon"])
    lat = np.linspace(p["lat0"], p["lat1"], p["nlat"])
    z = np.concatenate([[10.0], np.geomspace(50.0, p["top_m"], p["nz"] - 1)])
    return lon, lat, z


def winds(lon: np.ndarray, lat: np.ndarray, z: np.ndarray, t_h: float
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """u, v, w (m/s) on (nz, nlat, nlon) at hour ``t_h``: non-divergent horizontal flow."""
    LON, LAT = np.meshgrid(lon, lat)
    x = np.radians(LON) * R_EARTH * np.cos(np.radians(40.0))
    y = np.radians(LAT) * R_EARTH
    # anticyclone (clockwise) drifting east at ~4 m/s from (-7E, 39.5N)
    cx = np.radians(-7.0 + 0.13 * t_h) * R_EARTH * np.cos(np.radians(40.0))
    cy = np.radians(39.5) * R_EARTH
    L = 350e3
    r2 = ((x - cx) ** 2 + (y - cy) ** 2) / L**2
    amp = 9.0 * L  # peak swirl ~ 9 m/s
    # psi = -amp exp(-r2/2) + westerly jet; u = -dpsi/dy, v = dpsi/dx (non-divergent)
    g = np.exp(-r2 / 2)
    u = -amp * g * (y - cy) / L**2 + 5.0 * (1 + 0.3 * np.tanh((LAT - 42.5) / 1.5))
    v = amp * g * (x - cx) / L**2
    prof = (np.log(z / 0.5) / np.log(1000 / 0.5))[:, None, None]  # boundary layer, 1 at 1 km
    prof = np.minimum(prof, 1.0 + (z[:, None, None] - 1000) / 4000)
    u3 = u[None] * prof
    v3 = v[None] * prof
    # weak rising motion over land in the afternoon (sea breeze), sinking in the anticyclone
    diurnal = np.sin(2 * np.pi * (t_h - 9) / 24)
    w2 = 0.02 * diurnal * np.exp(-((LON + 4) ** 2 + (LAT - 40) ** 2) / 8) - 0.01 * g
    w3 = w2[None] * np.sin(np.pi * np.clip(z / 3000, 0, 1))[:, None, None]
    return u3.astype(np.float32), v3.astype(np.float32), w3.astype(np.float32)


def _advect_horizontal(c: np.ndarray, u: np.ndarray, v: np.ndarray, lon: np.ndarray,
                       lat: np.ndarray, dt: float) -> np.ndarray:
    """Semi-Lagrangian step: each cell takes the value at its departure point."""
    from scipy.ndimage import map_coordinates

    dlon = lon[1] - lon[0]
    dlat = lat[1] - lat[0]
    J, I = np.meshgrid(np.arange(len(lon)), np.arange(len(lat)))
    coslat = np.cos(np.radians(lat))[:, None]
    out = np.empty_like(c)
    for k in range(c.shape[0]):
        di = -np.degrees(v[k] * dt / R_EARTH) / dlat
        dj = -np.degrees(u[k] * dt / (R_EARTH * coslat)) / dlon
        out[k] = map_coordinates(c[k], [I + di, J + dj], order=1, mode="constant", cval=0.0)
    return out


def mixing_matrix(z: np.ndarray, dt: float, kz: float = 15.0) -> np.ndarray:
    """Implicit (unconditionally stable) vertical diffusion over ``dt`` as one matrix:
    c_new = M @ c, with K = ``kz`` m^2/s and zero flux at the ground and the top. Columns of M
    sum to 1 weighted by layer thickness: mass is conserved."""
    n = len(z)
    thick = np.gradient(z)
    dz = np.diff(z)
    d = np.zeros((n, n))
    for k in range(n - 1):
        g = kz / dz[k]
        d[k, k] -= g / thick[k]
        d[k, k + 1] += g / thick[k]
        d[k + 1, k + 1] -= g / thick[k + 1]
        d[k + 1, k] += g / thick[k + 1]
    return np.linalg.inv(np.eye(n) - dt * d)


def _mix_vertical(c: np.ndarray, m: np.ndarray) -> np.ndarray:
    return np.einsum("kl,lij->kij", m, c)


def simulate(p: dict | None = None, progress=None):
    """Run the transport model; returns (lon, lat, z, times_h, pm10, u, v, w)."""
    p = {**DEFAULTS, **(p or {})}
    lon, lat, z = grid(p)
    nt = int(p["hours"])
    c = np.zeros((len(z), len(lat), len(lon)), np.float64)
    cell_area = (np.radians(lon[1] - lon[0]) * R_EARTH * np.cos(np.radians(lat))[:, None]
                 * np.radians(lat[1] - lat[0]) * R_EARTH)
    src = np.zeros((len(lat), len(lon)))
    for lo, la, q in CITIES.values():
        i, j = np.abs(lat - la).argmin(), np.abs(lon - lo).argmin()
        src[i, j] += q
    from scipy.ndimage import gaussian_filter

    src = gaussian_filter(src, 1.2)  # a city is ~20 km across, not one cell
    layer = z[1] - 0.0  # emissions mixed into the lowest layer (0 .. z[1] m)
    emis = 6 * src * 1e9 / 3600.0 / (cell_area * layer)  # kg/h -> ug m-3 s-1 (x6: episode)
    # Saharan dust entering over northern Morocco/Algeria at 1-3 km during the first day
    LON, LAT = np.meshgrid(lon, lat)
    dust_area = np.exp(-((LON + 3.5) / 2.0) ** 2 - ((LAT - 35.2) / 0.5) ** 2)
    dust_levels = ((z > 800) & (z < 3200)).astype(float)[:, None, None]
    dust = 0.04 * dust_levels * dust_area[None]  # ug m-3 s-1
    times = np.arange(nt, dtype=np.float64)
    pm, us, vs, ws = [], [], [], []
    sub = 6  # 10-minute substeps
    dt = 3600.0 / sub
    tau = 36 * 3600.0  # deposition time scale
    mix = mixing_matrix(z, dt)
    background = 12.0  # ug m-3
    for step in range(nt):
        u, v, w = winds(lon, lat, z, float(step))
        pm.append((c + background).astype(np.float32))
        us.append(u)
        vs.append(v)
        ws.append(w)
        for s in range(sub):
            th = step + s / sub
            uu, vv, _ = winds(lon, lat, z, th)
            c = _advect_horizontal(c, uu, vv, lon, lat, dt)
            c[0] += emis * dt
            if th < 30:
                c += dust * dt * np.sin(np.pi * th / 30)
            c = _mix_vertical(c, mix)
            c *= np.exp(-dt / tau)
        if progress is not None:
            progress(step + 1, nt)
    return lon, lat, z, times, np.stack(pm), np.stack(us), np.stack(vs), np.stack(ws)


def write_netcdf(path: str | Path, p: dict | None = None) -> Path:
    """Simulate and write the CF-NetCDF file atomically (skipped if it exists)."""
    import xarray as xr

    from core.atomic import atomic_path

    path = Path(path)
    if path.exists():
        return path
    lon, lat, z, times, pm, u, v, w = simulate(p)
    dims = ("time", "height", "lat", "lon")
    ds = xr.Dataset(
        {
            "pm10": (dims, pm, {"standard_name":
                                "mass_concentration_of_pm10_ambient_aerosol_particles_in_air",
                                "long_name": "PM10 concentration", "units": "ug m-3"}),
            "u": (dims, u, {"standard_name": "eastward_wind", "units": "m s-1"}),
            "v": (dims, v, {"standard_name": "northward_wind", "units": "m s-1"}),
            "w": (dims, w, {"standard_name": "upward_air_velocity", "units": "m s-1"}),
        },
        coords={
            "time": ("time", times, {"standard_name": "time", "axis": "T",
                                     "units": "hours since 2026-07-01 00:00:00",
                                     "calendar": "standard"}),
            "height": ("height", z, {"standard_name": "height", "units": "m", "axis": "Z",
                                     "positive": "up"}),
            "lat": ("lat", lat, {"standard_name": "latitude", "units": "degrees_north",
                                 "axis": "Y"}),
            "lon": ("lon", lon, {"standard_name": "longitude", "units": "degrees_east",
                                 "axis": "X"}),
        },
        attrs={"Conventions": "CF-1.10",
               "title": "PM10 episode over Iberia (vizpipe synthetic transport run)",
               "source": "vizpipe synthetic transport model",
               "comment": "climate_pipeline.default_data: semi-Lagrangian transport of city "
                          "emissions by an analytic non-divergent wind field",
               "institution": "vizpipe"},
    )
    for name in ("pm10", "u", "v", "w"):
        ds[name].encoding.update(zlib=True, complevel=1, chunksizes=(1,) + pm.shape[1:])
    with atomic_path(path) as tmp:
        ds.to_netcdf(tmp, format="NETCDF4", encoding={"time": {"dtype": "f8"}})
    return path
