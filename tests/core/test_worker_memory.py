"""The local engine's per-worker memory limit (issue #15): a task whose worker passes twice the
declared task memory is stopped, and the run ends with one line that says memory, not a
KilledWorker traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys
from core.cli import main_wrapper
from core.runtime import use_engine, wait_on
from tests.core._runtime_tasks import hold_memory

@main_wrapper
def main():
    with use_engine("local", workers=2, label="mem") as eng:
        print("limit", eng._backend.start() >= 0 and eng._backend.memory_limit, flush=True)
        print(wait_on(hold_memory(int(sys.argv[1]))))

if __name__ == "__main__":
    main()
"""


def test_a_worker_over_its_limit_is_stopped_with_one_line(tmp_path):
    script = tmp_path / "hog.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIZPIPE_MEMORY_BUDGET_MB": "16",
           "VIZPIPE_PROGRESS": "0"}
    # each task declares 384 + 16 = 400 MB; a worker is stopped at 95% of twice that
    res = subprocess.run([sys.executable, str(script), "900"], capture_output=True, text=True,
                         timeout=300, env=env, cwd=tmp_path)
    assert f"limit {2 * 400 * 2**20}" in res.stdout
    assert res.returncode == 1, res.stdout + res.stderr[-2000:]
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("error:") and "hold_memory" in line and "memory" in line, line
    assert "400 MB" in line and "Traceback" not in res.stderr
