"""Triplet sampling without ground truth and the grouped batch-hard loss, on cases worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dior_cli.adapt.augment import AugmentSettings, box_view, strong_view
from dior_cli.adapt.crops import context_size, cut_context_crops
from dior_cli.adapt.loss import batch_hard_triplet_loss
from dior_cli.adapt.sampling import InterTrackletSampler, IntraFrameSampler, frame_groups


def at(*degrees: float) -> torch.Tensor:
    r = torch.deg2rad(torch.tensor(degrees, dtype=torch.float64))
    return torch.stack([torch.cos(r), torch.sin(r)], dim=1)


def test_batch_hard_loss_by_hand():
    """Views at 0 and 30 degrees (label 0) and 60 degrees (label 1), one group, margin 0.3.
    View 0: d_ap = 1 - cos 30 = 0.134, d_an = 1 - cos 60 = 0.5: 0. View 1: d_ap = 0.134,
    d_an = 1 - cos 30 = 0.134: 0.3. View 2 has no positive. Mean over two anchors: 0.15."""
    loss, used = batch_hard_triplet_loss(at(0, 30, 60), torch.tensor([0, 0, 1]), torch.tensor([0, 0, 0]), margin=0.3)
    assert used == 2 and float(loss) == pytest.approx(0.15, abs=1e-12)


def test_negatives_only_inside_a_group():
    """The same views, but the label-1 view is in another group: no anchor has a negative."""
    loss, used = batch_hard_triplet_loss(at(0, 30, 60), torch.tensor([0, 0, 1]), torch.tensor([0, 0, 1]), margin=0.3)
    assert used == 0 and float(loss) == 0.0


def test_hardest_pairs_are_taken():
    """Label 0 at 0, 10, 40 degrees; label 1 at 50 and 170 degrees. View 0: hardest positive 40
    (0.2340), hardest negative 50 (0.3572): 0.3 - 0.1232 = 0.1768."""
    loss, used = batch_hard_triplet_loss(at(0, 10, 40, 50, 170), torch.tensor([0, 0, 0, 1, 1]), torch.zeros(5, dtype=torch.long), margin=0.3)
    d = lambda a, b: 1 - np.cos(np.deg2rad(b - a))  # noqa: E731
    terms = [max(0, max(d(0, 10), d(0, 40)) - d(0, 50) + 0.3), max(0, max(d(10, 0), d(10, 40)) - d(10, 50) + 0.3),
             max(0, max(d(40, 0), d(40, 10)) - d(40, 50) + 0.3), max(0, d(50, 170) - d(50, 40) + 0.3), max(0, d(170, 50) - d(170, 40) + 0.3)]
    assert used == 5 and float(loss) == pytest.approx(np.mean(terms), abs=1e-12)
    assert terms[0] == pytest.approx(0.1768, abs=1e-4)


FRAMES = np.array([0, 0, 0, 1, 1, 2, 3, 3])
CLASSES = np.array([2, 2, 2, 2, 2, 2, 2, 1])


def test_frame_groups_need_two_labels_of_one_class():
    groups = frame_groups(FRAMES, CLASSES)
    assert [g.tolist() for g in groups] == [[0, 1, 2], [3, 4]]  # frame 2: one row; frame 3: two classes
    tracklets = np.array([0, 1, 1, 0, 1, 1, 0, 7])  # rows 1 and 2 cannot both be tracklet 1 in one frame; one is kept
    assert [g.tolist() for g in frame_groups(FRAMES, CLASSES, tracklets)] == [[0, 1], [3, 4]]


def test_intra_frame_batches():
    sampler = IntraFrameSampler(frame_groups(FRAMES, CLASSES), identities=4, max_per_group=3)
    for seed in range(20):
        batch = sampler(np.random.default_rng(seed))
        assert (batch.rows[0::2] == batch.rows[1::2]).all() and batch.strong.tolist() == [False, True] * (batch.rows.size // 2)
        assert (batch.labels == batch.rows).all() and batch.rows.size >= 8
        for g in np.unique(batch.groups):
            rows = batch.rows[batch.groups == g]
            assert np.unique(FRAMES[rows]).size == 1  # a group is one frame: its other labels are true negatives
            assert np.unique(rows).size == rows.size // 2


def test_inter_tracklet_batches():
    frames = np.array([0, 0, 1, 1, 2, 3])
    classes = np.full(6, 2)
    tracklet_of = np.array([0, 1, 0, 1, 0, 5])  # tracklet 0 in frames 0-2, 1 in frames 0-1, 5 alone at frame 3
    sampler = InterTrackletSampler(frames, classes, tracklet_of, identities=2, max_per_group=2)
    for seed in range(20):
        batch = sampler(np.random.default_rng(seed))
        anchors, positives = batch.rows[0::2], batch.rows[1::2]
        assert (tracklet_of[anchors] == tracklet_of[positives]).all() and (anchors != positives).all()
        assert (batch.labels == tracklet_of[batch.rows]).all()
        for g in np.unique(batch.groups):
            assert np.unique(frames[anchors[batch.groups[0::2] == g]]).size == 1  # anchors of a group share their frame
    with pytest.raises(ValueError, match="two short-term tracklets"):
        InterTrackletSampler(frames, classes, np.zeros(6, int), identities=2, max_per_group=2)


def test_context_crop_puts_the_box_in_the_centre():
    """A 40x20 box of value 200 on a 0 frame: its context crop at crop size 64x32 is 72x36, and
    the box view (central 64x32) is the box, the margin around it is the frame's 0."""
    image = np.zeros((100, 120, 3), np.uint8)
    image[30:70, 50:70] = 200
    crops = cut_context_crops(enumerate([image]), np.array([0]), np.array([[50.0, 30.0, 70.0, 70.0]]), (64, 32))
    assert crops.shape == (1, *context_size((64, 32)), 3) == (1, 72, 36, 3)
    view = box_view(crops[0], (64, 32)).astype(int)
    assert view[1:-1, 1:-1].min() == 200 and crops[0, :3].max() == 0 and crops[0, :, :1].max() == 0
    with pytest.raises(ValueError, match="frames end"):
        cut_context_crops(enumerate([image]), np.array([3]), np.array([[50.0, 30.0, 70.0, 70.0]]), (64, 32))


def test_strong_view_is_seeded_and_changes_pixels():
    rng = np.random.default_rng(0)
    context = rng.integers(0, 256, (72, 36, 3), dtype=np.uint8)
    a = strong_view(context, (64, 32), np.random.default_rng(5))
    b = strong_view(context, (64, 32), np.random.default_rng(5))
    assert a.shape == (64, 32, 3) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert np.abs(a.astype(int) - box_view(context, (64, 32)).astype(int)).mean() > 10
    none = AugmentSettings(jitter=0.0, flip_prob=0.0, colour=0.0, blur_prob=0.0, erase_prob=0.0)
    assert np.array_equal(strong_view(context, (64, 32), np.random.default_rng(1), none), box_view(context, (64, 32)))
