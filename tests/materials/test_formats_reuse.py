"""Materials: the level of detail follows the picture, and re-runs with other formats or
``--full-res`` write only what changes (issue #16)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.manifest import read_manifest
from materials_pipeline.__main__ import main
from tests.materials.test_pipeline import SI_CELL, gaussian_density, write_chgcar


@pytest.fixture(scope="module")
def si96(tmp_path_factory):
    frac = np.array([[0, 0, 0], [0.25, 0.25, 0.25]])
    rho = gaussian_density(SI_CELL, frac, (96, 96, 96), sigma=0.9)
    return write_chgcar(tmp_path_factory.mktemp("si96") / "CHGCAR", SI_CELL, frac,
                        ["Si", "Si"], rho)


def _run(src: Path, out: Path, *extra: str) -> dict:
    assert main([str(src), "--out", str(out), "--no-render", "--engine", "serial",
                 "--resolution", "320x180", *extra]) == 0
    (iso,) = [a for a in read_manifest(out)["frames"][0]["assets"] if a["name"] == "iso"]
    return iso


def _stamps(out: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted((out / "assets" / "0000").iterdir()) if p.name != "frame.json"}


def test_lod_and_reuse(si96, tmp_path):
    from core.io.gltf import read_glb

    out = tmp_path / "run"
    iso = _run(si96, out)
    # a 320 x 180 picture: the 84k-triangle surface is simplified, the counts recorded
    assert 20_000 <= iso["faces"] < iso["faces_full"] // 2
    meta = json.loads((out / "assets/0000/frame.json").read_text())
    assert read_glb(out / iso["path"]).n_faces <= iso["faces"]
    first = _stamps(out)
    assert not [n for n in first if n.endswith(".ply")]

    _run(si96, out, "--formats", "usd,glb,ply")  # only the PLY files are new
    second = _stamps(out)
    assert {n for n in second if n not in first} == {
        f"{s}.ply" for s in ("iso", "atoms", "bonds", "cell")}
    assert {n: second[n] for n in first} == first

    iso_full = _run(si96, out, "--formats", "usd,glb,ply", "--full-res")
    third = _stamps(out)
    assert iso_full["faces"] == iso_full["faces_full"] == iso["faces_full"]
    assert {n for n in third if third[n] != second[n]} == {"iso.glb", "iso.usdc", "iso.ply"}
    assert meta["files"]  # frame.json lists what the frame holds
