"""YOLOX-nano: parity with onnxruntime on the upstream file, the decode and the letterbox
mapping on hand-derived cases, class-wise NMS, empty results, and the loader's errors.

Parity is measured on the raw output ``(N, 3549, 85)`` of a batch of two real frames
letterboxed to 416x416: ``max |dior - ort| / max |ort|`` over all elements of each frame's
output (the error relative to the output's scale) must be below 1e-4, and the objectness and
class scores (in [0, 1]) must agree to 1e-4 absolute. float32 rounding alone gives about
7e-5 here (dior float32 vs dior float64: 2e-4 absolute on box numbers of size ~3).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.model.yolox import YoloxNano
from dior_cli.model.yolox_onnx import load_yolox
from dior_cli.model.yolox_detector import (
    FrameBoxes,
    YoloxDetector,
    decode_boxes,
    letterbox,
    network_input_hw,
    select_detections,
)
from dior_cli.model.yolox_onnx import conv_call_order
from tests.conftest import DATA, MOT17_MINI, REPO, require

WEIGHTS = REPO.parent / "shared" / "weights"
YOLOX_ONNX = WEIGHTS / "yolox_nano.onnx"
OSNET_ONNX = WEIGHTS / "osnet_x0_25_msmt17.onnx"
FRAMES = (MOT17_MINI / "train" / "MOT17-05-FRCNN" / "img1" / "000001.jpg",  # 640x480
          DATA / "mot_box_gt" / "PETS09-S3MF1" / "img" / "frame_0001.jpg")  # 768x576


@pytest.fixture(scope="module")
def yolox() -> YoloxNano:
    require(YOLOX_ONNX)
    return load_yolox(YOLOX_ONNX)


def rgb(path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(require(path))), cv2.COLOR_BGR2RGB)


# --- parity with onnxruntime ---------------------------------------------------------------------


def test_raw_output_equals_onnxruntime_on_real_frames(yolox):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is the reference for the raw output")
    batch = np.stack([letterbox(rgb(path), (416, 416))[0] for path in FRAMES])  # (2, 416, 416, 3) BGR
    images = batch.transpose(0, 3, 1, 2).astype(np.float32)  # (2, 3, 416, 416) 0..255
    session = ort.InferenceSession(str(YOLOX_ONNX), providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        ours = yolox(torch.from_numpy(images)).numpy()  # one batched forward
    assert ours.shape == (2, 3549, 85)
    for n in range(2):
        reference = session.run(None, {"images": images[n:n + 1]})[0][0]  # the export takes batch 1
        relative = np.abs(ours[n] - reference).max() / np.abs(reference).max()
        assert relative < 1e-4, f"frame {n}: max |dior - ort| / max |ort| = {relative:.2e}"
        assert np.abs(ours[n, :, 4:] - reference[:, 4:]).max() < 1e-4
        assert (reference[:, 4] > 0.5).sum() >= 1  # the frame really has confident objects to compare


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix of xyxy boxes (M, 4) x (K, 4)."""
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / (area(a)[:, None] + area(b)[None, :] - inter)


def test_real_frame_finds_every_annotated_pedestrian_inside_the_image(yolox):
    folder = require(DATA / "mot_box_gt" / "TUD-Campus")
    image = rgb(folder / "img1" / "000001.jpg")  # 640 x 480, six pedestrians annotated in frame 1, all 137+ px tall
    gt = np.loadtxt(folder / "gt" / "gt.txt", delimiter=",")
    gt = gt[gt[:, 0] == 1, 2:6]
    gt_xyxy = np.concatenate([gt[:, :2], gt[:, :2] + gt[:, 2:]], axis=1)
    (found,) = YoloxDetector(yolox, long_side=640).detect([image])
    people = found.boxes_xyxy[found.coco_class == 0]
    assert len(gt_xyxy) == 6 and (box_iou(gt_xyxy, people).max(axis=1) >= 0.5).all()
    h, w = image.shape[:2]
    assert (found.boxes_xyxy[:, [0, 2]] <= w).all() and (found.boxes_xyxy[:, [1, 3]] <= h).all() and (found.boxes_xyxy >= 0).all()
    assert (np.diff(found.scores) <= 0).all() and (found.scores >= 0.25).all()


