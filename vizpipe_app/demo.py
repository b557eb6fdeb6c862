"""A small, self-contained demo run: a water molecule drifting in a triclinic cage.

``python -m vizpipe_app.demo OUT_DIR [--frames N] [--engine ...] [--workers N]`` builds, with
the core writers only, a run directory the renderer (``python -m render OUT_DIR``) turns into
frames and a movie. Everything is analytic, so the demo needs no input files:

* **electron density** rho(r) of one rigid water molecule (SPC/E geometry), a sum of normalised
  Gaussians (O 1s core 2 e, O valence 6 e, H 1 e each; 10 electrons in all), sampled on a
  sheared (triclinic) grid and written as a ``.vdb`` volume with its exact sheared affine;
* the **isosurface** rho = ``iso_level`` (``core.geometry.isosurface``), coloured by the
  **electrostatic potential** of the SPC/E point charges (a molecular electrostatic potential
  map: red where electron-rich, blue where electron-poor) as vertex colours and a
  ``potential`` attribute in volts;
* the **atoms** as points with ``radius``, ``element`` (Z) and ``speed`` attributes and CPK
  colours;
* the atoms' recent **trails** as curves (``speed`` and ``age`` attributes), and the **cell
  edges** as static curves.

The molecule's centre circles once through the cage and the molecule turns once about a
tilted axis over ``duration_ps``, so the last frame leads back into the first (a seamless loop).
Atom speeds (a few Angstrom/ps, i.e. a few hundred m/s) are those of thermal motion at room
temperature.

One task per frame (``build_frame``) writes ``assets/NNNN/*`` atomically and skips a frame
whose files all exist (delete OUT_DIR to rebuild with other parameters); the main process
writes the static assets, the colour bar, the manifest (validated, with provenance; left
untouched when nothing but its time stamp would change) and ``scene.usda``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from core.rundir import RunDir
from core.runtime import task, wait_on

__all__ = ["DEFAULTS", "main", "build_frame", "frame_geometry", "density", "potential"]

# Every parameter of the demo (recorded in the manifest's provenance). Passed to tasks explicitly.
DEFAULTS: dict[str, Any] = {
    "frames": 10,
    "duration_ps": 1.0,  # one loop: the centre circles once, the molecule turns once
    "cell": [[6.4, 0.0, 0.0], [1.7, 6.0, 0.0], [1.0, 0.9, 6.2]],  # rows a, b, c (Angstrom)
    "grid": [64, 60, 62],
    "iso_level": 0.1,  # e/Angstrom^3
    "potential_range": 3.5,  # colour range +-V
    "orbit_radius": 0.8,  # Angstrom
    "trail_ps": 0.3,
    "trail_samples": 40,
    "resolution": [960, 540],
    "samples": 16,
    "fps": 8,
}

# SPC/E water: O-H 1.0 Angstrom, H-O-H 109.47 degrees, charges in e.
_OH = 1.0
_HOH = math.radians(109.47)
_CHARGES = (-0.8476, 0.4238, 0.4238)
_ELEMENTS = (8, 1, 1)
_MASSES = (15.999, 1.008, 1.008)
# (electrons, sigma in Angstrom) per atom: O carries a 1s core and a valence shell
_GAUSSIANS = (((2.0, 0.15), (6.0, 0.50)), ((1.0, 0.40),), ((1.0, 0.40),))
_RADII = {8: 0.42, 1: 0.25}  # display radii (Angstrom), about 0.6 x covalent radii
_CPK = {8: (230, 40, 30, 255), 1: (240, 240, 240, 255)}
_COULOMB = 14.399645  # e / (4 pi eps0) in V * Angstrom
_SOFTEN = 0.2  # Angstrom, keeps the point-charge potential finite


def _rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rotation matrix about a unit axis (Rodrigues)."""
    a = np.asarray(axis, dtype=np.float64) / np.linalg.norm(axis)
    k = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle) * k + (1 - math.cos(angle)) * (k @ k)


def _cell(params: dict) -> np.ndarray:
    return np.asarray(params["cell"], dtype=np.float64)


