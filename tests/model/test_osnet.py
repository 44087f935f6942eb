"""OSNet x0.25 re-ID encoder: parity with the ONNX original, real appearance on MOT17-mini,
the loader's errors, and how ``embed_crops`` cuts, masks and normalises crops.

Real-data tests embed the ground-truth pedestrians of the first and the last available frame
of every MOT17-mini sequence (the two frames furthest apart; ~270 crops, one pass shared by
the parity and AUC tests). ``benchmarks/osnet_appearance.py`` measures all frames.
"""

from __future__ import annotations

import numpy as np
import onnx  # a dependency of dior (the ONNX loaders read graphs with it)
import onnxruntime as ort  # the test extra's independent reference
import pytest
import torch
from onnx import numpy_helper

from dior_cli.errors import FormatError, InputNotFound
from dior_cli import weights as weights_module
from dior_cli.model.osnet import EMBEDDING_DIM, INPUT_SIZE, OSNet, load_osnet, locate_osnet
from dior_cli.model.osnet_onnx import dior_name, export_path
from dior_cli.model.osnet_crops import crop_batch, embed_crops, normalise
from tests.conftest import MOT17_MINI, REPO, require
from tests.model.mot17_crops import (
    cross_frame_pairs,
    load_sequence,
    roc_auc,
    sequence_folders,
)

ONNX = REPO.parent / "shared" / "weights" / "osnet_x0_25_msmt17.onnx"


@pytest.fixture(scope="module")
def osnet() -> OSNet:
    require(ONNX)
    return load_osnet()


# --- the AUC formula, by hand ------------------------------------------------------------------


def test_roc_auc_matches_hand_counts():
    # positives 0.9, 0.7; negatives 0.8, 0.6. Pairs (pos > neg): 0.9>0.8, 0.9>0.6, 0.7>0.6 but not 0.7>0.8 -> 3/4.
    assert roc_auc([0.9, 0.8, 0.7, 0.6], [True, False, True, False]) == pytest.approx(0.75)
    # a tie counts half: positive 0.5 vs negatives 0.5 (tie, 1/2) and 0.2 (win, 1) -> 1.5 / 2.
    assert roc_auc([0.5, 0.5, 0.2], [True, False, False]) == pytest.approx(0.75)
    assert roc_auc([3.0, 2.0, 1.0], [True, True, False]) == 1.0
    assert roc_auc([1.0, 2.0, 3.0], [True, True, False]) == 0.0


def test_roc_auc_matches_counting_every_pair(rng):
    scores = rng.integers(0, 6, size=60).astype(float)  # many ties
    positive = rng.random(60) < 0.3
    pos, neg = scores[positive], scores[~positive]
    wins = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    assert roc_auc(scores, positive) == pytest.approx(wins / (len(pos) * len(neg)))
    with pytest.raises(ValueError, match="both classes"):
        roc_auc([1.0, 2.0], [True, True])


# --- real crops: parity with onnxruntime and identity separation --------------------------------


@pytest.fixture(scope="module")
def real_crops(osnet):
    """Per sequence: frame and identity of each crop, ``embed_crops``'s rows, and the network's
    exact inputs and raw outputs (captured by a hook during those same calls)."""
    require(MOT17_MINI)
    captured: list[tuple[np.ndarray, np.ndarray]] = []
    hook = osnet.register_forward_hook(lambda module, args, output: captured.append((args[0].numpy().copy(), output.numpy().copy())))
    sequences = {}
    try:
        for folder in sequence_folders(MOT17_MINI):
            seq = load_sequence(folder)
            rows = [seq.frame_rows(k) for k in (0, len(seq.images) - 1)]
            embeddings = [embed_crops(osnet, seq.images[k], seq.boxes_xyxy[r]) for k, r in zip((0, len(seq.images) - 1), rows)]
            index = np.concatenate(rows)
            sequences[seq.name] = (seq.frame[index], seq.identity[index], np.concatenate(embeddings))
    finally:
        hook.remove()
    inputs = np.concatenate([c[0] for c in captured])  # (M, 3, 256, 128)
    outputs = np.concatenate([c[1] for c in captured])  # (M, 512)
    return sequences, inputs, outputs


