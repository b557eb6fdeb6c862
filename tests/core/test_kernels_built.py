"""The compiled kernels are optional (setup.py: ``optional=True``), and the tests that compare
them with their numpy/VTK fallbacks skip where one is missing. That skip must mean one thing
only: no C compiler at install. Where a compiler exists, a missing kernel is a broken build and
fails here instead of turning the kernel tests into silent skips.
"""

from __future__ import annotations

import importlib
import shlex
import shutil
import sysconfig

import pytest

KERNELS = ["core._isokernel_c", "materials_pipeline._fastfloat", "climate_pipeline._advect_c"]


def _compiler() -> str | None:
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")[0]
    return shutil.which(cc)


@pytest.mark.parametrize("module", KERNELS)
def test_kernels_built(module):
    if _compiler() is None:
        pytest.skip("no C compiler here: the kernels are optional and their fallbacks run")
    try:
        importlib.import_module(module)
    except ImportError as exc:
        pytest.fail(f"{module} is not built although a C compiler exists ({_compiler()}): "
                    f"{exc}; run make venv (pip install -e . compiles it)")
