"""Measurements on the synthetic world, where every pixel's class is known.

``nn_label_agreement``: do gray-VGG features computed from L alone find semantically corresponding
pixels? This is what the paper needs from its gray-VGG-19 before any PatchMatch or colorization: the
nearest neighbour of a target feature in the reference should lie on the same kind of thing.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import scenes
from .features import GrayVGG
from .train import heldout_seed

DEFAULT_LAYER = "relu3_1"


@torch.no_grad()
def nn_label_agreement(model: GrayVGG, n_pairs: int = 32, layer: str = DEFAULT_LAYER, seed: int = 0,
                       size: int = 64, chunk: int = 4) -> float:
    """Fraction of target pixels whose cosine nearest neighbour in the reference has the same class.

    For each (target T, reference R) pair of ``scenes.sample_pairs`` (held-out seed range, so never seen
    in training), F = features of ``layer`` computed from L only, upsampled bilinearly to pixel resolution
    (align_corners=False; as DEC samples every layer at every pixel) and L2-normalised over channels:

        nn(p) = argmax_q  <F_T(p), F_R(q)>,     agreement = mean_p [ label_R(nn(p)) == label_T(p) ]

    over all target pixels p and all reference pixels q. ``chance_agreement`` gives the level of
    matching every pixel to a uniformly random reference pixel.
    """
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be >= 1, got {n_pairs}")
    was_training = model.training
    model.eval()
    target, reference = scenes.sample_pairs(heldout_seed(seed), n_pairs, size)
    agree = 0
    for i in range(0, n_pairs, chunk):
        t, r = target[i:i + chunk], reference[i:i + chunk]
        ft, fr = (F.normalize(F.interpolate(model(s.L, [layer])[layer], size=(size, size), mode="bilinear",
                                            align_corners=False).flatten(2), dim=1) for s in (t, r))
        nn = torch.bmm(ft.transpose(1, 2), fr).argmax(dim=2).cpu()  # (b, HW): index of the best reference pixel
        agree += (r.labels.flatten(1).gather(1, nn) == t.labels.flatten(1)).sum().item()
    model.train(was_training)
    return agree / (n_pairs * size * size)


def chance_agreement(n_pairs: int = 32, seed: int = 0, size: int = 64) -> float:
    """Expected nn_label_agreement of a matcher that picks a uniformly random reference pixel:
    mean over pairs of sum_c P_T(c) P_R(c), P the class frequencies of target and reference."""
    target, reference = scenes.sample_pairs(heldout_seed(seed), n_pairs, size)
    C = len(scenes.CLASSES)
    pt, pr = (F.one_hot(s.labels.flatten(1), C).float().mean(1) for s in (target, reference))
    return (pt * pr).sum(1).mean().item()
