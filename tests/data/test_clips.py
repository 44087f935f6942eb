"""Training clips on the KITTI-MOTS and MOTS20 layouts, built from real KITTI-MOTS annotations.

Fixtures cut the real sequences 0000 and 0015 to their first 10 frames and write generated
frames of the annotations' size: frame f is filled with the colour ``background(f)``, its
objects (classes 1, 2) are painted white and its ignore regions green, so a test can tell
which frame a clip holds and check that masks sit on their pixels after augmentation.

Counted by hand from the txt files (frames 0-9, object ids per frame, file order):
  0000: frames 0-4 ``2002 10000``; frames 5-9 ``10000`` only.
  0015: 0-1 ``2000``; 2 ``1001``; 3-6 ``1001 1002``; 7-8 ``1001 1002 2024``; 9 ``1002 2024``;
        every frame also ``10000``.
The fixture drops every row of 0000's frame 7, which makes it a frame with nothing at all.
"""

from __future__ import annotations

import functools
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from dior_cli.data.augment import AugmentParams, ClipAugment, apply_augment
from dior_cli.data.clips import (
    MotsClipDataset,
    boxes_from_masks,
    clip_frames,
    collate_clips,
    sample_generator,
)
from dior_cli.errors import ConfigError, FormatError, InputNotFound
from dior_cli.formats.kitti_png import write_kitti_png_folder
from dior_cli.formats.mots_txt import read_mots_txt, write_mots_txt
from dior_cli.masks import bbox_xyxy, decode, encode
from dior_cli.model.config import LABEL_TO_CLASS
from dior_cli.records import MotsRows
from tests.builders import mots20_fixture_from_kitti
from tests.conftest import KITTI_TXT, require

FRAMES = 10
OBJECT_RGB = (255, 255, 255)
IGNORE_RGB = (0, 255, 0)
CAR_LABEL = next(label for label, class_id in LABEL_TO_CLASS.items() if class_id == 1)
PED_LABEL = next(label for label, class_id in LABEL_TO_CLASS.items() if class_id == 2)
KITTI_IDENTITIES = [("0000", 2002), ("0015", 1001), ("0015", 1002), ("0015", 2000), ("0015", 2024)]
NO_JITTER = {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0}


def background(frame: int) -> tuple[int, int, int]:
    return (10 + 20 * frame, 100, 50)


@functools.cache
def _whole_file(name: str) -> MotsRows:
    return read_mots_txt(require(KITTI_TXT) / f"{name}.txt", 0)


def real_rows(name: str, drop_frames: tuple[int, ...] = (), frames: int = FRAMES) -> MotsRows:
    rows = _whole_file(name)
    return rows[np.flatnonzero((rows.frame < frames) & ~np.isin(rows.frame, drop_frames))]


