"""Per-frame output bookkeeping shared by the pipelines: skip keys, metadata, multi-format writes.

A frame task writes its files, then ``frame.json`` last (atomically) with a key: the hash of
everything that determines the files (inputs' size and mtime, parameters, an asset version).
A re-run whose key matches and whose files are all intact skips the frame.

Intact means: ``frame.json`` records, per file, its size, modification time and SHA-256
(computed when the meta is written, while the files are still in the page cache). On a
re-run a file whose size differs is damaged (a truncated write); one whose size and mtime
match is taken as written (a stat, no read); one whose size matches but mtime differs (copied
without ``-p``, rewritten in place) is hashed and compared. So a skip costs a ``stat`` per
file, and only a suspicious file costs a read (SHA-256 runs at about 1 GB/s here: 0.1 s for a
100 MB VDB, against seconds to rebuild it). ``VIZPIPE_VERIFY=sha256`` hashes every file on
every skip (paranoid mode, e.g. after a file-system incident that may keep mtimes).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from core.atomic import write_text
from core.io import RENDER_FORMAT, SUFFIX, write
from core.rundir import ASSETS, STATIC
from core.settings import env_text

VERIFY_ENV = "VIZPIPE_VERIFY"


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


def sha256(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """SHA-256 hex digest of a file, read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


#: inputs up to this size are hashed whole; larger ones by :func:`input_digest`'s samples
WHOLE_HASH_MAX = 1 << 30
SAMPLE_BLOCKS, SAMPLE_BLOCK = 64, 1 << 20
SAMPLED = f"size and {SAMPLE_BLOCKS} blocks of 1 MiB"


