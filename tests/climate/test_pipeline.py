"""The climate command end to end on a small generated run (no render)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from climate_pipeline import default_data as dd
from climate_pipeline.__main__ import main
from core.manifest import read_manifest
from core.rundir import RunDir

SMALL = {"nlon": 40, "nlat": 28, "nz": 6, "hours": 4}


@pytest.fixture(scope="module")
def small_nc(tmp_path_factory):
    return dd.write_netcdf(tmp_path_factory.mktemp("clim") / "pm10.nc", SMALL)


def test_netcdf_to_assets_manifest_and_particles(small_nc, tmp_path):
    out = tmp_path / "run"
    assert main([str(small_nc), "--out", str(out), "--var", "pm10", "--no-render",
                 "--thresholds", "13,20", "--frames", "6", "--particles", "300", "--batches", "1",
                 "--engine", "serial", "--coastlines", "110m"]) == 0
    man = read_manifest(out)
    assert len(man["frames"]) == 6  # more frames than the 4 time steps: interpolated
    names = {a["name"] for a in man["frames"][3]["assets"]}
    assert {"layer", "iso_0", "field", "particles_b00", "trails_b00", "streamlines"} <= names
    assert {a["name"] for a in man["static"]} == {"base", "coastlines"}
    assert man["frames"][1]["label"].startswith("2026-07-01 00:36")  # 0.6 h after the start
    assert man["legend"]["colorbar"]["colormap"]["units"] == "ug m-3"
    from core.io import read

    def files(k: int, name: str) -> list[Path]:
        """Frame ``k``'s asset ``name``: the renderer's file, then the other formats'."""
        (a,) = [a for a in man["frames"][k]["assets"] if a["name"] == name]
        return [out / p for p in [a["path"], *(a.get("alternates") or [])]]

    got = files(5, "particles_b00")  # default formats: the renderer's GLB and binary USD
    assert [p.name for p in got] == ["particles_b00.glb", "particles_b00.usdc"]
    for p in got:
        pts = read(p)
        assert len(pts) == 300 and {"speed", "age", "id"} <= set(pts.attributes), p
    from tests.materials.test_pipeline import usd_volume_file

    fdir = RunDir(out).frame_dir(3)  # the volume's USD points at the .vdb beside it
    assert [p.name for p in files(3, "field")] == ["field.vdb", "field.usdc"]
    assert usd_volume_file(fdir / "field.usdc") == (fdir / "field.vdb").resolve()
    st = man["provenance"]["settings"]  # the settings the command line became, recorded whole
    assert st["thresholds"] == [13.0, 20.0] and st["particles"] == 300 and st["mode"] == "map"
    assert st["render"] is False and st["coastlines"] == "110m" and st["wind"] == []
    assert RunDir(out).scene.exists()
    for p in files(2, "streamlines"):  # curves: vertices + polylines (GLB: LINES)
        lines = read(p)
        assert len(lines.points) > 100 and len(lines.counts) > 10, p
        assert "speed" in lines.attributes, p


def test_parallel_equals_serial(small_nc, tmp_path):
    import hashlib

    def digest(run):
        """sha256 of every mesh, point and curve file, keyed by its path relative to the
        assets folder (every frame folder holds the same names)."""
        root = RunDir(run).assets
        return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.suffix in (".ply", ".glb")}

    a, b = tmp_path / "a", tmp_path / "b"
    common = [str(small_nc), "--var", "pm10", "--no-render", "--thresholds", "13",
              "--particles", "200", "--batches", "2", "--coastlines", "110m"]
    assert main([*common, "--out", str(a), "--engine", "serial"]) == 0
    assert main([*common, "--out", str(b), "--engine", "local", "--workers", "2"]) == 0
    da, db = digest(a), digest(b)
    frames = {k.split("/")[0] for k in da}
    assert len(frames) == len(read_manifest(a)["frames"]) >= 2  # every frame's files compared
    assert da == db


