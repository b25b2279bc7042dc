"""The losses of the insertion GAN, as :mod:`reprolib.training.insertion` combines them (see its docstring).

    L_D    = BCE(D(x), 1) + 1/2 [BCE(D(y_f), 0) + BCE(D(y_r), 0)]        (gan_loss)
    L_P    = 1/2 [BCE(P(y_f), 0) + BCE(P(y_r), 1)]                         (pair_loss)
    L_conf = -1/2 mean [log P(y) + log(1 - P(y))]                          (confusion_loss, the trick)
    L_1    = mean |y_f - y*|,  L_perc = mean (phi(L*(y_f)) - phi(L*(y*)))^2  (fake pairs only)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core import color


def gan_loss(logits: Tensor, is_real: bool) -> Tensor:
    """Non-saturating GAN loss, mean BCE: -log sigmoid(l) for real targets, -log(1 - sigmoid(l)) for fake ones.

    D minimises gan_loss(D(x), True) + gan_loss(D(G(c, r)), False); G minimises gan_loss(D(G(c, r)), True)
    for fake and real pairs alike (the only loss real pairs get without the trick).
    """
    target = torch.ones_like(logits) if is_real else torch.zeros_like(logits)
    return F.binary_cross_entropy_with_logits(logits, target)


def pair_loss(logits_fake_pairs: Tensor, logits_real_pairs: Tensor) -> Tensor:
    """Pair discriminator loss: L_P = -1/2 [mean log(1 - P(y_fake)) + mean log P(y_real)] (real pair = 1)."""
    return 0.5 * (gan_loss(logits_fake_pairs, False) + gan_loss(logits_real_pairs, True))


def confusion_loss(logits: Tensor) -> Tensor:
    """Generator's confusion loss (Tzeng et al. 2015): cross-entropy to the uniform guess,
    L_conf = -1/2 mean [log P(y) + log(1 - P(y))]; minimal (log 2) when P answers 1/2 for every output."""
    return F.binary_cross_entropy_with_logits(logits, torch.full_like(logits, 0.5))




def fake_pair_l1(y: Tensor, target: Tensor) -> Tensor:
    """L_1 = mean |y - y*| over pixels and channels (fake pairs only: real pairs have no y*)."""
    return (y - target).abs().mean()


class LuminancePerceptualLoss(nn.Module):
    """L_perc = sum_l mean (phi_l(L*(y)) - phi_l(L*(y*)))^2 at relu1_2 of a fixed small gray-VGG
    (the project's ``grayvgg_weights.grayvgg_small``, trained on the synthetic world from L* only; colour is left
    to L1). Frozen; gradients flow to y only."""

    LAYERS = ("relu1_2",)

    def __init__(self, net: nn.Module | None = None):
        super().__init__()
        if net is None:
            from ..colorization.grayvgg_weights import grayvgg_small

            net = grayvgg_small()
        self.net = net.eval()
        for p in self.net.parameters():
            p.requires_grad_(False)

    def forward(self, y: Tensor, target: Tensor) -> Tensor:
        fy = self.net(color.rgb_to_lab(y)[:, :1], self.LAYERS)
        with torch.no_grad():
            ft = self.net(color.rgb_to_lab(target)[:, :1], self.LAYERS)
        return sum(F.mse_loss(fy[k], ft[k]) for k in self.LAYERS)


