"""The embedded default input: real PySCF output, read back through our cube reader."""

from __future__ import annotations

import numpy as np
import pytest

from materials_pipeline import default_data
from materials_pipeline.formats import read_density


@pytest.fixture(scope="module")
def two_frames(tmp_path_factory):
    inputs = tmp_path_factory.mktemp("default")
    small = {"density_points": 40, "esp_points": 16}
    mode = default_data.normal_mode(inputs, small)
    for i in (0, 1):
        default_data.compute_frame(str(inputs), i, 4, mode, small)
    return inputs, mode


def test_mode_is_the_bend(two_frames):
    _, mode = two_frames
    assert 1500 < mode["freq_cm"] < 1800  # PBE0/6-31G* water bend (harmonic)
    v = np.array(mode["vector"])
    assert np.isclose(np.linalg.norm(v, axis=1).max(), default_data.DEFAULTS["amplitude"])


def test_cube_files_hold_ten_electrons_and_negative_potential_at_oxygen(two_frames):
    inputs, mode = two_frames
    d = read_density(inputs / "density" / default_data.density_name(1))
    g = d.main_grid()
    assert g.units == "e/Angstrom^3"
    # a 40^3 grid undersamples the O 1s cusp (the 72^3 default run integrates to 9.94)
    assert g.values.sum() * g.voxel_volume == pytest.approx(10.0, rel=0.06)
    assert [s for s in d.structure.symbols] == ["O", "H", "H"]
    e = read_density(inputs / "esp" / default_data.esp_name(1)).main_grid()
    from materials_pipeline.stages import display_units, sample

    v = display_units(e)
    assert v.units == "V"
    o = d.structure.positions[0]
    h = d.structure.positions[1]
    lone_pair = o + (o - 0.5 * (d.structure.positions[1] + d.structure.positions[2])) * 1.5
    assert sample(v, lone_pair[None])[0] < 0 < sample(v, (h + (h - o) * 0.8)[None])[0]


def test_frames_differ_by_the_vibration(two_frames):
    inputs, _ = two_frames
    a = read_density(inputs / "density" / default_data.density_name(0)).structure.positions
    b = read_density(inputs / "density" / default_data.density_name(1)).structure.positions
    assert 0.05 < np.abs(a - b).max() < 0.5
    # a frame already there is not recomputed
    assert default_data.compute_frame(str(inputs), 0, 4, {}, {})["skipped"]
