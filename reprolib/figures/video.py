"""Figures of notebook 06: colour over time, per method (why frames flicker)."""
from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from ..core.color import rgb_to_lab
from ..video.flow import flow_warp


def frame_changes(rgb: Tensor, flow: Tensor, mask: Tensor) -> Tensor:
    """(T - 1,) the mean a*b* change |ab_t - W(ab_{t-1}; F_t)| over the pixels visible in both frames: what
    flicker is, frame by frame (the truth's is what the camera's resampling leaves)."""
    ab = rgb_to_lab(rgb)[:, 1:]
    diff = (ab[1:] - flow_warp(ab[:-1], flow[1:])).norm(dim=1, keepdim=True) * mask[1:]
    return diff.sum(dim=(1, 2, 3)) / mask[1:].sum(dim=(1, 2, 3)).clamp(min=1)


def track_point(point: tuple[int, int], flow: Tensor) -> Tensor:
    """(T, 2) the (x, y) of frame 0's pixel ``point`` (y, x) in every frame, following the backward flows (T, 2,
    H, W): p_t = p_{t-1} - F_t(p_{t-1}) (exact for a pan, close for a smooth flow)."""
    H, W = flow.shape[-2:]
    where = [torch.tensor([float(point[1]), float(point[0])])]
    for t in range(1, flow.shape[0]):
        x, y = (int(where[-1][0].round().clamp(0, W - 1)), int(where[-1][1].round().clamp(0, H - 1)))
        where.append(where[-1] - flow[t, :, y, x])
    return torch.stack(where)


def flicker(clips: Mapping[str, Tensor], flow: Tensor, mask: Tensor, point: tuple[int, int]) -> Figure:
    """Left: a*, b* over time at one point of frame 0 (``point`` (y, x)) followed along the flow
    (:func:`track_point`), for each clip of ``clips`` (sRGB (T, 3, H, W): the methods and the truth). Right:
    :func:`frame_changes` per frame, each clip's mean in the legend."""
    fig, (ax_ab, ax_change) = plt.subplots(1, 2, figsize=(10, 3.2), constrained_layout=True)
    T = next(iter(clips.values())).shape[0]
    where = track_point(point, flow)
    for name, rgb in clips.items():
        ab = rgb_to_lab(rgb)[:, 1:]
        xs, ys = where[:, 0].round().long(), where[:, 1].round().long()
        a = ab[torch.arange(T), 0, ys.clamp(0, rgb.shape[-2] - 1), xs.clamp(0, rgb.shape[-1] - 1)]
        b = ab[torch.arange(T), 1, ys.clamp(0, rgb.shape[-2] - 1), xs.clamp(0, rgb.shape[-1] - 1)]
        line = ax_ab.plot(range(T), a.numpy(), "-o", ms=3, label=f"{name}: a*")[0]
        ax_ab.plot(range(T), b.numpy(), "--s", ms=3, color=line.get_color(), label=f"{name}: b*")
        change = frame_changes(rgb, flow, mask)
        ax_change.plot(range(1, T), change.numpy(), "-o", ms=3, label=f"{name} (mean {change.mean():.1f})")
    ax_ab.set(xlabel="frame t", ylabel="a* (solid), b* (dashed)", title="colour of one tracked point")
    ax_change.set(xlabel="frame t", ylabel="mean |ab_t - W(ab_{t-1})|",
                  title="colour change along the flow, visible pixels")
    ax_ab.legend(fontsize=7, ncol=2)
    ax_change.legend(fontsize=7)
    return fig
