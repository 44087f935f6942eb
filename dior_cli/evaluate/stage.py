"""``dior evaluate``: the official numbers (TrackEval 1.3.0's), from any layout, for masks
(MOTS: KITTI-MOTS, MOTS20) and boxes (MOTChallenge: MOT15, MOT16, MOT17, MOT20).

The stage finds the ground truth and the predictions, evaluates each sequence (in
parallel over sequences), combines sequences per class as TrackEval does, averages over
classes when there are several, and returns one document (schema ``dior.metrics/v1``).
A mask sequence is read and scored block of frames by block (:func:`_score_masks`): each
block's masks are decoded once, checked and paired (:mod:`dior_cli.matching`), what the
metrics need (the intersecting pairs per class) is kept and the masks dropped, so memory
stays bounded for any length; the three metric families then run once over the whole
sequence, shared by every class. Box ground truth is scored against MOT box files, or with
``boxes`` against the bounding boxes of MOTS masks (:mod:`dior_cli.evaluate.boxes`).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli import __version__
from dior_cli.errors import ConfigError, DiorError, FormatError
from dior_cli.evaluate import clear, hota, identity
from dior_cli.evaluate.combine import add_mots_names, class_average_clear, class_average_hota, class_average_identity
from dior_cli.evaluate.annotation_reading import CHUNK_BYTES, MaskStream, NotStreamable, as_mots_rows, masks_image_size, read_masks
from dior_cli.formats.box_layouts import discover_box_ground_truth, holds_box_ground_truth
from dior_cli.formats.eval_layouts import BOX_BENCHMARKS, GroundTruthSet, discover_ground_truth, find_predictions
from dior_cli.matching.class_sequence import ClassPiece, assemble, class_piece
from dior_cli.matching.frame_pairs import SequenceMasks, first_overlap_frame, first_overlapping_pair, pair_frames
from dior_cli.matching.mask_runs import MaskRuns
from dior_cli.records import CAR, PEDESTRIAN, MotsRows

SCHEMA = "dior.metrics/v1"
CLASS_IDS = {"car": CAR, "pedestrian": PEDESTRIAN}
BENCHMARK_CLASSES = {"kitti-mots": ("car", "pedestrian"), "mots20": ("pedestrian",), **{b: ("pedestrian",) for b in BOX_BENCHMARKS}}
CLASS_AVERAGE = "class_average"

HOTA_FIELDS = ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr", "OWTA", "HOTA(0)", "LocA(0)")
CLEAR_FIELDS = (
    "MOTA", "MOTP", "MODA", "CLR_Re", "CLR_Pr", "MTR", "PTR", "MLR", "sMOTA", "CLR_F1", "FP_per_frame", "MOTAL",
    "MOTP_sum", "CLR_TP", "CLR_FN", "CLR_FP", "IDSW", "MT", "PT", "ML", "Frag",
)
IDENTITY_FIELDS = ("IDF1", "IDR", "IDP", "IDTP", "IDFN", "IDFP")
MOTS_FIELDS = ("sMOTSA", "MOTSA", "MOTSP", "MODSA")
BOX_FIELDS = HOTA_FIELDS + CLEAR_FIELDS + IDENTITY_FIELDS
FIELDS = BOX_FIELDS + MOTS_FIELDS  # masks: the CLEAR fields under their MOTS names too
CURVE_FIELDS = ("HOTA", "DetA", "AssA")


@dataclass(frozen=True)
class EvaluateOptions:
    """What to evaluate and how (the CLI's options).

    Attributes:
        gt: ground-truth folder (any supported layout, masks or boxes).
        pred: folder of ``<seq>.txt`` (MOTS txt, or MOT box files for box ground truth) or
            ``<seq>/`` PNG folders.
        benchmark: ``auto``, ``kitti-mots`` or ``mots20`` (masks), ``mot15``, ``mot16``,
            ``mot17`` or ``mot20`` (boxes).
        seqmap: seqmap file selecting (and for mots_tools style, sizing) the sequences.
        split: split to use where the layout has several (``train``, ``test``, ``val``...).
        classes: class names to evaluate; ``None`` = the benchmark's.
        workers: processes over sequences; 0 = one per CPU core.
        resolve_overlaps: make overlapping prediction masks disjoint (earlier line wins)
            instead of refusing them.
        allow_missing: score a sequence without a prediction file as empty instead of
            refusing.
        boxes: the predictions are MOTS masks (txt or PNG folders) to score by their
            bounding boxes against box ground truth.
        chunk_bytes: how much of each MOTS txt file is read at a time: a long sequence is
            scored block of frames by block in about this much memory per file (the numbers
            do not depend on it).
    """

    gt: Path
    pred: Path
    benchmark: str = "auto"
    seqmap: Path | None = None
    split: str | None = None
    classes: tuple[str, ...] | None = None
    workers: int = 0
    resolve_overlaps: bool = False
    allow_missing: bool = False
    boxes: bool = False
    chunk_bytes: int = CHUNK_BYTES


@dataclass(frozen=True)
class _Task:
    """One sequence to score; ``pred_kind``: ``mask`` (against mask ground truth), ``box``
    (MOT box file) or ``mask-box`` (MOTS masks scored by their boxes)."""

    name: str
    num_frames: int
    frame_base: int
    gt_path: Path
    pred_path: Path | None
    class_ids: tuple[int, ...]
    resolve_overlaps: bool
    benchmark: str = "kitti-mots"
    pred_kind: str = "mask"
    pred_frame_base: int = 0
    image_size: tuple[int, int] | None = None
    chunk_bytes: int = CHUNK_BYTES


def run(options: EvaluateOptions) -> dict[str, Any]:
    """Evaluate and return the metrics document (see the module docstring)."""
    gt_set = _discover(options)
    boxed = gt_set.similarity == "box"
    if options.boxes and not boxed:
        raise ConfigError(f"--boxes scores masks by their boxes against box ground truth (MOT15/16/17/20); {options.gt} holds {gt_set.benchmark} masks")
    if boxed and options.resolve_overlaps:
        raise ConfigError("--resolve-overlaps is for mask evaluation; box evaluation does not mind overlapping boxes")
    classes = _choose_classes(options.classes, gt_set.benchmark)
    names = [s.name for s in gt_set.sequences]
    found, missing, extra = find_predictions(options.pred, names)
    decisions = list(gt_set.decisions)
    if missing and not options.allow_missing:
        listing = ", ".join(f"{n}.txt" for n in missing)
        raise DiorError(f"no prediction for {len(missing)} of {len(names)} sequence(s): {listing} (use --allow-missing to score them as empty)", path=options.pred)
    if missing:
        decisions.append(f"scored as empty (no prediction file): {', '.join(missing)}")
    if extra:
        decisions.append(f"ignored, no ground truth for: {', '.join(extra)}")
    pred_kind = ("mask-box" if options.boxes else "box") if boxed else "mask"
    pred_bases = {}
    if pred_kind == "mask-box":
        from dior_cli.evaluate.box_sequences import mask_frame_bases  # box modules load only for boxes

        pred_bases = mask_frame_bases(found, gt_set.frame_base, decisions)
    tasks = [
        _Task(s.name, s.num_frames, gt_set.frame_base, s.gt_txt or s.gt_png, found.get(s.name), tuple(CLASS_IDS[c] for c in classes),
              options.resolve_overlaps, gt_set.benchmark, pred_kind, pred_bases.get(s.name, gt_set.frame_base), s.image_size,
              options.chunk_bytes)
        for s in gt_set.sequences
    ]
    outcomes = _evaluate_all(tasks, options.workers)
    decisions += [note for name in names for note in outcomes[name].get("notes", [])]
    fields = BOX_FIELDS if boxed else FIELDS
    per_sequence_raw = {name: outcomes[name]["classes"] for name in names}
    combined_raw = {c: _combine([per_sequence_raw[n][CLASS_IDS[c]] for n in names], mots_names=not boxed) for c in classes}
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "dior_version": __version__,
        "benchmark": gt_set.benchmark,
        "similarity": gt_set.similarity,
        "predictions_kind": {"mask": "masks", "box": "boxes", "mask-box": "bounding boxes of masks"}[pred_kind],
        "preprocessing": _preprocessing(gt_set.benchmark, boxed),
        "ground_truth": str(options.gt),
        "predictions": str(options.pred),
        "layout": gt_set.layout,
        "seqmap": None if gt_set.seqmap is None else str(gt_set.seqmap),
        "frame_base": gt_set.frame_base,
        "sequences": names,
        "classes": classes,
        "sequence_info": {
            s.name: {
                "num_frames": s.num_frames,
                "length_source": s.length_source,
                "prediction": None if s.name not in found else str(found[s.name]),
                "overlap_pixels_resolved": outcomes[s.name]["pixels_moved"],
            }
            for s in gt_set.sequences
        },
        "decisions": decisions,
        "per_sequence": {n: {c: summarise(per_sequence_raw[n][CLASS_IDS[c]], fields) for c in classes} for n in names},
        "combined": {c: summarise(combined_raw[c], fields) for c in classes},
        "alphas": [float(a) for a in hota.ALPHAS],
        "curves": {
            "per_sequence": {n: {c: _curves(per_sequence_raw[n][CLASS_IDS[c]]) for c in classes} for n in names},
            "combined": {c: _curves(combined_raw[c]) for c in classes},
        },
    }
    if len(classes) > 1:
        averaged = _class_average([combined_raw[c] for c in classes])
        doc["combined"][CLASS_AVERAGE] = summarise(averaged)
        doc["curves"]["combined"][CLASS_AVERAGE] = _curves(averaged)
    return doc


HEADLINE_FIELDS = ("HOTA", "IDF1", "MOTA", "IDSW")
COMBINED = "COMBINED"


def evaluate_box_tracks(
    gt: str | os.PathLike, pred: str | os.PathLike, *, masks: bool | None = None, benchmark: str = "auto",
    workers: int = 1, allow_missing: bool = False,
) -> dict[str, dict[str, float | int | None]]:
    """Score a folder of tracks against box ground truth (MOT15/16/17/20), as ``dior evaluate``.

    Args:
        gt: box ground truth: a MOTChallenge dataset, split or sequence folder, or TrackEval's layout.
        pred: a folder of ``<seq>.txt``: MOT box files, or MOTS txt masks (``dior track`` /
            ``dior reid`` output, scored by their bounding boxes).
        masks: whether ``pred`` holds masks; ``None`` = decide from its first ``.txt``.
        benchmark: ``auto`` (decided from the layout and folder names) or ``mot15`` ... ``mot20``.
        workers: processes over sequences (0 = one per core).
        allow_missing: score a sequence without a prediction file as empty instead of refusing.

    Returns:
        ``{sequence: {"HOTA", "IDF1", "MOTA", "IDSW"}}`` plus the combination over sequences
        under ``"COMBINED"`` (TrackEval's COMBINED_SEQ): ratios as fractions, NaN as ``None``.
        For every field, the decisions and the curves, call :func:`run` with
        ``EvaluateOptions(gt, pred, boxes=...)``.
    """
    if benchmark not in ("auto", *BOX_BENCHMARKS):
        raise ConfigError(f"box evaluation: benchmark must be auto or one of {', '.join(BOX_BENCHMARKS)}, not {benchmark!r}")
    from dior_cli.evaluate.box_sequences import holds_masks

    boxes = holds_masks(Path(pred)) if masks is None else masks
    doc = run(EvaluateOptions(gt=Path(gt), pred=Path(pred), benchmark=benchmark, workers=workers, allow_missing=allow_missing, boxes=boxes))
    if doc["similarity"] != "box":
        raise ConfigError(f"{gt} holds {doc['benchmark']} mask ground truth, not boxes: use run(EvaluateOptions(...))")
    scores = {seq: {f: by_class["pedestrian"][f] for f in HEADLINE_FIELDS} for seq, by_class in doc["per_sequence"].items()}
    scores[COMBINED] = {f: doc["combined"]["pedestrian"][f] for f in HEADLINE_FIELDS}
    return scores


def summarise(result: dict[str, Any], fields: tuple[str, ...] = FIELDS) -> dict[str, float | int | None]:
    """One class's ``fields`` as reported: HOTA arrays as their mean over the 19 alphas,
    counts as ints, NaN as ``None`` (masks: :data:`FIELDS`, MOTS names included; boxes:
    :data:`BOX_FIELDS`)."""
    out: dict[str, float | int | None] = {}
    for name in fields:
        value = result[name]
        if isinstance(value, np.ndarray):
            value = float(np.mean(value))
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            value = int(value)
        else:
            value = float(value)
        out[name] = None if isinstance(value, float) and np.isnan(value) else value
    return out


def _curves(result: dict[str, Any]) -> dict[str, list[float]]:
    return {name: [float(v) for v in result[name]] for name in CURVE_FIELDS}


def _preprocessing(benchmark: str, boxed: bool) -> str:
    if not boxed:
        return "mask IoU; unmatched predictions more than half inside ignore regions removed"
    from dior_cli.evaluate.boxes import describe_preprocessing

    return describe_preprocessing(benchmark)


def _choose_classes(requested: tuple[str, ...] | None, benchmark: str) -> list[str]:
    allowed = BENCHMARK_CLASSES[benchmark]
    if requested is None:
        return list(allowed)
    unknown = [c for c in requested if c not in allowed]
    if unknown:
        raise ConfigError(f"--classes {','.join(requested)}: {benchmark} has only {', '.join(allowed)}")
    return [c for c in allowed if c in requested]


def _discover(options: EvaluateOptions) -> GroundTruthSet:
    """Box ground truth for a box benchmark, or with ``auto`` where a gt.txt holds MOT boxes; else masks."""
    if options.benchmark in BOX_BENCHMARKS or (options.benchmark == "auto" and holds_box_ground_truth(options.gt)):
        return discover_box_ground_truth(options.gt, benchmark=options.benchmark, seqmap=options.seqmap, split=options.split)
    return discover_ground_truth(options.gt, benchmark=options.benchmark, seqmap=options.seqmap, split=options.split)


def _evaluate_all(tasks: list[_Task], workers: int) -> dict[str, dict[str, Any]]:
    if workers < 0:
        raise ConfigError(f"--workers must be 0 (one per core) or more, got {workers}")
    from dior_cli.console import track_progress  # rich: loaded when there is something to show

    workers = min(workers or os.cpu_count() or 1, len(tasks))
    biggest_first = sorted(tasks, key=_task_size, reverse=True)
    results: dict[str, dict[str, Any]] = {}
    if workers <= 1:
        for task in track_progress(biggest_first, "evaluating", unit="sequences"):
            results[task.name] = evaluate_sequence(task)
        return results
    import multiprocessing  # only for parallel runs: their import is a tenth of a small evaluation
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        outcomes = pool.map(evaluate_sequence, biggest_first)
        for task, outcome in track_progress(zip(biggest_first, outcomes), "evaluating", total=len(tasks), unit="sequences"):
            results[task.name] = outcome
    return results


def _task_size(task: _Task) -> int:
    sizes = [p.stat().st_size for p in (task.gt_path, task.pred_path) if p is not None and p.is_file()]
    return sum(sizes) + task.num_frames


def evaluate_sequence(task: _Task) -> dict[str, Any]:
    """Read, check and score one sequence for each class; runs in a worker process."""
    if task.benchmark in BOX_BENCHMARKS:
        from dior_cli.evaluate.box_sequences import score_box_sequence

        return score_box_sequence(task.name, task.gt_path, task.pred_path, task.num_frames, task.benchmark,
                                  masks=task.pred_kind == "mask-box", frame_base=task.pred_frame_base, image_size=task.image_size)
    streamable = task.gt_path.is_file() and (task.pred_path is None or task.pred_path.is_file())
    if streamable:
        try:
            return _score_masks(task, streamed=True)
        except NotStreamable:
            pass  # not canonical, not valid or not in frame order: read whole files (which names any problem)
    return _score_masks(task, streamed=False)


def _score_masks(task: _Task, streamed: bool) -> dict[str, Any]:
    """Score a mask sequence block of frames by block: each block's masks are decoded, checked
    and paired, then dropped; what the metrics need of it (the intersecting pairs, per class)
    is kept, and the metrics run once over the whole sequence, so the numbers do not depend
    on the blocks. ``streamed``: read both files a chunk at a time (:class:`MaskStream`);
    otherwise read them whole, in one block. In a stream an overlap raises
    :class:`NotStreamable`, so that the whole-file reading reports it (ground truth first)."""
    pieces: dict[int, list[ClassPiece]] = {c: [] for c in task.class_ids}
    moved = 0
    for t0, t_end, gt_block, pred_block in _frame_blocks(task, streamed):
        overlap = first_overlap_frame(gt_block)
        if overlap is not None:
            _refuse_overlap(gt_block, overlap, t0, task, task.gt_path, "ground truth", streamed)
        overlap = first_overlap_frame(pred_block)
        if overlap is not None:
            if not task.resolve_overlaps:
                _refuse_overlap(pred_block, overlap, t0, task, task.pred_path, "prediction", streamed)
            from dior_cli.evaluate.preprocess import resolve_overlaps  # pycocotools: only to resolve overlaps

            resolved, pixels = resolve_overlaps(as_mots_rows(pred_block.rows), t_end - t0)
            moved += pixels
            pred_block = SequenceMasks.of(resolved)
        pairs = pair_frames(gt_block, pred_block, t_end - t0)
        for class_id in task.class_ids:
            pieces[class_id].append(_compact(class_piece(gt_block.rows, pred_block.rows, pairs, class_id)))
    scored = {}
    for class_id in task.class_ids:
        seq = assemble(pieces[class_id])
        result: dict[str, Any] = {}
        result.update(hota.compute_hota(seq))
        result.update(add_mots_names(clear.compute_clear(seq)))
        result.update(identity.compute_identity(seq))
        scored[class_id] = result
    return {"classes": scored, "pixels_moved": moved}


def _frame_blocks(task: _Task, streamed: bool):
    """``(t0, t_end, gt_block, pred_block)`` for consecutive blocks of frames ``t0 .. t_end-1``
    covering the sequence, frames counted from ``t0``: with ``streamed``, about as much as a
    chunk of each file holds; else one block of all."""
    if not streamed:
        gt = read_masks(task.gt_path, task.frame_base, num_frames=task.num_frames, sequence=task.name)
        if task.pred_path is None:
            pred = SequenceMasks(MotsRows.empty(), MaskRuns.empty())
        else:
            pred = read_masks(task.pred_path, task.frame_base, num_frames=task.num_frames, image_size=masks_image_size(gt), sequence=task.name)
        yield 0, task.num_frames, gt, pred
        return
    gt = MaskStream(task.gt_path, task.frame_base, task.num_frames, chunk_bytes=task.chunk_bytes)
    pred = MaskStream(task.pred_path, task.frame_base, task.num_frames, chunk_bytes=task.chunk_bytes)
    try:
        t0 = 0
        while True:
            gt.fill()
            pred.image_size = pred.image_size or gt.image_size  # predictions must have the ground truth's size
            pred.fill()
            t_end = min(gt.complete_before, pred.complete_before)
            while t_end <= t0 and t0 < task.num_frames:  # a frame larger than a chunk: read on
                for side in (gt, pred):
                    if side.complete_before <= t0:
                        side.read_chunk()
                t_end = min(gt.complete_before, pred.complete_before)
            yield t0, t_end, gt.take(t_end, t0), pred.take(t_end, t0)
            t0 = t_end
            if t0 >= task.num_frames:
                return
    finally:
        gt.close()
        pred.close()


def _compact(piece: ClassPiece) -> ClassPiece:
    """What the metrics keep of a block, in less memory: no rows behind the detections,
    entry positions as int32 (a block holds far fewer than 2**31 detections)."""
    none = np.zeros(0, dtype=np.int64)
    return dataclasses.replace(piece, ent_row=piece.ent_row.astype(np.int32), ent_col=piece.ent_col.astype(np.int32),
                               gt_rows=none, pred_rows=none)


def _refuse_overlap(masks: SequenceMasks, frame: int, t0: int, task: _Task, path: Path | None, what: str, streamed: bool) -> None:
    """TrackEval rejects a frame whose masks share a pixel (ignore regions count for ground
    truth): ``frame`` of the block that starts at frame ``t0``."""
    if streamed:
        raise NotStreamable(f"{what} masks overlap")
    row_a, row_b, pixels = first_overlapping_pair(masks, frame)
    a, b = int(masks.rows.obj_id[row_a]), int(masks.rows.obj_id[row_b])
    hint = " (use --resolve-overlaps to give shared pixels to the earlier line)" if what == "prediction" else ""
    raise FormatError(
        f"{what} masks of objects {a} and {b} overlap by {pixels} pixels in frame {t0 + frame + task.frame_base}{hint}",
        path=path, sequence=task.name,
    )


def _combine(per_sequence: list[dict[str, Any]], mots_names: bool = True) -> dict[str, Any]:
    combined: dict[str, Any] = {}
    combined.update(hota.combine_hota(per_sequence))
    combined_clear = clear.combine_clear(per_sequence)
    combined.update(add_mots_names(combined_clear) if mots_names else combined_clear)
    combined.update(identity.combine_identity(per_sequence))
    return combined


def _class_average(per_class: list[dict[str, Any]]) -> dict[str, Any]:
    averaged: dict[str, Any] = {}
    averaged.update(class_average_hota(per_class))
    averaged.update(add_mots_names(class_average_clear(per_class)))
    averaged.update(class_average_identity(per_class))
    return averaged
