"""``python -m render.preview``: the browser view of a run (issue #21), without a browser.

The page itself is tested in headless Chromium by ``test_preview_browser.py``; here: what the
writer puts in ``preview/`` (every frame and asset of the manifest, looks, volume proxies,
the vendored library, the size budget), the command line (one ``error:`` line), the local
server (127.0.0.1 only), no ``bpy`` in the process, and the GLB files the page loads against
the Khronos glTF validator.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from core.manifest import iter_assets, read_manifest
from render.preview import writer
from render.preview.serve import HOST, make_server, serve_in_thread, url_of

ROOT = Path(__file__).resolve().parents[2]
#: the Khronos glTF validator, from the npm registry (.ci/run installs it under .venv/node)
VALIDATOR = "gltf-validator@2.0.0-dev.3.10"
VALIDATOR_DIR = ROOT / ".venv" / "node"


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("VIZPIPE_ENGINE", None)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    """A 3-frame demo run (volume, isosurface, atoms, bonds, trails, cell) and its preview."""
    out = tmp_path_factory.mktemp("preview") / "demo"
    res = cli("-m", "vizpipe_app.demo", str(out), "--frames", "3", "--engine", "serial")
    assert res.returncode == 0, res.stderr[-2000:]
    res = cli("-m", "render.preview", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.startswith(f"preview: {out / 'preview' / 'index.html'} (3 frames"), \
        res.stdout
    return out


def scene(run: Path) -> dict:
    """scene.json with each asset's shared look merged back (as the page does)."""
    return writer.expand(json.loads((run / "preview" / "scene.json").read_text()))


def test_scene_lists_every_frame_and_asset_with_its_look(demo_run):
    m = read_manifest(demo_run)
    s = scene(demo_run)
    assert [f["index"] for f in s["frames"]] == [f["index"] for f in m["frames"]]
    assert s["fps"] == m["fps"] and s["title"]
    for sf, mf in zip([{"assets": s["static"]}, *s["frames"]],
                      [{"assets": m["static"]}, *m["frames"]], strict=True):
        assert [a["name"] for a in sf["assets"]] == [a["name"] for a in mf["assets"]]
        for sa, ma in zip(sf["assets"], mf["assets"], strict=True):
            for key in ("kind", "color", "opacity", "radius", "radius_attribute", "hidden"):
                assert sa.get(key) == ma.get(key), (ma["name"], key)
            if "colormap" in ma:
                assert sa["colormap"]["name"] == ma["colormap"]["name"]
                assert sa["colormap"]["vmin"] == ma["colormap"]["vmin"]
                assert len(s["colormaps"][ma["colormap"]["name"]]) == 6 * writer.LUT_SIZE
            if ma["kind"] != "volume":  # the demo's path is PLY: the page takes the GLB
                glb = next(p for p in [ma["path"], *ma.get("alternates", [])]
                           if p.endswith(".glb"))
                assert sa["url"] == "../" + glb
                assert (demo_run / "preview" / sa["url"]).resolve().is_file()
    # label, time label and colour bar with units
    assert s["frames"][1]["label"] == m["frames"][1]["label"]
    cb = m["legend"]["colorbar"]
    assert s["colorbar"]["units"] == cb["colormap"]["units"] == "V"
    # a camera to start from: frame 0's
    assert s["camera"] == m["frames"][0]["camera"]


def test_volume_proxies_are_images_through_the_grid(demo_run):
    from PIL import Image

    s = scene(demo_run)
    vols = [a for f in s["frames"] for a in f["assets"] if a["kind"] == "volume"]
    assert vols and all(len(a["slices"]) == 3 for a in vols)
    b = s["bounds"]
    for a in vols:
        for sl in a["slices"]:
            img = Image.open(demo_run / "preview" / sl["image"])
            assert img.mode == "RGBA" and max(img.size) <= writer.VOLUME_MAX_PX
            alpha = img.getchannel("A").getextrema()
            assert alpha[1] > 40 and alpha[0] < 10  # the field shows, the empty grid not
            for corner in sl["corners"]:  # inside the (sheared) cell's bounds
                assert all(b[0][k] - 1e-6 <= corner[k] <= b[1][k] + 1e-6 for k in range(3))


def test_looks_are_shared_between_frames(demo_run):
    raw = json.loads((demo_run / "preview" / "scene.json").read_text())
    m = read_manifest(demo_run)
    per_frame = len(m["frames"][0]["assets"])
    assert len(raw["looks"]) < len(m["static"]) + len(m["frames"]) * per_frame
    assert writer.expand(writer.compact(writer.scene_data(m))) == writer.scene_data(m)


