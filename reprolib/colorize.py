"""Exemplar-based colorization of a photograph, end to end: the paper's whole pipeline (Fig. 2).

    T, R  ->  T_L, R_L, R_ab (Lab)  ->  gray-VGG features of T_L and R_L  ->  phi_T->R, phi_R->T
          ->  R'_ab, sim_T->R, sim_T<->R  (similarity sub-net)  ->  P_ab = ColorNet(sims, T_L, R'_ab)
          ->  P_lab = (T_L, P_ab)  ->  sRGB

Matching and the network run at a working size (short side ``size``, 256 as in DEC's demos); P_ab is
upsampled bilinearly to the target's own size and joined with the target's own full-resolution L, so the
result keeps the target's size and luminance (a colour target is used through its L only); colours outside
the sRGB gamut lose chroma, not lightness (:func:`reprolib.color.fit_to_gamut`).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from . import features as feats
from .color import fit_to_gamut, lab_to_rgb, rgb_to_lab
from .colornet import ColorNet, load_colornet, predict_ab
from .matching import METHODS, match
from .photos import resize_short_side

FEATURE_CHOICES = ("small", "auto", "torchvision")  # or a path to a VGG weights file


@dataclass
class Colorization:
    """The result and the intermediates, at the working size (h, w) unless said otherwise."""

    rgb: Tensor  # (3, H, W) at the target's size: P_L = T_L, P_ab upsampled
    P_ab: Tensor  # (2, h, w) the network's chrominance
    T_L: Tensor  # (1, h, w) the target's luminance at the working size
    reference_rgb: Tensor  # (3, h', w') the reference at the working size
    R_ab_warped: Tensor  # (2, h, w) R'_ab = R_ab(phi_T->R(p))
    sims: Tensor  # (10, h, w) sim_T->R then sim_T<->R, relu1_1 ... relu5_1
    phi_TR: Tensor  # (2, h, w) (y, x) into the working-size reference
    features: str  # which gray-VGG matched
    seconds: float  # wall time of the pipeline (features, matching, network, colour conversion)

    def warped_rgb(self) -> Tensor:
        """T_L with R'_ab: what the matching alone gives, before the colorization sub-net."""
        return lab_to_rgb(torch.cat((self.T_L, self.R_ab_warped)))


def _check_rgb(x: object, name: str) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() != 3 or x.shape[0] != 3:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"{name} must be an RGB image tensor (3, H, W), got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor in [0, 1], got {x.dtype}")
    if min(x.shape[-2:]) < 16:
        raise ValueError(f"{name} is too small ({x.shape[-2]} x {x.shape[-1]}); need at least 16 px a side")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return x.float().clamp(0, 1)


def load_features(choice: str | os.PathLike | feats.GrayVGG = "small") -> feats.GrayVGG:
    """The gray-VGG that matches: "small" (shipped, trained on the synthetic world; the shipped ColorNet
    was trained on its similarity maps), "auto" (:func:`reprolib.features.best_available`), "torchvision"
    (cached ImageNet VGG-19, never downloaded), or a weights file (its convention from
    $REPROLIB_VGG_CONVENTION, arch from $REPROLIB_VGG_ARCH or inferred)."""
    if isinstance(choice, feats.GrayVGG):
        return choice.eval()
    if choice == "small":
        return feats.grayvgg_small()
    if choice == "auto":
        return feats.best_available(verbose=False)
    if choice == "torchvision":
        return feats.grayvgg_torchvision()
    if not os.path.isfile(choice):
        raise ValueError(f"features {choice!r}: not one of {FEATURE_CHOICES} and no such weights file")
    return feats.grayvgg_from_file(choice, os.environ.get("REPROLIB_VGG_ARCH", "auto"),
                                   os.environ.get("REPROLIB_VGG_CONVENTION"))


@torch.no_grad()
def colorize(target: Tensor, reference: Tensor, features: str | os.PathLike | feats.GrayVGG = "small",
             net: ColorNet | None = None, size: int = 256, method: str = "exact") -> Colorization:
    """Colour the gray ``target`` (3, H, W) RGB in [0, 1] (only its L is used) from ``reference`` (3, H', W').

    Both are resized to a short side of ``size`` for matching (``method``: "exact", "patchmatch" or
    "attention", see :func:`reprolib.matching.match`) and for the network (default: the shipped full
    ColorNet); the returned ``rgb`` has the target's size and its exact L*.
    """
    target, reference = _check_rgb(target, "target"), _check_rgb(reference, "reference")
    if isinstance(size, bool) or not isinstance(size, int) or not 16 <= size <= 2048:
        raise ValueError(f"size must be an int in 16..2048, got {size!r}")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    model = load_features(features)
    net = load_colornet() if net is None else net
    start = time.perf_counter()
    T_L_full = rgb_to_lab(target)[:1]
    t_lab = rgb_to_lab(resize_short_side(target, size).clamp(0, 1))
    r_small = resize_short_side(reference, size).clamp(0, 1)
    r_lab = rgb_to_lab(r_small)
    m = match(model, t_lab[None, :1], r_lab[None, :1], r_lab[None, 1:], method=method)
    P_ab = predict_ab(net, m.net_input)
    P_ab_full = F.interpolate(P_ab, size=tuple(target.shape[-2:]), mode="bilinear", align_corners=False)[0]
    rgb = lab_to_rgb(fit_to_gamut(torch.cat((T_L_full, P_ab_full)))).clamp(0, 1)  # L* kept, chroma cut to fit
    seconds = time.perf_counter() - start
    return Colorization(rgb=rgb, P_ab=P_ab[0], T_L=t_lab[:1], reference_rgb=r_small, R_ab_warped=m.R_ab_warped[0],
                        sims=m.sims[0], phi_TR=m.phi_TR[0], features=model.source, seconds=seconds)
