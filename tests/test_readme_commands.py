"""The README's commands run on a fresh clone, with the flags and defaults they document.

Every fenced command block in README.md carries a marker just before its fence, an HTML
comment GitHub does not show, with one line per command of the block, in order::

    <!-- readme-test
    make materials | fast | make materials MATFLAGS="--dry-run"
    make materials INPUT="CHGCAR" | slow | cp ... CHGCAR && make materials INPUT="CHGCAR" ...
    python -m materials_pipeline FILE_OR_DIR... | synopsis
    -->
    ```bash

``START | KIND | TEXT``: the command starts with START; KIND is

- ``fast``: TEXT (the cheap form of the command) runs in ``make test``;
- ``slow``: TEXT runs under the ``slow`` marker (``make test-all``, ``.ci/run``);
- ``synopsis``: a usage line, nothing to run;
- ``output``: a line the previous command prints (``/path/to/repo`` standing for the clone);
  checked against what it printed;
- ``skip``: TEXT says why it cannot run here.

Whatever the kind, every ``--flag`` of every README command (fenced, and inline
`` `python -m ...` `` / `` `make ...` `` spans) must exist in the parser of the command it is
given to (``build_parser()`` of the module, or the ``add_argument`` calls of one without it;
the case labels of ``containers/marenostrum/common.sh``; Makefile variables and targets), and
``a|b|c`` alternatives after a flag must be among its choices. A command block without a
marker fails, as does a marker that does not match its block.

The commands run in a fresh clone: ``git clone --shared`` of this repository, plus the working
tree's uncommitted edits of tracked and untracked (not ignored) files, so that what is tested
is what would be committed; no ``out/``, nothing ignored. It reuses this checkout's ``.venv``
(a symlink, and its built C kernels copied in; the clone's files are dated before
``.venv/.installed-stamp`` so ``make`` does not reinstall), with ``VIRTUAL_ENV``, ``PATH`` and
``PYTHONPATH`` pointing at the clone, and without the caller's ``VIZPIPE_*`` and Makefile
variables.

Also here: ``make help`` lists the targets the README names; bracketed defaults in ``--help``
texts equal the parsers' defaults; the README's statements of defaults equal the code's.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAKEFILE = ROOT / "Makefile"
SUBMIT_COMMON = ROOT / "containers" / "marenostrum" / "common.sh"

KINDS = ("fast", "slow", "synopsis", "output", "skip")
# first words of a line that make a fenced block a command block (which needs a marker)
COMMAND_WORDS = ("make", "python", "containers/", "runcompss", "enqueue_compss", "singularity",
                 "sbatch", "salloc", "bash", "./", "vizpipe")
# a Makefile's ...FLAGS variable: the commands it is passed to
PIPELINE_OF_FLAGS = {"MATFLAGS": ("materials_pipeline",), "CLIMFLAGS": ("climate_pipeline",),
                     "RUNFLAGS": ("vizpipe_app.demo", "render")}


# ----------------------------------------------------------------------------- the README


@dataclass(frozen=True)
class Entry:
    start: str
    kind: str
    text: str
    line: int  # in README.md


@dataclass(frozen=True)
class Command:
    raw: str  # with comments and continuation lines (joined by newlines)
    line: int

    @property
    def code(self) -> str:
        """The command without its ``# comment``, on one line."""
        parts = [re.split(r"(?:^|\s)#\s", ln, maxsplit=1)[0] for ln in self.raw.splitlines()]
        return " ".join(" ".join(p.rstrip("\\") for p in parts).split())


@dataclass(frozen=True)
class Block:
    line: int  # the fence's line
    lang: str
    commands: tuple[Command, ...]
    entries: tuple[Entry, ...] | None  # None: no marker

    @property
    def name(self) -> str:
        return f"README.md:{self.line}"

    def pairs(self) -> list[tuple[Command, Entry]]:
        return list(zip(self.commands, self.entries or (), strict=False))


