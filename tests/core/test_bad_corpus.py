"""A broken file never becomes a picture (issue #17): every case of the bad-input corpus
(``tests/data/bad/make_bad.py``: empty and random files under every known suffix, each format
cut short, NaN/Inf, impossible grid sizes, atom counts that disagree, bad option values) run
through ``python -m climate_pipeline`` / ``python -m materials_pipeline``, in-process (their
``main(argv)``) for speed, plus the cases that need processes of their own: a full disk
(``RLIMIT_FSIZE``), two runs into one ``--out`` at once, ``--out`` naming a file.

Each must end with a non-zero exit and exactly one ``error:`` line on stderr, the last, that
names the file (or the option) and shows no task call, parameter dict or traceback (those go
to the run's ``logs/errors.log``); nothing under a final name is written (no manifest, no
assets; temporaries only under core.atomic's names), except a series' frames before the bad
one, which are kept as they were. A hard kill mid-frame and a re-run: tests/core/test_resume.py.
"""

from __future__ import annotations

import atexit
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BAD = ROOT / "tests" / "data" / "bad"


def _load_make_bad():
    spec = importlib.util.spec_from_file_location("make_bad", BAD / "make_bad.py")
    mod = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules["make_bad"] = mod
    spec.loader.exec_module(mod)
    return mod


make_bad = _load_make_bad()
# written once, at collection (the case list is the corpus the script writes: 0.3 s)
_CORPUS = Path(tempfile.mkdtemp(prefix="bad_corpus_"))
atexit.register(shutil.rmtree, _CORPUS, ignore_errors=True)
ALL = list(make_bad.write_corpus(_CORPUS))


@pytest.fixture(scope="session")
def corpus() -> Path:
    return _CORPUS


BY_NAME = {c.name: c for c in ALL}


# ----------------------------------------------------------------------------- checks

