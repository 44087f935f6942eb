"""Re-runs that skip finished sequences: were the outputs made with the settings asked for now?

``dior track`` and ``dior reid`` record, in the ``producer`` of every link file they write,
the settings that shaped the output (``producer["settings"]``: a flat mapping of plain JSON
values) and the digest of the input they read. A re-run without ``--overwrite`` keeps
finished sequences; these helpers say whether the recorded settings differ from the ones
asked for, so the user is told, instead of silently getting the old output.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from dior_cli.errors import DiorError
from dior_cli.formats.tracks_json import read_track_links


def plain_settings(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` as JSON would give them back (tuples as lists), so a recorded copy compares equal."""
    return json.loads(json.dumps(values))


def settings_changes(recorded: dict[str, Any] | None, current: dict[str, Any]) -> list[str]:
    """``key: old -> new`` for every setting that differs (sorted by key); empty when they agree.

    ``recorded`` ``None`` (outputs from a dior that did not record settings) gives no changes:
    nothing is known to differ.
    """
    if recorded is None:
        return []
    current = plain_settings(current)
    keys = sorted(set(recorded) | set(current))
    return [f"{k}: {json.dumps(recorded.get(k))} -> {json.dumps(current.get(k))}" for k in keys if recorded.get(k) != current.get(k)]


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes (what ``producer["input_sha256"]`` records), read 4 MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 22):
            digest.update(block)
    return digest.hexdigest()


def skipped_entry(links_path: str | os.PathLike, current: dict[str, Any], input_path: str | os.PathLike) -> dict[str, Any]:
    """The summary entry of a sequence skipped because its outputs exist.

    ``{"skipped": "outputs exist (use --overwrite)"}``, plus ``"changed"``: the settings that
    differ between the recorded run and this one, and whether ``input_path`` is another
    version of the file the outputs were made from, when anything differs. A link file that
    cannot be read counts as not recorded.
    """
    try:
        producer = read_track_links(links_path).producer
    except DiorError:
        producer = {}
    changes = settings_changes(producer.get("settings"), current)
    recorded_input = producer.get("input_sha256")
    if recorded_input is not None and Path(input_path).is_file() and recorded_input != file_sha256(input_path):
        changes.append(f"input: {Path(input_path).name} changed since")
    entry: dict[str, Any] = {"skipped": "outputs exist (use --overwrite)"}
    if changes:
        entry["changed"] = changes
    return entry


def skipped_message(name: str, entry: dict[str, Any], redo: str) -> str:
    """One line for a skipped sequence: plain, or naming what differs and how to redo it."""
    if "changed" not in entry:
        return f"{name}: skipped (outputs exist; use --overwrite)"
    return f"{name}: skipped, but its outputs were made differently from what this run asks ({'; '.join(entry['changed'])}); redo it with {redo}"
