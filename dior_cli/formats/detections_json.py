"""Detections JSON, schema ``dior.detections/v1``: one file per sequence.

```
{"schema": "dior.detections/v1", "sequence": "0002", "image_size": [375, 1242],
 "num_frames": 233, "fps": 10.0, "frame_base": 0,
 "producer": {"dior_version": "...", "weights": "...", "weights_sha256": "..."},
 "detections": [{"det_id": 0, "frame": 0, "class_id": 1, "score": 0.98,
                 "bbox_xyxy": [412.3, 170.0, 498.7, 221.4],
                 "rle": {"size": [375, 1242], "counts": "..."}}]}
```
``image_size`` and RLE ``size`` are ``[height, width]``; ``frame`` is 0-based (``frame_base``
says how MOTS txt written from it numbers frames); ``det_id`` equals the row index;
``fps`` may be ``null`` when unknown; ``producer`` is optional. Fields beyond these, at the
top level or in a detection, are kept and written back unchanged.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.formats.atomic import write_bytes_atomic
from dior_cli.masks import first_rle_problem, make_rle
from dior_cli.records import DETECTION_CLASSES, Detections

SCHEMA = "dior.detections/v1"
_TOP_FIELDS = ("schema", "sequence", "image_size", "num_frames", "fps", "frame_base", "producer", "detections")
_DET_FIELDS = ("det_id", "frame", "class_id", "score", "bbox_xyxy", "rle")


@dataclass(frozen=True, eq=False)
class DetectionsFile:
    """The content of one detections JSON.

    Attributes:
        sequence: sequence name (the file is ``<sequence>.json``).
        image_size: ``(height, width)`` of every frame and mask.
        num_frames: frames in the sequence (frames without detections included).
        fps: frames per second, or ``None`` when unknown.
        frame_base: number of the first frame when MOTS txt is written (0 KITTI-MOTS, 1 MOTS20).
        detections: the detections, row ``i`` = ``det_id`` ``i``.
        producer: who made the file (dior version, weights and their sha256).
        extra: top-level fields beyond the schema, kept verbatim.
        sha256: hex digest of the file's bytes when read from (or written to) disk.
    """

    sequence: str
    image_size: tuple[int, int]
    num_frames: int
    fps: float | None
    frame_base: int
    detections: Detections
    producer: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)
    sha256: str | None = None


def list_detection_files(folder: str | os.PathLike) -> list[Path]:
    """The ``<seq>.json`` detections files of a folder, sorted (embedding records
    ``<seq>.npy.json`` excluded)."""
    return sorted(p for p in Path(folder).glob("*.json") if not p.name.endswith(".npy.json"))


def read_detections(path: str | os.PathLike) -> DetectionsFile:
    """Read and validate a detections JSON; raise ``FormatError`` naming the file and row."""
    path = Path(path)
    if not path.is_file():
        raise InputNotFound("detections file does not exist" if not path.exists() else "is not a file", path=path)
    data = path.read_bytes()
    try:
        doc = json.loads(data)
    except UnicodeDecodeError:
        raise FormatError("is not UTF-8 JSON", path=path) from None
    except json.JSONDecodeError as exc:
        raise FormatError(f"is not valid JSON ({exc.msg}, column {exc.colno})", path=path, line=exc.lineno) from None
    parsed = _parse_document(doc, path)
    return DetectionsFile(**parsed, sha256=hashlib.sha256(data).hexdigest())


def write_detections(path: str | os.PathLike, dets: DetectionsFile) -> str:
    """Write ``dets`` atomically (one detection per line); return the file's sha256."""
    header = {
        "schema": SCHEMA,
        "sequence": dets.sequence,
        "image_size": [int(dets.image_size[0]), int(dets.image_size[1])],
        "num_frames": int(dets.num_frames),
        "fps": None if dets.fps is None else float(dets.fps),
        "frame_base": int(dets.frame_base),
        "producer": dets.producer,
        **dets.extra,
    }
    d = dets.detections
    rows = []
    for i in range(len(d)):
        row = {
            "det_id": i,
            "frame": int(d.frame[i]),
            "class_id": int(d.class_id[i]),
            "score": float(d.score[i]),
            "bbox_xyxy": [float(v) for v in d.bbox_xyxy[i]],
            "rle": {"size": list(d.rles[i]["size"]), "counts": d.rles[i]["counts"]},
            **d.extras[i],
        }
        rows.append(json.dumps(row, separators=(",", ":")))
    head = json.dumps(header, indent=1)[:-2]  # drop the closing "\n}"
    body = ",\n  ".join(rows)
    text = f'{head},\n "detections": [\n  {body}\n ]\n}}\n' if rows else f'{head},\n "detections": []\n}}\n'
    data = text.encode("utf-8")
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


