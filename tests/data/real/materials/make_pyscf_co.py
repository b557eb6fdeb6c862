"""Writes ``pyscf_CO_density.cube.gz``: a genuine all-electron density cube of carbon monoxide,
written by PySCF's own cube writer (``pyscf.tools.cubegen.density``, a program independent of
vizpipe), since no package on the package index ships a real all-electron density cube of a
usable size (qc-iodata's cubegen files are 5 to 7 points a side).

PBE0/cc-pVDZ at the experimental bond length (1.128 Angstrom) along z, a 4 bohr margin round
the atoms (Psi4's default overage; PySCF's own default of 3 bohr cuts the 0.002 e/bohr^3
surface) with 0.2 bohr voxels: 14 electrons, the oxygen and carbon 1s cores in the grid.
The second comment line holds the date of writing: the file is not byte-reproducible, its
values are. With ``--full`` it writes Psi4's grid size instead (81x81x103 voxels, 0.1 bohr;
``/tmp/co_full.cube`` by default, not part of the corpus) for timing.

Run: ``OMP_NUM_THREADS=1 .venv/bin/python tests/data/real/materials/make_pyscf_co.py``.
"""

from __future__ import annotations

import gzip
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
NAME = "pyscf_CO_density.cube.gz"


def write(path: Path, resolution: float, margin: float) -> None:
    from pyscf import dft, gto
    from pyscf.tools import cubegen

    mol = gto.M(atom="C 0 0 0; O 0 0 1.128", basis="cc-pvdz", unit="Angstrom")
    mf = dft.RKS(mol, xc="pbe0").run(conv_tol=1e-9)
    cubegen.density(mol, str(path), mf.make_rdm1(), resolution=resolution, margin=margin)


def main(argv: list[str]) -> None:
    if "--full" in argv:
        out = Path(argv[argv.index("--full") + 1]) if len(argv) > argv.index("--full") + 1 \
            else Path("/tmp/co_full.cube")
        write(out, 0.1, 4.0)
        return
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "co.cube"
        write(plain, 0.2, 4.0)
        with plain.open("rb") as src, gzip.GzipFile(HERE / NAME, "wb", 9, mtime=0) as dst:
            shutil.copyfileobj(src, dst)


if __name__ == "__main__":
    main(sys.argv[1:])
