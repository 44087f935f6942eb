"""The three-frame sliding window of the DIOR network, streamed over a sequence's frames.

The window of frame t is (t-1, t, t+1); the first frame's is (1, 0, 1) and the last frame's
(T-2, T-1, T-2); a one-frame video's is (0, 0, 0). Frames are 0-based. Each frame goes
through transform + backbone + FPN exactly once.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from dior_cli.runtime import autocast


def sliding_window(model, frames, batch: int, device, step=None, to_cpu: bool = True):
    """Yield ``(frame, result dict, (height, width))`` for every frame, in order.

    Args:
        model: a ``DiorNet`` (``encode`` / ``detect``) in eval mode.
        frames: ``(frame, image)`` pairs, ``image`` ``(H, W, 3)`` uint8 RGB, frames 0, 1, 2, ...
        batch: frames encoded per backbone call.
        device: the torch device of ``model``.
        step: ``step(frame, prev, cur, nxt) -> dict of tensors``, what is computed for each
            window; the default is ``model.detect(prev, cur, nxt)``.
        to_cpu: move every result tensor to the CPU (floating ones as float32); ``False``
            leaves them on ``device`` (the caller post-processes there).

    Frame t is detected as soon as frame t+1 is encoded (or the stream ends), and a frame's
    features are dropped once frame t+1 no longer needs them as its predecessor: at most
    ``batch + 2`` frames' features are alive at any time, whatever the video's length.
    """
    import torch

    window: deque = deque()  # (frame index, FrameFeatures, (h, w)) of consecutive frames
    next_frame = 0  # the next frame to detect

    def encode(pending: list[tuple[int, np.ndarray]]) -> None:
        images = [torch.from_numpy(img).to(device).permute(2, 0, 1).float().div_(255) for _, img in pending]  # (3, H, W)
        with autocast(device):
            features = model.encode(images)
        window.extend((index, feats, img.shape[:2]) for (index, img), feats in zip(pending, features))

    def detect_ready(final: bool):
        nonlocal next_frame
        while window and (window[-1][0] > next_frame or (final and window[-1][0] == next_frame)):
            by_index = {index: feats for index, feats, _ in window}
            cur = by_index[next_frame]
            # the first and last frames repeat their neighbour (a one-frame video: the frame itself)
            prev = by_index.get(next_frame - 1, by_index.get(next_frame + 1, cur))
            nxt = by_index.get(next_frame + 1, by_index.get(next_frame - 1, cur))
            if step is None:
                with autocast(device):
                    result = model.detect(prev, cur, nxt)
            else:
                result = step(next_frame, prev, cur, nxt)
            shape = next(s for index, _, s in window if index == next_frame)
            if to_cpu:
                result = {k: (v.float() if v.is_floating_point() else v).cpu() for k, v in result.items()}
            yield next_frame, result, shape
            next_frame += 1
            while window[0][0] < next_frame - 1:
                window.popleft()

    pending: list[tuple[int, np.ndarray]] = []
    for index, image in frames:
        pending.append((index, image))
        if len(pending) == batch:
            encode(pending)
            pending = []
            yield from detect_ready(final=False)
    if pending:
        encode(pending)
    yield from detect_ready(final=True)
