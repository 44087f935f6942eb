"""The matching library's fast paths against independent references.

* :func:`dior_cli.matching.mask_runs.decode_counts` against pycocotools' decoder (real
  KITTI-MOTS masks and hand-made ones), and its refusals on hand-made broken strings;
* :func:`dior_cli.matching.frame_pairs.pair_frames` against pycocotools' ``iou`` (IoU and
  intersection over the prediction's area with the merged ignore regions) on real frames;
* :func:`dior_cli.evaluate.annotation_reading.read_masks`: the one-pass reader gives what the
  general reader gives, and files it does not take (blank lines, tabs, a bad line) go to the
  general reader, which names the line.
"""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from dior_cli.errors import FormatError
from dior_cli.evaluate.annotation_reading import as_mots_rows, read_masks
from dior_cli.formats.eval_layouts import read_annotation_rows
from dior_cli.formats.mots_txt import read_mots_txt
from dior_cli.matching.frame_pairs import SequenceMasks, first_overlap_frame, first_overlapping_pair, pair_frames
from dior_cli.matching.mask_runs import RleProblem, decode_counts
from dior_cli.records import MotsRows
from tests.conftest import KITTI_TXT, require


def _dense(runs, index: int) -> np.ndarray:
    """Mask ``index`` of ``runs`` as a column-major 0/1 vector of h * w pixels."""
    out = np.zeros(runs.pixels, dtype=np.uint8)
    for s, e in zip(runs.start[runs.owner == index], runs.end[runs.owner == index]):
        out[s:e] = 1
    return out


def _encode(mask: np.ndarray) -> str:
    return mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode()


def test_decode_matches_pycocotools_on_hand_made_masks():
    rng = np.random.default_rng(0)
    masks = [np.zeros((7, 9)), np.ones((7, 9)), rng.random((7, 9)) < 0.5]
    big = np.zeros((300, 400), dtype=bool)
    big[10:290, 5:395:3] = True  # long runs: numbers of several characters, negative differences
    masks.append(big[:7, :9] | (rng.random((7, 9)) < 0.1))
    counts = [_encode(m) for m in masks]
    runs = decode_counts(counts, 7, 9)
    for i, m in enumerate(masks):
        assert np.array_equal(_dense(runs, i), m.astype(np.uint8).ravel(order="F"))
        assert runs.area[i] == int(m.sum())
    alone = decode_counts(["6"], 2, 3)  # one string of one number: six background pixels
    assert alone.area.tolist() == [0] and alone.start.size == 0
    full = decode_counts(["06"], 2, 3)  # no background, six foreground pixels
    assert (full.start.tolist(), full.end.tolist()) == ([0], [6])
    big_runs = decode_counts([_encode(big)], 300, 400)
    assert np.array_equal(_dense(big_runs, 0), big.astype(np.uint8).ravel(order="F"))


def test_decode_matches_pycocotools_on_real_masks():
    require(KITTI_TXT)
    lines = (KITTI_TXT / "0011.txt").read_text().splitlines()
    fields = [line.split() for line in lines]
    height, width = int(fields[0][3]), int(fields[0][4])
    counts = [f[5] for f in fields]
    runs = decode_counts(counts, height, width)
    for i in range(0, len(counts), max(1, len(counts) // 60)):
        expected = mask_utils.decode({"size": [height, width], "counts": counts[i]}).ravel(order="F")
        assert np.array_equal(_dense(runs, i), expected), f"line {i + 1}"
        assert runs.area[i] == int(expected.sum())


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        ("0" * 0, "empty for a 2x3 image"),
        ("6~", "outside the alphabet"),
        ("0P", "ends inside a number"),
        ("PPPPPP0", "seven characters: more than 30 bits"),
        ("3", "3 pixels of 6"),
        ("7", "7 pixels of 6"),
        ("0?", "a negative run (-1)"),
    ],
)
def test_decode_refuses_broken_counts(bad, why):
    good = _encode(np.zeros((2, 3)))  # "6": six background pixels
    strings = [good, bad, good]
    assert decode_counts([good, "15", good], 2, 3).area.tolist() == [0, 5, 0]  # control: 1 + 5 pixels is valid
    with pytest.raises(RleProblem) as info:
        decode_counts(strings, 2, 3)
    assert info.value.index == 1, why


