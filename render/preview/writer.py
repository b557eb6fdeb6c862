"""Manifest -> ``RUN_DIR/preview/``: a page that shows every frame in a browser (no bpy here).

What it writes (nothing else; the page loads the run's GLB files in place, ``../assets/...``)::

    RUN/preview/index.html    the page (three.js, vendored under lib/: see lib/VERSION)
                viewer.js     the viewer: frames loaded lazily, toggles, colour bar, play
                viewer.css
                scene.json    what the page shows: per frame each asset's file and look, the
                              colour maps as tables, the camera, the legend
                volumes/      a proxy per volume asset and frame: its maximum along each grid
                              axis as a PNG, drawn as a slice through the grid's centre
                lib/          three.js, its glTF/Draco loaders, OrbitControls, Draco's decoder

The folder is built under a temporary name beside it and swapped in whole: a reader never
sees half a preview. Its own files stay under :data:`BUDGET_BYTES` whatever the run's length
(the volume images share :data:`VOLUME_BUDGET_BYTES`, their size falls as frames grow).
"""

from __future__ import annotations

import html
import io
import json
import logging
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from core.atomic import write_bytes, write_text
from core.errors import BadInputError, PipelineError
from core.manifest import read_manifest
from core.rundir import RunDir, frame_name

__all__ = ["PREVIEW", "BUDGET_BYTES", "Preview", "write_preview", "preview_dir", "scene_data",
           "static_dir", "compact", "expand"]

PREVIEW = "preview"
#: the preview folder's own bytes (page, library, scene.json, volume images) at most
BUDGET_BYTES = 50 * 1024 * 1024
#: the volume proxy images' share, counted as raw RGBA (their PNGs are smaller)
VOLUME_BUDGET_BYTES = 32 * 1024 * 1024
#: longest side of a volume proxy image, and the least it shrinks to for long runs
VOLUME_MAX_PX, VOLUME_MIN_PX = 192, 24
#: frames that get their own volume proxy; longer runs reuse the nearest earlier one
VOLUME_MAX_FRAMES = 240
#: entries of each colour map table sent to the page
LUT_SIZE = 256
#: points up to this many with no colour map are drawn as spheres (atoms), others as dots
SPHERES_MAX = 20000
#: curves up to this many segments with no colour map are drawn as tubes (bonds, cell)
TUBES_MAX = 6000

log = logging.getLogger("vizpipe.preview")


def static_dir() -> Path:
    """The page's own files (index.html template, viewer.js/css, lib/) in this package."""
    return Path(__file__).with_name("static")


