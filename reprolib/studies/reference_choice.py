"""Study: which reference, and how many. On the tier C pairs (:mod:`.photo_tiers`), measured with ``colorize``'s
default pipeline:

* several references at once (:mod:`reprolib.colorization.references`): each target coloured from each of its
  same-kind references alone, and from the first k of them joined (k = 2, 3); compared with the best single one
  (an oracle: it needs the truth to know which) and with the mean single one (what a user who picks one at random
  gets);
* retrieval (:mod:`reprolib.colorization.retrieval`, DEC's reference recommendation): the first choice among the
  other tier photos against references drawn at random from them (``RANDOM_DRAWS`` per target);
* the galleries of notebook 05: C pairs of four kinds, and tier D, the black-and-white photos of ``data/bw_photos``
  (no truth), each coloured from retrieval's first choice among the tier photos of its kind.
"""
from __future__ import annotations

import csv
import zlib
from pathlib import Path

import torch
from torch import Tensor

from ..colorization.confidence import CONFIDENCE_FIELD, hedge
from ..colorization.grayvgg_weights import load_extractor
from ..colorization.pipelines import plan
from ..colorization.references import join_references
from ..colorization.retrieval import recommend
from ..core import color
from ..core.photos import load_image
from ..training.photo_pairs import tier_photos
from ..world.photo_views import photo_lab
from .image_metrics import mean_delta_e2000
from .photo_tiers import SAME_KIND, TIER_SIZE, different_photo_pairs, photo_kinds

RANDOM_DRAWS = 2  # random references per target, against retrieval's first choice
TARGETS, QUICK_TARGETS = 12, 3  # targets of several_references (quick=True): joined references cost minutes
GALLERY_KINDS = ("sky", "water", "plant", "person")  # the C gallery's rows: the first same-kind pair of each
BW_PHOTOS = Path(__file__).resolve().parents[2] / "data" / "bw_photos"  # tier D, in a checkout of the repository


class Runner:
    """``colorize``'s default pipeline for one gray-VGG at the tiers' size, on Lab tensors: P_ab from T_L and one
    or several references (joined side by side)."""

    def __init__(self, choice: str, hedge: bool = True):
        self.model = load_extractor(choice)
        self.pipeline = plan(self.model, (TIER_SIZE, TIER_SIZE), (TIER_SIZE, TIER_SIZE), hedge=hedge).pipeline

    def __call__(self, T_L: Tensor, references: list[Tensor]) -> tuple[Tensor, list]:
        if len(references) == 1:
            return self.pipeline.run(self.model, T_L, references[0])
        joined = join_references([color.lab_to_rgb(r[0]).clamp(0, 1) for r in references], TIER_SIZE)
        return self.pipeline.run(self.model, T_L, color.rgb_to_lab(joined.rgb)[None], splits=joined.splits)


def before_and_after(run: Runner, T_L: Tensor, R_lab: Tensor) -> dict[str, Tensor]:
    """The Chooser's P_ab unhedged and hedged, from one match (``run`` unhedged)."""
    P_ab, matched = run(T_L, [R_lab])
    return {"Chooser (before)": P_ab, "hedged (default)": hedge(P_ab, matched[CONFIDENCE_FIELD].cosine)}


def _error(T_lab: Tensor, P_ab: Tensor) -> float:
    return mean_delta_e2000(color.fit_to_gamut(torch.cat((T_lab[:, :1], P_ab.to(T_lab)), 1)), T_lab).item()


@torch.no_grad()
def several_references(choice: str, quick: bool = False) -> dict:
    """For the first ``TARGETS`` tier photos with ``SAME_KIND`` same-kind references (``quick``: ``QUICK_TARGETS``):
    CIEDE2000 from each alone, and from the first 2 and 3 joined; per target lists and means."""
    run = Runner(choice)
    pairs = different_photo_pairs(tier_photos(), photo_kinds(), same_kind=True)
    by_target: dict[str, list] = {}
    for p in pairs:
        by_target.setdefault(p.target, []).append(p)
    # the first TARGETS (quick: QUICK_TARGETS) targets, in tier order, that have SAME_KIND references
    by_target = dict([kv for kv in by_target.items() if len(kv[1]) >= SAME_KIND][:QUICK_TARGETS if quick else TARGETS])
    rows: dict[str, list[float]] = {"best_single": [], "mean_single": [], "joined_2": [], "joined_3": []}
    for ps in by_target.values():
        T = ps[0].T_lab
        singles = [_error(T, run(T[:, :1], [p.R_lab])[0]) for p in ps]
        rows["best_single"].append(min(singles))
        rows["mean_single"].append(sum(singles) / len(singles))
        for k in (2, 3):
            rows[f"joined_{k}"].append(_error(T, run(T[:, :1], [p.R_lab for p in ps[:k]])[0]))
    return {"targets": len(rows["best_single"]), "rows": {k: round(sum(v) / len(v), 3) for k, v in rows.items()},
            "per_target": {k: [round(x, 2) for x in v] for k, v in rows.items()}}


