"""The Singularity recipes containers/pipeline.def and containers/blender.def.

No singularity/apptainer binary exists here, so the recipes are checked piece by piece:
the real ``spython recipe`` command line (run as a subprocess, as a user would) parses them and
converts them to Dockerfiles, their pip pins equal requirements.lock, the files they copy exist,
the entry points they call work, their ``%test`` scripts run for real against the project's
.venv (with the ``blender`` wrapper they install on PATH), and ``make containers`` fails with
one clear line without singularity. The slow test builds each image's root file system for real
(``debootstrap --variant=minbase bookworm`` standing in for the recipes' ``debian:bookworm-slim``
base, then %files, %post in a chroot) and runs its %test and %runscript inside it.
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from core.rundir import RunDir

ROOT = Path(__file__).resolve().parents[2]
CONTAINERS = ROOT / "containers"
RECIPES = {"pipeline": CONTAINERS / "pipeline.def", "blender": CONTAINERS / "blender.def"}
LOCK = ROOT / "requirements.lock"
VENV_BIN = Path(sys.executable).parent
WRAPPER_DEST = "/usr/local/bin/blender"
SECTIONS = {"labels", "help", "files", "environment", "post", "runscript", "test"}
ENTRY_POINTS = ["climate_pipeline", "materials_pipeline", "render", "render.blender_chunk"]
MIRROR = "http://deb.debian.org/debian"
ROOTFS_CACHE = ROOT / "out" / "containers" / "rootfs-bookworm-minbase"
_SECTION_LINE = re.compile(r"^%(\w+)\s*$")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s]+)$")


# ---------------------------------------------------------------------------- recipe helpers

def spython_cli(*args: str) -> subprocess.CompletedProcess:
    """``spython recipe ARGS``: the unmodified spython command line of .venv, in a subprocess
    (what a user runs; spython is pinned in requirements.lock as a test dependency)."""
    exe = VENV_BIN / "spython"
    assert exe.exists(), f"{exe} is missing: spython is a test dependency (requirements.lock)"
    return subprocess.run([str(exe), "recipe", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)


def sections(path: Path) -> dict[str, str]:
    """Raw text of each ``%section`` (as singularity hands it to /bin/sh), plus ``header``."""
    out: dict[str, list[str]] = {"header": []}
    current = "header"
    for line in path.read_text().splitlines():
        m = _SECTION_LINE.match(line)
        if m:
            current = m.group(1).lower()
            if current in out:
                raise ValueError(f"{path}: section %{current} appears twice")
            out[current] = []
        else:
            out[current].append(line)
    return {k: "\n".join(v) + "\n" for k, v in out.items()}


def header(path: Path) -> dict[str, str]:
    """``Key: value`` lines before the first section (comments skipped)."""
    keys = {}
    for line in sections(path)["header"].splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition(":")
            keys[k.strip()] = v.strip()
    return keys


def files_map(path: Path) -> dict[str, str]:
    """%files as destination -> source (source relative to the repository root)."""
    out = {}
    for line in sections(path)["files"].splitlines():
        parts = line.split()
        if parts:
            src, dst = (parts[0], parts[0]) if len(parts) == 1 else parts
            out[dst] = src
    return out


def pip_installs(script: str) -> list[list[str]]:
    """Arguments of every ``pip install`` in a shell script (continuation lines joined)."""
    joined = re.sub(r"\\\n", " ", script)
    out = []
    for line in joined.splitlines():
        line = line.split(" #", 1)[0]
        m = re.search(r"-m pip install (.*)|\bpip3? install (.*)", line)
        if m:
            out.append((m.group(1) or m.group(2)).split())
    return out


def install_pins(args: list[str]) -> dict[str, str]:
    """``name==version`` arguments of one pip install, by canonical name."""
    pins = {}
    for a in args:
        m = _PIN.match(a)
        if m:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def option_values(args: list[str], *names: str) -> list[str]:
    return [args[i + 1] for i, a in enumerate(args[:-1]) if a in names]


def lock() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        m = _PIN.match(line.strip())
        if m:
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def dependency_closure(names: list[str]) -> set[str]:
    """Canonical names of ``names`` and everything they require (installed metadata, no extras
    but those asked for, markers evaluated for this interpreter)."""
    seen: set[str] = set()
    todo = [Requirement(n) for n in names]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        key = name + "[" + ",".join(sorted(req.extras)) + "]"
        if key in seen:
            continue
        seen.add(key)
        for text in importlib.metadata.requires(req.name) or []:
            sub = Requirement(text)
            if sub.marker is None or any(sub.marker.evaluate({"extra": e})
                                         for e in (req.extras or {""})):
                todo.append(sub)
    return {k.split("[")[0] for k in seen}


def wrapper_source() -> Path:
    """The file both recipes install as /usr/local/bin/blender."""
    sources = {files_map(path).get(WRAPPER_DEST) for path in RECIPES.values()}
    if len(sources) != 1 or None in sources:
        raise ValueError(f"recipes install different {WRAPPER_DEST}: {sources}")
    return ROOT / sources.pop()


def bin_with_blender(tmp_path: Path) -> Path:
    """A folder holding the recipe's ``blender`` wrapper, for the front of PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shutil.copy2(wrapper_source(), bin_dir / "blender")
    (bin_dir / "blender").chmod(0o755)
    return bin_dir


