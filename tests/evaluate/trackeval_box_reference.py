"""Run the real TrackEval 1.3.0 ``MotChallenge2DBox`` (the reference) on box files.

The files are copied into a temporary TrackEval layout (``gt/<BENCH>-<split>/<seq>/{gt/gt.txt,
seqinfo.ini}``, ``gt/seqmaps/<BENCH>-<split>.txt``, ``trackers/<BENCH>-<split>/pred/data/<seq>.txt``)
and the result comes back as :mod:`tests.evaluate.trackeval_reference` returns it:
``{seq or "COMBINED_SEQ": {"pedestrian": {field: value}}}``, HOTA arrays averaged over the 19 alphas.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Mapping

import trackeval

from tests.evaluate.trackeval_reference import TRACKER, _run


def write_trackeval_layout(root: Path, gt_files: Mapping[str, Path], lengths: Mapping[str, int], benchmark: str, split: str = "train",
                           seqinfo_files: Mapping[str, Path] | None = None) -> Path:
    """TrackEval's ground-truth folder under ``root`` (returned). ``seqinfo.ini``: a copy of
    ``seqinfo_files[seq]`` where given (its seqLength must be ``lengths[seq]``), else one with
    only the name and ``seqLength = lengths[seq]`` (all TrackEval reads)."""
    gt_fol = root / "gt"
    folder = gt_fol / f"{benchmark}-{split}"
    (gt_fol / "seqmaps").mkdir(parents=True, exist_ok=True)
    for seq in sorted(gt_files):
        (folder / seq / "gt").mkdir(parents=True)
        shutil.copyfile(gt_files[seq], folder / seq / "gt" / "gt.txt")
        if seqinfo_files and seq in seqinfo_files:
            shutil.copyfile(seqinfo_files[seq], folder / seq / "seqinfo.ini")
            assert f"seqLength={lengths[seq]}" in (folder / seq / "seqinfo.ini").read_text()
        else:
            (folder / seq / "seqinfo.ini").write_text(f"[Sequence]\nname={seq}\nseqLength={lengths[seq]}\n")
    (gt_fol / "seqmaps" / f"{benchmark}-{split}.txt").write_text("name\n" + "".join(f"{s}\n" for s in sorted(gt_files)))
    return gt_fol


def mot_challenge_2d_box(
    gt_files: Mapping[str, Path],
    pred_files: Mapping[str, Path],
    lengths: Mapping[str, int],
    benchmark: str,
    split: str = "train",
) -> dict[str, dict[str, dict[str, object]]]:
    """TrackEval's MotChallenge2DBox (``BENCHMARK`` = ``MOT15``/``MOT16``/``MOT17``/``MOT20``,
    its default preprocessing) on ``{seq: gt.txt}`` and ``{seq: tracker txt}``."""
    with tempfile.TemporaryDirectory(prefix="trackeval_box_") as tmp:
        tmp = Path(tmp)
        gt_fol = write_trackeval_layout(tmp, gt_files, lengths, benchmark, split)
        data = tmp / "trackers" / f"{benchmark}-{split}" / TRACKER / "data"
        data.mkdir(parents=True)
        for seq in sorted(gt_files):
            shutil.copyfile(pred_files[seq], data / f"{seq}.txt")
        dataset = trackeval.datasets.MotChallenge2DBox(
            {
                "GT_FOLDER": str(gt_fol),
                "TRACKERS_FOLDER": str(tmp / "trackers"),
                "OUTPUT_FOLDER": str(tmp / "out"),
                "TRACKERS_TO_EVAL": [TRACKER],
                "CLASSES_TO_EVAL": ["pedestrian"],
                "BENCHMARK": benchmark,
                "SPLIT_TO_EVAL": split,
                "PRINT_CONFIG": False,
            }
        )
        return _run(dataset, class_average=False)
