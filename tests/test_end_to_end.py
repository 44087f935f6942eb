"""The whole pipeline learns: synth -> train (from scratch) -> infer -> track -> evaluate, on CPU.

A small DIOR configuration (ResNet-18 with GroupNorm, 96x128 frames, narrow heads;
``examples/train_tiny_cpu.yaml``) is trained from random weights on four synthetic
sequences, then run through ``dior infer``, ``dior track`` and ``dior evaluate`` on a
held-out synthetic sequence (synth0004: 40 frames, 237 object masks).

Determinism. The test fixes torch's thread count (1, whatever the machine has) and asks for
deterministic kernels, and every seed is fixed (train.seed; the anchor / proposal samplers'
own generator, seeded per step), so
on one machine and one set of library versions it gives the same numbers on every run.
Training from scratch is chaotic, though: a different float rounding (another CPU, another
library build, another thread count) changes the losses from about step 3 on and the model
that comes out. The thresholds are therefore set from the spread of two such draws, the same
training at 1 and at 2 threads on the dev machine (2 cores, torch 2.14.1, AVX-512):

    held-out sequence, class average                      1 thread       2 threads      asserted
    HOTA, trained, appearance + re-ID                     0.528          0.390          >= 0.30
    IDF1, trained, appearance + re-ID                     0.680          0.503          >= 0.40
    IDF1 gain over masks only, same trained detections    +0.072         +0.080         >= 0.03
    IDF1 gain over masks only, ground-truth masks         +0.068         +0.072         >= 0.03
    identity ROC AUC, trained (untrained)                 0.952 (0.789)  0.949 (0.789)  gain >= 0.10
    sMOTSA, trained, appearance + re-ID                   0.296          0.044          printed only

sMOTSA swings most (it subtracts false positives and ID switches from true positives, and
both draws sit near that balance), so it is reported, not asserted. Each threshold sits a fifth or more
under the lower draw, and each fails when training is broken: a detector that did
not learn finds nothing (HOTA and IDF1 0), an embedding head that did not learn adds no
identity over masks alone (gains about 0, as the untrained head's +0.000 on ground-truth
masks shows) and separates identities no better than at initialisation (AUC 0.789).

Since the samplers draw from their own generator (not torch's global one) the draws differ from
the table's; at 1 thread that code gave HOTA 0.522, IDF1 0.700, IDF1 gain +0.083 on
trained detections and +0.132 on ground-truth masks, AUC 0.968 (0.789), sMOTSA 0.281.
With the cosine identity classifier (``train.emb_classifier``'s default) and the tracker's gates
read from the data, the current code gives HOTA 0.477, IDF1 0.620, IDF1 gain +0.073 on trained
detections and +0.072 on ground-truth masks, AUC 0.941 (0.789), sMOTSA 0.225 at 1 thread
(README, dior train, compares it with the linear classifier over two seeds).

The baselines are fair ones: the same trained detections tracked on masks alone, the
ground-truth masks tracked on masks alone, and the untrained head's embeddings of the very
same ground-truth masks.
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

THREADS = 1  # fixed, so the result does not depend on the machine's core count
HOTA_MIN = 0.30  # trained, appearance + re-ID, class average over car and pedestrian
IDF1_MIN = 0.40
APPEARANCE_GAIN_MIN = 0.03  # IDF1 with appearance + re-ID over masks only, on the same masks
AUC_GAIN_MIN = 0.1  # trained embeddings' same-vs-different-identity ROC AUC over the untrained ones'


def _cli(*args: str) -> dict:
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def fixed_threads():
    """One torch thread and deterministic kernels for the module; the previous settings after."""
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory, fixed_threads) -> dict:
    """Train once; track the held-out sequence's detections (appearance + re-ID, and masks only), and
    its ground-truth masks embedded by the trained and by the untrained head."""
    root = tmp_path_factory.mktemp("e2e")
    held = root / "held"
    _cli("synth", str(root / "train"), "--sequences", "4", "--frames", "30", "--size", "96x128")
    _cli("synth", str(held), "--sequences", "1", "--first", "4", "--frames", "40", "--size", "96x128")
    summary = _cli("train", str(root / "train"), "--out", str(root / "run"), "--init", "none", "--device", "cpu", "--config", str(CONFIG))

    trained = Path(summary["weights"])
    model, _ = load_checkpoint(trained)
    torch.manual_seed(0)  # what training started from: the same configuration, random weights
    untrained = save_checkpoint(root / "untrained.pt", DiorNet(model.config))

    def tracked(dets: Path, name: str, *flags: str) -> dict:
        _cli("track", str(dets), "--out", str(root / name), *flags)
        return _cli("evaluate", "--gt", str(held), "--pred", str(root / name), "--out", str(root / f"{name}.metrics.json"))["combined"]["class_average"]

    results: dict = {"summary": summary}
    _cli("infer", str(held), "--out", str(root / "dets"), "--weights", str(trained), "--device", "cpu")
    results["detections"] = {"appearance": tracked(root / "dets", "tracks", "--offline-reid"),
                             "masks_only": tracked(root / "dets", "tracks_masks", "--masks-only")}
    for name, weights in (("trained", trained), ("untrained", untrained)):
        given = root / f"gt_dets_{name}"  # the ground-truth masks embedded by this checkpoint's head
        _cli("infer", str(held), "--out", str(given), "--detections", str(held / "instances_txt"),
             "--encoder", "dior", "--weights", str(weights), "--device", "cpu")
        results[name] = {"auc": _identity_auc(given, held), "appearance": tracked(given, f"gt_tracks_{name}", "--offline-reid")}
    results["ground_truth_masks_only"] = tracked(root / "gt_dets_trained", "gt_tracks_masks", "--masks-only")
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


def _line(name: str, m: dict) -> str:
    return f"{name}: HOTA {m['HOTA']:.3f} IDF1 {m['IDF1']:.3f} sMOTSA {m['sMOTSA']:.3f} IDSW {m['IDSW']}"


def test_training_lowers_the_losses(pipeline):
    """Mean of the last 20 steps against the first 20: classification, mask and objectness fall by
    30 % or more, the identity loss by half or more (it starts at ln(identities)). loss_box_reg is
    left out: it averages over the positive proposals, which are few and easy at the start.
    Measured at 1 thread: factors 0.40, 0.31, 0.11 and 0.17 (with the linear identity classifier,
    whose logits stay small on unit-length embeddings, loss_emb fell only to 0.77, at 1 and 2 threads)."""
    log = [json.loads(line) for line in (Path(pipeline["summary"]["out"]) / "train_log.jsonl").read_text().splitlines()]
    first, last = log[:20], log[-20:]
    for name, factor in (("loss_classifier", 0.7), ("loss_mask", 0.7), ("loss_objectness", 0.7), ("loss_emb", 0.5)):
        assert np.mean([e[name] for e in last]) < factor * np.mean([e[name] for e in first]), name


def test_trained_model_tracks_the_held_out_sequence(pipeline):
    tracked = pipeline["detections"]["appearance"]
    print(f"\n{_line('trained, appearance + re-ID', tracked)}\n{_line('trained, masks only', pipeline['detections']['masks_only'])}")
    assert tracked["HOTA"] >= HOTA_MIN and tracked["IDF1"] >= IDF1_MIN


def test_appearance_beats_masks_alone_on_the_same_detections(pipeline):
    gain = pipeline["detections"]["appearance"]["IDF1"] - pipeline["detections"]["masks_only"]["IDF1"]
    print(f"\nIDF1 gain of appearance + re-ID over masks only, trained detections: {gain:+.3f}")
    assert gain >= APPEARANCE_GAIN_MIN


def test_trained_embeddings_link_ground_truth_masks_better(pipeline):
    masks_only = pipeline["ground_truth_masks_only"]["IDF1"]
    trained, untrained = pipeline["trained"]["appearance"]["IDF1"], pipeline["untrained"]["appearance"]["IDF1"]
    print(f"\nground-truth masks: IDF1 masks only {masks_only:.3f}, trained embeddings {trained:.3f}, untrained {untrained:.3f}")
    assert trained - masks_only >= APPEARANCE_GAIN_MIN


def test_trained_embeddings_separate_identities_better(pipeline):
    trained, untrained = pipeline["trained"]["auc"], pipeline["untrained"]["auc"]
    print(f"\nidentity ROC AUC: trained {trained:.3f}, untrained {untrained:.3f}")
    assert trained >= untrained + AUC_GAIN_MIN
