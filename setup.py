"""Build of the compiled isosurface kernel; all project metadata lives in pyproject.toml.

``pip install --no-deps --no-build-isolation -e .`` (what ``make venv`` runs) compiles
core/_isokernel/isokernel.c into ``core._isokernel_c``. Without a C compiler the package still
works: core.isokernel.available() is then False and isosurfaces fall back to VTK.
"""

import sys

from setuptools import Extension, setup

if sys.platform == "win32":
    cflags = ["/O2"]
else:
    # portable x86_64 code (SSE2 baseline): no -march=native, the wheel must run anywhere
    cflags = ["-O3", "-funroll-loops", "-fno-math-errno", "-std=c11"]

setup(
    ext_modules=[
        Extension(
            "core._isokernel_c",
            sources=["core/_isokernel/isokernel.c"],
            depends=["core/_isokernel/kernel_impl.h", "core/_isokernel/tables.h"],
            extra_compile_args=cflags,
            optional=True,  # fall back to VTK when no compiler is around
        )
    ]
)
