"""The task runtime: engines, futures, errors, progress, engine selection, CLI plumbing."""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from core.cli import add_engine_args, engine_from_args, main_wrapper, set_log_file
from core.errors import BadInputError, MissingDependencyError, PipelineError, TaskError
from core.progress import Progress, format_progress
from core.runtime import (
    COLLECTION_IN,
    FILE_OUT,
    Depth,
    LocalEngine,
    SerialEngine,
    TaskDefinitionError,
    TaskGroup,
    Type,
    _pycompss,
    barrier,
    barrier_group,
    binary,
    container,
    current_engine,
    default_workers,
    delete_file,
    make_engine,
    on_failure,
    resolve_engine_name,
    resolve_workers,
    task,
    use_engine,
    wait_on,
    wait_on_file,
)
from tests.core import _runtime_tasks as T

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local2():
    """One 2-worker local engine shared by this module's tests (start-up paid once)."""
    eng = make_engine("local", workers=2, label="test")
    yield eng
    eng.close(wait=False)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch):
    monkeypatch.delenv("VIZPIPE_ENGINE", raising=False)
    monkeypatch.delenv("VIZPIPE_WORKERS", raising=False)
    monkeypatch.delenv("VIZPIPE_DEBUG", raising=False)


def _graph(out: Path) -> dict:
    out.mkdir()
    paths = [str(out / f"f{i}.json") for i in range(6)]
    metas = [T.make_frame(i, p) for i, p in enumerate(paths)]
    scaled = [T.scale(m, 0.5) for m in metas]  # futures as arguments
    tot, idx = T.gather(scaled)  # COLLECTION_IN of futures, two returns
    from_files = T.read_all(paths)  # waits for the FILE_OUT writers, by path
    table = T.total({f"k{i}": m for i, m in enumerate(metas)})  # futures inside a dict
    pair = T.add(T.inc(1), T.inc(2))
    res = wait_on({"total": tot, "indices": idx, "files": from_files, "table": table,
                   "pair": pair, "scaled": scaled})
    for s in res["scaled"]:
        s["path"] = Path(s["path"]).name
    return res


# --------------------------------------------------------------------------- graph, futures


def test_serial_and_local_give_identical_results(tmp_path, local2):
    with use_engine("serial"):
        serial = _graph(tmp_path / "serial")
    with use_engine(local2):
        local = _graph(tmp_path / "local")
    assert serial == local
    assert local["indices"] == list(range(6))
    assert local["pair"] == 5
    assert local["files"] == pytest.approx(local["table"])
    for i in range(6):
        assert (tmp_path / "serial" / f"f{i}.json").read_bytes() == \
            (tmp_path / "local" / f"f{i}.json").read_bytes()


def test_local_calls_return_futures_serial_values(local2):
    from distributed import Future

    with use_engine(local2):
        fut = T.inc(1)
        assert isinstance(fut, Future)
        a, b = T.gather([{"scaled": 1.0, "index": 3}])
        assert isinstance(a, Future) and isinstance(b, Future)
        assert wait_on(fut, a, b) == [2, 1.0, [3]]
        assert wait_on(T.nested(1)) == 20  # a task calling a task runs it in the worker
    with use_engine("serial"):
        assert T.inc(1) == 2
        assert T.gather([{"scaled": 1.0, "index": 3}]) == (1.0, [3])


def test_wait_on_recurses_and_keeps_containers(local2):
    with use_engine(local2):
        nested = {"a": [T.inc(1), (T.inc(2), 7)], "b": "text"}
        assert wait_on(nested) == {"a": [2, (3, 7)], "b": "text"}
        assert wait_on(5) == 5


def test_inout_object_new_version_through_wait_on(local2):
    with use_engine(local2):
        items = [1]
        n = T.append_item(items, 5)
        assert wait_on(n) == 2
        assert items == [1]  # the master's object is untouched, as under COMPSs
        items = wait_on(items)
        assert items == [1, 5]
    with use_engine("serial"):
        items = [1]
        assert T.append_item(items, 5) == 2
        assert wait_on(items) == [1, 5]


