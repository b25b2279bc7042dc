"""Correspondence fields: exact cosine nearest neighbours, both mapping functions, upsampling, warping.

* **Field format**: a correspondence field phi is an int64 tensor (B, 2, h, w); channel 0 is the row y,
  channel 1 the column x of the matched position in the OTHER image, as integer grid indices
  (0 <= y < h_other, 0 <= x < w_other). At feature resolution they index the feature grid, at image
  resolution (after :func:`upsample_field`) they index pixels. The identity field is :func:`identity_field`.
* Unbatched features (C, h, w) are treated as a batch of one; outputs always keep the batch axis.
* Features are compared by cosine similarity; :func:`exact_nn` L2-normalises its inputs itself.

    phi_T->R(p) = argmax_q cos(F_T(p), F_R(q)),        R'_ab(p) = R_ab(phi_T->R(p))   (:func:`warp`)
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from ...core import checks

DEFAULT_CHUNK = 4096  # target positions per similarity block: block memory = chunk x h_R w_R floats
BLOCK = 2**24  # at most this many similarities per block whatever the chunk (64 MB in float32)
EPS = 1e-8


def rows_per_block(chunk: int, n_R: int) -> int:
    """Target positions per block of an exhaustive comparison with n_R reference positions: ``chunk``,
    fewer when chunk x n_R would exceed ``BLOCK`` (so that memory stays bounded at any image size)."""
    return max(1, min(chunk, BLOCK // max(1, n_R)))


def check_field(phi: object, name: str = "phi", batch: int | None = None,
                size: tuple[int, int] | None = None, target: tuple[int, int] | None = None) -> Tensor:
    """Validate a field (B, 2, h, w) of integer (y, x) indices; optionally its batch, its own size (h, w)
    and the size (h', w') of the grid it points into (all indices must lie inside)."""
    if not isinstance(phi, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor (B, 2, h, w), got {type(phi).__name__}")
    if phi.dim() != 4 or phi.shape[1] != 2:
        raise ValueError(f"{name} must be shaped (B, 2, h, w) with channels (y, x), got {checks.summary(phi)}")
    if phi.is_floating_point() or phi.dtype == torch.bool or phi.is_complex():
        raise ValueError(f"{name} must hold integer (y, x) indices, got {phi.dtype}")
    if phi.numel() == 0:
        raise ValueError(f"{name} is empty: {checks.summary(phi)}")
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



def identity_field(h: int, w: int, batch: int = 1, device=None) -> Tensor:
    """The identity field (batch, 2, h, w): phi(y, x) = (y, x)."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    return torch.stack((ys, xs))[None].expand(batch, 2, h, w).clone()


