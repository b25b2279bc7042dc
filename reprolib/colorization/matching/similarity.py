"""The similarity maps of the similarity sub-net (He et al. 2018, Sec. 3.1), at image resolution:

    sim_T->R(p)  = cos(F_T(p), F_R(phi_T->R(p)))                                   (forward)
    sim_T<->R(p) = cos(F_R(phi_T->R(p)), F_T(phi_R->T(phi_T->R(p))))               (bidirectional, as in DEC)

one pair of maps per layer of the pyramid (DEC: relu1_1 ... relu5_1), each layer's features sampled at
every pixel by bilinear interpolation (grid_sample, ``align_corners=False``: pixel q of an image of width W
sits at normalised 2 (q + 0.5) / W - 1 on every layer), as DEC's code does, instead of upsampling maps made
at low resolution. :func:`sample_features` is that sampling written out; :func:`similarity_maps` computes
the same numbers faster (Gram matrices on coarse layers, row gathers on fine ones).
"""
from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor

from ...core import checks
from .fields import EPS, check_field, identity_field, warp

GRAM_LIMIT = 2**21  # similarity maps: Gram matrices (8 MB each) for layers with h_T w_T x h_R w_R up to this
MAP_PIXELS = 2**17  # similarity maps: evaluated at every pixel up to this many (256 x 512), else on a sub-grid
MAP_CHUNK = 2048  # positions per block on the sub-grid route (block memory: 12 x chunk x C floats)


def check_pyramids(feats_T: object, feats_R: object) -> list[str]:
    """The layer names of two feature pyramids {layer: (B, C, h, w)} with the same layers, batch and channels."""
    for name, feats in (("feats_T", feats_T), ("feats_R", feats_R)):
        if not isinstance(feats, Mapping) or not feats:
            raise ValueError(f"{name} must be a non-empty dict layer name -> features (B, C, h, w), got "
                             f"{type(feats).__name__}")
    if list(feats_T) != list(feats_R):
        raise ValueError(f"feature pyramids differ: T has layers {list(feats_T)}, R has {list(feats_R)}")
    for layer in feats_T:
        a = checks.features(feats_T[layer], f"feats_T[{layer!r}]")
        b = checks.features(feats_R[layer], f"feats_R[{layer!r}]")
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


def _dot(x: Tensor, y: Tensor) -> Tensor:
    """Row-wise dot products of (B, N, C) rows -> (B, N), as one batched matrix product (no N x C temporary)."""
    B, N, C = x.shape
    return torch.bmm(x.reshape(B * N, 1, C), y.reshape(B * N, C, 1)).view(B, N)


def _quadratic(G: Tensor, ia: Tensor, wa: Tensor, ib: Tensor, wb: Tensor) -> Tensor:
    """sum_ij wa_i wb_j G[ia_i, ib_j] per position: G (B, n_a, n_b), ia/wa/ib/wb (B, N, 4) -> (B, N)."""
    n_b = G.shape[-1]
    flat = ia[..., :, None] * n_b + ib[..., None, :]  # (B, N, 4, 4)
    vals = G.flatten(1).gather(1, flat.flatten(1)).view(flat.shape)
    return torch.einsum("bni,bnij,bnj->bn", wa, vals, wb)


