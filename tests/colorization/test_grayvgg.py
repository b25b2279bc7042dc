"""Gray-VGG features (reprolib.colorization.grayvgg) and where they come from (reprolib.colorization.grayvgg_weights).

Nothing here downloads. Tests with real ImageNet weights use ../shared/weights and skip without it.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from reprolib.colorization import grayvgg_weights as fe
from reprolib.colorization.grayvgg import ARCHS, DEC_LAYERS, VID_LAYERS, GrayVGG
from reprolib.core import color, weights
from reprolib.studies import agreement as metrics
from reprolib.training import grayvgg as train
from reprolib.world import scenes

REAL_VGG16 = "weights/vgg16_imagenet_features.pth"
SMALL = fe.GrayVGGWeights.GRAYVGG_SMALL_SYNTHETIC


def luminance(b=2, h=32, w=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    return 100 * torch.rand(b, 1, h, w, generator=g)


def seeded(module_factory, seed=0):
    torch.manual_seed(seed)
    return module_factory().eval()


@pytest.fixture(scope="module")
def vgg16_random():
    return seeded(lambda: GrayVGG(ARCHS["vgg16"], convention="caffe_rgb"))


@pytest.fixture
def real_vgg16_path(shared):
    path = shared / REAL_VGG16
    if not path.is_file():
        pytest.skip(f"{path} is not present")
    return path


@pytest.fixture(scope="module")
def shipped():
    if not SMALL.path.is_file():
        pytest.fail(f"shipped checkpoint {SMALL.path} is missing")
    return fe.grayvgg_small()


def one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text, text
    return text


# -- architecture --------------------------------------------------------------------------------
@pytest.mark.parametrize("arch,last", [("vgg16", "relu5_3"), ("vgg19", "relu5_4")])
def test_layer_names_and_shapes_of_imagenet_vggs(arch, last):
    model = seeded(lambda: GrayVGG(ARCHS[arch], convention="torchvision"))
    names = model.layer_names
    assert names[0] == "relu1_1" and names[-1] == last and len(names) == sum(ARCHS[arch])
    out = model(luminance(h=32, w=48), layers=("relu1_1", "relu2_2", "relu3_1", "relu4_1", "relu5_1", last))
    assert list(out) == ["relu1_1", "relu2_2", "relu3_1", "relu4_1", "relu5_1", last]
    assert out["relu1_1"].shape == (2, 64, 32, 48)
    assert out["relu2_2"].shape == (2, 128, 16, 24)
    assert out["relu3_1"].shape == (2, 256, 8, 12)
    assert out["relu4_1"].shape == (2, 512, 4, 6)
    assert out[last].shape == (2, 512, 2, 3)
    assert all((v >= 0).all() for v in out.values())


def test_layer_names_and_shapes_of_small_net():
    model = fe.small_grayvgg()
    assert model.layer_names == GrayVGG(ARCHS["vgg16"]).layer_names  # VGG-16's names, fewer channels
    out = model(luminance(h=64, w=64), layers=DEC_LAYERS + VID_LAYERS)
    widths = dict(zip(range(1, 6), fe.SMALL_WIDTHS))
    for name, value in out.items():
        block = int(name[4])
        assert value.shape == (2, widths[block], 64 // 2 ** (block - 1), 64 // 2 ** (block - 1)), name
        assert model.stride(name) == 2 ** (block - 1) and model.channels(name) == widths[block]
    assert model.in_channels == 1 and model.convention == "l_centered"


def test_keys_match_torchvision_and_so_do_activations():
    import torchvision

    torch.manual_seed(0)
    tv = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D"]).eval()  # VGG-16 features, random
    model = GrayVGG(ARCHS["vgg16"], convention="torchvision")
    model.load_features(tv.state_dict())
    L = luminance()
    x = (L / 100).expand(-1, 3, -1, -1)
    x = (x - torch.tensor([0.485, 0.456, 0.406]).view(3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(3, 1, 1)
    with torch.no_grad():
        ours = model(L, ["relu2_2", "relu4_1"])
        assert torch.allclose(ours["relu2_2"], tv[:9](x), atol=1e-5)  # features.8 is relu2_2
        assert torch.allclose(ours["relu4_1"], tv[:19](x), atol=1e-5)  # features.18 is relu4_1


def test_only_requested_layers_are_computed(vgg16_random):
    called = []
    hooks = [m.register_forward_hook(lambda m, i, o, k=k: called.append(k))
             for k, m in enumerate(vgg16_random.features)]
    try:
        out = vgg16_random(luminance(), layers="relu2_1")
    finally:
        for h in hooks:
            h.remove()
    assert list(out) == ["relu2_1"]
    assert called == list(range(7))  # conv1_1 relu conv1_2 relu pool conv2_1 relu, then stop


@pytest.mark.parametrize(
    "bad,match",
    [
        (torch.zeros(2, 3, 32, 32), r"\(B, 1, H, W\)"),
        (torch.zeros(1, 32, 32), r"\(B, 1, H, W\)"),
        (torch.zeros(1, 1, 32, 32, dtype=torch.int64), "floating-point"),
        (torch.zeros(1, 1, 8, 32), "at least 16"),
        (torch.full((1, 1, 32, 32), float("nan")), "NaN"),
        ([[0.0]], "torch.Tensor"),
    ],
)
def test_bad_luminance_is_refused(vgg16_random, bad, match):
    with pytest.raises(ValueError, match=match) as err:
        vgg16_random(bad)
    one_line(err)


def test_unknown_layer_is_refused(vgg16_random):
    with pytest.raises(ValueError, match="relu5_4") as err:
        vgg16_random(luminance(), layers=("relu5_4",))
    assert "relu5_3" in one_line(err)  # lists what is available


# -- input conventions ---------------------------------------------------------------------------
def test_bgr_convention_is_a_channel_flip_of_conv1_1(vgg16_random):
    state = vgg16_random.features.state_dict()
    assert vgg16_random.convention == "caffe_rgb"
    flipped = dict(state, **{"0.weight": state["0.weight"].flip(1)})
    bgr = GrayVGG(ARCHS["vgg16"], convention="caffe_bgr").eval()
    bgr.load_features(flipped)
    bgr_same = GrayVGG(ARCHS["vgg16"], convention="caffe_bgr").eval()
    bgr_same.load_features(state)
    L = luminance()
    with torch.no_grad():
        rgb_out = vgg16_random(L, "relu3_1")["relu3_1"]
        assert torch.allclose(bgr(L, "relu3_1")["relu3_1"], rgb_out, atol=1e-4)
        assert not torch.allclose(bgr_same(L, "relu3_1")["relu3_1"], rgb_out, atol=1e-2)


@pytest.mark.shared
def test_real_weights_bgr_flip_and_conventions_differ(real_vgg16_path, tmp_path):
    rgb = fe.grayvgg_from_file(real_vgg16_path, arch="vgg16", convention="caffe_rgb")
    bgr = fe.grayvgg_from_file(real_vgg16_path, arch="vgg16", convention="caffe_bgr")
    tv = fe.grayvgg_from_file(real_vgg16_path, arch="auto", convention="torchvision")
    state = torch.load(real_vgg16_path, map_location="cpu", weights_only=True)
    state["features.0.weight"] = state["features.0.weight"].flip(1)
    torch.save(state, tmp_path / "bgr.pth")
    bgr_flipped = fe.grayvgg_from_file(tmp_path / "bgr.pth", arch="vgg16", convention="caffe_bgr")
    L = luminance(b=1, h=48, w=48)
    with torch.no_grad():
        ref = rgb(L, "relu2_1")["relu2_1"]
        assert torch.allclose(bgr_flipped(L, "relu2_1")["relu2_1"], ref, rtol=1e-4, atol=1e-3)
        for other in (bgr, tv):
            diff = (other(L, "relu2_1")["relu2_1"] - ref).abs().mean() / ref.abs().mean()
            assert diff > 0.01


@pytest.mark.shared
def test_convention_must_be_declared(real_vgg16_path):
    with pytest.raises(ValueError, match="declare the input convention") as err:
        fe.grayvgg_from_file(real_vgg16_path, arch="vgg16")
    one_line(err)
    with pytest.raises(ValueError, match="unknown input convention"):
        GrayVGG(ARCHS["vgg16"], convention="bgr")


# -- real ImageNet weights -----------------------------------------------------------------------
@pytest.mark.shared
def test_real_weights_match_a_mirrored_photo(real_vgg16_path):
    """ImageNet VGG features are nearly mirror-invariant, random ones are not: the nearest relu5_1 cell of
    each cell of a photo, in the same photo mirrored, is the mirrored cell far more often."""
    from reprolib.core import color, photos

    real = fe.grayvgg_from_file(real_vgg16_path, arch="vgg16", convention="caffe_rgb")
    random = seeded(lambda: GrayVGG(ARCHS["vgg16"], convention="caffe_rgb"))
    L = color.rgb_to_lab(photos.resize_short_side(photos.load_photo("chelsea.jpg"), 160))[None, :1]

    def mirror_hits(model):
        with torch.no_grad():
            a, b = (model(x, "relu5_1")["relu5_1"][0] for x in (L, L.flip(-1)))
        _, h, w = a.shape
        nn = (F.normalize(a.flatten(1), dim=0).T @ F.normalize(b.flatten(1), dim=0)).argmax(1)
        yy, xx = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        hit = ((nn // w - yy.flatten()).abs() <= 1) & ((nn % w - (w - 1 - xx.flatten())).abs() <= 1)
        return hit.float().mean().item(), a

    real_hits, real_feat = mirror_hits(real)
    random_hits, random_feat = mirror_hits(random)
    assert real_hits > 0.5 and real_hits > random_hits + 0.2, (real_hits, random_hits)
    cos = F.cosine_similarity(real_feat.flatten(), random_feat.flatten(), dim=0)
    assert cos < 0.5


# -- weights files -------------------------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist") as err:
        fe.grayvgg_from_file(tmp_path / "nope.pth", "vgg16", "caffe_rgb")
    one_line(err)
    with pytest.raises(FileNotFoundError):
        fe.grayvgg_small(tmp_path / "nope.pt")


def test_corrupt_file(tmp_path):
    path = tmp_path / "corrupt.pth"
    path.write_bytes(os.urandom(2048))
    with pytest.raises(ValueError, match="not a readable PyTorch file") as err:
        fe.grayvgg_from_file(path, "vgg16", "caffe_rgb")
    one_line(err)
    truncated = tmp_path / "truncated.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:300])
    with pytest.raises(ValueError, match="not a readable PyTorch file") as err:
        weights.load_checkpoint(truncated)
    one_line(err)


class _Touch:
    """Pickles as a call to Path.touch: loading it with plain pickle would create a file."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_pickle_with_code_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "code_ran"
    path = tmp_path / "evil.pth"
    with open(path, "wb") as fh:
        pickle.dump({"features.0.weight": _Touch(marker)}, fh, protocol=2)
    torch.save({"features.0.weight": torch.zeros(1), "x": _Touch(marker)}, tmp_path / "evil2.pth")
    for p in (path, tmp_path / "evil2.pth"):
        with pytest.raises(ValueError, match="weights_only=True") as err:
            fe.grayvgg_from_file(p, "vgg16", "caffe_rgb")
        one_line(err)
    assert not marker.exists()


