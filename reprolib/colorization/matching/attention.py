"""Soft attention, the video follow-up's differentiable alternative to phi_T->R (VID, CVPR 2019):

    warped(p) = sum_q softmax_q(cos(F_T(p), F_R(q)) / tau) values_R(q),     confidence(p) = max_q cos

on :func:`vid_features` (relu2_2 ... relu5_2, each L2-normalised, at 1/4 of the image, concatenated);
tau = 0.01 in VID's training, near argmax.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ...core import checks
from ..grayvgg import VID_LAYERS
from .fields import DEFAULT_CHUNK, EPS, rows_per_block

ATTENTION_STRIDE = 4  # VID matches at 1/4 of the image
ATTENTION_TAU = 0.01  # VID's softmax temperature


def attention_warp(F_T: Tensor, F_R: Tensor, values_R: Tensor, tau: float = 0.01,
                   chunk: int = DEFAULT_CHUNK) -> tuple[Tensor, Tensor]:
    """Soft correspondence of the video follow-up (VID): a differentiable alternative to phi_T->R.

        warped(p) = sum_q softmax_q(cos(F_T(p), F_R(q)) / tau) values_R(q),   confidence(p) = max_q cos

    F_T (B, C, h, w), F_R (B, C, h', w'); values_R (B, V, h', w') on R's FEATURE grid (VID brings features
    and ab to 1/4 resolution; downsample R_ab to F_R's size first). Chunked over target positions like
    :func:`exact_nn` (and differentiable; at most ``BLOCK`` similarities per block). tau -> 0 gives exact NN's
    warp. Returns warped (B, V, h, w) and confidence (B, h, w).
    """
    F_T, F_R = checks.feature_pair(F_T, F_R)
    chunk = checks.positive_int(chunk, "chunk")
    if not isinstance(values_R, Tensor) or values_R.dim() not in (3, 4) or values_R.numel() == 0:
        raise ValueError(f"values_R must be a non-empty tensor (B, V, h', w'), got {checks.summary(values_R)}")
    if values_R.dim() == 3:
        values_R = values_R.unsqueeze(0)
    if values_R.shape[0] != F_R.shape[0] or values_R.shape[-2:] != F_R.shape[-2:]:
        raise ValueError(f"values_R {tuple(values_R.shape)} must share batch and grid with F_R {tuple(F_R.shape)}")
    if not isinstance(tau, (int, float)) or isinstance(tau, bool) or not tau > 0:
        raise ValueError(f"tau must be a positive number, got {tau!r}")
    warped, conf, _ = soft_attention(F_T, F_R, values_R, tau, chunk)
    return warped, conf


def soft_attention(F_T: Tensor, F_R: Tensor, values_R: Tensor, tau: float = ATTENTION_TAU,
              chunk: int = DEFAULT_CHUNK) -> tuple[Tensor, Tensor, Tensor]:
    """:func:`attention_warp` without the checks: warped values (B, V, h, w), confidence (B, h, w), and the
    argmax field phi_T->R (B, 2, h, w) (what tau -> 0 gives)."""
    B, _, h, w = F_T.shape
    w_R = F_R.shape[-1]
    ft = F.normalize(F_T.flatten(2), dim=1, eps=EPS)
    fr = F.normalize(F_R.flatten(2), dim=1, eps=EPS)
    vals = values_R.flatten(2).to(F_T.dtype)  # (B, V, M)
    chunk = rows_per_block(chunk, fr.shape[-1])  # memory bounded at any size (2 blocks: s and its softmax)
    out, conf, index = [], [], []
    for b in range(B):
        ob, cb, ib = [], [], []
        for i in range(0, h * w, chunk):
            s = ft[b, :, i:i + chunk].T @ fr[b]  # (k, M)
            ob.append(torch.softmax(s / tau, dim=1) @ vals[b].T)  # (k, V)
            best, arg = s.max(dim=1)
            cb.append(best)
            ib.append(arg)
        out.append(torch.cat(ob).T)
        conf.append(torch.cat(cb))
        index.append(torch.cat(ib))
    idx = torch.stack(index)
    phi = torch.stack((idx // w_R, idx % w_R), dim=1).view(B, 2, h, w)
    return torch.stack(out).view(B, -1, h, w), torch.stack(conf).view(B, h, w), phi


def vid_features(feats: Mapping[str, Tensor], size: tuple[int, int], layers: Sequence[str] = VID_LAYERS) -> Tensor:
    """The video follow-up's matching features: each layer of ``layers`` (relu2_2 ... relu5_2) L2-normalised
    over channels, resized bilinearly to ``size`` (1/4 of the image in VID), concatenated over channels and
    divided by sqrt(number of layers), so that cosine = mean over layers of the per-layer cosines."""
    missing = [k for k in layers if k not in feats]
    if missing:
        raise ValueError(f"layers {missing} are missing from the feature pyramid (it has {list(feats)})")
    parts = [F.interpolate(F.normalize(checks.features(feats[k], f"feats[{k!r}]"), dim=1, eps=EPS), size=size,
                           mode="bilinear", align_corners=False) for k in layers]
    return torch.cat(parts, dim=1) / len(layers) ** 0.5

