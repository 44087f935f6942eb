"""Training samples: three-frame clips of MOTS sequences with the targets of their centre frame.

Sample ``i`` is frame ``t`` (0-based) of one selected sequence; samples run through the
sequences in selection order (see :mod:`dior_cli.data.sequences`), frames ascending, one per
frame of each sequence (a frame with no objects is a sample with empty targets). Its clip is
frames ``(t-1, t, t+1)``; at the first frame the missing t-1 is t+1, at the last the missing
t+1 is t-1, and a one-frame sequence repeats its frame: the rule of ``dior infer``'s sliding
window, so training and inference see the same clips.

A sample is ``(clip, target)``:

- ``clip``: ``(3, 3, H, W)`` float32 RGB in [0, 1], frames (t-1, t, t+1).
- ``target`` (the dict ``DiorNet.forward`` takes), for frame t:
  ``boxes (N, 4)`` float32 xyxy pixels, the tight box of each mask (x2 = last column + 1,
  y2 = last row + 1); ``labels (N,)`` int64 model labels (``config.LABEL_TO_CLASS``
  inverted: 1 car, 2 pedestrian); ``masks (N, H, W)`` uint8 0/1; ``identities (N,)`` int64
  track index in ``[0, num_identities)``; ``ignore_boxes (M, 4)`` float32 and
  ``ignore_masks (M, H, W)`` uint8, the ignore regions (MOTS class 10), which are neither
  objects nor background; ``num_dropped`` and ``num_dropped_ignore``, 0-d int64: objects and
  ignore regions left out because their mask is empty (in the file or after augmentation).
  Rows keep the ground truth's order.

Identities: every ground-truth track of the selected sequences, keyed ``(sequence, obj_id)``,
gets one index; indices follow the keys sorted by sequence name, then obj_id ascending, so
they do not depend on the selection order (``identity_keys`` lists them).

Randomness: the augmentation of sample ``i`` in epoch ``e`` draws from a ``torch.Generator``
seeded by ``(seed, e, i)`` alone (through numpy's ``SeedSequence``), so a resumed run, a
different number of workers or another process order give the same samples. ``set_epoch``
changes the epoch ``__getitem__`` uses; DataLoader workers copy the dataset when an iterator
starts, so call it before iterating (not with ``persistent_workers=True``), or call
``load(i, epoch)``.

Memory: frames are read from disk per sample; the dataset holds the file paths and the
ground truth as RLE strings (a few MB for all of KITTI-MOTS train), never decoded images or
masks of more than the current sample.
"""

from __future__ import annotations

import bisect
import os
import types
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from dior_cli.data.augment import ClipAugment
from dior_cli.data.sequences import (
    TrainingSequence,
    load_training_sequence,
    select_training_sequences,
)
from dior_cli.errors import FormatError
from dior_cli.masks import decode_many
from dior_cli.model.config import LABEL_TO_CLASS
from dior_cli.records import IGNORE

__all__ = ["CLASS_TO_LABEL", "ClipAugment", "MotsClipDataset", "boxes_from_masks", "clip_frames", "collate_clips", "sample_generator"]

CLASS_TO_LABEL = types.MappingProxyType({class_id: label for label, class_id in LABEL_TO_CLASS.items()})
"""MOTS class id -> model label (read-only), the inverse of ``config.LABEL_TO_CLASS``."""


def clip_frames(t: int, num_frames: int) -> tuple[int, int, int]:
    """Frames ``(t-1, t, t+1)`` of the clip of frame ``t``; a missing neighbour is the other one.

    ``(1, 0, 1)`` at the first frame, ``(T-2, T-1, T-2)`` at the last, ``(0, 0, 0)`` for ``T = 1``.
    """
    if not 0 <= t < num_frames:
        raise IndexError(f"frame {t} is outside 0..{num_frames - 1}")
    prev = t - 1 if t > 0 else min(t + 1, num_frames - 1)
    nxt = t + 1 if t + 1 < num_frames else max(t - 1, 0)
    return prev, t, nxt


