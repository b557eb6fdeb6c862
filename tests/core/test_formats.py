"""The one format registry (core.formats), over every format of every domain (issue #10).

Each format of ``core.io.FORMATS`` (assets), ``materials_pipeline.readers.FORMATS`` and
``climate_pipeline.readers.FORMATS`` has one sample file in ``SAMPLES`` below: a real file of
the corpora in tests/data/real (see their README.md) where one covers the format, else one
written by the format's own library (ase, core.io.write) or, for the two layouts no library
here writes (NAME text output, vaspout.h5), built by hand in the program's layout. For every
format: renamed to a neutral name the sample is detected by its content (magic bytes or
content test), under a name matching the format's patterns by its name, and the format's
reader reads it back (asset formats: write -> read gives the same data). A format added to a
registry without a sample here fails ``test_every_format_has_a_sample``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import climate_pipeline.readers as climate
import core.io
import materials_pipeline.readers as materials
from core.errors import BadInputError, UnknownFormatError
from core.formats import COMPRESSION_SUFFIXES, Format, Registry, strip_compression

# the iodata CHGCARs end with free text that the reader skips and reports: expected here
pytestmark = pytest.mark.filterwarnings("ignore:.*unrecognised text after grid")

REAL = Path(__file__).resolve().parents[1] / "data" / "real"
REGISTRIES = (core.io.FORMATS, materials.FORMATS, climate.FORMATS)
ALL = [(reg, fmt) for reg in REGISTRIES for fmt in reg]
IDS = [f"{reg.domain}:{fmt.name}" for reg, fmt in ALL]
NAMED = [(reg, fmt) for reg, fmt in ALL if fmt.globs]  # NAME output is known by content only
NAMED_IDS = [f"{reg.domain}:{fmt.name}" for reg, fmt in NAMED]

# how each domain detects a file (content, then name; the materials one adds the VASP flavour)
GUESS: dict[str, Callable[[Path], Format]] = {
    "asset": core.io.guess_format,
    "materials": materials.guess_format,
    "climate": lambda p: climate.guess_format(str(p)),
}


# ------------------------------------------------------------------------------ samples

def _real(*parts: str) -> Callable[[Path], Path]:
    return lambda _d: REAL.joinpath(*parts)


def _ase_frames():
    from ase.build import bulk

    frames = []
    for i in range(3):
        a = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
        a.rattle(0.02, seed=i)
        frames.append(a)
    return frames


def _ase(fmt: str, name: str, frames: bool = True) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        import ase.io

        p = d / name
        ase.io.write(p, _ase_frames() if frames else _ase_frames()[0], format=fmt)
        return p
    return make


def _chg(d: Path) -> Path:
    """A CHG (10 values per line) written by ase's VaspChargeDensity."""
    from ase.build import bulk
    from ase.calculators.vasp import VaspChargeDensity

    vcd = VaspChargeDensity(None)
    vcd.atoms = [bulk("Si", "diamond", a=5.43)]
    vcd.chg = [np.random.default_rng(0).random((6, 5, 4)) + 0.1]
    p = d / "CHG"
    vcd.write(str(p), format="chg")
    return p


def _vaspout(d: Path) -> Path:
    """Hand-built vaspout.h5 in py4vasp's layout (no VASP run here), two ionic steps."""
    import h5py

    cell = np.diag([3.0, 3.2, 3.5])
    p = d / "vaspout.h5"
    with h5py.File(p, "w") as f:
        f["version/major"], f["version/minor"], f["version/patch"] = 6, 5, 0  # as VASP writes
        f["results/positions/ion_types"] = np.array([b"Ga", b"As"])
        f["results/positions/number_ion_types"] = np.array([1, 1])
        f["intermediate/ion_dynamics/position_ions"] = np.array(
            [[[0, 0, 0], [0.5, 0.5, 0.5]], [[0.01, 0, 0], [0.5, 0.52, 0.5]]])
        f["intermediate/ion_dynamics/lattice_vectors"] = np.stack([cell, cell])
        f["intermediate/ion_dynamics/scale"] = 1.0
        f["results/potential/total"] = np.random.default_rng(0).random((1, 5, 4, 3))
    with h5py.File(d / "vaspwave.h5", "w") as f:
        f["charge/charge"] = np.random.default_rng(1).random((1, 5, 4, 3))
    return p


def _name(d: Path) -> Path:
    """NAME III gridded output in NAME's own text layout (the real one is 7.8 MB)."""
    from tests.climate.test_readers import _write_name

    p = d / "Fields_grid1.txt"
    _write_name(p)
    return p


