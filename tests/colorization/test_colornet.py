"""The colorization sub-net (reprolib.colornet): shapes, ranges, conventions, checkpoints, shipped weights."""
from __future__ import annotations

import json

import pytest
import torch

from reprolib.colorization import colornet as cn
from reprolib.colorization.colornet import ColorNet, load_colornet, predict_ab
from reprolib.colorization.smoothing import smooth_ab
from reprolib.core.weights import sha256_file


def net_input(b=2, h=24, w=32, seed=0, channels=13):
    g = torch.Generator().manual_seed(seed)
    return 40 * torch.randn(b, channels, h, w, generator=g)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return ColorNet().eval()


@pytest.mark.parametrize("h, w", [(37, 51), (8, 8), (17, 64), (1, 3)])
def test_any_size_is_padded_and_cropped_back(net, h, w):
    with torch.no_grad():
        out = net(net_input(1, h, w))
    assert out.shape == (1, 2, h, w)
    assert torch.isfinite(out).all()


def test_crop_back_keeps_the_top_left_pixels_of_the_padded_result(net):
    x = net_input(1, 21, 30)
    padded = torch.nn.functional.pad(x, (0, 2, 0, 3), mode="replicate")  # to 24 x 32, as forward does
    with torch.no_grad():
        assert torch.allclose(net(x), net(padded)[..., :21, :30], atol=1e-3)


def test_output_is_tanh_scaled_to_100():
    torch.manual_seed(0)
    net = ColorNet().eval()
    with torch.no_grad():
        assert net(1e4 * net_input(1, 16, 16)).abs().max() <= cn.OUT_SCALE
        net.out.bias.copy_(torch.tensor([50.0, -50.0]))  # saturate the tanh
        out = net(net_input(1, 16, 16))
    assert torch.allclose(out[:, 0], torch.full_like(out[:, 0], 100.0))
    assert torch.allclose(out[:, 1], torch.full_like(out[:, 1], -100.0))


def test_items_of_a_batch_are_independent(net):
    """GroupNorm, not BatchNorm: a result does not depend on the rest of the batch (DDP shards)."""
    x = net_input(3, 16, 24)
    with torch.no_grad():
        assert torch.allclose(net(x)[1:2], net(x[1:2]), atol=1e-3)  # output in a*b* units, |P_ab| < 100


def test_automatic_baseline_reads_t_l_only():
    torch.manual_seed(0)
    auto = ColorNet(in_channels=1).eval()
    x = net_input(1, 16, 16)
    y = x.clone()
    y[:, :cn.L_CHANNEL] += 30
    y[:, cn.L_CHANNEL + 1:] -= 30
    assert torch.equal(predict_ab(auto, x), predict_ab(auto, y))
    z = x.clone()
    z[:, cn.L_CHANNEL] += 10
    assert not torch.equal(predict_ab(auto, x), predict_ab(auto, z))


def test_bad_inputs_raise_value_errors(net):
    with pytest.raises(ValueError, match=r"\(B, 13, H, W\)"):
        net(torch.zeros(1, 12, 16, 16))
    bad = net_input(1, 16, 16)
    bad[0, 3, 2, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        predict_ab(net, bad)
    with pytest.raises(ValueError, match="floating"):
        net(torch.zeros(1, 13, 16, 16, dtype=torch.long))
    with pytest.raises(ValueError, match="in_channels"):
        ColorNet(in_channels=0)
    with pytest.raises(ValueError, match="width"):
        ColorNet(width=0)


def test_checkpoint_round_trip_and_clear_errors(tmp_path, net):
    path = tmp_path / "c.pt"
    torch.save(cn.checkpoint_dict(net, seed=7), path)
    loaded = load_colornet(path)
    assert not loaded.training and loaded.meta == {"seed": 7}
    x = net_input(1, 16, 16)
    assert torch.equal(predict_ab(loaded, x), predict_ab(net, x))
    with pytest.raises(FileNotFoundError, match="does not exist; make one with"):
        load_colornet(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable PyTorch file"):
        load_colornet(tmp_path / "junk.pt")
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not a colornet checkpoint"):
        load_colornet(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="mode"):
        load_colornet(mode="nonsense")


@pytest.mark.parametrize("mode", list(cn.MODES))
def test_shipped_checkpoints(mode):
    entry = cn.MODES[mode]
    path = entry.path
    assert path.stat().st_size <= 10 * 2**20
    record = json.loads(path.with_suffix(".json").read_text())
    assert record["sha256"] == sha256_file(path) == entry.sha256
    assert record["config"]["mode"] == mode and record["command"].startswith("python -m reprolib train colornet")
    net = load_colornet(mode=mode)
    assert net.in_channels == (1 if mode == "l1_auto" else 13)
    assert net.meta["mode"] == mode
    assert net.features == (None if mode == "l1_auto" else "grayvgg_small_synthetic") == record["features"]
    assert predict_ab(net, net_input(1, 40, 56)).shape == (1, 2, 40, 56)


def test_a_net_refuses_maps_of_another_gray_vgg(net):
    full = load_colornet()
    cn.check_pairing(full, "grayvgg_small_synthetic")
    with pytest.raises(ValueError, match="trained on the similarity maps of gray-VGG 'grayvgg_small_synthetic'") as err:
        cn.check_pairing(full, "vgg16_imagenet_caffe")
    assert "vgg16_imagenet_caffe" in str(err.value) and "--allow-feature-mismatch" in str(err.value)
    with pytest.warns(UserWarning, match="running it anyway"):
        cn.check_pairing(full, "vgg16_imagenet_caffe", allow_mismatch=True)
    cn.check_pairing(load_colornet(mode="l1_auto"), "vgg16_imagenet_caffe")  # reads no maps


def test_residual_net_starts_from_the_warped_reference():
    torch.manual_seed(0)
    net = ColorNet(residual=True).eval()
    x = net_input(2, 19, 26)
    x[:, 11:] = x[:, 11:].clamp(-60, 60)  # R'_ab, raw a*, b*
    with torch.no_grad():
        assert torch.allclose(net(x), x[:, 11:], atol=1e-3)
    with pytest.raises(ValueError, match="residual"):
        ColorNet(in_channels=1, residual=True)


def test_guided_layer_is_the_guided_filter_and_learns_through_it(tmp_path):
    """The guided filter layer: an untrained residual net returns R'_ab filtered along T_L, the same numbers as
    OpenCV's guided filter (smoothing.smooth_ab "guided") away from the border; gradients reach the net; the
    radius survives a checkpoint."""
    torch.manual_seed(0)
    net = ColorNet(residual=True, guided=2).eval()
    x = net_input(1, 32, 40)
    x[:, 10:11], x[:, 11:] = x[:, 10:11].clamp(-50, 50), x[:, 11:].clamp(-60, 60)  # T_L - 50, R'_ab
    with torch.no_grad():
        out = net(x)
    T_L = x[:, 10:11] + 50
    expected = smooth_ab(x[:, 11:], T_L, "guided", radius=2)
    assert torch.allclose(out[..., 4:-4, 4:-4], expected[..., 4:-4, 4:-4], atol=0.05)
    assert not torch.allclose(out, x[:, 11:], atol=1.0)  # it did filter
    net.train()
    net(x).square().mean().backward()
    assert net.out.weight.grad.abs().sum() > 0
    torch.save(cn.checkpoint_dict(net), tmp_path / "g.pt")
    assert load_colornet(tmp_path / "g.pt").guided == 2
    assert "guided" not in cn.checkpoint_dict(ColorNet())["config"]  # nets without it keep their old files
    with pytest.raises(ValueError, match="guided"):
        ColorNet(guided=-1)
