"""``dior adapt --train-data``: ground-truth triplets from a labelled dataset, mixed 1:1 into
step 1's batches (ReMOTS sec. 2.2). Counts on real MOTChallenge ground truth are checked
against the files read here with numpy; the samplers against their definitions."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.adapt.labelled import LabelledSampler, LabelledViews, MixedSampler, StackedContexts, choose_views, read_labelled_views
from dior_cli.adapt.sampling import IntraFrameSampler, frame_groups
from dior_cli.cli import app
from dior_cli.errors import ConfigError
from tests.adapt.test_adapt_stage import ONNX, write_sequence
from tests.conftest import DATA, require

TUD = DATA / "mot_box_gt" / "TUD-Campus"
MOT17_MINI = DATA / "mot17_mini"
CROP = (32, 16)


def expected_views(gt: np.ndarray, views: int) -> int:
    """Rows ``choose_views`` keeps when no identity limit applies: per id seen in 2+ frames, min(views, frames)."""
    total = 0
    for ident in np.unique(gt[:, 1]):
        frames = np.unique(gt[gt[:, 1] == ident, 0])
        total += min(views, frames.size) if frames.size >= 2 else 0
    return total


def test_choose_views_by_hand():
    # id 7: frames 0..9 (one row each); id 8: frame 3 only (seen once: left out); id 9: frames 2, 5.
    identity = np.array([7] * 10 + [8] + [9, 9])
    frame = np.array(list(range(10)) + [3] + [2, 5])
    rows = choose_views(identity, frame, identities=10, views=4, rng=np.random.default_rng(0))
    # id 7: 4 views evenly over 10 frames -> positions round(linspace(0, 9, 4)) = 0, 3, 6, 9; id 9: both rows (11, 12).
    assert rows.tolist() == [0, 3, 6, 9, 11, 12]
    kept = choose_views(identity, frame, identities=1, views=4, rng=np.random.default_rng(0))
    assert np.unique(identity[kept]).size == 1 and 8 not in identity[kept]


def test_tud_campus_identities_and_views_match_the_file():
    require(TUD)
    gt = np.loadtxt(TUD / "gt" / "gt.txt", delimiter=",")  # MOT15: frame,id,x,y,w,h,-1 (every row a pedestrian)
    views = read_labelled_views(TUD, CROP, identities=1000, views=4, rng=np.random.default_rng(0))
    seen_twice = sum(np.unique(gt[gt[:, 1] == i, 0]).size >= 2 for i in np.unique(gt[:, 1]))
    assert views.sequences == ("TUD-Campus",)
    assert views.identities == seen_twice
    assert len(views.labels) == expected_views(gt, 4) == views.contexts.shape[0]
    assert views.contexts.shape[1:3] == (36, 18) and set(views.groups.tolist()) == {0}


def test_mot17_keeps_considered_pedestrians_only():
    require(MOT17_MINI)
    views = read_labelled_views(MOT17_MINI, CROP, identities=1000, views=3, rng=np.random.default_rng(0))
    expected_ids, expected_rows = 0, 0
    for k, name in enumerate(views.sequences):
        folder = MOT17_MINI / "train" / name
        frames = len(list((folder / "img1").glob("*.jpg")))
        gt = np.loadtxt(folder / "gt" / "gt.txt", delimiter=",", ndmin=2)
        gt = gt[(gt[:, 6] != 0) & (gt[:, 7] == 1) & (gt[:, 0] <= frames)]  # considered, class 1 (pedestrian)
        expected_ids += sum(np.unique(gt[gt[:, 1] == i, 0]).size >= 2 for i in np.unique(gt[:, 1]))
        expected_rows += expected_views(gt, 3)
        assert np.unique(views.labels[views.groups == k]).size > 0
    assert views.identities == expected_ids
    assert len(views.labels) == expected_rows
    # labels are unique across sequences: no label appears in two groups
    for label in np.unique(views.labels):
        assert np.unique(views.groups[views.labels == label]).size == 1


def test_missing_or_unlabelled_train_data_is_a_clear_error(tmp_path):
    with pytest.raises(Exception, match="does not exist"):
        read_labelled_views(tmp_path / "nope", CROP, identities=5, views=2, rng=np.random.default_rng(0))
    (tmp_path / "frames").mkdir()
    cv2.imwrite(str(tmp_path / "frames" / "000000.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ConfigError, match="frames: no ground truth, not used"):  # an image folder: frames, no identities
        read_labelled_views(tmp_path / "frames", CROP, identities=5, views=2, rng=np.random.default_rng(0))


def toy_views() -> LabelledViews:
    # two sequences; sequence 0: labels 0, 1, 2 (3 views each); sequence 1: labels 3, 4 (2 views each)
    labels = np.array([0] * 3 + [1] * 3 + [2] * 3 + [3] * 2 + [4] * 2)
    groups = np.array([0] * 9 + [1] * 4)
    contexts = np.arange(len(labels), dtype=np.uint8)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    return LabelledViews(contexts, labels, groups, ("a", "b"), ())


def test_labelled_batches_pair_two_views_of_one_identity_within_one_sequence():
    views = toy_views()
    sampler = LabelledSampler(views, identities=4, max_per_group=3)
    rng = np.random.default_rng(1)
    for _ in range(20):
        batch = sampler(rng)
        anchors, positives = batch.rows[0::2], batch.rows[1::2]
        assert len(anchors) >= 4
        assert (anchors != positives).all()  # another view, not the anchor itself
        assert (views.labels[anchors] == views.labels[positives]).all() and (batch.labels == views.labels[batch.rows]).all()
        for g in np.unique(batch.groups):  # a batch group is one sequence, with distinct identities
            rows = batch.rows[batch.groups == g]
            assert np.unique(views.groups[rows]).size == 1
            assert np.unique(views.labels[rows]).size == rows.size // 2
        assert not batch.strong.any()


def test_mixed_batches_are_half_and_half_and_never_mix_label_spaces():
    views = toy_views()
    frames = np.array([0, 0, 0, 1, 1, 1])
    own = IntraFrameSampler(frame_groups(frames, np.full(6, 2)), identities=2, max_per_group=2)
    mixed = MixedSampler(own, LabelledSampler(views, identities=2, max_per_group=2), target_rows=6)
    stacked = StackedContexts(np.full((6, 2, 2, 3), 200, np.uint8), views.contexts)
    batch = mixed(np.random.default_rng(2))
    target = batch.rows < 6
    assert target.sum() == (~target).sum() == 4  # 2 identities x 2 views from each side
    assert (batch.labels[target] >= 0).all() and (batch.labels[~target] < 0).all()
    assert (batch.groups[target] >= 0).all() and (batch.groups[~target] < 0).all()
    assert all(stacked[int(r)][0, 0, 0] == r - 6 for r in batch.rows[~target])  # labelled rows index the second array
    assert all(stacked[int(r)][0, 0, 0] == 200 for r in batch.rows[target])
    assert len(stacked) == 6 + len(views.labels)


def test_dior_adapt_with_train_data_end_to_end(tmp_path):
    require(ONNX)
    write_sequence(tmp_path)
    seq = tmp_path / "labelled" / "MOT-toy"  # a MOTChallenge sequence: two people crossing 4 frames
    (seq / "img1").mkdir(parents=True)
    (seq / "gt").mkdir()
    lines = []
    for t in range(4):
        image = np.full((80, 120, 3), 90, np.uint8)
        for k, colour in enumerate(((250, 200, 0), (0, 200, 250))):
            x = 10 + 8 * t + 50 * k
            image[20:60, x:x + 14] = colour
            lines.append(f"{t + 1},{k + 1},{x},20,14,40,1,1,1.0")
        cv2.imwrite(str(seq / "img1" / f"{t + 1:06d}.jpg"), image)
    (seq / "gt" / "gt.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "adapted"
    result = CliRunner().invoke(app, ["adapt", str(tmp_path / "dets"), "--frames", str(tmp_path / "frames"), "--out", str(out),
                                      "--train-data", str(tmp_path / "labelled"), "--device", "cpu", "--json", "--plot",
                                      "--set", "intra_steps=1", "--set", "inter_steps=1", "--set", "batch_identities=4",
                                      "--set", "max_per_frame=2"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout[result.stdout.index("{"):result.stdout.rindex("}") + 1])
    assert summary["train_data"]["sequences"] == ["MOT-toy"]
    assert summary["train_data"]["identities"] == 2 and summary["train_data"]["views"] == 8
    assert (out / "walk.npy").is_file() and (out / "walk.osnet.pt").is_file()
    figure = cv2.imread(str(out / "walk.separation.png"))
    assert figure is not None and figure.shape == (600, 640, 3)
    walk = summary["sequences"]["walk"]
    assert set(walk["histogram_overlap"]) == {"before", "after"} and 0.0 <= walk["histogram_overlap"]["after"] <= 1.0
    bad = CliRunner().invoke(app, ["adapt", str(tmp_path / "dets"), "--frames", str(tmp_path / "frames"), "--out", str(tmp_path / "x"),
                                   "--train-data", str(tmp_path / "missing"), "--device", "cpu"])
    assert bad.exit_code == 1 and "does not exist" in bad.output


def test_histogram_overlap_by_hand():
    from dior_cli.association.similarity_plot import overlap

    a = np.array([0.1, 0.1, 0.9, 0.9])  # half in the bin of 0.1, half in that of 0.9 (50 bins of width 0.04)
    assert overlap(a, a) == pytest.approx(1.0)
    assert overlap(a, np.array([-0.5, -0.5])) == pytest.approx(0.0)
    assert overlap(a, np.array([0.9])) == pytest.approx(0.5)  # shares the 0.9 bin: min(0.5, 1) = 0.5
    assert overlap(a, np.zeros(0)) is None
