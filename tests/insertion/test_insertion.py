"""The insertion miniature (reprolib.insertion): pairs and their ground truth, blending, gradient reversal,
losses and the measurements."""
from __future__ import annotations

import math

import pytest
import torch

from reprolib.core import color
from reprolib.insertion import losses, metrics, nets
from reprolib.insertion import pairs as ipairs

TINY = dict(batch_size=4, width=4)


@pytest.fixture(scope="module", autouse=True)
def _one_thread(one_thread):
    """Small tensors: one thread (conftest's ``one_thread``) for every test of this module."""


def test_pairs_shapes_ranges_and_determinism(pairs):
    fake, real = pairs
    for p in (fake, real):
        for name in ("composite", "background", "target", "frame", "copy"):
            x = getattr(p, name)
            assert x.shape == (16, 3, ipairs.SIZE, ipairs.SIZE) and x.dtype == torch.float32, name
            assert 0 <= x.min() and x.max() <= 1, name
        assert p.mask.shape == p.box.shape == (16, 1, ipairs.SIZE, ipairs.SIZE)
        assert bool((p.mask <= p.box).all()), "the object lies inside its box"
        assert p.box[:, 0].sum(dim=(1, 2)).eq(ipairs.BOX * ipairs.BOX).all()
    assert not fake.real and real.real
    assert torch.equal(fake.lighting, fake.source_lighting), "fake pairs stay in scene B's light"
    assert bool((real.lighting != real.source_lighting).all()), "real pairs move to another light"
    again = ipairs.make_pairs(3, 16, real=True)
    assert torch.equal(again.composite, real.composite) and torch.equal(again.target, real.target)
    assert not torch.equal(ipairs.make_pairs(4, 16, real=True).composite, real.composite)


def test_composite_is_the_box_pasted_into_the_background(pairs):
    for p in pairs:
        outside = p.box.expand_as(p.composite) == 0
        assert torch.equal(p.composite[outside], p.background[outside])
        box_in_composite = ipairs.crop(p.composite, p.where)
        assert torch.allclose(box_in_composite, ipairs.crop(p.frame, p.source_where), atol=1e-6), "u = the source box"


def test_ground_truth_of_the_renderer(pairs):
    """Fake pairs: the target is u_B's object as it appears in B, moved. Real pairs: the ground truth is A's
    object under B's lighting, which differs from the unchanged object (copy) only on the object's pixels."""
    fake, real = pairs
    torch.testing.assert_close(fake.target, fake.copy, atol=0, rtol=0)
    obj_mask = ipairs.crop(fake.mask, fake.where) > 0
    moved = ipairs.crop(fake.target, fake.where)
    source = ipairs.crop(fake.frame, fake.source_where)
    assert torch.allclose(moved[obj_mask.expand_as(moved)], source[obj_mask.expand_as(source)], atol=1e-6)
    off = real.mask.expand_as(real.target) == 0
    assert torch.equal(real.target[off], real.copy[off]) and torch.equal(real.target[off], real.background[off])
    de = color.delta_e76(color.rgb_to_lab(real.target), color.rgb_to_lab(real.copy))[real.mask[:, 0] > 0]
    assert de.mean() > 8, "another light must change the object visibly"


def test_lighting_and_bad_input():
    lab = torch.rand(4, 3, 8, 8) * torch.tensor([100.0, 40, 40]).view(1, 3, 1, 1)
    noon = ipairs.light(lab, torch.zeros(4, dtype=torch.long))
    torch.testing.assert_close(noon, lab)
    sunset = ipairs.light(lab, torch.ones(4, dtype=torch.long))
    cast = torch.tensor(ipairs.LIGHTINGS[1].cast).view(1, 2, 1, 1)
    torch.testing.assert_close(sunset[:, 1:] - lab[:, 1:], cast.expand(4, 2, 8, 8))
    with pytest.raises(ValueError, match="lighting"):
        ipairs.light(lab, torch.full((4,), len(ipairs.LIGHTINGS)))
    with pytest.raises(ValueError, match="lab"):
        ipairs.light(lab[:, :2], torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="n must be"):
        ipairs.make_pairs(0, 0, real=True)
    with pytest.raises(ValueError, match="inside"):
        ipairs.paste(torch.zeros(1, 1, 8, 8), torch.ones(1, 1, 4, 4), torch.tensor([[5, 0]]))


