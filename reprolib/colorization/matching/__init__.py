"""Correspondences, warps and similarity maps: the similarity sub-net of He et al. 2018 (Sec. 3.1).

Given gray-VGG features of the target T and the reference R (both computed from luminance alone, see
:mod:`reprolib.colorization.features`), this module finds the bidirectional mapping functions phi_T->R and phi_R->T,
warps the reference chrominance R_ab into R'_ab(p) = R_ab(phi_T->R(p)), and builds the per-layer
similarity maps that the colorization sub-net reads:

    sim_T->R(p)  = cos(F_T(p), F_R(phi_T->R(p)))                                   (forward)
    sim_T<->R(p) = cos(F_R(phi_T->R(p)), F_T(phi_R->T(phi_T->R(p))))               (bidirectional, as in DEC)

Its parts, one module each: ``fields`` (exact nearest neighbours, the field format, upsampling, warping),
``similarity`` (the 2 L maps), ``patch_match`` (DEC's route) and ``attention`` (VID's route); :func:`match`
runs the whole sub-net. The 13-channel input of the colorization sub-net is built from its output by
:func:`reprolib.colorization.colornet.colornet_input`.

Where we deviate from the paper:

* DEC computes the field by coarse-to-fine PatchMatch (Deep Image Analogy, DIA) over relu5_1 ... relu2_1 and
  upsamples the relu2_1 field x2. Our default (``match(method="exact")``) is the **exact** cosine nearest
  neighbour of single positions (no patches) on ONE layer (``FIELD_LAYER``, relu3_1, stride 4), chunked
  so that it runs in bounded memory. ``match(method="patchmatch")`` follows DEC's route with a vectorised
  PatchMatch (:func:`patchmatch`, :func:`coarse_to_fine`) from relu5_1 down to relu2_1 (``PATCHMATCH_LAYERS``)
  and upsamples the relu2_1 field x2: DIA's patch sizes and similarity, but jump-flooding propagation instead
  of a sequential scan, 3 iterations instead of 10, no feature reconstruction (DIA's deconvolution-based
  blending of the two images' features) between layers, and on grids above ``MATRIX_LIMIT`` pairs the patch
  similarity read from projected descriptors (:func:`projected_descriptors`), so that its cost grows linearly
  with the pixel count. Going on from relu3_1 to relu2_1 raised the label agreement on the held-out
  synthetic pairs from 0.903 to 0.919.
  ``match(method="attention")`` is the soft, differentiable alternative of the video follow-up (VID):
  :func:`vid_features` and :func:`attention_warp`.
* Photographs (``colorize``): exact NN on the hypercolumn ``PHOTO_FIELD`` (relu3_1 + relu4_1 + relu5_1, each
  normalised, on relu3_1's grid) with the mirrored reference as extra candidates (``mirror=True``). VGG
  features are not mirror-invariant, so a reference whose objects face the other way is matched to "same
  texture, same orientation" elsewhere; measured on the held-out photos' "same scene, other view" pairs
  (reference mirrored), R'_ab with ImageNet VGG-16 went from 6.02 (relu3_1) to 4.78 (hypercolumn) to 3.46
  CIEDE2000 (hypercolumn + mirror candidates); see notebook 05.
* Image-resolution features are sampled per pixel by bilinear interpolation with ``grid_sample``
  (``align_corners=False``: pixel q of an image of width W sits at normalised 2 (q + 0.5) / W - 1 on every
  layer), which equals bilinear upsampling of each layer to the image size, evaluated at q.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ...core import checks
from ..features import DEC_LAYERS, VID_LAYERS
from .attention import ATTENTION_STRIDE, ATTENTION_TAU, attention_warp, soft_attention, vid_features
from .fields import (
    BLOCK,
    DEFAULT_CHUNK,
    Correspondence,
    bidirectional,
    check_field,
    exact_cost,
    exact_nn,
    exact_nn_mirrored,
    hypercolumns,
    identity_field,
    upsample_field,
    warp,
)
from .patch_match import (
    C2F_ITERS,
    MATRIX_LIMIT,
    PATCH_SIZES,
    PATCHMATCH_LAYERS,
    PROJECTION_DIMS,
    coarse_to_fine,
    coarse_to_fine_bidirectional,
    cosine_matrix,
    patch_descriptors,
    patchmatch,
    projected_descriptors,
)
from .similarity import GRAM_LIMIT, MAP_PIXELS, check_pyramids, map_stride, sample_features, similarity_maps

__all__ = ["ATTENTION_STRIDE", "ATTENTION_TAU", "BLOCK", "C2F_ITERS", "DEFAULT_CHUNK", "FIELD_LAYER", "GRAM_LIMIT",
           "MAP_PIXELS", "MATRIX_LIMIT", "METHODS", "PATCHMATCH_LAYERS", "PATCH_SIZES", "PHOTO_FIELD",
           "PROJECTION_DIMS",
           "Correspondence", "Matched", "attention_warp", "bidirectional", "check_field", "check_pyramids",
           "coarse_to_fine", "coarse_to_fine_bidirectional", "cosine_matrix", "exact_cost", "exact_nn",
           "exact_nn_mirrored", "hypercolumns", "identity_field", "map_stride", "match", "patch_descriptors",
           "patchmatch", "projected_descriptors", "sample_features", "similarity_maps", "soft_attention",
           "upsample_field", "vid_features", "warp"]

METHODS = ("exact", "patchmatch", "attention")  # match(method=...)
FIELD_LAYER = "relu3_1"  # the layer whose exact nearest neighbours give phi (DEC: PatchMatch down to relu2_1)
PHOTO_FIELD = ("relu3_1", "relu4_1", "relu5_1")  # the hypercolumn that matches photographs (with mirror=True)


class Matched(NamedTuple):
    """Output of :func:`match`: pixel fields phi_T->R (B, 2, H_T, W_T) and phi_R->T (B, 2, H_R, W_R),
    R'_ab (B, 2, H_T, W_T) and the 2 L similarity maps (B, 2 L, H_T, W_T)."""

    phi_TR: Tensor
    phi_RT: Tensor
    R_ab_warped: Tensor
    sims: Tensor


