"""The browser preview of a run: ``RUN_DIR/preview/index.html``, no render needed (issue #21).

::

    python -m render.preview RUN_DIR [--serve] [--port N]
    make preview RUN=out/materials/default

Pure Python from the manifest to a static page (this package never imports ``bpy``):

* :mod:`render.preview.writer`  manifest -> ``preview/`` (scene.json, volume proxies, page);
* :mod:`render.preview.serve`   a local HTTP server bound to 127.0.0.1 (``--serve``);
* :mod:`render.preview.driver`  the command line;
* ``static/``                   the page (index.html, viewer.js, viewer.css) and the vendored
  three.js (``static/lib/VERSION``; ``vendor.sh`` updates it from the npm registry).

The pipelines write the preview at the end of each conversion (``--no-preview`` turns it off):
:func:`write_preview` is what :mod:`vizpipe_app.runner` calls.
"""

from render.preview.writer import BUDGET_BYTES, PREVIEW, Preview, preview_dir, write_preview

__all__ = ["BUDGET_BYTES", "PREVIEW", "Preview", "preview_dir", "write_preview"]
