"""The preview page in a real browser: headless Chromium, software WebGL (issue #21).

Each pipeline converts a small run with ``--no-render`` (which writes ``preview/`` by default,
as every conversion does), the demo's preview is written by ``python -m render.preview``; the
run directory is served from 127.0.0.1 and the page loaded in headless Chromium
(SwiftShader). The page must:

* set ``window.vizpipePreview = {ready: true, frame: 0, frames: N, objects: M, goto(i)}`` with
  N the manifest's frames and M the assets it lists for frame 0 (static ones included);
* log no error (console, uncaught exception, failed load) and ask nothing of any host but
  127.0.0.1;
* draw something: the canvas's pixels spread and fall into more than one colour region;
* show another picture at the last frame (``goto(N - 1)``, what the slider does).

The pipelines' GLB files also go through the Khronos glTF validator here (zero errors).

Without Chromium the tests skip, naming the Debian package; ``.ci/run`` installs it.
``VIZPIPE_PREVIEW_SHOTS=DIR`` keeps the page's screenshot at the last frame
(``DIR/preview_<pipeline>.png``; the README's are taken with ``VIZPIPE_PREVIEW_SHOTS=docs``).
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.manifest import iter_assets, read_manifest
from render.preview.serve import serve_in_thread, url_of
from tests.render._browser import PACKAGE, Chromium, find_chromium
from tests.render.test_preview import validate_glbs

ROOT = Path(__file__).resolve().parents[2]

needs_chromium = pytest.mark.skipif(
    find_chromium() is None,
    reason=f"no Chromium: the browser tests need Debian's {PACKAGE!r} package "
           f"(apt-get install -y {PACKAGE}; .ci/run installs it)")

READY = ("window.vizpipePreview && (window.vizpipePreview.ready || "
         "window.vizpipePreview.errors.length) && JSON.stringify(window.vizpipePreview)")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("VIZPIPE_ENGINE", None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=900)


RUNS = {
    "materials": ["-m", "materials_pipeline", "--default", "--frames", "2", "--orbit-frames",
                  "2", "--no-render", "--workers", "1"],
    "climate": ["-m", "climate_pipeline", "--default", "--frames", "2", "--particles", "200",
                "--streamlines", "60", "--no-render", "--workers", "1"],
    "demo": ["-m", "vizpipe_app.demo", "--frames", "2", "--engine", "serial"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("preview-runs")
    out = {}
    for name, args in RUNS.items():
        run = base / name
        argv = [*args, str(run)] if name == "demo" else [*args, "--out", str(run)]
        res = run_cli(*argv)
        assert res.returncode == 0, f"{name}: {res.stderr[-3000:]}"
        if name == "demo":
            res = run_cli("-m", "render.preview", str(run))
            assert res.returncode == 0, res.stderr[-2000:]
        else:  # the pipelines wrote it at the end of the conversion, and said where
            assert f"preview: {run / 'preview' / 'index.html'}" in res.stdout, res.stdout
        out[name] = run
    return out


@pytest.fixture(scope="module")
def browser():
    with Chromium(width=960, height=540) as b:
        yield b


def pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def snapshot(page) -> np.ndarray:
    """The WebGL canvas alone (no page overlays: a blank canvas stays blank)."""
    url = page.evaluate("window.vizpipePreview.snapshot()")
    assert url.startswith("data:image/png;base64,")
    return pixels(base64.b64decode(url.split(",", 1)[1]))


def colour_regions(img: np.ndarray, share: float = 0.002) -> int:
    """Colours (the top 3 bits of each channel) that each cover at least ``share`` of the
    picture: a blank or one-colour canvas has 1."""
    q = (img >> 5).reshape(-1, 3)
    keys = (q[:, 0] << 6) | (q[:, 1] << 3) | q[:, 2]
    counts = np.bincount(keys, minlength=512)
    return int((counts >= share * len(keys)).sum())


def assert_not_blank(img: np.ndarray, what: str) -> tuple[float, int]:
    spread = float(img.reshape(-1, 3).std(axis=0).max())
    regions = colour_regions(img)
    assert spread > 6.0 and regions >= 3, f"{what}: blank picture (spread {spread:.1f}, " \
                                          f"{regions} colour regions)"
    return spread, regions


@needs_chromium
@pytest.mark.parametrize("name", list(RUNS))
def test_page_draws_every_frame(runs, browser, name):
    run = runs[name]
    m = read_manifest(run)
    n_frames = len(m["frames"])
    expected_objects = len(m.get("static", [])) + len(m["frames"][0]["assets"])
    server, thread = serve_in_thread(run)
    try:
        page = browser.open(url_of(server))
        state = json.loads(page.wait_for(READY, timeout=60))
        assert not state["errors"] and state["ready"], state["errors"]
        assert state["frame"] == 0 and state["frames"] == n_frames >= 2
        assert state["objects"] == expected_objects
        print(f"{name}: ready in {state['openMs']:.0f} ms after navigation "
              f"(SwiftShader), {expected_objects} objects")
        first = snapshot(page)
        print(f"{name}: frame 0 spread, colour regions", assert_not_blank(first, name))
        last = page.evaluate(f"window.vizpipePreview.goto({n_frames - 1})", await_promise=True)
        assert last == n_frames - 1
        state = json.loads(page.evaluate("JSON.stringify(window.vizpipePreview)"))
        assert state["frame"] == n_frames - 1 and not state["errors"]
        assert state["objects"] == len(m.get("static", [])) + len(m["frames"][-1]["assets"])
        end = snapshot(page)
        assert_not_blank(end, f"{name} last frame")
        shots = os.environ.get("VIZPIPE_PREVIEW_SHOTS")
        if shots and name in ("materials", "climate"):  # the README's pictures: the last frame
            Path(shots).mkdir(parents=True, exist_ok=True)
            (Path(shots) / f"preview_{name}.png").write_bytes(page.screenshot())
        changed = float((np.abs(end - first).max(axis=2) > 24).mean())
        assert changed > 0.002, f"{name}: the last frame looks like the first ({changed:.4f})"

        errors = page.errors()
        assert not errors, errors
        outside = [u for u in page.requests()
                   if not u.startswith(("http://127.0.0.1:", "blob:http://127.0.0.1:", "data:"))]
        assert not outside, outside
        loaded = {u.split("/", 3)[3] for u in page.requests() if u.startswith("http://127.0.0.1")}
        assert "preview/lib/draco/draco_decoder.wasm" in loaded or name == "demo" or \
            not any(a["kind"] == "mesh" for a in m["frames"][0]["assets"])
        # frames load lazily: the page asked for frames 0, 1 (read ahead) and the last only
        frame_dirs = {u.split("/")[1] for u in loaded if u.startswith("assets/")}
        assert frame_dirs <= {"0000", "0001", f"{n_frames - 1:04d}"}, frame_dirs
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@needs_chromium
def test_broken_page_fails_the_check(runs, browser, tmp_path):
    """The check bites: a run whose frame GLB is damaged reports an error, not ``ready``."""
    import shutil

    run = tmp_path / "broken"
    shutil.copytree(runs["demo"], run)
    scene = json.loads((run / "preview" / "scene.json").read_text())
    url = next(a["url"] for a in scene["frames"][0]["assets"] if a.get("url"))
    (run / "preview" / url).resolve().write_bytes(b"glTF" + b"\0" * 60)
    server, thread = serve_in_thread(run)
    try:
        page = browser.open(url_of(server))
        state = json.loads(page.wait_for(READY, timeout=60))
        assert not state["ready"] and state["errors"], state
        assert page.errors()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_pipeline_glbs_pass_the_khronos_validator(runs):
    """Every GLB of both pipelines' runs: zero errors from the Khronos glTF validator (skips
    without Node.js or the validator, saying how to install them)."""
    files = sorted({run / p for name in ("materials", "climate") for run in [runs[name]]
                    for a in iter_assets(read_manifest(run))
                    for p in [a["path"], *a.get("alternates", [])] if p.endswith(".glb")})
    assert len(files) > 10
    bad = [r for r in validate_glbs(files) if r["errors"]]
    assert not bad, bad