def _error_line(err: str, must_name: str) -> str:
    """The one ``error:`` line of ``err``, checked: the last line, naming ``must_name``,
    with no task call, parameter dict or traceback anywhere."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, err[-3000:]
    line = errors[0]
    assert lines[-1] == line, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    assert "task " not in line and "{'" not in line, line
    assert must_name in line, (must_name, line)
    return line


def _final_names(out: Path) -> list[Path]:
    """Files under ``out`` that are results (anything but logs, the lock and core.atomic
    temporaries: ``.NAME.PID.tmpSUFFIX``)."""
    if not out.is_dir():
        return []
    keep = []
    for p in out.rglob("*"):
        rel = p.relative_to(out)
        if p.is_dir() or rel.parts[0] == "logs" or rel.as_posix() in ("run.log", ".lock"):
            continue
        if re.fullmatch(r"\..+\.\d+\.tmp.*", p.name):
            continue
        keep.append(p)
    return sorted(keep)


def _main(pipeline: str):
    if pipeline == "climate":
        from climate_pipeline.__main__ import main
    else:
        from materials_pipeline.__main__ import main
    return main


def _run_in_process(pipeline: str, argv: list[str], capfd) -> tuple[int, str]:
    logger = logging.getLogger("vizpipe")
    before = list(logger.handlers)
    capfd.readouterr()
    try:
        try:
            rc = _main(pipeline)(argv)
        except SystemExit as exc:
            rc = exc.code if isinstance(exc.code, int) else 1
    finally:
        for h in logger.handlers[:]:
            if h not in before:
                logger.removeHandler(h)
                h.close()
    return rc, capfd.readouterr().err


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.setenv("VIZPIPE_PROGRESS", "0")
    monkeypatch.delenv("VIZPIPE_DEBUG", raising=False)


# ----------------------------------------------------------------------------- the corpus

@pytest.mark.parametrize("name", [c.name for c in ALL])
def test_bad_case_is_one_error_line(name, corpus, tmp_path, capfd):
    case = BY_NAME[name]
    out = tmp_path / "run"
    inputs = [str(p) for p in case.input_paths(corpus)]
    argv = [*inputs, "--out", str(out), "--no-render", "--engine", "serial", *case.args]
    if case.pipeline == "climate":
        argv += ["--coastlines", "110m"]
        if "--particles" not in case.args:
            argv += ["--particles", "0"]
    t0 = time.perf_counter()
    rc, err = _run_in_process(case.pipeline, argv, capfd)
    assert rc not in (0, None), f"{name}: exit {rc}, expected failure; stderr:\n{err[-3000:]}"
    line = _error_line(err, case.must_name())
    if case.expect:
        assert any(w.lower() in line.lower() for w in case.expect), (case.expect, line)
    assert not (out / "manifest.json").exists()
    written = _final_names(out)
    if case.partial:  # the frames before the bad one are complete; nothing of the bad one
        assert (out / "assets" / "0000" / "frame.json").exists(), written
        assert not (out / "assets" / "0001").exists() or not any(
            (out / "assets" / "0001").iterdir()), written
    else:
        assert written == [], written
    assert time.perf_counter() - t0 < 60


def test_corpus_is_deterministic_and_small(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert [c.name for c in make_bad.write_corpus(a)] == [c.name for c in ALL]
    make_bad.write_corpus(b)
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    assert len(ALL) >= 30 and files
    for rel in files:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert sum((a / rel).stat().st_size for rel in files) < 3e6
    committed = sorted(p.relative_to(BAD) for p in BAD.rglob("*") if p.is_file()
                       and p.parent != BAD)
    if committed:  # the committed copy is what the script writes now
        assert committed == files
        for rel in files:
            assert (BAD / rel).read_bytes() == (a / rel).read_bytes(), rel


# ----------------------------------------------------------------------------- processes

def _env(**extra: str) -> dict[str, str]:
    # no .pyc writes: under a file-size limit Python would leave truncated ones behind
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1",
            "VIZPIPE_PROGRESS": "0", **extra}


def _cmd(pipeline: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"{pipeline}_pipeline", *args, "--no-render"]


def _frames_intact(out: Path) -> list[int]:
    """The frames whose frame.json lists files that all hold what it recorded (full
    SHA-256); fails on a frame record whose files do not."""
    import json

    from core.framecache import intact

    ok = []
    for meta_path in sorted(out.glob("assets/*/frame.json")):
        meta = json.loads(meta_path.read_text())
        sums = meta.get("checksums") or {}
        for f in meta.get("files", []):
            assert intact(meta_path.parent / f, sums.get(f), full=True), (meta_path, f)
        ok.append(int(meta_path.parent.name))
    return ok


CUBE = ROOT / "tests" / "data" / "real" / "materials" / "orca_grid25mo.cube"
WINDS = ROOT / "tests" / "data" / "real" / "climate" / "winds_descending_lon.nc"


@pytest.mark.parametrize("pipeline", ["climate", "materials"])
def test_out_naming_a_file_is_refused(pipeline, tmp_path, capfd):
    target = tmp_path / "results.txt"
    target.write_text("not a folder\n")
    src = WINDS if pipeline == "climate" else CUBE
    extra = ["--var", "pm25"] if pipeline == "climate" else []
    rc, err = _run_in_process(pipeline, [str(src), "--out", str(target), "--no-render",
                                         "--engine", "serial", *extra], capfd)
    assert rc == 1
    line = _error_line(err, str(target))
    assert "existing file" in line
    assert target.read_text() == "not a folder\n"


@pytest.mark.parametrize("pipeline, limit", [
    ("materials", 4000), ("materials", 20000),
    pytest.param("climate", 30000, marks=pytest.mark.slow)])  # 12 s: workers, particles
def test_full_disk_is_one_line(pipeline, limit, tmp_path):
    """RLIMIT_FSIZE in the child (and its workers): a write past it fails with EFBIG, as a
    full disk fails with ENOSPC; one line naming the file and the file size limit."""
    import resource

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    out = tmp_path / "run"
    if pipeline == "climate":
        args = [str(WINDS), "--var", "pm25", "--frames", "3", "--particles", "100",
                "--coastlines", "110m"]
    else:
        args = [str(CUBE)]
    res = subprocess.run(_cmd(pipeline, *args, "--out", str(out), "--engine", "local",
                              "--workers", "2"),
                         capture_output=True, text=True, timeout=300, env=_env(), cwd=ROOT,
                         preexec_fn=limit_file_size)
    assert res.returncode == 1, res.stderr[-3000:]
    line = _error_line(res.stderr, str(out))
    assert "file size limit" in line and "disk space" in line, line
    assert not (out / "manifest.json").exists()
    _frames_intact(out)  # whatever frame records exist hold what they say
    log = (out / "logs" / "errors.log").read_text()
    assert "File too large" in log and "Traceback" in log


def _hold_lock(out: Path) -> subprocess.Popen:
    code = ("import sys; from core.rundir import run_lock\n"
            "with run_lock(sys.argv[1]):\n"
            "    print('held', flush=True); sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True, env=_env(), cwd=ROOT)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_second_run_into_the_same_out_is_refused(tmp_path, capfd):
    out = tmp_path / "run"
    holder = _hold_lock(out)
    try:
        rc, err = _run_in_process("materials", [str(CUBE), "--out", str(out), "--no-render",
                                                "--engine", "serial"], capfd)
        assert rc == 1
        line = _error_line(err, str(out))
        assert f"another run is writing here (pid {holder.pid})" in line, line
        assert "expected one run per --out" in line
        assert _final_names(out) == []
    finally:
        holder.communicate("", timeout=30)
    # released when its holder ends: the same command now runs
    rc, err = _run_in_process("materials", [str(CUBE), "--out", str(out), "--no-render",
                                            "--engine", "serial"], capfd)
    assert rc in (0, None), err[-3000:]
    assert (out / "manifest.json").exists()


@pytest.mark.slow
def test_two_real_runs_at_once(tmp_path):
    """Two commands into one --out: the second, started while the first converts, refuses
    with the first's pid; the first completes as if alone; a SIGKILLed holder frees it."""
    import signal

    from vizpipe_app.scaling import materials_inputs

    inputs = [str(p) for p in materials_inputs(tmp_path / "in", 8, 48)]
    out = tmp_path / "run"
    cmd = _cmd("materials", *inputs, "--out", str(out), "--engine", "local", "--workers", "2")
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=_env(), cwd=ROOT, start_new_session=True)
    try:
        t0 = time.monotonic()
        while not (out / ".lock").exists() or not (out / ".lock").read_text().strip():
            assert first.poll() is None and time.monotonic() - t0 < 60
            time.sleep(0.02)
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=_env(),
                                cwd=ROOT)
        assert first.poll() is None, "the first run ended before the second tried"
        assert second.returncode == 1
        line = _error_line(second.stderr, str(out))
        assert f"(pid {first.pid})" in line, line
        _, err = first.communicate(timeout=300)
        assert first.returncode == 0, err[-3000:]
        assert len(_frames_intact(out)) == 8 and (out / "manifest.json").exists()
        # a holder killed outright leaves the lock file, not the lock
        third = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 env=_env(), cwd=ROOT, start_new_session=True)
        time.sleep(1.0)
        os.killpg(third.pid, signal.SIGKILL)
        third.wait()
        again = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(),
                               cwd=ROOT)
        assert again.returncode == 0, again.stderr[-3000:]
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
            first.wait()


