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

Reading is fast for the layout dior writes (the header, then one compact detection per line):
the file is read ``_SLAB_BYTES`` at a time and its lines are matched and converted to arrays
``_BATCH_ROWS`` at a time, every check running on the arrays (:class:`DetectionStream`; its
batches regrouped by frame by :func:`frames_in_order`, so a stage can consume a sequence of any
length in bounded memory); a line in any other form is parsed with ``json`` and checked on its
own, and a file in another layout is parsed whole with ``json``. All three accept and refuse the
same documents, with the same messages naming the file and row.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.formats.atomic import write_bytes_atomic
from dior_cli.masks import first_rle_problem, make_rle
from dior_cli.records import DETECTION_CLASSES, Detections, concat_detections

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


def write_detections(path: str | os.PathLike, dets: DetectionsFile) -> str:
    """Write ``dets`` atomically (one detection per line); return the file's sha256.

    The bytes are those of :func:`header_text` + :func:`row_text` per detection joined as
    :func:`document_text` says; the streamed writer (``formats.sequence_outputs``) writes
    the same bytes one frame at a time.
    """
    d = dets.detections
    rows = [row_text(i, d.frame[i], d.class_id[i], d.score[i], d.bbox_xyxy[i], d.rles[i], d.extras[i]) for i in range(len(d))]
    head = header_text(dets.sequence, dets.image_size, dets.num_frames, dets.fps, dets.frame_base, dets.producer, dets.extra)
    data = document_text(head, rows).encode("utf-8")
    write_bytes_atomic(path, data)
    return hashlib.sha256(data).hexdigest()


# A file is HEADER + (ROWS_OPEN + row0 + ROW_SEPARATOR + row1 ... + ROWS_CLOSE, or NO_ROWS).
ROWS_OPEN = ',\n "detections": [\n  '
ROW_SEPARATOR = ",\n  "
ROWS_CLOSE = "\n ]\n}\n"
NO_ROWS = ',\n "detections": []\n}\n'


def header_text(sequence: str, image_size: tuple[int, int], num_frames: int, fps: float | None, frame_base: int,
                producer: dict, extra: dict | None = None) -> str:
    """The file's top-level fields, as written, up to (not including) the ``detections`` array."""
    header = {
        "schema": SCHEMA,
        "sequence": sequence,
        "image_size": [int(image_size[0]), int(image_size[1])],
        "num_frames": int(num_frames),
        "fps": None if fps is None else float(fps),
        "frame_base": int(frame_base),
        "producer": producer,
        **(extra or {}),
    }
    return json.dumps(header, indent=1)[:-2]  # drop the closing "\n}"


def row_text(det_id: int, frame, class_id, score, bbox_xyxy, rle, extras: dict) -> str:
    """One detection as its line of the file (compact JSON, schema fields first, then ``extras``)."""
    row = {
        "det_id": int(det_id),
        "frame": int(frame),
        "class_id": int(class_id),
        "score": float(score),
        "bbox_xyxy": [float(v) for v in bbox_xyxy],
        "rle": {"size": list(rle["size"]), "counts": rle["counts"]},
        **extras,
    }
    return json.dumps(row, separators=(",", ":"))


def document_text(head: str, rows: list[str]) -> str:
    """The whole file from :func:`header_text` and the :func:`row_text` lines."""
    return f"{head}{ROWS_OPEN}{ROW_SEPARATOR.join(rows)}{ROWS_CLOSE}" if rows else f"{head}{NO_ROWS}"


def _parse_document(doc: Any, path: Path) -> dict:
    header = _parse_header(doc, path)
    rows = doc["detections"]
    if not isinstance(rows, list):
        raise FormatError("detections must be a list", path=path)
    header["detections"] = _parse_detections(rows, header["image_size"], header["num_frames"], path)
    return header


def _parse_header(doc: Any, path: Path) -> dict:
    """The checked top-level fields of a document (``detections`` itself only required to exist)."""
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
    return {
        "sequence": doc["sequence"],
        "image_size": (int(image_size[0]), int(image_size[1])),
        "num_frames": int(num_frames),
        "fps": None if fps is None else float(fps),
        "frame_base": int(frame_base),
        "producer": producer,
        "extra": {k: v for k, v in doc.items() if k not in _TOP_FIELDS},
    }


