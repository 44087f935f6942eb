"""Presenting a metrics document: the rich table, ``metrics.json`` and the per-sequence CSV.

Tables show ratios in percent (the MOTS names sMOTSA, MOTSA, MOTSP among them for masks,
MOTA and MOTP for boxes) and counts as integers; files keep TrackEval's fractions.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from typing import Any

from dior_cli.console import console
from dior_cli.formats.atomic import write_text_atomic

TABLE_COLUMNS = ("HOTA", "DetA", "AssA", "sMOTSA", "MOTSA", "MOTSP", "IDF1", "IDSW", "CLR_FP", "CLR_FN", "Frag")
BOX_TABLE_COLUMNS = ("HOTA", "DetA", "AssA", "MOTA", "MOTP", "IDF1", "IDSW", "CLR_FP", "CLR_FN", "Frag")
HEADERS = {"CLR_FP": "FP", "CLR_FN": "FN"}
COUNT_FIELDS = {"CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag", "IDTP", "IDFN", "IDFP"}


def to_json(doc: dict[str, Any]) -> str:
    """The document as JSON text (NaN never appears: it is stored as null)."""
    return json.dumps(doc, indent=1, allow_nan=False) + "\n"


def write_metrics_json(path: str | os.PathLike, doc: dict[str, Any]) -> None:
    write_text_atomic(path, to_json(doc))


def write_csv(path: str | os.PathLike, doc: dict[str, Any]) -> None:
    """One row per sequence and class (then the combined rows), every field as a column."""
    fields = list(next(iter(doc["combined"].values())))  # the same fields for every class
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["sequence", "class", *fields])
    for seq, by_class in doc["per_sequence"].items():
        for cls, values in by_class.items():
            writer.writerow([seq, cls, *(_csv_value(values[f]) for f in fields)])
    for cls, values in doc["combined"].items():
        writer.writerow(["COMBINED", cls, *(_csv_value(values[f]) for f in fields)])
    write_text_atomic(path, buffer.getvalue())


def print_table(doc: dict[str, Any]) -> None:
    """Per-sequence and combined results, one table per class, on stderr."""
    from rich.table import Table

    columns = _table_columns(doc)
    for cls in [*doc["classes"], *(["class_average"] if "class_average" in doc["combined"] else [])]:
        table = Table(title=f"{doc['benchmark']} · {cls.replace('_', ' ')} (ratios in %)")
        table.add_column("sequence", no_wrap=True)
        for column in columns:
            table.add_column(HEADERS.get(column, column), justify="right", no_wrap=True)
        if cls in doc["classes"]:
            for seq in doc["sequences"]:
                table.add_row(seq, *(_cell(doc["per_sequence"][seq][cls][c], c) for c in columns))
            table.add_section()
        table.add_row("COMBINED", *(_cell(doc["combined"][cls][c], c) for c in columns), style="bold")
        console.print(table)


def print_summary(doc: dict[str, Any], seconds: float) -> None:
    """Decisions dior made, then one line per class with the headline numbers."""
    for decision in doc["decisions"]:
        console.print(f"[dim]· {decision}[/]")
    if doc.get("similarity") == "box":
        console.print(f"[dim]· {doc['benchmark']} ({doc['predictions_kind']}): {doc['preprocessing']}[/]", highlight=False)
    lengths = {info["length_source"] for info in doc["sequence_info"].values()}
    console.print(f"[dim]· sequence lengths from: {', '.join(sorted(lengths))}[/]")
    moved = sum(info["overlap_pixels_resolved"] for info in doc["sequence_info"].values())
    if moved:
        console.print(f"· --resolve-overlaps moved {moved} pixels between overlapping prediction masks")
    clear_name = "MOTA" if doc.get("similarity") == "box" else "sMOTSA"
    for cls, values in doc["combined"].items():
        console.print(
            f"[bold]{cls}[/]: HOTA {_cell(values['HOTA'], 'HOTA')}  {clear_name} {_cell(values[clear_name], clear_name)}  "
            f"IDF1 {_cell(values['IDF1'], 'IDF1')}  IDSW {_cell(values['IDSW'], 'IDSW')}"
        )
    console.print(f"evaluated {len(doc['sequences'])} sequence(s) in {seconds:.1f} s")


def _table_columns(doc: dict[str, Any]) -> tuple[str, ...]:
    return BOX_TABLE_COLUMNS if doc.get("similarity") == "box" else TABLE_COLUMNS


def _cell(value: float | int | None, field: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if field in COUNT_FIELDS:
        return str(int(value))
    return f"{100 * value:.2f}"


def _csv_value(value: float | int | None) -> str:
    return "" if value is None else repr(value)