def test_file_dependencies_wait_on_file_and_delete(tmp_path, local2):
    p = tmp_path / "late.txt"
    with use_engine(local2):
        assert T.slow_write(str(p), "hello", 0.3) is None  # no returns: None, like PyCOMPSs
        assert wait_on(T.read_text(str(p))) == "hello"  # FILE_IN after FILE_OUT: ordered
        q = tmp_path / "other.txt"
        T.slow_write(str(q), "x", 0.2)
        wait_on_file(str(q))
        assert q.read_text() == "x"
        assert delete_file(str(q)) is True
        assert not q.exists()
        barrier()


def test_task_group_waits(tmp_path, local2):
    with use_engine(local2):
        with TaskGroup("writes"):
            T.slow_write(str(tmp_path / "g.txt"), "g", 0.2)
        assert (tmp_path / "g.txt").read_text() == "g"
        with TaskGroup("later", implicit_barrier=False):
            T.slow_write(str(tmp_path / "l.txt"), "l", 0.2)
        barrier_group("later")
        assert (tmp_path / "l.txt").read_text() == "l"
        with pytest.raises(TaskError, match="maybe_fail"):
            with TaskGroup("bad"):
                T.maybe_fail(1, str(tmp_path / "b.txt"), 1)


def test_lazy_start_and_single_worker_in_process():
    with use_engine("local", workers=2) as eng:
        assert isinstance(eng, LocalEngine)
    assert not eng.started  # nothing submitted: no worker was started
    with use_engine("local", workers=1) as eng:
        fut = T.inc(1)
        bad = T.maybe_fail(0, "/nonexistent/never", 0)  # fails, but only at wait_on
        assert not eng.started
        assert wait_on(fut) == 2
        with pytest.raises(TaskError, match="frame 0 is corrupt"):
            wait_on(bad)


# --------------------------------------------------------------------------- errors


def _check_failure(err: TaskError, tb_in_text: bool = True) -> None:
    assert err.name == "maybe_fail"
    assert "index=2" in err.inputs and "bad=2" in err.inputs
    assert err.original == "ValueError: frame 2 is corrupt"
    assert "maybe_fail(" in str(err) and "frame 2 is corrupt" in str(err)
    if tb_in_text:
        assert "Traceback" in err.traceback_text and "frame 2 is corrupt" in err.traceback_text


def test_failure_local_waits_for_good_siblings(tmp_path, local2):
    with use_engine(local2):
        futs = [T.maybe_fail(i, str(tmp_path / f"o{i}.txt"), 2) for i in range(5)]
        with pytest.raises(TaskError) as info:
            wait_on(futs)
        _check_failure(info.value)
        assert "1 of 5 tasks failed" in str(info.value)
        for i in (0, 1, 3, 4):  # independent good tasks ran to the end
            assert (tmp_path / f"o{i}.txt").read_text() == str(i)
        assert not (tmp_path / "o2.txt").exists()
        barrier()  # already reported: not raised again


def test_failure_serial_same_error_type(tmp_path):
    with use_engine("serial"):
        with pytest.raises(TaskError) as info:
            [T.maybe_fail(i, str(tmp_path / f"o{i}.txt"), 2) for i in range(5)]
    _check_failure(info.value)


def test_dependent_of_failed_task_reports_the_root_cause(tmp_path, local2):
    with use_engine(local2):
        first = T.maybe_fail(2, str(tmp_path / "x"), 2)
        second = T.add(first, 1)
        with pytest.raises(TaskError) as info:
            wait_on(second)
        assert info.value.name == "maybe_fail"
        barrier()  # `first` was never waited on, but its error was shown: not raised again


def test_unwaited_failure_raised_at_block_end(tmp_path, local2):
    with pytest.raises(TaskError, match="frame 3 is corrupt"):
        with use_engine("local", workers=1):
            T.maybe_fail(3, str(tmp_path / "y"), 3)


def test_pipeline_error_message_kept():
    for engine in ("serial", "local"):
        with use_engine(engine, workers=1), pytest.raises(TaskError) as info:
            wait_on(T.bad_input("/data/run1.nc"))
        assert info.value.original == (
            "BadInputError: /data/run1.nc: variable 'pm25' has no time axis")
        assert isinstance(info.value, PipelineError)


def test_long_inputs_are_truncated():
    with use_engine("serial"), pytest.raises(TaskError) as info:
        T.bad_input("/very/long/" + "x" * 500 + ".nc")
    assert len(info.value.inputs) < 120 and "..." in info.value.inputs