def _parse_marker(lines: list[str], end: int) -> tuple[Entry, ...] | None:
    """The marker ending on line index ``end`` (the ``-->`` line), or None."""
    if end < 0 or lines[end].strip() != "-->":
        return None
    start = end
    while start >= 0 and not lines[start].startswith("<!--"):
        start -= 1
    if start < 0 or not lines[start].startswith("<!-- readme-test"):
        return None  # another comment: the block is unmarked
    entries = []
    for i in range(start + 1, end):
        if not lines[i].strip():
            continue
        parts = [p.strip() for p in lines[i].split(" | ", 2)]
        assert len(parts) >= 2, f"README.md:{i + 1}: expected 'START | KIND [| TEXT]'"
        entries.append(Entry(parts[0], parts[1], parts[2] if len(parts) > 2 else "", i + 1))
    return tuple(entries)


def _commands(body: list[tuple[int, str]]) -> tuple[Command, ...]:
    cmds: list[list] = []
    joined = False
    for n, ln in body:
        if not ln.strip():
            joined = False
            continue
        if cmds and (joined or ln[0].isspace()):
            cmds[-1][0] += "\n" + ln
        else:
            cmds.append([ln, n])
        joined = ln.rstrip().endswith("\\")
    return tuple(Command(raw, n) for raw, n in cmds)


def readme_blocks(text: str | None = None) -> list[Block]:
    lines = (README.read_text() if text is None else text).splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            lang = lines[i][3:].strip()
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            body = [(n + 1, lines[n]) for n in range(i + 1, j)]
            blocks.append(Block(i + 1, lang, _commands(body), _parse_marker(lines, i - 1)))
            i = j + 1
        else:
            i += 1
    return blocks


def is_command_block(b: Block) -> bool:
    return b.lang in ("", "bash", "sh", "shell", "console") and bool(b.commands) and all(
        c.code.split()[0].startswith(COMMAND_WORDS) for c in b.commands[:1])


def inline_commands(text: str | None = None) -> list[tuple[str, int]]:
    """`python -m ...`, `make ...` and `vizpipe ...` code spans of the prose (fenced blocks
    left out)."""
    text = README.read_text() if text is None else text
    text = re.sub(r"^```.*?^```", lambda m: "\n" * m.group(0).count("\n"), text,
                  flags=re.S | re.M)
    return [(" ".join(m.group(1).split()), text.count("\n", 0, m.start()) + 1)
            for m in re.finditer(r"`((?:python -m|make|vizpipe) [^`]+)`", text)]


BLOCKS = readme_blocks()
MARKED = [b for b in BLOCKS if b.entries is not None]


# ----------------------------------------------------------------------------- the parsers


def _ast_options(module: str) -> set[str]:
    """The option strings of every ``add_argument`` call in ``module``'s source."""
    spec = importlib.util.find_spec(module)
    assert spec and spec.origin, module
    opts = set()
    for node in ast.walk(ast.parse(Path(spec.origin).read_text())):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == "add_argument"):
            opts |= {a.value for a in node.args if isinstance(a, ast.Constant)
                     and isinstance(a.value, str) and a.value.startswith("-")}
    return opts


def parser_of(module: str) -> argparse.ArgumentParser | None:
    """``build_parser()`` of ``python -m module`` (a package: its ``settings`` or ``driver``)."""
    for name in (f"{module}.settings", f"{module}.driver", module):
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is not None and name.startswith(e.name):
                continue
            raise
        if hasattr(mod, "build_parser"):
            return mod.build_parser()
    return None


def options_of(module: str) -> dict[str, argparse.Action | None]:
    ap = parser_of(module)
    if ap is not None:
        return dict(ap._option_string_actions)
    return dict.fromkeys(_ast_options(module))


def submit_options() -> set[str]:
    return set(re.findall(r"(--[a-z][a-z-]*)\s*(?=[|)])", SUBMIT_COMMON.read_text()))