def _parse_detections(rows: list, image_size: tuple[int, int], num_frames: int, path: Path) -> Detections:
    """Check parsed rows one by one (documents not in dior's line layout)."""
    n = len(rows)
    frame = np.zeros(n, dtype=np.int64)
    class_id = np.zeros(n, dtype=np.int64)
    score = np.zeros(n, dtype=np.float64)
    boxes = np.zeros((n, 4), dtype=np.float64)
    rles, extras = [], []
    for i, row in enumerate(rows):
        frame[i], class_id[i], score[i], boxes[i], counts, extra = _checked_row(row, i, image_size, num_frames, path)
        rles.append(make_rle(counts, *image_size))
        extras.append(extra)
    bad = first_rle_problem([r["counts"] for r in rles], [image_size[0]] * n, [image_size[1]] * n)
    if bad is not None:
        raise FormatError(bad[1], path=path, row=bad[0])
    return Detections(frame=frame, class_id=class_id, score=score, bbox_xyxy=boxes, rles=rles, extras=extras)


def _checked_row(row: Any, i: int, image_size: tuple[int, int], num_frames: int, path: Path) -> tuple:
    """``(frame, class_id, score, bbox, counts, extras)`` of row ``i``, or the ``FormatError`` of its first problem."""
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
    return f, c, s, b, rle["counts"], {k: v for k, v in row.items() if k not in _DET_FIELDS}


# ------------------------------------------------------------------ dior's line layout, read in batches
_BATCH_ROWS = 8192  # lines matched and checked per vectorised pass
_SLAB_BYTES = 1 << 22  # bytes read (and searched for newlines) at a time (4 MiB: small allocations keep the heap from growing)
# One detection as row_text writes it: schema fields in order, compact, then any extra fields. The
# groups are loose (fast to match); the numbers, counts and tails are then checked strictly as a batch.
_ROW_LINE = re.compile(
    rb'^  \{"det_id":([^,]*),"frame":([^,]*),"class_id":([^,]*),"score":([^,]*),"bbox_xyxy":\[([^\]]*)\],'
    rb'"rle":\{"size":\[([^\]]*)\],"counts":"([^"]*)"\}([^\n]*)$',
    re.MULTILINE,
)
_PRINTABLE = bytes(range(0x20, 0x7F))
_INT_CHARS, _NUMBER_CHARS = b"0123456789-,", b"0123456789-+.eE,"  # what a list of plain JSON integers / numbers holds


class _NotDiorLayout(Exception):
    """The file is not in the layout ``write_detections`` produces (read it as a whole instead)."""


class NotStreamable(Exception):
    """The file cannot be read as a stream of frame-ordered line batches (another layout, or rows
    not in frame order): read it whole with :func:`read_detections` instead."""


def read_detections(path: str | os.PathLike) -> DetectionsFile:
    """Read and validate a detections JSON; raise ``FormatError`` naming the file and row.

    A file in dior's line layout is read as a stream of line batches (:class:`DetectionStream`),
    so the file's bytes are never held whole; any other layout is parsed whole with ``json``.
    """
    path = Path(path)
    try:
        stream = DetectionStream(path)
        blocks = [block for _, block in stream.blocks()]
        return DetectionsFile(**stream.header, detections=concat_detections(blocks), sha256=stream.sha256)
    except NotStreamable:
        pass
    data = path.read_bytes()
    try:
        doc = json.loads(data)
    except UnicodeDecodeError:
        raise FormatError("is not UTF-8 JSON", path=path) from None
    except json.JSONDecodeError as exc:
        raise FormatError(f"is not valid JSON ({exc.msg}, column {exc.colno})", path=path, line=exc.lineno) from None
    return DetectionsFile(**_parse_document(doc, path), sha256=hashlib.sha256(data).hexdigest())


