"""Domain errors: every problem a user can cause is a ``DiorError`` that names its place.

A ``DiorError`` carries the message and, where known, the file, sequence, frame, line and
row it is about. ``str(error)`` puts the place first, so a message reads
``gt/0002.txt, line 17: expected 6 fields, got 5``. The CLI turns any ``DiorError`` into
a red message on stderr and exit code 1, never a traceback.

Kinds (subclasses) let callers and tests tell errors apart without parsing text:
``InputNotFound`` (a path that does not exist), ``FormatError`` (a file whose content is
wrong), ``AlignmentError`` (two files that do not belong together, e.g. stale embeddings),
``ConfigError`` (a bad option, config key or value).
"""

from __future__ import annotations

from os import PathLike


class DiorError(Exception):
    """A user-facing error with its location.

    Args:
        message: what is wrong, phrased for the user.
        path: the file or folder concerned.
        sequence: sequence name, when the error is about one sequence.
        frame: 0-based frame index inside dior (say so in the message when you report a
            file's own frame number instead).
        line: 1-based line number in a text file.
        row: 0-based row index (detections, embeddings).
    """

    exit_code = 1

    def __init__(
        self,
        message: str,
        *,
        path: str | PathLike | None = None,
        sequence: str | None = None,
        frame: int | None = None,
        line: int | None = None,
        row: int | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.sequence = sequence
        self.frame = frame
        self.line = line
        self.row = row
        super().__init__(str(self))

    @property
    def place(self) -> str:
        """The location part of the message, e.g. ``a.txt, line 3``; empty if unknown."""
        parts = []
        if self.path is not None:
            parts.append(self.path)
        if self.sequence is not None:
            parts.append(f"sequence {self.sequence}")
        if self.line is not None:
            parts.append(f"line {self.line}")
        if self.frame is not None:
            parts.append(f"frame {self.frame}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        return ", ".join(parts)

    def __str__(self) -> str:
        place = self.place
        return f"{place}: {self.message}" if place else self.message


class InputNotFound(DiorError):
    """A path the user gave (or a file a layout needs) does not exist."""


class FormatError(DiorError):
    """A file exists but its content does not follow its format."""


class AlignmentError(DiorError):
    """Two files that must belong together do not (row counts, hashes, sizes)."""


class ConfigError(DiorError):
    """A bad command-line option, config key or value."""