def makefile_vars() -> dict[str, str]:
    return {m.group(1): m.group(3).strip() for m in
            re.finditer(r"^([A-Z_]+)\s*(\?|:)?=(.*)$", MAKEFILE.read_text(), flags=re.M)}


def makefile_targets() -> set[str]:
    return set(re.findall(r"^([a-z][a-z-]*):", MAKEFILE.read_text(), flags=re.M))


OUR_PACKAGES = ("core", "climate_pipeline", "materials_pipeline", "render", "vizpipe_app")


def _check_args(args: list[str], options: dict[str, argparse.Action | None], who: str
                ) -> list[str]:
    bad = []
    for k, tok in enumerate(args):
        if tok == "--":
            break
        for part in tok.split("|"):
            if not part.startswith("--") or part == "--":
                continue
            flag = part.split("=", 1)[0]
            if flag not in options:
                bad.append(f"{flag}: not an option of {who}")
                continue
            act = options[flag]
            nxt = args[k + 1] if k + 1 < len(args) else ""
            if act is not None and act.choices and "|" in nxt and not nxt.startswith("-"):
                for alt in nxt.split("|"):
                    if alt not in act.choices and alt.upper() not in act.choices:
                        bad.append(f"{flag} {alt}: not among its choices {list(act.choices)}")
    return bad


def flag_problems(cmd: str) -> list[str]:
    """What is wrong with the flags, make variables and targets of one README command."""
    raw = cmd
    toks = re.sub(r"[\[\]{}]", " ", cmd.split(" #", 1)[0]).split()
    while toks and re.fullmatch(r"[A-Z_]+=\S*", toks[0]):  # VAR=value command ...
        toks = toks[1:]
    if not toks:
        return []
    bad: list[str] = []
    if toks[:2] == ["python", "-m"] and len(toks) > 2:
        mod = toks[2]
        if not mod.startswith(OUR_PACKAGES):
            return []
        bad += _check_args(toks[3:], options_of(mod), f"python -m {mod}")
    elif toks[0] == "vizpipe" and len(toks) > 1 and not toks[1].startswith("-"):
        from vizpipe_app.cli import COMMANDS

        module = {c.name: c.module for c in COMMANDS}.get(toks[1])
        if module is None:
            bad.append(f"vizpipe {toks[1]}: no such command")
        else:
            bad += _check_args(toks[2:], options_of(module), f"vizpipe {toks[1]}")
    elif toks[0] == "make":
        variables, targets = makefile_vars(), makefile_targets()
        try:
            words = shlex.split(cmd.split(" #", 1)[0])
        except ValueError:
            words = toks
        for t in words[1:]:
            if "=" in t:
                name = t.split("=", 1)[0]
                if re.fullmatch(r"[A-Z_]+", name) and name not in variables:
                    bad.append(f"{name}: not a Makefile variable")
            elif re.fullmatch(r"[a-z][a-z-]*", t) and t not in targets:
                bad.append(f"make {t}: no such target")
        for name, value in re.findall(r"\b([A-Z]+FLAGS)=\"([^\"]*)\"", raw):
            for mod in PIPELINE_OF_FLAGS.get(name, ()):
                bad += _check_args(value.split(), options_of(mod), f"{name} (python -m {mod})")
    elif re.search(r"submit_(climate|materials)\.sh$", toks[0]):
        pipeline = re.search(r"submit_(\w+)\.sh$", toks[0]).group(1) + "_pipeline"  # type: ignore[union-attr]
        cut = toks.index("--") if "--" in toks else len(toks)
        bad += _check_args(toks[1:cut], dict.fromkeys(submit_options()), toks[0])
        bad += _check_args(toks[cut + 1:], options_of(pipeline), f"python -m {pipeline}")
    elif toks[0] in ("runcompss", "enqueue_compss"):
        for k, t in enumerate(toks):
            m = re.search(r"(\w+_pipeline)/app\.py$", t)
            if m:
                bad += _check_args(toks[k + 1:], options_of(m.group(1)), m.group(0))
    elif toks[0] == "singularity" and "blender" in toks:
        k = toks.index("blender")
        bad += _check_args(toks[k + 2:], options_of("render.blender_chunk"),
                           "blender (render.blender_chunk)")
    return bad


