"""Streamed infer outputs (formats.sequence_outputs): the same bytes as the whole-file writers, atomic, resumable."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from dior_cli.formats.detections_json import read_detections, write_detections
from dior_cli.formats.embeddings import read_embeddings, record_path, write_embeddings
from dior_cli.formats.mots_txt import read_mots_txt
from dior_cli.formats.sequence_outputs import SequenceOutputs, outputs_finished, remove_temporaries, skip_finished
from tests.builders import detections_from_rows
from tests.conftest import KITTI_TXT, require


def _real_sequence(name: str = "0012.txt", frames: int = 40):
    """Real KITTI-MOTS ground truth of the first ``frames`` frames as a detections file, with extra fields on some rows."""
    rows = read_mots_txt(require(KITTI_TXT / name), 0)
    rows = rows[rows.frame < frames]
    dets = detections_from_rows(rows, "0012", frames)
    d = dets.detections
    extras = tuple({"mask_source": "gt", "k": i} if i % 3 == 0 else {} for i in range(len(d)))
    return dataclasses.replace(dets, detections=dataclasses.replace(d, extras=extras))


def _unit_rows(n: int, dim: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _stream(dets_file, vectors, json_path, npy_path):
    d = dets_file.detections
    with SequenceOutputs(json_path, npy_path, vectors.shape[1]) as out:
        for rows in d.rows_by_frame(dets_file.num_frames):  # one frame at a time, frames without rows included
            out.append(d[rows], vectors[rows])
        digest = out.finish(sequence=dets_file.sequence, image_size=dets_file.image_size, num_frames=dets_file.num_frames,
                            fps=dets_file.fps, frame_base=dets_file.frame_base, producer=dets_file.producer)
    return digest


@pytest.mark.parametrize("empty", [False, True])
def test_streamed_files_equal_the_whole_file_writers_and_read_back(tmp_path, empty):
    dets_file = _real_sequence()
    if empty:
        dets_file = dataclasses.replace(dets_file, detections=dets_file.detections[np.zeros(0, np.int64)])
    vectors = _unit_rows(len(dets_file.detections), 16)
    old, new = tmp_path / "old", tmp_path / "new"
    old_digest = write_detections(old / "0012.json", dets_file)
    write_embeddings(old / "0012.npy", vectors, old / "0012.json", old_digest)
    new_digest = _stream(dets_file, vectors, new / "0012.json", new / "0012.npy")
    assert new_digest == old_digest
    for name in ("0012.json", "0012.npy", "0012.npy.json"):
        assert (new / name).read_bytes() == (old / name).read_bytes(), name
    assert sorted(p.name for p in new.iterdir()) == ["0012.json", "0012.npy", "0012.npy.json"]  # no temporaries left
    back = read_detections(new / "0012.json")
    assert back.sha256 == new_digest and back.detections.rles == dets_file.detections.rles
    assert back.detections.extras == dets_file.detections.extras
    emb = read_embeddings(new / "0012.npy", back, new / "0012.json")
    assert emb.verified_by == "sha256"
    np.testing.assert_array_equal(emb.vectors, vectors)
    assert outputs_finished(new / "0012.json", new / "0012.npy")


def test_an_exception_mid_sequence_leaves_the_old_outputs_and_no_temporary(tmp_path):
    dets_file = _real_sequence(frames=10)
    vectors = _unit_rows(len(dets_file.detections), 8)
    json_path, npy_path = tmp_path / "0012.json", tmp_path / "0012.npy"
    _stream(dets_file, vectors, json_path, npy_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    d = dets_file.detections
    with pytest.raises(RuntimeError, match="frame 3"):
        with SequenceOutputs(json_path, npy_path, 8) as out:
            for frame, rows in enumerate(d.rows_by_frame(10)):
                if frame == 3:
                    raise RuntimeError("frame 3 cannot be read")
                out.append(d[rows], vectors[rows] * 0 + vectors[rows][::-1])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # untouched, nothing beside them


def test_wrong_embedding_shape_is_refused(tmp_path):
    d = _real_sequence(frames=3).detections
    with pytest.raises(ValueError, match=r"embeddings must be"):
        with SequenceOutputs(tmp_path / "s.json", tmp_path / "s.npy", 8) as out:
            out.append(d, np.zeros((len(d), 7), np.float32))
    assert list(tmp_path.iterdir()) == []


def test_what_a_killed_run_left_is_cleared_and_the_sequence_redone(tmp_path):
    json_path, npy_path = tmp_path / "0012.json", tmp_path / "0012.npy"
    leftovers = [tmp_path / ".0012.json.ab12cd.tmp", tmp_path / ".0012.npy.ef34gh.tmp", tmp_path / ".0012.npy.json.ij56kl.tmp"]
    for path in leftovers:
        path.write_bytes(b"partial")
    other = tmp_path / ".0013.json.zz.tmp"  # another sequence's temporary is not this sequence's to remove
    other.write_bytes(b"x")
    json_path.write_text("{}")
    npy_path.write_bytes(b"")  # a JSON and an array but no record: the run stopped before the end
    assert not outputs_finished(json_path, npy_path)
    assert skip_finished(json_path, npy_path, overwrite=False) is False
    assert not any(p.exists() for p in leftovers) and other.exists()
    record_path(npy_path).write_text("{}")
    assert skip_finished(json_path, npy_path, overwrite=False) is True
    assert skip_finished(json_path, npy_path, overwrite=True) is False
    assert remove_temporaries(json_path) == []
