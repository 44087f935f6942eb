"""Scripted scenarios for `dior track`: expected ids derived by hand from each script.

Objects are rectangles on a 30x60 image; each identity has its own unit embedding, so
appearance tells identities apart cleanly. At 10 fps N1 = 0.2 s = 2 frames (a track may go
2 frames unmatched) and N2 = 1 s = 10 frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.config import ReidConfig, TrackConfig
from dior_cli.errors import ConfigError
from dior_cli.formats.detections_json import DetectionsFile, write_detections
from dior_cli.formats.embeddings import write_embeddings
from dior_cli.formats.mots_txt import read_mots_txt
from dior_cli.formats.tracks_json import read_track_links
from dior_cli.masks import bbox_xyxy, decode, encode
from dior_cli.records import Detections
from dior_cli.track.stage import TrackOptions, run

H, W = 30, 60


def box(x: int, y: int = 5, w: int = 6, h: int = 12) -> np.ndarray:
    mask = np.zeros((H, W), bool)
    mask[y : y + h, max(x, 0) : max(x + w, 0)] = True
    return mask


def write_sequence(folder: Path, name: str, script: list[tuple[int, int, int, np.ndarray]], num_frames: int,
                   fps: float | None = 10.0, embeddings: bool = True, dim: int = 16) -> None:
    """``script``: (frame, identity, class_id, mask) per detection; identity picks the embedding."""
    script = sorted(script, key=lambda s: (s[0], s[1]))
    rles = [encode(m) for _, _, _, m in script]
    dets = Detections(
        frame=[s[0] for s in script], class_id=[s[2] for s in script], score=np.full(len(script), 0.9),
        bbox_xyxy=bbox_xyxy(rles).reshape(-1, 4), rles=rles,
    )
    path = folder / f"{name}.json"
    digest = write_detections(path, DetectionsFile(sequence=name, image_size=(H, W), num_frames=num_frames, fps=fps, frame_base=0, detections=dets))
    if embeddings:
        basis = np.eye(dim)  # identity k -> unit vector e_k: cosine 1 with itself, 0 with others
        vectors = np.array([basis[s[1]] for s in script]).reshape(-1, dim)  # (N, dim), (0, dim) when empty
        write_embeddings(folder / f"{name}.npy", vectors, path, digest)


def ids_by_identity(out: Path, name: str, script) -> dict[int, list[int]]:
    """For each scripted identity, the output ids of its detections in frame order (via the link file)."""
    rows = read_mots_txt(out / f"{name}.txt", 0)
    links = read_track_links(out / f"{name}.json", len(rows))
    script = sorted(script, key=lambda s: (s[0], s[1]))
    result: dict[int, list[int]] = {}
    for line, det_id in enumerate(links.lines):
        result.setdefault(script[det_id][1], []).append(int(rows.obj_id[line]))
    return result


def track(tmp_path: Path, **kwargs) -> dict:
    options = dict(dets=tmp_path / "dets", out=tmp_path / "tracks", overwrite=True)
    options.update(kwargs)
    return run(TrackOptions(**options))


@pytest.fixture
def dets(tmp_path):
    (tmp_path / "dets").mkdir()
    return tmp_path / "dets"


def test_two_objects_crossing_keep_their_ids(tmp_path, dets):
    # Pedestrian 1 walks right from x=5, pedestrian 2 walks left from x=45, 4 px per frame:
    # they overlap around frames 4-6, where IoM alone cannot tell them apart.
    script = [(t, 1, 2, box(5 + 4 * t)) for t in range(11)] + [(t, 2, 2, box(45 - 4 * t, y=8)) for t in range(11)]
    write_sequence(dets, "cross", script, 11)
    track(tmp_path)
    ids = ids_by_identity(tmp_path / "tracks", "cross", script)
    assert len(set(ids[1])) == 1 and len(set(ids[2])) == 1 and ids[1][0] != ids[2][0]
    assert {ids[1][0], ids[2][0]} == {2001, 2002}  # class 2 -> 2000 + k
    # Output masks are disjoint even where the detections overlapped.
    rows = read_mots_txt(tmp_path / "tracks" / "cross.txt", 0)
    for frame in range(11):
        frame_masks = [decode(r) for r, f in zip(rows.rles, rows.frame) if f == frame]
        assert (np.sum(frame_masks, axis=0) <= 1).all()


def test_short_occlusion_is_bridged_by_retrieval(tmp_path, dets):
    # A car missing in frame 3 only (1 frame < N1 = 2 frames): same id before and after.
    script = [(t, 1, 1, box(10 + t)) for t in range(8) if t != 3]
    write_sequence(dets, "short", script, 8)
    summary = track(tmp_path)
    assert set(ids_by_identity(tmp_path / "tracks", "short", script)[1]) == {1001}
    assert summary["sequences"]["short"]["retrieved"] == 1


def test_long_occlusion_new_id_online_old_id_with_offline_reid(tmp_path, dets):
    # Car 1 missing in frames 4-8 (5 frames > N1 = 2 frames, gap 6 <= N2 = 10 frames); a
    # second car elsewhere all along keeps the scene busy.
    script = [(t, 1, 1, box(10)) for t in range(14) if not 4 <= t <= 8] + [(t, 2, 1, box(40)) for t in range(14)]
    write_sequence(dets, "long", script, 14)
    track(tmp_path)
    online = ids_by_identity(tmp_path / "tracks", "long", script)
    assert online[1][:4] == [1001] * 4 and len(set(online[1][4:])) == 1 and online[1][4] not in (1001, online[2][0])
    summary = track(tmp_path, offline_reid=True)
    relinked = ids_by_identity(tmp_path / "tracks", "long", script)
    assert set(relinked[1]) == {1001} and set(relinked[2]) == {1002}
    assert summary["sequences"]["long"]["reid_joins"] == 1


def test_gap_beyond_n2_is_not_joined(tmp_path, dets):
    # Missing for 11 frames: the gap from last to first frame is 12 > N2 = 10 frames.
    script = [(t, 1, 1, box(10)) for t in range(20) if not 3 <= t <= 13]
    write_sequence(dets, "far", script, 20)
    track(tmp_path, offline_reid=True)
    assert len(set(ids_by_identity(tmp_path / "tracks", "far", script)[1])) == 2


def test_n1_and_n2_follow_the_frame_rate(tmp_path, dets):
    # The same 4-frame occlusion: at 10 fps N1 = 2 frames (new id), at 30 fps N1 = 6 frames (kept).
    script = [(t, 1, 2, box(10)) for t in range(12) if not 3 <= t <= 6]
    write_sequence(dets, "s10", script, 12, fps=10.0)
    write_sequence(dets, "s30", script, 12, fps=30.0)
    track(tmp_path)
    assert len(set(ids_by_identity(tmp_path / "tracks", "s10", script)[1])) == 2
    assert set(ids_by_identity(tmp_path / "tracks", "s30", script)[1]) == {2001}
    # --fps overrides the file: 30 fps for both.
    track(tmp_path, fps=30.0)
    assert set(ids_by_identity(tmp_path / "tracks", "s10", script)[1]) == {2001}
    # N2 in frames: a 14-frame gap is within N2 = 30 frames at 30 fps but not 10 frames at 10 fps.
    script = [(t, 1, 2, box(10)) for t in range(20) if not 3 <= t <= 15]
    write_sequence(dets, "s10", script, 20, fps=10.0)
    write_sequence(dets, "s30", script, 20, fps=30.0)
    track(tmp_path, offline_reid=True)
    assert len(set(ids_by_identity(tmp_path / "tracks", "s10", script)[1])) == 2
    assert len(set(ids_by_identity(tmp_path / "tracks", "s30", script)[1])) == 1


def test_ids_restart_per_sequence_and_classes_stay_apart(tmp_path, dets):
    script = [(t, 1, 1, box(5)) for t in range(3)] + [(t, 2, 2, box(30)) for t in range(3)]
    write_sequence(dets, "a", script, 3)
    write_sequence(dets, "b", script, 3)
    track(tmp_path)
    for name in ("a", "b"):
        ids = ids_by_identity(tmp_path / "tracks", name, script)
        assert set(ids[1]) == {1001} and set(ids[2]) == {2001}


def test_empty_frames_and_empty_sequence(tmp_path, dets):
    script = [(t, 1, 1, box(5)) for t in (0, 1, 5, 6)]  # frames 2-4 empty: a 3-frame gap > N1
    write_sequence(dets, "gaps", script, 9)
    write_sequence(dets, "none", [], 5)
    summary = track(tmp_path)
    assert ids_by_identity(tmp_path / "tracks", "gaps", script)[1] == [1001, 1001, 1002, 1002]
    assert (tmp_path / "tracks" / "none.txt").read_text() == ""
    links = read_track_links(tmp_path / "tracks" / "none.json", 0)
    assert links.lines == [] and links.tracks == [] and links.num_frames == 5
    assert summary["sequences"]["none"]["tracks"] == 0


def test_without_embeddings_masks_alone(tmp_path, dets):
    # Overlapping consecutive masks link on IoM; a jump without overlap starts a new track.
    script = [(t, 1, 1, box(5 + t)) for t in range(4)] + [(t, 1, 1, box(40)) for t in range(4, 6)]
    write_sequence(dets, "plain", script, 6, embeddings=False)
    summary = track(tmp_path)
    assert summary["sequences"]["plain"]["appearance"] is False
    assert ids_by_identity(tmp_path / "tracks", "plain", script)[1] == [1001] * 4 + [1002] * 2
    with pytest.raises(ConfigError, match="needs embeddings"):
        track(tmp_path, offline_reid=True)


def test_link_file_and_frame_base(tmp_path, dets):
    script = [(t, 1, 2, box(5)) for t in range(3)]
    write_sequence(dets, "s", script, 3)
    doc = json.loads((dets / "s.json").read_text())
    doc["frame_base"] = 1  # MOTS20-style numbering
    (dets / "s.json").write_text(json.dumps(doc))
    (dets / "s.npy").unlink()
    (dets / "s.npy.json").unlink()
    track(tmp_path)
    assert (tmp_path / "tracks" / "s.txt").read_text().splitlines()[0].startswith("1 2001 2 30 60 ")
    links = read_track_links(tmp_path / "tracks" / "s.json", 3)
    assert links.lines == [0, 1, 2] and links.frame_base == 1
    assert [(t.obj_id, t.first_frame, t.last_frame, t.num_detections) for t in links.tracks] == [(2001, 0, 2, 3)]


def test_rerun_skips_finished_sequences(tmp_path, dets):
    write_sequence(dets, "s", [(0, 1, 1, box(5))], 1)
    track(tmp_path)
    again = run(TrackOptions(dets=dets, out=tmp_path / "tracks"))
    assert "skipped" in again["sequences"]["s"]


def test_cli_track_then_evaluate(tmp_path, dets):
    script = [(t, 1, 1, box(5 + t)) for t in range(5)]
    write_sequence(dets, "0001", script, 5)
    gt = tmp_path / "gt"
    gt.mkdir()
    gt_lines = "".join(f"{t} 1001 1 {H} {W} {encode(box(5 + t))['counts']}\n" for t in range(5))
    (gt / "0001.txt").write_text(gt_lines)
    runner = CliRunner()
    result = runner.invoke(app, ["track", str(dets), "--json", "--set", "n1_seconds=0.3", "--set", "reid.theta_1=0.9"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["sequences"]["0001"]["tracks"] == 1
    result = runner.invoke(app, ["evaluate", "--gt", str(gt), "--pred", str(tmp_path / "tracks"), "--json", "--workers", "1"])
    assert json.loads(result.stdout)["combined"]["car"]["IDF1"] == 1.0
    result = runner.invoke(app, ["track", str(tmp_path / "missing")])
    assert result.exit_code == 1 and "does not exist" in result.output
    result = runner.invoke(app, ["track", str(dets), "--set", "nope=1"])
    assert result.exit_code == 1 and "unknown key track.nope" in result.output


def test_detections_without_fps_need_the_flag(tmp_path, dets):
    write_sequence(dets, "s", [(0, 1, 1, box(5))], 1, fps=None)
    with pytest.raises(ConfigError, match="pass --fps"):
        track(tmp_path)
    assert track(tmp_path, fps=25.0)["sequences"]["s"]["fps"] == 25.0


def test_config_objects_are_used(tmp_path, dets):
    script = [(t, 1, 1, box(10)) for t in range(8) if t != 3]
    write_sequence(dets, "s", script, 8)
    track(tmp_path, track=TrackConfig(n1_seconds=0.1, retrieval_min_similarity=0.9), reid=ReidConfig())
    # N1 = 1 frame: a 1-frame occlusion (gap of 2 frames) still ends the track.
    assert len(set(ids_by_identity(tmp_path / "tracks", "s", script)[1])) == 2
