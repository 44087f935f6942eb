"""Small builders shared by tests: detections files made from real or hand-made masks."""

from __future__ import annotations

import numpy as np

from dior_cli.formats.detections_json import DetectionsFile
from dior_cli.masks import bbox_xyxy
from dior_cli.records import Detections, MotsRows


def detections_from_rows(rows: MotsRows, sequence: str, num_frames: int, fps: float | None = 10.0, frame_base: int = 0) -> DetectionsFile:
    """Turn ground-truth rows (ignore regions dropped) into a detections file with score 1."""
    keep = np.flatnonzero(rows.class_id != 10)
    objects = rows[keep]
    image_size = rows.image_size or (8, 8)
    dets = Detections(
        frame=objects.frame,
        class_id=objects.class_id,
        score=np.ones(len(objects)),
        bbox_xyxy=bbox_xyxy(list(objects.rles)),
        rles=objects.rles,
    )
    return DetectionsFile(
        sequence=sequence, image_size=image_size, num_frames=num_frames, fps=fps, frame_base=frame_base,
        detections=dets, producer={"dior_version": "test", "weights": None, "weights_sha256": None},
    )


def mots20_fixture_from_kitti(root, kitti_txt, name: str, split: str = "train", num_images: int = 0):
    """Build ``root/<split>/<name>/`` in the MOTS20 download layout from a KITTI-MOTS file.

    Keeps pedestrians (class 2) and ignore regions, renumbers frames from 1 as MOTS20 does,
    writes ``seqinfo.ini`` (10 fps, KITTI's image size, length = last frame + 1) and, when
    ``num_images`` > 0, that many generated JPEG frames in ``img1/``.
    Returns ``(sequence folder, 0-based rows kept, num_frames)``.
    """
    import cv2

    from dior_cli.formats.mots_txt import read_mots_txt, write_mots_txt
    from dior_cli.formats.seqinfo import SeqInfo, write_seqinfo

    rows = read_mots_txt(kitti_txt, 0)
    kept = rows[np.flatnonzero(np.isin(rows.class_id, (2, 10)))]
    num_frames = rows.num_frames_annotated
    folder = root / split / name
    write_mots_txt(folder / "gt" / "gt.txt", kept, frame_base=1)
    write_seqinfo(folder / "seqinfo.ini", SeqInfo(name=name, num_frames=num_frames, fps=10.0, image_size=rows.image_size))
    if num_images:
        (folder / "img1").mkdir()
        height, width = rows.image_size
        for i in range(num_images):
            image = np.full((height, width, 3), (i * 37) % 255, np.uint8)
            cv2.imwrite(str(folder / "img1" / f"{i + 1:06d}.jpg"), image)
    return folder, kept, num_frames
