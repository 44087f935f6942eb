"""Balanced sampling of anchors and proposals from an explicit generator (``dior_cli.model.sampling``)."""

from __future__ import annotations

import torch

from dior_cli.model.network import DiorNet
from dior_cli.model.sampling import SeededBalancedSampler
from tests.model.tiny import make_clip, make_target, tiny_config


def test_counts_follow_the_rule_and_only_labelled_candidates_are_drawn():
    labels = torch.tensor([1, 0, -1, 2, 0, 0, -1, 0, 1, 1, 0, 0])  # positives at 0, 3, 8, 9; negatives at 1, 4, 5, 7, 10, 11
    sampler = SeededBalancedSampler(6, 0.25, torch.Generator().manual_seed(0))  # at most int(6 * 0.25) = 1 positive
    (positive,), (negative,) = sampler([labels])
    assert positive.dtype == negative.dtype == torch.uint8 and positive.shape == labels.shape
    assert int(positive.sum()) == 1 and int(negative.sum()) == 5
    assert bool((labels[positive.bool()] >= 1).all()) and bool((labels[negative.bool()] == 0).all())
    few = SeededBalancedSampler(20, 0.5)([labels])  # fewer candidates than asked: all of them
    assert int(few[0][0].sum()) == 4 and int(few[1][0].sum()) == 6


def test_the_draw_is_a_function_of_the_generator_seed_alone():
    labels = torch.cat([torch.ones(50), torch.zeros(200)]).long()
    draw = lambda seed: SeededBalancedSampler(64, 0.25, torch.Generator().manual_seed(seed))([labels])
    torch.manual_seed(1)
    first = draw(7)
    torch.manual_seed(2)  # the global generator plays no part
    again = draw(7)
    assert all(torch.equal(a, b) for a, b in zip(first[0] + first[1], again[0] + again[1]))
    other = draw(8)
    assert not torch.equal(first[1][0], other[1][0])
    positives = {tuple(torch.nonzero(draw(seed)[0][0]).flatten().tolist()) for seed in range(20)}
    assert len(positives) > 15  # 16 of 50 positives: the subsets really are random


def test_a_training_step_with_a_generator_leaves_torchs_global_generator_alone():
    torch.manual_seed(0)
    model = DiorNet(tiny_config()).train()
    generator = torch.Generator()
    model.set_sampling_generator(generator)
    target = make_target([[10, 20, 60, 100], [80, 30, 150, 110]], labels=[1, 2], identities=[0, 3])
    losses = []
    for _ in range(2):
        generator.manual_seed(123)
        before = torch.get_rng_state()
        losses.append({k: v.item() for k, v in model([make_clip(1)], [target]).items()})
        assert torch.equal(torch.get_rng_state(), before)
    assert losses[0] == losses[1]  # the same generator seed: the same samples, the same losses
