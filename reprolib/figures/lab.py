"""The figures of Lab colour (notebook 01 and the "lab" section of ``reproduce``): the channels of a photo in
RGB and in Lab, a*b* planes with the sRGB gamut, the step uniformity of three colour spaces, and the
loss-minimising single predictions of a set of plausible colours. Each function draws what
:mod:`reprolib.studies.lab` measured and returns a matplotlib Figure."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from torch import Tensor

from ..core.color import lab_to_rgb, rgb_to_lab
from .plots import show

# Diverging colour maps for the chrominance channels: a* from green to magenta-red, b* from blue to yellow.
A_STAR_CMAP = LinearSegmentedColormap.from_list("a*", [(0.0, 0.55, 0.35), (0.95, 0.95, 0.95), (0.85, 0.1, 0.45)])
B_STAR_CMAP = LinearSegmentedColormap.from_list("b*", [(0.1, 0.35, 0.85), (0.95, 0.95, 0.95), (0.9, 0.75, 0.05)])



def rgb_vs_lab_channels(rgb: Tensor) -> Figure:
    """A photo's R, G, B channels (top) against its L*, a*, b* channels and its chrominance alone (bottom)."""
    lab = rgb_to_lab(rgb)
    fig, axes = plt.subplots(2, 4, figsize=(13, 5.2), constrained_layout=True)
    show(axes[0, 0], rgb, "photo (sRGB)")
    scalars = [(axes[0, i + 1], rgb[i], f"{name} (sRGB)", "gray", 0, 1) for i, name in enumerate("RGB")]
    scalars += [(axes[1, 0], lab[0], "L* (what the network sees)", "gray", 0, 100),
                (axes[1, 1], lab[1], "a* (green - red)", A_STAR_CMAP, -70, 70),
                (axes[1, 2], lab[2], "b* (blue - yellow)", B_STAR_CMAP, -70, 70)]
    for ax, channel, title, cmap, lo, hi in scalars:
        show(ax, channel, title, cmap=cmap, vmin=lo, vmax=hi)
        fig.colorbar(ax.images[-1], ax=ax, shrink=0.8)
    ab_alone = torch.cat((torch.full_like(lab[:1], 60.0), lab[1:]))
    show(axes[1, 3], lab_to_rgb(ab_alone), "a*, b* alone (L* set to 60)")
    return fig


def ab_planes(planes: Mapping[float, tuple[Tensor, Tensor]], extent: float = 110.0) -> Figure:
    """The a*b* planes {L*: (sRGB picture, in-gamut mask)} (``studies.lab.ab_planes``, made with ``extent``);
    outside the sRGB gamut a hatched mid-gray background shows through."""
    from matplotlib.patches import Patch, Rectangle

    fig, axes = plt.subplots(1, len(planes), figsize=(3 * len(planes), 3.6), constrained_layout=True, squeeze=False)
    axes = axes[0]
    outside = dict(facecolor="0.5", edgecolor="0.3", hatch="///", lw=0)
    for ax, (L, (rgb, inside)) in zip(axes, planes.items()):
        rgba = torch.cat((rgb, inside[None].to(rgb.dtype)))  # transparent outside the gamut
        ax.add_patch(Rectangle((-extent, -extent), 2 * extent, 2 * extent, zorder=0, **outside))
        ax.imshow(rgba.permute(1, 2, 0).numpy(), extent=(-extent, extent, -extent, extent), zorder=1)
        ax.axhline(0, color="k", lw=0.5, zorder=2)
        ax.axvline(0, color="k", lw=0.5, zorder=2)
        ax.set_title(f"L* = {L:g}  ({100 * float(inside.double().mean()):.0f}% of the square in gamut)", fontsize=9)
        ax.set_xlabel("a*")
    axes[0].set_ylabel("b*")
    fig.legend(handles=[Patch(label="outside the sRGB gamut", **outside)], loc="outside lower center", fontsize=8)
    return fig


def step_uniformity_plot(ramps: Mapping[str, Mapping[str, Tensor]]) -> Figure:
    """CIEDE2000 size of each equal step along each ramp {ramp: {space: step sizes}} (``studies.lab.ramp_steps``),
    stepping in sRGB, linear RGB or Lab (legend: the coefficient of variation std / mean of the steps)."""
    space_names = {"srgb": "sRGB", "linear_rgb": "linear RGB", "lab": "Lab"}
    fig, axes = plt.subplots(1, len(ramps), figsize=(12, 3.4), constrained_layout=True)
    for ax, (name, by_space) in zip(axes, ramps.items()):
        for space, label in space_names.items():
            steps = by_space[space]
            ax.plot(steps.numpy(), marker="o", ms=3, label=f"{label} (CV {float(steps.std() / steps.mean()):.2f})")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("step")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("dE00 of the step")
    return fig


def regression_to_the_mean_plot(ab: Sequence[tuple[float, float]], L: float, fitted: dict[str, float]) -> Figure:
    """Plausible colours of an object and the loss-minimising single predictions: as swatches (left) and in the
    a*b* plane (right). ``fitted`` holds "<loss>_prediction_a" and "_b" for some of the losses named here."""
    names = {"l1": "per-channel median (L1)", "l1_euclidean": "geometric median (||.||)", "l2": "mean (L2)"}
    short = {"l1": "median\n(L1)", "l1_euclidean": "geom.\nmedian", "l2": "mean\n(L2)"}
    fits = {k: (fitted[f"{k}_prediction_a"], fitted[f"{k}_prediction_b"]) for k in names
            if f"{k}_prediction_a" in fitted}
    swatches = [(L, a, b) for a, b in ab] + [(L, a, b) for a, b in fits.values()]
    lab = torch.tensor(swatches, dtype=torch.float64).T.reshape(3, 1, -1)
    colours = lab_to_rgb(lab)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 3.4), width_ratios=(1.5, 1), constrained_layout=True)
    left.imshow(colours.repeat_interleave(40, dim=2).repeat(1, 40, 1).permute(1, 2, 0).numpy())
    left.set_xticks([40 * i + 20 for i in range(len(swatches))])
    left.set_xticklabels([f"#{i + 1}" for i in range(len(ab))] + [short[k] for k in fits], fontsize=7)
    left.set_yticks([])
    left.set_title(f"plausible colours at L* = {L:g} and the loss-minimising predictions", fontsize=9)
    points = torch.tensor(ab, dtype=torch.float64)
    right.scatter(points[:, 0], points[:, 1], c=colours[:, 0, : len(ab)].T.numpy(), edgecolors="k", s=60,
                  label="plausible colours", zorder=3)
    for (k, (a, b)), marker in zip(fits.items(), "sDv"):
        right.scatter([a], [b], marker=marker, facecolors="none", edgecolors="k", s=80, label=names[k], zorder=4)
    right.scatter([0], [0], marker="+", c="k", s=100, label="gray (a* = b* = 0)", zorder=4)
    right.axhline(0, color="0.8", lw=0.5)
    right.axvline(0, color="0.8", lw=0.5)
    right.set_aspect("equal", adjustable="datalim")
    right.set_xlabel("a*")
    right.set_ylabel("b*")
    right.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    return fig
