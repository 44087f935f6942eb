"""Where rendered frames go: one video file, or one PNG per frame.

Videos are written to a temporary file beside the target and renamed when complete, so an
interrupted render leaves no half video; the finished file has the mode any new file gets
(0666 less the umask), like the other files dior writes. ``mp4v`` in ``.mp4`` is tried first; when this
OpenCV build cannot open it, ``MJPG`` in ``.avi`` (beside the requested name), and the user
is told. Frames are padded to even sizes (:func:`dior_cli.render.draw.pad_even`). PNG frames
are written atomically one by one as ``<frame>.png`` (0-based, 6 digits).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import cv2
import numpy as np

from dior_cli.console import note
from dior_cli.errors import DiorError
from dior_cli.formats.atomic import write_bytes_atomic
from dior_cli.render.draw import pad_even


class VideoWriter:
    """Streams RGB frames of one size into a video (opened on the first frame).

    Args:
        path: the requested file (``.mp4``); the fallback writes ``path`` with ``.avi``.
        fps: frames per second written in the container.
    """

    def __init__(self, path: str | os.PathLike, fps: float) -> None:
        self.requested = Path(path)
        self.path = self.requested  # the file actually written (may become .avi)
        self.fps = float(fps)
        self.frames = 0
        self.size: tuple[int, int] | None = None  # (height, width) written, after padding
        self._writer: cv2.VideoWriter | None = None
        self._tmp: Path | None = None

    def _open(self, height: int, width: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for fourcc, suffix in (("mp4v", ".mp4"), ("MJPG", ".avi")):
            target = self.requested.with_suffix(suffix)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=suffix, dir=target.parent)
            os.close(fd)
            os.unlink(tmp)  # mkstemp found a free name; OpenCV creates the file itself, with the usual mode (0666 less the umask)
            writer = cv2.VideoWriter(tmp, cv2.VideoWriter_fourcc(*fourcc), self.fps, (width, height))
            if writer.isOpened():
                if target != self.requested:
                    note(f"this OpenCV cannot write mp4v/.mp4; wrote MJPG to {target} instead")
                self._writer, self._tmp, self.path = writer, Path(tmp), target
                return
            writer.release()
            Path(tmp).unlink(missing_ok=True)
        raise DiorError("OpenCV can write neither mp4v (.mp4) nor MJPG (.avi) video here; use --out-dir for PNG frames", path=self.requested)

    def write(self, image: np.ndarray) -> None:
        """Append one RGB ``(H, W, 3)`` uint8 frame (every frame must have the first's size)."""
        image = pad_even(image)
        height, width = image.shape[:2]
        if self._writer is None:
            self._open(height, width)
            self.size = (height, width)
        elif (height, width) != self.size:
            raise DiorError(f"frame {self.frames} is {height}x{width}, earlier frames {self.size[0]}x{self.size[1]}", path=self.requested)
        self._writer.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def close(self) -> None:
        """Finish the file and move it into place."""
        if self._writer is None:
            return
        self._writer.release()
        self._writer = None
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the unfinished file."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)


class PngWriter:
    """Writes frame ``i`` to ``folder/<i:06d>.png`` (0-based), each file atomically."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.path = Path(folder)
        self.frames = 0
        self.size: tuple[int, int] | None = None

    def write(self, image: np.ndarray) -> None:
        ok, png = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        if not ok:
            raise DiorError(f"could not encode frame {self.frames} as PNG", path=self.path)
        write_bytes_atomic(self.path / f"{self.frames:06d}.png", png.tobytes())
        self.size = image.shape[:2]
        self.frames += 1

    def close(self) -> None:
        """Nothing to finish: every file is complete when written."""

    def abort(self) -> None:
        """Finished frames stay (each is complete)."""
