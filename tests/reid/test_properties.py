"""Invariants of offline refinement, on random sequences (hypothesis) and through the stage.

Random scenes: identities of class 1 or 2, each seen on a random subset of its time span (one
observation per frame and identity), appearances drawn around a few shared prototypes (so
identities look alike and merges, right and wrong, happen), input tracks cut at random and
swapped at random between two same-class identities (as a tracker's mistakes would), object
ids ``class * 1000 + k``, sometimes past k = 999. Through ``refine_remots`` (with and without
random optical-flow evidence aligned with ``track_links``) and ``link_tracklets``:

(a) no two observations of one frame share an output id;
(b) an output id never holds two classes (and encodes its class, as MOTS ids do);
(c) every observation keeps exactly one output id (shape ``(N,)``, no zeros);

and more that follow from the methods' definitions: without flow evidence refinement only
merges (an input track keeps one id); the frames of an output id never leave a hole larger
than the time limit or the holes its input tracks had; the reports' counts add up.

Stage level (real files: detections JSON + npy, ``track``, then ``reid`` with both methods):
every input line appears once in the output, in the same place, with the same frame, class
and RLE string; the refined link file's ``lines`` equal the input's.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from dior_cli.config import ReidConfig
from dior_cli.formats.detections_json import DetectionsFile, write_detections
from dior_cli.formats.embeddings import write_embeddings
from dior_cli.records import Detections
from dior_cli.association.long_term import link_tracklets
from dior_cli.reid.remots import refine_remots, track_links
from dior_cli.reid.stage import ReidOptions
from dior_cli.reid.stage import run as reid
from dior_cli.track.stage import TrackOptions
from dior_cli.track.stage import run as track
from tests.conftest import KITTI_TXT, require
from tests.track.simulate import Burst, SimParams, simulate_folder

DIM = 8


def ids_for(class_id: int, k: int) -> int:
    """MOTS object id of the k-th track of a class, written out here (past 999 as records.py documents)."""
    return 100000 * (k // 1000) + class_id * 1000 + k % 1000


@st.composite
def scenes(draw):
    """``(frames, obj_ids, class_ids, embeddings)`` of one random sequence (at least one observation)."""
    num_frames = draw(st.integers(1, 24))
    num_identities = draw(st.integers(1, 8))
    prototypes = draw(st.integers(1, 4))
    noise = draw(st.sampled_from([0.0, 0.2, 0.6, 1.5]))
    presence = draw(st.floats(0.3, 1.0))
    cut_prob = draw(st.sampled_from([0.0, 0.1, 0.3]))
    swap_prob = draw(st.sampled_from([0.0, 0.2, 0.5]))
    first_k = draw(st.sampled_from([1, 995]))  # 995: fresh ids cross k = 999
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    protos = rng.standard_normal((prototypes, DIM))
    classes = rng.integers(1, 3, num_identities)
    appearance = protos[rng.integers(0, prototypes, num_identities)]
    start = rng.integers(0, num_frames, num_identities)
    stop = np.minimum(num_frames, start + 1 + rng.integers(0, num_frames, num_identities))
    next_k = {1: first_k, 2: first_k}

    def fresh(cls: int) -> int:
        next_k[cls] += 1
        return ids_for(cls, next_k[cls] - 1)

    current = {i: fresh(int(classes[i])) for i in range(num_identities)}
    frames, obj_ids, class_ids, vectors = [], [], [], []
    for t in range(num_frames):
        present = [i for i in range(num_identities) if start[i] <= t < stop[i] and (t == start[i] or rng.random() < presence)]
        for i in present:
            if t > start[i] and rng.random() < cut_prob:
                current[i] = fresh(int(classes[i]))
        if len(present) >= 2 and rng.random() < swap_prob:
            i, j = rng.choice(present, 2, replace=False)
            if classes[i] == classes[j]:
                current[i], current[j] = current[j], current[i]  # the tracker swapped two look-alikes
        for i in present:
            frames.append(t)
            obj_ids.append(current[i])
            class_ids.append(int(classes[i]))
            vectors.append(appearance[i] + noise * rng.standard_normal(DIM) / np.sqrt(DIM))
    e = np.asarray(vectors, np.float64)
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    return np.asarray(frames, np.int64), np.asarray(obj_ids, np.int64), np.asarray(class_ids, np.int64), e.astype(np.float32)


def largest_hole(frames: np.ndarray) -> int:
    f = np.unique(frames)
    return int(np.diff(f).max()) if f.size > 1 else 0


def check_invariants(frames, obj_ids, class_ids, new_ids, max_gap_frames):
    n = frames.size
    # (c) every observation keeps exactly one output id
    assert new_ids.shape == (n,) and np.issubdtype(new_ids.dtype, np.integer)
    assert (new_ids > 0).all()
    # (a) one frame never holds an output id twice
    assert len(set(zip(frames.tolist(), new_ids.tolist()))) == n
    # (b) one class per output id, and the id encodes it
    classes_of: dict[int, set[int]] = {}
    for i, c in zip(new_ids.tolist(), class_ids.tolist()):
        classes_of.setdefault(i, set()).add(c)
    assert all(len(c) == 1 for c in classes_of.values()), classes_of
    assert all((i % 100000) // 1000 == next(iter(c)) for i, c in classes_of.items())
    # an output id's frames leave no hole larger than the limit or the holes of its input tracks
    input_hole = max(largest_hole(frames[obj_ids == i]) for i in np.unique(obj_ids))
    for i in np.unique(new_ids):
        assert largest_hole(frames[new_ids == i]) <= max(max_gap_frames, input_hole), i


def one_id_per_input_track(obj_ids, new_ids) -> bool:
    return all(np.unique(new_ids[obj_ids == i]).size == 1 for i in np.unique(obj_ids))


PROPERTY_SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(scene=scenes(), max_gap=st.integers(1, 12), sigma_k=st.sampled_from([0.0, 1.0, 3.0]), seed=st.integers(0, 3))
def test_remots_without_flow(scene, max_gap, sigma_k, seed):
    frames, obj_ids, class_ids, e = scene
    new_ids, report = refine_remots(frames, obj_ids, class_ids, e, max_gap_frames=max_gap, sigma_k=sigma_k, seed=seed)
    check_invariants(frames, obj_ids, class_ids, new_ids, max_gap)
    assert one_id_per_input_track(obj_ids, new_ids)  # no evidence to cut: only merges
    assert report.cuts_appearance == report.cuts_flow == 0
    assert report.tracks_in == report.short_term_tracklets == np.unique(obj_ids).size
    assert report.tracks_out == np.unique(new_ids).size == report.short_term_tracklets - report.merges
    again, _ = refine_remots(frames, obj_ids, class_ids, e, max_gap_frames=max_gap, sigma_k=sigma_k, seed=seed)
    assert np.array_equal(again, new_ids)  # seeded: the same answer twice


@st.composite
def scenes_with_flow(draw):
    frames, obj_ids, class_ids, e = draw(scenes())
    earlier, _ = track_links(frames, obj_ids)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    kind = rng.choice(3, earlier.size, p=draw(st.sampled_from([(1, 0, 0), (0, 1, 0), (0.3, 0.3, 0.4)])))
    iou = np.where(kind == 0, np.nan, np.where(kind == 1, 0.0, rng.uniform(0.01, 1.0, earlier.size)))
    return frames, obj_ids, class_ids, e, iou


@PROPERTY_SETTINGS
@given(scene=scenes_with_flow(), max_gap=st.integers(1, 12), sigma_k=st.sampled_from([0.0, 1.0, 3.0]))
def test_remots_with_flow(scene, max_gap, sigma_k):
    frames, obj_ids, class_ids, e, iou = scene
    new_ids, report = refine_remots(frames, obj_ids, class_ids, e, max_gap_frames=max_gap, sigma_k=sigma_k, link_flow_iou=iou)
    check_invariants(frames, obj_ids, class_ids, new_ids, max_gap)
    flow_cuts = int((iou == 0).sum())
    assert report.cuts_flow <= flow_cuts  # only IoU exactly 0 cuts on flow; NaN never does
    assert report.short_term_tracklets == report.tracks_in + report.cuts_appearance + report.cuts_flow
    assert report.cuts_appearance + report.cuts_flow >= flow_cuts
    assert report.tracks_out == np.unique(new_ids).size == report.short_term_tracklets - report.merges
    # an observation pair kept together by the input track and not split by any cut stays together
    earlier, later = track_links(frames, obj_ids)
    if flow_cuts == 0 and report.cuts_appearance == 0:
        assert np.array_equal(new_ids[earlier], new_ids[later])


@PROPERTY_SETTINGS
@given(scene=scenes(), max_gap=st.integers(1, 12), min_similarity=st.sampled_from([-1.0, 0.0, 0.5, 0.7, 0.95]))
def test_link_tracklets(scene, max_gap, min_similarity):
    frames, obj_ids, class_ids, e = scene
    new_ids, joins = link_tracklets(obj_ids, frames, class_ids, e, max_gap_frames=max_gap, min_similarity=min_similarity)
    check_invariants(frames, obj_ids, class_ids, new_ids, max_gap)
    assert one_id_per_input_track(obj_ids, new_ids)
    assert set(new_ids.tolist()) <= set(obj_ids.tolist())  # a chain takes the id of its first tracklet
    assert len(joins) == np.unique(obj_ids).size - np.unique(new_ids).size
    for j in joins:
        first_later = frames[obj_ids == j.later].min()
        last_earlier = frames[obj_ids == j.earlier].max()
        assert j.gap_frames == first_later - last_earlier and 1 <= j.gap_frames <= max_gap
        assert j.similarity > min_similarity
        assert new_ids[obj_ids == j.earlier][0] == new_ids[obj_ids == j.later][0]


def test_remots_empty_sequence():
    empty = np.zeros(0, np.int64)
    new_ids, report = refine_remots(empty, empty, empty, np.zeros((0, DIM), np.float32), max_gap_frames=5, sigma_k=3.0)
    assert new_ids.shape == (0,) and report.tracks_out == 0


def test_link_tracklets_empty_sequence():
    empty = np.zeros(0, np.int64)
    new_ids, joins = link_tracklets(empty, empty, empty, np.zeros((0, DIM), np.float32), max_gap_frames=5, min_similarity=0.7)
    assert new_ids.shape == (0,) and joins == []


# --- stage level: real files ------------------------------------------------------------------


def rect_rle(height: int, width: int, y0: int, x0: int, h: int, w: int) -> dict:
    """A rectangle's mask as COCO compressed RLE, computed here with pycocotools."""
    m = np.zeros((height, width), np.uint8)
    m[max(y0, 0) : y0 + h, max(x0, 0) : x0 + w] = 1
    return {"size": [height, width], "counts": mask_utils.encode(np.asfortranarray(m))["counts"].decode("ascii")}