# --- the network's parts -----------------------------------------------------------------------


def test_every_parameter_belongs_to_exactly_one_of_the_graphs_convolutions():
    onnx = pytest.importorskip("onnx")
    require(YOLOX_ONNX)
    model = YoloxNano()
    order = conv_call_order(model)
    graph_convs = [node for node in onnx.load(str(YOLOX_ONNX)).graph.node if node.op_type == "Conv"]
    assert len(order) == len(graph_convs) == 113
    names = [f"{name}.{kind}" for name, _, _ in order for kind in ("weight", "bias")]
    assert len(set(names)) == len(names) and set(names) == set(model.state_dict())


# --- decode, letterbox, NMS on hand-made cases -----------------------------------------------------


def test_decode_gives_the_hand_derived_box_at_each_stride():
    # input 64 x 96: stride 8 grid 8 x 12 (cells 0..95), stride 16 4 x 6 (96..119), stride 32 2 x 3 (120..125)
    raw = torch.zeros(1, 126, 85)
    raw[0, 2 * 12 + 5, :4] = torch.tensor([0.5, 0.25, math.log(2), 0.0])  # stride 8, column 5, row 2
    raw[0, 96 + 3 * 6 + 1, :4] = torch.tensor([-0.5, 0.0, 0.0, math.log(4)])  # stride 16, column 1, row 3
    raw[0, 120 + 1 * 3 + 2, :4] = torch.tensor([0.0, 0.5, math.log(0.5), math.log(1.5)])  # stride 32, column 2, row 1
    boxes = decode_boxes(raw, (64, 96))
    # centre (5.5 * 8, 2.25 * 8) = (44, 18), size (2 * 8, 1 * 8) = (16, 8)
    torch.testing.assert_close(boxes[0, 29], torch.tensor([36.0, 14.0, 52.0, 22.0]))
    # centre (0.5 * 16, 3 * 16) = (8, 48), size (16, 4 * 16 = 64)
    torch.testing.assert_close(boxes[0, 115], torch.tensor([0.0, 16.0, 16.0, 80.0]))
    # centre (2 * 32, 1.5 * 32) = (64, 48), size (16, 48)
    torch.testing.assert_close(boxes[0, 125], torch.tensor([56.0, 24.0, 72.0, 72.0]))
    # an all-zero cell: centre at its grid point, size one stride (stride 8, column 0, row 0)
    torch.testing.assert_close(boxes[0, 0], torch.tensor([-4.0, -4.0, 4.0, 4.0]))
    with pytest.raises(ValueError, match="126"):
        decode_boxes(torch.zeros(1, 125, 85), (64, 96))


@pytest.mark.parametrize("image_hw, long_side, expected", [
    ((576, 768), 960, (736, 960)),  # factor 1.25: 720 -> 736
    ((1080, 1920), 960, (544, 960)),  # factor 0.5: 540 -> 544
    ((480, 640), 416, (320, 416)),  # factor 0.65: 312 -> 320
    ((1920, 1080), 960, (960, 544)),  # portrait
    ((480, 640), 1000, (768, 1024)),  # the long side too is rounded up to a multiple of 32
])
def test_network_input_size(image_hw, long_side, expected):
    assert network_input_hw(image_hw, long_side) == expected


def test_letterbox_scales_to_the_top_left_pads_grey_and_swaps_to_bgr():
    image = np.zeros((90, 200, 3), np.uint8)
    image[...] = (10, 20, 30)  # RGB
    canvas, scale = letterbox(image, (64, 128))
    assert scale == pytest.approx(0.64)  # min(64 / 90, 128 / 200)
    assert canvas.shape == (64, 128, 3) and canvas.dtype == np.uint8
    assert (canvas[:58] == (30, 20, 10)).all()  # 90 * 0.64 = 57.6 -> 58 rows of image, BGR
    assert (canvas[58:] == 114).all()


def one_cell_per_box(boxes, scores, classes, objectness=None):
    """Decoded cells holding the given input-pixel boxes, class scores and objectness (default 1)."""
    k = len(boxes)
    class_scores = torch.zeros(k, 80)
    class_scores[torch.arange(k), torch.as_tensor(classes)] = torch.as_tensor(scores, dtype=torch.float32)
    obj = torch.ones(k) if objectness is None else torch.as_tensor(objectness, dtype=torch.float32)
    return torch.as_tensor(boxes, dtype=torch.float32), obj, class_scores


