"""One sequence's ``dior infer`` outputs, written as the frames go: ``<seq>.json`` + ``<seq>.npy``.

:class:`SequenceOutputs` appends each frame's detections and embedding rows to temporary files
in the output folder, so memory holds one frame's (or one batch's) rows, whatever the video's
length; ``finish`` turns them into the usual files:

- ``<seq>.json``: the bytes ``formats.detections_json.write_detections`` writes for the same
  detections (the rows are spooled to a temporary body file; the header, which needs the frame
  count and image size, is written in front of them at the end, with the sha256 taken on the way);
- ``<seq>.npy``: the bytes ``numpy.save`` writes for the ``(N, D)`` float32 array. numpy's
  version-1.0 header keeps room for 21 digits of row count, so the header of ``(0, D)`` is
  written first and overwritten in place with that of ``(N, D)`` (same length) at the end;
  the sha256 of the record is then computed reading the file back in chunks;
- ``<seq>.npy.json``: the alignment record (``formats.embeddings``).

Atomic and resumable:

- Nothing is visible under a final name until ``finish``. It removes the old record first, then
  renames the JSON, then the array, and writes the record last, so a sequence is finished
  (:func:`outputs_finished`) exactly when all three files exist; a run stopped in between
  leaves no record and the sequence is redone.
- An exception inside the ``with`` block (a bad frame, Ctrl-C) removes the temporary files and
  leaves any earlier outputs untouched. A process killed outright leaves ``.<name>.*.tmp``
  files; :func:`remove_temporaries` (called before a sequence starts) deletes them. The
  interrupted sequence is redone from its first frame: one process writes a sequence at a time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from dior_cli.formats.atomic import atomic_write, create_temporary, write_text_atomic
from dior_cli.formats.detections_json import NO_ROWS, ROW_SEPARATOR, ROWS_CLOSE, ROWS_OPEN, header_text, row_text
from dior_cli.formats.embeddings import SCHEMA as EMBEDDINGS_SCHEMA
from dior_cli.formats.embeddings import record_path, sha256_of_file
from dior_cli.records import Detections

_COPY_CHUNK = 1 << 22  # bytes per read when assembling and hashing (4 MiB)


def outputs_finished(json_path: Path, npy_path: Path) -> bool:
    """Whether a sequence's outputs are complete: JSON, array and the array's record all exist."""
    return json_path.is_file() and npy_path.is_file() and record_path(npy_path).is_file()


def remove_temporaries(*paths: Path) -> list[Path]:
    """Delete the ``.<name>.*.tmp`` files that an interrupted write of each path left; return them."""
    removed = []
    for path in paths:
        for leftover in path.parent.glob(f".{path.name}.*.tmp") if path.parent.is_dir() else ():
            if leftover.is_file():
                leftover.unlink(missing_ok=True)
                removed.append(leftover)
    return removed


def skip_finished(json_path: Path, npy_path: Path, overwrite: bool) -> bool:
    """Whether a sequence is done and kept (``overwrite`` false and :func:`outputs_finished`);
    otherwise remove what an interrupted run of it left, so that it is redone from its first frame."""
    if not overwrite and outputs_finished(json_path, npy_path):
        return True
    remove_temporaries(json_path, npy_path, record_path(npy_path))
    return False


class SequenceOutputs:
    """Streamed writer of one sequence's detections JSON and embeddings ``.npy`` (use as a context manager).

    Args:
        json_path: the final ``<seq>.json``.
        npy_path: the final ``<seq>.npy``.
        dim: embedding dimension ``D`` (every appended block is ``(K, D)``).
    """

    def __init__(self, json_path: str | os.PathLike, npy_path: str | os.PathLike, dim: int) -> None:
        self.json_path, self.npy_path, self.dim = Path(json_path), Path(npy_path), int(dim)
        self.rows = 0  # detections appended so far (the next det_id)
        self._body = self._npy = None
        self._body_path = self._npy_path = None
        self._header_length = 0
        self._finished = False

    def __enter__(self) -> SequenceOutputs:
        self.json_path.parent.mkdir(parents=True, exist_ok=True)
        self._body_path = _temporary(self.json_path)
        self._npy_path = _temporary(self.npy_path)
        self._body = open(self._body_path, "w", encoding="utf-8")
        self._npy = open(self._npy_path, "w+b")
        header = _npy_header(0, self.dim)
        self._header_length = len(header)
        self._npy.write(header)
        return self

    def append(self, detections: Detections, vectors: np.ndarray) -> None:
        """Append one frame's (or batch's) detections, in row order, and their ``(K, D)`` embeddings."""
        vectors = np.ascontiguousarray(vectors, dtype="<f4")
        if vectors.shape != (len(detections), self.dim):
            raise ValueError(f"embeddings must be ({len(detections)}, {self.dim}), got {vectors.shape}")
        d = detections
        parts = []
        for i in range(len(d)):
            det_id = self.rows + i
            parts.append((ROWS_OPEN if det_id == 0 else ROW_SEPARATOR)
                         + row_text(det_id, d.frame[i], d.class_id[i], d.score[i], d.bbox_xyxy[i], d.rles[i], d.extras[i]))
        self._body.write("".join(parts))
        self._npy.write(vectors.tobytes())
        self.rows += len(d)

    def finish(self, *, sequence: str, image_size: tuple[int, int], num_frames: int, fps: float | None, frame_base: int,
               producer: dict, extra: dict | None = None) -> str:
        """Write the final files (see the module docstring for the order); return the JSON's sha256."""
        self._body.write(ROWS_CLOSE if self.rows else "")
        self._body.close()
        head = header_text(sequence, image_size, num_frames, fps, frame_base, producer, extra)
        record = record_path(self.npy_path)
        record.unlink(missing_ok=True)  # until the new record exists, the sequence counts as unfinished
        digest = self._write_json(head)
        embeddings_sha = self._close_npy()
        os.replace(self._npy_path, self.npy_path)
        doc = {"schema": EMBEDDINGS_SCHEMA, "detections_file": self.json_path.name, "detections_sha256": digest,
               "embeddings_sha256": embeddings_sha, "rows": self.rows, "dim": self.dim}
        write_text_atomic(record, json.dumps(doc, indent=1) + "\n")
        self._finished = True
        return digest

    def __exit__(self, exc_type, exc, tb) -> None:
        for handle in (self._body, self._npy):
            if handle is not None and not handle.closed:
                handle.close()
        for path in (self._body_path, self._npy_path):
            if path is not None:
                path.unlink(missing_ok=True)  # after finish: already renamed or removed

    # ------------------------------------------------------------------ internals
    def _write_json(self, head: str) -> str:
        """Header + spooled rows into ``<seq>.json`` atomically; the sha256 of its bytes."""
        digest = hashlib.sha256()
        with atomic_write(self.json_path, "wb") as out:
            first = head.encode("utf-8") + (b"" if self.rows else NO_ROWS.encode("utf-8"))
            out.write(first)
            digest.update(first)
            with open(self._body_path, "rb") as body:
                while chunk := body.read(_COPY_CHUNK):
                    out.write(chunk)
                    digest.update(chunk)
        self._body_path.unlink(missing_ok=True)
        return digest.hexdigest()

    def _close_npy(self) -> str:
        """Overwrite the header with the final row count, sync, close; the sha256 of the file."""
        header = _npy_header(self.rows, self.dim)
        if len(header) != self._header_length:  # cannot happen below 10**21 rows
            raise RuntimeError(f"npy header grew from {self._header_length} to {len(header)} bytes")
        self._npy.seek(0)
        self._npy.write(header)
        self._npy.flush()
        os.fsync(self._npy.fileno())
        self._npy.close()
        return sha256_of_file(self._npy_path)


def _npy_header(rows: int, dim: int) -> bytes:
    """The bytes ``numpy.save`` writes before the data of a ``(rows, dim)`` float32 C-order array."""
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")),
                                                   "fortran_order": False, "shape": (int(rows), int(dim))})
    return buffer.getvalue()


def _temporary(target: Path) -> Path:
    """A new ``.<name>.<random>.tmp`` beside ``target`` (mode 0o666 less the umask, see ``atomic``)."""
    fd, path = create_temporary(target)
    os.close(fd)
    return path


__all__ = ["SequenceOutputs", "outputs_finished", "remove_temporaries"]
