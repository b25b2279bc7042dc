"""Measurements on the synthetic world, where every pixel's class is known.

``nn_label_agreement``: do gray-VGG features computed from L alone find semantically corresponding
pixels? This is what the paper needs from its gray-VGG-19 before any PatchMatch or colorization: the
nearest neighbour of a target feature in the reference should lie on the same kind of thing.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from . import scenes
from .color import lab_to_rgb, rgb_to_lab
from .features import GrayVGG
from .matching import exact_nn, warp
from .photos import resize_short_side
from .train import heldout_seed

DEFAULT_LAYER = "relu3_1"


@torch.no_grad()
def nearest_neighbours(model: GrayVGG, target_L: Tensor, reference_L: Tensor, layer: str = DEFAULT_LAYER) -> Tensor:
    """phi_T->R at pixel resolution: for each target pixel, the reference pixel with the most similar features.

    F = features of ``layer`` computed from L only, upsampled bilinearly to pixel resolution
    (align_corners=False; as DEC samples every layer at every pixel), compared by cosine similarity:

        phi_T->R(p) = argmax_q  cos(F_T(p), F_R(q))       (matching.exact_nn over all pixels q)

    target_L (B, 1, H, W) and reference_L (B, 1, H_R, W_R) are L* images; returns the field (B, 2, H, W)
    of (y, x) pixel indices into R (the convention of :mod:`reprolib.matching`).
    """
    if target_L.shape[0] != reference_L.shape[0]:
        raise ValueError(f"target and reference batches differ: {target_L.shape[0]} and {reference_L.shape[0]}")

    def pixel_features(L: Tensor) -> Tensor:
        return F.interpolate(model(L, [layer])[layer], size=L.shape[-2:], mode="bilinear", align_corners=False)

    phi, _ = exact_nn(pixel_features(target_L), pixel_features(reference_L))
    return phi


@torch.no_grad()
def nn_label_agreement(model: GrayVGG, n_pairs: int = 32, layer: str = DEFAULT_LAYER, seed: int = 0,
                       size: int = 64, chunk: int = 4) -> float:
    """Fraction of target pixels whose cosine nearest neighbour in the reference has the same class.

    Over the (target T, reference R) pairs of ``scenes.sample_pairs`` (held-out seed range, so never seen
    in training) and all target pixels p, with nn from :func:`nearest_neighbours`:

        agreement = mean_p [ label_R(nn(p)) == label_T(p) ]

    ``chance_agreement`` gives the level of matching every pixel to a uniformly random reference pixel.
    """
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be >= 1, got {n_pairs}")
    was_training = model.training
    model.eval()
    target, reference = scenes.sample_pairs(heldout_seed(seed), n_pairs, size)
    agree = 0
    for i in range(0, n_pairs, chunk):
        t, r = target[i:i + chunk], reference[i:i + chunk]
        found = warp(r.labels[:, None], nearest_neighbours(model, t.L, r.L, layer))
        agree += (found[:, 0] == t.labels).sum().item()
    model.train(was_training)
    return agree / (n_pairs * size * size)


def chance_agreement(n_pairs: int = 32, seed: int = 0, size: int = 64) -> float:
    """Expected nn_label_agreement of a matcher that picks a uniformly random reference pixel:
    mean over pairs of sum_c P_T(c) P_R(c), P the class frequencies of target and reference."""
    target, reference = scenes.sample_pairs(heldout_seed(seed), n_pairs, size)
    C = len(scenes.CLASSES)
    pt, pr = (F.one_hot(s.labels.flatten(1), C).float().mean(1) for s in (target, reference))
    return (pt * pr).sum(1).mean().item()


@torch.no_grad()
def nn_colour_transfer(model: GrayVGG, target_rgb: Tensor, reference_rgb: Tensor, layer: str = DEFAULT_LAYER,
                       short_side: int = 64) -> Tensor:
    """Colour a target photo from a reference by nearest-neighbour feature matching alone: (T_L, R'_ab).

    Both photos (3, H, W) are resized to ``short_side``; R'_ab(p) = R_ab(nn(p)) with nn from
    :func:`nearest_neighbours`. No similarity network, no colorization network: just the matching step.
    Returns the sRGB result (3, h, w) at the reduced size.
    """
    t, r = (rgb_to_lab(resize_short_side(x, short_side))[None] for x in (target_rgb, reference_rgb))
    warped_ab = warp(r[:, 1:], nearest_neighbours(model, t[:, :1], r[:, :1], layer))
    return lab_to_rgb(torch.cat((t[:, :1], warped_ab), dim=1))[0]
