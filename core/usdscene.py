"""Assemble every frame of a run into one USD stage, ``RUN_DIR/scene.usda``.

Layout of the stage (defaultPrim ``/World``, kind ``assembly``)::

    /World/Static/<name>            always visible; a reference to the asset's USD file, or a
                                    UsdVol.Volume for a static .vdb
    /World/Assets/<name>/f0007      one Xform per frame holding a reference (``geom`` child) to
                                    that frame's USD file; ``visibility`` is time-sampled so
                                    that only the current frame's prim is visible (held token
                                    samples: invisible before its frame, inherited at its frame,
                                    invisible from the next frame of the run on)
    /World/Assets/<name>            for volumes: one UsdVol.Volume whose OpenVDBAsset field has a
                                    time-sampled ``filePath`` (the idiomatic .vdb sequence);
                                    ``visibility`` switches it off in frames without the asset
    /World/Looks/<name>             a UsdPreviewSurface per surface asset (colour, opacity,
                                    emission from the manifest; ``displayColor`` read through a
                                    primvar reader when the asset is colour-mapped)
    /World/Camera                   from ``frames[].camera`` (translate + orient time samples,
                                    focal length, 36 mm sensor on the long image side as in
                                    Blender and core.camera)

Stage metadata: ``upAxis = Z``; ``metersPerUnit`` from ``manifest["meters_per_unit"]``, else
from ``length_unit`` (angstrom, bohr, nm, m, km ...), else 1.0 with a logged warning;
``timeCodesPerSecond = framesPerSecond = manifest["fps"]`` (24); start/end time codes are the
smallest and largest frame index (time code = frame index).

Which file an asset uses: the first of ``[path, *alternates]`` ending in .usd/.usdc/.usda
(volumes: the first .vdb). An asset without one is skipped with a logged warning, unless
``convert_missing=True``: then its ``path`` is read with :func:`core.io.read` and written next
to it as ``<stem>.usdc`` (same metersPerUnit) — the manifest itself is not changed.

Conventions the pipelines must follow: write per-frame USD files with
:func:`core.io.usd.write_usd` and the *same* ``meters_per_unit`` as the manifest (USD does not
rescale references); manifest ``color`` values are sRGB in [0, 1] (converted to linear here);
``transform`` is a 4x4 column-vector matrix (world = T @ [x, y, z, 1]), like Volume.affine.

:func:`check_usd` runs usd-core's checker (``UsdUtils.ComplianceChecker`` where the installed
usd-core has it, else its successor ``UsdValidation`` with every registered validator).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError, ManifestError
from core.io.usd import USD_SUFFIXES, author_volume, open_new_stage
from core.rundir import SCENE

__all__ = ["write_scene_usda", "check_usd", "meters_per_unit", "SCENE_NAME"]

log = logging.getLogger(__name__)

SCENE_NAME = SCENE  # core.rundir owns the layout
SENSOR_MM = 36.0

_UNITS_M = {
    "m": 1.0, "meter": 1.0, "meters": 1.0, "metre": 1.0, "metres": 1.0,
    "km": 1e3, "kilometer": 1e3, "kilometers": 1e3, "kilometre": 1e3, "kilometres": 1e3,
    "cm": 1e-2, "mm": 1e-3, "um": 1e-6, "micron": 1e-6, "nm": 1e-9, "pm": 1e-12,
    "angstrom": 1e-10, "angstroms": 1e-10, "a": 1e-10, "å": 1e-10, "ang": 1e-10,
    "bohr": 5.29177210903e-11, "au": 5.29177210903e-11,
}


def meters_per_unit(manifest: Mapping[str, Any]) -> float:
    """The scene's metersPerUnit: ``meters_per_unit`` if given, else from ``length_unit``."""
    if manifest.get("meters_per_unit"):
        return float(manifest["meters_per_unit"])
    unit = str(manifest.get("length_unit", "")).strip().lower()
    if unit in _UNITS_M:
        return _UNITS_M[unit]
    log.warning("manifest length_unit %r is not known; scene.usda uses metersPerUnit = 1", unit)
    return 1.0


def _ident(name: str) -> str:
    from pxr import Tf

    return Tf.MakeValidIdentifier(name)


def _rel(run_dir: Path, rel: str) -> str:
    p = Path(rel).as_posix()
    return p if p.startswith(("./", "../")) else f"./{p}"


def _pick(asset: Mapping[str, Any], suffixes: tuple[str, ...]) -> str | None:
    for cand in [asset["path"], *asset.get("alternates", [])]:
        if Path(cand).suffix.lower() in suffixes:
            return cand
    return None


