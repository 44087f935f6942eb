"""Adaptation raises identity separation on a constructed case the untrained encoder confuses.

Two look-alike "pedestrians" (the same red and blue horizontal stripes; one has a dark
10x8-pixel patch on its chest) walk side by side through 16 frames of a textured scene, each
frame with its own brightness, each sighting with its own exposure (x 0.55 to 1.45) and a
jitter of its position; both are in every frame, so every frame shows them apart. The encoder
is the shipped OSNet x0.25 (MSMT17; the test skips without it) on 64x32 crops (small crops
keep the test fast; OSNet is fully convolutional); before adaptation it ranks a same-identity
pair above a different-identity pair only about 80 % of the time here.

Separation is the ROC AUC of cosine similarity for same-identity pairs (different frames)
against different-identity pairs, computed as the Mann-Whitney U statistic by scipy
(``AUC = U / (n_same n_different)``), from ground truth the adaptation never sees.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from dior_cli.adapt.reembed import embed_box_views
from dior_cli.adapt.crops import cut_context_crops
from dior_cli.adapt.stage import adapt_sequence
from dior_cli.config import AdaptConfig
from dior_cli.formats.detections_json import DetectionsFile
from dior_cli.masks import encode
from dior_cli.model.osnet import load_osnet
from dior_cli.records import Detections
from tests.conftest import REPO, require

ONNX = REPO.parent / "shared" / "weights" / "osnet_x0_25_msmt17.onnx"

HEIGHT, WIDTH, FRAMES = 96, 160, 16
BOX_H, BOX_W = 48, 20
CROP = (64, 32)


def person(patch: bool, rng: np.random.Generator) -> np.ndarray:
    """``(BOX_H, BOX_W, 3)`` red and blue stripes 4 px high, with or without the dark chest patch."""
    yy = np.mgrid[0:BOX_H, 0:BOX_W][0]
    stripe = (yy // 4) % 2 == 0
    image = np.where(stripe[..., None], np.array([200, 60, 60]), np.array([60, 60, 200])).astype(np.float64)
    if patch:
        image[18:28, 6:14] = 30
    return image * rng.uniform(0.55, 1.45) + rng.normal(0, 8, image.shape)  # each sighting its own exposure


def scene():
    rng = np.random.default_rng(11)
    background = rng.uniform(90, 140, (HEIGHT // 8, WIDTH // 8, 3)).repeat(8, 0).repeat(8, 1)
    images, frame, boxes, rles, identity = [], [], [], [], []
    for t in range(FRAMES):
        image = background.copy()
        for k in range(2):
            y = 24 + int(rng.integers(-3, 4))
            x = 20 + 3 * t + 60 * k + int(rng.integers(-2, 3))
            image[y : y + BOX_H, x : x + BOX_W] = person(patch=k == 1, rng=rng)
            mask = np.zeros((HEIGHT, WIDTH), bool)
            mask[y : y + BOX_H, x : x + BOX_W] = True
            frame.append(t)
            boxes.append([x, y, x + BOX_W, y + BOX_H])
            rles.append(encode(mask))
            identity.append(k)
        images.append(np.clip(image * rng.uniform(0.8, 1.2), 0, 255).astype(np.uint8))
    dets = DetectionsFile(sequence="lookalikes", image_size=(HEIGHT, WIDTH), num_frames=FRAMES, fps=10.0, frame_base=0,
                          detections=Detections(frame=np.asarray(frame), class_id=np.full(len(frame), 2), score=np.ones(len(frame)),
                                                bbox_xyxy=np.asarray(boxes, np.float64), rles=rles))
    return images, dets, np.asarray(identity), np.asarray(frame)


def separation_auc(embeddings: np.ndarray, identity: np.ndarray, frame: np.ndarray) -> float:
    i, j = np.triu_indices(identity.size, k=1)
    keep = frame[i] != frame[j]
    i, j = i[keep], j[keep]
    similarity = np.einsum("kd,kd->k", embeddings[i], embeddings[j])
    same = identity[i] == identity[j]
    u = mannwhitneyu(similarity[same], similarity[~same], alternative="two-sided").statistic
    return float(u / (same.sum() * (~same).sum()))


@pytest.fixture(scope="module")
def adapted():
    model = load_osnet(require(ONNX))
    images, dets, identity, frame = scene()
    contexts = cut_context_crops(enumerate(images), dets.detections.frame, dets.detections.bbox_xyxy, CROP)
    before = embed_box_views(model, contexts, CROP)
    cfg = AdaptConfig(intra_steps=25, inter_steps=10, batch_identities=4, max_per_frame=2, learning_rate=3e-4, short_term_flow_scale=1.0)
    result = adapt_sequence(model, dets, lambda: enumerate(images), cfg=cfg, crop_size=CROP, reembed_from_frames=False)
    return before, result, identity, frame


def test_untrained_encoder_confuses_the_lookalikes(adapted):
    before, _, identity, frame = adapted
    assert separation_auc(before, identity, frame) < 0.85


def test_adaptation_raises_their_separation(adapted):
    before, result, identity, frame = adapted
    auc_before = separation_auc(before, identity, frame)
    auc_after = separation_auc(result.embeddings, identity, frame)
    assert auc_after > 0.95 and auc_after > auc_before + 0.1, (auc_before, auc_after)


def test_short_term_tracklets_follow_the_two_walkers(adapted):
    _, result, _, _ = adapted
    assert result.short_term_tracklets == 2  # 2 walkers through 16 frames, each linked from start to end
    assert result.intra.steps == 25 and result.inter.steps == 10
    assert all(np.isfinite(result.intra.losses)) and all(np.isfinite(result.inter.losses))


def test_seeded_runs_are_identical():
    images, dets, _, _ = scene()
    cfg = AdaptConfig(intra_steps=3, inter_steps=2, batch_identities=4, max_per_frame=2, learning_rate=3e-4, short_term_flow_scale=1.0)
    runs = [adapt_sequence(load_osnet(require(ONNX)), dets, lambda: enumerate(images), cfg=cfg, crop_size=CROP, reembed_from_frames=False)
            for _ in range(2)]
    assert np.array_equal(runs[0].embeddings, runs[1].embeddings) and runs[0].intra.losses == runs[1].intra.losses
    other = adapt_sequence(load_osnet(ONNX), dets, lambda: enumerate(images), cfg=dataclasses.replace(cfg, sampling_seed=1), crop_size=CROP,
                           reembed_from_frames=False)
    assert not np.array_equal(other.embeddings, runs[0].embeddings)
