"""The files ``dior evaluate`` leaves behind: ``metrics.json`` (where it goes by default) and the CSV.

Both are written atomically by :mod:`dior_cli.evaluate.report`; this module only decides the
default place of ``metrics.json`` (beside the prediction folder) and writes what was asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dior_cli.evaluate import report


def default_metrics_path(pred: Path) -> Path:
    """``metrics.json`` beside the prediction folder (its parent, after resolving links and ``..``)."""
    return pred.resolve().parent / "metrics.json"


def write_report_files(doc: dict[str, Any], metrics_path: Path, csv_path: Path | None) -> list[Path]:
    """Write ``doc`` to ``metrics_path`` (JSON, schema dior.metrics/v1) and, when given, the
    per-sequence CSV to ``csv_path``; return the paths written, in that order."""
    report.write_metrics_json(metrics_path, doc)
    written = [metrics_path]
    if csv_path is not None:
        report.write_csv(csv_path, doc)
        written.append(csv_path)
    return written
