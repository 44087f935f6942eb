"""Box evaluation: layouts, the benchmark decision, and bad input (a DiorError naming the file,
sequence and line; exit code 1 from the CLI, no traceback)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.errors import ConfigError, DiorError, FormatError, InputNotFound
from dior_cli.evaluate.stage import EvaluateOptions, run
from dior_cli.masks import encode

GT = ["1,1,0,0,10,20,1,1,1.0", "2,1,2,0,10,20,1,1,1.0", "2,2,50,0,10,20,1,1,1.0"]
PRED = ["1,5,0,0,10,20,0.9,-1,-1,-1", "2,5,2,0,10,20,0.9,-1,-1,-1"]


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(ln + "\n" for ln in lines))
    return path


def _sequence(folder: Path, gt_lines=GT, length: int | None = 5) -> Path:
    _write(folder / "gt" / "gt.txt", gt_lines)
    if length is not None:
        (folder / "seqinfo.ini").write_text(
            f"[Sequence]\nname={folder.name}\nimDir=img1\nframeRate=25\nseqLength={length}\nimWidth=640\nimHeight=480\nimExt=.jpg\n"
        )
    return folder


def _error(tmp_path: Path, pred_lines: list[str], gt_lines=GT, benchmark: str = "mot17", **kw) -> DiorError:
    gt = _sequence(tmp_path / "gt" / "SEQ", gt_lines)
    _write(tmp_path / "pred" / "SEQ.txt", pred_lines)
    with pytest.raises(DiorError) as info:
        run(EvaluateOptions(gt=gt, pred=tmp_path / "pred", benchmark=benchmark, workers=1, **kw))
    return info.value


@pytest.mark.parametrize(
    "pred_lines, line, words",
    [
        (["1,5,0,0,10,20,0.9", "2,5,x,0,10,20,0.9"], 2, "x is not a number: 'x'"),
        (["1,5,0,0,10,20,0.9", "2,5,0,0,10"], 2, "at least 6"),
        (["1,5,0,0,10,20,0.9", "6,5,0,0,10,20,0.9"], 2, "frame 6 is outside the sequence (frames 1..5)"),
        (["0,5,0,0,10,20,0.9"], 1, "frame 0 is outside the sequence"),
        (["1.5,5,0,0,10,20,0.9"], 1, "frame is not a whole number"),
        (["1,5,0,0,10,20,0.9", "1,5,3,0,10,20,0.9"], 2, "id 5 appears twice in frame 1 (first on line 1)"),
        (["1,-3,0,0,10,20,0.9"], 1, "negative track id -3"),
        (["1,5,0,0,-10,20,0.9"], 1, "negative size"),
        (["1,5,0,0,10,nan,0.9"], 1, "h is not finite"),
        (["1,5,0,0,10,20,0.9,2,-1,-1"], 1, "pedestrians only"),
        (["1 2001 2 480 640 WSV:2d;1O1"], 1, "is MOTS txt"),
    ],
)
def test_bad_tracker_lines_name_file_sequence_and_line(tmp_path, pred_lines, line, words):
    error = _error(tmp_path, pred_lines)
    assert isinstance(error, FormatError)
    assert error.path == str(tmp_path / "pred" / "SEQ.txt") and error.line == line and error.sequence == "SEQ"
    assert words in str(error) and f"line {line}" in str(error)


@pytest.mark.parametrize(
    "gt_lines, benchmark, line, words",
    [
        (GT[:1] + ["2,1,2,0,10,20,1,14,1.0"], "mot17", 2, "class 14 in column 8 is not a MOTChallenge class"),
        (GT[:1] + ["2,1,2,0,10,20,1"], "mot17", 2, "has 7 columns where line 1 has 9"),
        (["1,1,0,0,10,20"], "mot15", 1, "at least 7"),
        (GT[:1] + ["2,1,2,0,10,20,0.5,1,1.0"], "mot17", 2, "column 7 (the consider flag) is not a whole number"),
        (GT[:1] + ["9,1,2,0,10,20,1,1,1.0"], "mot17", 2, "frame 9 is outside the sequence (frames 1..5)"),
    ],
)
def test_bad_ground_truth_lines_name_the_line(tmp_path, gt_lines, benchmark, line, words):
    error = _error(tmp_path, PRED, gt_lines=gt_lines, benchmark=benchmark)
    assert isinstance(error, FormatError) and error.path.endswith("gt/gt.txt") and error.line == line and error.sequence == "SEQ"
    assert words in str(error)


@pytest.mark.parametrize(
    "pred_lines",
    [
        ["1,5,0,0,10,20,0.9,", "", "2,5,2,0,10,20,0.9,"],  # trailing commas, a blank line
        ["1 5 0 0 10 20 0.9 -1 -1 -1", "2  5  2 0 10 20 0.9 -1 -1 -1"],  # whitespace, doubled
        ["1,5,0,0,10,20", "2, 5, 2, 0, 10, 20, 0.9, -1, -1, -1"],  # 6 and 10 columns, spaces after commas
        ["1,5.0,0,0,1e1,20,0.9", "2.0,5,2,0,10,20,0.9,1"],  # whole numbers written as floats, class 1
    ],
)
def test_accepted_tracker_variants_score_as_the_plain_file(tmp_path, pred_lines):
    gt = _sequence(tmp_path / "gt" / "SEQ")
    _write(tmp_path / "plain" / "SEQ.txt", PRED)
    _write(tmp_path / "variant" / "SEQ.txt", pred_lines)
    plain = run(EvaluateOptions(gt=gt, pred=tmp_path / "plain", workers=1))["combined"]
    variant = run(EvaluateOptions(gt=gt, pred=tmp_path / "variant", workers=1))["combined"]
    assert variant == plain and plain["pedestrian"]["CLR_TP"] == 2 and plain["pedestrian"]["CLR_FN"] == 1


def test_mot15_ignores_column_8(tmp_path):
    """PETS09-style world coordinates in column 8 are not classes for MOT15 (and are for MOT17)."""
    gt_lines = ["1,1,0,0,10,20,-1,-11773,-14337,0", "2,1,2,0,10,20,-1,-11259,-13537,0"]
    gt = _sequence(tmp_path / "gt" / "SEQ", gt_lines)
    _write(tmp_path / "pred" / "SEQ.txt", PRED)
    doc = run(EvaluateOptions(gt=gt, pred=tmp_path / "pred", benchmark="mot15", workers=1))
    assert doc["combined"]["pedestrian"]["CLR_TP"] == 2
    with pytest.raises(FormatError, match="use --benchmark mot15"):
        run(EvaluateOptions(gt=gt, pred=tmp_path / "pred", benchmark="mot17", workers=1))


def test_missing_files(tmp_path):
    gt = _sequence(tmp_path / "gt" / "SEQ")
    (tmp_path / "pred").mkdir()
    with pytest.raises(DiorError, match=r"no prediction for 1 of 1 sequence\(s\): SEQ.txt"):
        run(EvaluateOptions(gt=gt, pred=tmp_path / "pred", workers=1))
    empty = run(EvaluateOptions(gt=gt, pred=tmp_path / "pred", allow_missing=True, workers=1))["combined"]["pedestrian"]
    assert (empty["CLR_TP"], empty["CLR_FN"], empty["CLR_FP"]) == (0, 3, 0)
    with pytest.raises(InputNotFound):
        run(EvaluateOptions(gt=tmp_path / "nowhere", pred=tmp_path / "pred", benchmark="mot17", workers=1))
    with pytest.raises(InputNotFound):
        run(EvaluateOptions(gt=gt, pred=tmp_path / "nowhere", workers=1))
    seqinfo_only = tmp_path / "bare" / "SEQ"
    seqinfo_only.mkdir(parents=True)
    (seqinfo_only / "seqinfo.ini").write_text((gt / "seqinfo.ini").read_text())
    with pytest.raises(FormatError, match="no sequence with ground truth"):
        run(EvaluateOptions(gt=seqinfo_only, pred=tmp_path / "pred", benchmark="mot17", workers=1))


def test_options_that_do_not_fit(tmp_path):
    gt = _sequence(tmp_path / "gt" / "SEQ")
    _write(tmp_path / "pred" / "SEQ.txt", PRED)
    with pytest.raises(ConfigError, match="--resolve-overlaps is for mask evaluation"):
        run(EvaluateOptions(gt=gt, pred=tmp_path / "pred", resolve_overlaps=True, workers=1))
    with pytest.raises(ConfigError, match="pedestrian"):
        run(EvaluateOptions(gt=gt, pred=tmp_path / "pred", classes=("car",), workers=1))
    mask = np.zeros((4, 6), bool)
    mask[1:3, 1:4] = True
    _write(tmp_path / "kitti" / "instances_txt" / "0000.txt", [f"0 2001 2 4 6 {encode(mask)['counts']}"])
    with pytest.raises(ConfigError, match="--boxes scores masks by their boxes against box ground truth"):
        run(EvaluateOptions(gt=tmp_path / "kitti", pred=tmp_path / "pred", boxes=True, workers=1))
    png_pred = tmp_path / "png_pred" / "SEQ"
    png_pred.mkdir(parents=True)
    with pytest.raises(FormatError, match="instance PNGs"):
        run(EvaluateOptions(gt=gt, pred=png_pred.parent, workers=1))


def test_benchmark_decisions(tmp_path):
    # TrackEval's layout: MOT16-train/ names the benchmark, its seqmap picks the sequences
    te = tmp_path / "te"
    for name in ("A-01", "A-02"):
        _sequence(te / "MOT16-train" / name)
    _write(te / "seqmaps" / "MOT16-train.txt", ["name", "A-02"])
    _write(tmp_path / "pred" / "A-01.txt", PRED)
    _write(tmp_path / "pred" / "A-02.txt", PRED)
    doc = run(EvaluateOptions(gt=te, pred=tmp_path / "pred", workers=1))
    assert doc["benchmark"] == "mot16" and doc["sequences"] == ["A-02"]
    assert doc["decisions"][0] == "benchmark mot16 from TrackEval's MOT16-<split> folder"
    with pytest.raises(FormatError, match="has no MOT17-<split>/ folder"):
        run(EvaluateOptions(gt=te, pred=tmp_path / "pred", benchmark="mot17", workers=1))
    # a folder named MOT20 on the path, sequences without prefix; test/ has no ground truth
    root = tmp_path / "MOT20"
    _sequence(root / "train" / "A-01")
    (root / "test" / "B-01").mkdir(parents=True)
    (root / "test" / "B-01" / "seqinfo.ini").write_text((root / "train" / "A-01" / "seqinfo.ini").read_text())
    doc = run(EvaluateOptions(gt=root, pred=tmp_path / "pred", workers=1))
    assert doc["benchmark"] == "mot20" and "benchmark mot20 from the folder name MOT20" in doc["decisions"]
    assert "not evaluated, no ground truth: B-01" in doc["decisions"]
    with pytest.raises(FormatError, match="no sequence with ground truth"):
        run(EvaluateOptions(gt=root, pred=tmp_path / "pred", split="test", workers=1))
    # sequence names with different benchmark prefixes
    mixed = tmp_path / "mixed"
    _sequence(mixed / "MOT17-02-FRCNN")
    _sequence(mixed / "MOT20-01")
    with pytest.raises(ConfigError, match="mix benchmarks"):
        run(EvaluateOptions(gt=mixed, pred=tmp_path / "pred", workers=1))
    # an explicit benchmark is used as given, with no decision to report
    _write(tmp_path / "pred" / "MOT17-02-FRCNN.txt", PRED)
    doc = run(EvaluateOptions(gt=mixed / "MOT17-02-FRCNN", pred=tmp_path / "pred", benchmark="mot16", workers=1))
    assert doc["benchmark"] == "mot16" and not any(d.startswith("benchmark") for d in doc["decisions"])


def test_cli_box_evaluation_and_bad_input(tmp_path):
    runner = CliRunner()
    gt = _sequence(tmp_path / "gt" / "SEQ")
    _write(tmp_path / "pred" / "SEQ.txt", PRED)
    ok = runner.invoke(app, ["evaluate", "--gt", str(gt), "--pred", str(tmp_path / "pred"), "--workers", "1", "--out", str(tmp_path / "m.json")])
    assert ok.exit_code == 0, ok.output
    assert "benchmark mot15 from" in ok.output and "MOTA" in ok.output and (tmp_path / "m.json").is_file()
    _write(tmp_path / "pred" / "SEQ.txt", ["1,5,0,0,10,20,0.9", "2,5,0,0,ten,20,0.9"])
    bad = runner.invoke(app, ["evaluate", "--gt", str(gt), "--pred", str(tmp_path / "pred"), "--workers", "1"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "SEQ.txt, sequence SEQ, line 2: w is not a number: 'ten'" in bad.output.replace("\n", "")
    helped = runner.invoke(app, ["evaluate", "--help"])
    assert "--boxes" in helped.output and "mot17" in helped.output
