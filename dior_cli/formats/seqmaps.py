"""Seqmaps: which sequences to evaluate, and (mots_tools style) how long each is.

Two styles are read:

- mots_tools / KITTI-MOTS: one sequence per line, ``<seq> empty <first> <last>``; the
  sequence has ``last + 1`` frames (as TrackEval counts them; frames start at 0).
- MOTChallenge: a ``name`` header, then one sequence name per line; lengths come from
  each sequence's ``seqinfo.ini``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dior_cli.errors import FormatError
from dior_cli.formats.mots_txt import read_text_lines


@dataclass(frozen=True)
class SeqmapEntry:
    """One sequence of a seqmap; ``num_frames`` is ``None`` when the seqmap gives no length."""

    name: str
    num_frames: int | None


def read_seqmap(path: str | os.PathLike) -> list[SeqmapEntry]:
    """Read either seqmap style; errors name the file and line."""
    path = Path(path)
    rows = [(number, line.replace(",", " ").split()) for number, line in enumerate(read_text_lines(path), start=1)]
    rows = [(number, fields) for number, fields in rows if fields]
    if not rows:
        raise FormatError("seqmap lists no sequences", path=path)
    entries: list[SeqmapEntry] = []
    if rows[0][1] == ["name"]:
        for number, fields in rows[1:]:
            if len(fields) != 1:
                raise FormatError(f"expected one sequence name per line after the 'name' header, got {len(fields)} fields", path=path, line=number)
            entries.append(SeqmapEntry(fields[0], None))
    else:
        for number, fields in rows:
            if len(fields) != 4:
                raise FormatError(f"expected '<seq> empty <first> <last>' (4 fields), got {len(fields)}", path=path, line=number)
            try:
                first, last = int(fields[2]), int(fields[3])
            except ValueError:
                raise FormatError("first and last frame must be integers", path=path, line=number) from None
            if first < 0 or last < first:
                raise FormatError(f"frame range {first}..{last} is empty or negative", path=path, line=number)
            entries.append(SeqmapEntry(fields[0], last + 1))
    names = [e.name for e in entries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise FormatError(f"lists sequence {duplicates[0]} more than once", path=path)
    return entries