# ----------------------------------------------------------------------------- fresh clone


def _git(*args: str, cwd: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    stamp = ROOT / ".venv" / ".installed-stamp"
    assert stamp.exists(), f"{stamp}: missing; run `make venv` first (the clone reuses .venv)"
    dest = tmp_path_factory.mktemp("readme") / "vizpipe"
    _git("clone", "-q", "--shared", str(ROOT), str(dest))
    for rel in _git("ls-files", "-z", "--modified", "--others", "--exclude-standard"
                    ).split("\0"):
        if rel and (ROOT / rel).is_file():  # the working tree's edits
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, dest / rel)
    for rel in _git("ls-files", "-z", "--deleted").split("\0"):
        if rel:
            (dest / rel).unlink(missing_ok=True)
    (dest / ".venv").symlink_to(ROOT / ".venv")
    for so in ROOT.glob("*/*.so"):  # the C kernels `make venv` built in place
        shutil.copy2(so, dest / so.relative_to(ROOT))
    t = stamp.stat().st_mtime - 60
    for p in dest.rglob("*"):
        if ".git" not in p.relative_to(dest).parts[:1] and p.name != ".venv":
            os.utime(p, (t, t), follow_symlinks=False)
    assert not (dest / "out").exists()
    return dest


def clone_env(clone: Path) -> dict[str, str]:
    drop = set(makefile_vars()) | {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}
    env = {k: v for k, v in os.environ.items()
           if k not in drop and not k.startswith(("VIZPIPE_", "PYTEST_"))}
    env.update(VIRTUAL_ENV=str(clone / ".venv"), PYTHONPATH=str(clone),
               PATH=f"{clone / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}",
               VIZPIPE_PROGRESS="0", USER=env.get("USER", "vizpipe"))
    return env


def run_in(clone: Path, cmd: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=clone, env=clone_env(clone),
                          capture_output=True, text=True, timeout=timeout)