def test_series_with_a_bad_frame_keeps_the_good_ones(corpus, tmp_path):
    """The corpus' series case through worker processes: one line naming the bad frame's
    file, the good frame complete and untouched by a re-run that fails the same way."""
    case = BY_NAME["series-second-frame-truncated"]
    out = tmp_path / "run"
    cmd = _cmd("materials", *map(str, case.input_paths(corpus)), "--out", str(out),
               "--engine", "local", "--workers", "2")
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(),
                         cwd=ROOT)
    assert res.returncode == 1
    _error_line(res.stderr, "frame_1.cube")
    assert _frames_intact(out) == [0] and not (out / "manifest.json").exists()
    stamps = {p: p.stat().st_mtime_ns for p in (out / "assets" / "0000").iterdir()}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=_env(),
                         cwd=ROOT)
    assert res.returncode == 1
    _error_line(res.stderr, "frame_1.cube")
    assert {p: p.stat().st_mtime_ns for p in (out / "assets" / "0000").iterdir()} == stamps
    errors = (out / "logs" / "errors.log").read_text()
    assert "task build_frame(" in errors and "Traceback" in errors  # the context is kept


# ----------------------------------------------------------------------------- the pieces

@pytest.mark.parametrize("fmt", ["NETCDF3_CLASSIC", "NETCDF3_64BIT_OFFSET",
                                 "NETCDF3_64BIT_DATA"])