def _layer_cosines(ft: Tensor, fr: Tensor, phi_TR: Tensor, round_trip: Tensor, size_T: tuple[int, int],
                   size_R: tuple[int, int], gram_limit: int, own: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Forward and bidirectional cosines (B, N) of one layer: a = F_T(p), b = F_R(phi_T->R(p)),
    c = F_T(phi_R->T(phi_T->R(p))), each bilinearly sampled; returns cos(a, b) and cos(b, c).

    Coarse grids (h_T w_T x h_R w_R <= gram_limit): every sample is a bilinear combination of 4 grid
    vectors, so every dot product is a 4 x 4 quadratic form in the Gram matrices of the grids, and no
    C-channel vector is built per pixel. Finer grids: each layer is upsampled once to its image (what
    grid_sample gives at every pixel centre) and the rows at phi_T->R(p) and the round trip are gathered.
    ``own`` (B, 2, h, w): the target pixels to evaluate (default: all; phi_TR and round_trip given at them);
    on finer grids these are sampled from their 4 corner rows (:func:`_sampled_dots`).
    All routes equal grid_sample + cosine to float rounding."""
    B = ft.shape[0]
    FT, FR = ft.flatten(2), fr.flatten(2)  # (B, C, n)
    if FT.shape[-1] * FR.shape[-1] <= gram_limit:
        own = identity_field(*size_T, B, device=ft.device) if own is None else own
        ia, wa = _bilinear(own, size_T, tuple(ft.shape[-2:]), ft.dtype)
        ib, wb = _bilinear(phi_TR, size_R, tuple(fr.shape[-2:]), ft.dtype)
        ic, wc = _bilinear(round_trip, size_T, tuple(ft.shape[-2:]), ft.dtype)
        G_TT, G_RR, G_TR = FT.mT @ FT, FR.mT @ FR, FT.mT @ FR
        aa, bb, cc = (_quadratic(G_TT, ia, wa, ia, wa), _quadratic(G_RR, ib, wb, ib, wb),
                      _quadratic(G_TT, ic, wc, ic, wc))
        ab, cb = _quadratic(G_TR, ia, wa, ib, wb), _quadratic(G_TR, ic, wc, ib, wb)
    elif own is not None:
        aa, bb, cc, ab, cb = _sampled_dots(ft, fr, own, phi_TR, round_trip, size_T, size_R)
    else:
        rows_T, rows_R = _pixel_rows(ft, size_T), _pixel_rows(fr, size_R)
        a, b, c = rows_T, _rows_at(rows_R, phi_TR, size_R[1]), _rows_at(rows_T, round_trip, size_T[1])
        norm_T, norm_R = _dot(rows_T, rows_T), _dot(rows_R, rows_R)  # |F|^2 once per pixel, then gathered
        aa = norm_T
        bb = norm_R.gather(1, (phi_TR[:, 0] * size_R[1] + phi_TR[:, 1]).flatten(1))
        cc = norm_T.gather(1, (round_trip[:, 0] * size_T[1] + round_trip[:, 1]).flatten(1))
        ab, cb = _dot(a, b), _dot(c, b)
    fwd = ab * (aa * bb).clamp_min(EPS**2).rsqrt()
    bid = cb * (bb * cc).clamp_min(EPS**2).rsqrt()
    return fwd, bid


def _corner_rows(rows: Tensor, idx: Tensor, wts: Tensor) -> Tensor:
    """Bilinear samples from channels-last rows (n, C) at corners idx (N, 4) with weights wts (N, 4) -> (N, C)."""
    return torch.bmm(wts[:, None, :], rows.index_select(0, idx.flatten()).view(*idx.shape, -1))[:, 0]


def _sampled_dots(ft: Tensor, fr: Tensor, own: Tensor, phi_TR: Tensor, round_trip: Tensor, size_T: tuple[int, int],
                  size_R: tuple[int, int], chunk: int = MAP_CHUNK) -> tuple[Tensor, ...]:
    """The dot products |a|^2, |b|^2, |c|^2, <a, b>, <c, b> (each (B, h w)) of :func:`_layer_cosines` at chosen
    target pixels ``own`` (B, 2, h, w), with phi_T->R and the round trip at those pixels: the same
    grid_sample samples, from the 4 corner rows of each, ``chunk`` positions at a time (memory bounded)."""
    B = ft.shape[0]
    rows_T, rows_R = ft.flatten(2).mT.contiguous(), fr.flatten(2).mT.contiguous()  # (B, n, C)
    (ia, wa), (ib, wb), (ic, wc) = (_bilinear(at, size, tuple(f.shape[-2:]), ft.dtype) for at, size, f in
                                    ((own, size_T, ft), (phi_TR, size_R, fr), (round_trip, size_T, ft)))
    dots = torch.empty(5, B, ia.shape[1], dtype=ft.dtype, device=ft.device)
    for b in range(B):
        for i in range(0, ia.shape[1], chunk):
            part = slice(i, i + chunk)
            a = _corner_rows(rows_T[b], ia[b, part], wa[b, part])[None]
            v = _corner_rows(rows_R[b], ib[b, part], wb[b, part])[None]
            c = _corner_rows(rows_T[b], ic[b, part], wc[b, part])[None]
            for k, (x, y) in enumerate(((a, a), (v, v), (c, c), (a, v), (c, v))):
                dots[k, b, part] = _dot(x, y)[0]
    return tuple(dots)


def map_stride(size: tuple[int, int], max_pixels: int = MAP_PIXELS) -> int:
    """The sub-grid stride k of :func:`similarity_maps` for a target of ``size`` (H, W): 1 (every pixel) up to
    ``max_pixels`` pixels, else the smallest odd k with (H / k) (W / k) <= max_pixels (odd, so that each
    block's centre is a pixel and the bilinear upsampling of the block values passes through them)."""
    k = 1
    while -(-size[0] // k) * -(-size[1] // k) > max_pixels:
        k += 2
    return k


def similarity_maps(feats_T: Mapping[str, Tensor], feats_R: Mapping[str, Tensor], phi_TR: Tensor,
                    phi_RT: Tensor, gram_limit: int = GRAM_LIMIT, max_pixels: int = MAP_PIXELS) -> Tensor:
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
    Deviation, above ``max_pixels`` target pixels (DEC's demos stop at 256 on the short side): the maps are
    evaluated exactly at the centres of k x k pixel blocks (k = :func:`map_stride`) and upsampled bilinearly,
    so that their cost stays bounded (k = 3 at 1024 x 768). Measured there with VGG-16 and PatchMatch fields:
    3 s instead of 26 s, mean |difference| to the per-pixel maps 0.020 (cosine), 99th percentile 0.21.
    """
    layers = check_pyramids(feats_T, feats_R)
    B = feats_T[layers[0]].shape[0] if feats_T[layers[0]].dim() == 4 else 1
    phi_TR = check_field(phi_TR, "phi_TR", batch=B)
    H_T, W_T = phi_TR.shape[-2:]
    phi_RT = check_field(phi_RT, "phi_RT", batch=B, target=(H_T, W_T))
    H_R, W_R = phi_RT.shape[-2:]
    phi_TR = check_field(phi_TR, "phi_TR", target=(H_R, W_R))
    round_trip = warp(phi_RT, phi_TR)  # phi_R->T(phi_T->R(p)), (B, 2, H_T, W_T)
    k = map_stride((H_T, W_T), checks.positive_int(max_pixels, "max_pixels"))
    if k > 1:
        return _subgrid_maps(feats_T, feats_R, layers, phi_TR, round_trip, (H_R, W_R), k, gram_limit)
    fwd, bid = [], []
    for layer in layers:
        ft = checks.features(feats_T[layer], "feats_T")
        fr = checks.features(feats_R[layer], "feats_R").to(ft)
        f, b = _layer_cosines(ft, fr, phi_TR.to(ft.device), round_trip.to(ft.device), (H_T, W_T), (H_R, W_R),
                              gram_limit)
        fwd.append(f.view(B, H_T, W_T))
        bid.append(b.view(B, H_T, W_T))
    return torch.stack(fwd + bid, dim=1)



def _subgrid_maps(feats_T: Mapping[str, Tensor], feats_R: Mapping[str, Tensor], layers: list[str], phi_TR: Tensor,
                  round_trip: Tensor, size_R: tuple[int, int], k: int, gram_limit: int) -> Tensor:
    """:func:`similarity_maps` evaluated at the centres of k x k pixel blocks, then upsampled bilinearly."""
    B, _, H_T, W_T = phi_TR.shape
    ys = torch.arange(k // 2, H_T + k // 2, k, device=phi_TR.device).clamp(max=H_T - 1)
    xs = torch.arange(k // 2, W_T + k // 2, k, device=phi_TR.device).clamp(max=W_T - 1)
    own = torch.stack(torch.meshgrid(ys, xs, indexing="ij"))[None].expand(B, 2, len(ys), len(xs))
    at_phi, at_rt = phi_TR[:, :, ys][:, :, :, xs], round_trip[:, :, ys][:, :, :, xs]
    maps = [], []
    for layer in layers:
        ft = checks.features(feats_T[layer], "feats_T")
        fr = checks.features(feats_R[layer], "feats_R").to(ft)
        for out, m in zip(maps, _layer_cosines(ft, fr, at_phi.to(ft.device), at_rt.to(ft.device), (H_T, W_T), size_R,
                                               gram_limit, own.to(ft.device))):
            out.append(m.view(B, len(ys), len(xs)))
    small = torch.stack(maps[0] + maps[1], dim=1)
    return F.interpolate(small, size=(H_T, W_T), mode="bilinear", align_corners=False)
