"""Tests of reprolib.matching: exact NN fields, warps, similarity maps, soft attention."""
from __future__ import annotations

import time

import pytest
import torch
import torch.nn.functional as F

from reprolib.colorization import grayvgg_weights, matching
from reprolib.colorization.colornet import colornet_input
from reprolib.colorization.matching import patch_match
from reprolib.core.seeds import heldout_seed
from reprolib.world import scenes


def _rand(*shape, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g, dtype=dtype)


def _brute_force(F_T, F_R):
    ft = F.normalize(F_T.flatten(2), dim=1)
    fr = F.normalize(F_R.flatten(2), dim=1)
    s = torch.bmm(ft.transpose(1, 2), fr)  # the full (hw x h'w') matrix
    best, idx = s.max(dim=2)
    return idx, best


# ------------------------------------------------------------------------------------------- exact_nn
def test_exact_nn_equals_brute_force_and_chunking_changes_nothing():
    F_T, F_R = _rand(2, 16, 7, 9, seed=1), _rand(2, 16, 5, 6, seed=2)
    idx, best = _brute_force(F_T, F_R)
    for chunk in (1, 5, 4096):
        phi, sim = matching.exact_nn(F_T, F_R, chunk=chunk)
        assert phi.shape == (2, 2, 7, 9) and phi.dtype == torch.long
        assert torch.equal(phi[:, 0] * 6 + phi[:, 1], idx.view(2, 7, 9))
        torch.testing.assert_close(sim, best.view(2, 7, 9))
    # unbatched input gets a batch of one
    phi1, _ = matching.exact_nn(F_T[1], F_R[1])
    assert torch.equal(phi1[0], matching.exact_nn(F_T, F_R)[0][1])


def test_exact_nn_of_an_image_with_itself_is_the_identity():
    F_T = _rand(1, 8, 6, 11, seed=3, dtype=torch.float32)
    phi, sim = matching.exact_nn(F_T, F_T, chunk=7)
    assert torch.equal(phi, matching.identity_field(6, 11))
    torch.testing.assert_close(sim, torch.ones(1, 6, 11))


def test_exact_nn_at_128x128_positions_runs_chunked():
    f = F.normalize(_rand(1, 8, 128, 128, seed=4, dtype=torch.float32), dim=1)
    start = time.perf_counter()
    # 16384 x 16384 similarities (1 GiB) are never held at once: 1024-row blocks of 64 MiB
    phi, sim = matching.exact_nn(f, f, chunk=1024)
    assert time.perf_counter() - start < 20
    assert torch.equal(phi, matching.identity_field(128, 128))
    assert sim.min() > 0.9999


def test_bidirectional_returns_both_directions():
    F_T, F_R = _rand(1, 16, 4, 5, seed=5), _rand(1, 16, 6, 3, seed=6)
    c = matching.bidirectional(F_T, F_R, chunk=3)
    assert c.phi_TR.shape == (1, 2, 4, 5) and c.phi_RT.shape == (1, 2, 6, 3)
    assert torch.equal(c.phi_RT, matching.exact_nn(F_R, F_T)[0])
    assert c.phi_TR[:, 0].max() < 6 and c.phi_TR[:, 1].max() < 3


# ------------------------------------------------------------------------------------------- warps
def test_warp_identity_and_shift():
    values = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8)
    ident = matching.identity_field(8, 8, batch=2)
    assert torch.equal(matching.warp(values, ident), values)
    shifted = ident.clone()
    shifted[:, 1] = (shifted[:, 1] + 2).clamp(max=7)  # every pixel looks 2 columns to the right
    out = matching.warp(values, shifted)
    assert torch.equal(out[..., :6], values[..., 2:])
    assert torch.equal(out[..., 6:], values[..., 7:8].expand(-1, -1, -1, 2))


