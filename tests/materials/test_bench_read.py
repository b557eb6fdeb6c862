"""CHGCAR read speed against pymatgen's Chgcar.from_file (target: at least 2x), same values.

The 256^3 CHGCAR (about 305 MB) is written once per module by pymatgen's own writer (slow:
tens of seconds) from a smooth random density. Both readers run interleaved, so that drift in
the machine's load hits both alike, and the minima are compared.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from materials_pipeline.readers import read_density

pytestmark = pytest.mark.benchmark

N = 256


@pytest.fixture(scope="module")
def big_chgcar(tmp_path_factory):
    from pymatgen.core import Lattice, Structure
    from pymatgen.io.vasp.outputs import Chgcar

    rng = np.random.default_rng(0)
    f = np.zeros((N, N, N), complex)
    k = 4
    f[:k, :k, :k] = rng.normal(size=(k, k, k)) + 1j * rng.normal(size=(k, k, k))
    rho = np.fft.ifftn(f).real
    rho = (rho - rho.min()) / (rho.max() - rho.min()) * 50 + 0.01  # smooth, positive
    lat = Lattice.from_parameters(6.1, 6.3, 6.5, 88, 95, 101)  # triclinic
    s = Structure(lat, ["Fe", "O"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    path = tmp_path_factory.mktemp("bench_read") / "CHGCAR"
    Chgcar(s, {"total": rho}).write_file(path)
    return path


def _pymatgen(path):
    from pymatgen.io.vasp.outputs import Chgcar

    return Chgcar.from_file(str(path))


def _time(fn, *args, **kw) -> float:
    t = time.perf_counter()
    fn(*args, **kw)
    return time.perf_counter() - t


def test_chgcar_read_vs_pymatgen(benchmark, big_chgcar, report_ratio):
    ours = benchmark.pedantic(read_density, args=(big_chgcar,), rounds=3, warmup_rounds=1)
    ref = _pymatgen(big_chgcar)
    g = ours.grids["density"]
    assert g.values.shape == (N, N, N) and g.values.flags.c_contiguous
    # identical values: pymatgen's rho*V divided by the same volume, bit for bit
    assert np.array_equal(g.values, ref.data["total"] / ours.meta["divided_by"])
    del ref
    t_pmg, t_ours, t_one = [], [benchmark.stats.stats.min], []
    for _ in range(5):  # interleaved
        t_pmg.append(_time(_pymatgen, big_chgcar))
        t_ours.append(_time(read_density, big_chgcar))
        t_one.append(_time(read_density, big_chgcar, threads=1))
    tp, to, t1 = min(t_pmg), min(t_ours), min(t_one)
    mb = big_chgcar.stat().st_size / 1e6
    benchmark.extra_info.update(pymatgen_s=tp, ours_s=to, ours_1thread_s=t1, file_mb=mb)
    from materials_pipeline.readers._common import default_threads

    report_ratio("CHGCAR 256^3 read speed vs pymatgen", tp / to, 2.0,
                 reference=f"pymatgen {tp:.3f} s, ours {to:.3f} s ({default_threads()} "
                           f"threads), {mb / to:.0f} MB/s, {mb:.0f} MB file")
    report_ratio("CHGCAR 256^3 read speed vs pymatgen, 1 thread", tp / t1, 2.0,
                 reference=f"pymatgen {tp:.3f} s, ours {t1:.3f} s, {mb / t1:.0f} MB/s")
