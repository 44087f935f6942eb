"""Streamed readers and writers (issue 14): detections by batch and by frame, embeddings by row,
MOTS txt by block, link files line by line. Expected values are written out by hand or come
from ``json`` / ``numpy`` themselves; the streamed pieces must give the same bytes and the same
errors as the whole-file forms."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dior_cli.errors import AlignmentError, FormatError
from dior_cli.formats import detections_json, mots_txt
from dior_cli.formats.detections_json import DetectionStream, NotStreamable, frames_in_order, read_detections, write_detections
from dior_cli.formats.embeddings import open_embedding_rows, write_embeddings
from dior_cli.formats.mots_txt import iter_mots_txt, mots_txt_writer, read_mots_txt
from dior_cli.formats.tracks_json import TrackSummary, read_track_links, track_links_writer
from dior_cli.masks import encode
from tests.builders import detections_from_rows

RLE = encode(np.eye(4, 6, dtype=bool))


def _dets(frames: list[int], num_frames: int):
    from dior_cli.records import MotsRows

    n = len(frames)
    rows = MotsRows(frame=frames, obj_id=np.arange(n) + 1001, class_id=np.ones(n, int), rles=[RLE] * n)
    return detections_from_rows(rows, "s", num_frames)


def test_frames_in_order_groups_batches_by_frame(tmp_path, monkeypatch):
    """Frames 0 0 2 2 2 3 of 5, read two lines a batch: frame 2 spans two batches, 1 and 4 are empty."""
    monkeypatch.setattr(detections_json, "_BATCH_ROWS", 2)
    path = tmp_path / "s.json"
    write_detections(path, _dets([0, 0, 2, 2, 2, 3], 5))
    got = [(f, first, len(d), d.frame.tolist()) for f, first, d in frames_in_order(DetectionStream(path).blocks(), 5)]
    assert got == [(0, 0, 2, [0, 0]), (1, 2, 0, []), (2, 2, 3, [2, 2, 2]), (3, 5, 1, [3]), (4, 6, 0, [])]


def test_stream_hashes_the_whole_file_and_counts_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(detections_json, "_BATCH_ROWS", 3)
    path = tmp_path / "s.json"
    sha = write_detections(path, _dets([0, 1, 1, 2, 3, 3, 3], 4))
    stream = DetectionStream(path)
    blocks = list(stream.blocks())
    assert [first for first, _ in blocks] == [0, 3, 6] and stream.rows == 7
    import hashlib

    assert stream.sha256 == sha == hashlib.sha256(path.read_bytes()).hexdigest()


def test_rows_out_of_frame_order_are_not_streamed_but_still_read(tmp_path):
    path = tmp_path / "s.json"
    write_detections(path, _dets([1, 0, 2], 3))
    with pytest.raises(NotStreamable):
        list(frames_in_order(DetectionStream(path).blocks(), 3))
    assert read_detections(path).detections.frame.tolist() == [1, 0, 2]


def test_another_layout_is_not_streamable(tmp_path):
    path = tmp_path / "s.json"
    write_detections(tmp_path / "dior.json", _dets([0, 1], 2))
    path.write_text(json.dumps(json.loads((tmp_path / "dior.json").read_text()), indent=2))
    with pytest.raises(NotStreamable):
        DetectionStream(path)
    assert read_detections(path).detections.frame.tolist() == [0, 1]


def test_a_bad_rle_stops_the_stream_and_a_later_field_error_wins(tmp_path, monkeypatch):
    """As the whole-file reader: field errors anywhere are reported before an RLE that does not decode."""
    monkeypatch.setattr(detections_json, "_BATCH_ROWS", 2)
    path = tmp_path / "s.json"
    write_detections(path, _dets([0, 0, 1, 1, 2, 2], 3))
    text = path.read_text()
    line = next(t for t in text.splitlines() if t.startswith('  {"det_id":1,'))
    path.write_text(text.replace(line, line.replace('"counts":' + json.dumps(RLE["counts"]), '"counts":"0"')))  # row 1: RLE too short
    stream = DetectionStream(path)
    handed = []
    with pytest.raises(FormatError, match="row 1"):
        for first, _ in stream.blocks():
            handed.append(first)
    assert handed == []  # the batch holding the bad RLE (and every later one) is never handed out
    bad_field = path.read_text().replace('"det_id":5,"frame":2', '"det_id":5,"frame":9')
    path.write_text(bad_field)
    with pytest.raises(FormatError, match=r"row 5: frame 9 is not an integer in 0..2"):
        list(DetectionStream(path).blocks())


def test_embedding_rows_read_like_numpy_and_check_alignment_afterwards(tmp_path):
    vectors = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors[2] *= 3.0  # one row not unit length: normalised on the way out, and said so
    write_embeddings(tmp_path / "s.npy", vectors, tmp_path / "s.json", "abc")
    rows = open_embedding_rows(tmp_path / "s.npy", tmp_path / "s.json")
    expected = vectors / np.linalg.norm(vectors, axis=1, keepdims=True).astype(np.float32)
    np.testing.assert_array_equal(rows[1:4], expected[1:4])
    np.testing.assert_array_equal(rows[np.array([4, 0])], expected[[4, 0]])
    assert rows.verified_by == "sha256" and any("1 of 5 rows" in n for n in rows.notes)
    rows.check_against(5, "abc", tmp_path / "s.json")
    with pytest.raises(AlignmentError, match="has 5 rows but s.json has 6"):
        rows.check_against(6, "abc", tmp_path / "s.json")
    with pytest.raises(AlignmentError, match="stale"):
        rows.check_against(5, "other", tmp_path / "s.json")


def test_mots_txt_blocks_and_the_duplicate_check_out_of_frame_order(tmp_path, monkeypatch):
    monkeypatch.setattr(mots_txt, "_BLOCK_LINES", 2)
    c = RLE["counts"]
    lines = [f"0 1001 1 4 6 {c}", f"0 1002 1 4 6 {c}", "", f"1 1001 1 4 6 {c}", f"2 1001 1 4 6 {c}"]
    path = tmp_path / "t.txt"
    path.write_text("\n".join(lines) + "\n")
    blocks = list(iter_mots_txt(path, 0, keep_masks=False))
    assert [b.line.tolist() for b in blocks] == [[1, 2], [4, 5]] and blocks[0].counts is None
    assert [b.frame.tolist() for b in blocks] == [[0, 0], [1, 2]]
    # frames that go back: the whole file is checked against every (frame, id) seen
    path.write_text("\n".join([f"1 1001 1 4 6 {c}", f"0 1001 1 4 6 {c}", f"2 1001 1 4 6 {c}", f"0 1001 1 4 6 {c}"]) + "\n")
    with pytest.raises(FormatError, match=r"object id 1001 appears twice in frame 0 \(first on line 2\)"):
        list(iter_mots_txt(path, 0))
    path.write_text("\n".join([f"1 1001 1 4 6 {c}", f"0 1001 1 4 6 {c}", f"2 1001 1 4 6 {c}"]) + "\n")
    assert [b.frame.tolist() for b in iter_mots_txt(path, 0)] == [[1, 0], [2]]  # each line handed out once
    assert read_mots_txt(path, 0).frame.tolist() == [1, 0, 2]


def test_mots_txt_utf8_error_names_its_line_across_read_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(mots_txt, "_READ_BYTES", 16)
    c = RLE["counts"]
    path = tmp_path / "t.txt"
    path.write_bytes("".join(f"{f} 1001 1 4 6 {c}\n" for f in range(3)).encode() + b"3 1001 1 4 6 \xff\n")
    with pytest.raises(FormatError, match="line 4"):
        list(iter_mots_txt(path, 0))


def test_streamed_writers_give_the_bytes_of_the_whole_documents(tmp_path):
    with mots_txt_writer(tmp_path / "t.txt", 1) as write:
        write(np.array([0]), np.array([1001]), np.array([1]), [RLE])
        write(np.array([2, 2]), np.array([1001, 2001]), np.array([1, 2]), [RLE, RLE])
    c = RLE["counts"]
    assert (tmp_path / "t.txt").read_text() == f"1 1001 1 4 6 {c}\n3 1001 1 4 6 {c}\n3 2001 2 4 6 {c}\n"
    header = {"sequence": "s", "detections_file": "s.json", "detections_sha256": "ab", "frame_base": 0, "num_frames": 3, "fps": 10.0}
    tracks = [TrackSummary(1001, 1, 0, 2, 2)]
    with track_links_writer(tmp_path / "t.json", **header) as links:
        links.add_lines([4])
        links.add_lines(np.array([], np.int64))
        links.add_lines(np.array([7, 9]))
        links.finish(tracks, {"stage": "track"})
    doc = {"schema": "dior.tracks/v1", **header, "lines": [4, 7, 9], "tracks": [t.__dict__ for t in tracks], "producer": {"stage": "track"}}
    assert (tmp_path / "t.json").read_text() == json.dumps(doc, separators=(",", ":")) + "\n"
    fast = read_track_links(tmp_path / "t.json", 3, as_array=True)
    assert fast.lines.dtype == np.int64 and fast.lines.tolist() == [4, 7, 9] == read_track_links(tmp_path / "t.json").lines


def test_unfinished_link_file_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with track_links_writer(tmp_path / "t.json", sequence="s", detections_file="s.json", detections_sha256=None,
                                frame_base=0, num_frames=1, fps=None) as links:
            links.add_lines([1])
    assert list(tmp_path.iterdir()) == []


def test_link_lines_that_are_not_plain_integers_take_the_json_path(tmp_path):
    doc = {"schema": "dior.tracks/v1", "sequence": "s", "detections_file": "s.json", "detections_sha256": None, "frame_base": 0,
           "num_frames": 1, "fps": None, "lines": [1.0, 2], "tracks": [], "producer": {}}
    (tmp_path / "t.json").write_text(json.dumps(doc))
    assert read_track_links(tmp_path / "t.json", as_array=True).lines.tolist() == [1, 2]


@pytest.mark.parametrize("text", ["", "1", "1,2,3", "0", "-0", "-5,0,12", "01", "1,,2", ",1", "1,", "-", "1-2", "--1", "1.0", "12,-", "1,02", "1e3"])
def test_link_lines_fast_path_follows_json_integer_grammar(tmp_path, text):
    """``lines`` as written by anyone: the array reader gives what json gives (ints), or the same error."""
    raw = ('{"schema":"dior.tracks/v1","sequence":"s","detections_file":"s.json","detections_sha256":null,"frame_base":0,'
           f'"num_frames":1,"fps":null,"lines":[{text}],"tracks":[],"producer":{{}}}}')
    (tmp_path / "t.json").write_text(raw)
    try:
        expected = [int(v) for v in json.loads(raw)["lines"]]
    except ValueError:
        with pytest.raises(FormatError):
            read_track_links(tmp_path / "t.json", as_array=True)
        return
    assert read_track_links(tmp_path / "t.json", as_array=True).lines.tolist() == expected
