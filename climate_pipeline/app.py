"""The COMPSs application of the climate pipeline: conversion and render in one COMPSs run.

::

    runcompss --lang=python --pythonpath=$ROOT -g -t --summary \
        $ROOT/climate_pipeline/app.py <the arguments of python -m climate_pipeline>
    enqueue_compss ... --lang=python --pythonpath=$ROOT $ROOT/climate_pipeline/app.py <arguments>

(``python -m vizpipe_app.launch {runcompss|enqueue} climate -- <arguments>`` prints these lines.)
The tasks are COMPSs tasks (``core.runtime`` *is* PyCOMPSs under the runtime): one per frame
and per particle batch for the conversion, then one Blender-in-Singularity task per chunk of
frames (:func:`render.tasks.render_chunk_container`). The render runs in this process, not as
a ``python -m render`` child as the plain command does, so that its tasks are this
application's. Outside COMPSs the same file runs with the engine ``--engine`` names.

A thin alias, as ``python -m climate_pipeline`` is: it runs the entry point
``vizpipe.app:climate`` (pyproject.toml: :func:`vizpipe_app.runner.climate_app`) through
:func:`core.entrypoints.run_entry`, so this package imports nothing above it.
"""

from __future__ import annotations

from core.entrypoints import GROUP_APP, run_entry

if __name__ == "__main__":
    run_entry(GROUP_APP, "climate")
