"""``vizpipe COMMAND``: one console script whose subcommands are the modules' commands (same
help, flags, exit statuses, one-line errors), and the pipelines' entry modules as aliases of
the commands the app layer registers as entry points (core.entrypoints)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from core.entrypoints import GROUP_APP, GROUP_MAIN, entry_command, run_entry
from vizpipe_app import cli, runner

ROOT = Path(__file__).resolve().parents[2]
VIZPIPE = Path(sys.executable).with_name("vizpipe")
MODULES = {"materials": "materials_pipeline", "climate": "climate_pipeline", "render": "render",
           "preview": "render.preview", "demo": "vizpipe_app.demo",
           "launch": "vizpipe_app.launch", "scaling": "vizpipe_app.scaling"}


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=str(ROOT))


def test_the_subcommands_are_the_modules_commands():
    assert {c.name: c.module for c in cli.COMMANDS} == MODULES
    for c in cli.COMMANDS:
        assert callable(c.load()), c


def test_vizpipe_help_lists_every_subcommand():
    proc = _run([str(VIZPIPE), "--help"])
    assert proc.returncode == 0, proc.stderr
    words = " ".join(proc.stdout.split())  # argparse wraps the lines
    for name, module in MODULES.items():
        assert f"\n    {name}" in proc.stdout and f"(python -m {module})" in words


@pytest.mark.parametrize("name", list(MODULES))
def test_subcommand_help_is_the_commands_help(name, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([name, "--help"])
    assert exc.value.code == 0
    ours = capsys.readouterr().out
    c = {c.name: c for c in cli.COMMANDS}[name]
    with pytest.raises(SystemExit) as exc:
        c.load()(["--help"])
    assert exc.value.code == 0
    assert ours == capsys.readouterr().out and ours.startswith("usage: ")


def test_same_help_exit_status_and_error_line_as_python_m():
    for args in (["--help"], ["--frames", "x"]):
        a = _run([str(VIZPIPE), "materials", *args])
        b = _run([sys.executable, "-m", "materials_pipeline", *args])
        assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr), args
    assert a.returncode == 2 and a.stderr.startswith("error: --frames: ")
    assert a.stderr.count("\n") == 1


def test_no_or_unknown_command_is_one_error_line():
    for args in ([], ["nope"]):
        proc = _run([sys.executable, "-m", "vizpipe_app", *args])
        assert proc.returncode == 2 and proc.stderr.startswith("error: "), args
        assert proc.stderr.count("\n") == 1 and "see vizpipe --help" in proc.stderr


def test_pipeline_commands_are_registered_entry_points():
    expected = {(GROUP_MAIN, "materials"): runner.materials_main,
                (GROUP_MAIN, "climate"): runner.climate_main,
                (GROUP_APP, "materials"): runner.materials_app,
                (GROUP_APP, "climate"): runner.climate_app}
    for (group, name), func in expected.items():
        assert len(entry_points(group=group, name=name)) == 1, (group, name)
        assert entry_command(group, name) is func
    (script,) = entry_points(group="console_scripts", name="vizpipe")
    assert script.value == "vizpipe_app.cli:main"


def test_pipeline_entry_modules_import_no_app_module():
    for pipeline in ("materials_pipeline", "climate_pipeline"):
        for entry in ("__main__.py", "app.py"):
            text = (ROOT / pipeline / entry).read_text()
            assert "vizpipe_app" not in text.split('"""', 2)[-1], (pipeline, entry)


def test_a_missing_entry_point_is_one_error_line(capsys):
    with pytest.raises(SystemExit) as exc:
        run_entry(GROUP_MAIN, "no-such-pipeline", [])
    assert exc.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: no command 'no-such-pipeline' in the entry-point group "
                          "'vizpipe.main'") and "make venv" in err and err.count("\n") == 1


def test_an_uninstalled_checkout_reads_the_entry_points_from_its_pyproject(monkeypatch):
    """``--pythonpath=<checkout>`` with a venv of requirements.lock only (MareNostrum's second
    way): no installed metadata, the same table from pyproject.toml."""
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points", lambda **kw: ())
    assert entry_command(GROUP_MAIN, "climate") is runner.climate_main
    assert entry_command(GROUP_APP, "materials") is runner.materials_app
