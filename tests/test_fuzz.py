"""Property tests: readers given random bytes or mutated real lines either succeed or raise
DiorError; never another exception (and never a pycocotools crash on a bad RLE)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dior_cli.errors import DiorError
from dior_cli.formats.detections_json import read_detections
from dior_cli.formats.embeddings import read_embeddings
from dior_cli.formats.kitti_png import read_kitti_png_folder
from dior_cli.formats.mots_txt import read_mots_txt
from dior_cli.formats.seqinfo import read_seqinfo
from dior_cli.masks import decode, encode
from tests.conftest import KITTI_TXT

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _real_lines() -> list[str]:
    path = KITTI_TXT / "0012.txt"
    if path.is_file():
        return path.read_text().splitlines()[:40]
    # Without the shared data, lines built here keep the property meaningful.
    rng = np.random.default_rng(0)
    return [f"{t} {2000 + t % 3} 2 12 17 {encode(rng.random((12, 17)) < 0.3)['counts']}" for t in range(20)]


REAL_LINES = _real_lines()


def _read_txt_or_dior_error(path: Path, base: int) -> None:
    try:
        rows = read_mots_txt(path, base)
    except DiorError:
        return
    for rle in rows.rles:  # anything accepted must decode safely to its stated size
        assert decode(rle).shape == tuple(rle["size"])


def _mutate(line: str, data) -> str:
    kind = data.draw(st.sampled_from(["replace_char", "drop_field", "swap_field", "insert", "truncate", "number"]))
    if kind == "replace_char" and line:
        i = data.draw(st.integers(0, len(line) - 1))
        return line[:i] + data.draw(st.characters(min_codepoint=32, max_codepoint=0x2FF)) + line[i + 1 :]
    fields = line.split(" ")
    if kind == "drop_field":
        del fields[data.draw(st.integers(0, len(fields) - 1))]
    elif kind == "swap_field":
        i, j = data.draw(st.integers(0, len(fields) - 1)), data.draw(st.integers(0, len(fields) - 1))
        fields[i], fields[j] = fields[j], fields[i]
    elif kind == "insert":
        fields.insert(data.draw(st.integers(0, len(fields))), data.draw(st.text(max_size=8)))
    elif kind == "truncate":
        return line[: data.draw(st.integers(0, len(line)))]
    else:
        i = data.draw(st.integers(0, min(4, len(fields) - 1)))
        fields[i] = str(data.draw(st.integers(-(2**40), 2**40)))
    return " ".join(fields)


@FUZZ
@given(blob=st.binary(max_size=400), base=st.sampled_from([0, 1]))
def test_mots_txt_random_bytes(tmp_path, blob, base):
    path = tmp_path / "seq.txt"
    path.write_bytes(blob)
    _read_txt_or_dior_error(path, base)


@FUZZ
@given(data=st.data())
def test_mots_txt_mutated_real_lines(tmp_path, data):
    lines = list(REAL_LINES)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(lines) - 1))
        lines[i] = _mutate(lines[i], data)
    path = tmp_path / "seq.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _read_txt_or_dior_error(path, data.draw(st.sampled_from([0, 1])))


@FUZZ
@given(blob=st.binary(max_size=400))
def test_detections_json_random_bytes(tmp_path, blob):
    path = tmp_path / "s.json"
    path.write_bytes(blob)
    try:
        read_detections(path)
    except DiorError:
        pass


def _valid_detections_doc() -> dict:
    mask = np.zeros((6, 7), bool)
    mask[2:5, 1:4] = True
    rle = encode(mask)
    det = {"det_id": 0, "frame": 1, "class_id": 2, "score": 0.9, "bbox_xyxy": [1, 2, 4, 5], "rle": rle}
    return {"schema": "dior.detections/v1", "sequence": "s", "image_size": [6, 7], "num_frames": 3, "fps": 10.0,
            "frame_base": 0, "producer": {}, "detections": [det, dict(det, det_id=1, frame=2)]}


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=True) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@FUZZ
@given(data=st.data())
def test_detections_json_mutated_fields(tmp_path, data):
    doc = _valid_detections_doc()
    target = doc if data.draw(st.booleans()) else doc["detections"][data.draw(st.integers(0, 1))]
    key = data.draw(st.sampled_from(sorted(target)))
    if data.draw(st.booleans()):
        del target[key]
    else:
        target[key] = data.draw(JSON_VALUES)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(doc))
    try:
        dets = read_detections(path)
    except DiorError:
        return
    for rle in dets.detections.rles:
        assert decode(rle).shape == (6, 7)


@FUZZ
@given(blob=st.binary(max_size=300))
def test_embeddings_random_bytes(tmp_path, blob):
    det_path = tmp_path / "s.json"
    det_path.write_text(json.dumps(_valid_detections_doc()))
    dets = read_detections(det_path)
    (tmp_path / "s.npy").write_bytes(blob)
    try:
        read_embeddings(tmp_path / "s.npy", dets, det_path)
    except DiorError:
        pass


@FUZZ
@given(blob=st.binary(max_size=300))
def test_seqinfo_random_bytes(tmp_path, blob):
    (tmp_path / "seqinfo.ini").write_bytes(blob)
    try:
        read_seqinfo(tmp_path / "seqinfo.ini")
    except DiorError:
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=300))
def test_instance_png_random_bytes(tmp_path, blob):
    folder = tmp_path / "inst"
    folder.mkdir(exist_ok=True)
    (folder / "000000.png").write_bytes(b"\x89PNG\r\n\x1a\n" + blob)
    try:
        read_kitti_png_folder(folder)
    except DiorError:
        pass
