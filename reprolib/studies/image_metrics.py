"""Image-quality measures of the colorization studies: PSNR, mean CIEDE2000 and Hasler-Suesstrunk
colourfulness, each per image (B,), on sRGB in [0, 1] or CIE Lab."""
from __future__ import annotations

import torch
from torch import Tensor

from ..core import checks, color


def psnr(rgb: Tensor, reference: Tensor) -> Tensor:
    """Per-image PSNR (B,) in dB on sRGB in [0, 1] with peak 1:  PSNR = 10 log10(1 / MSE).

    Identical images (MSE = 0) give +inf.
    """
    rgb, reference = checks.net_input(rgb, 3, "rgb"), checks.net_input(reference, 3, "reference")
    if rgb.shape != reference.shape:
        raise ValueError(f"rgb and reference differ in shape: {tuple(rgb.shape)} vs {tuple(reference.shape)}")
    mse = (rgb.double() - reference.double()).pow(2).mean(dim=(1, 2, 3))
    return (10.0 * torch.log10(1.0 / mse)).float()  # 1 / 0 = inf, log10(inf) = inf


def colorfulness(rgb: Tensor) -> Tensor:
    """Hasler & Suesstrunk 2003 colourfulness (B,) of sRGB images (B, 3, H, W) in [0, 1].

    On R, G, B in 0..255:  rg = R - G,  yb = (R + G) / 2 - B,
    sigma_rgyb = sqrt(sigma_rg^2 + sigma_yb^2),  mu_rgyb = sqrt(mu_rg^2 + mu_yb^2),
    M = sigma_rgyb + 0.3 mu_rgyb  (population standard deviations over the pixels). Gray images: M = 0.
    """
    rgb = checks.net_input(rgb, 3, "rgb").double() * 255.0
    R, G, B = rgb.unbind(1)
    rg, yb = (R - G).flatten(1), (0.5 * (R + G) - B).flatten(1)
    sigma = (rg.var(dim=1, unbiased=False) + yb.var(dim=1, unbiased=False)).sqrt()
    mu = (rg.mean(dim=1) ** 2 + yb.mean(dim=1) ** 2).sqrt()
    return (sigma + 0.3 * mu).float()


def mean_delta_e2000(lab: Tensor, reference_lab: Tensor) -> Tensor:
    """Per-image mean CIEDE2000 (B,) between Lab images (B, 3, H, W)."""
    lab, reference_lab = checks.net_input(lab, 3, "lab"), checks.net_input(reference_lab, 3, "reference_lab")
    if lab.shape != reference_lab.shape:
        raise ValueError(f"lab and reference_lab differ in shape: {tuple(lab.shape)} vs {tuple(reference_lab.shape)}")
    return color.delta_e2000(lab, reference_lab).mean(dim=(-2, -1))


HIS_BINS = 21  # the a*b* histogram of the histogram intersection similarity: 21 x 21 bins over [-110, 110]^2


def ab_histogram(ab: Tensor, bins: int = HIS_BINS) -> Tensor:
    """The normalised 2-D histogram (bins, bins) of the a*b* of an image (2, H, W): a*b* / 110 clipped to
    [-1, 1], bins of equal width, counts summing to 1."""
    if ab.dim() != 3 or ab.shape[0] != 2:
        raise ValueError(f"ab must be shaped (2, H, W), got {tuple(ab.shape)}")
    x = ((ab.float() / 110).clamp(-1, 1) + 1) / 2 * bins
    idx = x.long().clamp(0, bins - 1)
    flat = (idx[0] * bins + idx[1]).flatten()
    return torch.bincount(flat, minlength=bins * bins).float().div(flat.numel()).view(bins, bins)


def histogram_intersection(ab: Tensor, other_ab: Tensor, bins: int = HIS_BINS) -> float:
    """HIS = sum over bins of min(h, h'): the a*b* histograms' overlap, 1 for the same colour distribution, 0 for
    disjoint ones (images of any sizes)."""
    return torch.minimum(ab_histogram(ab, bins), ab_histogram(other_ab, bins)).sum().item()


def bootstrap_interval(values, n: int = 2000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean of ``values`` (resampled ``n`` times with a seeded generator):
    the ``level`` interval over pairs."""
    v = torch.as_tensor(list(values), dtype=torch.float64)
    if v.numel() == 0:
        raise ValueError("no values to bootstrap")
    g = torch.Generator().manual_seed(seed)
    means = v[torch.randint(0, v.numel(), (n, v.numel()), generator=g)].mean(1)
    lo, hi = torch.quantile(means, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)).tolist()
    return lo, hi