@torch.no_grad()
def retrieval_versus_random(choice: str, quick: bool = False) -> dict:
    """Every tier photo coloured from retrieval's first choice among the other tier photos and from
    ``RANDOM_DRAWS`` of them drawn at random (seeded by the target's name)."""
    run = Runner(choice)
    names = tier_photos()[::4] if quick else tier_photos()
    labs = {n: photo_lab(n, TIER_SIZE)[None] for n in names}
    first, random = [], []
    for t in names:
        others = [o for o in names if o != t]
        best = others[recommend(run.model, labs[t][:, :1], [labs[o][:, :1] for o in others])[0][0]]
        first.append(_error(labs[t], run(labs[t][:, :1], [labs[best]])[0]))
        g = torch.Generator().manual_seed(zlib.crc32(t.encode()))
        draws = [others[i] for i in torch.randperm(len(others), generator=g)[:RANDOM_DRAWS].tolist()]
        random.append(sum(_error(labs[t], run(labs[t][:, :1], [labs[o]])[0]) for o in draws) / len(draws))
    return {"targets": len(names), "candidates_per_target": len(names) - 1,
            "retrieval_first_choice": round(sum(first) / len(first), 3),
            "random_reference": round(sum(random) / len(random), 3),
            "retrieval_wins": round(sum(a < b for a, b in zip(first, random)) / len(first), 3)}


@torch.no_grad()
def c_gallery(choice: str) -> list[dict]:
    """The first same-kind pair of each of ``GALLERY_KINDS`` among the tier photos: target, reference, the
    Chooser unhedged and hedged, gray, and the truth, with each output's CIEDE2000."""
    kinds = photo_kinds()
    plain = Runner(choice, hedge=False)
    rows = []
    for kind in GALLERY_KINDS:
        names = [n for n in tier_photos() if kinds[n] == kind]
        p = different_photo_pairs(names, kinds, same_kind=True)[0]
        outs = before_and_after(plain, p.T_lab[:, :1], p.R_lab) | {"gray": torch.zeros(1, 2, *p.T_lab.shape[-2:])}
        rows.append({"title": f"{p.target.rsplit('.', 1)[0]} from {p.reference.rsplit('.', 1)[0]}", "T_lab": p.T_lab,
                     "R_lab": p.R_lab, "outputs": outs, "truth": p.T_lab,
                     "errors": {k: _error(p.T_lab, v) for k, v in outs.items()}})
    return rows


def bw_photos() -> list[tuple[Path, str]]:
    """Tier D: the black-and-white photos of ``data/bw_photos`` with their kind (none outside a checkout)."""
    manifest = BW_PHOTOS / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with open(manifest, newline="", encoding="utf-8") as f:
        return [(BW_PHOTOS / row["file"], row["kind"]) for row in csv.DictReader(f, delimiter="\t")]


@torch.no_grad()
def d_gallery(choice: str) -> list[dict]:
    """Each black-and-white photo (:func:`bw_photos`) coloured from retrieval's first choice among the tier photos
    of its kind, by the Chooser unhedged and hedged (no truth)."""
    kinds = photo_kinds()
    plain = Runner(choice, hedge=False)
    rows = []
    for path, kind in bw_photos():
        T_lab = photo_lab(load_image(path), TIER_SIZE)[None]
        pool = [n for n in tier_photos() if kinds[n] == kind] or tier_photos()
        labs = [photo_lab(n, TIER_SIZE)[None] for n in pool]
        best = recommend(plain.model, T_lab[:, :1], [x[:, :1] for x in labs])[0][0]
        outs = before_and_after(plain, T_lab[:, :1], labs[best])
        rows.append({"title": f"{path.stem} from {pool[best].rsplit('.', 1)[0]}", "T_lab": T_lab, "R_lab": labs[best],
                     "outputs": outs, "truth": None, "errors": {}})
    return rows