def write_handmade(dets_dir: Path) -> None:
    """A 40-frame sequence at 10 fps: three pedestrians and two cars (rectangles moving right),
    each hidden for 3-6 frames (longer than the tracker bridges), noisy per-identity embeddings,
    and a few false positives; one pair of pedestrians overlaps (disjoint masks move pixels)."""
    rng = np.random.default_rng(3)
    height, width, num_frames = 90, 160, 40
    objects = [  # class, y, x at frame 0, size (h, w), speed px/frame, hidden frames
        (2, 10, 5, (30, 12), 2, range(10, 14)),
        (2, 12, 14, (30, 12), 2, range(20, 26)),
        (2, 50, 100, (30, 12), -1, range(5, 8)),
        (1, 60, 0, (20, 40), 3, range(15, 20)),
        (1, 5, 120, (20, 40), -2, range(25, 30)),
    ]
    identity = rng.standard_normal((len(objects), 32))
    frame, class_id, rles, vectors = [], [], [], []
    for t in range(num_frames):
        for k, (cls, y, x, (h, w), v, hidden) in enumerate(objects):
            x_t = x + v * t
            if t in hidden or x_t >= width or x_t + w <= 0:
                continue
            frame.append(t)
            class_id.append(cls)
            rles.append(rect_rle(height, width, y, x_t, h, w))
            vectors.append(identity[k] + 0.3 * rng.standard_normal(32) / np.sqrt(32))
        if t % 7 == 3:  # a false positive
            frame.append(t)
            class_id.append(int(rng.integers(1, 3)))
            rles.append(rect_rle(height, width, int(rng.integers(0, 70)), int(rng.integers(0, 140)), 10, 10))
            vectors.append(rng.standard_normal(32))
    boxes = np.asarray(mask_utils.toBbox([{"size": r["size"], "counts": r["counts"].encode()} for r in rles]), np.float64)
    boxes[:, 2:] += boxes[:, :2]
    dets = Detections(frame=np.asarray(frame), class_id=np.asarray(class_id), score=rng.uniform(0.6, 1.0, len(frame)),
                      bbox_xyxy=boxes, rles=rles)
    file = DetectionsFile(sequence="hand", image_size=(height, width), num_frames=num_frames, fps=10.0, frame_base=0,
                          detections=dets, producer={"dior_version": "test", "weights": "handmade", "weights_sha256": None})
    dets_dir.mkdir(parents=True, exist_ok=True)
    sha = write_detections(dets_dir / "hand.json", file)
    e = np.asarray(vectors)
    write_embeddings(dets_dir / "hand.npy", (e / np.linalg.norm(e, axis=1, keepdims=True)).astype(np.float32), dets_dir / "hand.json", sha)


