"""Local engine benchmarks: per-task overhead, start-up time, CPU-bound speedup.

Run with ``make bench`` or ``python -m pytest tests/core/test_bench_runtime.py -m benchmark``.
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from core.runtime import use_engine, wait_on
from tests.core import _runtime_tasks as T

pytestmark = pytest.mark.benchmark

N_TINY = 1000
N_CPU = 8
CPU_SECONDS = 0.5


def test_local_engine_overhead_per_task(benchmark, report_ratio):
    """1,000 tiny tasks on 2 workers: wall time per task, cluster start-up excluded."""
    with use_engine("local", workers=2, label="bench-overhead") as eng:
        startup = eng.start()
        assert wait_on(T.noop(-1)) == -1  # warm: workers have imported the task module

        def run() -> list[int]:
            return wait_on([T.noop(i) for i in range(N_TINY)])

        result = benchmark.pedantic(run, rounds=5, iterations=1, warmup_rounds=1)
    assert result == list(range(N_TINY))
    ms = benchmark.stats.stats.median * 1000 / N_TINY
    report_ratio("local engine overhead per task", ms, 5.0, better="lower", unit="ms")
    report_ratio("local engine start-up, 2 workers", startup, None, better="lower", unit="s")


def _calibrate() -> int:
    """Iterations of T.spin_work taking about CPU_SECONDS here (in-process, best of 3)."""
    n = 200_000
    best = min(_timed(T.spin_work, n) for _ in range(3))
    return max(1, int(n * CPU_SECONDS / best))


def _timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def test_local_engine_speedup(benchmark, report_ratio):
    """8 CPU-bound tasks of ~0.5 s: 2 workers against 1.

    The 1-worker time is the same work in ONE separate plain process (a 1-process
    ``ProcessPoolExecutor``, no engine at all): a strict baseline, since the engine's 2-worker
    time includes all its overhead, and since running the 1-worker engine in-process beside a
    live 2-worker client would slow it (the client's thread shares the GIL) and flatter the
    ratio. Before each 2-worker round both references are timed, alongside a plain 2-process
    pool (what the machine gives at that moment); the best of 4 rounds of each is compared.
    """
    n = _calibrate()
    sizes = [n + i for i in range(N_CPU)]

    def run() -> list[int]:
        return wait_on([T.spin(k) for k in sizes])

    one_times: list[float] = []
    pool_times: list[float] = []
    serial: list[int] = []
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=ctx) as pool, \
            ProcessPoolExecutor(1, mp_context=ctx) as single:
        list(pool.map(T.spin_work, [1, 2]))  # start the processes
        single.submit(T.spin_work, 1).result()
        serial[:] = single.map(T.spin_work, sizes)  # the reference: the same work, serially

        def time_references() -> None:
            one_times.append(_timed(lambda: list(single.map(T.spin_work, sizes))))
            pool_times.append(_timed(lambda: list(pool.map(T.spin_work, sizes))))

        with use_engine("local", workers=2, label="bench-2-workers") as eng:
            eng.start()
            wait_on(T.noop(-1))
            result = benchmark.pedantic(run, setup=time_references, rounds=4, iterations=1)
    # every task's result, in order, against the plain serial process (the 8 sizes differ,
    # and so do their results, so a dropped, duplicated or reordered result fails)
    assert result == serial
    one = min(one_times)
    report_ratio("local engine 2 workers vs 1 plain process", one / benchmark.stats.stats.min, 1.8,
                 reference=f"plain 2-process pool at the same time: {one / min(pool_times):.2f}x")
