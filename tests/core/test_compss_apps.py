"""The COMPSs applications end to end with the stand-in ``pycompss`` (see test_runtime.py).

* PyCOMPSs's sequential mode (``--engine compss`` where pycompss is importable but not
  launched, as on a login node): both pipelines' graphs go through (stand-in) PyCOMPSs's
  ``@task`` with the declared directions; the render uses the subprocess form of the chunk
  task there, since ``@container`` raises ``NotInPyCOMPSsException`` outside the runtime.
* "Launched" (the stand-in's runtime flag): ``materials_pipeline/app.py`` converts and renders
  in one process, each chunk through ``@container`` over ``@binary``: the stand-in runs the
  documented ``singularity exec --bind <sandbox> --bind <appdir> --pwd <sandbox> <options>
  <image> blender <args>`` with a fake ``singularity`` whose image's ``blender`` is the same
  wrapper as containers/blender.def's (``python -m render.blender_chunk "$@"``), so real
  Blender (the bpy wheel) renders the frames.
* The container task on the local engine runs ``blender`` = ``python -m render.blender_chunk``.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.manifest import read_manifest
from core.rundir import RunDir
from render import paths as rpaths
from tests.core.test_runtime import write_fake_pycompss

REPO = Path(__file__).resolve().parents[2]
RES = ["--resolution", "64x48", "--samples", "1"]

FAKE_SINGULARITY = """#!/bin/bash
# stand-in for `singularity exec [--bind P]... [--pwd D] IMAGE CMD ARGS...` (not Singularity)
printf '%q ' "$@" >> "$FAKE_SINGULARITY_LOG"; echo >> "$FAKE_SINGULARITY_LOG"
[ "$1" = exec ] || { echo "fake singularity: only exec" >&2; exit 2; }
shift
wd=
while [ $# -gt 0 ]; do
  case "$1" in
    --bind) [ -e "${2%%:*}" ] || { echo "fake singularity: bind $2: no such path" >&2; exit 3; }
            shift 2 ;;
    --pwd) wd=$2; shift 2 ;;
    -*) echo "fake singularity: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
