"""MOTS txt files as detections for ``dior track``: masks from another tracker or segmenter
(PointTrack's ``car/0000.txt``, a KITTI-MOTS ``instances_txt/``), no frames needed.

A folder holding ``<seq>.txt`` files (and no dior ``<seq>.json`` detections) is read one
file per sequence with the reader of ``dior infer --detections``
(:func:`dior_cli.formats.external_detections.read_external_detections`), so the rules are
the same:

- lines are ``frame obj_id class_id height width rle [score]``; the object (track) ids are
  read and dropped: the tracker gives its own;
- the optional seventh field is the score in [0, 1], on every line or on none (then every
  score is 1);
- class-10 ignore rows are skipped and counted, classes other than 1, 2 and 10 are errors;
- every mask has the size of the file's first line.

What the file cannot say is filled in as follows: frames are numbered from ``frame_base``
in the file (0 KITTI-MOTS, 1 MOTS20) and 0-based inside; the sequence's length is its last
frame with a detection + 1 (nothing in a MOTS txt gives the true length, so frames after
the last detection are not counted); ``image_size`` is the masks' size, ``(0, 0)`` for a
file without lines; the fps is the caller's (MOTS txt has none).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from dior_cli.formats.detections_json import DetectionsFile
from dior_cli.formats.external_detections import MOTS_TXT, DetectionSource, read_external_detections

NO_FRAME_LIMIT = sys.maxsize
"""MOTS txt alone does not give the sequence's length: no frame number is too large."""


def list_mots_txt_files(folder: str | os.PathLike) -> list[Path]:
    """The ``<seq>.txt`` files directly in ``folder`` (hidden files excluded), sorted by name."""
    return sorted(p for p in Path(folder).glob("*.txt") if p.is_file() and not p.name.startswith("."))


def read_mots_txt_detections(path: str | os.PathLike, *, frame_base: int, fps: float | None) -> tuple[DetectionsFile, int]:
    """Read one MOTS txt file as the detections of sequence ``<stem>``.

    Args:
        path: the ``.txt`` file.
        frame_base: the number of the file's first frame (0 KITTI-MOTS, 1 MOTS20); a line
            numbered below it is an error naming the line.
        fps: frames per second to record (MOTS txt has none), or ``None``.

    Returns:
        The detections (row ``i`` = ``det_id`` ``i``; each row's ``extras`` name its line) and
        the number of class-10 ignore rows skipped.

    Raises:
        FormatError naming the file and line (see the module docstring).
    """
    path = Path(path)
    given = read_external_detections(DetectionSource(path, MOTS_TXT), sequence=path.stem, num_frames=NO_FRAME_LIMIT,
                                     image_size=None, frame_base=frame_base)
    d = given.detections
    image_size = tuple(d.rles[0]["size"]) if len(d) else (0, 0)
    num_frames = int(d.frame.max()) + 1 if len(d) else 0
    dets = DetectionsFile(sequence=path.stem, image_size=image_size, num_frames=num_frames, fps=fps, frame_base=frame_base,
                          detections=d, producer={"source": str(path), "format": "mots-txt"}, sha256=given.sha256)
    return dets, given.ignore_skipped
