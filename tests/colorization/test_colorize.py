"""colorize(): the whole pipeline on a photo (reprolib.colorization.colorize)."""
import pytest
import torch

from reprolib.colorization import colorize as col
from reprolib.colorization import pipelines as pipes
from reprolib.colorization.colornet import ColorNet, colornet_for, load_colornet
from reprolib.core.color import rgb_to_lab


def test_colorize_keeps_the_targets_size_and_luminance(photo_pair):
    t, r = photo_pair
    out = col.colorize(t, r, size=48)
    assert out.rgb.shape == t.shape
    L_in, L_out = rgb_to_lab(t)[0], rgb_to_lab(out.rgb)[0]
    assert (L_in - L_out).abs().max() < 0.05  # out-of-gamut colours lose chroma, not lightness
    assert out.sims.shape[0] == 10 and out.R_ab_warped.shape[0] == 2 and out.P_ab.shape == out.R_ab_warped.shape
    assert rgb_to_lab(out.rgb)[1:].abs().mean() > 2  # it is coloured, not gray
    again = col.colorize(t, r, size=48)
    assert torch.equal(out.rgb, again.rgb)  # deterministic


def test_the_default_is_the_photo_pipeline(photo_pair):
    """The distilled gray-VGG and the Chooser (the measured best on photos); without it, the photo route and
    the smoothing; colornet=True runs the photo ColorNet trained on that gray-VGG's maps instead. Each part
    changes P_ab."""
    t, r = photo_pair
    assert col.DEFAULT_FEATURES == "grayvgg_small_photo"
    assert colornet_for("grayvgg_small_photo").name == "colornet_photo_small"
    out = col.colorize(t, r, size=48)
    assert "distilled from vgg16_imagenet_caffe" in out.features and out.colornet == "chooser_small"
    smoothed = col.colorize(t, r, size=48, chooser=False)
    raw = col.colorize(t, r, size=48, smoothing="none", chooser=False)
    assert torch.equal(raw.P_ab, raw.R_ab_warped) and not torch.equal(smoothed.P_ab, raw.P_ab)
    assert not torch.equal(out.P_ab, smoothed.P_ab) and smoothed.colornet == "none"
    net = col.colorize(t, r, size=48, smoothing="none", colornet=True)
    assert net.colornet == "colornet_photo_small" and not torch.equal(net.P_ab, raw.P_ab)
    synthetic = col.colorize(t, r, size=48, features="small", smoothing="none")
    assert not torch.equal(raw.P_ab, synthetic.P_ab)
    with pytest.raises(ValueError, match="smoothing must be one of"):
        col.colorize(t, r, smoothing="blur")
    with pytest.raises(ValueError, match="method 'attention' compares .* no relu5_2"):  # the student stops at conv5_1
        col.colorize(t, r, size=48, method="attention")
    assert col.colorize(t, r, size=48, method="patchmatch").rgb.shape == t.shape


def test_colorize_rejects_bad_input(photo_pair):
    t, r = photo_pair
    with pytest.raises(ValueError, match="RGB image"):
        col.colorize(t[:1], r)
    with pytest.raises(ValueError, match="NaN"):
        col.colorize(t * float("nan"), r)
    with pytest.raises(ValueError, match="too small"):
        col.colorize(t[:, :8, :8], r)
    with pytest.raises(ValueError, match="method"):
        col.colorize(t, r, method="magic")
    with pytest.raises(ValueError, match="no such weights file"):
        col.colorize(t, r, features="/nonexistent/vgg.pth")


def test_colorize_refuses_a_colornet_trained_on_other_maps(photo_pair, vgg16_random):
    """The shipped ColorNets learned the small net's maps: VGG features need their own net, or an explicit flag."""
    t, r = photo_pair
    with pytest.raises(ValueError, match="no shipped ColorNet was trained on the maps of gray-VGG 'random:0'"):
        col.colorize(t, r, features=vgg16_random, size=48, colornet=True)
    with pytest.raises(ValueError, match="was trained on the similarity maps of gray-VGG 'grayvgg_small_synthetic'"):
        col.colorize(t, r, features=vgg16_random, net=load_colornet(), size=48)
    with pytest.warns(UserWarning, match="running it anyway"):
        out = col.colorize(t, r, features=vgg16_random, size=48, allow_mismatch=True, colornet=True)
    assert out.rgb.shape == t.shape