def atom_positions(t_ps: float, params: dict) -> np.ndarray:
    """(3, 3) positions of O, H, H at time ``t_ps`` (Angstrom)."""
    half = _HOH / 2
    body = np.array([[0.0, 0.0, 0.0],
                     [_OH * math.sin(half), _OH * math.cos(half), 0.0],
                     [-_OH * math.sin(half), _OH * math.cos(half), 0.0]])
    body -= np.average(body, axis=0, weights=_MASSES)  # about the centre of mass
    phase = 2 * math.pi * t_ps / params["duration_ps"]
    rot = _rotation(np.array([0.3, 0.5, 1.0]), phase) @ _rotation(np.array([1.0, 0, 0]), 0.6)
    cell = _cell(params)
    centre = cell.sum(0) / 2
    u = np.array([1.0, 0.0, 0.2])
    u /= np.linalg.norm(u)
    v = np.cross(np.array([0.2, -0.3, 1.0]), u)
    v /= np.linalg.norm(v)
    r = params["orbit_radius"]
    c = centre + r * (math.cos(phase) * u + math.sin(phase) * v)
    return body @ rot.T + c


def atom_speeds(t_ps: float, params: dict, h: float = 1e-4) -> np.ndarray:
    """(3,) speeds in Angstrom/ps (central difference of the analytic motion)."""
    d = atom_positions(t_ps + h, params) - atom_positions(t_ps - h, params)
    return np.linalg.norm(d, axis=1) / (2 * h)


def density(points: np.ndarray, atoms: np.ndarray) -> np.ndarray:
    """Electron density (e/Angstrom^3) at ``points`` (..., 3): normalised Gaussians."""
    rho = np.zeros(points.shape[:-1], dtype=np.float64)
    for pos, shells in zip(atoms, _GAUSSIANS, strict=True):
        r2 = ((points - pos) ** 2).sum(-1)
        for n_el, sigma in shells:
            rho += n_el * (2 * math.pi * sigma**2) ** -1.5 * np.exp(-r2 / (2 * sigma**2))
    return rho


def potential(points: np.ndarray, atoms: np.ndarray) -> np.ndarray:
    """Electrostatic potential (V) of the SPC/E point charges, softened at the nuclei."""
    phi = np.zeros(points.shape[:-1], dtype=np.float64)
    for pos, q in zip(atoms, _CHARGES, strict=True):
        r = np.sqrt(((points - pos) ** 2).sum(-1) + _SOFTEN**2)
        phi += _COULOMB * q / r
    return phi


def frame_time(index: int, params: dict) -> float:
    return params["duration_ps"] * index / params["frames"]


def frame_geometry(index: int, params: dict):
    """Pure stage: (Volume, iso Mesh, atom Points, trail Curves) of one frame."""
    from core import colormaps
    from core.geometry import Curves, Points, Volume, isosurface

    t = frame_time(index, params)
    atoms = atom_positions(t, params)
    cell = _cell(params)
    ni, nj, nk = (int(n) for n in params["grid"])
    shape = (ni, nj, nk)
    affine = Volume.affine_from_cell(cell, shape)
    ijk = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1)
    xyz = ijk @ affine[:3, :3].T + affine[:3, 3]
    rho = density(xyz, atoms).astype(np.float32)
    vol = Volume(rho, affine, "density", "e/Angstrom^3")
    # the diffuse tail the isosurface leaves out: what the renderer shows as a glowing volume
    # (faded out smoothly from half the isovalue up, so the volume has no voxel-sized step)
    s = np.clip((rho / params["iso_level"] - 0.5) / 0.5, 0.0, 1.0)
    weight = 1.0 - s * s * (3 - 2 * s)
    outside = Volume((rho * weight).astype(np.float32), affine, "density_outside",
                     "e/Angstrom^3")

    iso = isosurface(vol, params["iso_level"], periodic=(True, True, True))
    phi = potential(iso.vertices.astype(np.float64), atoms).astype(np.float32)
    vr = float(params["potential_range"])
    iso.attributes["potential"] = phi
    iso.colors = colormaps.apply(phi, "roma", -vr, vr)

    z = np.array(_ELEMENTS, dtype=np.int32)
    pts = Points(atoms, {"radius": np.array([_RADII[e] for e in z], np.float32),
                         "element": z, "speed": atom_speeds(t, params).astype(np.float32)},
                 np.array([_CPK[e] for e in z], np.uint8))

    n = int(params["trail_samples"])
    ages = np.linspace(params["trail_ps"], 0.0, n)
    hist = np.stack([atom_positions(t - a, params) for a in ages])  # (n, 3 atoms, 3)
    speed = np.stack([atom_speeds(t - a, params) for a in ages])  # (n, 3 atoms)
    lines = [hist[:, k] for k in range(len(z))]
    # colour: the element's colour fading towards dim grey with age
    fade = (ages / params["trail_ps"])[:, None]
    cols = []
    for e in z:
        c = np.array(_CPK[e][:3], np.float64)
        rgb = c * (1 - 0.7 * fade) + 60.0 * 0.7 * fade
        cols.append(np.concatenate([rgb, np.full((n, 1), 255.0)], 1))
    trails = Curves.from_polylines(
        lines,
        attributes={"speed": speed.T.reshape(-1).astype(np.float32),
                    "age": np.tile(ages, len(z)).astype(np.float32)},
        colors=np.concatenate(cols).round().astype(np.uint8),
        radius=0.03,
    )
    bonds = Curves.from_polylines(
        [np.linspace(atoms[0], atoms[k], 8) for k in (1, 2)],
        attributes={"element": np.repeat([[8] * 4 + [1] * 4], 2, 0).reshape(-1).astype(np.int32)},
        colors=np.array([_CPK[8]] * 4 + [_CPK[1]] * 4 + [_CPK[8]] * 4 + [_CPK[1]] * 4, np.uint8),
        radius=0.08,
    )
    return [vol, outside], iso, pts, bonds, trails


