"""Knowing when a match is wrong: a confidence from the similarity maps, and a fallback where it is low.

A reference of the same scene has a counterpart for every target position; another photo has one for some (sky
for sky) and none for the rest, and there the warp R'_ab paints whatever the nearest feature happened to be (a
red bowl in a sky). DEC's answer is its perceptual branch: a colorization sub-net trained mostly on references of
*other* photos learns where not to trust them and falls back to colours learned from photos. Ours, without more
training:

    c(p)    = box_r( cos(F_T(p), F_R(phi_T->R(p))) )   on the coarse hypercolumn relu4_1 + relu5_1      in [0, 1]
    rho     = mean_p c(p)                                                              how related T and R are
    w(p)    = max( ramp(rho; rho_0, rho_1), ramp(c(p); c_0, c_1) ),    ramp(x; a, b) = clamp((x - a) / (b - a), 0, 1)
    P_ab(p) = P'_ab(p) (w(p) + (1 - w(p)) s)                                           the hedged prediction

with P'_ab the Chooser's prediction, cos the match's own cosine (``Matched.cosine`` of the Chooser's coarse
matcher: semantic layers, and a mirrored candidate's own cosine where it won) and s the chroma kept where the match
is not trusted. On the development pairs, rho is 0.74-0.91 for "same scene" pairs (mirrored or not) and 0.44-0.69
for other photos, so A and B keep the Chooser's output, and from another photo the colours are kept where the
match is close and halved elsewhere: the cheaper error where the reference says nothing, at the price of
colourfulness. (The similarity maps' sim_T<->R separates the two as well, but not for a mirrored reference: its
round trip phi_R->T has no mirrored candidates, so a mirrored match looks untrusted.)

Where we deviate from DEC: no learned fallback (a perceptual branch needs the data to learn photo colours); the
fallback is less chroma, chosen on the development pairs (``photo_pairs.DEVELOPMENT_PHOTOS`` and the training
photos; never the photos that measure it, ``studies.photo_tiers``): the ramps were the best of a small grid for the
mean CIEDE2000 of the different-photo pairs, among those that left the same-scene pairs within 1 % of the
unhedged Chooser, the best for VGG-16 and within 1 % of the best for the student (different-photo pairs, student /
VGG-16: 16.6 / 16.3 -> 15.2 / 15.4 same kind, 18.0 / 16.3 -> 16.0 / 15.8 other kind; gray: 14.8, 14.2).
s = 0.5 is a choice, not the grid's (the grid's best s is 0: a gray image wherever the match is doubtful, which a
user asked for colour does not want). Measured: results.json["photo_tiers"], rows "chooser"
(unhedged) and "hedged".
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

CONFIDENCE_FIELD = 2  # the Chooser's coarse matcher (relu4_1 + relu5_1, chooser.FIELDS[2]): its cosines are c's
RADIUS = 8  # px of the box filter that averages the confidence over a neighbourhood
RELATED = (0.60, 0.70)  # rho_0, rho_1
TRUSTED = (0.70, 0.90)  # c_0, c_1
KEEP = 0.5  # s


def match_confidence(cosine: Tensor, radius: int = RADIUS) -> Tensor:
    """c(p) (B, 1, H, W): a match's cosines (B, 1, H, W) clamped to [0, 1] and averaged over a (2 radius + 1)^2
    box."""
    if cosine is None or cosine.dim() != 4 or cosine.shape[1] != 1:
        got = "None" if cosine is None else tuple(cosine.shape)
        raise ValueError(f"the confidence reads an exact match's cosines (B, 1, H, W) (Matched.cosine), got {got}")
    c = cosine.clamp(0, 1)
    k = 2 * radius + 1
    return F.avg_pool2d(F.pad(c, (radius,) * 4, mode="replicate"), k, stride=1) if radius else c


def ramp(x: Tensor, low: float, high: float) -> Tensor:
    """clamp((x - low) / (high - low), 0, 1)."""
    if not high > low:
        raise ValueError(f"a ramp needs high > low, got {low} and {high}")
    return ((x - low) / (high - low)).clamp(0, 1)


def trust(cosine: Tensor, related: tuple[float, float] = RELATED, trusted: tuple[float, float] = TRUSTED) -> Tensor:
    """w(p) (B, 1, H, W) = max(ramp(rho), ramp(c(p))) from a match's cosines (module docstring)."""
    c = match_confidence(cosine)
    rho = c.mean(dim=(-2, -1), keepdim=True)
    return torch.maximum(ramp(rho, *related), ramp(c, *trusted))


def hedge(P_ab: Tensor, cosine: Tensor, keep: float = KEEP) -> Tensor:
    """P_ab (w + (1 - w) s): ``P_ab`` (B, 2, H, W) the prediction to hedge, ``cosine`` (B, 1, H, W) the
    coarse matcher's cosines at the same size (``Matched.cosine``), ``keep`` = s."""
    w = trust(cosine).to(P_ab)
    return P_ab * (w + (1 - w) * keep)