def test_boxes_map_back_to_original_pixels_and_are_clipped_on_a_non_square_image():
    # image 90 x 200 at input 64 x 128: scale 0.64, image rows 0..57 of the input, padding below
    boxes, obj, cls = one_cell_per_box(
        [[32, 16, 64, 48],  # -> (50, 25, 100, 75)
         [100, 40, 140, 56],  # -> (156.25, 62.5, 218.75, 87.5), x2 clipped to 200
         [10, 59, 30, 63]],  # y 92.2..98.4: entirely below the image (padding) -> dropped
        [0.9, 0.8, 0.7], [0, 0, 0])
    found = select_detections(boxes, obj, cls, image_hw=(90, 200), scale=0.64)
    np.testing.assert_allclose(found.boxes_xyxy, [[50, 25, 100, 75], [156.25, 62.5, 200, 87.5]], atol=1e-4)
    np.testing.assert_allclose(found.scores, [0.9, 0.8], atol=1e-6)


def test_nms_is_class_wise_and_keeps_the_best_first():
    boxes, obj, cls = one_cell_per_box(
        [[0, 0, 10, 10],  # A person 0.9
         [1, 0, 11, 10],  # B person 0.8: IoU with A = 90 / 110 = 0.82 -> suppressed
         [1, 0, 11, 10],  # C car 0.7: same box as B, other class -> kept
         [0, 0, 10, 10],  # D person 0.6: IoU 1 with A -> suppressed
         [5, 0, 15, 10],  # E person 0.5: IoU with A = 50 / 150 = 0.33 < 0.45 -> kept
         [30, 30, 40, 40]],  # F truck 0.4 alone -> kept
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [0, 0, 2, 0, 0, 7])
    found = select_detections(boxes, obj, cls, image_hw=(100, 100))
    np.testing.assert_allclose(found.scores, [0.9, 0.7, 0.5, 0.4], atol=1e-6)
    assert found.coco_class.tolist() == [0, 2, 0, 7]
    np.testing.assert_allclose(found.boxes_xyxy[2], [5, 0, 15, 10])
    top2 = select_detections(boxes, obj, cls, image_hw=(100, 100), max_detections=2)
    assert top2.scores.tolist() == pytest.approx([0.9, 0.7])


def test_score_is_objectness_times_best_class_and_classes_filter():
    boxes, obj, cls = one_cell_per_box(
        [[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10], [60, 0, 70, 10]],
        [0.6, 0.4, 0.9, 0.9], [0, 0, 1, 0], objectness=[0.5, 0.5, 1.0, 1.0])
    cls[3, 16] = 0.95  # the last cell's best class is a dog (16), not a person
    found = select_detections(boxes, obj, cls, image_hw=(100, 100))  # default: person, car, bus, truck
    # 0.5 * 0.6 = 0.3 >= 0.25 kept; 0.5 * 0.4 = 0.2 dropped; bicycle (1) and dog (16) are not kept classes
    np.testing.assert_allclose(found.scores, [0.3], atol=1e-6)
    assert found.coco_class.tolist() == [0]
    everything = select_detections(boxes, obj, cls, image_hw=(100, 100), classes=None)
    assert sorted(everything.coco_class.tolist()) == [0, 1, 16]


def test_nothing_above_threshold_gives_correctly_shaped_empty_arrays():
    boxes, obj, cls = one_cell_per_box([[0, 0, 10, 10]], [0.1], [0])
    found = select_detections(boxes, obj, cls, image_hw=(100, 100))
    assert len(found) == 0
    assert found.boxes_xyxy.shape == (0, 4) and found.boxes_xyxy.dtype == np.float64
    assert found.scores.shape == (0,) and found.scores.dtype == np.float64
    assert found.coco_class.shape == (0,) and found.coco_class.dtype == np.int64