def run_block(block: Block, clone: Path, tier: str) -> None:
    """Run the block's ``tier`` entries in order; check ``output`` lines after a run."""
    out: str | None = None
    for cmd, e in block.pairs():
        if e.kind == tier:
            res = run_in(clone, e.text, timeout=120 if tier == "fast" else 900)
            assert res.returncode == 0, (
                f"README.md:{cmd.line}: `{cmd.code}` (run as `{e.text}`) failed, exit "
                f"{res.returncode}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
            out = res.stdout
        elif e.kind == "output" and out is not None:
            want = cmd.code.replace("/path/to/repo", str(clone))
            assert want in [" ".join(ln.split()) for ln in out.splitlines()], (
                f"README.md:{cmd.line}: the command above no longer prints\n{want}\n"
                f"it printed:\n{out}")
        else:
            out = None


# ----------------------------------------------------------------------------- tests: markers


def test_every_command_block_is_marked():
    unmarked = [b.name for b in BLOCKS if b.entries is None and is_command_block(b)]
    assert not unmarked, (f"command blocks without a '<!-- readme-test' marker before the fence: "
                          f"{unmarked} (see tests/test_readme_commands.py)")
    assert len(MARKED) >= 6


@pytest.mark.parametrize("block", MARKED, ids=lambda b: b.name)
def test_marker_matches_its_block(block):
    assert block.lang == "bash", f"{block.name}: a marked block is fenced ```bash"
    entries = block.entries or ()
    assert len(entries) == len(block.commands), (
        f"{block.name}: {len(block.commands)} commands, {len(entries)} marker lines")
    for cmd, e in block.pairs():
        assert cmd.code.startswith(e.start), f"README.md:{e.line}: {e.start!r} does not start " \
                                             f"the command of README.md:{cmd.line}: {cmd.code!r}"
        assert e.kind in KINDS, f"README.md:{e.line}: kind {e.kind!r}, expected one of {KINDS}"
        if e.kind in ("fast", "slow", "skip"):
            assert e.text, f"README.md:{e.line}: {e.kind} needs a command (or a reason)"


# ----------------------------------------------------------------------------- tests: flags

ALL_COMMANDS = [(f"README.md:{c.line}", c.raw) for b in MARKED for c in b.commands] + [
    (f"README.md:{n}", text) for text, n in inline_commands()]
ALL_COMMANDS += [(f"README.md:{e.line} (cheap form)", part) for b in MARKED
                 for e in b.entries or () if e.kind in ("fast", "slow")
                 for part in e.text.split(" && ")]


@pytest.mark.parametrize("where,cmd", ALL_COMMANDS, ids=[w for w, _ in ALL_COMMANDS])
def test_documented_flags_exist(where, cmd):
    bad = flag_problems(" ".join(cmd.replace("\\\n", " ").split()))
    assert not bad, f"{where}: {cmd!r}:\n  " + "\n  ".join(bad)


def test_flag_check_bites():
    assert flag_problems("python -m render RUN --frames 0:1 --no-such-flag") == [
        "--no-such-flag: not an option of python -m render"]
    assert flag_problems('make materials MATFLAGS="--isovalue 3"')
    assert flag_problems("make materials NOPE=1") == ["NOPE: not a Makefile variable"]
    assert flag_problems("make nothing") == ["make nothing: no such target"]
    assert flag_problems("python -m climate_pipeline F --coastlines 110m|1m")
    assert flag_problems("containers/marenostrum/submit_climate.sh --nodez 2 -- a.nc --out d")
    assert flag_problems("singularity exec x.sif blender RUN --frames 0 --samplez 3")
    assert not flag_problems("python -m climate_pipeline F --out D [--globe|--map] "
                             "[--coastlines 110m|50m|10m] [--engine local|serial|compss]")
    assert flag_problems("vizpipe render RUN --samplez 3") == [
        "--samplez: not an option of vizpipe render"]
    assert flag_problems("vizpipe rendr RUN") == ["vizpipe rendr: no such command"]
    assert not flag_problems("vizpipe climate F --out D [--globe|--map] [--engine local|serial]")


# ----------------------------------------------------------------------------- tests: defaults


def _default_text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, tuple) and len(v) == 2 and all(isinstance(x, int) for x in v):
        return f"{v[0]}x{v[1]}"
    if isinstance(v, (list, tuple)):
        return ",".join(_default_text(x) for x in v)
    return str(v)


HELP_MODULES = ["climate_pipeline", "materials_pipeline", "render", "vizpipe_app.demo",
                "vizpipe_app.launch", "vizpipe_app.scaling", "vizpipe_app.bigrun",
                "vizpipe_app.lazydata"]


@pytest.mark.parametrize("module", HELP_MODULES)
def test_help_defaults_are_the_parsers(module):
    """A help text ending in ``[VALUE]`` (one word or number) names the option's default."""
    ap = parser_of(module)
    if ap is None:
        return  # parser built inside main(): no help text to compare here
    bad = []
    for act in ap._actions:
        m = re.search(r"\[([\w.,%-]+)\]\s*$", act.help or "")
        literal = isinstance(act.default, (str, int, float)) or (
            isinstance(act.default, (list, tuple))
            and all(isinstance(x, (int, float)) for x in act.default))
        if m and literal and act.default is not argparse.SUPPRESS:
            said = m.group(1).replace("%%", "%")
            if said != _default_text(act.default):
                bad.append(f"{'/'.join(act.option_strings)}: help says [{said}], "
                           f"default is {act.default!r}")
    assert not bad, f"python -m {module} --help:\n  " + "\n  ".join(bad)