@torch.no_grad()
def match(model, T_L: Tensor, R_L: Tensor, R_ab: Tensor, layers: Sequence[str] | None = None,
          field_layer: str | Sequence[str] = FIELD_LAYER, chunk: int = DEFAULT_CHUNK, method: str = "exact",
          iters: int = C2F_ITERS, tau: float = ATTENTION_TAU, mirror: bool = False, maps: bool = True,
          fast: bool = False) -> Matched:
    """The similarity sub-net end to end: gray-VGG pyramids of T_L and R_L (B, 1, H, W), the fields
    phi_T->R and phi_R->T upsampled to pixels, R'_ab = warp(R_ab, phi_T->R) and the similarity maps.

    method "exact": exact cosine NN on ``field_layer`` (default relu3_1), stride 4; several layers
    (e.g. ``PHOTO_FIELD``) are matched as :func:`hypercolumns` on the grid of the finest, and ``mirror``
    adds the mirrored reference as candidates (:func:`exact_nn_mirrored`, one more gray-VGG pass);
    ``fast`` compares a hypercolumn's cosines in bfloat16 (:func:`exact_nn`).
    method "patchmatch": DEC's route, :func:`coarse_to_fine_bidirectional` PatchMatch over
    ``PATCHMATCH_LAYERS`` (relu5_1 -> relu2_1 as in DEC; ``iters`` per layer; ``field_layer`` ignored), the
    relu2_1 field upsampled x2. method "attention": VID's route,
    :func:`vid_features` at 1/4 resolution, R'_ab = the soft :func:`attention_warp` of R_ab (temperature
    ``tau``) upsampled bilinearly; the fields (for the similarity maps) are its argmax in both directions.
    ``maps=False`` skips the similarity maps (``sims`` then has 0 channels), for R'_ab alone.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    field = (field_layer,) if isinstance(field_layer, str) else tuple(field_layer)
    if mirror and method != "exact":
        raise ValueError(f"mirror=True needs method='exact', got method={method!r}")
    layers = tuple(DEC_LAYERS if layers is None else layers)
    extra = {"exact": field, "patchmatch": PATCHMATCH_LAYERS, "attention": VID_LAYERS}[method]
    fT = model(T_L, layers + tuple(k for k in extra if k not in layers))
    fR = model(R_L, tuple(fT))
    size_T, size_R = tuple(T_L.shape[-2:]), tuple(R_L.shape[-2:])
    R_ab_w = None
    if method == "exact" and len(field) == 1 and not mirror:
        c = bidirectional(fT[field[0]], fR[field[0]], chunk)
        phi_TR, phi_RT, s = c.phi_TR, c.phi_RT, model.stride(field[0])
    elif method == "exact":
        finest = min(field, key=model.stride)
        s = model.stride(finest)
        hT = hypercolumns(fT, field, tuple(fT[finest].shape[-2:]))
        hR = hypercolumns(fR, field, tuple(fR[finest].shape[-2:]))
        if mirror:
            flipped = {k: v.flip(-1) for k, v in model(R_L.flip(-1), field).items()}
            phi_TR, _ = exact_nn_mirrored(hT, hR, hypercolumns(flipped, field, tuple(hR.shape[-2:])), chunk, fast)
        else:
            phi_TR, _ = exact_nn(hT, hR, chunk, fast)
        phi_RT, _ = exact_nn(hR, hT, chunk, fast)
    elif method == "patchmatch":
        fwd, bwd = coarse_to_fine_bidirectional(fT, fR, PATCHMATCH_LAYERS, iters=iters)
        phi_TR, phi_RT, s = fwd[PATCHMATCH_LAYERS[-1]], bwd[PATCHMATCH_LAYERS[-1]], model.stride(PATCHMATCH_LAYERS[-1])
    else:
        s = ATTENTION_STRIDE
        grid_T = (max(1, size_T[0] // s), max(1, size_T[1] // s))
        grid_R = (max(1, size_R[0] // s), max(1, size_R[1] // s))
        vT, vR = vid_features(fT, grid_T), vid_features(fR, grid_R)
        ab_small = F.interpolate(R_ab.to(vT), size=grid_R, mode="area")
        soft, _, phi_TR = soft_attention(vT, vR, ab_small, tau, checks.positive_int(chunk, "chunk"))
        phi_RT = exact_nn(vR, vT, chunk)[0]
        R_ab_w = F.interpolate(soft, size=size_T, mode="bilinear", align_corners=False)
    phi_TR = upsample_field(phi_TR, s, size_T, size_R)
    phi_RT = upsample_field(phi_RT, s, size_R, size_T)
    if maps:
        sims = similarity_maps({k: fT[k] for k in layers}, {k: fR[k] for k in layers}, phi_TR, phi_RT)
    else:
        ref = fT[layers[0]]
        sims = torch.zeros(phi_TR.shape[0], 0, *size_T, dtype=ref.dtype, device=ref.device)
    if R_ab_w is None:
        R_ab_w = warp(R_ab.to(device=sims.device, dtype=sims.dtype), phi_TR)
    return Matched(phi_TR, phi_RT, R_ab_w, sims)