def test_returns_must_match():
    with use_engine("serial"), pytest.raises(TaskError, match="returned 3 values.*returns=2"):
        T.wrong_count(1)


def test_on_failure_ignore_and_retry(tmp_path, local2):
    for eng in ("serial", local2):
        with use_engine(eng):
            assert wait_on(T.ignored_failure(1)) is None
            assert wait_on(T.ignored_with_default(1)) == -1
            counter = tmp_path / f"count-{getattr(eng, 'name', eng)}"
            assert wait_on(T.flaky(str(counter))) == 2  # RETRY: one more attempt


def test_time_out_fails_the_task(local2):
    for eng in ("serial", local2):
        t0 = time.monotonic()
        with use_engine(eng), pytest.raises(TaskError, match="time_out of 0.3 s"):
            wait_on(T.spin_forever(1))
        assert time.monotonic() - t0 < 10


# --------------------------------------------------------------------------- decoration


def test_decoration_checks_direction_keywords():
    with pytest.raises(TaskDefinitionError, match=r"build.*'out'.*build\(in_path, out_path\)"):
        @task(returns=1, out=FILE_OUT)
        def build(in_path, out_path):
            return 1
    with pytest.raises(TaskDefinitionError, match="unknown key"):
        @task(frames={Type: COLLECTION_IN, "deep": 1})
        def g(frames):
            return None
    with pytest.raises(TaskDefinitionError, match="Depth"):
        @task(frames={Type: COLLECTION_IN, Depth: 0})
        def h(frames):
            return None
    with pytest.raises(TaskDefinitionError, match="expected a direction"):
        @task(x="IN")
        def k(x):
            return None
    with pytest.raises(TaskDefinitionError, match="on_failure"):
        @task(on_failure="SKIP")
        def m(x):
            return None
    with pytest.raises(TaskDefinitionError, match="parentheses"):
        @task
        def n(x):
            return None
    with pytest.raises(TaskDefinitionError, match="management"):
        on_failure(management="NEVER")


def test_decorated_function_keeps_identity():
    assert T.make_frame.__name__ == "make_frame"
    assert T.make_frame.__module__ == "tests.core._runtime_tasks"
    assert "metadata" in T.make_frame.__doc__
    import inspect

    assert list(inspect.signature(T.make_frame).parameters) == ["index", "out_path", "size"]


# --------------------------------------------------------------------------- progress


def test_progress_line_format():
    assert format_progress("assets", 12, 48, 3.75) == \
        "[assets] 12/48 done (25%), 3.2 tasks/s, ETA 0:00:11"
    assert format_progress("x", 48, 48, 10.0, failed=2) == \
        "[x] 48/48 done (100%), 4.8 tasks/s, ETA 0:00:00, 2 failed"
    assert format_progress("x", 0, 5, 1.0).endswith("ETA ?")


def test_progress_is_throttled_and_ends_with_a_final_line(monkeypatch):
    monkeypatch.delenv("VIZPIPE_PROGRESS", raising=False)
    now = [0.0]
    out = io.StringIO()
    prog = Progress(100, "frames", stream=out, clock=lambda: now[0])
    for _ in range(100):  # 100 units over 2 s
        now[0] += 0.02
        prog.advance()
    prog.close()
    lines = out.getvalue().splitlines()
    assert 4 <= len(lines) <= 6  # about two a second, plus the final one
    assert lines[-1] == "[frames] 100/100 done (100%), 50.0 tasks/s, ETA 0:00:00"
    prog.close()
    assert len(out.getvalue().splitlines()) == len(lines)  # no duplicate final line


def test_progress_silent_and_watch(monkeypatch):
    monkeypatch.setenv("VIZPIPE_PROGRESS", "0")
    out = io.StringIO()
    with Progress(3, "quiet", stream=out, min_interval=0) as prog:
        prog.advance(3)
    assert out.getvalue() == ""
    monkeypatch.setenv("VIZPIPE_PROGRESS", "1")
    prog = Progress(0, "w", stream=out, min_interval=0)
    fut: concurrent.futures.Future = concurrent.futures.Future()
    prog.watch(fut)
    fut.set_result(1)
    assert prog.done == 1 and prog.total == 1 and "[w] 1/1 done" in out.getvalue()