def preview_dir(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / PREVIEW


@dataclass(frozen=True)
class Preview:
    """What :func:`write_preview` wrote."""

    index: Path  # RUN/preview/index.html
    frames: int
    objects: int  # the assets of frame 0, static ones included (what the page shows at once)
    nbytes: int  # the preview folder's own files

    def line(self) -> str:
        return (f"preview: {self.index} ({self.frames} frames, "
                f"{self.nbytes / 1e6:.1f} MB; serve with python -m render.preview "
                f"{self.index.parent.parent} --serve)")


# ----------------------------------------------------------------------------- scene.json

def _group(name: str) -> str:
    """The toggle an asset belongs to: particle/trail batches (``_b00``) share one."""
    return re.sub(r"_b\d+$", "", name)


def _url(rel: str) -> str:
    """A run-relative path as the page (in ``preview/``) requests it."""
    return "../" + quote(Path(rel).as_posix())


def _glb(a: dict) -> str | None:
    for rel in [a["path"], *a.get("alternates", [])]:
        if rel.lower().endswith(".glb"):
            return rel
    return None


def _lut_hex(name: str) -> str:
    from core import colormaps

    try:
        table = colormaps.lut(name, LUT_SIZE)
    except (BadInputError, KeyError, ValueError) as exc:
        raise BadInputError(f"colour map {name!r}: {exc}") from None
    rgb = np.clip(np.rint(np.asarray(table)[:, :3] * 255), 0, 255).astype(np.uint8)
    return rgb.tobytes().hex()


def _add_lut(luts: dict[str, str], name: str) -> None:
    if name not in luts:
        luts[name] = _lut_hex(name)


_LOOK = ("color", "opacity", "emission", "radius", "radius_attribute", "opacity_attribute",
         "opacity_ramp", "matte", "transform", "label", "units", "level", "hidden")


def _spec(a: dict, luts: dict[str, str]) -> dict[str, Any]:
    """One asset as the page needs it: its file and its look, in the renderer's terms."""
    s: dict[str, Any] = {"name": a["name"], "kind": a["kind"], "group": _group(a["name"])}
    s.update({k: a[k] for k in _LOOK if k in a})
    if a["kind"] == "mesh" and "level" in a:
        s["iso"] = True  # the renderer's isosurface look: front faces only
    cmap = a.get("colormap")
    if cmap:
        _add_lut(luts, cmap["name"])
        s["colormap"] = {k: cmap[k] for k in ("name", "vmin", "vmax", "attribute", "log", "units")
                         if k in cmap}
    if a["kind"] != "volume":
        glb = _glb(a)
        s["url"] = _url(glb) if glb else None
        if glb is None:
            s["note"] = f"no .glb among {a['path']} and its alternates: not shown"
    if "texture" in a:
        s["texture"] = _url(a["texture"])
    return s


def _camera(m: dict) -> dict:
    """Frame 0's camera, else the renderer's default (the manifest's spec or a 3/4 view)."""
    cam = m["frames"][0].get("camera")
    if cam:
        return dict(cam)
    from core.camera import fit_distance, look_from

    spec = m.get("camera", {})
    b = np.asarray(m["bounds"], dtype=np.float64)
    w, h = m.get("render", {}).get("resolution", (16, 9))
    target = spec.get("target", ((b[0] + b[1]) / 2).tolist())
    lens = float(spec.get("lens_mm", 50.0))
    dist = spec.get("distance") or fit_distance(b, lens, w / h)
    loc = look_from(target, spec.get("azimuth_deg", -60.0), spec.get("elevation_deg", 25.0),
                    dist)
    return {"location": loc, "look_at": list(target), "up": [0.0, 0.0, 1.0], "lens_mm": lens}


def _colorbar(m: dict, luts: dict[str, str]) -> dict | None:
    cb = m.get("legend", {}).get("colorbar")
    cmap = (cb or {}).get("colormap")
    label = (cb or {}).get("label", "")
    if cmap is None:  # no legend colour map: the first colour-mapped asset's
        for a in [*m.get("static", []), *m["frames"][0]["assets"]]:
            if a.get("colormap") and not a.get("hidden"):
                cmap, label = a["colormap"], a.get("label", a["name"])
                break
    if cmap is None:
        return None
    _add_lut(luts, cmap["name"])
    return {"label": label, "name": cmap["name"], "vmin": cmap["vmin"], "vmax": cmap["vmax"],
            "units": cmap.get("units", ""), "log": bool(cmap.get("log", False))}


_PER_FRAME = ("name", "url", "slices", "proxy_frame", "note")


def compact(data: dict) -> dict:
    """``data`` with each asset's look (all but its name, file, volume images and note) moved
    into one table, ``looks``, that the assets index: a run of many frames repeats the same
    few looks. The page merges them back (``{...looks[a.look], ...a}``)."""
    looks: dict[str, int] = {}

    def factor(specs: list[dict]) -> list[dict]:
        out = []
        for s in specs:
            look = {k: v for k, v in s.items() if k not in _PER_FRAME}
            idx = looks.setdefault(json.dumps(look, sort_keys=True), len(looks))
            out.append({"look": idx, **{k: s[k] for k in _PER_FRAME if k in s}})
        return out

    res = {**data, "static": factor(data["static"]),
           "frames": [{**f, "assets": factor(f["assets"])} for f in data["frames"]]}
    res["looks"] = [json.loads(k) for k in looks]
    return res


def expand(data: dict) -> dict:
    """The inverse of :func:`compact` (what the page does on load)."""
    looks = data["looks"]

    def full(specs: list[dict]) -> list[dict]:
        return [{**looks[s["look"]], **{k: v for k, v in s.items() if k != "look"}}
                for s in specs]

    res = {k: v for k, v in data.items() if k != "looks"}
    res["static"] = full(data["static"])
    res["frames"] = [{**f, "assets": full(f["assets"])} for f in data["frames"]]
    return res


def scene_data(m: dict) -> dict[str, Any]:
    """``scene.json`` of manifest ``m`` (without the volume proxies, added by the writer)."""
    luts: dict[str, str] = {}
    b = np.asarray(m["bounds"], dtype=np.float64)
    diag = max(float(np.linalg.norm(b[1] - b[0])), 1e-6)
    render = m.get("render", {})
    legend = m.get("legend", {})
    static = [_spec(a, luts) for a in m.get("static", [])]
    frames = [{"index": f["index"], "label": f.get("label", ""), "time": f.get("time"),
               **({"camera": f["camera"]} if "camera" in f else {}),
               "assets": [_spec(a, luts) for a in f["assets"]]} for f in m["frames"]]
    groups: dict[str, dict] = {}
    for s in [*static, *(s for f in frames for s in f["assets"])]:
        g = groups.setdefault(s["group"], {"id": s["group"], "label": s.get("label", s["group"]),
                                           "kind": s["kind"], "hidden": True})
        g["hidden"] = g["hidden"] and bool(s.get("hidden"))
    return {
        "schema": "vizpipe-preview", "version": 1,
        "title": legend.get("title") or m["title"], "subtitle": legend.get("subtitle", ""),
        "domain": m["domain"], "length_unit": m["length_unit"],
        "fps": float(m.get("fps", 24)), "bounds": b.tolist(), "diagonal": diag,
        "default_radius": diag * 0.004,  # the renderer's, for points with no radius
        "resolution": list(render.get("resolution", [800, 450])),
        "background": list(render.get("background", [0.05, 0.05, 0.06])),
        "light": render.get("light"),
        "camera": _camera(m),
        "colorbar": _colorbar(m, luts),
        "legend_items": list(legend.get("items", [])),
        "groups": list(groups.values()),
        "spheres_max": SPHERES_MAX, "tubes_max": TUBES_MAX,
        "colormaps": luts,
        "static": static,
        "frames": frames,
    }


# ----------------------------------------------------------------------------- volumes

def _volume_px(n_images: int) -> int:
    """Longest side of each volume image so that all of them fit VOLUME_BUDGET_BYTES."""
    if n_images == 0:
        return VOLUME_MAX_PX
    side = int(math.sqrt(VOLUME_BUDGET_BYTES / (4 * n_images)))
    return max(VOLUME_MIN_PX, min(VOLUME_MAX_PX, side))


def _projection(values: np.ndarray, axis: int, signed: bool) -> np.ndarray:
    """The field's extreme along ``axis``: its maximum, or for a signed field the value of
    largest magnitude (so both lobes show)."""
    if not signed:
        return values.max(axis=axis)
    hi, lo = values.max(axis=axis), values.min(axis=axis)
    return np.where(np.abs(hi) >= np.abs(lo), hi, lo)


def _volume_images(run: RunDir, a: dict, out: Path, stem: str, px: int) -> list[dict]:
    """Three images (one per grid axis) of volume asset ``a`` and where each is drawn."""
    from PIL import Image

    from core import colormaps
    from core.io.vdb import read_vdb

    src = run.root / a["path"]
    cmap = a.get("colormap") or {}
    grid = a.get("grid") or cmap.get("attribute")
    try:
        try:
            vol = read_vdb(src, grid)
        except BadInputError:
            vol = read_vdb(src)  # the colour map's grid may not be the first: take the first
    except ValueError:  # no active voxel: read_vdb's bounding box is empty
        return []
    values = np.nan_to_num(np.asarray(vol.values, dtype=np.float32))
    if values.ndim != 3 or min(values.shape) < 1 or not values.size:
        return []
    if cmap:
        name, vmin, vmax = cmap["name"], float(cmap["vmin"]), float(cmap["vmax"])
        log = bool(cmap.get("log", False))
    else:
        name, vmin, vmax, log = "", float(values.min()), float(values.max()), False
    signed = vmin < 0 < vmax
    aff = np.asarray(vol.affine, dtype=np.float64)
    images = []
    for axis in range(3):
        proj = _projection(values, axis, signed)  # (nb, nc): the other two axes in order
        step = max(1, math.ceil(max(proj.shape) / px))
        proj = proj[::step, ::step]
        if log and (vmin <= 0 or vmax <= 0):
            log = False
        t = colormaps.normalize(proj, vmin, vmax, log=log)
        if name:
            rgba = colormaps.apply(proj, name, vmin, vmax, log=log)
        else:
            rgb = np.asarray(a.get("color", (0.8, 0.8, 0.82)), dtype=np.float64)
            rgba = np.zeros(proj.shape + (4,), np.uint8)
            rgba[..., :3] = np.rint(rgb * 255).astype(np.uint8)
        weight = np.abs(2 * t - 1) if signed else t
        rgba[..., 3] = np.rint(255 * 0.85 * np.clip(weight, 0, 1) ** 1.3).astype(np.uint8)
        img_name = f"{stem}_{'ijk'[axis]}.png"
        path = out / img_name
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgba[::-1])).save(buf, "PNG", optimize=False)
        write_bytes(path, buf.getvalue())
        # corners, index space: uv (0,0) (1,0) (0,1) (1,1) = (b,c) = (0,0) (0,C) (B,0) (B,C)
        others = [ax for ax in range(3) if ax != axis]
        bmax = (proj.shape[0] - 1) * step
        cmax = (proj.shape[1] - 1) * step
        mid = (values.shape[axis] - 1) / 2
        corners = []
        for bi, ci in ((0, 0), (0, cmax), (bmax, 0), (bmax, cmax)):
            ijk = np.zeros(4)
            ijk[axis], ijk[others[0]], ijk[others[1]], ijk[3] = mid, bi, ci, 1.0
            corners.append([float(x) for x in (aff @ ijk)[:3]])
        images.append({"image": f"volumes/{img_name}", "corners": corners})
    return images


