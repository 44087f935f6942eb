"""The batched reader of dior's line layout accepts and refuses exactly what the whole-document reader does.

Every document is written twice: in the layout ``write_detections`` produces (header, then one
compact detection per line: read in vectorised batches) and as plain ``json.dumps`` (another
layout: parsed whole and checked row by row). Both readers must give the same detections, or the
same ``FormatError`` message and row.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dior_cli.errors import FormatError
from dior_cli.formats import detections_json
from dior_cli.formats.detections_json import document_text, read_detections, write_detections
from dior_cli.masks import encode
from tests.builders import detections_from_rows
from tests.conftest import KITTI_TXT, require


def _mask_with_backslash() -> dict:
    """A mask whose COCO counts contain a backslash (escaped in JSON)."""
    rng = np.random.default_rng(0)
    while True:
        mask = rng.random((6, 9)) < 0.5
        rle = encode(mask)
        if "\\" in rle["counts"]:
            return rle


RLE = encode(np.eye(4, 6, dtype=bool))
SLASHED = _mask_with_backslash()


def _doc(rows: int = 5, size=(4, 6), rle=RLE) -> dict:
    return {
        "schema": "dior.detections/v1", "sequence": "s", "image_size": list(size), "num_frames": 4, "fps": 10.0, "frame_base": 0,
        "producer": {"dior_version": "x"},
        "detections": [{"det_id": i, "frame": i % 4, "class_id": 1 + i % 2, "score": 0.5 + i / 100, "bbox_xyxy": [1.0, 0.0, 3.5, 2.0],
                        "rle": {"size": list(size), "counts": rle["counts"]}} for i in range(rows)],
    }


def _dior_layout(doc: dict) -> str:
    header = {k: v for k, v in doc.items() if k != "detections"}
    return document_text(json.dumps(header, indent=1)[:-2], [json.dumps(r, separators=(",", ":")) for r in doc["detections"]])


def _read_both(tmp_path, doc=None, dior_text=None):
    """``(result, result)`` of the two readers; a result is the DetectionsFile or the FormatError."""
    results = []
    for name, text in (("dior.json", dior_text or _dior_layout(doc)), ("plain.json", json.dumps(json.loads(dior_text) if doc is None else doc))):
        path = tmp_path / name
        path.write_text(text)
        try:
            results.append(read_detections(path))
        except FormatError as exc:
            results.append(exc)
    return results


def _same(a, b):
    if isinstance(a, FormatError) or isinstance(b, FormatError):
        assert isinstance(a, FormatError) and isinstance(b, FormatError), (a, b)
        assert (a.message, a.row) == (b.message, b.row)
        return
    assert (a.sequence, a.image_size, a.num_frames, a.fps, a.frame_base, a.producer, a.extra) == \
        (b.sequence, b.image_size, b.num_frames, b.fps, b.frame_base, b.producer, b.extra)
    for key in ("frame", "class_id", "score", "bbox_xyxy"):
        np.testing.assert_array_equal(getattr(a.detections, key), getattr(b.detections, key))
    assert a.detections.rles == b.detections.rles and a.detections.extras == b.detections.extras


def _row(doc, i, **changes):
    doc["detections"][i].update(changes)
    return doc


@pytest.mark.parametrize("batch", [2, 65536])
@pytest.mark.parametrize(
    ("doc", "fragment"),
    [
        (_doc(), None),
        (_doc(rle=SLASHED, size=(6, 9)), None),
        (_doc(rows=0), None),
        (_row(_doc(), 3, mask_source="box", nested={"a": [1, "}"]}), None),
        (_row(_doc(), 1, score=1), None),  # an integer score is a number
        (_row(_doc(), 2, score=1e-5), None),
        (_row(_doc(), 3, det_id=7), "det_id is 7"),
        (_row(_doc(), 3, det_id=3.0), "det_id is 3.0"),
        (_row(_doc(), 4, frame=4), "frame 4 is not an integer"),
        (_row(_doc(), 4, frame=-1), "frame -1"),
        (_row(_doc(), 2, class_id=10), "class_id 10"),
        (_row(_doc(), 2, score=float("nan")), "score nan"),
        (_row(_doc(), 2, score=1e400), "score inf"),
        (_row(_doc(), 1, bbox_xyxy=[3, 0, 1, 2]), "x2 < x1"),
        (_row(_doc(), 1, bbox_xyxy=[3, 0, 1]), "4 finite numbers"),
        (_row(_row(_doc(), 1, bbox_xyxy=[0, 0, 1]), 2, bbox_xyxy=[0, 0, 1, 1, 1]), "4 finite numbers"),  # 3 + 5 is 2 x 4
        (_row(_row(_doc(), 1, rle={"size": [4], "counts": RLE["counts"]}), 2, rle={"size": [4, 6, 6], "counts": RLE["counts"]}),
         "mask size [4]"),
        (_row(_doc(), 1, det_id=True), "det_id is True"),
        (_row(_doc(), 1, frame=None), "frame None"),
        (_row(_doc(), 1, score=True), "score True"),
        (_row(_doc(), 1, bbox_xyxy=[0, 0, 1, "1"]), "4 finite numbers"),
        (_row(_doc(), 1, frame=2 ** 70), "frame 1180591620717411303424"),
        (_row(_doc(), 4, rle={"size": [6, 4], "counts": RLE["counts"]}), "differs from image_size"),
        (_row(_doc(), 4, rle={"size": [4, 6], "counts": RLE["counts"], "extra": 1}), None),
        (_row(_doc(), 0, rle={"size": [4, 6], "counts": "0i0"}), "cover"),
        (_row(_doc(), 0, rle={"size": [4, 6], "counts": "a\nb"}), "alphabet"),
        (_row(_doc(), 0, rle={"size": [4, 6], "counts": "é"}), "non-ASCII"),
        (_row(_row(_doc(), 0, rle={"size": [4, 6], "counts": "0i0"}), 4, class_id=3), "class_id 3"),  # field errors come first
        (_row(_doc(), 2, frame=1, **{"frame ": 0}), None),
        (_row(_doc(), 2, extra_frame=9), None),
    ],
)
def test_both_readers_agree(tmp_path, monkeypatch, batch, doc, fragment):
    monkeypatch.setattr(detections_json, "_BATCH_ROWS", batch)
    dior, plain = _read_both(tmp_path, doc)
    _same(dior, plain)
    if fragment is None:
        assert not isinstance(dior, FormatError), dior
    else:
        assert isinstance(dior, FormatError) and fragment in dior.message and str(tmp_path / "dior.json") in str(dior)


def test_a_repeated_schema_field_takes_the_last_value_as_json_does(tmp_path):
    text = _dior_layout(_doc()).replace('"counts":"' + RLE["counts"] + '"}}', '"counts":"' + RLE["counts"] + '"},"frame":3}', 1)
    dior, plain = _read_both(tmp_path, dior_text=text)
    _same(dior, plain)
    assert dior.detections.frame[0] == 3


@pytest.mark.parametrize("breakage", ["drop_comma", "extra_comma", "bad_json_line", "indent"])
def test_a_damaged_layout_is_read_as_a_whole(tmp_path, breakage):
    lines = _dior_layout(_doc()).split("\n")
    first_row = next(i for i, line in enumerate(lines) if line.startswith('  {"det_id"'))
    if breakage == "drop_comma":
        lines[first_row] = lines[first_row].rstrip(",")
    elif breakage == "extra_comma":
        lines[first_row + 4] += ","
    elif breakage == "bad_json_line":
        lines[first_row + 1] = lines[first_row + 1].replace('"frame"', "frame")
    else:
        lines[first_row + 2] = " " + lines[first_row + 2]
    path = tmp_path / "x.json"
    path.write_text("\n".join(lines))
    try:
        json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        with pytest.raises(FormatError, match="is not valid JSON") as info:
            read_detections(path)
        assert info.value.line == exc.lineno
    else:
        _same(*_read_both(tmp_path, dior_text=path.read_text()))


def test_real_masks_in_batches(tmp_path, monkeypatch):
    from dior_cli.formats.mots_txt import read_mots_txt

    rows = read_mots_txt(require(KITTI_TXT / "0001.txt"), 0)
    dets = detections_from_rows(rows, "0001", rows.num_frames_annotated)
    write_detections(tmp_path / "0001.json", dets)
    monkeypatch.setattr(detections_json, "_BATCH_ROWS", 97)
    back = read_detections(tmp_path / "0001.json")
    assert back.detections.rles == dets.detections.rles
    np.testing.assert_array_equal(back.detections.bbox_xyxy, dets.detections.bbox_xyxy)
    (tmp_path / "plain.json").write_text(json.dumps(json.loads((tmp_path / "0001.json").read_text())))
    _same(back, read_detections(tmp_path / "plain.json"))
