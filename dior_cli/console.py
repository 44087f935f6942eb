"""The one rich console (stderr), progress bars and notes.

Everything dior prints for people goes to stderr through :data:`console`, so stdout stays
free for ``--json`` documents that scripts parse. Progress bars hide themselves when
stderr is not a terminal (CI logs) unless ``DIOR_PROGRESS=1``. A file or a pipe has no
width, so there tables print whole (:data:`PIPE_WIDTH`, unless ``COLUMNS`` says otherwise)
and notes are one line each, never wrapped or padded.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console, ConsoleDimensions
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

T = TypeVar("T")

PIPE_WIDTH = 1000
"""Columns of the console when stderr is not a terminal and ``COLUMNS`` is unset (rich's
default there, 80, cut tables)."""


class _Console(Console):
    """rich's console, except that a file or a pipe is :data:`PIPE_WIDTH` columns wide (decided at
    each print, since the same console may print to a terminal and, in tests, to a buffer)."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if not self.is_terminal and not os.environ.get("COLUMNS", "").isdigit():
            return ConsoleDimensions(PIPE_WIDTH, size.height)
        return size


console = _Console(stderr=True, highlight=False)
"""The console every stage prints to (stderr)."""

logger = logging.getLogger("dior")


class _ConsoleLineHandler(logging.Handler):
    """Log records as ``note: <message>`` (INFO) or ``<level>: <message>`` lines on :data:`console`,
    soft-wrapped: the terminal wraps a long line, a file gets it whole."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = "note" if record.levelno == logging.INFO else record.levelname.lower()
            console.print(f"{level}: {record.getMessage()}", markup=False, highlight=False, soft_wrap=True)
        except Exception:  # a failing log line must not stop the stage (logging's own convention)
            self.handleError(record)


def setup_logging(verbose: bool = False) -> None:
    """Route the ``dior`` logger to :data:`console` on stderr, one line per record (idempotent)."""
    if not any(isinstance(h, _ConsoleLineHandler) for h in logger.handlers):
        logger.addHandler(_ConsoleLineHandler())
        logger.propagate = False
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)


def note(message: str) -> None:
    """Tell the user something they should know but that is not an error."""
    logger.info(message)


def progress_enabled() -> bool:
    """Bars show on a terminal, or when ``DIOR_PROGRESS=1`` forces them."""
    forced = os.environ.get("DIOR_PROGRESS")
    if forced is not None:
        return forced == "1"
    return console.is_terminal


class _RateColumn(ProgressColumn):
    """Items per second, blank until rich has a speed estimate."""

    def render(self, task: Task) -> Text:
        return Text("" if task.speed is None else f"{task.speed:.1f}/s")


def track_progress(items: Iterable[T], description: str, total: int | None = None, unit: str = "frames") -> Iterator[T]:
    """Iterate ``items`` with a progress bar (count, rate, elapsed, remaining).

    Args:
        items: anything iterable; it is consumed lazily (streaming stays streaming).
        description: shown left of the bar, e.g. the sequence name.
        total: number of items when ``items`` has no ``len``.
        unit: what one item is, shown with the count.
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    if not progress_enabled():
        yield from items
        return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)


class download_progress:
    """``with download_progress(name, total_bytes) as advance: advance(n)``: a byte bar (hidden off a terminal)."""

    def __init__(self, description: str, total: int) -> None:
        self.description, self.total = description, total
        self._bar: Progress | None = None

    def __enter__(self):
        if not progress_enabled():
            return lambda n: None
        from rich.progress import DownloadColumn, TransferSpeedColumn

        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                             TimeRemainingColumn(), console=console)
        self._bar.__enter__()
        task = self._bar.add_task(self.description, total=self.total)
        return lambda n: self._bar.advance(task, n)

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
