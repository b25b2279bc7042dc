"""Optical flow for video colorization: warping a frame by a flow, occlusion masks, and DIS flow from OpenCV.

Flow convention (backward flow, as VID's temporal loss uses it): ``flow`` (B, 2, H, W) holds, for every pixel p of
frame t, the displacement (dx, dy) in pixels to where p was in frame t-1, so that

    W(x_{t-1}; F_t)(p) = x_{t-1}(p + F_t(p))           (:func:`flow_warp`, bilinear)

is frame t-1 brought onto frame t's grid. M_t (B, 1, H, W), 1 where p is visible in both frames (not occluded,
not out of the picture), 0 elsewhere. On the generated clips of :mod:`.clips` flow and mask are exact; on a real
clip they come from OpenCV's DIS flow (no weights to download, :func:`dis_flow`) and a forward-backward check
(:func:`consistency_mask`), as VID and the blind-video-consistency evaluation do with FlowNet2.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..core import checks

# Forward-backward check (Sundaram et al. 2010, as in fast_blind_video_consistency): occluded where
# |F_fw(p) + F_bw(p + F_fw(p))|^2 > 0.01 (|F_fw|^2 + |F_bw|^2) + 0.5
CONSISTENCY_RELATIVE, CONSISTENCY_ABSOLUTE = 0.01, 0.5


def check_flow(flow: object, name: str = "flow") -> Tensor:
    """``flow`` as a float (B, 2, H, W) tensor without NaN, or one line naming the problem."""
    if not isinstance(flow, Tensor) or flow.dim() != 4 or flow.shape[1] != 2 or not flow.is_floating_point():
        raise ValueError(f"{name} must be a float tensor (B, 2, H, W) of (dx, dy) pixels, got {checks.summary(flow)}")
    if not torch.isfinite(flow).all():
        raise ValueError(f"{name} holds NaN or infinite displacements")
    return flow


def sample_grid(flow: Tensor) -> Tensor:
    """The grid_sample grid (B, H, W, 2) of p + flow(p), normalised with align_corners=False."""
    B, _, H, W = flow.shape
    ys, xs = torch.meshgrid(torch.arange(H, dtype=flow.dtype, device=flow.device),
                            torch.arange(W, dtype=flow.dtype, device=flow.device), indexing="ij")
    x = (xs + flow[:, 0] + 0.5) * (2 / W) - 1
    y = (ys + flow[:, 1] + 0.5) * (2 / H) - 1
    return torch.stack((x, y), dim=-1)


def flow_warp(x: Tensor, flow: Tensor) -> Tensor:
    """W(x; F)(p) = x(p + F(p)), bilinear, border values outside the picture: x (B, C, H, W) of frame t-1 onto the
    grid of frame t, flow (B, 2, H, W) the backward flow of frame t (:mod:`.flow`'s convention)."""
    flow = check_flow(flow)
    if x.dim() != 4 or x.shape[0] != flow.shape[0] or x.shape[-2:] != flow.shape[-2:]:
        raise ValueError(f"x {checks.summary(x)} and flow {checks.summary(flow)} must share batch, height and width")
    return F.grid_sample(x, sample_grid(flow.to(x.dtype)), mode="bilinear", padding_mode="border",
                         align_corners=False)


def inside_mask(flow: Tensor) -> Tensor:
    """(B, 1, H, W): 1 where p + F(p) lies inside the picture."""
    B, _, H, W = flow.shape
    ys, xs = torch.meshgrid(torch.arange(H, device=flow.device), torch.arange(W, device=flow.device), indexing="ij")
    x, y = xs + flow[:, 0], ys + flow[:, 1]
    return ((x >= 0) & (x <= W - 1) & (y >= 0) & (y <= H - 1)).float()[:, None]


def consistency_mask(flow_bw: Tensor, flow_fw: Tensor) -> Tensor:
    """M_t (B, 1, H, W) from the backward flow of frame t (t -> t-1) and the forward flow of frame t-1 (t-1 -> t):
    visible where going back then forth returns to p (``CONSISTENCY_*``) and p + F_bw(p) is in the picture."""
    flow_bw, flow_fw = check_flow(flow_bw, "flow_bw"), check_flow(flow_fw, "flow_fw")
    back = flow_warp(flow_fw, flow_bw)  # F_fw at p + F_bw(p)
    loop = ((flow_bw + back) ** 2).sum(1, keepdim=True)
    bound = CONSISTENCY_RELATIVE * ((flow_bw ** 2).sum(1, keepdim=True) + (back ** 2).sum(1, keepdim=True))
    return (loop <= bound + CONSISTENCY_ABSOLUTE).float() * inside_mask(flow_bw)


def _gray8(L: Tensor) -> np.ndarray:
    """L* (1, H, W) or (H, W) in [0, 100] as the uint8 image DIS reads."""
    L = checks.luminance(L.reshape(1, 1, *L.shape[-2:]), "L")[0, 0]
    return np.ascontiguousarray((L.clamp(0, 100) * 2.55).round().to(torch.uint8).cpu().numpy())


def dis_flow(L_from: Tensor, L_to: Tensor) -> Tensor:
    """OpenCV's DIS optical flow (preset MEDIUM, no learned weights) from frame ``L_from`` to ``L_to`` (L* maps
    (1, H, W)): (1, 2, H, W) with, for each pixel p of ``L_from``, the displacement to its place in ``L_to``.
    The backward flow F_t of frame t is ``dis_flow(L_t, L_{t-1})``."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    flow = dis.calc(_gray8(L_from), _gray8(L_to), None)  # (H, W, 2) float32 (dx, dy)
    return torch.from_numpy(flow).permute(2, 0, 1)[None].float()


def estimated_flow(L_t: Tensor, L_prev: Tensor) -> tuple[Tensor, Tensor]:
    """F_t and M_t estimated from luminance alone (what the temporal methods may read at inference): the DIS
    backward flow t -> t-1, and the forward-backward :func:`consistency_mask`."""
    flow_bw = dis_flow(L_t, L_prev)
    return flow_bw, consistency_mask(flow_bw, dis_flow(L_prev, L_t))


def clip_flows(L: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`estimated_flow` for every frame of a clip's L* (T, 1, H, W): F_t (T, 2, H, W) and M_t (T, 1, H, W),
    frame 0's zero (it has no previous frame)."""
    flow, mask = torch.zeros(len(L), 2, *L.shape[-2:]), torch.zeros(len(L), 1, *L.shape[-2:])
    for t in range(1, len(L)):
        flow[t], mask[t] = (x[0] for x in estimated_flow(L[t], L[t - 1]))
    return flow, mask