def test_volume_images_shrink_to_the_budget():
    for frames in (1, 10, 100, 1000, 10**5):
        px = writer._volume_px(3 * frames)
        assert writer.VOLUME_MIN_PX <= px <= writer.VOLUME_MAX_PX
        made = min(frames, writer.VOLUME_MAX_FRAMES)
        assert 3 * made * writer._volume_px(3 * made) ** 2 * 4 <= writer.VOLUME_BUDGET_BYTES


def test_folder_is_self_contained_and_small(demo_run):
    prev = demo_run / "preview"
    total = sum(p.stat().st_size for p in prev.rglob("*") if p.is_file())
    assert total < writer.BUDGET_BYTES
    for name in ("index.html", "viewer.js", "viewer.css", "scene.json", "lib/VERSION",
                 "lib/three/three.module.js", "lib/three/three.core.js", "lib/three/LICENSE",
                 "lib/three/addons/loaders/GLTFLoader.js", "lib/draco/draco_decoder.wasm",
                 "lib/draco/draco_wasm_wrapper.js", "lib/draco/LICENSE"):
        assert (prev / name).is_file(), name
    # our own files name no address outside the machine; the library's only in comments
    for name in ("index.html", "viewer.js", "viewer.css", "scene.json"):
        assert not re.search(r"https?://", (prev / name).read_text()), name
    page = (prev / "index.html").read_text()
    assert "{{TITLE}}" not in page and read_manifest(demo_run)["title"] in page
    assert not [p for p in demo_run.iterdir() if p.name.startswith(".preview")]


def test_vendored_library_is_pinned_and_recorded():
    lib = writer.static_dir() / "lib"
    version = (lib / "VERSION").read_text()
    m = re.match(r"three (\d+\.\d+\.\d+) \(npm: three@\1, sha512-", version)
    assert m, version
    assert "REVISION = '" + m.group(1).split(".")[1] + "'" in (lib / "three" / "three.core.js"
                                                              ).read_text()
    assert "MIT License" in (lib / "three" / "LICENSE").read_text()
    assert "Apache License" in (lib / "draco" / "LICENSE").read_text()
    size = sum(p.stat().st_size for p in lib.rglob("*") if p.is_file())
    assert size < 4e6


def test_rewrite_replaces_the_folder_whole(demo_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(demo_run, run, ignore=shutil.ignore_patterns("preview"))
    (run / "preview").mkdir()
    (run / "preview" / "stale.txt").write_text("from an older preview")
    info = writer.write_preview(run)
    assert info.index == run / "preview" / "index.html" and info.frames == 3
    assert not (run / "preview" / "stale.txt").exists()
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_cli_errors_are_one_line(tmp_path):
    res = cli("-m", "render.preview", str(tmp_path / "nowhere"))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere'}: no such run directory; expected a folder with a "
        "manifest.json (python -m <pipeline> ... --out RUN_DIR)"]
    (tmp_path / "empty").mkdir()
    res = cli("-m", "render.preview", str(tmp_path / "empty"))
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1
    assert res.stderr.startswith(f"error: {tmp_path / 'empty' / 'manifest.json'}: no manifest")
    res = cli("-m", "render.preview", str(tmp_path), "--port", "70000")
    assert res.returncode == 2 and res.stderr.startswith("error: --port: expected a port")


