"""A run's settings: one frozen value built once from the command line, read everywhere below.

Each pipeline subclasses :class:`RunSettings` with its own fields and writes one
``settings_from_args(ns)`` (its CLI's only reader of the ``argparse.Namespace``); below the
CLI, code reads attributes of the settings (never ``getattr(args, ..., default)``), and the
manifest records :meth:`RunSettings.to_json` under ``provenance.settings``. A step that
resolves a value (``--default`` writes its inputs and picks a title) makes a new value with
:func:`dataclasses.replace`; nothing mutates one.

The environment is read here too: :data:`ENV_VARS` is the one table of every ``VIZPIPE_*``
variable (name, type, default, meaning), and :func:`env` reads one of them, typed, refusing a
name the table lacks (``core/runtime`` reads ``VIZPIPE_ENGINE``, ``VIZPIPE_WORKERS`` and
``VIZPIPE_PIN`` as raw text through :func:`env_text`, keeping its own messages)::

    env("VIZPIPE_DEBUG")      # bool
    env("VIZPIPE_NODES")      # int >= 1 (a bad value: BadInputError naming the variable)
    env("VIZPIPE_QOS")        # str, the default when unset or blank
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, TypeVar

__all__ = ["RunSettings", "from_namespace", "split_list", "EnvVar", "ENV_VARS", "env",
           "env_text", "env_var"]

S = TypeVar("S", bound="RunSettings")

#: the one default picture size and sample count: the pipelines' --resolution/--samples and
#: the renderer's fallback for a manifest without them
DEFAULT_RESOLUTION: tuple[int, int] = (800, 450)
DEFAULT_SAMPLES = 8
#: samples per pixel by scene kind (the pipelines' --samples), each tuned with the OIDN
#: denoiser against the 512-sample render of its default scene (issue #18: SSIM >= 0.95,
#: tests/render/test_bench_render.py)
SCENE_SAMPLES: dict[str, int] = {"materials": 3, "climate": 5}


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """What every pipeline run has: where, which inputs, how to render, how to run."""

    out: Path
    inputs: tuple[str, ...] = ()
    default: bool = False  # write and use the embedded default data first
    formats: tuple[str, ...] = ("usd", "glb")  # core.io.DEFAULT_FORMATS
    full_res: bool = False  # keep every isosurface triangle (core.lod)
    title: str | None = None
    resolution: tuple[int, int] = DEFAULT_RESOLUTION
    samples: int = DEFAULT_SAMPLES
    fps: int = 12
    volume: bool = True  # write a .vdb volume
    show_volume: bool = False
    render: bool = True  # False: assets and manifest only (--no-render)
    preview: bool = True  # write RUN/preview/index.html after the conversion (--no-preview)
    draft: bool = False  # render Workbench draft frames (frames/draft/), not the final ones
    dry_run: bool = False
    engine: str | None = None
    workers: int | None = None

    def replace(self: S, **changes: Any) -> S:
        """A copy with ``changes`` (the value itself is frozen)."""
        return dataclasses.replace(self, **changes)

    def to_json(self) -> dict[str, Any]:
        """Every field, as JSON values (paths as strings, tuples as lists)."""
        def plain(v: Any) -> Any:
            if isinstance(v, Path):
                return str(v)
            if isinstance(v, (tuple, list)):
                return [plain(x) for x in v]
            return v

        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


def split_list(text: str | None) -> tuple[str, ...]:
    """``"Ti, Si,"`` -> ``("Ti", "Si")``; None or empty -> ``()``."""
    return tuple(x.strip() for x in (text or "").split(",") if x.strip())


def from_namespace(cls: type[S], ns: argparse.Namespace, **values: Any) -> S:
    """``cls`` from the parsed arguments: each field takes the argument of the same name (lists
    become tuples), ``values`` give the fields whose option is spelled otherwise (``render``
    from ``--no-render``, ...); ``--no-render``/``--no-volume``/``--no-preview``/``--dry-run`` are
    mapped here.
    """
    args = vars(ns)
    kw: dict[str, Any] = {}
    for f in fields(cls):
        if f.name in values:
            kw[f.name] = values[f.name]
        elif f.name in args:
            v = args[f.name]
            kw[f.name] = tuple(v) if isinstance(v, list) else v
    if "render" not in values and "no_render" in args:
        kw["render"] = not args["no_render"]
    if "volume" not in values and "no_volume" in args:
        kw["volume"] = not args["no_volume"]
    if "preview" not in values and "no_preview" in args:
        kw["preview"] = not args["no_preview"]
    kw["out"] = Path(kw["out"])
    return cls(**kw)


# --------------------------------------------------------------------------- environment

EnvType = Literal["bool", "int", "str", "path"]
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


@dataclass(frozen=True)
class EnvVar:
    """One environment variable: ``type`` is how :func:`env` reads it:

    * ``bool``: 1/true/yes/on or 0/false/no/off (any case); unset, blank or other: ``default``;
    * ``int``: a whole number >= 1; unset or blank: ``default``; other: BadInputError;
    * ``str`` / ``path``: the stripped text; unset or blank: ``default``.

    A ``name`` ending in ``_<NAME>`` is a family (``VIZPIPE_BINARY_<NAME>``): any name with
    that prefix. ``scope`` is ``run`` (what users set), ``image`` (set inside our containers)
    or ``test`` (test and benchmark knobs); ``reader`` is where it is read.
    """

    name: str
    type: EnvType
    default: Any
    meaning: str
    reader: str
    scope: Literal["run", "image", "test"] = "run"

    @property
    def prefix(self) -> str | None:
        """``VIZPIPE_BINARY_`` for the family ``VIZPIPE_BINARY_<NAME>``, else None."""
        return self.name[: -len("<NAME>")] if self.name.endswith("<NAME>") else None


#: every VIZPIPE_* variable, one row each (tests/core/test_settings_env.py checks that every
#: name in the code is here; the README's table is :func:`env_table_markdown`)
ENV_VARS: tuple[EnvVar, ...] = (
    # execution
    EnvVar("VIZPIPE_ENGINE", "str", None, "default of --engine: local, serial or compss "
           "(unset: compss under the COMPSs runtime, else local)", "core/runtime/engines.py"),
    EnvVar("VIZPIPE_WORKERS", "int", None, "default of --workers: local engine worker "
           "processes (unset: the cores this process may use)", "core/runtime/engines.py"),
    EnvVar("VIZPIPE_PIN", "bool", True, "0: do not pin each local worker to its own cores",
           "core/runtime/local_backends.py"),
    EnvVar("VIZPIPE_MEMORY_BUDGET_MB", "int", 768, "per-task memory budget for data held at "
           "once, MB (windows of time steps are sized from it)", "core/memory.py"),
    EnvVar("VIZPIPE_MALLOC", "bool", True, "0: leave glibc malloc's thresholds alone",
           "core/memory.py"),
    EnvVar("VIZPIPE_PROGRESS", "bool", True, "0: no progress lines on stderr",
           "core/progress.py"),
    EnvVar("VIZPIPE_DEBUG", "bool", False, "1: full tracebacks on stderr besides the one "
           "error: line", "core/cli.py"),
    EnvVar("VIZPIPE_FSYNC", "bool", False, "1: fsync every file before its atomic rename",
           "core/atomic.py"),
    EnvVar("VIZPIPE_VERIFY", "str", "", "sha256 (or full, 1): a resumed run hashes every "
           "kept file instead of checking sizes", "core/framecache.py"),
    EnvVar("VIZPIPE_ADVECT_ISA", "str", "", "avx2 or scalar: cap the particle advection "
           "kernel's vector path (read by the C kernel)", "climate_pipeline/_advect/advect.c"),
    # COMPSs, containers, MareNostrum
    EnvVar("VIZPIPE_CU_CONVERT", "int", 1, "computing units of each conversion task under "
           "COMPSs (read when the task modules are imported)", "core/containers.py"),
    EnvVar("VIZPIPE_CU_RENDER", "int", 1, "computing units (Cycles threads) of each render "
           "chunk task under COMPSs", "core/containers.py"),
    EnvVar("VIZPIPE_BLENDER_IMAGE", "path", None, "Singularity image of the render tasks "
           "(unset: containers/blender.sif in the project root)", "core/containers.py"),
    EnvVar("VIZPIPE_CONTAINER_BINDS", "str", "", "extra folders to bind into the Blender "
           "image (os.pathsep or comma separated)", "core/containers.py"),
    EnvVar("VIZPIPE_BINARY_<NAME>", "str", "", "local command line standing for the @binary "
           "NAME (e.g. VIZPIPE_BINARY_BLENDER=\"python -m render.blender_chunk\"; unset: "
           "NAME on PATH)", "core/runtime/binary_local.py"),
    EnvVar("VIZPIPE_ACCOUNT", "str", None, "enqueue_compss --project_name (unset: your "
           "primary group)", "vizpipe_app/launch.py"),
    EnvVar("VIZPIPE_QOS", "str", "gp_debug", "enqueue_compss --qos", "vizpipe_app/launch.py"),
    EnvVar("VIZPIPE_NODES", "int", 2, "enqueue_compss --num_nodes", "vizpipe_app/launch.py"),
    EnvVar("VIZPIPE_EXEC_TIME", "int", 30, "enqueue_compss --exec_time, minutes",
           "vizpipe_app/launch.py"),
    EnvVar("VIZPIPE_CPUS_PER_NODE", "int", 112, "enqueue_compss --cpus_per_node",
           "vizpipe_app/launch.py"),
    EnvVar("VIZPIPE_IMAGE", "path", None, "enqueue_compss --container_image: the image "
           "master and workers run in (unset: none)", "vizpipe_app/launch.py"),
    EnvVar("VIZPIPE_CONTAINER_COMPSS_PATH", "str", "/opt/COMPSs", "enqueue_compss "
           "--container_compss_path: COMPSs inside that image", "vizpipe_app/launch.py"),
    EnvVar("VIZPIPE_RENDER_STATS", "str", "", "non-empty: print the raw Cycles status "
           "messages of each frame", "render/blender_chunk.py"),
    # set inside our images
    EnvVar("VIZPIPE_HOME", "path", None, "where the project is installed in the images "
           "(/opt/vizpipe)", "containers/*.def", "image"),
    EnvVar("VIZPIPE_PYTHON", "str", "python", "the Python the images' blender wrapper runs",
           "containers/blender-wrapper.sh", "image"),
    # tests and benchmarks
    EnvVar("VIZPIPE_BIG_SIZE", "str", "1GB", "size of the scale check's file (make bench "
           "BIG_SIZE=6GB)", "tests/climate/test_bench_scale.py", "test"),
    EnvVar("VIZPIPE_BENCH_OUT", "path", None, "folder for the benchmarks' files (make bench: "
           "out)", "tests", "test"),
    EnvVar("VIZPIPE_BENCH_STRICT", "bool", False, "1: a benchmark that misses its target "
           "fails (make bench-check)", "tests", "test"),
    EnvVar("VIZPIPE_BENCH_KEEP", "bool", False, "1: keep the benchmarks' work folders",
           "tests", "test"),
    EnvVar("VIZPIPE_BENCH_RENDER_SCENES", "str", "materials,climate", "scenes of the render "
           "benchmark", "tests/render/test_bench_render.py", "test"),
    EnvVar("VIZPIPE_BENCH_RENDER_REF_FRAMES", "int", 2, "frames rendered at 512 samples as "
           "the render benchmark's reference", "tests/render/test_bench_render.py", "test"),
    EnvVar("VIZPIPE_BENCH_RENDER_HD_FRAMES", "int", 2, "frames of the render benchmark's "
           "1920x1080 timing", "tests/render/test_bench_render.py", "test"),
    EnvVar("VIZPIPE_CHROMIUM", "path", None, "the Chromium of the browser preview tests "
           "(unset: searched on PATH)", "tests/render/_browser.py", "test"),
    EnvVar("VIZPIPE_PREVIEW_SHOTS", "path", None, "folder to keep the browser preview "
           "tests' screenshots in (docs: the README's)", "tests/render/test_preview_browser.py",
           "test"),
    EnvVar("VIZPIPE_UPDATE_LOOK", "str", "", "non-empty: rewrite the look regression "
           "references",
           "tests/render/test_look_regression.py", "test"),
    EnvVar("VIZPIPE_TEST_DEBUG", "str", "", "non-empty: the resume test prints the "
           "temporaries a killed run left", "tests/core/test_resume.py", "test"),
)

_BY_NAME = {v.name: v for v in ENV_VARS}


def env_var(name: str) -> EnvVar:
    """The row of ``name`` (a family's row for ``VIZPIPE_BINARY_BLENDER``); an unknown name
    is a KeyError listing the known ones (a programming error, not the user's)."""
    row = _BY_NAME.get(name)
    if row is not None and row.prefix is None:
        return row
    for v in ENV_VARS:
        if v.prefix and name.startswith(v.prefix) and len(name) > len(v.prefix):
            return v
    raise KeyError(f"{name}: not a known environment variable (core.settings.ENV_VARS: "
                   f"{', '.join(v.name for v in ENV_VARS)})")


def env_text(name: str) -> str:
    """The raw value of the known variable ``name``, stripped ("" when unset)."""
    env_var(name)
    return os.environ.get(name, "").strip()


def env(name: str, default: Any = None) -> Any:
    """The value of the known variable ``name``, read now and typed by its row
    (:class:`EnvVar`); ``default`` (when not None) replaces the row's."""
    row = env_var(name)
    fallback = row.default if default is None else default
    text = os.environ.get(name, "").strip()
    if not text:
        return fallback
    if row.type == "bool":
        low = text.lower()
        return True if low in _TRUE else False if low in _FALSE else fallback
    if row.type == "int":
        try:
            n = int(text)
        except ValueError:
            n = 0
        if n < 1:
            from core.errors import BadInputError

            raise BadInputError(f"{name}={text!r}: expected a whole number >= 1")
        return n
    return text


def env_table_markdown(scope: str | None = None) -> str:
    """The README's table of the variables (of ``scope``, else all): variable, meaning,
    default."""
    def default(v: EnvVar) -> str:
        if v.default is None or v.default == "":
            return "(unset)"
        if isinstance(v.default, bool):
            return "1" if v.default else "0"
        return f"`{v.default}`"

    rows = ["| variable | meaning | default |", "|---|---|---|"]
    rows += [f"| `{v.name}` | {v.meaning} | {default(v)} |"
             for v in ENV_VARS if scope is None or v.scope == scope]
    return "\n".join(rows)