class DetectionStream:
    """A detections JSON in dior's line layout, read batch by batch with every check of
    :func:`read_detections` (same messages, same precedence: a field error anywhere in the file
    is reported before an RLE that does not decode).

    Opening reads and checks the header (``header``: the :class:`DetectionsFile` fields but
    ``detections`` and ``sha256``); :meth:`blocks` then yields ``(first det_id, Detections)``
    batches of ``_BATCH_ROWS`` lines in file order, hashing every byte on the way. After the last
    batch ``sha256`` and ``rows`` are set. Memory holds one read slab and one batch, whatever
    the file's length.

    Raises:
        InputNotFound: the file is missing.
        NotStreamable: the file is not in dior's layout (on opening, or from :meth:`blocks` at
            the first line that is not): read it whole instead.
        FormatError: as :func:`read_detections`.

    Args:
        path: the ``<seq>.json``.
        check_rles: check that every RLE decodes (turn off only for a file already checked,
            whose sha256 the caller compares afterwards).
    """

    def __init__(self, path: str | os.PathLike, *, check_rles: bool = True) -> None:
        self.path = path = Path(path)
        if not path.is_file():
            raise InputNotFound("detections file does not exist" if not path.exists() else "is not a file", path=path)
        self.check_rles = check_rles
        self.sha256: str | None = None
        self.rows: int | None = None
        size = path.stat().st_size
        marker = ROWS_OPEN.split("[")[0].encode() + b"["  # ',\n "detections": ['
        with open(path, "rb") as handle:
            head = handle.read(1 << 16)
            while (at := head.find(marker)) < 0 or len(head) < min(size, at + len(ROWS_OPEN)):
                more = handle.read(1 << 20)
                if not more:
                    break
                head += more
            if at < 0:
                raise NotStreamable
            handle.seek(max(0, size - len(ROWS_CLOSE)))
            tail = handle.read()
        try:
            doc = json.loads(head[:at] + b"\n}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise NotStreamable from None
        if not isinstance(doc, dict) or "detections" in doc:
            raise NotStreamable
        if size - at == len(NO_ROWS) and head[at:] == NO_ROWS.encode():
            self._body = (size, size)
        elif head.startswith(ROWS_OPEN.encode(), at) and tail == ROWS_CLOSE.encode():
            self._body = (at + len(marker) + 1, size - len(ROWS_CLOSE))  # the lines "  {...}," ... "  {...}"
        else:
            raise NotStreamable
        doc["detections"] = []
        self.header = _parse_header(doc, path)
        self._head = head

    def blocks(self):
        """Yield ``(first det_id, Detections)`` per batch of lines, in file order (see the class)."""
        image_size, num_frames, path = self.header["image_size"], self.header["num_frames"], self.path
        digest = hashlib.sha256()
        rle_problem = None  # (row, message) of the first RLE that does not decode: reported after every field check passed
        first = 0
        for chunk, count, last in self._line_batches(digest):
            total = first + count + (0 if last else 1)  # every line but the body's last ends in ","
            batch = _match_batch(chunk, count, first, total, image_size, num_frames, path)
            if batch is None:  # some line is not in row_text's form: parse each line with json
                try:
                    batch = _json_batch(chunk, first, total, image_size, num_frames, path)
                except _NotDiorLayout:
                    raise NotStreamable from None
            frame, class_id, score, boxes, counts, extras = batch
            if rle_problem is None and self.check_rles:
                bad = first_rle_problem(counts, [image_size[0]] * len(counts), [image_size[1]] * len(counts))
                if bad is not None:
                    rle_problem = (first + bad[0], bad[1])
            if rle_problem is None:  # after a bad RLE the rest is only checked, never handed out
                height, width = image_size
                rles = [{"size": [height, width], "counts": c} for c in counts]
                yield first, Detections(frame=frame, class_id=class_id, score=score, bbox_xyxy=boxes, rles=rles, extras=extras)
            first += count
        if rle_problem is not None:
            raise FormatError(rle_problem[1], path=path, row=rle_problem[0])
        self.sha256, self.rows = digest.hexdigest(), first

    def _line_batches(self, digest):
        """``(bytes of count lines, count, whether they end the body)``, reading the whole file in
        order (every byte hashed into ``digest``)."""
        body_start, body_end = self._body
        carry = b""
        for data in self._body_slabs(digest, body_start, body_end):
            data = carry + data
            newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)  # (k,)
            start = used = 0
            while newlines.size - used >= _BATCH_ROWS:  # a full batch, with a line after it
                end = int(newlines[used + _BATCH_ROWS - 1])
                yield data[start:end], _BATCH_ROWS, False
                start, used = end + 1, used + _BATCH_ROWS
            carry = data[start:]
        if body_end > body_start:
            yield carry, carry.count(b"\n") + 1, True

    def _body_slabs(self, digest, body_start: int, body_end: int):
        """The body's bytes ``[body_start, body_end)`` a slab at a time, every byte of the file hashed."""
        with open(self.path, "rb") as handle:
            offset = 0
            while block := handle.read(_SLAB_BYTES):
                digest.update(block)
                lo, hi = max(body_start, offset), min(body_end, offset + len(block))
                if lo < hi:
                    yield block[lo - offset : hi - offset]
                offset += len(block)


