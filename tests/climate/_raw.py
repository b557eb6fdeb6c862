"""Independent readings of the climate corpus's raw files (``tests/data/real/climate``).

Used by ``test_real_files.py`` to check the pipeline's written assets value by value and
place by place. Nothing here imports ``climate_pipeline`` or ``core``: NetCDF is read with
netCDF4, GRIB with ecCodes' own point lists (``latitudes``/``longitudes``/``values``, one
triplet per point, whatever the scanning mode), PP with a plain big-endian parse of the
64-word header (BZY/BDY/BZX/BDX, LBROW/LBNPT, extra data for irregular axes), and rotated-pole
coordinates are taken to true ones with pyproj (PROJ's ``ob_tran``), not with
``climate_pipeline.geo``. Each reader keeps the file's own order (no flipping, sorting or
unwrapping) and says which level is the ground from what the vertical coordinate means
(highest pressure, lowest model level, lowest height), not from its position in the file.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Raw:
    """One variable at its first time step, every level, as point lists in file order."""

    values: np.ndarray  # (nz, n) float64, NaN where the file says missing
    lon: np.ndarray  # (n,) true longitudes in degrees, wrapped as the file has them
    lat: np.ndarray  # (n,) true latitudes in degrees
    levels: np.ndarray  # (nz,) the file's vertical coordinate, file order (0 if none)
    ground: int  # the level nearest the ground (from the coordinate's meaning)
    shape: tuple[int, int] | None  # (rows, columns) of a grid in file order; None: reduced
    exact: np.ndarray  # (n,) bool: points the pipeline's regular grid holds unchanged

    @property
    def nz(self) -> int:
        return int(self.values.shape[0])

    @property
    def top(self) -> int:
        """The level at the other end of the column from :attr:`ground`."""
        return self.nz - 1 if self.ground == 0 else 0


# ------------------------------------------------------------------------------ coordinates
def rotated_to_true(rlon: np.ndarray, rlat: np.ndarray, pole_lon: float, pole_lat: float
                    ) -> tuple[np.ndarray, np.ndarray]:
    """True (lon, lat) of rotated-pole points through PROJ (the CF rotated-pole convention
    as pyproj implements it; independent of ``climate_pipeline.geo``)."""
    import pyproj

    rot = pyproj.CRS.from_cf({"grid_mapping_name": "rotated_latitude_longitude",
                              "grid_north_pole_longitude": float(pole_lon),
                              "grid_north_pole_latitude": float(pole_lat)})
    tr = pyproj.Transformer.from_crs(rot, pyproj.CRS("+proj=longlat +datum=WGS84 +no_defs"),
                                     always_xy=True)
    lon, lat = tr.transform(np.asarray(rlon, np.float64).ravel(),
                            np.asarray(rlat, np.float64).ravel())
    return np.asarray(lon, np.float64), np.asarray(lat, np.float64)


def _grid_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-major (y, x) point lists of a grid with 1-D axes."""
    xx, yy = np.meshgrid(np.asarray(x, np.float64), np.asarray(y, np.float64))
    return xx.ravel(), yy.ravel()


# ----------------------------------------------------------------------------------- NetCDF
def netcdf(path: Path, var: str) -> Raw:
    """``var`` read with netCDF4 (its own masking and scaling): the first index of a leading
    time dimension, then (level,) y, x. Coordinates: a rotated-pole grid mapping's 1-D axes
    through :func:`rotated_to_true`, else 2-D auxiliary longitude/latitude named in
    ``coordinates`` (WRF), else the 1-D coordinate variables of the last two dimensions.
    Ground: the highest pressure for a pressure axis, else the lowest value of an axis with
    ``positive: up``."""
    import netCDF4

    with netCDF4.Dataset(path) as ds:
        v = ds.variables[var]
        dims = list(v.dimensions)
        a = v[0] if dims[0].lower() in ("time", "t") else v[:]
        dims = dims[1:] if dims[0].lower() in ("time", "t") else dims
        a = np.ma.filled(np.ma.masked_invalid(np.ma.asarray(a, np.float64)), np.nan)
        if a.ndim == 2:
            a, levels, ground = a[None], np.zeros(1), 0
        else:
            z = ds.variables[dims[0]]
            levels = np.asarray(z[:], np.float64)
            units = str(getattr(z, "units", "")).lower()
            if units in ("hpa", "pa", "mbar", "millibar") or \
                    getattr(z, "standard_name", "") == "air_pressure":
                ground = int(np.argmax(levels))
            else:
                assert getattr(z, "positive", "") == "up", f"{path}: {dims[0]} direction"
                ground = int(np.argmin(levels))
        ydim, xdim = dims[-2:]
        aux = str(getattr(v, "coordinates", "")).split()
        gm = getattr(v, "grid_mapping", None)
        gmv = ds.variables[gm] if gm else None
        if gmv is not None and gmv.grid_mapping_name == "rotated_latitude_longitude":
            rx, ry = _grid_points(ds.variables[xdim][:], ds.variables[ydim][:])
            lon, lat = rotated_to_true(rx, ry, gmv.grid_north_pole_longitude,
                                       gmv.grid_north_pole_latitude)
        elif any(ds.variables[n].ndim == 2 for n in aux if n in ds.variables):
            two = {str(getattr(ds.variables[n], "units", "")).lower(): n for n in aux
                   if n in ds.variables and ds.variables[n].ndim == 2}
            lon = np.asarray(ds.variables[two["degree_east"]][:], np.float64).ravel()
            lat = np.asarray(ds.variables[two["degree_north"]][:], np.float64).ravel()
        else:
            lon, lat = _grid_points(ds.variables[xdim][:], ds.variables[ydim][:])
    nz, ny, nx = a.shape
    return Raw(a.reshape(nz, ny * nx), lon, lat, levels, ground, (ny, nx),
               np.ones(ny * nx, bool))