def test_one_default_resolution():
    """core.settings holds the default picture; the pipelines' --resolution/--samples default to
    it and ``python -m render --help`` names it (it said 1280x720 once: issue #22)."""
    from core.settings import DEFAULT_RESOLUTION, DEFAULT_SAMPLES, SCENE_SAMPLES

    for module, kind in (("climate_pipeline", "climate"), ("materials_pipeline", "materials")):
        ap = parser_of(module)
        assert ap is not None
        assert ap._option_string_actions["--resolution"].default == DEFAULT_RESOLUTION, module
        assert ap._option_string_actions["--samples"].default == SCENE_SAMPLES[kind], module
    rend = parser_of("render")
    assert rend is not None
    res = f"{DEFAULT_RESOLUTION[0]}x{DEFAULT_RESOLUTION[1]}"
    assert f"else {res}]" in (rend._option_string_actions["--resolution"].help or "")
    assert f"else {DEFAULT_SAMPLES}]" in (rend._option_string_actions["--samples"].help or "")


def _readme_flat() -> str:
    return " ".join(README.read_text().split())


def test_readme_defaults_are_the_code():
    """Each README statement of a default, against the value the code uses."""
    from core.settings import DEFAULT_RESOLUTION, SCENE_SAMPLES
    from render.driver import MAX_DEFAULT_CHUNK
    from vizpipe_app.launch import EnqueueConfig

    text = _readme_flat()
    res = f"{DEFAULT_RESOLUTION[0]}x{DEFAULT_RESOLUTION[1]}"
    clim, mat, rend = (parser_of(m) for m in ("climate_pipeline", "materials_pipeline", "render"))
    assert clim and mat and rend

    def default(ap: argparse.ArgumentParser, flag: str):
        return ap._option_string_actions[flag].default

    def said(pattern: str) -> re.Match:
        m = re.search(pattern, text)
        assert m, f"README.md no longer says {pattern!r}: update this test with the README"
        return m

    checks = [
        # (what the README says, its value there, the code's value)
        ("`--formats usd,glb` (the default)",
         said(r"`--formats ([\w,]+)` \(the default\)").group(1),
         {default(clim, "--formats"), default(mat, "--formats")}),
        ("Cycles runs on the CPU by default", said(r"Cycles runs on the (\w+) by default"
                                                   ).group(1), default(rend, "--device")),
        ("the default 20,000 particles",
         said(r"the default ([\d,]+)\)").group(1).replace(",", ""),
         str(default(clim, "--particles"))),
        ("render chunks of N frames", said(r"render chunks of (\d+) frames").group(1),
         str(MAX_DEFAULT_CHUNK)),
        ("per frame per core at WxH, N samples",
         said(r"per frame per core at (\d+x\d+), (\d+) samples").groups(),
         (res, str(SCENE_SAMPLES["climate"]))),
        ("render, default scenes at WxH", said(r"default scenes at (\d+x\d+)").group(1), res),
        ("the vertical is exaggerated xN (make climate)",
         said(r"The vertical is exaggerated ×(\d+)").group(1),
         _default_text(default(clim, "--exaggeration"))),
        ("`--workers` defaults to the cores", said(r"`--workers` defaults to the (cores)"
                                                   ).group(1),
         "cores" if all(default(ap, "--workers") is None for ap in (clim, mat, rend)) else "?"),
        ("densities: `50%e` (--iso)", said(r"densities: `([\d.%e]+)`").group(1),
         re.search(r"\[([\d%]+e) for densities", mat._option_string_actions["--iso"].help or ""
                   ).group(1).replace("%%", "%")),  # type: ignore[union-attr]
    ]
    cfg = EnqueueConfig(account="x")
    for var, field in [("QOS", "qos"), ("NODES", "nodes"), ("EXEC_TIME", "exec_time"),
                       ("CPUS_PER_NODE", "cpus_per_node")]:
        checks.append((f"`VIZPIPE_{var}` (X)",
                       said(rf"`VIZPIPE_{var}` \((?:minutes, )?(\w+)\)").group(1),
                       str(getattr(cfg, field))))
    mk = makefile_vars()
    climate_recipe = re.search(r"^climate:.*\n\t(.*)$", MAKEFILE.read_text(), flags=re.M)
    assert climate_recipe
    checks += [
        ("make bench: the default N GB scale file", said(r"with the default (\d+) GB scale file"
                                                         ).group(1) + "GB", mk["BIG_SIZE"]),
        ("make climate: N wind particles", said(r"([\d,]+) wind particles coloured by speed"
                                                ).group(1).replace(",", ""),
         re.search(r"--particles (\d+)", climate_recipe.group(1)).group(1)),  # type: ignore[union-attr]
        ("make climate: render of N frames", said(r"render of (\d+) frames").group(1),
         re.search(r"--frames (\d+)", climate_recipe.group(1)).group(1)),  # type: ignore[union-attr]
    ]
    bad = [f"{what}: README {got!r}, code {want!r}" for what, got, want in checks
           if (got not in want if isinstance(want, set) else got != want)]
    assert not bad, "README defaults that disagree with the code:\n  " + "\n  ".join(bad)