def test_engine_reports_progress_on_stderr(capsys, monkeypatch):
    monkeypatch.delenv("VIZPIPE_PROGRESS", raising=False)
    with use_engine("local", workers=1, label="frames"):
        wait_on([T.inc(i) for i in range(3)])
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("[frames] 3/3 done (100%), ")


# --------------------------------------------------------------------------- selection


def test_engine_from_environment(monkeypatch):
    monkeypatch.setenv("VIZPIPE_ENGINE", "serial")
    assert resolve_engine_name() == "serial"
    with use_engine() as eng:
        assert isinstance(eng, SerialEngine) and current_engine() is eng
    monkeypatch.setenv("VIZPIPE_ENGINE", "spark")
    with pytest.raises(PipelineError, match="VIZPIPE_ENGINE='spark'.*local, serial, compss"):
        resolve_engine_name()
    monkeypatch.delenv("VIZPIPE_ENGINE")
    if not _pycompss.installed():
        assert resolve_engine_name() == "local"
    assert resolve_engine_name("serial") == "serial"


def test_workers_from_environment(monkeypatch):
    assert resolve_workers() == default_workers() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("VIZPIPE_WORKERS", "3")
    with use_engine("local") as eng:
        assert eng.workers == 3
    assert resolve_workers(5) == 5
    for bad in ("0", "many"):
        monkeypatch.setenv("VIZPIPE_WORKERS", bad)
        with pytest.raises(PipelineError, match="VIZPIPE_WORKERS"):
            resolve_workers()


def test_compss_engine_without_pycompss():
    if _pycompss.installed():
        pytest.skip("pycompss is installed here")
    with pytest.raises(MissingDependencyError) as info:
        with use_engine("compss"):
            pass
    msg = str(info.value)
    assert "PyCOMPSs" in msg and "module load COMPSs" in msg and "\n" not in msg


# --------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    return add_engine_args(argparse.ArgumentParser(prog="vizpipe-test"))


def test_cli_engine_args(monkeypatch):
    args = _parser().parse_args([])
    assert args.engine is None and args.workers is None
    monkeypatch.setenv("VIZPIPE_ENGINE", "serial")
    with engine_from_args(args, label="cli") as eng:
        assert isinstance(eng, SerialEngine) and eng.label == "cli"
    args = _parser().parse_args(["--engine", "local", "--workers", "3"])
    with engine_from_args(args, label="cli") as eng:
        assert isinstance(eng, LocalEngine) and eng.workers == 3
    with pytest.raises(SystemExit):
        _parser().parse_args(["--workers", "0"])
    with pytest.raises(SystemExit):
        _parser().parse_args(["--engine", "spark"])


def test_main_wrapper_one_error_line(capsys, tmp_path):
    @main_wrapper
    def main(argv=None):
        raise BadInputError("in.nc: variable 'pm25'\nhas no time axis")

    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err == "error: in.nc: variable 'pm25' has no time axis\n"

    @main_wrapper
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as info:
        interrupted()
    assert info.value.code == 130

    @main_wrapper
    def ok():
        return 0

    assert ok() == 0

    @main_wrapper
    def bug():
        raise ZeroDivisionError("a bug keeps its traceback")

    with pytest.raises(ZeroDivisionError):
        bug()


def test_main_wrapper_traceback_to_log_or_debug(capsys, tmp_path, monkeypatch):
    @main_wrapper
    def main():
        with use_engine("serial"):
            T.bad_input("/data/x.nc")

    handler = set_log_file(tmp_path / "run.log")
    try:
        with pytest.raises(SystemExit):
            main()
    finally:
        logging.getLogger("vizpipe").removeHandler(handler)
        handler.close()
    err = capsys.readouterr().err.splitlines()
    # the user reads the file and what is wrong; the task's call goes to the logs
    assert err == ["error: /data/x.nc: variable 'pm25' has no time axis"]
    log = (tmp_path / "run.log").read_text()
    assert "Traceback" in log and "The task's own traceback (bad_input)" in log
    assert "task bad_input(path='/data/x.nc') failed" in log
    errors = (tmp_path / "logs" / "errors.log").read_text()
    assert "task bad_input(path='/data/x.nc') failed" in errors and "Traceback" in errors

    monkeypatch.setenv("VIZPIPE_DEBUG", "1")
    with pytest.raises(SystemExit):
        main()
    err = capsys.readouterr().err
    assert "Traceback" in err and "task bad_input(path='/data/x.nc')" in err
    assert err.splitlines()[-1] == "error: /data/x.nc: variable 'pm25' has no time axis"


