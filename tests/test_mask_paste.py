"""Box-region mask pasting on the device (mask_paste) and RLE from box crops (masks.encode_box_crops),
against torchvision's own paste_masks_in_image and pycocotools' encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask
from torchvision.models.detection.roi_heads import paste_masks_in_image

from dior_cli.mask_paste import masks_to_rles
from dior_cli.masks import encode_box_crops


def _coco_encode(mask: np.ndarray) -> dict:
    coco = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in coco["size"]], "counts": coco["counts"].decode("ascii")}


def test_box_crops_encode_as_their_full_frame_masks():
    rng = np.random.default_rng(0)
    for _ in range(400):
        height, width = (int(v) for v in rng.integers(1, 24, 2))
        crop_h, crop_w = int(rng.integers(0, height + 1)), int(rng.integers(0, width + 1))
        row0, col0 = int(rng.integers(0, height - crop_h + 1)), int(rng.integers(0, width - crop_w + 1))
        crop = rng.random((crop_h, crop_w)) < rng.choice([0.0, 0.4, 0.9, 1.0])
        full = np.zeros((height, width), bool)
        full[row0 : row0 + crop_h, col0 : col0 + crop_w] = crop
        assert encode_box_crops([crop], np.array([[row0, col0]]), (height, width)) == [_coco_encode(full)]


def test_a_crop_outside_the_image_is_refused():
    with pytest.raises(ValueError, match="leaves"):
        encode_box_crops([np.ones((3, 3), bool)], np.array([[2, 0]]), (4, 4))


@pytest.mark.parametrize("threshold", [0.5, 0.2, 0.9])
def test_masks_equal_torchvisions_paste_thresholded(threshold):
    generator = torch.Generator().manual_seed(1)
    height, width = 75, 110
    for _ in range(10):
        count = 9
        probabilities = torch.rand(count, 1, 28, 28, generator=generator)
        corner = torch.rand(count, 2, generator=generator) * torch.tensor([width - 2.0, height - 2.0])
        size = torch.rand(count, 2, generator=generator) * 70 + 0.3
        boxes = torch.cat([corner, torch.minimum(corner + size, torch.tensor([width - 0.0, height - 0.0]))], 1)  # inside the frame
        boxes[0] = torch.tensor([0.0, 0.0, width, height])  # a box over the whole frame (its padding leaves the frame)
        expected = paste_masks_in_image(probabilities, boxes, (height, width))[:, 0] >= threshold  # (K, H, W)
        assert masks_to_rles(probabilities, boxes, (height, width), threshold) == [_coco_encode(m.numpy()) for m in expected]


def test_no_masks_and_a_zero_threshold():
    assert masks_to_rles(torch.zeros(0, 1, 28, 28), torch.zeros(0, 4), (10, 10), 0.5) == []
    with pytest.raises(ValueError, match="threshold"):
        masks_to_rles(torch.zeros(1, 1, 28, 28), torch.zeros(1, 4), (10, 10), 0.0)
