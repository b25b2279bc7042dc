"""reprolib.core.color: exact sRGB <-> Lab, gradients, shapes, errors, colour differences, network inputs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from reprolib.core import color
from reprolib.core.color import (
    chroma,
    delta_e76,
    delta_e2000,
    denormalize_l,
    gray_vgg_input,
    lab_to_rgb,
    lab_to_rgb_unclipped,
    merge_lab,
    normalize_l,
    rgb_to_lab,
    split_lab,
)
from reprolib.studies import colorbench

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
LAB_RANGE = torch.tensor([100.0, 256.0, 256.0]).view(3, 1, 1)
LAB_LOW = torch.tensor([0.0, -128.0, -128.0]).view(3, 1, 1)


def _image(colours, dtype=torch.float64, device="cpu"):
    """[(c0, c1, c2), ...] -> a (3, 1, N) image."""
    return torch.tensor(colours, dtype=dtype, device=device).T.reshape(3, 1, -1)


def _cube(step: int = 4) -> torch.Tensor:
    """The 8-bit levels 0, step, ..., and 255 in all three channels, as a (3, n*n, n) float64 image."""
    v = torch.tensor(sorted(set(range(0, 256, step)) | {255}), dtype=torch.float64) / 255.0
    r, g, b = torch.meshgrid(v, v, v, indexing="ij")
    return torch.stack((r, g, b)).reshape(3, -1, len(v))


# ----- exactness -----


def test_rgb_to_lab_matches_skimage_over_the_rgb_cube():
    skcolor = pytest.importorskip("skimage.color")
    rgb = _cube(step=4)  # 65^3 colours
    ref = torch.from_numpy(skcolor.rgb2lab(rgb.permute(1, 2, 0).numpy())).permute(2, 0, 1)
    assert (rgb_to_lab(rgb) - ref).abs().max().item() <= 1e-4
    # the differentiable path (taken when the input requires grad) is exact too
    with torch.enable_grad():
        lab_grad = rgb_to_lab(rgb[:, ::37].clone().requires_grad_())
    assert (lab_grad.detach() - ref[:, ::37]).abs().max().item() <= 1e-4


def test_fast_and_differentiable_paths_agree_including_out_of_range_rgb():
    rgb = torch.rand(2, 3, 40, 30, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 1.4 - 0.2
    fast = rgb_to_lab(rgb)
    slow = rgb_to_lab(rgb.clone().requires_grad_()).detach()
    assert torch.isfinite(fast).all()
    assert (fast - slow).abs().max().item() <= 1e-10


def test_fast_path_blocks_cover_every_pixel(monkeypatch):
    """Blocks smaller than the image (one image) and spanning several small images give the same numbers."""
    gen = torch.Generator().manual_seed(2)
    for shape in [(3, 37, 29), (11, 3, 5, 7)]:
        rgb = torch.rand(shape, generator=gen, dtype=torch.float64)
        want = colorbench.rgb_to_lab_naive(rgb)
        for chunk in (16, 35, 64, 67, 100, 1 << 17):  # 37 * 29 = 16 * 67 + 1: a last block of one pixel
            monkeypatch.setattr(color, "_FAST_CHUNK", chunk)
            rgb_to_lab(torch.rand_like(rgb))  # leaves other numbers in the memory the next result may reuse
            assert (rgb_to_lab(rgb) - want).abs().max().item() <= 1e-10, (shape, chunk)


def test_round_trips():
    gen = torch.Generator().manual_seed(0)
    rgb = torch.rand(3, 64, 64, generator=gen, dtype=torch.float64)
    assert (lab_to_rgb(rgb_to_lab(rgb)) - rgb).abs().max().item() <= 1e-5
    # random Lab colours that lie in the sRGB gamut come back as themselves
    lab = torch.rand(3, 128, 128, generator=gen, dtype=torch.float64) * LAB_RANGE.double() + LAB_LOW.double()
    unclipped = lab_to_rgb_unclipped(lab)
    inside = ((unclipped >= 0) & (unclipped <= 1)).all(dim=0)
    assert inside.sum() > 1000
    back = rgb_to_lab(lab_to_rgb(lab))
    assert (back - lab)[:, inside].abs().max().item() <= 1e-8


def test_float32_is_supported_and_close_to_float64():
    rgb = torch.rand(3, 50, 50, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    lab32 = rgb_to_lab(rgb.float())
    assert lab32.dtype == torch.float32
    assert (lab32.double() - rgb_to_lab(rgb)).abs().max().item() <= 1e-3
    rgb32 = lab_to_rgb(lab32)
    assert rgb32.dtype == torch.float32
    assert (rgb32.double() - rgb).abs().max().item() <= 1e-4


def test_known_values():
    lab = rgb_to_lab(_image([(0, 0, 0), (1, 1, 1), (1, 0, 0)])).squeeze(1).T
    assert lab[0].abs().max() < 1e-12  # black
    assert abs(lab[1, 0].item() - 100.0) < 1e-9  # white is L* = 100 ...
    assert lab[1, 1:].abs().max() < 0.01  # ... and (nearly) neutral
    assert torch.allclose(lab[2], torch.tensor([53.2408, 80.0925, 67.2032], dtype=torch.float64), atol=1e-3)  # red


def test_lab_to_rgb_clips_and_flags_exactly_the_out_of_gamut_colours():
    colours = [
        (50, 0, 0),  # gray: in
        (50, 120, 0),  # far too red for sRGB: out
        (100, 0, 0),  # white: in (see GAMUT_TOLERANCE)
        (0, 0, 0),  # black: in
        (50, -128, 127),  # out
        (75, 20, -30),  # in
        (60, -40, 40),  # in
        (30, 60, -90),  # out (red channel slightly negative)
        (95, 0, 60),  # out (too yellow at this lightness)
        (20, 0, -60),  # out
    ]
    expected = torch.tensor([False, True, False, False, True, False, False, True, True, True])
    lab = _image(colours)
    rgb, out = lab_to_rgb(lab, return_clipped=True)
    assert out.shape == (1, len(colours))
    assert torch.equal(out[0], expected)
    assert rgb.min() >= 0 and rgb.max() <= 1
    unclipped = lab_to_rgb_unclipped(lab)
    assert ((unclipped < -1e-3) | (unclipped > 1 + 1e-3)).any(dim=0)[0].eq(expected).all()
    assert torch.allclose(rgb[:, :, ~expected], unclipped[:, :, ~expected].clamp(0, 1), atol=0)
    assert torch.equal(lab_to_rgb(lab), rgb)


# ----- gradients -----

_SRGB_KNEE = 0.04045
_F_KNEE_GRAY = 1.055 * 0.008856 ** (1 / 2.4) - 0.055  # gray level whose linear value is the knee of f
_RGB_POINTS = [
    (0, 0, 0), (_SRGB_KNEE,) * 3, (_F_KNEE_GRAY,) * 3, (1, 1, 1), (1, 0, 0), (0, _SRGB_KNEE, 1), (-0.1, 0.5, 1.2)
]
_L_KNEE = 116 * 0.008856 ** (1 / 3) - 16  # L* at the knee of f^-1
_LAB_POINTS = [(0, 0, 0), (_L_KNEE, 0, 0), (100, 0, 0), (50, 120, 0), (3, 0, 0), (100, -50, 90)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_are_finite_at_black_knees_and_white(dtype):
    rgb = _image(_RGB_POINTS, dtype).requires_grad_()
    lab = rgb_to_lab(rgb)
    for k in range(3):
        (g,) = torch.autograd.grad(lab[k].sum(), rgb, retain_graph=True)
        assert torch.isfinite(g).all(), (k, g)
    assert g.abs().sum() > 0
    lab_in = _image(_LAB_POINTS, dtype).requires_grad_()
    rgb_out = lab_to_rgb_unclipped(lab_in)
    for k in range(3):
        (g,) = torch.autograd.grad(rgb_out[k].sum(), lab_in, retain_graph=True)
        assert torch.isfinite(g).all(), (k, g)
    (g,) = torch.autograd.grad(lab_to_rgb(lab_in).sum(), lab_in)
    assert torch.isfinite(g).all()


def test_gradients_are_correct():
    gen = torch.Generator().manual_seed(4)
    rgb = (torch.rand(3, 2, 3, generator=gen, dtype=torch.float64) * 0.9 + 0.05).requires_grad_()
    assert torch.autograd.gradcheck(rgb_to_lab, (rgb,))
    lab = (torch.rand(3, 2, 3, generator=gen, dtype=torch.float64) * torch.tensor([80.0, 40, 40]).view(3, 1, 1)
           + torch.tensor([10.0, -20, -20]).view(3, 1, 1)).requires_grad_()
    assert torch.autograd.gradcheck(lab_to_rgb_unclipped, (lab,))


# ----- shapes and devices -----


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(3, 5, 7), (4, 3, 5, 7), (2, 4, 3, 5, 7)])
def test_batched_shapes_match_per_image_results(shape, device):
    rgb = torch.rand(shape, generator=torch.Generator().manual_seed(5), dtype=torch.float64).to(device)
    lab = rgb_to_lab(rgb)
    assert lab.shape == shape and lab.device.type == device
    flat_rgb, flat_lab = rgb.reshape(-1, 3, 5, 7), lab.reshape(-1, 3, 5, 7)
    for i in range(flat_rgb.shape[0]):
        assert torch.allclose(rgb_to_lab(flat_rgb[i]), flat_lab[i], atol=1e-10)
    back, out = lab_to_rgb(lab, return_clipped=True)
    assert back.shape == shape and out.shape == shape[:-3] + (5, 7)
    assert delta_e2000(lab, lab).shape == shape[:-3] + (5, 7)
    assert delta_e76(lab, lab).shape == shape[:-3] + (5, 7)
    assert chroma(lab).shape == shape[:-3] + (5, 7)


# ----- bad input -----

_BAD = [
    (torch.rand(2, 5, 5), "3, H, W"),  # two channels
    (torch.rand(5, 5, 3), "channels-last"),  # (H, W, 3) with H != 3
    (torch.rand(5, 5), "3, H, W"),  # too few axes
    (torch.zeros(3, 5, 5, dtype=torch.int64), "floating-point"),
    (torch.zeros(3, 5, 5, dtype=torch.uint8), "floating-point"),
    (torch.full((3, 5, 5), float("nan")), "NaN"),
    (torch.rand(3, 5, 5).index_fill_(2, torch.tensor([3]), float("nan")), "NaN"),  # one column of NaN
    (np.zeros((3, 5, 5)), "torch.Tensor"),
]


def _is_float_tensor(x) -> bool:
    return isinstance(x, torch.Tensor) and x.is_floating_point()


def _calls():
    ok = torch.rand(3, 5, 5)
    return {
        "rgb_to_lab": lambda x: rgb_to_lab(x),
        "rgb_to_lab_grad": lambda x: rgb_to_lab(x.requires_grad_() if _is_float_tensor(x) else x),
        "lab_to_rgb": lambda x: lab_to_rgb(x),
        "lab_to_rgb_unclipped": lambda x: lab_to_rgb_unclipped(x),
        "split_lab": lambda x: split_lab(x),
        "chroma": lambda x: chroma(x),
        "delta_e76_first": lambda x: delta_e76(x, ok),
        "delta_e76_second": lambda x: delta_e76(ok, x),
        "delta_e2000_first": lambda x: delta_e2000(x, ok),
        "delta_e2000_second": lambda x: delta_e2000(ok, x),
    }


@pytest.mark.parametrize("bad,message", _BAD)
@pytest.mark.parametrize("name", list(_calls()))
def test_bad_input_raises_a_clear_value_error(name, bad, message):
    with pytest.raises(ValueError, match=message):
        _calls()[name](bad.clone() if isinstance(bad, torch.Tensor) else bad)


def test_delta_e_rejects_shapes_that_do_not_broadcast():
    with pytest.raises(ValueError, match="broadcast"):
        delta_e2000(torch.rand(2, 3, 4, 4), torch.rand(3, 3, 4, 4))


# ----- colour differences -----

# Sharma, Wu & Dalal (2005), Table 1: L1 a1 b1, L2 a2 b2, dE00 (4 decimals).
SHARMA_2005 = [
    (50.0000, 2.6772, -79.7751, 50.0000, 0.0000, -82.7485, 2.0425),
    (50.0000, 3.1571, -77.2803, 50.0000, 0.0000, -82.7485, 2.8615),
    (50.0000, 2.8361, -74.0200, 50.0000, 0.0000, -82.7485, 3.4412),
    (50.0000, -1.3802, -84.2814, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -1.1848, -84.8006, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, -0.9009, -85.5211, 50.0000, 0.0000, -82.7485, 1.0000),
    (50.0000, 0.0000, 0.0000, 50.0000, -1.0000, 2.0000, 2.3669),
    (50.0000, -1.0000, 2.0000, 50.0000, 0.0000, 0.0000, 2.3669),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0009, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0010, 7.1792),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0011, 7.2195),
    (50.0000, 2.4900, -0.0010, 50.0000, -2.4900, 0.0012, 7.2195),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0009, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0010, -2.4900, 4.8045),
    (50.0000, -0.0010, 2.4900, 50.0000, 0.0011, -2.4900, 4.7461),
    (50.0000, 2.5000, 0.0000, 50.0000, 0.0000, -2.5000, 4.3065),
    (50.0000, 2.5000, 0.0000, 73.0000, 25.0000, -18.0000, 27.1492),
    (50.0000, 2.5000, 0.0000, 61.0000, -5.0000, 29.0000, 22.8977),
    (50.0000, 2.5000, 0.0000, 56.0000, -27.0000, -3.0000, 31.9030),
    (50.0000, 2.5000, 0.0000, 58.0000, 24.0000, 15.0000, 19.4535),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.1736, 0.5854, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2972, 0.0000, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 1.8634, 0.5757, 1.0000),
    (50.0000, 2.5000, 0.0000, 50.0000, 3.2592, 0.3350, 1.0000),
    (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630),
    (61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731),
    (35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645),
    (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146),
    (90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441),
    (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
    (6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377),
    (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
]


def test_ciede2000_matches_the_34_published_pairs():
    table = torch.tensor(SHARMA_2005, dtype=torch.float64)
    lab1, lab2, want = table[:, 0:3].T.reshape(3, 1, -1), table[:, 3:6].T.reshape(3, 1, -1), table[:, 6]
    got = delta_e2000(lab1, lab2)[0]
    assert got.shape == (34,)
    assert (got - want).abs().max().item() < 5e-5  # agreement to the 4 published decimals
    assert (delta_e2000(lab2, lab1)[0] - got).abs().max().item() < 1e-12  # symmetric
    got32 = delta_e2000(lab1.float(), lab2.float())[0]
    assert (got32.double() - want).abs().max().item() < 2e-3


def test_ciede2000_is_zero_for_identical_colours_and_has_finite_gradients():
    lab = _image([(50, 0, 0), (0, 0, 0), (60, 20, -30), (50, 2.49, -0.001)]).requires_grad_()
    other = _image([(50, 0, 0), (1, 0, 0), (60, 20, -30), (50, -2.49, 0.0009)])
    d = delta_e2000(lab, other)
    assert d[0, 0] == 0 and d[0, 2] == 0
    (g,) = torch.autograd.grad(d.sum(), lab)
    assert torch.isfinite(g).all()
    assert g.abs().sum() > 0


def test_cie76_and_chroma():
    a, b = _image([(50, 0, 0), (10, 3, 4)]), _image([(53, 4, 0), (10, 0, 0)])
    assert torch.allclose(delta_e76(a, b)[0], torch.tensor([5.0, 5.0], dtype=torch.float64))
    assert torch.allclose(delta_e76(a, a[:, :, :1]), torch.tensor([[0.0, math.sqrt(40**2 + 25)]], dtype=torch.float64))
    assert torch.allclose(chroma(a)[0], torch.tensor([0.0, 5.0], dtype=torch.float64))
    lab = a.clone().requires_grad_()
    (g1,) = torch.autograd.grad(chroma(lab).sum(), lab)
    (g2,) = torch.autograd.grad(delta_e76(lab, a).sum(), lab)
    assert torch.isfinite(g1).all() and torch.isfinite(g2).all()
    assert torch.allclose(g1[1:, 0, 1], torch.tensor([0.6, 0.8], dtype=torch.float64))


# ----- L, ab and network inputs -----


def test_split_and_merge_lab():
    lab = torch.rand(2, 3, 4, 5)
    L, ab = split_lab(lab)
    assert L.shape == (2, 1, 4, 5) and ab.shape == (2, 2, 4, 5)
    assert torch.equal(L[:, 0], lab[:, 0]) and torch.equal(ab, lab[:, 1:])
    assert torch.equal(merge_lab(L, ab), lab)
    with pytest.raises(ValueError, match="agree"):
        merge_lab(L, ab[:, :, :3])
    with pytest.raises(ValueError, match="agree"):
        merge_lab(L[:1], ab)
    with pytest.raises(ValueError, match="2, H, W"):
        merge_lab(L, lab)
    with pytest.raises(ValueError, match="1, H, W"):
        merge_lab(ab, ab)


def test_paper_luminance_normalization():
    L = torch.tensor([0.0, 50.0, 100.0])
    assert torch.equal(normalize_l(L), torch.tensor([-50.0, 0.0, 50.0]))
    assert torch.equal(denormalize_l(normalize_l(L)), L)


_VGG_EXPECTED = {  # (value at L = 0, value at L = 100) per output channel
    "torchvision": [(-0.485 / 0.229, 0.515 / 0.229), (-0.456 / 0.224, 0.544 / 0.224), (-0.406 / 0.225, 0.594 / 0.225)],
    "caffe_rgb": [(-123.68, 131.32), (-116.779, 138.221), (-103.939, 151.061)],
    "caffe_bgr": [(-103.939, 151.061), (-116.779, 138.221), (-123.68, 131.32)],  # B, G, R
}


@pytest.mark.parametrize("convention", list(_VGG_EXPECTED))
def test_gray_vgg_input_conventions(convention):
    L = torch.tensor([0.0, 100.0, 50.0], dtype=torch.float64).view(1, 1, 1, 3)
    x = gray_vgg_input(L, convention)
    assert x.shape == (1, 3, 1, 3)
    for c, (at0, at100) in enumerate(_VGG_EXPECTED[convention]):
        assert abs(x[0, c, 0, 0].item() - at0) < 1e-9, (convention, c)
        assert abs(x[0, c, 0, 1].item() - at100) < 1e-9, (convention, c)
        assert abs(x[0, c, 0, 2].item() - (at0 + at100) / 2) < 1e-9  # linear in L
    assert gray_vgg_input(torch.zeros(2, 4, 1, 5, 6), convention).shape == (2, 4, 3, 5, 6)


def test_gray_vgg_input_rejects_unknown_conventions_and_bad_shapes():
    with pytest.raises(ValueError, match="torchvision, caffe_rgb, caffe_bgr"):
        gray_vgg_input(torch.zeros(1, 1, 2, 2), "imagenet")
    with pytest.raises(ValueError, match="1, H, W"):
        gray_vgg_input(torch.zeros(1, 3, 2, 2), "torchvision")


# ----- colorbench -----


def test_colorbench_smoke():
    rgb = torch.rand(2, 3, 8, 9, dtype=torch.float64)
    assert (colorbench.rgb_to_lab_naive(rgb) - rgb_to_lab(rgb)).abs().max().item() < 1e-10
    t = colorbench.time_rgb_to_lab(size=32, repeats=2)
    for name in ("reprolib", "torch_naive"):
        assert t[name] > 0
    assert set(colorbench.IMPLEMENTATIONS) <= set(t)
    if t["opencv_float32"] is not None:
        assert 0.05 < t["opencv_max_delta_e76"] < 5 and t["ratio_to_opencv"] > 0
    pytest.importorskip("skimage")
    e = colorbench.exactness(step=51)  # levels 0, 51, ..., 255
    assert e["grid_points"] == 6**3
    assert e["max_abs_diff_skimage"] < 1e-9 and e["roundtrip_max_abs"] < 1e-9
    assert e["max_abs_diff_skimage_float32"] < 1e-3


def test_fit_to_gamut_keeps_L_and_hue_and_lands_inside():
    from reprolib.core.color import fit_to_gamut, lab_to_rgb_unclipped

    g = torch.Generator().manual_seed(0)
    lab = torch.cat((torch.rand(1, 16, 16, generator=g) * 100, (torch.rand(2, 16, 16, generator=g) - 0.5) * 240))
    fitted = fit_to_gamut(lab)
    rgb = lab_to_rgb_unclipped(fitted)
    assert rgb.min() > -1e-4 and rgb.max() < 1 + 1e-4
    torch.testing.assert_close(fitted[:1], lab[:1])
    scale = fitted[1:].norm(dim=0) / lab[1:].norm(dim=0)
    torch.testing.assert_close(fitted[1:], scale * lab[1:])  # same hue: ab only scaled
    assert (scale <= 1).all() and (scale < 0.99).any()
    inside = torch.tensor([[[50.0]], [[10.0]], [[-10.0]]]).expand(3, 2, 2)
    torch.testing.assert_close(fit_to_gamut(inside), inside)  # in-gamut colours are untouched
