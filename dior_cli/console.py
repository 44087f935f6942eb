"""The one rich console (stderr), progress bars and notes.

Everything dior prints for people goes to stderr through :data:`console`, so stdout stays
free for ``--json`` documents that scripts parse. Progress bars hide themselves when
stderr is not a terminal (CI logs) unless ``DIOR_PROGRESS=1``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Iterator
from typing import TypeVar

from rich.console import Console
from rich.logging import RichHandler
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

console = Console(stderr=True, highlight=False)
"""The console every stage prints to (stderr)."""

logger = logging.getLogger("dior")


def setup_logging(verbose: bool = False) -> None:
    """Route the ``dior`` logger through rich on stderr (idempotent)."""
    if not any(isinstance(h, RichHandler) for h in logger.handlers):
        handler = RichHandler(console=console, show_time=False, show_path=False)
        logger.addHandler(handler)
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
