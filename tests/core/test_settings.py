"""The run settings: one frozen value per run, built once from the command line, recorded in
the manifest; nothing below the CLI reads the ``argparse.Namespace``."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from climate_pipeline import settings as cs
from core.errors import BadInputError
from core.settings import RunSettings, from_namespace, split_list
from materials_pipeline import settings as ms

ROOT = Path(__file__).resolve().parents[2]


def test_climate_settings_from_the_command_line(tmp_path):
    ns = cs.build_parser().parse_args(["a.nc", "b.nc", "--out", str(tmp_path), "--globe",
                                       "--wind", "u, v", "--thresholds", "1,2.5",
                                       "--no-render", "--no-volume", "--particles", "-3",
                                       "--resolution", "640x360"])
    s = cs.settings_from_args(ns)
    assert isinstance(s, cs.ClimateSettings) and isinstance(s, RunSettings)
    assert s.inputs == ("a.nc", "b.nc") and s.out == tmp_path and s.mode == "globe"
    assert s.wind == ("u", "v") and s.thresholds == (1.0, 2.5) and s.particles == 0
    assert s.render is False and s.volume is False and s.resolution == (640, 360)
    assert s.formats == ("usd", "glb") and s.wind_files == () and s.frames is None
    assert s.full_res is False  # isosurfaces simplified by default (core.lod)
    d = cs.settings_from_args(cs.build_parser().parse_args(["--out", str(tmp_path)]))
    assert d.mode == "map" and d.render and d.volume and d.particles == 20000
    p = cs.settings_from_args(cs.build_parser().parse_args(
        ["--out", str(tmp_path), "--formats", "PLY, usd", "--full-res"]))
    assert p.formats == ("usd", "glb", "ply") and p.full_res  # PLY opt-in; GLB always


def test_materials_settings_from_the_command_line(tmp_path):
    ns = ms.build_parser().parse_args(["CHGCAR", "--out", str(tmp_path), "--formats", "usd",
                                       "--polyhedra", "Ti, Si", "--supercell", "2",
                                       "--color-by", "LOCPOT", "--dry-run"])
    s = ms.settings_from_args(ns)
    assert s.formats == ("usd", "glb")  # the renderer loads GLB: always written
    assert s.polyhedra == ("Ti", "Si") and s.ligands == () and s.supercell == (2, 2, 2)
    assert s.color_by == ("LOCPOT",) and s.dry_run and s.render and s.iso is None
    with pytest.raises(BadInputError, match=r"--formats: unknown format\(s\) obj;"):
        ms.settings_from_args(ms.build_parser().parse_args(["--out", "x", "--formats",
                                                            "ply,obj"]))


def test_settings_are_frozen_and_replaced_not_mutated(tmp_path):
    s = ms.MaterialsSettings(out=tmp_path, inputs=("a",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.title = "x"  # type: ignore[misc]
    t = s.replace(title="Water", inputs=("b",))
    assert (s.title, s.inputs) == (None, ("a",)) and (t.title, t.inputs) == ("Water", ("b",))
    hash(t)  # frozen and all-immutable fields: hashable


@pytest.mark.parametrize("cls", [cs.ClimateSettings, ms.MaterialsSettings])
def test_settings_to_json_round_trips(cls, tmp_path):
    s = cls(out=tmp_path / "run", inputs=("x.nc",))
    j = json.loads(json.dumps(s.to_json()))
    assert j["out"] == str(tmp_path / "run") and j["inputs"] == ["x.nc"]
    assert set(j) == {f.name for f in dataclasses.fields(cls)}
    back = cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in j.items()})
    assert back == dataclasses.replace(s, out=str(tmp_path / "run"))


def test_from_namespace_maps_negated_options():
    import argparse

    ns = argparse.Namespace(out="o", inputs=["a"], no_render=True, no_volume=False,
                            unknown_option=1)
    s = from_namespace(RunSettings, ns)
    assert s.out == Path("o") and s.inputs == ("a",) and not s.render and s.volume
    assert split_list(" a, ,b ") == ("a", "b") and split_list(None) == ()


def _namespace_readers(path: Path) -> list[str]:
    """Where a module reads an argparse.Namespace: annotations naming it, getattr(args, ...)."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "Namespace":
            found.append(f"{path.name}:{node.lineno} argparse.Namespace")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "getattr" and node.args
                and isinstance(node.args[0], ast.Name) and node.args[0].id in ("args", "ns")):
            found.append(f"{path.name}:{node.lineno} getattr({node.args[0].id}, ...)")
    return found


@pytest.mark.parametrize("package", ["climate_pipeline", "materials_pipeline"])
def test_nothing_below_the_cli_reads_the_namespace(package):
    """Only the pipeline's ``settings.py`` (its CLI) sees argparse's Namespace."""
    modules = [p for p in (ROOT / package).rglob("*.py") if p.name != "settings.py"]
    assert modules
    assert [hit for p in modules for hit in _namespace_readers(p)] == []