def test_torch_network_reproduces_onnxruntime_on_real_crops(real_crops):
    """Raw outputs agree to float32 accuracy and the L2-normalised rows (what dior uses) to 1e-5.

    Why a relative bound on the raw 512-d output: the head multiplies by up to 180 (the folded
    BatchNorm1d's gamma / sqrt(var)) and outputs reach ~20, so float32 rounding in any
    implementation moves single outputs by ~1e-4. Measured on these crops against a float64 run
    of the same network: onnxruntime itself is off by up to 1.1e-4, dior's torch by 1.0e-4; dior vs
    onnxruntime differ by <= 1.3e-4 absolute, <= 1.1e-5 of the row's largest output, and
    <= 3e-6 after L2 normalisation. A wrong weight mapping gives differences of order 1.
    """
    require(ONNX)
    _, inputs, ours = real_crops
    session = ort.InferenceSession(str(ONNX), providers=["CPUExecutionProvider"])
    theirs = np.concatenate([session.run(["output"], {"images": inputs[i:i + 64]})[0] for i in range(0, len(inputs), 64)])  # (M, 512)
    assert ours.shape == theirs.shape == (len(inputs), EMBEDDING_DIM)
    row_scale = np.abs(theirs).max(axis=1)  # (M,)
    assert (np.abs(ours - theirs).max(axis=1) <= 1e-4 * row_scale).all()
    unit = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)
    assert np.abs(unit(ours) - unit(theirs)).max() <= 1e-5


def test_real_crops_separate_identities_across_frames(real_crops):
    sequences, _, _ = real_crops
    lines, all_scores, all_same = [], [], []
    for name, (frame, identity, embeddings) in sequences.items():
        scores, same = cross_frame_pairs(frame, identity, embeddings)
        all_scores.append(scores)
        all_same.append(same)
        lines.append(f"{name}: AUC {roc_auc(scores, same):.4f} ({len(frame)} crops, {len(same)} pairs, {same.sum()} same)")
    overall = roc_auc(np.concatenate(all_scores), np.concatenate(all_same))
    print("\n".join(lines + [f"overall: AUC {overall:.4f}"]))
    assert overall >= 0.9
    assert all(roc_auc(s, p) >= 0.85 for s, p in zip(all_scores, all_same))


# --- loading the upstream ONNX file and the loader's errors -----------------------------------


def test_the_onnx_file_is_found_through_the_registry_and_every_tensor_is_its_own():
    """Every parameter equals the initializer the ONNX graph feeds to the matching layer (read here with onnx itself)."""
    require(ONNX)
    located = locate_osnet()
    assert located.verified and located.path.name == "osnet_x0_25_msmt17.onnx"
    model = load_osnet()
    assert not model.training
    graph = onnx.load(str(ONNX)).graph
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    first, last = convs[0], convs[-1]  # conv1 (7x7, 3 -> 16) and conv5 (1x1, 128 -> 128)
    np.testing.assert_array_equal(model.conv1.weight.detach().numpy(), tensors[first.input[1]])
    np.testing.assert_array_equal(model.conv1.bias.detach().numpy(), tensors[first.input[2]])
    np.testing.assert_array_equal(model.conv5.weight.detach().numpy(), tensors[last.input[1]])
    gemm = next(n for n in graph.node if n.op_type == "Gemm")
    np.testing.assert_array_equal(model.fc.weight.detach().numpy(), tensors[gemm.input[1]])


def test_export_scopes_map_onto_dior_names():
    assert export_path("/conv2/conv2.0/conv2b/conv2b.1/conv1/Conv") == "conv2.0.conv2b.1.conv1"
    assert export_path("/conv3/conv3.1/gate/fc1_2/Conv") == "conv3.1.gate.fc1"
    assert export_path("/conv2/conv2.2/conv2.2.0/conv/Conv") == "conv2.2.0.conv"
    assert dior_name("conv2.0.conv2b.1.conv1") == "conv2.0.streams.1.1.pointwise"
    assert dior_name("conv4.1.conv2a.conv2") == "conv4.1.streams.0.0.depthwise"
    assert dior_name("conv2.2.0.conv") == "conv2.2.conv"
    assert dior_name("conv3.0.downsample.conv") == "conv3.0.shortcut"
    assert dior_name("fc.1") == "fc_bn"
    assert dior_name("backbone.stem.conv") is None


