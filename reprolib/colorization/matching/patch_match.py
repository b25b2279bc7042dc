"""PatchMatch (Barnes et al. 2009) as Deep Image Analogy (DIA) runs it for DEC: coarse to fine over the
VGG layers, patch sizes 3, 3, 3, 5, 5, patch distance = mean negative dot product of L2-normalised features.

    phi_T->R(p) = argmax_q  1/|N| sum_{d in N} <f_T(p + d), f_R(q + d)>        (N: the patch x patch offsets)

found approximately by iterating propagation (a neighbour's match, shifted) and random search (random
offsets around the current match, halving the radius). Where we deviate: jump-flooding propagation, all
positions at once, instead of DIA's sequential scan; 3 iterations per layer instead of 10 (on held-out photo
pairs, 3 gave R'_ab as good as 5 and 8, and the same label agreement on the synthetic pairs); no feature reconstruction
between layers; and above a small grid the patch similarity is read from descriptors projected onto their
64 principal directions (:func:`projected_descriptors`), which keeps the cost linear in the pixel count
(no h w x h' w' matrix); on VGG-16 features of two photos at 256 px, the fields it finds reach 99% of the
exact patch similarity that the cosine-matrix route's fields reach.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ...core import checks
from .fields import EPS, check_field, upsample_field
from .similarity import check_pyramids

PATCHMATCH_LAYERS = ("relu5_1", "relu4_1", "relu3_1", "relu2_1")  # coarse to fine, down to relu2_1 as in DEC
MATRIX_LIMIT = 2**24  # cosine matrix of two grids up to this many entries (64 MB; else descriptor rows)
INIT_JUMPS = (1,)  # propagation on a layer initialised by the coarser field: the 4 neighbours, as in DIA
C2F_ITERS = 3  # iterations per layer of the coarse-to-fine search (DIA: 10; 3 measured as good as 5, below)
PROJECTION_DIMS = 64  # patch descriptors above MATRIX_LIMIT: projected onto this many principal directions
STAGE1_COEFFS = 256  # first projection stage: channels per position x patch^2 kept
PROJECTION_SAMPLE = 8192  # positions (of both images) that estimate each projection


def patch_descriptors(feats: Tensor, patch: int) -> Tensor:
    """Features (B, C, h, w), L2-normalised here -> patch descriptors (B, C patch^2, h, w): the
    patch x patch neighbourhood stacked (edges replicated) and divided by patch, so that
    <D_T(p), D_R(q)> = mean over offsets d of <f_T(p + d), f_R(q + d)> = minus DIA's patch distance."""
    checks.odd_positive_int(patch, "patch")
    f = F.normalize(feats, dim=1, eps=EPS)
    r = patch // 2
    h, w = f.shape[-2:]
    padded = F.pad(f, (r, r, r, r), mode="replicate") if r else f
    parts = [padded[..., dy:dy + h, dx:dx + w] for dy in range(patch) for dx in range(patch)]
    return torch.cat(parts, dim=1) / patch


def cosine_matrix(F_T: Tensor, F_R: Tensor) -> Tensor:
    """S (B, h w, h' w'): cosine of every target position with every reference position (S_R->T = S^T)."""
    F_T, F_R = checks.feature_pair(F_T, F_R)
    ft, fr = F.normalize(F_T.flatten(2), dim=1, eps=EPS), F.normalize(F_R.flatten(2), dim=1, eps=EPS)
    return ft.mT @ fr


def _sample(x: Tensor, n: int) -> Tensor:
    """n positions of features (C, h, w) evenly spread in raster order, as rows (n, C) (all when there are fewer)."""
    rows = x.flatten(1)
    if rows.shape[1] > n:
        rows = rows.index_select(1, torch.linspace(0, rows.shape[1] - 1, n, device=x.device).long())
    return rows.T


def _basis(rows: Tensor, k: int) -> Tensor:
    """The top-k principal directions (uncentred: eigenvectors of rows^T rows) of sample rows (n, d) -> (d, k)
    orthonormal columns, largest first."""
    rows = rows.double()
    _, vectors = torch.linalg.eigh(rows.T @ rows)
    return vectors[:, -min(k, rows.shape[1]):].flip(-1).to(torch.float32)