@pytest.mark.parametrize("layout", ["fixed", "one-record", "records", "empty"])
def test_netcdf_classic_size_is_the_files(fmt, layout, tmp_path):
    """What the header promises is what netCDF-C wrote (fixed and record variables, one
    record variable: unpadded records; odd sizes; the last record's padding is not asked
    for), and one byte less is truncated."""
    import netCDF4
    import numpy as np

    from core.errors import BadInputError
    from core.integrity import check_file, netcdf_classic_size

    p = tmp_path / "f.nc"
    with netCDF4.Dataset(p, "w", format=fmt) as d:
        d.title = "odd-sized attribute"
        if layout != "empty":
            d.createDimension("t", None)
            d.createDimension("x", 3)
            d.createVariable("fixed", "i2", ("x",))[:] = [1, 2, 3]
        if layout == "fixed":
            d.createVariable("more", "f8", ("x", "x"))[:] = np.eye(3)
        if layout in ("one-record", "records"):
            d.createVariable("r1", "i1", ("t", "x"))[:] = np.ones((5, 3))
        if layout == "records":
            d.createVariable("r2", "f8", ("t",))[:] = np.arange(5)
            d.createVariable("r3", "i2", ("t", "x"))[:] = np.ones((5, 3))
    size = p.stat().st_size
    promised, has = netcdf_classic_size(p)
    assert has == size and size - 4 < promised <= size  # the last record's padding aside
    check_file(p)
    if layout == "empty":
        return
    p.write_bytes(p.read_bytes()[: promised - 1])
    with pytest.raises(BadInputError, match=f"truncated: header promises {promised} bytes, "
                                            f"file has {promised - 1}"):
        check_file(p)


def test_netcdf_classic_streaming_numrecs(tmp_path):
    """numrecs = STREAMING (a file being written): the records are not counted, the
    non-record data still is."""
    import netCDF4
    import numpy as np

    from core.errors import BadInputError
    from core.integrity import check_netcdf_classic

    p = tmp_path / "s.nc"
    with netCDF4.Dataset(p, "w", format="NETCDF3_CLASSIC") as d:
        d.createDimension("t", None)
        d.createDimension("x", 100)
        d.createVariable("fixed", "f8", ("x",))[:] = np.arange(100.0)
        d.createVariable("r", "f8", ("t", "x"))[:] = np.ones((4, 100))
    data = bytearray(p.read_bytes())
    data[4:8] = b"\xff\xff\xff\xff"
    p.write_bytes(bytes(data[:-500]))  # records cut: not known to be missing
    check_netcdf_classic(p)
    fixed_end = len(data) - 4 * 800
    p.write_bytes(bytes(data[: fixed_end - 8]))  # the fixed variable cut
    with pytest.raises(BadInputError, match="truncated"):
        check_netcdf_classic(p)


