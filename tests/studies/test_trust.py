"""The similarity-map ablation of the colorization sub-net (reprolib.studies.trust)."""
from __future__ import annotations

import math

import pytest
import torch

from reprolib.colorization.colornet import load_colornet
from reprolib.colorization.grayvgg_weights import grayvgg_small
from reprolib.core.seeds import heldout_seed
from reprolib.studies import trust
from reprolib.training.colornet import evaluate_colornet
from reprolib.world import scenes


@pytest.fixture(scope="module")
def grayvgg():
    return grayvgg_small()


@pytest.fixture(scope="module")
def result(grayvgg):
    return trust.trust_rows(n=4, batch_size=2, grayvgg=grayvgg)


def test_ablated_maps_keep_values_or_set_constants():
    sims = torch.rand(3, 10, 8, 8, generator=torch.Generator().manual_seed(0))
    assert trust.ablated_maps(sims, "full") is sims
    assert torch.equal(trust.ablated_maps(sims, "maps_zero"), torch.zeros_like(sims))
    assert torch.equal(trust.ablated_maps(sims, "maps_one"), torch.ones_like(sims))
    shuffled = trust.ablated_maps(sims, "maps_shuffled", shuffle_seed=1)
    assert not torch.equal(shuffled, sims)
    # the same pixel permutation for every pair and map: sorted values per map are unchanged
    assert torch.equal(shuffled.flatten(2).sort(-1).values, sims.flatten(2).sort(-1).values)
    assert torch.equal(shuffled, trust.ablated_maps(sims, "maps_shuffled", shuffle_seed=1))
    other = trust.ablated_maps(sims, "maps_other_pair")
    assert torch.equal(other[1], sims[0]) and torch.equal(other[0], sims[2])
    with pytest.raises(ValueError, match="row must be one of"):
        trust.ablated_maps(sims, "warped_reference")
    with pytest.raises(ValueError, match="at least 2"):
        trust.ablated_maps(sims[:1], "maps_other_pair")


def test_mismatched_pixels_against_the_identity_field():
    target, reference = scenes.sample_pairs(heldout_seed(0), 2, 32)
    ys, xs = torch.meshgrid(torch.arange(32), torch.arange(32), indexing="ij")
    identity = torch.stack((ys, xs))[None].expand(2, -1, -1, -1)
    assert not trust.mismatched_pixels(target, target, identity).any()
    wrong = trust.mismatched_pixels(target, reference, identity)
    assert torch.equal(wrong, reference.labels != target.labels)


def test_trust_rows_shape_and_consistency(result, grayvgg):
    rows = result["rows"]
    assert tuple(rows) == trust.ROWS and result["n_pairs"] == 4
    assert all(tuple(r) == trust.PARTS and all(math.isfinite(v) and v >= 0 for v in r.values())
               for r in rows.values())
    f = result["mismatched_fraction"]
    assert 0 < f < 1
    for r in rows.values():  # "all" is the pixel-weighted mean of its two parts
        assert r["all"] == pytest.approx((1 - f) * r["matched"] + f * r["mismatched"], rel=1e-9)
    # R'_ab is exactly the ground truth where the match lands on the right class (constant palettes)
    assert rows["warped_reference"]["matched"] == pytest.approx(0.0, abs=1e-4)
    # the full row and R'_ab alone agree with the trainer's evaluation on the same pairs
    assert rows["warped_reference"]["all"] == pytest.approx(evaluate_colornet(None, 4, grayvgg=grayvgg), rel=1e-5)
    assert rows["full"]["all"] == pytest.approx(evaluate_colornet(load_colornet(), 4, grayvgg=grayvgg), rel=1e-5)


def test_trust_rows_is_deterministic_and_checks_arguments(result, grayvgg):
    assert trust.trust_rows(n=4, batch_size=2, grayvgg=grayvgg) == result
    with pytest.raises(ValueError, match="last batch of one pair"):
        trust.trust_rows(n=5, batch_size=2, grayvgg=grayvgg)
    with pytest.raises(ValueError, match="n must be"):
        trust.trust_rows(n=1)

