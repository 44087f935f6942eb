"""Frame sources: stream a sequence's frames from a folder of images or a video file.

A source yields ``(frame, image)`` with a 0-based ``frame`` and an RGB ``(H, W, 3)`` uint8
image, one at a time: nothing holds more than the current frame, so memory does not grow
with the video's length. Every frame must decode and have the sequence's size; a frame
that does not is a ``FormatError`` naming the file (and frame), never a silent skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np

from dior_cli.errors import FormatError, InputNotFound

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


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
    """

    def __init__(self, path: str | os.PathLike, num_frames: int) -> None:
        self.path = Path(path)
        self.num_frames = num_frames

    def __len__(self) -> int:
        return self.num_frames

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        capture = open_video(self.path)
        try:
            for frame in range(self.num_frames):
                ok, image = capture.read()
                if not ok or image is None:
                    raise FormatError(
                        f"video ended or failed to decode at frame {frame}; its header says {self.num_frames} frames",
                        path=self.path, frame=frame,
                    )
                yield frame, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        finally:
            capture.release()


def open_video(path: Path) -> cv2.VideoCapture:
    """Open a video for reading, or raise a ``DiorError`` that says why not."""
    if not path.exists():
        raise InputNotFound("video file does not exist", path=path)
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise FormatError("is not a video that OpenCV can open (unknown container or codec)", path=path)
    return capture


def probe_video(path: Path) -> tuple[int, tuple[int, int], float | None]:
    """``(num_frames, (height, width), fps)`` of a video, from its header.

    A file OpenCV opens but that reports no frames or no size is not a video.
    """
    capture = open_video(path)
    try:
        num_frames = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        fps = float(capture.get(cv2.CAP_PROP_FPS))
    finally:
        capture.release()
    if num_frames <= 0 or height <= 0 or width <= 0:
        raise FormatError("is not a video with frames (OpenCV reports no frames or no size)", path=path)
    return num_frames, (height, width), (fps if fps > 0 else None)
