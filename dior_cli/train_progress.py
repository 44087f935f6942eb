"""The training's progress line: step count, elapsed time, ETA and the latest losses.

Drawn by rich on rank 0 when the console is a terminal (:func:`dior_cli.console.progress_enabled`);
otherwise every method does nothing, so the loop calls them unconditionally.
"""

from __future__ import annotations

from dior_cli.console import console


class TrainProgress:
    """A context manager around the step loop; ``advance`` after each step."""

    def __init__(self, total: int, start: int, enabled: bool) -> None:
        from dior_cli.console import progress_enabled

        self.enabled = enabled and progress_enabled()
        self.total, self.start = total, start
        self._progress = None

    def __enter__(self) -> TrainProgress:
        if self.enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._progress = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                                      TimeRemainingColumn(), TextColumn("{task.fields[losses]}"), console=console, transient=False)
            self._progress.__enter__()
            self._task = self._progress.add_task("train", total=self.total, completed=self.start, losses="")
        return self

    def advance(self, step: int, losses: dict[str, float], lr: float) -> None:
        """Show ``step`` done, with its losses (``loss`` and the parts) and learning rate."""
        if self._progress is not None:
            text = f"loss {losses['loss']:.3f} (cls {losses['loss_classifier']:.3f} box {losses['loss_box_reg']:.3f} mask {losses['loss_mask']:.3f} emb {losses['loss_emb']:.3f}) lr {lr:.2g}"
            self._progress.update(self._task, completed=step, losses=text)

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
