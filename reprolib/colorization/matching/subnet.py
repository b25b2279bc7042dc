"""The similarity sub-net end to end: each image's gray-VGG pyramid computed once, then every matcher and the maps.

    pyramids(model, T_L, R_L, layers)  ->  F_T, F_R (and F_R of the mirrored reference)        one pass per image
    match_pyramids(pyramids, R_ab, ...) ->  phi_T->R, phi_R->T, R'_ab, sim_T->R, sim_T<->R       no pass

:func:`match` runs both for one matcher (what the chapters call); :func:`match_fields` runs several exact
matchers, e.g. the Chooser's three hypercolumns, on ONE set of pyramids: three gray-VGG passes (T, R, mirrored R)
whatever the number of matchers. Features computed once are the numbers that one pass per matcher gives (the same
convolutions on the same input), so every matcher's output is unchanged.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ...core import checks
from ..grayvgg import DEC_LAYERS, VID_LAYERS
from .attention import ATTENTION_STRIDE, ATTENTION_TAU, soft_attention, vid_features
from .fields import (
    DEFAULT_CHUNK,
    bidirectional,
    exact_nn,
    exact_nn_mirrored,
    hypercolumns,
    upsample_cells,
    upsample_field,
    warp,
)
from .patch_match import C2F_ITERS, PATCHMATCH_LAYERS, coarse_to_fine_bidirectional
from .similarity import similarity_maps

METHODS = ("exact", "patchmatch", "attention")  # match(method=...)
FIELD_LAYER = "relu3_1"  # the layer whose exact nearest neighbours give phi (DEC: PatchMatch down to relu2_1)
PHOTO_FIELD = ("relu3_1", "relu4_1", "relu5_1")  # the hypercolumn that matches photographs (with mirror=True)


class Matched(NamedTuple):
    """Output of :func:`match`: pixel fields phi_T->R (B, 2, H_T, W_T) and phi_R->T (B, 2, H_R, W_R),
    R'_ab (B, 2, H_T, W_T), the 2 L similarity maps (B, 2 L, H_T, W_T), and for the exact route the cosine of
    each target pixel's match on the field's features (B, 1, H_T, W_T; a mirrored candidate's own cosine when it
    won, which the maps, read on R as seen, do not show; None for the other methods)."""

    phi_TR: Tensor
    phi_RT: Tensor
    R_ab_warped: Tensor
    sims: Tensor
    cosine: Tensor | None = None

    def to(self, device) -> Matched:
        """The same match on ``device``."""
        return Matched(*(None if x is None else x.to(device) for x in self))


class Pyramids(NamedTuple):
    """Gray-VGG features {layer: (B, C, h, w)} of T_L (``T``) and R_L (``R``), of the mirrored reference flipped
    back onto R's grid (``R_mirrored``; None without mirrored candidates), each layer's stride, the image sizes."""

    T: dict[str, Tensor]
    R: dict[str, Tensor]
    R_mirrored: dict[str, Tensor] | None
    strides: dict[str, int]
    size_T: tuple[int, int]
    size_R: tuple[int, int]


class Field(NamedTuple):
    """One exact matcher: the hypercolumn of ``layers`` (on the grid of the finest), with the mirrored reference as
    extra candidates (``mirror``), its cosines in bfloat16 (``fast``, :func:`~.fields.exact_nn`)."""

    layers: tuple[str, ...]
    mirror: bool = True
    fast: bool = False


PHOTO_ROUTE = Field(PHOTO_FIELD)  # colorize's one matcher on photographs


def method_layers(method: str, field: tuple[str, ...]) -> tuple[str, ...]:
    """The layers a method's correspondences read: the field (exact), DEC's PatchMatch layers, VID's layers."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    return {"exact": field, "patchmatch": PATCHMATCH_LAYERS, "attention": VID_LAYERS}[method]


