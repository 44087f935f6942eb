"""Dataset layout discovery: from a path the user gives to a list of sequences.

Recognised layouts (checked in this order):

- ``video``: a single video file (one of :data:`~dior_cli.formats.frames.VIDEO_EXTENSIONS`,
  whose first frame decodes); one sequence named after the file's stem.
- ``mots20``: the MOTS20 download, ``<root>/{train,test}/MOTS20-XX/{img1/, gt/gt.txt,
  seqinfo.ini}``; the root, a split folder or one sequence folder may be given (MOT17's
  layout is the same). Fps and size come from ``seqinfo.ini``; the length is the number of
  images in ``img1/`` when it holds any (a partial download: ``seqLength`` is kept as a note),
  else ``seqLength``; frames are numbered from 1.
- ``mot``: a MOTChallenge box sequence without ``seqinfo.ini`` (MOT15 style), a folder with
  frames in ``img1/`` or ``img/`` and box files ``gt/gt.txt`` and/or ``det/det.txt`` (or
  ``det.txt`` inside the image folder); the folder itself or a folder of such sequences may
  be given. Frames are numbered from 1, the length is the image count, fps unknown.
- ``kitti-mots``: ``images/<seq>/*.png`` (or ``image_02/<seq>/``) with ground truth in
  ``instances/<seq>/`` (PNG) or ``instances_txt/<seq>.txt``; either part may be missing.
  Frames are numbered from 0, 10 fps; the length is the image count, else the PNG count,
  else the last annotated frame + 1.
- ``image-folder``: a folder of image files; one sequence named after the folder, frames
  numbered from 0 in sorted order, fps unknown.
- ``video`` again: a folder of video files (and no images); one sequence per video.

Each sequence says where its length came from (``length_source``), so a user can tell a
length read from metadata from one guessed from annotations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.formats.frames import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, ImageFolderSource, VideoSource, list_images, list_videos, probe_video
from dior_cli.formats.kitti_png import list_png_frames, read_instance_png
from dior_cli.formats.mots_txt import read_text_lines
from dior_cli.formats.seqinfo import read_seqinfo

KITTI_FPS = 10.0
MOTS20_SPLITS = ("train", "test")
_KITTI_IMAGE_DIRS = ("images", "image_02")
_MOT_IMAGE_DIRS = ("img1", "img")


@dataclass(frozen=True)
class SequenceInfo:
    """One sequence found on disk.

    Attributes:
        name: sequence name (``0002``, ``MOTS20-02``, a video's stem).
        layout: ``mots20``, ``kitti-mots``, ``mot``, ``image-folder`` or ``video``.
        num_frames: frames in the sequence.
        image_size: ``(height, width)``, or ``None`` when nothing says (annotations only, no rows).
        fps: frames per second, or ``None`` when unknown (image folders).
        frame_base: number of the first frame in this layout's files (0 or 1).
        length_source: where ``num_frames`` came from: ``seqinfo.ini``, ``images``,
            ``instance PNGs``, ``annotations`` (last annotated frame + 1) or ``video header``.
        split: ``train``/``test`` for MOTS20, else ``None``.
        frames_path: folder of frame images or the video file; ``None`` if there are no frames.
        gt_txt: MOTS txt ground truth, if present (``mots20`` layout: ``gt/gt.txt``, which in
            MOT17's copy of the layout holds boxes).
        gt_png: folder of instance PNGs, if present.
        gt_boxes: MOTChallenge box ground truth (``mot`` layout: ``gt/gt.txt``), if present.
        det_boxes: MOTChallenge box detections (``det/det.txt``; ``mot`` layout also ``<image dir>/det.txt``), if present.
        notes: things worth telling the user (e.g. fewer images than ``seqLength``).
    """

    name: str
    layout: str
    num_frames: int
    image_size: tuple[int, int] | None
    fps: float | None
    frame_base: int
    length_source: str
    split: str | None = None
    frames_path: Path | None = None
    gt_txt: Path | None = None
    gt_png: Path | None = None
    gt_boxes: Path | None = None
    det_boxes: Path | None = None
    notes: tuple[str, ...] = field(default=())

    def open_frames(self) -> ImageFolderSource | VideoSource:
        """A streaming source of this sequence's frames."""
        if self.frames_path is None:
            raise InputNotFound(f"sequence {self.name} has no frames (no image folder or video)")
        if self.layout == "video":
            return VideoSource(self.frames_path, self.num_frames, self.image_size)
        files = list_images(self.frames_path)
        if not files:
            raise FormatError("image folder has no images", path=self.frames_path, sequence=self.name)
        return ImageFolderSource(files, self.image_size)


def discover_sequences(path: str | os.PathLike, split: str | None = None) -> list[SequenceInfo]:
    """Find the sequences under ``path`` (see the module docstring for the layouts).

    Args:
        path: a video file, a dataset root, a split folder, a sequence folder, an image folder or a folder of videos.
        split: for MOTS20 roots, only this split (``train`` or ``test``).

    Raises:
        InputNotFound: ``path`` does not exist.
        FormatError: a file that is not a video (by its name, or a first frame that does not
            decode), a folder that matches no layout, a broken ``seqinfo.ini``.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFound("path does not exist", path=path)
    if path.is_file():
        return [_video_sequence(path)]
    if (path / "seqinfo.ini").is_file():
        return [_mots20_sequence(path, split=None)]
    split_dirs = [path / s for s in MOTS20_SPLITS if _has_mots20_sequences(path / s)]
    if split_dirs:
        if split is not None:
            split_dirs = [d for d in split_dirs if d.name == split]
            if not split_dirs:
                raise FormatError(f"has no {split!r} split (found {', '.join(s for s in MOTS20_SPLITS if (path / s).is_dir())})", path=path)
        return [_mots20_sequence(d, split=s.name) for s in split_dirs for d in _mots20_dirs(s)]
    if _has_mots20_sequences(path):
        return [_mots20_sequence(d, split=path.name if path.name in MOTS20_SPLITS else None) for d in _mots20_dirs(path)]
    if any((path / d).is_dir() for d in (*_KITTI_IMAGE_DIRS, "instances", "instances_txt")):
        return _kitti_sequences(path)
    if (mot := _mot_sequence(path)) is not None:
        return [mot]
    mot_dirs = [s for d in sorted(p for p in path.iterdir() if p.is_dir()) if (s := _mot_sequence(d)) is not None]
    if mot_dirs:
        return mot_dirs
    images = list_images(path)
    if images:
        return [_image_folder_sequence(path, images)]
    videos = list_videos(path)
    if videos:
        return [_video_sequence(v) for v in videos]
    raise FormatError(
        "matches no known layout: expected a video file, a MOTS20 folder (train/MOTS20-XX/seqinfo.ini), "
        "a KITTI-MOTS folder (images/<seq>/, instances/<seq>/ or instances_txt/<seq>.txt), "
        "a MOTChallenge box sequence (img1/ with gt/gt.txt or det/det.txt), "
        f"a folder of images ({', '.join(IMAGE_EXTENSIONS)}) or a folder of videos ({', '.join(VIDEO_EXTENSIONS[:6])}, ...)",
        path=path,
    )


def _video_sequence(path: Path) -> SequenceInfo:
    num_frames, image_size, fps = probe_video(path)
    return SequenceInfo(
        name=path.stem, layout="video", num_frames=num_frames, image_size=image_size, fps=fps,
        frame_base=0, length_source="video header", frames_path=path,
    )


def _has_mots20_sequences(folder: Path) -> bool:
    return folder.is_dir() and any((d / "seqinfo.ini").is_file() for d in folder.iterdir() if d.is_dir())


def _mots20_dirs(folder: Path) -> list[Path]:
    return sorted(d for d in folder.iterdir() if d.is_dir() and (d / "seqinfo.ini").is_file())


def _mots20_sequence(folder: Path, split: str | None) -> SequenceInfo:
    """One MOTS20 (or MOT17) sequence folder: the images present decide its length, so that
    every command agrees on it; a ``seqLength`` that differs is kept as a note."""
    info = read_seqinfo(folder / "seqinfo.ini")
    image_dir = folder / info.image_dir
    notes = []
    num_frames, length_source = info.num_frames, "seqinfo.ini"
    count = len(list_images(image_dir)) if image_dir.is_dir() else 0
    if count and count != info.num_frames:
        num_frames, length_source = count, "images"
        notes.append(f"{image_dir} holds {count} images but seqinfo.ini says seqLength={info.num_frames}: "
                     f"the sequence is the {count} frames present")
    elif image_dir.is_dir() and not count:
        notes.append(f"{image_dir} holds no images: the length is seqinfo.ini's seqLength={info.num_frames}")
    gt_txt = folder / "gt" / "gt.txt"
    det_txt = folder / "det" / "det.txt"
    return SequenceInfo(
        name=folder.name, layout="mots20", num_frames=num_frames, image_size=info.image_size,
        fps=info.fps, frame_base=1, length_source=length_source, split=split,
        frames_path=image_dir if image_dir.is_dir() else None,
        gt_txt=gt_txt if gt_txt.is_file() else None, det_boxes=det_txt if det_txt.is_file() else None, notes=tuple(notes),
    )


def _kitti_sequences(root: Path) -> list[SequenceInfo]:
    image_root = next((root / d for d in _KITTI_IMAGE_DIRS if (root / d).is_dir()), None)
    names: set[str] = set()
    if image_root is not None:
        names |= {d.name for d in image_root.iterdir() if d.is_dir()}
    if (root / "instances").is_dir():
        names |= {d.name for d in (root / "instances").iterdir() if d.is_dir()}
    if (root / "instances_txt").is_dir():
        names |= {p.stem for p in (root / "instances_txt").glob("*.txt")}
    if not names:
        raise FormatError("KITTI-MOTS folder holds no sequences (images/<seq>/, instances/<seq>/ or instances_txt/<seq>.txt)", path=root)
    return [_kitti_sequence(root, image_root, name) for name in sorted(names)]


def _kitti_sequence(root: Path, image_root: Path | None, name: str) -> SequenceInfo:
    frames_path = image_root / name if image_root is not None and (image_root / name).is_dir() else None
    gt_png = root / "instances" / name
    gt_png = gt_png if gt_png.is_dir() else None
    gt_txt = root / "instances_txt" / f"{name}.txt"
    gt_txt = gt_txt if gt_txt.is_file() else None
    image_size = None
    if frames_path is not None and (images := list_images(frames_path)):
        num_frames, length_source = len(images), "images"
        image_size = _image_size(images[0])
    elif gt_png is not None and (pngs := list_png_frames(gt_png, frame_base=0)):
        num_frames, length_source = pngs[-1][0] + 1, "instance PNGs"
        image_size = read_instance_png(pngs[0][1]).shape
    elif gt_txt is not None:
        num_frames, image_size = txt_extent(gt_txt)
        length_source = "annotations"
    else:
        raise FormatError("sequence has neither images nor annotations", path=root, sequence=name)
    return SequenceInfo(
        name=name, layout="kitti-mots", num_frames=num_frames, image_size=image_size, fps=KITTI_FPS,
        frame_base=0, length_source=length_source, frames_path=frames_path, gt_txt=gt_txt, gt_png=gt_png,
    )


def _mot_sequence(folder: Path) -> SequenceInfo | None:
    """A MOTChallenge box sequence without ``seqinfo.ini`` (frames in ``img1/`` or ``img/``, box
    files ``gt/gt.txt``, ``det/det.txt`` or ``<image dir>/det.txt``), else ``None``."""
    image_dir = next((folder / d for d in _MOT_IMAGE_DIRS if (folder / d).is_dir()), None)
    if image_dir is None or (folder / "seqinfo.ini").is_file():
        return None
    gt = folder / "gt" / "gt.txt"
    det = next((p for p in (folder / "det" / "det.txt", image_dir / "det.txt") if p.is_file()), None)
    images = list_images(image_dir)
    if not images or (not gt.is_file() and det is None):
        return None
    return SequenceInfo(
        name=folder.name, layout="mot", num_frames=len(images), image_size=_image_size(images[0]), fps=None,
        frame_base=1, length_source="images", frames_path=image_dir,
        gt_boxes=gt if gt.is_file() else None, det_boxes=det,
    )


def _image_folder_sequence(folder: Path, images: list[Path]) -> SequenceInfo:
    return SequenceInfo(
        name=folder.name, layout="image-folder", num_frames=len(images), image_size=_image_size(images[0]),
        fps=None, frame_base=0, length_source="images", frames_path=folder,
    )


def _image_size(path: Path) -> tuple[int, int]:
    import cv2  # loaded only here: dior evaluate imports this module without reading images

    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise FormatError("cannot be read as an image", path=path)
    return int(image.shape[0]), int(image.shape[1])


def txt_extent(path: Path) -> tuple[int, tuple[int, int] | None]:
    """Last frame + 1 and the image size of a KITTI-MOTS txt, from its first fields only.

    Full validation happens when the file is read for use; here a line that does not
    start with numbers is still an error naming the line.
    """
    last, size = -1, None
    for number, line in enumerate(read_text_lines(path), start=1):
        fields = line.split(maxsplit=5)
        if not fields:
            continue
        try:
            frame, height, width = int(fields[0]), int(fields[3]), int(fields[4])
        except (ValueError, IndexError):
            raise FormatError("expected 6 fields starting with integers (frame id class height width rle)", path=path, line=number) from None
        last = max(last, frame)
        size = size or (height, width)
    return last + 1, size