def without_id(line: str) -> tuple[str, ...]:
    parts = line.split()
    return (parts[0], *parts[2:])


@pytest.fixture(scope="module", params=["handmade", "kitti_0012"])
def stage_run(request, tmp_path_factory) -> Path:
    """Tracks of one case: the handmade sequence, or KITTI-MOTS 0012 (real motion, 78 frames,
    fragmented by simulated long occlusions; skipped with the reason when the data is absent)."""
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "handmade":
        write_handmade(root / "dets")
    else:
        params = SimParams(miss_prob=0.05, bursts=(Burst((4, 8), per_track=1),), max_shift=2, fp_per_frame=0.3, sigma=0.4, seed=5)
        simulate_folder(require(KITTI_TXT), ["0012"], root / "dets", params)
    track(TrackOptions(dets=root / "dets", out=root / "tracks", overwrite=True))
    return root


@pytest.mark.parametrize("method", ["remots", "dior"])
def test_stage_keeps_every_line(stage_run, method):
    root = stage_run
    out = root / f"refined_{method}"
    summary = reid(ReidOptions(tracks=root / "tracks", dets=root / "dets", out=out, frames=None, plot=False, overwrite=True,
                               config=ReidConfig(method=method)))
    sequences = sorted(p.stem for p in (root / "tracks").glob("*.txt"))
    assert sorted(summary["sequences"]) == sequences
    changed = 0
    for seq in sequences:
        before = (root / "tracks" / f"{seq}.txt").read_text().splitlines()
        after = (out / f"{seq}.txt").read_text().splitlines()
        assert Counter(map(without_id, after)) == Counter(map(without_id, before))  # every line once, same frame, class, mask
        assert [without_id(x) for x in after] == [without_id(x) for x in before]  # and in the same place
        links_in = json.loads((root / "tracks" / f"{seq}.json").read_text())
        links_out = json.loads((out / f"{seq}.json").read_text())
        assert links_out["lines"] == links_in["lines"]
        ids_out = [int(x.split()[1]) for x in after]
        assert sorted(t["obj_id"] for t in links_out["tracks"]) == sorted(set(ids_out))
        assert sum(t["num_detections"] for t in links_out["tracks"]) == len(after)
        frame_id = [(x.split()[0], x.split()[1]) for x in after]
        assert len(set(frame_id)) == len(frame_id)  # (a) at the stage level
        assert all(len({x.split()[2] for x in after if x.split()[1] == str(i)}) == 1 for i in set(ids_out))  # (b)
        s = summary["sequences"][seq]
        assert s["lines"] == len(before) and s["tracks_out"] == len(set(ids_out))
        changed += s["tracks_in"] - s["tracks_out"]
    assert changed > 0  # the occlusions fragmented tracks and refinement re-linked some


def test_stage_empty_sequence(tmp_path):
    empty = DetectionsFile(sequence="empty", image_size=(20, 30), num_frames=5, fps=10.0, frame_base=0,
                           detections=Detections.empty())
    (tmp_path / "dets").mkdir()
    sha = write_detections(tmp_path / "dets" / "empty.json", empty)
    write_embeddings(tmp_path / "dets" / "empty.npy", np.zeros((0, DIM), np.float32), tmp_path / "dets" / "empty.json", sha)
    track(TrackOptions(dets=tmp_path / "dets", out=tmp_path / "tracks", overwrite=True))
    for method in ("dior", "remots"):
        summary = reid(ReidOptions(tracks=tmp_path / "tracks", dets=tmp_path / "dets", out=tmp_path / method, overwrite=True,
                                   config=ReidConfig(method=method)))
        assert summary["sequences"]["empty"]["tracks_out"] == 0
        assert (tmp_path / method / "empty.txt").read_text() == ""
