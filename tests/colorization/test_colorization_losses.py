"""Losses of the colorization sub-net (reprolib.losses): known values, zero at equality, gradients."""
from __future__ import annotations

import pytest
import torch

from reprolib.colorization import losses
from reprolib.colorization.grayvgg_weights import grayvgg_small
from reprolib.world import scenes


def ab(b=2, h=32, w=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 30 * torch.randn(b, 2, h, w, generator=g)


@pytest.fixture(scope="module")
def perceptual():
    return losses.PerceptualLoss(grayvgg_small())


def test_known_values():
    t = torch.zeros(1, 2, 4, 4)
    assert losses.chrominance_loss(t + 0.5, t).item() == pytest.approx(0.125)  # 0.5 d^2 below beta = 1
    assert losses.chrominance_loss(t - 3.0, t).item() == pytest.approx(2.5)  # |d| - 0.5 above it
    assert losses.automatic_l1_loss(t + 3.0, t).item() == pytest.approx(3.0)


def test_zero_at_equality(perceptual):
    x = ab()
    for loss in (losses.chrominance_loss, losses.automatic_l1_loss, perceptual):
        assert loss(x, x.clone()).item() == 0.0


def test_perceptual_loss_sees_colour_and_has_a_gradient(perceptual):
    """The point of the deviation: a luminance-only feature net would give exactly zero here."""
    target, reference = scenes.sample_pairs(3, 4, 64)
    gt = scenes.ground_truth(target, reference).ab
    other = scenes.recolor(target, (reference.palette + 1) % torch.tensor(scenes.NUM_PALETTES)).ab
    p = other.clone().requires_grad_(True)
    loss = perceptual(p, gt)
    loss.backward()
    assert loss.item() > 0 and p.grad.abs().sum() > 0
    assert perceptual(gt + 1.0, gt) < perceptual(other, gt)  # a slight shift costs less than a wrong palette


def test_perceptual_is_alpha_times_a_sum_per_image():
    net = grayvgg_small()
    x, y = ab(2, 32, 32, 1), ab(2, 32, 32, 2)
    one = losses.PerceptualLoss(net, "relu2_1", 1.0)(x, y)
    assert losses.PerceptualLoss(net, "relu2_1", 0.25)(x, y).item() == pytest.approx(0.25 * one.item(), rel=1e-5)
    doubled = losses.PerceptualLoss(net, "relu2_1", 1.0)(torch.cat((x, x)), torch.cat((y, y)))
    assert doubled.item() == pytest.approx(one.item(), rel=1e-5)  # mean over the batch


def test_bad_inputs(perceptual):
    with pytest.raises(ValueError, match=r"\(B, 2, H, W\)"):
        losses.chrominance_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 2, 4, 4))
    with pytest.raises(ValueError, match="differ in shape"):
        losses.automatic_l1_loss(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 5))
    x = torch.zeros(1, 2, 32, 32)
    x[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        perceptual(x, torch.zeros(1, 2, 32, 32))
    with pytest.raises(ValueError, match="unknown layer"):
        losses.PerceptualLoss(grayvgg_small(), "relu9_9")
    with pytest.raises(ValueError, match="alpha"):
        losses.PerceptualLoss(grayvgg_small(), alpha=-1)
