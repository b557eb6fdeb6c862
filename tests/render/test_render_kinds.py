"""Each asset kind, rendered alone, shows up where its projected bounds say it should.

Whole-image statistics (``test_render_bpy.py``, ``test_scene_features.py``) stay green when one
kind of asset drops out of the picture. Here one synthetic run, written with the core writers
and the manifest builder, holds one frame per asset kind with that asset alone, plus an empty
frame, all under the same explicit camera (one excepted), each asset off the image centre:

* ``mesh``: a flat-coloured sphere moved off-centre by the asset's ``transform``;
  ``mesh_rolled``: the same seen by another camera (rolled ``up``, another lens);
* ``points``: particles with a ``radius`` attribute, colour-mapped by ``speed`` (as the
  climate pipeline writes them);
* ``streamlines``: see-through, glowing tubes colour-mapped by ``speed``;
* ``coastlines``: thin flat-coloured tubes;
* ``volume``: a sheared OpenVDB block of fog, colour-mapped and glowing (as the demo's
  density); ``fog``: the same grid, flat-coloured, not glowing (seen by scattered light);
* ``logmap``: a plate facing the camera whose ``value`` spans four decades, with a log colour
  map; and ``logtwin``, the same plate with the colours computed in numpy
  (``core.colormaps.apply(..., log=True)``) as vertex colours: the same surface under the same
  lights, so the two must look the same.

The run is rendered once by the real command line (``python -m render``, one Blender process,
128x72, 4 samples: about 10 s on 2 cores). The tests read the clean plates (``frames/raw``: no
title, label or colour bar drawn over them). For each kind, the pixels that differ from the
empty frame must

* be many, lie inside the rectangle of the asset's 3-D bounding box projected with the camera
  of the manifest (:mod:`tests.render._projection`, Blender's pinhole redone in numpy), and
  span most of it;
* be centred, within 2 px, on the projected mean of the asset's points;
* for points and tubes, cover the projected spheres and tubes of the asset's radii, and not
  many more pixels;
* have the colour the manifest entry asks for (flat colour or colour map);

and the log colour map must read back, at five points along the strip, as the log-scale
positions of ``core.colormaps`` (a linear fallback fails). Each check was seen failing with
the renderer mutated so that its kind vanishes (list in tests/README.md).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import colormaps
from core import manifest as M
from core.geometry import Curves, Mesh, Points, Volume
from core.io.ply import write_ply
from core.io.vdb import write_vdb
from core.rundir import RunDir
from tests.render import _projection as P

pytestmark = pytest.mark.bpy

ROOT = Path(__file__).resolve().parents[2]
SIZE = (128, 72)
SAMPLES = 4
BACKGROUND = [0.05, 0.055, 0.07]
CAMERA = {"location": [5.0, -6.5, 3.2], "look_at": [0.0, 0.0, -0.1], "up": [0.0, 0.0, 1.0],
          "lens_mm": 30.0}
PLATE = {"centre": (64, 36), "half_w": 2.6, "half_h": 0.45}  # the log strip: pixel, world units
CHANGED = 12  # a pixel "changed" when a channel differs from the empty frame by more (0..255)
MARGIN = 2.5  # pixels: pixel filter (1.5 px Blackman-Harris) and denoiser spill
LOG = {"name": "viridis", "vmin": 1e-2, "vmax": 1e2}  # four decades
KINDS = ("mesh", "mesh_rolled", "points", "streamlines", "coastlines", "volume", "fog", "logmap",
         "logtwin")


# ----------------------------------------------------------------------------- geometry

def _uv_sphere(radius: float, n_lat: int = 16, n_lon: int = 24) -> Mesh:
    th = np.linspace(0.0, math.pi, n_lat + 1)
    ph = np.linspace(0.0, 2 * math.pi, n_lon, endpoint=False)
    t, p = np.meshgrid(th, ph, indexing="ij")
    nrm = np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], -1).reshape(-1, 3)
    idx = np.arange((n_lat + 1) * n_lon).reshape(n_lat + 1, n_lon)
    a, b = idx[:-1], np.roll(idx[:-1], -1, axis=1)
    c, d = idx[1:], np.roll(idx[1:], -1, axis=1)
    # counter-clockwise seen from outside (normal = +radial)
    faces = np.concatenate([np.stack([a, c, b], -1).reshape(-1, 3),
                            np.stack([b, c, d], -1).reshape(-1, 3)])
    return Mesh(radius * nrm, faces, nrm)


def _plate(centre, right, up, half_w: float, half_h: float, n: int = 48) -> Mesh:
    """A flat strip, ``n`` columns along ``right``, facing ``right x up``."""
    s = np.linspace(-1.0, 1.0, n)
    verts = np.concatenate([np.asarray(centre) + np.outer(s * half_w, right) + sgn * half_h
                            * np.asarray(up) for sgn in (-1.0, 1.0)])
    i = np.arange(n - 1)
    faces = np.concatenate([np.stack([i, i + 1, i + n], -1),
                            np.stack([i + 1, i + n + 1, i + n], -1)])
    normal = np.cross(right, up)
    return Mesh(verts, faces, np.tile(normal / np.linalg.norm(normal), (2 * n, 1)))


def _log_values(s: np.ndarray) -> np.ndarray:
    """Along the plate (s in [-1, 1]) the value runs log-uniformly from vmin to vmax."""
    lo, hi = math.log10(LOG["vmin"]), math.log10(LOG["vmax"])
    return 10.0 ** (lo + (hi - lo) * (s + 1) / 2)


def _at(u: float, v: float) -> np.ndarray:
    """The world point seen at pixel (u, v), as far from the camera as its target."""
    depth = float(np.linalg.norm(np.subtract(CAMERA["location"], CAMERA["look_at"])))
    return P.unproject(u, v, depth, CAMERA, SIZE)


def _build(run_dir: Path) -> dict:
    """Write every kind's files and the manifest.

    Returns ``{kind: {"corners", "samples", "weights", "shape"}}``: the corners of a convex
    body holding the asset (its bounding box; the strip's own four corners); world points
    spread over the asset with weights (vertices, particle centres, curve points, voxel centres
    weighted by value) whose projected mean is where the asset's pixels should be centred; for
    points and curves, the centres, radii and segments whose projection is the footprint.

    Each asset sits around the world point that the camera sees at a chosen pixel (``at``),
    off the image centre, so that a mirrored or shifted camera moves it out of its box.
    """
    rng = np.random.default_rng(7)
    a_dir = run_dir / "assets"
    boxes: dict[str, dict] = {}
    frames = [M.frame(0, [], label="empty", camera=CAMERA)]
    _, right, up, back = P.camera_axes(CAMERA)
    at = _at

    def add(kind: str, entry: dict, corners: np.ndarray, samples: np.ndarray,
            weights: np.ndarray | None = None, camera: dict = CAMERA,
            shape: dict | None = None) -> None:
        frames.append(M.frame(len(frames), [entry], label=kind, camera=camera))
        boxes[kind] = {"corners": corners, "samples": samples, "shape": shape,
                       "weights": np.ones(len(samples)) if weights is None else weights}

    # mesh: a sphere at the origin in its file, moved up-left by the asset transform
    sphere = _uv_sphere(0.8)
    write_ply(sphere, a_dir / "sphere.ply")
    move = np.eye(4)
    move[:3, 3] = at(30, 20)
    add("mesh", M.asset("sphere", "mesh", "assets/sphere.ply", color=[0.95, 0.45, 0.1],
                        transform=move.tolist()),
        P.transformed(P.box_corners(*sphere.bounds()), move),
        P.transformed(sphere.vertices, move))
    # the same, seen by another camera: from the left, rolled (up tilted), longer lens
    centre = move[:3, 3]
    rolled = {"location": (centre + [-4.5, -8.0, 6.0]).tolist(),
              "look_at": (centre + [1.6, 0.9, -0.4]).tolist(), "up": [0.5, 0.0, 1.0],
              "lens_mm": 45.0}
    add("mesh_rolled", M.asset("sphere", "mesh", "assets/sphere.ply", color=[0.95, 0.45, 0.1],
                               transform=move.tolist()),
        P.transformed(P.box_corners(*sphere.bounds()), move),
        P.transformed(sphere.vertices, move), camera=rolled)

    # points: particles (lower right), radius per point, coloured by speed
    pos = at(98, 47) + rng.uniform(-0.8, 0.8, (25, 3))
    radius = rng.uniform(0.15, 0.25, len(pos)).astype(np.float32)  # ~4x the default radius
    speed = rng.uniform(1.0, 9.0, len(pos)).astype(np.float32)  # the bright part of the map
    write_ply(Points(pos, {"radius": radius, "speed": speed}), a_dir / "particles.ply")
    r = float(radius.max())
    add("points", M.asset("particles", "points", "assets/particles.ply", units="m/s",
                          radius_attribute="radius",
                          colormap={"name": "lajolla", "vmin": 0.0, "vmax": 15.0,
                                    "attribute": "speed", "units": "m/s"}),
        P.box_corners(pos.min(0) - r, pos.max(0) + r), pos, radius.astype(float) ** 2,
        shape={"points": pos, "radii": radius})

    # streamlines (lower left): see-through glowing tubes coloured by speed
    t = np.linspace(0.0, 1.0, 30)[:, None]
    base = at(28, 52)
    lines = [base + (t - 0.5) * 2.0 * right + (0.3 * k - 0.45 + 0.2 * np.sin(6 * t + k)) * up
             + 0.5 * (t - 0.5) * back for k in range(4)]
    pts = np.concatenate(lines)
    r = 0.09
    streams = Curves.from_polylines(lines, attributes={"speed": np.tile(t[:, 0] * 12, 4)
                                                       .astype(np.float32)})
    write_ply(streams, a_dir / "streamlines.ply")
    add("streamlines", M.asset("streamlines", "curves", "assets/streamlines.ply", units="m/s",
                               opacity=0.6, emission=0.3, radius=r,
                               colormap={"name": "devon", "vmin": -7.5, "vmax": 15.0,
                                         "attribute": "speed", "units": "m/s"}),
        P.box_corners(pts.min(0) - r, pts.max(0) + r), pts,
        shape={"points": pts, "radii": r, "edges": streams.edges()})

    # coastlines (bottom, left of centre): a thin flat-coloured closed wiggle, horizontal
    ang = np.linspace(0.0, 2 * math.pi, 80)
    rad = 0.9 + 0.2 * np.sin(5 * ang)
    coast = at(56, 58) + np.stack([rad * np.cos(ang), rad * np.sin(ang), 0 * ang], -1)
    r = 0.035
    coastlines = Curves.from_polylines([coast], radius=r)
    write_ply(coastlines, a_dir / "coastlines.ply")
    add("coastlines", M.asset("coastlines", "curves", "assets/coastlines.ply", radius=r,
                              color=[0.92, 0.92, 0.9]),
        P.box_corners(coast.min(0) - r, coast.max(0) + r), coast,
        shape={"points": coast, "radii": r, "edges": coastlines.edges()})

    # volume (upper right): a sheared grid of fog filling its cell, colour-mapped, glowing
    n = 20
    step = 1.6 / (n - 1)
    aff = np.eye(4)
    aff[:3, :3] = np.array([[1.0, 0.35, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) * step
    aff[:3, 3] = at(98, 20) - aff[:3, :3] @ np.full(3, (n - 1) / 2)
    ijk = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), -1).astype(np.float64)
    q = (ijk - (n - 1) / 2) / ((n - 1) / 2)  # -1..1 in index space
    fog = np.clip(4.0 * (1.0 - np.abs(q).max(-1)), 0.0, 1.0)  # fills the cell, soft faces
    vol = Volume(fog.astype(np.float32), aff, "field", "ug/m3")
    write_vdb(vol, a_dir / "field.vdb", tolerance=1e-4)
    half = np.array([[i, j, k] for i in (-0.5, n - 0.5) for j in (-0.5, n - 0.5)
                     for k in (-0.5, n - 0.5)])  # voxel extents, not only sample centres
    add("volume", M.asset("field", "volume", "assets/field.vdb", units="ug/m3", grid="field",
                          colormap={"name": "inferno", "vmin": 0.0, "vmax": 1.0,
                                    "attribute": "field", "units": "ug/m3"},
                          density_scale=6.0, emission=1.5),
        P.transformed(half, aff), P.transformed(ijk.reshape(-1, 3), aff), fog.ravel())
    # the same grid as plain fog: no colour map, no glow, seen only by the light it scatters
    add("fog", M.asset("fog", "volume", "assets/field.vdb", units="ug/m3", grid="field",
                       color=[0.6, 0.75, 1.0], density_scale=4.0),
        P.transformed(half, aff), P.transformed(ijk.reshape(-1, 3), aff), fog.ravel())

    # log colour map: a strip facing the camera, four decades from left to right
    plate = _plate(at(*PLATE["centre"]), right, up, PLATE["half_w"], PLATE["half_h"])
    s = np.tile(np.linspace(-1.0, 1.0, len(plate.vertices) // 2), 2)
    values = _log_values(s).astype(np.float32)
    plate.attributes["value"] = values
    write_ply(plate, a_dir / "logmap.ply")
    n_col = len(plate.vertices) // 2
    corners = plate.vertices[[0, n_col - 1, n_col, 2 * n_col - 1]]  # a flat convex body
    add("logmap", M.asset("logmap", "mesh", "assets/logmap.ply", units="mol/m^3",
                          colormap={**LOG, "attribute": "value", "log": True,
                                    "units": "mol/m^3"}),
        corners, plate.vertices)
    twin = Mesh(plate.vertices, plate.faces, plate.normals,
                colors=colormaps.apply(values, LOG["name"], LOG["vmin"], LOG["vmax"],
                                       log=True))
    write_ply(twin, a_dir / "logtwin.ply")
    add("logtwin", M.asset("logtwin", "mesh", "assets/logtwin.ply"), corners, plate.vertices)

    every = np.concatenate([b["corners"] for b in boxes.values()])
    m = M.new_manifest("asset kinds", "demo", length_unit="m",
                       bounds=[every.min(0).tolist(), every.max(0).tolist()], fps=1,
                       render={"resolution": list(SIZE), "samples": SAMPLES,
                               "background": BACKGROUND})
    m["frames"] = frames
    m["provenance"] = M.provenance()
    M.write_manifest(run_dir, m)
    return boxes


# ----------------------------------------------------------------------------- the render

def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("VIZPIPE_ENGINE", None)
    return env


@pytest.fixture(scope="module")
def kinds(tmp_path_factory) -> dict:
    run_dir = tmp_path_factory.mktemp("kinds") / "run"
    boxes = _build(run_dir)
    proc = subprocess.run([sys.executable, "-m", "render", str(run_dir), "--engine", "serial",
                           "--chunk", str(len(KINDS) + 1), "--no-movie", "--no-blend"],
                          capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    manifest = json.loads(RunDir(run_dir).manifest.read_text())
    by_label = {f["label"]: f for f in manifest["frames"]}

    def plate(label: str) -> np.ndarray:
        img = Image.open(RunDir(run_dir).raw_png(by_label[label]["index"]))
        assert img.size == SIZE
        return np.asarray(img.convert("RGB")).astype(np.int16)

    return {"run_dir": run_dir, "boxes": boxes, "frames": by_label,
            "empty": plate("empty"), "images": {k: plate(k) for k in KINDS}}


def _changed(kinds: dict, kind: str) -> np.ndarray:
    """(h, w) bool: pixels of the kind's frame that differ from the empty frame."""
    return (np.abs(kinds["images"][kind] - kinds["empty"]).max(-1) > CHANGED)


def _box(kinds: dict, kind: str) -> tuple[float, float, float, float]:
    cam = kinds["frames"][kind]["camera"]
    return P.screen_box(kinds["boxes"][kind]["corners"], cam, SIZE)


# ----------------------------------------------------------------------------- the tests

def test_projected_boxes_are_in_the_picture_and_apart(kinds):
    """The set-up itself: every box inside the image, and the mesh's box clear of where its
    file puts it without the transform (so a dropped transform is seen)."""
    w, h = SIZE
    for kind in KINDS:
        u0, v0, u1, v1 = _box(kinds, kind)
        assert 0 <= u0 < u1 <= w and 0 <= v0 < v1 <= h, (kind, (u0, v0, u1, v1))
    untransformed = P.screen_box(P.box_corners([-0.8] * 3, [0.8] * 3), CAMERA, SIZE)
    moved = _box(kinds, "mesh")
    assert untransformed[2] < moved[0] or untransformed[3] < moved[1] \
        or moved[2] < untransformed[0] or moved[3] < untransformed[1]


# (kind, fewest changed pixels: about 40 % of what a correct render shows)
SHOWN = [("mesh", 130), ("mesh_rolled", 130), ("points", 120), ("streamlines", 80),
         ("coastlines", 60), ("volume", 240), ("fog", 240), ("logmap", 300)]


@pytest.mark.parametrize("kind, min_pixels", SHOWN)
def test_kind_appears_inside_its_projected_box(kinds, kind, min_pixels):
    """Many pixels change, all inside the projected box (+ a margin), spanning most of it."""
    changed = _changed(kinds, kind)
    box = _box(kinds, kind)
    n = int(changed.sum())
    assert n >= min_pixels, f"{kind}: only {n} pixels differ from the empty frame"
    outside = changed & ~P.box_mask(box, SIZE, MARGIN)
    where = np.argwhere(outside)[:5].tolist()
    assert not outside.any(), (f"{kind}: {int(outside.sum())} changed pixels outside the "
                               f"projected box {np.round(box, 1)} (+{MARGIN} px), e.g. at "
                               f"(row, col) {where}")
    # and it spans the box: not a speck in one corner of it (wrong scale, radius ignored)
    rows, cols = np.nonzero(changed)
    u0, v0, u1, v1 = box
    span_u, span_v = cols.max() + 1 - cols.min(), rows.max() + 1 - rows.min()
    assert span_u >= 0.6 * (u1 - u0) and span_v >= 0.6 * (v1 - v0), (
        f"{kind}: changed pixels span {span_u}x{span_v} px of the projected box "
        f"{u1 - u0:.1f}x{v1 - v0:.1f} px")


@pytest.mark.parametrize("kind", [k for k, _ in SHOWN])
def test_kind_is_centred_where_projected(kinds, kind):
    """The changed pixels' centroid is the projected (weighted) mean of the asset's points,
    within 2 px: a camera off by a few pixels, or a mirrored one, fails here."""
    rows, cols = np.nonzero(_changed(kinds, kind))
    assert rows.size, f"{kind}: no pixel differs from the empty frame"
    got = np.array([cols.mean() + 0.5, rows.mean() + 0.5])
    samples, weights = kinds["boxes"][kind]["samples"], kinds["boxes"][kind]["weights"]
    uv = P.project(samples, kinds["frames"][kind]["camera"], SIZE)
    want = (uv * weights[:, None]).sum(0) / weights.sum()
    assert np.abs(got - want).max() < 2.0, f"{kind}: pixels centred at {got}, expected {want}"


# (kind, most changed pixels per footprint pixel: thin lines spread over more by antialiasing)
FOOTPRINTS = [("points", 1.8), ("streamlines", 1.8), ("coastlines", 4.0)]


@pytest.mark.parametrize("kind, most", FOOTPRINTS)
def test_kind_covers_its_footprint(kinds, kind, most):
    """Spheres and tubes of the asset's radii, projected: (nearly) every pixel whose centre
    they cover changed, and not many more did (a radius attribute or radius ignored, a
    default radius used instead, shows as too few or too many pixels)."""
    sh = kinds["boxes"][kind]["shape"]
    expected = P.footprint(sh["points"], sh["radii"], kinds["frames"][kind]["camera"], SIZE,
                           sh.get("edges"))
    changed = _changed(kinds, kind)
    recall = (changed & expected).sum() / expected.sum()
    ratio = changed.sum() / expected.sum()
    assert recall >= 0.85, f"{kind}: only {recall:.0%} of the {expected.sum()} footprint " \
                           f"pixels changed"
    assert ratio <= most, f"{kind}: {changed.sum()} pixels changed for a footprint of " \
                          f"{expected.sum()} ({ratio:.1f}x, at most {most}x expected)"


def _warm(c):  # orange to red: the sphere's flat colour, lajolla, inferno
    return c[0] > c[2] + 40


COLOURS = {
    "mesh": ("orange (flat colour 0.95, 0.45, 0.1)",
             lambda c: c[0] > c[1] + 30 and c[1] > c[2] + 20),
    "points": ("warm (lajolla, speeds in its upper range)", _warm),
    "streamlines": ("blue (devon)", lambda c: c[2] > c[0] + 20),
    "coastlines": ("light grey (0.92, 0.92, 0.9)",
                   lambda c: c.min() > 60 and c.max() - c.min() < 20),
    "volume": ("warm (inferno, glowing)", _warm),
    "fog": ("blue-white (0.6, 0.75, 1.0)", lambda c: c[2] > c[0] + 10),
}


@pytest.mark.parametrize("kind", sorted(COLOURS))
def test_kind_shows_its_colours(kinds, kind):
    """The mean colour of the asset's pixels is the one its manifest entry asks for (a lost
    colour map falls back to grey)."""
    what, ok = COLOURS[kind]
    changed = _changed(kinds, kind)
    assert changed.any(), f"{kind}: no pixel differs from the empty frame"
    mean = kinds["images"][kind][changed].mean(0)
    assert ok(mean), f"{kind}: mean colour {mean.round()} is not {what}"


def test_empty_frame_is_background_only(kinds):
    """No asset: the reference plate is the world's smooth gradient, nothing else (the image
    border aside, where the pixel filter darkens a few pixels)."""
    a = kinds["empty"][1:-1, 1:-1].astype(float)
    assert np.abs(np.diff(a, axis=1)).max() <= 3
    assert np.abs(np.diff(a, axis=0)).max() <= 3
    assert np.abs(a.mean((0, 1)) - np.array(BACKGROUND) * 255).max() < 12


def test_log_colour_map(kinds):
    """Along the strip the colours follow the log scale, as ``core.colormaps`` says:

    * at five points the colour map position read back from the rendered colour (the nearest
      viridis colour in direction, brightness aside) is the log-scale position, within 0.1;
    * green rises from point to point (viridis), which a linear scale (the first three points
      at t < 0.01, one colour) does not;
    * each point matches the twin strip whose vertex colours numpy computed with
      ``colormaps.apply(log=True)``, rendered under the same lights.
    """
    cam = kinds["frames"]["logmap"]["camera"]
    _, right, _, _ = P.camera_axes(cam)
    s = np.linspace(-0.8, 0.8, 5)
    uv = P.project(_at(*PLATE["centre"]) + np.outer(s * PLATE["half_w"], right), cam, SIZE)
    img, twin = kinds["images"]["logmap"], kinds["images"]["logtwin"]

    def sample(a: np.ndarray, u: float, v: float) -> np.ndarray:
        r, c = int(v), int(u)
        return np.median(a[r - 1:r + 2, c - 1:c + 2].reshape(-1, 3), axis=0)

    got = np.array([sample(img, u, v) for u, v in uv])
    ref = np.array([sample(twin, u, v) for u, v in uv])
    table = colormaps.lut(LOG["name"], 256)[:, :3]
    table = table / np.linalg.norm(table, axis=1, keepdims=True)
    direction = got / np.maximum(np.linalg.norm(got, axis=1, keepdims=True), 1e-9)
    t_read = np.linspace(0.0, 1.0, 256)[(direction @ table.T).argmax(1)]
    t_log = colormaps.normalize(_log_values(s), LOG["vmin"], LOG["vmax"], log=True)
    assert np.abs(t_read - t_log).max() < 0.1, (
        f"colour map positions read back {t_read.round(2)}, log scale {t_log.round(2)} "
        f"(linear: {colormaps.normalize(_log_values(s), LOG['vmin'], LOG['vmax']).round(3)})")
    green = got[:, 1]
    assert (np.diff(green) > 8).all() and green[-1] - green[0] > 80, \
        f"green along the strip {green}: not rising step by step"
    assert np.abs(got - ref).max() < 25, f"colour map {got.tolist()} vs numpy's {ref.tolist()}"
