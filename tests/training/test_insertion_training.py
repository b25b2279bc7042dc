"""Training the insertion GAN (reprolib.training.insertion): config, steps, the pair discriminator, determinism."""
from __future__ import annotations

import math

import pytest
import torch

from reprolib.training import insertion as ins_train

TINY = dict(batch_size=4, width=4)


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Small tensors: one thread (conftest's ``one_thread``) for every test of this module."""


def test_config_checks():
    with pytest.raises(ValueError, match="pair"):
        ins_train.Config(pair="maybe").check()
    with pytest.raises(ValueError, match="steps"):
        ins_train.Config(steps=0).check()


def test_training_steps_decrease_the_l1_loss(pairs, perceptual):
    fake, real = pairs
    cfg = ins_train.Config(steps=1, pair="confusion", batch_size=16, width=4, lr=5e-3)
    m = ins_train.build(cfg)
    # the blending generator starts by keeping the composite (L1 already small); how many steps L1 then stays on
    # its first plateau depends on the CPU's float rounding (30 were enough on one machine, 45 on another)
    losses = [ins_train.train_step(cfg, m, fake, real, perceptual)["l1"] for _ in range(60)]
    assert min(losses[-10:]) < 0.9 * sum(losses[:3]) / 3
    assert all(math.isfinite(v) for v in losses)


@pytest.mark.parametrize("pair", ["none", "confusion", "reversal"])
def test_train_step_updates_the_pair_discriminator_only_when_asked(pairs, perceptual, pair):
    fake, real = pairs
    cfg = ins_train.Config(steps=1, pair=pair, **TINY)
    m = ins_train.build(cfg)
    before = [p.detach().clone() for p in m.pair_d.parameters()]
    losses = ins_train.train_step(cfg, m, fake, real, perceptual)
    changed = any(not torch.equal(a, p) for a, p in zip(before, m.pair_d.parameters()))
    assert changed == (pair != "none")
    assert (losses["p"] > 0) == (pair != "none") and (losses["conf"] > 0) == (pair == "confusion")


def test_fit_is_deterministic(perceptual):
    cfg = ins_train.Config(steps=4, seed=1, **TINY)
    whole = ins_train.fit(cfg, progress=False, perceptual=perceptual)
    again = ins_train.fit(cfg, progress=False, perceptual=perceptual)
    for a, b in zip(whole.generator.state_dict().values(), again.generator.state_dict().values()):
        assert torch.equal(a, b)
    assert len(whole.history) == 4 and set(whole.history[0]) == {"d", "p", "gan", "l1", "perc", "conf"}


def test_fit_on_a_device_checks_the_move_and_comes_back_to_the_cpu(perceptual):
    cfg = ins_train.Config(steps=2, seed=1, **TINY)
    here = ins_train.fit(cfg, progress=False, perceptual=perceptual)
    moved = ins_train.fit(cfg, progress=False, perceptual=perceptual, device="cpu")
    for a, b in zip(here.generator.state_dict().values(), moved.generator.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(RuntimeError, match="moving the networks to meta left the opt_g's parameters behind"):
        ins_train.fit(cfg, progress=False, device="meta")  # its own perceptual net: the move is in place
