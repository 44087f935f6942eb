"""Box -> mask (``dior_cli.box_to_mask``) and the selfie segmenter (``dior_cli.model.selfie``).

Geometric masks are checked against pixel counts derived by hand; GrabCut and the selfie
segmenter against real DAVIS 2016 ground-truth masks on small crops (floors well below what
they reach, and above the filled box); the OpenCV reading of the selfie network against an
independent TFLite interpreter (``ai-edge-litert``) where it is installed.
``benchmarks/box_to_mask_davis.py`` measures every method on every frame.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from dior_cli import masks as mask_ops
from dior_cli.box_to_mask import (
    CAR,
    PEDESTRIAN,
    BoxMasker,
    box_mask,
    ellipse_mask,
    grabcut_mask,
    network_crop_region,
    pixel_window,
    selfie_mask,
)
from dior_cli.errors import ConfigError, DiorError, FormatError, InputNotFound
from tests.conftest import DATA, REPO, require

DAVIS = DATA / "davis2016"
SELFIE = REPO.parent / "shared" / "weights" / "selfie_segmentation.tflite"


def decoded(rles) -> list[np.ndarray]:
    return [mask_ops.decode(r).astype(bool) for r in rles]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


class FixedSegmenter:
    """A stand-in for SelfieSegmenter that returns one probability everywhere."""

    input_size = (256, 256)

    def __init__(self, value: float) -> None:
        self.value = value
        self.crops: list[tuple[int, int]] = []

    def probability(self, crop_rgb: np.ndarray) -> np.ndarray:
        self.crops.append(crop_rgb.shape[:2])
        return np.full(crop_rgb.shape[:2], self.value, dtype=np.float32)


# --- geometry, by hand -------------------------------------------------------------------------


def test_box_mask_covers_the_pixels_whose_centres_are_inside():
    mask = box_mask(np.array([2.0, 3.0, 7.0, 5.0]), (10, 10))  # columns 2..6, rows 3..4
    expected = np.zeros((10, 10), dtype=bool)
    expected[3:5, 2:7] = True
    assert np.array_equal(mask, expected)
    # Fractional edges: centres 1.5, 2.5, 3.5 lie in [1.4, 3.6); of 0.5, 1.5, 2.5 only 1.5 lies in [0.6, 2.4).
    mask = box_mask(np.array([1.4, 0.6, 3.6, 2.4]), (5, 5))
    assert mask.sum() == 3 and mask[1, 1:4].all()


def test_ellipse_of_a_4x4_box_drops_the_four_corners():
    # Centres at offsets +-0.25 and +-0.75 of the semi-axis 1 (normalised): a corner has
    # 0.75^2 + 0.75^2 = 1.125 > 1 (outside); every other pixel is at most 0.75^2 + 0.25^2 = 0.625.
    mask = ellipse_mask(np.array([0.0, 0.0, 4.0, 4.0]), (4, 4))
    assert mask.sum() == 12
    assert not mask[0, 0] and not mask[0, 3] and not mask[3, 0] and not mask[3, 3]


def test_ellipse_area_approaches_pi_a_b():
    mask = ellipse_mask(np.array([50.0, 100.0, 250.0, 200.0]), (300, 300))  # a = 100, b = 50
    assert abs(mask.sum() - math.pi * 100 * 50) / (math.pi * 100 * 50) < 0.005
    rows, cols = np.nonzero(mask)
    assert (cols.min(), cols.max(), rows.min(), rows.max()) == (50, 249, 100, 199)


def test_boxes_partly_outside_the_image_are_clipped():
    box = np.array([-5.0, -5.0, 5.0, 5.0])  # centre (0, 0): only its lower-right quarter is in the frame
    assert pixel_window(box, (20, 20)) == (0, 5, 0, 5)
    assert box_mask(box, (20, 20)).sum() == 25
    # Quarter disc of radius 5, pixel centres (j + 0.5, i + 0.5) with x^2 + y^2 <= 25, column by column:
    # x = 0.5: y <= 4.97 -> 5 pixels; 1.5: y <= 4.77 -> 5; 2.5: y <= 4.33 -> 4; 3.5: y <= 3.57 -> 4; 4.5: y <= 2.18 -> 2.
    assert ellipse_mask(box, (20, 20)).sum() == 20
    assert pixel_window(np.array([18.0, 30.0, 40.0, 50.0]), (20, 20)).empty


def test_network_crop_is_square_and_holds_the_box():
    region = network_crop_region(np.array([10.0, 20.0, 30.0, 60.0]), 0.0, 1.0)  # 20 x 40 box
    assert (region.r1 - region.r0, region.c1 - region.c0) == (40, 40)
    assert region.r0 == 20 and region.c0 == 0  # widened by 10 px on each side of the box's columns
    region = network_crop_region(np.array([10.0, 20.0, 30.0, 60.0]), 0.25, 1.0)  # 10 px each side vertically
    assert (region.r0, region.r1, region.c1 - region.c0) == (10, 70, 60)


# --- the frame: disjointness, empties, fallback ----------------------------------------------


def test_overlapping_boxes_give_disjoint_masks_and_the_higher_score_keeps_the_overlap():
    masker = BoxMasker(methods={CAR: "box", PEDESTRIAN: "box"})
    image = np.zeros((20, 20, 3), dtype=np.uint8)
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 5.0, 15.0, 15.0]])
    result = masker.masks_for_frame(image, boxes, np.array([CAR, PEDESTRIAN]), np.array([0.5, 0.9]))
    low, high = decoded(result.rles)
    assert high.sum() == 100 and low.sum() == 100 - 25  # the 5x5 overlap [5:10, 5:10] went to the 0.9 box
    assert not np.logical_and(low, high).any()
    assert high[5:10, 5:10].all() and not low[5:10, 5:10].any()
    assert result.pixels_reassigned == 25
    assert result.methods == ["box", "box"] and not result.empty.any()
    # The same boxes with the scores swapped: the first box keeps the overlap.
    result = BoxMasker(methods={CAR: "box"}).masks_for_frame(image, boxes, np.array([CAR, CAR]), np.array([0.9, 0.5]))
    first, second = decoded(result.rles)
    assert first.sum() == 100 and second.sum() == 75 and first[5:10, 5:10].all()


def test_a_mask_left_without_pixels_is_flagged_not_dropped():
    masker = BoxMasker(methods={CAR: "box"})
    image = np.zeros((20, 20, 3), dtype=np.uint8)
    boxes = np.array([[0.0, 0.0, 10.0, 10.0], [2.0, 2.0, 6.0, 6.0], [40.0, 40.0, 50.0, 50.0]])
    result = masker.masks_for_frame(image, boxes, np.array([CAR, CAR, CAR]), np.array([0.9, 0.3, 0.8]))
    assert len(result) == 3  # inside a higher-scoring box, and outside the frame: both kept, both empty
    assert result.empty.tolist() == [False, True, True]
    assert mask_ops.area(result.rles).tolist() == [100, 0, 0]


def test_nearly_empty_masks_fall_back_to_the_ellipse_and_say_so():
    image = np.zeros((100, 100, 3), dtype=np.uint8)
    box = np.array([[20.0, 10.0, 60.0, 90.0]])
    masker = BoxMasker(methods={PEDESTRIAN: "selfie"}, segmenter=FixedSegmenter(0.0))
    result = masker.masks_for_frame(image, box, np.array([PEDESTRIAN]), np.array([0.8]))
    assert result.methods == ["ellipse"] and result.fell_back.tolist() == [True]
    assert np.array_equal(decoded(result.rles)[0], ellipse_mask(box[0], (100, 100)))
    # Without a fallback the empty mask is returned as it is, flagged.
    masker = BoxMasker(methods={PEDESTRIAN: "selfie"}, segmenter=FixedSegmenter(0.0), fallback=None)
    result = masker.masks_for_frame(image, box, np.array([PEDESTRIAN]), np.array([0.8]))
    assert result.methods == ["selfie"] and result.empty.tolist() == [True] and not result.fell_back.any()
    # A confident segmenter fills the box (its mask is kept inside the box) and no fallback happens.
    segmenter = FixedSegmenter(0.9)
    result = BoxMasker(methods={PEDESTRIAN: "selfie"}, segmenter=segmenter).masks_for_frame(
        image, box, np.array([PEDESTRIAN]), np.array([0.8]))
    assert result.methods == ["selfie"] and np.array_equal(decoded(result.rles)[0], box_mask(box[0], (100, 100)))
    assert segmenter.crops == [(80, 80)]  # the 40 x 80 box widened to a square of its longer side


def test_frame_masks_are_the_full_frame_masks_of_each_method(rng):
    """masks_for_frame works on box windows only; its RLEs must be pycocotools' encoding of the
    full-frame masks the methods define, for boxes inside, across the edge, off the frame,
    fractional and degenerate (disjoint boxes, so nothing is reassigned)."""
    image = rng.integers(0, 256, size=(37, 53, 3), dtype=np.uint8)
    boxes = np.array([[2.0, 3.0, 11.5, 17.2], [14.3, -4.0, 25.0, 9.0], [40.0, 20.0, 60.0, 45.0], [30.0, 30.0, 30.0, 34.0],
                      [-20.0, -9.0, -3.0, -1.0], [28.2, 12.6, 35.9, 24.4]])
    for method, expected in (("box", lambda b: box_mask(b, image.shape[:2])), ("ellipse", lambda b: ellipse_mask(b, image.shape[:2])),
                             ("selfie", lambda b: selfie_mask(image, b, FixedSegmenter(0.7)))):
        masker = BoxMasker(methods={PEDESTRIAN: method}, fallback=None, segmenter=FixedSegmenter(0.7))
        result = masker.masks_for_frame(image, boxes, np.full(len(boxes), PEDESTRIAN), np.arange(len(boxes), dtype=float))
        assert result.pixels_reassigned == 0
        for k, box in enumerate(boxes):
            assert result.rles[k] == mask_ops.encode(expected(box)), (method, k)
        assert list(result.empty) == [expected(b).sum() == 0 for b in boxes]


def test_no_boxes_give_correctly_shaped_empty_output():
    masker = BoxMasker(methods={CAR: "bgsub", PEDESTRIAN: "ellipse"})
    image = np.zeros((12, 16, 3), dtype=np.uint8)
    for boxes, classes, scores in ((np.zeros((0, 4)), np.zeros(0, dtype=int), np.zeros(0)), ([], [], [])):
        result = masker.masks_for_frame(image, boxes, classes, scores)
        assert result.rles == [] and result.methods == [] and len(result) == 0
        assert result.fell_back.shape == (0,) and result.empty.shape == (0,) and result.pixels_reassigned == 0
    assert masker.frames_seen == 2 and masker.background.frames_seen == 2  # the background still learns


def test_bgsub_finds_an_object_that_enters_a_static_scene(rng):
    background = rng.integers(0, 256, size=(60, 80, 3), dtype=np.uint8)
    masker = BoxMasker(methods={PEDESTRIAN: "bgsub"}, fallback=None)
    for _ in range(15):  # the static scene, with sensor noise
        noise = rng.integers(-3, 4, size=background.shape)
        masker.masks_for_frame(np.clip(background + noise, 0, 255).astype(np.uint8), [], [], [])
    frame = background.copy()
    frame[20:40, 30:45] = (255, 0, 255)  # a 20 x 15 object, unlike anything in the background
    box = np.array([[25.0, 15.0, 50.0, 45.0]])  # a loose box around it
    result = masker.masks_for_frame(frame, box, np.array([PEDESTRIAN]), np.array([1.0]))
    truth = np.zeros((60, 80), dtype=bool)
    truth[20:40, 30:45] = True
    assert iou(decoded(result.rles)[0], truth) > 0.9


def test_settings_are_checked():
    with pytest.raises(ConfigError, match="people only"):
        BoxMasker(methods={CAR: "selfie"}, segmenter=FixedSegmenter(0.5))
    with pytest.raises(ConfigError, match="unknown box->mask method 'sam'"):
        BoxMasker(methods={CAR: "sam"})
    with pytest.raises(ConfigError, match="fallback"):
        BoxMasker(methods={CAR: "box"}, fallback="grabcut")
    masker = BoxMasker(methods={CAR: "box"})
    with pytest.raises(ConfigError, match="frame 0: no box->mask method for class 2"):
        masker.masks_for_frame(np.zeros((8, 8, 3), np.uint8), np.array([[0.0, 0, 4, 4]]), np.array([PEDESTRIAN]), np.array([1.0]))
    with pytest.raises(ValueError, match="uint8"):
        masker.masks_for_frame(np.zeros((8, 8, 3), np.float32), [], [], [])
    with pytest.raises(ValueError, match=r"\(K, 4\)"):
        masker.masks_for_frame(np.zeros((8, 8, 3), np.uint8), np.array([[0.0, 0, 4, 4]]), np.array([CAR, CAR]), np.array([1.0]))


# --- real masks: GrabCut and the selfie segmenter on DAVIS crops --------------------------------


def davis_crop(sequence: str, frame: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A real frame cut to its object's box plus half the box on each side (clipped), the truth, the box."""
    image = cv2.imread(str(require(DAVIS / "JPEGImages" / "480p" / sequence / f"{frame}.jpg")))[:, :, ::-1]
    truth = cv2.imread(str(DAVIS / "Annotations" / "480p" / sequence / f"{frame}.png"), cv2.IMREAD_GRAYSCALE) > 127
    rows, cols = np.nonzero(truth)
    x0, y0, x1, y1 = cols.min(), rows.min(), cols.max() + 1, rows.max() + 1
    w, h = x1 - x0, y1 - y0
    cx0, cy0 = max(x0 - w // 2, 0), max(y0 - h // 2, 0)
    cx1, cy1 = min(x1 + w // 2, truth.shape[1]), min(y1 + h // 2, truth.shape[0])
    box = np.array([x0 - cx0, y0 - cy0, x1 - cx0, y1 - cy0], dtype=np.float64)
    return np.ascontiguousarray(image[cy0:cy1, cx0:cx1]), truth[cy0:cy1, cx0:cx1], box


@pytest.mark.parametrize(("sequence", "frame", "floor"), [("parkour", "00000", 0.70), ("car-roundabout", "00039", 0.78)])
def test_grabcut_recovers_a_real_object_better_than_its_box(sequence, frame, floor):
    image, truth, box = davis_crop(sequence, frame)
    mask = grabcut_mask(image, box)
    assert iou(mask, truth) >= floor
    assert iou(mask, truth) > iou(box_mask(box, truth.shape), truth) + 0.05
    assert not mask[~box_mask(box, truth.shape)].any()  # kept inside the box


@pytest.fixture(scope="module")
def segmenter():
    from dior_cli.model.selfie import load_selfie_segmenter

    require(SELFIE)
    return load_selfie_segmenter(SELFIE)


@pytest.mark.parametrize(("sequence", "frame", "floor"), [("parkour", "00000", 0.85), ("dance-twirl", "00000", 0.75)])
def test_selfie_recovers_a_real_person_better_than_the_box(segmenter, sequence, frame, floor):
    image, truth, box = davis_crop(sequence, frame)
    mask = selfie_mask(image, box, segmenter)
    assert iou(mask, truth) >= floor
    assert iou(mask, truth) > iou(box_mask(box, truth.shape), truth) + 0.2
    assert not mask[~box_mask(box, truth.shape)].any()


def test_selfie_and_grabcut_handle_boxes_that_leave_the_frame(segmenter):
    image, _, box = davis_crop("parkour", "00000")
    shifted = box + np.array([-box[0] - 30, -box[1] - 40, -box[0] - 30, -box[1] - 40])  # off the top-left corner
    inside = box_mask(shifted, image.shape[:2])
    assert 0 < inside.sum() < (box[2] - box[0]) * (box[3] - box[1])
    for mask in (selfie_mask(image, shifted, segmenter), grabcut_mask(image, shifted)):
        assert mask.shape == image.shape[:2] and not mask[~inside].any()


def test_selfie_opencv_reading_matches_an_independent_tflite_interpreter():
    from dior_cli.model.selfie import load_selfie_segmenter

    litert = pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert (independent TFLite runtime) not installed")
    segmenter = load_selfie_segmenter(require(SELFIE), runtime="opencv")
    assert segmenter.runtime == "opencv"
    image, _, _ = davis_crop("dance-twirl", "00000")
    rgb01 = cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0  # (256, 256, 3)
    interpreter = litert.Interpreter(model_path=str(SELFIE), num_threads=1)
    interpreter.allocate_tensors()
    (inp,), (out,) = interpreter.get_input_details(), interpreter.get_output_details()
    assert tuple(inp["shape"]) == (1, 256, 256, 3) and tuple(out["shape"]) == (1, 256, 256, 1)
    interpreter.set_tensor(inp["index"], rgb01[None])
    interpreter.invoke()
    reference = interpreter.get_tensor(out["index"])[0, :, :, 0]  # (256, 256)
    ours = segmenter.network_probability(rgb01)  # (256, 256)
    assert reference.max() > 0.99 and (reference > 0.5).mean() > 0.05  # the reference sees the dancer
    assert np.abs(ours - reference).max() < 1e-3
    assert ((ours >= 0.5) == (reference >= 0.5)).mean() > 0.999


def test_the_litert_runtime_gives_the_opencv_reading_on_a_real_person():
    """Where ai-edge-litert is installed the default runtime is LiteRT (faster); its masks must be
    those of the OpenCV reading, which the test above checks against the TFLite reference."""
    pytest.importorskip("ai_edge_litert.interpreter", reason="ai-edge-litert not installed")
    from dior_cli.model.selfie import load_selfie_segmenter

    fast, opencv = load_selfie_segmenter(require(SELFIE)), load_selfie_segmenter(SELFIE, runtime="opencv")
    assert fast.runtime == "litert"
    image, truth, box = davis_crop("dance-twirl", "00000")
    rgb01 = cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0  # (256, 256, 3)
    ours, reference = fast.network_probability(rgb01), opencv.network_probability(rgb01)
    assert reference.max() > 0.99 and np.abs(ours - reference).max() < 1e-3
    fast_mask, opencv_mask = selfie_mask(image, box, fast), selfie_mask(image, box, opencv)
    assert (fast_mask != opencv_mask).mean() < 1e-3 and iou(fast_mask, truth) >= 0.75


def test_without_litert_the_default_runtime_is_opencv_and_forcing_it_is_an_error(monkeypatch):
    import sys

    from dior_cli.model.selfie import load_selfie_segmenter

    require(SELFIE)
    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)  # import fails as if not installed
    assert load_selfie_segmenter(SELFIE).runtime == "opencv"
    with pytest.raises(FormatError) as caught:
        load_selfie_segmenter(SELFIE, runtime="litert")
    assert str(SELFIE) in str(caught.value) and "ai-edge-litert is not installed" in str(caught.value)
    with pytest.raises(ValueError, match="runtime must be one of"):
        load_selfie_segmenter(SELFIE, runtime="tensorrt")


def test_a_missing_selfie_file_is_named(tmp_path):
    from dior_cli.model.selfie import load_selfie_segmenter

    missing = tmp_path / "nowhere" / "selfie_segmentation.tflite"
    with pytest.raises(InputNotFound) as caught:
        load_selfie_segmenter(missing)
    assert str(missing) in str(caught.value)
    with pytest.raises(InputNotFound):  # through BoxMasker's own loading too
        BoxMasker(methods={PEDESTRIAN: "selfie"}, selfie_weights=missing)


@pytest.mark.parametrize("content", [b"", b"not a flatbuffer at all" * 10, bytes(range(256)) * 8])
def test_an_invalid_selfie_file_is_a_format_error_naming_it(tmp_path, content):
    from dior_cli.model.selfie import load_selfie_segmenter

    bad = tmp_path / "selfie_segmentation.tflite"
    bad.write_bytes(content)
    with pytest.raises(FormatError) as caught:
        load_selfie_segmenter(bad)
    assert isinstance(caught.value, DiorError) and str(bad) in str(caught.value)

