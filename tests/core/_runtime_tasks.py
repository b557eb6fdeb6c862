"""Task functions for tests/core/test_runtime.py and test_bench_runtime.py.

They live in an importable module because local-engine workers import tasks by name.
Only imports and definitions at top level, as PyCOMPSs requires of task modules.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from core.errors import BadInputError
from core.runtime import (
    COLLECTION_FILE_IN,
    COLLECTION_IN,
    DICTIONARY_IN,
    FILE_IN,
    FILE_OUT,
    INOUT,
    Depth,
    Type,
    on_failure,
    task,
)


@task(returns=1, out_path=FILE_OUT)
def make_frame(index: int, out_path: str, size: int = 16) -> dict:
    """Write a small deterministic array to ``out_path``; return its metadata."""
    rng = np.random.default_rng(index)
    data = rng.random(size)
    Path(out_path).write_text(json.dumps(data.round(12).tolist()))
    return {"index": index, "path": str(out_path), "sum": float(data.sum())}


@task(returns=1)
def scale(meta: dict, factor: float) -> dict:
    """A task taking another task's future as an argument."""
    return {**meta, "scaled": meta["sum"] * factor}


@task(returns=2, frames={Type: COLLECTION_IN, Depth: 1})
def gather(frames: list[dict]) -> tuple[float, list[int]]:
    """COLLECTION_IN of futures: the total and the indices, in order."""
    return sum(f["scaled"] for f in frames), [f["index"] for f in frames]


@task(returns=1, paths=COLLECTION_FILE_IN)
def read_all(paths: list[str]) -> float:
    """Read files written by other tasks (ordered by their FILE_OUT declarations)."""
    return float(sum(sum(json.loads(Path(p).read_text())) for p in paths))


@task(returns=1, table=DICTIONARY_IN)
def total(table: dict) -> float:
    """Futures as values of a dict argument."""
    return float(sum(v["sum"] for v in table.values()))


@task(returns=1)
def add(a: float, b: float) -> float:
    return a + b


@task(returns=1)
def inc(x: int) -> int:
    return x + 1


@task(returns=1, out_path=FILE_OUT, on_failure="FAIL")
def maybe_fail(index: int, out_path: str, bad: int) -> int:
    """Write ``out_path`` unless ``index == bad``, which raises ValueError."""
    if index == bad:
        raise ValueError(f"frame {index} is corrupt")
    time.sleep(0.05)
    Path(out_path).write_text(str(index))
    return index


@task(returns=1, on_failure="FAIL")
def bad_input(path: str) -> None:
    raise BadInputError(f"{path}: variable 'pm25' has no time axis")


@task(returns=1, in_path=FILE_IN, on_failure="FAIL")
def read_text(in_path: str) -> str:
    return Path(in_path).read_text()


@task(out_path=FILE_OUT, on_failure="FAIL")
def slow_write(out_path: str, text: str, delay: float) -> None:
    """No returns: only a file, written after ``delay`` seconds."""
    time.sleep(delay)
    Path(out_path).write_text(text)


@task(returns=1, items=INOUT)
def append_item(items: list, value: int) -> int:
    """INOUT object: the caller gets the new version with wait_on(items)."""
    items.append(value)
    return len(items)


@task(returns=1, on_failure="IGNORE")
def ignored_failure(x: int) -> int:
    raise RuntimeError(f"cannot do {x}")


@on_failure(management="IGNORE", returns=-1)
@task(returns=1)
def ignored_with_default(x: int) -> int:
    raise RuntimeError(f"cannot do {x}")


@task(returns=1, time_out=0.3, on_failure="FAIL")
def spin_forever(x: int) -> int:
    """Busy Python loop far longer than its time_out."""
    deadline = time.monotonic() + 30
    n = 0
    while time.monotonic() < deadline:
        n += 1
    return n


@task(returns=2, on_failure="FAIL")
def wrong_count(x: int) -> tuple:
    """Declares two returns, returns three values."""
    return (x, x, x)


@task(returns=1)
def nested(x: int) -> int:
    """Calls another task inside a task: runs it directly, in the worker."""
    return inc(x) * 10


@task(returns=1)
def noop(x: int) -> int:
    return x


def spin_work(n: int) -> int:
    """CPU-bound pure Python work, ~n iterations; shares nothing (no I/O, tiny memory)."""
    acc = 0
    for i in range(n):
        acc = (acc + i * i) % 1_000_003
    return acc


@task(returns=1)
def spin(n: int) -> int:
    """``spin_work`` as a task."""
    return spin_work(n)


@task(returns=1)
def flaky(counter_path: str) -> int:
    """Fails on its first attempt, succeeds on the second (on_failure='RETRY', the default)."""
    p = Path(counter_path)
    n = int(p.read_text()) + 1 if p.exists() else 1
    p.write_text(str(n))
    if n == 1:
        raise OSError("transient failure")
    return n


@task(returns=1)
def hold_memory(mb: int, seconds: float = 3.0) -> int:
    """Touch ``mb`` MB and hold them for ``seconds`` (a task that overruns its memory)."""
    block = np.ones(mb * 2**20 // 8)
    time.sleep(seconds)
    return int(block[-1])
