"""core.units: the unit a picture shows (checked against cf-units' own conversion) and how it
is written."""

from __future__ import annotations

import cf_units
import pytest

from core.units import factor, pretty, readable_unit


@pytest.mark.parametrize("units, typical, prefer, want", [
    ("g/m3", 8e-4, None, "ug m-3"),         # NAME ash: 800 µg/m³
    ("g/m3", 8e-4, "mg m-3", "mg m-3"),     # ... or 0.8 mg/m³, aviation's unit
    ("g/m3", 50.0, "mg m-3", "g m-3"),      # the preferred unit would show 50000
    ("kg m-3", 1.5e-7, None, "ug m-3"),     # CAMS PM10 in kg/m3: 150 µg/m³
    ("ug m-3", 150.0, None, "ug m-3"),      # already readable
    ("kg m-2", 0.003, None, "g m-2"),       # a dust load
    ("mol mol-1", 4e-8, None, "ppb"),       # ozone as a mole fraction: 40 ppb
    ("K", 300.0, None, "K"),                # not a matter of size
    ("Pa", 101325.0, None, "hPa"),          # a weather map's unit
    ("hPa", 1013.0, None, "hPa"),
    ("m s-1", 0.001, None, "m s-1"),
    ("1", 0.5, None, "1"),
    ("furlongs", 3.0, None, "furlongs"),    # not a unit: kept
])
def test_readable_unit_puts_typical_values_between_a_tenth_and_a_thousand(units, typical,
                                                                          prefer, want):
    got, f = readable_unit(units, typical, prefer=prefer)
    assert got == want
    if got not in ("ppb", "hPa", units):
        # the factor is cf-units' (an independent conversion), exact for powers of ten
        assert f == pytest.approx(cf_units.Unit(units).convert(1.0, cf_units.Unit(got)),
                                  rel=1e-12)
        assert 0.1 <= typical * f < 1000
    if got == "ppb":
        assert f == pytest.approx(1e9)


def test_factor_is_exact_for_prefixes_and_refuses_other_kinds():
    assert factor("g/m3", "ug m-3") == 1e6  # cf-units says 999999.9999999999
    assert factor("ppb", "ppm") == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="cannot convert"):
        factor("K", "ug m-3")


@pytest.mark.parametrize("units, want", [
    ("ug m-3", "µg/m³"), ("ug/m3", "µg/m³"), ("g/m3", "g/m³"), ("mg m-3", "mg/m³"),
    ("m s-1", "m/s"), ("kg m-2 s-1", "kg/(m²·s)"), ("W m-2", "W/m²"), ("K", "K"),
    ("1", ""), ("ppb", "ppb"), ("µg/m³", "µg/m³"), ("degrees_north", "degrees_north"),
])
def test_pretty(units, want):
    assert pretty(units) == want