# ------------------------------------------------------------------------------------- GRIB
#: ecCodes level types counted from the top down (pressure; ECMWF model levels 1 = top)
_GRIB_DOWNWARD = ("isobaricInhPa", "isobaricInPa", "hybrid")


def grib(path: Path, short: str | None = None, member: int | None = None) -> Raw:
    """The messages of ``short`` (every one if None) of ensemble member ``member`` (the
    lowest number there if None) at the earliest validity time, one level per message, with
    ecCodes' per-point ``latitudes``/``longitudes``/``values``. A reduced Gaussian grid's
    exact points are those on the longitudes of its longest row (the pipeline regrids each
    row linearly onto that row's longitudes, so a point there keeps its value)."""
    import pyproj  # noqa: F401  (before eccodes: see climate_pipeline.readers.grib)

    ec = importlib.import_module("eccodes")
    msgs = []
    with open(path, "rb") as fh:
        while (h := ec.codes_grib_new_from_file(fh)) is not None:
            try:
                if short and ec.codes_get(h, "shortName") != short:
                    continue
                num = int(ec.codes_get(h, "number") or 0) if ec.codes_is_defined(
                    h, "number") else 0
                vals = np.asarray(ec.codes_get_values(h), np.float64)
                if ec.codes_get(h, "bitmapPresent"):
                    vals[vals == ec.codes_get_double(h, "missingValue")] = np.nan
                gt = ec.codes_get(h, "gridType")
                msgs.append({
                    "number": num, "type": ec.codes_get(h, "typeOfLevel"),
                    "when": (ec.codes_get(h, "validityDate"), ec.codes_get(h, "validityTime")),
                    "level": float(ec.codes_get(h, "level")), "values": vals,
                    "lat": np.asarray(ec.codes_get_array(h, "latitudes"), np.float64),
                    "lon": np.asarray(ec.codes_get_array(h, "longitudes"), np.float64),
                    "shape": None if gt == "reduced_gg" else (ec.codes_get(h, "Nj"),
                                                             ec.codes_get(h, "Ni")),
                    "pl": (np.asarray(ec.codes_get_array(h, "pl"), np.int64)
                           if gt == "reduced_gg" else None)})
            finally:
                ec.codes_release(h)
    number = member if member is not None else min(m["number"] for m in msgs)
    msgs = [m for m in msgs if m["number"] == number]
    first = min(m["when"] for m in msgs)
    msgs = [m for m in msgs if m["when"] == first]
    assert len({m["type"] for m in msgs}) == 1, f"{path}: several level types"
    assert len({m["level"] for m in msgs}) == len(msgs), f"{path}: a level twice"
    m0 = msgs[0]
    levels = np.array([m["level"] for m in msgs])
    ground = int(np.argmax(levels) if m0["type"] in _GRIB_DOWNWARD else np.argmin(levels))
    if m0["pl"] is not None:
        step = 360.0 / float(m0["pl"].max())
        q = m0["lon"] / step
        exact = np.abs(q - np.round(q)) < 1e-6
    else:
        exact = np.ones(m0["lon"].size, bool)
    return Raw(np.stack([m["values"] for m in msgs]), m0["lon"], m0["lat"], levels, ground,
               m0["shape"], exact)


# --------------------------------------------------------------------------------------- PP
@dataclass(frozen=True)
class PPField:
    """One unpacked PP field: the header words that matter here, its data and axes."""

    ints: np.ndarray  # the 45 integer words (LBYR .. LBUSER7)
    reals: np.ndarray  # the 19 real words (BRSVD1 .. BMKS)
    data: np.ndarray  # (LBROW, LBNPT) float64, NaN where BMDI
    x: np.ndarray  # (LBNPT,) BZX + BDX * (1..LBNPT), or the extra data's x vector
    y: np.ndarray  # (LBROW,) BZY + BDY * (1..LBROW), or the extra data's y vector

    @property
    def stash(self) -> int:
        return int(self.ints[41])  # LBUSER4

    @property
    def validity(self) -> tuple[int, ...]:
        return tuple(int(i) for i in self.ints[:5])  # LBYR, LBMON, LBDAT, LBHR, LBMIN

    @property
    def lbvc(self) -> int:
        return int(self.ints[25])

    @property
    def blev(self) -> float:
        return float(self.reals[6])

    @property
    def pole(self) -> tuple[float, float]:
        return float(self.reals[11]), float(self.reals[10])  # BPLON, BPLAT


