"""materials_pipeline.iso.negative_charge without masks: the same sums, bit for bit.

A grid with no negative voxel is summed as it is (one pass for the minimum, one for the sum)
instead of through ``v[v > 0]`` and ``v[v < 0]`` copies; numpy's pairwise summation then adds
the same numbers in the same groups, so the charges equal the masked ones exactly.
"""

from __future__ import annotations

import numpy as np
import pytest

from materials_pipeline import iso


def masked(values, voxel_volume=1.0):
    v = np.asarray(values)
    return (float(-v[v < 0].sum(dtype=np.float64)) * voxel_volume,
            float(v[v > 0].sum(dtype=np.float64)) * voxel_volume)


def same(a, b):
    return all(np.float64(x).tobytes() == np.float64(y).tobytes() for x, y in zip(a, b,
                                                                                   strict=True))


@pytest.mark.parametrize("shape", [(7, 9, 11), (64, 64, 64), (100, 3, 1000), (1, 1, 1),
                                   (5, 0, 4)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fast_path_equals_the_masked_sums(shape, dtype):
    rng = np.random.default_rng(sum(shape))
    positive = (rng.random(shape) + 1e-3).astype(dtype)
    with_zeros = positive.copy()
    with_zeros.reshape(-1)[:: 7] = 0.0
    signed = (rng.random(shape) - 0.3).astype(dtype)
    for v in (positive, with_zeros, signed, np.asfortranarray(positive),
              positive[:, ::-1], -positive):
        for vv in (1.0, 0.0123):
            assert same(iso.negative_charge(v, vv), masked(v, vv)), (v.flags, v.dtype)


def test_nan_and_zero_sign_as_before():
    v = np.ones((4, 5, 6))
    v[1, 2, 3] = np.nan
    assert same(iso.negative_charge(v, 0.5), masked(v, 0.5))
    neg, _ = iso.negative_charge(np.ones((3, 3, 3)), 2.0)
    assert neg == 0.0 and np.signbit(neg) == np.signbit(masked(np.ones((3, 3, 3)), 2.0)[0])