def _asset(kind: str, suffix: str) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        return core.io.write(_geometry(kind), d / f"written{suffix}")
    return make


def _geometry(kind: str):
    from core.geometry import Mesh, Volume

    rng = np.random.default_rng(7)
    if kind == "mesh":
        return Mesh(rng.uniform(-2, 3, (30, 3)).astype(np.float32), rng.integers(0, 30, (40, 3)))
    cell = np.array([[4.0, 0.0, 0.0], [1.5, 3.5, 0.0], [0.7, 0.9, 5.0]])
    return Volume(rng.random((5, 6, 7)).astype(np.float32) + 0.5,
                  Volume.affine_from_cell(cell, (5, 6, 7), origin=(0.25, -1.0, 2.0)),
                  "rho", "e/A^3")


@dataclass(frozen=True)
class Sample:
    make: Callable[[Path], Path]  # folder -> the sample file (in the folder or in tests/data)
    by_content: str | None = None  # what content alone says, when not the format itself
    frames: int | None = None  # frames the sample holds (multi-frame formats)
    geometry: str | None = None  # asset formats: the kind written (round trip)


SAMPLES: dict[str, Sample] = {
    "asset:ply": Sample(_asset("mesh", ".ply"), geometry="mesh"),
    "asset:glb": Sample(_asset("mesh", ".glb"), geometry="mesh"),
    "asset:vdb": Sample(_asset("volume", ".vdb"), geometry="volume"),
    "asset:usd": Sample(_asset("mesh", ".usdc"), geometry="mesh"),
    "materials:chgcar": Sample(_real("materials", "CHGCAR.oxygen")),
    # VASP volumetric flavours look like a CHGCAR inside: only the name tells them apart
    "materials:aeccar": Sample(_real("materials", "AECCAR2_Si"), by_content="chgcar"),
    "materials:parchg": Sample(_real("materials", "CHGCAR.water"), by_content="chgcar"),
    "materials:locpot": Sample(_real("materials", "LOCPOT.oxygen"), by_content="chgcar"),
    "materials:elfcar": Sample(_real("materials", "LOCPOT.oxygen"), by_content="chgcar"),
    "materials:chg": Sample(_chg),
    "materials:cube": Sample(_real("materials", "cubegen_h2o_5points.cube")),
    "materials:xsf": Sample(_real("materials", "xcrysden_CO_homo.xsf.gz")),
    "materials:xdatcar": Sample(_ase("vasp-xdatcar", "XDATCAR"), frames=3),
    "materials:poscar": Sample(_ase("vasp", "POSCAR", frames=False)),
    "materials:extxyz": Sample(_ase("extxyz", "md.xyz"), frames=3),
    "materials:traj": Sample(_ase("traj", "md.traj"), frames=3),
    "materials:vaspout": Sample(_vaspout, frames=2),
    "climate:netcdf": Sample(_real("climate", "rotated_pole.nc")),
    "climate:grib": Sample(_real("climate", "scanning_mode_64.grib")),
    "climate:pp": Sample(_real("climate", "wind_speed_lake_victoria.pp")),
    "climate:name": Sample(_name),
}


def _compression(p: Path) -> str:
    return next((s for s in COMPRESSION_SUFFIXES if p.name.lower().endswith(s)), "")


def _named_like(fmt: Format) -> str:
    """A file name matching the format's first pattern: CHGCAR* -> CHGCAR, *.cube -> x.cube."""
    g = fmt.globs[0]
    return "sample" + g[1:] if g.startswith("*") else g.replace("*", "")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Callable[[str], Path]:
    made: dict[str, Path] = {}

    def get(key: str) -> Path:
        if key not in made:
            d = tmp_path_factory.mktemp(key.replace(":", "_"))
            made[key] = SAMPLES[key].make(d)
        return made[key]
    return get


def _copy(src: Path, dst: Path) -> Path:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    for extra in ("vaspwave.h5",):  # vaspout.h5 reads its density from vaspwave.h5 beside it
        if (src.parent / extra).exists() and not (dst.parent / extra).exists():
            shutil.copy(src.parent / extra, dst.parent / extra)
    return dst


# ------------------------------------------------------------------------------ invariants

def test_every_format_has_a_sample():
    assert sorted(SAMPLES) == sorted(IDS), "every format of every registry needs a sample"