def frames_in_order(blocks, num_frames: int):
    """Regroup :meth:`DetectionStream.blocks` by frame: ``(frame, first det_id, Detections)`` for every
    frame ``0..num_frames-1`` in order (frames without detections included, empty).

    Raises:
        NotStreamable: the rows are not in frame order (a frame smaller than the one before).
    """
    pending: list[Detections] = []  # the rows of ``current`` seen so far (a frame may span batches)
    current = next_row = 0  # the frame being gathered and the det_id of its first row
    for _, block in blocks:
        frames = block.frame
        if frames.size == 0:
            continue
        if frames[0] < current or (np.diff(frames) < 0).any():
            raise NotStreamable
        bounds = np.searchsorted(frames, np.arange(current, int(frames[-1]) + 1))  # first row of each frame current..last
        for lo, hi in zip(bounds[:-1].tolist(), bounds[1:].tolist()):  # frames that end inside this block
            pending.append(block[lo:hi])
            yield current, next_row, concat_detections(pending)
            next_row += sum(len(p) for p in pending)
            pending, current = [], current + 1
        pending.append(block[int(bounds[-1]):])
    while current < num_frames:
        yield current, next_row, concat_detections(pending) if pending else Detections.empty()
        next_row += sum(len(p) for p in pending)
        pending, current = [], current + 1


