"""A look regression test (issue #18 item 6): each default scene, rendered small with the
default settings, against a committed reference picture.

The materials and climate default runs are converted at 2 frames and 192x108 (no render),
then ``python -m render`` renders one frame with the run's own samples and denoiser. The raw
render (``frames/raw/NNNN.png``: no overlays, so fonts play no part) is compared with
``tests/render/reference/look_<scene>.png``:

* SSIM (per colour channel, scikit-image) at least :data:`MIN_SSIM`, and
* the mean absolute difference of the 8-bit channels at most :data:`MAX_MEAN_DIFF`.

The tolerances leave room for what differs between x86-64 machines (Cycles' and OIDN's
kernels per vector ISA, thread count): two renders on one machine agree to SSIM 1.0, and the
check must still fail when the look changes. :func:`test_a_look_change_fails` proves that
it does: the climate frame without its base map fails both.

After a deliberate change of the look, write new references with
``VIZPIPE_UPDATE_LOOK=1 .venv/bin/pytest tests/render/test_look_regression.py``, look at
them, and commit them with the change.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.bpy

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(__file__).with_name("reference")
SIZE = "192x108"
MIN_SSIM = 0.85
MAX_MEAN_DIFF = 8.0  # of 255
FRAME = 1
SCENES = {
    "materials": ["-m", "materials_pipeline", "--default", "--frames", "2"],
    "climate": ["-m", "climate_pipeline", "--default", "--frames", "2", "--particles", "300"],
}


def convert(name: str, out: Path) -> Path:
    res = subprocess.run([sys.executable, *SCENES[name], "--out", str(out), "--no-render",
                          "--resolution", SIZE, "--workers", "1"],
                         capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return out


def render(run: Path) -> np.ndarray:
    res = subprocess.run([sys.executable, "-m", "render", str(run), "--frames",
                          f"{FRAME}:{FRAME + 1}", "--no-movie", "--no-blend", "--workers", "1",
                          "--force"], capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    return np.asarray(Image.open(run / "frames" / "raw" / f"{FRAME:04d}.png").convert("RGB"))


def compare(img: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    from skimage.metrics import structural_similarity

    assert img.shape == ref.shape
    ssim = float(structural_similarity(img, ref, channel_axis=2))
    diff = float(np.abs(img.astype(np.float64) - ref.astype(np.float64)).mean())
    return ssim, diff


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("look")
    return {name: convert(name, root / name) for name in SCENES}


@pytest.mark.parametrize("name", list(SCENES))
def test_default_look_matches_the_reference(runs, name):
    img = render(runs[name])
    ref_path = REFERENCE / f"look_{name}.png"
    if os.environ.get("VIZPIPE_UPDATE_LOOK"):
        REFERENCE.mkdir(exist_ok=True)
        Image.fromarray(img).save(ref_path, optimize=True)
    ref = np.asarray(Image.open(ref_path).convert("RGB"))
    ssim, diff = compare(img, ref)
    assert ssim >= MIN_SSIM and diff <= MAX_MEAN_DIFF, (
        f"{name}: the default look changed (SSIM {ssim:.3f}, needs >= {MIN_SSIM}; mean "
        f"difference {diff:.1f}/255, needs <= {MAX_MEAN_DIFF}); if on purpose, see this "
        "module's docstring to update the reference")


def test_a_look_change_fails(runs, tmp_path):
    """The climate frame without its base map is out of tolerance on both measures."""
    run = tmp_path / "nobase"
    shutil.copytree(runs["climate"], run)
    man = json.loads((run / "manifest.json").read_text())
    man["static"] = [a for a in man["static"] if a["name"] != "base"]
    (run / "manifest.json").write_text(json.dumps(man))
    ref = np.asarray(Image.open(REFERENCE / "look_climate.png").convert("RGB"))
    ssim, diff = compare(render(run), ref)
    assert ssim < MIN_SSIM and diff > MAX_MEAN_DIFF, (ssim, diff)