def _usd_file(run_dir: Path, asset: Mapping[str, Any], mpu: float, convert: bool) -> str | None:
    """Relative path of the asset's USD file (converted from ``path`` if allowed), or None."""
    found = _pick(asset, USD_SUFFIXES)
    if found is not None:
        return found
    if not convert:
        log.warning("asset %r (%s): no USD file among path/alternates; left out of %s",
                    asset["name"], asset["path"], SCENE_NAME)
        return None
    from core.io import read
    from core.io.usd import write_usd

    src = run_dir / asset["path"]
    rel = Path(asset["path"]).with_suffix(".usdc").as_posix()
    dst = run_dir / rel
    if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime:
        radius = asset.get("radius")
        write_usd(read(src), dst, name=_ident(asset["name"]), meters_per_unit=mpu,
                  radius=float(radius) if radius else None)
    return rel


def _grid_name(run_dir: Path, asset: Mapping[str, Any], vdb: str) -> str:
    if asset.get("grid"):
        return str(asset["grid"])
    p = run_dir / vdb
    try:
        from core.deps import require

        (openvdb,) = require("openvdb")
        grids = openvdb.readAllGridMetadata(str(p))
        if grids:
            return str(grids[0].name)
    except Exception as exc:  # a missing or unreadable file: fall back to the asset name
        log.warning("asset %r: cannot read grid names from %s (%s)", asset["name"], p, exc)
    return str(asset["name"])


def _matrix(m: Any) -> Any:
    """Column-vector 4x4 (ours) -> Gf.Matrix4d (USD's row-vector convention)."""
    from pxr import Gf

    a = np.asarray(m, dtype=np.float64).reshape(4, 4)
    return Gf.Matrix4d(a.T.tolist())


def _srgb_to_linear(rgb: Any) -> tuple[float, float, float]:
    from core.colormaps import srgb_to_linear

    lin = srgb_to_linear(np.asarray(rgb, dtype=np.float64)[:3])
    return tuple(float(x) for x in lin)  # type: ignore[return-value]


def _material(stage: Any, path: str, asset: Mapping[str, Any]) -> Any:
    """A UsdPreviewSurface for a surface asset from its manifest fields."""
    from pxr import Gf, Sdf, UsdShade

    mat = UsdShade.Material.Define(stage, path)
    sh = UsdShade.Shader.Define(stage, f"{path}/surface")
    sh.CreateIdAttr("UsdPreviewSurface")
    base = _srgb_to_linear(asset["color"]) if "color" in asset else (0.8, 0.8, 0.8)
    if "texture" in asset:  # an image over the mesh's st (the climate base map)
        st = UsdShade.Shader.Define(stage, f"{path}/st")
        st.CreateIdAttr("UsdPrimvarReader_float2")
        st.CreateInput("varname", Sdf.ValueTypeNames.Token).Set("st")
        tex = UsdShade.Shader.Define(stage, f"{path}/texture")
        tex.CreateIdAttr("UsdUVTexture")
        tex.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(_rel(Path("."), asset["texture"]))
        tex.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
        tex.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(
            st.CreateOutput("result", Sdf.ValueTypeNames.Float2))
        for wrap in ("wrapS", "wrapT"):
            tex.CreateInput(wrap, Sdf.ValueTypeNames.Token).Set("clamp")
        sh.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(
            tex.CreateOutput("rgb", Sdf.ValueTypeNames.Float3))
    elif "colormap" in asset:  # colours are baked into displayColor
        rd = UsdShade.Shader.Define(stage, f"{path}/displayColor")
        rd.CreateIdAttr("UsdPrimvarReader_float3")
        rd.CreateInput("varname", Sdf.ValueTypeNames.String).Set("displayColor")
        rd.CreateInput("fallback", Sdf.ValueTypeNames.Float3).Set(Gf.Vec3f(*base))
        out = rd.CreateOutput("result", Sdf.ValueTypeNames.Float3)
        sh.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).ConnectToSource(out)
    else:
        sh.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f).Set(Gf.Vec3f(*base))
    sh.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(1.0 if asset.get("matte")
                                                              else 0.5)
    sh.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.0)
    if "opacity" in asset:
        sh.CreateInput("opacity", Sdf.ValueTypeNames.Float).Set(float(asset["opacity"]))
    if asset.get("emission"):
        e = float(asset["emission"])
        sh.CreateInput("emissiveColor", Sdf.ValueTypeNames.Color3f).Set(
            Gf.Vec3f(*(e * c for c in base)))
    mat.CreateSurfaceOutput().ConnectToSource(sh.ConnectableAPI(), "surface")
    return mat