def test_upsample_field_keeps_offsets_inside_cells():
    ident = matching.identity_field(4, 5, batch=1)
    assert torch.equal(matching.upsample_field(ident, 4, (16, 20), (16, 20)), matching.identity_field(16, 20))
    down = ident.clone()
    down[:, 0] = (down[:, 0] + 1).clamp(max=3)  # one cell lower
    up = matching.upsample_field(down, 4, (16, 20), (16, 20))
    assert torch.equal(up[:, 0, :12], matching.identity_field(16, 20)[:, 0, 4:])
    assert up[:, 0].max() == 15 and up[:, 1].max() == 19
    # non-multiple sizes: extra pixels use the last cell and stay inside the target image
    odd = matching.upsample_field(ident, 4, (18, 21), (17, 20))
    assert odd.shape == (1, 2, 18, 21) and odd[:, 0].max() == 16 and odd[:, 1].max() == 19


# ------------------------------------------------------------------------------------------- similarity maps
def test_bidirectional_similarity_is_one_where_the_round_trip_returns():
    f = F.normalize(_rand(1, 32, 8, 8, seed=7, dtype=torch.float32), dim=1)
    feats = {"a": f, "b": F.avg_pool2d(f, 2)}
    ident = matching.identity_field(8, 8)
    phi_RT = ident.clone()
    phi_RT[:, 0, :4] = 7 - phi_RT[:, 0, :4]  # R's top half maps back to the wrong rows of T
    sims = matching.similarity_maps(feats, feats, ident, phi_RT)
    assert sims.shape == (1, 4, 8, 8)
    torch.testing.assert_close(sims[:, :2], torch.ones(1, 2, 8, 8))  # forward: every match is exact
    torch.testing.assert_close(sims[:, 2, 4:], torch.ones(4, 8)[None])  # round trip returns
    assert sims[:, 2, :4].abs().mean() < 0.4  # it does not: unrelated random features


def test_similarity_maps_sample_features_bilinearly_per_pixel():
    f = _rand(1, 4, 2, 2, seed=8, dtype=torch.float32).abs()
    g = torch.rand(1, 4, 2, 2, generator=torch.Generator().manual_seed(9))
    ident = matching.identity_field(8, 8)
    sims = matching.similarity_maps({"x": f}, {"x": g}, ident, ident)
    up = lambda t: F.interpolate(t, size=(8, 8), mode="bilinear", align_corners=False)  # noqa: E731
    torch.testing.assert_close(sims[:, 0], F.cosine_similarity(up(f), up(g), dim=1))
    assert sims[:, 0].unique().numel() > 4  # varies inside cells: not nearest-upsampled cell maps


def _reference_sims(ft, fr, phi_TR, phi_RT, size_T, size_R):
    """Definition of the maps with grid_sample, for checking the fast routes."""
    rt = matching.warp(phi_RT, phi_TR)
    a = F.interpolate(ft, size=size_T, mode="bilinear", align_corners=False)
    b = matching.sample_features(fr, phi_TR, size_R)
    c = matching.sample_features(ft, rt, size_T)
    return F.cosine_similarity(a, b, dim=1, eps=1e-8), F.cosine_similarity(b, c, dim=1, eps=1e-8)


@pytest.mark.parametrize("gram_limit", [0, 2**30])  # channels-last gathers / Gram matrices
def test_similarity_maps_fast_routes_equal_grid_sample(gram_limit):
    g = torch.Generator().manual_seed(3)
    size_T, size_R = (20, 12), (16, 24)
    feats_T = {"l1": torch.rand(2, 5, 10, 6, generator=g), "l2": torch.rand(2, 7, 5, 3, generator=g)}
    feats_R = {"l1": torch.rand(2, 5, 8, 12, generator=g), "l2": torch.rand(2, 7, 4, 6, generator=g)}
    phi_TR = torch.stack((torch.randint(0, 16, (2, 20, 12), generator=g),
                          torch.randint(0, 24, (2, 20, 12), generator=g)), 1)
    phi_RT = torch.stack((torch.randint(0, 20, (2, 16, 24), generator=g),
                          torch.randint(0, 12, (2, 16, 24), generator=g)), 1)
    sims = matching.similarity_maps(feats_T, feats_R, phi_TR, phi_RT, gram_limit=gram_limit)
    for i, layer in enumerate(feats_T):
        fwd, bid = _reference_sims(feats_T[layer], feats_R[layer], phi_TR, phi_RT, size_T, size_R)
        torch.testing.assert_close(sims[:, i], fwd, atol=2e-6, rtol=0)
        torch.testing.assert_close(sims[:, 2 + i], bid, atol=2e-6, rtol=0)


