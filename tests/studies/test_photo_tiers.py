"""The tiers of colouring a photo from another photo (reprolib.studies.photo_tiers) and their measures."""
import math

import pytest
import torch

from reprolib.core.color import rgb_to_lab
from reprolib.studies import image_metrics as im
from reprolib.studies import photo_tiers as pt
from reprolib.training import photo_pairs as pp


def test_histogram_intersection_and_bootstrap():
    ab = torch.randn(2, 20, 20) * 30
    assert im.histogram_intersection(ab, ab) == pytest.approx(1.0)
    assert im.histogram_intersection(torch.full((2, 4, 4), 60.0), torch.full((2, 4, 4), -60.0)) == 0.0
    assert im.ab_histogram(ab).sum().item() == pytest.approx(1.0)
    lo, hi = im.bootstrap_interval([1.0, 2.0, 3.0, 4.0])
    assert 1.0 <= lo < 2.5 < hi <= 4.0
    assert im.bootstrap_interval([5.0] * 3) == (5.0, 5.0)


def test_c_pairs_follow_the_stated_rule():
    """Same-kind pairs share the manifest's kind, other-kind pairs do not, no photo is its own reference, and every
    tier photo is unseen by the shipped models and not a development photo."""
    kinds = pt.photo_kinds()
    names = pp.tier_photos()
    assert not set(names) & (set(pp.TRAIN_PHOTOS) | set(pp.DEVELOPMENT_PHOTOS))
    few = names[:12]
    same = pt.different_photo_pairs(few, kinds, same_kind=True, size=32)
    other = pt.different_photo_pairs(few, kinds, same_kind=False, size=32)
    assert all(kinds[p.target] == kinds[p.reference] and p.target != p.reference for p in same)
    assert all(kinds[p.target] != kinds[p.reference] for p in other) and len(other) == len(few)
    assert max(sum(p.target == t for p in same) for t in few) <= pt.SAME_KIND


def test_b_turns_reference_and_truth_alike():
    T = torch.tensor([[[[60.0]], [[30.0]], [[0.0]]]])
    pair = pt.Pair("x", "x", T, T.clone())
    turned = pt.recoloured_pairs([pair], 120)[0]
    assert turned.plain is T and torch.equal(turned.T_lab, turned.R_lab)
    assert math.degrees(math.atan2(turned.T_lab[0, 2].item(), turned.T_lab[0, 1].item())) == pytest.approx(120, abs=1)


def test_measure_ranks_the_truth_first_and_gray_has_no_colour():
    """On pairs whose truth is known, the truth's own a*b* scores 0 and follows its reference (itself), gray has
    colourfulness 0 and a positive error."""
    g = torch.Generator().manual_seed(0)
    pairs = []
    for i in range(4):
        lab = rgb_to_lab(torch.rand(1, 3, 1, 1, generator=g).expand(1, 3, 16, 16) * 0.8
                         + torch.rand(1, 1, 16, 16, generator=g) * 0.2)
        pairs.append(pt.Pair(f"t{i}", f"t{i}", lab, lab))
    measured = pt.measure(pairs, lambda T_L, R_lab: {"truth": R_lab[:, 1:], "gray": torch.zeros_like(R_lab[:, 1:])})
    s = pt.summarise(measured)["rows"]
    assert s["truth"]["delta_e2000"] < 0.5 < s["gray"]["delta_e2000"]
    assert s["truth"]["follows"] == 1.0 and s["gray"]["colorfulness"] == 0.0
    lo, hi = s["gray"]["delta_e2000_ci95"]
    assert lo <= s["gray"]["delta_e2000"] <= hi


def _row(de, cf=0.8, follows=0.95):
    return {"delta_e2000": de, "colorfulness_ratio": cf, "follows": follows}


def test_floors_say_which_hold():
    from reprolib.studies.different_photos import floors

    same = {"hedged": _row(9.0), "gray": _row(14.0), "tint": _row(12.0), "reinhard": _row(11.0), "welsh": _row(10.0)}
    other = {"hedged": _row(15.0), "gray": _row(14.0)}
    got = floors({"C_same_kind": {"rows": same}, "C_other_kind": {"rows": other}})
    assert got["below_0.9_tint"] and got["below_0.7_gray"] and got["below_welsh_and_reinhard"]
    assert got["follows_90"] and got["colourful_0.7"] and not got["other_kind_no_worse_than_gray"]


def test_the_gallery_labels_rows_and_errors():
    from reprolib.figures.galleries import tier_gallery

    lab = rgb_to_lab(torch.rand(1, 3, 16, 24))
    rows = [{"title": "a from b", "T_lab": lab, "R_lab": lab, "outputs": {"hedged": lab[:, 1:], "gray": lab[:, 1:] * 0},
             "truth": lab, "errors": {"hedged": 0.0, "gray": 12.3}}]
    fig = tier_gallery(rows, "C")
    assert [ax.get_title() for ax in fig.axes] == ["target T_L", "reference R", "hedged", "gray", "truth"]
    assert fig.axes[3].get_xlabel() == "CIEDE2000 12.3" and "from b" in fig.axes[0].get_ylabel()
