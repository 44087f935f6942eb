"""Frame sources: stream a sequence's frames from a folder of images or a video file.

A source yields ``(frame, image)`` with a 0-based ``frame`` and an RGB ``(H, W, 3)`` uint8
image, one at a time: nothing holds more than the current frame, so memory does not grow
with the video's length. Every frame must decode and have the sequence's size; a frame
that does not is a ``FormatError`` naming the file (and frame), never a silent skip.

A video is accepted by its container first: only files ending in one of
:data:`VIDEO_EXTENSIONS` (containers OpenCV's FFmpeg backend demuxes) are opened, because
FFmpeg also "decodes" text files (its ``tty`` demuxer renders any ``.txt`` as 640x400 frames
at 25 fps). Then its first frame must decode at the size the header gives.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dior_cli.errors import FormatError, InputNotFound

if TYPE_CHECKING:
    import cv2  # for the annotation only: OpenCV loads inside the functions that read frames

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")
VIDEO_EXTENSIONS = (
    ".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".wmv", ".asf", ".flv", ".mpg", ".mpeg", ".m2v", ".vob",
    ".ts", ".mts", ".m2ts", ".3gp", ".3g2", ".ogv", ".mxf", ".dv", ".y4m", ".gif", ".mjpeg", ".mjpg",
    ".h264", ".264", ".h265", ".265", ".hevc",
)
"""File name endings dior opens as videos (lower case): the usual containers and raw streams."""


def is_video_file(path: Path) -> bool:
    """True for a file whose name ends in one of :data:`VIDEO_EXTENSIONS` (any case)."""
    return path.suffix.lower() in VIDEO_EXTENSIONS


def list_videos(folder: Path) -> list[Path]:
    """Video files directly in ``folder`` (hidden files excluded), sorted by name."""
    return sorted(p for p in folder.iterdir() if is_video_file(p) and not p.name.startswith(".") and p.is_file())


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (hidden files excluded), sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file())


class ImageFolderSource:
    """Frames from image files; frame ``i`` is ``files[i]`` (sorted order by default).

    Args:
        files: the frame images in frame order.
        image_size: ``(height, width)`` every frame must have; defaults to the first's.
    """

    def __init__(self, files: Sequence[Path], image_size: tuple[int, int] | None = None) -> None:
        self.files = list(files)
        self.image_size = image_size

    def __len__(self) -> int:
        return len(self.files)

    def read(self, frame: int) -> np.ndarray:
        """Frame ``frame`` as RGB ``(H, W, 3)`` uint8."""
        import cv2  # OpenCV loads where frames are read, not where this module is imported

        path = self.files[frame]
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise FormatError("cannot be read as an image", path=path, frame=frame)
        if self.image_size is None:
            self.image_size = image.shape[:2]
        elif image.shape[:2] != tuple(self.image_size):
            raise FormatError(
                f"image is {image.shape[0]}x{image.shape[1]}, the sequence's frames are {self.image_size[0]}x{self.image_size[1]}",
                path=path, frame=frame,
            )
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        for frame in range(len(self.files)):
            yield frame, self.read(frame)


class VideoSource:
    """Frames decoded one by one from a video file with OpenCV.

    Args:
        path: the video.
        num_frames: frames expected (from the container's header); a video that ends
            earlier is an error naming the first missing frame.
        image_size: ``(height, width)`` every frame must have (the header's); ``None`` = the first frame's.
    """

    def __init__(self, path: str | os.PathLike, num_frames: int, image_size: tuple[int, int] | None = None) -> None:
        self.path = Path(path)
        self.num_frames = num_frames
        self.image_size = image_size

    def __len__(self) -> int:
        return self.num_frames

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        import cv2

        capture = open_video(self.path)
        try:
            for frame in range(self.num_frames):
                ok, image = capture.read()
                if not ok or image is None:
                    raise FormatError(
                        f"video ended or failed to decode at frame {frame}; its header says {self.num_frames} frames",
                        path=self.path, frame=frame,
                    )
                if self.image_size is None:
                    self.image_size = image.shape[:2]
                elif image.shape[:2] != tuple(self.image_size):
                    raise FormatError(f"frame is {image.shape[0]}x{image.shape[1]}, the video's frames are "
                                      f"{self.image_size[0]}x{self.image_size[1]}", path=self.path, frame=frame)
                yield frame, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()


def open_video(path: Path) -> cv2.VideoCapture:
    """Open a video for reading, or raise a ``DiorError`` that says why not (missing file, a name
    that is not a video container's, a file OpenCV cannot open)."""
    import cv2

    if not path.exists():
        raise InputNotFound("video file does not exist", path=path)
    if not is_video_file(path):
        raise FormatError(f"is not a video file: {not_a_video_reason(path)}", path=path)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise FormatError("is not a video that OpenCV can open (unknown container or codec)", path=path)
    return capture


def not_a_video_reason(path: Path) -> str:
    """Why ``path`` is not opened as a video, with a hint at what it may be instead."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_EXTENSIONS:
        what = f"{suffix} is an image: give the folder of the sequence's images"
    elif suffix in (".txt", ".json", ".npy"):
        what = f"{suffix} files hold annotations, detections or tracks, not frames (dior inspect says which commands read it)"
    else:
        what = f"{suffix or 'a name without an extension'} is not a video container dior opens"
    return f"{what}; videos end in {', '.join(VIDEO_EXTENSIONS[:8])}, ..."


def probe_video(path: Path) -> tuple[int, tuple[int, int], float | None]:
    """``(num_frames, (height, width), fps)`` of a video: the frame count and fps from its header,
    the size from its first frame, which must decode (the header's size may be the unrotated one).

    A file OpenCV opens but that reports no frames or no size, or whose first frame does not
    decode, is not a video.
    """
    import cv2

    capture = open_video(path)
    try:
        num_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        if num_frames <= 0 or height <= 0 or width <= 0:
            raise FormatError("is not a video with frames (OpenCV reports no frames or no size)", path=path)
        ok, first = capture.read()
    finally:
        capture.release()
    if not ok or first is None or first.ndim != 3 or first.shape[2] != 3:
        raise FormatError("is not a video that decodes: its first frame cannot be read", path=path, frame=0)
    return num_frames, (int(first.shape[0]), int(first.shape[1])), (fps if fps > 0 else None)
