"""What a climate reader is: a class beside its sniffer, as xarray's ``BackendEntrypoint``.

A reader says by content whether it can open a file (:meth:`Reader.guess_can_open`, magic
bytes by default), opens one or several files of its format as one lazy ``Field``
(:meth:`Reader.open`) and lists a file's variables (:meth:`Reader.variables`). Its class
attributes describe the format; :mod:`climate_pipeline.readers.registry` lists the classes
and builds the ``core.formats`` entries from them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from climate_pipeline.data import Field

__all__ = ["Reader", "HEAD_BYTES"]

#: how many leading bytes of a file the content tests see
HEAD_BYTES = 64


class Reader(ABC):
    """One input format: how to recognise its files and how to read them into a ``Field``."""

    name: ClassVar[str]  # the format's name, lower case (``--format``, error messages)
    description: ClassVar[str]
    globs: ClassVar[tuple[str, ...]] = ()  # file-name patterns, when no content test says
    magic: ClassVar[tuple[bytes, ...]] = ()  # leading bytes

    def guess_can_open(self, path: str, head: bytes) -> bool:
        """Whether the file is one of this format by its content (``head``: its first
        :data:`HEAD_BYTES` bytes): by default, whether it starts with one of ``magic``."""
        return any(head.startswith(m) for m in self.magic)

    @classmethod
    def has_content_test(cls) -> bool:
        """Whether the class tests content beyond its magic bytes."""
        return cls.guess_can_open is not Reader.guess_can_open

    @abstractmethod
    def open(self, paths: list[str], var: str | None, *, standard_name: str | None,
             allow_no_time: bool, member: int | None) -> Field:
        """One variable of ``paths`` (existing files of this format; several: along time) as
        a lazy ``Field``. ``var``: a name or ``NAME#N``; ``standard_name``: a CF standard
        name; neither: the reader picks (and says which). ``member``: an ensemble member
        (an error for formats without members)."""

    @abstractmethod
    def variables(self, path: str) -> list[tuple[str, str]]:
        """(name, standard_name) of the data variables of one file, in file order."""
