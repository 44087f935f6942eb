"""``dior track`` on real detector output: PointTrack's KITTI-MOTS test-set masks (ids stripped).

The tracks must be accepted by TrackEval's own KittiMOTS reader (it raises on overlapping
masks, bad ids or frames) and satisfy the format's rules checked directly: masks disjoint and
ids unique in every frame, ids ``class * 1000 + k``, each line linked to a detection of its
frame and class whose mask contains the line's, every detection scoring at least
``new_track_score`` tracked, and a summary that agrees with the files.
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


def test_trackeval_reads_the_tracks(tracked, tmp_path):
    root, dets, _ = tracked
    gt, trackers = tmp_path / "gt", tmp_path / "trackers"
    (gt / "label_02").mkdir(parents=True)
    (trackers / "dior" / "data").mkdir(parents=True)
    for seq in SEQUENCES:
        shutil.copyfile(root / "tracks" / f"{seq}.txt", gt / "label_02" / f"{seq}.txt")
        shutil.copyfile(root / "tracks" / f"{seq}.txt", trackers / "dior" / "data" / f"{seq}.txt")
    (gt / "evaluate_mots.seqmap.test").write_text(
        "".join(f"{seq} empty 000000 {dets[seq].num_frames - 1:06d}\n" for seq in SEQUENCES))
    dataset = trackeval.datasets.KittiMOTS({
        "GT_FOLDER": str(gt), "TRACKERS_FOLDER": str(trackers), "OUTPUT_FOLDER": str(tmp_path / "out"),
        "TRACKERS_TO_EVAL": ["dior"], "CLASSES_TO_EVAL": ["car", "pedestrian"], "SPLIT_TO_EVAL": "test", "PRINT_CONFIG": False,
    })
    for seq in SEQUENCES:
        raw = dataset.get_raw_seq_data("dior", seq)  # raises on overlapping masks, bad ids, frames past the end
        assert raw["num_timesteps"] == dets[seq].num_frames
        assert sum(len(ids) for ids in raw["tracker_ids"]) == len(_lines(root / "tracks" / f"{seq}.txt"))
        for cls in ("car", "pedestrian"):
            data = dataset.get_preprocessed_seq_data(raw, cls)  # checks ids unique per timestep
            assert data["num_tracker_dets"] == data["num_gt_dets"]


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


def test_tracks_link_detections_over_time(tracked):
    """Real masks of a real detector: most tracks last longer than a frame."""
    root, dets, summary = tracked
    for seq in SEQUENCES:
        s = summary["sequences"][seq]
        assert s["tracks"] < s["tracked_detections"] / 3, (seq, s)
        assert np.isfinite(s["seconds"])