def boxes_from_masks(masks: Tensor) -> Tensor:
    """Tight boxes of non-empty masks ``(N, H, W)`` as ``(N, 4)`` float32 xyxy pixels.

    ``x1``/``y1`` are the first column/row with a pixel, ``x2``/``y2`` the last one + 1, so a
    one-pixel mask at ``(y, x)`` has the box ``[x, y, x + 1, y + 1]`` (as ``masks.bbox_xyxy``).
    """
    if masks.dim() != 3:
        raise ValueError(f"masks: expected (N, H, W), got {tuple(masks.shape)}")
    n, height, width = masks.shape
    if n == 0:
        return torch.zeros((0, 4), dtype=torch.float32)
    inside = masks != 0  # (N, H, W) bool
    rows = inside.any(dim=2).to(torch.uint8)  # (N, H)
    cols = inside.any(dim=1).to(torch.uint8)  # (N, W)
    if not bool((rows != 0).any(dim=1).all()):
        raise ValueError("boxes_from_masks: a mask is empty")
    x1 = cols.argmax(dim=1)  # (N,) first column with a pixel
    y1 = rows.argmax(dim=1)
    x2 = width - cols.flip(1).argmax(dim=1)  # (N,) last column + 1
    y2 = height - rows.flip(1).argmax(dim=1)
    return torch.stack([x1, y1, x2, y2], dim=1).to(torch.float32)  # (N, 4)


def sample_generator(seed: int, epoch: int, index: int) -> torch.Generator:
    """The random generator of sample ``index`` in ``epoch``: a pure function of the three numbers."""
    for name, value in (("seed", seed), ("epoch", epoch), ("index", index)):
        if int(value) != value or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    state = np.random.SeedSequence([int(seed), int(epoch), int(index)]).generate_state(2, dtype=np.uint32)  # (2,)
    generator = torch.Generator()
    generator.manual_seed((int(state[0]) << 31) ^ int(state[1]))  # < 2**63
    return generator


class MotsClipDataset(Dataset):
    """Three-frame training clips over a MOTS20 or KITTI-MOTS dataset (module docstring for samples).

    Args:
        root: dataset root (MOTS20 download or KITTI-MOTS folder, see :mod:`dior_cli.data.sequences`).
        sequences: names of the sequences to use, in order; ``None`` = all with ground truth.
        seqmap: a seqmap file selecting the sequences instead (not with ``sequences``).
        augment: clip augmentation, or ``None`` for the frames as they are.
        seed: non-negative integer seeding the augmentation (with the epoch and sample index).

    Raises:
        DiorError: a bad selection, missing frames, ground truth that does not fit its frames
            (each error names the sequence and the file or frame). Reading a sample raises a
            ``FormatError`` naming the file and frame for an unreadable image or one of
            another size.
    """

    def __init__(self, root: str | os.PathLike, sequences: Sequence[str] | None = None, seqmap: str | os.PathLike | None = None,
                 augment: ClipAugment | None = None, seed: int = 0) -> None:
        if int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        infos, notes = select_training_sequences(root, sequences, seqmap)
        self.root = Path(root)
        self.augment = augment
        self.seed = int(seed)
        self.epoch = 0
        self.notes: tuple[str, ...] = tuple(notes)
        self._sequences: tuple[TrainingSequence, ...] = tuple(load_training_sequence(info) for info in infos)
        keys = sorted({(s.name, int(obj_id)) for s in self._sequences for obj_id in s.rows.obj_id[s.rows.class_id != IGNORE]})
        self._identity_keys: tuple[tuple[str, int], ...] = tuple(keys)
        index_of = {key: i for i, key in enumerate(keys)}
        self._row_identity = tuple(  # per sequence, (R,) int64: identity of each row, -1 for ignore regions
            np.array([index_of.get((s.name, int(o)), -1) for o in s.rows.obj_id], dtype=np.int64) for s in self._sequences
        )
        self._starts = np.cumsum([0] + [s.num_frames for s in self._sequences]).tolist()  # first sample of each sequence

    # ------------------------------------------------------------------ facts
    @property
    def sequences(self) -> tuple[str, ...]:
        """Names of the selected sequences, in sample order."""
        return tuple(s.name for s in self._sequences)

    @property
    def num_identities(self) -> int:
        """Ground-truth tracks of the selected sequences (the identity classifier's size)."""
        return len(self._identity_keys)

    @property
    def identity_keys(self) -> tuple[tuple[str, int], ...]:
        """``(sequence, obj_id)`` of identity ``k`` at position ``k``."""
        return self._identity_keys

    def __len__(self) -> int:
        return self._starts[-1]

    def sample_key(self, index: int) -> tuple[str, int]:
        """``(sequence, frame)`` of sample ``index``; ``frame`` is 0-based."""
        seq_index, t = self._locate(index)
        return self._sequences[seq_index].name, t

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch``'s augmentation from now on in ``__getitem__`` (module docstring)."""
        if int(epoch) != epoch or epoch < 0:
            raise ValueError(f"epoch must be a non-negative integer, got {epoch!r}")
        self.epoch = int(epoch)

    # ---------------------------------------------------------------- samples
    def __getitem__(self, index: int) -> tuple[Tensor, dict[str, Tensor]]:
        return self.load(index, self.epoch)

    def load(self, index: int, epoch: int) -> tuple[Tensor, dict[str, Tensor]]:
        """Sample ``index`` as augmented in ``epoch``: ``(clip (3, 3, H, W), target)``."""
        seq_index, t = self._locate(index)
        seq = self._sequences[seq_index]
        clip = _read_clip(seq, clip_frames(t, seq.num_frames))  # (3, 3, H, W)
        rows = seq.rows_by_frame[t]  # (R,)
        is_ignore = seq.rows.class_id[rows] == IGNORE  # (R,)
        objects, regions = rows[~is_ignore], rows[is_ignore]
        size = (int(clip.shape[-2]), int(clip.shape[-1]))
        masks = _decode(seq, objects, size)  # (N, H, W)
        ignore_masks = _decode(seq, regions, size)  # (M, H, W)
        if self.augment is not None:
            clip, masks, ignore_masks = self.augment(clip, masks, ignore_masks, sample_generator(self.seed, epoch, index))
        labels = torch.tensor([CLASS_TO_LABEL[int(c)] for c in seq.rows.class_id[objects]], dtype=torch.int64)  # (N,)
        identities = torch.from_numpy(self._row_identity[seq_index][objects])  # (N,)
        keep = (masks.flatten(1) != 0).any(dim=1)  # (N,) bool
        keep_ignore = (ignore_masks.flatten(1) != 0).any(dim=1)  # (M,) bool
        masks, ignore_masks = masks[keep], ignore_masks[keep_ignore]
        target = {
            "boxes": boxes_from_masks(masks),
            "labels": labels[keep],
            "masks": masks,
            "identities": identities[keep],
            "ignore_boxes": boxes_from_masks(ignore_masks),
            "ignore_masks": ignore_masks,
            "num_dropped": torch.tensor(int((~keep).sum()), dtype=torch.int64),
            "num_dropped_ignore": torch.tensor(int((~keep_ignore).sum()), dtype=torch.int64),
        }
        return clip, target

    def _locate(self, index: int) -> tuple[int, int]:
        if not 0 <= index < len(self):
            raise IndexError(f"sample {index} is outside 0..{len(self) - 1}")
        seq_index = bisect.bisect_right(self._starts, index) - 1
        return seq_index, index - self._starts[seq_index]


