"""``RUN/train_log.jsonl``: one JSON object per line, per step and per validation (rank 0 writes it).

Step lines hold ``step`` (1-based: the step just taken), ``epoch``, ``lr``, the losses and
timings; validation lines hold ``step`` and ``validation``. A resumed run first cuts the log
back to the step it continues from, so no step appears twice.
"""

from __future__ import annotations

import json
from pathlib import Path

from dior_cli.formats.atomic import atomic_write


def trim_log(log_path: Path, step: int) -> None:
    """Keep the log entries up to ``step`` (what a resumed run continues from), atomically."""
    if not log_path.is_file():
        return
    kept = []
    for line in log_path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry.get("step", 0) <= step:
            kept.append(line)
    with atomic_write(log_path) as handle:
        handle.write("".join(line + "\n" for line in kept))


def append_log(log_path: Path, entry: dict) -> None:
    """Add ``entry`` as one line (the folder is made if needed)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")
