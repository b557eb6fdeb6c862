"""The environment is read in one place: core.settings.ENV_VARS lists every ``VIZPIPE_*``
variable (name, type, default, meaning) and :func:`core.settings.env` reads them, typed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core import memory
from core.errors import BadInputError
from core.settings import ENV_VARS, env, env_table_markdown, env_text, env_var

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("core", "render", "climate_pipeline", "materials_pipeline", "vizpipe_app",
           "containers", "tests")
SUFFIXES = {".py", ".c", ".h", ".sh", ".def"}
#: VIZPIPE_ words that are not environment variables
NOT_VARIABLES = {
    "VIZPIPE_SHIM",  # a module attribute: climate_pipeline/ppunpack.py's iris shim marker
    "VIZPIPE_ISO_TABLES_H",  # core/_isokernel/tables.h's include guard
    "VIZPIPE_ROOT",  # a shell variable of containers/marenostrum/common.sh
}
#: code that still reads VIZPIPE_* variables with os.environ: the task runtime, being
#: restructured (issue #23: VIZPIPE_ENGINE, VIZPIPE_WORKERS, VIZPIPE_PIN, VIZPIPE_BINARY_<NAME>)
NOT_YET = ("core/runtime/",)
NAME = re.compile(r"VIZPIPE_[A-Z0-9_]*")


def _files():
    yield ROOT / "Makefile"
    for top in SOURCES:
        for p in sorted((ROOT / top).rglob("*")):
            if p.suffix in SUFFIXES and p.is_file() and "__pycache__" not in p.parts:
                yield p


def _names() -> dict[str, str]:
    found: dict[str, str] = {}
    for p in _files():
        for m in NAME.finditer(p.read_text(errors="replace")):
            found.setdefault(m.group(0), str(p.relative_to(ROOT)))
    return found


def test_every_variable_in_the_code_is_in_the_table():
    rows = [v.name for v in ENV_VARS]
    prefixes = [v.prefix for v in ENV_VARS if v.prefix]
    bad = []
    for name, where in sorted(_names().items()):
        if name in NOT_VARIABLES or name == "VIZPIPE_":
            continue
        if name.endswith("_"):  # a prefix in code (f"VIZPIPE_BINARY_{...}", VIZPIPE_CU_*)
            ok = any(r.startswith(name) for r in rows)
        else:
            ok = name in rows or any(name.startswith(p) for p in prefixes)
        if not ok:
            bad.append(f"{name} ({where})")
    assert not bad, "VIZPIPE_ names missing from core.settings.ENV_VARS: " + ", ".join(bad)


def test_table_rows_are_unique_and_described():
    names = [v.name for v in ENV_VARS]
    assert len(names) == len(set(names))
    for v in ENV_VARS:
        assert v.name.startswith("VIZPIPE_") and v.meaning and v.reader, v
        assert v.type in ("bool", "int", "str", "path") and v.scope in ("run", "image", "test")
    table = env_table_markdown()
    assert table.count("\n") == len(ENV_VARS) + 1 and "`VIZPIPE_ENGINE`" in table


def test_package_code_reads_variables_only_through_core_settings():
    read = re.compile(r"""(os\.environ\.get|os\.getenv|os\.environ\[)\(?\s*["']VIZPIPE_""")
    bad = []
    for top in ("core", "render", "climate_pipeline", "materials_pipeline", "vizpipe_app"):
        for p in sorted((ROOT / top).rglob("*.py")):
            rel = str(p.relative_to(ROOT))
            if rel.startswith(NOT_YET) or "__pycache__" in p.parts:
                continue
            text = p.read_text()
            bad += [f"{rel}:{text.count(chr(10), 0, m.start()) + 1}"
                    for m in read.finditer(text) if "os.environ[" not in m.group(0)]
    assert not bad, bad


def test_unknown_names_are_refused():
    unknown = "VIZPIPE_" + "NO_SUCH"  # (not spelled out: the scan above would find it)
    with pytest.raises(KeyError, match=f"{unknown}.*VIZPIPE_ENGINE"):
        env(unknown)
    with pytest.raises(KeyError):
        env_text("VIZPIPE_BINARY_")  # a family needs a NAME
    assert env_var("VIZPIPE_BINARY_BLENDER").name == "VIZPIPE_BINARY_<NAME>"


def test_typed_values(monkeypatch):
    monkeypatch.delenv("VIZPIPE_DEBUG", raising=False)
    assert env("VIZPIPE_DEBUG") is False
    for text, value in [("1", True), ("Yes", True), ("on", True), ("0", False), ("off", False),
                        ("maybe", False), (" ", False)]:
        monkeypatch.setenv("VIZPIPE_DEBUG", text)
        assert env("VIZPIPE_DEBUG") is value, text
    for text, value in [("0", False), ("false", False), ("1", True), ("", True), ("x", True)]:
        monkeypatch.setenv("VIZPIPE_PROGRESS", text)
        assert env("VIZPIPE_PROGRESS") is value, text
    monkeypatch.delenv("VIZPIPE_NODES", raising=False)
    assert env("VIZPIPE_NODES") == 2 and env("VIZPIPE_NODES", 5) == 5
    monkeypatch.setenv("VIZPIPE_NODES", " 4 ")
    assert env("VIZPIPE_NODES") == 4
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv("VIZPIPE_NODES", bad)
        with pytest.raises(BadInputError, match=f"VIZPIPE_NODES='{re.escape(bad)}': expected "
                                                "a whole number >= 1"):
            env("VIZPIPE_NODES")
    monkeypatch.setenv("VIZPIPE_QOS", "  ")
    assert env("VIZPIPE_QOS") == "gp_debug"
    monkeypatch.setenv("VIZPIPE_QOS", " gp_bsccs ")
    assert env("VIZPIPE_QOS") == "gp_bsccs" and env_text("VIZPIPE_QOS") == "gp_bsccs"


def test_table_defaults_are_the_codes():
    from vizpipe_app.launch import EnqueueConfig

    row = {v.name: v for v in ENV_VARS}
    assert row["VIZPIPE_MEMORY_BUDGET_MB"].default == memory.DEFAULT_BUDGET_MB
    cfg = EnqueueConfig(account="a")
    assert row["VIZPIPE_QOS"].default == cfg.qos
    assert row["VIZPIPE_NODES"].default == cfg.nodes
    assert row["VIZPIPE_EXEC_TIME"].default == cfg.exec_time
    assert row["VIZPIPE_CPUS_PER_NODE"].default == cfg.cpus_per_node
    assert row["VIZPIPE_CONTAINER_COMPSS_PATH"].default == cfg.compss_path
