"""Measurements on the synthetic world, where every pixel's class is known.

``nn_label_agreement``: do gray-VGG features computed from L alone find semantically corresponding
pixels? This is what the paper needs from its gray-VGG-19 before any PatchMatch or colorization: the
nearest neighbour of a target feature in the reference should lie on the same kind of thing.

``matching_study``: the same question for the three routes of :func:`reprolib.colorization.matching.match`, and how
well the similarity maps tell a correct match from a wrong one (``roc_auc``, ``roc_curve``).

``search_study``: the three searches on ONE layer (the algorithm alone), against each route on its own layers.
``round_trip_study``: does the round trip T -> R -> T come back to p where the match is correct?
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..colorization.grayvgg import DEC_LAYERS, GrayVGG
from ..colorization.matching import (
    ATTENTION_TAU,
    METHODS,
    PATCH_SIZES,
    exact_nn,
    identity_field,
    match,
    similarity_maps,
    soft_attention,
    upsample_field,
    warp,
)
from ..colorization.matching.patch_match import patchmatch
from ..core.color import lab_to_rgb, rgb_to_lab
from ..core.photos import resize_short_side
from ..core.seeds import heldout_seed
from ..world import scenes

DEFAULT_LAYER = "relu3_1"


@torch.no_grad()
def nearest_neighbours(model: GrayVGG, target_L: Tensor, reference_L: Tensor, layer: str = DEFAULT_LAYER) -> Tensor:
    """phi_T->R at pixel resolution: for each target pixel, the reference pixel with the most similar features.

    F = features of ``layer`` computed from L only, upsampled bilinearly to pixel resolution
    (align_corners=False; as DEC samples every layer at every pixel), compared by cosine similarity:

        phi_T->R(p) = argmax_q  cos(F_T(p), F_R(q))       (matching.exact_nn over all pixels q)

    target_L (B, 1, H, W) and reference_L (B, 1, H_R, W_R) are L* images; returns the field (B, 2, H, W)
    of (y, x) pixel indices into R (the convention of :mod:`reprolib.colorization.matching`).
    """
    if target_L.shape[0] != reference_L.shape[0]:
        raise ValueError(f"target and reference batches differ: {target_L.shape[0]} and {reference_L.shape[0]}")

    def pixel_features(L: Tensor) -> Tensor:
        return F.interpolate(model(L, [layer])[layer], size=L.shape[-2:], mode="bilinear", align_corners=False)

    phi, _ = exact_nn(pixel_features(target_L), pixel_features(reference_L))
    return phi


@torch.no_grad()
def nn_label_agreement(model: GrayVGG, n_pairs: int = 32, layer: str = DEFAULT_LAYER, seed: int = 0,
                       size: int = 64, chunk: int = 4) -> float:
    """Fraction of target pixels whose cosine nearest neighbour in the reference has the same class.

    Over the (target T, reference R) pairs of ``scenes.sample_pairs`` (held-out seed range, so never seen
    in training) and all target pixels p, with nn from :func:`nearest_neighbours`:

        agreement = mean_p [ label_R(nn(p)) == label_T(p) ]

    ``chance_agreement`` gives the level of matching every pixel to a uniformly random reference pixel.
    """
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be >= 1, got {n_pairs}")
    was_training = model.training
    model.eval()
    target, reference = scenes.sample_pairs(heldout_seed(seed), n_pairs, size)
    agree = 0
    for i in range(0, n_pairs, chunk):
        t, r = target[i:i + chunk], reference[i:i + chunk]
        found = warp(r.labels[:, None], nearest_neighbours(model, t.L, r.L, layer))
        agree += (found[:, 0] == t.labels).sum().item()
    model.train(was_training)
    return agree / (n_pairs * size * size)


def chance_agreement(n_pairs: int = 32, seed: int = 0, size: int = 64) -> float:
    """Expected nn_label_agreement of a matcher that picks a uniformly random reference pixel:
    mean over pairs of sum_c P_T(c) P_R(c), P the class frequencies of target and reference."""
    target, reference = scenes.sample_pairs(heldout_seed(seed), n_pairs, size)
    C = len(scenes.CLASSES)
    pt, pr = (F.one_hot(s.labels.flatten(1), C).float().mean(1) for s in (target, reference))
    return (pt * pr).sum(1).mean().item()


@torch.no_grad()
def nn_colour_transfer(model: GrayVGG, target_rgb: Tensor, reference_rgb: Tensor, layer: str = DEFAULT_LAYER,
                       short_side: int = 64) -> Tensor:
    """Colour a target photo from a reference by nearest-neighbour feature matching alone: (T_L, R'_ab).

    Both photos (3, H, W) are resized to ``short_side``; R'_ab(p) = R_ab(nn(p)) with nn from
    :func:`nearest_neighbours`. No similarity network, no colorization network: just the matching step.
    Returns the sRGB result (3, h, w) at the reduced size.
    """
    t, r = (rgb_to_lab(resize_short_side(x, short_side))[None] for x in (target_rgb, reference_rgb))
    warped_ab = warp(r[:, 1:], nearest_neighbours(model, t[:, :1], r[:, :1], layer))
    return lab_to_rgb(torch.cat((t[:, :1], warped_ab), dim=1))[0]


def _scores_labels(scores: Tensor, positives: Tensor) -> tuple[Tensor, Tensor]:
    s, y = torch.as_tensor(scores).flatten().double(), torch.as_tensor(positives).flatten().bool()
    if s.numel() != y.numel() or s.numel() == 0:
        raise ValueError(f"scores ({s.numel()}) and positives ({y.numel()}) must be non-empty and the same size")
    if torch.isnan(s).any():
        raise ValueError("scores contain NaN values")
    if y.all() or not y.any():
        raise ValueError("ROC needs both positives and negatives")
    return s, y


def roc_auc(scores: Tensor, positives: Tensor) -> float:
    """Area under the ROC curve = P(score of a random positive > score of a random negative), ties
    counting 1/2 (the Mann-Whitney U statistic with mid-ranks):
    AUC = (sum of positive ranks - n+(n+ + 1)/2) / (n+ n-)."""
    s, y = _scores_labels(scores, positives)
    order = torch.argsort(s)
    sorted_s = s[order]
    # mid-ranks: tied scores share the mean of their 1-based ranks
    _, inverse, counts = torch.unique_consecutive(sorted_s, return_inverse=True, return_counts=True)
    ends = counts.cumsum(0).double()
    mid = ends - (counts.double() - 1) / 2
    ranks = torch.empty_like(s)
    ranks[order] = mid[inverse]
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def roc_curve(scores: Tensor, positives: Tensor, points: int = 201) -> tuple[Tensor, Tensor]:
    """False- and true-positive rates (each (k,), from (0, 0) to (1, 1)) of the rule "score >= t" over
    thresholds t at ``points`` quantiles of the scores (enough for a plot)."""
    s, y = _scores_labels(scores, positives)
    t = torch.quantile(s[torch.randperm(s.numel(), generator=torch.Generator().manual_seed(0))[:2**20]],
                       torch.linspace(1, 0, points, dtype=s.dtype))
    above = s[None, :] >= t[:, None] if s.numel() * points <= 2**27 else None
    if above is None:  # large inputs: count through a sort instead of a (points x n) mask
        order = torch.argsort(s)
        sorted_s, sorted_y = s[order], y[order]
        cum_pos = torch.cat((torch.zeros(1, dtype=torch.long), sorted_y.long().cumsum(0)))
        start = torch.searchsorted(sorted_s, t)  # first index with score >= t
        tp = cum_pos[-1] - cum_pos[start]
        fp = (s.numel() - start) - tp
    else:
        tp, fp = (above & y).sum(1), (above & ~y).sum(1)
    tpr, fpr = tp.double() / y.sum(), fp.double() / (~y).sum()
    return (torch.cat((torch.zeros(1), fpr.float(), torch.ones(1))),
            torch.cat((torch.zeros(1), tpr.float(), torch.ones(1))))


@torch.no_grad()
def matching_study(model: GrayVGG, n_pairs: int = 128, seed: int = 0, size: int = 64, batch: int = 16,
                   methods: tuple[str, ...] = METHODS) -> dict:
    """Label agreement of phi_T->R for each route of :func:`reprolib.colorization.matching.match`, and the ROC AUC
    with which the similarity maps of the exact route predict a correct match.

        agreement = mean_p [ label_R(phi_T->R(p)) == label_T(p) ]      (held-out pairs, all target pixels)
        correct(p) = [ label_R(phi_T->R(p)) == label_T(p) ]; AUC of sim(p) for correct(p), per map

    "bidirectional_auc" is the AUC of the mean of the 5 bidirectional maps sim_T<->R (the round trip
    T -> R -> T), "forward_auc" that of the mean of the 5 forward maps sim_T->R; per-layer AUCs too.
    Also returns the correct flags and both mean scores of the exact route (for ``roc_curve``) under
    "curves" (tensors: drop before writing JSON).
    """
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be >= 1, got {n_pairs}")
    was_training = model.training
    model.eval()
    target, reference = scenes.sample_pairs(heldout_seed(seed), n_pairs, size)
    agree = {m: 0 for m in methods}
    fwd, bid, correct = [], [], []
    for i in range(0, n_pairs, batch):
        t, r = target[i:i + batch], reference[i:i + batch]
        for m in methods:
            out = match(model, t.L, r.L, r.ab, method=m)
            hit = warp(r.labels[:, None], out.phi_TR)[:, 0] == t.labels
            agree[m] += hit.sum().item()
            if m == "exact":
                L = out.sims.shape[1] // 2
                fwd.append(out.sims[:, :L].transpose(0, 1).flatten(1))
                bid.append(out.sims[:, L:].transpose(0, 1).flatten(1))
                correct.append(hit.flatten())
    model.train(was_training)
    res: dict = {"n_pairs": n_pairs, "size": size, "chance": chance_agreement(n_pairs, seed, size),
                 "label_agreement": {m: agree[m] / (n_pairs * size * size) for m in methods}}
    if correct:
        f, b, c = torch.cat(fwd, 1), torch.cat(bid, 1), torch.cat(correct)
        layers = [f"layer{k + 1}" for k in range(f.shape[0])]
        res["fraction_correct_exact"] = c.double().mean().item()
        res["bidirectional_auc"] = roc_auc(b.mean(0), c)
        res["forward_auc"] = roc_auc(f.mean(0), c)
        res["auc_per_layer"] = {"bidirectional": {k: roc_auc(b[j], c) for j, k in enumerate(layers)},
                                "forward": {k: roc_auc(f[j], c) for j, k in enumerate(layers)}}
        res["curves"] = {"correct": c, "bidirectional": b.mean(0), "forward": f.mean(0)}
    return res


def round_trip_distance(phi_TR: Tensor, phi_RT: Tensor) -> Tensor:
    """Euclidean pixel distance of the round trip T -> R -> T from where it started, (B, H, W):

        d(p) = | phi_R->T(phi_T->R(p)) - p |

    phi_TR (B, 2, H, W) pixel field into R, phi_RT (B, 2, H_R, W_R) pixel field into T."""
    back = warp(phi_RT, phi_TR)  # phi_R->T(phi_T->R(p))
    return (back - identity_field(*phi_TR.shape[-2:], phi_TR.shape[0], phi_TR.device)).double().norm(dim=1).float()


def paper_bidirectional_maps(feats_T: dict[str, Tensor], phi_TR: Tensor, phi_RT: Tensor) -> Tensor:
    """The bidirectional similarity as the paper writes it, one map per layer (B, L, H, W):

        sim_T<->R(p) = cos(F_T(p), F_T(phi_R->T(phi_T->R(p))))

    (DEC's code compares F_R(phi_T->R(p)) with F_T of the round trip instead, see
    :func:`reprolib.colorization.matching.similarity_maps`). It is the forward map of T against itself
    through the round-trip field, so it is computed by ``similarity_maps`` with the same bilinear sampling."""
    back = warp(phi_RT, phi_TR)
    H, W = phi_TR.shape[-2:]
    maps = similarity_maps(feats_T, feats_T, back, identity_field(H, W, phi_TR.shape[0], phi_TR.device))
    return maps[:, :len(feats_T)]


@torch.no_grad()
def single_layer_match(model: GrayVGG, T_L: Tensor, R_L: Tensor, R_ab: Tensor, method: str,
                       layer: str = DEFAULT_LAYER, iters: int = 5) -> tuple[Tensor, Tensor]:
    """phi_T->R (B, 2, H, W) and R'_ab (B, 2, H, W) by one search on ONE layer's features:
    "exact" (cosine argmax, :func:`exact_nn`), "patchmatch" (:func:`patchmatch` from a random field, DIA's patch
    size for the layer, ``iters`` iterations) or "attention" (softmax(cos / tau) R_ab with R_ab brought to the
    layer's grid, its argmax as phi). The field is upsampled to pixels as in :func:`match`."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    ft, fr = model(T_L, [layer])[layer], model(R_L, [layer])[layer]
    s, size_T, size_R = model.stride(layer), tuple(T_L.shape[-2:]), tuple(R_L.shape[-2:])
    R_ab_w = None
    if method == "exact":
        phi, _ = exact_nn(ft, fr)
    elif method == "patchmatch":
        phi, _ = patchmatch(ft, fr, patch=PATCH_SIZES.get(layer, 3), iters=iters)
    else:
        ab_small = F.interpolate(R_ab.to(ft), size=tuple(fr.shape[-2:]), mode="area")
        soft, _, phi = soft_attention(ft, fr, ab_small, ATTENTION_TAU)
        R_ab_w = F.interpolate(soft, size=size_T, mode="bilinear", align_corners=False)
    phi = upsample_field(phi, s, size_T, size_R)
    return phi, (warp(R_ab.to(ft), phi) if R_ab_w is None else R_ab_w)


@torch.no_grad()
def search_study(model: GrayVGG, n_pairs: int = 16, layer: str = DEFAULT_LAYER, seed: int = 0, size: int = 64,
                 batch: int = 16, methods: tuple[str, ...] = METHODS) -> dict:
    """The search separated from the features, on held-out pairs: for each method, the label agreement
    mean_p [label_R(phi_T->R(p)) == label_T(p)] and the colour error mean_p |R'_ab(p) - GT_ab(p)| (GT: the
    target rendered in the reference's palettes), once with every method on the same ``layer``
    (:func:`single_layer_match`, key "same_layer") and once on its own route of :func:`match` ("own_route")."""
    was_training = model.training
    model.eval()
    target, reference = scenes.sample_pairs(heldout_seed(seed), n_pairs, size)
    sums = {k: {m: [0.0, 0.0] for m in methods} for k in ("same_layer", "own_route")}
    for i in range(0, n_pairs, batch):
        t, r = target[i:i + batch], reference[i:i + batch]
        gt = scenes.ground_truth(t, r).ab
        for m in methods:
            out = match(model, t.L, r.L, r.ab, method=m, maps=False)
            for key, (phi, ab) in (("same_layer", single_layer_match(model, t.L, r.L, r.ab, m, layer)),
                                   ("own_route", (out.phi_TR, out.R_ab_warped))):
                sums[key][m][0] += (warp(r.labels[:, None], phi)[:, 0] == t.labels).sum().item()
                sums[key][m][1] += (ab - gt).norm(dim=1).sum().item()
    model.train(was_training)
    n = n_pairs * size * size
    return {"layer": layer, "n_pairs": n_pairs,
            **{key: {m: {"label_agreement": a / n, "ab_error": e / n} for m, (a, e) in v.items()}
               for key, v in sums.items()}}


@torch.no_grad()
def round_trip_study(model: GrayVGG, n_pairs: int = 16, seed: int = 0, size: int = 64, batch: int = 16,
                     methods: tuple[str, ...] = METHODS) -> dict:
    """Does the round trip T -> R -> T return to p where phi_T->R(p) is correct? Per route of :func:`match`,
    over all target pixels of the held-out pairs, with correct(p) = [label_R(phi_T->R(p)) == label_T(p)] and
    d(p) = :func:`round_trip_distance`:

    "distance_auc_wrong": ROC AUC of d as a score for a WRONG match; "mean_distance_correct" / "_wrong";
    "exact_return_correct" / "_wrong": fraction with d = 0; "same_class_return_correct" / "_wrong": fraction whose
    round trip lands on p's class; and the AUC for a correct match of the mean over the 5 layers of the forward
    maps ("forward_auc"), of DEC's coded bidirectional maps ("code_bidirectional_auc") and of the paper's
    (:func:`paper_bidirectional_maps`, "paper_bidirectional_auc"), with their means over correct and wrong
    matches ("forward_mean_correct", ...). "curves" holds the per-pixel tensors (for ``roc_curve``)."""
    was_training = model.training
    model.eval()
    target, reference = scenes.sample_pairs(heldout_seed(seed), n_pairs, size)
    parts: dict = {m: {k: [] for k in ("d", "correct", "same", "fwd", "code", "paper")} for m in methods}
    for i in range(0, n_pairs, batch):
        t, r = target[i:i + batch], reference[i:i + batch]
        feats_T = model(t.L, DEC_LAYERS)
        for m in methods:
            out = match(model, t.L, r.L, r.ab, method=m)
            L = out.sims.shape[1] // 2
            got = parts[m]
            got["correct"].append((warp(r.labels[:, None], out.phi_TR)[:, 0] == t.labels).flatten())
            got["d"].append(round_trip_distance(out.phi_TR, out.phi_RT).flatten())
            back = warp(out.phi_RT, out.phi_TR)
            got["same"].append((warp(t.labels[:, None], back)[:, 0] == t.labels).flatten())
            got["fwd"].append(out.sims[:, :L].mean(1).flatten())
            got["code"].append(out.sims[:, L:].mean(1).flatten())
            got["paper"].append(paper_bidirectional_maps(feats_T, out.phi_TR, out.phi_RT).mean(1).flatten())
    model.train(was_training)
    res: dict = {"n_pairs": n_pairs}
    for m, got in parts.items():
        c, d, same = (torch.cat(got[k]) for k in ("correct", "d", "same"))
        res[m] = {"fraction_correct": c.double().mean().item(), "distance_auc_wrong": roc_auc(d, ~c),
                  "mean_distance_correct": d[c].double().mean().item(),
                  "mean_distance_wrong": d[~c].double().mean().item(),
                  "exact_return_correct": (d[c] == 0).double().mean().item(),
                  "exact_return_wrong": (d[~c] == 0).double().mean().item(),
                  "same_class_return_correct": same[c].double().mean().item(),
                  "same_class_return_wrong": same[~c].double().mean().item(),
                  "curves": {"correct": c, "round_trip_distance": d}}
        for k, key in (("forward", "fwd"), ("code_bidirectional", "code"), ("paper_bidirectional", "paper")):
            score = torch.cat(got[key])
            res[m][f"{k}_auc"] = roc_auc(score, c)
            res[m][f"{k}_mean_correct"] = score[c].double().mean().item()
            res[m][f"{k}_mean_wrong"] = score[~c].double().mean().item()
            res[m]["curves"][k] = score
    return res
