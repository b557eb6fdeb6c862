"""The applications above the pipelines and the renderer.

- :mod:`vizpipe_app.cli`: ``vizpipe COMMAND``, one console script for every command below
  and the pipelines' and renderer's;
- :mod:`vizpipe_app.runner`: convert -> manifest -> render, the body of ``python -m
  <pipeline>`` and of each pipeline's COMPSs application (entry points ``vizpipe.main`` and
  ``vizpipe.app`` in pyproject.toml, which the pipelines' entry modules run through
  :mod:`core.entrypoints`);
- :mod:`vizpipe_app.launch`: the ``runcompss`` / ``enqueue_compss`` command lines;
- :mod:`vizpipe_app.demo`: an analytic scene built with the core writers (``make demo``);
- :mod:`vizpipe_app.scaling`: the strong-scaling driver (``make scaling``).

Imports point down only, without exception: this package -> pipelines, render -> core
(``make check`` runs an import-linter contract).
"""
