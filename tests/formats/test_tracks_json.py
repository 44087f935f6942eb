"""Track link files: round trip and refusal of broken or mismatched files."""

from __future__ import annotations

import json

import pytest

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.formats.tracks_json import TrackLinks, TrackSummary, read_track_links, summarise_tracks, write_track_links
from dior_cli.records import MotsRows


def _links() -> TrackLinks:
    return TrackLinks(sequence="0002", detections_file="0002.json", detections_sha256="ab", frame_base=1, num_frames=9, fps=10.0,
                      lines=[3, 4, 7], tracks=[TrackSummary(1001, 1, 0, 2, 3)], producer={"stage": "track"})


def test_round_trip(tmp_path):
    write_track_links(tmp_path / "0002.json", _links())
    back = read_track_links(tmp_path / "0002.json", num_lines=3)
    assert back == _links()


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d.update(schema="x"), "schema"),
        (lambda d: d.pop("lines"), "lines"),
        (lambda d: d["tracks"].append({"obj_id": 1}), "TypeError"),
        (lambda d: d.update(lines=["a"]), "ValueError"),
    ],
)
def test_broken_files_are_refused(tmp_path, mutate, fragment):
    write_track_links(tmp_path / "s.json", _links())
    doc = json.loads((tmp_path / "s.json").read_text())
    mutate(doc)
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(FormatError, match=fragment):
        read_track_links(tmp_path / "s.json")


def test_line_count_must_match_and_file_must_exist(tmp_path):
    write_track_links(tmp_path / "s.json", _links())
    with pytest.raises(FormatError, match="maps 3 lines but its MOTS txt has 4"):
        read_track_links(tmp_path / "s.json", num_lines=4)
    with pytest.raises(InputNotFound):
        read_track_links(tmp_path / "none.json")


def test_summarise_tracks_equals_a_per_id_reference(rng):
    """The group-by gives, per id, what one boolean mask per id gives (rows in any order)."""
    n = 500
    obj_ids = rng.choice([1001, 1002, 1007, 2001, 2003, 101001], n)
    frames = rng.integers(0, 80, n)
    classes = obj_ids // 1000 % 100
    rows = MotsRows(frame=frames, obj_id=obj_ids, class_id=classes, rles=[{"size": [1, 1], "counts": "1"}] * n)
    expected = [TrackSummary(int(i), int(classes[obj_ids == i][0]), int(frames[obj_ids == i].min()), int(frames[obj_ids == i].max()),
                             int((obj_ids == i).sum())) for i in sorted(set(obj_ids.tolist()))]
    assert summarise_tracks(rows) == expected
    assert summarise_tracks(MotsRows.empty()) == []