def input_digest(path: str | os.PathLike) -> tuple[str, str]:
    """(sha256, what it covers) of an input file: the whole file up to WHOLE_HASH_MAX, else
    its size and SAMPLE_BLOCKS blocks of 1 MiB evenly spaced from the first byte to the last
    (64 MiB read, not 100 GB: a change of size, of the header or of any sampled block shows)."""
    size = os.stat(path).st_size
    if size <= WHOLE_HASH_MAX:
        return sha256(path), "whole file"
    h = hashlib.sha256(f"vizpipe-sampled-v1 {size}\n".encode())
    with open(path, "rb") as fh:
        for k in range(SAMPLE_BLOCKS):
            fh.seek((size - SAMPLE_BLOCK) * k // (SAMPLE_BLOCKS - 1))
            h.update(fh.read(SAMPLE_BLOCK))
    return h.hexdigest(), SAMPLED


def record(parent: Path, files: list[str]) -> dict[str, list]:
    """``{file: [size, mtime_ns, sha256]}`` for ``files`` (relative to ``parent``)."""
    out: dict[str, list] = {}
    for f in files:
        st = (parent / f).stat()
        out[f] = [st.st_size, st.st_mtime_ns, sha256(parent / f)]
    return out


def intact(path: Path, rec: list | None, *, full: bool = False) -> bool:
    """Whether ``path`` still holds what ``rec`` ([size, mtime_ns, sha256]) recorded.

    Without a record (metadata from older code), existence is all that can be checked.
    """
    try:
        st = path.stat()
    except OSError:
        return False
    if not rec:
        return True
    size, mtime_ns, digest = rec
    if st.st_size != size:
        return False
    if st.st_mtime_ns == mtime_ns and not full:
        return True
    return sha256(path) == digest


def done(meta_path: Path, key: str) -> dict | None:
    """The saved metadata if it has ``key`` and every file it lists is intact, else None."""
    try:
        meta = json.loads(Path(meta_path).read_text())
    except (OSError, ValueError):
        return None
    if meta.get("key") != key:
        return None
    parent = Path(meta_path).parent
    sums = meta.get("checksums") or {}
    full = env_text(VERIFY_ENV).lower() in ("sha256", "full", "1")
    ok = all(intact(parent / f, sums.get(f), full=full) for f in meta.get("files", []))
    return meta if ok else None


class Reuse:
    """A frame's files that an earlier run wrote with the same product key, kept as they are.

    A frame's ``frame.json`` records, beside its files, each file's *product key*
    (``file_keys``): the hash of what that one file depends on (the inputs, the parameters
    that shape it, its format). When the frame's key changes (another ``--formats``,
    ``--full-res``, ...), the task asks :meth:`kept` per product: files whose key is the
    same and which are intact stay; only the others are written. So adding ``ply`` writes the
    PLY files alone, and ``--full-res`` rewrites the isosurfaces, not the volume.
    """

    def __init__(self, meta_path: Path) -> None:
        self.parent = Path(meta_path).parent
        try:
            old = json.loads(Path(meta_path).read_text())
        except (OSError, ValueError):
            old = {}
        self.old: dict = old  # the earlier run's metadata ({} when none)
        self.keys: dict[str, str] = old.get("file_keys") or {}
        self.sums: dict[str, list] = old.get("checksums") or {}
        self.new_keys: dict[str, str] = {}

    def kept(self, names: list[str], keys: list[str]) -> list[bool]:
        """Per file name, whether it is already written with that key (and intact); every
        name's key is remembered for :meth:`record`."""
        out = []
        for name, key in zip(names, keys, strict=True):
            self.new_keys[name] = key
            out.append(self.keys.get(name) == key
                       and intact(self.parent / name, self.sums.get(name)))
        return out

    def record(self, meta: dict) -> dict:
        """``meta`` with the product keys of its files."""
        meta["file_keys"] = {f: self.new_keys[f] for f in meta.get("files", [])
                             if f in self.new_keys}
        return meta


def write_meta(path: Path, meta: dict) -> None:
    """Write ``meta`` atomically, with the checksums of its ``files`` added (in place, so the
    caller's returned metadata carries them too)."""

    parent = Path(path).parent
    meta["checksums"] = record(parent, list(meta.get("files", [])))
    write_text(path, json.dumps(meta, indent=1))
    remove_stale_tmp(parent, [*meta.get("files", []), Path(path).name])


def remove_stale_tmp(parent: Path, names: list[str]) -> list[Path]:
    """Delete temporaries (``core.atomic.tmp_name``: ``.NAME.PID.tmpSUFFIX``) left next to
    ``names`` by a killed process; returns them.

    Called once the files ``names`` are complete: their writer is this task (one writer per
    file), so any temporary of theirs still there belongs to an earlier, dead run (SIGKILL,
    wall-clock limit) and can go. Temporaries of other files are left alone: another task may
    be writing them right now.
    """
    import glob

    removed = []
    for name in names:
        rel = Path(name)
        folder = parent / rel.parent
        for tmp in folder.glob(f".{glob.escape(rel.name)}.*.tmp*"):
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def recorded_checksums(run_dir: str | os.PathLike) -> dict[str, list]:
    """Every checksum recorded by :func:`write_meta` under ``run_dir``, keyed by the file's
    path relative to ``run_dir`` (posix): ``{rel: [size, mtime_ns, sha256]}``."""
    root = Path(run_dir)
    out: dict[str, list] = {}
    for sub in (ASSETS, STATIC):
        if not (root / sub).is_dir():
            continue
        for meta_path in (root / sub).rglob("*.json"):
            try:
                meta = json.loads(meta_path.read_text())
            except (OSError, ValueError):
                continue
            sums = meta.get("checksums") if isinstance(meta, dict) else None
            if not isinstance(sums, dict):
                continue
            rel_parent = meta_path.parent.relative_to(root)
            for f, rec in sums.items():
                out[(rel_parent / f).as_posix()] = rec
    return out


def product_files(stem: str, formats: list[str] | tuple[str, ...]) -> list[tuple[str, str]]:
    """``[(format, file name)]`` that :func:`write_all` writes for ``stem``."""

    return [(f, stem + SUFFIX[f]) for f in dict.fromkeys([*formats, RENDER_FORMAT])]


def write_all(obj: Any, stem: Path, formats: list[str] | tuple[str, ...], files: list[str], *,
              name: str, meters_per_unit: float = 1.0, radius: float | None = None,
              skip: tuple[str, ...] | list[str] = (), texture: Path | None = None,
              **usd_kw: Any) -> None:
    """Write ``obj`` as ``stem`` + each format's suffix (:data:`core.io.SUFFIX`: ``.usdc``,
    ``.glb``, ``.ply``), the renderer's format always, appending the file names to ``files``;
    the file names in ``skip`` are listed but not written (kept from an earlier run).
    ``texture``: an image the GLB embeds as its base colour (a mesh with a ``uv`` attribute;
    USD stages bind the file itself, :mod:`core.usdscene`).
    """

    for fmt, fname in product_files(stem.name, formats):
        files.append(fname)
        if fname in skip:
            continue
        path = stem.with_name(fname)
        if fmt == "usd":
            write(obj, path, name=name, meters_per_unit=meters_per_unit, radius=radius,
                  **usd_kw)
        elif fmt == "glb":
            write(obj, path, name=name, texture=texture)
        else:
            write(obj, path)
