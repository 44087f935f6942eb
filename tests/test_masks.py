"""masks.py against dense numpy computations (the independent reference)."""

from __future__ import annotations

import numpy as np
import pytest

from dior_cli import masks


def random_masks(rng, n, shape=(23, 31)):
    """Blobs of varying density, plus an empty and a full mask when n allows."""
    out = [rng.random(shape) < rng.uniform(0.05, 0.7) for _ in range(n)]
    if n >= 3:
        out[1] = np.zeros(shape, bool)
        out[2] = np.ones(shape, bool)
    return out


def test_encode_decode_area_bbox_match_dense(rng):
    dense = random_masks(rng, 12)
    rles = [masks.encode(m) for m in dense]
    for m, r in zip(dense, rles):
        assert r["size"] == list(m.shape) and isinstance(r["counts"], str)
        np.testing.assert_array_equal(masks.decode(r), m.astype(np.uint8))
        assert masks.rle_problem(r["counts"], *r["size"]) is None
    np.testing.assert_array_equal(masks.area(rles), [m.sum() for m in dense])
    for m, box in zip(dense, masks.bbox_xyxy(rles)):
        if not m.any():
            np.testing.assert_array_equal(box, [0, 0, 0, 0])
            continue
        ys, xs = np.nonzero(m)
        np.testing.assert_array_equal(box, [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])


def test_column_major_order():
    # A single pixel at row 0, column 1 of a 2x2 image: column-major runs are 2 zeros, 1 one, 1 zero.
    mask = np.array([[0, 1], [0, 0]], np.uint8)
    rle = masks.encode(mask)
    assert rle["counts"] == "211"  # runs 2, 1, 1 written as single characters '0'+run


def test_iou_iom_intersection_match_dense(rng):
    a = random_masks(rng, 7)
    b = random_masks(rng, 5)
    ra, rb = [masks.encode(m) for m in a], [masks.encode(m) for m in b]
    inter = np.array([[(x & y).sum() for y in b] for x in a])
    union = np.array([[(x | y).sum() for y in b] for x in a])
    smaller = np.array([[min(x.sum(), y.sum()) for y in b] for x in a])
    iou = np.divide(inter, union, out=np.zeros(inter.shape), where=union > 0)
    iom = np.divide(inter, smaller, out=np.zeros(inter.shape), where=smaller > 0)
    np.testing.assert_array_equal(masks.intersection_matrix(ra, rb), inter)
    np.testing.assert_allclose(masks.iou_matrix(ra, rb), iou, atol=1e-12)
    np.testing.assert_allclose(masks.iom_matrix(ra, rb), iom, atol=1e-12)


def test_iom_is_one_for_a_mask_inside_another():
    big = np.zeros((20, 20), bool)
    big[2:18, 2:18] = True
    small = np.zeros((20, 20), bool)
    small[5:8, 5:8] = True
    iom = masks.iom_matrix([masks.encode(small)], [masks.encode(big)])
    iou = masks.iou_matrix([masks.encode(small)], [masks.encode(big)])
    assert iom[0, 0] == 1.0
    assert iou[0, 0] == pytest.approx(9 / 256)


def test_empty_lists_give_correctly_shaped_matrices(rng):
    rles = [masks.encode(m) for m in random_masks(rng, 3)]
    for fn in (masks.iou_matrix, masks.iom_matrix, masks.intersection_matrix):
        assert fn([], rles).shape == (0, 3)
        assert fn(rles, []).shape == (3, 0)
    assert masks.area([]).shape == (0,)
    assert masks.bbox_xyxy([]).shape == (0, 4)


def test_different_sizes_are_refused(rng):
    a = [masks.encode(np.ones((4, 5), bool))]
    b = [masks.encode(np.ones((5, 4), bool))]
    with pytest.raises(ValueError, match="different image sizes"):
        masks.iou_matrix(a, b)


def test_merge_union_and_intersection(rng):
    dense = random_masks(rng, 4)
    rles = [masks.encode(m) for m in dense]
    np.testing.assert_array_equal(masks.decode(masks.merge(rles)), np.logical_or.reduce(dense))
    np.testing.assert_array_equal(masks.decode(masks.merge(rles, intersect=True)), np.logical_and.reduce(dense))


@pytest.mark.parametrize("use_priority", [False, True])
def test_make_disjoint_gives_contested_pixels_to_higher_priority(rng, use_priority):
    dense = random_masks(rng, 6)
    rles = [masks.encode(m) for m in dense]
    priority = rng.permutation(6).astype(float) if use_priority else None
    out, moved = masks.make_disjoint(rles, priority)
    result = np.stack([masks.decode(r).astype(bool) for r in out])  # (N, H, W)
    assert (result.sum(axis=0) <= 1).all(), "a pixel is still claimed twice"
    # Hand rule: each pixel belongs to the highest-priority mask that claimed it.
    order = np.argsort(-priority, kind="stable") if use_priority else np.arange(6)
    expected = np.zeros_like(result)
    taken = np.zeros(dense[0].shape, bool)
    for i in order:
        expected[i] = dense[i] & ~taken
        taken |= dense[i]
    np.testing.assert_array_equal(result, expected)
    assert moved == sum(int(d.sum()) for d in dense) - int(result.sum())
    assert moved > 0


