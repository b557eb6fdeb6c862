"""Frame skip records: checksums written with frame.json, damaged files detected on a re-run."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from core import framecache as fc
from core import manifest as mf
from core.rundir import RunDir


def _frame(tmp_path, data=b"x" * 1000):
    fdir = RunDir(tmp_path).frame_dir(0)
    fdir.mkdir(parents=True)
    (fdir / "a.ply").write_bytes(data)
    (fdir / "b.vdb").write_bytes(data[::-1] + b"tail")
    meta = {"key": "k1", "files": ["a.ply", "b.vdb"]}
    fc.write_meta(fdir / "frame.json", meta)
    return fdir, meta


def test_meta_records_size_mtime_sha256(tmp_path):
    fdir, meta = _frame(tmp_path)
    saved = json.loads((fdir / "frame.json").read_text())
    assert saved["checksums"] == meta["checksums"]  # the caller's dict carries them too
    size, mtime, digest = saved["checksums"]["a.ply"]
    assert size == 1000 and mtime == (fdir / "a.ply").stat().st_mtime_ns
    assert digest == hashlib.sha256(b"x" * 1000).hexdigest()
    assert fc.done(fdir / "frame.json", "k1") is not None
    assert fc.done(fdir / "frame.json", "other") is None


def test_truncated_file_is_not_done(tmp_path):
    fdir, _ = _frame(tmp_path)
    with open(fdir / "b.vdb", "r+b") as fh:
        fh.truncate(10)
    assert fc.done(fdir / "frame.json", "k1") is None


def test_same_size_rewrite_is_hashed(tmp_path):
    fdir, _ = _frame(tmp_path)
    st = (fdir / "a.ply").stat()
    (fdir / "a.ply").write_bytes(b"y" * 1000)  # same size, new mtime: hashed, differs
    os.utime(fdir / "a.ply", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert fc.done(fdir / "frame.json", "k1") is None


def test_copied_file_same_content_is_done(tmp_path):
    fdir, _ = _frame(tmp_path)
    st = (fdir / "a.ply").stat()
    os.utime(fdir / "a.ply", ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # cp without -p
    assert fc.done(fdir / "frame.json", "k1") is not None


def test_paranoid_mode_hashes_everything(tmp_path, monkeypatch):
    fdir, _ = _frame(tmp_path)
    st = (fdir / "a.ply").stat()
    (fdir / "a.ply").write_bytes(b"z" * 1000)  # corrupted, size and mtime kept
    os.utime(fdir / "a.ply", ns=(st.st_atime_ns, st.st_mtime_ns))
    assert fc.done(fdir / "frame.json", "k1") is not None  # the stat-only check cannot see it
    monkeypatch.setenv(fc.VERIFY_ENV, "sha256")
    assert fc.done(fdir / "frame.json", "k1") is None


def test_missing_file_and_old_meta(tmp_path):
    fdir, _ = _frame(tmp_path)
    meta = json.loads((fdir / "frame.json").read_text())
    del meta["checksums"]  # written by older code: existence is checked
    (fdir / "frame.json").write_text(json.dumps(meta))
    assert fc.done(fdir / "frame.json", "k1") is not None
    (fdir / "b.vdb").unlink()
    assert fc.done(fdir / "frame.json", "k1") is None


@pytest.mark.parametrize("touch", [False, True])
def test_manifest_assets_get_sha256(tmp_path, touch):
    fdir, meta = _frame(tmp_path)
    RunDir(tmp_path).static.mkdir()
    (RunDir(tmp_path).static / "cell.ply").write_bytes(b"cell")
    if touch:  # record stale: hashed again at manifest time
        (fdir / "a.ply").write_bytes(b"q" * 1000)
    m = mf.new_manifest("t", "materials", length_unit="angstrom", bounds=[[0, 0, 0], [1, 1, 1]])
    m["frames"].append(mf.frame(0, [mf.asset("iso", "mesh", "assets/0000/a.ply"),
                                    mf.asset("density", "volume", "assets/0000/b.vdb")]))
    m["static"].append(mf.asset("cell", "curves", "static/cell.ply"))
    mf.write_manifest(tmp_path, m)
    saved = mf.read_manifest(tmp_path)
    got = {a["path"]: a["sha256"] for a in mf.iter_assets(saved)}
    want = {rel: hashlib.sha256((tmp_path / rel).read_bytes()).hexdigest() for rel in got}
    assert got == want and len(got) == 3
    if not touch:
        assert got["assets/0000/b.vdb"] == meta["checksums"]["b.vdb"][2]


def test_write_meta_removes_stale_temporaries_of_its_files_only(tmp_path):
    from core.atomic import tmp_name

    fdir = RunDir(tmp_path).frame_dir(0)
    fdir.mkdir(parents=True)
    stale = [tmp_name(fdir / "a.ply").with_name(".a.ply.999999.tmp.ply"),
             fdir / ".frame.json.999998.tmp.json"]
    other = fdir / ".particles_b00.ply.4242.tmp.ply"  # another task's file: left alone
    for p in [*stale, other]:
        p.write_bytes(b"partial")
    (fdir / "a.ply").write_bytes(b"done")
    fc.write_meta(fdir / "frame.json", {"key": "k", "files": ["a.ply"]})
    assert not any(p.exists() for p in stale) and other.exists()
