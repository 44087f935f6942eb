"""Detections JSON (dior.detections/v1) and embeddings .npy with their alignment check."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dior_cli.errors import AlignmentError, FormatError, InputNotFound
from dior_cli.formats.detections_json import read_detections, write_detections
from dior_cli.formats.embeddings import read_embeddings, record_path, write_embeddings
from dior_cli.formats.mots_txt import read_mots_txt
from dior_cli.masks import encode
from tests.builders import detections_from_rows
from tests.conftest import KITTI_TXT, require

MASK = np.zeros((4, 6), bool)
MASK[1:3, 2:5] = True
RLE = encode(MASK)

# A file with exactly the fields of the schema in ARCHITECTURE.md.
MINIMAL = {
    "schema": "dior.detections/v1", "sequence": "0002", "image_size": [4, 6], "num_frames": 3, "fps": 10.0,
    "frame_base": 0, "producer": {"dior_version": "x", "weights": "w.pt", "weights_sha256": "ab"},
    "detections": [
        {"det_id": 0, "frame": 0, "class_id": 1, "score": 0.98, "bbox_xyxy": [2.0, 1.0, 5.0, 3.0], "rle": {"size": [4, 6], "counts": RLE["counts"]}},
        {"det_id": 1, "frame": 2, "class_id": 2, "score": 0.5, "bbox_xyxy": [2, 1, 5, 3], "rle": {"size": [4, 6], "counts": RLE["counts"]}},
    ],
}


def write_doc(path, doc):
    path.write_text(json.dumps(doc))
    return path


def test_minimal_schema_file_loads(tmp_path):
    dets = read_detections(write_doc(tmp_path / "0002.json", MINIMAL))
    assert dets.sequence == "0002" and dets.image_size == (4, 6) and dets.num_frames == 3 and dets.fps == 10.0
    d = dets.detections
    assert len(d) == 2 and d.frame.tolist() == [0, 2] and d.class_id.tolist() == [1, 2]
    np.testing.assert_array_equal(d.bbox_xyxy[1], [2, 1, 5, 3])
    assert d.rles[0] == RLE
    assert [r.tolist() for r in d.rows_by_frame(3)] == [[0], [], [1]]


def test_extra_fields_are_kept_through_write(tmp_path):
    doc = json.loads(json.dumps(MINIMAL))
    doc["camera"] = {"moving": True}
    doc["detections"][1]["track_hint"] = 7
    dets = read_detections(write_doc(tmp_path / "a.json", doc))
    assert dets.extra == {"camera": {"moving": True}} and dets.detections.extras[1] == {"track_hint": 7}
    digest = write_detections(tmp_path / "b.json", dets)
    again = json.loads((tmp_path / "b.json").read_text())
    assert again["camera"] == {"moving": True} and again["detections"][1]["track_hint"] == 7
    assert read_detections(tmp_path / "b.json").sha256 == digest


def test_real_masks_round_trip(tmp_path):
    rows = read_mots_txt(require(KITTI_TXT / "0012.txt"), 0)
    dets = detections_from_rows(rows, "0012", rows.num_frames_annotated)
    write_detections(tmp_path / "0012.json", dets)
    back = read_detections(tmp_path / "0012.json")
    assert len(back.detections) == int((rows.class_id != 10).sum())
    assert back.detections.rles == dets.detections.rles
    np.testing.assert_array_equal(back.detections.frame, dets.detections.frame)
    np.testing.assert_allclose(back.detections.bbox_xyxy, dets.detections.bbox_xyxy)


def test_empty_sequence_round_trips(tmp_path):
    doc = dict(MINIMAL, detections=[])
    dets = read_detections(write_doc(tmp_path / "e.json", doc))
    assert len(dets.detections) == 0 and dets.detections.bbox_xyxy.shape == (0, 4)
    write_detections(tmp_path / "f.json", dets)
    assert json.loads((tmp_path / "f.json").read_text())["detections"] == []


def _mutated(**changes):
    doc = json.loads(json.dumps(MINIMAL))
    for key, value in changes.items():
        if key.startswith("det1_"):
            doc["detections"][1][key[5:]] = value
        else:
            doc[key] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "fragment", "row"),
    [
        (_mutated(schema="dior.detections/v2"), "schema is 'dior.detections/v2'", None),
        (_mutated(image_size=[4]), "image_size", None),
        (_mutated(fps=-1), "fps", None),
        (_mutated(det1_det_id=5), "det_id is 5 but must equal its row index 1", 1),
        (_mutated(det1_frame=3), "frame 3 is not an integer in 0..2", 1),
        (_mutated(det1_class_id=10), "class_id 10", 1),
        (_mutated(det1_score="high"), "score", 1),
        (_mutated(det1_bbox_xyxy=[5, 1, 2, 3]), "x2 < x1", 1),
        (_mutated(det1_rle={"size": [6, 4], "counts": RLE["counts"]}), "mask size [6, 4] differs from image_size [4, 6]", 1),
        (_mutated(det1_rle={"size": [4, 6], "counts": "0i0"}), "cover", 1),
        ({"schema": "dior.detections/v1"}, "missing field(s)", None),
        ([1, 2], "top level", None),
    ],
)
def test_bad_detections_name_file_and_row(tmp_path, doc, fragment, row):
    path = write_doc(tmp_path / "bad.json", doc)
    with pytest.raises(FormatError) as info:
        read_detections(path)
    assert fragment in info.value.message and info.value.row == row and str(path) in str(info.value)


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "x.json"
    path.write_text('{\n "schema": \n}')
    with pytest.raises(FormatError) as info:
        read_detections(path)
    assert info.value.line == 3


def test_missing_detections_file(tmp_path):
    with pytest.raises(InputNotFound):
        read_detections(tmp_path / "none.json")


# ---- embeddings -------------------------------------------------------------------

def _unit_rows(rng, n, dim=8):
    v = rng.normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_embeddings_written_by_dior_are_verified_by_hash(tmp_path, rng):
    digest = write_detections(tmp_path / "s.json", read_detections(write_doc(tmp_path / "src.json", MINIMAL)))
    dets = read_detections(tmp_path / "s.json")
    vectors = _unit_rows(rng, 2)
    write_embeddings(tmp_path / "s.npy", vectors, tmp_path / "s.json", digest)
    emb = read_embeddings(tmp_path / "s.npy", dets, tmp_path / "s.json")
    assert emb.verified_by == "sha256" and emb.notes == ()
    np.testing.assert_array_equal(emb.vectors, vectors)
    assert np.load(tmp_path / "s.npy").dtype == np.float32


def test_stale_embeddings_are_refused(tmp_path, rng):
    dets = read_detections(write_doc(tmp_path / "s.json", MINIMAL))
    write_embeddings(tmp_path / "s.npy", _unit_rows(rng, 2), tmp_path / "s.json", dets.sha256)
    changed = _mutated()
    changed["detections"][0]["score"] = 0.5  # same row count, different file
    dets2 = read_detections(write_doc(tmp_path / "s.json", changed))
    with pytest.raises(AlignmentError, match="another version of s.json"):
        read_embeddings(tmp_path / "s.npy", dets2, tmp_path / "s.json")


def test_replaced_array_is_refused(tmp_path, rng):
    dets = read_detections(write_doc(tmp_path / "s.json", MINIMAL))
    write_embeddings(tmp_path / "s.npy", _unit_rows(rng, 2), tmp_path / "s.json", dets.sha256)
    np.save(tmp_path / "s.npy", _unit_rows(rng, 2))
    with pytest.raises(AlignmentError, match="replaced after its record"):
        read_embeddings(tmp_path / "s.npy", dets, tmp_path / "s.json")


def test_wrong_row_count_is_refused(tmp_path, rng):
    dets = read_detections(write_doc(tmp_path / "s.json", MINIMAL))
    np.save(tmp_path / "s.npy", _unit_rows(rng, 3))
    with pytest.raises(AlignmentError, match="has 3 rows but s.json has 2 detections"):
        read_embeddings(tmp_path / "s.npy", dets, tmp_path / "s.json")


def test_foreign_npy_is_accepted_on_row_count_with_a_note(tmp_path, rng):
    dets = read_detections(write_doc(tmp_path / "s.json", MINIMAL))
    raw = rng.normal(size=(2, 5)) * 3  # float64, not unit length
    np.save(tmp_path / "s.npy", raw)
    emb = read_embeddings(tmp_path / "s.npy", dets, tmp_path / "s.json")
    assert emb.verified_by == "row_count" and not record_path(tmp_path / "s.npy").exists()
    assert any("row count" in n for n in emb.notes) and any("normalised" in n for n in emb.notes)
    assert emb.vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb.vectors, axis=1), 1, atol=1e-6)
    np.testing.assert_allclose(emb.vectors, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)


def test_empty_sequence_embeddings(tmp_path):
    dets = read_detections(write_doc(tmp_path / "e.json", dict(MINIMAL, detections=[])))
    write_embeddings(tmp_path / "e.npy", np.zeros((0, 16)), tmp_path / "e.json", dets.sha256)
    emb = read_embeddings(tmp_path / "e.npy", dets, tmp_path / "e.json")
    assert emb.vectors.shape == (0, 16)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"not numpy at all", "is not a NumPy .npy array"),
        (None, "2-D"),
    ],
)
def test_bad_npy_content(tmp_path, content, fragment):
    dets = read_detections(write_doc(tmp_path / "s.json", MINIMAL))
    if content is None:
        np.save(tmp_path / "s.npy", np.ones(2))
    else:
        (tmp_path / "s.npy").write_bytes(content)
    with pytest.raises(FormatError, match=fragment):
        read_embeddings(tmp_path / "s.npy", dets, tmp_path / "s.json")


def test_nan_row_is_named(tmp_path):
    dets = read_detections(write_doc(tmp_path / "s.json", MINIMAL))
    bad = np.ones((2, 4), np.float32)
    bad[1, 2] = np.nan
    np.save(tmp_path / "s.npy", bad)
    with pytest.raises(FormatError) as info:
        read_embeddings(tmp_path / "s.npy", dets, tmp_path / "s.json")
    assert info.value.row == 1