def _reference_features(model, R_L: Tensor, layers: tuple[str, ...], splits: Sequence[int],
                        mirror: bool = False) -> dict[str, Tensor]:
    """F_R of ``layers``: one pass over R_L, or with ``splits`` (the widths of several references side by side,
    :mod:`reprolib.colorization.references`) one pass per reference, joined along the width; ``mirror``: the
    features of each flipped reference flipped back."""
    if len(splits) > 1 and sum(splits) != R_L.shape[-1]:
        raise ValueError(f"the references' widths {list(splits)} do not add up to the joined width {R_L.shape[-1]}")
    pieces = R_L.split(list(splits), dim=-1) if len(splits) > 1 else (R_L,)
    feats = [model(p.flip(-1), layers) if mirror else model(p, layers) for p in pieces]
    if mirror:
        feats = [{k: v.flip(-1) for k, v in f.items()} for f in feats]
    if len(feats) == 1:
        return feats[0]
    return {k: torch.cat([f[k] for f in feats], -1) for k in feats[0]}


@torch.no_grad()
def pyramids(model, T_L: Tensor, R_L: Tensor, layers: Sequence[str], mirrored: Sequence[str] = (),
             splits: Sequence[int] = (), reference: Pyramids | None = None) -> Pyramids:
    """One gray-VGG pass per image: F_T and F_R of ``layers`` for T_L, R_L (B, 1, H, W), and with ``mirrored``
    (layers) the features of flip(R_L) flipped back, the candidates of a reference whose objects face the other way.
    ``splits``: R_L is several references side by side, these widths (each a multiple of the coarsest stride);
    each is seen alone by the gray-VGG, and every matcher then searches the candidates of all of them.
    ``reference``: R_L's features computed before (:func:`reference_pyramids`, the same R_L), used as they are, so
    that the frames of a video pass through the gray-VGG once each and the reference once in all."""
    fT = model(T_L, tuple(layers))
    if reference is None:
        fR = _reference_features(model, R_L, tuple(fT), splits)
        fM = _reference_features(model, R_L, tuple(mirrored), splits, mirror=True) if mirrored else None
    else:
        missing = [k for k in (*fT, *mirrored) if k not in reference.R]
        if reference.size_R != tuple(R_L.shape[-2:]) or missing or (mirrored and reference.R_mirrored is None):
            raise ValueError(f"the reference's features (size {reference.size_R}) were not computed for this "
                             f"reference {tuple(R_L.shape[-2:])} and these layers; compute them again")
        fR, fM = reference.R, reference.R_mirrored
    return Pyramids(fT, fR, fM, {k: model.stride(k) for k in fT}, tuple(T_L.shape[-2:]), tuple(R_L.shape[-2:]))


@torch.no_grad()
def reference_pyramids(model, R_L: Tensor, layers: Sequence[str], mirrored: Sequence[str] = (),
                       splits: Sequence[int] = ()) -> Pyramids:
    """R_L's half of :func:`pyramids` alone (``T`` empty, ``size_T`` (0, 0)): computed once, passed on as its
    ``reference`` for every target coloured from the same R."""
    fR = _reference_features(model, R_L, tuple(layers), splits)
    fM = _reference_features(model, R_L, tuple(mirrored), splits, mirror=True) if mirrored else None
    return Pyramids({}, fR, fM, {k: model.stride(k) for k in fR}, (0, 0), tuple(R_L.shape[-2:]))


def _exact_fields(pyr: Pyramids, field: tuple[str, ...], chunk: int, mirror: bool, fast: bool) -> tuple:
    """phi_T->R, phi_R->T at feature resolution, their stride and phi_T->R's cosines (B, h, w), by exact NN on
    ``field`` (a hypercolumn on the grid of its finest layer when it has several, or with mirrored candidates)."""
    fT, fR = pyr.T, pyr.R
    if len(field) == 1 and not mirror:
        c = bidirectional(fT[field[0]], fR[field[0]], chunk)
        return c.phi_TR, c.phi_RT, pyr.strides[field[0]], c.sim_TR
    finest = min(field, key=pyr.strides.__getitem__)
    hT = hypercolumns(fT, field, tuple(fT[finest].shape[-2:]))
    hR = hypercolumns(fR, field, tuple(fR[finest].shape[-2:]))
    if mirror:
        hM = hypercolumns(pyr.R_mirrored, field, tuple(hR.shape[-2:]))
        phi_TR, sim = exact_nn_mirrored(hT, hR, hM, chunk, fast)
    else:
        phi_TR, sim = exact_nn(hT, hR, chunk, fast)
    return phi_TR, exact_nn(hR, hT, chunk, fast)[0], pyr.strides[finest], sim


