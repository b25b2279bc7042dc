"""Is exemplar colorization robust to the reference? DEC's claim, measured in the synthetic world.

He et al. 2018 train the colorization sub-net with two branches so that it copies the reference where it
can (the chrominance branch) and "predicts natural colours where the reference does not help" (the
perceptual branch): a good, a partial and an unrelated reference should all give a plausible picture.
In the default world that cannot be tested: palettes are drawn uniformly, so where the reference lacks a
class nothing is plausible. This study uses the world variant ``usual=USUAL`` (``scenes.sample_pairs``):
each class wears its usual colour (its first palette: blue sky, green grass ...) with probability 0.7, and
measures, on held-out targets ``sample_pairs(heldout_seed(seed), n, size, usual=USUAL)``:

* references: ``good``, the pair's own reference (it shows every class of the target); ``partial``, a free
  layout of the same world (``related=0``: it may lack some of the target's classes); ``unrelated``, a
  shipped photograph (64 px centre crop), which shows none of them;
* pixels: ``shown`` where the reference shows the pixel's class, ``unshown`` where it does not (every pixel
  for a photograph);
* scores (CIEDE2000 of (T_L, P_ab), means over pixels):
  ``shown``: against G = ground_truth(T, R), the reference's colour of the class (fidelity);
  ``unshown_own``: against the target's own colours (the paper's truth there; in this world a draw from
  the prior, independent of the inputs, so the best guess is the usual colour: expected error 0.3 x the
  distance to the other palettes);
  ``unshown_usual``: against U, the class's usual colour at T_L (the prior's mode);
  ``unshown_any``: against the nearest palette of the class (is it a colour the class can wear at all);
* rows: R'_ab alone, and the two nets trained on this world with ``related=0.5`` (half the training
  references lack some classes): ``chrominance_only`` and ``full`` (both branches; the perceptual branch's
  truth where the reference lacks a class is the reference's unseen palette, a draw from the prior, as the
  paper's truth there is the photo's own colour); ``prior_oracle``, R'_ab where the reference shows the
  class and the usual colour where it does not (it reads the label maps: a bound for a net that learned the
  prior, not a method).
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..colorization import matching
from ..colorization.colornet import ColorNetWeights, colornet_input, load_colornet, predict_ab
from ..colorization.grayvgg_weights import grayvgg_small
from ..core import checks, color
from ..core.photos import list_photos, load_photo, resize_short_side
from ..core.seeds import heldout_seed
from ..training.photo_pairs import HELDOUT_PHOTOS, TRAIN_PHOTOS
from ..world import scenes
from ..world.classes import NUM_PALETTES, PALETTE_TABLE, class_presence
from . import report

USUAL = 0.7  # the world variant's chance of a class's usual colour (the shipped usual-world nets' --usual)
REFERENCES = ("good", "partial", "unrelated")
ROWS = ("warped_reference", "chrominance_only", "full", "prior_oracle")
SCORES = ("shown", "unshown_own", "unshown_usual", "unshown_any")
NETS = {"chrominance_only": ColorNetWeights.COLORNET_USUAL_CHROMINANCE_ONLY,
        "full": ColorNetWeights.COLORNET_USUAL_FULL}


def usual_ab(labels: Tensor) -> Tensor:
    """U_ab (B, 2, H, W): the usual colour (palette 0) of each pixel's class."""
    return PALETTE_TABLE[labels, 0].permute(0, 3, 1, 2)


def nearest_palette_error(T_L: Tensor, P_ab: Tensor, labels: Tensor) -> Tensor:
    """(B, H, W): min over the palettes q of the pixel's class of CIEDE2000((T_L, P_ab), (T_L, q))."""
    P_lab = torch.cat((T_L, P_ab), 1)
    best = torch.full(labels.shape, float("inf"))
    for q in range(max(NUM_PALETTES)):
        valid = torch.tensor(NUM_PALETTES)[labels] > q
        ab = PALETTE_TABLE[labels, q].permute(0, 3, 1, 2).nan_to_num(0.0)
        de = color.delta_e2000(P_lab, torch.cat((T_L, ab), 1))
        best = torch.where(valid, torch.minimum(best, de), best)
    return best


def photo_references(n: int, size: int) -> tuple[Tensor, Tensor]:
    """``n`` unrelated references (R_L, R_ab): the sixteen original photographs in turn (the training and held-out
    ones of ``photo_pairs``; not those added since, so that the study measures what it always has), centre-cropped
    to ``size``."""
    crops = []
    for name in [p for p in list_photos() if p in (*TRAIN_PHOTOS, *HELDOUT_PHOTOS)]:
        img = resize_short_side(load_photo(name), size)
        y, x = (img.shape[-2] - size) // 2, (img.shape[-1] - size) // 2
        crops.append(img[:, y:y + size, x:x + size])
    lab = color.rgb_to_lab(torch.stack([crops[i % len(crops)] for i in range(n)]).clamp(0, 1))
    return lab[:, :1], lab[:, 1:]


