"""Colours through the view transform: sRGB to scene linear, and display colours solved back
to the scene-linear colours that show as them (OpenColorIO, as Blender's colour management)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import bpy  # noqa: I001  (render/ is the only package importing bpy, see render/__init__.py)
import numpy as np

from core import colormaps

DEFAULT_BACKGROUND = (0.045, 0.05, 0.065)  # sRGB, a dark blue-grey
COLOR_ATTR = "Col"  # name of the colour attribute made from PLY vertex colours
UV_MAP = "uv"  # the UV map made from a mesh's "uv" attribute (texture coordinates)
DEFAULT_COLOR = (0.8, 0.8, 0.82)


def _srgb_to_linear(rgb: Iterable[float]) -> tuple[float, ...]:
    return tuple(float(x) for x in colormaps.srgb_to_linear(np.asarray(list(rgb), float)))


def _ocio_processor(scene: bpy.types.Scene) -> Any:
    """OpenColorIO CPU processor of the scene's view transform (scene linear -> display)."""
    import importlib
    import sys

    base = Path(bpy.utils.resource_path("LOCAL"))
    for site in sorted(base.glob("python/lib/python3.*/site-packages")):
        if str(site) not in sys.path:
            sys.path.append(str(site))
    ocio = importlib.import_module("PyOpenColorIO")  # carried by the bpy wheel
    cfg = ocio.Config.CreateFromFile(str(base / "datafiles" / "colormanagement" / "config.ocio"))
    vs = scene.view_settings
    group = ocio.GroupTransform()
    exposure = 2.0 ** float(vs.exposure)
    if exposure != 1.0:
        group.appendTransform(ocio.MatrixTransform.Scale([exposure] * 3 + [1.0]))
    if vs.look and vs.look != "None":
        group.appendTransform(ocio.LookTransform(src="scene_linear", dst="scene_linear",
                                                 looks=vs.look))
    group.appendTransform(ocio.DisplayViewTransform(
        src="scene_linear", display=scene.display_settings.display_device,
        view=vs.view_transform))
    return cfg.getProcessor(group).getDefaultCPUProcessor()


def display_to_linear(scene: bpy.types.Scene, rgb: Iterable[float]) -> tuple[float, float, float]:
    """The scene-linear colour that the scene's view transform shows as display ``rgb``.

    Solved by a multiplicative fixed-point iteration on the OCIO transform (AgX mixes the
    channels, so there is no per-channel inverse). Falls back to the plain sRGB decoding when
    OpenColorIO is not importable.
    """
    target = np.clip(np.asarray(list(rgb), dtype=np.float64), 1e-4, 0.98)
    guess = np.asarray(colormaps.srgb_to_linear(target), dtype=np.float64)
    try:
        proc = _ocio_processor(scene)
    except Exception:  # noqa: BLE001 - any OCIO problem: the approximate answer is fine
        return tuple(float(x) for x in guess)  # type: ignore[return-value]
    def f(u: np.ndarray) -> np.ndarray:  # log display colour of exp(u)
        y = np.asarray(proc.applyRGB([float(v) for v in np.exp(u)]), dtype=np.float64)
        return np.log(np.maximum(y, 1e-9))

    u, goal = np.log(np.maximum(guess, 1e-7)), np.log(target)
    best, best_err = u.copy(), np.inf
    for _ in range(30):  # damped Newton in log space, finite-difference Jacobian
        r = f(u) - goal
        err = float(np.abs(r).max())
        if err < best_err:
            best, best_err = u.copy(), err
        if err < 1e-4:
            break
        jac = np.stack([(f(u + h) - f(u)) / 1e-3 for h in np.eye(3) * 1e-3], axis=1)
        try:
            step = np.linalg.solve(jac, r)
        except np.linalg.LinAlgError:
            break
        u = np.clip(u - np.clip(step, -2.0, 2.0), -16.0, 4.0)
    return tuple(float(v) for v in np.exp(best))  # type: ignore[return-value]