def _add_volumes(run: RunDir, m: dict, data: dict, out: Path) -> None:
    """Write the volume proxies of every frame (at most VOLUME_MAX_FRAMES of them, evenly
    spaced; the others point at the nearest earlier one) into ``out/volumes``."""
    from core.deps import available

    specs: list[tuple[int | None, dict]] = [(None, s) for s in data["static"]
                                            if s["kind"] == "volume"]
    frames = data["frames"]
    stride = max(1, math.ceil(len(frames) / VOLUME_MAX_FRAMES))
    for pos, f in enumerate(frames):
        specs += [(pos, s) for s in f["assets"] if s["kind"] == "volume"]
    if not specs:
        return
    if not available("openvdb"):
        for _, s in specs:
            s["note"] = "no volume proxy: the openvdb module (in the bpy wheel) is missing"
            s["slices"] = []
        return
    made = sum(1 for fi, _ in specs if fi is None or fi % stride == 0)
    px = _volume_px(3 * made)
    folder = out / "volumes"
    folder.mkdir(parents=True, exist_ok=True)
    for fi, s in specs:
        if fi is not None and fi % stride:
            s["proxy_frame"] = fi - fi % stride  # scene.json frame position to borrow from
            continue
        assets = m["static"] if fi is None else m["frames"][fi]["assets"]
        a = next(x for x in assets if x["name"] == s["name"])
        stem = (f"static_{s['name']}" if fi is None
                else f"{frame_name(frames[fi]['index'])}_{s['name']}")
        try:
            s["slices"] = _volume_images(run, a, folder, stem, px)
        except PipelineError as exc:  # a volume the proxy cannot read: the page says so
            s["slices"] = []
            s["note"] = f"no volume proxy: {exc}"
        if not s["slices"]:
            s.setdefault("note", "empty volume")


