"""RenderSettings: the options of ``python -m render`` as one frozen value (issue #23)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from render.driver import build_parser
from render.settings import RenderSettings


def _parse(argv: list[str]) -> RenderSettings:
    return RenderSettings.from_args(build_parser().parse_args(argv))


def test_parser_defaults_are_the_settings():
    assert _parse(["run"]) == RenderSettings(run_dir=Path("run"))


@pytest.mark.parametrize("settings", [
    RenderSettings(run_dir=Path("/r")),
    RenderSettings(run_dir=Path("r"), frames=(2, None), resolution=(320, 180), samples=4,
                   device="GPU", chunk=3, movie=False, blend=False, force=True, draft=True,
                   engine="serial", workers=2, dry_run=True),
    RenderSettings(run_dir=Path("r"), frames=(None, 5)),
    RenderSettings(run_dir=Path("r"), frames=(1, 2), engine="local", workers=4, draft=True),
])
def test_to_argv_parses_back(settings):
    assert _parse(settings.to_argv()) == settings


def test_argv_of_the_pipelines_render():
    """The child command of a pipeline's render, as it was spelled before the settings."""
    s = RenderSettings(run_dir=Path("/o"), engine="local", workers=3, draft=True)
    assert s.to_argv() == ["/o", "--engine", "local", "--workers", "3", "--draft"]
    assert RenderSettings(run_dir=Path("/o"), dry_run=True).to_argv() == ["/o", "--dry-run"]


def test_frozen_and_checked():
    s = RenderSettings(run_dir=Path("r"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.samples = 3  # type: ignore[misc]
    with pytest.raises(ValueError, match="device"):
        RenderSettings(run_dir=Path("r"), device="TPU")
    with pytest.raises(ValueError, match="chunk"):
        RenderSettings(run_dir=Path("r"), chunk=0)