def pp_fields(path: Path) -> list[PPField]:
    """Every field of an unpacked PP file: big-endian Fortran records, a 64-word header
    (45 ints, 19 reals) then the data, LBROW rows of LBNPT points from BZY + BDY, BZX + BDX;
    an axis with BDY or BDX zero is given in the extra data after the points (vectors headed
    by a word 1000 * length + kind, kind 1 x, kind 2 y)."""
    b = path.read_bytes()
    pos, out = 0, []
    while pos < len(b):
        n = int.from_bytes(b[pos:pos + 4], "big")
        ints = np.frombuffer(b[pos + 4:pos + 4 + 180], ">i4").astype(np.int64)
        reals = np.frombuffer(b[pos + 4 + 180:pos + 4 + n], ">f4").astype(np.float64)
        pos += n + 8
        m = int.from_bytes(b[pos:pos + 4], "big")
        words = b[pos + 4:pos + 4 + m]
        pos += m + 8
        assert ints[20] == 0, "packed PP"
        rows, cols = int(ints[17]), int(ints[18])
        data = np.frombuffer(words[:4 * rows * cols], ">f4").astype(np.float64)
        data = np.where(data == reals[17], np.nan, data).reshape(rows, cols)
        extra: dict[int, np.ndarray] = {}
        k = 4 * rows * cols
        while k < len(words):
            head = int.from_bytes(words[k:k + 4], "big")
            length, kind = head // 1000, head % 1000
            extra[kind] = np.frombuffer(words[k + 4:k + 4 + 4 * length], ">f4").astype(
                np.float64)
            k += 4 + 4 * length
        bzy, bdy, bzx, bdx = reals[13:17]
        y = bzy + bdy * np.arange(1, rows + 1) if bdy != 0 else extra[2]
        x = bzx + bdx * np.arange(1, cols + 1) if bdx != 0 else extra[1]
        out.append(PPField(ints, reals, data, x, y))
    return out


def pp(path: Path, stash: int | None = None) -> Raw:
    """The fields of ``stash`` (every one if None) at the earliest validity time, one level
    per field (BLEV: pressure for LBVC 8, the level height for 1 and 65). Ground: the
    highest pressure, else the lowest height. A pole other than (0, 90) is a rotated grid:
    :func:`rotated_to_true`."""
    fields = [f for f in pp_fields(path) if stash is None or f.stash == stash]
    first = min(f.validity for f in fields)
    fields = [f for f in fields if f.validity == first]
    f0 = fields[0]
    levels = np.array([f.blev for f in fields])
    assert len({f.lbvc for f in fields}) == 1 and len(set(levels)) == len(levels)
    ground = int(np.argmax(levels) if f0.lbvc == 8 else np.argmin(levels))
    rx, ry = _grid_points(f0.x, f0.y)
    plon, plat = f0.pole
    lon, lat = (rotated_to_true(rx, ry, plon, plat) if plat != 90.0 else (rx, ry))
    rows, cols = f0.data.shape
    return Raw(np.stack([f.data.ravel() for f in fields]), lon, lat, levels, ground,
               (rows, cols), np.ones(rows * cols, bool))


# ---------------------------------------------------------------------------- sample points
#: (row, column) fractions of the grid: four points an eighth in from the corners, the
#: centre and three asymmetric ones (so that a flip of either axis moves every one of them)
SAMPLE_FRACTIONS = ((0.125, 0.125), (0.125, 0.875), (0.875, 0.125), (0.875, 0.875),
                    (0.5, 0.5), (0.3, 0.7), (0.7, 0.4), (0.2, 0.35))


def sample_points(raw: Raw) -> np.ndarray:
    """Flat indices of a few fixed points: grid indices at :data:`SAMPLE_FRACTIONS`; on a
    reduced grid the same fractions of the sub-grid its longest rows make (exact points)."""
    if raw.shape is None:
        _, start, count = np.unique(raw.lat, return_index=True, return_counts=True)
        rows = np.sort(start[count == count.max()])
        nx = int(count.max())
        return np.array([rows[int(round(r * (rows.size - 1)))] + int(round(c * (nx - 1)))
                         for r, c in SAMPLE_FRACTIONS])
    ny, nx = raw.shape
    return np.array([int(round(r * (ny - 1))) * nx + int(round(c * (nx - 1)))
                     for r, c in SAMPLE_FRACTIONS])