def test_cli_missing_asset_is_one_line(demo_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(demo_run, run, ignore=shutil.ignore_patterns("preview"))
    gone = run / "assets" / "0001" / "atoms.glb"
    gone.unlink()
    res = cli("-m", "render.preview", str(run))
    assert res.returncode == 1 and len(res.stderr.strip().splitlines()) == 1
    assert str(gone) in res.stderr and not (run / "preview").exists()


def test_preview_process_never_imports_bpy(demo_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(demo_run, run, ignore=shutil.ignore_patterns("preview"))
    code = ("import sys; from render.preview import write_preview; "
            f"write_preview({str(run)!r}); "
            "bad = [m for m in sys.modules if m == 'bpy' or m.startswith('bpy.')]; "
            "assert not bad, bad; print('ok')")
    res = cli("-c", code)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-2000:]


def test_server_is_local_and_serves_the_run(demo_run):
    server, thread = serve_in_thread(demo_run)
    try:
        assert server.server_address[0] == HOST == "127.0.0.1"
        url = url_of(server)
        assert url.startswith("http://127.0.0.1:") and url.endswith("/preview/index.html")
        with urllib.request.urlopen(url, timeout=10) as r:
            assert r.status == 200 and b"viewer.js" in r.read()
        glb = scene(demo_run)["frames"][0]["assets"][1]["url"]
        with urllib.request.urlopen(url.rsplit("/", 1)[0] + "/" + glb, timeout=10) as r:
            assert r.read(4) == b"glTF"
        with urllib.request.urlopen(url.replace("index.html", "viewer.js"), timeout=10) as r:
            assert r.headers["Content-Type"].startswith("text/javascript")
        port = server.server_address[1]
        with pytest.raises(Exception, match="already in use"):
            make_server(demo_run, port)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_pipelines_take_no_preview(tmp_path):
    from climate_pipeline.settings import build_parser as climate_parser
    from climate_pipeline.settings import settings_from_args as climate_settings
    from materials_pipeline.settings import build_parser as materials_parser
    from materials_pipeline.settings import settings_from_args as materials_settings

    for parser, settings in ((climate_parser, climate_settings),
                             (materials_parser, materials_settings)):
        base = ["--out", str(tmp_path), "--default"]
        assert settings(parser().parse_args(base)).preview is True
        assert settings(parser().parse_args([*base, "--no-preview"])).preview is False


def _node_validator() -> tuple[str, Path]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node not found: the glTF validator runs on Node.js (Debian: apt-get "
                    "install -y nodejs npm)")
    if not (VALIDATOR_DIR / "node_modules" / "gltf-validator").is_dir():
        pytest.skip(f"the Khronos glTF validator is not installed: npm install --prefix "
                    f"{VALIDATOR_DIR} {VALIDATOR} (.ci/run does)")
    return node, VALIDATOR_DIR / "node_modules"


VALIDATE_JS = r"""
const validator = require('gltf-validator');
const fs = require('fs');
(async () => {
  const out = [];
  for (const file of process.argv.slice(2)) {
    const report = await validator.validateBytes(new Uint8Array(fs.readFileSync(file)));
    out.push({file, errors: report.issues.numErrors,
              messages: report.issues.messages.filter((m) => m.severity === 0)
                .slice(0, 5).map((m) => `${m.code} ${m.pointer || ''} ${m.message}`)});
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(String(e)); process.exit(1); });
"""


def validate_glbs(files: list[Path]) -> list[dict]:
    node, modules = _node_validator()
    env = dict(os.environ, NODE_PATH=str(modules))
    res = subprocess.run([node, "-e", VALIDATE_JS, *map(str, files)], capture_output=True,
                         text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)


def test_glb_files_pass_the_khronos_validator(demo_run):
    files = sorted({demo_run / p for a in iter_assets(read_manifest(demo_run))
                    for p in [a["path"], *a.get("alternates", [])] if p.endswith(".glb")})
    assert files
    reports = validate_glbs(files)
    bad = [r for r in reports if r["errors"]]
    assert not bad, bad


def _fake_pipeline(demo_run: Path):
    """A pipeline module for :func:`vizpipe_app.runner.run_pipeline` whose conversion copies
    the demo run (the runner's hook is what is tested)."""
    import argparse
    import types

    from core.cli import add_asset_args
    from core.settings import RunSettings, from_namespace

    def build_parser() -> argparse.ArgumentParser:
        ap = argparse.ArgumentParser(prog="fake")
        ap.add_argument("--out", type=Path, required=True)
        ap.add_argument("--no-render", action="store_true")
        return add_asset_args(ap)

    def convert(settings: RunSettings) -> dict:
        shutil.copytree(demo_run, settings.out, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("preview"))
        return {"manifest": str(settings.out / "manifest.json")}

    return types.SimpleNamespace(
        build_parser=build_parser, convert=convert,
        settings_from_args=lambda ns: from_namespace(RunSettings, ns))


def test_conversion_writes_the_preview_unless_told_not_to(demo_run, tmp_path, capsys):
    from vizpipe_app.runner import run_pipeline

    fake = _fake_pipeline(demo_run)
    assert run_pipeline("fake", fake, ["--out", str(tmp_path / "a"), "--no-render"]) == 0
    assert (tmp_path / "a" / "preview" / "index.html").is_file()
    assert f"preview: {tmp_path / 'a' / 'preview' / 'index.html'} (3 frames" in \
        capsys.readouterr().out
    assert run_pipeline("fake", fake, ["--out", str(tmp_path / "b"), "--no-render",
                                       "--no-preview"]) == 0
    assert (tmp_path / "b" / "manifest.json").is_file()
    assert not (tmp_path / "b" / "preview").exists()
