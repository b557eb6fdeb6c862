"""core.geometry.column_extremes: (a.min(0), a.max(0)) column by column, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from core.geometry import Curves, Mesh, Points, column_extremes


def bits(x):
    x = np.asarray(x)
    return x.dtype, x.shape, x.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32, np.int64, np.uint8])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_same_as_axis0_reductions(dtype, k):
    rng = np.random.default_rng(k)
    for n in (1, 2, 7, 1000, 100_003):
        a = (rng.normal(0, 5, (n, k)) * 10).astype(dtype)
        lo, hi = column_extremes(a)
        assert bits(lo) == bits(a.min(0)) and bits(hi) == bits(a.max(0))


def test_zeros_nans_and_infinities_as_axis0_reductions():
    rng = np.random.default_rng(0)
    for special in ([0.0, -0.0], [np.nan], [-0.0], [np.inf, -np.inf], [np.nan, -0.0, 0.0]):
        for dtype in (np.float32, np.float64):
            a = np.abs(rng.normal(0, 1, (500, 3))).astype(dtype)
            for v in special:
                a[rng.integers(0, 500, 5), rng.integers(0, 3, 5)] = v
            lo, hi = column_extremes(a)
            assert bits(lo) == bits(a.min(0)) and bits(hi) == bits(a.max(0))
            assert bits(column_extremes(-a)[0]) == bits((-a).min(0))


def test_geometry_bounds_unchanged():
    rng = np.random.default_rng(4)
    v = rng.normal(0, 3, (300, 3)).astype(np.float32)
    m = Mesh(v, np.arange(300).reshape(-1, 3))
    assert bits(m.bounds()) == bits(np.array([v.min(0), v.max(0)], dtype=np.float64))
    assert bits(Points(v).bounds()) == bits(m.bounds())
    assert bits(Curves(v, [150, 150]).bounds()) == bits(m.bounds())