# --------------------------------------------------------------------------- @container/@binary

_WRITE = "import sys; open(sys.argv[1], 'w').write(sys.argv[2]); sys.exit(int(sys.argv[3]))"


@container(engine="SINGULARITY", image="/nonexistent/tool.sif", options="--bind /gpfs")
@binary(binary="vizpipe-test-python", args="-c {{code}} {{out}} --text={{text}} {{status}}")
@task(returns=1)
def write_text(code, out, text, status=0):
    """A @binary task: the executable runs, never this body."""
    raise AssertionError("the body of a @binary task must not run")


@pytest.mark.parametrize("engine", ["serial", "local"])
def test_binary_task_runs_the_executable_locally(tmp_path, monkeypatch, engine):
    monkeypatch.setenv("VIZPIPE_BINARY_VIZPIPE_TEST_PYTHON", sys.executable)
    out = tmp_path / "with space.txt"
    with use_engine(engine, workers=1):
        assert wait_on(write_text(_WRITE, str(out), "a b", 0)) == 0  # the exit code
        assert out.read_text() == "--text=a b"  # {{param}} substituted inside one word
        with pytest.raises(TaskError, match="exited with status 3"):
            wait_on(write_text(_WRITE, str(tmp_path / "x"), "t", 3))
    monkeypatch.delenv("VIZPIPE_BINARY_VIZPIPE_TEST_PYTHON")
    with use_engine("serial"), pytest.raises(TaskError, match="not on the PATH"):
        write_text(_WRITE, str(out), "t")


def test_binary_args_must_name_the_parameters():
    def f(a, b):
        pass

    with pytest.raises(TaskDefinitionError, match=r"args name \['c'\]"):
        binary(binary="x", args="{{a}} {{b}} {{c}}")(task()(f))
    with pytest.raises(TaskDefinitionError, match=r"parameters \['b'\] do not appear"):
        binary(binary="x", args="{{a}}")(task()(f))
    with pytest.raises(TaskDefinitionError, match="engine"):
        container(engine="PODMAN", image="x.sif")


# --------------------------------------------------------------------------- PyCOMPSs stand-in

