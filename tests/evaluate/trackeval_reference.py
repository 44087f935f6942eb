"""Run the real TrackEval 1.3.0 evaluator (the reference) on MOTS txt files.

The files are copied into a temporary folder laid out the way TrackEval wants them, every
printing / plotting / output option is off, and the result is returned as
``{seq or "COMBINED_SEQ": {cls: {field: value}}}``: HOTA array fields reduced by ``np.mean``
over the 19 alphas, every other field as TrackEval returns it. For KITTI-MOTS (which does not
combine classes itself) ``COMBINED_SEQ`` also holds ``"class_average"``, made with each
metric's ``combine_classes_class_averaged`` over the per-class combined results.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from pathlib import Path
from typing import Mapping

import numpy as np

import trackeval

TRACKER = "pred"
CLASS_AVERAGE = "class_average"

EVAL_CONFIG = {
    "USE_PARALLEL": False,
    "BREAK_ON_ERROR": True,
    "RETURN_ON_ERROR": False,
    "LOG_ON_ERROR": None,
    "PRINT_RESULTS": False,
    "PRINT_ONLY_COMBINED": False,
    "PRINT_CONFIG": False,
    "TIME_PROGRESS": False,
    "DISPLAY_LESS_PROGRESS": True,
    "OUTPUT_SUMMARY": False,
    "OUTPUT_EMPTY_CLASSES": False,
    "OUTPUT_DETAILED": False,
    "PLOT_CURVES": False,
}


def _metrics():
    return [
        trackeval.metrics.HOTA({"PRINT_CONFIG": False}),
        trackeval.metrics.CLEAR({"THRESHOLD": 0.5, "PRINT_CONFIG": False}),
        trackeval.metrics.Identity({"THRESHOLD": 0.5, "PRINT_CONFIG": False}),
    ]


def _flatten(metric_res: Mapping[str, Mapping[str, object]]) -> dict[str, object]:
    """One class's {metric: {field: value}} -> {field: value}, HOTA arrays averaged."""
    out: dict[str, object] = {}
    for metric_name, fields in metric_res.items():
        if metric_name == "Count":
            continue
        for field, value in fields.items():
            if isinstance(value, np.ndarray) and value.ndim > 0:
                value = np.mean(value)
            out[field] = value
    return out


def _run(dataset, class_average: bool) -> dict[str, dict[str, dict[str, object]]]:
    metrics = _metrics()
    evaluator = trackeval.Evaluator(dict(EVAL_CONFIG))
    with contextlib.redirect_stdout(io.StringIO()):
        output_res, output_msg = evaluator.evaluate([dataset], metrics)
    name = dataset.get_name()
    assert output_msg[name][TRACKER] == "Success", output_msg
    res = output_res[name][TRACKER]
    if class_average:
        combined = res["COMBINED_SEQ"]
        classes = [c for c in combined if c != CLASS_AVERAGE]
        combined[CLASS_AVERAGE] = {
            metric.get_name(): metric.combine_classes_class_averaged(
                {c: combined[c][metric.get_name()] for c in classes}
            )
            for metric in metrics
        }
    return {seq: {cls: _flatten(m) for cls, m in per_cls.items()} for seq, per_cls in res.items()}


def kitti_mots(
    gt_files: Mapping[str, Path],
    pred_files: Mapping[str, Path],
    seq_lengths: Mapping[str, int],
    classes: tuple[str, ...] = ("car", "pedestrian"),
) -> dict[str, dict[str, dict[str, object]]]:
    """TrackEval's KittiMOTS on ``{seq: gt txt}`` / ``{seq: prediction txt}`` (0-based frames).

    ``seq_lengths``: number of frames of each sequence (seqmap's last frame + 1).
    """
    with tempfile.TemporaryDirectory(prefix="trackeval_kitti_") as tmp:
        tmp = Path(tmp)
        gt_fol, trk_fol = tmp / "gt", tmp / "trackers"
        (gt_fol / "label_02").mkdir(parents=True)
        (trk_fol / TRACKER / "data").mkdir(parents=True)
        seqmap = []
        for seq in sorted(gt_files):
            shutil.copyfile(gt_files[seq], gt_fol / "label_02" / f"{seq}.txt")
            shutil.copyfile(pred_files[seq], trk_fol / TRACKER / "data" / f"{seq}.txt")
            seqmap.append(f"{seq} empty 000000 {seq_lengths[seq] - 1:06d}\n")
        (gt_fol / "evaluate_mots.seqmap.train").write_text("".join(seqmap))
        dataset = trackeval.datasets.KittiMOTS(
            {
                "GT_FOLDER": str(gt_fol),
                "TRACKERS_FOLDER": str(trk_fol),
                "OUTPUT_FOLDER": str(tmp / "out"),
                "TRACKERS_TO_EVAL": [TRACKER],
                "CLASSES_TO_EVAL": list(classes),
                "SPLIT_TO_EVAL": "train",
                "PRINT_CONFIG": False,
            }
        )
        return _run(dataset, class_average=True)


def mots_challenge(
    gt_root: Path,
    pred_files: Mapping[str, Path],
    split: str = "train",
) -> dict[str, dict[str, dict[str, object]]]:
    """TrackEval's MOTSChallenge on a MOTS20 download layout ``gt_root/<split>/<seq>/`` and
    ``{seq: prediction txt}`` (1-based frames); only the sequences in ``pred_files``."""
    with tempfile.TemporaryDirectory(prefix="trackeval_mots_") as tmp:
        tmp = Path(tmp)
        gt_fol, trk_fol = tmp / "gt", tmp / "trackers"
        (gt_fol / "seqmaps").mkdir(parents=True)
        (trk_fol / f"MOTS-{split}" / TRACKER / "data").mkdir(parents=True)
        for seq in sorted(pred_files):
            src = Path(gt_root) / split / seq
            dst = gt_fol / f"MOTS-{split}" / seq
            (dst / "gt").mkdir(parents=True)
            shutil.copyfile(src / "gt" / "gt.txt", dst / "gt" / "gt.txt")
            shutil.copyfile(src / "seqinfo.ini", dst / "seqinfo.ini")
            shutil.copyfile(pred_files[seq], trk_fol / f"MOTS-{split}" / TRACKER / "data" / f"{seq}.txt")
        (gt_fol / "seqmaps" / f"MOTS-{split}.txt").write_text("name\n" + "".join(f"{s}\n" for s in sorted(pred_files)))
        dataset = trackeval.datasets.MOTSChallenge(
            {
                "GT_FOLDER": str(gt_fol),
                "TRACKERS_FOLDER": str(trk_fol),
                "OUTPUT_FOLDER": str(tmp / "out"),
                "TRACKERS_TO_EVAL": [TRACKER],
                "CLASSES_TO_EVAL": ["pedestrian"],
                "SPLIT_TO_EVAL": split,
                "PRINT_CONFIG": False,
            }
        )
        return _run(dataset, class_average=False)
