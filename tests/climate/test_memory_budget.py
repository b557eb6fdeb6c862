"""The per-task memory budget (issue #15): checked before any work, raised for a frame that
needs more when the user set none, declared by each task."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from climate_pipeline import default_data as dd
from core.rundir import RunDir

SMALL = {"nlon": 40, "nlat": 28, "nz": 6, "hours": 4}


@pytest.fixture(scope="module")
def small_nc(tmp_path_factory):
    return dd.write_netcdf(tmp_path_factory.mktemp("budget") / "pm10.nc", SMALL)


def _run(src, out, budget: str | None, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "VIZPIPE_MEMORY_BUDGET_MB"}
    if budget is not None:
        env["VIZPIPE_MEMORY_BUDGET_MB"] = budget
    return subprocess.run([sys.executable, "-m", "climate_pipeline", str(src), "--out", str(out),
                           "--var", "pm10", "--no-render", "--engine", "serial",
                           "--coastlines", "110m", "--particles", "50", *extra],
                          capture_output=True, text=True, timeout=300, env=env)


def test_a_frame_over_a_set_budget_fails_before_any_work(tmp_path):
    # one frame of 6 x 150 x 200 values needs 6 copies x 4 bytes x 180,000 = 4.1 MB: more
    # than a budget of 1 MB
    src = dd.write_netcdf(tmp_path / "pm10.nc", {"nlon": 200, "nlat": 150, "nz": 6,
                                                 "hours": 2})
    res = _run(src, tmp_path / "r", "1")
    assert res.returncode == 1
    err = res.stderr.strip().splitlines()
    line = err[-1]
    assert line.startswith("error:") and "pm10.nc" in line and "VIZPIPE_MEMORY_BUDGET_MB" in line
    assert "6 x 150 x 200" in line and "budget of 1 MB" in line, line
    assert "Traceback" not in res.stderr
    assert not RunDir(tmp_path / "r").assets.exists()  # no frame was started
    assert not RunDir(tmp_path / "r").manifest.exists()


def test_the_default_budget_is_raised_to_fit_one_frame(small_nc, tmp_path, monkeypatch):
    """A valid file converts with default settings: the default budget grows to what one
    frame needs (one line says so), and the run's tasks declare it."""
    import core.memory as mem

    monkeypatch.setattr(mem, "DEFAULT_BUDGET_MB", 0)
    from climate_pipeline.pipeline import memory_for
    from climate_pipeline.readers import open_field
    from climate_pipeline.settings import build_parser, settings_from_args

    s = settings_from_args(build_parser().parse_args([str(small_nc), "--out", str(tmp_path)]))
    field = open_field([str(small_nc)], "pm10")
    monkeypatch.delenv("VIZPIPE_MEMORY_BUDGET_MB", raising=False)
    with memory_for(field, [str(small_nc)], s, ["u", "v", "w"]) as raised:
        assert raised
        assert mem.budget_set() and 0 < mem.budget_bytes() < 4 * 2**20
        assert mem.task_memory_mb() == mem.TASK_BASE_MB + mem.budget_bytes() // 2**20
    assert not mem.budget_set()  # restored after the run


def test_a_budget_that_fits_converts(small_nc, tmp_path):
    res = _run(small_nc, tmp_path / "r", "8", "--frames", "2")
    assert res.returncode == 0, res.stderr[-2000:]
    assert RunDir(tmp_path / "r").manifest.exists()


def test_tasks_declare_their_memory_for_compss():
    from climate_pipeline import tasks
    from core.memory import task_memory_gb
    from core.runtime.taskdef import task_def

    for fn in (tasks.build_frame, tasks.particle_batch):
        assert task_def(fn).constraints["memory_size"] == task_memory_gb()
    assert float(task_memory_gb()) > 0.3
