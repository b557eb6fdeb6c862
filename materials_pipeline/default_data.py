"""The embedded default input of ``make materials``: computed on the fly by PySCF.

A water molecule vibrating along its bending normal mode. PySCF (PBE0/6-31G*) gives the
equilibrium geometry's Hessian and normal modes once; then, per frame, a self-consistent
calculation at the displaced geometry writes two Gaussian cube files with PySCF's own cube
writer: the electron density (e/Bohr^3) and the molecular electrostatic potential (Hartree/e,
on a coarser grid), which the pipeline reads like any user's cube files. The displacement
amplitude is exaggerated (0.25 Angstrom at the largest-moving atom) so the motion is visible.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

WATER = [("O", (0.0, 0.0, 0.1173)), ("H", (0.0, 0.7572, -0.4692)),
         ("H", (0.0, -0.7572, -0.4692))]
DEFAULTS = {"basis": "6-31g*", "xc": "pbe0", "density_points": 72, "esp_points": 36,
            "amplitude": 0.25}
C_CM_PER_FS = 2.99792458e-5  # speed of light in cm/fs


def density_name(index: int) -> str:
    return f"water_{index:03d}_density.cube"


def esp_name(index: int) -> str:
    return f"water_{index:03d}_esp.cube"


def _mol(symbols, positions, basis):
    from pyscf import gto

    atom = [(s, tuple(map(float, p))) for s, p in zip(symbols, positions, strict=True)]
    return gto.M(atom=atom, basis=basis, unit="Angstrom", verbose=0)


def _scf(mol, xc):
    from pyscf import dft

    mf = dft.RKS(mol)
    mf.xc = xc
    mf.conv_tol = 1e-9
    mf.kernel()
    if not mf.converged:
        from core.errors import PipelineError

        raise PipelineError(f"PySCF SCF did not converge for {mol.atom}")
    return mf


def normal_mode(inputs: str | Path, params: dict | None = None) -> dict:
    """The bending mode of water (cached in ``inputs/mode.json``)."""
    p = {**DEFAULTS, **(params or {})}
    cache = Path(inputs) / "mode.json"
    if cache.exists():
        mode = json.loads(cache.read_text())
        if mode.get("params") == p:
            return mode
    from pyscf.hessian import thermo

    symbols = [s for s, _ in WATER]
    pos = np.array([x for _, x in WATER])
    mol = _mol(symbols, pos, p["basis"])
    mf = _scf(mol, p["xc"])
    hess = mf.Hessian().kernel()
    res = thermo.harmonic_analysis(mol, hess)
    k = int(np.argmin(res["freq_wavenumber"]))  # the bend, lowest of the three
    vec = np.asarray(res["norm_mode"][k], dtype=np.float64)
    vec *= p["amplitude"] / np.linalg.norm(vec, axis=1).max()
    mode = {"symbols": symbols, "positions": pos.tolist(), "vector": vec.tolist(),
            "freq_cm": float(res["freq_wavenumber"][k]), "params": p,
            "energy_hartree": float(mf.e_tot)}
    from core.atomic import write_text

    Path(inputs).mkdir(parents=True, exist_ok=True)
    write_text(cache, json.dumps(mode, indent=1))
    return mode


def frame_time_fs(index: int, n_frames: int, mode: dict) -> float:
    period = 1.0 / (C_CM_PER_FS * mode["freq_cm"])
    return period * index / n_frames


def compute_frame(inputs: str, index: int, n_frames: int, mode: dict, params: dict) -> dict:
    """SCF at the displaced geometry of frame ``index``; writes its two cube files
    atomically (skipped when both exist)."""
    from core.atomic import atomic_path

    p = {**DEFAULTS, **params}
    d_path = Path(inputs) / "density" / density_name(index)
    e_path = Path(inputs) / "esp" / esp_name(index)
    if d_path.exists() and e_path.exists():
        return {"index": index, "skipped": True}
    from pyscf.tools import cubegen

    phase = np.sin(2 * np.pi * index / n_frames)
    pos = np.asarray(mode["positions"]) + phase * np.asarray(mode["vector"])
    mol = _mol(mode["symbols"], pos, p["basis"])
    mf = _scf(mol, p["xc"])
    dm = mf.make_rdm1()
    n = int(p["density_points"])
    with atomic_path(d_path) as tmp:
        cubegen.density(mol, str(tmp), dm, nx=n, ny=n, nz=n, margin=4.0)
    m = int(p["esp_points"])
    with atomic_path(e_path) as tmp:
        cubegen.mep(mol, str(tmp), dm, nx=m, ny=m, nz=m, margin=4.0)
    return {"index": index, "skipped": False, "energy_hartree": float(mf.e_tot)}