def cell_edges(params: dict):
    """The 12 edges of the (triclinic) cell as Curves."""
    from core.geometry import Curves

    a, b, c = _cell(params)
    corners = {(i, j, k): i * a + j * b + k * c for i in (0, 1) for j in (0, 1) for k in (0, 1)}
    lines = []
    for (i, j, k), p in corners.items():
        for d in ((1, 0, 0), (0, 1, 0), (0, 0, 1)):
            q = (i + d[0], j + d[1], k + d[2])
            if q in corners:
                lines.append(np.array([p, corners[q]]))
    return Curves.from_polylines(lines, radius=0.02)


_FRAME_FILES = ("density.vdb", "density_iso.ply", "atoms.ply", "bonds.ply", "trails.ply")


METERS_PER_UNIT = 1e-10  # the demo's length unit is the angstrom


def _alternate_writers() -> dict[str, Any]:
    """Writers of the alternate formats whose core modules exist: suffix -> f(obj, path, name).

    glTF (``core.io.gltf.write_glb``) and USD (``core.io.usd.write_usd``, in the manifest's
    length unit so that ``scene.usda`` can reference the files unscaled).
    """
    import importlib.util

    out: dict[str, Any] = {}
    if importlib.util.find_spec("core.io.gltf") is not None:
        from core.io import gltf

        if hasattr(gltf, "write_glb"):
            out[".glb"] = lambda obj, path, name: gltf.write_glb(obj, path, name=name)
    if importlib.util.find_spec("core.io.usd") is not None:
        from core.io import usd

        if hasattr(usd, "write_usd"):
            def _usd(obj: Any, path: Path, name: str) -> Path:
                radius = getattr(obj, "radius", None) or None
                return usd.write_usd(obj, path, name=name, meters_per_unit=METERS_PER_UNIT,
                                     radius=radius)

            out[".usd"] = _usd
    return out


def frame_entry(index: int, params: dict, alternates: tuple[str, ...] = ()) -> dict:
    """The manifest entry of one frame (pure: the same whether or not the frame was rebuilt)."""
    from core.camera import orbit
    from core.manifest import asset, frame

    rel = RunDir.frame_rel(index)
    vr = float(params["potential_range"])

    def alt(stem: str) -> list[str] | None:
        return [f"{rel}/{stem}{suf}" for suf in alternates] or None

    assets = [
        asset("density", "volume", f"{rel}/density.vdb", units="e/Angstrom^3",
              grid="density_outside",
              colormap={"name": "devon", "vmin": 0.0, "vmax": float(params["iso_level"]),
                        "attribute": "density_outside", "units": "e/Angstrom^3"},
              density_scale=4.0, emission=0.5,
              label="electron density below the isovalue (grid 'density' holds all of it)"),
        asset("density_iso", "mesh", f"{rel}/density_iso.ply", units="V",
              colormap={"name": "roma", "vmin": -vr, "vmax": vr, "attribute": "potential",
                        "units": "V"},
              opacity=0.6, level=float(params["iso_level"]), alternates=alt("density_iso"),
              label=f"rho = {params['iso_level']} e/Angstrom^3 coloured by potential"),
        asset("atoms", "points", f"{rel}/atoms.ply", units="", radius_attribute="radius",
              alternates=alt("atoms"), label="atoms (CPK colours)"),
        asset("bonds", "curves", f"{rel}/bonds.ply", units="", radius=0.08,
              alternates=alt("bonds"), label="O-H bonds"),
        asset("trails", "curves", f"{rel}/trails.ply", units="", radius=0.03,
              alternates=alt("trails"), label="atom trails"),
    ]
    t = frame_time(index, params)
    cams = orbit(_bounds(params), params["frames"], turns=0.25, azimuth_deg=-70.0,
                 elevation_deg=20.0, lens_mm=50.0,
                 aspect=params["resolution"][0] / params["resolution"][1], margin=1.04,
                 points=_corners(params))
    return frame(index, assets, time=t, label=f"t = {t:.2f} ps", camera=cams[index])


