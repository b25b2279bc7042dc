"""Training losses of the colorization sub-net (He et al. 2018, Sec. 3.3) and of the automatic baseline.

* Chrominance branch: the reference is the target's own colours, T'_ab(p) = T_ab(phi_R->T(phi_T->R(p))),
  and the result P_ab is pulled towards T_ab with a smooth-L1 (Huber) loss
      L_chrom = mean_p smoothL1(P_ab(p) - T_ab(p))                                       (:func:`chrominance_loss`)
* Perceptual branch: the real warped reference R'_ab; the result is compared with the ground truth in a
  feature space,
      L_perc = alpha || F(P_lab) - F(GT_lab) ||^2   (paper: relu5_1 of VGG-19, alpha = 0.005)  (:class:`PerceptualLoss`)
* Automatic baseline (study note, point 1): L_1 = mean_p |P_ab(p) - T_ab(p)|            (:func:`automatic_l1_loss`)

All losses read raw a*, b* (B, 2, H, W) and return a scalar tensor.

Deviation (perceptual loss): the paper's F is a VGG-19 that sees colour. Our feature net is the small
gray-VGG (:func:`.grayvgg_weights.grayvgg_small`), which sees luminance only; since P_L = T_L = GT_L,
F(P_lab) would equal F(GT_lab) and give no gradient with respect to P_ab at all. We therefore run the same
gray-VGG on each Lab channel as if it were a gray image, F(lab) = [G(L), G(a + 50), G(b + 50)] (a, b shifted
so that they sit at the L* mid-range the net was trained on: its input is L/100 - 0.5 = a/100), and compare
the a and b parts (the L part cancels exactly). G was trained to tell the synthetic world's classes apart
from texture and edges, so G(a) describes where the a* map changes and which regions are coloured alike;
it is colour-aware, frozen and needs no extra training. The squared distance is a mean over channels and
positions per image, as in the paper, averaged over the batch. Layer: relu3_1 (stride 4) instead of relu5_1:
the small net's relu5_1 is a 4 x 4 grid on a 64 x 64 scene, too coarse to say which region got which colour.
alpha: 1.0 instead of 0.005, because our features are far smaller than Caffe VGG-19's on 0..255 inputs; on
64 x 64 scenes it makes L_perc of the warped reference R'_ab (about 5) the size of its L_chrom (about 3).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core import checks

SMOOTH_L1_BETA = 1.0  # smooth-L1 switches from quadratic to linear at |P_ab - T_ab| = 1 (a*b* units)
PERCEPTUAL_LAYER = "relu3_1"
PERCEPTUAL_ALPHA = 1.0


def _pair(P_ab: object, T_ab: object, name: str = "T_ab") -> tuple[Tensor, Tensor]:
    P_ab, T_ab = checks.ab(P_ab, "P_ab"), checks.ab(T_ab, name)
    if P_ab.shape != T_ab.shape:
        raise ValueError(f"P_ab {tuple(P_ab.shape)} and {name} {tuple(T_ab.shape)} differ in shape")
    return P_ab, T_ab.to(P_ab)


def chrominance_loss(P_ab: Tensor, T_ab: Tensor, beta: float = SMOOTH_L1_BETA) -> Tensor:
    """Chrominance branch: mean smooth-L1 between P_ab and the target's own T_ab (raw a*, b*)."""
    P_ab, T_ab = _pair(P_ab, T_ab)
    return F.smooth_l1_loss(P_ab, T_ab, beta=beta)


def automatic_l1_loss(P_ab: Tensor, T_ab: Tensor) -> Tensor:
    """Automatic baseline: mean |P_ab - T_ab| (the loss that makes colours gray, study note point 1)."""
    P_ab, T_ab = _pair(P_ab, T_ab)
    return F.l1_loss(P_ab, T_ab)


class PerceptualLoss(nn.Module):
    """Perceptual branch: alpha ||G_l(a_P) - G_l(a_GT)||^2 + the same for b, summed over channels and
    positions, averaged over the batch (module docstring).

    Args:
        feature_net: a frozen gray-VGG (:class:`reprolib.colorization.grayvgg.GrayVGG`); default the shipped small net.
        layer: the activation compared (paper: relu5_1 of VGG-19).
        alpha: the weight (paper: 0.005 for its VGG-19; here 1.0, see the module docstring).

    ``forward(P_ab, GT_ab)`` with raw a*, b* (B, 2, H, W), H, W >= 16. Gradients flow to P_ab only.
    """

    def __init__(self, feature_net: nn.Module | None = None, layer: str = PERCEPTUAL_LAYER,
                 alpha: float = PERCEPTUAL_ALPHA):
        super().__init__()
        if feature_net is None:
            from .grayvgg_weights import grayvgg_small

            feature_net = grayvgg_small()
        feature_net.check_layers([layer])
        if not isinstance(alpha, (int, float)) or isinstance(alpha, bool) or not alpha >= 0:
            raise ValueError(f"alpha must be a non-negative number, got {alpha!r}")
        self.net, self.layer, self.alpha = feature_net.eval(), layer, float(alpha)
        for p in self.net.parameters():
            p.requires_grad_(False)

    def features(self, ab: Tensor) -> Tensor:
        """G_l of the a* and b* channels seen as gray images (input ab + 50): (B, 2 C_l, h_l, w_l)."""
        B = ab.shape[0]
        f = self.net(ab.reshape(B * 2, 1, *ab.shape[-2:]) + 50.0, self.layer)[self.layer]
        return f.reshape(B, 2 * f.shape[1], *f.shape[-2:])

    def forward(self, P_ab: Tensor, GT_ab: Tensor) -> Tensor:
        P_ab, GT_ab = _pair(P_ab, GT_ab, "GT_ab")
        with torch.no_grad():
            target = self.features(GT_ab)
        return self.alpha * (self.features(P_ab) - target).square().sum() / P_ab.shape[0]

    def extra_repr(self) -> str:
        return f"layer={self.layer!r}, alpha={self.alpha}"
