"""core.rundir: one owner of the run directory's layout."""

from __future__ import annotations

from pathlib import Path

from core.rundir import RunDir


def test_layout_is_the_documented_one(tmp_path):
    r = RunDir(tmp_path)
    assert r.manifest == tmp_path / "manifest.json"
    assert r.scene == tmp_path / "scene.usda"
    assert r.frame_dir(7) == tmp_path / "assets" / "0007"
    assert r.frame_meta(12) == tmp_path / "assets" / "0012" / "frame.json"
    assert r.static == tmp_path / "static"
    assert r.frame_png(3) == tmp_path / "frames" / "0003.png"
    assert r.raw_png(3) == tmp_path / "frames" / "raw" / "0003.png"
    assert (r.logs, r.run_log) == (tmp_path / "logs", tmp_path / "run.log")
    assert (r.blend, r.movie) == (tmp_path / "scene.blend", tmp_path / "movie.mp4")
    assert RunDir(str(tmp_path)) == r  # str or Path, the same value


def test_manifest_relative_paths_resolve_under_the_root(tmp_path):
    r = RunDir(tmp_path)
    rel = RunDir.frame_rel(10000, "iso.ply")  # more than four digits: not truncated
    assert rel == "assets/10000/iso.ply"
    assert r.root / rel == r.frame_dir(10000) / "iso.ply"
    assert r.rel(r.static / "cell.ply") == RunDir.static_rel("cell.ply") == "static/cell.ply"
    assert "\\" not in r.rel(Path(tmp_path) / "assets" / "0001" / "a.vdb")
