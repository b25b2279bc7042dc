"""Does the colorization sub-net learn *when to trust* the reference? An ablation of its similarity maps.

He et al. 2018 (Sec. 3.2) feed the sub-net the similarity maps sim_T->R and sim_T<->R so that it can copy
R'_ab where the match is good and change it where it is not. If the trained net really reads them, its
result must get worse when the maps stop describing the pair. Each row colours the same held-out pairs
``sample_pairs(heldout_seed(seed), n, size)`` with the same T_L and R'_ab and changes only the 10 maps s
(cosines, before the "dec" scaling of ``colornet_input``):

* ``full``: the pair's own maps (the 13-channel input of test time);
* ``maps_zero``: s = 0 everywhere (the maps say "no match anywhere");
* ``maps_one``: s = 1 everywhere (the maps say "perfect match everywhere");
* ``maps_shuffled``: s(pi(p)), one fixed permutation pi of the H W pixels (``torch.randperm`` seeded with
  ``shuffle_seed``), the same for every map and pair: the values are kept, their positions are not;
* ``maps_other_pair``: the maps of the previous pair of the same batch (``roll`` by one: every pair gets
  another pair's maps, realistic in shape but of another scene);
* ``warped_reference``: R'_ab alone, P_ab = R'_ab (no network).

Score, as in :func:`reprolib.training.colornet.evaluate_colornet`: CIEDE2000 of (T_L, P_ab) against
G = ``ground_truth(T, R)``, mean over all pixels of all pairs (``all``), and separately over the pixels whose
phi_T->R lands on the target's own class (``matched``: there R'_ab is already G, because a palette is constant
over its class) and the others (``mismatched``: there R'_ab is the colour of a wrong class):

    dE(rows) = mean_{p in pixels} CIEDE2000((T_L(p), P_ab(p)), G_lab(p))
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..colorization import matching
from ..colorization.colornet import ColorNet, colornet_input, load_colornet, predict_ab
from ..colorization.grayvgg import GrayVGG
from ..colorization.grayvgg_weights import grayvgg_small
from ..core import checks, color
from ..core.seeds import heldout_seed
from ..world import scenes

ROWS = ("full", "maps_zero", "maps_one", "maps_shuffled", "maps_other_pair", "warped_reference")
PARTS = ("all", "matched", "mismatched")


def ablated_maps(sims: Tensor, row: str, shuffle_seed: int = 0) -> Tensor:
    """The similarity maps (B, 2 L, H, W) that row ``row`` of ROWS (except warped_reference) feeds the net."""
    if row == "full":
        return sims
    if row == "maps_zero":
        return torch.zeros_like(sims)
    if row == "maps_one":
        return torch.ones_like(sims)
    if row == "maps_shuffled":
        H, W = sims.shape[-2:]
        pi = torch.randperm(H * W, generator=torch.Generator().manual_seed(shuffle_seed)).to(sims.device)
        return sims.flatten(2)[:, :, pi].view_as(sims)
    if row == "maps_other_pair":
        if sims.shape[0] < 2:
            raise ValueError("maps_other_pair needs a batch of at least 2 pairs")
        return sims.roll(1, dims=0)
    raise ValueError(f"row must be one of {ROWS[:-1]}, got {row!r}")


def mismatched_pixels(target: scenes.Scene, reference: scenes.Scene, phi_TR: Tensor) -> Tensor:
    """(B, H, W) bool: True where phi_T->R(p) lands on another class than the target's own at p."""
    return matching.warp(reference.labels[:, None], phi_TR)[:, 0] != target.labels


@torch.no_grad()
def trust_rows(n: int = 200, seed: int = 0, size: int = 64, batch_size: int = 50, net: ColorNet | None = None,
               grayvgg: GrayVGG | None = None, shuffle_seed: int = 0) -> dict:
    """Mean CIEDE2000 of every row of ROWS on ``n`` held-out pairs (module docstring), over all, matched and
    mismatched pixels.

    net: a 13-channel ColorNet (default the shipped full one); grayvgg: the extractor it was trained with
    (default the small synthetic gray-VGG). Returns {"rows": {row: {"all", "matched", "mismatched"}},
    "mismatched_fraction", "n_pairs", "pairs"}. ``maps_other_pair`` rolls within batches of ``batch_size``.
    """
    n = checks.int_at_least(n, "n", 2)
    batch_size = checks.int_at_least(batch_size, "batch_size", 2)
    if n % batch_size == 1:
        raise ValueError(f"n = {n} leaves a last batch of one pair (no other pair for maps_other_pair); "
                         f"choose another batch_size than {batch_size}")
    net = load_colornet() if net is None else net
    grayvgg = grayvgg_small() if grayvgg is None else grayvgg
    target, reference = scenes.sample_pairs(heldout_seed(seed), n, size)
    sums = {row: dict.fromkeys(PARTS, 0.0) for row in ROWS}
    counts = dict.fromkeys(PARTS, 0)
    for i in range(0, n, batch_size):
        T, R = target[i:i + batch_size], reference[i:i + batch_size]
        m = matching.match(grayvgg, T.L, R.L, R.ab)
        G_lab = scenes.ground_truth(T, R).lab
        wrong = mismatched_pixels(T, R, m.phi_TR)
        masks = {"all": torch.ones_like(wrong), "matched": ~wrong, "mismatched": wrong}
        for part, mask in masks.items():
            counts[part] += int(mask.sum())
        for row in ROWS:
            if row == "warped_reference":
                P_ab = m.R_ab_warped
            else:
                sims = ablated_maps(m.sims, row, shuffle_seed)
                P_ab = predict_ab(net, colornet_input(T.L, m.R_ab_warped, sims))
            de = color.delta_e2000(torch.cat((T.L, P_ab.to(T.L)), 1), G_lab).double()
            for part, mask in masks.items():
                sums[row][part] += de[mask].sum().item()
    rows = {row: {part: sums[row][part] / counts[part] if counts[part] else float("nan") for part in PARTS}
            for row in ROWS}
    return {"rows": rows, "mismatched_fraction": counts["mismatched"] / counts["all"], "n_pairs": n,
            "pairs": f"sample_pairs(heldout_seed({seed}), {n}, {size})"}