def test_registry_invariants():
    assert len({reg.domain for reg in REGISTRIES}) == len(REGISTRIES)
    for reg in REGISTRIES:
        names = [f.name for f in reg]
        assert len(names) == len(set(names)), reg.domain
        for f in reg:
            assert f.name == f.name.lower() and f.description, f
            assert f.reader or f.writer, f"{reg.domain}:{f.name} has neither reader nor writer"
            assert f.kinds, f"{reg.domain}:{f.name} holds nothing"
            assert f.magic or f.sniff or f.globs, f"{reg.domain}:{f.name} cannot be detected"
            assert reg.get(f.name) is f
        assert set(reg.sniffers) == {f for f in reg if f.sniff is not None}


@pytest.mark.parametrize("reg,fmt", ALL, ids=IDS)
def test_functions_exist(reg, fmt):
    """The reader, writer and named functions exist in the format's module."""
    if fmt.reader:
        assert callable(fmt.reader_func())
    if fmt.writer:
        assert callable(fmt.writer_func())
    for role, _ in fmt.functions:
        assert callable(fmt.function(role))


# ------------------------------------------------------------------------------ detection

@pytest.mark.parametrize("reg,fmt", ALL, ids=IDS)
def test_detected_by_content(reg, fmt, sample, tmp_path):
    if not (fmt.magic or fmt.sniff):
        expect = SAMPLES[f"{reg.domain}:{fmt.name}"].by_content
        assert expect is not None, f"{fmt.name}: no content test: say what its content reads as"
    else:
        expect = SAMPLES[f"{reg.domain}:{fmt.name}"].by_content or fmt.name
    src = sample(f"{reg.domain}:{fmt.name}")
    p = _copy(src, tmp_path / f"sample.dat{_compression(src)}")
    assert reg.by_name(p) is None
    assert GUESS[reg.domain](p).name == expect
    if reg.domain == "materials" and expect == "chgcar":
        # no telling name: a CHGCAR, a guess unless the file has augmentation occupancies
        from materials_pipeline.readers._common import read_head

        d = materials.read_density(p)
        assert d.format == "chgcar"
        assert d.meta["format_guessed"] == (b"augmentation occupancies" not in read_head(p))


@pytest.mark.parametrize("reg,fmt", NAMED, ids=NAMED_IDS)
def test_detected_by_name(reg, fmt, sample, tmp_path):
    src = sample(f"{reg.domain}:{fmt.name}")
    p = _copy(src, tmp_path / (_named_like(fmt) + _compression(src)))
    assert reg.by_name(p) is fmt
    assert fmt.matches_name(p)
    assert reg.detect(p, None) == (fmt, "name")  # no content (a file not written yet)
    assert GUESS[reg.domain](p) is fmt  # content and name together
    if reg.domain == "materials" and "density" in fmt.kinds and fmt.name != "vaspout":
        d = materials.read_density(p)
        assert d.format == fmt.name and not d.meta["format_guessed"]


@pytest.mark.parametrize("reg", REGISTRIES, ids=[r.domain for r in REGISTRIES])
def test_unknown_file_lists_known_formats(reg, tmp_path):
    p = tmp_path / "notes.unknownsuffix"
    p.write_bytes(b"\x00\x01 this is no format we know\n" * 4)
    with pytest.raises(UnknownFormatError, match="known formats") as err:
        GUESS[reg.domain](p)
    msg = str(err.value)
    assert "notes.unknownsuffix" in msg and "unknown format" in msg
    for f in reg:
        assert f.name in msg
    with pytest.raises(UnknownFormatError, match="known formats"):
        reg.get("nosuchformat")


# ------------------------------------------------------------------------------ reading

@pytest.mark.parametrize("reg,fmt", ALL, ids=IDS)
def test_read_back(reg, fmt, sample):
    key = f"{reg.domain}:{fmt.name}"
    p = sample(key)
    if reg.domain == "asset":
        want = _geometry(SAMPLES[key].geometry)
        got = fmt.reader_func(p)(p)
        assert type(got) is type(want)
        if SAMPLES[key].geometry == "volume":
            np.testing.assert_array_equal(got.values, want.values)
            np.testing.assert_allclose(got.affine, want.affine, atol=1e-6)
        elif fmt.name == "glb":
            _assert_same_draco_mesh(got, want)
        else:
            np.testing.assert_allclose(got.vertices, want.vertices, atol=1e-6)
            np.testing.assert_array_equal(got.faces, want.faces)
    elif reg.domain == "materials":
        from materials_pipeline.data import DensityFile, Structure, Trajectory

        got = fmt.reader_func(p)(p, **dict(fmt.options))
        kind = {DensityFile: "density", Structure: "structure", Trajectory: "trajectory"}
        assert kind[type(got)] in fmt.kinds
        if isinstance(got, DensityFile):
            assert got.format == fmt.name and got.main_grid().values.size > 0
        if SAMPLES[key].frames is not None:
            assert fmt.multi_frame
            assert len(materials.read_trajectory(p, format=fmt.name).frames) == \
                SAMPLES[key].frames
    else:
        from climate_pipeline.data import Field

        table = fmt.function("variables", p)(str(p))
        assert table, p
        f = fmt.reader_func(p)([str(p)], var=table[0][0], standard_name=None,
                                allow_no_time=True, member=None)
        assert isinstance(f, Field) and f.nt >= 1
        assert np.isfinite(np.asarray(f.frame(0), dtype=float)).any()


