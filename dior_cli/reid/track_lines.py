"""The inputs and outputs of ``dior reid`` for one sequence, read and written as streams.

A refinement needs, per track line, its frame, object id and class and (through the link
file) the embedding of the detection it came from; masks only when optical flow is used
(``--frames``). So a tracks file is read a block of lines at a time keeping those three
columns (:func:`read_track_lines`), the detections file a batch of rows at a time keeping
frame and class (:func:`line_embeddings`), embeddings by row on demand
(:class:`dior_cli.formats.embeddings.EmbeddingRows`), and the refined tracks file is written
by a second pass over the input, each line under its new id (:func:`write_refined`). Memory
then grows with a few numbers per line, not with the masks. Validation and messages are those
of the whole-file readers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dior_cli.errors import AlignmentError, ConfigError, InputNotFound
from dior_cli.formats.detections_json import DetectionStream, NotStreamable, read_detections
from dior_cli.formats.embeddings import open_embedding_rows
from dior_cli.formats.mots_txt import iter_mots_txt, mots_txt_writer, read_mots_txt
from dior_cli.formats.tracks_json import TrackLinks, read_track_links, summarise_track_arrays, write_track_links
from dior_cli.records import MotsRows, group_rows
from dior_cli.reid.line_embeddings import LineEmbeddings


@dataclass(frozen=True, eq=False)
class TrackLines:
    """The lines of a tracks file without their masks: ``(L,)`` int64 columns, frames 0-based."""

    frame: np.ndarray
    obj_id: np.ndarray
    class_id: np.ndarray

    def __len__(self) -> int:
        return int(self.frame.size)

    def rows_by_frame(self, num_frames: int) -> list[np.ndarray]:
        """Line indices of each frame ``0..num_frames-1``, in file order (as ``MotsRows``)."""
        return group_rows(self.frame, num_frames)


def read_track_lines(txt: Path, links_path: Path, *, keep_masks: bool) -> tuple[TrackLines | MotsRows, TrackLinks]:
    """A tracks file and its link file (``lines`` as an int64 array), checked as ``read_mots_txt``
    and ``read_track_links`` check them; the masks are kept only with ``keep_masks`` (``MotsRows``)."""
    probe = read_track_links(links_path, as_array=True)
    if keep_masks:
        rows: TrackLines | MotsRows = read_mots_txt(txt, probe.frame_base, num_frames=probe.num_frames)
    else:
        columns: tuple[list, list, list] = ([], [], [])
        for block in iter_mots_txt(txt, probe.frame_base, num_frames=probe.num_frames, keep_masks=False):
            for column, values in zip(columns, (block.frame, block.obj_id, block.class_id)):
                column.append(values)
        frame, obj_id, class_id = (np.concatenate(c) if c else np.zeros(0, np.int64) for c in columns)
        rows = TrackLines(frame=frame, obj_id=obj_id, class_id=class_id)
    links = read_track_links(links_path, len(rows), as_array=True)
    return rows, links


def line_embeddings(dets_dir: Path, links: TrackLinks, rows: TrackLines | MotsRows, txt: Path) -> LineEmbeddings:
    """The embedding of every track line, checked against the detections it came from: the
    detections file is read a batch at a time keeping each row's frame and class, and its
    embeddings are read by row when used (never copied whole, never all resident)."""
    dets_path = Path(dets_dir) / links.detections_file
    if dets_path.suffix != ".json":
        raise ConfigError(f"was tracked from {links.detections_file}, MOTS txt masks without embeddings, and dior reid compares "
                          "appearance: embed the masks first (dior infer FRAMES --detections DIR), then dior track and dior reid those", path=txt)
    det_frame, det_class, sha256 = _detection_columns(dets_path)
    if links.detections_sha256 is not None and sha256 != links.detections_sha256:
        raise AlignmentError(f"was tracked from another version of {dets_path.name}; re-run dior track", path=txt)
    npy = dets_path.with_suffix(".npy")
    if not npy.is_file():
        raise InputNotFound(f"dior reid compares appearance and needs embeddings ({npy.name} beside {dets_path.name})", path=npy)
    vectors = open_embedding_rows(npy, dets_path)
    vectors.check_against(det_frame.size, sha256, dets_path)
    det_ids = np.asarray(links.lines, dtype=np.int64)
    bad = np.flatnonzero((det_ids < 0) | (det_ids >= det_frame.size))
    if bad.size:
        raise AlignmentError(f"line {bad[0] + 1} names det_id {det_ids[bad[0]]}, but {dets_path.name} has {det_frame.size} detections", path=txt)
    wrong = np.flatnonzero((det_frame[det_ids] != rows.frame) | (det_class[det_ids] != rows.class_id))
    if wrong.size:
        raise AlignmentError(f"line {wrong[0] + 1} does not match the frame and class of det_id {det_ids[wrong[0]]}", path=txt)
    return LineEmbeddings(vectors, det_ids)


def _detection_columns(dets_path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """``(frame (N,) int32, class (N,) int8, sha256)`` of a detections file, fully checked."""
    try:
        stream = DetectionStream(dets_path)
        frames, classes = [], []
        for _, block in stream.blocks():
            frames.append(block.frame.astype(np.int32))
            classes.append(block.class_id.astype(np.int8))
        return (np.concatenate(frames) if frames else np.zeros(0, np.int32),
                np.concatenate(classes) if classes else np.zeros(0, np.int8), stream.sha256)
    except NotStreamable:
        dets = read_detections(dets_path)  # another layout: read whole
        return dets.detections.frame, dets.detections.class_id, dets.sha256


def write_refined(txt: Path, out_txt: Path, out_links: Path, links: TrackLinks, rows: TrackLines | MotsRows,
                  new_ids: np.ndarray, producer: dict) -> None:
    """Write the refined tracks: every line of ``txt`` once, in order, with its mask, under
    ``new_ids[i]`` (a second streamed pass over ``txt``), and its link file (the same lines)."""
    new_ids = np.asarray(new_ids, dtype=np.int64)
    done = 0
    with mots_txt_writer(out_txt, links.frame_base) as write:
        for block in iter_mots_txt(txt, links.frame_base, num_frames=links.num_frames):
            k = len(block.line)
            if done + k > new_ids.size or not np.array_equal(block.frame, rows.frame[done : done + k]):
                raise AlignmentError("changed while dior reid was reading it; run dior reid again", path=txt)
            part = block.rows()
            write(part.frame, new_ids[done : done + k], part.class_id, part.rles)
            done += k
        if done != new_ids.size:
            raise AlignmentError("changed while dior reid was reading it; run dior reid again", path=txt)
    write_track_links(out_links, TrackLinks(
        sequence=links.sequence, detections_file=links.detections_file, detections_sha256=links.detections_sha256,
        frame_base=links.frame_base, num_frames=links.num_frames, fps=links.fps, lines=links.lines,
        tracks=summarise_track_arrays(rows.frame, new_ids, rows.class_id), producer=producer,
    ))