def _match_batch(chunk: bytes, count: int, first: int, total: int, image_size: tuple[int, int], num_frames: int, path: Path):
    """Match ``count`` lines (rows ``first``...) with ``_ROW_LINE`` and check them as arrays; ``None``
    when a line is not exactly in ``row_text``'s form (the caller then parses each line with json)."""
    matches = _ROW_LINE.findall(chunk)  # lines hold no newline, so at most one match per line
    if len(matches) != count:
        return None
    det_id, frame, class_id, score, box_text, size_text, counts_text, tails = zip(*matches)
    if (np.strings.count(np.array(box_text), b",") != 3).any() or (np.strings.count(np.array(size_text), b",") != 1).any():
        return None  # a box of other than 4 numbers, a size of other than 2: the per-row check names it
    int_values = _json_numbers(b",".join((b",".join(det_id), b",".join(frame), b",".join(class_id), b",".join(size_text))),
                               5 * count, np.int64)  # det_id, frame, class_id (B each), then B (h, w) pairs
    number_values = _json_numbers(b",".join((b",".join(score), b",".join(box_text))), 5 * count, np.float64)  # scores, then boxes
    if int_values is None or number_values is None:
        return None  # not plain numbers of the right count (1.0 for an integer, NaN, true, a space...): json decides
    ids, frame_values, class_values = int_values[:count], int_values[count : 2 * count], int_values[2 * count : 3 * count]
    size = int_values[3 * count :].reshape(-1, 2)  # (B, 2) [h, w]
    score_values, boxes = number_values[:count], number_values[count:].reshape(-1, 4)  # (B,), (B, 4)
    commas_expected = np.arange(first, first + count) < total - 1  # every line but the file's last ends in ","
    tails_array = np.array(tails)  # (B,) bytes
    plain = np.where(commas_expected, tails_array == b"},", tails_array == b"}")  # (B,) no extra fields
    extras: list = [None] * count
    for k in np.flatnonzero(~plain).tolist():  # a tail with extra fields (or a malformed one)
        tail = tails[k]
        if bool(commas_expected[k]) != tail.endswith(b","):
            return None
        body = tail[:-1] if commas_expected[k] else tail
        extra = _extra_fields(body[:-1]) if body.startswith(b",") and body.endswith(b"}") else None
        if extra is None:
            return None
        extras[k] = extra
    extras = [{} if e is None else e for e in extras]  # one dict per row
    joined = b'"'.join(counts_text)  # counts hold no '"': join to check and unescape in one pass
    if joined.translate(None, _PRINTABLE) or b"\\" in joined.replace(b"\\\\", b""):
        return None  # a control character, non-ASCII, or an escape other than a backslash's
    counts = joined.replace(b"\\\\", b"\\").decode("ascii").split('"')
    bad = (
        (ids != np.arange(first, first + count)) | (frame_values < 0) | (frame_values >= num_frames)
        | ~np.isin(class_values, DETECTION_CLASSES) | ~np.isfinite(score_values) | ~np.isfinite(boxes).all(axis=1)
        | (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1]) | (size != np.asarray(image_size)).any(axis=1)
    )
    if bad.any():  # name the first bad row with the per-row check's own message
        k = int(np.flatnonzero(bad)[0])
        line = chunk.split(b"\n")[k]
        row = json.loads(line[2 : len(line) - 1 if commas_expected[k] else len(line)])
        _checked_row(row, first + k, image_size, num_frames, path)
        raise AssertionError("a row the array checks refused passed the per-row check")  # pragma: no cover
    return frame_values, class_values, score_values, boxes, counts, extras


def _json_numbers(text: bytes, count: int, dtype) -> np.ndarray | None:
    """``count`` comma-separated plain JSON numbers (integers for ``np.int64``) parsed by json itself;
    ``None`` if ``text`` is anything else."""
    if text.translate(None, _INT_CHARS if dtype == np.int64 else _NUMBER_CHARS):
        return None
    try:
        values = json.loads(b"[" + text + b"]")  # json's own number grammar (no leading zeros, no "1.")
        array = np.array(values, dtype=np.float64 if dtype == np.float64 else None)
    except (ValueError, OverflowError):  # json.JSONDecodeError is a ValueError
        return None
    if array.shape != (count,) or array.dtype != dtype:  # a float among integers; an integer beyond 64 bits
        return None
    return array


def _extra_fields(text: bytes) -> dict | None:
    """The extra fields ``,"key":value...`` of a line as a dict; ``None`` if one is a schema field
    or they do not parse (the line is then parsed whole with json)."""
    try:
        extra = json.loads(b"{" + text[1:] + b"}")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(extra, dict) or any(k in _DET_FIELDS for k in extra):
        return None
    return extra


def _json_batch(chunk: bytes, first: int, total: int, image_size: tuple[int, int], num_frames: int, path: Path):
    """The rows of ``chunk`` parsed line by line with json and checked one by one."""
    lines = chunk.split(b"\n")
    out = ([], [], [], [], [], [])
    for k, line in enumerate(lines):
        i = first + k
        expected_comma = i < total - 1
        if not line.startswith(b"  ") or line.endswith(b",") != expected_comma:
            raise _NotDiorLayout
        try:
            row = json.loads(line[2 : len(line) - 1 if expected_comma else len(line)])
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise _NotDiorLayout from None
        for column, value in zip(out, _checked_row(row, i, image_size, num_frames, path)):
            column.append(value)
    frame, class_id, score, boxes, counts, extras = out
    return (np.array(frame, dtype=np.int64), np.array(class_id, dtype=np.int64), np.array(score, dtype=np.float64),
            np.array(boxes, dtype=np.float64).reshape(-1, 4), counts, extras)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