def test_make_help_and_makefile_agree():
    """`make help` lists a target for every `make X` of the README, and a help line saying
    "default" goes with a variable whose Makefile default is empty (the default branch)."""
    text = MAKEFILE.read_text()
    helps = dict(re.findall(r"^([a-z][a-z-]*):.*## (.*)$", text, flags=re.M))
    readme_targets = {cmd.split()[1] for cmd in [c.code for b in MARKED for c in b.commands]
                      + [s for s, _ in inline_commands()] if cmd.startswith("make ")}
    missing = sorted(t for t in readme_targets if t not in helps)
    assert not missing, f"README names make targets `make help` does not list: {missing}"
    mk = makefile_vars()
    for target, line in helps.items():
        if "default" in line:
            for var in re.findall(r"\b([A-Z_]+)=", line):
                assert mk.get(var, "") == "", (
                    f"make help, {target}: '{line}' says default, but {var} ?= {mk[var]}")


# ----------------------------------------------------------------------------- tests: running


def _tier_blocks(tier: str) -> list[Block]:
    return [b for b in MARKED if any(e.kind == tier for e in b.entries or ())]


@pytest.mark.parametrize("block", _tier_blocks("fast"), ids=lambda b: b.name)
def test_readme_commands_fast(block, clone):
    run_block(block, clone, "fast")


def test_make_help_and_help_run_in_the_clone(clone):
    res = run_in(clone, "make help", timeout=60)
    assert res.returncode == 0, res.stderr
    listed = set(re.findall(r"^  make (\S+)", res.stdout, flags=re.M))
    assert listed == set(re.findall(r"^([a-z][a-z-]*):.*## ", MAKEFILE.read_text(), flags=re.M))
    for module in ("climate_pipeline", "materials_pipeline", "render", "vizpipe_app.demo",
                   "vizpipe_app.launch", "vizpipe_app.scaling"):
        res = run_in(clone, f"python -m {module} --help", timeout=60)
        assert res.returncode == 0 and "usage:" in res.stdout, (module, res.stderr[-2000:])


@pytest.mark.slow
@pytest.mark.parametrize("block", _tier_blocks("slow"), ids=lambda b: b.name)
def test_readme_commands_slow(block, clone):
    run_block(block, clone, "slow")


if __name__ == "__main__":  # list the marked commands: python -m tests.test_readme_commands
    for b in MARKED:
        for c, e in b.pairs():
            print(f"{b.name}  {e.kind:8} {c.code[:60]!r} -> {e.text[:100]}", file=sys.stdout)
