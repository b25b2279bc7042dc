"""Correspondences, warps and similarity maps: the similarity sub-net of He et al. 2018 (Sec. 3.1).

Given gray-VGG features of the target T and the reference R (both computed from luminance alone, see
:mod:`reprolib.colorization.grayvgg`), this module finds the bidirectional mapping functions phi_T->R and phi_R->T,
warps the reference chrominance R_ab into R'_ab(p) = R_ab(phi_T->R(p)), and builds the per-layer
similarity maps that the colorization sub-net reads:

    sim_T->R(p)  = cos(F_T(p), F_R(phi_T->R(p)))                                   (forward)
    sim_T<->R(p) = cos(F_R(phi_T->R(p)), F_T(phi_R->T(phi_T->R(p))))               (bidirectional, as in DEC)

Its parts, one module each: ``fields`` (exact nearest neighbours, the field format, upsampling, warping),
``similarity`` (the 2 L maps), ``patch_match`` (DEC's route), ``attention`` (VID's route) and ``subnet`` (the
whole sub-net: :func:`pyramids` computes each image's gray-VGG features once, :func:`match_pyramids` matches them,
:func:`match` runs both for one matcher, :func:`match_fields` several matchers on one set of pyramids). The
13-channel input of the colorization sub-net is built from its output by
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
from .subnet import (
    FIELD_LAYER,
    METHODS,
    PHOTO_FIELD,
    PHOTO_ROUTE,
    Field,
    Matched,
    Pyramids,
    field_layers,
    match,
    match_fields,
    match_pyramids,
    method_layers,
    pyramids,
    reference_pyramids,
)

__all__ = ["ATTENTION_STRIDE", "ATTENTION_TAU", "BLOCK", "C2F_ITERS", "DEFAULT_CHUNK", "FIELD_LAYER", "GRAM_LIMIT",
           "MAP_PIXELS", "MATRIX_LIMIT", "METHODS", "PATCHMATCH_LAYERS", "PATCH_SIZES", "PHOTO_FIELD", "PHOTO_ROUTE",
           "PROJECTION_DIMS", "Correspondence", "Field", "Matched", "Pyramids", "attention_warp", "bidirectional",
           "check_field", "check_pyramids", "coarse_to_fine", "coarse_to_fine_bidirectional", "cosine_matrix",
           "exact_cost", "exact_nn", "exact_nn_mirrored", "field_layers", "hypercolumns", "identity_field",
           "map_stride", "match", "match_fields", "match_pyramids", "method_layers", "patch_descriptors",
           "patchmatch", "projected_descriptors", "pyramids", "reference_pyramids", "sample_features",
           "similarity_maps", "soft_attention", "upsample_field", "vid_features", "warp"]