def write_frames(folder: Path, rows: MotsRows, num_frames: int, image_size: tuple[int, int], first_number: int = 0) -> None:
    """PNG frames: background colour of the frame, objects white, ignore regions green."""
    folder.mkdir(parents=True)
    for frame in range(num_frames):
        image = np.empty((*image_size, 3), np.uint8)
        image[:] = background(frame)
        for i in np.flatnonzero(rows.frame == frame):
            image[decode(rows.rles[i]) > 0] = IGNORE_RGB if rows.class_id[i] == 10 else OBJECT_RGB
        cv2.imwrite(str(folder / f"{frame + first_number:06d}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))


def build_kitti(root: Path, sequences: dict[str, tuple[int, ...]], frames: int = FRAMES, png_instances: bool = False) -> Path:
    """KITTI-MOTS layout: ``images/<seq>/`` and ``instances_txt/<seq>.txt`` (or ``instances/<seq>/``)."""
    for name, dropped in sequences.items():
        rows = real_rows(name, dropped, frames)
        if png_instances:
            write_kitti_png_folder(root / "instances" / name, rows, frames, rows.image_size)
        else:
            write_mots_txt(root / "instances_txt" / f"{name}.txt", rows, 0)
        write_frames(root / "images" / name, rows, frames, rows.image_size)
    return root


@pytest.fixture(scope="module")
def kitti_root(tmp_path_factory) -> Path:
    return build_kitti(tmp_path_factory.mktemp("kitti"), {"0000": (7,), "0015": ()})


@pytest.fixture(scope="module")
def kitti(kitti_root) -> MotsClipDataset:
    return MotsClipDataset(kitti_root)


@pytest.fixture(scope="module")
def mots20_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mots20")
    cut = root / "cut_0015.txt"
    write_mots_txt(cut, real_rows("0015", drop_frames=(4,)), 0)
    mots20_fixture_from_kitti(root, cut, "MOTS20-15", num_images=FRAMES)  # grey JPEG frame i = (37 i) mod 255
    test_folder, _, _ = mots20_fixture_from_kitti(root, cut, "MOTS20-01", split="test")
    (test_folder / "gt" / "gt.txt").unlink()  # a test sequence: no ground truth
    return root


def frame_of(image: torch.Tensor) -> int:
    """Which fixture frame a ``(3, H, W)`` image is: the most common red value is its background."""
    red = np.rint(image[0].numpy() * 255).astype(np.int64).ravel()
    return (int(np.bincount(red).argmax()) - 10) // 20


def objects_of(rows: MotsRows, frame: int) -> np.ndarray:
    return np.flatnonzero((rows.frame == frame) & (rows.class_id != 10))


def ignores_of(rows: MotsRows, frame: int) -> np.ndarray:
    return np.flatnonzero((rows.frame == frame) & (rows.class_id == 10))


# ------------------------------------------------------------------ clip boundaries
@pytest.mark.parametrize(("t", "num_frames", "expected"), [
    (0, 5, (1, 0, 1)), (4, 5, (3, 4, 3)), (2, 5, (1, 2, 3)), (0, 2, (1, 0, 1)), (1, 2, (0, 1, 0)), (0, 1, (0, 0, 0)),
])
def test_clip_frames_repeat_the_other_neighbour_at_the_ends(t, num_frames, expected):
    assert clip_frames(t, num_frames) == expected


def test_kitti_samples_run_through_sequences_in_order(kitti):
    assert kitti.sequences == ("0000", "0015")
    assert len(kitti) == 20
    assert [kitti.sample_key(i) for i in (0, 9, 10, 19)] == [("0000", 0), ("0000", 9), ("0015", 0), ("0015", 9)]
    with pytest.raises(IndexError):
        kitti.sample_key(20)


@pytest.mark.parametrize(("index", "frames"), [(0, (1, 0, 1)), (9, (8, 9, 8)), (14, (3, 4, 5)), (10, (1, 0, 1)), (19, (8, 9, 8))])
def test_kitti_clips_hold_the_neighbouring_frames(kitti, index, frames):
    clip, _ = kitti[index]
    assert clip.shape == (3, 3, 370 if index >= 10 else 375, 1224 if index >= 10 else 1242)
    assert clip.dtype == torch.float32 and 0.0 <= float(clip.min()) and float(clip.max()) <= 1.0
    assert tuple(frame_of(image) for image in clip) == frames


def test_one_frame_sequence_repeats_its_frame(tmp_path):
    dataset = MotsClipDataset(build_kitti(tmp_path, {"0000": ()}, frames=1))
    assert len(dataset) == 1
    clip, target = dataset[0]
    assert torch.equal(clip[0], clip[1]) and torch.equal(clip[2], clip[1]) and frame_of(clip[1]) == 0
    assert target["identities"].tolist() == [0]


# ------------------------------------------------------------------ identities and labels
def test_identities_are_one_index_per_track_sorted_by_sequence_then_obj_id(kitti):
    assert kitti.num_identities == 5
    assert list(kitti.identity_keys) == KITTI_IDENTITIES


@pytest.mark.parametrize(("index", "identities", "labels"), [
    (0, [0], [PED_LABEL]),  # 0000 frame 0: 2002
    (4, [0], [PED_LABEL]),  # 0000 frame 4: 2002 again
    (10, [3], [PED_LABEL]),  # 0015 frame 0: 2000
    (13, [1, 2], [CAR_LABEL, CAR_LABEL]),  # 0015 frame 3: 1001 1002
    (17, [1, 2, 4], [CAR_LABEL, CAR_LABEL, PED_LABEL]),  # 0015 frame 7: 1001 1002 2024
    (19, [2, 4], [CAR_LABEL, PED_LABEL]),  # 0015 frame 9: 1002 2024
])
def test_identity_and_label_of_each_object(kitti, index, identities, labels):
    _, target = kitti[index]
    assert target["identities"].dtype == torch.int64 and target["labels"].dtype == torch.int64
    assert target["identities"].tolist() == identities
    assert target["labels"].tolist() == labels


def test_masks_are_the_ground_truth_of_their_identity(kitti):
    rows = real_rows("0015")
    _, target = kitti[17]  # 0015 frame 7
    for mask, identity in zip(target["masks"], target["identities"].tolist()):
        obj_id = KITTI_IDENTITIES[identity][1]
        row = np.flatnonzero((rows.frame == 7) & (rows.obj_id == obj_id))[0]
        assert np.array_equal(mask.numpy(), decode(rows.rles[row]))
    assert target["masks"].dtype == torch.uint8


def test_selection_does_not_change_the_identity_order(kitti_root, tmp_path):
    reordered = MotsClipDataset(kitti_root, sequences=["0015", "0000"])
    assert reordered.sequences == ("0015", "0000")
    assert reordered.sample_key(0) == ("0015", 0)
    assert list(reordered.identity_keys) == KITTI_IDENTITIES
    only = MotsClipDataset(kitti_root, sequences=["0015"])
    assert len(only) == 10 and list(only.identity_keys) == KITTI_IDENTITIES[1:]
    assert only[7][1]["identities"].tolist() == [0, 1, 3]  # 1001 1002 2024 among 1001 1002 2000 2024
    seqmap = tmp_path / "train.seqmap"
    seqmap.write_text("0015 empty 0000 000009\n")
    by_seqmap = MotsClipDataset(kitti_root, seqmap=seqmap)
    assert by_seqmap.sequences == ("0015",) and by_seqmap.num_identities == 4


# ------------------------------------------------------------------ ignore regions and empty frames
def test_ignore_regions_appear_only_in_ignore_targets(kitti):
    for index in (0, 5, 7, 9, 10, 13, 17, 19):  # every kind of frame: objects, ignore only, nothing, ends
        name, frame = kitti.sample_key(index)
        rows = real_rows(name, drop_frames=(7,) if name == "0000" else ())
        clip, target = kitti[index]
        objects, regions = objects_of(rows, frame), ignores_of(rows, frame)
        assert target["masks"].shape[0] == len(objects) and target["ignore_masks"].shape[0] == len(regions)
        for k, row in enumerate(regions):
            assert np.array_equal(target["ignore_masks"][k].numpy(), decode(rows.rles[row]))
        assert np.array_equal(target["ignore_boxes"].numpy(), bbox_xyxy([rows.rles[r] for r in regions]).astype(np.float32))
        centre = np.rint(clip[1].permute(1, 2, 0).numpy() * 255).astype(np.uint8)  # (H, W, 3)
        assert (centre[target["ignore_masks"].sum(0).numpy() > 0] == IGNORE_RGB).all()
        assert (centre[target["masks"].sum(0).numpy() > 0] == OBJECT_RGB).all()


def test_empty_frames_give_empty_tensors_of_the_right_shapes(kitti):
    _, nothing = kitti[7]  # 0000 frame 7: the fixture removed its rows
    expected = {"boxes": ((0, 4), torch.float32), "labels": ((0,), torch.int64), "masks": ((0, 375, 1242), torch.uint8),
                "identities": ((0,), torch.int64), "ignore_boxes": ((0, 4), torch.float32), "ignore_masks": ((0, 375, 1242), torch.uint8)}
    for key, (shape, dtype) in expected.items():
        assert (tuple(nothing[key].shape), nothing[key].dtype) == (shape, dtype), key
    assert int(nothing["num_dropped"]) == 0 and int(nothing["num_dropped_ignore"]) == 0
    _, only_ignore = kitti[5]  # 0000 frame 5: one ignore region, no object
    assert only_ignore["boxes"].shape == (0, 4) and only_ignore["ignore_boxes"].shape == (1, 4)


# ------------------------------------------------------------------ boxes
def test_boxes_from_masks_by_hand():
    masks = torch.zeros((3, 5, 6), dtype=torch.uint8)
    masks[0, 1, 2] = masks[0, 3, 4] = 1  # rows 1..3, columns 2..4
    masks[1, 0, 0] = 1  # one pixel in the corner
    masks[2] = 1  # everything
    assert boxes_from_masks(masks).tolist() == [[2, 1, 5, 4], [0, 0, 1, 1], [0, 0, 6, 5]]
    assert boxes_from_masks(masks).dtype == torch.float32
    assert boxes_from_masks(torch.zeros((0, 5, 6), dtype=torch.uint8)).shape == (0, 4)
    with pytest.raises(ValueError, match="empty"):
        boxes_from_masks(torch.zeros((1, 5, 6), dtype=torch.uint8))


def test_boxes_are_the_tight_boxes_of_the_ground_truth(kitti):
    rows = real_rows("0015")
    _, target = kitti[17]
    expected = bbox_xyxy([rows.rles[r] for r in objects_of(rows, 7)])  # pycocotools' toBbox, x2 = x + w
    assert np.array_equal(target["boxes"].numpy(), expected.astype(np.float32))


# ------------------------------------------------------------------ MOTS20 layout and instance PNGs
def test_mots20_layout_numbers_frames_from_one(mots20_root):
    dataset = MotsClipDataset(mots20_root)
    assert dataset.sequences == ("MOTS20-15",)
    assert any("MOTS20-01" in note for note in dataset.notes)  # the test sequence, left out and said so
    assert len(dataset) == 10 and dataset.sample_key(0) == ("MOTS20-15", 0)
    assert list(dataset.identity_keys) == [("MOTS20-15", 2000), ("MOTS20-15", 2024)]  # pedestrians only
    grey = {0: 0, 1: 37, 8: 41, 9: 78}  # (37 * file index) mod 255; file index = frame
    for index, frames in ((0, (1, 0, 1)), (9, (8, 9, 8))):
        clip, _ = dataset[index]
        assert np.allclose(clip.mean(dim=(1, 2, 3)).numpy() * 255, [grey[f] for f in frames], atol=2)
    _, frame0 = dataset[0]
    assert frame0["identities"].tolist() == [0] and frame0["labels"].tolist() == [PED_LABEL]
    _, frame7 = dataset[7]
    assert frame7["identities"].tolist() == [1] and frame7["ignore_masks"].shape[0] == 1
    _, frame3 = dataset[3]  # cars only in KITTI: nothing left but the ignore region
    assert frame3["boxes"].shape == (0, 4) and frame3["ignore_boxes"].shape == (1, 4)
    _, frame4 = dataset[4]  # every row removed
    assert frame4["masks"].shape == (0, 370, 1224) and frame4["ignore_masks"].shape == (0, 370, 1224)


def test_mots20_masks_are_read_at_their_zero_based_frame(mots20_root):
    dataset = MotsClipDataset(mots20_root, sequences=["MOTS20-15"])
    rows = real_rows("0015")
    _, target = dataset[8]  # gt.txt line "9 2024 2 ..." is frame 8
    row = np.flatnonzero((rows.frame == 8) & (rows.obj_id == 2024))[0]
    assert np.array_equal(target["masks"][0].numpy(), decode(rows.rles[row]))


def test_instance_pngs_give_the_same_targets_as_txt(kitti, tmp_path):
    from_png = MotsClipDataset(build_kitti(tmp_path, {"0000": (7,)}, png_instances=True))
    for index in (0, 4, 5, 7, 9):  # objects, ignore only, nothing at all, last frame
        _, a = from_png[index]
        _, b = kitti[index]
        for key in ("boxes", "labels", "masks", "identities", "ignore_boxes", "ignore_masks"):
            assert torch.equal(a[key], b[key]), (index, key)


# ------------------------------------------------------------------ augmentation
def test_flip_mirrors_frames_masks_and_boxes_together(kitti_root, kitti):
    flipped = MotsClipDataset(kitti_root, augment=ClipAugment(flip_prob=1.0, scale_range=(1.0, 1.0), **NO_JITTER))
    clip, target = flipped[17]
    plain_clip, plain = kitti[17]
    width = plain_clip.shape[-1]
    assert torch.equal(clip, plain_clip.flip(-1))
    assert torch.equal(target["masks"], plain["masks"].flip(-1))
    x1, y1, x2, y2 = plain["boxes"].unbind(1)
    assert torch.equal(target["boxes"], torch.stack([width - x2, y1, width - x1, y2], dim=1))
    centre = np.rint(clip[1].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
    assert (centre[target["masks"].sum(0).numpy() > 0] == OBJECT_RGB).all()  # the white pixels moved with the masks


def test_zoom_and_flip_keep_masks_on_their_pixels(kitti_root):
    augment = ClipAugment(flip_prob=0.5, scale_range=(0.6, 1.6), **NO_JITTER)
    dataset = MotsClipDataset(kitti_root, sequences=["0015"], augment=augment, seed=5)
    rows = real_rows("0015")
    kernel = np.ones((5, 5), np.uint8)  # 2 output pixels each way reach >= 1 input pixel at zoom <= 1.6
    seen = set()
    for index in (0, 4, 5, 9):  # with seed 5: flip or not, zoom in and out
        params = augment.draw(sample_generator(5, 0, index))
        seen.add((params.flip, params.scale > 1))
        clip, target = dataset.load(index, 0)
        assert target["masks"].shape[0] + int(target["num_dropped"]) == len(objects_of(rows, index))
        centre = np.rint(clip[1].permute(1, 2, 0).numpy() * 255).astype(np.uint8)  # (H, W, 3)
        for masks, colour in ((target["masks"], OBJECT_RGB), (target["ignore_masks"], IGNORE_RGB)):
            for mask in masks.numpy():
                interior = cv2.erode(mask, kernel) > 0  # bilinear samples there read only this mask's pixels
                assert interior.any() and (centre[interior] == colour).all()
        outside = cv2.erode((target["masks"].sum(0) + target["ignore_masks"].sum(0) == 0).numpy().astype(np.uint8), kernel) > 0
        assert not (centre[outside] == OBJECT_RGB).all(axis=1).any() and not (centre[outside] == IGNORE_RGB).all(axis=1).any()
        for mask, box in zip(target["masks"].numpy(), target["boxes"].numpy()):
            ys, xs = np.nonzero(mask)
            assert box.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
    assert {flip for flip, _ in seen} == {True, False} and {zoom_in for _, zoom_in in seen} == {True, False}


def test_zoom_in_drops_objects_that_leave_the_frame_and_counts_them(kitti_root):
    dataset = MotsClipDataset(kitti_root, sequences=["0015"], augment=ClipAugment(flip_prob=0.0, scale_range=(3.0, 3.0), **NO_JITTER))
    rows = real_rows("0015")
    dropped = 0
    for index in (5, 6, 7):  # 2, 2 and 3 objects; a x3 zoom keeps a third of each side
        _, target = dataset[index]
        kept = target["masks"].shape[0]
        assert kept + int(target["num_dropped"]) == len(objects_of(rows, index))
        assert target["ignore_masks"].shape[0] + int(target["num_dropped_ignore"]) == 1  # one region per frame
        assert bool((target["masks"].flatten(1).sum(1) > 0).all())
        assert bool((target["boxes"][:, 2:] > target["boxes"][:, :2]).all())
        dropped += int(target["num_dropped"])
    assert dropped > 0


def test_the_three_frames_of_a_clip_get_the_same_augmentation():
    a, b = torch.rand(2, 3, 24, 32, generator=torch.Generator().manual_seed(1))
    masks = torch.zeros((1, 24, 32), dtype=torch.uint8)
    masks[0, 5:15, 3:9] = 1
    augment = ClipAugment(hue=0.1)
    for seed in range(5):
        out_aab, m1, _ = augment(torch.stack([a, a, b]), masks, masks[:0], torch.Generator().manual_seed(seed))
        out_baa, m2, _ = augment(torch.stack([b, a, a]), masks, masks[:0], torch.Generator().manual_seed(seed))
        assert torch.allclose(out_aab[0], out_aab[1], atol=1e-6)  # same frame in, same frame out
        assert torch.allclose(out_aab[1], out_baa[2], atol=1e-6)  # whatever its place in the clip
        assert torch.allclose(out_aab[2], out_baa[0], atol=1e-6)
        assert torch.equal(m1, m2)


def test_zoom_places_content_by_hand():
    clip = torch.zeros((3, 3, 4, 4))
    clip[:, :, :2, :2] = 1.0  # top-left 2x2 block lit
    masks = torch.zeros((1, 4, 4), dtype=torch.uint8)
    masks[0, :2, :2] = 1
    # zoom x2 keeping the top-left window: output pixel centres 0.5..3.5 sample input 0.25..1.75
    # (pixel units, edges at integers): nearest = pixels 0, 0, 1, 1, all in the block; bilinear
    # at 1.75 mixes pixel 1 (lit) and pixel 2 (dark) as 0.75 / 0.25, elsewhere lit pixels only
    out, out_masks, _ = apply_augment(AugmentParams(scale=2.0, anchor_y=0.0, anchor_x=0.0), clip, masks, masks[:0])
    assert out_masks[0].tolist() == [[1] * 4] * 4
    expected = torch.tensor([1.0, 1.0, 1.0, 0.75])
    assert torch.allclose(out[0, 0], expected[:, None] * expected[None, :])
    # zoom x0.5 with the shrunk frame's edge at 0.625 * (4 - 2) = 1.25: output centres 0.5 .. 3.5
    # sample input (p - 1.25) / 0.5 = -1.5, 0.5, 2.5, 4.5: outside, pixel 0 (lit), pixel 2, outside
    _, small, _ = apply_augment(AugmentParams(scale=0.5, anchor_y=0.625, anchor_x=0.625), clip, masks, masks[:0])
    assert small[0].tolist() == [[0, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]


def test_draw_takes_the_same_numbers_whatever_the_settings():
    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    p1 = ClipAugment(flip_prob=0.0, brightness=0.0).draw(g1)
    p2 = ClipAugment(flip_prob=1.0, brightness=0.5).draw(g2)
    assert p1.scale == p2.scale and p1.anchor_x == p2.anchor_x and p1.contrast == p2.contrast
    assert (p1.flip, p2.flip, p1.brightness) == (False, True, 1.0)
    assert torch.equal(g1.get_state(), g2.get_state())


def test_augmentation_is_a_function_of_seed_epoch_and_index(kitti_root):
    dataset = MotsClipDataset(kitti_root, augment=ClipAugment(), seed=3)
    again = MotsClipDataset(kitti_root, augment=ClipAugment(), seed=3)
    other_seed = MotsClipDataset(kitti_root, augment=ClipAugment(), seed=4)
    clip, target = dataset.load(13, 2)
    clip2, target2 = again.load(13, 2)
    assert torch.equal(clip, clip2) and all(torch.equal(target[k], target2[k]) for k in target)
    again.set_epoch(2)
    assert torch.equal(again[13][0], clip)  # __getitem__ uses the epoch set
    assert not torch.equal(dataset.load(13, 3)[0], clip)  # another epoch, another augmentation
    assert not torch.equal(other_seed.load(13, 2)[0], clip)
    assert not torch.equal(dataset.load(14, 2)[0][0], clip[1])  # another sample, another draw (frame 4 vs 4)


def test_bad_augmentation_settings_are_config_errors():
    for kwargs in ({"flip_prob": 1.5}, {"scale_range": (1.2, 0.8)}, {"scale_range": (0.0, 1.0)}, {"brightness": 1.0}, {"hue": 0.6}):
        with pytest.raises(ConfigError):
            ClipAugment(**kwargs)


def test_collate_keeps_clips_and_targets_as_lists(kitti):
    clips, targets = collate_clips([kitti[0], kitti[10]])
    assert [tuple(c.shape) for c in clips] == [(3, 3, 375, 1242), (3, 3, 370, 1224)]
    assert [t["identities"].tolist() for t in targets] == [[0], [3]]


# ------------------------------------------------------------------ errors
def test_selection_errors(kitti_root, tmp_path):
    with pytest.raises(ConfigError, match="0042"):
        MotsClipDataset(kitti_root, sequences=["0042"])
    with pytest.raises(ConfigError, match="not both"):
        MotsClipDataset(kitti_root, sequences=["0000"], seqmap=tmp_path / "x.seqmap")
    with pytest.raises(ConfigError, match="more than once"):
        MotsClipDataset(kitti_root, sequences=["0000", "0000"])
    seqmap = tmp_path / "bad.seqmap"
    seqmap.write_text("0042 empty 0 9\n")
    with pytest.raises(FormatError, match="0042") as caught:
        MotsClipDataset(kitti_root, seqmap=seqmap)
    assert caught.value.path == str(seqmap)


def test_selected_sequence_without_ground_truth_is_an_error(mots20_root):
    with pytest.raises(FormatError, match="no ground truth") as caught:
        MotsClipDataset(mots20_root, sequences=["MOTS20-15", "MOTS20-01"])
    assert caught.value.sequence == "MOTS20-01"


def test_missing_image_in_the_middle_names_the_frame(kitti_root, tmp_path):
    root = tmp_path / "root"
    shutil.copytree(kitti_root, root)
    (root / "images" / "0015" / "000004.png").unlink()
    with pytest.raises(FormatError, match="frame 4 has no image") as caught:
        MotsClipDataset(root)
    assert (caught.value.sequence, caught.value.frame) == ("0015", 4)


def test_missing_last_image_of_a_mots20_sequence_names_the_frame(mots20_root, tmp_path):
    """The images present decide a MOTS20 sequence's length (as for every command): 9 frames, so the
    ground truth of frame 10 (1-based) lies past the sequence, and the error names its line."""
    root = tmp_path / "root"
    shutil.copytree(mots20_root, root)
    (root / "train" / "MOTS20-15" / "img1" / "000010.jpg").unlink()
    with pytest.raises(FormatError, match="frame 10 is past the sequence's last frame 9") as caught:
        MotsClipDataset(root)
    assert caught.value.sequence == "MOTS20-15" and caught.value.path.endswith("gt.txt") and caught.value.line is not None


def test_frames_of_another_size_than_the_annotations(tmp_path):
    root = build_kitti(tmp_path, {"0000": ()}, frames=2)
    for path in (root / "images" / "0000").iterdir():
        cv2.imwrite(str(path), np.zeros((100, 200, 3), np.uint8))
    with pytest.raises(FormatError, match="375x1242 differs from the sequence's 100x200") as caught:
        MotsClipDataset(root)
    assert caught.value.sequence == "0000" and caught.value.path.endswith("0000.txt")


def test_one_frame_of_another_size_fails_when_read(tmp_path):
    root = build_kitti(tmp_path, {"0000": ()}, frames=3)
    odd = root / "images" / "0000" / "000002.png"
    cv2.imwrite(str(odd), np.zeros((100, 200, 3), np.uint8))
    dataset = MotsClipDataset(root)
    dataset[0]  # frames 1, 0, 1 are fine
    with pytest.raises(FormatError, match="100x200") as caught:
        dataset[1]  # frames 0, 1, 2
    assert caught.value.path == str(odd) and caught.value.frame == 2


def test_sequence_without_images_is_an_error(tmp_path):
    root = build_kitti(tmp_path, {"0000": (), "0015": ()}, frames=2)
    shutil.rmtree(root / "images" / "0000")
    for selection in (None, ["0000"]):
        with pytest.raises(InputNotFound, match="no frames") as caught:
            MotsClipDataset(root, sequences=selection)
        assert caught.value.sequence == "0000"


def test_instance_png_missing_for_a_frame_is_an_error(tmp_path):
    root = build_kitti(tmp_path, {"0000": ()}, frames=3, png_instances=True)
    (root / "instances" / "0000" / "000001.png").unlink()
    with pytest.raises(FormatError, match="no instance PNG") as caught:
        MotsClipDataset(root)
    assert caught.value.frame == 1


def test_object_with_an_empty_mask_in_the_file_is_dropped_and_counted(tmp_path):
    rows = real_rows("0000", frames=2)
    empty = encode(np.zeros(rows.image_size, np.uint8))
    with_empty = MotsRows(frame=[*rows.frame, 0], obj_id=[*rows.obj_id, 2005], class_id=[*rows.class_id, 2], rles=[*rows.rles, empty])
    write_mots_txt(tmp_path / "instances_txt" / "0000.txt", with_empty, 0)
    write_frames(tmp_path / "images" / "0000", rows, 2, rows.image_size)
    dataset = MotsClipDataset(tmp_path)
    _, target = dataset[0]
    assert target["identities"].tolist() == [0] and int(target["num_dropped"]) == 1  # 2002 kept, 2005 dropped
    assert dataset.num_identities == 2  # the track still exists: identities do not shift
