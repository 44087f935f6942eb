"""In-memory records passed between readers, stages and writers.

Both records are validated structs of arrays (one entry per detection or per MOTS line),
indexable with an int array, a boolean mask or a slice, like numpy arrays. Masks stay
COCO RLE (:mod:`dior_cli.masks`); nothing here holds dense ``(N, H, W)`` masks.

Conventions: ``frame`` is 0-based inside dior (the file's frame base is applied only by
the MOTS txt reader/writer); ``image_size`` is ``(height, width)``; ``class_id`` is the MOTS
class (1 car, 2 pedestrian, 10 ignore region).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dior_cli.masks import Rle

CAR = 1
PEDESTRIAN = 2
IGNORE = 10
CLASS_NAMES = {CAR: "car", PEDESTRIAN: "pedestrian", IGNORE: "ignore"}
DETECTION_CLASSES = (CAR, PEDESTRIAN)
MOTS_CLASSES = (CAR, PEDESTRIAN, IGNORE)


def mots_obj_id(class_id: int, k: int) -> int:
    """The MOTS object id of the ``k``-th track (from 1) of a class: ``class_id * 1000 + k``.

    Past 999 tracks of one class in a sequence, ids continue as
    ``100000 * (k // 1000) + class_id * 1000 + k % 1000`` so they never collide with another
    class's ids (the class column of MOTS txt stays authoritative).
    """
    return 100000 * (k // 1000) + class_id * 1000 + k % 1000


def track_number(obj_id: int | np.ndarray) -> int | np.ndarray:
    """The ``k`` of :func:`mots_obj_id` back from an object id (element-wise for arrays)."""
    return obj_id % 1000 + 1000 * (obj_id // 100000)


def class_of_obj_id(obj_id: int | np.ndarray) -> int | np.ndarray:
    """The class an id of :func:`mots_obj_id` was minted for (10 for the ignore id 10000).

    Readers of MOTS txt never need it (the class column is authoritative); it is for formats
    that store only the id, such as KITTI-MOTS PNGs.
    """
    return (obj_id % 100000) // 1000


def _as_1d(name: str, values: Any, dtype: type, n: int | None) -> np.ndarray:
    array = np.asarray(values, dtype=dtype)
    if array.ndim != 1 or (n is not None and array.shape[0] != n):
        expected = "(N,)" if n is None else f"({n},)"
        raise ValueError(f"{name}: expected shape {expected}, got {array.shape}")
    return array


def _select(index: Any, n: int) -> np.ndarray:
    """Turn an int, slice, int array or boolean mask into an int64 index array."""
    if isinstance(index, (int, np.integer)):
        index = [int(index)]
    picked = np.arange(n)[index]
    return np.atleast_1d(picked).astype(np.int64)


@dataclass(frozen=True, eq=False)
class Detections:
    """Detections of one sequence: row ``i`` is detection ``det_id = i``.

    Attributes:
        frame: ``(N,)`` int64, 0-based frame of each detection.
        class_id: ``(N,)`` int64, MOTS class (1 car, 2 pedestrian).
        score: ``(N,)`` float64 confidence in [0, 1].
        bbox_xyxy: ``(N, 4)`` float64, ``[x1, y1, x2, y2]`` in pixels.
        rles: ``N`` RLE masks, all of the sequence's image size.
        extras: ``N`` dicts of fields beyond the schema, kept verbatim (empty dicts if none).
    """

    frame: np.ndarray
    class_id: np.ndarray
    score: np.ndarray
    bbox_xyxy: np.ndarray
    rles: tuple[Rle, ...]
    extras: tuple[dict, ...] = field(default=())

    def __post_init__(self) -> None:
        n = len(self.rles)
        object.__setattr__(self, "rles", tuple(self.rles))
        object.__setattr__(self, "frame", _as_1d("frame", self.frame, np.int64, n))
        object.__setattr__(self, "class_id", _as_1d("class_id", self.class_id, np.int64, n))
        object.__setattr__(self, "score", _as_1d("score", self.score, np.float64, n))
        boxes = np.asarray(self.bbox_xyxy, dtype=np.float64)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)
        if boxes.shape != (n, 4):
            raise ValueError(f"bbox_xyxy: expected shape ({n}, 4), got {boxes.shape}")
        object.__setattr__(self, "bbox_xyxy", boxes)
        extras = tuple(self.extras) if len(self.extras) else tuple({} for _ in range(n))
        if len(extras) != n:
            raise ValueError(f"extras: expected {n} entries, got {len(extras)}")
        object.__setattr__(self, "extras", extras)

    @classmethod
    def empty(cls) -> Detections:
        """No detections: every array correctly shaped with zero rows."""
        return cls(frame=[], class_id=[], score=[], bbox_xyxy=np.zeros((0, 4)), rles=())

    def __len__(self) -> int:
        return len(self.rles)

    def __getitem__(self, index: Any) -> Detections:
        rows = _select(index, len(self))
        return Detections(
            frame=self.frame[rows],
            class_id=self.class_id[rows],
            score=self.score[rows],
            bbox_xyxy=self.bbox_xyxy[rows],
            rles=tuple(self.rles[i] for i in rows),
            extras=tuple(self.extras[i] for i in rows),
        )

    def rows_by_frame(self, num_frames: int) -> list[np.ndarray]:
        """Row indices (det_ids) of each frame ``0..num_frames-1``, in row order."""
        return group_rows(self.frame, num_frames)


@dataclass(frozen=True, eq=False)
class MotsRows:
    """The lines of one MOTS txt file (or one PNG folder), one entry per object per frame.

    Attributes:
        frame: ``(N,)`` int64, 0-based frame.
        obj_id: ``(N,)`` int64, ``class_id * 1000 + k`` for ``k`` up to 999 and any id past that
            (see :func:`mots_obj_id`); 10000 is an ignore region.
        class_id: ``(N,)`` int64, 1 car, 2 pedestrian, 10 ignore.
        rles: ``N`` RLE masks.
    """

    frame: np.ndarray
    obj_id: np.ndarray
    class_id: np.ndarray
    rles: tuple[Rle, ...]

    def __post_init__(self) -> None:
        n = len(self.rles)
        object.__setattr__(self, "rles", tuple(self.rles))
        object.__setattr__(self, "frame", _as_1d("frame", self.frame, np.int64, n))
        object.__setattr__(self, "obj_id", _as_1d("obj_id", self.obj_id, np.int64, n))
        object.__setattr__(self, "class_id", _as_1d("class_id", self.class_id, np.int64, n))

    @classmethod
    def empty(cls) -> MotsRows:
        return cls(frame=[], obj_id=[], class_id=[], rles=())

    def __len__(self) -> int:
        return len(self.rles)

    def __getitem__(self, index: Any) -> MotsRows:
        rows = _select(index, len(self))
        return MotsRows(
            frame=self.frame[rows],
            obj_id=self.obj_id[rows],
            class_id=self.class_id[rows],
            rles=tuple(self.rles[i] for i in rows),
        )

    @property
    def image_size(self) -> tuple[int, int] | None:
        """``(height, width)`` of the masks, or ``None`` when there are no rows."""
        return None if len(self) == 0 else (int(self.rles[0]["size"][0]), int(self.rles[0]["size"][1]))

    @property
    def num_frames_annotated(self) -> int:
        """Last frame with a row, plus one (0 when empty)."""
        return 0 if len(self) == 0 else int(self.frame.max()) + 1

    def rows_by_frame(self, num_frames: int) -> list[np.ndarray]:
        """Row indices of each frame ``0..num_frames-1``, in file order."""
        return group_rows(self.frame, num_frames)


def group_rows(frames: np.ndarray, num_frames: int) -> list[np.ndarray]:
    """Row indices of each frame ``0..num_frames-1`` of ``(N,)`` 0-based frames, in row order."""
    order = np.argsort(frames, kind="stable")  # (N,)
    bounds = np.searchsorted(frames[order], np.arange(num_frames + 1))  # (F+1,)
    return [order[bounds[t] : bounds[t + 1]] for t in range(num_frames)]


def concat_detections(parts: Sequence[Detections]) -> Detections:
    """Stack several Detections in order (row ids renumber from 0)."""
    if not parts:
        return Detections.empty()
    return Detections(
        frame=np.concatenate([p.frame for p in parts]),
        class_id=np.concatenate([p.class_id for p in parts]),
        score=np.concatenate([p.score for p in parts]),
        bbox_xyxy=np.concatenate([p.bbox_xyxy for p in parts]).reshape(-1, 4),
        rles=tuple(r for p in parts for r in p.rles),
        extras=tuple(e for p in parts for e in p.extras),
    )
