"""Build of the compiled isosurface kernel; all project metadata lives in pyproject.toml.

``pip install --no-deps --no-build-isolation -e .`` (what ``make venv`` runs) compiles
core/_isokernel/isokernel.c into ``core._isokernel_c``. Without a C compiler the package still
works: core.isokernel.available() is then False and isosurfaces fall back to VTK.
materials_pipeline/_fastfloat/fastfloat.c becomes ``materials_pipeline._fastfloat``, the exact
float parser of the VASP/cube/XSF readers (without it they fall back to numpy, slower).
"""

import sys

from setuptools import Extension, setup

if sys.platform == "win32":
    cflags = ["/O2"]
else:
    # portable x86_64 code (SSE2 baseline): no -march=native, the wheel must run anywhere
    cflags = ["-O3", "-funroll-loops", "-fno-math-errno", "-ffp-contract=off", "-std=c11"]

setup(
    ext_modules=[
        Extension(
            "core._isokernel_c",
            sources=["core/_isokernel/isokernel.c"],
            depends=["core/_isokernel/kernel_impl.h", "core/_isokernel/tables.h"],
            extra_compile_args=cflags,
            optional=True,  # fall back to VTK when no compiler is around
        ),
        Extension(
            "materials_pipeline._fastfloat",
            sources=["materials_pipeline/_fastfloat/fastfloat.c"],
            extra_compile_args=cflags,
            optional=True,  # readers fall back to numpy parsing (slower) without a compiler
        ),
        Extension(
            "climate_pipeline._advect_c",
            sources=["climate_pipeline/_advect/advect.c"],
            depends=["climate_pipeline/_advect/advect_impl.h"],
            extra_compile_args=cflags,
            optional=True,  # particles fall back to numpy advection (slower) without a compiler
        ),
    ]
)
