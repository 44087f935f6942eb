"""The online DIOR tracker for one sequence (DIOR sec. 3.4).

Per frame and per class (cars with cars, pedestrians with pedestrians):

1. **Match** detections to the tracks matched in the previous frame: cost
   ``2 - IoM - max cos`` (:mod:`dior_cli.track.costs`), gated Hungarian assignment.
2. **Short-term retrieval**: detections still unmatched are matched to *lost* tracks (alive,
   but without a detection in the previous frame) on appearance, with the mask overlap
   with their last mask helping through the same cost, under its own gate.
3. **Birth**: remaining detections scoring at least ``new_track_score`` start tracks.
4. **Termination**: a track last matched in frame ``L`` can be matched up to frame
   ``L + n1_frames``, i.e. across at most ``n1_frames - 1`` missed frames; in frame
   ``L + n1_frames + 1`` (after ``n1_frames`` missed frames) it is finished and can no longer
   be matched. ``n1_frames = 1`` leaves nothing to retrieve.

Without embeddings the tracker runs on masks alone (cost ``1 - IoM``). A tracker is made
per sequence: ids (``class_id * 1000 + k``, ``k`` from 1 per class, see :func:`dior_cli.records.mots_obj_id`)
restart with it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from dior_cli.association.assignment import gated_hungarian
from dior_cli.masks import Rle, iom_matrix
from dior_cli.records import mots_obj_id
from dior_cli.track.costs import association_cost, max_cosine


@dataclass(eq=False)
class Track:
    """A track's state: its id, where it was last seen, and its feature stack."""

    obj_id: int
    class_id: int
    first_frame: int
    last_frame: int
    last_rle: Rle
    first_embeddings: list[np.ndarray] = field(default_factory=list)
    recent_embeddings: deque = field(default_factory=deque)
    _stack: np.ndarray | None = field(default=None, repr=False)  # stack() until the next remember()

    def stack(self) -> np.ndarray:
        """``(K, D)``: embeddings of its first frames and its most recent frames."""
        if self._stack is None:
            self._stack = np.stack([*self.first_embeddings, *self.recent_embeddings])
        return self._stack

    def remember(self, embedding: np.ndarray, stack_first: int) -> None:
        """Add a ``(D,)`` embedding: to the first frames' part while it holds fewer than
        ``stack_first``, else to the recent part (which drops its oldest beyond its maxlen).
        The row is copied, so the frame's array it came from is not kept alive."""
        row = np.array(embedding)
        if len(self.first_embeddings) < stack_first:
            self.first_embeddings.append(row)
        else:
            self.recent_embeddings.append(row)
        self._stack = None


