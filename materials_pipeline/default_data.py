"""The embedded default input of ``make materials``: computed on the fly by PySCF.

A water molecule vibrating along its bending normal mode. PySCF (PBE0/6-31G*) gives the
equilibrium geometry's Hessian and normal modes once; then, per frame, a self-consistent
calculation at the displaced geometry writes two Gaussian cube files with PySCF's own cube
writer: the electron density (e/Bohr^3) and the molecular electrostatic potential (Hartree/e,
on a coarser grid), which the pipeline reads like any user's cube files. The displacement
amplitude is exaggerated (0.25 Angstrom at the largest-moving atom) so the motion is visible.

The mode's sign is fixed by a convention (:func:`oriented_mode`), not left to LAPACK: an
eigenvector is defined up to sign, and ``eigh`` picks it differently from one BLAS build or CPU
(AVX-512 or not) to another. Without the convention, frame 1 of the same run opened the
H-O-H angle on one machine and closed it on another, and every cube file differed.
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
# written into mode.json: a cached mode made under another (or no) sign convention is recomputed
SIGN_CONVENTION = "largest-component-positive"
_TIE_RTOL = 1e-3  # components this close (relative) to the largest count as tied with it


def inputs_dir(run_root: str | Path, n_frames: int) -> Path:
    """``RUN/inputs/<N>-frames``: where the default run writes its frames and ``mode.json``."""
    return Path(run_root) / "inputs" / f"{int(n_frames)}-frames"


MODE_FILE = "mode.json"


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


def oriented_mode(vector, amplitude: float) -> np.ndarray:
    """A normal mode (natoms, 3) scaled so that its largest atomic displacement is
    ``amplitude`` (Angstrom), with its sign fixed by a convention.

    Convention (``SIGN_CONVENTION``): the Cartesian component of largest magnitude is positive.
    Components within ``_TIE_RTOL`` of the largest (symmetry-equivalent atoms, equal up to
    rounding) are tied, and the first of them in (atom, x, y, z) order decides, so rounding
    noise never picks the sign. The result is the same for ``vector`` and ``-vector``. For the
    water bend the largest components are the two H z-displacements (equal by symmetry): at
    phase +1 the hydrogens move up and apart, the H-O-H angle opens, the oxygen moves down.
    """
    vec = np.array(vector, dtype=np.float64).reshape(-1, 3)
    norms = np.linalg.norm(vec, axis=1)
    if not np.isfinite(vec).all() or norms.max() == 0:
        raise ValueError(f"a normal mode must be finite and non-zero, got {vec.tolist()}")
    flat = vec.ravel()
    mag = np.abs(flat)
    first = int(np.flatnonzero(mag >= mag.max() * (1.0 - _TIE_RTOL))[0])
    if flat[first] < 0:
        vec = -vec
    return vec * (amplitude / norms.max())


def normal_mode(inputs: str | Path, params: dict | None = None) -> dict:
    """The bending mode of water (cached in ``inputs/mode.json``), its sign fixed by
    :func:`oriented_mode`."""
    p = {**DEFAULTS, **(params or {})}
    cache = Path(inputs) / MODE_FILE
    if cache.exists():
        mode = json.loads(cache.read_text())
        if mode.get("params") == p and mode.get("sign_convention") == SIGN_CONVENTION:
            return mode
    from pyscf.hessian import thermo

    symbols = [s for s, _ in WATER]
    pos = np.array([x for _, x in WATER])
    mol = _mol(symbols, pos, p["basis"])
    mf = _scf(mol, p["xc"])
    hess = mf.Hessian().kernel()
    res = thermo.harmonic_analysis(mol, hess)
    k = int(np.argmin(res["freq_wavenumber"]))  # the bend, lowest of the three
    vec = oriented_mode(res["norm_mode"][k], p["amplitude"])
    mode = {"symbols": symbols, "positions": pos.tolist(), "vector": vec.tolist(),
            "freq_cm": float(res["freq_wavenumber"][k]), "params": p,
            "sign_convention": SIGN_CONVENTION, "energy_hartree": float(mf.e_tot)}
    from core.atomic import write_text

    Path(inputs).mkdir(parents=True, exist_ok=True)
    _remove_frames(Path(inputs))  # computed along another mode (or sign): not these frames
    write_text(cache, json.dumps(mode, indent=1))
    return mode


def _remove_frames(inputs: Path) -> None:
    """Delete the frame cube files under ``inputs`` (before a new mode.json is written, so a
    run killed in between recomputes both)."""
    for sub in ("density", "esp"):
        for f in (inputs / sub).glob("*.cube") if (inputs / sub).is_dir() else ():
            f.unlink()


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