def _attention_fields(pyr: Pyramids, R_ab: Tensor, tau: float, chunk: int) -> tuple:
    """VID's route: the soft warp of R_ab upsampled to pixels, and the argmax fields in both directions."""
    s = ATTENTION_STRIDE
    grid_T = (max(1, pyr.size_T[0] // s), max(1, pyr.size_T[1] // s))
    grid_R = (max(1, pyr.size_R[0] // s), max(1, pyr.size_R[1] // s))
    vT, vR = vid_features(pyr.T, grid_T), vid_features(pyr.R, grid_R)
    ab_small = F.interpolate(R_ab.to(vT), size=grid_R, mode="area")
    soft, _, phi_TR = soft_attention(vT, vR, ab_small, tau, checks.positive_int(chunk, "chunk"))
    R_ab_w = F.interpolate(soft, size=pyr.size_T, mode="bilinear", align_corners=False)
    return phi_TR, exact_nn(vR, vT, chunk)[0], s, R_ab_w


@torch.no_grad()
def match_pyramids(pyr: Pyramids, R_ab: Tensor, layers: Sequence[str] | None = None,
                   field_layer: str | Sequence[str] = FIELD_LAYER, chunk: int = DEFAULT_CHUNK, method: str = "exact",
                   iters: int = C2F_ITERS, tau: float = ATTENTION_TAU, mirror: bool = False, maps: bool = True,
                   fast: bool = False) -> Matched:
    """The similarity sub-net on features already computed (:func:`pyramids`): the fields phi_T->R and phi_R->T
    upsampled to pixels, R'_ab = warp(R_ab, phi_T->R) and the similarity maps of ``layers`` (default DEC's);
    the arguments are :func:`match`'s."""
    field = (field_layer,) if isinstance(field_layer, str) else tuple(field_layer)
    layers = tuple(DEC_LAYERS if layers is None else layers)
    missing = [k for k in (*layers, *method_layers(method, field)) if k not in pyr.T]
    if missing:
        raise ValueError(f"the pyramids lack {', '.join(missing)}: compute them with pyramids(..., layers=...)")
    if mirror and (method != "exact" or pyr.R_mirrored is None):
        raise ValueError(f"mirror=True needs method='exact' and the mirrored reference's features, got method="
                         f"{method!r}{'' if pyr.R_mirrored is not None else ' without them'}")
    R_ab_w = cosine = None
    if method == "exact":
        phi_TR, phi_RT, s, cosine = _exact_fields(pyr, field, chunk, mirror, fast)
        cosine = upsample_cells(cosine[:, None].float(), s, pyr.size_T)
    elif method == "patchmatch":
        fwd, bwd = coarse_to_fine_bidirectional(pyr.T, pyr.R, PATCHMATCH_LAYERS, iters=iters)
        last = PATCHMATCH_LAYERS[-1]
        phi_TR, phi_RT, s = fwd[last], bwd[last], pyr.strides[last]
    else:
        phi_TR, phi_RT, s, R_ab_w = _attention_fields(pyr, R_ab, tau, chunk)
    phi_TR = upsample_field(phi_TR, s, pyr.size_T, pyr.size_R)
    phi_RT = upsample_field(phi_RT, s, pyr.size_R, pyr.size_T)
    ref = pyr.T[layers[0]]
    if maps:
        sims = similarity_maps({k: pyr.T[k] for k in layers}, {k: pyr.R[k] for k in layers}, phi_TR, phi_RT)
    else:
        sims = torch.zeros(phi_TR.shape[0], 0, *pyr.size_T, dtype=ref.dtype, device=ref.device)
    if R_ab_w is None:
        R_ab_w = warp(R_ab.to(device=sims.device, dtype=sims.dtype), phi_TR)
    return Matched(phi_TR, phi_RT, R_ab_w, sims, cosine)


@torch.no_grad()
def match(model, T_L: Tensor, R_L: Tensor, R_ab: Tensor, layers: Sequence[str] | None = None,
          field_layer: str | Sequence[str] = FIELD_LAYER, chunk: int = DEFAULT_CHUNK, method: str = "exact",
          iters: int = C2F_ITERS, tau: float = ATTENTION_TAU, mirror: bool = False, maps: bool = True,
          fast: bool = False, splits: Sequence[int] = ()) -> Matched:
    """The similarity sub-net end to end: gray-VGG pyramids of T_L and R_L (B, 1, H, W) (:func:`pyramids`), the
    fields phi_T->R and phi_R->T upsampled to pixels, R'_ab = warp(R_ab, phi_T->R) and the similarity maps
    (:func:`match_pyramids`).

    method "exact": exact cosine NN on ``field_layer`` (default relu3_1), stride 4; several layers
    (e.g. ``PHOTO_FIELD``) are matched as :func:`hypercolumns` on the grid of the finest, and ``mirror``
    adds the mirrored reference as candidates (:func:`exact_nn_mirrored`, one more gray-VGG pass);
    ``fast`` compares a hypercolumn's cosines in bfloat16 (:func:`exact_nn`).
    method "patchmatch": DEC's route, :func:`coarse_to_fine_bidirectional` PatchMatch over
    ``PATCHMATCH_LAYERS`` (relu5_1 -> relu2_1 as in DEC; ``iters`` per layer; ``field_layer`` ignored), the
    relu2_1 field upsampled x2. method "attention": VID's route,
    :func:`vid_features` at 1/4 resolution, R'_ab = the soft :func:`attention_warp` of R_ab (temperature
    ``tau``) upsampled bilinearly; the fields (for the similarity maps) are its argmax in both directions.
    ``maps=False`` skips the similarity maps (``sims`` then has 0 channels), for R'_ab alone. ``splits``: R is
    several references side by side (:func:`pyramids`).
    """
    field = (field_layer,) if isinstance(field_layer, str) else tuple(field_layer)
    layers = tuple(DEC_LAYERS if layers is None else layers)
    extra = tuple(k for k in method_layers(method, field) if k not in layers)
    if mirror and method != "exact":
        raise ValueError(f"mirror=True needs method='exact', got method={method!r}")
    pyr = pyramids(model, T_L, R_L, layers + extra, field if mirror else (), splits)
    return match_pyramids(pyr, R_ab, layers, field, chunk, method, iters, tau, mirror, maps, fast)


def field_layers(fields: Sequence[Field],
                 layers: Sequence[str] | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The layers that ``fields`` and the maps of ``layers`` (default DEC's) read, and those of them that mirrored
    candidates need: the ``layers`` and ``mirrored`` of :func:`pyramids` for :func:`match_fields`."""
    layers = tuple(DEC_LAYERS if layers is None else layers)
    extra = tuple(dict.fromkeys(k for f in fields for k in f.layers if k not in layers))
    return layers + extra, tuple(dict.fromkeys(k for f in fields if f.mirror for k in f.layers))


@torch.no_grad()
def match_fields(model, T_L: Tensor, R_lab: Tensor, fields: Sequence[Field], layers: Sequence[str] | None = None,
                 maps: bool = True, chunk: int = DEFAULT_CHUNK, splits: Sequence[int] = (),
                 reference: Pyramids | None = None) -> list[Matched]:
    """Several exact matchers on one set of pyramids: T_L (B, 1, h, w), R_lab (B, 3, h', w') -> one
    :class:`Matched` per :class:`Field`, R'_ab^k and its maps, from three gray-VGG passes in all (T, R, mirrored R;
    per reference with ``splits``, :func:`pyramids`), one when R's come in ``reference``
    (:func:`reference_pyramids` of :func:`field_layers`)."""
    layers = tuple(DEC_LAYERS if layers is None else layers)
    pyr = pyramids(model, T_L, R_lab[:, :1], *field_layers(fields, layers), splits, reference)
    return [match_pyramids(pyr, R_lab[:, 1:], layers, f.layers, chunk, mirror=f.mirror, maps=maps, fast=f.fast)
            for f in fields]