class OnlineTracker:
    """Associates one sequence's detections frame by frame; see the module docstring.

    Args:
        n1_frames: (>= 1) a track last matched in frame ``L`` can still be matched in frame
            ``L + n1_frames`` (after ``n1_frames - 1`` missed frames), not later.
        stack_first: embeddings kept from a track's first frames.
        stack_recent: embeddings kept from its most recent frames.
        match_min_iom: gate of step 1, minimum IoM with the track's last mask.
        match_min_similarity: gate of step 1, minimum max-cosine (with appearance).
        match_max_cost: gate of step 1, maximum cost (without mask overlap a match needs
            max-cosine >= ``2 - match_max_cost``).
        retrieval_min_similarity: gate of step 2, minimum max-cosine (with appearance).
            ``dior track`` reads both from each sequence by default (:mod:`dior_cli.track.gates`);
            the defaults here are dior's fixed values, which suit OSNet.
        retrieval_min_iom: gate of step 2 without appearance, minimum IoM with the last mask.
        new_track_score: minimum score for a detection to start a track.
        use_appearance: whether embeddings are given to :meth:`step`.
        use_retrieval: whether step 2 runs (off: a track is lost after one missed frame).
    """

    def __init__(
        self,
        *,
        n1_frames: int,
        stack_first: int = 5,
        stack_recent: int = 5,
        match_min_iom: float = 0.0,
        match_min_similarity: float = 0.2,
        match_max_cost: float = 1.2,
        retrieval_min_similarity: float = 0.6,
        retrieval_min_iom: float = 0.3,
        new_track_score: float = 0.5,
        use_appearance: bool = True,
        use_retrieval: bool = True,
    ) -> None:
        if n1_frames < 1:
            raise ValueError(f"n1_frames must be >= 1, got {n1_frames}")
        self.n1_frames = n1_frames
        self.stack_first = stack_first
        self.stack_recent = stack_recent
        self.match_min_iom = match_min_iom
        self.match_min_similarity = match_min_similarity
        self.match_max_cost = match_max_cost
        self.retrieval_min_similarity = retrieval_min_similarity
        self.retrieval_min_iom = retrieval_min_iom
        self.new_track_score = new_track_score
        self.use_appearance = use_appearance
        self.use_retrieval = use_retrieval
        self._live: dict[int, list[Track]] = {}
        self._next_instance: dict[int, int] = {}
        self.num_finished = 0  # tracks terminated so far (their state is released)
        self.retrieved = 0  # detections matched by short-term retrieval

    def step(self, frame: int, rles: list[Rle], class_ids: np.ndarray, scores: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        """Associate frame ``frame``'s detections; return their object ids ``(N,)`` (0 = none).

        Args:
            frame: 0-based frame, increasing from call to call.
            rles: the ``N`` detection masks.
            class_ids: ``(N,)`` MOTS classes.
            scores: ``(N,)`` detection scores.
            embeddings: ``(N, D)`` unit rows, or ``None`` when running on masks alone.
        """
        if self.use_appearance and embeddings is None:
            raise ValueError("this tracker uses appearance: embeddings are required")
        obj_ids = np.zeros(len(rles), dtype=np.int64)
        for class_id in np.unique(class_ids).tolist():
            rows = np.flatnonzero(class_ids == class_id)
            obj_ids[rows] = self._step_class(frame, class_id, rows, rles, scores, embeddings)
        for class_id in set(self._live) - set(np.unique(class_ids).tolist()):
            self._expire(frame, class_id)
        return obj_ids

    def live_obj_ids(self) -> set[int]:
        """Ids of the tracks that can still be matched (the others never get another detection)."""
        return {t.obj_id for tracks in self._live.values() for t in tracks}

    def finish(self) -> int:
        """End the sequence: terminate every live track; return how many tracks there were."""
        for class_id in list(self._live):
            self.num_finished += len(self._live.pop(class_id))
        return self.num_finished

    def _step_class(self, frame: int, class_id: int, rows: np.ndarray, rles: list[Rle], scores: np.ndarray, embeddings: np.ndarray | None) -> np.ndarray:
        live = self._expire(frame, class_id)
        ids = np.zeros(rows.size, dtype=np.int64)
        det_rles = [rles[i] for i in rows]
        det_emb = None if embeddings is None else embeddings[rows]  # (n, D)
        unmatched = np.arange(rows.size)

        # 1. match with the tracks seen in the previous frame
        recent = [t for t in live if t.last_frame == frame - 1]
        matched_det, matched_trk = self._associate(unmatched, recent, det_rles, det_emb, retrieval=False)
        self._update(frame, recent, matched_det, matched_trk, det_rles, det_emb, ids)
        unmatched = np.setdiff1d(unmatched, matched_det)

        # 2. short-term retrieval among tracks lost for at most n1_frames
        if self.use_retrieval and unmatched.size:
            lost = [t for t in live if t.last_frame < frame - 1]
            matched_det, matched_trk = self._associate(unmatched, lost, det_rles, det_emb, retrieval=True)
            self._update(frame, lost, matched_det, matched_trk, det_rles, det_emb, ids)
            self.retrieved += matched_det.size
            unmatched = np.setdiff1d(unmatched, matched_det)

        # 3. births
        for i in unmatched:
            if scores[rows[i]] >= self.new_track_score:
                track = self._new_track(frame, class_id, det_rles[i], None if det_emb is None else det_emb[i])
                live.append(track)
                ids[i] = track.obj_id
        return ids

    def _associate(self, dets: np.ndarray, tracks: list[Track], det_rles: list[Rle], det_emb: np.ndarray | None, retrieval: bool) -> tuple[np.ndarray, np.ndarray]:
        """Gated Hungarian between detections ``dets`` (indices) and ``tracks``."""
        if dets.size == 0 or not tracks:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        iom = iom_matrix([det_rles[i] for i in dets], [t.last_rle for t in tracks])  # (n, m)
        similarity = None
        if self.use_appearance:
            similarity = max_cosine(det_emb[dets], [t.stack() for t in tracks])  # (n, m)
        cost = association_cost(iom, similarity)
        if similarity is None:  # masks alone: only overlap can link
            allowed = (iom > 0) & (iom >= (self.retrieval_min_iom if retrieval else self.match_min_iom))
        elif retrieval:
            allowed = similarity >= self.retrieval_min_similarity
        else:
            allowed = (iom >= self.match_min_iom) & (similarity >= self.match_min_similarity) & (cost <= self.match_max_cost)
        rows, cols = gated_hungarian(cost, allowed)
        return dets[rows], cols

    def _update(self, frame: int, tracks: list[Track], dets: np.ndarray, cols: np.ndarray, det_rles: list[Rle], det_emb: np.ndarray | None, ids: np.ndarray) -> None:
        for i, j in zip(dets.tolist(), cols.tolist()):
            track = tracks[j]
            track.last_frame = frame
            track.last_rle = det_rles[i]
            if det_emb is not None:
                self._remember(track, det_emb[i])
            ids[i] = track.obj_id

    def _remember(self, track: Track, embedding: np.ndarray) -> None:
        track.remember(embedding, self.stack_first)

    def _new_track(self, frame: int, class_id: int, rle: Rle, embedding: np.ndarray | None) -> Track:
        k = self._next_instance.get(class_id, 1)
        self._next_instance[class_id] = k + 1
        track = Track(obj_id=mots_obj_id(class_id, k), class_id=class_id, first_frame=frame, last_frame=frame, last_rle=rle,
                      recent_embeddings=deque(maxlen=self.stack_recent))
        if embedding is not None:
            self._remember(track, embedding)
        return track

    def _expire(self, frame: int, class_id: int) -> list[Track]:
        """Terminate tracks last matched more than ``n1_frames`` frames before ``frame``
        (``frame - last_frame > n1_frames``: ``n1_frames`` or more missed frames).

        A terminated track can never be matched again, so its state is dropped: memory
        holds live tracks only, whatever the length of the sequence.
        """
        live = self._live.setdefault(class_id, [])
        keep = [t for t in live if frame - t.last_frame <= self.n1_frames]
        self.num_finished += len(live) - len(keep)
        live[:] = keep
        return live