def test_not_a_state_dict(tmp_path):
    for i, obj in enumerate(([1, 2, 3], torch.zeros(3), {"features.0.weight": 3})):
        path = tmp_path / f"obj{i}.pth"
        torch.save(obj, path)
        with pytest.raises(ValueError, match="does not hold a state_dict") as err:
            fe.grayvgg_from_file(path, "vgg16", "caffe_rgb")
        one_line(err)


def test_wrong_keys_say_what_was_expected_and_found(vgg16_random, tmp_path):
    state = {f"conv.{k}": v for k, v in vgg16_random.features.state_dict().items()}
    with pytest.raises(ValueError) as err:
        GrayVGG(ARCHS["vgg16"], convention="caffe_rgb").load_features(state)
    text = one_line(err)
    assert "missing 26 (features.0.weight" in text and "unexpected 26 (conv.0.weight" in text
    path = tmp_path / "partial.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, path)
    with pytest.raises(ValueError, match="missing 25") as err:
        fe.grayvgg_from_file(path, "vgg16", "caffe_rgb")
    one_line(err)


def test_bare_keys_and_classifier_keys_are_accepted(vgg16_random):
    bare = vgg16_random.features.state_dict()
    full = {f"features.{k}": v for k, v in bare.items()} | {"classifier.0.weight": torch.zeros(2, 2)}
    L = luminance()
    ref = vgg16_random(L, "relu3_1")["relu3_1"]
    for state in (bare, full):
        model = GrayVGG(ARCHS["vgg16"], convention="caffe_rgb").eval()
        model.load_features(state)
        assert torch.equal(model(L, "relu3_1")["relu3_1"], ref)