# A tiny fake `pycompss` package (a STAND-IN, not PyCOMPSs: the real one cannot be installed
# here) that records what our layer hands it, to check the dispatch both ways. It follows the
# documented behaviour (../shared/PYCOMPSS.md): not launched (FAKE_PYCOMPSS_LAUNCHED != 1) it is
# PyCOMPSs's sequential mode (@task calls the function, compss_wait_on returns its argument,
# @container raises NotInPyCOMPSsException); "launched", @container over @binary runs
# `singularity exec --bind <sandbox> --bind <appdir> --pwd <sandbox> <options> <image> <binary>
# <args>` ({{param}} substituted) and returns the exit code. With FAKE_PYCOMPSS_LOG set, each
# task call appends "name key=DIRECTION ..." to that file (tests of subprocess runs read it).
FAKE_PYCOMPSS = {
    "pycompss/__init__.py": "",
    "pycompss/util/__init__.py": "",
    "pycompss/util/context.py": """
        import os
        class _Context:
            def in_pycompss(self):
                return os.environ.get("FAKE_PYCOMPSS_LAUNCHED") == "1"
        CONTEXT = _Context()
    """,
    "pycompss/api/__init__.py": "",
    "pycompss/api/parameter.py": """
        class _Param:
            __slots__ = ["key"]
            def __init__(self, key):
                self.key = key
        for _n in ["IN", "OUT", "INOUT", "IN_DELETE", "FILE_IN", "FILE_OUT", "FILE_INOUT",
                   "DIRECTORY_IN", "DIRECTORY_OUT", "DIRECTORY_INOUT", "COLLECTION_IN",
                   "COLLECTION_OUT", "COLLECTION_INOUT", "COLLECTION_FILE_IN",
                   "COLLECTION_FILE_OUT", "COLLECTION_FILE_INOUT"]:
            globals()[_n] = _Param(_n)
        DICTIONARY_IN = _Param("DICT_COLLECTION_IN")
        DICTIONARY_INOUT = _Param("DICT_COLLECTION_INOUT")
        Type, Direction, Prefix, Depth = "type", "direction", "prefix", "depth"
    """,
    "pycompss/util/exceptions.py": """
        class NotInPyCOMPSsException(Exception):
            pass
    """,
    "pycompss/api/task.py": """
        import functools, os
        CALLS = []
        def _log(fn, kwargs):
            path = os.environ.get("FAKE_PYCOMPSS_LOG")
            if path:
                dirs = " ".join(f"{k}={getattr(v, 'key', v)}" for k, v in sorted(kwargs.items())
                                if hasattr(v, "key"))
                with open(path, "a") as fh:
                    fh.write(f"{fn.__name__} {dirs}".rstrip() + "\\n")
        class task:
            def __init__(self, **kwargs):
                self.kwargs = kwargs
            def __call__(self, fn):
                @functools.wraps(fn)
                def wrapped(*a, **k):
                    CALLS.append(fn.__name__)
                    _log(fn, self.kwargs)
                    return fn(*a, **k)
                wrapped.fake_task_kwargs = self.kwargs
                return wrapped
    """,
    "pycompss/api/binary.py": """
        import functools, inspect, re, shlex, subprocess
        from pycompss.util.context import CONTEXT
        def _command(fn, kwargs, a, k):
            bound = inspect.signature(fn).bind(*a, **k)
            bound.apply_defaults()
            sub = lambda m: str(bound.arguments[m.group(1)])
            words = [re.sub(r"[{][{](\\w+)[}][}]", sub, w)
                     for w in shlex.split(kwargs.get("args", ""))]
            return [kwargs["binary"], *words]
        class binary:
            def __init__(self, **kwargs):
                self.kwargs = kwargs
            def __call__(self, fn):
                @functools.wraps(fn)
                def wrapped(*a, **k):
                    if not CONTEXT.in_pycompss():
                        return fn(*a, **k)
                    return subprocess.run(_command(fn, self.kwargs, a, k)).returncode
                wrapped.fake_binary = self.kwargs
                wrapped.fake_command = lambda *a, **k: _command(fn, self.kwargs, a, k)
                return wrapped
    """,
    "pycompss/api/container.py": """
        import functools, os, shlex, subprocess, sys, tempfile
        from pycompss.util.context import CONTEXT
        from pycompss.util.exceptions import NotInPyCOMPSsException
        CALLS = []
        class container:
            def __init__(self, **kwargs):
                self.kwargs = kwargs
            def __call__(self, fn):
                @functools.wraps(fn)
                def wrapped(*a, **k):
                    if not CONTEXT.in_pycompss():
                        raise NotInPyCOMPSsException("@container: not in PyCOMPSs scope")
                    sandbox = tempfile.mkdtemp(prefix="sandbox_")
                    appdir = os.path.dirname(os.path.abspath(sys.argv[0]))
                    cmd = ["singularity", "exec", "--bind", sandbox, "--bind", appdir,
                           "--pwd", sandbox, *shlex.split(self.kwargs.get("options", "")),
                           self.kwargs["image"], *fn.fake_command(*a, **k)]
                    CALLS.append(cmd)
                    rc = subprocess.run(cmd).returncode
                    if rc and fn.fake_binary.get("fail_by_exit_value", True):
                        raise RuntimeError(f"binary task failed with exit value {rc}")
                    return rc
                wrapped.fake_container = self.kwargs
                return wrapped
    """,
    "pycompss/api/constraint.py": """
        class constraint:
            def __init__(self, **kwargs):
                self.kwargs = kwargs
            def __call__(self, fn):
                fn.fake_constraint = self.kwargs
                return fn
    """,
    "pycompss/api/on_failure.py": """
        class on_failure:
            def __init__(self, **kwargs):
                self.kwargs = kwargs
            def __call__(self, fn):
                return fn
    """,
    "pycompss/api/api.py": """
        WAITS = []
        def compss_wait_on(*args, **kwargs):
            WAITS.append(len(args))
            return args[0] if len(args) == 1 else list(args)
        def compss_wait_on_file(*paths):
            return None
        def compss_delete_file(*paths):
            return True
        def compss_barrier(no_more_tasks=False):
            WAITS.append("barrier")
        def compss_barrier_group(name):
            return None
        class TaskGroup:
            def __init__(self, name, implicit_barrier=True):
                pass
            def __enter__(self):
                return self
            def __exit__(self, *a):
                return False
    """,
}

