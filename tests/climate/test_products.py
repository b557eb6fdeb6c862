"""A climate product is one row and one build step (issue #23): a row added to the product
table at test time, with its build function, is written by the frame task, recorded in
``frame.json``, kept on a re-run and listed in the manifest with the row's look, with no
change to ``frames.py`` or ``manifest.py``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest

from climate_pipeline import products as P
from climate_pipeline import stages
from climate_pipeline.builders import FrameContext, Piece
from core import colormaps
from core.io.gltf import read_glb
from core.manifest import read_manifest
from tests.climate.test_real_files import D, _main

ARGS = ["--no-render", "--engine", "serial", "--frames", "2", "--particles", "0",
        "--streamlines", "0", "--no-volume", "--coastlines", "110m"]


def column_max(ctx: FrameContext, row) -> Iterator[Piece]:
    """The field's maximum over the column, as a sheet at ground level."""

    def make():
        top = np.nanmax(ctx.values, axis=0)
        colors = colormaps.apply(top, ctx.params.colormap, *ctx.params.range)
        mesh = stages.surface_layer(top, ctx.lon, ctx.lat, ctx.proj, colors,
                                    drop_missing=True)
        return mesh, {"max": float(np.nanmax(top))}

    yield Piece(row.stem(), make)


COLUMN_MAX = P.Product("column_max", "mesh", "frame", {"opacity": 0.7, "shadow": False},
                       label="column maximum", build=column_max,
                       look_of=lambda lk, r: {"units": lk.params.units,
                                              "label": f"column maximum {r['max']:.4g}",
                                              "colormap": {**lk.colormap,
                                                           "attribute": "value"}})


@pytest.fixture
def with_row(monkeypatch):
    monkeypatch.setattr(P, "PRODUCTS", (*P.PRODUCTS, COLUMN_MAX))


def test_a_product_is_one_row_and_one_build_step(with_row, tmp_path, capsys):
    out = tmp_path / "run"
    files = [str(D / "A1B_north_america.nc")]
    assert _main([*files, "--out", str(out), *ARGS]) == 0
    m = read_manifest(out)
    for fr in m["frames"]:
        a = next(x for x in fr["assets"] if x["name"] == "column_max")
        assert a["kind"] == "mesh" and a["opacity"] == 0.7 and a["shadow"] is False
        assert a["colormap"]["attribute"] == "value" and a["colormap"]["name"]
        mesh = read_glb(out / a["path"])
        assert mesh.n_faces > 0
        rec = json.loads((out / a["path"]).with_name("frame.json").read_text())
        got = next(r for r in rec["products"] if r["product"] == "column_max")
        assert got["max"] > 0 and a["label"] == f"column maximum {got['max']:.4g}"
        assert "column_max.glb" in rec["files"]
    # a re-run with one more format keeps the product's files (their product keys are in
    # frame.json) and writes only the new format's
    before = {p: p.stat().st_mtime_ns for p in out.glob("assets/*/column_max.*")}
    assert before and not list(out.glob("assets/*/column_max.ply"))
    assert _main([*files, "--out", str(out), *ARGS, "--formats", "usd,glb,ply"]) == 0
    after = {p: p.stat().st_mtime_ns for p in out.glob("assets/*/column_max.*")}
    assert {p: after[p] for p in before} == before
    assert len(list(out.glob("assets/*/column_max.ply"))) == 2
    a = next(a for a in read_manifest(out)["frames"][0]["assets"] if a["name"] == "column_max")
    assert a["label"].startswith("column maximum ")
    assert any(x.endswith("column_max.ply") for x in a["alternates"])


def test_without_the_row_nothing_of_it_is_written(tmp_path):
    out = tmp_path / "run"
    assert _main([str(D / "A1B_north_america.nc"), "--out", str(out), *ARGS]) == 0
    assert not list(out.glob("assets/*/column_max.*"))
    names = {a["name"] for fr in read_manifest(out)["frames"] for a in fr["assets"]}
    assert "column_max" not in names and "layer" in names
