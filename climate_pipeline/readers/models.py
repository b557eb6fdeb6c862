"""Regional model output as CF: WRF ``wrfout`` files (WRF-Chem included) and CMAQ / IOAPI files.

Neither model writes CF. The NetCDF reader
(:class:`~climate_pipeline.readers.netcdf.NetCDFReader`) asks :func:`open_model_output`
first; for a file of one of these models it gets an ``xarray.Dataset`` in the CF form below,
lazy (dask, one time step per chunk), and reads it as any curvilinear CF file; for any other
file it gets ``None`` and goes on as before.

* ``open_model_output(paths) -> xarray.Dataset | None`` (several files: along time)
* ``variable_table(path) -> [(name, standard_name), ...] | None``: the variables the
  dataset will have, from the header only (wind names for the particles)
* ``model_of(path) -> "wrf" | "ioapi" | None``; ``to_cf(ds)``, ``wrf_to_cf(ds)``,
  ``ioapi_to_cf(ds)``: the same from a Dataset already open (``decode_times=False``)
* each model in its own module, beside its test of a file's header:
  :mod:`climate_pipeline.readers.wrf`, :mod:`climate_pipeline.readers.ioapi`; their helpers,
  tested on their own, are here too: ``destagger``, ``grid_to_earth``, ``earth_to_grid``,
  ``wrf_times``, ``wrf_rotation``, ``ioapi_times``, ``ioapi_lonlat``, ``ioapi_heights``,
  ``standard_atmosphere_height``

The CF form (both models)::

    dims     time, z, y, x
    time     (time) datetime64[ns], standard_name time
    z        (z) metres, positive up, standard_name height: height above ground of the
             model's levels (one number per level: the scene's map is flat)
    lat, lon (y, x) degrees, standard_name latitude / longitude
    fields   (time, z, y, x) or (time, y, x), attribute ``coordinates: lat lon``; units and
             long_name from the file (IOAPI's blank padding stripped)

Field order (both): particulate matter and ozone first (``PM2_5_DRY``, ``PM25_TOT``, ``PM10``,
``o3``/``O3``), then the other 3-D fields, the 2-D ones, the winds; each in file order.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from climate_pipeline.readers import ioapi, wrf
from climate_pipeline.readers.common import standard_atmosphere_height
from climate_pipeline.readers.ioapi import (
    IOAPI_EARTH_RADIUS,
    ioapi_heights,
    ioapi_lonlat,
    ioapi_times,
    ioapi_to_cf,
)
from climate_pipeline.readers.wrf import (
    WRF_EARTH_RADIUS,
    G,
    destagger,
    earth_to_grid,
    grid_to_earth,
    wrf_rotation,
    wrf_times,
    wrf_to_cf,
)
from core.errors import BadInputError

__all__ = ["open_model_output", "variable_table", "model_of", "to_cf", "wrf_to_cf",
           "ioapi_to_cf", "destagger", "grid_to_earth", "earth_to_grid", "wrf_times",
           "wrf_rotation", "ioapi_times", "ioapi_lonlat", "ioapi_heights",
           "standard_atmosphere_height", "G", "IOAPI_EARTH_RADIUS", "WRF_EARTH_RADIUS"]


# ================================================================================ detection
def _header(path: str) -> tuple[dict, dict[str, tuple[str, ...]], set[str]] | None:
    """(global attributes, {variable: dims}, dims) of a NetCDF file, header only; None when
    netCDF4 cannot open it (the reader then says what is wrong)."""
    try:
        import netCDF4

        with netCDF4.Dataset(path) as nc:
            attrs = {k: nc.getncattr(k) for k in nc.ncattrs()}
            return (attrs, {n: tuple(v.dimensions) for n, v in nc.variables.items()},
                    set(nc.dimensions))
    except Exception:
        return None


def _kind(attrs: Any, variables: Any, dims: set[str]) -> str | None:
    if wrf.is_wrf(attrs, variables, dims):
        return "wrf"
    if ioapi.is_ioapi(attrs, variables, dims):
        return "ioapi"
    return None


def model_of(path: str | os.PathLike) -> str | None:
    """"wrf" for WRF output, "ioapi" for CMAQ/IOAPI files, None for anything else."""
    h = _header(os.fspath(path))
    return _kind(*h) if h else None


# ==================================================================================== public
def open_model_output(paths: str | os.PathLike | Sequence[str | os.PathLike]) -> Any:
    """The CF form of WRF or CMAQ/IOAPI files (several: one dataset along time, in time
    order), lazy with one time step per chunk; None when the first file is neither."""
    import xarray as xr

    ps = [os.fspath(p) for p in ([paths] if isinstance(paths, str | os.PathLike) else paths)]
    if not ps:
        return None
    kinds = [model_of(p) for p in ps[:1]]
    if kinds[0] is None:
        return None
    kinds += [model_of(p) for p in ps[1:]]
    if len(set(kinds)) > 1:
        raise BadInputError(f"{', '.join(ps)}: {kinds[0]} output mixed with other files "
                            f"({dict(zip(ps, kinds, strict=True))}); expected files of one "
                            "model run")
    tdim = wrf.TIME_DIM if kinds[0] == "wrf" else ioapi.TIME_DIM
    parts = []
    for p in ps:
        try:
            raw = xr.open_dataset(p, chunks={tdim: 1}, decode_times=False,
                                  decode_timedelta=False)
        except Exception as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise BadInputError(f"{p}: corrupt or unreadable {kinds[0].upper()} file "
                                f"({first}); expected NetCDF model output") from exc
        parts.append(to_cf(raw, where=p))
    if len(parts) == 1:
        return parts[0]
    if all(d.sizes["time"] and "time" in d.coords for d in parts):
        parts.sort(key=lambda d: d["time"].values[0])
    first = parts[0]
    parts = [first] + [d.assign_coords(z=first["z"].values, lat=first["lat"],
                                       lon=first["lon"]) for d in parts[1:]]
    return xr.concat(parts, dim="time", data_vars="minimal", coords="minimal",
                     compat="override", join="override", combine_attrs="override")


def variable_table(path: str | os.PathLike) -> list[tuple[str, str]] | None:
    """(name, standard_name) of the data variables :func:`open_model_output` gives for this
    file, from its header only; None when it is no WRF or IOAPI file."""
    h = _header(os.fspath(path))
    kind = _kind(*h) if h else None
    if h is None or kind is None:
        return None
    _, variables, _ = h
    if kind == "ioapi":
        return ioapi.ioapi_variables(variables)
    return wrf.wrf_variables(variables)


def to_cf(ds: Any, where: str = "<memory>") -> Any:
    """``ds`` (opened with ``decode_times=False``) in the CF form when it is WRF or IOAPI
    output (by its attributes and dimensions), else ``ds`` itself."""
    kind = _kind(ds.attrs, {n: v.dims for n, v in ds.variables.items()}, set(map(str, ds.dims)))
    if kind == "wrf":
        return wrf_to_cf(ds, where)
    if kind == "ioapi":
        return ioapi_to_cf(ds, where)
    return ds