@pytest.mark.parametrize("blending", [True, False])
def test_generator_shapes_and_blending(pairs, blending):
    fake, _ = pairs
    torch.manual_seed(0)
    g = nets.InsertionGenerator(width=4, blending=blending)
    y, alpha, fg = g.parts(fake.composite, fake.background)
    assert y.shape == fake.composite.shape and 0 <= y.min() and y.max() <= 1
    if blending:
        assert alpha.shape == (16, 1, ipairs.SIZE, ipairs.SIZE) and fg.shape == y.shape
        torch.testing.assert_close(y, alpha * fg + (1 - alpha) * fake.background)
    else:
        assert alpha is None and fg is None
    bad = fake.composite.clone()
    bad[0, 0, 0, 0] = math.nan
    with pytest.raises(ValueError, match="NaN"):
        g(bad, fake.background)
    with pytest.raises(ValueError, match="composite"):
        g(fake.composite[:, :2], fake.background)


def test_blending_with_zero_alpha_keeps_the_background_exactly(pairs):
    fake, _ = pairs
    g = nets.InsertionGenerator(width=4)
    with torch.no_grad():
        g.head.bias[0] = -1e4
    torch.testing.assert_close(g(fake.composite, fake.background), fake.background, atol=0, rtol=0)


def test_discriminators_shapes(pairs):
    y = pairs[0].target
    assert nets.PatchDiscriminator(4)(y).shape == (16, 1, ipairs.SIZE // 4, ipairs.SIZE // 4)
    assert nets.PairDiscriminator(4)(y).shape == (16,)


def test_gradient_reversal_flips_the_gradient():
    x = torch.randn(5, requires_grad=True)
    y = nets.gradient_reversal(x, 0.5)
    torch.testing.assert_close(y, x)
    (y * torch.arange(5.0)).sum().backward()
    torch.testing.assert_close(x.grad, -0.5 * torch.arange(5.0))


def test_losses(pairs, perceptual):
    fake, _ = pairs
    big = torch.full((8,), 30.0)
    assert (losses.gan_loss(big, True) < 1e-6 and losses.gan_loss(-big, False) < 1e-6
            and losses.gan_loss(big, False) > 10)
    assert losses.pair_loss(-big, big) < 1e-6 and losses.pair_loss(big, -big) > 10
    assert math.isclose(losses.confusion_loss(torch.zeros(8)).item(), math.log(2), rel_tol=1e-6)
    assert losses.confusion_loss(big) > 10 and losses.confusion_loss(-big) > 10  # a sure P is penalised either way
    assert losses.fake_pair_l1(fake.target, fake.target) == 0 and losses.fake_pair_l1(fake.composite, fake.target) > 0
    assert perceptual(fake.target, fake.target) == 0 and perceptual(fake.composite, fake.target) > 0
    y = fake.composite.clone().requires_grad_()
    perceptual(y, fake.target).backward()
    assert y.grad.abs().sum() > 0
    assert all(not p.requires_grad for p in perceptual.parameters())


def test_box_error_and_pair_classifier():
    fake, real = ipairs.make_pairs(5, 32, real=False), ipairs.make_pairs(5, 32, real=True)
    assert metrics.box_error(fake.target, fake.target, fake.box).abs().max() < 1e-3
    assert (metrics.box_error(real.copy, real.target, real.box) > 0).all()
    acc_same = metrics.pair_classifier_accuracy(fake.target[:16], fake.target[16:], steps=30)
    acc_apart = metrics.pair_classifier_accuracy(fake.target * 0.3, fake.target * 0.3 + 0.6, steps=30)
    assert acc_apart == 1.0 and acc_same <= 0.75