@pytest.mark.parametrize("kw", [{"libver": "earliest"}, {"libver": "latest"},
                                {"userblock_size": 512}])
def test_hdf5_end_of_file_address(kw, tmp_path):
    import h5py
    import numpy as np

    from core.errors import BadInputError
    from core.integrity import check_file, hdf5_size

    p = tmp_path / "f.h5"
    with h5py.File(p, "w", **kw) as f:
        f["a"] = np.arange(1000.0)
    size = p.stat().st_size
    assert hdf5_size(p) == (size, size)
    check_file(p)
    p.write_bytes(p.read_bytes()[:-1])
    with pytest.raises(BadInputError, match="truncated: header promises"):
        check_file(p)
    p.write_bytes(p.read_bytes()[: (512 if kw.get("userblock_size") else 0) + 20])
    with pytest.raises(BadInputError, match="superblock itself is cut short"):
        check_file(p)


def test_real_files_are_whole():
    """Every real NetCDF, HDF5 and PP file of the corpus passes its check."""
    from core.integrity import check_file, hdf5_size, netcdf_classic_size, pp_size

    seen = 0
    for p in sorted((ROOT / "tests" / "data" / "real").rglob("*")):
        if p.is_file():
            check_file(p)
            sizes = netcdf_classic_size(p) or hdf5_size(p) or pp_size(p)
            if sizes:
                assert sizes[0] == sizes[1], p
                seen += 1
    assert seen >= 12


def test_task_error_user_message(tmp_path):
    """The user line of a failed task: a PipelineError's own message; another exception
    with the task's input file; a full disk as such; kept across pickling and counting."""
    import pickle

    from core.cli import format_error
    from core.errors import BadInputError, TaskError
    from core.runtime.taskdef import make_task_error, task_def
    from tests.core import _runtime_tasks as T

    tdef = task_def(T.read_text)
    src = tmp_path / "in.txt"
    src.write_text("x")
    bad = make_task_error(tdef, (str(src),), {}, BadInputError(f"{src}: line 2: expected a"
                                                               " number, got 'x'"))
    assert format_error(bad) == f"error: {src}: line 2: expected a number, got 'x'"
    assert str(bad).startswith("task read_text(in_path=") and "failed: BadInputError:" in str(bad)
    other = make_task_error(tdef, (str(src),), {}, ValueError("could not convert"))
    assert format_error(other) == (f"error: {src}: read_text failed: ValueError: could not "
                                   "convert")
    dest = tmp_path / "run" / "x.glb"
    full = make_task_error(tdef, (str(src),), {}, OSError(28, "No space left on device",
                                                          str(dest)))
    assert format_error(full).startswith(f"error: {dest}: no space left on the device")
    again = pickle.loads(pickle.dumps(bad))
    assert isinstance(again, TaskError) and again.message == bad.message
    counted = bad.counted("2 of 5 tasks failed; first failure shown")
    assert format_error(counted).endswith("got 'x' [2 of 5 tasks failed; first failure shown]")
    assert str(counted).startswith("task read_text(")


def test_option_errors_are_one_line(capsys):
    import argparse

    from core.cli import one_line_errors, positive_int

    ap = one_line_errors(argparse.ArgumentParser(prog="python -m x"))
    ap.add_argument("--frames", type=positive_int)
    ap.add_argument("--mode", choices=["a", "b"])
    for argv, text in [(["--frames", "0"], "error: --frames: expected a whole number >= 1"),
                       (["--mode", "c"], "error: --mode: invalid choice: 'c'"),
                       (["--nope"], "error: unrecognized arguments: --nope")]:
        with pytest.raises(SystemExit) as info:
            ap.parse_args(argv)
        assert info.value.code == 2
        err = capsys.readouterr().err.splitlines()
        assert len(err) == 1 and err[0].startswith(text), err
        assert err[0].endswith("; see python -m x --help")
