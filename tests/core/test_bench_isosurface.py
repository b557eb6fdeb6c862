"""Isosurface throughput against VTK's vtkFlyingEdges3D (the speed anchor), one thread."""

from __future__ import annotations

import time

import numpy as np
import pytest

from core.geometry import Volume, isosurface

pytestmark = pytest.mark.benchmark

N = 256
LEVEL = 0.3


@pytest.fixture(scope="module")
def field():
    """A gyroid-like triply periodic field on 256^3 (dense surface everywhere: worst case)."""
    x = np.linspace(0, 4 * np.pi, N, dtype=np.float32)
    sx, cx = np.sin(x), np.cos(x)
    f = (sx[:, None, None] * cx[None, :, None] + sx[None, :, None] * cx[None, None, :]
         + sx[None, None, :] * cx[:, None, None])
    return np.ascontiguousarray(f, dtype=np.float32)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    from vtkmodules.vtkCommonCore import vtkSMPTools

    before = vtkSMPTools.GetBackend()
    vtkSMPTools.SetBackend("Sequential")
    yield
    vtkSMPTools.SetBackend(before)


def vtk_reference(values: np.ndarray, level: float):
    """What a VTK user writes: image data over the array, vtkFlyingEdges3D with its defaults."""
    from vtkmodules.util.numpy_support import numpy_to_vtk
    from vtkmodules.vtkCommonDataModel import vtkImageData
    from vtkmodules.vtkFiltersCore import vtkFlyingEdges3D

    img = vtkImageData()
    img.SetDimensions(values.shape[2], values.shape[1], values.shape[0])
    img.GetPointData().SetScalars(numpy_to_vtk(values.ravel(), deep=0))
    fe = vtkFlyingEdges3D()
    fe.SetInputData(img)
    fe.SetValue(0, level)
    fe.Update()
    return fe.GetOutput()


def best_of(fn, rounds=5):
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def test_isosurface_vs_vtk_flying_edges(benchmark, field, report_ratio):
    # a sheared affine: our function also maps to world space, fixes winding, maps normals
    aff = Volume.affine_from_cell([[8.0, 0, 0], [2.0, 7.5, 0], [1.0, 1.0, 9.0]], field.shape)
    vol = Volume(field, aff)
    mesh = benchmark.pedantic(isosurface, args=(vol, LEVEL), rounds=5, warmup_rounds=1)
    ref = vtk_reference(field, LEVEL)
    assert mesh.n_vertices == ref.GetNumberOfPoints()
    assert mesh.n_faces == ref.GetNumberOfPolys()
    # interleave the two so that drift in machine load hits both alike
    t_ref, t_ours = [], [benchmark.stats.stats.min]
    for _ in range(7):
        t_ref.append(best_of(lambda: vtk_reference(field, LEVEL), rounds=1))
        t_ours.append(best_of(lambda: isosurface(vol, LEVEL), rounds=1))
    t_ref, t_ours = min(t_ref), min(t_ours)
    benchmark.extra_info.update(vtk_s=t_ref, ours_s=t_ours, triangles=mesh.n_faces)
    mtri = mesh.n_faces / t_ours / 1e6
    report_ratio("isosurface 256^3 throughput vs VTK FlyingEdges3D", t_ref / t_ours, 1.0,
                 reference=f"VTK {t_ref * 1e3:.0f} ms, ours {t_ours * 1e3:.0f} ms, "
                           f"{mtri:.1f} Mtri/s, 1 thread")


def test_isosurface_vs_scikit_image(benchmark, field, report_ratio):
    from skimage.measure import marching_cubes

    vol = Volume(field)
    benchmark.pedantic(isosurface, args=(vol, LEVEL), rounds=3, warmup_rounds=1)
    t_sk = best_of(lambda: marching_cubes(field, LEVEL), rounds=2)
    report_ratio("isosurface 256^3 throughput vs scikit-image", t_sk / benchmark.stats.stats.min,
                 reference=f"skimage {t_sk * 1e3:.0f} ms")