def _corners(params: dict) -> np.ndarray:
    from core.geometry import cell_corners

    return cell_corners(_cell(params))


def _bounds(params: dict) -> np.ndarray:
    corners = _corners(params)
    return np.array([corners.min(0), corners.max(0)])


def _frame_done(out_dir: Path, index: int, alternates: tuple[str, ...]) -> bool:
    d = RunDir(out_dir).frame_dir(index)
    names = list(_FRAME_FILES)
    names += [f"{Path(n).stem}{s}" for n in _FRAME_FILES if n.endswith(".ply") for s in alternates]
    return all((d / n).exists() for n in names)


def write_frame(out_dir: str, index: int, params: dict) -> dict:
    """Write one frame's assets (atomically, file by file) unless they all exist already.

    Returns ``{"index", "skipped", "seconds", "alternates"}``.
    """
    from core.io.ply import write_ply
    from core.io.vdb import write_vdb

    out = Path(out_dir)
    writers = _alternate_writers()
    alts = tuple(sorted(writers))
    t0 = time.perf_counter()
    if _frame_done(out, index, alts):
        return {"index": index, "skipped": True, "seconds": 0.0, "alternates": list(alts)}
    vols, iso, pts, bonds, trails = frame_geometry(index, params)
    d = RunDir(out).frame_dir(index)
    d.mkdir(parents=True, exist_ok=True)
    write_vdb(vols, d / "density.vdb", tolerance=1e-3)
    for stem, obj in (("density_iso", iso), ("atoms", pts), ("bonds", bonds),
                      ("trails", trails)):
        write_ply(obj, d / f"{stem}.ply", comments=[f"vizpipe demo frame {index}"])
        for suffix, writer in writers.items():
            writer(obj, d / f"{stem}{suffix}", stem)
    return {"index": index, "skipped": False, "seconds": time.perf_counter() - t0,
            "alternates": list(alts)}


@task(returns=1)
def build_frame(out_dir: str, index: int, params: dict) -> dict:
    """Task: one frame's assets (see :func:`write_frame`)."""
    return write_frame(out_dir, index, params)


def write_static(out_dir: Path, params: dict) -> list[dict]:
    """Static assets (the cell) and the colour bar image; returns the static asset entries."""
    from core import colormaps
    from core.io.ply import write_ply
    from core.manifest import asset

    # cheap, and they depend on the parameters: always rewritten (atomically)
    cell = cell_edges(params)
    write_ply(cell, RunDir(out_dir).static / "cell.ply")
    writers = _alternate_writers()
    for suffix, writer in writers.items():
        writer(cell, RunDir(out_dir).static / f"cell{suffix}", "cell")
    vr = float(params["potential_range"])
    # sized for the overlay, which scales the bar to ~55 % of the frame height
    h = max(200, round(0.55 * params["resolution"][1]))
    colormaps.colorbar_png(RunDir(out_dir).static / "colorbar_potential.png", "roma", -vr, vr,
                           label="electrostatic potential", units="V",
                           size_px=colormaps.colorbar_size(h))
    alts = [f"static/cell{suf}" for suf in writers] or None
    return [asset("cell", "curves", "static/cell.ply", units="", radius=0.015, alternates=alts,
                  color=[0.5, 0.52, 0.58], label="unit cell")]


def build_manifest(out_dir: Path, params: dict, frames: list[dict], static: list[dict],
                   engine: str = "") -> dict:
    """The run manifest (validated by :func:`core.manifest.write_manifest`)."""
    from core.manifest import new_manifest, provenance

    vr = float(params["potential_range"])
    b = _bounds(params)
    m = new_manifest(
        "Water in a triclinic cage", "demo", length_unit="angstrom", bounds=b.tolist(),
        meters_per_unit=METERS_PER_UNIT, fps=float(params["fps"]),
        camera={"mode": "orbit", "target": ((b[0] + b[1]) / 2).tolist(), "turns": 0.25,
                "elevation_deg": 20.0, "azimuth_deg": -70.0, "lens_mm": 50.0},
        legend={
            "title": "Water in a triclinic cage",
            "subtitle": f"isosurface \u03c1 = {params['iso_level']} e/\u00c5\u00b3 coloured by"
                        " electrostatic potential \u00b7 analytic SPC/E model",
            "colorbar": {"image": "static/colorbar_potential.png",
                         "label": "electrostatic potential",
                         "colormap": {"name": "roma", "vmin": -vr, "vmax": vr,
                                      "attribute": "potential", "units": "V"}},
            "items": [{"label": "oxygen", "color": [0.9, 0.16, 0.12]},
                      {"label": "hydrogen", "color": [0.94, 0.94, 0.94]},
                      {"label": "density below the isovalue", "color": [0.55, 0.7, 0.95]},
                      {"label": "unit cell", "color": [0.5, 0.52, 0.58]}],
        },
        render={"resolution": list(params["resolution"]), "samples": int(params["samples"]),
                "background": [0.045, 0.05, 0.065], "exposure": 0.0},
    )
    m["static"] = static
    m["frames"] = frames
    m["provenance"] = provenance(parameters=params, engine=engine)
    return m