@pytest.fixture(scope="module")
def vgg16_random():
    from reprolib.colorization.grayvgg import ARCHS, GrayVGG
    from reprolib.colorization.grayvgg_weights import random_like

    return random_like(GrayVGG(ARCHS["vgg16"], (8, 8, 16, 16, 16), convention="caffe_rgb"), seed=0)


def test_auto_takes_patchmatch_where_exact_search_would_take_minutes(photo_pair):
    """colorize's default method: exact search up to EXACT_BUDGET multiply-adds, PatchMatch above (saying so);
    an explicit exact above it is refused in one line, before any matching."""
    t, r = photo_pair
    model = col.load_extractor("photo")
    small, large = (48, 64), (768, 1024)
    assert pipes.choose_method("auto", model, small, small) == ("exact", "")
    method, note = pipes.choose_method("auto", model, large, large)
    assert method == "patchmatch" and "exact search at 768 x 1024 would take" in note and "PatchMatch ran" in note
    with pytest.raises(ValueError, match="use --method patchmatch .* or a smaller --size"):
        pipes.choose_method("exact", model, large, large)
    assert pipes.choose_method("attention", model, large, large) == ("attention", "")
    typical = (256, 341)  # a 4:3 photo at the default working size
    cost = pipes.exact_route_cost
    assert cost(model, large, large) > pipes.EXACT_BUDGET > cost(model, typical, typical)
    out = col.colorize(t, r, size=48)
    assert out.method == "exact" and out.note == ""
    assert pipes.methods_for(model) == ("auto", "exact", "patchmatch")  # the student stops at conv5_1
    assert pipes.methods_for(col.load_extractor("small")) == pipes.COLORIZE_METHODS


def test_colorize_names_a_missing_gpu(photo_pair, monkeypatch):
    t, r = photo_pair
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="device 'cuda': torch sees no CUDA GPU here"):
        col.colorize(t, r, size=48, device="cuda")
    assert col.colorize(t, r, size=48, device="auto").rgb.device.type == "cpu"


def test_the_similarity_maps_are_skipped_only_where_nothing_reads_them(photo_pair):
    t, r = photo_pair
    full, lean = col.colorize(t, r, size=48, chooser=False), col.colorize(t, r, size=48, maps=False, chooser=False)
    assert full.sims.shape[0] == 10 and lean.sims.shape[0] == 0
    assert torch.equal(full.rgb, lean.rgb)  # R'_ab smoothed does not read them
    chosen = col.colorize(t, r, size=48, maps=False)  # the Chooser reads them: they are made
    assert chosen.sims.shape[0] == 10 and torch.equal(chosen.rgb, col.colorize(t, r, size=48).rgb)
    assert set(full.pictures()) == {"target", "reference", "warped", "similarity", "result"}
    with pytest.raises(ValueError, match="without its similarity maps"):
        lean.pictures()
    net = col.colorize(t, r, size=48, colornet=True, maps=False)  # the ColorNet does: they are made
    assert net.sims.shape[0] == 10 and torch.equal(net.rgb, col.colorize(t, r, size=48, colornet=True).rgb)


def test_a_colornet_with_its_own_guided_filter_is_not_smoothed_again(photo_pair):
    """After a net with a guided filter layer the default post-hoc smoothing is none; an explicit one still runs."""
    t, r = photo_pair
    torch.manual_seed(0)
    guided = ColorNet(residual=True, guided=2).eval()
    assert pipes.smoothing_for(guided) == "none" and pipes.smoothing_for(None) == col.DEFAULT_FILTER
    assert pipes.smoothing_for(ColorNet(residual=True)) == col.DEFAULT_FILTER
    out = col.colorize(t, r, size=48, net=guided)
    assert out.smoothing == "none" and col.colorize(t, r, size=48, chooser=False).smoothing == col.DEFAULT_FILTER
    forced = col.colorize(t, r, size=48, net=guided, smoothing="median_guided")
    assert forced.smoothing == "median_guided" and not torch.equal(forced.P_ab, out.P_ab)