def test_missing_file_is_input_not_found(tmp_path):
    with pytest.raises(InputNotFound, match="nope.onnx"):
        load_osnet(tmp_path / "nope.onnx")


def test_no_file_anywhere_names_every_place_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("DIOR_WEIGHTS", str(tmp_path / "mine"))
    monkeypatch.setattr(weights_module, "search_places", lambda: [weights_module.Place("$DIOR_WEIGHTS", tmp_path / "mine"),
                                                                 weights_module.Place("user cache", tmp_path / "cache")])
    with pytest.raises(InputNotFound) as error:
        load_osnet()
    message = str(error.value)
    assert "osnet_x0_25_msmt17.onnx" in message and str(tmp_path / "mine") in message and str(tmp_path / "cache") in message
    assert "MIT" in message and "--weights" in message


def test_a_file_that_is_not_onnx_or_not_osnet_is_a_format_error(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("not a model\n")
    with pytest.raises(FormatError, match="notes.onnx.*cannot be read as an ONNX model"):
        load_osnet(path)
    other = REPO.parent / "shared" / "weights" / "yolox_nano.onnx"
    if other.is_file():  # a real ONNX file of another network
        with pytest.raises(FormatError, match="yolox_nano.onnx.*not the OSNet x0.25 export"):
            load_osnet(other)


def test_a_file_with_the_right_name_but_other_bytes_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "weights"
    folder.mkdir()
    (folder / "osnet_x0_25_msmt17.onnx").write_bytes(b"something else")
    monkeypatch.setattr(weights_module, "search_places", lambda: [weights_module.Place("$DIOR_WEIGHTS", folder)])
    with pytest.raises(FormatError, match=r"osnet_x0_25_msmt17.onnx: has sha256 [0-9a-f]{64}, but .* has 61b26041"):
        load_osnet()


# --- embed_crops on constructed images ----------------------------------------------------------


def test_no_boxes_give_an_empty_512_column_array(osnet, rng):
    image = rng.integers(0, 256, size=(40, 30, 3), dtype=np.uint8)
    for boxes in (np.zeros((0, 4)), []):
        out = embed_crops(osnet, image, boxes)
        assert out.shape == (0, 512) and out.dtype == np.float32


def test_rows_are_unit_vectors_and_batches_do_not_matter(osnet, rng):
    image = rng.integers(0, 256, size=(120, 90, 3), dtype=np.uint8)
    boxes = np.array([[0, 0, 30, 60], [10, 20, 80, 110], [45.5, 5.2, 89.9, 119.0]])
    out = embed_crops(osnet, image, boxes, batch=2)  # two passes: 2 + 1 crops
    assert out.shape == (3, 512) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(out, embed_crops(osnet, image, boxes, batch=64), atol=1e-6)


def test_boxes_partly_outside_are_clipped_and_degenerate_boxes_still_embed(osnet, rng):
    image = rng.integers(0, 256, size=(100, 80, 3), dtype=np.uint8)
    outside = np.array([[-30.0, -10.0, 40.0, 70.0]])
    clipped = np.array([[0.0, 0.0, 40.0, 70.0]])
    np.testing.assert_array_equal(crop_batch(image, outside), crop_batch(image, clipped))
    np.testing.assert_allclose(embed_crops(osnet, image, outside), embed_crops(osnet, image, clipped), atol=1e-6)
    # zero width, zero height, inverted corners, entirely beyond the right/bottom edge
    degenerate = np.array([[10, 10, 10, 50], [5, 30, 25, 30], [40, 60, 20, 10], [200, 300, 260, 400]], dtype=float)
    out = embed_crops(osnet, image, degenerate)
    assert out.shape == (4, 512)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    # the box beyond the frame becomes the frame's bottom-right pixel, resized
    np.testing.assert_array_equal(crop_batch(image, degenerate[3:])[0], np.broadcast_to(image[99, 79], (256, 128, 3)))


def test_crops_are_bilinear_resizes_normalised_with_imagenet_statistics():
    image = np.zeros((300, 200, 3), dtype=np.uint8)
    image[:, :, 0], image[:, :, 1], image[:, :, 2] = 255, 128, 0
    crops = crop_batch(image, np.array([[10.0, 20.0, 74.0, 148.0]]))  # 64 x 128 box, uniform colour
    assert crops.shape == (1, 256, 128, 3)
    assert (crops[0] == [255, 128, 0]).all()
    x = normalise(crops)  # (1, 3, 256, 128)
    expected = [(1.0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (0.0 - 0.406) / 0.225]
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), expected, rtol=1e-6)


