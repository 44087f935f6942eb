"""Validation during ``dior train --val``: the model in training, judged by the user's own pipeline.

For every sequence with frames and ground truth under the validation root:

1. detect, segment and embed with ``dior infer``'s sliding window (``infer.infer_sequence``),
   keeping every detection the model's ``box_score_thresh`` lets through -> ``OUT/dets_all``;
2. mask AP (COCO, pycocotools) of those detections against the ground truth;
3. detections scoring at least ``TRACK_SCORE`` (``dior infer``'s default ``--score-thresh``)
   -> ``OUT/dets``, tracked by ``dior track --offline-reid`` with its default settings ->
   ``OUT/tracks``;
4. ``dior evaluate`` of those tracks -> ``OUT/metrics.json``.

This module deliberately calls the infer, track and evaluate stages: validation must give
the numbers a user would get by running those commands on the same checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dior_cli import __version__
from dior_cli.errors import FormatError
from dior_cli.formats.atomic import atomic_write

TRACK_SCORE = 0.5


def validate(model, root: Path, out: Path, device) -> dict[str, Any]:
    """Validate ``model`` on ``root``; return mask AP, tracking metrics and a headline.

    The model is left in eval mode; the caller switches it back to training.
    """
    import torch

    from dior_cli.config import ReidConfig, TrackConfig
    from dior_cli.evaluate.mask_ap import mask_average_precision
    from dior_cli.evaluate.stage import CLASS_AVERAGE, EvaluateOptions
    from dior_cli.evaluate.stage import run as evaluate
    from dior_cli.formats.detections_json import read_detections
    from dior_cli.formats.eval_layouts import read_annotation_rows
    from dior_cli.formats.layouts import discover_sequences
    from dior_cli.infer.options import InferOptions
    from dior_cli.infer.stage import infer_sequence
    from dior_cli.track.stage import TrackOptions
    from dior_cli.track.stage import run as track

    sequences = [s for s in discover_sequences(root) if s.frames_path is not None and (s.gt_txt or s.gt_png)]
    if not sequences:
        raise FormatError("--val: holds no sequence with both frames and ground truth", path=root)
    model.eval()
    all_dir, dets_dir, tracks_dir = out / "dets_all", out / "dets", out / "tracks"
    producer = {"dior_version": __version__, "weights": "training run (validation)", "weights_sha256": None}
    options = InferOptions(source=root, out=all_dir, overwrite=True)
    predictions, ground_truth = {}, {}
    with torch.inference_mode():
        for seq in sequences:
            json_path = all_dir / f"{seq.name}.json"
            infer_sequence(model, seq, json_path, all_dir / f"{seq.name}.npy", options, device, producer)
            dets_file = read_detections(json_path)
            predictions[seq.name] = dets_file.detections
            ground_truth[seq.name] = read_annotation_rows(seq.gt_txt or seq.gt_png, seq.frame_base, num_frames=seq.num_frames, sequence=seq.name)
            _keep_confident(dets_file, json_path, dets_dir)
    mask_ap = mask_average_precision(ground_truth, predictions).to_dict()
    track(TrackOptions(dets=dets_dir, out=tracks_dir, offline_reid=True, overwrite=True, track=TrackConfig(), reid=ReidConfig(method="dior")))
    metrics = evaluate(EvaluateOptions(gt=root, pred=tracks_dir, workers=1))
    with atomic_write(out / "metrics.json") as handle:
        json.dump(metrics, handle, indent=1)
    combined = metrics["combined"].get(CLASS_AVERAGE) or next(iter(metrics["combined"].values()))
    headline = {"mask_AP": mask_ap.get("AP"), "HOTA": combined["HOTA"], "sMOTSA": combined["sMOTSA"], "IDF1": combined["IDF1"]}
    return {"headline": headline, "mask_ap": mask_ap, "combined": metrics["combined"], "out": str(out)}


def _keep_confident(dets_file, json_path: Path, dets_dir: Path) -> None:
    """Copy the detections of ``dets_file`` (read from ``json_path``) scoring at least
    ``TRACK_SCORE``, and their embeddings, to ``dets_dir``."""
    import dataclasses

    from dior_cli.formats.detections_json import write_detections
    from dior_cli.formats.embeddings import read_embeddings, write_embeddings

    name = dets_file.sequence
    vectors = read_embeddings(json_path.with_suffix(".npy"), dets_file, json_path).vectors
    keep = np.flatnonzero(dets_file.detections.score >= TRACK_SCORE)
    kept = dataclasses.replace(dets_file, detections=dets_file.detections[keep])
    digest = write_detections(dets_dir / f"{name}.json", kept)
    write_embeddings(dets_dir / f"{name}.npy", vectors[keep], dets_dir / f"{name}.json", digest)
