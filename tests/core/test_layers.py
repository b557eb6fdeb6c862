"""The packages' imports point down only: vizpipe_app -> pipelines | render -> core.

``make check`` runs the same import-linter contract (pyproject.toml, [tool.importlinter]);
here it runs in the suite too, so an import that closes a circle fails the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "climate_pipeline", "materials_pipeline", "render", "vizpipe_app")


def test_import_linter_contract_is_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint)], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "1 kept, 0 broken" in proc.stdout
    assert "ignore_imports" not in (REPO / "pyproject.toml").read_text()  # no exception


def test_core_imports_no_other_package_and_render_no_pipeline():
    """The same facts from grimp's graph directly (imports inside functions included)."""
    graph = grimp.build_graph(*PACKAGES)
    for low, high in [("core", "render"), ("core", "climate_pipeline"),
                      ("core", "materials_pipeline"), ("core", "vizpipe_app"),
                      ("render", "climate_pipeline"), ("render", "materials_pipeline"),
                      ("climate_pipeline", "materials_pipeline"),
                      ("materials_pipeline", "climate_pipeline"),
                      # no exception for the entry modules either (core.entrypoints)
                      ("climate_pipeline", "vizpipe_app"), ("materials_pipeline", "vizpipe_app"),
                      ("render", "vizpipe_app")]:
        chains = graph.find_shortest_chains(importer=low, imported=high)
        assert not chains, f"{low} imports {high}: {sorted(chains)[:3]}"