def image_like_env(bin_dir: Path | None = None) -> dict[str, str]:
    """PATH as in the images (%environment puts the venv first), with this repo's .venv."""
    path = [str(VENV_BIN), "/usr/local/bin", "/usr/bin", "/bin"]
    if bin_dir is not None:
        path.insert(0, str(bin_dir))
    env = {"PATH": os.pathsep.join(path), "HOME": os.environ.get("HOME", "/tmp"),
           "LC_ALL": "C.UTF-8", "PYTHONNOUSERSITE": "1", "TMPDIR": os.environ.get("TMPDIR",
                                                                                  "/tmp")}
    return env


# ---------------------------------------------------------------------------- fast tests

def _spython_dockerfile(name: str) -> str:
    """``spython recipe --parser singularity containers/NAME.def``: exit 0, no traceback, and
    the Dockerfile it prints."""
    proc = spython_cli("--parser", "singularity", f"containers/{name}.def")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_spython_cli_converts_the_recipe_to_a_dockerfile(name):
    """The recipe as the spython command line reads it, section by section in its output.

    spython's SingularityParser raises NotImplementedError("Only docker is supported.") on any
    line outside the sections that contains the word "bootstrap" without "docker" (so a
    ``Bootstrap: debootstrap`` header, or a header comment mentioning debootstrap, fails), and
    takes any such line containing "from:" as the base image: the FROM check catches that.
    """
    path = RECIPES[name]
    assert SECTIONS <= set(sections(path))
    dockerfile = _spython_dockerfile(name)
    lines = dockerfile.splitlines()
    assert lines[0] == "FROM debian:bookworm-slim AS spython-base"             # the header
    for dst, src in files_map(path).items():                                     # %files
        assert f"ADD {src} {dst}" in lines
    assert "LABEL org.opencontainers.image.licenses Apache-2.0" in lines        # %labels
    envs = [m.group(1) for m in map(re.compile(r"^\s*export (\S+=\S+)\s*$").match,
                                    sections(path)["environment"].splitlines()) if m]
    assert "PATH=/opt/venv/bin:$PATH" in envs and "VIZPIPE_HOME=/opt/vizpipe" in envs
    for kv in envs:                                                              # %environment
        # spython's Docker writer leaves the ENV off a line containing "USER" (it takes it for a
        # USER instruction), so PYTHONNOUSERSITE=1 comes out bare: a spython bug, not ours
        assert (kv if "USER" in kv else f"ENV {kv}") in lines, kv
    post = [x.strip() for x in sections(path)["post"].splitlines()]
    run_text = "\n".join(x[4:] if x.startswith("RUN ") else x for x in lines
                          if not x.startswith(("FROM ", "ADD ", "LABEL ", "ENV ", "CMD ")))
    for cmd in ("set -eu", "apt-get update", "python3.11 -m venv /opt/venv",     # %post
                "chmod 0755 /usr/local/bin/blender"):
        assert cmd in post and f"RUN {cmd}" in lines, cmd
    assert pip_installs(run_text) == \
        pip_installs(sections(path)["post"]), "the pip installs of %post, pins included"
    assert "HEALTHCHECK /bin/bash /tests.sh" in lines                            # %test
    assert 'RUN echo "blender --version" >> /tests.sh' in lines
    assert sum(x.startswith("CMD ") for x in lines) == 1                         # %runscript
    if name == "blender":
        assert 'CMD exec python -m render "$@"' in lines
    else:  # a multi-line %runscript becomes /entrypoint.sh
        assert "CMD /bin/bash /entrypoint.sh" in lines
        assert 'RUN echo "climate) shift; exec python -m climate_pipeline "$@" ;;" ' \
               '>> /entrypoint.sh' in lines


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_spython_cli_file_name_detection(name, tmp_path):
    """Without --parser, spython picks the parser by file name alone (client/recipe.py:
    ``elif "singularity" in args.files[0].lower()``), so a ``*.def`` path needs
    ``--parser singularity``; under a name holding "Singularity" the same file converts the
    same way."""
    plain = spython_cli(f"containers/{name}.def")
    assert (plain.returncode == 0 and plain.stdout == _spython_dockerfile(name)) or \
        (plain.returncode != 0 and "or define the --parser type" in plain.stderr), \
        plain.stdout + plain.stderr
    link = tmp_path / f"Singularity.{name}"
    link.symlink_to(RECIPES[name])
    auto = spython_cli(str(link))
    assert auto.returncode == 0, auto.stderr
    assert auto.stdout == _spython_dockerfile(name)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_spython_cli_writes_the_recipe_back(name):
    """``--writer singularity``: spython's own Singularity writer on the parsed recipe (it
    spells %files and %labels one character at a time, a spython bug; header and %post are
    checked)."""
    proc = spython_cli("--parser", "singularity", "--writer", "singularity",
                       f"containers/{name}.def")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    out = proc.stdout.splitlines()
    assert out[:2] == ["Bootstrap: docker", "From: debian:bookworm-slim"]
    post = out[out.index("%post") + 1:]
    assert post[:3] == ["set -eu", "export DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8",
                        "apt-get update"]


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_header_is_debian_bookworm(name):
    assert header(RECIPES[name]) == {"Bootstrap": "docker", "From": "debian:bookworm-slim"}
    post = sections(RECIPES[name])["post"]
    assert re.search(r"apt-get install .*python3\.11 ", post.replace("\\\n", " ")), \
        "bpy 5.0 needs Python 3.11"
    assert "python3.11 -m venv /opt/venv" in post


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_files_copy_the_project_and_exist(name):
    fm = files_map(RECIPES[name])
    for dst, src in fm.items():
        assert (ROOT / src).exists(), f"%files source {src} (for {dst}) is missing"
    for pkg in ("core", "render", "climate_pipeline", "materials_pipeline"):
        assert fm.get(f"/opt/vizpipe/{pkg}") == pkg
    for f in ("requirements.lock", "pyproject.toml", "setup.py", "README.md"):
        assert fm.get(f"/opt/vizpipe/{f}") == f
    post = sections(RECIPES[name])["post"]
    assert "pip install --no-cache-dir --no-deps --no-build-isolation /opt/vizpipe" in post


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_pip_pin_equals_the_lock(name):
    pinned = lock()
    installs = pip_installs(sections(RECIPES[name])["post"])
    assert installs
    for args in installs:
        for pkg, version in install_pins(args).items():
            assert pkg in pinned, f"{name}.def pins {pkg}, which is not in requirements.lock"
            assert version == pinned[pkg], f"{name}.def: {pkg}=={version}, lock {pinned[pkg]}"
        for req_file in option_values(args, "-r", "-c"):
            assert files_map(RECIPES[name]).get(req_file) == "requirements.lock"
        unpinned = [a for a in args if not a.startswith("-") and "==" not in a
                    and a not in option_values(args, "-r", "-c") and a != "/opt/vizpipe"]
        assert not unpinned, f"{name}.def installs unpinned {unpinned}"