def _parse_document(doc: Any, path: Path) -> dict:
    if not isinstance(doc, dict):
        raise FormatError("top level must be a JSON object", path=path)
    missing = [k for k in _TOP_FIELDS if k not in doc and k != "producer"]
    if missing:
        raise FormatError(f"missing field(s) {', '.join(missing)} (schema {SCHEMA})", path=path)
    if doc["schema"] != SCHEMA:
        raise FormatError(f"schema is {doc['schema']!r}, expected {SCHEMA!r}", path=path)
    if not isinstance(doc["sequence"], str) or not doc["sequence"]:
        raise FormatError("sequence must be a non-empty string", path=path)
    image_size = doc["image_size"]
    if not (isinstance(image_size, list) and len(image_size) == 2 and all(_is_int(v) and v > 0 for v in image_size)):
        raise FormatError(f"image_size must be [height, width] with positive integers, got {image_size!r}", path=path)
    num_frames = doc["num_frames"]
    if not (_is_int(num_frames) and num_frames >= 0):
        raise FormatError(f"num_frames must be a non-negative integer, got {num_frames!r}", path=path)
    fps = doc["fps"]
    if fps is not None and not (_is_number(fps) and fps > 0):
        raise FormatError(f"fps must be a positive number or null, got {fps!r}", path=path)
    frame_base = doc["frame_base"]
    if not (_is_int(frame_base) and frame_base >= 0):
        raise FormatError(f"frame_base must be a non-negative integer (0 KITTI-MOTS, 1 MOTS20), got {frame_base!r}", path=path)
    producer = doc.get("producer", {})
    if not isinstance(producer, dict):
        raise FormatError("producer must be an object", path=path)
    rows = doc["detections"]
    if not isinstance(rows, list):
        raise FormatError("detections must be a list", path=path)
    detections = _parse_detections(rows, tuple(image_size), num_frames, path)
    return {
        "sequence": doc["sequence"],
        "image_size": (int(image_size[0]), int(image_size[1])),
        "num_frames": int(num_frames),
        "fps": None if fps is None else float(fps),
        "frame_base": int(frame_base),
        "producer": producer,
        "detections": detections,
        "extra": {k: v for k, v in doc.items() if k not in _TOP_FIELDS},
    }


def _parse_detections(rows: list, image_size: tuple[int, int], num_frames: int, path: Path) -> Detections:
    n = len(rows)
    frame = np.zeros(n, dtype=np.int64)
    class_id = np.zeros(n, dtype=np.int64)
    score = np.zeros(n, dtype=np.float64)
    boxes = np.zeros((n, 4), dtype=np.float64)
    rles, extras = [], []
    for i, row in enumerate(rows):
        def fail(message: str) -> FormatError:
            return FormatError(message, path=path, row=i)

        if not isinstance(row, dict):
            raise fail("detection must be an object")
        missing = [k for k in _DET_FIELDS if k not in row]
        if missing:
            raise fail(f"missing field(s) {', '.join(missing)}")
        if not _is_int(row["det_id"]) or row["det_id"] != i:
            raise fail(f"det_id is {row['det_id']!r} but must equal its row index {i}")
        f = row["frame"]
        if not (_is_int(f) and 0 <= f < num_frames):
            raise fail(f"frame {f!r} is not an integer in 0..{num_frames - 1} (frames are 0-based)")
        c = row["class_id"]
        if not (_is_int(c) and c in DETECTION_CLASSES):
            raise fail(f"class_id {c!r} is not a detection class (1 car, 2 pedestrian)")
        s = row["score"]
        if not (_is_number(s) and math.isfinite(s)):
            raise fail(f"score {s!r} is not a finite number")
        b = row["bbox_xyxy"]
        if not (isinstance(b, list) and len(b) == 4 and all(_is_number(v) and math.isfinite(v) for v in b)):
            raise fail(f"bbox_xyxy must be 4 finite numbers [x1, y1, x2, y2], got {b!r}")
        if b[2] < b[0] or b[3] < b[1]:
            raise fail(f"bbox_xyxy {b!r} has x2 < x1 or y2 < y1")
        rle = row["rle"]
        if not (isinstance(rle, dict) and isinstance(rle.get("size"), list) and isinstance(rle.get("counts"), str)):
            raise fail("rle must be an object with size [height, width] and counts (COCO compressed string)")
        if rle["size"] != list(image_size):
            raise fail(f"mask size {rle['size']!r} differs from image_size {list(image_size)!r}")
        frame[i], class_id[i], score[i] = f, c, s
        boxes[i] = b
        rles.append(make_rle(rle["counts"], *image_size))
        extras.append({k: v for k, v in row.items() if k not in _DET_FIELDS})
    bad = first_rle_problem([r["counts"] for r in rles], [image_size[0]] * n, [image_size[1]] * n)
    if bad is not None:
        raise FormatError(bad[1], path=path, row=bad[0])
    return Detections(frame=frame, class_id=class_id, score=score, bbox_xyxy=boxes, rles=rles, extras=extras)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
