"""How a coloured clip is judged: temporal consistency beside fidelity and colour, since a gray clip is perfectly
consistent.

    warp error  E_warp = mean_t  sum_p M_t(p) |W(O^{t-1}; F_t)(p) - O^t(p)|^2 / sum_p M_t(p)      (sRGB in [0, 1],
                the squared difference summed over R, G, B; fast_blind_video_consistency's evaluate_WarpError.py)
    CDC         = mean_{d in 1, 2, 4} mean_i mean_{c in R, G, B} JS(h_c(O^i), h_c(O^{i+d}))    (256-bin histograms;
                TCVC's colour distribution consistency)
    CIEDE2000   the mean per-frame CIEDE2000 to the truth;   colourfulness: Hasler-Suesstrunk, mean over frames

With exact flow (generated clips) the warp error measures the method; with estimated flow (the real clip) it
also counts the flow's own errors, the same for every method.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..core.color import rgb_to_lab
from ..studies.image_metrics import colorfulness, mean_delta_e2000
from .flow import flow_warp

CDC_STEPS = (1, 2, 4)
CDC_BINS = 256


def warp_error(rgb: Tensor, flow: Tensor, mask: Tensor) -> float:
    """E_warp of frames ``rgb`` (T, 3, H, W) in [0, 1] under the backward flows ``flow`` (T, 2, H, W) and masks
    ``mask`` (T, 1, H, W) of :mod:`.clips` (frame 0's are unused)."""
    if len(rgb) < 2:
        raise ValueError("the warp error needs at least 2 frames")
    warped = flow_warp(rgb[:-1].double(), flow[1:].double())
    se = ((warped - rgb[1:].double()) ** 2).sum(1, keepdim=True) * mask[1:]
    return float((se.sum(dim=(1, 2, 3)) / mask[1:].sum(dim=(1, 2, 3)).clamp(min=1)).mean())


def _histograms(rgb: Tensor, bins: int = CDC_BINS) -> Tensor:
    """(T, 3, bins) normalised histograms of each channel of 8-bit frames."""
    q = (rgb.clamp(0, 1) * 255).round().long().clamp(max=bins - 1)
    hist = torch.zeros(*q.shape[:2], bins, dtype=torch.float64)
    hist.scatter_add_(2, q.flatten(2), torch.ones(q.flatten(2).shape, dtype=torch.float64))
    return hist / hist.sum(-1, keepdim=True)


def _js(p: Tensor, q: Tensor) -> Tensor:
    """Jensen-Shannon divergence (natural log) along the last axis."""
    m = (p + q) / 2

    def kl(a: Tensor) -> Tensor:
        return torch.where(a > 0, a * (a.clamp(min=1e-300) / m.clamp(min=1e-300)).log(), torch.zeros_like(a)).sum(-1)

    return (kl(p) + kl(q)) / 2


def cdc(rgb: Tensor, steps: tuple[int, ...] = CDC_STEPS) -> float:
    """CDC of frames ``rgb`` (T, 3, H, W): the mean over ``steps`` d of the mean JS divergence between the channel
    histograms of frames i and i + d (steps longer than the clip are left out)."""
    hist = _histograms(rgb)
    terms = [_js(hist[:-d], hist[d:]).mean() for d in steps if d < len(rgb)]
    if not terms:
        raise ValueError("CDC needs at least 2 frames")
    return float(torch.stack(terms).mean())


def clip_scores(rgb: Tensor, truth: Tensor, flow: Tensor, mask: Tensor) -> dict[str, float]:
    """The four measures of a coloured clip ``rgb`` against its ``truth`` (T, 3, H, W): "ciede2000" (mean over
    frames), "warp_error" (x 1000), "cdc" (x 1000), "colourfulness" (mean over frames)."""
    return {"ciede2000": float(mean_delta_e2000(rgb_to_lab(rgb), rgb_to_lab(truth)).mean()),
            "warp_error": 1000 * warp_error(rgb, flow, mask),
            "cdc": 1000 * cdc(rgb),
            "colourfulness": float(colorfulness(rgb).mean())}