def test_pipeline_installs_the_whole_lock():
    installs = pip_installs(sections(RECIPES["pipeline"])["post"])
    assert any(option_values(a, "-r") == ["/opt/vizpipe/requirements.lock"] for a in installs)
    assert files_map(RECIPES["pipeline"])["/opt/vizpipe/requirements.lock"] == "requirements.lock"


def _blender_pins() -> dict[str, str]:
    installs = pip_installs(sections(RECIPES["blender"])["post"])
    pins: dict[str, str] = {}
    for args in installs:
        pins.update(install_pins(args))
        if install_pins(args):
            assert option_values(args, "-c") == ["/opt/vizpipe/requirements.lock"], \
                "blender.def must constrain its installs to the lock (-c)"
    return pins


def test_blender_image_dependencies_are_all_in_the_lock():
    """What pip pulls in for blender.def's pins is in the lock (so -c pins all of it)."""
    closure = dependency_closure([f"{k}=={v}" for k, v in _blender_pins().items()])
    missing = sorted(closure - set(lock()))
    assert not missing, f"blender.def would install {missing}, which the lock does not pin"


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.exists():
            return cand
    return None


def render_third_party_imports() -> set[str]:
    """Top-level third-party modules imported by render/*.py and the core modules they use."""
    todo = sorted((ROOT / "render").glob("*.py"))
    seen: set[Path] = set()
    third: set[str] = set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for mod in _imports(path):
            top = mod.split(".")[0]
            if top in ("core", "render"):
                f = _module_file(mod)
                if f is not None:
                    todo.append(f)
            elif top not in sys.stdlib_module_names:
                third.add(top)
    return third