def test_pair_frames_iou_and_ignore_match_pycocotools(tmp_path):
    require(KITTI_TXT)
    gt = read_annotation_rows(KITTI_TXT / "0000.txt", 0, num_frames=154)
    # predictions: the ground truth shifted by a few rows (masks decoded, rolled, re-encoded)
    rows = [i for i in range(len(gt)) if gt.class_id[i] != 10]
    pred_lines = []
    for k, i in enumerate(rows):
        mask = mask_utils.decode(gt.rles[i])
        shifted = np.roll(mask, 3 + k % 4, axis=0)
        pred_lines.append(f"{gt.frame[i]} {2000 + k} 2 {mask.shape[0]} {mask.shape[1]} {_encode(shifted)}\n")
    # (predictions may overlap each other here: pair_frames allows that)
    (tmp_path / "pred.txt").write_text("".join(pred_lines))
    pred = read_mots_txt(tmp_path / "pred.txt", 0)
    pairs = pair_frames(gt, pred, 154)
    by_frame_gt, by_frame_pred = gt.rows_by_frame(154), pred.rows_by_frame(154)
    checked = 0
    for t in range(154):
        objects = [i for i in by_frame_gt[t] if gt.class_id[i] != 10]
        ignores = [i for i in by_frame_gt[t] if gt.class_id[i] == 10]
        preds = list(by_frame_pred[t])
        assert pairs.gt_rows[pairs.gt_off[t] : pairs.gt_off[t + 1]].tolist() == objects
        assert pairs.pred_rows_in(t).tolist() == preds
        if objects and preds:
            expected = np.asarray(mask_utils.iou([gt.rles[i] for i in objects], [pred.rles[i] for i in preds], [0] * len(preds)))
            block = pairs.iou_block(t)
            assert np.array_equal(block, expected)  # bit for bit
            checked += 1
        if ignores and preds:
            merged = mask_utils.merge([gt.rles[i] for i in ignores])
            expected = np.asarray(mask_utils.iou([pred.rles[i] for i in preds], [merged], [1]))[:, 0]
            assert np.array_equal(pairs.in_ignore[pairs.pred_off[t] : pairs.pred_off[t + 1]], expected)
    assert checked > 20


def test_overlap_frame_found():
    one = np.zeros((4, 5), dtype=np.uint8)
    one[1:3, 1:3] = 1
    two = np.zeros((4, 5), dtype=np.uint8)
    two[2:4, 2:5] = 1  # shares pixel (2, 2) with `one`
    apart = np.zeros((4, 5), dtype=np.uint8)
    apart[0, 4] = 1
    rles = [{"size": [4, 5], "counts": _encode(m)} for m in (one, apart, one, two)]
    rows = MotsRows(frame=[0, 0, 2, 2], obj_id=[1, 2, 1, 2], class_id=[1, 1, 1, 1], rles=rles)
    assert first_overlap_frame(SequenceMasks.of(rows)) == 2
    assert first_overlap_frame(SequenceMasks.of(rows[[0, 1]])) is None
    # the pair named in the error: rows 2 and 3 (file order), sharing the one pixel (2, 2)
    assert first_overlapping_pair(SequenceMasks.of(rows), 2) == (2, 3, 1)
    assert first_overlapping_pair(SequenceMasks.of(rows), 0) is None
    # three masks of a frame: the first pair in file order wins, with all the pixels it shares
    big = np.zeros((4, 5), dtype=np.uint8)
    big[0:4, 3:5] = 1  # columns 3-4: 4 pixels shared with `two` (rows 2-3), none with `one`
    crowd = MotsRows(frame=[0, 0, 0], obj_id=[1, 2, 3], class_id=[1, 1, 1],
                     rles=[{"size": [4, 5], "counts": _encode(m)} for m in (one, big, two)])
    assert first_overlapping_pair(SequenceMasks.of(crowd), 0) == (0, 2, 1)


def test_fast_reader_equals_general_reader(tmp_path):
    require(KITTI_TXT)
    source = KITTI_TXT / "0000.txt"
    fast = read_masks(source, 0, num_frames=154)
    general = read_annotation_rows(source, 0, num_frames=154)
    for name in ("frame", "obj_id", "class_id"):
        assert np.array_equal(getattr(fast.rows, name), getattr(general, name))
    assert list(as_mots_rows(fast.rows).rles) == list(general.rles)
    # a file the one-pass reader does not take (a blank line, a tab) reads the same through the general reader
    text = source.read_text().splitlines()
    odd = tmp_path / "odd.txt"
    odd.write_text(text[0].replace(" ", "\t", 1) + "\n\n" + "\n".join(text[1:]) + "\n")
    slow = read_masks(odd, 0, num_frames=154)
    assert np.array_equal(slow.rows.obj_id, general.obj_id) and list(as_mots_rows(slow.rows).rles) == list(general.rles)
    assert np.array_equal(slow.runs.area, fast.runs.area)
    # a broken line: the general reader's error, naming the line
    bad = tmp_path / "bad.txt"
    fields = text[5].split(" ")
    broken = " ".join(fields[:2] + ["7"] + fields[3:])  # class 7 does not exist
    bad.write_text("\n".join(text[:5] + [broken] + text[6:]) + "\n")
    with pytest.raises(FormatError, match="line 6"):
        read_masks(bad, 0, num_frames=154)
    # a frame past the sequence: refused, with the line
    with pytest.raises(FormatError, match="past the sequence"):
        read_masks(source, 0, num_frames=10)