def _assert_same_draco_mesh(got, want) -> None:
    """A Draco GLB's mesh against the one written (core.io.gltf docstring): positions within
    the 14-bit quantization error (sqrt(3)/2 of a step, step = largest extent / (2^14 - 1)),
    vertices reordered (and split where the mesh is not manifold), degenerate faces (a
    repeated vertex index) dropped. Each decoded vertex is matched to the nearest written
    one (the random vertices are far apart compared with the error), and the triangles, as
    written vertex indices rotated to start at the smallest (winding kept), must be the
    written non-degenerate ones, each as often as it was written."""
    from scipy.spatial import cKDTree

    from core.io.gltf import POSITION_BITS

    extent = float(np.ptp(want.vertices, axis=0).max())
    tol = float(np.sqrt(3) / 2 * extent / (2 ** POSITION_BITS - 1))
    tree = cKDTree(want.vertices)
    assert float(tree.query(want.vertices, k=2)[0][:, 1].min()) > 4 * tol  # unambiguous match
    dist, idx = tree.query(got.vertices)
    assert float(dist.max()) <= tol

    def canonical(faces: np.ndarray) -> list[tuple[int, int, int]]:
        r = np.argmin(faces, axis=1)
        rolled = faces[np.arange(len(faces))[:, None], (r[:, None] + np.arange(3)) % 3]
        return sorted(map(tuple, rolled.tolist()))

    f = np.asarray(want.faces)
    keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
    assert keep.sum() < len(f)  # the sample has degenerate faces: their dropping is tested
    assert canonical(idx[np.asarray(got.faces)]) == canonical(f[keep])


def test_multi_frame_flags():
    multi = {f"{r.domain}:{f.name}" for r, f in ALL if f.multi_frame}
    assert {"materials:xdatcar", "materials:extxyz", "materials:traj", "materials:xsf",
            "materials:vaspout"} <= multi
    assert not {"materials:chgcar", "materials:cube", "materials:poscar"} & multi
    assert {f"climate:{f.name}" for f in climate.FORMATS} <= multi


# ------------------------------------------------------------------------ core.formats itself

def _toy(content_order=None) -> Registry:
    return Registry("toy", (
        Format(name="a", description="A", kinds=("x",), module="core.formats",
               reader="strip_compression", globs=("*.a",), sniff=lambda h: h.startswith(b"#")),
        Format(name="b", description="B", kinds=("x",), module="core.formats",
               reader="strip_compression", functions=(("strip", "strip_compression"),),
               sniff=lambda h: h.startswith(b"#!")),
    ), content_order=content_order)


def test_content_order_and_functions():
    assert _toy().by_content(b"#!x").name == "a"  # registry order by default
    assert _toy(("b",)).by_content(b"#!x").name == "b"
    assert _toy(("b",)).by_content(b"# x").name == "a"  # unnamed sniffers run after
    assert [f.name for f in _toy(("b",))] == ["a", "b"]  # iteration order unchanged
    with pytest.raises(ValueError, match="content_order"):
        _toy(("c",))
    with pytest.raises(ValueError, match="duplicate"):
        Registry("toy", tuple(_toy()) * 2)
    reg = _toy()
    assert reg.get("b").function("strip")("X.gz") == "X"
    with pytest.raises(BadInputError, match="'strip' function"):
        reg.get("a").function("strip")
    assert "b (by content)" in reg.known() and "a (*.a)" in reg.known()
    assert reg.detect("x.a", b"nothing") == (reg.get("a"), "name")
    assert reg.detect("x.a", b"#!") == (reg.get("a"), "content")
    assert strip_compression("CHGCAR.GZ") == "CHGCAR" and strip_compression("a.cube") == "a.cube"
