"""Checkpoints: plain-dict files that rebuild their model; bad files give DiorErrors."""

from __future__ import annotations

import hashlib

import pytest
import torch

from dior_cli.errors import FormatError, InputNotFound
from dior_cli.model.checkpoint import FORMAT, load_checkpoint, save_checkpoint, sha256_of
from dior_cli.model.config import ModelConfig
from dior_cli.model.network import DiorNet
from tests.model.tiny import make_clip, tiny_config


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    torch.manual_seed(3)
    model = DiorNet(tiny_config())
    with torch.no_grad():  # move TA off its identity start so the round trip is not trivially equal
        for level in model.temporal.levels.values():
            level.w2.weight.add_(0.01 * torch.randn_like(level.w2.weight))
    path = tmp_path_factory.mktemp("ckpt") / "weights" / "tiny.pt"
    train_state = {"epoch": 3, "optimizer": {"lr": 0.01, "momentum_buffer": torch.ones(4)}}
    save_checkpoint(path, model, train_state=train_state, extra={"data": "kitti_mots"})
    return model, path


def test_file_is_a_plain_dict_readable_with_weights_only(saved):
    model, path = saved
    payload = torch.load(path, weights_only=True)
    assert payload["format"] == FORMAT
    assert payload["model_config"] == model.config.to_dict()
    assert payload["label_to_class"] == {1: 1, 2: 2}
    assert set(payload["state_dict"]) == set(model.state_dict())
    assert payload["train_state"]["epoch"] == 3 and payload["extra"] == {"data": "kitti_mots"}
    assert [p.name for p in path.parent.iterdir()] == ["tiny.pt"]  # no temporary file left behind


def test_load_rebuilds_an_identical_model(saved):
    model, path = saved
    loaded, meta = load_checkpoint(path)
    assert loaded.config == model.config and not loaded.training
    assert meta["train_state"]["epoch"] == 3 and torch.equal(meta["train_state"]["optimizer"]["momentum_buffer"], torch.ones(4))
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
    clip = make_clip(12)
    model.eval()
    with torch.no_grad():
        ours, theirs = model([clip])[0], loaded([clip])[0]
    for key in ("boxes", "labels", "scores", "masks", "embeddings"):
        assert torch.equal(ours[key], theirs[key]), key


def test_missing_file_is_input_not_found(tmp_path):
    with pytest.raises(InputNotFound, match="nope.pt"):
        load_checkpoint(tmp_path / "nope.pt")


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupted_file_is_a_format_error_naming_it(saved, tmp_path, damage):
    _, path = saved
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint at all" if damage == "garbage" else path.read_bytes()[:5000])
    with pytest.raises(FormatError, match="bad.pt"):
        load_checkpoint(bad)


def test_foreign_or_inconsistent_contents_are_format_errors(saved, tmp_path):
    model, path = saved
    foreign = tmp_path / "torchvision.pth"
    torch.save(model.state_dict(), foreign)  # a bare state dict, e.g. torchvision's own files
    with pytest.raises(FormatError, match="--weights coco"):
        load_checkpoint(foreign)

    payload = torch.load(path, weights_only=True)
    payload["model_config"]["embedding_dim"] = 16  # weights no longer fit the config
    mismatched = tmp_path / "mismatched.pt"
    torch.save(payload, mismatched)
    with pytest.raises(FormatError, match="wrong shape"):
        load_checkpoint(mismatched)

    payload["model_config"] = {"backbone": "vgg"}
    torch.save(payload, mismatched)
    with pytest.raises(FormatError, match="model_config"):
        load_checkpoint(mismatched)


def test_config_defaults_survive_older_files(saved, tmp_path):
    """A file written before a config field existed loads with that field's default."""
    _, path = saved
    payload = torch.load(path, weights_only=True)
    del payload["model_config"]["box_nms_thresh"]
    older = tmp_path / "older.pt"
    torch.save(payload, older)
    loaded, _ = load_checkpoint(older)
    assert loaded.config.box_nms_thresh == ModelConfig().box_nms_thresh


def test_sha256_of_known_bytes(tmp_path):
    path = tmp_path / "abc.bin"
    path.write_bytes(b"abc")
    assert sha256_of(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # FIPS 180-2 example
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * 10000)  # several read blocks
    assert sha256_of(big) == hashlib.sha256(big.read_bytes()).hexdigest()
    with pytest.raises(InputNotFound):
        sha256_of(tmp_path / "missing.bin")
