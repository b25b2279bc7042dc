"""Study: colour a photo from a *different* photo. The tiers of exemplar colorization on photographs, measured on
photos that no shipped model trained on (``photo_pairs.unseen_photos``, less the development photos).

    A  same scene, other view     T = a gray crop, R = another crop of the same photo (mirrored, or not)
    B  recoloured reference       A's pairs with R's a*b* turned by 120 (240) degrees; truth: T's a*b* turned alike
    C  different photo            T = a whole photo, R = another photo of the same kind (sky/sky, flower/flower ...)
                                  or of another kind; truth: T's own colours
    D  old black-and-white photos no truth: a gallery (``data/bw_photos``, notebook 05)

How the C pairs are chosen, fixed before measuring: every tier photo is a target; its same-kind references are
the other tier photos with the same ``kind`` in the manifest (at most ``SAME_KIND`` of them, by a hash of the two
names, never a photo of the same scene), its other-kind reference one tier photo of another kind (by the same
hash). A C score is only fair where the reference's colours for the shared content are like the target's: the
kind is the stand-in for that, and the same-kind pairs' mean colours are printed beside (``results.json``).

Rows: gray (a*b* = 0), tint (the reference's mean a*b*), reinhard (a global L* -> a*b* map,
:mod:`reprolib.colorization.transfer`), welsh (Welsh et al. 2002), and the pipelines under test. Metrics per pair:
CIEDE2000 against the truth (B: also against the unturned colours), colourfulness (Hasler-Suesstrunk) beside the
truth's, and the a*b* histogram intersection of the output with its own reference and with another pair's
("follows": the share of pairs whose output is closer to its own). Means come with percentile-bootstrap 95 %
intervals over pairs.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from ..colorization.transfer import reinhard, tint
from ..colorization.welsh import welsh
from ..core import color
from ..core.photos import photo_manifest
from ..world.photo_views import CROP, other_view_pairs, photo_lab, rotate_hue
from .image_metrics import bootstrap_interval, colorfulness, histogram_intersection, mean_delta_e2000

TIER_SIZE = CROP  # the short side of C's whole photos: the default pipeline's working size (192)
SAME_KIND = 3  # same-kind references per target, at most
ANGLES = (120, 240)  # B's turns of the reference's a*b*, degrees
BASELINES = ("gray", "tint", "reinhard", "welsh")


class Pair(NamedTuple):
    """One evaluation pair: the target's truth ``T_lab`` (1, 3, h, w) (the input is its L*), the reference
    ``R_lab`` (1, 3, h', w'), their names, and for B the target's unturned colours (``plain``, else None)."""

    target: str
    reference: str
    T_lab: Tensor
    R_lab: Tensor
    plain: Tensor | None = None


Predict = Callable[[Tensor, Tensor], Mapping[str, Tensor]]  # (T_L, R_lab) -> {row: P_ab}


def photo_kinds() -> dict[str, str]:
    """{photo: kind} from the manifest's ``kind`` column (landscape, sky, flower, animal, person, ...)."""
    rows = photo_manifest()
    if rows and "kind" not in rows[0]:
        raise ValueError("data/photos/MANIFEST.tsv has no 'kind' column; the C tier pairs photos by kind")
    return {row["file"]: row["kind"] for row in rows}


def _hash(*names: str) -> int:
    return zlib.crc32("|".join(names).encode())


def same_scene_pairs(names: Sequence[str], n_per: int, mirror: bool) -> list[Pair]:
    """Tier A: ``other_view_pairs(names, n_per, mirror=mirror)`` (crops of CROP x CROP)."""
    views = other_view_pairs(names, n_per, mirror=mirror)
    return [Pair(n, n, views.T_lab[i:i + 1], views.R_lab[i:i + 1]) for i, n in enumerate(views.names)]


