"""The Chooser (reprolib.colorization.chooser): a net that chooses among the warps of three matchers, its
checkpoints, its matchers' bfloat16 search, and its place in colorize()."""
import pytest
import torch

from reprolib.colorization import chooser
from reprolib.colorization import colorize as col
from reprolib.colorization import pipelines as pipes
from reprolib.colorization.matching import exact_nn
from reprolib.colorization.smoothing import RADIUS, guided_layer


def test_fast_exact_nn_finds_the_same_clear_matches_as_float32():
    """bfloat16 cosines keep every argmax that is not a near-tie: R is T's positions shuffled, plus noise."""
    g = torch.Generator().manual_seed(0)
    T = torch.randn(1, 64, 12, 16, generator=g)
    order = torch.randperm(12 * 16, generator=g)
    R = (T.flatten(2)[..., order] + 0.05 * torch.randn(1, 64, 12 * 16, generator=g)).view(1, 64, 12, 16)
    exact, sim = exact_nn(T, R)
    fast, sim_fast = exact_nn(T, R, fast=True)
    assert torch.equal(fast, exact) and sim_fast.dtype == torch.float32
    assert not torch.equal(sim_fast, sim)  # the cosines were computed in bfloat16, not float32
    assert (sim_fast - sim).abs().max() < 0.02
    where = (exact[0, 0] * 16 + exact[0, 1]).flatten()
    assert torch.equal(order[where], torch.arange(12 * 16))  # each position found its own shuffled copy


def test_an_untrained_chooser_returns_the_common_warp_filtered():
    """At initialisation the residual is zero and the weights sum to one: K equal warps give GF(warp)."""
    torch.manual_seed(0)
    net = chooser.Chooser().eval()
    T_L = torch.rand(1, 1, 40, 56) * 100
    warp = torch.randn(1, 2, 40, 56) * 30
    with torch.no_grad():
        out = net(T_L, [warp] * 3, torch.rand(1, 30, 40, 56))
    assert torch.allclose(out, guided_layer(warp, T_L, RADIUS), atol=1e-4)
    with pytest.raises(ValueError, match="3 warps and 30 similarity maps"):
        net(T_L, [warp] * 2, torch.rand(1, 30, 40, 56))


def test_a_checkpoint_round_trips_and_other_fields_are_refused(tmp_path):
    torch.manual_seed(1)
    net = chooser.Chooser().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    ckpt = chooser.checkpoint_dict(net, features="grayvgg_small_photo")
    torch.save(ckpt, tmp_path / "c.pt")
    back = chooser.load_chooser(tmp_path / "c.pt")
    x = (torch.rand(1, 1, 24, 24) * 100, [torch.randn(1, 2, 24, 24) * 20 for _ in range(3)], torch.rand(1, 30, 24, 24))
    with torch.no_grad():
        assert torch.equal(net(*x), back(*x))
    assert back.features == "grayvgg_small_photo"
    ckpt["config"]["fields"] = [["relu3_1"]]
    torch.save(ckpt, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="reads the warps of"):
        chooser.load_chooser(tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError, match="train chooser"):
        chooser.load_chooser(tmp_path / "missing.pt")


def test_every_photo_extractor_has_a_shipped_chooser():
    for extractor in ("grayvgg_small_photo", "vgg16_imagenet_caffe"):
        entry = next(e for e in chooser.ChooserWeights if e.features == extractor)
        assert entry.status() == "shipped" and entry.path.stat().st_size < 10 * 2**20
    assert chooser.chooser_for("grayvgg_small_synthetic") is None


def test_colorize_runs_the_chooser_by_default_where_one_is_shipped(photo_pair):
    t, r = photo_pair
    out = col.colorize(t, r, size=48)
    assert out.colornet == "chooser_small" and out.smoothing == "none" and out.sims.shape[0] == 10
    plain = col.colorize(t, r, size=48, chooser=False)
    assert plain.colornet == "none" and plain.smoothing == "median_guided" and not torch.equal(out.P_ab, plain.P_ab)
    assert torch.equal(out.R_ab_warped, plain.R_ab_warped)  # the first matcher is the photo route
    assert col.colorize(t, r, size=48, features="small").colornet == "none"  # no Chooser for the synthetic gray-VGG
    assert col.colorize(t, r, size=48, method="patchmatch").colornet == "none"


def test_the_default_working_size_follows_the_pipeline(photo_pair):
    """192 for the Chooser (its training views' side), 256 for one matcher; a given size is kept either way."""
    t, r = photo_pair
    assert col.colorize(t, r).T_L.shape[-2] == pipes.ChooserPipeline.working_size == 192
    assert col.colorize(t, r, chooser=False).T_L.shape[-2] == pipes.Pipeline.working_size == 256
    out = col.colorize(t, r, size=64)
    assert out.T_L.shape[-2] == 64 and out.colornet == "chooser_small"


def test_the_chooser_is_refused_where_it_cannot_run_and_auto_says_why(photo_pair):
    t, r = photo_pair
    with pytest.raises(ValueError, match="no shipped Chooser reads the warps of gray-VGG 'grayvgg_small_synthetic'"):
        col.colorize(t, r, size=48, features="small", chooser=True)
    with pytest.raises(ValueError, match="two pipelines"):
        col.colorize(t, r, size=48, chooser=True, colornet=True)
    with pytest.raises(ValueError, match="needs the exact route"):
        col.colorize(t, r, size=48, chooser=True, method="patchmatch")
    model = col.load_extractor("photo")
    assert pipes.chooser_fits("auto", model, (48, 64), (48, 64)) == ""
    assert "three matchers" in pipes.chooser_fits("auto", model, (1024, 1365), (1024, 1365))
