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
    """A task failed; carries its name, a summary of its inputs and the original traceback.

    ``str(err)`` is the whole story for logs (``task NAME(INPUTS) failed: ORIGINAL``);
    ``err.message`` is what a user reads (``FILE: what is wrong, what was expected``): the
    original message of a PipelineError raised in the task (they name their file), else the
    task's input file (or its name) and the original exception.
    """

    def __init__(self, name: str, inputs: str, original: str, traceback_text: str = "",
                 message: str = ""):
        self.name = name
        self.inputs = inputs
        self.original = original
        self.traceback_text = traceback_text
        self.message = message or f"{name}: {original}"
        super().__init__(f"task {name}({inputs}) failed: {original}")

    def __reduce__(self):  # picklable across worker processes
        return (type(self), (self.name, self.inputs, self.original, self.traceback_text,
                             self.message))

    def counted(self, note: str) -> TaskError:
        """A copy whose log message and user message both end with `` [note]``."""
        new = TaskError(self.name, self.inputs, self.original, self.traceback_text,
                        f"{self.message} [{note}]")
        new.args = (f"{self.args[0] if self.args else self} [{note}]",)
        return new


def disk_message(exc: BaseException | None, where: str | None = None) -> str | None:
    """The one-line message of an OSError that says the disk (or the file size limit, or the
    quota) is full, naming the file being written (else ``where``, e.g. the run directory);
    None for any other exception."""
    import errno

    if not isinstance(exc, OSError) or exc.errno not in {errno.ENOSPC, errno.EFBIG,
                                                          getattr(errno, "EDQUOT", 122)}:
        return None
    where = exc.filename or where
    what = {errno.ENOSPC: "no space left on the device",
            errno.EFBIG: "file too large: the file size limit (ulimit -f) was reached"
            }.get(exc.errno or 0, "disk quota exceeded")
    return (f"{where + ': ' if where else ''}{what} while writing; expected free disk space "
            "(and a file size limit) large enough for the run's files")


def disk_error(text: str, path: str | None = None) -> OSError | None:
    """The OSError (ENOSPC, EFBIG, EDQUOT) that a C++ writer's error ``text`` reports in words
    (USD, OpenVDB: "File too large", "No space left on device"), naming ``path``; None when
    the text says no such thing."""
    import errno
    import os

    low = text.lower()
    for code in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", 122)):
        if os.strerror(code).lower() in low:
            return OSError(code, os.strerror(code), path)
    return None
