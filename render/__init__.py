"""Render a vizpipe run directory with Blender: frames, overlays, scene.blend and a movie.

This package is the only one that imports ``bpy``, and only in :mod:`render.scene` (one module
per concern: devices, colour, camera, lights, materials, objects, draft, builder) and
:mod:`render.blender_chunk`, which run in Blender subprocesses (bpy keeps global state: one
scene per process). Everything else here is pure Python:

* :mod:`render.driver`   command line (``python -m render RUN_DIR ...``), chunking, skipping,
  tasks through :mod:`core.runtime`, movie;
* :mod:`render.tasks`    the ``render_chunk`` / ``write_blend`` tasks;
* :mod:`render.process`  runs and follows one Blender subprocess;
* :mod:`render.overlay`  title, time label, colour bar and legend with Pillow;
* :mod:`render.movie`    H.264 encoding with imageio-ffmpeg's ffmpeg;
* :mod:`render.paths`    where outputs live and when a frame counts as done;
* :mod:`render.preview`  ``RUN_DIR/preview/index.html``, the run in a browser (three.js), no
  render and no bpy (``python -m render.preview RUN_DIR [--serve]``).
"""
