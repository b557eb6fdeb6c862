"""Shared test fixtures; the benchmark ratio report printed by ``make bench``."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run (CI must not fail at random);
# HYPOTHESIS_PROFILE=explore draws new ones, to hunt for cases worth pinning with @example.
settings.register_profile("repeatable", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))

_RATIOS: list[dict] = []

# Every skip the suite may take: one condition each, named in its reason (tests/README.md,
# "Skips"). A skip whose reason matches none of these fails the run: a guard that hides more
# than it says is a test that cannot fail.
KNOWN_SKIPS = (
    r"C advection kernel not built \(no C compiler at install",
    r"core\._isokernel_c not built",
    r"no C compiler here: the kernels are optional",
    r"mallopt is glibc's",
    r"no OpenVDB binding",
    r"pycompss is installed here",
    r"make is not installed",
    r"debootstrap is not installed",
    r"needs root and unshare",
    r"needs network access to deb\.debian\.org and pypi\.org",
    r"this machine has a GPU Cycles can use",
)
_SKIPS: list[tuple[str, str]] = []


def pytest_configure(config):
    # pytest-benchmark writes --benchmark-json only when the session ends (make bench: minutes
    # later); its folder must exist by then, whatever the caller made (issue #22)
    path = config.getoption("benchmark_json", None)
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def pytest_runtest_logreport(report):
    if report.skipped and not hasattr(report, "wasxfail") and isinstance(report.longrepr,
                                                                         tuple):
        _SKIPS.append((report.nodeid, str(report.longrepr[2]).removeprefix("Skipped: ")))


def pytest_sessionfinish(session, exitstatus):
    unknown = [(n, r) for n, r in _SKIPS if not any(re.search(k, r) for k in KNOWN_SKIPS)]
    if unknown:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr:
            tr.ensure_newline()
        for nodeid, reason in unknown:
            msg = f"error: {nodeid}: skipped for an unlisted reason: {reason!r} (expected one " \
                  "of tests/conftest.py KNOWN_SKIPS, documented in tests/README.md)"
            tr.write_line(msg, red=True) if tr else print(msg)
        if session.exitstatus == 0:
            session.exitstatus = 1


@pytest.fixture
def report_ratio():
    """Record a benchmark figure: report_ratio(name, value, target, better="higher", unit="x").

    ``make bench`` prints every recorded figure with its target and whether it is met, and
    writes them to out/bench_ratios.json. Figures are reported, not asserted: time is noisy.
    On a quiet machine, ``make bench-check`` (``VIZPIPE_BENCH_STRICT=1``) turns each NOT MET
    into a failure of the benchmark that recorded it.
    """
    strict = os.environ.get("VIZPIPE_BENCH_STRICT", "0") not in ("", "0")

    def _record(name: str, value: float, target: float | None = None, *, better: str = "higher",
                unit: str = "x", reference: str = "") -> None:
        ok = None
        if target is not None:
            ok = value >= target if better == "higher" else value <= target
        _RATIOS.append({"name": name, "value": value, "target": target, "better": better,
                        "unit": unit, "reference": reference, "met": ok})
        if strict and ok is False:
            op = ">=" if better == "higher" else "<="
            pytest.fail(f"{name}: {value:.3f} {unit}, target {op} {target:g} {unit} NOT MET "
                        f"(VIZPIPE_BENCH_STRICT=1){'; ' + reference if reference else ''}",
                        pytrace=False)

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
