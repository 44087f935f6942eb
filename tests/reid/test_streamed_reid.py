"""``dior reid`` reads tracks, link file, detections and embeddings as streams and writes the
refined tracks by a second pass over the input (issue 14): every input line comes out once, in
order, with its frame, class and mask unchanged, under the id the refinement gave its track."""

from __future__ import annotations

import numpy as np

from dior_cli.config import ReidConfig
from dior_cli.formats.tracks_json import read_track_links
from dior_cli.reid.stage import ReidOptions, run as reid
from dior_cli.track.stage import TrackOptions, run as track
from tests.track.test_scenarios import box, write_sequence


def test_refined_lines_are_the_input_lines_under_new_ids(tmp_path):
    dets = tmp_path / "dets"
    dets.mkdir()
    script = []
    for t in range(30):  # one car hidden in frames 10-15: two tracks online, one after refinement
        if not 10 <= t <= 15:
            script.append((t, 0, 1, box(2 + t)))
        script.append((t, 1, 2, box(40, y=14, w=5, h=10)))
    write_sequence(dets, "s", script, num_frames=30)
    track(TrackOptions(dets=dets, out=tmp_path / "tracks", overwrite=True))
    config = ReidConfig(method="dior", theta_1=0.7)  # identity k embeds as e_k: cosine 1 within an identity
    summary = reid(ReidOptions(tracks=tmp_path / "tracks", dets=dets, out=tmp_path / "refined", overwrite=True, config=config))["sequences"]["s"]
    before = [line.split() for line in (tmp_path / "tracks" / "s.txt").read_text().splitlines()]
    after = [line.split() for line in (tmp_path / "refined" / "s.txt").read_text().splitlines()]
    assert len(before) == len(after) == 54 and summary["lines"] == 54
    assert all(b[0] == a[0] and b[2:] == a[2:] for b, a in zip(before, after))  # frame, class, size, mask unchanged
    ids_in = {b[1] for b in before if b[2] == "1"}
    ids_out = {a[1] for a in after if a[2] == "1"}
    assert len(ids_in) == 2 and len(ids_out) == 1 and summary["tracks_out"] == 2
    links_in, links_out = read_track_links(tmp_path / "tracks" / "s.json"), read_track_links(tmp_path / "refined" / "s.json")
    assert links_out.lines == links_in.lines
    car = next(t for t in links_out.tracks if t.class_id == 1)
    assert (car.first_frame, car.last_frame, car.num_detections) == (0, 29, 24)
    np.testing.assert_array_equal(sorted(t.obj_id for t in links_out.tracks), sorted(int(i) for i in {a[1] for a in after}))
