"""Colour maps: against matplotlib's own tables, ramps, colour bars."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from PIL import Image

from core import colormaps as cm
from core.errors import BadInputError


def test_apply_matches_matplotlib():
    vals = np.linspace(-2, 5, 101)
    ours = cm.apply(vals, "viridis", -2, 5)
    ref = (matplotlib.colormaps["viridis"](np.linspace(0, 1, 101)) * 255)
    assert np.abs(ours[:, :3].astype(int) - ref[:, :3]).max() <= 4  # 256-entry table vs exact
    assert ours.dtype == np.uint8 and ours.shape == (101, 4)


def test_diverging_centre_and_reverse():
    lo, hi = cm.symmetric_range([-0.3, 0.1, 0.2])
    assert (lo, hi) == (-0.3, 0.3)
    assert cm.is_diverging("vik") and cm.is_diverging("RdBu_r") and not cm.is_diverging("magma")
    a = cm.lut("vik", 64)
    b = cm.lut("vik_r", 64)
    assert np.allclose(a, b[::-1])


def test_ramp_stops_are_linear_and_bounded():
    stops = cm.ramp_stops("magma", 40)
    assert len(stops) == 32  # Blender's ColorRamp limit
    assert stops[0][0] == 0.0 and stops[-1][0] == 1.0
    srgb = cm.lut("magma", 32)[16, :3]
    assert np.allclose(stops[16][1][:3], cm.srgb_to_linear(srgb))


def test_unknown_map_lists_known():
    with pytest.raises(BadInputError, match="known: viridis"):
        cm.lut("jet")


def test_log_scale_and_nan():
    c = cm.apply([1, 10, 100, np.nan], "cividis", 1, 100, log=True)
    assert (c[1] != c[0]).any() and (c[3] == c[0]).all()
    with pytest.raises(BadInputError, match="positive range"):
        cm.apply([1], "cividis", 0, 1, log=True)


def test_colorbar_png(tmp_path):
    p = cm.colorbar_png(tmp_path / "cb.png", "viridis", 0, 2.5, label="Density", units="e/Å³",
                        size_px=(200, 600))
    img = np.asarray(Image.open(p).convert("RGBA"))
    assert img.shape == (600, 200, 4)
    assert img[..., 3].max() == 255 and img[..., 3].min() == 0  # opaque bar, clear background
    opaque = img[img[..., 3] == 255][:, :3]
    assert len(np.unique(opaque, axis=0)) > 50  # the gradient is there


def test_colorbar_for_small_frames_keeps_its_labels_inside(tmp_path):
    """At 270 px the bar image is still 450 px tall (labels at fixed point sizes would be cut
    at the right edge of a narrower image): its right-most columns stay clear."""
    assert cm.colorbar_size(270) == cm.colorbar_size(450) == (153, 450)
    assert cm.colorbar_size(1080) == (367, 1080)
    p = cm.colorbar_png(tmp_path / "cb.png", "lajolla", 0, 250, label="PM10 concentration",
                        units="µg/m³", size_px=cm.colorbar_size(270))
    alpha = np.asarray(Image.open(p).convert("RGBA"))[..., 3]
    assert alpha[:, -3:].max() == 0  # nothing touches the right edge