def test_similarity_maps_on_a_sub_grid_are_exact_at_the_block_centres():
    g = torch.Generator().manual_seed(4)
    size_T, size_R = (21, 15), (16, 24)
    feats_T = {"l1": torch.rand(1, 5, 10, 7, generator=g), "l2": torch.rand(1, 7, 5, 3, generator=g)}
    feats_R = {"l1": torch.rand(1, 5, 8, 12, generator=g), "l2": torch.rand(1, 7, 4, 6, generator=g)}
    phi_TR = torch.stack([torch.randint(0, n, (1, *size_T), generator=g) for n in size_R], 1)
    phi_RT = torch.stack([torch.randint(0, n, (1, *size_R), generator=g) for n in size_T], 1)
    full = matching.similarity_maps(feats_T, feats_R, phi_TR, phi_RT)
    assert matching.map_stride(size_T, 35) == 3  # 7 x 5 blocks of 3 x 3 pixels
    sub = matching.similarity_maps(feats_T, feats_R, phi_TR, phi_RT, max_pixels=35)
    assert sub.shape == full.shape
    torch.testing.assert_close(sub[..., 1::3, 1::3], full[..., 1::3, 1::3], atol=2e-6, rtol=0)
    assert (sub - full).abs().max() > 1e-3  # between the centres the sub-grid route interpolates
    with pytest.raises(ValueError, match="max_pixels"):
        matching.similarity_maps(feats_T, feats_R, phi_TR, phi_RT, max_pixels=0)


def test_colornet_input_order_and_normalisation():
    T_L = torch.full((1, 1, 4, 4), 70.0)
    ab = torch.stack((torch.full((4, 4), 20.0), torch.full((4, 4), -30.0)))[None]
    sims = torch.ones(1, 10, 4, 4)
    sims[:, 5:] = 0.0
    x = colornet_input(T_L, ab, sims)
    assert x.shape == (1, 13, 4, 4)
    torch.testing.assert_close(x[:, :5], torch.full((1, 5, 4, 4), 64.0))
    torch.testing.assert_close(x[:, 5:10], torch.full((1, 5, 4, 4), -63.5))
    torch.testing.assert_close(x[:, 10], torch.full((1, 4, 4), 20.0))
    torch.testing.assert_close(x[:, 11:], ab)
    u = colornet_input(T_L, ab, sims, normalization="unit")
    torch.testing.assert_close(u[:, [0, 5, 10, 11]].flatten(2).mean(2), torch.tensor([[1.0, -1.0, 0.4, 20 / 110]]))


# ------------------------------------------------------------------------------------------- attention
def test_attention_with_small_tau_approaches_exact_nn_warp():
    F_T, F_R = _rand(2, 16, 5, 6, seed=10), _rand(2, 16, 4, 7, seed=11)
    values = _rand(2, 3, 4, 7, seed=12)
    phi, sim = matching.exact_nn(F_T, F_R)
    hard = matching.warp(values, phi)
    soft, conf = matching.attention_warp(F_T, F_R, values, tau=1e-4, chunk=7)
    torch.testing.assert_close(soft, hard, atol=1e-4, rtol=0)
    torch.testing.assert_close(conf, sim)
    blurred, _ = matching.attention_warp(F_T, F_R, values, tau=1.0)
    assert (blurred - hard).abs().mean() > 0.1  # a large tau averages: the check above can fail


def test_attention_is_differentiable():
    F_T = _rand(1, 8, 3, 3, seed=13).requires_grad_()
    out, _ = matching.attention_warp(F_T, _rand(1, 8, 3, 3, seed=14), _rand(1, 2, 3, 3, seed=15), tau=0.1, chunk=4)
    out.sum().backward()
    assert F_T.grad is not None and F_T.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------- synthetic scenes