image=$1; shift
[ -f "$image" ] || { echo "fake singularity: no image $image" >&2; exit 4; }
cd "${wd:-$PWD}" && PATH="${image%.sif}.bin:$PATH" exec "$@"
"""


def _executable(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture(scope="module")
def stage(tmp_path_factory):
    """Stand-in pycompss, fake singularity, fake image (with its `blender`), one cube file."""
    import ase.io
    from ase import Atoms

    root = tmp_path_factory.mktemp("compss")
    write_fake_pycompss(root / "fake")
    _executable(root / "bin" / "singularity", FAKE_SINGULARITY)
    image = root / "images" / "blender.sif"
    image.parent.mkdir()
    image.write_bytes(b"fake image")
    _executable(root / "images" / "blender.bin" / "blender",
                f'#!/bin/bash\nexec {shlex.quote(sys.executable)} -m render.blender_chunk "$@"\n')
    atoms = Atoms("OH2", positions=[[4, 4, 4], [4.76, 4.59, 4], [3.24, 4.59, 4]],
                  cell=[8, 8, 8], pbc=False)
    x = np.arange(24) * 8 / 24
    g = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1)
    rho = sum(np.exp(-((g - p) ** 2).sum(-1) / 0.5) for p in atoms.positions)
    (root / "inputs").mkdir()
    cube = root / "inputs" / "water.cube"
    ase.io.write(cube, atoms, format="cube", data=rho)
    return {"root": root, "image": image, "cube": cube}


def _env(stage: dict, launched: bool, log: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(stage["root"] / "fake"), str(REPO)]),
               FAKE_PYCOMPSS_LAUNCHED="1" if launched else "0", FAKE_PYCOMPSS_LOG=str(log),
               FAKE_SINGULARITY_LOG=str(log.with_suffix(".singularity")),
               PATH=os.pathsep.join([str(stage["root"] / "bin"), os.environ.get("PATH", "")]),
               VIZPIPE_BLENDER_IMAGE=str(stage["image"]), VIZPIPE_PROGRESS="0")
    for name in ("VIZPIPE_ENGINE", "VIZPIPE_CU_RENDER", "VIZPIPE_CONTAINER_BINDS",
                 "VIZPIPE_BINARY_BLENDER"):
        env.pop(name, None)
    return env


def _run(cmd: list[str], env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          cwd=str(REPO))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _frames_done(run: Path, n: int) -> None:
    for i in range(n):
        assert rpaths.png_size(rpaths.final_frame(run, i)) == (64, 48), i


@pytest.fixture(scope="module")
def sequential_materials(stage):
    """`python -m materials_pipeline --engine compss`, not launched: sequential mode."""
    run, log = stage["root"] / "seq", stage["root"] / "seq.log"
    _run([sys.executable, "-m", "materials_pipeline", str(stage["cube"]), "--out", str(run),
          "--engine", "compss", "--orbit-frames", "2", "--iso", "0.3", *RES],
         _env(stage, False, log))
    return run, log


def test_sequential_mode_materials_with_render(sequential_materials):
    run, log = sequential_materials
    calls = log.read_text().splitlines()
    # every task went through (stand-in) PyCOMPSs's @task, with PyCOMPSs's direction objects
    assert "build_frame src=FILE_IN" in calls
    assert "render_chunk" in calls and "write_blend" in calls  # the subprocess form here
    assert not log.with_suffix(".singularity").exists()  # no container outside the runtime
    assert len(read_manifest(run)["frames"]) == 2
    _frames_done(run, 2)


@pytest.mark.parametrize("launched", [False, True], ids=["sequential", "launched-app"])
def test_climate_graph_under_compss(stage, tmp_path, launched):
    from climate_pipeline import default_data as dd

    nc = dd.write_netcdf(tmp_path / "pm10.nc", {"nlon": 30, "nlat": 20, "nz": 4, "hours": 2})
    run, log = tmp_path / "run", tmp_path / "calls.log"
    args = [str(nc), "--out", str(run), "--var", "pm10", "--no-render", "--frames", "2",
            "--particles", "100", "--batches", "2", "--coastlines", "110m", "--thresholds", "13"]
    entry = ([str(REPO / "climate_pipeline" / "app.py")] if launched
             else ["-m", "climate_pipeline", "--engine", "compss"])
    _run([sys.executable, *entry, *args], _env(stage, launched, log))
    calls = log.read_text().splitlines()
    assert calls.count("build_frame paths=COLLECTION_FILE_IN") == 2
    assert calls.count("particle_batch wind_paths=COLLECTION_FILE_IN") == 2
    man = read_manifest(run)
    assert len(man["frames"]) == 2
    fdir = RunDir(run).frame_dir(1)  # batch 1's particles, in the default formats (GLB, USD)
    assert (fdir / "particles_b01.glb").exists() and (fdir / "particles_b01.usdc").exists()
    (a,) = [a for a in man["frames"][1]["assets"] if a["name"] == "particles_b01"]
    assert (run / a["path"]).resolve() == (fdir / "particles_b01.glb").resolve()
    assert [(run / p).resolve() for p in a["alternates"]] == \
        [(fdir / "particles_b01.usdc").resolve()]


def test_launched_app_renders_through_container_and_binary(stage):
    run, log = stage["root"] / "app", stage["root"] / "app.log"
    env = dict(_env(stage, True, log), VIZPIPE_CU_RENDER="2")  # Cycles threads = CUs
    _run([sys.executable, str(REPO / "materials_pipeline" / "app.py"), str(stage["cube"]),
          "--out", str(run), "--orbit-frames", "2", "--iso", "0.3", *RES], env)
    _frames_done(run, 2)
    lines = [shlex.split(x) for x in log.with_suffix(".singularity").read_text().splitlines()]
    assert len(lines) == 1  # one chunk of two frames
    words = lines[0]
    # exec --bind <sandbox> --bind <appdir> --pwd <sandbox> <options> <image> blender <args>
    assert words[:2] == ["exec", "--bind"] and words[3] == "--bind" and words[5] == "--pwd"
    assert words[2] == words[6] and words[4] == str(REPO / "materials_pipeline")
    i = words.index(str(stage["image"]))
    binds = {words[k + 1] for k in range(7, i, 2) if words[k] == "--bind"}
    assert binds == {str(REPO), str(run), str(stage["cube"].parent)}  # the paths the job uses
    assert words[i + 1:] == ["blender", str(run), "--frames", "0,1", "--resolution", "64x48",
                             "--samples", "1", "--device", "CPU", "--threads", "2"]
    calls = log.read_text().splitlines()
    assert "build_frame src=FILE_IN" in calls and "render_chunk" not in calls


def test_container_task_on_the_local_engine_runs_the_chunk_script(sequential_materials,
                                                                  monkeypatch):
    from core.runtime import use_engine, wait_on
    from render.process import blender_command
    from render.tasks import render_chunk_container

    run, _log = sequential_materials
    frame = rpaths.final_frame(run, 1)
    frame.unlink()
    monkeypatch.setenv("VIZPIPE_BINARY_BLENDER", shlex.join(blender_command([])))
    with use_engine("serial"):
        assert wait_on(render_chunk_container(str(run), "1", "64x48", 1, "CPU", 1)) == 0
    assert rpaths.png_size(frame) == (64, 48)
