"""The whole pipeline learns: synth -> train (from scratch) -> infer -> track -> evaluate, on CPU.

A small DIOR configuration (ResNet-18 with GroupNorm, 96x128 frames, narrow heads;
``examples/train_tiny_cpu.yaml``) is trained from random weights on four synthetic
sequences, then run through ``dior infer``, ``dior track --offline-reid`` and
``dior evaluate`` on a held-out synthetic sequence. The same pipeline with the same
configuration left untrained (random weights, the starting point of the training) is the
baseline.

Thresholds were set from what these two models get on the dev machine. Trained: sMOTSA 0.292,
IDF1 0.693, identity ROC AUC 0.965 (earlier versions of the generator that differed only in
float rounding of the texture gave sMOTSA 0.28-0.37 and IDF1 0.55-0.74: training from scratch
amplifies the last bit, so other CPUs will differ too). Untrained: sMOTSA 0 and IDF1 0 (no
detection scores 0.5), AUC 0.789. The thresholds sit well under the trained spread and far above
the untrained model.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.formats.detections_json import read_detections
from dior_cli.formats.embeddings import read_embeddings
from dior_cli.formats.mots_txt import read_mots_txt
from dior_cli.model.checkpoint import load_checkpoint, save_checkpoint
from dior_cli.model.network import DiorNet

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "examples" / "train_tiny_cpu.yaml"

SMOTSA_MIN = 0.15  # trained, class average over car and pedestrian
IDF1_MIN = 0.4
UNTRAINED_MAX = 0.05  # untrained: no detection survives --score-thresh 0.5
AUC_GAIN_MIN = 0.1  # trained embeddings' same-vs-different-identity ROC AUC over the untrained ones'


def _cli(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> dict:
    """Train once; run both checkpoints through infer, track and evaluate on the held-out sequence."""
    root = tmp_path_factory.mktemp("e2e")
    _cli("synth", str(root / "train"), "--sequences", "4", "--frames", "30", "--size", "96x128")
    _cli("synth", str(root / "held"), "--sequences", "1", "--first", "4", "--frames", "40", "--size", "96x128")
    summary = _cli("train", str(root / "train"), "--out", str(root / "run"), "--init", "none", "--device", "cpu", "--config", str(CONFIG))

    trained = Path(summary["weights"])
    model, _ = load_checkpoint(trained)
    torch.manual_seed(0)  # what training started from: the same configuration, random weights
    untrained = save_checkpoint(root / "untrained.pt", DiorNet(model.config))

    results = {"summary": summary}
    for name, weights in (("trained", trained), ("untrained", untrained)):
        run = root / name
        _cli("infer", str(root / "held"), "--out", str(run / "dets"), "--weights", str(weights), "--device", "cpu")
        _cli("track", str(run / "dets"), "--out", str(run / "tracks"), "--offline-reid")
        metrics = _cli("evaluate", "--gt", str(root / "held"), "--pred", str(run / "tracks"))
        given = run / "gt_dets"  # the ground-truth masks embedded by this checkpoint's head
        _cli("infer", str(root / "held"), "--out", str(given), "--detections", str(root / "held" / "instances_txt"),
             "--encoder", "dior", "--weights", str(weights), "--device", "cpu")
        results[name] = {"metrics": metrics["combined"]["class_average"], "auc": _identity_auc(given, root / "held")}
    return results


def _identity_auc(dets_dir: Path, held: Path) -> float:
    """ROC AUC of cosine similarity, same vs different identity, over all pairs of ground-truth
    objects from different frames (the Mann-Whitney statistic, ties counted half)."""
    dets = read_detections(dets_dir / "synth0004.json")
    vectors = read_embeddings(dets_dir / "synth0004.npy", dets, dets_dir / "synth0004.json").vectors
    gt = read_mots_txt(held / "instances_txt" / "synth0004.txt", 0)
    gt = gt[gt.class_id != 10]
    identity = _identity_of(dets, gt)
    similarity = vectors @ vectors.T
    frames = dets.detections.frame
    pairs = np.triu(np.ones_like(similarity, dtype=bool), 1) & (frames[:, None] != frames[None, :])
    same = similarity[pairs & (identity[:, None] == identity[None, :])]
    different = similarity[pairs & (identity[:, None] != identity[None, :])]
    greater = (same[:, None] > different[None, :]).mean()
    ties = (same[:, None] == different[None, :]).mean()
    return float(greater + 0.5 * ties)


def _identity_of(dets, gt) -> np.ndarray:
    """The ground-truth object id of each given detection (the masks are the very same RLEs)."""
    by_mask = {(int(f), r["counts"]): int(o) for f, o, r in zip(gt.frame, gt.obj_id, gt.rles)}
    return np.array([by_mask[(int(f), r["counts"])] for f, r in zip(dets.detections.frame, dets.detections.rles)])


def test_training_lowers_the_losses(pipeline):
    """Mean of the last 20 steps against the first 20: classification, mask and objectness fall by
    30 % or more, the identity loss by 15 % (it starts at ln(identities) and falls slowly: the
    classifier reads unit-length embeddings, so its logits are small). loss_box_reg is left out:
    it averages over the positive proposals, which are few and easy at the start."""
    log = [json.loads(line) for line in (Path(pipeline["summary"]["out"]) / "train_log.jsonl").read_text().splitlines()]
    first, last = log[:20], log[-20:]
    for name, factor in (("loss_classifier", 0.7), ("loss_mask", 0.7), ("loss_objectness", 0.7), ("loss_emb", 0.85)):
        assert np.mean([e[name] for e in last]) < factor * np.mean([e[name] for e in first]), name


def test_trained_model_tracks_the_held_out_sequence(pipeline):
    trained, untrained = pipeline["trained"]["metrics"], pipeline["untrained"]["metrics"]
    print(f"\ntrained: sMOTSA {trained['sMOTSA']:.3f} IDF1 {trained['IDF1']:.3f} HOTA {trained['HOTA']:.3f} IDSW {trained['IDSW']}"
          f"\nuntrained: sMOTSA {untrained['sMOTSA']:.3f} IDF1 {untrained['IDF1']:.3f} HOTA {untrained['HOTA']:.3f}")
    assert trained["sMOTSA"] >= SMOTSA_MIN and trained["IDF1"] >= IDF1_MIN
    assert untrained["sMOTSA"] <= UNTRAINED_MAX and untrained["IDF1"] <= UNTRAINED_MAX


def test_trained_embeddings_separate_identities_better(pipeline):
    trained, untrained = pipeline["trained"]["auc"], pipeline["untrained"]["auc"]
    print(f"\nidentity ROC AUC: trained {trained:.3f}, untrained {untrained:.3f}")
    assert trained >= untrained + AUC_GAIN_MIN
