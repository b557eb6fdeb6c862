"""Re-runs with other formats or another level of detail write only what changes (#16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from climate_pipeline import default_data as dd
from climate_pipeline.__main__ import main
from core.manifest import read_manifest

SMALL = {"nlon": 40, "nlat": 28, "nz": 6, "hours": 3}


@pytest.fixture(scope="module")
def small_nc(tmp_path_factory):
    return dd.write_netcdf(tmp_path_factory.mktemp("reuse") / "pm10.nc", SMALL)


def _run(src: Path, out: Path, *extra: str) -> None:
    assert main([str(src), "--out", str(out), "--var", "pm10", "--no-render",
                 "--thresholds", "13,20", "--particles", "200", "--batches", "1",
                 "--engine", "serial", *extra]) == 0


def _stamps(out: Path) -> dict[str, tuple[int, int]]:
    """Every asset file: (inode, mtime_ns); a file written again (atomically) changes both."""
    return {str(p.relative_to(out)): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted((out / "assets").rglob("*"))
            if p.is_file() and p.suffix in (".glb", ".usdc", ".ply", ".vdb")}


def test_other_formats_and_full_res_rewrite_only_what_they_change(small_nc, tmp_path):
    out = tmp_path / "run"
    _run(small_nc, out)
    first = _stamps(out)
    assert first and not [f for f in first if f.endswith(".ply")]  # PLY is opt-in
    assert {Path(f).suffix for f in first} == {".glb", ".usdc", ".vdb"}

    # the same command again: nothing is written
    _run(small_nc, out)
    assert _stamps(out) == first

    # adding PLY writes the PLY files and nothing else (particles, trails, streamlines too)
    _run(small_nc, out, "--formats", "usd,glb,ply")
    second = _stamps(out)
    new = {f for f in second if f not in first}
    assert new and all(f.endswith(".ply") for f in new)
    assert {Path(f).stem for f in new} >= {"layer", "iso_0", "particles_b00", "streamlines"}
    assert {f: second[f] for f in first} == first
    man = read_manifest(out)
    (layer,) = [a for a in man["frames"][0]["assets"] if a["name"] == "layer"]
    assert layer["path"] == "assets/0000/layer.glb"
    assert layer["alternates"] == ["assets/0000/layer.usdc", "assets/0000/layer.ply"]

    # --full-res: the isosurfaces are written again (every format), nothing else
    _run(small_nc, out, "--formats", "usd,glb,ply", "--full-res")
    third = _stamps(out)
    assert set(third) == set(second)
    changed = {f for f in third if third[f] != second[f]}
    assert changed and all(Path(f).name.startswith("iso_") for f in changed)
    assert {Path(f).suffix for f in changed} == {".glb", ".usdc", ".ply"}
    isos = [a for fr in read_manifest(out)["frames"] for a in fr["assets"]
            if a["name"].startswith("iso_")]
    assert isos and all(a["faces"] == a["faces_full"] for a in isos)

    # back to the defaults: the manifest no longer names the PLY files
    _run(small_nc, out)
    man = read_manifest(out)
    assert not [p for fr in man["frames"] for a in fr["assets"]
                for p in [a["path"], *(a.get("alternates") or [])] if p.endswith(".ply")]


def test_unknown_format_is_one_error_line(small_nc, tmp_path, capsys):
    out = tmp_path / "bad"
    with pytest.raises(SystemExit) as ex:
        main([str(small_nc), "--out", str(out), "--var", "pm10", "--no-render",
              "--formats", "usd,obj", "--engine", "serial"])
    assert ex.value.code != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --formats:"), err
    assert "obj" in err[0] and "usd, glb, ply" in err[0]
    assert not (out / "assets").exists()
