"""Scoring one sequence of box ground truth (the stage's worker for MOT15/16/17/20), and the
two things the stage decides about mask predictions scored by their boxes (``--boxes``).

Predictions are MOT box files (:func:`dior_cli.formats.mot_box_tracks.read_box_tracker`) or
MOTS masks (txt or instance PNGs) whose pedestrians are scored by their bounding boxes
(:func:`dior_cli.evaluate.boxes.mask_boxes`). Every error names the sequence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dior_cli.errors import DiorError, FormatError
from dior_cli.evaluate import clear, hota, identity
from dior_cli.evaluate.boxes import box_sequence, mask_boxes
from dior_cli.formats.eval_layouts import read_annotation_rows
from dior_cli.formats.mot_box_tracks import BoxTracks, looks_like_mots_txt, read_box_ground_truth, read_box_tracker
from dior_cli.formats.tracks_json import read_track_links
from dior_cli.records import PEDESTRIAN


def score_box_sequence(
    name: str, gt_path: Path, pred_path: Path | None, num_frames: int, benchmark: str, *,
    masks: bool = False, frame_base: int = 1, image_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """HOTA, CLEAR and Identity of one sequence (pedestrians), in the stage's outcome form.

    Args:
        name: the sequence (for messages).
        gt_path: its ``gt/gt.txt``.
        pred_path: its prediction (``None``: scored as empty).
        num_frames: its length; frames are 1-based in box files.
        benchmark: ``mot15``, ``mot16``, ``mot17`` or ``mot20``.
        masks: ``pred_path`` is MOTS txt or an instance-PNG folder, scored by its boxes.
        frame_base: number of the first frame in that MOTS file.
        image_size: ``(height, width)`` the masks must have, when known.

    Returns:
        ``{"classes": {PEDESTRIAN: fields}, "pixels_moved": 0, "notes": [...]}``.
    """
    notes = []
    try:
        gt = read_box_ground_truth(gt_path, num_frames=num_frames, class_column=benchmark != "mot15")
        if gt.num_columns == 7:
            notes.append(f"{name}: gt.txt has 7 columns (frame,id,x,y,w,h,flag; TrackEval needs 8): every row read as a pedestrian, as MOT15 ground truth")
        if pred_path is None:
            pred = BoxTracks.empty()
        elif not masks:
            if pred_path.is_dir():
                raise FormatError("is a folder of instance PNGs (masks), not a MOT box file: score the masks' boxes with --boxes", path=pred_path)
            pred = read_box_tracker(pred_path, num_frames=num_frames)
        else:
            rows = read_annotation_rows(pred_path, frame_base, num_frames=num_frames, image_size=image_size)
            pred, not_scored = mask_boxes(rows)
            if not_scored:
                notes.append(f"{name}: {not_scored} car / ignore-region masks not scored (box benchmarks score pedestrians)")
    except DiorError as exc:
        exc.sequence = exc.sequence or name
        raise
    seq = box_sequence(gt, pred, num_frames, benchmark)
    result: dict[str, Any] = {}
    result.update(hota.compute_hota(seq))
    result.update(clear.compute_clear(seq))
    result.update(identity.compute_identity(seq))
    return {"classes": {PEDESTRIAN: result}, "pixels_moved": 0, "notes": notes}


def mask_frame_bases(found: dict[str, Path], default: int, decisions: list[str]) -> dict[str, int]:
    """Frame base of each MOTS txt prediction: its ``<seq>.json`` link file's (written by
    ``dior track`` / ``dior reid``; 0 for an image folder) where there is one, else
    ``default``. Bases that differ from ``default`` are added to ``decisions``."""
    bases = {}
    for name, path in found.items():
        links = path.with_suffix(".json")
        if path.suffix == ".txt" and links.is_file():
            bases[name] = read_track_links(links).frame_base
    differing = sorted(n for n, b in bases.items() if b != default)
    if differing:
        listing = ", ".join(f"{n} from {bases[n]}" for n in differing)
        decisions.append(f"frames of MOTS tracks numbered as their <seq>.json link files say (ground truth: from {default}): {listing}")
    return bases


def holds_masks(pred: Path) -> bool:
    """True when the first ``.txt`` of ``pred`` (or of ``pred/data``) is MOTS txt."""
    folder = pred / "data" if not any(pred.glob("*.txt")) and (pred / "data").is_dir() else pred
    first = next(iter(sorted(folder.glob("*.txt"))), None)
    return first is not None and looks_like_mots_txt(first)