def recoloured_pairs(pairs: Sequence[Pair], degrees: float) -> list[Pair]:
    """Tier B: R's a*b* turned by ``degrees`` and fitted into the gamut; the truth is T's a*b* turned alike and
    fitted the same way (``world.photo_views.rotate_hue``); ``plain`` keeps T's own colours."""
    angle = math.radians(degrees)
    return [Pair(p.target, p.reference, rotate_hue(p.T_lab, angle), rotate_hue(p.R_lab, angle), p.T_lab)
            for p in pairs]


def different_photo_pairs(names: Sequence[str], kinds: Mapping[str, str], same_kind: bool,
                          per_target: int = SAME_KIND, size: int = TIER_SIZE) -> list[Pair]:
    """Tier C (module docstring): for each target of ``names``, up to ``per_target`` other photos of its kind
    (``same_kind``) or one photo of another kind, both whole at a short side of ``size``."""
    labs = {n: photo_lab(n, size)[None] for n in names}
    out = []
    for t in names:
        pool = [r for r in names if r != t and (kinds[r] == kinds[t]) == same_kind]
        chosen = sorted(pool, key=lambda r: _hash(t, r))[: per_target if same_kind else 1]
        out += [Pair(t, r, labs[t], labs[r]) for r in chosen]
    return out


def baselines(T_L: Tensor, R_lab: Tensor, seed: int = 0) -> dict[str, Tensor]:
    """P_ab of the rows that need no gray-VGG: gray, tint, reinhard (:mod:`~reprolib.colorization.transfer`),
    welsh."""
    return {"gray": torch.zeros(T_L.shape[0], 2, *T_L.shape[-2:]), "tint": tint(T_L, R_lab),
            "reinhard": reinhard(T_L, R_lab), "welsh": welsh(T_L, R_lab, seed=seed)}


def _swapped(pairs: Sequence[Pair], i: int) -> int:
    """The pair whose reference stands for "another reference" of pair i: the next one with another target and
    another reference photo."""
    n = len(pairs)
    for k in range(1, n):
        j = (i + k) % n
        if pairs[j].reference != pairs[i].reference and pairs[j].target != pairs[i].target:
            return j
    raise ValueError("the follows measure needs pairs with at least two targets and two references")


@torch.no_grad()
def measure(pairs: Sequence[Pair], predict: Predict) -> dict:
    """Every row of ``predict`` on every pair: {"rows": {row: {metric: [per pair]}}, "truth_colorfulness": [...]}.
    Metrics: delta_e2000 (to the truth), delta_e2000_plain (B: to the unturned colours), colorfulness,
    his_own and his_other (histogram intersection with its own and another pair's reference)."""
    rows: dict[str, dict[str, list]] = {}
    truth_cf = []
    for i, p in enumerate(pairs):
        other = pairs[_swapped(pairs, i)].R_lab
        truth_cf.append(colorfulness(color.lab_to_rgb(p.T_lab).clamp(0, 1)).item())
        for row, P_ab in predict(p.T_lab[:, :1], p.R_lab).items():
            P_lab = torch.cat((p.T_lab[:, :1], P_ab.to(p.T_lab)), 1)
            P_lab = color.fit_to_gamut(P_lab)
            r = rows.setdefault(row, {})
            r.setdefault("delta_e2000", []).append(mean_delta_e2000(P_lab, p.T_lab).item())
            if p.plain is not None:
                r.setdefault("delta_e2000_plain", []).append(mean_delta_e2000(P_lab, p.plain).item())
            r.setdefault("colorfulness", []).append(colorfulness(color.lab_to_rgb(P_lab).clamp(0, 1)).item())
            r.setdefault("his_own", []).append(histogram_intersection(P_lab[0, 1:], p.R_lab[0, 1:]))
            r.setdefault("his_other", []).append(histogram_intersection(P_lab[0, 1:], other[0, 1:]))
    return {"rows": rows, "truth_colorfulness": truth_cf, "pairs": [[p.target, p.reference] for p in pairs]}