def _same_manifest(out: Path, manifest: dict) -> bool:
    """The manifest on disk equals ``manifest`` apart from when/where/how it was made."""
    import json

    path = RunDir(out).manifest
    if not path.exists():
        return False
    try:
        old = json.loads(path.read_text())
    except (OSError, ValueError):
        return False

    def key(m: dict) -> str:
        body = {k: v for k, v in m.items() if k != "provenance"}
        body["parameters"] = m.get("provenance", {}).get("parameters")
        return json.dumps(body, sort_keys=True,
                          default=lambda x: x.tolist() if hasattr(x, "tolist") else str(x))

    return bool(json.loads(key(old)) == json.loads(key(manifest)))


def run(out_dir: str | Path, params: dict | None = None, engine: str = "") -> dict:
    """Build every frame through the runtime (engine chosen by the caller) and the manifest."""
    from core.manifest import add_asset_checksums, write_manifest

    p = dict(DEFAULTS if params is None else {**DEFAULTS, **params})
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    static = write_static(out, p)
    results = wait_on([build_frame(str(out), i, p) for i in range(int(p["frames"]))])
    alts = tuple(results[0]["alternates"]) if results else ()
    frames = [frame_entry(r["index"], p, alts) for r in results]
    manifest = build_manifest(out, p, frames, static, engine)
    add_asset_checksums(out, manifest)  # as write_manifest records them: compare like with like
    changed = not _same_manifest(out, manifest)
    if changed:  # else keep the file and its time stamp (the renderer compares them)
        write_manifest(out, manifest)
    if ".usd" in alts and (changed or not RunDir(out).scene.exists()):
        # the whole run as one USD stage (Maya, Houdini, usdview)
        from core.usdscene import write_scene_usda

        write_scene_usda(out, manifest)
    done = sum(not r["skipped"] for r in results)
    print(f"demo: {done} frame(s) built, {len(results) - done} already there -> "
          f"{RunDir(out).manifest}{'' if changed else ' (unchanged)'}", flush=True)
    return {"frames": results, "manifest": str(RunDir(out).manifest)}


def build_parser() -> argparse.ArgumentParser:
    from core.cli import add_engine_args, positive_int, resolution

    ap = argparse.ArgumentParser(prog="python -m vizpipe_app.demo",
                                 description="Build the demo run directory (assets + manifest).")
    ap.add_argument("out_dir", help="run directory to (re)build")
    ap.add_argument("--frames", type=positive_int, default=DEFAULTS["frames"],
                    help=f"number of frames [{DEFAULTS['frames']}]")
    ap.add_argument("--resolution", type=resolution, metavar="WxH",
                    help="render resolution recorded in the manifest "
                         f"[{DEFAULTS['resolution'][0]}x{DEFAULTS['resolution'][1]}]")
    ap.add_argument("--samples", type=positive_int,
                    help=f"render samples recorded in the manifest [{DEFAULTS['samples']}]")
    add_engine_args(ap)
    return ap


def main(argv: list[str] | None = None) -> int:
    """``python -m vizpipe_app.demo OUT_DIR [--frames N] [--engine E] [--workers N]``."""
    from core.cli import engine_from_args, main_wrapper

    @main_wrapper
    def _main() -> int:
        args = build_parser().parse_args(argv)
        params: dict[str, Any] = {"frames": args.frames}
        if args.resolution:
            params["resolution"] = args.resolution
        if args.samples:
            params["samples"] = args.samples
        with engine_from_args(args, label="demo") as engine:
            run(args.out_dir, params, engine=str(getattr(engine, "name", "")))
        return 0

    return _main()


if __name__ == "__main__":
    from vizpipe_app.demo import main as _main  # tasks must be importable as vizpipe_app.demo.*

    sys.exit(_main())