def test_dim_changes_only_pixels_outside_the_mask(osnet, rng):
    height, width = INPUT_SIZE
    image = rng.integers(0, 256, size=(300, 200, 3), dtype=np.uint8)
    box = np.array([[30.0, 20.0, 30.0 + width, 20.0 + height]])  # exactly 128 x 256: the resize is the identity
    mask = np.zeros((1, 300, 200), dtype=bool)
    mask[0, 60:200, 50:120] = True
    keep = crop_batch(image, box, mask, "keep")[0]  # (256, 128, 3)
    np.testing.assert_array_equal(keep, image[20:276, 30:158])
    inside = mask[0, 20:276, 30:158]  # (256, 128)
    for factor in (0.0, 0.5):
        dim = crop_batch(image, box, mask, "dim", dim_factor=factor)[0]
        np.testing.assert_array_equal(dim[inside], keep[inside])
        np.testing.assert_array_equal(dim[~inside], np.round(keep[~inside].astype(float) * factor).astype(np.uint8))
    np.testing.assert_array_equal(crop_batch(image, box, mask, "dim", dim_factor=1.0), crop_batch(image, box, mask, "keep"))
    np.testing.assert_array_equal(crop_batch(image, box, None, "dim"), crop_batch(image, box, None, "keep"))  # no mask: nothing to dim
    kept, dimmed = embed_crops(osnet, image, box, mask, "keep"), embed_crops(osnet, image, box, mask, "dim")
    assert float(kept[0] @ dimmed[0]) < 0.999  # the network sees the change


@pytest.mark.parametrize("kwargs, message", [
    ({"background": "blur"}, "background must be one of"),
    ({"dim_factor": 1.5}, "dim_factor must be in"),
    ({"masks": np.zeros((1, 10, 10), dtype=bool)}, "masks must be bool"),
])
def test_bad_arguments_are_refused(osnet, kwargs, message):
    image = np.zeros((20, 20, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=message):
        embed_crops(osnet, image, np.array([[0.0, 0.0, 10.0, 10.0]]), **kwargs)


def test_the_network_has_the_onnx_graphs_layer_count():
    # 187 Conv nodes in the ONNX graph, of which the 24 gate calls reuse 12 gate modules' 2 convs
    # (6 blocks x 2 convs x 4 calls = 48 calls of 12 modules): 187 - 48 + 12 = 151 conv modules.
    convs = [m for m in OSNet().modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 151
    assert sum(p.numel() for p in OSNet().parameters()) + 2 * EMBEDDING_DIM == 200_138 - 2  # ONNX initializer elements (2 are Reshape constants)



def test_crops_of_several_frames_embed_as_each_frame_alone(osnet, rng):
    """Sharing forward passes across frames changes nothing but float rounding (frames with no boxes included)."""
    from dior_cli.model.osnet_crops import embed_crops_of_frames

    images = [rng.integers(0, 256, size=(120, 90, 3), dtype=np.uint8) for _ in range(3)]
    boxes = [np.array([[0, 0, 30, 60], [10, 20, 80, 110]], float), np.zeros((0, 4)), np.array([[45.5, 5.2, 89.9, 119.0]])]
    together = embed_crops_of_frames(osnet, images, boxes, batch=2)
    assert [t.shape for t in together] == [(2, 512), (0, 512), (1, 512)]
    for image, b, t in zip(images, boxes, together):
        np.testing.assert_allclose(t, embed_crops(osnet, image, b), atol=1e-5)
    assert [t.shape for t in embed_crops_of_frames(osnet, images[:1], [np.zeros((0, 4))])] == [(0, 512)]
