"""Optical-flow evidence for ReMOTS short-term tracklets (ReMOTS sec. 2.3).

* The warp itself: zero flow keeps a mask, a constant flow shifts it exactly.
* Synthetic: a textured square shifted by (dx, dy) between two frames is warped onto its new
  place (IoU > 0.9, against 0.6-0.75 unwarped).
* Real: MOT17-05 (moving camera, 640x480, 14 fps): rectangles from the ground-truth boxes of
  each pedestrian at frame t, warped by the flow from t+1 (or t+2) back to t, overlap that
  pedestrian's box at t+1 (t+2) better than the unwarped ones.
* Stage: ``dior reid --frames`` on a tiny sequence where two look-alike pedestrians (the same
  appearance up to a small difference) swap track ids half way: nothing in appearance cuts the
  tracks, but the warped mask does not overlap the mask the track jumps to, so the flow cuts
  both tracks (``cuts_flow``) and merging re-joins each pedestrian's halves; without frames the
  swap stays.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.config import ReidConfig
from dior_cli.errors import AlignmentError
from dior_cli.formats.detections_json import DetectionsFile, write_detections
from dior_cli.formats.embeddings import write_embeddings
from dior_cli.formats.mots_txt import write_mots_txt
from dior_cli.formats.tracks_json import TrackLinks, summarise_tracks, write_track_links
from dior_cli.records import Detections, MotsRows
from dior_cli.association.flow import backward_flow, warp_mask, warp_masks
from dior_cli.reid.stage import ReidOptions
from dior_cli.reid.stage import run as reid
from tests.conftest import MOT17_MINI, require

MOT17_05 = MOT17_MINI / "train" / "MOT17-05-FRCNN"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def smooth_texture(rng: np.random.Generator, height: int, width: int, lo: int = 30, hi: int = 230, cell: int = 8) -> np.ndarray:
    """Blurred noise (cubic upsampling of a grid of ``cell``-pixel cells): texture optical flow
    can follow at half resolution (finer cells, 4 px, fail now and then: checked over 240 cases)."""
    coarse = rng.random((height // cell + 2, width // cell + 2)).astype(np.float32)
    fine = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(lo + (hi - lo) * fine, 0, 255).astype(np.uint8)


def rgb(grey: np.ndarray) -> np.ndarray:
    return np.dstack([grey] * 3)


# --- the warp -----------------------------------------------------------------------------------


def test_zero_flow_keeps_the_mask(rng):
    mask = rng.random((30, 40)) < 0.3
    assert np.array_equal(warp_mask(mask, np.zeros((30, 40, 2), np.float32)), mask)


def test_constant_flow_shifts_the_mask():
    mask = np.zeros((30, 40), bool)
    mask[5:15, 8:20] = True
    flow = np.zeros((30, 40, 2), np.float32)
    flow[..., 0], flow[..., 1] = -3, -2  # every pixel of frame t came from (x - 3, y - 2) at t - 1
    expected = np.zeros_like(mask)
    expected[7:17, 11:23] = True
    assert np.array_equal(warp_mask(mask, flow), expected)


def test_backward_flow_shape_and_scale():
    a = rgb(smooth_texture(np.random.default_rng(0), 37, 51))
    for scale in (0.5, 1.0, 0.1):
        flow = backward_flow(a, a, scale)
        assert flow.shape == (37, 51, 2) and flow.dtype == np.float32
        assert np.abs(flow).max() < 0.5  # identical frames: no motion
    for bad in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError):
            backward_flow(a, a, bad)


# --- synthetic: a textured square moves ----------------------------------------------------------


@pytest.mark.parametrize("dx, dy", [(5, 3), (-6, 4), (0, -6), (3, 3), (-4, -5)])
@pytest.mark.parametrize("textured_background", [False, True])
def test_shifted_square_is_warped_onto_its_new_place(dx, dy, textured_background):
    rng = np.random.default_rng(1)
    height, width, size, y, x = 120, 160, 40, 40, 50
    background = (smooth_texture(rng, height, width, 60, 120) if textured_background
                  else np.full((height, width), 128, np.uint8))
    square = smooth_texture(rng, size, size)
    previous, current = background.copy(), background.copy()
    previous[y : y + size, x : x + size] = square
    current[y + dy : y + dy + size, x + dx : x + dx + size] = square
    before = np.zeros((height, width), bool)
    before[y : y + size, x : x + size] = True
    after = np.zeros((height, width), bool)
    after[y + dy : y + dy + size, x + dx : x + dx + size] = True

    warped = warp_mask(before, backward_flow(rgb(previous), rgb(current)))  # default scale 0.5
    assert iou(before, after) < 0.8
    assert iou(warped, after) > 0.9, (dx, dy, iou(warped, after))


# --- real: MOT17-05, moving camera ---------------------------------------------------------------


def mot17_boxes(gt: np.ndarray, frame: int, height: int, width: int) -> dict[int, np.ndarray]:
    """Pedestrians (class 1, conf 1) of a frame whose box lies fully inside the image: ``{id: box}``."""
    rows = gt[(gt[:, 0] == frame) & (gt[:, 6] == 1) & (gt[:, 7] == 1)]
    inside = (rows[:, 2] >= 0) & (rows[:, 3] >= 0) & (rows[:, 2] + rows[:, 4] <= width) & (rows[:, 3] + rows[:, 5] <= height)
    return {int(r[1]): r[2:6] for r in rows[inside]}


def box_mask(box: np.ndarray, height: int, width: int) -> np.ndarray:
    x, y, w, h = (int(round(v)) for v in box)
    mask = np.zeros((height, width), bool)
    mask[y : y + h, x : x + w] = True
    return mask


@pytest.fixture(scope="module")
def mot17():
    folder = require(MOT17_05)
    gt = np.loadtxt(folder / "gt" / "gt.txt", delimiter=",", ndmin=2)
    images = {int(p.stem): cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted((folder / "img1").glob("*.jpg"))}
    return gt, images


def warp_gains(mot17, step: int) -> dict[int, list[tuple[float, float]]]:
    """``{identity: [(IoU unwarped, IoU warped), ...]}`` over the frame pairs ``(t, t + step)``."""
    gt, images = mot17
    out: dict[int, list[tuple[float, float]]] = {}
    for t in sorted(images):
        if t + step not in images:
            continue
        height, width = images[t].shape[:2]
        flow = backward_flow(images[t], images[t + step])
        now, later = mot17_boxes(gt, t, height, width), mot17_boxes(gt, t + step, height, width)
        for obj in sorted(set(now) & set(later)):
            a, b = box_mask(now[obj], height, width), box_mask(later[obj], height, width)
            out.setdefault(obj, []).append((iou(a, b), iou(warp_mask(a, flow), b)))
    return out


def test_flow_follows_real_pedestrians_consecutive_frames(mot17):
    gains = warp_gains(mot17, 1)
    assert len(gains) >= 5  # pedestrians seen in consecutive frames
    plain = np.array([np.mean([p for p, _ in v]) for v in gains.values()])
    warped = np.array([np.mean([w for _, w in v]) for v in gains.values()])
    # measured: median 0.61 -> 0.88 over 36 pairs; per pair the warp helps in 78 % of them
    assert np.median(warped) > np.median(plain) + 0.1
    assert np.median(warped - plain) > 0.05
    assert (warped > plain).mean() >= 0.6
    pairs = np.array([pair for v in gains.values() for pair in v])
    assert (pairs[:, 1] > pairs[:, 0]).mean() >= 0.6


def test_flow_follows_real_pedestrians_two_frames_apart(mot17):
    gains = warp_gains(mot17, 2)
    pairs = np.array([pair for v in gains.values() for pair in v])
    # motion is larger two frames apart: the warp helps almost every box (measured: all 27)
    assert (pairs[:, 1] > pairs[:, 0]).mean() >= 0.85
    assert np.median(pairs[:, 1]) > np.median(pairs[:, 0]) + 0.25


# --- stage: a swap that only optical flow can see -------------------------------------------------

SWAP_AT = 6
NUM_FRAMES = 12


def write_swap_sequence(root: Path) -> None:
    """Frames, detections + embeddings and a tracks file (with link file) in which tracks 2001
    and 2002 swap pedestrians A and B at frame ``SWAP_AT``; six distractors stay on their tracks."""
    rng = np.random.default_rng(4)
    height, width, size = 128, 256, 24
    places = [(10, 10), (10, 150)] + [(y, x) for y in (50, 92) for x in (10, 100, 190)]  # A, B, six distractors
    textures = [smooth_texture(rng, size, size) for _ in places]
    background = smooth_texture(rng, height, width, 70, 110)
    dim = 8
    basis = np.eye(dim, dtype=np.float64)
    look_a = basis[0]
    look_b = (basis[0] + 0.3 * basis[7]) / np.linalg.norm(basis[0] + 0.3 * basis[7])  # cosine 0.958 with A
    looks = [look_a, look_b] + [basis[1 + k] for k in range(6)]

    frames_dir = root / "frames" / "swap"
    frames_dir.mkdir(parents=True)
    frame, class_id, rles, vectors = [], [], [], []
    for t in range(NUM_FRAMES):
        image = background.copy()
        for k, (y, x) in enumerate(places):
            x_t = x + t  # everything drifts right by a pixel a frame
            image[y : y + size, x_t : x_t + size] = textures[k]
            mask = np.zeros((height, width), np.uint8)
            mask[y : y + size, x_t : x_t + size] = 1
            frame.append(t)
            class_id.append(2)
            rles.append({"size": [height, width], "counts": mask_utils.encode(np.asfortranarray(mask))["counts"].decode()})
            vectors.append(looks[k])
        cv2.imwrite(str(frames_dir / f"{t:06d}.png"), rgb(image))
    boxes = np.asarray(mask_utils.toBbox([{"size": r["size"], "counts": r["counts"].encode()} for r in rles]), np.float64)
    boxes[:, 2:] += boxes[:, :2]
    dets = DetectionsFile(sequence="swap", image_size=(height, width), num_frames=NUM_FRAMES, fps=10.0, frame_base=0,
                          detections=Detections(frame=np.asarray(frame), class_id=np.asarray(class_id),
                                                score=np.ones(len(frame)), bbox_xyxy=boxes, rles=rles))
    (root / "dets").mkdir()
    sha = write_detections(root / "dets" / "swap.json", dets)
    write_embeddings(root / "dets" / "swap.npy", np.asarray(vectors, np.float32), root / "dets" / "swap.json", sha)

    n_obj = len(places)
    line_det, line_id = [], []
    for t in range(NUM_FRAMES):
        for k in range(n_obj):
            track_k = k if t < SWAP_AT or k >= 2 else 1 - k  # A and B trade track ids at SWAP_AT
            line_det.append(t * n_obj + k)
            line_id.append(2001 + track_k)
    order = np.lexsort((line_id, [line // n_obj for line in line_det]))  # by frame, then id, as dior track writes
    line_det = [line_det[i] for i in order]
    rows = MotsRows(frame=[frame[d] for d in line_det], obj_id=[line_id[i] for i in order], class_id=[2] * len(line_det),
                    rles=[rles[d] for d in line_det])
    (root / "tracks").mkdir()
    write_mots_txt(root / "tracks" / "swap.txt", rows, 0)
    write_track_links(root / "tracks" / "swap.json", TrackLinks(
        sequence="swap", detections_file="swap.json", detections_sha256=sha, frame_base=0, num_frames=NUM_FRAMES, fps=10.0,
        lines=line_det, tracks=summarise_tracks(rows), producer={"stage": "test"}))


def ids_of_objects(root: Path, folder: str) -> dict[int, set[int]]:
    """``{object index: set of output ids}`` read back from the refined txt + link file."""
    lines = (root / folder / "swap.txt").read_text().splitlines()
    det_ids = json.loads((root / folder / "swap.json").read_text())["lines"]
    out: dict[int, set[int]] = {}
    for line, det in zip(lines, det_ids):
        out.setdefault(det % 8, set()).add(int(line.split()[1]))
    return out


def test_flow_cut_splits_a_track_that_jumps(tmp_path):
    write_swap_sequence(tmp_path)
    config = ReidConfig(method="remots", short_term="cut")  # cutting the input tracks (the short-term tracker is the default now)
    with_flow = reid(ReidOptions(tracks=tmp_path / "tracks", dets=tmp_path / "dets", out=tmp_path / "flow",
                                 frames=tmp_path / "frames" / "swap", overwrite=True, config=config))["sequences"]["swap"]
    without = reid(ReidOptions(tracks=tmp_path / "tracks", dets=tmp_path / "dets", out=tmp_path / "plain",
                               frames=None, overwrite=True, config=config))["sequences"]["swap"]
    assert with_flow["flow"] and not without["flow"]
    # the look-alikes' similarity (0.958) is far above theta_short: appearance alone never cuts
    assert with_flow["theta_short"] < 0.9 and with_flow["cuts_appearance"] == 0
    assert with_flow["cuts_flow"] >= 1
    assert with_flow["cuts_flow"] == 2  # exactly the two swapped links; the drifting distractors stay linked
    assert with_flow["short_term_tracklets"] == 8 + 2
    assert without["cuts_flow"] == 0 and without["short_term_tracklets"] == 8
    # after the cut, merging re-joins each pedestrian's own halves: one id per pedestrian, all frames
    fixed = ids_of_objects(tmp_path, "flow")
    assert all(len(ids) == 1 for ids in fixed.values()), fixed
    assert len({next(iter(ids)) for ids in fixed.values()}) == 8
    swapped = ids_of_objects(tmp_path, "plain")
    assert swapped[0] == swapped[1] == {2001, 2002}  # without frames the swap stays


# --- one label image per frame; frames of another size -------------------------------------------


def coco_rle(mask: np.ndarray) -> dict:
    return {"size": list(mask.shape), "counts": mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))["counts"].decode()}


@pytest.mark.parametrize("seed", range(12))
def test_warping_all_masks_at_once_equals_warping_each(seed):
    """``warp_masks`` (one label image, crops of box + flow reach) gives, string for string, the
    masks that warping each full mask alone gives (pycocotools encodes the reference); a third
    of the cases hold an overlapping pair, which takes the mask-by-mask path."""
    rng = np.random.default_rng(seed)
    height, width = (int(v) for v in rng.integers(20, 90, 2))
    labels = np.zeros((height, width), int)
    count = int(rng.integers(1, 7))
    for k in range(count):
        y, x = int(rng.integers(0, height)), int(rng.integers(0, width))
        h, w = (int(v) for v in rng.integers(1, 30, 2))
        labels[y : y + h, x : x + w] = k + 1
    masks = [labels == k + 1 for k in range(count)]
    if seed % 3 == 0:
        masks.append(masks[0] | np.roll(masks[-1], 3, axis=1))
    flow = (rng.normal(size=(height, width, 2)) * rng.uniform(0, 8)).astype(np.float32)
    expected = [coco_rle(warp_mask(m, flow))["counts"] for m in masks]
    assert [r["counts"] for r in warp_masks([coco_rle(m) for m in masks], flow)] == expected


def write_frames_of_another_size(root: Path) -> Path:
    """The swap sequence's frames, resized from 256x128 to 200x100 (width x height)."""
    resized = root / "frames_small" / "swap"
    resized.mkdir(parents=True)
    for png in sorted((root / "frames" / "swap").glob("*.png")):
        cv2.imwrite(str(resized / png.name), cv2.resize(cv2.imread(str(png)), (200, 100)))
    return resized


@pytest.mark.parametrize("short_term", ["remots", "cut"])
def test_frames_of_another_size_are_refused_by_name(tmp_path, short_term):
    write_swap_sequence(tmp_path)
    frames = write_frames_of_another_size(tmp_path)
    options = ReidOptions(tracks=tmp_path / "tracks", dets=tmp_path / "dets", out=tmp_path / "out", frames=frames,
                          config=ReidConfig(method="remots", short_term=short_term))
    with pytest.raises(AlignmentError) as caught:
        reid(options)
    assert caught.value.sequence == "swap" and caught.value.frame == 1
    assert "200x100" in caught.value.message and "256x128" in caught.value.message
    assert not (tmp_path / "out" / "swap.txt").exists()


def test_cli_frames_of_another_size_exit_1_without_traceback(tmp_path):
    write_swap_sequence(tmp_path)
    frames = write_frames_of_another_size(tmp_path)
    result = CliRunner().invoke(app, ["reid", str(tmp_path / "tracks"), "--dets", str(tmp_path / "dets"), "--frames", str(frames)])
    assert result.exit_code == 1
    assert "sequence swap" in result.output and "frame 1" in result.output and "200x100" in result.output
    assert "Traceback" not in result.output and not isinstance(result.exception, ValueError)