def _bind(prim: Any, mat: Any) -> None:
    from pxr import UsdShade

    UsdShade.MaterialBindingAPI.Apply(prim).Bind(mat)


def _group(stage: Any, path: str, kind: str = "group") -> Any:
    from pxr import Usd, UsdGeom

    x = UsdGeom.Xform.Define(stage, path)
    Usd.ModelAPI(x.GetPrim()).SetKind(kind)
    return x


def _set_visibility(prim: Any, samples: dict[int, bool], default: bool) -> None:
    """Author held visibility samples (only where the value changes) and a default."""
    from pxr import Usd, UsdGeom

    attr = UsdGeom.Imageable(prim).CreateVisibilityAttr()
    tok = {True: UsdGeom.Tokens.inherited, False: UsdGeom.Tokens.invisible}
    attr.Set(tok[default])
    last: bool | None = None
    for t in sorted(samples):
        if samples[t] != last:
            attr.Set(tok[samples[t]], Usd.TimeCode(t))
            last = samples[t]


def _reference(stage: Any, path: str, rel: str, asset: Mapping[str, Any], mat: Any) -> Any:
    """An Xform at ``path`` with a ``geom`` child referencing ``rel``'s defaultPrim."""
    from pxr import Usd, UsdGeom

    x = UsdGeom.Xform.Define(stage, path)
    Usd.ModelAPI(x.GetPrim()).SetKind("group")
    if "transform" in asset:
        x.AddTransformOp().Set(_matrix(asset["transform"]))
    child = stage.DefinePrim(f"{path}/geom")
    child.GetReferences().AddReference(rel)
    if mat is not None:
        _bind(x.GetPrim(), mat)
    return x


def _volume(stage: Any, path: str, files: dict[int, str] | str, grids: dict[int, str] | str,
            transforms: dict[int, Any] | None) -> Any:
    from pxr import Usd, UsdGeom, UsdVol

    first_grid = grids if isinstance(grids, str) else grids[min(grids)]
    vol = author_volume(stage, path, files, [first_grid])
    if isinstance(grids, dict) and len(set(grids.values())) > 1:
        field = UsdVol.OpenVDBAsset(stage.GetPrimAtPath(f"{path}/{_ident(first_grid)}"))
        for t, g in sorted(grids.items()):
            field.GetFieldNameAttr().Set(g, Usd.TimeCode(t))
    if transforms:
        op = UsdGeom.Xformable(vol.GetPrim()).AddTransformOp()
        for t, m in sorted(transforms.items()):
            op.Set(_matrix(m if m is not None else np.eye(4)), Usd.TimeCode(t))
    return vol


def _camera_xform(cam: Mapping[str, Any]) -> tuple[Any, Any]:
    """(translate Gf.Vec3d, orient Gf.Quatd) of a camera looking from location to look_at."""
    from pxr import Gf

    loc = np.asarray(cam["location"], dtype=np.float64)
    f = np.asarray(cam["look_at"], dtype=np.float64) - loc
    if np.linalg.norm(f) < 1e-12:
        raise ManifestError(f"camera location equals look_at ({loc.tolist()})")
    f /= np.linalg.norm(f)
    up = np.asarray(cam.get("up", (0.0, 0.0, 1.0)), dtype=np.float64)
    r = np.cross(f, up)
    if np.linalg.norm(r) < 1e-9:  # looking along up: pick another up
        r = np.cross(f, (0.0, 1.0, 0.0) if abs(f[1]) < 0.9 else (1.0, 0.0, 0.0))
    r /= np.linalg.norm(r)
    u = np.cross(r, f)
    rot = Gf.Matrix3d(*r.tolist(), *u.tolist(), *(-f).tolist())  # rows: local x, y, z axes
    return Gf.Vec3d(*loc.tolist()), rot.ExtractRotation().GetQuat()