@torch.no_grad()
def exact_nn(F_T: Tensor, F_R: Tensor, chunk: int = DEFAULT_CHUNK, fast: bool = False) -> tuple[Tensor, Tensor]:
    """Exact cosine nearest neighbour of every target position among all reference positions.

        phi_T->R(p) = argmax_q cos(F_T(p), F_R(q)),      sim(p) = max_q cos(F_T(p), F_R(q))

    F_T (B, C, h, w) or (C, h, w), F_R (B, C, h', w') or (C, h', w'): same C; normalised here over C.
    Target positions are processed ``chunk`` at a time (fewer where chunk x h' w' would pass ``BLOCK``,
    64 MB) and batch items one at a time, so memory stays bounded; the time is h w x h' w' x C
    multiply-adds (:func:`exact_cost`). Ties go to the first reference position in raster order.
    ``fast``: the cosines in bfloat16 (about 3 times faster on a CPU with AVX-512 bf16, slower on one without
    bf16 arithmetic; the same argmax up
    to near-ties: on the validation photos 81 % of phi_T->R of a stride-2 field is the same, and R'_ab
    smoothed measured 3.580 against 3.560 CIEDE2000 in float32, see :mod:`reprolib.colorization.chooser`).

    Returns phi (B, 2, h, w) int64 (y, x) indices into the h' x w' grid, and sim (B, h, w) in [-1, 1].
    """
    F_T, F_R = checks.feature_pair(F_T, F_R)
    chunk = checks.positive_int(chunk, "chunk")
    B, _, h, w = F_T.shape
    w_R = F_R.shape[-1]
    ft = F.normalize(F_T.flatten(2), dim=1, eps=EPS)  # (B, C, N)
    fr = F.normalize(F_R.flatten(2), dim=1, eps=EPS)  # (B, C, M)
    if fast:
        ft, fr = ft.bfloat16(), fr.bfloat16()
    chunk = rows_per_block(chunk, fr.shape[-1])
    index = torch.empty(B, h * w, dtype=torch.long, device=F_T.device)
    best = torch.empty(B, h * w, dtype=F_T.dtype, device=F_T.device)
    for b in range(B):
        frb = fr[b]
        for i in range(0, h * w, chunk):
            s = ft[b, :, i:i + chunk].T @ frb  # (k, M)
            value, index[b, i:i + chunk] = s.max(dim=1)
            best[b, i:i + chunk] = value
    phi = torch.stack((index // w_R, index % w_R), dim=1).view(B, 2, h, w)
    return phi, best.view(B, h, w)


def exact_cost(n_T: int, n_R: int, channels: int, mirror: bool = False) -> int:
    """Multiply-adds of both exact mapping functions between grids of n_T and n_R positions with ``channels``
    channels: n_T n_R C for phi_T->R (twice with mirrored candidates) plus n_R n_T C for phi_R->T."""
    return n_T * n_R * channels * (3 if mirror else 2)


class Correspondence(NamedTuple):
    """phi_T->R (B, 2, h_T, w_T) into R, phi_R->T (B, 2, h_R, w_R) into T, and their best cosines."""

    phi_TR: Tensor
    phi_RT: Tensor
    sim_TR: Tensor
    sim_RT: Tensor


def bidirectional(F_T: Tensor, F_R: Tensor, chunk: int = DEFAULT_CHUNK) -> Correspondence:
    """Both mapping functions by :func:`exact_nn`: phi_T->R (T's grid -> R) and phi_R->T (R's grid -> T)."""
    F_T, F_R = checks.feature_pair(F_T, F_R)
    phi_TR, sim_TR = exact_nn(F_T, F_R, chunk)
    phi_RT, sim_RT = exact_nn(F_R, F_T, chunk)
    return Correspondence(phi_TR, phi_RT, sim_TR, sim_RT)


def hypercolumns(feats: dict[str, Tensor], layers: tuple[str, ...], grid: tuple[int, int]) -> Tensor:
    """Hypercolumn features on one grid (B, sum C_l, h, w): each layer L2-normalised over channels, resized
    bilinearly to ``grid`` and normalised again, concatenated and divided by sqrt(number of layers), so that
    cos(hypercolumn(p), hypercolumn(q)) = the mean over the layers of the per-layer cosines."""
    parts = []
    for layer in layers:
        x = F.normalize(checks.features(feats[layer], f"feats[{layer!r}]"), dim=1, eps=EPS)
        if tuple(x.shape[-2:]) != tuple(grid):
            x = F.normalize(F.interpolate(x, size=tuple(grid), mode="bilinear", align_corners=False), dim=1, eps=EPS)
        parts.append(x)
    return torch.cat(parts, dim=1) / len(layers) ** 0.5


def exact_nn_mirrored(F_T: Tensor, F_R: Tensor, F_R_mirrored: Tensor,
                      chunk: int = DEFAULT_CHUNK, fast: bool = False) -> tuple[Tensor, Tensor]:
    """:func:`exact_nn` with every reference position a candidate twice: as seen (F_R) and mirrored
    (F_R_mirrored = the features of flip(R), flipped back onto R's grid), so that a reference whose objects
    face the other way still matches. phi_T->R indexes R's grid either way (R'_ab = R_ab(phi(p)))."""
    F_T, F_R = checks.feature_pair(F_T, F_R)
    _, F_M = checks.feature_pair(F_T, F_R_mirrored)
    if F_M.shape != F_R.shape:
        raise ValueError(f"F_R_mirrored {tuple(F_M.shape)} must have F_R's shape {tuple(F_R.shape)}")
    phi, sim = exact_nn(F_T, torch.cat((F_R, F_M), dim=-1), chunk, fast)
    phi[:, 1] %= F_R.shape[-1]
    return phi, sim


def upsample_field(phi: Tensor, stride: int, size: tuple[int, int], target_size: tuple[int, int]) -> Tensor:
    """A field at feature resolution (stride ``stride``) -> a field at image resolution ``size`` (H, W).

    Nearest on cells, keeping the offset inside the cell (the displacement is upsampled, not the
    coordinates interpolated): pixel p in cell c = p // stride maps to stride * phi(c) + (p - stride * c),
    clipped to the ``target_size`` (H', W') image it points into. Pixels past the last full cell (image
    sides not multiples of the stride) use the last cell. Returns (B, 2, H, W) int64 pixel indices.
    """
    phi = check_field(phi)
    checks.positive_int(stride, "stride")
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


def upsample_cells(values: Tensor, stride: int, size: tuple[int, int]) -> Tensor:
    """Per-cell values (B, C, h, w) at stride ``stride`` -> per pixel (B, C, H, W) = ``size``: each pixel takes its
    cell's value (pixels past the last full cell the last cell's), as :func:`upsample_field` does."""
    h, w = values.shape[-2:]
    cy = (torch.arange(size[0], device=values.device) // stride).clamp(max=h - 1)
    cx = (torch.arange(size[1], device=values.device) // stride).clamp(max=w - 1)
    return values[:, :, cy][:, :, :, cx]


def warp(values: Tensor, phi: Tensor) -> Tensor:
    """Warp a per-pixel quantity of R through a field: out(p) = values(phi(p)), e.g. R'_ab from R_ab.

    values (B, C, H_R, W_R) (or (C, H_R, W_R)), phi (B, 2, H, W) int64 (y, x) indices into H_R x W_R
    (use :func:`upsample_field` first for a field found at feature resolution). Exact gather, no
    interpolation, so labels and other integer maps warp too. Returns (B, C, H, W) with values' dtype.
    """
    if not isinstance(values, Tensor) or values.dim() not in (3, 4) or values.numel() == 0:
        raise ValueError(f"values must be a non-empty tensor (B, C, H_R, W_R), got {checks.summary(values)}")
    if values.dim() == 3:
        values = values.unsqueeze(0)
    B, C, H_R, W_R = values.shape
    phi = check_field(phi, batch=B, target=(H_R, W_R))
    idx = (phi[:, 0] * W_R + phi[:, 1]).flatten(1)[:, None, :].expand(B, C, -1)
    return values.flatten(2).gather(2, idx).view(B, C, *phi.shape[-2:])

