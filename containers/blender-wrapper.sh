#!/bin/sh
# /usr/local/bin/blender inside blender.sif (installed by containers/blender.def).
#
# This is NOT the Blender binary. vizpipe renders through the bpy 5.0.1 wheel (Blender as a
# Python module, pinned in requirements.lock); this wrapper gives the COMPSs render tasks
# (@container(engine="SINGULARITY") + @binary(binary="blender"), run as
# `singularity exec ... blender.sif blender ARGS`) an executable of that name. It runs the render
# package's chunk script with the image's Python (the first `python` on PATH: /opt/venv/bin):
#
#   blender RUN_DIR --frames 0,1,2 [--resolution WxH] [--samples N] [--device CPU|GPU] [--threads N]
#   blender RUN_DIR --blend scene.blend [--resolution WxH]
#   blender --probe-device GPU
#   blender --version
#
# Python runs with -E -s: PYTHONPATH/PYTHONHOME set by host modules (singularity passes the
# host environment in) and ~/.local packages must not shadow the image's packages.
set -eu
PY=${VIZPIPE_PYTHON:-python}
if [ "${1:-}" = "--version" ]; then
    exec "$PY" -E -s -c 'import bpy; print("Blender", bpy.app.version_string, "(bpy wheel; vizpipe wrapper)")'
fi
exec "$PY" -E -s -u -m render.blender_chunk "$@"