_SCRIPT = """
import os, sys
import core.runtime as rt
from core.errors import PipelineError
from core.runtime import FILE_OUT, COLLECTION_IN, Type, Depth, task, wait_on, use_engine
import pycompss.api.parameter as pp
import pycompss.api.task as pt
import pycompss.api.api as pa

def build(in_path, out_path, frames):
    return len(frames)

launched = os.environ.get("FAKE_PYCOMPSS_LAUNCHED") == "1"
dec = task(returns=1, out_path=FILE_OUT, frames={Type: COLLECTION_IN, Depth: 1})(build)
if launched:
    # decoration is PyCOMPSs's own @task, with PyCOMPSs's own parameter objects
    assert rt.UNDER_COMPSS and rt.FILE_OUT is pp.FILE_OUT
    assert dec.fake_task_kwargs["out_path"] is pp.FILE_OUT
    assert dec.fake_task_kwargs["frames"][Type] is pp.COLLECTION_IN
    assert rt.resolve_engine_name() == "compss"
    try:
        use_engine("local").__enter__()
    except PipelineError as err:
        print("refused:", err)
    with use_engine():
        assert wait_on(dec("a", "b", [1, 2])) == 2
else:
    assert not rt.UNDER_COMPSS and rt.FILE_OUT is not pp.FILE_OUT
    assert not hasattr(dec, "fake_task_kwargs")
    with use_engine("compss") as eng:
        assert type(eng).__name__ == "CompssEngine"
        assert wait_on(dec("a", "b", [1, 2, 3])) == 3
try:
    task(returns=1, out=FILE_OUT)(build)
except PipelineError as err:
    print("rejected:", err)

def echo(out, text):
    pass  # a @binary task: the body never runs

ctask = rt.container(engine="SINGULARITY", image="/img/tool.sif", options="--bind /gpfs")(
    rt.binary(binary="echo", args="{{out}} --text {{text}}")(task(returns=1)(echo)))
if launched:  # PyCOMPSs's own decorators, stacked as written
    assert ctask.fake_container == {"engine": "SINGULARITY", "image": "/img/tool.sif",
                                    "options": "--bind /gpfs"}
    assert ctask.fake_binary["binary"] == "echo" and ctask.fake_task_kwargs["returns"] == 1
    assert ctask.fake_command("a b", "c") == ["echo", "a b", "--text", "c"]
else:  # sequential mode: @container raises, as PyCOMPSs does outside the runtime
    with use_engine("compss"):
        try:
            ctask("o", "t")
        except PipelineError as err:
            print("container:", err)
print("calls", pt.CALLS, "waits", pa.WAITS)
"""


def write_fake_pycompss(root: Path) -> Path:
    """Write the stand-in ``pycompss`` package under ``root`` (put ``root`` on PYTHONPATH)."""
    for rel, text in FAKE_PYCOMPSS.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


@pytest.mark.parametrize("launched", [False, True], ids=["sequential", "launched"])
def test_pycompss_dispatch_with_a_stand_in(tmp_path, launched):
    write_fake_pycompss(tmp_path / "fake")
    script = tmp_path / "app.py"
    script.write_text(_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path / "fake"), str(REPO)]),
               FAKE_PYCOMPSS_LAUNCHED="1" if launched else "0", VIZPIPE_PROGRESS="0")
    env.pop("VIZPIPE_ENGINE", None)
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "calls ['build']" in out  # the call went through (fake) PyCOMPSs's task
    assert "waits [1" in out  # and wait_on through compss_wait_on
    assert "rejected: @task on build: keyword 'out'" in out
    if launched:
        assert "refused: launched by runcompss" in out
    else:
        assert "container: task echo" in out and "NotInPyCOMPSsException" in out