@pytest.fixture(scope="module")
def scene_match():
    model = grayvgg_weights.grayvgg_small()
    target, reference = scenes.sample_pairs(heldout_seed(3), 12, 64)
    out = matching.match(model, target.L, reference.L, reference.ab)
    C = len(scenes.CLASSES)
    pt, pr = (F.one_hot(s.labels.flatten(1), C).float().mean(1) for s in (target, reference))
    chance = (pt * pr).sum(1).mean().item()
    return model, target, reference, out, chance


def test_match_shapes_on_scenes(scene_match):
    _, target, reference, out, _ = scene_match
    assert out.phi_TR.shape == (12, 2, 64, 64) and out.phi_RT.shape == (12, 2, 64, 64)
    assert (out.sims.shape == (12, 10, 64, 64)
            and colornet_input(target.L, out.R_ab_warped, out.sims).shape == (12, 13, 64, 64))
    assert out.sims.min() >= -1e-5 and out.sims.max() <= 1 + 1e-5
    torch.testing.assert_close(out.R_ab_warped, matching.warp(reference.ab, out.phi_TR))


def test_label_agreement_of_phi_is_well_above_chance(scene_match):
    _, target, reference, out, chance = scene_match
    labels = matching.warp(reference.labels[:, None], out.phi_TR)[:, 0]
    agreement = (labels == target.labels).float().mean().item()
    assert agreement > chance + 0.3, (agreement, chance)  # measured ~0.88 vs ~0.33


def test_attention_label_agreement_is_well_above_chance(scene_match):
    model, target, reference, _, chance = scene_match
    fT, fR = (model(x.L, "relu3_1")["relu3_1"] for x in (target, reference))
    onehot = F.one_hot(reference.labels, len(scenes.CLASSES)).permute(0, 3, 1, 2).float()
    soft, conf = matching.attention_warp(fT, fR, F.avg_pool2d(onehot, 4), tau=0.01)
    found = F.interpolate(soft, size=(64, 64), mode="bilinear", align_corners=False).argmax(1)
    agreement = (found == target.labels).float().mean().item()
    assert agreement > chance + 0.3, (agreement, chance)
    assert conf.shape == (12, 16, 16)


def test_bidirectional_similarity_is_higher_on_correct_matches(scene_match):
    _, target, reference, out, _ = scene_match
    correct = matching.warp(reference.labels[:, None], out.phi_TR)[:, 0] == target.labels
    assert 0 < correct.float().mean() < 1
    for layer in range(5):
        bid = out.sims[:, 5 + layer]
        assert bid[correct].mean() > bid[~correct].mean() + 0.01, layer