def test_detector_batches_by_size_keeps_order_and_returns_empty_frames(rng):
    torch.manual_seed(0)
    model = YoloxNano().eval()  # random weights: the numbers do not matter here, only the bookkeeping
    images = [rng.integers(0, 256, size=size, dtype=np.uint8) for size in ((40, 70, 3), (50, 30, 3), (40, 70, 3))]
    detector = YoloxDetector(model, long_side=64, score_threshold=0.0, batch_size=2, classes=None)
    together = detector.detect(images)
    alone = [detector.detect([image])[0] for image in images]
    assert [len(f) for f in together] == [len(f) for f in alone] and len(together[0]) > 0
    for a, b in zip(together, alone):
        np.testing.assert_allclose(a.boxes_xyxy, b.boxes_xyxy, atol=1e-3)
    empty = YoloxDetector(model, long_side=64, score_threshold=1.01).detect(images[:1])[0]
    assert empty.boxes_xyxy.shape == (0, 4) and empty.scores.shape == (0,) and empty.coco_class.shape == (0,)
    assert detector.detect([]) == []
    with pytest.raises(ValueError, match="image 0"):
        detector.detect([np.zeros((10, 10), np.uint8)])


def test_frame_boxes_refuse_mismatched_arrays():
    with pytest.raises(ValueError, match="FrameBoxes"):
        FrameBoxes(np.zeros((2, 4)), np.zeros(3), np.zeros(2, np.int64))


# --- loader errors -----------------------------------------------------------------------------


def test_missing_file_is_input_not_found(tmp_path):
    with pytest.raises(InputNotFound, match="nope.onnx"):
        load_yolox(tmp_path / "nope.onnx")


def test_a_file_that_is_not_onnx_is_a_format_error_naming_it(tmp_path):
    path = tmp_path / "detector.onnx"
    path.write_bytes(b"\x00\x01 not a protobuf model")
    with pytest.raises(FormatError, match="detector.onnx.*cannot be read as an ONNX model"):
        load_yolox(path)


def test_the_onnx_of_another_network_is_a_format_error_naming_it():
    require(OSNET_ONNX)
    with pytest.raises(FormatError, match="osnet_x0_25_msmt17.onnx.*not the YOLOX-nano export"):
        load_yolox(OSNET_ONNX)


@pytest.fixture(scope="module")
def yolox_proto():
    onnx = pytest.importorskip("onnx")
    require(YOLOX_ONNX)
    return onnx.load(str(YOLOX_ONNX))


def altered_copy(proto, tmp_path, change) -> str:
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(proto)
    change(copy.graph)
    path = tmp_path / "altered_yolox.onnx"
    onnx.save(copy, str(path))
    return path


def test_a_convolution_with_another_stride_is_named(yolox_proto, tmp_path):
    def stride_1_everywhere(graph):
        for node in graph.node:
            if node.op_type == "Conv":
                for attribute in node.attribute:
                    if attribute.name == "strides":
                        attribute.ints[:] = [1, 1]

    with pytest.raises(FormatError, match=r"altered_yolox.onnx.*Conv_44.*stride \(1, 1\), dior's has \(2, 2\)"):
        load_yolox(altered_copy(yolox_proto, tmp_path, stride_1_everywhere))


def test_a_focus_stem_in_another_order_is_named(yolox_proto, tmp_path):
    def swap_focus_inputs(graph):
        concat = next(node for node in graph.node if node.op_type == "Concat")
        concat.input[1], concat.input[2] = concat.input[2], concat.input[1]

    with pytest.raises(FormatError, match="altered_yolox.onnx.*Focus stem"):
        load_yolox(altered_copy(yolox_proto, tmp_path, swap_focus_inputs))


def test_swapped_branches_are_caught_by_the_data_flow(yolox_proto, tmp_path):
    def swap_csp_inputs(graph):
        # the first CSP block's two 1x1 branches read the same tensor; make its bottleneck read the bypass instead
        convs = [node for node in graph.node if node.op_type == "Conv"]
        bypass_out = next(n.output[0] for n in graph.node if n.op_type == "Mul" and convs[4].output[0] in n.input)
        convs[5].input[0] = bypass_out

    with pytest.raises(FormatError, match="altered_yolox.onnx.*reads the output of convolution 4, dior's reads 3"):
        load_yolox(altered_copy(yolox_proto, tmp_path, swap_csp_inputs))
