"""``dior weights``: the networks dior runs, as a JSON document or a table with where to put missing files.

Presentation only: the rows come from :func:`dior_cli.weights.status` and the search places
from :func:`dior_cli.weights.search_places`; rich's table is imported when one is drawn.
"""

from __future__ import annotations

from typing import Any

from dior_cli.console import console
from dior_cli.weights import Place

SCHEMA = "dior.weights/v1"


def weights_document(rows: list[dict[str, Any]], places: list[Place]) -> dict[str, Any]:
    """The ``--json`` document: every network's row and the folders searched, in order."""
    return {"schema": SCHEMA, "networks": rows, "searched": [{"place": p.label, "folder": str(p.folder)} for p in places]}


def print_weights_table(rows: list[dict[str, Any]], places: list[Place]) -> None:
    """One table row per network (file found or error, sha256 check, licence), the search order,
    and what to do about missing files."""
    from rich.table import Table

    table = Table(title="networks dior runs")
    for column in ("network", "file", "found", "sha256", "licence"):
        table.add_column(column, overflow="fold")
    for row in rows:
        found = f"{row['path']} ({row['place']})" if row["path"] else "not found"
        check = "ok" if row["sha256_ok"] else ("differs" if row["sha256_ok"] is False else "-")
        table.add_row(row["name"], row["file"], found if not row["error"] else row["error"], check, row["licence"])
    console.print(table)
    missing = [row["file"] for row in rows if not row["path"]]
    console.print(f"searched, in order: --weights PATH; {'; '.join(f'{p.label}: {p.folder}' for p in places)}")
    if missing:
        console.print(f"missing: {', '.join(missing)}: put them in one of these folders or point DIOR_WEIGHTS at the folder holding them")
