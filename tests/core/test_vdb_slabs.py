"""core.io.vdb writes float64 grids slab by slab through a small float32 buffer: the same file
as one ``copyFromArray`` of the whole grid converted to float32 (the header's random UUID
aside), and the same error for values that are not finite in float32."""

from __future__ import annotations

import numpy as np
import pytest

from core.deps import available
from core.errors import BadInputError
from core.geometry import Volume

pytestmark = pytest.mark.skipif(not available("openvdb"), reason="no OpenVDB binding")

UUID = slice(21, 57)  # magic, file version, library version, offsets flag, then the UUID


def whole_array_grid(openvdb, vol, tolerance):
    """What write_vdb did before: one float32 copy of the grid, one copyFromArray."""
    from core.io.vdb import describe_grid

    grid = openvdb.FloatGrid(0.0)
    grid.copyFromArray(np.ascontiguousarray(vol.values, dtype=np.float32), tolerance=tolerance)
    return describe_grid(openvdb, grid, vol)  # the metadata are not what is compared


def file_bytes(openvdb, grid, path):
    openvdb.write(str(path), grids=[grid])
    data = bytearray(path.read_bytes())
    data[UUID] = b"\0" * (UUID.stop - UUID.start)
    return bytes(data)


@pytest.mark.parametrize("shape", [(1, 1, 1), (9, 17, 33), (40, 30, 20), (257, 16, 16)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32, ">f8", np.int32])
def test_slabs_write_the_whole_array_file(tmp_path, monkeypatch, shape, dtype):
    from core.deps import require
    from core.io import vdb

    (openvdb,) = require("openvdb")
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, shape)
    x[rng.random(shape) < 0.5] = 0.0
    vol = Volume(x.astype(dtype), np.diag([0.5, 0.7, 0.9, 1.0]), "density", "e/Angstrom^3")
    for chunk in (vdb.CHUNK_BYTES, 1):  # 1: eight planes per slab, many slabs
        monkeypatch.setattr(vdb, "CHUNK_BYTES", chunk)
        for tol in (0.0, 0.3):
            ref = file_bytes(openvdb, whole_array_grid(openvdb, vol, tol), tmp_path / "a.vdb")
            got = file_bytes(openvdb, vdb._grid(openvdb, vol, 0.0, tol), tmp_path / "b.vdb")
            assert got == ref


def test_slab_planes_are_whole_leaves():
    from core.io.vdb import _slab_planes

    for shape in [(256, 256, 256), (10, 3000, 3000), (5, 1, 1)]:
        n = _slab_planes(shape)
        assert n % 8 == 0 and n >= 8


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])
def test_values_not_finite_in_float32_are_refused(tmp_path, bad):
    from core.io.vdb import write_vdb

    x = np.ones((20, 6, 7))
    x[17, 2, 3] = bad  # in the third slab of eight planes
    with pytest.raises(BadInputError, match="NaN or infinity"):
        write_vdb(Volume(x), tmp_path / "x.vdb")
    assert not (tmp_path / "x.vdb").exists()
