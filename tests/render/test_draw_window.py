"""The drawing primitives work inside each mask's bounding box: the pixels must be those of the
whole-frame definition (blend every set pixel, trace the contours of the whole frame)."""

import cv2
import numpy as np
import pytest

from dior_cli.render import draw
from dior_cli.render.colours import IGNORE


def whole_frame_blend(image, mask, colour, alpha):
    inside = mask.astype(bool)
    mixed = (1.0 - alpha) * image[inside].astype(np.float32) + alpha * np.asarray(colour, np.float32)
    image[inside] = np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def whole_frame_outline(image, mask, colour, thickness):
    contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(image, contours, -1, colour, thickness)


def random_case(rng):
    h, w = (int(v) for v in rng.integers(3, 50, 2))
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    mask = np.zeros((h, w), bool)
    r0, c0 = int(rng.integers(0, h)), int(rng.integers(0, w))
    r1, c1 = int(rng.integers(r0, h + 1)), int(rng.integers(c0, w + 1))
    mask[r0:r1, c0:c1] = rng.random((r1 - r0, c1 - c0)) < 0.7  # touches the frame's edges in some cases
    return image, mask


@pytest.mark.parametrize("seed", range(40))
def test_window_drawing_equals_whole_frame_definition(seed):
    rng = np.random.default_rng(seed)
    image, mask = random_case(rng)
    thickness = int(rng.integers(1, 4))
    ours, ref = image.copy(), image.copy()
    draw.blend(ours, mask, (10, 200, 30), 0.5)
    whole_frame_blend(ref, mask, (10, 200, 30), 0.5)
    draw.outline(ours, mask, (1, 2, 3), thickness)
    whole_frame_outline(ref, mask, (1, 2, 3), thickness)
    assert np.array_equal(ours, ref)


def test_hatch_marks_the_diagonals_inside_the_mask_only():
    image = np.zeros((20, 30, 3), np.uint8)
    mask = np.zeros((20, 30), bool)
    mask[4:12, 6:20] = True
    draw.hatch(image, mask, spacing=8)
    rows, cols = np.nonzero((image == IGNORE).all(axis=2))
    inner = mask[rows, cols] & ~np.isin(rows, (4, 11)) & ~np.isin(cols, (6, 19))  # away from the outline
    assert inner.any() and ((rows[inner] + cols[inner]) % 8 == 0).all()
    assert mask[rows, cols].all()  # the outline is traced on the mask's own border pixels, nothing outside
