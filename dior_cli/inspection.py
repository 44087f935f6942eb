"""``dior inspect``: validate any file or folder dior reads, summarise it, and say which commands read it.

What is understood (each read with the reader the commands use, so a problem shows here
exactly as it would there):

- a dataset layout or a video (:func:`dior_cli.formats.layouts.discover_sequences`): MOTS20 /
  MOT17, KITTI-MOTS (also ``instances_txt/`` alone), MOTChallenge box sequences (``img1/`` or
  ``img/`` with ``gt/gt.txt``, ``det/det.txt``), a folder of images, a video, a folder of videos;
- a folder of MOTS txt ``<seq>.txt`` (``instances_txt/``, PointTrack's ``car/``), of dior
  detections ``<seq>.json`` (+ ``.npy``), or of dior tracks (``<seq>.txt`` + ``<seq>.json`` links);
- one such file: MOTS txt (with or without a score column), a MOTChallenge box file,
  detections ``.json``, embeddings ``.npy``, a track link ``.json``.

The summary is a plain dict (what ``--json`` prints) whose ``read_by`` lists the commands
that read the path; :func:`render_summary` draws it on stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli import inspection_commands as commands
from dior_cli.console import console, note
from dior_cli.errors import FormatError, InputNotFound
from dior_cli.records import CLASS_NAMES


def inspect_path(path: Path, frame_base: int = 0) -> dict[str, Any]:
    """Read ``path`` with the matching reader (which validates it) and summarise it.

    ``frame_base`` is the number of the first frame in MOTS txt files (0 KITTI-MOTS, 1 MOTS20).
    """
    if not path.exists():
        raise InputNotFound("path does not exist", path=path)
    if path.is_dir():
        return _folder_summary(path, frame_base)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return _tracks_summary(path) if _json_schema(path) == "dior.tracks/v1" else _detections_summary(path)
    if suffix == ".npy":
        detections = path.with_suffix(".json")
        if not detections.is_file():
            raise InputNotFound(f"embeddings need their detections file beside them ({detections.name})", path=path)
        return _detections_summary(detections)
    if suffix == ".txt":
        return _txt_summary(path, frame_base)
    return _layout_summary(path)


# ---------------------------------------------------------------- folders
def _folder_summary(path: Path, frame_base: int) -> dict[str, Any]:
    """A dataset layout; else a folder of MOTS txt, detections or tracks files."""
    try:
        return _layout_summary(path)
    except FormatError:
        collection = _collection_summary(path, frame_base)
        if collection is None:
            raise
        return collection


def _collection_summary(path: Path, frame_base: int) -> dict[str, Any] | None:
    """A folder of per-sequence files, or ``None`` when it holds none."""
    from dior_cli.formats.detections_json import list_detection_files
    from dior_cli.formats.mots_detections import list_mots_txt_files

    jsons, txts = list_detection_files(path), list_mots_txt_files(path)
    link_files = [p for p in jsons if _json_schema(p) == "dior.tracks/v1"]
    if txts and link_files:
        files = [_tracks_summary(p.with_suffix(".json")) for p in txts if p.with_suffix(".json") in link_files]
        unlinked = [p.name for p in txts if p.with_suffix(".json") not in link_files]
        if unlinked:
            note(f"{path}: {len(unlinked)} .txt file(s) have no link file (written by dior track) beside them: {', '.join(unlinked[:5])}")
        return {"kind": "tracks_folder", "path": str(path), "files": files, "read_by": commands.for_tracks(str(path), folder=True)}
    if jsons:
        files = [_detections_summary(p) for p in jsons]
        return {"kind": "detections_folder", "path": str(path), "files": files, "read_by": commands.for_detections(str(path), folder=True)}
    if txts:
        boxes = [p for p in txts if _is_box_file(p)]
        if boxes:
            raise FormatError(f"holds MOTChallenge box files ({boxes[0].name}, ...): inspect them with their sequence's frames "
                              "(a folder with img1/ and gt/gt.txt or det/det.txt)", path=path)
        files = [_mots_summary(p, frame_base) for p in txts]
        return {"kind": "mots_txt_folder", "path": str(path), "frame_base": frame_base, "files": files,
                "read_by": commands.for_mots_txt(str(path), folder=True)}
    return None


def _layout_summary(path: Path) -> dict[str, Any]:
    from dior_cli.formats.layouts import discover_sequences

    sequences = discover_sequences(path)
    if not sequences:
        raise FormatError("holds no sequences", path=path)
    for seq in sequences:
        for text in seq.notes:
            note(text)
    box_gt = {s.name for s in sequences if s.gt_txt is not None and _is_box_file(s.gt_txt)}
    return {
        "kind": "sequences",
        "path": str(path),
        "sequences": [_sequence_entry(s, path, s.name in box_gt) for s in sequences],
        "read_by": commands.for_sequences(str(path), sequences, box_gt),
    }


def _sequence_entry(s, root: Path, gt_is_boxes: bool) -> dict[str, Any]:
    entry = {
        "name": s.name,
        "layout": s.layout,
        "split": s.split,
        "num_frames": s.num_frames,
        "length_source": s.length_source,
        "image_size": None if s.image_size is None else list(s.image_size),
        "fps": s.fps,
        "frame_base": s.frame_base,
        "frames": _relative(s.frames_path, root),
        "ground_truth": _relative(s.gt_txt or s.gt_png or s.gt_boxes, root),
        "ground_truth_kind": _gt_kind(s, gt_is_boxes),
        "detections": _relative(s.det_boxes, root),
    }
    if s.image_size is not None:
        boxes = {"gt": s.gt_boxes or (s.gt_txt if gt_is_boxes else None), "det": s.det_boxes}
        entry["boxes"] = {k: _count_boxes(p, s) for k, p in boxes.items() if p is not None} or None
    return entry


def _gt_kind(s, gt_is_boxes: bool) -> str | None:
    if s.gt_boxes is not None or gt_is_boxes:
        return "boxes"
    if s.gt_txt is not None:
        return "MOTS txt"
    return "instance PNGs" if s.gt_png is not None else None


def _count_boxes(path: Path, s) -> int:
    """Boxes in a MOTChallenge file, read (and so checked) against the sequence's frames; boxes past
    its last frame (a det.txt of the whole video beside a few of its frames) are counted and noted."""
    from dior_cli.errors import AlignmentError
    from dior_cli.formats.mot_boxes import read_mot_boxes
    from dior_cli.formats.mots_detections import NO_FRAME_LIMIT

    try:
        return len(read_mot_boxes(path, num_frames=s.num_frames, image_size=s.image_size, frame_base=s.frame_base).frame)
    except AlignmentError as exc:
        if "past the source's last frame" not in exc.message:
            raise
        boxes = read_mot_boxes(path, num_frames=NO_FRAME_LIMIT, image_size=s.image_size, frame_base=s.frame_base)
        late = int((boxes.frame >= s.num_frames).sum())
        note(f"{path}: {late} of its {len(boxes.frame)} boxes lie past the sequence's {s.num_frames} frames (first on line {exc.line}); "
             "commands reading it with these frames refuse it")
        return len(boxes.frame)


def _relative(target: Path | None, root: Path) -> str | None:
    if target is None:
        return None
    try:
        return str(target.relative_to(root))
    except ValueError:
        return str(target)


# ---------------------------------------------------------------- single files
def _txt_summary(path: Path, frame_base: int) -> dict[str, Any]:
    if _is_box_file(path):
        raise FormatError("is a MOTChallenge box file (frame,id,x,y,w,h,...): inspect its sequence folder (img1/ with gt/gt.txt or "
                          "det/det.txt), which gives the frames it is checked against", path=path)
    return {**_mots_summary(path, frame_base), "read_by": commands.for_mots_txt(str(path), folder=False)}


def _mots_summary(path: Path, frame_base: int) -> dict[str, Any]:
    """A MOTS txt file: ground truth or tracks (``read_mots_txt``), or detections with a 7th score column."""
    from dior_cli.formats.mots_txt import read_mots_txt

    if _has_score_column(path):
        return _scored_mots_summary(path, frame_base)
    rows = read_mots_txt(path, frame_base)
    objects = rows.class_id != 10
    return {
        "kind": "mots_txt",
        "path": str(path),
        "frame_base": frame_base,
        "rows": len(rows),
        "scores": False,
        "image_size": None if rows.image_size is None else list(rows.image_size),
        "frames_annotated": int(np.unique(rows.frame).size),
        "last_frame": None if not len(rows) else int(rows.frame.max()) + frame_base,
        "ignore_rows": int((~objects).sum()),
        "ids_per_class": {
            CLASS_NAMES[c]: int(np.unique(rows.obj_id[rows.class_id == c]).size) for c in np.unique(rows.class_id[objects]).tolist()
        },
    }


def _scored_mots_summary(path: Path, frame_base: int) -> dict[str, Any]:
    from dior_cli.formats.mots_detections import read_mots_txt_detections

    dets, ignore_rows = read_mots_txt_detections(path, frame_base=frame_base, fps=None)
    d = dets.detections
    return {
        "kind": "mots_txt",
        "path": str(path),
        "frame_base": frame_base,
        "rows": len(d) + ignore_rows,
        "scores": True,
        "image_size": list(dets.image_size) if len(d) else None,
        "frames_annotated": int(np.unique(d.frame).size),
        "last_frame": None if not len(d) else int(d.frame.max()) + frame_base,
        "ignore_rows": ignore_rows,
        "per_class": {CLASS_NAMES[c]: int((d.class_id == c).sum()) for c in np.unique(d.class_id).tolist()},
    }


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
        "read_by": commands.for_detections(str(path), folder=False),
    }
    npy = path.with_suffix(".npy")
    if npy.is_file():
        emb = read_embeddings(npy, dets, path)
        for text in emb.notes:
            note(text)
        summary["embeddings"] = {"path": str(npy), "dim": int(emb.vectors.shape[1]), "verified_by": emb.verified_by}
    return summary


def _tracks_summary(links_path: Path) -> dict[str, Any]:
    """A track link file and the MOTS txt beside it, read together (line counts must agree)."""
    from dior_cli.formats.mots_txt import read_mots_txt
    from dior_cli.formats.tracks_json import read_track_links

    probe = read_track_links(links_path)
    txt = links_path.with_suffix(".txt")
    rows = read_mots_txt(txt, probe.frame_base, num_frames=probe.num_frames)
    links = read_track_links(links_path, len(rows))
    return {
        "kind": "tracks",
        "path": str(txt),
        "sequence": links.sequence,
        "lines": len(rows),
        "tracks": len(links.tracks),
        "num_frames": links.num_frames,
        "fps": links.fps,
        "frame_base": links.frame_base,
        "made_by": links.producer.get("stage"),
        "from_detections": links.detections_file,
        "read_by": commands.for_tracks(str(txt), folder=False),
    }


def _json_schema(path: Path) -> str | None:
    """The ``schema`` of a dior JSON file, or ``None`` when it is not a JSON object with one."""
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError):
        return None
    return doc.get("schema") if isinstance(doc, dict) else None


def _has_score_column(path: Path) -> bool:
    """True when the first non-blank line of a MOTS txt has 7 fields (the 6 of MOTS txt and a score)."""
    from dior_cli.formats.mots_txt import read_text_lines

    first = next((line for line in read_text_lines(path) if line.strip()), "")
    return len(first.split()) == 7


def _is_box_file(path: Path) -> bool:
    from dior_cli.formats.mot_box_tracks import looks_like_box_file

    return looks_like_box_file(path)


# ---------------------------------------------------------------- rendering
def render_summary(summary: dict[str, Any]) -> None:
    """Print a summary as a table (sequences or files) or as key/value lines (one file), then
    the commands that read it."""
    from rich.table import Table

    kind = summary["kind"]
    if kind == "sequences":
        table = Table(title=f"{len(summary['sequences'])} sequence(s) in {summary['path']}")
        for column in ("name", "layout", "frames", "from", "size (h x w)", "fps", "first frame", "ground truth", "detections"):
            table.add_column(column)
        for s in summary["sequences"]:
            size = "?" if s["image_size"] is None else f"{s['image_size'][0]} x {s['image_size'][1]}"
            fps = "unknown" if s["fps"] is None else f"{s['fps']:g}"
            gt = "-" if s["ground_truth"] is None else f"{s['ground_truth']} ({s['ground_truth_kind']})"
            table.add_row(s["name"], s["layout"], str(s["num_frames"]), s["length_source"], size, fps, str(s["frame_base"]), gt,
                          s["detections"] or "-")
        console.print(table)
    elif kind.endswith("_folder"):
        files = summary["files"]
        table = Table(title=f"{len(files)} {kind.removesuffix('_folder').replace('_', ' ')} file(s) in {summary['path']}")
        keys = [k for k in files[0] if k not in ("kind", "path", "read_by")] if files else []
        table.add_column("file")
        for key in keys:
            table.add_column(key.replace("_", " "))
        for f in files:
            table.add_row(Path(f["path"]).name, *(_cell(f.get(k)) for k in keys))
        console.print(table)
    else:
        table = Table(title=f"{kind}: {summary['path']}", show_header=False)
        for key, value in summary.items():
            if key not in ("kind", "path", "read_by"):
                table.add_row(key, str(value))
        console.print(table)
    console.print("read by:", highlight=False)
    for line in summary["read_by"]:
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return " x ".join(str(v) for v in value)
    return "-" if value is None else str(value)
