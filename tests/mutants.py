"""Prove the tests bite (issue #14, part 5): a hand-made set of mutations of the readers, the
stage functions, the writers and the renderer, each of which must make at least one test fail.

``make mutants`` (or ``python -m tests.mutants [NAME ...]``) applies each mutation to a copy of
the working tree in a temporary folder (the checkout itself is never touched), runs the tests
named for it there, and reports KILLED (some test failed, as it must) or SURVIVED. The exit
status is non-zero when any mutant survives or a mutation no longer applies (its ``old`` text
is gone: the code changed and the list must follow). The list and its last result are in
tests/README.md.

Each mutation is one textual replacement: ``old`` must occur exactly once in ``path``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP_DIRS = {".git", ".venv", "out", ".pytest_cache", ".benchmarks", ".mypy_cache",
             ".ruff_cache", ".hypothesis", "__pycache__", "build"}


@dataclass(frozen=True)
class Mutant:
    name: str
    kind: str  # flip, transpose, level order, unit scale, dropped frame, ...
    path: str  # relative to the repository root
    old: str
    new: str
    tests: tuple[str, ...]  # pytest node ids or paths (with optional -k expressions after ::)
    what: str


MUTANTS: list[Mutant] = []


def add(*args, **kw) -> None:
    MUTANTS.append(Mutant(*args, **kw))


def copy_tree(dest: Path) -> None:
    """The working tree as it is (uncommitted changes and built kernels included)."""

    def ignore(_dir: str, names: list[str]) -> set[str]:
        return {n for n in names if n in SKIP_DIRS or n.endswith(".egg-info")}

    shutil.copytree(ROOT, dest, ignore=ignore, symlinks=True)


def apply(tree: Path, m: Mutant) -> None:
    p = tree / m.path
    text = p.read_text()
    n = text.count(m.old)
    if n != 1:
        raise SystemExit(f"error: {m.path}: mutation {m.name!r} expects its text exactly once, "
                         f"found it {n} times (the code changed: update tests/mutants.py)")
    p.write_text(text.replace(m.old, m.new))


def run_tests(tree: Path, m: Mutant, log: Path) -> int:
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("VIZPIPE_ENGINE", None)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly", "-p",
           "no:cacheprovider", "-m", "not benchmark", "--no-header", *m.tests]
    with open(log, "w") as fh:
        fh.write(" ".join(cmd) + "\n")
        fh.flush()
        return subprocess.run(cmd, cwd=tree, env=env, stdout=fh, stderr=subprocess.STDOUT,
                              timeout=1800).returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.mutants", description=__doc__.split(
        "\n\n")[0])
    ap.add_argument("names", nargs="*", help="mutants to run [all]")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--logs", default=str(ROOT / "out" / "mutants"),
                    help="folder for each mutant's pytest output [out/mutants]")
    a = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if not a.names or m.name in a.names]
    if a.list:
        for m in MUTANTS:
            print(f"{m.name:<28} {m.kind:<16} {m.path}: {m.what}")
        return 0
    unknown = set(a.names) - {m.name for m in MUTANTS}
    if unknown:
        print(f"error: unknown mutants {sorted(unknown)}; known: "
              f"{', '.join(m.name for m in MUTANTS)}", file=sys.stderr)
        return 2
    logs = Path(a.logs)
    logs.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    # the control: every selected test passes on the unmutated tree (else KILLED means nothing)
    union = tuple(dict.fromkeys(t for m in chosen for t in m.tests))
    control = Mutant("control", "none", "", "", "", union, "no mutation")
    with tempfile.TemporaryDirectory(prefix="mutant-control-") as tmp:
        tree = Path(tmp) / "tree"
        copy_tree(tree)
        rc = run_tests(tree, control, logs / "control.log")
    print(f"[control] {len(union)} test selections on the unmutated tree: "
          f"{'pass' if rc == 0 else f'FAIL (rc {rc})'} ({time.perf_counter() - t_all:.1f} s)",
          flush=True)
    if rc != 0:
        print(f"error: {logs / 'control.log'}: the tests fail without any mutation; expected "
              "them to pass", file=sys.stderr)
        return 1
    survived = 0
    t_mut = time.perf_counter()
    for i, m in enumerate(chosen, 1):
        with tempfile.TemporaryDirectory(prefix=f"mutant-{m.name}-") as tmp:
            tree = Path(tmp) / "tree"
            copy_tree(tree)
            apply(tree, m)
            t0 = time.perf_counter()
            rc = run_tests(tree, m, logs / f"{m.name}.log")
        # pytest: 0 all passed (the mutant survived), 1 tests failed, 2/3 interrupted or
        # internal error (a collection error: the mutant broke an import a test needs),
        # 4/5 usage error or no test collected (the selection is wrong, not the code)
        verdict = {0: "SURVIVED", 1: "KILLED", 2: "KILLED", 3: "KILLED"}.get(rc, f"ERROR {rc}")
        survived += verdict != "KILLED"
        done = time.perf_counter() - t_mut
        print(f"[{i}/{len(chosen)}] {m.name:<28} {verdict:<9} {time.perf_counter() - t0:6.1f} s "
              f"(ETA {done / i * (len(chosen) - i):4.0f} s)  {m.path}: {m.what}", flush=True)
    print(f"{len(chosen) - survived} of {len(chosen)} mutants killed "
          f"({time.perf_counter() - t_all:.0f} s); logs in {logs}")
    return 1 if survived else 0


# ------------------------------------------------------------------------------ the mutations
# (added below; each names the tests that must catch it)
MR = "tests/materials/test_real_files.py"
MRD = "tests/materials/test_readers.py"

# materials readers
add("cube-transpose", "transpose", "materials_pipeline/readers/cube.py",
    "        arr = data[..., m]\n", "        arr = data[..., m].transpose(2, 1, 0)\n",
    (f"{MR}::test_cube_whole_grid_matches_independent_readers",),
    "cube grid read with x and z swapped")
add("cube-flip-x", "flip", "materials_pipeline/readers/cube.py",
    "        arr = data[..., m]\n", "        arr = data[..., m][::-1]\n",
    (f"{MR}::test_cube_whole_grid_matches_independent_readers",),
    "cube grid read with its first axis reversed")
add("cube-bohr-truncated", "unit scale", "materials_pipeline/readers/cube.py",
    "to_ang = 1.0 if angstrom else BOHR\n", "to_ang = 1.0 if angstrom else 0.5291772\n",
    (f"{MR}::test_cube_whole_grid_matches_independent_readers",),
    "Bohr -> Angstrom factor cut to 7 digits (positions off by 2e-8 relative)")
add("cube-density-bohr-squared", "unit scale", "materials_pipeline/readers/cube.py",
    "factor, units = (1.0 if angstrom else BOHR ** 3), \"e/Angstrom^3\"",
    "factor, units = (1.0 if angstrom else BOHR ** 2), \"e/Angstrom^3\"",
    (f"{MR}::test_physical_number",), "density converted with Bohr^2 instead of Bohr^3")
add("xsf-transpose-yz", "transpose", "materials_pipeline/readers/xsf.py",
    "                    grids[name] = Grid(name, values, aff, units,\n",
    "                    grids[name] = Grid(name, values.transpose(0, 2, 1), aff, units,\n",
    (f"{MR}::test_xsf_whole_grid_matches_independent_readers",),
    "XSF grid with y and z swapped (invisible on the symmetric CO HOMO's values: caught by "
    "the index-labelled copy)")
add("xsf-flip-x", "flip", "materials_pipeline/readers/xsf.py",
    "                    grids[name] = Grid(name, values, aff, units,\n",
    "                    grids[name] = Grid(name, values[::-1].copy(), aff, units,\n",
    (f"{MR}::test_xsf_whole_grid_matches_independent_readers",), "XSF grid reversed along x")
add("xsf-step-off-by-one", "off by one", "materials_pipeline/readers/xsf.py",
    "    div = np.maximum(shape_a - 1, 1)\n", "    div = np.maximum(shape_a, 1)\n",
    (f"{MR}::test_xsf_whole_grid_matches_independent_readers",),
    "general-grid voxel step span/n instead of span/(n-1)")
add("vaspout-no-transpose", "transpose", "materials_pipeline/readers/vaspout.py",
    "vals = np.ascontiguousarray(a[i].T)", "vals = np.ascontiguousarray(a[i])",
    (f"{MRD}::test_vaspout_fixture_reads_alike_in_py4vasp",),
    "vaspout.h5 density kept in HDF5's (z, y, x) order")
add("vaspout-scale-ignored", "unit scale", "materials_pipeline/readers/vaspout.py",
    "    s = 1.0 if scale is None else float(np.asarray(scale).reshape(-1)[0])\n",
    "    s = 1.0\n", (f"{MRD}::test_vaspout_fixture_reads_alike_in_py4vasp",),
    "vaspout.h5 lattice scale factor ignored")
# core writers
add("vdb-writer-flip-z", "flip", "core/io/vdb.py",
    "    src = np.asarray(vol.values)\n", "    src = np.asarray(vol.values)[:, :, ::-1]\n",
    (f"{MR}::test_vdb_holds_the_independent_grid",), "VDB written with z reversed")
add("vdb-transform-transposed", "transpose", "core/io/vdb.py",
    "createLinearTransform(vol.affine.T.tolist())", "createLinearTransform(vol.affine.tolist())",
    (f"{MR}::test_vdb_holds_the_independent_grid",),
    "VDB index-to-world matrix transposed (sheared cells wrong)")

# climate: frame stage and readers, against the raw files read independently
# (tests/climate/test_real_files.py, tests/climate/_raw.py; tests/climate/test_grib.py)
CR = "tests/climate/test_real_files.py"
_LOAD = "    values = load_time(field, tau)  # (nz, ny, nx)\n"
add("climate-flip-lat", "flip", "climate_pipeline/frames.py", _LOAD,
    _LOAD + "    values = values[:, ::-1]\n", (f"{CR}::test_layer_values_at_fixed_points",),
    "frame data reversed along latitude, coordinates kept")
add("climate-flip-lon", "flip", "climate_pipeline/frames.py", _LOAD,
    _LOAD + "    values = values[:, :, ::-1]\n",
    (f"{CR}::test_layer_values_at_fixed_points[winds_seam_0_360]",),
    "frame data reversed along longitude, coordinates kept")
add("climate-levels-reversed", "level order", "climate_pipeline/frames.py", _LOAD,
    _LOAD + "    values = values[::-1]\n", (f"{CR}::test_layer_is_the_ground_level",),
    "levels reversed: the layer shows the top level")
add("climate-unit-x1000", "unit scale", "climate_pipeline/frames.py", _LOAD,
    _LOAD + "    values = values * 1000\n", (f"{CR}::test_layer_values_at_fixed_points",),
    "values scaled by 1000 (g -> mg)")
add("climate-lat-axis-flipped", "flip", "climate_pipeline/frames.py",
    "    lon, lat = field.lon, field.lat\n",
    "    lon, lat = field.lon, np.asarray(field.lat)[::-1]\n",
    (f"{CR}::test_layer_maximum_is_where_the_raw_maximum_is",),
    "latitude coordinate reversed, data kept")
add("grib-scan-rows-flipped", "flip", "climate_pipeline/readers/grib.py",
    "    if flip:\n        a = a[::-1]\n", "    if not flip:\n        a = a[::-1]\n",
    ("tests/climate/test_grib.py::"
     "test_scanning_mode_64_values_stay_at_their_latitudes_and_longitudes",),
    "GRIB data rows flipped against the scanning mode (latitudes still ascend)")
add("grib-levels-reversed", "level order", "climate_pipeline/readers/grib.py",
    "reverse=ltype in _DOWNWARD)", "reverse=ltype not in _DOWNWARD)",
    (f"{CR}::test_layer_is_the_ground_level",),
    "GRIB levels ordered from the top down (heights reversed too)")
add("climate-time-off-by-one", "off by one", "climate_pipeline/data.py",
    "        a = self.values[t]\n", "        a = self.values[min(t + 1, self.nt - 1)]\n",
    (f"{CR}::test_physical_number", "tests/climate/test_readers.py"),
    "each frame reads the next time step")
add("climate-dropped-frame", "dropped frame", "climate_pipeline/pipeline.py",
    "for i, t in enumerate(taus)]", "for i, t in enumerate(taus[:-1])]",
    ("tests/climate/test_pipeline.py",), "the last output frame is never built")
add("materials-dropped-frame", "dropped frame", "materials_pipeline/pipeline.py",
    "enumerate(zip(frames, colours, strict=True))])",
    "enumerate(zip(frames[:-1], colours[:-1], strict=True))])",
    ("tests/materials/test_pipeline.py",), "the last input frame is never converted")
add("wind-window-whole-file", "memory", "core/memory.py",
    "    if nt * per_step + packed <= budget:\n", "    if True:\n",
    ("tests/climate/test_memory_bound.py",), "particle winds read whole, whatever the budget")
add("netcdf-chunk-cache-unbounded", "memory", "climate_pipeline/readers/netcdf.py",
    "    if netCDF4.get_chunk_cache()[0] != size:\n",
    "    if False:\n", ("tests/climate/test_memory_bound.py",),
    "netCDF-C's 64 MiB chunk cache per variable left as it is")

add("wind-window-rereads-overlap", "memory", "climate_pipeline/particles.py",
    "        if old is not None and old[0] <= i0 <= old[1]:\n",
    "        if False:\n", ("tests/climate/test_particles.py",),
    "a window that moves on reads again the steps it shares with the last one")
add("wind-prefetch-wrong-steps", "off by one", "climate_pipeline/particles.py",
    "        a0, a1 = i1 + 1, min(i1 + self.steps - 1, nt - 1)\n",
    "        a0, a1 = i1 + 1, min(i1 + self.steps, nt - 1)\n",
    ("tests/climate/test_particles.py",), "the prefetch reads one step too many")
add("frame-budget-unchecked", "memory", "climate_pipeline/pipeline.py",
    "    if need <= budget:\n        yield False\n",
    "    if True:\n        yield False\n", ("tests/climate/test_memory_budget.py",),
    "a frame larger than the budget is not refused before the work")

# renderer: each asset kind rendered alone (tests/render/test_render_kinds.py)
RK = "tests/render/test_render_kinds.py"
add('render-mesh-hidden', 'vanish', 'render/scene/builder.py',
    '                obj = bpy.data.objects.new(obj_name, mesh_data(obj_name, geom))\n                obj.data.materials.append(mat)\n',
    '                obj = bpy.data.objects.new(obj_name, mesh_data(obj_name, geom))\n                obj.data.materials.append(mat)\n                obj.hide_render = True\n',
    (RK,), 'mesh objects hidden from the render')
add('render-points-hidden', 'vanish', 'render/scene/objects.py',
    '    _set_material_out(nodes, points, mat, gout)\n    return obj',
    '    _set_material_out(nodes, points, mat, gout)\n    obj.hide_render = True\n    return obj',
    (RK,), 'particle points object hidden')
add('render-curves-hidden', 'vanish', 'render/scene/objects.py',
    '    _set_material_out(nodes, smooth.outputs["Geometry"], mat, gout)\n    return obj',
    '    _set_material_out(nodes, smooth.outputs["Geometry"], mat, gout)\n    obj.hide_render = True\n    return obj',
    (RK,), 'curves (streamlines, coastlines) object hidden')
add('render-volume-hidden', 'vanish', 'render/scene/objects.py',
    '    if blend_path:\n        vol.filepath = blend_path\n    return bpy.data.objects.new(name, vol)',
    '    if blend_path:\n        vol.filepath = blend_path\n    obj = bpy.data.objects.new(name, vol)\n    obj.hide_render = True\n    return obj',
    (RK,), 'volume object hidden')
add('render-volume-density-zero', 'unit scale', 'render/scene/materials.py',
    '    dens.inputs[1].default_value = float(a.get("density_scale", 1.0))',
    '    dens.inputs[1].default_value = 0.0',
    (RK,), 'volume density scale replaced by 0')
add('render-log-ignored', 'colour map', 'render/scene/materials.py',
    '    if cmap.get("log"):\n        if vmin <= 0',
    '    if False:\n        if vmin <= 0',
    (RK,), 'log flag of a colour map ignored (linear instead)')
add('render-colormap-lost', 'colour map', 'render/scene/materials.py',
    '    if cmap and cmap.get("attribute") in attributes:',
    '    if False:',
    (RK,), 'colour map dropped (flat grey)')
add('render-radius-attribute-ignored', 'size', 'render/scene/objects.py',
    '    name = a.get("radius_attribute")\n    if name and name in attrs:',
    '    name = a.get("radius_attribute")\n    if False:',
    (RK,), 'points radius attribute ignored')
add('render-transform-ignored', 'position', 'render/scene/builder.py',
    '            obj.matrix_world = Matrix(a["transform"])',
    '            pass',
    (RK,), 'asset transform ignored')
add('render-lens-ignored', 'camera', 'render/scene/camera.py',
    '        cam.data.lens = float(spec["lens_mm"])',
    '        cam.data.lens = 50.0',
    (RK,), 'camera lens forced to 50 mm')
add('render-camera-up-ignored', 'camera', 'render/scene/camera.py',
    '    up = Vector(spec.get("up", (0.0, 0.0, 1.0)))',
    '    up = Vector((0.0, 0.0, 1.0))',
    (RK,), 'camera up vector ignored')
add('render-camera-rolled-180', 'flip', 'render/scene/camera.py',
    '    x = up.cross(z)\n    if x.length',
    '    x = z.cross(up)\n    if x.length',
    (RK,), 'camera x axis reversed (image rotated 180 degrees)')
add('render-sensor-fit-vertical', 'camera', 'render/scene/camera.py',
    '    cam_data.sensor_fit = "AUTO"',
    '    cam_data.sensor_fit = "VERTICAL"',
    (RK,), 'sensor fit VERTICAL instead of AUTO')
add('render-curves-radius-ignored', 'size', 'render/scene/objects.py',
    '    r_default = float(a.get("radius", cur.radius or default_radius))',
    '    r_default = float(cur.radius or default_radius)',
    (RK,), 'asset radius of curves ignored')
add('render-colormap-range-unclamped-log', 'unit scale', 'render/scene/materials.py',
    '        vmin, vmax = math.log10(vmin), math.log10(vmax)',
    '        vmin, vmax = math.log10(vmin), math.log10(vmax) + 2.0',
    (RK,), 'log colour range max shifted by 2 decades')


if __name__ == "__main__":
    sys.exit(main())
