"""PatchMatch's single steps, the round-trip distance, the paper's bidirectional map and the search studies."""
import pytest
import torch
import torch.nn.functional as F

from reprolib.colorization import matching
from reprolib.colorization.grayvgg_weights import grayvgg_small
from reprolib.colorization.matching import patch_match
from reprolib.core.seeds import heldout_seed
from reprolib.studies import agreement
from reprolib.world import scenes


def features(seed, shape=(1, 6, 7, 8)):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) + 0.05


def random_field(seed, batch, h, w, h_R, w_R):
    g = torch.Generator().manual_seed(seed)
    return torch.stack((torch.randint(0, h_R, (batch, h, w), generator=g),
                        torch.randint(0, w_R, (batch, h, w), generator=g)), 1)


def test_patch_similarity_is_the_mean_cosine_over_the_patch():
    ft, fr = features(0), features(1, (1, 6, 5, 9))
    phi = random_field(2, 1, 7, 8, 5, 9)
    a, b = F.normalize(ft[0], dim=0), F.normalize(fr[0], dim=0)
    ys, xs = torch.meshgrid(torch.arange(7), torch.arange(8), indexing="ij")
    total = torch.zeros(7, 8)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            u = a[:, (ys + dy).clamp(0, 6), (xs + dx).clamp(0, 7)]
            v = b[:, (phi[0, 0] + dy).clamp(0, 4), (phi[0, 1] + dx).clamp(0, 8)]
            total += (u * v).sum(0)
    torch.testing.assert_close(patch_match.patch_similarity(ft, fr, phi)[0], total / 9)


def test_one_iteration_of_patchmatch_is_a_propagation_then_a_random_search_step():
    ft, fr = features(3, (2, 6, 8, 8)), features(4, (2, 6, 8, 8))
    phi0 = random_field(5, 2, 8, 8, 8, 8)
    want, want_sim = patch_match.patchmatch(ft, fr, iters=1, init=phi0, jumps=[1], radius=4, seed=7)
    mid, mid_sim = patch_match.propagation_step(ft, fr, phi0)
    got, got_sim = patch_match.random_search_step(ft, fr, mid, 4, seed=7)
    assert torch.equal(got, want)
    torch.testing.assert_close(got_sim, want_sim)
    before = patch_match.patch_similarity(ft, fr, phi0)
    assert (mid_sim >= before).all() and (got_sim >= mid_sim).all()
    assert torch.equal(phi0, random_field(5, 2, 8, 8, 8, 8)), "the input field must not change"
    with pytest.raises(ValueError):
        patch_match.random_search_step(ft, fr, mid, 0)


def test_round_trip_distance_and_paper_bidirectional_maps():
    ident = matching.identity_field(6, 5, 2)
    assert agreement.round_trip_distance(ident, ident).abs().max() == 0
    shifted = ident.clone()
    shifted[:, 1] = (shifted[:, 1] + 3).clamp(max=4)  # T -> R moves right, R -> T is the identity
    d = agreement.round_trip_distance(shifted, ident)
    torch.testing.assert_close(d, (shifted[:, 1] - ident[:, 1]).float())
    feats = {"a": features(8, (2, 4, 3, 5)), "b": features(9, (2, 3, 6, 5))}
    same = agreement.paper_bidirectional_maps(feats, ident, ident)
    assert same.shape == (2, 2, 6, 5)
    torch.testing.assert_close(same, torch.ones_like(same))


@pytest.fixture(scope="module")
def net():
    return grayvgg_small()


def test_single_layer_attention_finds_the_exact_field(net):
    t, r = scenes.sample_pairs(heldout_seed(1), 2, 32)
    phi_exact, ab_exact = agreement.single_layer_match(net, t.L, r.L, r.ab, "exact")
    phi_att, ab_att = agreement.single_layer_match(net, t.L, r.L, r.ab, "attention")
    assert torch.equal(phi_exact, phi_att)
    torch.testing.assert_close(ab_exact, matching.warp(r.ab, phi_exact))
    assert ab_att.shape == ab_exact.shape
    phi_pm, _ = agreement.single_layer_match(net, t.L, r.L, r.ab, "patchmatch")
    assert phi_pm.shape == phi_exact.shape
    with pytest.raises(ValueError):
        agreement.single_layer_match(net, t.L, r.L, r.ab, "nope")


def test_search_and_round_trip_studies(net):
    s = agreement.search_study(net, n_pairs=2, size=32)
    assert s["same_layer"]["exact"] == s["own_route"]["exact"]  # the exact route is relu3_1 alone
    assert s["same_layer"]["attention"]["label_agreement"] == s["same_layer"]["exact"]["label_agreement"]
    rt = agreement.round_trip_study(net, n_pairs=2, size=32, methods=("exact",))["exact"]
    for key in ("distance_auc_wrong", "forward_auc", "code_bidirectional_auc", "paper_bidirectional_auc"):
        assert 0 <= rt[key] <= 1
    assert rt["mean_distance_correct"] >= 0 and 0 <= rt["exact_return_wrong"] <= 1
