"""Figures shared by the notebooks and ``reproduce``: each function returns a matplotlib Figure."""
from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from torch import Tensor

from .color import lab_to_rgb, rgb_to_lab
from .labstudy import RAMPS, ab_plane, step_sizes


# Diverging colour maps for the chrominance channels: a* from green to magenta-red, b* from blue to yellow.
A_STAR_CMAP = LinearSegmentedColormap.from_list("a*", [(0.0, 0.55, 0.35), (0.95, 0.95, 0.95), (0.85, 0.1, 0.45)])
B_STAR_CMAP = LinearSegmentedColormap.from_list("b*", [(0.1, 0.35, 0.85), (0.95, 0.95, 0.95), (0.9, 0.75, 0.05)])


def _show(ax, image: Tensor, title: str, **kwargs) -> None:
    """Draw a (3, H, W) RGB or (H, W) single-channel tensor on ax, without ticks."""
    data = image.detach().cpu()
    ax.imshow(data.permute(1, 2, 0).numpy() if data.dim() == 3 else data.numpy(), **kwargs)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def rgb_vs_lab_channels(rgb: Tensor) -> Figure:
    """A photo's R, G, B channels (top) against its L*, a*, b* channels (bottom)."""
    lab = rgb_to_lab(rgb)
    fig, axes = plt.subplots(2, 4, figsize=(11, 5), constrained_layout=True)
    _show(axes[0, 0], rgb, "photo (sRGB)")
    for i, name in enumerate("RGB"):
        _show(axes[0, i + 1], rgb[i], f"{name}", cmap="gray", vmin=0, vmax=1)
    _show(axes[1, 0], lab[0], "L* (what the network sees)", cmap="gray", vmin=0, vmax=100)
    _show(axes[1, 1], lab[1], "a* (green - red)", cmap=A_STAR_CMAP, vmin=-60, vmax=60)
    _show(axes[1, 2], lab[2], "b* (blue - yellow)", cmap=B_STAR_CMAP, vmin=-60, vmax=60)
    gray_ab = torch.cat((lab[:1], torch.zeros_like(lab[1:])))
    _show(axes[1, 3], lab_to_rgb(gray_ab), "L* alone, a* = b* = 0")
    return fig


def ab_planes(levels: Sequence[float] = (25.0, 50.0, 75.0, 95.0), extent: float = 110.0) -> Figure:
    """The a*b* plane at several L*; white outside the sRGB gamut."""
    fig, axes = plt.subplots(1, len(levels), figsize=(3 * len(levels), 3.2), constrained_layout=True)
    for ax, L in zip(axes, levels):
        rgb, inside = ab_plane(L, extent)
        rgb = torch.where(inside, rgb, torch.ones_like(rgb))
        ax.imshow(rgb.permute(1, 2, 0).numpy(), extent=(-extent, extent, -extent, extent))
        ax.axhline(0, color="k", lw=0.5)
        ax.axvline(0, color="k", lw=0.5)
        ax.set_title(f"L* = {L:g}  ({100 * float(inside.double().mean()):.0f}% of the square in gamut)", fontsize=9)
        ax.set_xlabel("a*")
    axes[0].set_ylabel("b*")
    return fig


def step_uniformity_plot(n_steps: int = 16) -> Figure:
    """CIEDE2000 size of each equal step along three ramps, stepping in sRGB, linear RGB or Lab."""
    fig, axes = plt.subplots(1, len(RAMPS), figsize=(12, 3.2), constrained_layout=True)
    for ax, (name, (a, b)) in zip(axes, RAMPS.items()):
        start, end = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
        for space in ("srgb", "linear_rgb", "lab"):
            ax.plot(step_sizes(start, end, n_steps, space).numpy(), marker="o", ms=3, label=space)
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step")
    axes[0].set_ylabel("dE00 of the step")
    axes[0].legend(fontsize=8)
    return fig


def regression_to_the_mean_plot(ab: Sequence[tuple[float, float]], L: float, fitted: dict[str, float]) -> Figure:
    """Plausible colours of an object (swatches) and the L1- and L2-optimal single predictions."""
    swatches = [(L, a, b) for a, b in ab]
    swatches += [(L, fitted["l1_prediction_a"], fitted["l1_prediction_b"])]
    swatches += [(L, fitted["l2_prediction_a"], fitted["l2_prediction_b"])]
    lab = torch.tensor(swatches, dtype=torch.float64).T.reshape(3, 1, -1)
    rgb = lab_to_rgb(lab).repeat_interleave(40, dim=2).repeat(1, 40, 1)
    fig, ax = plt.subplots(figsize=(1.1 * len(swatches), 1.8), constrained_layout=True)
    ax.imshow(rgb.permute(1, 2, 0).numpy())
    ax.set_xticks([40 * i + 20 for i in range(len(swatches))])
    ax.set_xticklabels([f"#{i + 1}" for i in range(len(ab))] + ["L1 fit", "L2 fit"], fontsize=8)
    ax.set_yticks([])
    ax.set_title(f"plausible colours at L* = {L:g} and what a loss-minimising prediction picks", fontsize=9)
    return fig
