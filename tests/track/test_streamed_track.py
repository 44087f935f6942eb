"""``dior track`` streams a dior-layout detections file (issue 14): the result must be byte for
byte what the whole-file path gives for the same detections in another JSON layout, which is
read whole (``json``) and tracked from memory."""

from __future__ import annotations

import json

import numpy as np

from dior_cli.formats.detections_json import read_detections
from dior_cli.formats.embeddings import write_embeddings
from dior_cli.formats.tracks_json import read_track_links
from dior_cli.track.stage import TrackOptions, run
from tests.track.test_scenarios import box, write_sequence


def _script() -> list:
    """Two cars crossing (masks overlap: one loses pixels), a pedestrian hidden for 6 frames
    (a new id online, joined back by --offline-reid), frames 17-19 empty."""
    script = []
    for t in range(17):
        script.append((t, 0, 1, box(2 + 2 * t)))
        script.append((t, 1, 1, box(40 - 2 * t)))
        if t < 5 or t > 10:
            script.append((t, 2, 2, box(20, y=14, w=5, h=10)))
    return script


def _whole_layout_copy(src, dst) -> None:
    """The same document in another layout (indented JSON), with an embeddings record of its own."""
    dst.mkdir()
    doc = json.loads((src / "s.json").read_text())
    (dst / "s.json").write_text(json.dumps(doc, indent=2))
    vectors = np.load(src / "s.npy")
    write_embeddings(dst / "s.npy", vectors, dst / "s.json", read_detections(dst / "s.json").sha256)


def test_streamed_and_whole_file_tracking_write_the_same_bytes(tmp_path):
    streamed, whole = tmp_path / "streamed", tmp_path / "whole"
    streamed.mkdir()
    write_sequence(streamed, "s", _script(), num_frames=20)
    _whole_layout_copy(streamed, whole)
    settings = dict(offline_reid=True, overwrite=True)
    a = run(TrackOptions(dets=streamed, out=tmp_path / "a", **settings))["sequences"]["s"]
    b = run(TrackOptions(dets=whole, out=tmp_path / "b", **settings))["sequences"]["s"]
    assert (tmp_path / "a" / "s.txt").read_bytes() == (tmp_path / "b" / "s.txt").read_bytes()
    la, lb = read_track_links(tmp_path / "a" / "s.json"), read_track_links(tmp_path / "b" / "s.json")
    assert la.lines == lb.lines and la.tracks == lb.tracks and la.num_frames == lb.num_frames == 20
    assert a["reid_joins"] == b["reid_joins"] == 1 and a["overlap_pixels_moved"] == b["overlap_pixels_moved"] > 0
    for key in ("detections", "tracked_detections", "tracks", "retrieved", "masks_emptied_by_overlap"):
        assert a[key] == b[key], key
    # the hidden pedestrian is one track after --offline-reid: every pedestrian line has one id
    lines = (tmp_path / "a" / "s.txt").read_text().splitlines()
    assert len({line.split()[1] for line in lines if line.split()[2] == "2"}) == 1


def test_masks_only_streamed_matches_whole_file(tmp_path):
    streamed, whole = tmp_path / "streamed", tmp_path / "whole"
    streamed.mkdir()
    write_sequence(streamed, "s", _script(), num_frames=20)
    _whole_layout_copy(streamed, whole)
    run(TrackOptions(dets=streamed, out=tmp_path / "a", masks_only=True, overwrite=True))
    run(TrackOptions(dets=whole, out=tmp_path / "b", masks_only=True, overwrite=True))
    assert (tmp_path / "a" / "s.txt").read_bytes() == (tmp_path / "b" / "s.txt").read_bytes()
    assert read_track_links(tmp_path / "a" / "s.json").lines == read_track_links(tmp_path / "b" / "s.json").lines
