"""core.memory: mallopt tuning, applied once per process, off with VIZPIPE_MALLOC=0."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from core.memory import tune_malloc
print(tune_malloc(), tune_malloc())
"""
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(env_extra: dict) -> str:
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-c", CHILD, ROOT], env=env, capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_tuning_applies_once_on_glibc():
    assert _run({"VIZPIPE_MALLOC": "1"}) == "True True"


def test_tuning_can_be_turned_off():
    assert _run({"VIZPIPE_MALLOC": "0"}) == "False False"


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="mallopt is glibc's")
def test_freed_large_blocks_are_reused_not_refaulted():
    """With the tuning, allocating and freeing two 16 MiB arrays 50 times costs (almost) no
    new page faults; without it every round faults its pages in again (measured: 50,331
    faults against 519). Two arrays, not one: glibc's dynamic mmap threshold alone already
    keeps one freed 16 MiB block (its trim threshold grows to twice the block), but trims
    the 32 MiB that two leave at the top of the heap."""
    code = CHILD.replace("print(tune_malloc(), tune_malloc())", """
import resource
import numpy as np
if sys.argv[2] == "1":
    tune_malloc()
np.ones(1 << 21)
f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    a = np.ones(1 << 21)  # 16 MiB, written: every page touched
    b = np.ones(1 << 21)
    del a, b
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
""")
    faults = {}
    for on in ("0", "1"):
        out = subprocess.run([sys.executable, "-c", code, ROOT, on], capture_output=True,
                             text=True, check=True, env={**os.environ, "VIZPIPE_MALLOC": "1"})
        faults[on] = int(out.stdout.strip())
    assert faults["1"] < 5000 < faults["0"], faults


# --- the wind window plan (issue #15) ---------------------------------------------------------

def test_wind_window_plan_sized_from_the_budget(monkeypatch):
    from core.memory import wind_window_plan

    # 20 x 400 x 800 winds (u, v, w as float32): 102 MB packed + 77 MB as read per step
    monkeypatch.setenv("VIZPIPE_MEMORY_BUDGET_MB", "512")
    p = wind_window_plan(20, 400, 800, 3, 60)
    assert (p.steps, p.prefetch, p.whole) == (2, False, False)
    assert p.step_bytes == 20 * 400 * 800 * (16 + 12)
    monkeypatch.setenv("VIZPIPE_MEMORY_BUDGET_MB", "1024")
    p = wind_window_plan(20, 400, 800, 3, 60)
    # (1024 MiB - one packed step) // 179.2 MB = 5 steps fit: a window of 3, 2 read ahead
    assert (p.steps, p.prefetch) == (3, True)
    assert (2 * p.steps - 1) * p.step_bytes + 20 * 400 * 800 * 16 <= p.budget
    monkeypatch.setenv("VIZPIPE_MEMORY_BUDGET_MB", "16")  # less than two steps: still two
    assert wind_window_plan(20, 400, 800, 3, 60).steps == 2
    # a city box with thousands of steps: one read of all of them, as before the window
    monkeypatch.setenv("VIZPIPE_MEMORY_BUDGET_MB", "512")
    p = wind_window_plan(3, 20, 20, 3, 2000)
    assert (p.steps, p.whole, p.prefetch) == (2000, True, False)
    # the size of the file does not enter: 60 or 6000 steps, the same window
    assert wind_window_plan(20, 400, 800, 3, 6000).steps == wind_window_plan(
        20, 400, 800, 3, 60).steps


def test_workers_that_fit_the_memory_available():
    from core.memory import task_memory_mb
    from core.runtime.engines import workers_that_fit

    each = task_memory_mb() * 2**20
    assert workers_that_fit(8, available=100 * each) == 8
    assert workers_that_fit(8, available=4 * each) == 3  # one task's share kept for the master
    assert workers_that_fit(8, available=each // 2) == 1  # never fewer than one


def test_large_inputs_are_hashed_by_samples(tmp_path, monkeypatch):
    """Inputs up to WHOLE_HASH_MAX: the sha256 of the file; larger: of its size and 64
    blocks of 1 MiB, and any change in a sampled block, the size or the header shows."""
    import hashlib

    from core import framecache as fc

    small = tmp_path / "small.bin"
    small.write_bytes(b"abc" * 1000)
    assert fc.input_digest(small) == (hashlib.sha256(small.read_bytes()).hexdigest(),
                                      "whole file")
    monkeypatch.setattr(fc, "WHOLE_HASH_MAX", 1 << 20)
    big = tmp_path / "big.bin"
    data = bytearray(os.urandom(80 << 20))
    big.write_bytes(data)
    digest, scope = fc.input_digest(big)
    assert scope == fc.SAMPLED and digest != hashlib.sha256(data).hexdigest()
    data[0] ^= 1  # the header
    big.write_bytes(data)
    d2, _ = fc.input_digest(big)
    data[-1] ^= 1  # the last byte
    big.write_bytes(data)
    d3, _ = fc.input_digest(big)
    big.write_bytes(data + b"x")  # the size
    d4, _ = fc.input_digest(big)
    assert len({digest, d2, d3, d4}) == 4
