"""Reference recommendation: which exemplar R suits a gray target T? (He et al. 2018, Sec. 4.1.)

The paper retrieves references for training and for its demos by global gray-VGG features (fc6), local
relu5 features and a luminance histogram. Here, from L alone:

    g(I)   = normalise(mean over positions of relu4_1(I_L))          (global semantic descriptor)
    h(I)   = histogram of I_L over ``BINS`` bins of L* in [0, 100], summing to 1
    score(T, R) = cos(g(T), g(R)) - lam * 1/2 ||h(T) - h(R)||_1      (1/2 L1 = total variation, in [0, 1])

Candidates are ranked by decreasing score. Deviations: the convolutional weights have no fc6, so the
global descriptor is a spatial mean of conv features; the local relu5 term is left to the matching itself.
Layer and lam were chosen on 24 held-out scenes (seed ``heldout_seed(5)``) by how much more of the
target's classes (Jaccard) the top 3 share than the average candidate: relu4_1 +0.10 (lam = 0.1; 0.12 at
lam = 0, 0.08 at 0.25), relu5_1 +0.03; the histogram term helps on photos, not in a world whose palettes
share L*.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core import checks
from ..core.color import rgb_to_lab
from ..core.photos import resize_short_side
from .grayvgg import GrayVGG

GLOBAL_LAYER = "relu4_1"
BINS = 32
HIST_WEIGHT = 0.1  # lam


@torch.no_grad()
def global_descriptor(model: GrayVGG, L: Tensor) -> Tensor:
    """g(I) (B, C): the L2-normalised spatial mean of ``GLOBAL_LAYER`` of the luminance L (B, 1, H, W)."""
    L = checks.luminance(L, "L")
    return F.normalize(model(L, [GLOBAL_LAYER])[GLOBAL_LAYER].mean(dim=(2, 3)), dim=1, eps=1e-8)


def luminance_histogram(L: Tensor, bins: int = BINS) -> Tensor:
    """h(I) (B, bins): the fraction of pixels in each of ``bins`` equal bins of L* over [0, 100]."""
    L = checks.luminance(L, "L")
    idx = (L.flatten(1).clamp(0, 100) * (bins / 100.0)).long().clamp(max=bins - 1)
    return F.one_hot(idx, bins).float().mean(1)


@torch.no_grad()
def recommend(model: GrayVGG, target_L: Tensor, candidates_L: Sequence[Tensor],
              hist_weight: float = HIST_WEIGHT) -> list[tuple[int, float]]:
    """Rank candidate references for one target: [(candidate index, score), ...] best first.

    target_L (1, 1, H, W); candidates_L: luminances (1, 1, H_i, W_i) of any sizes."""
    target_L = checks.luminance(target_L, "target_L")
    if target_L.shape[0] != 1:
        raise ValueError(f"target_L must hold one image, got a batch of {target_L.shape[0]}")
    if len(candidates_L) == 0:
        raise ValueError("no candidate references to rank")
    g_T, h_T = global_descriptor(model, target_L), luminance_histogram(target_L)
    scores = []
    for i, L in enumerate(candidates_L):
        L = checks.luminance(L, f"candidates_L[{i}]")
        g_R, h_R = global_descriptor(model, L), luminance_histogram(L)
        scores.append(float((g_T * g_R).sum() - hist_weight * 0.5 * (h_T - h_R).abs().sum()))
    return sorted(enumerate(scores), key=lambda t: (-t[1], t[0]))


def recommend_photos(model: GrayVGG, target: Tensor, candidates: Sequence[Tensor],
                     short_side: int = 256) -> list[tuple[int, float]]:
    """:func:`recommend` on RGB photos (3, H, W) in [0, 1]: each brought to ``short_side`` and ranked by its L*."""
    def L(rgb: Tensor) -> Tensor:
        return rgb_to_lab(resize_short_side(checks.rgb_image(rgb, "photo"), short_side).clamp(0, 1))[None, :1]

    return recommend(model, L(target), [L(c) for c in candidates])
