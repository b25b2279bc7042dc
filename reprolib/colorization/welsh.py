"""Welsh, Ashikhmin & Mueller 2002, "Transferring color to greyscale images": the classic exemplar
colorization baseline of DEC's comparisons (a global transfer by luminance statistics, no semantics).

    L'_R = (sigma_T / sigma_R) (L_R - mu_R) + mu_T                             (luminance remapping)
    s*(p) = argmin_s  w (L_T(p) - L'_R(s))^2 + (1 - w) (sd_T(p) - sd'_R(s))^2    (over ~200 jittered samples)
    P_ab(p) = R_ab(s*(p)),   P_L = T_L

Where we deviate: CIE Lab instead of Ruderman's l-alpha-beta space (the space of the rest of the project).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core import checks

WELSH_SAMPLES = 200  # Welsh et al.: "about 200 samples" by jittered sampling
WELSH_NEIGHBOURHOOD = 5  # 5 x 5 neighbourhood statistics
WELSH_WEIGHT = 0.5  # weight of the luminance term (the std term gets 1 - weight): Welsh's 50/50
_CHUNK = 1 << 22  # target pixels x samples per distance block


def _local_std(L: Tensor, k: int) -> Tensor:
    """Standard deviation of L over the k x k neighbourhood of every pixel (reflected borders):
    sd = sqrt(E[L^2] - E[L]^2)."""
    pad = k // 2
    Lp = F.pad(L, (pad, pad, pad, pad), mode="replicate")
    mean = F.avg_pool2d(Lp, k, stride=1)
    mean2 = F.avg_pool2d(Lp * Lp, k, stride=1)
    return (mean2 - mean * mean).clamp_min(0.0).sqrt()


def _jittered_grid(n: int, h: int, w: int, samples: int, g: torch.Generator) -> Tensor:
    """(n, S) flat pixel indices: one uniform random pixel in each cell of a gy x gx grid, gy gx ~ samples."""
    gy = max(1, min(h, round(math.sqrt(samples * h / w))))
    gx = max(1, min(w, round(samples / gy)))
    ey = torch.linspace(0, h, gy + 1)
    ex = torch.linspace(0, w, gx + 1)
    uy, ux = torch.rand(n, gy, gx, generator=g), torch.rand(n, gy, gx, generator=g)
    y = (ey[:-1].view(1, gy, 1) + uy * (ey[1:] - ey[:-1]).view(1, gy, 1)).floor().long().clamp(0, h - 1)
    x = (ex[:-1].view(1, 1, gx) + ux * (ex[1:] - ex[:-1]).view(1, 1, gx)).floor().long().clamp(0, w - 1)
    return (y * w + x).flatten(1)


@torch.no_grad()
def welsh(T_L: Tensor, R_lab: Tensor, samples: int = WELSH_SAMPLES, neighbourhood: int = WELSH_NEIGHBOURHOOD,
          weight: float = WELSH_WEIGHT, seed: int = 0) -> Tensor:
    """Welsh, Ashikhmin & Mueller 2002 global colour transfer to a gray image; returns P_ab (B, 2, H, W).

    1. Luminance remapping of the reference to the target's statistics:
       L'_R = (sigma_T / sigma_R) (L_R - mu_R) + mu_T.
    2. Jittered sampling: ~``samples`` reference pixels, one uniformly at random in each cell of a grid.
    3. Per target pixel p, the sample s minimising the weighted match of luminance and neighbourhood
       standard deviation (``neighbourhood`` x ``neighbourhood``):
       d(p, s) = w (L_T(p) - L'_R(s))^2 + (1 - w) (sd_T(p) - sd'_R(s))^2,   w = ``weight`` (Welsh: 50/50).
    4. Copy its chrominance: P_ab(p) = R_ab(s*); P_L = T_L.
    Welsh et al. work in Ruderman's l-alpha-beta space; here we use CIE Lab (L*, a*, b*), the space of
    the rest of the project. Deterministic for a given ``seed`` (own torch.Generator).

    T_L: (B, 1, H, W) L* in [0, 100]; R_lab: (B, 3, H', W') reference Lab (any size).
    """
    T_L = checks.net_input(T_L, 1, "T_L")
    R_lab = checks.net_input(R_lab, 3, "R_lab")
    if R_lab.shape[0] != T_L.shape[0]:
        raise ValueError(f"T_L and R_lab batches differ: {T_L.shape[0]} vs {R_lab.shape[0]}")
    samples = checks.int_at_least(samples, "samples")
    neighbourhood = checks.int_at_least(neighbourhood, "neighbourhood")
    if neighbourhood % 2 == 0:
        raise ValueError(f"neighbourhood must be odd, got {neighbourhood}")
    checks.number_in(weight, "weight", 0.0, 1.0)
    B, _, H, W = T_L.shape
    h, w = R_lab.shape[-2:]
    T_L, R_lab = T_L.float(), R_lab.float()
    R_L, R_ab = R_lab[:, :1], R_lab[:, 1:]
    mu_T, sd_T = T_L.mean(dim=(1, 2, 3), keepdim=True), T_L.std(dim=(1, 2, 3), unbiased=False, keepdim=True)
    mu_R, sd_R = R_L.mean(dim=(1, 2, 3), keepdim=True), R_L.std(dim=(1, 2, 3), unbiased=False, keepdim=True)
    R_L = (sd_T / sd_R.clamp_min(1e-6)) * (R_L - mu_R) + mu_T  # luminance remapping
    g = torch.Generator().manual_seed(int(seed))
    idx = _jittered_grid(B, h, w, samples, g).to(T_L.device)  # (B, S)
    S = idx.shape[1]
    feat_R = torch.stack((R_L.flatten(1), _local_std(R_L, neighbourhood).flatten(1)), dim=-1)  # (B, h w, 2)
    feat_R = feat_R.gather(1, idx.unsqueeze(-1).expand(-1, -1, 2))  # (B, S, 2)
    ab_R = R_ab.flatten(2).gather(2, idx.unsqueeze(1).expand(-1, 2, -1))  # (B, 2, S)
    feat_T = torch.stack((T_L.flatten(1), _local_std(T_L, neighbourhood).flatten(1)), dim=-1)  # (B, H W, 2)
    scale = torch.tensor([weight, 1.0 - weight], device=T_L.device).sqrt()
    feat_R, feat_T = feat_R * scale, feat_T * scale  # squared distance of scaled features = d(p, s)
    best = torch.empty(B, H * W, dtype=torch.long, device=T_L.device)
    step = max(1, _CHUNK // (B * S))
    for i in range(0, H * W, step):
        best[:, i:i + step] = torch.cdist(feat_T[:, i:i + step], feat_R).argmin(dim=-1)
    return ab_R.gather(2, best.unsqueeze(1).expand(-1, 2, -1)).view(B, 2, H, W)

