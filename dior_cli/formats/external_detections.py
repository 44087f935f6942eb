"""Detections from other detectors: one detection set, one sequence, three formats.

A detection set (one ``--detections D`` of ``dior infer``) is a folder holding, for each
sequence of the source, one of:

- ``<seq>.txt``: MOTS txt, ``frame obj_id class_id height width rle [score]``. Object
  (track) ids are read but ignored; the optional seventh field is the detection's score
  (every line has it or none does; without it every score is 1).
- ``<seq>/``: a folder of KITTI-MOTS instance PNGs (``<frame>.png``, pixel value
  ``class_id * 1000 + k``); every score is 1.
- ``<seq>.json``: a dior detections file (``dior.detections/v1``); frames are 0-based and
  its own scores are used.
- ``<seq>.txt`` that is a MOTChallenge box file (``frame,id,x,y,w,h,score,...``, comma
  separated: MOT15/16/17/20 public detections or ground truth), or ``<seq>/det/det.txt`` (a MOT
  sequence folder): boxes without masks (``formats.mot_boxes``). Their frames count from 1 as in
  every MOTChallenge file; ``frame_base`` overrides it. Until ``dior infer`` gives them masks
  from the frames (``box_to_mask``), each detection's mask is its filled box and
  ``masks_from_boxes`` is set.

For a source with a single sequence, ``D`` may also be that file (``.txt`` or ``.json``)
or PNG folder itself, whatever its name.

Frame numbers in MOTS txt files and PNG names follow the source's convention: 1-based for
the MOTS20 layout, 0-based for KITTI-MOTS, for an image folder and for a video (frame 0 is
the first image in sorted order, or the video's first frame). ``frame_base`` overrides it.

Rows of class 10 (ignore regions; PNG value 10000) are not detections: they are skipped
and counted (``ignore_skipped``), never used. Every other problem is an error naming the
file and the line, row or PNG: a class other than 1, 2 or 10, a frame outside the
source's frames, a mask whose size differs from the source's frames, an RLE that does
not decode, a score outside [0, 1].

The result holds dior's records: 0-based frames, MOTS class ids (1 car, 2 pedestrian),
scores, tight ``xyxy`` boxes of the masks (``masks.bbox_xyxy``) and COCO RLE masks; each
detection's ``extras`` say where it came from (``{"origin": {"set": k, "line": n}}``,
``"row"`` for JSON, ``"png"`` and ``"value"`` for PNG folders).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dior_cli.errors import AlignmentError, ConfigError, FormatError, InputNotFound
from dior_cli.formats.detections_json import read_detections
from dior_cli.formats.kitti_png import list_png_frames, read_kitti_png_folder
from dior_cli.formats.mot_box_tracks import looks_like_box_file
from dior_cli.formats.mot_boxes import read_mot_boxes
from dior_cli.formats.mots_txt import parse_mots_line, read_text_lines
from dior_cli.masks import Rle, bbox_xyxy, box_rles, first_rle_problem, make_rle
from dior_cli.records import IGNORE, MOTS_CLASSES, Detections

MOTS_TXT, KITTI_PNG, DIOR_JSON, MOT_BOXES = "mots-txt", "kitti-png", "dior-json", "mot-boxes"
FORMATS = (MOTS_TXT, KITTI_PNG, DIOR_JSON, MOT_BOXES)
MOT_FRAME_BASE = 1  # MOTChallenge box files count frames from 1


@dataclass(frozen=True)
class DetectionSource:
    """Where one sequence's detections of one set live.

    Attributes:
        path: the ``.txt`` / ``.json`` file or the PNG folder.
        kind: ``mots-txt``, ``kitti-png``, ``dior-json`` or ``mot-boxes``.
    """

    path: Path
    kind: str


@dataclass(frozen=True, eq=False)
class ExternalDetections:
    """One sequence's detections of one set, read and validated.

    Attributes:
        detections: the rows, in file order (0-based frames, bbox from the masks).
        source: the file or folder read.
        sha256: digest of the file's bytes; for a PNG folder, of the sorted ``name sha256``
            lines of its PNG files.
        ignore_skipped: class-10 ignore rows (or PNG regions) skipped.
        frame_base: the number the file's first frame has (``None`` for dior JSON, 0-based).
        masks_from_boxes: the rows are boxes (a MOT box file): their masks are the filled boxes
            until the box -> mask step replaces them.
        note: something the user should be told about the file (e.g. scores rescaled), or ``None``.
    """

    detections: Detections
    source: DetectionSource
    sha256: str
    ignore_skipped: int
    frame_base: int | None
    masks_from_boxes: bool = False
    note: str | None = None


def locate(set_path: str | os.PathLike, sequence: str, *, single_sequence: bool) -> DetectionSource:
    """Find the detections of ``sequence`` in the set ``set_path`` (see the module docstring).

    Raises:
        InputNotFound: ``set_path`` does not exist, or holds nothing for ``sequence``.
        ConfigError: ``set_path`` holds more than one candidate for ``sequence``, or is a
            single file while the source has several sequences, or is a file of an unknown kind.
    """
    set_path = Path(set_path)
    if not set_path.exists():
        raise InputNotFound("detections path does not exist", path=set_path)
    if set_path.is_file():
        if not single_sequence:
            raise ConfigError("is a single file, but the source has several sequences: give a folder holding <seq>.txt, <seq>.json or <seq>/ per sequence", path=set_path)
        kind = {".txt": MOTS_TXT, ".json": DIOR_JSON}.get(set_path.suffix.lower())
        if kind is None:
            raise ConfigError("is not a detections file: expected MOTS txt or MOT boxes (.txt) or dior detections (.json)", path=set_path)
        return DetectionSource(set_path, _txt_kind(set_path) if kind == MOTS_TXT else kind)
    candidates = []
    if (set_path / f"{sequence}.txt").is_file():
        candidates.append(DetectionSource(set_path / f"{sequence}.txt", _txt_kind(set_path / f"{sequence}.txt")))
    for det_txt in (set_path / sequence / "det" / "det.txt", *((set_path / "det" / "det.txt",) if single_sequence else ())):
        if det_txt.is_file():
            candidates.append(DetectionSource(det_txt, MOT_BOXES))
    if (set_path / f"{sequence}.json").is_file():
        candidates.append(DetectionSource(set_path / f"{sequence}.json", DIOR_JSON))
    if (set_path / sequence).is_dir() and not (set_path / sequence / "det").is_dir():
        candidates.append(DetectionSource(set_path / sequence, KITTI_PNG))
    if len(candidates) > 1:
        names = ", ".join(c.path.name + ("/" if c.kind == KITTI_PNG else "") for c in candidates)
        raise ConfigError(f"holds several detection files for sequence {sequence} ({names}): keep one", path=set_path)
    if candidates:
        return candidates[0]
    if single_sequence and any(p.suffix.lower() == ".png" for p in set_path.iterdir()):
        return DetectionSource(set_path, KITTI_PNG)  # the PNG folder of the only sequence itself
    raise InputNotFound(f"has no detections for sequence {sequence} (expected {sequence}.txt, {sequence}.json, {sequence}/ of PNGs "
                        f"or {sequence}/det/det.txt)", path=set_path, sequence=sequence)


def _txt_kind(path: Path) -> str:
    """A ``.txt`` is MOT boxes when its first line is comma-separated numbers, else MOTS txt."""
    return MOT_BOXES if looks_like_box_file(path) else MOTS_TXT


def read_external_detections(
    source: DetectionSource,
    *,
    sequence: str,
    num_frames: int,
    image_size: tuple[int, int] | None,
    frame_base: int | None,
    set_index: int = 0,
) -> ExternalDetections:
    """Read one sequence's detections and check them against the source's frames.

    Args:
        source: from :func:`locate`.
        sequence: the source's sequence name (a dior JSON must name the same sequence).
        num_frames: frames the source has; every detection's 0-based frame must be below it.
        image_size: ``(height, width)`` of the source's frames; every mask must have it
            (``None``: every mask must agree with the first).
        frame_base: the number of the first frame in MOTS txt and PNG names (unused for JSON);
            ``None`` for MOT box files means their own convention, 1.
        set_index: the set's position among ``--detections``, recorded in each row's origin.
    """
    if source.kind == MOT_BOXES:
        if image_size is None:
            raise ValueError("MOT box files need the frames' image size to clip and rasterise boxes")
        return _read_mot_boxes(source, num_frames, image_size, MOT_FRAME_BASE if frame_base is None else frame_base, set_index)
    if frame_base is None:
        raise ValueError("frame_base is needed for MOTS txt and PNG folders")
    if source.kind == MOTS_TXT:
        return _read_txt(source, num_frames, image_size, frame_base, set_index)
    if source.kind == KITTI_PNG:
        return _read_png(source, num_frames, image_size, frame_base, set_index)
    if source.kind == DIOR_JSON:
        return _read_json(source, sequence, num_frames, image_size, set_index)
    raise ValueError(f"unknown detections format {source.kind!r} (expected one of {FORMATS})")


def _frame_hint(frame_base: int) -> str:
    return f"frames are numbered from {frame_base} for this source; use --frame-base if the file counts from another number"


def _read_txt(source: DetectionSource, num_frames: int, image_size: tuple[int, int] | None, frame_base: int, set_index: int) -> ExternalDetections:
    path = source.path
    text_lines = read_text_lines(path)  # checks the file exists and is UTF-8
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    frames, classes, scores, rles, lines = [], [], [], [], []
    score_line = no_score_line = None  # first line with / without the score column
    for number, line in enumerate(text_lines, start=1):
        if not line.strip():
            continue
        try:
            frame, _obj_id, class_id, height, width, counts, score = parse_mots_line(line, frame_base, classes=MOTS_CLASSES, allow_score=True, check_rle=False)
        except ValueError as exc:
            message = str(exc)
            if "before the first frame" in message:
                message = f"{message}; {_frame_hint(frame_base)}"
            raise FormatError(message, path=path, line=number) from None
        if score is None:
            no_score_line = no_score_line or number
        else:
            score_line = score_line or number
            if not 0.0 <= score <= 1.0:
                raise FormatError(f"score {score} is outside [0, 1]", path=path, line=number)
        if score_line and no_score_line:
            raise FormatError(f"line {score_line} has a score column (7 fields) but line {no_score_line} has none (6 fields): "
                              "give a score on every line or on none", path=path, line=max(score_line, no_score_line))
        if image_size is None:
            image_size = (height, width)
        elif (height, width) != tuple(image_size):
            raise AlignmentError(f"mask size {height}x{width} differs from the source's frames, {image_size[0]}x{image_size[1]}", path=path, line=number)
        if frame >= num_frames:
            raise AlignmentError(f"frame {frame + frame_base} is past the source's last frame {num_frames - 1 + frame_base} ({_frame_hint(frame_base)})",
                                 path=path, line=number)
        frames.append(frame)
        classes.append(class_id)
        scores.append(1.0 if score is None else score)
        rles.append(make_rle(counts, height, width))
        lines.append(number)
    if rles:  # every line's RLE is checked, ignore rows' too: a broken one means a broken file
        bad = first_rle_problem([r["counts"] for r in rles], [r["size"][0] for r in rles], [r["size"][1] for r in rles])
        if bad is not None:
            raise FormatError(bad[1], path=path, line=lines[bad[0]])
    keep = [i for i, c in enumerate(classes) if c != IGNORE]
    extras = [{"origin": {"set": set_index, "line": lines[i]}} for i in keep]
    detections = _detections([frames[i] for i in keep], [classes[i] for i in keep], [scores[i] for i in keep], [rles[i] for i in keep], extras)
    return ExternalDetections(detections, source, digest, len(classes) - len(keep), frame_base)


def _read_png(source: DetectionSource, num_frames: int, image_size: tuple[int, int] | None, frame_base: int, set_index: int) -> ExternalDetections:
    folder = source.path
    listed = list_png_frames(folder, frame_base)  # checks names and the base
    for frame, path in listed:
        if frame >= num_frames:
            raise AlignmentError(f"frame {frame + frame_base} is past the source's last frame {num_frames - 1 + frame_base} ({_frame_hint(frame_base)})", path=path)
    try:
        rows = read_kitti_png_folder(folder, frame_base, image_size=image_size, num_frames=num_frames)
    except FormatError as exc:
        if "differs from" in exc.message:  # a PNG whose size is not the source's
            raise AlignmentError(f"{exc.message} (the source's frames)", path=exc.path) from None
        raise
    name_of = {frame: path.name for frame, path in listed}
    keep = rows.class_id != IGNORE
    kept = rows[keep]
    extras = [{"origin": {"set": set_index, "png": name_of[int(f)], "value": int(v)}} for f, v in zip(kept.frame, kept.obj_id)]
    digest = hashlib.sha256("".join(f"{path.name} {hashlib.sha256(path.read_bytes()).hexdigest()}\n" for _, path in listed).encode()).hexdigest()
    scores = np.ones(len(kept))
    detections = _detections(kept.frame, kept.class_id, scores, list(kept.rles), extras)
    return ExternalDetections(detections, source, digest, int((~keep).sum()), frame_base)


def _read_json(source: DetectionSource, sequence: str, num_frames: int, image_size: tuple[int, int] | None, set_index: int) -> ExternalDetections:
    path = source.path
    doc = read_detections(path)  # validates schema, classes (1, 2), finite scores, RLEs
    if doc.sequence != sequence:
        raise AlignmentError(f"holds sequence {doc.sequence!r}, but is read for the source's sequence {sequence!r}", path=path)
    if image_size is not None and tuple(doc.image_size) != tuple(image_size):
        raise AlignmentError(f"image_size {doc.image_size[0]}x{doc.image_size[1]} differs from the source's frames, {image_size[0]}x{image_size[1]}", path=path)
    d = doc.detections
    late = np.flatnonzero(d.frame >= num_frames)
    if late.size:
        row = int(late[0])
        raise AlignmentError(f"frame {int(d.frame[row])} (0-based) is past the source's last frame {num_frames - 1}", path=path, row=row)
    outside = np.flatnonzero((d.score < 0) | (d.score > 1))
    if outside.size:
        row = int(outside[0])
        raise FormatError(f"score {float(d.score[row])} is outside [0, 1]", path=path, row=row)
    extras = [{"origin": {"set": set_index, "row": i}} for i in range(len(d))]
    return ExternalDetections(_detections(d.frame, d.class_id, d.score, list(d.rles), extras), source, doc.sha256 or "", 0, None)


def _read_mot_boxes(source: DetectionSource, num_frames: int, image_size: tuple[int, int], frame_base: int, set_index: int) -> ExternalDetections:
    boxes = read_mot_boxes(source.path, num_frames=num_frames, image_size=image_size, frame_base=frame_base)
    rles = box_rles(boxes.bbox_xyxy, image_size)
    extras = [{"origin": {"set": set_index, "line": int(line)}, "mask_source": "box", "raw_score": float(raw)}
              for line, raw in zip(boxes.line, boxes.raw_score)]
    detections = Detections(frame=boxes.frame, class_id=boxes.class_id, score=boxes.score, bbox_xyxy=boxes.bbox_xyxy.reshape(-1, 4),
                            rles=rles, extras=extras)
    note = None
    if boxes.rescaled is not None:
        low, high = boxes.rescaled
        note = (f"{source.path}: scores span {low:g} to {high:g}, not 0 to 1; mapped linearly onto [0, 1] (order kept; "
                f"each detection's raw_score keeps the file's value)")
    if boxes.skipped:
        extra = f"{source.path}: {boxes.skipped} ground-truth row(s) that are not pedestrians to consider (class != 1 or flag 0) skipped"
        note = extra if note is None else f"{note}; {extra}"
    return ExternalDetections(detections, source, boxes.sha256, 0, frame_base, masks_from_boxes=True, note=note)


def _detections(frames, classes, scores, rles: list[Rle], extras: list[dict]) -> Detections:
    return Detections(frame=frames, class_id=classes, score=scores, bbox_xyxy=bbox_xyxy(rles).reshape(-1, 4), rles=rles, extras=extras)