def projected_descriptors(F_T: Tensor, F_R: Tensor, patch: int, dims: int = PROJECTION_DIMS) -> tuple[Tensor, Tensor]:
    """Patch descriptors of both images (:func:`patch_descriptors`) projected onto the ``dims`` principal
    directions of the pair's own descriptors, as rows (B, h w, dims) and (B, h' w', dims):

        <P D_T(p), P D_R(q)>  ~=  <D_T(p), D_R(q)>        (P: dims x C patch^2, orthonormal rows)

    In two stages, each a PCA (uncentred) estimated on ``PROJECTION_SAMPLE`` positions spread over both
    images: the C channels -> c = max(8, ``STAGE1_COEFFS`` / patch^2) per position, then the c patch^2 stacked
    values -> ``dims``, applied as one convolution (no C patch^2 descriptor is ever built). Each candidate
    then costs ``dims`` multiply-adds instead of C patch^2, so PatchMatch's cost grows linearly with the grid
    and with a small constant (the fields keep ~99% of the exact patch similarity, see the module docstring)."""
    F_T, F_R = checks.feature_pair(F_T, F_R)
    checks.odd_positive_int(patch, "patch")
    checks.positive_int(dims, "dims")
    ft, fr = F.normalize(F_T.float(), dim=1, eps=EPS), F.normalize(F_R.float(), dim=1, eps=EPS)
    c = min(ft.shape[1], max(8, STAGE1_COEFFS // patch**2))
    r, half = patch // 2, PROJECTION_SAMPLE // 2
    out_T, out_R = [], []
    for a, b in zip(ft, fr):  # one basis per pair, whatever else is in the batch
        P1 = _basis(torch.cat((_sample(a, half), _sample(b, half))), c)  # (C, c)
        a1, b1 = (F.pad(torch.einsum("chw,ck->khw", x, P1)[None], (r, r, r, r), mode="replicate") for x in (a, b))
        # the stacked patches (offset-major, as patch_descriptors) at the sampled positions, for the second stage
        D = torch.cat([_sample_patches(x, patch, half) for x in (a1, b1)])
        P2 = _basis(D, dims)  # (patch^2 c, dims)
        weight = P2.T.reshape(-1, patch * patch, c).transpose(1, 2).reshape(-1, c, patch, patch) / patch
        out_T.append(F.conv2d(a1, weight)[0].flatten(1).T.contiguous())
        out_R.append(F.conv2d(b1, weight)[0].flatten(1).T.contiguous())
    return torch.stack(out_T), torch.stack(out_R)


def _sample_patches(padded: Tensor, patch: int, n: int) -> Tensor:
    """The stacked patches of :func:`patch_descriptors` (offset-major, / patch) at n positions evenly spread in
    raster order, as rows (n, C patch^2), from features (1, C, h + 2r, w + 2r) already padded by r = patch // 2."""
    r = patch // 2
    h, w = padded.shape[-2] - 2 * r, padded.shape[-1] - 2 * r
    flat = torch.linspace(0, h * w - 1, min(n, h * w), device=padded.device).long()
    ys, xs = flat // w, flat % w
    return torch.cat([padded[0][:, ys + dy, xs + dx] for dy in range(patch) for dx in range(patch)]).T / patch


def _patch_scorer(F_T: Tensor, F_R: Tensor, patch: int, matrix_limit: int, S: Tensor | None = None,
                  dims: int | None = PROJECTION_DIMS, rows: tuple[Tensor, Tensor] | None = None):
    """score(q, where) -> <D_T(p), D_R(q)> for target flat positions ``where`` (B, k) (None: all of them, in
    order) and reference positions q (B, 2, k) (y, x): the patch similarity of :func:`patch_descriptors`.

    When h_T w_T x h_R w_R <= matrix_limit it reads the per-position cosine matrix
    S = F_T^T F_R (normalised features, (B, h_T w_T, h_R w_R)): <D_T(p), D_R(q)> = mean_d S[p + d, q + d]
    (edges replicated), patch^2 scalar reads per candidate, exact. Otherwise it gathers descriptor rows:
    :func:`projected_descriptors` (``dims`` numbers per candidate, approximate), or the full ones
    (C patch^2 numbers, exact) when ``dims`` is None; memory and time linear in the grid sizes."""
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

        def score(q: Tensor, where: Tensor | None) -> Tensor:
            qy, qx = q[:, 0], q[:, 1]
            total = torch.zeros(q.shape[0], q.shape[-1], dtype=S.dtype, device=S.device)
            for dy, dx, p in rows:
                o = (qy + dy).clamp(0, h_R - 1) * w_R + (qx + dx).clamp(0, w_R - 1)
                total += S.gather(1, (p if where is None else p[where]) + o)
            return total / len(rows)
        return score

    if rows is not None:
        rows_T, rows_R = rows
    elif dims is None:
        rows_T = patch_descriptors(F_T, patch).flatten(2).mT.contiguous()  # (B, n_T, K) channels-last rows
        rows_R = patch_descriptors(F_R, patch).flatten(2).mT.contiguous()
    else:
        rows_T, rows_R = projected_descriptors(F_T, F_R, patch, dims)

    def score(q: Tensor, where: Tensor | None) -> Tensor:
        idx = q[:, 0] * w_R + q[:, 1]
        return torch.stack([torch.bmm((rows_T[b] if where is None else rows_T[b].index_select(0, where[b]))[:, None],
                                      rows_R[b].index_select(0, idx[b])[:, :, None]).flatten()
                            for b in range(q.shape[0])])
    return score


def _propagation(phi: Tensor, jumps: Sequence[int]):
    """Propagation candidates, one per jump j and direction e = +-j along y and x: phi(p + e) - e (positions
    whose p + e falls outside keep phi(p)). Lazy: each is made from ``phi`` as it stands when asked for."""
    for jump in jumps:
        for dim, step in ((2, jump), (2, -jump), (3, jump), (3, -jump)):
            if abs(step) >= phi.shape[dim]:
                continue
            candidate = torch.roll(phi, shifts=-step, dims=dim)
            e = torch.zeros(1, 2, 1, 1, dtype=torch.long, device=phi.device)
            e[0, dim - 2] = step
            candidate = candidate - e
            edge = [slice(None)] * 4
            edge[dim] = slice(-step, None) if step > 0 else slice(0, -step)
            candidate[tuple(edge)] = phi[tuple(edge)]
            yield candidate


def _random_search(phi: Tensor, radius: int, g: torch.Generator):
    """Random-search candidates phi(p) + a uniform offset in [-r, r]^2, r = radius, radius / 2, ..., 1
    (lazy, like :func:`_propagation`)."""
    r = radius
    while r >= 1:
        yield phi + torch.randint(-r, r + 1, tuple(phi.shape), generator=g, device=phi.device)
        r //= 2


def _keep_better(phi: Tensor, best: Tensor, candidate: Tensor, score, high: Tensor) -> None:
    """One PatchMatch candidate field: where it differs from ``phi`` and scores higher, it replaces phi and
    best in place (candidates clamped to the reference grid, ``high`` = (h' - 1, w' - 1))."""
    B, _, h, w = phi.shape
    n = h * w
    candidate = torch.minimum(candidate.clamp_min(0), high)
    changed = (candidate != phi).any(1).view(B, -1)  # (B, n): only these need a score
    k = int(changed.sum(1).max())
    if k == 0:
        return
    if 2 * k > n:  # most positions moved: score them all in order (no index bookkeeping)
        new = score(candidate.flatten(2), None).view(B, h, w)
        better = (new > best) & changed.view(B, h, w)
        phi.copy_(torch.where(better[:, None], candidate, phi))
        best.copy_(torch.where(better, new, best))
        return
    where = torch.argsort(changed.to(torch.int8), dim=1, descending=True, stable=True)[:, :k]  # (B, k)
    where2 = where[:, None].expand(B, 2, k)
    flat_phi, flat_best = phi.view(B, 2, -1), best.view(B, -1)
    cand, old = candidate.flatten(2).gather(2, where2), flat_best.gather(1, where)
    new = score(cand, where)
    better = (new > old) & changed.gather(1, where)
    flat_phi.scatter_(2, where2, torch.where(better[:, None], cand, flat_phi.gather(2, where2)))
    flat_best.scatter_(1, where, torch.where(better, new, old))


@torch.no_grad()
def patchmatch(F_T: Tensor, F_R: Tensor, patch: int = 3, iters: int = 5, radius: int | None = None,
               init: Tensor | None = None, seed: int = 0, jumps: Sequence[int] | None = None,
               matrix_limit: int = MATRIX_LIMIT, S: Tensor | None = None,
               dims: int | None = PROJECTION_DIMS, rows: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
    """PatchMatch (Barnes et al. 2009) on one layer, vectorised: an approximate phi_T->R maximising the
    patch similarity of :func:`patch_descriptors` (DIA's patch distance, negated).

    Each iteration: propagation (every position p tries phi(p + e) - e for e = +-j along y and x, all
    positions at once, for j in ``jumps``; default from a random start j = ..., 4, 2, 1, a jump-flooding
    sweep instead of DIA's sequential scan, so that a good match crosses the grid in one iteration, and from
    an ``init`` j = 1 (``INIT_JUMPS``, DIA's 4 neighbours), as the coarser field already placed the matches)
    then random search (phi(p) + a uniform offset in [-r, r], r = radius, radius/2, ..., 1; default radius =
    max(h', w') / 2).
    A candidate is scored only where it differs from the current match. ``init`` is a field
    (B, 2, h, w) into R, e.g. the coarser layer's field upsampled by :func:`upsample_field` with stride 2;
    without it the field starts uniformly random (seeded). Scores come from the cosine matrix of the
    two grids when it has at most ``matrix_limit`` entries (64 MB in float32 by default; exact), else from
    patch descriptors projected onto ``dims`` principal directions (:func:`projected_descriptors`;
    ``dims=None``: the full descriptors, exact but C patch^2 numbers per candidate), so that time and memory
    grow linearly with the grids; ``S`` passes that matrix in (:func:`cosine_matrix`, e.g. transposed for
    the other direction), and ``rows`` the descriptor rows (:func:`projected_descriptors`, swapped for the other
    direction). Returns phi (B, 2, h, w) int64 and the patch similarity (B, h, w) (approximate on
    the projected route). Deviations: DIA also matches the "reconstructed" features, and scores exactly.
    """
    F_T, F_R = checks.feature_pair(F_T, F_R)
    checks.non_negative_int(iters, "iters")
    checks.odd_positive_int(patch, "patch")
    B, _, h, w = F_T.shape
    h_R, w_R = F_R.shape[-2:]
    n = h * w
    if S is not None and (not isinstance(S, Tensor) or tuple(S.shape) != (B, h * w, h_R * w_R)):
        raise ValueError(f"S must be the cosine matrix (B, h w, h' w') = {(B, h * w, h_R * w_R)}, "
                         f"got {checks.summary(S)}")
    if rows is not None and (len(rows) != 2 or tuple(rows[0].shape[:2]) != (B, n)
                             or tuple(rows[1].shape[:2]) != (B, h_R * w_R)):
        raise ValueError("rows must be the descriptor rows (B, h w, K) and (B, h' w', K) of the two grids")
    score = _patch_scorer(F_T, F_R, patch, matrix_limit, S, dims, rows)
    g = torch.Generator(device=F_T.device).manual_seed(seed)
    high = torch.tensor([h_R - 1, w_R - 1], device=F_T.device).view(1, 2, 1, 1)
    if init is None:
        phi = (torch.rand(B, 2, h, w, generator=g, device=F_T.device) * (high + 1)).long().minimum(high)
    else:
        phi = check_field(init, "init", batch=B, size=(h, w), target=(h_R, w_R)).to(F_T.device).clone()
    phi = phi.contiguous()
    best = score(phi.flatten(2), None).view(B, h, w)
    radius = max(h_R, w_R) // 2 if radius is None else int(radius)
    if radius < 1:
        raise ValueError(f"radius must be >= 1, got {radius}")
    if jumps is None:
        jumps = [2**k for k in range(max(h, w).bit_length() - 1, -1, -1)] if init is None else list(INIT_JUMPS)

    for _ in range(iters):
        for candidate in _propagation(phi, jumps):  # a neighbour's match, shifted back (jump flooding)
            _keep_better(phi, best, candidate, score, high)
        for candidate in _random_search(phi, radius, g):  # random offsets around the match, radius halving
            _keep_better(phi, best, candidate, score, high)
    return phi, best


def _one_step(F_T: Tensor, F_R: Tensor, phi: Tensor, patch: int, candidates) -> tuple[Tensor, Tensor]:
    """Score ``phi``, offer it each field of ``candidates(phi)`` in turn (:func:`_keep_better`), return (phi, best)."""
    F_T, F_R = checks.feature_pair(F_T, F_R)
    checks.odd_positive_int(patch, "patch")
    B, _, h, w = F_T.shape
    h_R, w_R = F_R.shape[-2:]
    phi = check_field(phi, "phi", batch=B, size=(h, w), target=(h_R, w_R)).to(F_T.device).clone().contiguous()
    score = _patch_scorer(F_T, F_R, patch, MATRIX_LIMIT)
    high = torch.tensor([h_R - 1, w_R - 1], device=F_T.device).view(1, 2, 1, 1)
    best = score(phi.flatten(2), None).view(B, h, w)
    for candidate in candidates(phi):
        _keep_better(phi, best, candidate, score, high)
    return phi, best


@torch.no_grad()
def patch_similarity(F_T: Tensor, F_R: Tensor, phi: Tensor, patch: int = 3) -> Tensor:
    """The patch similarity that :func:`patchmatch` maximises, of a field phi_T->R (B, 2, h, w):

        s(p) = 1/patch^2 sum_{d in N} <f_T(p + d), f_R(phi(p) + d)>      (f L2-normalised, edges replicated)

    Exact when h w x h' w' <= ``MATRIX_LIMIT`` (else read from projected descriptors). Returns (B, h, w)."""
    return _one_step(F_T, F_R, phi, patch, lambda _: ())[1]


@torch.no_grad()
def propagation_step(F_T: Tensor, F_R: Tensor, phi: Tensor, patch: int = 3,
                     jumps: Sequence[int] = INIT_JUMPS) -> tuple[Tensor, Tensor]:
    """One propagation step of :func:`patchmatch`: for each jump j and e = +j, -j along y, then +j, -j along x,
    every position p tries its neighbour's match shifted back, phi(p + e) - e (clamped to R's grid; p + e
    outside the grid keeps phi(p)), and keeps it where :func:`patch_similarity` rises. Each candidate is made
    from the field as it stands after the previous one. Returns phi (B, 2, h, w) and its patch similarity."""
    return _one_step(F_T, F_R, phi, patch, lambda f: _propagation(f, list(jumps)))


@torch.no_grad()
def random_search_step(F_T: Tensor, F_R: Tensor, phi: Tensor, radius: int, patch: int = 3,
                       seed: int = 0) -> tuple[Tensor, Tensor]:
    """One random-search step of :func:`patchmatch`: candidates phi(p) + u, u uniform on the integers of
    [-r, r]^2, for r = radius, radius // 2, ..., 1 (``torch.randint`` from a generator seeded ``seed``, one
    offset per position and r), each kept where :func:`patch_similarity` rises. With an ``init`` field,
    ``patchmatch(..., iters=1, init=phi, jumps=j, radius=r, seed=s)`` is :func:`propagation_step` (jumps j)
    followed by this step (radius r, seed s). Returns phi (B, 2, h, w) and its patch similarity."""
    if int(radius) < 1:
        raise ValueError(f"radius must be >= 1, got {radius}")
    g = torch.Generator(device=F_T.device).manual_seed(seed)
    return _one_step(F_T, F_R, phi, patch, lambda f: _random_search(f, int(radius), g))


PATCH_SIZES = {"relu5_1": 3, "relu4_1": 3, "relu3_1": 3, "relu2_1": 5, "relu1_1": 5}  # DIA's, coarse to fine


def _check_c2f(feats_T: object, feats_R: object, layers: Sequence[str]) -> None:
    if not isinstance(feats_T, Mapping) or not isinstance(feats_R, Mapping):
        raise ValueError("feats_T and feats_R must be dicts layer name -> features (B, C, h, w)")
    missing = [k for k in layers if k not in feats_T or k not in feats_R]
    if missing or not layers:
        raise ValueError(f"layers {missing or list(layers)} are missing from the feature pyramids")
    check_pyramids({k: feats_T[k] for k in layers}, {k: feats_R[k] for k in layers})


def _c2f_step(ft: Tensor, fr: Tensor, layer: str, coarser: Tensor | None, iters: int, seed: int,
              S: Tensor | None, matrix_limit: int = MATRIX_LIMIT, rows: tuple[Tensor, Tensor] | None = None,
              dims: int = PROJECTION_DIMS) -> Tensor:
    init = None if coarser is None else upsample_field(coarser, 2, tuple(ft.shape[-2:]), tuple(fr.shape[-2:]))
    radius = max(fr.shape[-2:]) // 2 if coarser is None else 4
    phi, _ = patchmatch(ft, fr, patch=PATCH_SIZES.get(layer, 3), iters=iters, radius=radius, init=init,
                        seed=seed, S=S, matrix_limit=matrix_limit, rows=rows, dims=dims)
    return phi


def coarse_to_fine(feats_T: Mapping[str, Tensor], feats_R: Mapping[str, Tensor],
                   layers: Sequence[str] = PATCHMATCH_LAYERS, iters: int = C2F_ITERS, seed: int = 0,
                   dims: int = PROJECTION_DIMS) -> dict[str, Tensor]:
    """PatchMatch per layer from coarse to fine, each layer initialised by the coarser field upsampled x2
    (:func:`upsample_field`); DEC goes from relu5_1 to relu2_1. Layers must halve in size from one to the
    next. Patch sizes from ``PATCH_SIZES`` (3 for unknown names); random-search radius max(h', w') / 2 on
    the coarsest layer, 4 after it. Returns {layer: phi_T->R at that layer}."""
    _check_c2f(feats_T, feats_R, layers)
    fields: dict[str, Tensor] = {}
    phi = None
    for layer in layers:
        ft, fr = checks.feature_pair(feats_T[layer], feats_R[layer])
        phi = fields[layer] = _c2f_step(ft, fr, layer, phi, iters, seed, None, dims=dims)
    return fields


def coarse_to_fine_bidirectional(feats_T: Mapping[str, Tensor], feats_R: Mapping[str, Tensor],
                                 layers: Sequence[str] = PATCHMATCH_LAYERS, iters: int = C2F_ITERS, seed: int = 0,
                                 matrix_limit: int = MATRIX_LIMIT,
                                 dims: int = PROJECTION_DIMS) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
    """:func:`coarse_to_fine` in both directions, phi_T->R and phi_R->T, sharing each layer's cosine
    matrix S (S_R->T = S_T->R^T) where it fits in ``matrix_limit`` entries, else its projected descriptor rows.
    Same fields as two calls."""
    _check_c2f(feats_T, feats_R, layers)
    fwd: dict[str, Tensor] = {}
    bwd: dict[str, Tensor] = {}
    phi_TR = phi_RT = None
    for layer in layers:
        ft, fr = checks.feature_pair(feats_T[layer], feats_R[layer])
        fits = ft.shape[-2] * ft.shape[-1] * fr.shape[-2] * fr.shape[-1] <= matrix_limit
        S = cosine_matrix(ft, fr) if fits else None
        rows = None if fits else projected_descriptors(ft, fr, PATCH_SIZES.get(layer, 3), dims)
        phi_TR = fwd[layer] = _c2f_step(ft, fr, layer, phi_TR, iters, seed, S, matrix_limit, rows)
        phi_RT = bwd[layer] = _c2f_step(fr, ft, layer, phi_RT, iters, seed, None if S is None else S.mT, matrix_limit,
                                        None if rows is None else rows[::-1])
    return fwd, bwd

