"""``dior track`` on real detector output: PointTrack's KITTI-MOTS test-set masks (ids stripped).

The tracks must be accepted by TrackEval's own KittiMOTS reader (it raises on overlapping
masks, bad ids or frames) and satisfy the format's rules checked directly: masks disjoint and
ids unique in every frame, ids ``class * 1000 + k``, each line linked to a detection of its
frame and class whose mask contains the line's, every detection scoring at least
``new_track_score`` tracked, and a summary that agrees with the files. PointTrack's own track
ids are the reference the tracks are compared with: TrackEval (CLEAR, Identity) scores dior's
tracks against them, and which detections dior links one after another is compared with the
links PointTrack made.
"""

from __future__ import annotations

import shutil
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from dior_cli.config import TrackConfig
from dior_cli.formats.detections_json import write_detections
from dior_cli.formats.tracks_json import read_track_links
from dior_cli.track.stage import TrackOptions, run
from tests.conftest import DATA, require
from tests.track.simulate import pointtrack_detections

trackeval = pytest.importorskip("trackeval")

POINTTRACK = DATA / "pointtrack_kitti_mots_test"
SEQUENCES = ["0001", "0004", "0006"]  # the three smallest (0004 has pedestrians too)


def _coco(rle: dict) -> dict:
    return {"size": rle["size"], "counts": rle["counts"].encode("ascii")}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    require(POINTTRACK)
    root = tmp_path_factory.mktemp("pointtrack")
    dets = {}
    for seq in SEQUENCES:
        dets[seq] = pointtrack_detections(POINTTRACK, seq)
        write_detections(root / "dets" / f"{seq}.json", dets[seq])
    summary = run(TrackOptions(dets=root / "dets", out=root / "tracks", overwrite=True))
    assert not list((root / "dets").glob("*.npy"))
    return root, dets, summary


def _lines(path: Path) -> list[list[str]]:
    return [line.split(" ") for line in path.read_text().splitlines()]


def _pointtrack_lines(seq: str) -> list[str]:
    """PointTrack's own tracks of ``seq`` as one MOTS txt: ids ``class * 1000 + PointTrack's id``, frame order."""
    lines = []
    for folder, cls in (("car", 1), ("person", 2)):
        path = POINTTRACK / folder / f"{seq}.txt"
        for line in (path.read_text().splitlines() if path.is_file() else []):
            frame, track_id, _, h, w, counts = line.split()[:6]
            lines.append((int(frame), cls * 1000 + int(track_id), f"{frame} {cls * 1000 + int(track_id)} {cls} {h} {w} {counts}"))
    return [text for _, _, text in sorted(lines)]


@pytest.fixture(scope="module")
def against_pointtrack(tracked, tmp_path_factory):
    """TrackEval (KittiMOTS reader, CLEAR and Identity) scoring dior's tracks against PointTrack's own
    identities on the same masks: per sequence and class, TrackEval's result dict."""
    root, dets, _ = tracked
    work = tmp_path_factory.mktemp("vs_pointtrack")
    gt, trackers = work / "gt", work / "trackers"
    (gt / "label_02").mkdir(parents=True)
    (trackers / "dior" / "data").mkdir(parents=True)
    for seq in SEQUENCES:
        (gt / "label_02" / f"{seq}.txt").write_text("".join(f"{line}\n" for line in _pointtrack_lines(seq)))
        shutil.copyfile(root / "tracks" / f"{seq}.txt", trackers / "dior" / "data" / f"{seq}.txt")
    (gt / "evaluate_mots.seqmap.test").write_text(
        "".join(f"{seq} empty 000000 {dets[seq].num_frames - 1:06d}\n" for seq in SEQUENCES))
    dataset = trackeval.datasets.KittiMOTS({
        "GT_FOLDER": str(gt), "TRACKERS_FOLDER": str(trackers), "OUTPUT_FOLDER": str(work / "out"),
        "TRACKERS_TO_EVAL": ["dior"], "CLASSES_TO_EVAL": ["car", "pedestrian"], "SPLIT_TO_EVAL": "test", "PRINT_CONFIG": False,
    })
    metrics = [trackeval.metrics.CLEAR({"PRINT_CONFIG": False}), trackeval.metrics.Identity({"PRINT_CONFIG": False})]
    results = {}
    for seq in SEQUENCES:
        raw = dataset.get_raw_seq_data("dior", seq)  # raises on overlapping masks, bad ids, frames past the end
        assert raw["num_timesteps"] == dets[seq].num_frames
        results[seq] = {}
        for cls in ("car", "pedestrian"):
            data = dataset.get_preprocessed_seq_data(raw, cls)  # checks ids unique per timestep
            results[seq][cls] = {name: value for metric in metrics for name, value in metric.eval_sequence(data).items()}
    return results


