"""Bonds for 100,000 atoms from a neighbour list: time (target < 5 s) and bounded memory.

Structures: a silicon supercell in its triclinic primitive cell (37^3 x 2 = 101,306 atoms,
displaced at random by 0.05 Angstrom), and an amorphous-like random SiO2 of 100,000 atoms in a
sheared cell at the density of silica glass. Reference: ``ase.neighborlist.neighbor_list`` on
the same atoms with the same cutoffs (reported as a ratio, no target). Peak memory of the call
is measured with tracemalloc (numpy allocations) and as the growth of the process's peak
resident size (which also sees the k-d tree's C++ allocations).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from materials_pipeline.data import Structure
from materials_pipeline.structure import find_bonds

pytestmark = pytest.mark.benchmark

TOL = 1.15
MEMORY_TARGET_MB = 1000.0


@pytest.fixture(scope="module")
def silicon_100k():
    from ase.build import bulk

    atoms = bulk("Si", "diamond", a=5.43).repeat((37, 37, 37))
    atoms.rattle(0.05, seed=0)
    return atoms


@pytest.fixture(scope="module")
def silica_glass_100k():
    """100,000 random Si/O atoms (1:2) in a sheared cell at 0.066 atoms/Angstrom^3."""
    n = 100_000
    rng = np.random.default_rng(0)
    shape = np.array([[1.0, 0.0, 0.0], [0.35, 0.94, 0.0], [0.2, 0.3, 0.93]])
    cell = shape * (n / 0.066 / abs(np.linalg.det(shape))) ** (1 / 3)
    frac = rng.random((n, 3))
    symbols = np.where(np.arange(n) % 3 == 0, "Si", "O").tolist()
    return Structure(symbols, frac @ cell, cell, (True, True, True))


def _structure(atoms) -> Structure:
    return Structure(atoms.get_chemical_symbols(), atoms.positions, atoms.cell.array,
                     tuple(bool(p) for p in atoms.pbc))


def _rss_kb(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _malloc_trim() -> None:
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_memory_mb(fn) -> tuple[float, float | None]:
    """(tracemalloc peak MB, growth of the peak resident set MB or None) of one call."""
    gc.collect()
    _malloc_trim()  # give freed heap pages back, so that reuse does not hide the growth
    rss_growth = None
    try:  # Linux: writing 5 resets the peak resident size (VmHWM) to the current one
        Path("/proc/self/clear_refs").write_text("5")
        base = _rss_kb("VmRSS")
    except OSError:
        base = None
    tracemalloc.start()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    hwm = _rss_kb("VmHWM")
    if base is not None and hwm is not None:
        rss_growth = (hwm - base) / 1024.0
    return peak / 2**20, rss_growth


def ase_reference(atoms):
    from ase.neighborlist import natural_cutoffs, neighbor_list

    return neighbor_list("ij", atoms, np.array(natural_cutoffs(atoms)) * TOL)


def test_bonds_100k_silicon(benchmark, silicon_100k, report_ratio):
    s = _structure(silicon_100k)
    bonds = benchmark.pedantic(find_bonds, args=(s,), rounds=5, warmup_rounds=1)
    t_ours = benchmark.stats.stats.min
    assert len(s) == 101_306
    coord = bonds.coordination(len(s))
    assert (coord == 4).mean() > 0.99  # random displacements break a few bonds only

    t0 = time.perf_counter()
    i, _ = ase_reference(silicon_100k)
    t_ase = time.perf_counter() - t0
    assert len(i) == 2 * len(bonds)  # ASE lists each bond from both ends

    trace_mb, rss_mb = peak_memory_mb(lambda: find_bonds(s))
    benchmark.extra_info.update(atoms=len(s), bonds=len(bonds), ase_s=t_ase,
                                tracemalloc_peak_mb=trace_mb, rss_growth_mb=rss_mb)
    report_ratio("bonds, 100k atoms", t_ours, 5.0, better="lower", unit="s",
                 reference=f"Si {len(s)} atoms, {len(bonds)} bonds, triclinic cell")
    report_ratio("bonds, 100k atoms: speed vs ASE neighbor_list", t_ase / t_ours,
                 reference=f"ASE {t_ase:.2f} s, ours {t_ours:.3f} s")
    report_ratio("bonds, 100k atoms: peak memory (tracemalloc)", trace_mb, MEMORY_TARGET_MB,
                 better="lower", unit="MB")
    if rss_mb is not None:
        report_ratio("bonds, 100k atoms: peak RSS growth", rss_mb, MEMORY_TARGET_MB,
                     better="lower", unit="MB")
    assert t_ours < 5.0
    assert trace_mb < MEMORY_TARGET_MB


def test_bonds_100k_silica_glass(benchmark, silica_glass_100k, report_ratio):
    s = silica_glass_100k
    bonds = benchmark.pedantic(find_bonds, args=(s,), rounds=3, warmup_rounds=1)
    t_ours = benchmark.stats.stats.min
    assert len(bonds) > len(s) // 2
    trace_mb, rss_mb = peak_memory_mb(lambda: find_bonds(s))
    benchmark.extra_info.update(atoms=len(s), bonds=len(bonds),
                                tracemalloc_peak_mb=trace_mb, rss_growth_mb=rss_mb)
    report_ratio("bonds, 100k atoms, random SiO2 sheared cell", t_ours, 5.0, better="lower",
                 unit="s", reference=f"{len(bonds)} bonds")
    report_ratio("bonds, 100k SiO2: peak memory (tracemalloc)", trace_mb, MEMORY_TARGET_MB,
                 better="lower", unit="MB")
    if rss_mb is not None:
        report_ratio("bonds, 100k SiO2: peak RSS growth", rss_mb, MEMORY_TARGET_MB,
                     better="lower", unit="MB")
    assert t_ours < 5.0
    assert trace_mb < MEMORY_TARGET_MB
