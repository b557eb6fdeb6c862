"""USD files for meshes, point sets, curves and OpenVDB volumes (usd-core's ``pxr``).

Every file is a small asset: a root ``Xform`` (kind ``component``, the stage's defaultPrim)
holding one gprim, so that a scene can reference it by file name alone. Stage metadata:
``upAxis = "Z"``, ``metersPerUnit`` as passed (default 1.0: callers pass the scene's unit,
e.g. 1e-10 for angstrom, 1000 for km), ``defaultPrim``.

* Mesh -> ``UsdGeom.Mesh`` (triangles; ``subdivisionScheme = "none"`` so renderers do not
  smooth the isosurface; ``doubleSided``), ``normals`` with vertex interpolation.
* Points -> ``UsdGeom.Points``; ``widths`` (diameters: 2 x radius) from a ``radius``
  attribute or the ``radius=`` argument; ``ids`` from an integer ``id`` attribute.
* Curves -> ``UsdGeom.BasisCurves`` (``type = "linear"``), ``widths`` = 2 x ``Curves.radius``
  (constant) or from a ``radius`` attribute; no widths when the radius is 0.
* Volume -> ``UsdVol.Volume`` with one ``field:<grid>`` relationship per grid to a
  ``UsdVol.OpenVDBAsset`` child whose ``filePath`` is the .vdb path *relative to the USD
  file* (``./...``) and whose ``fieldName`` is the grid name. The grid's own (possibly
  sheared) transform lives in the .vdb.

Colours: sRGB uint8 become the ``displayColor`` primvar as *linear* float3 (USD colour
primvars are linear), alpha becomes ``displayOpacity``; both vertex interpolation. Every
custom attribute becomes a vertex-interpolated primvar of the same name (made a valid
identifier): floats as float/float2/float3/float4 (wider: float[] with elementSize), integers
as int (int64 where they do not fit), booleans as bool.

Suffix ``.usd`` and ``.usdc`` give the binary crate format, ``.usda`` ASCII. Writes are
atomic (the temporary keeps the suffix). ``pxr`` is imported inside functions: never import
this module's functions inside a Blender process (bpy embeds its own USD).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import atomic_path
from core.deps import require
from core.errors import BadInputError, disk_error
from core.geometry import Curves, Mesh, Points, Volume, column_extremes

__all__ = ["write_usd", "write_usd_volume", "write_usd_sequence", "read_usd", "relative_asset"]

USD_SUFFIXES = (".usd", ".usdc", ".usda")


def _pxr() -> Any:
    (pxr,) = require("pxr")
    from pxr import Gf, Kind, Sdf, Tf, Usd, UsdGeom, UsdVol, Vt  # noqa: F401

    return pxr


def _check_suffix(path: Path) -> None:
    if path.suffix.lower() not in USD_SUFFIXES:
        raise BadInputError(f"{path}: a USD file needs one of the suffixes {USD_SUFFIXES}")


@contextlib.contextmanager
def open_new_stage(path: str | os.PathLike, *, meters_per_unit: float = 1.0,
                   default_prim: str = "geom", up_axis: str = "Z") -> Iterator[Any]:
    """Yield a new ``Usd.Stage`` that is saved atomically to ``path`` when the block ends.

    The stage is built on a layer at the temporary path in the same folder, so relative asset
    paths resolve as they will in the final file. ``.usd``/``.usdc`` -> crate, ``.usda`` ->
    ASCII. Stage metadata upAxis, metersPerUnit and defaultPrim (``/<default_prim>``, which
    the caller must define) are set here.
    """
    _pxr()
    from pxr import Sdf, Usd, UsdGeom

    final = Path(path)
    _check_suffix(final)
    if not (meters_per_unit > 0 and np.isfinite(meters_per_unit)):
        raise BadInputError(f"{final}: metersPerUnit must be > 0, got {meters_per_unit}")
    with atomic_path(final) as tmp:
        args = {"format": "usda" if final.suffix.lower() == ".usda" else "usdc"}
        layer = Sdf.Layer.Find(str(tmp))
        if layer is not None:  # left in the registry by an earlier failed write of this process
            layer.Clear()
        else:
            layer = Sdf.Layer.CreateNew(str(tmp), args)
        stage = Usd.Stage.Open(layer)
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.z if up_axis == "Z" else UsdGeom.Tokens.y)
        UsdGeom.SetStageMetersPerUnit(stage, float(meters_per_unit))
        stage.SetDefaultPrim(stage.DefinePrim(f"/{default_prim}"))
        yield stage
        if not stage.GetDefaultPrim().GetTypeName():
            raise BadInputError(f"{final}: defaultPrim /{default_prim} was never given a type")
        try:
            layer.Save()
        except Exception as exc:  # USD says a full disk in words: make it the OSError
            full = disk_error(str(exc), str(final))
            if full is None:
                raise
            raise full from exc
        del stage, layer


def relative_asset(target: str | os.PathLike, layer_path: str | os.PathLike) -> str:
    """``target`` as an asset path relative to the folder of ``layer_path`` (``./a/b.vdb``).

    USD anchors ``./`` and ``../`` paths to the layer that authors them.
    """
    rel = os.path.relpath(Path(target).absolute(), Path(layer_path).absolute().parent)
    rel = Path(rel).as_posix()
    return rel if rel.startswith("../") else f"./{rel}"


# ------------------------------------------------------------------------------- primvars

def _valid_name(name: str) -> str:
    from pxr import Tf

    return Tf.MakeValidIdentifier(name)


def _array_and_type(name: str, arr: np.ndarray) -> tuple[Any, Any, int]:
    """(Vt array, Sdf type, elementSize) for a per-item attribute of shape (n,) or (n, k)."""
    from pxr import Sdf, Vt

    a = np.asarray(arr)
    n = len(a)
    a2 = a.reshape(n, int(np.prod(a.shape[1:], dtype=np.int64)))  # (0, k) for empty too
    k = a2.shape[1]
    T = Sdf.ValueTypeNames
    if a.dtype.kind == "f":
        f = np.ascontiguousarray(a2, dtype=np.float32)
        if a.ndim > 1 and 2 <= k <= 4:
            vt = {2: Vt.Vec2fArray, 3: Vt.Vec3fArray, 4: Vt.Vec4fArray}[k]
            return vt.FromNumpy(f), {2: T.Float2Array, 3: T.Float3Array, 4: T.Float4Array}[k], 1
        return Vt.FloatArray.FromNumpy(f.reshape(-1)), T.FloatArray, k
    if a.dtype.kind in "iu":
        fits = a.size == 0 or (a.min() >= -(2**31) and a.max() < 2**31)
        if fits:
            i = np.ascontiguousarray(a2, dtype=np.int32)
            if a.ndim > 1 and 2 <= k <= 4:
                vt = {2: Vt.Vec2iArray, 3: Vt.Vec3iArray, 4: Vt.Vec4iArray}[k]
                return vt.FromNumpy(i), {2: T.Int2Array, 3: T.Int3Array, 4: T.Int4Array}[k], 1
            return Vt.IntArray.FromNumpy(i.reshape(-1)), T.IntArray, k
        return Vt.Int64Array.FromNumpy(np.ascontiguousarray(a2, np.int64).reshape(-1)), \
            T.Int64Array, k
    if a.dtype.kind == "b":
        return Vt.BoolArray.FromNumpy(np.ascontiguousarray(a2).reshape(-1)), T.BoolArray, k
    raise BadInputError(f"USD primvar {name!r}: numeric values expected, got {a.dtype}")


def _author_primvars(gprim: Any, colors: np.ndarray | None, attributes: Mapping[str, Any],
                     time: Any, interp: str) -> None:
    from pxr import UsdGeom, Vt

    from core.io import srgb8_to_linear

    api = UsdGeom.PrimvarsAPI(gprim.GetPrim())
    if colors is not None:
        lin = srgb8_to_linear(colors)
        gprim.CreateDisplayColorPrimvar(interp).Set(
            Vt.Vec3fArray.FromNumpy(np.ascontiguousarray(lin[:, :3])), time)
        gprim.CreateDisplayOpacityPrimvar(interp).Set(
            Vt.FloatArray.FromNumpy(np.ascontiguousarray(lin[:, 3])), time)
    for name, arr in attributes.items():
        a = np.asarray(arr)
        if name == "uv" and a.ndim == 2 and a.shape[1] == 2:  # texture coordinates: USD's st
            from pxr import Sdf

            api.CreatePrimvar("st", Sdf.ValueTypeNames.TexCoord2fArray, interp).Set(
                Vt.Vec2fArray.FromNumpy(np.ascontiguousarray(a, np.float32)), time)
            continue
        value, typ, elem = _array_and_type(name, arr)
        pv = api.CreatePrimvar(_valid_name(name), typ, interp, elem if elem > 1 else -1)
        pv.Set(value, time)


def _extent(points: np.ndarray, pad: float = 0.0) -> Any:
    from pxr import Vt

    if len(points) == 0:
        return Vt.Vec3fArray.FromNumpy(np.zeros((2, 3), np.float32))
    lo, hi = column_extremes(points)
    lo, hi = lo - pad, hi + pad
    return Vt.Vec3fArray.FromNumpy(np.stack([lo, hi]).astype(np.float32))


def _radius_widths(obj: Points | Curves, radius: float | None) -> tuple[np.ndarray | None, str]:
    """(widths, interpolation): per item from a 'radius' attribute, else constant, else none."""
    r = obj.attributes.get("radius")
    if r is not None:
        r = np.asarray(r, dtype=np.float32)
        if r.ndim == 1:
            return 2.0 * r, "vertex"
    if radius is not None and radius > 0:
        return np.array([2.0 * radius], np.float32), "constant"
    return None, "constant"


def _author_geometry(stage: Any, prim_path: str, obj: Mesh | Points | Curves, time: Any,
                     radius: float | None = None) -> Any:
    """Define (or re-use) the gprim at ``prim_path`` and author ``obj`` at ``time``."""
    from pxr import UsdGeom, Vt

    V = UsdGeom.Tokens.vertex
    if isinstance(obj, Mesh):
        g = UsdGeom.Mesh.Define(stage, prim_path)
        g.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
        g.CreateDoubleSidedAttr(True)
        g.CreatePointsAttr().Set(Vt.Vec3fArray.FromNumpy(obj.vertices), time)
        g.CreateFaceVertexCountsAttr().Set(
            Vt.IntArray.FromNumpy(np.full(obj.n_faces, 3, np.int32)), time)
        g.CreateFaceVertexIndicesAttr().Set(
            Vt.IntArray.FromNumpy(np.ascontiguousarray(obj.faces, np.int32).reshape(-1)), time)
        if obj.normals is not None:
            g.CreateNormalsAttr().Set(Vt.Vec3fArray.FromNumpy(obj.normals), time)
            g.SetNormalsInterpolation(V)
        g.CreateExtentAttr().Set(_extent(obj.vertices), time)
        _author_primvars(g, obj.colors, obj.attributes, time, V)
        return g
    if isinstance(obj, Points):
        g = UsdGeom.Points.Define(stage, prim_path)
        g.CreatePointsAttr().Set(Vt.Vec3fArray.FromNumpy(obj.positions), time)
        widths, interp = _radius_widths(obj, radius)
        pad = 0.0
        if widths is not None:
            g.CreateWidthsAttr().Set(Vt.FloatArray.FromNumpy(widths), time)
            g.SetWidthsInterpolation(interp)
            pad = float(widths.max()) / 2 if len(widths) else 0.0
        ids = obj.attributes.get("id")
        if ids is not None and np.asarray(ids).dtype.kind in "iu" and np.asarray(ids).ndim == 1:
            g.CreateIdsAttr().Set(Vt.Int64Array.FromNumpy(np.asarray(ids, np.int64)), time)
        g.CreateExtentAttr().Set(_extent(obj.positions, pad), time)
        _author_primvars(g, obj.colors, obj.attributes, time, V)
        return g
    if isinstance(obj, Curves):
        g = UsdGeom.BasisCurves.Define(stage, prim_path)
        g.CreateTypeAttr(UsdGeom.Tokens.linear)
        g.CreateWrapAttr(UsdGeom.Tokens.nonperiodic)
        g.CreatePointsAttr().Set(Vt.Vec3fArray.FromNumpy(obj.points), time)
        g.CreateCurveVertexCountsAttr().Set(
            Vt.IntArray.FromNumpy(obj.counts.astype(np.int32)), time)
        widths, interp = _radius_widths(obj, obj.radius if radius is None else radius)
        pad = 0.0
        if widths is not None:
            g.CreateWidthsAttr().Set(Vt.FloatArray.FromNumpy(widths), time)
            g.SetWidthsInterpolation(interp)
            pad = float(widths.max()) / 2 if len(widths) else 0.0
        g.CreateExtentAttr().Set(_extent(obj.points, pad), time)
        _author_primvars(g, obj.colors, obj.attributes, time, V)
        return g
    raise BadInputError(f"cannot write a {type(obj).__name__} as a USD gprim")


_GPRIM_NAMES = {Mesh: "mesh", Points: "points", Curves: "curves"}


def _author_instanced_spheres(stage: Any, root: str, pts: Points, radius: float | None) -> Any:
    """Points as a UsdGeom.PointInstancer of one unit Sphere prototype, scaled per instance
    by its radius and coloured per instance (what Maya, Houdini and usdview draw as balls)."""
    from pxr import Gf, UsdGeom, Vt

    inst = UsdGeom.PointInstancer.Define(stage, f"{root}/spheres")
    proto = UsdGeom.Sphere.Define(stage, f"{root}/spheres/prototypes/ball")
    proto.CreateRadiusAttr(1.0)
    proto.CreateExtentAttr([Gf.Vec3f(-1, -1, -1), Gf.Vec3f(1, 1, 1)])
    inst.CreatePrototypesRel().SetTargets([proto.GetPath()])
    n = len(pts)
    inst.CreateProtoIndicesAttr().Set(Vt.IntArray.FromNumpy(np.zeros(n, np.int32)))
    inst.CreatePositionsAttr().Set(Vt.Vec3fArray.FromNumpy(pts.positions))
    r = pts.attributes.get("radius")
    r = (np.full(n, 0.5 if radius is None else radius, np.float32) if r is None
         else np.asarray(r, np.float32).reshape(-1))
    inst.CreateScalesAttr().Set(Vt.Vec3fArray.FromNumpy(np.repeat(r[:, None], 3, 1)))
    if pts.colors is not None:
        from pxr import Sdf

        from core.io import srgb8_to_linear

        pv = UsdGeom.PrimvarsAPI(inst).CreatePrimvar(
            "displayColor", Sdf.ValueTypeNames.Color3fArray, UsdGeom.Tokens.vertex)
        pv.Set(Vt.Vec3fArray.FromNumpy(srgb8_to_linear(pts.colors)[:, :3].astype(np.float32)))
    pad = float(r.max()) if n else 0.0
    inst.CreateExtentAttr().Set(_extent(pts.positions, pad))
    return inst


def _root(stage: Any, name: str) -> Any:
    from pxr import Kind, Usd, UsdGeom

    x = UsdGeom.Xform.Define(stage, f"/{name}")
    Usd.ModelAPI(x.GetPrim()).SetKind(Kind.Tokens.component)
    return x


def write_usd(obj: Mesh | Points | Curves | Volume | Sequence[Volume], path: str | Path, *,
              name: str = "geom", meters_per_unit: float = 1.0, radius: float | None = None,
              vdb_path: str | Path | None = None, instanced_spheres: bool = False) -> Path:
    """Write one geometry object as a USD asset, atomically: ``/<name>`` (Xform, defaultPrim)
    holding ``/<name>/mesh``, ``/<name>/points`` or ``/<name>/curves``.

    ``radius`` gives points (or curves) a constant width where there is no ``radius``
    attribute. ``instanced_spheres`` adds, for Points, ``/<name>/spheres``: a PointInstancer
    of unit spheres scaled by each point's radius (atoms as balls in Maya/Houdini/usdview).
    A Volume (or a list of them, one grid each) is first written to ``vdb_path``
    (default: ``path`` with suffix ``.vdb``) with :func:`core.io.vdb.write_vdb`, then
    referenced as in :func:`write_usd_volume`.
    """
    path = Path(path)
    _check_suffix(path)
    name = _valid_name(name)
    if isinstance(obj, list | tuple) and obj and all(isinstance(v, Volume) for v in obj):
        vols: list[Volume] = list(obj)
    elif isinstance(obj, Volume):
        vols = [obj]
    else:
        vols = []
    if vols:
        from core.io.vdb import write_vdb

        vdb = Path(vdb_path) if vdb_path is not None else path.with_suffix(".vdb")
        write_vdb(vols, vdb)
        ext = np.array([_volume_extent(v) for v in vols])
        return write_usd_volume(vdb, [v.name for v in vols], path, name=name,
                                meters_per_unit=meters_per_unit,
                                extent=[ext[:, 0].min(0), ext[:, 1].max(0)])
    if not isinstance(obj, Mesh | Points | Curves):
        raise BadInputError(f"{path}: write_usd cannot write a {type(obj).__name__} "
                            "(USD here holds Mesh, Points, Curves, Volume)")
    _pxr()
    from pxr import Usd

    with open_new_stage(path, meters_per_unit=meters_per_unit, default_prim=name) as stage:
        _root(stage, name)
        g = _author_geometry(stage, f"/{name}/{_GPRIM_NAMES[type(obj)]}", obj,
                             Usd.TimeCode.Default(), radius)
        if instanced_spheres and isinstance(obj, Points):
            _author_instanced_spheres(stage, f"/{name}", obj, radius)
            g.GetPrim().GetAttribute("visibility").Set("invisible")  # the balls stand for them
    return path


def write_usd_sequence(frames: Mapping[int, Mesh | Points | Curves], path: str | Path, *,
                       name: str = "geom", meters_per_unit: float = 1.0, fps: float = 24.0,
                       radius: float | None = None) -> Path:
    """Write a time-sampled sequence of one kind of geometry (e.g. particles) in one file.

    ``frames`` maps a frame index (time code) to the geometry at that frame; point counts may
    change from frame to frame (every array is sampled at every frame). The stage's
    start/end time codes span the indices and ``timeCodesPerSecond = framesPerSecond = fps``.
    """
    path = Path(path)
    _check_suffix(path)
    if not frames:
        raise BadInputError(f"{path}: write_usd_sequence needs at least one frame")
    kinds = {type(o) for o in frames.values()}
    if len(kinds) != 1 or not kinds <= {Mesh, Points, Curves}:
        raise BadInputError(f"{path}: a sequence holds one kind of Mesh/Points/Curves, got "
                            f"{sorted(k.__name__ for k in kinds)}")
    (kind,) = kinds
    _pxr()
    from pxr import Usd

    name = _valid_name(name)
    times = sorted(int(t) for t in frames)
    with open_new_stage(path, meters_per_unit=meters_per_unit, default_prim=name) as stage:
        stage.SetStartTimeCode(times[0])
        stage.SetEndTimeCode(times[-1])
        stage.SetTimeCodesPerSecond(float(fps))
        stage.SetFramesPerSecond(float(fps))
        _root(stage, name)
        for t in times:
            _author_geometry(stage, f"/{name}/{_GPRIM_NAMES[kind]}", frames[t],
                             Usd.TimeCode(t), radius)
    return path


def _volume_extent(vol: Volume) -> np.ndarray:
    """World bounding box of the voxels (index box [-0.5, n - 0.5] through the affine)."""
    n = np.array(vol.shape, dtype=np.float64)
    c = np.array([[i, j, k] for i in (-0.5, n[0] - 0.5) for j in (-0.5, n[1] - 0.5)
                  for k in (-0.5, n[2] - 0.5)])
    w = vol.index_to_world(c)
    return np.array([w.min(0), w.max(0)])


def author_volume(stage: Any, prim_path: str, vdb_paths: Mapping[Any, str] | str,
                  grids: Sequence[str]) -> Any:
    """Define a ``UsdVol.Volume`` at ``prim_path`` with one OpenVDBAsset field per grid.

    ``vdb_paths`` is an asset path string (as it should be authored, e.g. ``./a.vdb``) or a
    mapping time code -> asset path for a time-sampled sequence (the idiomatic way for .vdb
    sequences).
    """
    from pxr import Sdf, Usd, UsdVol

    vol = UsdVol.Volume.Define(stage, prim_path)
    for grid in grids:
        fname = _valid_name(grid)
        field = UsdVol.OpenVDBAsset.Define(stage, f"{prim_path}/{fname}")
        fp = field.CreateFilePathAttr()
        if isinstance(vdb_paths, str):
            fp.Set(Sdf.AssetPath(vdb_paths))
        else:
            for t, p in sorted(vdb_paths.items()):
                fp.Set(Sdf.AssetPath(p), Usd.TimeCode(t))
        field.CreateFieldNameAttr().Set(grid)
        vol.CreateFieldRelationship(fname, field.GetPath())
    return vol


def write_usd_volume(vdb_path: str | Path | Mapping[int, str | Path], grid_names: str |
                     Sequence[str], path: str | Path, *, name: str = "volume",
                     meters_per_unit: float = 1.0, extent: Any = None) -> Path:
    """Write a USD asset ``/<name>`` (UsdVol.Volume, defaultPrim) referencing OpenVDB grids.

    ``vdb_path`` is the .vdb file (or a mapping frame index -> file, time-sampling
    ``filePath``); it is authored relative to ``path``'s folder. One OpenVDBAsset field per
    name in ``grid_names`` (``fieldName`` = the grid name). ``extent`` ([[min], [max]]) is
    optional; :func:`write_usd` with a Volume fills it from the grid.
    """
    path = Path(path)
    _check_suffix(path)
    grids = [grid_names] if isinstance(grid_names, str) else list(grid_names)
    if not grids:
        raise BadInputError(f"{path}: write_usd_volume needs at least one grid name")
    _pxr()
    from pxr import Vt

    name = _valid_name(name)
    if isinstance(vdb_path, Mapping):
        rel: Mapping[Any, str] | str = {int(t): relative_asset(p, path)
                                        for t, p in vdb_path.items()}
    else:
        rel = relative_asset(vdb_path, path)
    with open_new_stage(path, meters_per_unit=meters_per_unit, default_prim=name) as stage:
        if isinstance(rel, Mapping):
            stage.SetStartTimeCode(min(rel))
            stage.SetEndTimeCode(max(rel))
        vol = author_volume(stage, f"/{name}", rel, grids)
        from pxr import Kind, Usd

        Usd.ModelAPI(vol.GetPrim()).SetKind(Kind.Tokens.component)
        if extent is not None:
            e = np.asarray(extent, dtype=np.float32).reshape(2, 3)
            vol.CreateExtentAttr().Set(Vt.Vec3fArray.FromNumpy(e))
    return path


# ------------------------------------------------------------------------------- reading

def read_usd(path: str | Path, *, time: float | None = None) -> Mesh | Points | Curves:
    """Read the first Mesh, Points or BasisCurves under the defaultPrim (or anywhere) back into
    our dataclasses (linear displayColor/displayOpacity -> sRGB uint8 colours; vertex primvars
    -> attributes; Curves radius from constant widths). ``time`` picks a time sample.
    """
    _pxr()
    from pxr import Usd, UsdGeom

    from core.io import linear_to_srgb8

    path = Path(path)
    try:
        if path.suffix.lower() in USD_SUFFIXES:
            stage = Usd.Stage.Open(str(path))
        else:  # USD picks the format by suffix: import into a layer of the format the magic says
            from pxr import Sdf

            with open(path, "rb") as fh:
                crate = fh.read(8) == b"PXR-USDC"
            layer = Sdf.Layer.CreateAnonymous(".usdc" if crate else ".usda")
            if not layer.Import(str(path)):
                raise BadInputError("import failed")
            stage = Usd.Stage.Open(layer)
    except Exception as exc:  # pxr raises Tf.ErrorException
        raise BadInputError(f"{path}: cannot open as USD: {exc}") from None
    t = Usd.TimeCode.EarliestTime() if time is None else Usd.TimeCode(time)
    root = stage.GetDefaultPrim() or stage.GetPseudoRoot()
    prim = next((p for p in Usd.PrimRange(root)
                 if p.IsA(UsdGeom.Mesh) or p.IsA(UsdGeom.Points) or p.IsA(UsdGeom.BasisCurves)),
                None)
    if prim is None:
        raise BadInputError(f"{path}: no Mesh, Points or BasisCurves prim (a volume file "
                            "references its .vdb: read that with core.io.vdb.read_vdb)")
    g = UsdGeom.PointBased(prim)
    pts = np.asarray(g.GetPointsAttr().Get(t), dtype=np.float32).reshape(-1, 3)
    n = len(pts)
    gp = UsdGeom.Gprim(prim)
    colors = None
    dc = gp.GetDisplayColorPrimvar()
    if dc and dc.HasValue():
        rgb = np.asarray(dc.ComputeFlattened(t), dtype=np.float64).reshape(-1, 3)
        if len(rgb) == n:
            op = gp.GetDisplayOpacityPrimvar()
            a = np.asarray(op.ComputeFlattened(t), dtype=np.float64) \
                if op and op.HasValue() else np.ones(n)
            colors = linear_to_srgb8(np.concatenate([rgb, a.reshape(n, 1)], axis=1))
    attrs: dict[str, np.ndarray] = {}
    skip = {"displayColor", "displayOpacity"}
    for pv in UsdGeom.PrimvarsAPI(prim).GetPrimvarsWithValues():
        pname = pv.GetPrimvarName()
        if pname in skip or pv.GetInterpolation() not in ("vertex", "varying"):
            continue
        arr = np.asarray(pv.ComputeFlattened(t))
        if len(arr) == 0 and n:
            continue
        k = pv.GetElementSize()
        if pname == "st":  # texture coordinates (written from a "uv" attribute)
            pname = "uv"
        attrs[pname] = arr.reshape(n, k) if k > 1 else arr.reshape(n, *arr.shape[1:])
    if prim.IsA(UsdGeom.Mesh):
        m = UsdGeom.Mesh(prim)
        counts = np.asarray(m.GetFaceVertexCountsAttr().Get(t) or [], dtype=np.int64)
        if (counts != 3).any():
            raise BadInputError(f"{path}: only triangle meshes are supported")
        faces = np.asarray(m.GetFaceVertexIndicesAttr().Get(t) or [], dtype=np.int64)
        nrm = m.GetNormalsAttr().Get(t)
        normals = np.asarray(nrm, dtype=np.float32) if nrm is not None and len(nrm) == n \
            else None
        return Mesh(pts, faces.reshape(-1, 3), normals, attrs, colors)
    if prim.IsA(UsdGeom.Points):
        return Points(pts, attrs, colors)
    c = UsdGeom.BasisCurves(prim)
    counts = np.asarray(c.GetCurveVertexCountsAttr().Get(t), dtype=np.int64)
    widths = c.GetWidthsAttr().Get(t)
    radius = float(widths[0]) / 2 if widths is not None and len(widths) == 1 else 0.0
    return Curves(pts, counts, attrs, colors, radius)
