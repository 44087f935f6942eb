"""Embeddings ``<seq>.npy``: float32 ``(N, D)``, row ``i`` = detection ``det_id = i``,
L2-normalised; ``(0, D)`` for a sequence without detections.

dior writes a record beside each array, ``<seq>.npy.json``::

    {"schema": "dior.embeddings/v1", "detections_file": "0002.json",
     "detections_sha256": "...", "embeddings_sha256": "...", "rows": N, "dim": D}

so a reader can refuse an array that was computed from another version of the detections
file (stale) or that was replaced after its record was written (an interrupted write).
An ``.npy`` made by another tool has no record: it is accepted on its row count alone,
and the reader says so.

:func:`read_embeddings` checks an array against a :class:`DetectionsFile` in memory;
:func:`open_embedding_rows` checks it on its own and hands out rows on demand
(:class:`EmbeddingRows`), for stages that stream the detections: the row count and the
detections' sha256 are checked once the stream has counted and hashed them. Both read the
memory-mapped file in chunks and hand the mapped pages back to the kernel as they go
(``MADV_DONTNEED``), so resident memory does not grow with the file.
"""

from __future__ import annotations

import hashlib
import io
import json
import mmap
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
_RESIDENT_BYTES = 1 << 25  # mapped bytes read before the pages are handed back to the kernel (32 MiB)


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
    array = _open_array(npy_path)
    n = len(detections.detections)
    _check_row_count(array.shape[0], n, detections_path, npy_path)
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


def release_pages(array: np.ndarray) -> None:
    """Hand the resident pages of a read-only memory map back to the kernel (``MADV_DONTNEED``):
    they no longer count in the process's RSS and are read again from the file (page cache) when
    next used. A no-op for an array that is not a memory map."""
    mapping = getattr(array, "_mmap", None)
    if mapping is not None and hasattr(mapping, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)


class EmbeddingRows:
    """Rows of a checked embeddings file read on demand: ``rows[index]`` (slice or int array) is a
    float32 ``(K, D)`` copy, converted and normalised as :func:`read_embeddings` would. The mapped
    pages are handed back every ``_RESIDENT_BYTES`` read, so resident memory stays bounded however
    many rows are read (a plain ``numpy.memmap`` keeps every page it touched in the RSS).

    Attributes:
        shape: ``(N, D)``.
        verified_by, notes: as :class:`Embeddings`.
        detections_sha256: what the record says the rows were computed from (``None`` without one).
    """

    def __init__(self, array: np.ndarray, norms: np.ndarray, verified_by: str, notes: list[str], detections_sha256: str | None,
                 npy_path: Path) -> None:
        self._array, self._norms, self.npy_path = array, norms, npy_path
        self._scale = (np.abs(norms - 1) > _UNIT_TOLERANCE).any()  # rows to normalise on the way out
        self.shape = tuple(array.shape)
        self.verified_by, self.notes, self.detections_sha256 = verified_by, notes, detections_sha256
        if self._scale:
            off = int((np.abs(norms - 1) > _UNIT_TOLERANCE).sum())
            notes.append(f"{off} of {len(norms)} rows of {npy_path.name} were not unit length; dior L2-normalised them")
        self._touched = 0

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, index) -> np.ndarray:
        block = np.array(self._array[index], dtype=np.float32)  # (K, D) a copy: the pages may go
        if self._scale:
            block = block / self._norms[index][..., None]
        rows = block.shape[0] if block.ndim == 2 else 1
        # a slice maps its own pages; scattered rows each fault in up to 64 KiB around them (fault-around)
        self._touched += block.nbytes if isinstance(index, slice) else rows * max(block.nbytes // max(rows, 1), 65536)
        if self._touched > _RESIDENT_BYTES:
            release_pages(self._array)
            self._touched = 0
        return block

    def check_against(self, num_detections: int, detections_sha256: str | None, detections_path: str | os.PathLike) -> None:
        """The checks :func:`read_embeddings` makes against the detections, once they are all read.

        Raises:
            AlignmentError: another row count, or rows computed from another version of the detections.
        """
        _check_row_count(self.shape[0], num_detections, detections_path, self.npy_path)
        if self.detections_sha256 is not None:
            _check_not_stale(self.detections_sha256, detections_sha256, detections_path, record_path(self.npy_path))


def open_embedding_rows(npy_path: str | os.PathLike, detections_path: str | os.PathLike) -> EmbeddingRows:
    """Check an embeddings file on its own (the checks of :func:`read_embeddings` that need no
    detections: a 2-D numeric array, finite non-zero rows, the record's sha256 of the array) and
    open it for reading rows; the row count and the detections' sha256 are checked afterwards with
    :meth:`EmbeddingRows.check_against`, once a streamed reader has counted and hashed them.
    Memory stays at one chunk of rows plus ``(N,)`` float32 norms.
    """
    npy_path = Path(npy_path)
    array = _open_array(npy_path)
    norms = _checked_norms(array, npy_path)  # (N,) float32
    notes: list[str] = []
    record = record_path(npy_path)
    detections_sha = None
    if record.is_file():
        detections_sha = _record_hashes(record, npy_path)
        verified_by = "sha256"
    else:
        verified_by = "row_count"
        notes.append(f"{npy_path.name} has no dior record ({record.name}); accepted on its row count ({array.shape[0]}) alone")
    return EmbeddingRows(array, norms, verified_by, notes, detections_sha, npy_path)


def _open_array(npy_path: Path) -> np.ndarray:
    """The read-only memory map of a 2-D numeric ``.npy``, or the error naming the file."""
    if not npy_path.is_file():
        raise InputNotFound("embeddings file does not exist", path=npy_path)
    try:
        array = np.load(npy_path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # numpy raises ValueError, OSError, EOFError... for bad bytes
        raise FormatError(f"is not a NumPy .npy array ({type(exc).__name__}: {exc})", path=npy_path) from None
    if not isinstance(array, np.ndarray) or array.ndim != 2 or not np.issubdtype(array.dtype, np.number):
        shape = getattr(array, "shape", None)
        raise FormatError(f"embeddings must be a 2-D numeric array (N, D), got shape {shape}", path=npy_path)
    return array


def _record_hashes(record: Path, npy_path: Path) -> str:
    """Check the record's sha256 of the array; return the detections sha256 it names."""
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
    return dets_hash


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
        release_pages(array)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise FormatError("embedding is all zeros (cannot be normalised)", path=npy_path, row=int(zero[0]))
    return norms


def _check_record(record: Path, npy_path: Path, detections: DetectionsFile, detections_path: str | os.PathLike) -> None:
    _check_not_stale(_record_hashes(record, npy_path), detections.sha256, detections_path, record)


def _check_row_count(rows: int, num_detections: int, detections_path: str | os.PathLike, npy_path: Path) -> None:
    """Row i embeds det_id i: as many rows as detections."""
    if rows != num_detections:
        raise AlignmentError(
            f"has {rows} rows but {Path(detections_path).name} has {num_detections} detections (row i must embed det_id i)",
            path=npy_path,
        )


def _check_not_stale(recorded_sha256: str, detections_sha256: str | None, detections_path: str | os.PathLike, record: Path) -> None:
    """The record names the detections the rows were computed from; ``None``: nothing to compare."""
    if detections_sha256 is not None and recorded_sha256 != detections_sha256:
        raise AlignmentError(
            f"was computed from another version of {Path(detections_path).name} (stale embeddings); "
            "re-run `dior infer` with --overwrite",
            path=Path(record).with_suffix(""),
        )