def test_wrong_shapes_name_the_first_mismatch(vgg16_random):
    state = dict(vgg16_random.features.state_dict())
    state["2.weight"] = torch.zeros(64, 32, 3, 3)
    with pytest.raises(ValueError) as err:
        GrayVGG(ARCHS["vgg16"], convention="caffe_rgb").load_features(state)
    assert "features.2.weight should have shape (64, 64, 3, 3), found shape (64, 32, 3, 3)" in one_line(err)


@pytest.mark.shared
def test_real_vgg16_file_declared_as_vgg19(real_vgg16_path):
    with pytest.raises(ValueError, match="missing 12") as err:
        fe.grayvgg_from_file(real_vgg16_path, arch="vgg19", convention="caffe_rgb")
    assert "pass arch='vgg16'" in one_line(err)
    assert "vgg16" in fe.grayvgg_from_file(real_vgg16_path, arch="auto", convention="caffe_rgb").source


# -- torchvision cache ---------------------------------------------------------------------------
def test_torchvision_not_cached_is_a_clear_error_and_no_download(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("REPROLIB_VGG_WEIGHTS", raising=False)

    def no_download(*args, **kwargs):
        raise AssertionError("tried to download")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", no_download)
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_download)
    for arch in ("vgg19", "vgg16"):
        with pytest.raises(FileNotFoundError, match="python -m reprolib download") as err:
            fe.grayvgg_torchvision(arch)
        assert str(tmp_path) in one_line(err)
    assert list(tmp_path.rglob("*")) == []  # nothing written
    assert fe.best_available(verbose=False).source.startswith("small gray-VGG")


