"""Asset formats: a declarative registry, as in ``ase/io/formats.py``.

One line per format below names what it can hold (``mesh``, ``points``, ``curves``,
``volume``), the module that implements it (imported only when used), its suffixes and its
magic bytes. :func:`write` picks the format by suffix, :func:`read` and :func:`guess_format`
by magic bytes first, then suffix.

Example::

    from core.io import write, read
    write(mesh, "assets/0000/iso.glb")          # -> core.io.gltf.write_glb
    write(volume, "assets/0000/rho.vdb")        # -> core.io.vdb.write_vdb
    write(mesh, "assets/0000/iso.usd", meters_per_unit=1e-10)
    mesh2 = read("assets/0000/iso.ply")

Colour helpers shared by the writers (:func:`srgb8_to_linear`, :func:`linear_to_srgb8`) live
here too: our colours are sRGB uint8, glTF and USD want linear floats.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError, UnknownFormatError

__all__ = ["Format", "FORMATS", "guess_format", "get_format", "kind_of", "write", "read",
           "srgb8_to_linear", "linear_to_srgb8"]


@dataclass(frozen=True)
class Format:
    """One file format: what it holds, where its code lives, how to recognise it."""

    name: str
    description: str
    kinds: tuple[str, ...]
    module: str
    writer: str | None
    reader: str | None
    suffixes: tuple[str, ...]
    magic: tuple[bytes, ...] = ()

    def _func(self, attr: str | None, what: str, path: str | os.PathLike) -> Callable:
        if attr is None:
            raise BadInputError(f"{path}: format {self.name!r} ({self.description}) has no {what}")
        return getattr(importlib.import_module(self.module), attr)


_M, _P, _C, _V = "mesh", "points", "curves", "volume"

# name, description, kinds, module, writer, reader, suffixes, magic
FORMATS: tuple[Format, ...] = (
    Format("ply", "binary PLY", (_M, _P, _C), "core.io.ply", "write_ply", "read_ply",
           (".ply",), (b"ply\n", b"ply\r\n")),
    Format("glb", "glTF 2.0 binary", (_M, _P, _C), "core.io.gltf", "write_glb", "read_glb",
           (".glb",), (b"glTF",)),
    Format("vdb", "OpenVDB", (_V,), "core.io.vdb", "write_vdb", "read_vdb",
           (".vdb",), (b" BDV",)),
    Format("usd", "Universal Scene Description", (_M, _P, _C, _V), "core.io.usd", "write_usd",
           "read_usd", (".usd", ".usdc", ".usda"), (b"PXR-USDC", b"#usda ")),
)

_MAGIC_BYTES = max(len(m) for f in FORMATS for m in f.magic)


def _known() -> str:
    return ", ".join(f"{f.name} ({' '.join(f.suffixes)})" for f in FORMATS)


def get_format(name: str) -> Format:
    """The format called ``name`` (UnknownFormatError listing the known ones otherwise)."""
    for f in FORMATS:
        if f.name == name:
            return f
    raise UnknownFormatError(f"unknown format {name!r}; known formats: {_known()}")


def _by_suffix(path: Path) -> Format | None:
    suffix = path.suffix.lower()
    return next((f for f in FORMATS if suffix in f.suffixes), None)


def guess_format(path: str | os.PathLike) -> Format:
    """The format of ``path``: by its magic bytes if the file exists, else by its suffix."""
    p = Path(path)
    if p.is_file():
        with open(p, "rb") as fh:
            head = fh.read(_MAGIC_BYTES)
        for f in FORMATS:
            if any(head.startswith(m) for m in f.magic):
                return f
    by_suffix = _by_suffix(p)
    if by_suffix is None:
        raise UnknownFormatError(
            f"{p}: unknown format (suffix {p.suffix or '(none)'!r}); known formats: {_known()}")
    return by_suffix


def kind_of(obj: Any) -> str:
    """``mesh``, ``points``, ``curves`` or ``volume`` for our geometry (a list of Volumes too)."""
    from core.geometry import Curves, Mesh, Points, Volume

    kinds = {Mesh: _M, Points: _P, Curves: _C, Volume: _V}
    if isinstance(obj, list | tuple) and obj and all(isinstance(v, Volume) for v in obj):
        return _V
    for cls, kind in kinds.items():
        if isinstance(obj, cls):
            return kind
    raise BadInputError(f"not a geometry object: {type(obj).__name__} "
                        "(expected Mesh, Points, Curves or Volume)")


def write(obj: Any, path: str | os.PathLike, *, format: str | None = None, **kw: Any) -> Path:
    """Write ``obj`` to ``path`` in the format named by ``format`` or by the path's suffix.

    Keyword arguments go to the format's writer. Raises UnknownFormatError (listing the known
    formats) for an unknown suffix, BadInputError when the format cannot hold ``obj``'s kind.
    """
    p = Path(path)
    fmt = get_format(format) if format else _by_suffix(p)
    if fmt is None:
        raise UnknownFormatError(
            f"{p}: cannot write suffix {p.suffix or '(none)'!r}; known formats: {_known()}")
    kind = kind_of(obj)
    if kind not in fmt.kinds:
        raise BadInputError(f"{p}: format {fmt.name!r} ({fmt.description}) holds "
                            f"{', '.join(fmt.kinds)}; got a {kind} ({type(obj).__name__})")
    return fmt._func(fmt.writer, "writer", p)(obj, p, **kw)


def read(path: str | os.PathLike, *, format: str | None = None, **kw: Any) -> Any:
    """Read ``path`` (format by ``format``, else magic bytes, else suffix) into our dataclasses."""
    p = Path(path)
    fmt = get_format(format) if format else guess_format(p)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    return fmt._func(fmt.reader, "reader", p)(p, **kw)


# ------------------------------------------------------------------------ colour conversions

_SRGB8_TO_LINEAR = np.where(
    np.arange(256) / 255.0 <= 0.04045, np.arange(256) / 255.0 / 12.92,
    ((np.arange(256) / 255.0 + 0.055) / 1.055) ** 2.4).astype(np.float32)


def srgb8_to_linear(colors: np.ndarray) -> np.ndarray:
    """uint8 sRGB(A) (n, 3|4) -> float32 linear in [0, 1]; alpha (already linear) is /255."""
    c = np.asarray(colors)
    if c.dtype != np.uint8:
        raise BadInputError(f"colours: expected uint8 sRGB, got {c.dtype}")
    out = _SRGB8_TO_LINEAR[c]
    if c.shape[-1] == 4:
        out[..., 3] = c[..., 3] / np.float32(255.0)
    return out


def linear_to_srgb8(colors: np.ndarray) -> np.ndarray:
    """Float linear RGB(A) in [0, 1] -> uint8 sRGB(A), rounded; alpha is *255."""
    c = np.clip(np.asarray(colors, dtype=np.float64), 0.0, 1.0)
    out = np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)
    if c.shape[-1] == 4:
        out[..., 3] = c[..., 3]
    return np.round(out * 255.0).astype(np.uint8)