def test_make_disjoint_leaves_disjoint_masks_alone(rng):
    a = np.zeros((10, 10), bool)
    a[:5] = True
    b = ~a
    rles = [masks.encode(a), masks.encode(b)]
    out, moved = masks.make_disjoint(rles)
    assert moved == 0 and out[0] is rles[0] and out[1] is rles[1]


@pytest.mark.parametrize(
    ("counts", "size", "fragment"),
    [
        ("", (2, 2), "empty RLE"),
        ("0i0", (2, 2), "cover"),  # runs 0, 25 for a 4-pixel mask
        ("4\x7f", (2, 2), "outside COCO's alphabet"),
        ("4é", (2, 2), "non-ASCII"),
        ("0P", (2, 2), "middle of a number"),  # 'P' has the continuation bit set
        ("03", (2, 2), "cover"),
        ("4", (2, 3), "cover"),
        ("4", (2, 2), None),
        ("", (0, 5), None),
    ],
)
def test_rle_problem(counts, size, fragment):
    problem = masks.rle_problem(counts, *size)
    if fragment is None:
        assert problem is None
    else:
        assert problem is not None and fragment in problem


def test_rle_problem_catches_negative_runs():
    # Runs after the third are stored as differences to the run two back. Runs
    # [1, 1, 1, -3] are written x0=1 '1', x1=1 '1', x2=1 '1', x3 = -3 - 1 = -4, which in
    # 5-bit two's complement is 28 -> chr(48 + 28) = 'L'. A run of -3 pixels is invalid.
    assert "negative" in masks.rle_problem("111L", 1, 4)


def test_batch_rle_check_agrees_with_the_single_check(rng):
    # Valid strings, then mutated ones (a character replaced, truncated, padded, wrong size).
    counts, heights, widths = [], [], []
    for _ in range(600):
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        c = masks.encode(rng.random((h, w)) < rng.random())["counts"]
        kind = rng.integers(0, 5)
        if kind == 0 and c:
            i = int(rng.integers(len(c)))
            c = c[:i] + chr(int(rng.integers(40, 125))) + c[i + 1 :]
        elif kind == 1:
            c = c[: int(rng.integers(0, len(c) + 1))]
        elif kind == 2:
            c = c + "0" * int(rng.integers(1, 4))
        elif kind == 3:
            h += 1
        counts.append(c)
        heights.append(h)
        widths.append(w)
    single = [masks.rle_problem(c, h, w) for c, h, w in zip(counts, heights, widths)]
    assert 50 < sum(p is not None for p in single) < 550  # both kinds are well represented
    for start in range(0, 600, 37):  # windows: the batch must name the first bad string of each
        window = slice(start, start + 37)
        found = masks.first_rle_problem(counts[window], heights[window], widths[window])
        expected = next((i for i, p in enumerate(single[window]) if p is not None), None)
        assert (None if found is None else found[0]) == expected
        if found is not None:
            assert found[1] == single[window][expected]
    assert masks.first_rle_problem([], [], []) is None


def test_has_overlap(rng):
    a, b = np.zeros((5, 5), bool), np.zeros((5, 5), bool)
    a[:2], b[3:] = True, True
    assert not masks.has_overlap([masks.encode(a), masks.encode(b)])
    b[1] = True
    assert masks.has_overlap([masks.encode(a), masks.encode(b)])
    assert not masks.has_overlap([masks.encode(a)])


def test_ioa_is_intersection_over_the_first_area():
    a, b = np.zeros((4, 4), bool), np.zeros((4, 4), bool)
    a[:, :2] = True  # 8 pixels
    b[:, 1:] = True  # shares 4 with a
    assert masks.ioa_matrix([masks.encode(a)], [masks.encode(b)])[0, 0] == 0.5
    assert masks.ioa_matrix([masks.encode(b)], [masks.encode(a)])[0, 0] == pytest.approx(4 / 12)


def test_complement_matches_dense(rng):
    for m in random_masks(rng, 8, shape=(7, 9)):
        flipped = masks.complement(masks.encode(m))
        np.testing.assert_array_equal(masks.decode(flipped), (~m).astype(np.uint8))
        assert masks.rle_problem(flipped["counts"], 7, 9) is None


def test_batch_rle_check_in_slices(monkeypatch):
    good = masks.encode(np.eye(4, dtype=bool))["counts"]
    monkeypatch.setattr(masks, "_BATCH_STRINGS", 3)
    counts = [good] * 7 + ["0i0"] + [good] * 3
    assert masks.first_rle_problem(counts, [4] * 11, [4] * 11)[0] == 7
    assert masks.first_rle_problem([good] * 10, [4] * 10, [4] * 10) is None