def _fake_torchvision_cache(tmp_path, monkeypatch, arch="vgg16"):
    import torchvision

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    path = fe.torchvision_cache_path(arch)
    assert path.parent == tmp_path / "hub" / "checkpoints"
    path.parent.mkdir(parents=True)
    torch.manual_seed(1)
    tv = torchvision.models.vgg.make_layers(torchvision.models.vgg.cfgs["D" if arch == "vgg16" else "E"])  # random
    torch.save({f"features.{k}": v for k, v in tv.state_dict().items()}, path)
    return path, tv


def test_torchvision_cached_file_with_another_hash_is_refused(tmp_path, monkeypatch):
    path, _ = _fake_torchvision_cache(tmp_path, monkeypatch)
    with pytest.raises(ValueError, match="sha256") as err:
        fe.grayvgg_torchvision("vgg16")
    assert "88682ab5" in one_line(err) and str(path) in one_line(err)


def test_torchvision_cached_file_is_used(tmp_path, monkeypatch):
    path, tv = _fake_torchvision_cache(tmp_path, monkeypatch)
    monkeypatch.setattr(weights, "verify_sha256", lambda *args: None)  # a random stand-in for the real file
    model = fe.grayvgg_torchvision("vgg16")
    assert model.convention == "caffe_rgb" and "IMAGENET1K_FEATURES" in model.source
    assert model.extractor == "vgg16_imagenet_caffe"
    assert torch.equal(model.features[0].weight, tv[0].weight)
    assert fe.best_available(verbose=False).source == model.source
    assert fe.load_extractor("vgg16").source == model.source