# ------------------------------------------------------------------------------------------- PatchMatch
def test_patch_descriptors_give_the_mean_patch_similarity():
    f, g = _rand(1, 6, 5, 5, seed=20), _rand(1, 6, 5, 5, seed=21)
    D_f, D_g = matching.patch_descriptors(f, 3), matching.patch_descriptors(g, 3)
    nf, ng = F.normalize(f, dim=1), F.normalize(g, dim=1)
    # p = (2, 2) in f against q = (1, 3) in g: the mean over the 3 x 3 offsets of <f(p + d), g(q + d)>
    want = sum((nf[0, :, 2 + dy, 2 + dx] * ng[0, :, 1 + dy, 3 + dx]).sum()
               for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    torch.testing.assert_close((D_f[0, :, 2, 2] * D_g[0, :, 1, 3]).sum(), want)


def test_patchmatch_recovers_a_known_shift():
    f = _rand(1, 16, 24, 24, seed=22, dtype=torch.float32)
    T = f[..., 2:22, 3:23]  # T(p) = R(p + (2, 3))
    phi, score = matching.patchmatch(T, f, patch=3, iters=4, seed=1)
    want = matching.identity_field(20, 20) + torch.tensor([2, 3]).view(1, 2, 1, 1)
    assert torch.equal(phi[..., 1:-1, 1:-1], want[..., 1:-1, 1:-1])  # interior: full patches agree
    assert score[..., 1:-1, 1:-1].min() > 0.999
    lazy, _ = matching.patchmatch(T, f, patch=3, iters=0, seed=1)  # the random start is far from it
    assert (lazy == want).all(1).float().mean() < 0.1


def test_patchmatch_nearly_reaches_the_exact_patch_optimum():
    def smooth(seed, h, w):  # spatially coherent features, the case PatchMatch is built for
        g = torch.Generator().manual_seed(seed)
        return F.interpolate(torch.randn(2, 8, 4, 4, generator=g), size=(h, w), mode="bicubic", align_corners=False)

    F_T, F_R = smooth(23, 12, 10), smooth(24, 9, 11)
    D_T, D_R = matching.patch_descriptors(F_T, 3), matching.patch_descriptors(F_R, 3)
    exact, _ = matching.exact_nn(D_T, D_R)
    optimum = (D_T * matching.warp(D_R, exact)).sum(1)
    phi, score = matching.patchmatch(F_T, F_R, patch=3, iters=6)
    torch.testing.assert_close(score, (D_T * matching.warp(D_R, phi)).sum(1))
    assert (score <= optimum + 1e-5).all()
    assert score.mean() > optimum.mean() - 0.03
    assert (phi == exact).all(1).float().mean() > 0.6
    _, early = matching.patchmatch(F_T, F_R, patch=3, iters=1)  # same seed: the first iteration of the above
    assert (score >= early).all() and score.mean() > early.mean()


def test_projected_descriptors_without_compression_give_the_patch_similarity(monkeypatch):
    from reprolib.colorization.matching import patch_match

    f, g = _rand(1, 12, 9, 11, seed=25, dtype=torch.float32), _rand(1, 12, 8, 10, seed=26, dtype=torch.float32)
    monkeypatch.setattr(patch_match, "STAGE1_COEFFS", 10**6)  # keep every channel
    for patch in (3, 5):
        a, b = matching.projected_descriptors(f, g, patch, dims=10**6)  # and every direction
        D_f, D_g = matching.patch_descriptors(f, patch).flatten(2), matching.patch_descriptors(g, patch).flatten(2)
        assert a.shape == (1, 99, 12 * patch**2)
        torch.testing.assert_close(a @ b.mT, D_f.mT @ D_g, atol=1e-5, rtol=0)


def test_patchmatch_on_projected_descriptors_nearly_reaches_the_exact_route():
    """Above MATRIX_LIMIT the scores come from 64-dim projections: the fields they find keep ~all of the exact
    patch similarity that the cosine-matrix route reaches (measured ~0.99 on VGG-16 photo features)."""
    g = torch.Generator().manual_seed(27)
    F_T, F_R = (F.interpolate(torch.randn(1, 96, 6, 6, generator=g), size=(24, 30), mode="bicubic",
                              align_corners=False).relu() for _ in range(2))
    D_T, D_R = matching.patch_descriptors(F_T, 3), matching.patch_descriptors(F_R, 3)
    by_matrix, _ = matching.patchmatch(F_T, F_R, patch=3, iters=5)
    projected, _ = matching.patchmatch(F_T, F_R, patch=3, iters=5, matrix_limit=0)  # 64 of 864 dimensions
    true = [(D_T * matching.warp(D_R, phi)).sum(1).mean().item() for phi in (by_matrix, projected)]
    assert true[1] > 0.98 * true[0], true  # measured 0.986
    assert true[1] > (D_T * matching.warp(D_R, matching.identity_field(24, 30))).sum(1).mean().item() + 0.05


def test_exhaustive_search_keeps_its_blocks_bounded(monkeypatch):
    from reprolib.colorization.matching import fields

    f, g = _rand(1, 6, 10, 12, seed=28, dtype=torch.float32), _rand(1, 6, 9, 11, seed=29, dtype=torch.float32)
    want, best = matching.exact_nn(f, g)
    seen = []
    original = torch.Tensor.max
    monkeypatch.setattr(fields, "BLOCK", 200)  # 99 reference positions: 2 target rows per block
    monkeypatch.setattr(torch.Tensor, "max", lambda self, *a, **k: seen.append(self.shape) or original(self, *a, **k))
    got, best2 = matching.exact_nn(f, g)
    monkeypatch.undo()
    assert torch.equal(got, want)
    torch.testing.assert_close(best, best2)  # other block sizes, other float rounding
    assert max(s[0] * s[1] for s in seen) <= 200
    assert matching.exact_cost(120, 99, 6) == 2 * 120 * 99 * 6
    assert matching.exact_cost(120, 99, 6, mirror=True) == 3 * 120 * 99 * 6


def test_patchmatch_on_scenes_is_well_above_chance(scene_match):
    model, target, reference, _, chance = scene_match
    out = matching.match(model, target.L[:3], reference.L[:3], reference.ab[:3], method="patchmatch", iters=2)
    labels = matching.warp(reference.labels[:3, None], out.phi_TR)[:, 0]
    agreement = (labels == target.labels[:3]).float().mean().item()
    assert agreement > chance + 0.3, (agreement, chance)  # measured ~0.92 on 32 pairs (exact NN ~0.88)
    assert colornet_input(target.L[:3], out.R_ab_warped, out.sims).shape == (3, 13, 64, 64)


def test_coarse_to_fine_initialises_finer_layers(monkeypatch):
    f = _rand(1, 8, 16, 16, seed=25, dtype=torch.float32)
    inits = []
    original = matching.patchmatch

    def recording(*args, **kwargs):
        inits.append(kwargs.get("init"))
        return original(*args, **kwargs)

    monkeypatch.setattr(patch_match, "patchmatch", recording)
    T, R = f[..., 2:14, 4:16], f  # T(p) = R(p + (2, 4)) on the fine grid
    pyr_T = {"coarse": F.avg_pool2d(T, 2), "fine": T}
    pyr_R = {"coarse": F.avg_pool2d(R, 2), "fine": R}
    fields = matching.coarse_to_fine(pyr_T, pyr_R, layers=("coarse", "fine"), iters=2)
    assert fields["coarse"].shape == (1, 2, 6, 6) and fields["fine"].shape == (1, 2, 12, 12)
    want = matching.identity_field(12, 12) + torch.tensor([2, 4]).view(1, 2, 1, 1)
    assert torch.equal(fields["fine"][..., 1:-1, 1:-1], want[..., 1:-1, 1:-1])
    assert inits[0] is None  # the coarsest layer starts at random, the finer from the coarser field x2
    assert torch.equal(inits[1], matching.upsample_field(fields["coarse"], 2, (12, 12), (16, 16)))
    kept, _ = original(T, R, iters=0, init=inits[1])  # no iterations: the init comes back unchanged
    assert torch.equal(kept, inits[1])
    with pytest.raises(ValueError, match="missing"):
        matching.coarse_to_fine(pyr_T, pyr_R, layers=("relu5_1",))


# ------------------------------------------------------------------------------------------- errors
def test_errors():
    f = _rand(1, 4, 3, 3)
    with pytest.raises(ValueError, match="channel counts"):
        matching.exact_nn(f, _rand(1, 5, 3, 3))
    with pytest.raises(ValueError, match="empty"):
        matching.exact_nn(torch.zeros(1, 4, 0, 3), f)
    nan = f.clone()
    nan[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        matching.exact_nn(f, nan)
    with pytest.raises(ValueError, match="batch"):
        matching.exact_nn(f, _rand(2, 4, 3, 3))
    with pytest.raises(ValueError, match="chunk"):
        matching.exact_nn(f, f, chunk=0)
    with pytest.raises(ValueError, match=r"\(B, 2, h, w\)"):
        matching.warp(f, torch.zeros(1, 3, 3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="integer"):
        matching.warp(f, torch.zeros(1, 2, 3, 3))
    with pytest.raises(ValueError, match="outside"):
        matching.warp(f, torch.full((1, 2, 3, 3), 3, dtype=torch.long))
    ident = matching.identity_field(3, 3)
    with pytest.raises(ValueError, match="pyramids differ"):
        matching.similarity_maps({"a": f, "b": f}, {"a": f}, ident, ident)
    with pytest.raises(ValueError, match="pyramids differ"):
        matching.similarity_maps({"a": f}, {"b": f}, ident, ident)
    with pytest.raises(ValueError, match="channels"):
        matching.similarity_maps({"a": f}, {"a": _rand(1, 6, 3, 3)}, ident, ident)
    with pytest.raises(ValueError, match="non-empty dict"):
        matching.similarity_maps({}, {}, ident, ident)
    with pytest.raises(ValueError, match="normalization"):
        colornet_input(torch.zeros(1, 1, 3, 3), torch.zeros(1, 2, 3, 3), torch.zeros(1, 10, 3, 3), "x")
    with pytest.raises(ValueError, match="share batch and image size"):
        colornet_input(torch.zeros(1, 1, 3, 3), torch.zeros(1, 2, 4, 3), torch.zeros(1, 10, 3, 3))
    with pytest.raises(ValueError, match="tau"):
        matching.attention_warp(f, f, f, tau=0)
    with pytest.raises(ValueError, match="patch"):
        matching.patchmatch(f, f, patch=2)
    with pytest.raises(ValueError, match="init"):
        matching.patchmatch(f, f, init=torch.zeros(1, 2, 2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="method"):
        matching.match(None, f, f, f, method="dia")
    with pytest.raises(ValueError, match="values_R"):
        matching.attention_warp(f, f, _rand(1, 2, 4, 4))


# ------------------------------------------------------------------------------------------- fast routes, methods
def test_patchmatch_cosine_matrix_route_equals_descriptor_route():
    f, g = _rand(2, 6, 9, 7, seed=40, dtype=torch.float32), _rand(2, 6, 8, 10, seed=41, dtype=torch.float32)
    by_matrix, s1 = matching.patchmatch(f, g, patch=3, iters=3, seed=2)
    by_rows, s2 = matching.patchmatch(f, g, patch=3, iters=3, seed=2, matrix_limit=0)
    D_f, D_g = matching.patch_descriptors(f, 3), matching.patch_descriptors(g, 3)
    torch.testing.assert_close(s1, (D_f * matching.warp(D_g, by_matrix)).sum(1), atol=1e-5, rtol=0)
    assert (by_matrix == by_rows).all(1).float().mean() > 0.95  # same search; float rounding may flip a tie
    torch.testing.assert_close(s1, s2, atol=1e-4, rtol=0)


def test_bidirectional_coarse_to_fine_equals_two_one_way_runs():
    g = torch.Generator().manual_seed(42)
    pyr_T = {"c": torch.rand(1, 5, 4, 5, generator=g), "f": torch.rand(1, 5, 8, 10, generator=g)}
    pyr_R = {"c": torch.rand(1, 5, 3, 4, generator=g), "f": torch.rand(1, 5, 6, 8, generator=g)}
    fwd, bwd = matching.coarse_to_fine_bidirectional(pyr_T, pyr_R, layers=("c", "f"), iters=2)
    for layer, phi in matching.coarse_to_fine(pyr_T, pyr_R, layers=("c", "f"), iters=2).items():
        assert (phi == fwd[layer]).all(1).float().mean() > 0.95
    assert bwd["f"].shape == (1, 2, 6, 8) and int(bwd["f"][:, 0].max()) < 8


def test_vid_features_give_the_mean_layer_cosine():
    g = torch.Generator().manual_seed(43)
    feats = {k: torch.rand(1, 3 + i, 8, 8, generator=g) for i, k in enumerate(("a", "b"))}
    other = {k: torch.rand_like(v) for k, v in feats.items()}
    v, w = matching.vid_features(feats, (8, 8), ("a", "b")), matching.vid_features(other, (8, 8), ("a", "b"))
    want = sum(F.cosine_similarity(feats[k], other[k], dim=1) for k in ("a", "b")) / 2
    torch.testing.assert_close((v * w).sum(1), want)
    with pytest.raises(ValueError, match="missing"):
        matching.vid_features(feats, (4, 4), ("a", "relu9_9"))


@pytest.mark.parametrize("method", ["patchmatch", "attention"])
def test_match_methods_on_scenes_are_well_above_chance(scene_match, method):
    model, target, reference, _, chance = scene_match
    out = matching.match(model, target.L[:4], reference.L[:4], reference.ab[:4], method=method)
    labels = matching.warp(reference.labels[:4, None], out.phi_TR)[:, 0]
    assert (labels == target.labels[:4]).float().mean().item() > chance + 0.3
    assert out.sims.shape == (4, 10, 64, 64) and out.R_ab_warped.shape == (4, 2, 64, 64)
    if method == "attention":  # soft: R'_ab is a blend, not a copy of reference pixels
        hard = matching.warp(reference.ab[:4], out.phi_TR)
        assert not torch.equal(out.R_ab_warped, hard) and (out.R_ab_warped - hard).abs().mean() < 10
    with pytest.raises(ValueError, match="method"):
        matching.match(model, target.L[:1], reference.L[:1], reference.ab[:1], method="magic")


# ------------------------------------------------------------------------------------------- photo route
def test_hypercolumns_average_the_layer_cosines():
    g = torch.Generator().manual_seed(3)
    feats = {"a": torch.rand(1, 4, 8, 8, generator=g), "b": torch.rand(1, 6, 4, 4, generator=g)}
    h = matching.hypercolumns(feats, ("a", "b"), (8, 8))
    assert h.shape == (1, 10, 8, 8)
    up = F.interpolate(F.normalize(feats["b"], dim=1), size=(8, 8), mode="bilinear", align_corners=False)
    up = F.normalize(up, dim=1)
    p, q = (0, 0), (5, 6)
    want = 0.5 * (F.cosine_similarity(feats["a"][0, :, p[0], p[1]], feats["a"][0, :, q[0], q[1]], dim=0)
                  + (up[0, :, p[0], p[1]] * up[0, :, q[0], q[1]]).sum())
    torch.testing.assert_close((h[0, :, p[0], p[1]] * h[0, :, q[0], q[1]]).sum(), want)


def test_mirrored_candidates_find_a_mirrored_reference():
    """VGG features are not mirror-invariant: model a mirrored view as the flipped image with its channels
    permuted (oriented filters swap). The features of flip(R), flipped back, are then R's with that permutation."""
    R = _rand(1, 16, 6, 10, seed=31, dtype=torch.float32)
    perm = torch.randperm(16, generator=torch.Generator().manual_seed(2))
    T = R.flip(-1)[:, perm]  # the target shows R's content mirrored
    M = R[:, perm]  # features of flip(R), flipped back onto R's grid
    phi, sim = matching.exact_nn_mirrored(T, R, M)
    want = matching.identity_field(6, 10)
    want[:, 1] = 9 - want[:, 1]
    assert torch.equal(phi, want) and torch.allclose(sim, torch.ones_like(sim))
    _, plain = matching.exact_nn(T, R)
    assert plain.max() < 0.999  # without the mirrored candidates no exact match exists
    with pytest.raises(ValueError, match="F_R_mirrored"):
        matching.exact_nn_mirrored(T, R, M[..., :5])


def test_photo_field_and_mirror_in_match(scene_match):
    model, target, reference, out, _ = scene_match
    photo = matching.match(model, target.L[:2], reference.L[:2], reference.ab[:2], field_layer=matching.PHOTO_FIELD,
                           mirror=True)
    assert photo.phi_TR.shape == (2, 2, 64, 64) and photo.sims.shape == (2, 10, 64, 64)
    assert photo.phi_TR[:, 1].max() < 64 and photo.phi_TR.min() >= 0
    with pytest.raises(ValueError, match="mirror=True needs method='exact'"):
        matching.match(model, target.L[:1], reference.L[:1], reference.ab[:1], method="patchmatch", mirror=True)
