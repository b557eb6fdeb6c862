"""The run manifest: versioned JSON, validated against ``manifest.schema.json``.

The manifest is the only thing the renderer reads besides asset files. It is a plain dict (what
``json.load`` gives); this module builds, validates, writes (atomically) and reads it.

Example::

    m = new_manifest("Si charge density", "materials", length_unit="angstrom",
                     bounds=[[0, 0, 0], [5.4, 5.4, 5.4]])
    m["frames"].append(frame(0, [asset("density_iso", "mesh", "assets/0000/iso.ply",
                                       units="e/Angstrom^3")]))
    m["provenance"] = provenance(inputs=["CHGCAR"], parameters={"iso": 0.05})
    write_manifest(run_dir, m)
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.atomic import write_text
from core.errors import ManifestError
from core.framecache import input_digest, recorded_checksums, remove_stale_tmp
from core.framecache import sha256 as _sha256
from core.rundir import MANIFEST, STATIC

SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
MANIFEST_NAME = MANIFEST  # core.rundir owns the layout
VERSION = 1

# Packages whose versions go into provenance (those installed are recorded).
TRACKED_PACKAGES = (
    "vizpipe", "numpy", "scipy", "vtk", "usd-core", "bpy", "dask", "distributed", "xarray",
    "netCDF4", "scitools-iris", "cartopy", "pyproj", "ase", "pymatgen", "pyscf", "scikit-image",
    "matplotlib", "cmcrameri", "imageio-ffmpeg", "pycompss",
)


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def new_manifest(title: str, domain: str, *, length_unit: str, bounds, **extra: Any) -> dict:
    m: dict[str, Any] = {
        "schema": "vizpipe-manifest",
        "version": VERSION,
        "title": title,
        "domain": domain,
        "length_unit": length_unit,
        "bounds": [[float(x) for x in b] for b in bounds],
        "frames": [],
        "static": [],
        "provenance": {"inputs": [], "parameters": {}, "packages": {}, "created": _now()},
    }
    m.update(extra)
    return m


def asset(name: str, kind: str, path: str | os.PathLike, *, units: str = "", **fields: Any) -> dict:
    """One asset entry. ``path`` is relative to the run directory (posix separators)."""
    a = {"name": name, "kind": kind, "path": Path(path).as_posix(), "units": units}
    a.update({k: v for k, v in fields.items() if v is not None})
    return a


def frame(index: int, assets: list[dict], *, time: float | None = None, label: str = "",
          camera: dict | None = None) -> dict:
    f: dict[str, Any] = {"index": int(index), "assets": assets, "time": time}
    if label:
        f["label"] = label
    if camera is not None:
        f["camera"] = camera
    return f


def sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    return _sha256(path, chunk)


def add_asset_checksums(run_dir: str | os.PathLike, m: dict) -> dict:
    """Set ``sha256`` on every asset whose file exists under ``run_dir`` (in place).

    Digests recorded by the frame tasks (``core.framecache.write_meta``) are reused when the
    file's size and mtime still match the record; other files (static assets, files changed
    since) are hashed here.
    """

    root = Path(run_dir)
    known = recorded_checksums(root)
    for a in iter_assets(m):
        path = root / a["path"]
        try:
            st = path.stat()
        except OSError:
            continue  # a manifest may be written before (or without) its files
        rec = known.get(Path(a["path"]).as_posix())
        if rec and [st.st_size, st.st_mtime_ns] == rec[:2]:
            a["sha256"] = rec[2]
        elif path.is_file():
            a["sha256"] = sha256(path)
    return m


def checksums_in_background(paths):
    """Start hashing ``paths`` in a thread (hashlib releases the GIL): a Future of
    {path: sha256}, to pass to :func:`provenance` once the run's real work is done."""
    from concurrent.futures import ThreadPoolExecutor

    # (input_digest is imported with this module, never in the thread: a compiled module,
    # hashlib's _hashlib, loading there while this thread loads pxr can deadlock on the
    # loader lock; see materials_pipeline.frames._Prewarm)

    pool = ThreadPoolExecutor(1, thread_name_prefix="sha256")
    fut = pool.submit(lambda: {str(Path(p).resolve()): input_digest(p) for p in paths})
    pool.shutdown(wait=False)
    return fut


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def provenance(inputs=(), parameters: dict | None = None, *, engine: str = "",
               command: list[str] | None = None, checksums: dict | None = None,
               settings: dict | None = None) -> dict:
    """Provenance block: input files with checksums, every parameter, package versions, and
    the run's settings as given (``RunSettings.to_json()``, see :mod:`core.settings`).

    ``checksums`` maps paths to SHA-256 digests already computed (e.g. in a background thread
    while the run worked: :func:`checksums_in_background`), each a hex string (of the whole
    file) or a pair (digest, what it covers: ``core.framecache.input_digest``); missing ones
    are computed here. Inputs over 1 GiB are hashed by samples (``sha256_of`` says so).
    """

    known = {str(Path(k).resolve()): v for k, v in (checksums or {}).items()}
    ins = []
    for p in inputs:
        p = Path(p).resolve()
        got = known.get(str(p)) or input_digest(p)
        digest, scope = (got, "whole file") if isinstance(got, str) else got
        ins.append({"path": str(p), "sha256": digest, "size": p.stat().st_size,
                    "sha256_of": scope})
    block = {
        "inputs": ins,
        "parameters": _jsonable(parameters or {}),
        "packages": package_versions(),
        "command": list(sys.argv if command is None else command),
        "created": _now(),
        "host": platform.node(),
        "engine": engine,
    }
    if settings is not None:
        block["settings"] = _jsonable(settings)
    return block