def _iou(a: dict, b: dict) -> float:
    return float(mask_utils.iou([_coco(a)], [_coco(b)], [0])[0, 0])


@pytest.mark.parametrize("seq", SEQUENCES)
def test_trackeval_finds_each_line_on_the_pointtrack_mask_it_came_from(tracked, against_pointtrack, seq):
    """Each line is its detection's mask, less pixels given to a better-scoring one; TrackEval's matching
    (IoU > 0.5, one-to-one per frame) must find exactly the lines whose mask kept IoU > 0.5 with its own
    PointTrack mask, and miss exactly the PointTrack masks that have no such line."""
    root, dets, _ = tracked
    d = dets[seq].detections
    lines = _lines(root / "tracks" / f"{seq}.txt")
    links = read_track_links(root / "tracks" / f"{seq}.json", num_lines=len(lines))
    kept = {1: 0, 2: 0}
    for k, (_, _, cls, h, w, counts) in enumerate(lines):
        if _iou({"size": [int(h), int(w)], "counts": counts}, d.rles[links.lines[k]]) > 0.5:
            kept[int(cls)] += 1
    for cls, name in ((1, "car"), (2, "pedestrian")):
        result = against_pointtrack[seq][name]
        assert result["CLR_TP"] == kept[cls], (seq, name)
        assert result["CLR_TP"] + result["CLR_FN"] == int((d.class_id == cls).sum())  # PointTrack's masks of the class
        assert result["CLR_FP"] == sum(1 for line in lines if int(line[2]) == cls) - kept[cls]


@pytest.mark.parametrize("seq", SEQUENCES)
def test_tracks_follow_the_format_rules(tracked, seq):
    root, dets, summary = tracked
    d = dets[seq].detections
    lines = _lines(root / "tracks" / f"{seq}.txt")
    links = read_track_links(root / "tracks" / f"{seq}.json", num_lines=len(lines))
    assert links.sequence == seq and links.num_frames == dets[seq].num_frames and links.frame_base == 0

    by_frame = defaultdict(list)
    for k, (frame, obj_id, cls, h, w, counts) in enumerate(lines):
        frame, obj_id, cls = int(frame), int(obj_id), int(cls)
        rle = {"size": [int(h), int(w)], "counts": counts}
        assert 0 <= frame < dets[seq].num_frames
        assert cls in (1, 2) and obj_id // 1000 == cls and 1 <= obj_id % 1000 <= 999, (obj_id, cls)
        det = links.lines[k]
        assert d.frame[det] == frame and d.class_id[det] == cls, k  # linked to a detection of its frame and class
        line_area = mask_utils.area(_coco(rle))
        inside = mask_utils.area(mask_utils.merge([_coco(rle), _coco(d.rles[det])], intersect=True))
        assert line_area > 0 and inside == line_area  # the line's mask is (part of) its detection's
        by_frame[frame].append((obj_id, rle))
    for frame, objects in by_frame.items():
        ids = [obj_id for obj_id, _ in objects]
        assert len(set(ids)) == len(ids), frame
        union = mask_utils.area(mask_utils.merge([_coco(r) for _, r in objects]))
        assert union == sum(mask_utils.area(_coco(r)) for _, r in objects), frame  # pairwise disjoint

    s = summary["sequences"][seq]
    assert len(set(links.lines)) == len(links.lines)
    tracked_or_emptied = len(links.lines) + s["masks_emptied_by_overlap"]
    eligible = int((d.score >= TrackConfig().new_track_score).sum())
    assert eligible == len(d)  # PointTrack's masks get score 1
    assert tracked_or_emptied == eligible  # every eligible detection is tracked (or lost all its pixels to a better one)
    counts = Counter(int(line[1]) for line in lines)
    assert s["detections"] == len(d) and s["tracked_detections"] == len(lines)
    assert s["tracks"] == len(counts) == len(links.tracks)
    assert s["frames"] == dets[seq].num_frames and s["fps"] == 10.0
    assert s["appearance"] is False and s["reid_joins"] == 0
    for t in links.tracks:
        frames = [int(line[0]) for line in lines if int(line[1]) == t.obj_id]
        assert (t.first_frame, t.last_frame, t.num_detections) == (min(frames), max(frames), counts[t.obj_id])
        assert t.class_id == t.obj_id // 1000


