"""Perceptual scientific colour maps: vertex colours, Blender colour ramps and colour bars.

Sequential: viridis, magma, inferno, plasma, cividis (matplotlib), batlow, lajolla, devon,
oslo, lipari (Crameri). Diverging (for signed fields, centred on zero): vik, berlin, broc,
roma (Crameri), RdBu_r, coolwarm. Names are case-sensitive as listed; ``_r`` reverses any map.

All colours here are sRGB in [0, 1] unless a function says *linear* (Blender node colours are
scene-linear).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.errors import BadInputError

SEQUENTIAL = ("viridis", "magma", "inferno", "plasma", "cividis",
              "batlow", "lajolla", "devon", "oslo", "lipari")
DIVERGING = ("vik", "berlin", "broc", "roma", "RdBu_r", "coolwarm")
_CRAMERI = {"batlow", "lajolla", "devon", "oslo", "lipari", "vik", "berlin", "broc", "roma"}
NAMES = SEQUENTIAL + DIVERGING


def is_diverging(name: str) -> bool:
    return name in DIVERGING or name.removesuffix("_r") in DIVERGING


def _split(name: str) -> tuple[str, float, float]:
    """``NAME[a:b]`` -> (NAME, a, b): the part a..b (0 <= a < b <= 1) of map NAME."""
    if not name.endswith("]") or "[" not in name:
        return name, 0.0, 1.0
    base, _, part = name[:-1].partition("[")
    try:
        lo, hi = (float(x) for x in part.split(":"))
    except ValueError:
        lo, hi = -1.0, -1.0
    if not 0.0 <= lo < hi <= 1.0:
        raise BadInputError(f"colour map {name!r}: expected NAME[a:b] with 0 <= a < b <= 1")
    return base, lo, hi


@lru_cache(maxsize=64)
def _lut(name: str, n: int) -> np.ndarray:
    name, lo, hi = _split(name)
    base = name.removesuffix("_r") if name not in NAMES else name
    if base not in NAMES:
        raise BadInputError(f"unknown colour map {name!r}; known: {', '.join(NAMES)} (+ '_r', "
                            "+ '[a:b]' for a part)")
    import matplotlib

    if base in _CRAMERI:
        import cmcrameri.cm as cmc

        cmap = getattr(cmc, base)
    else:
        cmap = matplotlib.colormaps[base]
    if name != base:
        cmap = cmap.reversed()
    lut = cmap(np.linspace(lo, hi, n))
    lut.setflags(write=False)
    return lut


def lut(name: str, n: int = 256) -> np.ndarray:
    """(n, 4) float sRGBA table of the map."""
    return _lut(name, n)


def normalize(values, vmin: float, vmax: float, *, log: bool = False) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if log:
        if vmin <= 0 or vmax <= 0:
            raise BadInputError(f"log colour scale needs a positive range, got [{vmin}, {vmax}]")
        v, vmin, vmax = np.log10(np.clip(v, vmin, None)), np.log10(vmin), np.log10(vmax)
    span = vmax - vmin
    t = (v - vmin) / span if span != 0 else np.zeros_like(v)
    return np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0)


def apply(values, name: str, vmin: float, vmax: float, *, log: bool = False,
          alpha: float = 1.0) -> np.ndarray:
    """Map values to (n, 4) uint8 sRGBA (NaN maps to the low end)."""
    table = (lut(name, 256) * 255.0 + 0.5).astype(np.uint8)
    idx = (normalize(values, vmin, vmax, log=log) * 255.0 + 0.5).astype(np.intp)
    out = table[idx].copy()
    out[..., 3] = int(round(alpha * 255))
    return out


def luminance(srgb) -> np.ndarray:
    """Relative luminance (WCAG 2: linear Rec. 709 weights) of sRGB colours in [0, 1]."""
    lin = srgb_to_linear(np.asarray(srgb, dtype=np.float64)[..., :3])
    return lin @ np.array([0.2126, 0.7152, 0.0722])


def contrast(a, b) -> np.ndarray:
    """WCAG 2 contrast ratio (1..21) between sRGB colours ``a`` and ``b``."""
    la, lb = luminance(a), luminance(b)
    return (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)


def readable(name: str, background, min_contrast: float = 3.0) -> str:
    """The largest part ``NAME[a:b]`` of a sequential map whose colours all stand out from
    ``background`` (sRGB) by at least ``min_contrast`` (WCAG 2 ratio; 3 is its minimum for
    graphics): on a dark background a map's near-black end is cut off, on a light one its
    near-white end. Maps that pass as they are, diverging maps (their centre carries the
    meaning) and explicit parts are returned unchanged."""
    base, lo, hi = _split(name)
    if (lo, hi) != (0.0, 1.0) or is_diverging(base):
        return name
    t = np.linspace(0.0, 1.0, 257)
    ok = contrast(lut(name, 257)[:, :3], np.asarray(background, float)[:3]) >= min_contrast
    if ok.all() or not ok.any():
        return name
    # the passing run that touches an end of the map (sequential maps: one end is the problem)
    if ok[-1] and not ok[0]:  # rounded inwards, so the part passes too
        a = np.ceil(float(t[np.flatnonzero(~ok)[-1] + 1]) * 100) / 100
        return f"{name}[{a:.2f}:1]"
    if ok[0] and not ok[-1]:
        b = np.floor(float(t[np.flatnonzero(~ok)[0] - 1]) * 100) / 100
        return f"{name}[0:{b:.2f}]"
    return name


def unreadable(manifest: dict, min_contrast: float = 3.0) -> list[str]:
    """What in a manifest would not stand out from its ``render.background``: each flat asset
    colour, legend swatch and end of a sequential colour map (assets' and the colour bar's)
    with a WCAG contrast under ``min_contrast``, as ``"NAME: colour ... contrast 1.4"``
    phrases; [] when all read. Diverging maps are left out (their centre is the meaning),
    and so are textures (a base map is not a mark)."""
    bg = np.asarray((manifest.get("render") or {}).get("background") or (1.0, 1.0, 1.0), float)
    bad: list[str] = []

    def check(what: str, rgb) -> None:
        c = float(contrast(np.asarray(rgb, float)[:3], bg[:3]))
        if c < min_contrast:
            bad.append(f"{what}: colour {[round(float(x), 3) for x in rgb[:3]]} has contrast "
                       f"{c:.1f} with the background (at least {min_contrast:g} wanted)")

    def check_map(what: str, cmap: dict | None) -> None:
        if not cmap or is_diverging(_split(cmap["name"])[0]):
            return
        ends = lut(cmap["name"], 2)
        check(f"{what} colour map {cmap['name']} low end", ends[0])
        check(f"{what} colour map {cmap['name']} high end", ends[-1])

    assets = list(manifest.get("static", []))
    for fr in manifest.get("frames", [])[:1]:  # the same assets in every frame
        assets += fr.get("assets", [])
    for a in assets:
        if a.get("hidden") or a.get("texture"):
            continue
        if "color" in a:
            check(a["name"], a["color"])
        check_map(a["name"], a.get("colormap"))
    legend = manifest.get("legend") or {}
    for it in legend.get("items", []):
        if "color" in it:
            check(f"legend {it['label']!r}", it["color"])
    check_map("colour bar", (legend.get("colorbar") or {}).get("colormap"))
    return bad


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    c = np.asarray(c, dtype=np.float64)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def ramp_stops(name: str, n: int = 32) -> list[tuple[float, tuple[float, float, float, float]]]:
    """Stops for a Blender ColorRamp (max 32 elements): (position, linear RGBA)."""
    n = max(2, min(int(n), 32))
    table = lut(name, n)
    rgb = srgb_to_linear(table[:, :3])
    pos = np.linspace(0.0, 1.0, n)
    return [(float(p), (float(r), float(g), float(b), float(a)))
            for p, (r, g, b), a in zip(pos, rgb, table[:, 3], strict=True)]


def symmetric_range(values) -> tuple[float, float]:
    """(-m, m) with m = max |values|: the range a diverging map should use."""
    m = float(np.nanmax(np.abs(values))) if np.size(values) else 1.0
    return (-m, m) if m > 0 else (-1.0, 1.0)


def colorbar_size(frame_height: int) -> tuple[int, int]:
    """Pixel size of a vertical colour-bar image for frames ``frame_height`` tall: a third as
    wide as tall, and never under 450 px tall, where its fixed-size tick labels and label
    would be clipped (the overlay scales it to the frame either way)."""
    h = max(int(frame_height), 450)
    return round(0.34 * h), h


def colorbar_png(path: str | Path, name: str, vmin: float, vmax: float, *, label: str = "",
                 units: str = "", log: bool = False, size_px: tuple[int, int] = (220, 900),
                 text_color: str = "white", dpi: int = 150) -> Path:
    """A colour bar image with tick labels and ``label [units]``, transparent background.

    Vertical when ``size_px`` is taller than wide, else horizontal. Written atomically.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.colors as mcolors
    import matplotlib.pyplot as plt

    w, h = size_px
    vertical = h >= w
    fig = plt.figure(figsize=(w / dpi, h / dpi), dpi=dpi)
    try:
        ax = fig.add_axes((0.12, 0.05, 0.22, 0.9) if vertical else (0.05, 0.55, 0.9, 0.25))
        norm = (mcolors.LogNorm(vmin, vmax) if log else mcolors.Normalize(vmin, vmax))
        cmap = mcolors.ListedColormap(lut(name, 256))
        cb = fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), cax=ax,
                          orientation="vertical" if vertical else "horizontal")
        text = f"{label} [{units}]" if units and label else (label or units)
        if not log:  # round ticks: the 1-2-5 series
            from matplotlib.ticker import MaxNLocator

            cb.locator = MaxNLocator(nbins=6, steps=[1, 2, 5, 10])
            cb.update_ticks()
        cb.set_label(text, color=text_color, fontsize=9)
        cb.ax.tick_params(colors=text_color, labelsize=8)
        cb.outline.set_edgecolor(text_color)
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", transparent=True, dpi=dpi)
    finally:
        plt.close(fig)
    return Path(path)
