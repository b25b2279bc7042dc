"""Global colour transfer from a reference to a gray target: the baselines that exemplar matching must beat.

    tint:                  P_ab(p) = mean_q R_ab(q)                                       (one colour everywhere)
    reinhard (on a gray target):                                        Reinhard et al. 2001, mean/std in Lab
                           L'_T(p) = (sigma_R / sigma_T) (T_L(p) - mu_T) + mu_R            (luminance remapping)
                           P_ab(p) = E[R_ab(q) | R_L(q) ~ L'_T(p)]                         (a global map L* -> a*b*)

Reinhard's transfer moves each channel's mean and standard deviation; on a gray target (a* = b* = 0, sigma = 0)
its a*b* part is the tint. So for colorization the classical reading is Welsh's pre-step: remap the luminance,
then give every pixel the reference's colour at that luminance; here the mean a*b* of the reference pixels in
the same L* bin (``BINS`` bins, smoothed along L*; a bin no reference pixel reaches takes the nearest one's).
Neither looks at position or texture: they show what the reference's palette alone is worth. Welsh et al. 2002
(:mod:`.welsh`) adds texture.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core import checks

BINS = 32  # L* bins of the luminance -> a*b* map
SMOOTH = 2  # bins of the triangular kernel that fills and smooths the map


@torch.no_grad()
def tint(T_L: Tensor, R_lab: Tensor) -> Tensor:
    """P_ab (B, 2, H, W): the reference's mean a*b* everywhere; T_L (B, 1, H, W), R_lab (B, 3, H', W')."""
    T_L, R_lab = checks.net_input(T_L, 1, "T_L"), checks.net_input(R_lab, 3, "R_lab")
    return R_lab[:, 1:].mean(dim=(-2, -1), keepdim=True).expand(-1, -1, *T_L.shape[-2:]).clone()


def _ab_by_luminance(R_lab: Tensor, bins: int) -> Tensor:
    """(B, 2, bins): the mean a*b* of the reference pixels in each L* bin of 0..100, smoothed along L* by a
    triangular kernel of ``SMOOTH`` bins (weighted by counts, so empty bins take their neighbours' colour)."""
    B = R_lab.shape[0]
    idx = (R_lab[:, 0].flatten(1) / 100 * bins).long().clamp(0, bins - 1)
    counts = torch.zeros(B, bins).scatter_add_(1, idx, torch.ones_like(idx, dtype=torch.float32))
    sums = torch.zeros(B, 2, bins).scatter_add_(2, idx[:, None].expand(-1, 2, -1), R_lab[:, 1:].flatten(2).float())
    k = torch.cat((torch.arange(1, SMOOTH + 2), torch.arange(SMOOTH, 0, -1))).float()
    kernel = (k / k.sum()).view(1, 1, -1)

    def smooth(x: Tensor) -> Tensor:
        return F.conv1d(x.reshape(-1, 1, bins), kernel, padding=SMOOTH).reshape(x.shape)

    weight = smooth(counts[:, None])  # (B, 1, bins)
    table = smooth(sums) / weight.clamp_min(1e-6)
    centres = torch.arange(bins, dtype=torch.float32)
    for b in range(B):  # a bin that no reference pixel reaches takes the nearest bin that one does
        valid = (weight[b, 0] > 1e-6).nonzero().flatten()
        nearest = valid[(centres[:, None] - valid[None].float()).abs().argmin(1)]
        table[b] = table[b][:, nearest]
    return table


@torch.no_grad()
def reinhard(T_L: Tensor, R_lab: Tensor, bins: int = BINS) -> Tensor:
    """P_ab (B, 2, H, W) by Reinhard's luminance remapping and the reference's mean a*b* at each remapped L*
    (module docstring); T_L (B, 1, H, W), R_lab (B, 3, H', W')."""
    T_L, R_lab = checks.net_input(T_L, 1, "T_L"), checks.net_input(R_lab, 3, "R_lab")
    mu_T, sd_T = T_L.mean(dim=(-3, -2, -1), keepdim=True), T_L.std(dim=(-3, -2, -1), keepdim=True)
    R_L = R_lab[:, :1]
    mu_R, sd_R = R_L.mean(dim=(-3, -2, -1), keepdim=True), R_L.std(dim=(-3, -2, -1), keepdim=True)
    L = ((T_L - mu_T) * sd_R / sd_T.clamp_min(1e-6) + mu_R).clamp(0, 100)
    table = _ab_by_luminance(R_lab, bins)  # (B, 2, bins)
    idx = (L.flatten(1) / 100 * bins).long().clamp(0, bins - 1)  # (B, HW)
    return table.gather(2, idx[:, None].expand(-1, 2, -1)).view(T_L.shape[0], 2, *T_L.shape[-2:])
