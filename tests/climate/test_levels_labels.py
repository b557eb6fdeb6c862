"""Levels and titles a person reads (issue #19): 1-2-5 levels, action levels with sources,
titles from CF metadata."""

from __future__ import annotations

import numpy as np
import pytest

from climate_pipeline import labels, levels
from climate_pipeline.levels import ACTION_LEVELS


def is_round(x: float) -> bool:
    """A multiple of a 1-2-5 step at least 1/5000 of it: at most four significant digits,
    the last a 1-2-5 step (295 = 59 x 5, 1020 = 102 x 10, 288.2 K over a field spanning
    2 K, 0.0008 = 4 x 0.0002; not 291.37)."""
    if x == 0:
        return True
    k = np.floor(np.log10(abs(x)))
    for e in (k - 4, k - 3, k - 2, k - 1, k):
        for s in (1.0, 2.0, 5.0):
            step = s * 10.0 ** e
            if step >= abs(x) / 5000 and np.isclose(x / step, round(x / step), rtol=0,
                                                   atol=1e-6):
                return True
    return False


@pytest.mark.parametrize("x, want", [(0.00083, 0.0005), (7.9, 5.0), (45.0, 20.0), (100.0, 100.0),
                                     (1.0, 1.0), (2.5, 2.0), (999.0, 500.0), (1e-9, 1e-9)])
def test_nice_floor_is_the_1_2_5_value_at_or_below(x, want):
    got = levels.nice_floor(x)
    assert got == pytest.approx(want) and got <= x * (1 + 1e-9) and is_round(got)


def test_round_levels_are_distinct_round_and_above_the_minimum():
    assert levels.round_levels([0.00083, 0.79], 0.0) == [0.0008, 0.7]
    assert levels.round_levels([290.3, 301.7], 250.0) == [290.0, 300.0]  # K: no zero
    assert levels.round_levels([0.8, 0.9], 0.0) == [0.8, 0.9]  # finer, not repeated
    assert levels.round_levels([3.13, 790.0], 3.05) == [3.12, 700.0]
    assert levels.round_levels([1.0, 2.0], 5.0) == []  # none above the minimum
    assert not is_round(291.37) and is_round(288.2) and is_round(290.0)
    assert is_round(45.0) and is_round(0.0008)
    with pytest.raises(ValueError):
        levels.nice_floor(0.0)


def test_every_action_level_has_a_source_and_a_convertible_unit():
    from core.units import factor

    for row in ACTION_LEVELS:
        assert row.source and row.label and row.value > 0
        assert factor(row.units, "kg m-3") > 0  # all are mass concentrations


def test_ash_gets_the_aviation_levels_inside_its_range_in_any_unit():
    rng = np.random.default_rng(0)
    ash = np.r_[np.zeros(5000), rng.gamma(0.5, 0.6, 5000)]  # mg/m3, up to ~8
    got, rule = levels.default_levels(ash, "volcanic ash", "mg m-3")
    assert got == [0.2, 2.0, 4.0] and rule == "volcanic ash action levels"
    got_ug, _ = levels.default_levels(ash * 1000, "volcanic ash", "ug m-3")
    assert got_ug == pytest.approx([200.0, 2000.0, 4000.0])
    # a weak plume: only the low level lies inside the data
    got, _ = levels.default_levels(ash / 10, "volcanic ash", "mg m-3")
    assert got == [0.2]
    assert levels.level_label(0.2, "mg/m³", "volcanic ash", "mg m-3") == \
        "0.2 mg/m³ · low contamination (aviation)"


def test_pm10_levels_are_who_then_not_a_close_second_and_mole_fractions_get_none():
    pm = np.linspace(0, 300, 1000)
    got, _ = levels.default_levels(pm, "PM10", "ug m-3")
    assert got == [45.0]  # the EU's 50 is within 1.5x of it
    assert levels.level_label(45.0, "µg/m³", "PM10", "ug m-3").endswith("WHO 2021 24-h "
                                                                       "guideline")
    assert levels.action_levels("O3", "ppb") == []  # no fixed µg/m³ for a mole fraction
    got, rule = levels.default_levels(np.linspace(0, 87, 1000), "O3", "ppb")
    assert rule.startswith("90th") and all(is_round(x) for x in got)


def test_unknown_quantities_get_rounded_percentiles():
    x = np.random.default_rng(1).lognormal(0, 1, 10000)
    got, rule = levels.default_levels(x, None, "K")
    p90, p99 = np.percentile(x, [90, 99])
    assert rule.startswith("90th") and len(got) == 2 and all(is_round(v) for v in got)
    assert got[0] <= p90 and got[1] <= p99 and got[1] > p99 / 2.5


@pytest.mark.parametrize("names, want", [
    (("VOLCANIC_ASH_AIR_CONCENTRATION",), "volcanic ash"),
    (("pm10",), "PM10"), (("x", "", "mass_concentration_of_pm2p5_ambient_aerosol_in_air"),
                          "PM2.5"),
    (("no2",), "NO2"), (("o3",), "O3"), (("t", "Temperature"), None),
    (("cash_flow",), None),
])
def test_quantity_of(names, want):
    assert levels.quantity_of(*names) == want


NAME_ATTRS = {"NAME Version": "NAME III (version 6.0)",
              "Title": "EYJAFJALLAJOKULL_NewSourceFile_mastin",
              "Time Av or Int": "006 hr time averaged"}


@pytest.mark.parametrize("args, want", [
    (("VOLCANIC_ASH_AIR_CONCENTRATION", "VOLCANIC_ASH_AIR_CONCENTRATION", "", NAME_ATTRS),
     "Volcanic ash air concentration, 6-h mean"),
    (("pm10", "", "mass_concentration_of_pm10_ambient_aerosol_particles_in_air", {}),
     "Mass concentration of PM10 ambient aerosol particles in air"),
    (("t", "Air temperature at 2 m", "air_temperature", {}), "Air temperature at 2 m"),
    (("air_temperature", "", "", {}), "Air temperature"),
    (("msl", "", "", {}), "msl"),
])
def test_quantity_title_prefers_long_name_then_standard_name(args, want):
    assert labels.quantity_title(*args) == want


def test_source_from_global_attributes():
    assert labels.source_of(NAME_ATTRS) == "NAME III 6.0, Eyjafjallajokull"
    assert labels.source_of({"TITLE": " OUTPUT FROM WRF V4.2.2 MODEL"}) == "WRF V4.2.2 MODEL"
    assert labels.source_of({"source": "CAMS regional ensemble"}) == "CAMS regional ensemble"
    assert labels.source_of({}) == ""
    assert len(labels.source_of({"source": "x" * 300})) == 48