def _camera(stage: Any, cams: dict[int, Mapping[str, Any]], manifest: Mapping[str, Any]) -> Any:
    from pxr import Gf, Usd, UsdGeom

    res = manifest.get("render", {}).get("resolution", [1920, 1080])
    aspect = float(res[0]) / float(res[1])
    cam = UsdGeom.Camera.Define(stage, "/World/Camera")
    tr = cam.AddTranslateOp(UsdGeom.XformOp.PrecisionDouble)
    ori = cam.AddOrientOp(UsdGeom.XformOp.PrecisionDouble)
    b = np.asarray(manifest.get("bounds", [[0, 0, 0], [1, 1, 1]]), dtype=np.float64)
    centre, radius = b.mean(0), max(0.5 * float(np.linalg.norm(b[1] - b[0])), 1e-9)
    samples: dict[str, dict[int, Any]] = {k: {} for k in
                                          ("projection", "h", "v", "focal", "clip")}
    prev = None
    for t, c in sorted(cams.items()):
        tc = Usd.TimeCode(t)
        loc, quat = _camera_xform(c)
        if prev is not None and Gf.Dot(prev, quat) < 0:  # same hemisphere: no flip in slerp
            quat = -quat
        prev = quat
        tr.Set(loc, tc)
        ori.Set(quat, tc)
        ortho = c.get("ortho_scale")
        # Blender's sensor fit AUTO: the sensor (36 mm, or ortho_scale) spans the long side
        span = float(ortho) * 10.0 if ortho else SENSOR_MM  # ortho apertures: tenths of a unit
        h, v = (span, span / aspect) if aspect >= 1 else (span * aspect, span)
        d = float(np.linalg.norm(np.asarray(c["location"], dtype=np.float64) - centre))
        far = 2.0 * (d + radius)
        samples["projection"][t] = \
            UsdGeom.Tokens.orthographic if ortho else UsdGeom.Tokens.perspective
        samples["h"][t] = h
        samples["v"][t] = v
        samples["focal"][t] = float(c.get("lens_mm", 50.0))
        samples["clip"][t] = Gf.Vec2f(max(0.5 * (d - radius), far * 1e-5), far)
    attrs = {"projection": cam.CreateProjectionAttr(), "h": cam.CreateHorizontalApertureAttr(),
             "v": cam.CreateVerticalApertureAttr(), "focal": cam.CreateFocalLengthAttr(),
             "clip": cam.CreateClippingRangeAttr()}
    for key, values in samples.items():
        if len(set(values.values())) == 1:  # constant: a default value, no time samples
            attrs[key].Set(next(iter(values.values())))
        else:
            for t, val in values.items():
                attrs[key].Set(val, Usd.TimeCode(t))
    return cam


# long: one stage authored while open: static assets, per-frame tracks, visibility
def write_scene_usda(run_dir: str | os.PathLike, manifest: Mapping[str, Any], *,
                     convert_missing: bool = False) -> Path:
    """Write ``RUN_DIR/scene.usda`` holding every frame of ``manifest`` (see module docs).

    Asset paths are authored relative to the run directory (``./assets/0000/iso.usd``), so
    the run directory can be moved as a whole. Returns the path written (atomically).
    """
    from core.deps import require

    require("pxr")
    from pxr import UsdGeom

    run_dir = Path(run_dir)
    frames = sorted(manifest.get("frames", []), key=lambda f: int(f["index"]))
    if not frames:
        raise ManifestError(f"{run_dir}: manifest has no frames")
    times = [int(f["index"]) for f in frames]
    if len(set(times)) != len(times):
        raise ManifestError(f"{run_dir}: manifest has duplicate frame indices")
    next_time: dict[int, int | None] = dict(zip(times, [*times[1:], None], strict=True))
    fps = float(manifest.get("fps", 24) or 24)
    mpu = meters_per_unit(manifest)
    path = run_dir / SCENE_NAME

    with open_new_stage(path, meters_per_unit=mpu, default_prim="World") as stage:
        stage.SetStartTimeCode(times[0])
        stage.SetEndTimeCode(times[-1])
        stage.SetTimeCodesPerSecond(fps)
        stage.SetFramesPerSecond(fps)
        layer = stage.GetRootLayer()
        layer.documentation = f"vizpipe scene: {manifest.get('title', '')}"
        layer.customLayerData = {
            "vizpipe": {"title": str(manifest.get("title", "")),
                        "domain": str(manifest.get("domain", "")),
                        "length_unit": str(manifest.get("length_unit", ""))}}
        _group(stage, "/World", "assembly")
        looks: dict[str, Any] = {}

        def look(asset: Mapping[str, Any]) -> Any:
            """The asset's material (one per asset name, from its first occurrence), or None
            when the manifest says nothing about its look (displayColor then shows)."""
            if not any(k in asset for k in ("color", "colormap", "opacity", "emission",
                                            "texture")):
                return None
            key = _ident(asset["name"])
            if key not in looks:
                if not looks:
                    UsdGeom.Scope.Define(stage, "/World/Looks")
                looks[key] = _material(stage, f"/World/Looks/{key}", asset)
            return looks[key]

        # static assets: always visible
        static = manifest.get("static", [])
        if static:
            _group(stage, "/World/Static")
        for a in static:
            name = _ident(a["name"])
            if a["kind"] == "volume":
                vdb = _pick(a, (".vdb",))
                if vdb is None:
                    log.warning("static volume %r: no .vdb file; left out", a["name"])
                    continue
                _volume(stage, f"/World/Static/{name}", _rel(run_dir, vdb),
                        _grid_name(run_dir, a, vdb),
                        {times[0]: a["transform"]} if "transform" in a else None)
                continue
            rel = _usd_file(run_dir, a, mpu, convert_missing)
            if rel is not None:
                _reference(stage, f"/World/Static/{name}", _rel(run_dir, rel), a, look(a))

        # per-frame assets, grouped into tracks by name
        tracks: dict[str, dict[int, Mapping[str, Any]]] = {}
        for f in frames:
            for a in f["assets"]:
                tracks.setdefault(a["name"], {})[int(f["index"])] = a
        if tracks:
            _group(stage, "/World/Assets")
        for tname, per_frame in tracks.items():
            name = _ident(tname)
            track_path = f"/World/Assets/{name}"
            kinds = {a["kind"] for a in per_frame.values()}
            if len(kinds) > 1:
                raise ManifestError(f"{run_dir}: asset {tname!r} changes kind across frames "
                                    f"({sorted(kinds)})")
            if kinds == {"volume"}:
                files: dict[int, str] = {}
                grids: dict[int, str] = {}
                for t, a in per_frame.items():
                    vdb = _pick(a, (".vdb",))
                    if vdb is None:
                        log.warning("volume %r frame %d: no .vdb file; left out", tname, t)
                        continue
                    files[t] = _rel(run_dir, vdb)
                    grids[t] = _grid_name(run_dir, a, vdb) if not grids or a.get("grid") \
                        else grids[min(grids)]
                if not files:
                    continue
                xf = {t: per_frame[t].get("transform") for t in files} \
                    if any("transform" in per_frame[t] for t in files) else None
                vol = _volume(stage, track_path, files, grids, xf)
                _set_visibility(vol.GetPrim(), {t: t in files for t in times},
                                default=times[0] in files)
                continue
            for t, a in sorted(per_frame.items()):
                rel = _usd_file(run_dir, a, mpu, convert_missing)
                if rel is None:
                    continue
                if not stage.GetPrimAtPath(track_path):
                    _group(stage, track_path)
                x = _reference(stage, f"{track_path}/f{t:04d}", _rel(run_dir, rel), a, look(a))
                vis = {times[0]: False, t: True}
                nxt = next_time[t]
                if nxt is not None:
                    vis[nxt] = False
                _set_visibility(x.GetPrim(), vis, default=(t == times[0]))

        cams = {int(f["index"]): f["camera"] for f in frames if f.get("camera")}
        if cams:
            _camera(stage, cams, manifest)
    return path


