"""The project's exceptions: one base class, a few precise subclasses.

Every message names the file (or task), the variable or field, and what was expected, so a
command line can print ``str(err)`` as its single error line.
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error this project raises on purpose."""


class UnknownFormatError(PipelineError):
    """A file whose format (by magic bytes or suffix) is not in the registry."""


class MissingDependencyError(PipelineError, ImportError):
    """One or more optional packages are not installed."""


class BadInputError(PipelineError, ValueError):
    """Input data with the wrong shape, units, grid, CRS or values."""


class ManifestError(PipelineError, ValueError):
    """A manifest that fails its schema, or names an asset that is missing."""


class TaskError(PipelineError):
    """A task failed; carries its name, a summary of its inputs and the original traceback."""

    def __init__(self, name: str, inputs: str, original: str, traceback_text: str = ""):
        self.name = name
        self.inputs = inputs
        self.original = original
        self.traceback_text = traceback_text
        super().__init__(f"task {name}({inputs}) failed: {original}")

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.name, self.inputs, self.original, self.traceback_text))
