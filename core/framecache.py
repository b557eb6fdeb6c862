"""Per-frame output bookkeeping shared by the pipelines: skip keys, metadata, multi-format writes.

A frame task writes its files, then ``frame.json`` last (atomically) with a key: the hash of
everything that determines the files (inputs' size and mtime, parameters, an asset version).
A re-run whose key matches and whose files all exist skips the frame.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any


def params_key(*parts: Any) -> str:
    blob = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def file_stat(path: str | None) -> list | None:
    """Identity of an input file for a skip key: size and modification time."""
    if path is None:
        return None
    try:
        s = Path(path).stat()
    except OSError:
        return None
    return [s.st_size, s.st_mtime_ns]


def done(meta_path: Path, key: str) -> dict | None:
    """The saved metadata if it has ``key`` and every file it lists exists, else None."""
    try:
        meta = json.loads(Path(meta_path).read_text())
    except (OSError, ValueError):
        return None
    if meta.get("key") != key:
        return None
    parent = Path(meta_path).parent
    return meta if all((parent / f).exists() for f in meta.get("files", [])) else None


def write_meta(path: Path, meta: dict) -> None:
    from core.atomic import write_text

    write_text(path, json.dumps(meta, indent=1))


def write_all(obj: Any, stem: Path, formats: list[str], files: list[str], *, name: str,
              meters_per_unit: float = 1.0, radius: float | None = None, **usd_kw: Any) -> None:
    """Write ``obj`` as stem.<fmt> for each format, appending the file names to ``files``."""
    from core.io import write

    for fmt in formats:
        path = stem.with_suffix("." + fmt)
        if fmt == "usd":
            write(obj, path, name=name, meters_per_unit=meters_per_unit, radius=radius,
                  **usd_kw)
        elif fmt == "glb":
            write(obj, path, name=name)
        else:
            write(obj, path)
        files.append(path.name)
