"""Correspondences, warps and similarity maps: the similarity sub-net of He et al. 2018 (Sec. 3.1).

Given gray-VGG features of the target T and the reference R (both computed from luminance alone, see
:mod:`reprolib.features`), this module finds the bidirectional mapping functions phi_T->R and phi_R->T,
warps the reference chrominance R_ab into R'_ab(p) = R_ab(phi_T->R(p)), and builds the per-layer
similarity maps that the colorization sub-net reads:

    sim_T->R(p)  = cos(F_T(p), F_R(phi_T->R(p)))                                   (forward)
    sim_T<->R(p) = cos(F_R(phi_T->R(p)), F_T(phi_R->T(phi_T->R(p))))               (bidirectional, as in DEC)

Conventions (used by every function here):

* **Field format**: a correspondence field phi is an int64 tensor (B, 2, h, w); channel 0 is the row y,
  channel 1 the column x of the matched position in the OTHER image, as integer grid indices
  (0 <= y < h_other, 0 <= x < w_other). At feature resolution they index the feature grid, at image
  resolution (after :func:`upsample_field`) they index pixels. The identity field is :func:`identity_field`.
* Unbatched features (C, h, w) are treated as a batch of one; outputs always keep the batch axis.
* Features are compared by cosine similarity; :func:`exact_nn` L2-normalises its inputs itself
  (normalising already-normalised features changes nothing).

Where we deviate from the paper:

* DEC computes the field by coarse-to-fine PatchMatch (Deep Image Analogy, DIA) over relu5_1 ... relu2_1 and
  upsamples the relu2_1 field x2. Our default (``match(method="exact")``) is the **exact** cosine nearest
  neighbour of single positions (no patches) on ONE layer (``FIELD_LAYER``, relu3_1, stride 4), chunked
  so that it runs in bounded memory. ``match(method="patchmatch")`` follows DEC's route with a vectorised
  PatchMatch (:func:`patchmatch`, :func:`coarse_to_fine`): DIA's patch sizes and similarity, but
  jump-flooding propagation instead of a sequential scan, 5 iterations instead of 10, no feature
  reconstruction (DIA's deconvolution-based blending of the two images' features) between layers, and it
  stops at relu3_1 (``PATCHMATCH_LAYERS``; relu2_1 is available but its 4x larger grid does not fit the
  cosine-matrix route at 256 x 256 and costs about 30x more).
  ``match(method="attention")`` is the soft, differentiable alternative of the video follow-up (VID):
  :func:`vid_features` and :func:`attention_warp`.
* Image-resolution features are sampled per pixel by bilinear interpolation with ``grid_sample``
  (``align_corners=False``: pixel q of an image of width W sits at normalised 2 (q + 0.5) / W - 1 on every
  layer), which equals bilinear upsampling of each layer to the image size, evaluated at q.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from .features import DEC_LAYERS, VID_LAYERS

PATCHMATCH_LAYERS = ("relu5_1", "relu4_1", "relu3_1")  # coarse to fine (DEC goes on to relu2_1)
ATTENTION_STRIDE = 4  # VID matches at 1/4 of the image
ATTENTION_TAU = 0.01  # VID's softmax temperature
METHODS = ("exact", "patchmatch", "attention")  # match(method=...)
FIELD_LAYER = "relu3_1"  # the layer whose exact nearest neighbours give phi (DEC: PatchMatch down to relu2_1)
DEFAULT_CHUNK = 4096  # target positions per similarity block: block memory = chunk x h_R w_R floats
NORMALIZATIONS = ("dec", "unit")
MATRIX_LIMIT = 2**26  # PatchMatch: cosine matrix of two grids up to this many entries (else descriptors)
GRAM_LIMIT = 2**21  # similarity maps: Gram matrices for layers with h_T w_T x h_R w_R up to this
EPS = 1e-8


# ---------------------------------------------------------------------------------------------- checks
def _shape(x: object) -> str:
    return f"shape {tuple(x.shape)}" if isinstance(x, Tensor) else type(x).__name__


def _features(x: object, name: str) -> Tensor:
    """Validate features (C, h, w) or (B, C, h, w) -> (B, C, h, w) float, non-empty, without NaN."""
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor (C, h, w) or (B, C, h, w), got {type(x).__name__}")
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"{name} must be shaped (C, h, w) or (B, C, h, w), got {_shape(x)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty: {_shape(x)}")
    if torch.isnan(x).any():
        raise ValueError(f"{name} contains NaN values")
    return x


def _pair(F_T: object, F_R: object) -> tuple[Tensor, Tensor]:
    F_T, F_R = _features(F_T, "F_T"), _features(F_R, "F_R")
    if F_T.shape[1] != F_R.shape[1]:
        raise ValueError(f"F_T and F_R have different channel counts: {F_T.shape[1]} and {F_R.shape[1]}")
    if F_T.shape[0] != F_R.shape[0]:
        raise ValueError(f"F_T and F_R have different batch sizes: {F_T.shape[0]} and {F_R.shape[0]}")
    if F_T.dtype != F_R.dtype or F_T.device != F_R.device:
        F_R = F_R.to(device=F_T.device, dtype=F_T.dtype)
    return F_T, F_R


def _check_chunk(chunk: object) -> int:
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive int, got {chunk!r}")
    return chunk


def check_field(phi: object, name: str = "phi", batch: int | None = None,
                size: tuple[int, int] | None = None, target: tuple[int, int] | None = None) -> Tensor:
    """Validate a field (B, 2, h, w) of integer (y, x) indices; optionally its batch, its own size (h, w)
    and the size (h', w') of the grid it points into (all indices must lie inside)."""
    if not isinstance(phi, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor (B, 2, h, w), got {type(phi).__name__}")
    if phi.dim() != 4 or phi.shape[1] != 2:
        raise ValueError(f"{name} must be shaped (B, 2, h, w) with channels (y, x), got {_shape(phi)}")
    if phi.is_floating_point() or phi.dtype == torch.bool or phi.is_complex():
        raise ValueError(f"{name} must hold integer (y, x) indices, got {phi.dtype}")
    if phi.numel() == 0:
        raise ValueError(f"{name} is empty: {_shape(phi)}")
    if batch is not None and phi.shape[0] != batch:
        raise ValueError(f"{name} has batch {phi.shape[0]}, expected {batch}")
    if size is not None and tuple(phi.shape[-2:]) != tuple(size):
        raise ValueError(f"{name} covers {tuple(phi.shape[-2:])} positions, expected {tuple(size)}")
    if target is not None:
        ys, xs = phi[:, 0], phi[:, 1]
        if ys.min() < 0 or xs.min() < 0 or ys.max() >= target[0] or xs.max() >= target[1]:
            raise ValueError(f"{name} points outside the {tuple(target)} grid it indexes: y in "
                             f"{int(ys.min())}..{int(ys.max())}, x in {int(xs.min())}..{int(xs.max())}")
    return phi.long()


# ---------------------------------------------------------------------------------------------- fields
def identity_field(h: int, w: int, batch: int = 1, device=None) -> Tensor:
    """The identity field (batch, 2, h, w): phi(y, x) = (y, x)."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return torch.stack((ys, xs))[None].expand(batch, 2, h, w).clone()


