"""`dior train`: schedule, sampler, exact resume after a kill, two gloo ranks in lock-step, errors."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from dior_cli.cli import app
from dior_cli.config import TrainConfig
from dior_cli.data.synthetic import SyntheticConfig, write_dataset
from dior_cli.model.checkpoint import load_checkpoint
from dior_cli.train_sampler import StepSampler

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]

# A model small enough for a step in well under a second on 2 cores.
TINY_MODEL = [
    "model.backbone=resnet18", "model.backbone_norm=group_norm", "model.trainable_backbone_layers=5",
    "model.min_size=64", "model.max_size=80", "model.fpn_channels=32", "model.head_channels=32", "model.box_head_dim=64",
    "model.embedding_conv_layers=1", "model.embedding_dim=16", "model.embedding_fc_dim=32",
    "model.rpn_pre_nms_top_n_train=50", "model.rpn_post_nms_top_n_train=50", "model.box_batch_size_per_image=16",
]
TINY_TRAIN = ["iterations=6", "batch=1", "checkpoint_every=3", "warmup_iterations=2", "workers=0", "lr=0.01"]


def _sets(values: list[str]) -> list[str]:
    return [arg for value in values for arg in ("--set", value)]


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synthetic")
    write_dataset(root, sequences=2, config=SyntheticConfig(height=64, width=80, frames=6, objects=3), seed=3)
    return root


def _losses(run: Path) -> dict[int, dict[str, float]]:
    entries = [json.loads(line) for line in (run / "train_log.jsonl").read_text().splitlines()]
    return {e["step"]: {k: v for k, v in e.items() if k.startswith("loss")} for e in entries if "validation" not in e}


def test_learning_rate_warms_up_linearly_then_decays_in_steps():
    cfg = TrainConfig(iterations=100, lr=0.1, warmup_iterations=10, warmup_factor=0.01, decay_at=(0.5, 0.8), gamma=0.1)
    assert cfg.learning_rate(0) == pytest.approx(0.001)  # warmup_factor x lr
    assert cfg.learning_rate(5) == pytest.approx(0.1 * (0.01 * 0.5 + 0.5))  # halfway: factor 0.505
    assert cfg.learning_rate(10) == pytest.approx(0.1)
    assert cfg.learning_rate(49) == pytest.approx(0.1)
    assert cfg.learning_rate(50) == pytest.approx(0.01)
    assert cfg.learning_rate(80) == pytest.approx(0.001)


def test_step_sampler_covers_each_epoch_and_splits_ranks():
    single = StepSampler(10, 3, seed=1)
    assert single.steps_per_epoch == 3  # 10 samples, batches of 3: one left over per epoch
    epoch0 = [i for step in range(3) for i in single.indices(step)]
    assert len(set(epoch0)) == 9 and set(epoch0) <= set(range(10))
    assert [i for step in range(3, 6) for i in single.indices(step)] != epoch0  # a new order each epoch
    ranks = [StepSampler(10, 1, seed=1, rank=r, world=2) for r in (0, 1)]
    assert ranks[0].steps_per_epoch == 5
    shares = [[i for step in range(5) for i in sampler.indices(step)] for sampler in ranks]
    assert sorted(shares[0] + shares[1]) == list(range(10))  # disjoint halves of one permutation
    assert StepSampler(10, 3, seed=1).indices(4) == single.indices(4)  # a pure function of the step


def test_resume_after_a_kill_reproduces_the_uninterrupted_losses(tiny_data, tmp_path):
    whole = tmp_path / "whole"
    args = ["train", str(tiny_data), "--init", "none", "--device", "cpu", *_sets(TINY_MODEL), *_sets(TINY_TRAIN), "--set", "iterations=10"]
    result = runner.invoke(app, [*args, "--out", str(whole)])
    assert result.exit_code == 0, result.output
    expected = _losses(whole)
    assert sorted(expected) == list(range(1, 11))

    broken = tmp_path / "broken"
    env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
    process = subprocess.Popen([sys.executable, "-m", "dior_cli", *args, "--out", str(broken)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and process.poll() is None:
        log = broken / "train_log.jsonl"
        if log.is_file() and len(log.read_text().splitlines()) >= 4:  # past the checkpoint at step 3
            break
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read().decode()[-2000:]
    process.send_signal(signal.SIGKILL)  # no chance to save anything more
    process.wait()
    assert load_checkpoint(broken / "checkpoints" / "last.pt")[1]["train_state"]["step"] == 3
    assert not (broken / "weights" / "final.pt").exists()

    result = runner.invoke(app, [*args, "--out", str(broken), "--resume"])
    assert result.exit_code == 0, result.output
    resumed = _losses(broken)
    assert sorted(resumed) == list(range(1, 11))  # step 4 logged before the kill was replaced, not duplicated
    assert resumed == expected  # bit-identical floats


def test_data_loading_workers_do_not_change_the_steps(tiny_data, tmp_path):
    base = ["train", str(tiny_data), "--init", "none", "--device", "cpu", *_sets(TINY_MODEL), *_sets(TINY_TRAIN),
            "--set", "iterations=2"]
    for workers, out in ((0, tmp_path / "w0"), (1, tmp_path / "w1")):
        result = runner.invoke(app, [*base, "--set", f"workers={workers}", "--out", str(out)])
        assert result.exit_code == 0, result.output
    assert _losses(tmp_path / "w0") == _losses(tmp_path / "w1")


def test_two_gloo_ranks_hold_identical_weights_and_only_rank_0_writes(tiny_data, tmp_path):
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [torchrun, "--nproc-per-node", "2", "-m", "dior_cli", "train", str(tiny_data), "--init", "none", "--device", "cpu",
         "--out", str(out), *_sets(TINY_MODEL), *_sets(TINY_TRAIN), "--set", "iterations=3"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    entries = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in entries] == [1, 2, 3]  # one writer: no line twice
    for entry in entries:
        first, second = entry["weights_checksum_per_rank"]
        assert first == second  # after every step, both ranks hold the same weights
    checksums = [e["weights_checksum_per_rank"][0] for e in entries]
    assert len(set(checksums)) == 3  # and the weights did move
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["checkpoints/last.pt", "train_log.jsonl", "weights/final.pt"]
    model, meta = load_checkpoint(out / "weights" / "final.pt")
    assert meta["extra"]["world_size"] == 2 and meta["extra"]["samples"] == 12
    assert model.config.num_identities == meta["extra"]["identities"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "model.backbone=resnet9"], "model.backbone"),
        (["--set", "iterations=0"], "train.iterations"),
        (["--set", "nonsense=1"], "unknown key train.nonsense"),
        (["--sequences", "nope"], "nope"),
        (["--init", "missing.pt"], "missing.pt"),
        (["--resume"], "last.pt"),
        (["--set", "batch=50"], "train.batch=50"),
    ],
)
def test_bad_settings_exit_1_with_a_message(tiny_data, tmp_path, extra, message):
    result = runner.invoke(app, ["train", str(tiny_data), "--init", "none", "--device", "cpu", "--out", str(tmp_path / "run"),
                                 *_sets(TINY_MODEL), *_sets(TINY_TRAIN), *extra])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_finished_run_is_not_overwritten(tiny_data, tmp_path):
    args = ["train", str(tiny_data), "--init", "none", "--device", "cpu", "--out", str(tmp_path / "run"),
            *_sets(TINY_MODEL), *_sets(TINY_TRAIN), "--set", "iterations=1"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "--resume" in again.output


def test_validation_runs_the_users_pipeline_and_logs_its_numbers(tiny_data, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(tiny_data), "--init", "none", "--device", "cpu", "--out", str(out), "--val", str(tiny_data),
                                 *_sets(TINY_MODEL), *_sets(TINY_TRAIN), "--set", "iterations=2", "--set", "val_every=2", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert [v["step"] for v in summary["validation"]] == [2]
    logged = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    validation = [e for e in logged if "validation" in e]
    assert len(validation) == 1 and validation[0]["step"] == 2
    headline = validation[0]["validation"]["headline"]
    assert set(headline) == {"mask_AP", "HOTA", "sMOTSA", "IDF1"}
    folder = out / "val" / "step_0000002"
    for name in ("synth0000", "synth0001"):  # what dior infer / track would have written
        assert (folder / "dets_all" / f"{name}.json").is_file() and (folder / "tracks" / f"{name}.txt").is_file()
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["sequences"] == ["synth0000", "synth0001"]
    assert metrics["combined"]["class_average"]["sMOTSA"] == headline["sMOTSA"]


def test_cosine_classifier_learns_its_scale_only_when_asked(tiny_data, tmp_path):
    out = tmp_path / "cosine"
    args = ["train", str(tiny_data), "--init", "none", "--device", "cpu", "--out", str(out), *_sets(TINY_MODEL), *_sets(TINY_TRAIN),
            "--set", "iterations=2", "--set", "emb_classifier=cosine", "--set", "emb_scale=5"]
    assert runner.invoke(app, [*args, "--set", "emb_scale_learned=true"]).exit_code == 0
    model, meta = load_checkpoint(out / "weights" / "final.pt")  # a cosine-trained checkpoint loads like any other
    scale = model.embedding_head.identity_logit_scale.item()
    assert scale != 5.0 and abs(scale - 5.0) < 1.0  # learned: two small steps away from its start
    state = load_checkpoint(out / "checkpoints" / "last.pt")[1]["train_state"]
    assert state["train_config"]["emb_classifier"] == "cosine" and state["train_config"]["emb_scale"] == 5.0
    fixed = tmp_path / "fixed"
    args_fixed = [*args[:7], str(fixed), *args[8:]]  # emb_scale_learned: false by default
    assert runner.invoke(app, args_fixed).exit_code == 0
    assert load_checkpoint(fixed / "weights" / "final.pt")[0].embedding_head.identity_logit_scale.item() == 5.0


def test_a_checkpoint_from_before_the_classifier_settings_resumes_as_linear(tiny_data, tmp_path):
    """last.pt written before train.emb_classifier existed: no such keys in its train_config, no
    scale in its weights. It resumes with the linear classifier and refuses the cosine one by name."""
    out = tmp_path / "old"
    args = ["train", str(tiny_data), "--init", "none", "--device", "cpu", "--out", str(out), *_sets(TINY_MODEL), *_sets(TINY_TRAIN),
            "--set", "iterations=2", "--set", "checkpoint_every=1", "--set", "emb_classifier=linear"]
    assert runner.invoke(app, args).exit_code == 0
    last = out / "checkpoints" / "last.pt"
    payload = torch.load(last, weights_only=True)
    for key in ("emb_classifier", "emb_scale", "emb_scale_learned"):
        del payload["train_state"]["train_config"][key]
    del payload["state_dict"]["embedding_head.identity_logit_scale"]
    torch.save(payload, last)
    refused = runner.invoke(app, [*args, "--set", "emb_classifier=cosine", "--resume"])
    assert refused.exit_code == 1 and "(emb_classifier)" in refused.output
    resumed = runner.invoke(app, [*args, "--resume", "--json"])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads(resumed.stdout)["resumed_from"] == 2
