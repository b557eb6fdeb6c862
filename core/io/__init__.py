"""Asset formats: a declarative registry, as in ``ase/io/formats.py``.

One :class:`core.formats.Format` per format below names what it can hold (``mesh``,
``points``, ``curves``, ``volume``), the module that implements it (imported only when used),
its name patterns and its magic bytes. :func:`write` picks the format by suffix,
:func:`read` and :func:`guess_format` by magic bytes first, then suffix.

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

import os
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BadInputError, UnknownFormatError
from core.formats import Format, Registry

__all__ = ["Format", "FORMATS", "guess_format", "get_format", "kind_of", "write", "read",
           "srgb8_to_linear", "linear_to_srgb8", "ASSET_FORMATS", "DEFAULT_FORMATS",
           "RENDER_FORMAT", "SUFFIX", "asset_formats", "asset_paths"]

# The asset formats a run can write (``--formats``), by consumer:
#   usd  Blender, Maya, Houdini, Omniverse: a binary crate per asset (.usdc), meshes inside,
#        gathered by ``scene.usda``;
#   glb  the renderer and the browser preview: glTF 2.0 binary, meshes Draco-compressed;
#   ply  opt-in: binary PLY for ParaView, MeshLab, CloudCompare.
ASSET_FORMATS = ("usd", "glb", "ply")
DEFAULT_FORMATS = ("usd", "glb")
RENDER_FORMAT = "glb"  # what render/ loads; always written, whatever --formats says
SUFFIX = {"usd": ".usdc", "glb": ".glb", "ply": ".ply"}


def asset_formats(names: tuple[str, ...] | list[str], *, option: str = "--formats"
                  ) -> tuple[str, ...]:
    """``--formats`` checked, in :data:`ASSET_FORMATS` order, with :data:`RENDER_FORMAT`
    added when missing (the renderer reads it). BadInputError naming the unknown ones."""
    low = [n.strip().lower() for n in names if n.strip()]
    bad = [n for n in low if n not in ASSET_FORMATS]
    if bad:
        raise BadInputError(f"{option}: unknown format(s) {', '.join(bad)}; choose from "
                            f"{', '.join(ASSET_FORMATS)} (the renderer's {RENDER_FORMAT} is "
                            "always written)")
    return tuple(f for f in ASSET_FORMATS if f in low or f == RENDER_FORMAT)


def asset_paths(rel_stem: str, formats: tuple[str, ...] | list[str]
                ) -> tuple[str, list[str] | None]:
    """``(path the renderer reads, the other formats' paths or None)`` of one asset written
    as ``rel_stem`` + each format's suffix: the manifest's ``path`` and ``alternates``."""
    alts = [rel_stem + SUFFIX[f] for f in formats if f != RENDER_FORMAT and f in SUFFIX]
    return rel_stem + SUFFIX[RENDER_FORMAT], alts or None


_M, _P, _C, _V = "mesh", "points", "curves", "volume"

FORMATS = Registry("asset", (
    Format(name="ply", description="binary PLY", kinds=(_M, _P, _C), module="core.io.ply",
           writer="write_ply", reader="read_ply", globs=("*.ply",),
           magic=(b"ply\n", b"ply\r\n")),
    Format(name="glb", description="glTF 2.0 binary", kinds=(_M, _P, _C),
           module="core.io.gltf", writer="write_glb", reader="read_glb", globs=("*.glb",),
           magic=(b"glTF",)),
    Format(name="vdb", description="OpenVDB", kinds=(_V,), module="core.io.vdb",
           writer="write_vdb", reader="read_vdb", globs=("*.vdb",), magic=(b" BDV",)),
    Format(name="usd", description="Universal Scene Description", kinds=(_M, _P, _C, _V),
           module="core.io.usd", writer="write_usd", reader="read_usd",
           globs=("*.usd", "*.usdc", "*.usda"), magic=(b"PXR-USDC", b"#usda ")),
))


def get_format(name: str) -> Format:
    """The format called ``name`` (UnknownFormatError listing the known ones otherwise)."""
    return FORMATS.get(name)


def guess_format(path: str | os.PathLike) -> Format:
    """The format of ``path``: by its magic bytes if the file exists, else by its suffix."""
    p = Path(path)
    head = None
    if p.is_file():
        with open(p, "rb") as fh:
            head = fh.read(FORMATS.magic_bytes)
    return FORMATS.detect(p, head)[0]


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
    fmt = get_format(format) if format else FORMATS.by_name(p)
    if fmt is None:
        raise UnknownFormatError(
            f"{p}: cannot write suffix {p.suffix or '(none)'!r}; known formats: "
            f"{FORMATS.known()}")
    kind = kind_of(obj)
    if kind not in fmt.kinds:
        raise BadInputError(f"{p}: format {fmt.name!r} ({fmt.description}) holds "
                            f"{', '.join(fmt.kinds)}; got a {kind} ({type(obj).__name__})")
    return fmt.writer_func(p)(obj, p, **kw)


def read(path: str | os.PathLike, *, format: str | None = None, **kw: Any) -> Any:
    """Read ``path`` (format by ``format``, else magic bytes, else suffix) into our dataclasses."""
    p = Path(path)
    fmt = get_format(format) if format else guess_format(p)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    return fmt.reader_func(p)(p, **kw)


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
