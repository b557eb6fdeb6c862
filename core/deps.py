"""Optional heavy imports, checked the way xarray does: find_spec first, import late."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from core.errors import MissingDependencyError

# module name -> (pip requirement, what it is for)
_INSTALL = {
    "vtk": ("vtk", "isosurfaces (vtkFlyingEdges3D)"),
    "pxr": ("usd-core", "USD stages"),
    "openvdb": ("bpy==5.0.1", "OpenVDB volumes (the binding ships inside the bpy wheel)"),
    "bpy": ("bpy==5.0.1", "rendering with Blender"),
    "distributed": ("dask[distributed]", "the local parallel engine"),
    "jsonschema": ("jsonschema", "manifest validation"),
    "matplotlib": ("matplotlib", "colour maps and colour bars"),
    "cmcrameri": ("cmcrameri", "Crameri's scientific colour maps"),
    "skimage": ("scikit-image", "marching cubes fallback"),
    "imageio_ffmpeg": ("imageio-ffmpeg", "movie encoding"),
    "pycompss": ("pycompss (module load COMPSs/3.4 on MareNostrum)", "the COMPSs runtime"),
}


def _bpy_openvdb_path() -> Path | None:
    """Folder of the OpenVDB Python binding carried by the bpy wheel, if installed."""
    spec = importlib.util.find_spec("bpy")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    for cand in sorted(root.glob("*/python/lib/python3.*/site-packages")):
        if any(cand.glob("openvdb*.so")) or any(cand.glob("openvdb*.pyd")):
            return cand
    return None


def available(name: str) -> bool:
    if name == "openvdb" and importlib.util.find_spec("openvdb") is None:
        return _bpy_openvdb_path() is not None
    return importlib.util.find_spec(name) is not None


def require(*names: str) -> list[ModuleType]:
    """Import every named module or raise one error naming all missing ones and how to install."""
    missing = [n for n in names if not available(n)]
    if missing:
        lines = [
            f"{n} ({_INSTALL.get(n, (n, ''))[1]}): pip install '{_INSTALL.get(n, (n, ''))[0]}'"
            for n in missing
        ]
        raise MissingDependencyError("missing packages: " + "; ".join(lines))
    return [_import(n) for n in names]


def _import(name: str) -> ModuleType:
    if name == "openvdb" and importlib.util.find_spec("openvdb") is None:
        path = _bpy_openvdb_path()
        if path is not None and str(path) not in sys.path:
            sys.path.append(str(path))
    return importlib.import_module(name)
