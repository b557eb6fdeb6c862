"""Shared test fixtures; the benchmark ratio report printed by ``make bench``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (CI must not fail at random);
# HYPOTHESIS_PROFILE=explore draws new ones, to hunt for cases worth pinning with @example.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

_RATIOS: list[dict] = []


@pytest.fixture
def report_ratio():
    """Record a benchmark figure: report_ratio(name, value, target, better="higher", unit="x").

    ``make bench`` prints every recorded figure with its target and whether it is met, and
    writes them to out/bench_ratios.json.
    """

    def _record(name: str, value: float, target: float | None = None, *, better: str = "higher",
                unit: str = "x", reference: str = "") -> None:
        ok = None
        if target is not None:
            ok = value >= target if better == "higher" else value <= target
        _RATIOS.append({"name": name, "value": value, "target": target, "better": better,
                        "unit": unit, "reference": reference, "met": ok})

    return _record


def pytest_terminal_summary(terminalreporter):
    if not _RATIOS:
        return
    tr = terminalreporter
    tr.section("benchmark figures (value vs target)")
    for r in _RATIOS:
        op = ">=" if r["better"] == "higher" else "<="
        tgt = f"target {op} {r['target']:g} {r['unit']}" if r["target"] is not None else ""
        met = {True: "MET", False: "NOT MET", None: ""}[r["met"]]
        ref = f"  [{r['reference']}]" if r["reference"] else ""
        tr.write_line(f"  {r['name']:<48} {r['value']:10.3f} {r['unit']:<8} {tgt:<22} {met}{ref}")
    out = Path(os.environ.get("VIZPIPE_BENCH_OUT", "out"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_ratios.json").write_text(json.dumps(_RATIOS, indent=1))
