"""The materials run's manifest: what every frame shows and how (pure, from frame metadata)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from core import camera
from core import manifest as mf
from core.geometry import cell_corners
from core.io import RENDER_FORMAT, SUFFIX, asset_paths
from core.rundir import RunDir
from materials_pipeline import products as P
from materials_pipeline.levels import RULE_TEXT

if TYPE_CHECKING:
    from materials_pipeline.params import FrameParams
    from materials_pipeline.settings import MaterialsSettings

UNIT_TEXT = {"e/Angstrom^3": "e/Å³", "Angstrom^-3/2": "Å⁻³ᐟ²", "eV": "eV", "V": "V",
             "Hartree/e": "Hartree/e"}
SIGNED_COLOURS = ((0.95, 0.85, 0.15), (0.15, 0.80, 0.90))  # + yellow, - cyan (sRGB, VESTA)
ORBIT_FRAMES = 48  # the orbit a single frame's still is framed for (--orbit-frames' default)
SURFACE_COLOUR = (0.95, 0.80, 0.30)  # a density surface without colour-by field: amber


def _units(u: str) -> str:
    return UNIT_TEXT.get(u, u)


def quantity(meta: dict) -> str:
    """What a frame's grid holds, in words: "Electron density", "Orbital 5", "Spin density",
    "Magnetization density", "Electrostatic potential", "Local potential", "ELF" ..."""
    grid, kind = str(meta.get("grid", "")), str(meta.get("kind", ""))
    if grid.startswith("magnetization"):
        return "Magnetization density"
    if kind == "orbital" or grid.startswith("orbital"):
        index = grid.rpartition("_")[2]
        return f"Orbital {index}" if index.isdigit() else "Orbital"
    if kind == "density" and meta.get("signed"):
        return "Density difference"  # both signs: a response or difference density
    if kind == "potential":
        return "Local potential" if meta.get("format") in ("locpot", "vaspout") \
            else "Electrostatic potential"
    names = {"density": "Electron density", "spin": "Spin density", "elf": "ELF"}
    if grid in ("spin_up", "spin_down"):
        return f"Electron density, spin {grid[5:]}"
    return names.get(kind, grid or "Field")


def title(meta: dict) -> str:
    """The default title: the quantity and the molecule's or cell's formula (not the file
    format): "Electron density — CO", "Orbital 5 — C6H7N", "Local potential — O"."""
    what = meta.get("formula") or "".join(meta.get("symbols", []))
    return f"{quantity(meta)} — {what}" if what else quantity(meta)


def _label(meta: dict, index: int, n: int, run: RunDir, s: MaterialsSettings) -> str:
    if s.default:
        from materials_pipeline import default_data

        mode_file = default_data.inputs_dir(run.root, s.frames) / default_data.MODE_FILE
        if mode_file.exists():
            import json

            mode = json.loads(mode_file.read_text())
            return f"t = {default_data.frame_time_fs(index, n, mode):.1f} fs"
    name = Path(meta["source"]).name
    if meta.get("frame_in_file") is not None:
        return f"{name} step {meta['frame_in_file'] + 1}"
    return f"{name} ({index + 1}/{n})" if n > 1 else name


def _frame_assets(meta: dict, params: FrameParams, cmap: str | None, crange) -> list[dict]:
    rel = RunDir.frame_rel(meta["index"])
    fmts = params.formats
    files = set(meta.get("files", []))
    ext = SUFFIX[RENDER_FORMAT]

    out = []
    if "density.vdb" in files:
        level = float(meta["level"])
        out.append(P.DENSITY.asset(
            f"{rel}/{P.DENSITY.name}.vdb", units=meta["units"], grid=meta["grid"],
            density_scale=0.6 / max(level, 1e-12),
            colormap={"name": "devon", "vmin": 0.0, "vmax": level, "attribute": meta["grid"],
                      "units": meta["units"]},
            alternates=[f"{rel}/{P.DENSITY.name}.usdc"] if "usd" in fmts else None,
            # a molecule's glow costs 2.5x the render time for little: shown for periodic
            # cells, kept for artists otherwise
            hidden=not (meta.get("periodic", True) or params.show_volume)))
    for k, s in enumerate(meta.get("surfaces", [])):
        name = s["name"]
        a: dict[str, Any] = {"level": float(meta["level"]) * (-1 if name == "iso_neg" else 1),
                             "label": f"isosurface {meta['level_text']}"}
        if cmap is not None and crange is not None:
            a["colormap"] = {"name": cmap, "vmin": crange[0], "vmax": crange[1],
                             "attribute": "color_value", "units": meta.get("color_units", "")}
        elif meta.get("signed"):
            a["color"] = list(SIGNED_COLOURS[k])
        else:
            a["color"] = list(SURFACE_COLOUR)
        path, alts = asset_paths(f"{rel}/{name}", fmts)
        for k2 in ("faces", "faces_full"):
            if k2 in s:
                a[k2] = int(s[k2])
        out.append(P.ISO.asset(path, name=name, units=meta["units"],
                               opacity=P.ISO.build["opacity_with_atoms"]
                               if len(meta.get("symbols", [])) else P.ISO.build["opacity"],
                               alternates=alts, **a))
    for row in (P.ATOMS, P.BONDS, P.POLYHEDRA):
        if row.name + ext in files:
            path, alts = asset_paths(f"{rel}/{row.name}", fmts)
            out.append(row.asset(path, alternates=alts))
    return out


# long: the materials manifest (orbit, frames' assets, legend, warnings) in one pass
def build_manifest(run: RunDir, metas: list[dict], params: FrameParams, s: MaterialsSettings, *,
                   cmap: str | None, crange, inputs: list[Path],
                   checksums: dict | None = None) -> dict:
    """The manifest of a materials run (frames, static cell, legend, cameras, provenance)."""
    from ase.data import atomic_numbers
    from ase.data.colors import jmol_colors

    metas = sorted(metas, key=lambda m: m["index"])
    n = len(metas)
    lo = np.min([m["bounds"][0] for m in metas], axis=0)
    hi = np.max([m["bounds"][1] for m in metas], axis=0)
    bounds = np.array([lo, hi])
    m0 = metas[0]
    same_cell = m0["has_cell"] and all(np.allclose(m["cell"], m0["cell"]) for m in metas)
    static = []
    if same_cell:
        run.static.mkdir(exist_ok=True)
        for suffix in SUFFIX.values():
            src = run.frame_dir(m0["index"]) / f"cell{suffix}"
            if src.exists():
                shutil.copyfile(src, run.static / f"cell{suffix}")
        path, alts = asset_paths(run.static_rel(P.CELL.name), params.formats)
        static.append(P.CELL.asset(path, alternates=alts))
    points = (cell_corners(m0["cell"]) if same_cell
              else np.array([[x, y, z] for x in bounds[:, 0] for y in bounds[:, 1]
                             for z in bounds[:, 2]]))
    aspect = s.resolution[0] / s.resolution[1]
    single = n == 1
    n_out = max(1, s.orbit_frames) if single else n  # --orbit-frames 0: the still alone
    # the still alone is the default orbit's first view, framed for the whole orbit
    n_cams = ORBIT_FRAMES if single and n_out == 1 else n_out
    cams = camera.orbit(bounds, n_cams, turns=1.0 if single else 0.15, azimuth_deg=-60,
                        elevation_deg=20, lens_mm=50, aspect=aspect, margin=1.06,
                        points=points)[:n_out]
    if s.ortho:
        cams = camera.orthographic(cams, points, aspect=aspect, margin=1.06)
    frames = []
    for k in range(n_out):
        meta = metas[0 if single else k]
        assets = _frame_assets(meta, params, cmap, crange)
        if not same_cell and "cell" + SUFFIX[RENDER_FORMAT] in meta.get("files", []):
            rel = run.frame_rel(meta["index"])
            path, alts = asset_paths(f"{rel}/{P.CELL.name}", params.formats)
            assets.append(P.CELL.asset(path, label="cell", alternates=alts))
        label = _label(meta, meta["index"], n, run, s)
        frames.append(mf.frame(k, assets, time=float(k), label=label, camera=cams[k]))

    symbols = sorted({s for m in metas for s in m.get("symbols", [])},
                     key=lambda s: atomic_numbers.get(s, 0))
    items = [{"label": s, "color": [float(c) for c in jmol_colors[atomic_numbers.get(s, 0)]]}
             for s in symbols]
    legend: dict[str, Any] = {}
    if "level" in m0:
        legend["title"] = s.title or title(m0)
        lvl = m0["level_text"]
        sign = "±" if m0.get("signed") else ""
        sub = f"isosurface {sign}{lvl}".replace(m0["units"], _units(m0["units"]))
        if m0.get("level_rule"):  # which rule picked the level (materials_pipeline.levels)
            sub += f" · {RULE_TEXT[m0['level_rule']]}"
        if "electrons_enclosed" in m0:
            sub += (f" · {m0['electrons_enclosed']:.2f} of {m0['electrons_total']:.2f} "
                    "electrons inside")
        if m0.get("electrons_negative"):
            sub += f" · {m0['electrons_negative']:.2g} e negative clipped"
        if params.supercell != (1, 1, 1):
            sub += " · supercell " + "×".join(str(r) for r in params.supercell)
        legend["subtitle"] = sub
        if m0.get("signed") and crange is None:
            items = [{"label": f"+{m0['level']:.3g}", "color": list(SIGNED_COLOURS[0])},
                     {"label": f"−{m0['level']:.3g}", "color": list(SIGNED_COLOURS[1])}] + items
    else:
        legend["title"] = s.title or f"Structure — {m0.get('formula') or ''.join(symbols)}"
    if cmap is not None and crange is not None:
        from core.colormaps import colorbar_png, colorbar_size

        cu = _units(m0.get("color_units", ""))
        label = ("electrostatic potential" if m0.get("color_units") == "V"
                 else m0.get("color_grid") or "colour field")
        run.static.mkdir(exist_ok=True)
        colorbar_png(run.static / "colorbar.png", cmap, crange[0], crange[1],
                     label=label, units=cu,
                     size_px=colorbar_size(s.resolution[1]))
        legend["colorbar"] = {"image": run.static_rel("colorbar.png"), "label": label,
                              "colormap": {"name": cmap, "vmin": crange[0], "vmax": crange[1],
                                           "units": m0.get("color_units", "")}}
    if items:
        legend["items"] = items

    man = mf.new_manifest(legend.get("title", "materials"), "materials",
                          length_unit="angstrom", bounds=bounds, meters_per_unit=1e-10,
                          fps=float(s.fps), legend=legend,
                          camera={"mode": "orbit" if single and n_out > 1 else "static",
                                  "turns": 1.0 if single else 0.15},
                          render={"resolution": list(s.resolution),
                                  "samples": int(s.samples),
                                  "background": [0.045, 0.05, 0.06]})
    man["frames"] = frames
    man["static"] = static
    params_all = {**params.key(), "inputs": [str(p) for p in inputs], "levels":
                  [m.get("level") for m in metas], "color_range": crange, "colormap": cmap,
                  "resolution": list(s.resolution), "samples": s.samples}
    if any("electrons_negative" in m for m in metas):  # clipped for enclosed levels
        params_all["electrons_negative"] = [m.get("electrons_negative") for m in metas]
    if any(m.get("warnings") for m in metas):  # what readers skipped, what was clipped
        params_all["warnings"] = [w for m in metas for w in m.get("warnings", [])]
    man["provenance"] = mf.provenance(sorted(set(inputs)), params_all, checksums=checksums,
                                      engine=str(s.engine or ""), settings=s.to_json())
    return man
