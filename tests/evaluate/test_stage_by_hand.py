"""dior evaluate on tiny hand-made sequences: expected numbers derived in the comments.

Masks are 1-pixel-wide columns of a 10x12 image, so masks of different objects never
overlap and IoU between a prediction and its ground truth is 1 (same mask) or 0.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.errors import ConfigError, DiorError, FormatError
from dior_cli.evaluate.stage import EvaluateOptions, run
from dior_cli.masks import encode

H, W = 10, 12


def column(x: int, rows: slice = slice(0, H)) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[rows, x] = True
    return mask


def write_txt(path: Path, lines: list[tuple[int, int, int, np.ndarray]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{f} {i} {c} {H} {W} {encode(m)['counts']}\n" for f, i, c, m in lines))
    return path


def evaluate(tmp_path: Path, gt: dict, pred: dict, **kwargs) -> dict:
    for name, lines in gt.items():
        write_txt(tmp_path / "gt" / f"{name}.txt", lines)
    for name, lines in pred.items():
        write_txt(tmp_path / "pred" / f"{name}.txt", lines)
    (tmp_path / "pred").mkdir(exist_ok=True)
    options = dict(gt=tmp_path / "gt", pred=tmp_path / "pred", benchmark="kitti-mots", workers=1)
    options.update(kwargs)
    return run(EvaluateOptions(**options))


def test_perfect_tracking(tmp_path):
    # Two cars over 3 frames, predicted with other id numbers: every GT mask matched at IoU 1.
    gt = [(t, 1001, 1, column(1)) for t in range(3)] + [(t, 1002, 1, column(5)) for t in range(3)]
    pred = [(t, 1007, 1, column(1)) for t in range(3)] + [(t, 1003, 1, column(5)) for t in range(3)]
    doc = evaluate(tmp_path, {"0001": gt}, {"0001": pred})
    car = doc["per_sequence"]["0001"]["car"]
    assert (car["CLR_TP"], car["CLR_FN"], car["CLR_FP"], car["IDSW"], car["MT"], car["Frag"]) == (6, 0, 0, 0, 2, 0)
    for field in ("HOTA", "DetA", "AssA", "MOTA", "MOTP", "sMOTSA", "MOTSA", "MOTSP", "IDF1"):
        assert car[field] == pytest.approx(1.0, abs=1e-12), field
    assert doc["combined"]["car"]["HOTA"] == pytest.approx(1.0)
    assert doc["sequence_info"]["0001"]["num_frames"] == 3 and doc["sequence_info"]["0001"]["length_source"] == "annotations"


def test_identity_switch(tmp_path):
    # GT A (1001) and B (1002) for 4 frames; prediction 1005 follows A then B, 1006 the reverse.
    gt = [(t, 1001, 1, column(1)) for t in range(4)] + [(t, 1002, 1, column(5)) for t in range(4)]
    pred = [(t, 1005, 1, column(1 if t < 2 else 5)) for t in range(4)] + [(t, 1006, 1, column(5 if t < 2 else 1)) for t in range(4)]
    car = evaluate(tmp_path, {"0001": gt}, {"0001": pred})["per_sequence"]["0001"]["car"]
    # CLEAR: 8 TP, both GT switch at frame 2 -> IDSW 2, MOTA = (8 - 0 - 2) / 8.
    assert (car["CLR_TP"], car["IDSW"]) == (8, 2)
    assert car["MOTA"] == pytest.approx(0.75)
    # Identity: best one-to-one assignment keeps 2 frames per GT: IDTP 4, IDFN 4, IDFP 4, IDF1 = 8 / 16.
    assert (car["IDTP"], car["IDFN"], car["IDFP"]) == (4, 4, 4)
    assert car["IDF1"] == pytest.approx(0.5)
    # HOTA: DetA 1 at every alpha; each TP pair (e.g. A, 1005) has TPA 2, FNA 2, FPA 2 -> AssA 1/3.
    assert car["DetA"] == pytest.approx(1.0) and car["AssA"] == pytest.approx(1 / 3)
    assert car["HOTA"] == pytest.approx(np.sqrt(1 / 3))


def test_split_track(tmp_path):
    # One GT car for 4 frames, predicted as 1005 in frames 0-1 and 1006 in frames 2-3.
    gt = [(t, 1001, 1, column(3)) for t in range(4)]
    pred = [(t, 1005 if t < 2 else 1006, 1, column(3)) for t in range(4)]
    car = evaluate(tmp_path, {"0001": gt}, {"0001": pred})["per_sequence"]["0001"]["car"]
    # CLEAR: TP 4, one switch at frame 2, MOTA = (4 - 1) / 4; still mostly tracked (4/4 frames).
    assert (car["CLR_TP"], car["IDSW"], car["MT"], car["Frag"]) == (4, 1, 1, 0)
    assert car["MOTA"] == pytest.approx(0.75)
    # Identity: GT matched to one of the two ids for 2 frames: IDTP 2, IDFN 2, IDFP 2 -> IDF1 0.5.
    assert car["IDF1"] == pytest.approx(0.5)
    # HOTA: each TP has TPA 2, FNA 2 (the other id's frames), FPA 0 -> AssA 1/2, HOTA sqrt(1/2).
    assert car["AssA"] == pytest.approx(0.5) and car["HOTA"] == pytest.approx(np.sqrt(0.5))


def test_false_positive_inside_ignore_region_is_removed(tmp_path):
    # Frame 0: one GT car (column 1) predicted exactly; the ignore region covers columns 6-11.
    ignore = np.zeros((H, W), bool)
    ignore[:, 6:] = True
    gt = [(0, 1001, 1, column(1)), (0, 10000, 10, ignore)]
    inside = np.zeros((H, W), bool)
    inside[:, 8:10] = True  # 100 % inside the ignore region -> removed
    mostly_out = np.zeros((H, W), bool)
    mostly_out[:, 3:6] = True
    mostly_out[:2, 6] = True  # 2 of 32 pixels inside -> stays, a false positive
    pred = [(0, 1001, 1, column(1)), (0, 1002, 1, inside), (0, 1003, 1, mostly_out)]
    car = evaluate(tmp_path, {"0001": gt}, {"0001": pred})["per_sequence"]["0001"]["car"]
    assert (car["CLR_TP"], car["CLR_FP"], car["CLR_FN"]) == (1, 1, 0)
    assert car["MOTA"] == pytest.approx(0.0)  # (1 TP - 1 FP - 0 IDSW) / 1 GT
    assert car["IDFP"] == 1  # the removed prediction counts nowhere


def test_empty_prediction_and_class_without_objects(tmp_path):
    gt = [(t, 2001, 2, column(2)) for t in range(5)]
    doc = evaluate(tmp_path, {"0001": gt, "0002": []}, {"0001": [], "0002": []})
    ped = doc["per_sequence"]["0001"]["pedestrian"]
    # Nothing predicted: 5 misses, no TP, MOTA = 0 / 5, IDF1 0, HOTA 0.
    assert (ped["CLR_TP"], ped["CLR_FN"], ped["CLR_FP"], ped["ML"]) == (0, 5, 0, 1)
    assert ped["MOTA"] == 0 and ped["IDF1"] == 0 and ped["HOTA"] == 0
    car = doc["per_sequence"]["0002"]["car"]  # an empty sequence
    assert (car["CLR_TP"], car["CLR_FN"], car["CLR_FP"], car["IDTP"]) == (0, 0, 0, 0)
    assert doc["sequence_info"]["0002"]["num_frames"] == 0
    assert doc["combined"]["pedestrian"]["CLR_FN"] == 5


def test_overlapping_predictions_are_refused_then_resolved(tmp_path):
    gt = [(0, 1001, 1, column(2))]
    wide = np.zeros((H, W), bool)
    wide[:, 2:4] = True
    pred = [(0, 1001, 1, column(2)), (0, 1002, 1, wide)]
    with pytest.raises(FormatError) as info:
        evaluate(tmp_path, {"0001": gt}, {"0001": pred})
    text = str(info.value)
    assert "objects 1001 and 1002 overlap by 10 pixels in frame 0" in text and "sequence 0001" in text and "--resolve-overlaps" in text
    doc = run(EvaluateOptions(gt=tmp_path / "gt", pred=tmp_path / "pred", benchmark="kitti-mots", workers=1, resolve_overlaps=True))
    assert doc["sequence_info"]["0001"]["overlap_pixels_resolved"] == 10
    car = doc["per_sequence"]["0001"]["car"]
    # The earlier line keeps column 2 (a perfect match); 1002 keeps only column 3 -> one FP.
    assert (car["CLR_TP"], car["CLR_FP"]) == (1, 1)


@pytest.mark.parametrize(
    ("pred_line", "fragment"),
    [
        ("3 1001 1 10 12 {c}\n", "frame 3 is past the sequence's last frame 1"),
        ("0 1001 1 12 10 {c2}\n", "mask size 12x10 differs from the sequence's 10x12"),
        ("0 1001 1 10 12 {c}\n0 1001 1 10 12 {c}\n", "object id 1001 appears twice in frame 0"),
    ],
)
def test_bad_predictions_name_sequence_and_line(tmp_path, pred_line, fragment):
    write_txt(tmp_path / "gt" / "0001.txt", [(0, 1001, 1, column(1)), (1, 1001, 1, column(1))])
    (tmp_path / "pred").mkdir()
    c, c2 = encode(column(1))["counts"], encode(np.ones((12, 10), bool))["counts"]
    (tmp_path / "pred" / "0001.txt").write_text(pred_line.format(c=c, c2=c2))
    with pytest.raises(FormatError) as info:
        run(EvaluateOptions(gt=tmp_path / "gt", pred=tmp_path / "pred", benchmark="kitti-mots", workers=1))
    assert fragment in str(info.value) and "0001.txt" in str(info.value) and "sequence 0001" in str(info.value)


def test_missing_predictions_are_listed_or_scored_empty(tmp_path):
    gt = {name: [(0, 1001, 1, column(1))] for name in ("0001", "0002", "0003")}
    with pytest.raises(DiorError) as info:
        evaluate(tmp_path, gt, {"0002": [(0, 1001, 1, column(1))]})
    assert "0001.txt, 0003.txt" in str(info.value) and "--allow-missing" in str(info.value)
    doc = run(EvaluateOptions(gt=tmp_path / "gt", pred=tmp_path / "pred", benchmark="kitti-mots", workers=1, allow_missing=True))
    assert doc["per_sequence"]["0001"]["car"]["CLR_FN"] == 1 and doc["per_sequence"]["0002"]["car"]["CLR_TP"] == 1
    assert any("0001, 0003" in d for d in doc["decisions"])


def test_seqmaps_select_and_size_sequences(tmp_path):
    gt = {name: [(0, 1001, 1, column(1))] for name in ("0001", "0002")}
    for name, lines in gt.items():
        write_txt(tmp_path / "gt" / f"{name}.txt", lines)
        write_txt(tmp_path / "pred" / f"{name}.txt", lines)
    (tmp_path / "kitti.seqmap").write_text("0002 empty 000000 000009\n")
    doc = run(EvaluateOptions(gt=tmp_path / "gt", pred=tmp_path / "pred", seqmap=tmp_path / "kitti.seqmap", workers=1))
    assert doc["sequences"] == ["0002"]
    assert doc["sequence_info"]["0002"] == {**doc["sequence_info"]["0002"], "num_frames": 10, "length_source": "seqmap"}
    # FP_per_frame uses the seqmap's 10 frames: 0 here, but CLR_Frames-dependent fields see 10.
    (tmp_path / "list.txt").write_text("name\n0003\n")
    with pytest.raises(FormatError, match="names sequences without ground truth: 0003"):
        run(EvaluateOptions(gt=tmp_path / "gt", pred=tmp_path / "pred", seqmap=tmp_path / "list.txt", workers=1))


def test_benchmark_auto_says_what_it_decided_and_classes(tmp_path):
    gt = {"MOTS20-05": [(1, 2001, 2, column(1))]}
    doc = evaluate(tmp_path, gt, gt, benchmark="auto")
    assert doc["benchmark"] == "mots20" and doc["classes"] == ["pedestrian"] and doc["frame_base"] == 1
    assert any("mots20" in d for d in doc["decisions"])
    assert doc["per_sequence"]["MOTS20-05"]["pedestrian"]["CLR_TP"] == 1
    with pytest.raises(ConfigError, match="has only pedestrian"):
        run(EvaluateOptions(gt=tmp_path / "gt", pred=tmp_path / "pred", classes=("car",), workers=1))


def test_parallel_workers_give_the_same_document(tmp_path):
    gt = {f"000{i}": [(t, 1001, 1, column(i)) for t in range(3)] for i in range(1, 5)}
    pred = {name: lines[:2] for name, lines in gt.items()}
    one = evaluate(tmp_path, gt, pred)
    two = run(EvaluateOptions(gt=tmp_path / "gt", pred=tmp_path / "pred", benchmark="kitti-mots", workers=2))
    assert one["per_sequence"] == two["per_sequence"] and one["combined"] == two["combined"]


def test_cli_writes_metrics_json_csv_and_exits_1_on_mistakes(tmp_path):
    gt = {"0001": [(t, 1001, 1, column(1)) for t in range(2)]}
    for name, lines in gt.items():
        write_txt(tmp_path / "gt" / f"{name}.txt", lines)
        write_txt(tmp_path / "run" / "tracks" / f"{name}.txt", lines)
    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", "--gt", str(tmp_path / "gt"), "--pred", str(tmp_path / "run" / "tracks"), "--csv", str(tmp_path / "m.csv"), "--json", "--workers", "1"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["schema"] == "dior.metrics/v1" and doc["combined"]["car"]["sMOTSA"] == 1.0
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == doc  # default: beside the tracks folder
    rows = (tmp_path / "m.csv").read_text().splitlines()
    assert rows[0].startswith("sequence,class,HOTA") and rows[1].startswith("0001,car,1.0")
    result = runner.invoke(app, ["evaluate", "--gt", str(tmp_path / "nope"), "--pred", str(tmp_path / "run" / "tracks")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_png_ground_truth_and_predictions_score_like_txt(tmp_path):
    from dior_cli.formats.kitti_png import write_kitti_png_folder
    from dior_cli.formats.mots_txt import read_mots_txt

    ignore = np.zeros((H, W), bool)
    ignore[:, 9:] = True
    gt = [(t, 1001, 1, column(1)) for t in range(3)] + [(t, 2001, 2, column(4)) for t in range(3)] + [(1, 10000, 10, ignore)]
    pred = [(t, 1002, 1, column(1)) for t in range(2)] + [(t, 2001, 2, column(4 + t // 2)) for t in range(3)] + [(1, 1003, 1, column(10))]
    txt_doc = evaluate(tmp_path / "txt", {"0001": gt}, {"0001": pred})
    for side, lines in (("gt", gt), ("pred", pred)):
        rows = read_mots_txt(write_txt(tmp_path / "src" / f"{side}.txt", lines), 0)
        root = tmp_path / "png" / ("instances" if side == "gt" else "pred")
        write_kitti_png_folder(root / "0001", rows, num_frames=3, image_size=(H, W))
    png_doc = run(EvaluateOptions(gt=tmp_path / "png", pred=tmp_path / "png" / "pred", workers=1))
    assert png_doc["sequence_info"]["0001"]["length_source"] == "instance PNGs"
    assert png_doc["per_sequence"] == txt_doc["per_sequence"]
    assert txt_doc["per_sequence"]["0001"]["car"]["CLR_FP"] == 0  # the prediction inside the ignore region is gone


def test_trackeval_motschallenge_layout_and_split(tmp_path):
    from dior_cli.formats.seqinfo import SeqInfo, write_seqinfo

    for split in ("train", "test"):
        seq = tmp_path / "gt" / f"MOTS-{split}" / "MOTS20-09"
        write_txt(seq / "gt" / "gt.txt", [(1, 2001, 2, column(1)), (2, 2001, 2, column(1))])
        write_seqinfo(seq / "seqinfo.ini", SeqInfo(name="MOTS20-09", num_frames=4, fps=30.0, image_size=(H, W)))
    (tmp_path / "gt" / "seqmaps").mkdir()
    (tmp_path / "gt" / "seqmaps" / "MOTS-train.txt").write_text("name\nMOTS20-09\n")
    write_txt(tmp_path / "pred" / "MOTS20-09.txt", [(1, 2005, 2, column(1))])
    with pytest.raises(ConfigError, match="choose one with --split"):
        run(EvaluateOptions(gt=tmp_path / "gt", pred=tmp_path / "pred", workers=1))
    doc = run(EvaluateOptions(gt=tmp_path / "gt", pred=tmp_path / "pred", split="train", workers=1))
    assert doc["benchmark"] == "mots20" and doc["sequence_info"]["MOTS20-09"]["num_frames"] == 4
    assert doc["sequence_info"]["MOTS20-09"]["length_source"] == "seqinfo.ini"
    ped = doc["per_sequence"]["MOTS20-09"]["pedestrian"]
    assert (ped["CLR_TP"], ped["CLR_FN"]) == (1, 1) and ped["FP_per_frame"] == 0
    assert any("seqmap" in d for d in doc["decisions"])
