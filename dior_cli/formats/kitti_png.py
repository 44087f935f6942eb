"""KITTI-MOTS instance PNGs: one 16-bit single-channel PNG per frame, ``<frame:06d>.png``.

Pixel value = ``class_id * 1000 + instance``; 0 is background; 10000 is an ignore region
(class 10). File numbers start at ``frame_base`` (0 for KITTI-MOTS, 1 for MOTS20's
``instances/``). Every frame of the sequence has a file, also frames without objects.

The format holds at most 999 objects per class in a sequence (instance 0..999 in 16 bits). dior
mints ids past that (``records.mots_obj_id``: track 1000 of class 1 is 101000), which only MOTS
txt can hold: the writer refuses them with a ``FormatError`` that says so, rather than wrap them.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import numpy as np

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.masks import decode_many, encode_label_image
from dior_cli.records import IGNORE, MOTS_CLASSES, MotsRows, class_of_obj_id, track_number

_FRAME_NAME = re.compile(r"^(\d+)\.png$")


def list_png_frames(folder: Path, frame_base: int) -> list[tuple[int, Path]]:
    """``(0-based frame, path)`` for every ``<number>.png`` in ``folder``, sorted by frame.

    Raises ``FormatError`` for any other PNG name or a frame before ``frame_base``.
    """
    if not folder.is_dir():
        raise InputNotFound("instance PNG folder does not exist" if not folder.exists() else "is not a folder", path=folder)
    frames = []
    for path in folder.iterdir():
        if path.name.startswith(".") or path.suffix.lower() != ".png":
            continue
        match = _FRAME_NAME.match(path.name)
        if not match:
            raise FormatError("instance PNG name is not a frame number like 000000.png", path=path)
        frame = int(match.group(1)) - frame_base
        if frame < 0:
            raise FormatError(f"frame number is before the first frame ({frame_base})", path=path)
        frames.append((frame, path))
    frames.sort()
    return frames


def read_instance_png(path: Path) -> np.ndarray:
    """Read one instance PNG as a ``(H, W)`` label image (uint16 for KITTI-MOTS files)."""
    import cv2  # OpenCV loads only where PNGs are read or written (its import is a tenth of a second)

    labels = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if labels is None:
        raise FormatError("cannot be read as a PNG image", path=path)
    if labels.ndim != 2:
        raise FormatError(f"instance PNG must have one channel, got shape {labels.shape}", path=path)
    if labels.dtype not in (np.uint8, np.uint16):
        raise FormatError(f"instance PNG must hold 8- or 16-bit integers, got {labels.dtype}", path=path)
    return labels


def read_kitti_png_folder(folder: str | os.PathLike, frame_base: int = 0, *, image_size: tuple[int, int] | None = None,
                          num_frames: int | None = None) -> MotsRows:
    """Read a folder of instance PNGs into MOTS rows (frame order, then increasing id).

    Raises ``FormatError`` naming the file for an unreadable image, a size that differs
    from the others, a frame past ``num_frames`` (when given), or a pixel value whose class
    (value // 1000) is not 1, 2 or 10.
    """
    folder = Path(folder)
    frames, obj_ids, class_ids, rles = [], [], [], []
    for frame, path in list_png_frames(folder, frame_base):
        if num_frames is not None and frame >= num_frames:
            raise FormatError(f"frame {frame + frame_base} is past the sequence's last frame {num_frames - 1 + frame_base}", path=path)
        labels = read_instance_png(path)  # (H, W)
        if image_size is None:
            image_size = labels.shape
        elif labels.shape != tuple(image_size):
            raise FormatError(f"image size {labels.shape[0]}x{labels.shape[1]} differs from {image_size[0]}x{image_size[1]}", path=path)
        counts = np.bincount(labels.ravel())  # (max value + 1,)
        counts[0] = 0  # background
        values = np.flatnonzero(counts)  # (K,) object ids present, increasing
        classes = values // 1000
        unknown = values[~np.isin(classes, MOTS_CLASSES) | ((classes == 10) & (values != 10000))]
        if unknown.size:
            raise FormatError(f"pixel value {int(unknown[0])} is not class*1000+instance for class 1, 2 or 10000 (ignore)", path=path)
        for value, rle in zip(values.tolist(), encode_label_image(labels, values)):
            frames.append(frame)
            obj_ids.append(value)
            class_ids.append(value // 1000)
            rles.append(rle)
    return MotsRows(frame=frames, obj_id=obj_ids, class_id=class_ids, rles=rles)


def write_kitti_png_folder(folder: str | os.PathLike, rows: MotsRows, num_frames: int, image_size: tuple[int, int], frame_base: int = 0) -> None:
    """Write one PNG per frame ``0..num_frames-1`` into ``folder``, all or nothing.

    The PNGs are written into a temporary sibling folder that replaces ``folder`` only
    when every frame is written. Masks of one frame must not overlap (a pixel holds one
    id), and every id must be ``class_id * 1000 + instance`` of its row's class with instance
    0..999 (or 10000 for an ignore row): ``FormatError`` naming the folder and frame otherwise.
    """
    import cv2

    folder = Path(folder)
    _check_png_ids(rows, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        by_frame = rows.rows_by_frame(num_frames)
        for frame in range(num_frames):
            labels = np.zeros(image_size, dtype=np.uint16)  # (H, W)
            picked = by_frame[frame]
            if picked.size:
                stack = decode_many([rows.rles[i] for i in picked]).view(bool)  # (H, W, K)
                if picked.size > 1 and (stack.sum(axis=2, dtype=np.uint8) > 1).any():
                    raise ValueError(f"frame {frame}: masks overlap (objects {rows.obj_id[picked].tolist()})")
                for k, row in enumerate(picked):
                    np.copyto(labels, np.uint16(rows.obj_id[row]), where=stack[:, :, k])
            if not cv2.imwrite(str(tmp / f"{frame + frame_base:06d}.png"), labels):
                raise OSError(f"could not write {tmp / f'{frame + frame_base:06d}.png'}")
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old")
            os.replace(folder, old)
            os.replace(tmp, folder)
            shutil.rmtree(old)
        else:
            os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _check_png_ids(rows: MotsRows, folder: Path) -> None:
    """Refuse ids a KITTI-MOTS PNG cannot hold or would read back under another class."""
    ids, classes = rows.obj_id, rows.class_id
    fits = np.where(classes == IGNORE, ids == 10000, ids // 1000 == classes)  # (N,)
    if fits.all():
        return
    k = int(np.flatnonzero(~fits)[0])
    obj_id, class_id, frame = int(ids[k]), int(classes[k]), int(rows.frame[k])
    if class_id != IGNORE and class_of_obj_id(obj_id) == class_id and obj_id >= 100000:
        why = (f"object id {obj_id} is track {int(track_number(obj_id))} of class {class_id}: a KITTI-MOTS PNG stores "
               "class_id * 1000 + instance in 16 bits, so it holds at most 999 tracks per class")
    else:
        why = f"object id {obj_id} is not class_id * 1000 + instance (0..999) for its class {class_id}"
    raise FormatError(f"{why}; write MOTS txt instead (instances_txt), which holds any id", path=folder, frame=frame)