# Imported somewhere in the core modules render uses, but never by a render process.
NOT_IN_BLENDER = {
    "pxr": "core.usdscene (the pipelines write scene.usda; bpy embeds its own USD, and a "
           "Blender process must never import pxr)",
    "vtkmodules": "core.geometry.isosurface's VTK fallback (a pipeline stage)",
}


def _owners(mod: str, dists: dict) -> set[str]:
    return {canonicalize_name(d) for d in dists.get(mod, [])} - {"vizpipe"}


def test_blender_image_installs_what_render_imports():
    """Static: every third-party import of render/*.py (and of the core modules they import)."""
    embedded = {"bpy", "mathutils", "_cycles"}  # modules of the bpy wheel itself
    dists = importlib.metadata.packages_distributions()
    closure = dependency_closure([f"{k}=={v}" for k, v in _blender_pins().items()])
    modules = render_third_party_imports()
    assert {"bpy", "PIL", "numpy"} <= modules
    assert "usd-core" not in closure, "blender.def must not install usd-core (see NOT_IN_BLENDER)"
    for mod in sorted(modules - embedded - set(NOT_IN_BLENDER)):
        owners = {canonicalize_name(d) for d in dists.get(mod, [])}
        assert owners, f"render imports {mod}, which no installed distribution provides"
        assert owners & closure, f"render imports {mod} ({owners}); blender.def installs none"
    assert "bpy" in _blender_pins()


@pytest.mark.parametrize("module", ENTRY_POINTS)
def test_entry_points_exist_and_answer_help(module):
    proc = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_recipes_call_only_existing_entry_points(name):
    text = sections(RECIPES[name])
    called = set(re.findall(r"python -m ([\w.]+)", text["runscript"] + text["test"]))
    assert called
    known = set(ENTRY_POINTS) | {"vizpipe_app.demo"}
    assert called <= known, f"{name}.def calls {called - known}"
    if name == "blender":
        assert re.search(r"-m render\.blender_chunk \"\$@\"", wrapper_source().read_text())