def collate_clips(batch: Sequence[tuple[Tensor, dict[str, Tensor]]]) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
    """``[(clip, target), ...]`` -> ``([clip, ...], [target, ...])``, the lists ``DiorNet.forward`` takes.

    Clips are not stacked: frames of different sequences may differ in size.
    """
    return [clip for clip, _ in batch], [target for _, target in batch]


def _read_clip(seq: TrainingSequence, frames: tuple[int, int, int]) -> Tensor:
    """Frames ``(t-1, t, t+1)`` as ``(3, 3, H, W)`` float32 RGB in [0, 1]; a repeated frame is read once."""
    source = seq.frame_source()
    images = {f: torch.from_numpy(source.read(f)) for f in dict.fromkeys(frames)}  # frame -> (H, W, 3) uint8, sizes checked by read
    clip = torch.stack([images[f] for f in frames])  # (3, H, W, 3)
    return clip.permute(0, 3, 1, 2).contiguous().float().div_(255.0)  # (3, 3, H, W)


def _decode(seq: TrainingSequence, rows: np.ndarray, size: tuple[int, int]) -> Tensor:
    """Masks of ``rows`` as ``(K, H, W)`` uint8 0/1."""
    if len(rows) == 0:
        return torch.zeros((0, *size), dtype=torch.uint8)
    stack = decode_many([seq.rows.rles[r] for r in rows])  # (H, W, K), Fortran order
    if stack.shape[:2] != size:
        gt_path = seq.info.gt_txt or seq.info.gt_png
        raise FormatError(f"masks are {stack.shape[0]}x{stack.shape[1]} but the frames are {size[0]}x{size[1]}", path=gt_path, sequence=seq.name)
    return torch.from_numpy(np.ascontiguousarray(stack.transpose(2, 0, 1)))  # (K, H, W)