@pytest.mark.parametrize("args, message", [
    (["--var", "nope"], "nope"),
    (["--var", "pm10", "--wind", "u,q"], "q"),
])
def test_bad_variable_names_the_file_and_lists_variables(small_nc, tmp_path, args, message):
    res = subprocess.run([sys.executable, "-m", "climate_pipeline", str(small_nc), "--out",
                          str(tmp_path / "r"), "--no-render", "--engine", "serial",
                          "--coastlines", "110m", *args],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("error:") and message in line and "pm10.nc" in line


def test_nan_winds_are_one_error_line_naming_file_and_winds(small_nc, tmp_path):
    import shutil

    import netCDF4

    bad = tmp_path / "nanwind.nc"
    shutil.copy(small_nc, bad)
    with netCDF4.Dataset(bad, "a") as ds:
        ds.variables["u"].set_auto_mask(False)
        u = ds.variables["u"][:]
        u[1, 2, 3, 4] = float("inf")
        ds.variables["u"][:] = u
    res = subprocess.run([sys.executable, "-m", "climate_pipeline", str(bad), "--out",
                          str(tmp_path / "r"), "--no-render", "--engine", "serial",
                          "--var", "pm10", "--coastlines", "110m", "--particles", "50"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("error:") and "nanwind.nc" in line and "u,v" in line
    assert "NaN or infinite" in line
    assert not (tmp_path / "r" / "manifest.json").exists()


@pytest.mark.parametrize("flags, present, hidden", [
    (["--streamlines", "0"], False, None),
    (["--hide-streamlines", "--streamlines", "40"], True, True),
])
def test_streamline_options(small_nc, tmp_path, flags, present, hidden):
    out = tmp_path / "run"
    assert main([str(small_nc), "--out", str(out), "--var", "pm10", "--no-render",
                 "--thresholds", "13", "--frames", "2", "--particles", "50", "--batches", "1",
                 "--engine", "serial", "--coastlines", "110m", *flags]) == 0
    assets = {a["name"]: a for a in read_manifest(out)["frames"][1]["assets"]}
    assert ("streamlines" in assets) is present
    if present:
        assert assets["streamlines"].get("hidden", False) is hidden


def test_grib2_input_end_to_end(tmp_path):
    """A GRIB2 file (iris-grib) through the command: assets and a manifest, no particles (no
    winds in it), isosurfaces on pressure levels, the globe."""
    from tests.climate.test_readers import write_grib2

    src = tmp_path / "t.grib2"
    write_grib2(src)
    out = tmp_path / "run"
    assert main([str(src), "--out", str(out), "--var", "air_temperature", "--no-render",
                 "--globe", "--thresholds", "265", "--engine", "serial",
                 "--coastlines", "110m"]) == 0
    man = read_manifest(out)
    assert len(man["frames"]) == 2
    names = {a["name"] for a in man["frames"][1]["assets"]}
    assert {"layer", "iso_0", "field"} <= names and not any("particles" in n for n in names)
    assert man["legend"]["colorbar"]["colormap"]["units"] == "K"


def _particles_lonlat(run, field):
    """Particle positions of frame 0 back in lon/lat (the map projection is affine)."""
    from climate_pipeline.geo import MapProjection
    from core.io import read

    proj = MapProjection.for_region(field.lon, field.lat, exaggeration=50.0)
    (a,) = [a for a in read_manifest(run)["frames"][0]["assets"] if a["name"] == "particles_b00"]
    assert a["path"].endswith("particles_b00.glb")  # the renderer's file (default formats)
    pts = read(run / a["path"]).positions[:, :2].astype(float)
    o = proj.forward([0.0], [0.0], [0.0])[0][:2]
    ex = proj.forward([1.0], [0.0], [0.0])[0][:2] - o
    ey = proj.forward([0.0], [1.0], [0.0])[0][:2] - o
    return np.linalg.solve(np.stack([ex, ey], axis=1), (pts - o).T)


def test_particles_seeded_by_concentration_start_where_the_pollutant_is(small_nc, tmp_path):
    import shutil

    import netCDF4

    from climate_pipeline.readers import open_field

    src = tmp_path / "plume_at_start.nc"  # the episode starts clean: put its plume at t = 0
    shutil.copy(small_nc, src)
    with netCDF4.Dataset(src, "a") as ds:
        ds.variables["pm10"][0] = ds.variables["pm10"][-1]
    field = open_field([str(src)], "pm10")
    assert np.ptp(field.frame(0)) > 10
    common = [str(src), "--var", "pm10", "--no-render", "--thresholds", "13", "--frames",
              "2", "--particles", "400", "--batches", "1", "--engine", "serial",
              "--coastlines", "110m", "--streamlines", "0"]
    mean = {}
    for how in ("uniform", "concentration"):
        run = tmp_path / how
        assert main([*common, "--out", str(run), "--seed-by", how]) == 0
        lon, lat = _particles_lonlat(run, field)
        i = np.abs(lon[:, None] - field.lon[None, :]).argmin(1)
        j = np.abs(lat[:, None] - field.lat[None, :]).argmin(1)
        mean[how] = float(np.nanmean(field.frame(0).max(axis=0)[j, i]))
    assert mean["concentration"] > 1.5 * mean["uniform"], mean
    man = read_manifest(tmp_path / "concentration")
    assert "seeded by pm10" in man["legend"]["subtitle"]


def test_seeding_by_a_uniform_field_is_one_error_line(small_nc, tmp_path):
    res = subprocess.run([sys.executable, "-m", "climate_pipeline", str(small_nc), "--out",
                          str(tmp_path / "r"), "--no-render", "--engine", "serial", "--var",
                          "pm10", "--coastlines", "110m", "--particles", "50",
                          "--seed-by", "concentration"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 1
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("error:") and "pm10.nc" in line and "uniform" in line
