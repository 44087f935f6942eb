"""Embeddings ``<seq>.npy``: float32 ``(N, D)``, row ``i`` = detection ``det_id = i``,
L2-normalised; ``(0, D)`` for a sequence without detections.

dior writes a record beside each array, ``<seq>.npy.json``::

    {"schema": "dior.embeddings/v1", "detections_file": "0002.json",
     "detections_sha256": "...", "embeddings_sha256": "...", "rows": N, "dim": D}

so a reader can refuse an array that was computed from another version of the detections
file (stale) or that was replaced after its record was written (an interrupted write).
An ``.npy`` made by another tool has no record: it is accepted on its row count alone,
and the reader says so.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dior_cli.errors import AlignmentError, FormatError, InputNotFound
from dior_cli.formats.atomic import write_bytes_atomic, write_text_atomic
from dior_cli.formats.detections_json import DetectionsFile

SCHEMA = "dior.embeddings/v1"
_UNIT_TOLERANCE = 1e-3
_CHECK_ROWS = 8192  # rows checked per chunk when reading


@dataclass(frozen=True, eq=False)
class Embeddings:
    """Embeddings that were checked against their detections.

    Attributes:
        vectors: ``(N, D)`` float32, unit rows; a read-only ``numpy.memmap`` of the file when it
            needed no conversion (copy rows before changing them).
        verified_by: ``"sha256"`` (dior's record matched) or ``"row_count"`` (no record).
        notes: things the user should be told (no record; rows that were normalised).
    """

    vectors: np.ndarray
    verified_by: str
    notes: tuple[str, ...] = ()


def record_path(npy_path: str | os.PathLike) -> Path:
    """Where the alignment record of ``npy_path`` lives."""
    npy_path = Path(npy_path)
    return npy_path.with_name(npy_path.name + ".json")


def sha256_of_file(path: str | os.PathLike, chunk: int = 1 << 22) -> str:
    """Hex sha256 of a file's bytes, read ``chunk`` bytes at a time (memory stays at one chunk)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def write_embeddings(npy_path: str | os.PathLike, vectors: np.ndarray, detections_path: str | os.PathLike, detections_sha256: str) -> None:
    """Write ``vectors`` ``(N, D)`` and their alignment record, each atomically.

    The array is written first; if the record write is interrupted, the old record no
    longer matches the array and readers refuse the pair rather than trust it.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim != 2:
        raise ValueError(f"embeddings must be (N, D), got shape {vectors.shape}")
    buffer = io.BytesIO()
    np.save(buffer, vectors, allow_pickle=False)
    data = buffer.getvalue()
    write_bytes_atomic(npy_path, data)
    record = {
        "schema": SCHEMA,
        "detections_file": Path(detections_path).name,
        "detections_sha256": detections_sha256,
        "embeddings_sha256": hashlib.sha256(data).hexdigest(),
        "rows": int(vectors.shape[0]),
        "dim": int(vectors.shape[1]),
    }
    write_text_atomic(record_path(npy_path), json.dumps(record, indent=1) + "\n")


def read_embeddings(npy_path: str | os.PathLike, detections: DetectionsFile, detections_path: str | os.PathLike) -> Embeddings:
    """Open ``npy_path`` memory-mapped (read-only) and check that it belongs to ``detections``.

    A float32 file whose rows are unit length (every file dior writes) is returned as the
    read-only memory map itself: nothing is loaded until rows are used. Finiteness, norms and
    the record's sha256 are checked ``_CHECK_ROWS`` rows (or 4 MiB) at a time. Another dtype
    is converted to float32 and rows that are not unit length are normalised, in memory.

    Raises:
        InputNotFound: the file is missing.
        FormatError: not a 2-D numeric ``.npy``, non-finite or all-zero rows, a broken record.
        AlignmentError: wrong row count, or a record naming another detections file
            version or another array.
    """
    npy_path = Path(npy_path)
    if not npy_path.is_file():
        raise InputNotFound("embeddings file does not exist", path=npy_path)
    try:
        array = np.load(npy_path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, OSError, EOFError... for bad bytes
        raise FormatError(f"is not a NumPy .npy array ({type(exc).__name__}: {exc})", path=npy_path) from None
    if not isinstance(array, np.ndarray) or array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        shape = getattr(array, "shape", None)
        raise FormatError(f"embeddings must be a 2-D numeric array (N, D), got shape {shape}", path=npy_path)
    n = len(detections.detections)
    if array.shape[0] != n:
        raise AlignmentError(
            f"has {array.shape[0]} rows but {Path(detections_path).name} has {n} detections (row i must embed det_id i)",
            path=npy_path,
        )
    norms = _checked_norms(array, npy_path)  # (N,) float32
    notes: list[str] = []
    record = record_path(npy_path)
    if record.is_file():
        _check_record(record, npy_path, detections, detections_path)
        verified_by = "sha256"
    else:
        verified_by = "row_count"
        notes.append(f"{npy_path.name} has no dior record ({record.name}); accepted on its row count ({n}) alone")
    vectors = array if array.dtype == np.float32 else np.asarray(array, dtype=np.float32)
    off = np.abs(norms - 1) > _UNIT_TOLERANCE
    if off.any():
        vectors = vectors / norms[:, None]
        notes.append(f"{int(off.sum())} of {n} rows of {npy_path.name} were not unit length; dior L2-normalised them")
    return Embeddings(vectors=vectors, verified_by=verified_by, notes=tuple(notes))


def _checked_norms(array: np.ndarray, npy_path: Path) -> np.ndarray:
    """``(N,)`` float32 row norms of a (memory-mapped) array, checked in chunks: finite and non-zero."""
    n, dim = array.shape
    step = max(1, min(_CHECK_ROWS, (1 << 22) // max(1, 4 * dim)))
    norms = np.empty(n, dtype=np.float32)
    for start in range(0, n, step):
        block = np.asarray(array[start : start + step], dtype=np.float32)  # (B, D)
        bad = np.flatnonzero(~np.isfinite(block).all(axis=1))
        if bad.size:
            raise FormatError("embedding is not finite", path=npy_path, row=start + int(bad[0]))
        norms[start : start + len(block)] = np.linalg.norm(block, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise FormatError("embedding is all zeros (cannot be normalised)", path=npy_path, row=int(zero[0]))
    return norms


def _check_record(record: Path, npy_path: Path, detections: DetectionsFile, detections_path: str | os.PathLike) -> None:
    try:
        doc = json.loads(record.read_bytes())
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            raise ValueError(f"schema must be {SCHEMA!r}")
        dets_hash, emb_hash = doc["detections_sha256"], doc["embeddings_sha256"]
    except (ValueError, KeyError, UnicodeDecodeError) as exc:
        raise FormatError(f"is not a valid embeddings record ({exc})", path=record) from None
    if emb_hash != sha256_of_file(npy_path):
        raise AlignmentError(
            f"does not match {record.name}: the array was replaced after its record was written "
            "(or a write was interrupted); re-run the stage that wrote it",
            path=Path(record).with_suffix(""),
        )
    if detections.sha256 is not None and dets_hash != detections.sha256:
        raise AlignmentError(
            f"was computed from another version of {Path(detections_path).name} (stale embeddings); "
            "re-run `dior infer` with --overwrite",
            path=Path(record).with_suffix(""),
        )
