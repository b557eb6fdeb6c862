"""``--dry-run`` and ``python -m vizpipe_app.launch``: the printed command lines, checked
against the flags the COMPSs manual documents (../shared/PYCOMPSS.md) and for absolute,
existing paths."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core import containers
from core.rundir import RunDir
from vizpipe_app import launch

REPO = Path(__file__).resolve().parents[2]
#: the documented flags (PYCOMPSS.md, "Launching")
ENQUEUE_FLAGS = {"--project_name", "--qos", "--num_nodes", "--exec_time", "--cpus_per_node",
                 "--worker_working_dir", "--log_level", "--lang", "--pythonpath",
                 "--container_image", "--container_compss_path", "--container_opts",
                 "--wall_clock_limit"}
RUNCOMPSS_FLAGS = {"--lang", "--pythonpath", "-g", "-t", "--summary", "--log_level"}
_VARS = ("VIZPIPE_CU_RENDER", "VIZPIPE_ACCOUNT", "VIZPIPE_QOS", "VIZPIPE_NODES",
         "VIZPIPE_EXEC_TIME", "VIZPIPE_CPUS_PER_NODE", "VIZPIPE_IMAGE", "VIZPIPE_CONTAINER_BINDS",
         "VIZPIPE_BLENDER_IMAGE", "VIZPIPE_CONTAINER_COMPSS_PATH")


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _VARS}
    env.update(extra)
    return env


def _run(args: list[str], cwd: Path, env: dict | None = None, ok: bool = True
         ) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, *args], cwd=str(cwd), env=env or _env(),
                          capture_output=True, text=True, timeout=300)
    if ok:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _commands(stdout: str) -> dict[str, list[list[str]]]:
    """Printed command lines by program (comment lines skipped)."""
    out: dict[str, list[list[str]]] = {}
    for line in stdout.splitlines():
        if line.strip() and not line.startswith("#"):
            words = shlex.split(line)
            out.setdefault(Path(words[0]).name, []).append(words)
    return out


def _flags(words: list[str], app: str) -> tuple[dict[str, str | None], list[str]]:
    """The launcher's own ``--flag[=value]`` words (before the app), and the app's args."""
    i = words.index(app)
    flags = {}
    for w in words[1:i]:
        name, _, value = w.partition("=")
        flags[name] = value if "=" in w else None
    return flags, words[i + 1:]


def _check_enqueue(words: list[str], pipeline: str, exec_time: int) -> dict[str, str | None]:
    app = str(REPO / launch.APPS[pipeline])
    flags, _ = _flags(words, app)
    assert set(flags) <= ENQUEUE_FLAGS, set(flags) - ENQUEUE_FLAGS
    assert {"--project_name", "--qos", "--num_nodes", "--exec_time", "--cpus_per_node",
            "--worker_working_dir", "--lang", "--pythonpath", "--wall_clock_limit"} <= set(flags)
    assert flags["--worker_working_dir"] == "shared_disk" and flags["--lang"] == "python"
    assert flags["--pythonpath"] == str(REPO) and Path(app).is_file()
    assert int(flags["--exec_time"]) == exec_time
    assert 0 < int(flags["--wall_clock_limit"]) < exec_time * 60
    return flags


@pytest.fixture(scope="module")
def nc(tmp_path_factory):
    from climate_pipeline import default_data as dd

    return dd.write_netcdf(tmp_path_factory.mktemp("nc") / "pm10.nc",
                           {"nlon": 20, "nlat": 16, "nz": 3, "hours": 2})


def test_climate_dry_run_prints_the_lines_and_runs_nothing(nc, tmp_path):
    env = _env(VIZPIPE_ACCOUNT="bsc99", VIZPIPE_QOS="gp_bsccase", VIZPIPE_NODES="4",
               VIZPIPE_EXEC_TIME="90")
    rel = os.path.relpath(nc, tmp_path)
    proc = _run(["-m", "climate_pipeline", rel, "--out", "run", "--var", "pm10",
                 "--engine", "local", "--dry-run"], tmp_path, env)
    assert not (tmp_path / "run").exists()  # nothing ran
    cmds = _commands(proc.stdout)
    assert set(cmds) == {"runcompss", "enqueue_compss"}
    app = str(REPO / "climate_pipeline" / "app.py")
    args = [str(nc), "--out", str(tmp_path / "run"), "--var", "pm10"]  # absolute, no engine
    flags, app_args = _flags(cmds["runcompss"][0], app)
    assert set(flags) <= RUNCOMPSS_FLAGS and {"-g", "-t", "--summary"} <= set(flags)
    assert flags["--pythonpath"] == str(REPO) and flags["--lang"] == "python"
    assert app_args == args
    flags = _check_enqueue(cmds["enqueue_compss"][0], "climate", 90)
    assert (flags["--project_name"], flags["--qos"], flags["--num_nodes"]) == (
        "bsc99", "gp_bsccase", "4")
    assert "--container_image" not in flags  # no image set
    assert cmds["enqueue_compss"][0][-len(args):] == args


def test_core_launch_enqueue_with_an_image(nc, tmp_path):
    sif = tmp_path / "pipeline.sif"
    sif.write_bytes(b"x")
    proc = _run(["-m", "vizpipe_app.launch", "enqueue", "climate", "--account", "bsc11",
                 "--exec-time", "1", "--image", str(sif), "--", str(nc), "--out",
                 str(tmp_path / "r")], tmp_path)
    words = shlex.split(proc.stdout)
    flags = _check_enqueue(words, "climate", 1)
    assert flags["--container_image"] == str(sif) and flags["--project_name"] == "bsc11"
    assert flags["--container_compss_path"] == "/opt/COMPSs"
    opts = shlex.split(flags["--container_opts"])
    binds = opts[1::2]
    assert set(opts[::2]) == {"--bind"} and all(Path(b).is_absolute() for b in binds)
    assert {str(REPO), str(nc.parent), str(tmp_path / "r")} <= set(binds)


def test_core_launch_runcompss_options(tmp_path):
    proc = _run(["-m", "vizpipe_app.launch", "runcompss", "materials", "--no-trace",
                 "--log-level", "off", "--", "--default", "--out", "x", "--frames", "2"],
                tmp_path)
    words = shlex.split(proc.stdout)
    flags, args = _flags(words, str(REPO / "materials_pipeline" / "app.py"))
    assert set(flags) == {"--lang", "--pythonpath", "-g", "--summary", "--log_level"}
    assert args == ["--default", "--out", str(tmp_path / "x"), "--frames", "2"]


def test_core_launch_bad_environment_one_line(tmp_path):
    proc = _run(["-m", "vizpipe_app.launch", "enqueue", "climate", "--", "--default", "--out", "x"],
                tmp_path, _env(VIZPIPE_NODES="zero"), ok=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "error: VIZPIPE_NODES='zero': expected a whole number >= 1"


@pytest.mark.parametrize("minutes", [1, 2, 30, 120, 2880])
def test_wall_clock_limit_below_exec_time(minutes):
    assert 0 < launch.wall_clock_limit(minutes) < minutes * 60


def test_bind_paths_are_absolute_folders_without_nesting(tmp_path, monkeypatch):
    (tmp_path / "a" / "b").mkdir(parents=True)
    f = tmp_path / "a" / "b" / "in.nc"
    f.write_bytes(b"")
    monkeypatch.setenv("VIZPIPE_CONTAINER_BINDS", f"{tmp_path / 'a'}{os.pathsep}/gpfs/x")
    binds = containers.bind_paths([f, tmp_path / "run"])
    assert sorted(binds) == sorted([str(REPO), "/gpfs/x", str(tmp_path / "a"),
                                    str(tmp_path / "run")])  # in/a/b/in.nc: inside a
    opts = containers.container_options(binds)
    assert containers.covered(f, opts) and not containers.covered("/elsewhere", opts)


@pytest.fixture(scope="module")
def materials_run(tmp_path_factory):
    """A converted (not rendered) materials run: 3 orbit frames."""
    import ase.io
    from ase import Atoms

    d = tmp_path_factory.mktemp("mat")
    atoms = Atoms("OH2", positions=[[4, 4, 4], [4.76, 4.59, 4], [3.24, 4.59, 4]],
                  cell=[8, 8, 8])
    x = np.arange(16) * 0.5
    g = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1)
    rho = sum(np.exp(-((g - p) ** 2).sum(-1) / 0.5) for p in atoms.positions)
    ase.io.write(d / "w.cube", atoms, format="cube", data=rho)
    _run(["-m", "materials_pipeline", str(d / "w.cube"), "--out", str(d / "run"),
          "--no-render", "--engine", "serial", "--orbit-frames", "3", "--iso", "0.3",
          "--resolution", "64x48", "--samples", "2"], d)
    return d / "run"


def test_render_dry_run_lines_per_chunk(materials_run, tmp_path):
    sif = tmp_path / "blender.sif"
    env = _env(VIZPIPE_BLENDER_IMAGE=str(sif), VIZPIPE_CU_RENDER="3")
    proc = _run(["-m", "render", str(materials_run), "--chunk", "2", "--workers", "2",
                 "--dry-run"], tmp_path, env)
    assert not RunDir(materials_run).frames.exists()  # nothing rendered
    cmds = _commands(proc.stdout)
    chunk_args = [[str(materials_run), "--frames", f, "--resolution", "64x48", "--samples", "2",
                   "--device", "CPU", "--threads"] for f in ("0,1", "2")]
    local_args = [[str(materials_run), "--frames", f, "--device", "CPU", "--threads"]
                  for f in ("0,1", "2")]
    sing = cmds["singularity"]
    assert len(sing) == 2
    for words, expected in zip(sing, chunk_args, strict=True):
        i = words.index(str(sif))
        assert words[:2] == ["singularity", "exec"] and words[i + 1] == "blender"
        binds = words[3:i:2]
        assert set(words[2:i:2]) == {"--bind"} and {str(REPO), str(materials_run)} <= set(binds)
        assert words[i + 2:-1] == expected and words[-1] == "3"  # $VIZPIPE_CU_RENDER
    local = cmds[Path(sys.executable).name]
    assert [w[:3] for w in local] == [[sys.executable, "-m", "render.blender_chunk"]] * 2
    assert [w[3:9] for w in local] == local_args and all(int(w[9]) >= 1 for w in local)
    assert [w[10:] for w in local] == [["--resolution", "64x48", "--samples", "2"]] * 2


def test_pipeline_dry_run_includes_render_lines_once_there_is_a_manifest(materials_run,
                                                                          tmp_path):
    proc = _run(["-m", "materials_pipeline", "--out", str(materials_run), "--dry-run"],
                tmp_path)
    cmds = _commands(proc.stdout)
    assert {"runcompss", "enqueue_compss", "singularity"} <= set(cmds)
    assert cmds["singularity"][0][-11] == str(materials_run)


def test_core_launch_exec_runs_the_line(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "runcompss"  # a stand-in launcher: prints what it was given
    fake.write_text('#!/bin/sh\necho "launched: $*"\n')
    fake.chmod(0o755)
    args = ["-m", "vizpipe_app.launch", "runcompss", "climate", "--exec", "--", "--default",
            "--out", "x"]
    proc = _run(args, tmp_path, _env(PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}"))
    assert proc.stdout.startswith("launched: --lang=python") and str(tmp_path / "x") in proc.stdout
    proc = _run(args, tmp_path, _env(PATH=str(tmp_path / "empty")), ok=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error: runcompss:")
