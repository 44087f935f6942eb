"""The DIOR network's masks, from box-relative probabilities to RLE, with the heavy part on the device.

The mask head gives each detection an ``(M, M)`` probability map over its box (M = 28).
torchvision's ``paste_masks_in_image`` (what ``DiorNet.detect`` does by default) resizes each
map to its box and writes it into a zero ``(H, W)`` float frame, one frame per detection, which
the caller then copies to the CPU, thresholds and encodes: at 1080p with 50 detections that is
400 MB of floats a frame. Here the same steps run box region only:

1. pad each map by one pixel and scale its box to match (torchvision's ``expand_masks`` /
   ``expand_boxes``, called as they are, so the pixels are torchvision's exactly);
2. resize each map to its integer box (bilinear, as torchvision) on the device and threshold
   it there (``>= threshold``): a bool crop of the box, clipped to the frame;
3. copy all the frame's crops to the CPU in one transfer and encode them as full-frame RLEs
   from the crops (``masks.encode_box_crops``), one pycocotools call per frame.

Pixels outside a box are 0 in torchvision's pasted mask, so the threshold must be above 0.
"""

from __future__ import annotations

import numpy as np

from dior_cli.masks import Rle, encode_box_crops


def masks_to_rles(probabilities, boxes_xyxy, image_size: tuple[int, int], threshold: float) -> list[Rle]:
    """RLEs of ``image_size`` ``[H, W]`` for each detection's mask.

    Args:
        probabilities: ``(K, 1, M, M)`` tensor, the mask head's probabilities over each box
            (``DiorNet.detect(..., paste_masks=False)["masks"]``), on any device.
        boxes_xyxy: ``(K, 4)`` tensor of boxes in original-frame pixels, same device.
        image_size: ``(height, width)`` of the frame.
        threshold: a pixel is inside when its probability is ``>= threshold`` (0 < threshold <= 1).
    """
    import torch
    import torch.nn.functional as F
    from torchvision.models.detection.roi_heads import expand_boxes, expand_masks

    if not 0 < threshold <= 1:
        raise ValueError(f"mask threshold must be in (0, 1], got {threshold}")
    count = int(probabilities.shape[0])
    if count == 0:
        return []
    height, width = (int(v) for v in image_size)
    padded, scale = expand_masks(probabilities, padding=1)  # (K, 1, M+2, M+2)
    boxes = expand_boxes(boxes_xyxy, scale).to(dtype=torch.int64).cpu().numpy()  # (K, 4) integer, may leave the frame
    box_w = np.maximum(boxes[:, 2] - boxes[:, 0] + 1, 1)  # (K,) pixels the map is resized to
    box_h = np.maximum(boxes[:, 3] - boxes[:, 1] + 1, 1)
    x0, y0 = np.maximum(boxes[:, 0], 0), np.maximum(boxes[:, 1], 0)  # the part inside the frame
    x1, y1 = np.minimum(boxes[:, 2] + 1, width), np.minimum(boxes[:, 3] + 1, height)
    crops, origins, flat = [], [], []
    for k in range(count):
        crop_h, crop_w = max(int(y1[k] - y0[k]), 0), max(int(x1[k] - x0[k]), 0)
        resized = F.interpolate(padded[k : k + 1], size=(int(box_h[k]), int(box_w[k])), mode="bilinear", align_corners=False)[0, 0]  # (h, w)
        inside = resized[int(y0[k] - boxes[k, 1]) : int(y0[k] - boxes[k, 1]) + crop_h,
                         int(x0[k] - boxes[k, 0]) : int(x0[k] - boxes[k, 0]) + crop_w] >= threshold  # (crop_h, crop_w) bool
        flat.append(inside.reshape(-1))
        crops.append((crop_h, crop_w))
        origins.append((int(y0[k]) if crop_h else 0, int(x0[k]) if crop_w else 0))
    pixels = torch.cat(flat).cpu().numpy()  # every crop's pixels, one transfer
    bounds = np.cumsum([0] + [h * w for h, w in crops])
    arrays = [pixels[bounds[k] : bounds[k + 1]].reshape(crops[k]) for k in range(count)]
    return encode_box_crops(arrays, np.array(origins, dtype=np.int64), (height, width))