def _consecutive_links(track_of: dict[int, int], frame: np.ndarray) -> set[tuple[int, int]]:
    """Pairs ``(a, b)`` of detections that follow each other in one track (``track_of``: detection -> track id)."""
    by_track = defaultdict(list)
    for det, track in track_of.items():
        by_track[track].append(det)
    links = set()
    for dets_of_track in by_track.values():
        ordered = sorted(dets_of_track, key=lambda det: (frame[det], det))
        links.update(zip(ordered, ordered[1:]))
    return links


def test_links_agree_with_pointtracks_own_identities(tracked, against_pointtrack):
    """Real masks of a real tracker: which detections dior's online tracker (masks alone) puts one after
    the other in a track, against PointTrack's own tracks of the same masks. Precision: of dior's links,
    the share PointTrack makes too (a wrong link, e.g. across objects, lowers it); recall: of PointTrack's
    links, the share dior makes (masks alone cannot bridge a jump, so it is lower). TrackEval's IDF1
    against PointTrack's ids is printed beside them (``-s``), not asserted: one wrong link in a long
    track halves it (0001 cars: link precision 0.994, IDF1 0.56)."""
    root, dets, summary = tracked
    table, made, correct, reference_links = [], 0, 0, 0
    for seq in SEQUENCES:
        d = dets[seq].detections
        lines = _lines(root / "tracks" / f"{seq}.txt")
        links = read_track_links(root / "tracks" / f"{seq}.json", num_lines=len(lines))
        pointtrack_id = {(int(f), counts): int(o) for f, o, _, _, _, counts in (line.split() for line in _pointtrack_lines(seq))}
        reference = {det: pointtrack_id[(int(d.frame[det]), d.rles[det]["counts"])] for det in range(len(d))}
        ours = _consecutive_links({links.lines[k]: int(line[1]) for k, line in enumerate(lines)}, d.frame)
        theirs = _consecutive_links(reference, d.frame)
        made, correct, reference_links = made + len(ours), correct + len(ours & theirs), reference_links + len(theirs)
        idf1 = {cls: f"{r['IDF1']:.3f}" for cls, r in against_pointtrack[seq].items() if r["IDTP"] + r["IDFN"] > 0}
        table.append(f"{seq}: links {len(ours)}, precision {len(ours & theirs) / len(ours):.3f}, "
                     f"recall {len(ours & theirs) / len(theirs):.3f}; TrackEval IDF1 vs PointTrack {idf1}")
        assert summary["sequences"][seq]["tracks"] < summary["sequences"][seq]["tracked_detections"] / 3, seq
    print("\n" + "\n".join(table))
    assert made > 500 and correct / made >= 0.95, table  # measured 0.98-1.00 per sequence
    assert correct / reference_links >= 0.85, table  # measured 0.92-0.97