@pytest.mark.shared
def test_best_available_reads_the_environment(real_vgg16_path, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setenv("REPROLIB_VGG_WEIGHTS", str(real_vgg16_path))
    monkeypatch.delenv("REPROLIB_VGG_CONVENTION", raising=False)
    with pytest.raises(ValueError, match="declare the input convention"):
        fe.best_available(verbose=False)
    monkeypatch.setenv("REPROLIB_VGG_CONVENTION", "caffe_rgb")
    model = fe.best_available(verbose=False)
    assert model.convention == "caffe_rgb" and "vgg16" in model.source
    assert fe.best_available(prefer="small", verbose=False).convention == "l_centered"


# -- the shipped small gray-VGG ------------------------------------------------------------------
def test_shipped_checkpoint_matches_its_provenance(shipped):
    meta = weights.read_provenance(SMALL.path)
    assert weights.sha256_file(SMALL.path) == meta["sha256"] == SMALL.sha256
    assert SMALL.path.stat().st_size <= 5 * 2**20
    assert meta["command"].startswith("python -m reprolib train grayvgg")
    assert meta["metrics"]["heldout_accuracy"] >= 0.90
    assert shipped.classes == tuple(scenes.CLASSES) and shipped.extractor == "grayvgg_small_synthetic"
    assert shipped.meta["seed"] == meta["seed"] and shipped.meta["steps"] == meta["config"]["steps"]


def test_shipped_checkpoint_classifies_fresh_scenes(shipped):
    assert train.evaluate_grayvgg(shipped, n=32, seed=4242) >= 0.90


def test_trained_features_match_classes_better_than_random(shipped):
    random = fe.random_like(shipped, seed=0)
    assert random.layer_names == shipped.layer_names and random.head is None
    layer = metrics.DEFAULT_LAYER
    trained_score = metrics.nn_label_agreement(shipped, n_pairs=6, layer=layer, seed=7)
    random_score = metrics.nn_label_agreement(random, n_pairs=6, layer=layer, seed=7)
    chance = metrics.chance_agreement(n_pairs=6, seed=7)
    assert trained_score > random_score + 0.05 and random_score > chance, (trained_score, random_score, chance)


def test_a_float16_checkpoint_loads_into_float32(tmp_path, shipped):
    """small_checkpoint(..., torch.float16) halves the file; grayvgg_small reads it back into float32 weights
    equal to the rounded ones (the photo gray-VGG ships this way)."""
    full, half = tmp_path / "full.pt", tmp_path / "half.pt"
    torch.save(fe.small_checkpoint(shipped), full)
    torch.save(fe.small_checkpoint(shipped, torch.float16), half)
    assert half.stat().st_size < 0.6 * full.stat().st_size
    back = fe.grayvgg_small(half)
    for (name, p), q in zip(back.state_dict().items(), shipped.state_dict().values()):
        assert p.dtype == q.dtype and torch.equal(p, q.half().to(q.dtype) if q.is_floating_point() else q), name


def test_small_checkpoint_of_another_kind_is_refused(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"format": "something else"}, path)
    with pytest.raises(ValueError, match="not a small gray-VGG checkpoint") as err:
        fe.grayvgg_small(path)
    one_line(err)


def test_classify_needs_a_head(vgg16_random):
    with pytest.raises(ValueError, match="no classification head"):
        vgg16_random.classify(luminance())


def test_torchvision_features_convention_is_caffe_rgb():
    """VGG16_Weights.IMAGENET1K_FEATURES (the original Caffe VGG-16) declares RGB on 0..255 minus the means,
    no std: the project's "caffe_rgb", so its entry and a local Caffe-convention file are one extractor."""
    import torchvision

    weights = torchvision.models.VGG16_Weights.IMAGENET1K_FEATURES
    transform = weights.transforms()
    mean, std = torch.tensor(transform.mean).view(3, 1, 1), torch.tensor(transform.std).view(3, 1, 1)
    L = torch.linspace(0, 100, 101).view(1, 1, 101)
    theirs = (L / 100.0 - mean) / std  # torchvision's normalisation of the gray image, L / 100 in R, G, B
    ours = color.gray_vgg_input(L, "caffe_rgb")
    assert torch.allclose(std, torch.full_like(std, 1 / 255), rtol=1e-3)  # 0..255, no division by a std
    assert (theirs - ours).abs().max() < 0.7  # torchvision rounds the means to (123, 117, 104): < 0.7 of 255
    assert weights.url == fe.GrayVGGWeights.VGG16.url
    assert fe.GrayVGGWeights.VGG16.convention == "caffe_rgb"
    assert fe.file_extractor("vgg16", "caffe_rgb") == fe.GrayVGGWeights.VGG16.extractor
