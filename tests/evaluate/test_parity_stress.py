"""``dior evaluate`` against the real TrackEval 1.3.0 on generated sequences that stress the
fast paths: many objects per frame, empty frames (no ground truth, no predictions, neither),
ignore regions (predictions fully, more than half, exactly half and less than half inside),
ties in matching (a ground truth split into two predictions of IoU exactly 0.5 each, so the
per-class preprocessing, CLEAR and HOTA all meet an ambiguous frame), identity swaps and
false positives, and a sequence without any prediction.

Scenes: a ``[48, 64]`` image cut into 8x8-pixel cells; every object, ignore region and
prediction stays inside its own cell, so ground-truth masks never overlap, and neither do
predictions (TrackEval refuses overlapping predictions). Expected values come from TrackEval
(:mod:`tests.evaluate.trackeval_reference`), compared field by field with the parity test's
rules (integers equal, floats bit-identical).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("trackeval")

from dior_cli.evaluate.stage import EvaluateOptions, run  # noqa: E402
from dior_cli.masks import encode  # noqa: E402
from tests.evaluate import trackeval_reference as reference  # noqa: E402
from tests.evaluate.test_parity_trackeval import _compare  # noqa: E402

HEIGHT, WIDTH, CELL = 48, 64, 8
ROWS, COLS = HEIGHT // CELL, WIDTH // CELL  # 6 x 8 = 48 cells


def _rect(top: int, left: int, height: int, width: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[top : top + height, left : left + width] = 1
    return mask


def _line(frame: int, obj_id: int, class_id: int, mask: np.ndarray) -> str:
    return f"{frame} {obj_id} {class_id} {HEIGHT} {WIDTH} {encode(mask)['counts']}\n"


def _scene(seed: int, num_frames: int) -> tuple[str, str]:
    """(ground-truth text, prediction text) of one generated KITTI-MOTS sequence (frames from 0)."""
    rng = np.random.default_rng(seed)
    cells = [(r, c) for r in range(ROWS) for c in range(COLS)]
    kinds = rng.choice(["object", "object", "object", "object", "ignore", "empty"], size=len(cells))
    classes = rng.choice([1, 2], size=len(cells))
    swap = {k: k for k in range(len(cells))}
    gt, pred = [], []
    for t in range(num_frames):
        if t % 7 == 3:
            continue  # a frame with neither ground truth nor predictions
        no_pred = t % 7 == 5  # ground truth only
        no_gt = t % 7 == 6  # predictions only (all false positives)
        if t == num_frames // 2:  # an identity swap between two tracks of one class from here on
            a, b = [k for k in range(len(cells)) if kinds[k] == "object" and classes[k] == 1][:2]
            swap[a], swap[b] = b, a
        ignore = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)  # one ignore line per frame, as KITTI-MOTS has
        for k, (r, c) in enumerate(cells):
            top, left = r * CELL, c * CELL
            if kinds[k] == "ignore":
                ignore |= _rect(top, left, CELL, CELL // 2)  # the left half of the cell
                if not no_pred and rng.random() < 0.6:
                    width = int(rng.choice([2, 4, 6, 8]))  # inside the ignore half: all, all, 2/3, exactly 1/2
                    pred.append(_line(t, 1900 + k, int(classes[k]), _rect(top + 2, left + 4 - min(width, 4), 4, width)))
                continue
            if kinds[k] == "empty":
                if not no_pred and rng.random() < 0.15:  # a false positive
                    pred.append(_line(t, 1800 + k, int(classes[k]), _rect(top + 1, left + 1, 5, 5)))
                continue
            if rng.random() < 0.1:
                continue  # object absent from this frame
            cls = int(classes[k])
            h, w = 4, 4 if k % 5 == 0 else int(rng.integers(3, 8))
            y, x = top + int(rng.integers(0, CELL - h + 1)), left + int(rng.integers(0, CELL - w + 1))
            if not no_gt:
                gt.append(_line(t, cls * 1000 + k, cls, _rect(y, x, h, w)))
            if no_pred or rng.random() < 0.1:
                continue  # missed
            pid = cls * 1000 + 100 + swap[k]
            # tie: two halves of a 4x4 object, IoU exactly 0.5 each; for k % 10 == 0 in every frame,
            # so the two tracks also have equal HOTA alignment (an exact tie for every solver)
            if k % 5 == 0 and (k % 10 == 0 or rng.random() < 0.5):
                pred.append(_line(t, pid, cls, _rect(y, x, 2, 4)))
                pred.append(_line(t, pid + 50, cls, _rect(y + 2, x, 2, 4)))
                continue
            dy, dx = (int(v) for v in rng.integers(-1, 2, size=2))
            ys, xs = np.clip([y + dy, y + dy + h], top, top + CELL), np.clip([x + dx, x + dx + w], left, left + CELL)
            pred.append(_line(t, pid, cls, _rect(int(ys[0]), int(xs[0]), int(ys[1] - ys[0]), int(xs[1] - xs[0]))))
        if not no_gt and ignore.any():
            gt.append(_line(t, 10000, 10, ignore))
    return "".join(gt), "".join(pred)


def test_stress_scenes_match_trackeval(tmp_path):
    plan = {"0100": (1, 40), "0101": (2, 25), "0102": (3, 30)}  # seq -> (seed, frames)
    gt_dir, pred_dir = tmp_path / "kitti_mots" / "instances_txt", tmp_path / "pred"
    gt_dir.mkdir(parents=True)
    pred_dir.mkdir()
    gt_files, pred_files, lengths, seqmap = {}, {}, {}, []
    for seq, (seed, frames) in plan.items():
        gt_text, pred_text = _scene(seed, frames)
        if seq == "0102":
            pred_text = ""  # a sequence with an empty prediction file
        (gt_dir / f"{seq}.txt").write_text(gt_text)
        (pred_dir / f"{seq}.txt").write_text(pred_text)
        gt_files[seq], pred_files[seq] = gt_dir / f"{seq}.txt", pred_dir / f"{seq}.txt"
        lengths[seq] = frames + 2  # two frames past the last annotation: empty frames at the end
        seqmap.append(f"{seq} empty 000000 {lengths[seq] - 1:06d}\n")
    (tmp_path / "stress.seqmap").write_text("".join(seqmap))
    frames_of_lines = [int(line.split()[0]) for line in (gt_dir / "0100.txt").read_text().splitlines()]
    assert np.bincount(frames_of_lines).max() >= 30, "the scene should hold many objects per frame"

    doc = run(EvaluateOptions(gt=tmp_path / "kitti_mots", pred=pred_dir, seqmap=tmp_path / "stress.seqmap", benchmark="kitti-mots", workers=1))
    ref = reference.kitti_mots(gt_files, pred_files, lengths)
    problems = _compare(doc, ref, ["car", "pedestrian"], class_average=True)
    assert not problems, "\n".join(problems[:20])
    # the generated scenes do reach the paths they are meant to stress
    assert any(v["pedestrian"]["IDSW"] or v["car"]["IDSW"] for v in doc["per_sequence"].values())
    assert doc["per_sequence"]["0102"]["car"]["CLR_TP"] == 0


def _write_case(tmp_path, plan: dict[str, tuple[int, int]]):
    """Generated sequences in the flat KITTI-MOTS layout with a seqmap; returns the paths and lengths."""
    gt_dir, pred_dir = tmp_path / "kitti_mots" / "instances_txt", tmp_path / "pred"
    gt_dir.mkdir(parents=True)
    pred_dir.mkdir()
    gt_files, pred_files, lengths, seqmap = {}, {}, {}, []
    for seq, (seed, frames) in plan.items():
        gt_text, pred_text = _scene(seed, frames)
        (gt_dir / f"{seq}.txt").write_text(gt_text)
        (pred_dir / f"{seq}.txt").write_text(pred_text)
        gt_files[seq], pred_files[seq] = gt_dir / f"{seq}.txt", pred_dir / f"{seq}.txt"
        lengths[seq] = frames + 3  # frames past the last annotation: empty frames at the end
        seqmap.append(f"{seq} empty 000000 {lengths[seq] - 1:06d}\n")
    (tmp_path / "stress.seqmap").write_text("".join(seqmap))
    return gt_dir, pred_dir, gt_files, pred_files, lengths


def _count_blocks(monkeypatch) -> list[int]:
    """Record how many rows each streamed block hands out (ground truth and predictions)."""
    from dior_cli.evaluate import annotation_reading

    sizes: list[int] = []
    take = annotation_reading.MaskStream.take

    def counting(self, t_end, t0):
        block = take(self, t_end, t0)
        sizes.append(len(block.rows))
        return block

    monkeypatch.setattr(annotation_reading.MaskStream, "take", counting)
    return sizes


def test_sequences_longer_than_a_block_match_trackeval(tmp_path, monkeypatch):
    """Files read 3 kB at a time: each sequence is scored in tens of frame blocks (chunk ends
    fall inside frames), tracks and an identity swap span block boundaries, and there are empty
    frames (no gt, no predictions, neither) and stretches of them longer than a block; every
    field stays bit-identical to TrackEval, and equal to reading the files whole."""
    plan = {"0200": (4, 90), "0201": (5, 60)}
    gt_dir, pred_dir, gt_files, pred_files, lengths = _write_case(tmp_path, plan)
    for path, gap in ((pred_dir / "0200.txt", range(30, 50)), (gt_dir / "0201.txt", range(20, 32))):  # long empty stretches
        kept = [line for line in path.read_text().splitlines(keepends=True) if int(line.split(" ", 1)[0]) not in gap]
        path.write_text("".join(kept))
    sizes = _count_blocks(monkeypatch)
    doc = run(EvaluateOptions(gt=tmp_path / "kitti_mots", pred=pred_dir, seqmap=tmp_path / "stress.seqmap",
                              benchmark="kitti-mots", workers=1, chunk_bytes=3000))
    assert len(sizes) >= 2 * 30, "each sequence should be read in many blocks"
    assert 0 in sizes, "some block should hold no row of one side (an empty stretch of frames)"
    ref = reference.kitti_mots(gt_files, pred_files, lengths)
    problems = _compare(doc, ref, ["car", "pedestrian"], class_average=True)
    assert not problems, "\n".join(problems[:20])
    whole = run(EvaluateOptions(gt=tmp_path / "kitti_mots", pred=pred_dir, seqmap=tmp_path / "stress.seqmap",
                                benchmark="kitti-mots", workers=1))
    assert whole["per_sequence"] == doc["per_sequence"] and whole["curves"] == doc["curves"]


def test_files_that_cannot_be_streamed_are_read_whole(tmp_path, monkeypatch):
    """A file whose lines leave frame order after the first chunks, and one that turns
    non-canonical late (a CRLF line end), are detected mid-stream and read whole instead:
    same numbers as TrackEval."""
    plan = {"0300": (6, 50), "0301": (7, 50)}
    gt_dir, pred_dir, gt_files, pred_files, lengths = _write_case(tmp_path, plan)
    lines = (pred_dir / "0300.txt").read_text().splitlines(keepends=True)
    moved = [i for i, line in enumerate(lines) if line.startswith("4 ")]  # frame 4 written again at the end
    (pred_dir / "0300.txt").write_text("".join(line for i, line in enumerate(lines) if i not in moved) + "".join(lines[i] for i in moved))
    gt_lines = (gt_dir / "0301.txt").read_text().splitlines(keepends=True)
    gt_lines[-2] = gt_lines[-2].replace("\n", "\r\n")
    (gt_dir / "0301.txt").write_text("".join(gt_lines), newline="")
    sizes = _count_blocks(monkeypatch)
    doc = run(EvaluateOptions(gt=tmp_path / "kitti_mots", pred=pred_dir, seqmap=tmp_path / "stress.seqmap",
                              benchmark="kitti-mots", workers=1, chunk_bytes=3000))
    assert moved and sizes, "the streamed reader should have started on both sequences"
    ref = reference.kitti_mots(gt_files, pred_files, lengths)
    problems = _compare(doc, ref, ["car", "pedestrian"], class_average=True)
    assert not problems, "\n".join(problems[:20])


def test_late_errors_in_a_stream_name_the_line_or_frame(tmp_path):
    """A bad line near the end of a long file, and overlapping predictions in a late frame,
    give the same errors as a file read whole: the line number, or both objects and the frame."""
    from dior_cli.errors import FormatError

    plan = {"0400": (8, 60)}
    gt_dir, pred_dir, _, _, _ = _write_case(tmp_path, plan)
    options = dict(gt=tmp_path / "kitti_mots", pred=pred_dir, seqmap=tmp_path / "stress.seqmap", benchmark="kitti-mots",
                   workers=1, chunk_bytes=3000)
    lines = (pred_dir / "0400.txt").read_text().splitlines(keepends=True)
    bad = lines.copy()
    fields = bad[-3].split(" ")
    bad[-3] = " ".join(fields[:2] + ["7"] + fields[3:])  # class 7 does not exist
    (pred_dir / "0400.txt").write_text("".join(bad))
    with pytest.raises(FormatError, match=f"line {len(lines) - 2}"):
        run(EvaluateOptions(**options))
    frame, obj, cls, h, w, counts = lines[-1].split()
    (pred_dir / "0400.txt").write_text("".join(lines) + f"{frame} 7777 {cls} {h} {w} {counts}\n")  # the last mask again, another id
    with pytest.raises(FormatError, match=f"objects {obj} and 7777 overlap by .* pixels in frame {frame}"):
        run(EvaluateOptions(**options))
