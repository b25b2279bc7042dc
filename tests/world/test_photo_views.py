"""Photographs with ground truth (reprolib.world.photo_views): the "other view" protocol, views."""
import math

import torch

from reprolib.core import color
from reprolib.world import photo_views as pv


def test_other_view_pairs_are_deterministic_views_of_the_same_photo():
    a = pv.other_view_pairs(("chelsea.jpg", "coffee.jpg"), n_per=2, crop=96, short=128)
    b = pv.other_view_pairs(("chelsea.jpg", "coffee.jpg"), n_per=2, crop=96, short=128)
    assert len(a) == 4 and a.T_lab.shape == a.R_lab.shape == (4, 3, 96, 96)
    assert torch.equal(a.T_lab, b.T_lab) and torch.equal(a.R_lab, b.R_lab)
    assert not torch.equal(a.T_lab, pv.other_view_pairs(("chelsea.jpg", "coffee.jpg"), 2, seed=1, crop=96,
                                                        short=128).T_lab)
    lab = pv.photo_lab("chelsea.jpg", 128)
    y, x, side = a.target_boxes[0]
    assert torch.equal(a.T_lab[0], lab[:, y:y + side, x:x + side])  # the truth is the photo's own crop
    for t, r in zip(a.target_boxes, a.reference_boxes):
        centre = math.hypot(t[0] + t[2] / 2 - r[0] - r[2] / 2, t[1] + t[2] / 2 - r[1] - r[2] / 2)
        assert pv._cover(t, r) >= pv.MIN_COVER and centre >= pv.MIN_SHIFT
    y, x, side = a.reference_boxes[0]
    if side == 96:  # the reference is the mirrored view
        assert torch.allclose(a.R_lab[0], lab[:, y:y + side, x:x + side].flip(-1))


def test_hue_rotation_keeps_L_and_chroma_in_gamut():
    lab = pv.photo_lab("flower.jpg", 64)
    turned = pv.rotate_hue(lab, math.pi / 3)
    assert torch.allclose(turned[0], lab[0], atol=1e-4)
    assert (color.chroma(turned) <= color.chroma(lab) + 1e-3).all()  # chroma only cut, to fit the gamut
    hue_in = torch.atan2(lab[2], lab[1])
    hue_out = torch.atan2(turned[2], turned[1])
    strong = color.chroma(lab) > 10
    turn = torch.remainder(hue_out - hue_in, 2 * math.pi)[strong]
    assert (turn - math.pi / 3).abs().median() < 0.05


def test_random_views_are_seeded_pairs():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    a = pv.random_views("flower.jpg", 3, g1, crop=64, short=96)
    b = pv.random_views("flower.jpg", 3, g2, crop=64, short=96)
    assert a.T_lab.shape == (3, 3, 64, 64) and torch.equal(a.R_lab, b.R_lab)
    # the same hue rotation for target and reference: both keep their L*
    assert torch.allclose(a.T_lab[:, 0].mean(), pv.photo_lab("flower.jpg", 96)[0].mean(), atol=15)