def test_pipeline_runscript_dispatches(tmp_path):
    script = tmp_path / "runscript"
    script.write_text(sections(RECIPES["pipeline"])["runscript"])
    env = image_like_env()
    for sub, module in [("climate", "climate_pipeline"), ("materials", "materials_pipeline"),
                        ("demo", "vizpipe_app.demo")]:
        proc = subprocess.run(["/bin/sh", str(script), sub, "--help"], capture_output=True,
                              text=True, env=env, cwd=tmp_path, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert f"python -m {module}" in proc.stdout or "usage:" in proc.stdout
    proc = subprocess.run(["/bin/sh", str(script)], capture_output=True, text=True, env=env,
                          timeout=60)
    assert proc.returncode == 2 and "usage: pipeline.sif" in proc.stderr


def run_section(name: str, section: str, env: dict[str, str], cwd: Path,
                timeout: float = 300) -> subprocess.CompletedProcess:
    """Run a recipe section with /bin/sh -e, as singularity does."""
    script = cwd / f"{name}.{section}.sh"
    script.write_text(sections(RECIPES[name])[section])
    return subprocess.run(["/bin/sh", "-e", str(script)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=timeout)


def test_pipeline_test_section_runs_here(tmp_path):
    """pipeline.def's %test (entry points + a tiny demo conversion) against this .venv."""
    proc = run_section("pipeline", "test", image_like_env(bin_with_blender(tmp_path)), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pipeline image: ok" in proc.stdout


def test_blender_test_section_renders_through_the_wrapper(tmp_path):
    """blender.def's %test (a one-frame render via `blender`) with the recipe's wrapper."""
    proc = run_section("blender", "test", image_like_env(bin_with_blender(tmp_path)), tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "frame 0 done in" in proc.stdout
    assert "Blender 5.0.1 (bpy wheel" in proc.stdout
    assert "blender image: ok" in proc.stdout


def test_blender_wrapper_renders_a_demo_frame(tmp_path):
    """The wrapper renders frame 1 of a tiny vizpipe_app.demo run (volume, mesh, points, curves)."""
    from PIL import Image

    env = image_like_env(bin_with_blender(tmp_path))
    run_dir = tmp_path / "demo"
    subprocess.run([sys.executable, "-m", "vizpipe_app.demo", str(run_dir), "--frames", "2",
                    "--resolution", "96x54", "--samples", "2", "--engine", "serial"],
                   check=True, capture_output=True, cwd=ROOT, timeout=300)
    t0 = time.perf_counter()
    proc = subprocess.run(["blender", str(run_dir), "--frames", "1", "--threads", "1"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"^frame 1 done in", proc.stdout, re.M), proc.stdout
    assert time.perf_counter() - t0 < 120
    frame = RunDir(run_dir).frame_png(1)
    assert Image.open(frame).size == (96, 54)
    assert not RunDir(run_dir).frame_png(0).exists()
    loaded = _modules_loaded_by_a_render(run_dir, tmp_path / "modules.txt")
    dists = importlib.metadata.packages_distributions()
    closure = dependency_closure([f"{k}=={v}" for k, v in _blender_pins().items()])
    for mod in sorted(loaded):
        owners = _owners(mod, dists)
        assert not owners or owners & closure, \
            f"a render loaded {mod} ({owners}), which blender.def does not install"
    bad = subprocess.run(["blender", str(tmp_path / "nowhere"), "--frames", "0"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert bad.returncode != 0
    assert bad.stderr.strip().splitlines()[-1].startswith("error: ")


def _modules_loaded_by_a_render(run_dir: Path, out: Path) -> set[str]:
    """Top-level modules loaded by rendering frame 0 with render.blender_chunk (dynamic check
    of what the blender image needs)."""
    code = ("import sys; from render.blender_chunk import main; rc = main(sys.argv[2:]); "
            "open(sys.argv[1], 'w').write('\\n'.join(sorted({m.split('.')[0] "
            "for m in sys.modules}))); sys.exit(rc)")
    proc = subprocess.run([sys.executable, "-c", code, str(out), str(run_dir), "--frames", "0",
                           "--threads", "1"], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return set(out.read_text().split()) - set(sys.stdlib_module_names)


def _make_containers(path: str) -> subprocess.CompletedProcess:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    return subprocess.run([make, "-s", "-C", str(ROOT), "containers"], capture_output=True,
                          text=True, env={"PATH": path, "HOME": "/tmp"}, timeout=60)


def test_make_containers_without_singularity_says_so(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = _make_containers(str(empty))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert lines and lines[0].startswith("error: make containers needs singularity or apptainer")


@pytest.mark.parametrize("binary", ["singularity", "apptainer"])
def test_make_containers_builds_both_images(tmp_path, binary):
    """With a stand-in binary (it records its arguments), the target builds both recipes."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.log"
    fake = bin_dir / binary
    fake.write_text(f'#!/bin/sh\necho "$@" >> {log}\n')
    fake.chmod(0o755)
    proc = _make_containers(f"{bin_dir}:/usr/bin:/bin")
    assert proc.returncode == 0, proc.stderr
    fakeroot = "" if os.geteuid() == 0 else "--fakeroot "
    assert log.read_text().splitlines() == [
        f"build {fakeroot}--force containers/{n}.sif containers/{n}.def"
        for n in ("pipeline", "blender")]


# ---------------------------------------------------------------------------- slow: debootstrap

HOST_CA = "/root/.host-ca.crt"  # where build_rootfs puts the host's CA bundle (for pip)


def _chroot(rootfs: Path, command: str, timeout: float) -> subprocess.CompletedProcess:
    """Run ``command`` with /bin/sh in ``rootfs``, /proc mounted in a private mount namespace
    (the mount disappears with the process: nothing to unmount, nothing leaks to the host)."""
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": "/root", "LANG": "C.UTF-8", "TERM": "dumb"}
    if (rootfs / HOST_CA.lstrip("/")).exists():
        env["PIP_CERT"] = HOST_CA
    inner = f'mount -t proc proc "{rootfs}/proc" && exec chroot "{rootfs}" /bin/sh -c \'{command}\''
    return subprocess.run(["unshare", "--mount", "--fork", "/bin/sh", "-c", inner],
                          capture_output=True, text=True, env=env, timeout=timeout)


def _base_rootfs() -> Path:
    """``debootstrap --variant=minbase bookworm`` once, cached under out/containers."""
    if not (ROOTFS_CACHE / "etc" / "debian_version").exists():
        tmp = ROOTFS_CACHE.with_name(ROOTFS_CACHE.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["debootstrap", "--variant=minbase", "bookworm", str(tmp), MIRROR],
                       check=True, capture_output=True, timeout=1800)
        tmp.rename(ROOTFS_CACHE)
    return ROOTFS_CACHE


def build_rootfs(name: str, dest: Path, timeout: float = 3600) -> subprocess.CompletedProcess:
    """What ``singularity build`` does for the recipe, in a chroot: the base system (a minbase
    debootstrap of bookworm, which is what Debian's bookworm-slim image is built from), %files
    copied in (sources relative to the repository root), %environment installed where
    singularity puts it, %post run with /bin/sh -e."""
    subprocess.run(["cp", "-a", str(_base_rootfs()), str(dest)], check=True)
    for dst, src in files_map(RECIPES[name]).items():
        target = dest / dst.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / src).is_dir():
            shutil.copytree(ROOT / src, target, symlinks=True)
        else:
            shutil.copy2(ROOT / src, target)
    meta = dest / ".singularity.d"
    (meta / "env").mkdir(parents=True, exist_ok=True)
    text = sections(RECIPES[name])
    (meta / "env" / "90-environment.sh").write_text(text["environment"])
    (meta / "test").write_text(text["test"])
    (meta / "runscript").write_text(text["runscript"])
    (meta / "post.sh").write_text(text["post"])
    shutil.copy2("/etc/resolv.conf", dest / "etc" / "resolv.conf")
    # a network behind a TLS-intercepting proxy: pip in the chroot trusts what the host trusts
    ca = os.environ.get("PIP_CERT") or os.environ.get("SSL_CERT_FILE")
    if ca and Path(ca).is_file():
        shutil.copy2(ca, dest / HOST_CA.lstrip("/"))
    return _chroot(dest, "/bin/sh -e /.singularity.d/post.sh", timeout)


def run_in_image(rootfs: Path, args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """``singularity exec``-like: source the image environment, then run ``args``."""
    return _chroot(rootfs, f". /.singularity.d/env/90-environment.sh && {args}", timeout)


def _reachable(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=10):
            return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RECIPES))
def test_debootstrap_build_post_and_test_in_chroot(name, tmp_path):
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (chroot, mount namespace)")
    if not _reachable("deb.debian.org", 80) or not _reachable("pypi.org", 443):
        pytest.skip("needs network access to deb.debian.org and pypi.org")
    rootfs = tmp_path / "rootfs"
    try:
        t0 = time.perf_counter()
        post = build_rootfs(name, rootfs)
        print(f"{name}: %post {time.perf_counter() - t0:.0f}s")
        assert post.returncode == 0, post.stdout[-4000:] + post.stderr[-4000:]
        t0 = time.perf_counter()
        test = run_in_image(rootfs, "/bin/sh -e /.singularity.d/test")
        print(f"{name}: %test {time.perf_counter() - t0:.0f}s\n{test.stdout[-2000:]}")
        assert test.returncode == 0, test.stdout[-4000:] + test.stderr[-4000:]
        assert f"{name} image: ok" in test.stdout
        first = "climate --help" if name == "pipeline" else "--help"
        run = run_in_image(rootfs, f"/bin/sh /.singularity.d/runscript {first}")
        assert run.returncode == 0 and run.stdout.startswith("usage:"), run.stderr
        freeze = run_in_image(rootfs, "python -m pip freeze --all")
        assert freeze.returncode == 0, freeze.stderr
        got = {canonicalize_name(m.group(1)): m.group(2)
               for m in map(_PIN.match, freeze.stdout.split()) if m}
        pinned = lock()
        wrong = {k: v for k, v in got.items() if k in pinned and pinned[k] != v}
        assert not wrong, f"versions differing from the lock: {wrong}"
        extra = sorted(set(got) - set(pinned) - {"pip", "vizpipe"})
        assert not extra, f"installed but not in the lock: {extra}"
        if name == "pipeline":
            assert set(pinned) <= set(got), sorted(set(pinned) - set(got))
    finally:
        shutil.rmtree(rootfs, ignore_errors=True)