# ----------------------------------------------------------------------------- the folder

def _folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _copy_static(out: Path, title: str) -> None:
    src = static_dir()
    shutil.copytree(src / "lib", out / "lib")
    for name in ("viewer.js", "viewer.css"):
        shutil.copy2(src / name, out / name)
    page = (src / "index.html").read_text(encoding="utf-8")
    write_text(out / "index.html", page.replace("{{TITLE}}", html.escape(title)))


def write_preview(run_dir: str | os.PathLike) -> Preview:
    """Write ``RUN_DIR/preview/`` from ``RUN_DIR/manifest.json`` (validated, every asset file
    present) and return what was written. A bad run is one :class:`PipelineError`."""
    run = RunDir(Path(run_dir))
    if not run.root.is_dir():
        raise BadInputError(f"{run.root}: no such run directory; expected a folder with a "
                            "manifest.json (python -m <pipeline> ... --out RUN_DIR)")
    m = read_manifest(run.root)
    data = scene_data(m)
    final = preview_dir(run.root)
    tmp = run.root / f".{PREVIEW}.{os.getpid()}.tmp"
    old = run.root / f".{PREVIEW}.{os.getpid()}.old"
    for p in (tmp, old):
        shutil.rmtree(p, ignore_errors=True)
    try:
        tmp.mkdir(parents=True)
        _add_volumes(run, m, data, tmp)
        write_text(tmp / "scene.json", json.dumps(compact(data), separators=(",", ":")))
        _copy_static(tmp, data["title"])
        nbytes = _folder_bytes(tmp)
        if nbytes > BUDGET_BYTES:
            raise PipelineError(f"{final}: the preview would take {nbytes / 1e6:.1f} MB; "
                                f"expected at most {BUDGET_BYTES / 1e6:.0f} MB")
        if final.exists():
            final.rename(old)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    objects = len(m.get("static", [])) + len(m["frames"][0]["assets"])
    info = Preview(final / "index.html", len(m["frames"]), objects, nbytes)
    log.info(info.line())
    return info
