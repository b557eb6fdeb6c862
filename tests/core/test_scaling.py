"""vizpipe_app.scaling: the strong-scaling benchmark driver (tiny sizes here; the figures in the
README come from ``make scaling``)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vizpipe_app import scaling as sc

COLUMNS = ["pipeline", "workers", "wall s", "speedup", "efficiency", "tasks", "task s",
           "overhead/task s", "identical", "load"]


def test_summary_arithmetic():
    runs = [sc.Run("materials", 1, 10.0, 8, 9.2), sc.Run("materials", 2, 6.0, 8, 9.6),
            sc.Run("climate", 2, 4.0, 5, 6.0, digest="x"), sc.Run("climate", 4, 2.5, 5, 6.5)]
    sc.summarize(runs)
    assert runs[1].speedup == pytest.approx(10 / 6)
    assert runs[1].efficiency == pytest.approx(10 / 12)
    assert runs[1].overhead_per_task_s == pytest.approx((6.0 * 2 - 9.6) / 8)
    assert runs[0].overhead_per_task_s == pytest.approx(0.1)
    # a series starting at 2 workers counts its first run as 2x
    assert runs[3].speedup == pytest.approx(2 * 4.0 / 2.5) and not runs[3].identical
    header = sc.table(runs).splitlines()[0]
    assert [c.strip() for c in header.strip("|").split("|")] == COLUMNS


def test_cube_series_reads_back(tmp_path):
    from materials_pipeline.readers import read

    paths = sc.materials_inputs(tmp_path, 3, 20)
    assert [p.name for p in paths] == ["frame_0000.cube", "frame_0001.cube", "frame_0002.cube"]
    d0, d1 = read(str(paths[0])), read(str(paths[1]))
    assert d0.main_grid().values.shape == (20, 20, 20)
    assert list(d0.structure.symbols) == ["O", "H", "H"]
    assert not (d0.structure.positions == d1.structure.positions).all()  # it vibrates


@pytest.mark.parametrize("bad", ["0", "1,x", ""])
def test_bad_worker_counts(bad, tmp_path):
    res = subprocess.run([sys.executable, "-m", "vizpipe_app.scaling", "--workers", bad, "--out",
                          str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "worker counts" in res.stderr


def test_runs_both_graphs_and_reports(tmp_path, capsys):
    out = tmp_path / "json"
    assert sc.main(["--workers", "1,2", "--frames", "3", "--size", "24", "--climate-size", "30",
                    "--out", str(tmp_path / "work"), "--json", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == COLUMNS
    runs = json.loads(out.read_text())["runs"]
    assert [(r["pipeline"], r["workers"]) for r in runs] == [
        ("materials", 1), ("materials", 2), ("climate", 1), ("climate", 2)]
    for r in runs:
        assert r["identical"] and r["digest"]  # the same assets whatever the worker count
        assert r["tasks"] == (3 if r["pipeline"] == "materials" else 3 + 4)  # + particle batches
        assert 0 < r["task_s"] and 0 < r["wall_s"] and r["progress"]
    assert runs[0]["speedup"] == 1.0


def test_runs_are_confined_to_as_many_cores_as_workers():
    import os

    assert sc.cores_for(1) == {min(os.sched_getaffinity(0))}
    assert sc.cores_for(len(os.sched_getaffinity(0)) + 1) is None  # more workers than cores
