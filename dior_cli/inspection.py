"""``dior inspect``: validate any file or folder dior reads and summarise it.

The summary is a plain dict (what ``--json`` prints); :func:`render_summary` draws it as a
rich table on stderr.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from dior_cli.console import console, note
from dior_cli.errors import FormatError, InputNotFound
from dior_cli.records import CLASS_NAMES


def inspect_path(path: Path, frame_base: int = 0) -> dict[str, Any]:
    """Read ``path`` with the matching reader (which validates it) and summarise it."""
    if not path.exists():
        raise InputNotFound("path does not exist", path=path)
    suffix = path.suffix.lower()
    if path.is_file() and suffix == ".json":
        return _detections_summary(path)
    if path.is_file() and suffix == ".npy":
        detections = path.with_suffix(".json")
        if not detections.is_file():
            raise InputNotFound(f"embeddings need their detections file beside them ({detections.name})", path=path)
        return _detections_summary(detections)
    if path.is_file() and suffix == ".txt":
        return _mots_summary(path, frame_base)
    return _layout_summary(path)


def _detections_summary(path: Path) -> dict[str, Any]:
    from dior_cli.formats.detections_json import read_detections
    from dior_cli.formats.embeddings import read_embeddings

    dets = read_detections(path)
    d = dets.detections
    summary: dict[str, Any] = {
        "kind": "detections",
        "path": str(path),
        "sequence": dets.sequence,
        "image_size": list(dets.image_size),
        "num_frames": dets.num_frames,
        "fps": dets.fps,
        "frame_base": dets.frame_base,
        "detections": len(d),
        "per_class": {CLASS_NAMES[c]: int((d.class_id == c).sum()) for c in np.unique(d.class_id).tolist()},
        "frames_with_detections": int(np.unique(d.frame).size),
        "embeddings": None,
    }
    npy = path.with_suffix(".npy")
    if npy.is_file():
        emb = read_embeddings(npy, dets, path)
        for text in emb.notes:
            note(text)
        summary["embeddings"] = {"path": str(npy), "dim": int(emb.vectors.shape[1]), "verified_by": emb.verified_by}
    return summary


def _mots_summary(path: Path, frame_base: int) -> dict[str, Any]:
    from dior_cli.formats.mots_txt import read_mots_txt

    rows = read_mots_txt(path, frame_base)
    objects = rows.class_id != 10
    return {
        "kind": "mots_txt",
        "path": str(path),
        "frame_base": frame_base,
        "rows": len(rows),
        "image_size": None if rows.image_size is None else list(rows.image_size),
        "frames_annotated": int(np.unique(rows.frame).size),
        "last_frame": None if not len(rows) else int(rows.frame.max()) + frame_base,
        "ignore_rows": int((~objects).sum()),
        "ids_per_class": {
            CLASS_NAMES[c]: int(np.unique(rows.obj_id[rows.class_id == c]).size) for c in np.unique(rows.class_id[objects]).tolist()
        },
    }


def _layout_summary(path: Path) -> dict[str, Any]:
    from dior_cli.formats.layouts import discover_sequences

    sequences = discover_sequences(path)
    if not sequences:
        raise FormatError("holds no sequences", path=path)
    for seq in sequences:
        for text in seq.notes:
            note(text)
    return {
        "kind": "sequences",
        "path": str(path),
        "sequences": [
            {
                "name": s.name,
                "layout": s.layout,
                "split": s.split,
                "num_frames": s.num_frames,
                "length_source": s.length_source,
                "image_size": None if s.image_size is None else list(s.image_size),
                "fps": s.fps,
                "frame_base": s.frame_base,
                "frames": _relative(s.frames_path, path),
                "ground_truth": _relative(s.gt_txt or s.gt_png, path),
            }
            for s in sequences
        ],
    }


def _relative(target: Path | None, root: Path) -> str | None:
    if target is None:
        return None
    try:
        return str(target.relative_to(root))
    except ValueError:
        return str(target)


def render_summary(summary: dict[str, Any]) -> None:
    """Print a summary as a table (sequences) or as key/value lines (one file)."""
    from rich.table import Table

    if summary["kind"] == "sequences":
        table = Table(title=f"{len(summary['sequences'])} sequence(s) in {summary['path']}")
        for column in ("name", "layout", "frames", "from", "size (h x w)", "fps", "first frame", "ground truth"):
            table.add_column(column)
        for s in summary["sequences"]:
            size = "?" if s["image_size"] is None else f"{s['image_size'][0]} x {s['image_size'][1]}"
            fps = "unknown" if s["fps"] is None else f"{s['fps']:g}"
            table.add_row(s["name"], s["layout"], str(s["num_frames"]), s["length_source"], size, fps, str(s["frame_base"]), s["ground_truth"] or "-")
        console.print(table)
        return
    table = Table(title=f"{summary['kind']}: {summary['path']}", show_header=False)
    for key, value in summary.items():
        if key not in ("kind", "path"):
            table.add_row(key, str(value))
    console.print(table)
