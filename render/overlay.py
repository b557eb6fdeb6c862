"""Frame overlays with Pillow (no bpy): background, title, time label, colour bar, legend.

Blender renders a clean plate (its world draws the background gradient; a plate with a
transparent background is put over a gradient around ``render.background`` here); then
:func:`compose` draws, all scaled to the image height:

* top left: ``legend.title`` and ``legend.subtitle`` (wrapped);
* top right: the frame's time label (``frames[].label``);
* right, centred: the colour bar image ``legend.colorbar.image`` (made with
  :func:`core.colormaps.colorbar_png`), scaled to about half the height;
* bottom left: ``legend.items`` as colour swatches with labels.

Text uses DejaVu Sans, which matplotlib ships, with a thin dark outline for legibility.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.atomic import atomic_path
from core.errors import BadInputError

DEFAULT_BACKGROUND = (0.045, 0.05, 0.065)
TEXT = (236, 238, 242, 255)
TEXT_DIM = (190, 196, 206, 255)


@lru_cache(maxsize=4)
def font_path(bold: bool = False) -> str:
    """DejaVu Sans from matplotlib's data folder (always installed with matplotlib)."""
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    return str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name)


@lru_cache(maxsize=64)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(font_path(bold), max(6, int(size)))


def background(size: tuple[int, int], rgb: tuple[float, float, float] | None) -> Image.Image:
    """A vertical gradient around ``rgb`` (sRGB 0..1), lighter at the top, with a vignette."""
    w, h = size
    base = np.asarray(rgb or DEFAULT_BACKGROUND, dtype=np.float64)[None, None, :]
    y = np.linspace(0.0, 1.0, h)[:, None, None]
    x = np.linspace(-1.0, 1.0, w)[None, :, None]
    yy = (y - 0.45) * 2
    grad = 1.35 - 0.55 * y  # top brighter
    vignette = 1.0 - 0.25 * np.clip((x**2 + yy**2) / 2, 0, 1)
    img = np.clip(base * grad * vignette + 0.004, 0, 1)
    rgb8 = (img * 255 + 0.5).astype(np.uint8)
    rgba = np.concatenate([rgb8, np.full((h, w, 1), 255, np.uint8)], axis=2)
    return Image.fromarray(rgba, "RGBA")


def _wrap(draw: ImageDraw.ImageDraw, text: str, fnt: ImageFont.FreeTypeFont, width: float
          ) -> list[str]:
    lines: list[str] = []
    for para in text.split("\n"):
        cur = ""
        for word in para.split():
            trial = f"{cur} {word}".strip()
            if cur and draw.textlength(trial, font=fnt) > width:
                lines.append(cur)
                cur = word
            else:
                cur = trial
        lines.append(cur)
    return lines


def _text(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str,
          fnt: ImageFont.FreeTypeFont, fill=TEXT, anchor: str = "la") -> None:
    stroke = max(1, round(fnt.size / 14))
    draw.text(xy, text, font=fnt, fill=fill, anchor=anchor, stroke_width=stroke,
              stroke_fill=(0, 0, 0, 150))


def compose(plate: Image.Image, manifest: dict, frame: dict, run_dir: Path) -> Image.Image:
    """The final frame: plate over the background, with every overlay the manifest asks for."""
    w, h = plate.size
    img = plate.convert("RGBA")
    alpha_min = img.getchannel("A").getextrema()[0]
    if plate.mode in ("RGBA", "LA") and float(alpha_min) < 255:  # type: ignore[arg-type]
        # a transparent plate (film_transparent): put it over the run's background
        img = background((w, h), manifest.get("render", {}).get("background"))
        img.alpha_composite(plate.convert("RGBA"))
    draw = ImageDraw.Draw(img)
    legend = manifest.get("legend", {})
    margin = round(0.03 * h)
    y = margin
    title = legend.get("title") or manifest.get("title", "")
    bar = legend.get("colorbar")
    if bar:
        _paste_colorbar(img, run_dir / bar["image"], margin)
    label = frame.get("label")
    f_lab = font(round(0.036 * h))
    # the title wraps short of the time label at the top right, never under it
    label_w = draw.textlength(label, font=f_lab) + margin if label else 0.0
    if title:
        f_title = font(round(0.045 * h), bold=True)
        for line in _wrap(draw, title, f_title, w - 2 * margin - label_w):
            _text(draw, (margin, y), line, f_title)
            y += round(f_title.size * 1.3)
    if legend.get("subtitle"):
        f_sub = font(round(0.024 * h))
        for line in _wrap(draw, legend["subtitle"], f_sub, 0.62 * w):
            _text(draw, (margin, y), line, f_sub, fill=TEXT_DIM)
            y += round(f_sub.size * 1.3)
    if label:
        _text(draw, (w - margin, margin), label, f_lab, anchor="ra")
    items = legend.get("items", [])
    if items:
        f_item = font(round(0.022 * h))
        sw = round(f_item.size * 0.9)
        yi = h - margin - len(items) * round(f_item.size * 1.45)
        for it in items:
            x = margin
            if "color" in it:
                c = tuple(int(round(255 * v)) for v in it["color"])
                draw.rounded_rectangle([x, yi + 1, x + sw, yi + 1 + sw], radius=max(1, sw // 4),
                                       fill=(*c, 255), outline=(0, 0, 0, 160))
                x += sw + round(0.6 * f_item.size)
            _text(draw, (x, yi), it["label"], f_item)
            yi += round(f_item.size * 1.45)
    return img


def _paste_colorbar(img: Image.Image, path: Path, margin: int) -> int:
    """Paste the colour bar at the right, vertically centred; returns the width used."""
    try:
        bar = Image.open(path).convert("RGBA")
    except (OSError, ValueError) as exc:
        raise BadInputError(f"{path}: cannot read the colour bar image: {exc}") from None
    w, h = img.size
    target_h = max(8, round(0.55 * h))
    scale = target_h / bar.height
    target_w = max(1, round(bar.width * scale))
    if target_w > 0.3 * w:  # a wide (horizontal) bar: limit by width instead
        target_w = round(0.3 * w)
        target_h = max(1, round(bar.height * target_w / bar.width))
    bar = bar.resize((target_w, target_h), Image.Resampling.LANCZOS)
    img.alpha_composite(bar, (w - target_w - margin // 2, (h - target_h) // 2))
    return target_w


def compose_file(raw: Path, out: Path, manifest: dict, frame: dict, run_dir: Path,
                 draft: bool = False) -> Path:
    """Read the clean plate ``raw``, write the composed RGB frame to ``out`` atomically."""
    with Image.open(raw) as plate:
        plate.load()
        img = compose(plate, manifest, frame, Path(run_dir))
    from PIL.PngImagePlugin import PngInfo

    from render.paths import KEY_FIELD, frame_key

    info = PngInfo()
    info.add_text(KEY_FIELD, frame_key(manifest, frame["index"]))
    info.add_text("Software", "vizpipe render (Blender "
                  + ("Workbench draft)" if draft else "Cycles)"))
    with atomic_path(out) as tmp:
        img.convert("RGB").save(tmp, format="PNG", optimize=False, compress_level=6,
                                pnginfo=info)
    return out