def _scores(T: scenes.Scene, P_ab: Tensor, shown: Tensor, G_lab: Tensor | None) -> dict:
    """Sums of the SCORES' CIEDE2000 over their pixels (``shown`` needs the ground truth G)."""
    P_lab = torch.cat((T.L, P_ab), 1)
    U_lab = torch.cat((T.L, usual_ab(T.labels)), 1)
    return {"shown": 0.0 if G_lab is None else color.delta_e2000(P_lab, G_lab)[shown].double().sum().item(),
            "unshown_own": color.delta_e2000(P_lab, T.lab)[~shown].double().sum().item(),
            "unshown_usual": color.delta_e2000(P_lab, U_lab)[~shown].double().sum().item(),
            "unshown_any": nearest_palette_error(T.L, P_ab, T.labels)[~shown].double().sum().item()}


@torch.no_grad()
def robustness_rows(n: int = 200, seed: int = 0, size: int = 64, batch_size: int = 50,
                    nets: dict | None = None) -> dict:
    """Every score of every row and reference kind on ``n`` held-out targets (module docstring).

    Returns {"rows": {kind: {row: {score: mean}}}, "unshown_share": {kind: share of target pixels}, "n_pairs",
    "pairs", "usual"}; a score over no pixel is None (``shown`` for a photograph)."""
    n = checks.int_at_least(n, "n", 1)
    nets = {row: load_colornet(entry) for row, entry in NETS.items()} if nets is None else nets
    grayvgg = grayvgg_small()
    target, good = scenes.sample_pairs(heldout_seed(seed), n, size, usual=USUAL)
    partial = scenes.sample_pairs(heldout_seed(seed), n, size, usual=USUAL, related=0.0)[1]
    photo_L, photo_ab = photo_references(n, size)
    out, shares = {}, {}
    for kind in REFERENCES:
        sums = {row: dict.fromkeys(SCORES, 0.0) for row in ROWS}
        pixels = {"shown": 0, "unshown": 0}
        for i in range(0, n, batch_size):
            T = target[i:i + batch_size]
            if kind == "unrelated":
                R_L, R_ab = photo_L[i:i + batch_size], photo_ab[i:i + batch_size]
                shown, G_lab = torch.zeros_like(T.labels, dtype=torch.bool), None
            else:
                R = (good if kind == "good" else partial)[i:i + batch_size]
                R_L, R_ab = R.L, R.ab
                shown = torch.gather(class_presence(R.labels), 1, T.labels.flatten(1)).view_as(T.labels)
                G_lab = scenes.ground_truth(T, R).lab
            pixels["shown"] += int(shown.sum())
            pixels["unshown"] += int((~shown).sum())
            m = matching.match(grayvgg, T.L, R_L, R_ab)
            for row in ROWS:
                if row in nets:
                    P_ab = predict_ab(nets[row], colornet_input(T.L, m.R_ab_warped, m.sims)).to(T.L)
                elif row == "prior_oracle":
                    P_ab = torch.where(shown[:, None], m.R_ab_warped, usual_ab(T.labels))
                else:
                    P_ab = m.R_ab_warped
                for score, value in _scores(T, P_ab, shown, G_lab).items():
                    sums[row][score] += value
        count = {score: pixels["shown" if score == "shown" else "unshown"] for score in SCORES}
        out[kind] = {row: {score: sums[row][score] / count[score] if count[score] else None for score in SCORES}
                     for row in ROWS}
        shares[kind] = pixels["unshown"] / (pixels["shown"] + pixels["unshown"])
    return {"rows": out, "unshown_share": shares, "n_pairs": n, "usual": USUAL,
            "pairs": f"sample_pairs(heldout_seed({seed}), {n}, {size}, usual={USUAL})"}


def report_table(result: dict) -> str:
    """The rows of :func:`robustness_rows` as a markdown table, with each reference's share of unshown pixels."""
    def cell(v: float | None) -> str:
        return "-" if v is None else f"{v:.2f}"

    return report.table(("reference (unshown pixels)", "row", *SCORES),
                        [(f"{kind} ({result['unshown_share'][kind]:.2%})", row, *(cell(r[s]) for s in SCORES))
                         for kind, rows in result["rows"].items() for row, r in rows.items()])
