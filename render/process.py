"""Run one Blender process (``python -m render.blender_chunk ...``) and follow its output.

Pure Python: the driver's tasks call :func:`run_blender`; the child imports bpy, never the
caller. The child's whole output goes to a log file under ``RUN_DIR/logs``; its progress lines
(``frame N done in Xs``, ``chunk ...``, ``blend ...``) are echoed, prefixed with the task's
tag; a failure raises :class:`RenderError` carrying the child's ``error:`` line and the log
path, on one line.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from core.errors import PipelineError

_PROGRESS = ("frame ", "chunk ", "blend ", "device: ")
_FRAME_DONE = re.compile(r"^frame (\d+) done in ([0-9.]+)s")


class RenderError(PipelineError):
    """A Blender process failed (the message names the chunk, the error and the log)."""


def project_root() -> Path:
    """The folder holding the ``render`` and ``core`` packages (put on the child's path)."""
    return Path(__file__).resolve().parent.parent


def blender_command(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "render.blender_chunk", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    root = str(project_root())
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in parts:
        env["PYTHONPATH"] = os.pathsep.join([root, *parts])
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_blender(args: list[str], log: Path, tag: str, *, echo: bool = True,
                timeout: float | None = None) -> dict:
    """Run the Blender entry point with ``args``; returns ``{"frames", "seconds", "wall_s"}``.

    ``frames``/``seconds`` list the frames the child reported done and their times.
    """
    log = Path(log)
    log.parent.mkdir(parents=True, exist_ok=True)
    frames: list[int] = []
    seconds: list[float] = []
    error = ""
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as fh:
        fh.write("$ " + " ".join(blender_command(args)) + "\n")
        fh.flush()
        proc = subprocess.Popen(blender_command(args), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace",
                                env=child_env(), cwd=str(project_root()))
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                fh.write(line)
                fh.flush()
                text = line.rstrip("\n")
                if text.startswith("error: "):
                    error = text[len("error: "):]
                m = _FRAME_DONE.match(text)
                if m:
                    frames.append(int(m.group(1)))
                    seconds.append(float(m.group(2)))
                if echo and text.startswith(_PROGRESS):
                    print(f"[{tag}] {text}", flush=True)
            rc = proc.wait(timeout=timeout)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if rc != 0:
        why = error or f"the Blender process exited with status {rc}"
        if rc < 0:
            why += f" (killed by signal {-rc})"
        raise RenderError(f"{tag}: {why} (log: {log})")
    return {"frames": frames, "seconds": seconds, "wall_s": time.perf_counter() - t0}