def validate(m: dict, source: str = "manifest") -> dict:
    """Raise ManifestError naming the first failing field (as a JSON path)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(m), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ManifestError(f"{source}: field {where}: {e.message}{more}")
    idx = [f["index"] for f in m["frames"]]
    if len(set(idx)) != len(idx):
        raise ManifestError(f"{source}: field frames: duplicate frame index")
    return m


def write_manifest(run_dir: str | os.PathLike, m: dict) -> Path:
    """Validate and write ``RUN_DIR/manifest.json``, with every present asset's SHA-256."""
    path = Path(run_dir) / MANIFEST_NAME
    validate(_jsonable(m), str(path))
    add_asset_checksums(run_dir, m)
    write_text(path, json.dumps(_jsonable(m), indent=1) + "\n")

    remove_stale_tmp(path.parent, [MANIFEST_NAME])  # left by a run killed while writing it
    # static/ is rebuilt by every run before its manifest: once the manifest is written, a
    # temporary there (say .base.glb.PID.tmp.glb) belongs to a killed earlier run
    static = path.parent / STATIC
    if static.is_dir():
        remove_stale_tmp(static, [p.relative_to(static).as_posix() for p in static.rglob("*")
                                  if p.is_file() and not p.name.startswith(".")])
    return path


def write_run(run_dir: str | os.PathLike, m: dict) -> Path:
    """``manifest.json`` (validated) and ``scene.usda`` (every frame, for Maya/Houdini)."""
    path = write_manifest(run_dir, m)
    from core.usdscene import write_scene_usda

    scene = write_scene_usda(run_dir, m)

    remove_stale_tmp(scene.parent, [scene.name])
    return path


def read_manifest(run_dir: str | os.PathLike, *, check_files: bool = True) -> dict:
    """Read and validate ``RUN_DIR/manifest.json`` (or a manifest path); check asset files."""
    p = Path(run_dir)
    path = p if p.suffix == ".json" else p / MANIFEST_NAME
    if not path.exists():
        raise ManifestError(f"{path}: no manifest here (is {path.parent} a run directory?)")
    try:
        m = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: not valid JSON: {exc}") from None
    validate(m, str(path))
    if check_files:
        for a in iter_assets(m):
            for rel in [a["path"], *a.get("alternates", []), *([a["texture"]] if "texture" in a
                                                                 else [])]:
                if not (path.parent / rel).exists():
                    raise ManifestError(f"{path}: asset {a['name']!r} file missing: "
                                        f"{path.parent / rel}")
    return m


def iter_assets(m: dict):
    yield from m.get("static", [])
    for f in m["frames"]:
        yield from f["assets"]


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds")


def _jsonable(x: Any) -> Any:
    """Turn numpy scalars/arrays and paths into JSON types."""
    import numpy as np

    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, Path):
        return str(x)
    return x