def check_usd(path: str | os.PathLike, *, warnings: bool = False) -> list[str]:
    """Problems usd-core's checker finds in ``path`` and the layers it references.

    Uses ``UsdUtils.ComplianceChecker`` (errors and failed checks) where the installed usd-core
    still has it; newer usd-core (25.11+) replaced it with ``UsdValidation``, whose every
    registered validator is run (what ``usdchecker`` does). Returns one string per problem;
    warnings are included only when asked for. An empty list means compliant.
    """
    from core.deps import require

    require("pxr")
    from pxr import Usd, UsdUtils

    path = Path(path)
    if hasattr(UsdUtils, "ComplianceChecker"):  # pragma: no cover - older usd-core
        checker = UsdUtils.ComplianceChecker()
        checker.CheckCompliance(str(path))
        out = [f"error: {e}" for e in checker.GetErrors()]
        out += [f"failed check: {e}" for e in checker.GetFailedChecks()]
        if warnings:
            out += [f"warning: {w}" for w in checker.GetWarnings()]
        return out
    from pxr import UsdValidation

    try:
        stage = Usd.Stage.Open(str(path))
    except Exception as exc:
        raise BadInputError(f"{path}: cannot open as USD: {exc}") from None
    reg = UsdValidation.ValidationRegistry()
    ctx = UsdValidation.ValidationContext(reg.GetOrLoadAllValidators())
    out = []
    for err in ctx.Validate(stage):
        typ = err.GetType()
        if typ == UsdValidation.ValidationErrorType.Warn and not warnings:
            continue
        if typ == UsdValidation.ValidationErrorType.Info:
            continue
        sites = ", ".join(str(s.GetPrim().GetPath()) if s.IsPrim() else str(s.GetLayer())
                          for s in err.GetSites() if s.IsValid())
        out.append(f"{str(typ).rsplit('.', 1)[-1].lower()}: "
                   f"{err.GetValidator().GetMetadata().name}: {err.GetMessage()} [{sites}]")
    return out