def summarise(measured: dict) -> dict:
    """Per row: mean CIEDE2000 with its bootstrap 95 % interval (and to the unturned colours for B), mean
    colourfulness and its ratio to the truth's, and "follows" (share of pairs with his_own > his_other)."""
    truth = sum(measured["truth_colorfulness"]) / len(measured["truth_colorfulness"])
    out = {"n_pairs": len(measured["truth_colorfulness"]), "truth_colorfulness": round(truth, 2), "rows": {}}
    for row, r in measured["rows"].items():
        de = r["delta_e2000"]
        s = {"delta_e2000": round(sum(de) / len(de), 3),
             "delta_e2000_ci95": [round(v, 3) for v in bootstrap_interval(de)],
             "colorfulness": round(sum(r["colorfulness"]) / len(de), 2)}
        s["colorfulness_ratio"] = round(s["colorfulness"] / truth, 3) if truth else None
        s["follows"] = round(sum(a > b for a, b in zip(r["his_own"], r["his_other"])) / len(de), 3)
        if "delta_e2000_plain" in r:
            s["delta_e2000_plain"] = round(sum(r["delta_e2000_plain"]) / len(de), 3)
        s["delta_e2000_per_pair"] = [round(v, 2) for v in de]
        out["rows"][row] = s
    return out


def tiers(names: Sequence[str], kinds: Mapping[str, str], n_ab: int) -> dict[str, list[Pair]]:
    """Every tier's pairs on ``names``: A mirrored and not (one pair per photo of the first ``n_ab``), B at each
    of ``ANGLES`` (from A's unmirrored pairs), C same kind and other kind."""
    plain = same_scene_pairs(names[:n_ab], 1, mirror=False)
    out = {"A_mirrored": same_scene_pairs(names[:n_ab], 1, mirror=True), "A_not_mirrored": plain}
    out.update({f"B_{a}": recoloured_pairs(plain, a) for a in ANGLES})
    out["C_same_kind"] = different_photo_pairs(names, kinds, same_kind=True)
    out["C_other_kind"] = different_photo_pairs(names, kinds, same_kind=False)
    return out


def pipeline_rows(model) -> Predict:
    """predict(T_L, R_lab) -> {row: P_ab}: the baselines, ``colorize``'s Chooser unhedged ("chooser", the default
    before the hedge) and hedged ("hedged", :mod:`reprolib.colorization.confidence`), from one match."""
    from ..colorization.confidence import CONFIDENCE_FIELD, hedge
    from ..colorization.pipelines import plan

    pipeline = plan(model, (TIER_SIZE, TIER_SIZE), (TIER_SIZE, TIER_SIZE), hedge=False).pipeline
    pairs = iter(range(10**9))

    def predict(T_L: Tensor, R_lab: Tensor) -> dict[str, Tensor]:
        out = baselines(T_L, R_lab, seed=next(pairs))
        P_ab, matched = pipeline.run(model, T_L, R_lab)
        out[pipeline.name] = P_ab
        out["hedged"] = hedge(P_ab, matched[CONFIDENCE_FIELD].cosine)
        return out

    return predict


@torch.no_grad()
def evaluate_extractor(choice: str, quick: bool = False) -> dict:
    """Every tier for one gray-VGG (a ``load_extractor`` choice) on ``photo_pairs.tier_photos()`` (``quick``: a
    quarter of them)."""
    from ..colorization.grayvgg_weights import load_extractor
    from ..training.photo_pairs import tier_photos

    model = load_extractor(choice)
    names = tier_photos()[::4] if quick else tier_photos()
    predict = pipeline_rows(model)
    out = {"extractor": model.extractor, "source": model.source, "tiers": {}}
    for tier, pairs in tiers(names, photo_kinds(), len(names) // 2).items():
        measured = measure(pairs, predict)
        out["tiers"][tier] = summarise(measured) | {"pairs": measured["pairs"]}
    return out