@torch.no_grad()
def exact_nn(F_T: Tensor, F_R: Tensor, chunk: int = DEFAULT_CHUNK) -> tuple[Tensor, Tensor]:
    """Exact cosine nearest neighbour of every target position among all reference positions.

        phi_T->R(p) = argmax_q cos(F_T(p), F_R(q)),      sim(p) = max_q cos(F_T(p), F_R(q))

    F_T (B, C, h, w) or (C, h, w), F_R (B, C, h', w') or (C, h', w'): same C; normalised here over C.
    Target positions are processed ``chunk`` at a time and batch items one at a time, so at most
    chunk x h' w' similarities exist at once (4096 x 16384 floats = 256 MB for 128 x 128 grids; lower
    ``chunk`` to use less). Ties go to the first reference position in raster order.

    Returns phi (B, 2, h, w) int64 (y, x) indices into the h' x w' grid, and sim (B, h, w) in [-1, 1].
    """
    F_T, F_R = _pair(F_T, F_R)
    chunk = _check_chunk(chunk)
    B, _, h, w = F_T.shape
    w_R = F_R.shape[-1]
    ft = F.normalize(F_T.flatten(2), dim=1, eps=EPS)  # (B, C, N)
    fr = F.normalize(F_R.flatten(2), dim=1, eps=EPS)  # (B, C, M)
    index = torch.empty(B, h * w, dtype=torch.long, device=F_T.device)
    best = torch.empty(B, h * w, dtype=F_T.dtype, device=F_T.device)
    for b in range(B):
        frb = fr[b]
        for i in range(0, h * w, chunk):
            s = ft[b, :, i:i + chunk].T @ frb  # (k, M)
            best[b, i:i + chunk], index[b, i:i + chunk] = s.max(dim=1)
    phi = torch.stack((index // w_R, index % w_R), dim=1).view(B, 2, h, w)
    return phi, best.view(B, h, w)


class Correspondence(NamedTuple):
    """phi_T->R (B, 2, h_T, w_T) into R, phi_R->T (B, 2, h_R, w_R) into T, and their best cosines."""

    phi_TR: Tensor
    phi_RT: Tensor
    sim_TR: Tensor
    sim_RT: Tensor


def bidirectional(F_T: Tensor, F_R: Tensor, chunk: int = DEFAULT_CHUNK) -> Correspondence:
    """Both mapping functions by :func:`exact_nn`: phi_T->R (T's grid -> R) and phi_R->T (R's grid -> T)."""
    F_T, F_R = _pair(F_T, F_R)
    phi_TR, sim_TR = exact_nn(F_T, F_R, chunk)
    phi_RT, sim_RT = exact_nn(F_R, F_T, chunk)
    return Correspondence(phi_TR, phi_RT, sim_TR, sim_RT)


def upsample_field(phi: Tensor, stride: int, size: tuple[int, int], target_size: tuple[int, int]) -> Tensor:
    """A field at feature resolution (stride ``stride``) -> a field at image resolution ``size`` (H, W).

    Nearest on cells, keeping the offset inside the cell (the displacement is upsampled, not the
    coordinates interpolated): pixel p in cell c = p // stride maps to stride * phi(c) + (p - stride * c),
    clipped to the ``target_size`` (H', W') image it points into. Pixels past the last full cell (image
    sides not multiples of the stride) use the last cell. Returns (B, 2, H, W) int64 pixel indices.
    """
    phi = check_field(phi)
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise ValueError(f"stride must be a positive int, got {stride!r}")
    H, W = size
    h, w = phi.shape[-2:]
    if H < 1 or W < 1 or target_size[0] < 1 or target_size[1] < 1:
        raise ValueError(f"image sizes must be positive, got size {tuple(size)} and target_size {tuple(target_size)}")
    ys = torch.arange(H, device=phi.device)
    xs = torch.arange(W, device=phi.device)
    cy, cx = (ys // stride).clamp(max=h - 1), (xs // stride).clamp(max=w - 1)
    cell = phi[:, :, cy][:, :, :, cx]  # (B, 2, H, W): phi of each pixel's cell
    offset = torch.stack(torch.meshgrid(ys - stride * cy, xs - stride * cx, indexing="ij"))
    out = stride * cell + offset[None]
    out[:, 0].clamp_(0, target_size[0] - 1)
    out[:, 1].clamp_(0, target_size[1] - 1)
    return out


def warp(values: Tensor, phi: Tensor) -> Tensor:
    """Warp a per-pixel quantity of R through a field: out(p) = values(phi(p)), e.g. R'_ab from R_ab.

    values (B, C, H_R, W_R) (or (C, H_R, W_R)), phi (B, 2, H, W) int64 (y, x) indices into H_R x W_R
    (use :func:`upsample_field` first for a field found at feature resolution). Exact gather, no
    interpolation, so labels and other integer maps warp too. Returns (B, C, H, W) with values' dtype.
    """
    if not isinstance(values, Tensor) or values.dim() not in (3, 4) or values.numel() == 0:
        raise ValueError(f"values must be a non-empty tensor (B, C, H_R, W_R), got {_shape(values)}")
    if values.dim() == 3:
        values = values.unsqueeze(0)
    B, C, H_R, W_R = values.shape
    phi = check_field(phi, batch=B, target=(H_R, W_R))
    idx = (phi[:, 0] * W_R + phi[:, 1]).flatten(1)[:, None, :].expand(B, C, -1)
    return values.flatten(2).gather(2, idx).view(B, C, *phi.shape[-2:])


# ---------------------------------------------------------------------------------------------- similarity maps
def _check_pyramids(feats_T: object, feats_R: object) -> list[str]:
    for name, feats in (("feats_T", feats_T), ("feats_R", feats_R)):
        if not isinstance(feats, Mapping) or not feats:
            raise ValueError(f"{name} must be a non-empty dict layer name -> features (B, C, h, w), got "
                             f"{type(feats).__name__}")
    if list(feats_T) != list(feats_R):
        raise ValueError(f"feature pyramids differ: T has layers {list(feats_T)}, R has {list(feats_R)}")
    for layer in feats_T:
        a = _features(feats_T[layer], f"feats_T[{layer!r}]")
        b = _features(feats_R[layer], f"feats_R[{layer!r}]")
        if a.shape[:2] != b.shape[:2]:
            raise ValueError(f"layer {layer!r}: T features {tuple(a.shape)} and R features {tuple(b.shape)} "
                             f"differ in batch or channels")
    return list(feats_T)


def sample_features(feats: Tensor, at: Tensor, size: tuple[int, int]) -> Tensor:
    """Bilinearly sample features (B, C, h, w) of an image of ``size`` (H, W) pixels at pixel indices
    ``at`` (B, 2, H', W') (y, x) -> (B, C, H', W'); the layer's grid covers the whole image."""
    H, W = size
    y = (at[:, 0].to(feats.dtype) + 0.5) * (2.0 / H) - 1.0
    x = (at[:, 1].to(feats.dtype) + 0.5) * (2.0 / W) - 1.0
    grid = torch.stack((x, y), dim=-1)  # grid_sample wants (x, y)
    return F.grid_sample(feats, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _axis(size: int, cells: int, device, dtype) -> tuple[Tensor, Tensor]:
    """Bilinear corners (size, 2) and weights (size, 2) of every pixel index q < ``size`` on an axis covered
    by ``cells`` cells, as grid_sample computes them (align_corners=False, border padding):
    u = clip((q + 0.5) cells / size - 0.5, 0, cells - 1), corners floor(u) and min(floor(u) + 1, cells - 1),
    weights 1 - (u - floor(u)) and u - floor(u)."""
    u = ((torch.arange(size, dtype=torch.float64, device=device) + 0.5) * (cells / size) - 0.5).clamp(0, cells - 1)
    i0 = u.floor()
    frac = (u - i0).to(dtype)
    i0 = i0.long()
    return torch.stack((i0, (i0 + 1).clamp(max=cells - 1)), -1), torch.stack((1 - frac, frac), -1)


def _bilinear(at: Tensor, size: tuple[int, int], grid: tuple[int, int], dtype) -> tuple[Tensor, Tensor]:
    """The 4 bilinear corners (B, N, 4) as flat grid indices and their weights (B, N, 4) of pixel
    positions ``at`` (B, 2, H', W') in an image of ``size`` whose features lie on ``grid``."""
    cy, wy = _axis(size[0], grid[0], at.device, dtype)
    cx, wx = _axis(size[1], grid[1], at.device, dtype)
    ys, xs = at[:, 0].flatten(1), at[:, 1].flatten(1)
    idx = (cy[ys][..., :, None] * grid[1] + cx[xs][..., None, :]).flatten(-2)  # (B, N, 4): y-major corners
    wts = (wy[ys][..., :, None] * wx[xs][..., None, :]).flatten(-2)
    return idx, wts


def _pixel_rows(feats: Tensor, size: tuple[int, int]) -> Tensor:
    """Features (B, C, h, w) bilinearly upsampled to the image ``size`` (align_corners=False), as rows
    (B, H W, C): the value grid_sample gives at every pixel centre, ready for row gathers."""
    up = F.interpolate(feats.contiguous(memory_format=torch.channels_last), size=size, mode="bilinear",
                       align_corners=False)
    return up.permute(0, 2, 3, 1).reshape(feats.shape[0], size[0] * size[1], feats.shape[1])


def _rows_at(rows: Tensor, at: Tensor, width: int) -> Tensor:
    """rows (B, n, C) at pixel positions ``at`` (B, 2, H', W') of an image ``width`` wide -> (B, N, C)."""
    B, n, C = rows.shape
    idx = (at[:, 0] * width + at[:, 1]).flatten(1) + n * torch.arange(B, device=at.device)[:, None]
    return rows.reshape(B * n, C).index_select(0, idx.flatten()).view(B, -1, C)


def _quadratic(G: Tensor, ia: Tensor, wa: Tensor, ib: Tensor, wb: Tensor) -> Tensor:
    """sum_ij wa_i wb_j G[ia_i, ib_j] per position: G (B, n_a, n_b), ia/wa/ib/wb (B, N, 4) -> (B, N)."""
    n_b = G.shape[-1]
    flat = ia[..., :, None] * n_b + ib[..., None, :]  # (B, N, 4, 4)
    vals = G.flatten(1).gather(1, flat.flatten(1)).view(flat.shape)
    return torch.einsum("bni,bnij,bnj->bn", wa, vals, wb)


def _layer_cosines(ft: Tensor, fr: Tensor, phi_TR: Tensor, round_trip: Tensor, size_T: tuple[int, int],
                   size_R: tuple[int, int], gram_limit: int) -> tuple[Tensor, Tensor]:
    """Forward and bidirectional cosines (B, N) of one layer: a = F_T(p), b = F_R(phi_T->R(p)),
    c = F_T(phi_R->T(phi_T->R(p))), each bilinearly sampled; returns cos(a, b) and cos(b, c).

    Coarse grids (h_T w_T x h_R w_R <= gram_limit): every sample is a bilinear combination of 4 grid
    vectors, so every dot product is a 4 x 4 quadratic form in the Gram matrices of the grids, and no
    C-channel vector is built per pixel. Finer grids: each layer is upsampled once to its image (what
    grid_sample gives at every pixel centre) and the rows at phi_T->R(p) and the round trip are gathered.
    Both equal grid_sample + cosine to float rounding."""
    B = ft.shape[0]
    FT, FR = ft.flatten(2), fr.flatten(2)  # (B, C, n)
    if FT.shape[-1] * FR.shape[-1] <= gram_limit:
        own = identity_field(*size_T, B, device=ft.device)
        ia, wa = _bilinear(own, size_T, tuple(ft.shape[-2:]), ft.dtype)
        ib, wb = _bilinear(phi_TR, size_R, tuple(fr.shape[-2:]), ft.dtype)
        ic, wc = _bilinear(round_trip, size_T, tuple(ft.shape[-2:]), ft.dtype)
        G_TT, G_RR, G_TR = FT.mT @ FT, FR.mT @ FR, FT.mT @ FR
        aa, bb, cc = _quadratic(G_TT, ia, wa, ia, wa), _quadratic(G_RR, ib, wb, ib, wb), _quadratic(G_TT, ic, wc, ic, wc)
        ab, cb = _quadratic(G_TR, ia, wa, ib, wb), _quadratic(G_TR, ic, wc, ib, wb)
    else:
        rows_T, rows_R = _pixel_rows(ft, size_T), _pixel_rows(fr, size_R)
        a, b, c = rows_T, _rows_at(rows_R, phi_TR, size_R[1]), _rows_at(rows_T, round_trip, size_T[1])
        aa, bb, cc = a.square().sum(-1), b.square().sum(-1), c.square().sum(-1)
        ab, cb = (a * b).sum(-1), (c * b).sum(-1)
    fwd = ab * (aa * bb).clamp_min(EPS**2).rsqrt()
    bid = cb * (bb * cc).clamp_min(EPS**2).rsqrt()
    return fwd, bid


def similarity_maps(feats_T: Mapping[str, Tensor], feats_R: Mapping[str, Tensor], phi_TR: Tensor,
                    phi_RT: Tensor, gram_limit: int = GRAM_LIMIT) -> Tensor:
    """The 2 L similarity maps of a feature pyramid (L layers), at the target's image resolution.

    feats_T, feats_R: {layer: (B, C_l, h_l, w_l)} with the same layer names in the same order (e.g.
    ``features.DEC_LAYERS``; each layer's grid covers its whole image). phi_TR (B, 2, H_T, W_T): pixel
    field T -> R; phi_RT (B, 2, H_R, W_R): pixel field R -> T (image sizes are read from the fields).
    One field serves every layer (DEC: the finest PatchMatch field; here e.g. relu3_1's exact NN upsampled).

    Returns (B, 2 L, H_T, W_T): channels 0..L-1 are sim_T->R per layer, channels L..2L-1 sim_T<->R per layer,
    both in pyramid order, each a cosine in [-1, 1] (in [0, 1] for ReLU features; 0 where a feature is 0).
    The samples are grid_sample's (bilinear, align_corners=False, border), computed through Gram matrices
    on coarse layers (``gram_limit``: the largest h_T w_T x h_R w_R done that way) and channels-last
    gathers on fine ones; both give grid_sample's numbers to float rounding, several times faster.
    """
    layers = _check_pyramids(feats_T, feats_R)
    B = feats_T[layers[0]].shape[0] if feats_T[layers[0]].dim() == 4 else 1
    phi_TR = check_field(phi_TR, "phi_TR", batch=B)
    H_T, W_T = phi_TR.shape[-2:]
    phi_RT = check_field(phi_RT, "phi_RT", batch=B, target=(H_T, W_T))
    H_R, W_R = phi_RT.shape[-2:]
    phi_TR = check_field(phi_TR, "phi_TR", target=(H_R, W_R))
    round_trip = warp(phi_RT, phi_TR)  # phi_R->T(phi_T->R(p)), (B, 2, H_T, W_T)
    fwd, bid = [], []
    for layer in layers:
        ft = _features(feats_T[layer], "feats_T")
        fr = _features(feats_R[layer], "feats_R").to(ft)
        f, b = _layer_cosines(ft, fr, phi_TR.to(ft.device), round_trip.to(ft.device), (H_T, W_T), (H_R, W_R),
                              gram_limit)
        fwd.append(f.view(B, H_T, W_T))
        bid.append(b.view(B, H_T, W_T))
    return torch.stack(fwd + bid, dim=1)


def colornet_input(T_L: Tensor, R_ab_warped: Tensor, sims: Tensor, normalization: str = "dec") -> Tensor:
    """The 13-channel input of the colorization sub-net: [sims (10), T_L (1), R'_ab (2)] in that order
    (2 L + 3 channels for a pyramid of L layers).

    T_L (B, 1, H, W) in L* 0..100, R_ab_warped = R'_ab (B, 2, H, W) raw a*, b*, sims (B, 10, H, W) from
    :func:`similarity_maps` (cosines; clipped to [0, 1] here, as the 0..255 maps of DEC are).

    normalization "dec" (default, DEC's code): sims -> (255 s - 127) / 2 (about -63.5..64),
    T_L -> L - 50 (as :func:`reprolib.color.normalize_l`), R'_ab raw.
    normalization "unit" (ours, all near [-1, 1]): sims -> 2 s - 1, T_L -> L / 50 - 1, R'_ab / 110.
    (The channel order of DEC's input file is not documented in PAPERS.md; this order is ours.)
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    for name, x, c in (("T_L", T_L, 1), ("R_ab_warped", R_ab_warped, 2), ("sims", sims, None)):
        if not isinstance(x, Tensor) or x.dim() != 4 or (c is not None and x.shape[1] != c) or x.numel() == 0:
            want = f"(B, {c}, H, W)" if c else "(B, 2 L, H, W)"
            raise ValueError(f"{name} must be a non-empty tensor {want}, got {_shape(x)}")
    if not (T_L.shape[0] == R_ab_warped.shape[0] == sims.shape[0]) or not (
            T_L.shape[-2:] == R_ab_warped.shape[-2:] == sims.shape[-2:]):
        raise ValueError(f"T_L {tuple(T_L.shape)}, R_ab_warped {tuple(R_ab_warped.shape)} and sims "
                         f"{tuple(sims.shape)} must share batch and image size")
    s = sims.clamp(0.0, 1.0)
    if normalization == "dec":
        parts = ((255.0 * s - 127.0) / 2.0, T_L - 50.0, R_ab_warped)
    else:
        parts = (2.0 * s - 1.0, T_L / 50.0 - 1.0, R_ab_warped / 110.0)
    return torch.cat([p.to(sims.dtype) for p in parts], dim=1)


# ---------------------------------------------------------------------------------------------- soft attention
def attention_warp(F_T: Tensor, F_R: Tensor, values_R: Tensor, tau: float = 0.01,
                   chunk: int = DEFAULT_CHUNK) -> tuple[Tensor, Tensor]:
    """Soft correspondence of the video follow-up (VID): a differentiable alternative to phi_T->R.

        warped(p) = sum_q softmax_q(cos(F_T(p), F_R(q)) / tau) values_R(q),   confidence(p) = max_q cos

    F_T (B, C, h, w), F_R (B, C, h', w'); values_R (B, V, h', w') on R's FEATURE grid (VID brings features
    and ab to 1/4 resolution; downsample R_ab to F_R's size first). Chunked over target positions like
    :func:`exact_nn` (and differentiable). tau -> 0 gives exact NN's warp. Returns warped (B, V, h, w)
    and confidence (B, h, w).
    """
    F_T, F_R = _pair(F_T, F_R)
    chunk = _check_chunk(chunk)
    if not isinstance(values_R, Tensor) or values_R.dim() not in (3, 4) or values_R.numel() == 0:
        raise ValueError(f"values_R must be a non-empty tensor (B, V, h', w'), got {_shape(values_R)}")
    if values_R.dim() == 3:
        values_R = values_R.unsqueeze(0)
    if values_R.shape[0] != F_R.shape[0] or values_R.shape[-2:] != F_R.shape[-2:]:
        raise ValueError(f"values_R {tuple(values_R.shape)} must share batch and grid with F_R {tuple(F_R.shape)}")
    if not isinstance(tau, (int, float)) or isinstance(tau, bool) or not tau > 0:
        raise ValueError(f"tau must be a positive number, got {tau!r}")
    warped, conf, _ = _attention(F_T, F_R, values_R, tau, chunk)
    return warped, conf


def _attention(F_T: Tensor, F_R: Tensor, values_R: Tensor, tau: float, chunk: int) -> tuple[Tensor, Tensor, Tensor]:
    """attention_warp's warped values and confidence, plus the argmax field (B, 2, h, w) (tau -> 0)."""
    B, _, h, w = F_T.shape
    w_R = F_R.shape[-1]
    ft = F.normalize(F_T.flatten(2), dim=1, eps=EPS)
    fr = F.normalize(F_R.flatten(2), dim=1, eps=EPS)
    vals = values_R.flatten(2).to(F_T.dtype)  # (B, V, M)
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
    parts = [F.interpolate(F.normalize(_features(feats[k], f"feats[{k!r}]"), dim=1, eps=EPS), size=size,
                           mode="bilinear", align_corners=False) for k in layers]
    return torch.cat(parts, dim=1) / len(layers) ** 0.5


# ---------------------------------------------------------------------------------------------- the whole sub-net
class Matched(NamedTuple):
    """Output of :func:`match`: pixel fields phi_T->R, phi_R->T, R'_ab, the 2 L maps and the 13-ch input."""

    phi_TR: Tensor
    phi_RT: Tensor
    R_ab_warped: Tensor
    sims: Tensor
    net_input: Tensor


@torch.no_grad()
def match(model, T_L: Tensor, R_L: Tensor, R_ab: Tensor, layers: Sequence[str] | None = None,
          field_layer: str = FIELD_LAYER, chunk: int = DEFAULT_CHUNK, normalization: str = "dec",
          method: str = "exact", iters: int = 5, tau: float = ATTENTION_TAU) -> Matched:
    """The similarity sub-net end to end: gray-VGG pyramids of T_L and R_L (B, 1, H, W), the fields
    phi_T->R and phi_R->T upsampled to pixels, R'_ab = warp(R_ab, phi_T->R), the maps and the colornet input.

    method "exact": exact cosine NN on ``field_layer`` (default relu3_1), stride 4. method "patchmatch":
    DEC's route, :func:`coarse_to_fine_bidirectional` PatchMatch over ``PATCHMATCH_LAYERS`` (relu5_1 ->
    relu3_1; DEC goes on to relu2_1, 30x slower here; ``iters`` per layer; ``field_layer`` ignored), the
    relu3_1 field upsampled x4. method "attention": VID's route, :func:`vid_features` at 1/4 resolution,
    R'_ab = the soft :func:`attention_warp` of R_ab (temperature ``tau``) upsampled bilinearly; the fields
    (for the similarity maps) are its argmax in both directions.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    layers = tuple(DEC_LAYERS if layers is None else layers)
    extra = {"exact": (field_layer,), "patchmatch": PATCHMATCH_LAYERS, "attention": VID_LAYERS}[method]
    fT = model(T_L, layers + tuple(k for k in extra if k not in layers))
    fR = model(R_L, tuple(fT))
    size_T, size_R = tuple(T_L.shape[-2:]), tuple(R_L.shape[-2:])
    R_ab_w = None
    if method == "exact":
        c = bidirectional(fT[field_layer], fR[field_layer], chunk)
        phi_TR, phi_RT, s = c.phi_TR, c.phi_RT, model.stride(field_layer)
    elif method == "patchmatch":
        fwd, bwd = coarse_to_fine_bidirectional(fT, fR, PATCHMATCH_LAYERS, iters=iters)
        phi_TR, phi_RT, s = fwd[PATCHMATCH_LAYERS[-1]], bwd[PATCHMATCH_LAYERS[-1]], model.stride(PATCHMATCH_LAYERS[-1])
    else:
        s = ATTENTION_STRIDE
        grid_T, grid_R = (max(1, size_T[0] // s), max(1, size_T[1] // s)), (max(1, size_R[0] // s), max(1, size_R[1] // s))
        vT, vR = vid_features(fT, grid_T), vid_features(fR, grid_R)
        ab_small = F.interpolate(R_ab.to(vT), size=grid_R, mode="area")
        soft, _, phi_TR = _attention(vT, vR, ab_small, tau, _check_chunk(chunk))
        phi_RT = exact_nn(vR, vT, chunk)[0]
        R_ab_w = F.interpolate(soft, size=size_T, mode="bilinear", align_corners=False)
    phi_TR = upsample_field(phi_TR, s, size_T, size_R)
    phi_RT = upsample_field(phi_RT, s, size_R, size_T)
    sims = similarity_maps({k: fT[k] for k in layers}, {k: fR[k] for k in layers}, phi_TR, phi_RT)
    if R_ab_w is None:
        R_ab_w = warp(R_ab.to(device=sims.device, dtype=sims.dtype), phi_TR)
    net_in = colornet_input(T_L.to(device=sims.device, dtype=sims.dtype), R_ab_w, sims, normalization)
    return Matched(phi_TR, phi_RT, R_ab_w, sims, net_in)


# ---------------------------------------------------------------------------------------------- PatchMatch
def patch_descriptors(feats: Tensor, patch: int) -> Tensor:
    """Features (B, C, h, w), L2-normalised here -> patch descriptors (B, C patch^2, h, w): the
    patch x patch neighbourhood stacked (edges replicated) and divided by patch, so that
    <D_T(p), D_R(q)> = mean over offsets d of <f_T(p + d), f_R(q + d)> = minus DIA's patch distance."""
    if isinstance(patch, bool) or not isinstance(patch, int) or patch < 1 or patch % 2 == 0:
        raise ValueError(f"patch must be a positive odd int, got {patch!r}")
    f = F.normalize(feats, dim=1, eps=EPS)
    r = patch // 2
    h, w = f.shape[-2:]
    padded = F.pad(f, (r, r, r, r), mode="replicate") if r else f
    parts = [padded[..., dy:dy + h, dx:dx + w] for dy in range(patch) for dx in range(patch)]
    return torch.cat(parts, dim=1) / patch


def cosine_matrix(F_T: Tensor, F_R: Tensor) -> Tensor:
    """S (B, h w, h' w'): cosine of every target position with every reference position (S_R->T = S^T)."""
    F_T, F_R = _pair(F_T, F_R)
    ft, fr = F.normalize(F_T.flatten(2), dim=1, eps=EPS), F.normalize(F_R.flatten(2), dim=1, eps=EPS)
    return ft.mT @ fr


def _patch_scorer(F_T: Tensor, F_R: Tensor, patch: int, matrix_limit: int, S: Tensor | None = None):
    """score(q, where) -> <D_T(p), D_R(q)> for target flat positions ``where`` (B, k) and reference
    positions q (B, 2, k) (y, x): the patch similarity of :func:`patch_descriptors`.

    When h_T w_T x h_R w_R <= matrix_limit it reads the per-position cosine matrix
    S = F_T^T F_R (normalised features, (B, h_T w_T, h_R w_R)): <D_T(p), D_R(q)> = mean_d S[p + d, q + d]
    (edges replicated), patch^2 scalar reads per candidate. Otherwise it gathers the patch descriptors
    (C patch^2 numbers per candidate, bounded memory)."""
    B, _, h, w = F_T.shape
    h_R, w_R = F_R.shape[-2:]
    if S is not None or h * w * h_R * w_R <= matrix_limit:
        S = (cosine_matrix(F_T, F_R) if S is None else S).reshape(B, -1)  # (B, n_T n_R)
        r = patch // 2
        ys, xs = torch.arange(h, device=S.device), torch.arange(w, device=S.device)
        rows = []  # per patch offset d: the flat index of clip(p + d) times n_R, for every target p
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                p = (ys + dy).clamp(0, h - 1)[:, None] * w + (xs + dx).clamp(0, w - 1)[None, :]
                rows.append((dy, dx, p.flatten() * (h_R * w_R)))

        def score(q: Tensor, where: Tensor) -> Tensor:
            qy, qx = q[:, 0], q[:, 1]
            total = torch.zeros(q.shape[0], q.shape[-1], dtype=S.dtype, device=S.device)
            for dy, dx, p in rows:
                o = (qy + dy).clamp(0, h_R - 1) * w_R + (qx + dx).clamp(0, w_R - 1)
                total += S.gather(1, p[where] + o)
            return total / len(rows)
        return score

    rows_T = patch_descriptors(F_T, patch).flatten(2).mT.contiguous()  # (B, n_T, K) channels-last rows
    rows_R = patch_descriptors(F_R, patch).flatten(2).mT.contiguous()

    def score(q: Tensor, where: Tensor) -> Tensor:
        idx = q[:, 0] * w_R + q[:, 1]
        return torch.stack([(rows_T[b].index_select(0, where[b]) * rows_R[b].index_select(0, idx[b])).sum(-1)
                            for b in range(q.shape[0])])
    return score


@torch.no_grad()
def patchmatch(F_T: Tensor, F_R: Tensor, patch: int = 3, iters: int = 5, radius: int | None = None,
               init: Tensor | None = None, seed: int = 0, jumps: Sequence[int] | None = None,
               matrix_limit: int = MATRIX_LIMIT, S: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """PatchMatch (Barnes et al. 2009) on one layer, vectorised: an approximate phi_T->R maximising the
    patch similarity of :func:`patch_descriptors` (DIA's patch distance, negated).

    Each iteration: propagation (every position p tries phi(p + e) - e for e = +-j along y and x, all
    positions at once, for j in ``jumps``; default from a random start j = ..., 4, 2, 1, a jump-flooding
    sweep instead of DIA's sequential scan, so that a good match crosses the grid in one iteration, and from
    an ``init`` j = 2, 1, as the coarser field already placed the matches) then random search
    (phi(p) + a uniform offset in [-r, r], r = radius, radius/2, ..., 1; default radius = max(h', w') / 2).
    A candidate is scored only where it differs from the current match. ``init`` is a field
    (B, 2, h, w) into R, e.g. the coarser layer's field upsampled by :func:`upsample_field` with stride 2;
    without it the field starts uniformly random (seeded). Scores come from the cosine matrix of the
    two grids when it has at most ``matrix_limit`` entries (256 MB in float32 by default), else from
    gathered patch descriptors; ``S`` passes that matrix in (:func:`cosine_matrix`, e.g. transposed for
    the other direction). Returns phi (B, 2, h, w) int64 and the patch similarity (B, h, w).
    Deviation: DIA also matches the "reconstructed" features.
    """
    F_T, F_R = _pair(F_T, F_R)
    if isinstance(iters, bool) or not isinstance(iters, int) or iters < 0:
        raise ValueError(f"iters must be a non-negative int, got {iters!r}")
    if isinstance(patch, bool) or not isinstance(patch, int) or patch < 1 or patch % 2 == 0:
        raise ValueError(f"patch must be a positive odd int, got {patch!r}")
    B, _, h, w = F_T.shape
    h_R, w_R = F_R.shape[-2:]
    n = h * w
    if S is not None and (not isinstance(S, Tensor) or tuple(S.shape) != (B, h * w, h_R * w_R)):
        raise ValueError(f"S must be the cosine matrix (B, h w, h' w') = {(B, h * w, h_R * w_R)}, got {_shape(S)}")
    score = _patch_scorer(F_T, F_R, patch, matrix_limit, S)
    everywhere = torch.arange(n, device=F_T.device).expand(B, n)
    g = torch.Generator(device=F_T.device).manual_seed(seed)
    high = torch.tensor([h_R - 1, w_R - 1], device=F_T.device).view(1, 2, 1, 1)
    if init is None:
        phi = (torch.rand(B, 2, h, w, generator=g, device=F_T.device) * (high + 1)).long().minimum(high)
    else:
        phi = check_field(init, "init", batch=B, size=(h, w), target=(h_R, w_R)).to(F_T.device).clone()
    phi = phi.contiguous()
    best = score(phi.flatten(2), everywhere).view(B, h, w)
    radius = max(h_R, w_R) // 2 if radius is None else int(radius)
    if radius < 1:
        raise ValueError(f"radius must be >= 1, got {radius}")
    if jumps is None:
        jumps = [2**k for k in range(max(h, w).bit_length() - 1, -1, -1)] if init is None else [2, 1]

    def consider(candidate: Tensor) -> None:
        candidate = torch.minimum(candidate.clamp_min(0), high)
        changed = (candidate != phi).any(1).view(B, -1)  # (B, n): only these need a score
        k = int(changed.sum(1).max())
        if k == 0:
            return
        where = torch.argsort(changed.to(torch.int8), dim=1, descending=True, stable=True)[:, :k]  # (B, k)
        where2 = where[:, None].expand(B, 2, k)
        flat_phi, flat_best = phi.view(B, 2, -1), best.view(B, -1)
        cand, old = candidate.flatten(2).gather(2, where2), flat_best.gather(1, where)
        new = score(cand, where)
        better = (new > old) & changed.gather(1, where)
        flat_phi.scatter_(2, where2, torch.where(better[:, None], cand, flat_phi.gather(2, where2)))
        flat_best.scatter_(1, where, torch.where(better, new, old))

    for _ in range(iters):
        for jump in jumps:
            for dim, step in ((2, jump), (2, -jump), (3, jump), (3, -jump)):
                if abs(step) >= phi.shape[dim]:
                    continue
                # candidate for p from n = p + e: phi(n) - e (positions whose n falls outside keep phi(p))
                candidate = torch.roll(phi, shifts=-step, dims=dim)
                e = torch.zeros(1, 2, 1, 1, dtype=torch.long, device=phi.device)
                e[0, dim - 2] = step
                candidate = candidate - e
                edge = [slice(None)] * 4
                edge[dim] = slice(-step, None) if step > 0 else slice(0, -step)
                candidate[tuple(edge)] = phi[tuple(edge)]
                consider(candidate)
        r = radius
        while r >= 1:
            offset = torch.randint(-r, r + 1, (B, 2, h, w), generator=g, device=phi.device)
            consider(phi + offset)
            r //= 2
    return phi, best


PATCH_SIZES = {"relu5_1": 3, "relu4_1": 3, "relu3_1": 3, "relu2_1": 5, "relu1_1": 5}  # DIA's, coarse to fine


def _check_c2f(feats_T: object, feats_R: object, layers: Sequence[str]) -> None:
    if not isinstance(feats_T, Mapping) or not isinstance(feats_R, Mapping):
        raise ValueError("feats_T and feats_R must be dicts layer name -> features (B, C, h, w)")
    missing = [k for k in layers if k not in feats_T or k not in feats_R]
    if missing or not layers:
        raise ValueError(f"layers {missing or list(layers)} are missing from the feature pyramids")
    _check_pyramids({k: feats_T[k] for k in layers}, {k: feats_R[k] for k in layers})


def _c2f_step(ft: Tensor, fr: Tensor, layer: str, coarser: Tensor | None, iters: int, seed: int,
              S: Tensor | None, matrix_limit: int = MATRIX_LIMIT) -> Tensor:
    init = None if coarser is None else upsample_field(coarser, 2, tuple(ft.shape[-2:]), tuple(fr.shape[-2:]))
    radius = max(fr.shape[-2:]) // 2 if coarser is None else 4
    phi, _ = patchmatch(ft, fr, patch=PATCH_SIZES.get(layer, 3), iters=iters, radius=radius, init=init,
                        seed=seed, S=S, matrix_limit=matrix_limit)
    return phi


def coarse_to_fine(feats_T: Mapping[str, Tensor], feats_R: Mapping[str, Tensor],
                   layers: Sequence[str] = PATCHMATCH_LAYERS, iters: int = 5, seed: int = 0) -> dict[str, Tensor]:
    """PatchMatch per layer from coarse to fine, each layer initialised by the coarser field upsampled x2
    (:func:`upsample_field`); DEC goes from relu5_1 to relu2_1. Layers must halve in size from one to the
    next. Patch sizes from ``PATCH_SIZES`` (3 for unknown names); random-search radius max(h', w') / 2 on
    the coarsest layer, 4 after it. Returns {layer: phi_T->R at that layer}."""
    _check_c2f(feats_T, feats_R, layers)
    fields: dict[str, Tensor] = {}
    phi = None
    for layer in layers:
        ft, fr = _pair(feats_T[layer], feats_R[layer])
        phi = fields[layer] = _c2f_step(ft, fr, layer, phi, iters, seed, None)
    return fields


def coarse_to_fine_bidirectional(feats_T: Mapping[str, Tensor], feats_R: Mapping[str, Tensor],
                                 layers: Sequence[str] = PATCHMATCH_LAYERS, iters: int = 5, seed: int = 0,
                                 matrix_limit: int = MATRIX_LIMIT) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """:func:`coarse_to_fine` in both directions, phi_T->R and phi_R->T, sharing each layer's cosine
    matrix S (S_R->T = S_T->R^T) where it fits in ``matrix_limit`` entries. Same fields as two calls."""
    _check_c2f(feats_T, feats_R, layers)
    fwd: dict[str, Tensor] = {}
    bwd: dict[str, Tensor] = {}
    phi_TR = phi_RT = None
    for layer in layers:
        ft, fr = _pair(feats_T[layer], feats_R[layer])
        fits = ft.shape[-2] * ft.shape[-1] * fr.shape[-2] * fr.shape[-1] <= matrix_limit
        S = cosine_matrix(ft, fr) if fits else None
        phi_TR = fwd[layer] = _c2f_step(ft, fr, layer, phi_TR, iters, seed, S, matrix_limit)
        phi_RT = bwd[layer] = _c2f_step(fr, ft, layer, phi_RT, iters, seed, None if S is None else S.mT, matrix_limit)
    return fwd, bwd
