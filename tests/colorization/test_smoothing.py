"""Edge-aware smoothing of a*b* guided by T_L (reprolib.colorization.smoothing, OpenCV contrib)."""
import pytest
import torch

from reprolib.colorization.smoothing import FILTERS, smooth_ab


def step_image():
    """T_L with a vertical edge at x = 16; ab constant on each side, plus one false-colour speck."""
    L = torch.full((1, 1, 32, 32), 30.0)
    L[..., 16:] = 70.0
    ab = torch.zeros(1, 2, 32, 32)
    ab[:, 0, :, 16:] = 40.0  # a* follows the luminance edge
    ab[:, 1, 8, 5] = 60.0  # an isolated speck in the flat left half
    return L, ab


@pytest.mark.parametrize("method", [m for m in FILTERS if m != "none"])
def test_smoothing_removes_specks_and_keeps_edges_that_follow_L(method):
    L, ab = step_image()
    out = smooth_ab(ab, L, method)
    assert out.shape == ab.shape and out.dtype == ab.dtype
    assert out[0, 1, 8, 5] < 0.5 * ab[0, 1, 8, 5]  # the speck is (at least) halved
    assert out[0, 0, :, 12].abs().max() < 2.0 and (out[0, 0, :, 20] - 40).abs().max() < 2.0  # the edge stays


def test_median_guided_is_the_default_and_none_is_the_identity():
    L, ab = step_image()
    assert torch.equal(smooth_ab(ab, L), smooth_ab(ab, L, "median_guided"))
    assert smooth_ab(ab, L, "median_guided")[0, 1, 8, 5] < 1.0  # the median removes a one-pixel speck entirely
    assert smooth_ab(ab, L, "none") is ab


def test_bad_input():
    L, ab = step_image()
    with pytest.raises(ValueError, match="smoothing must be one of"):
        smooth_ab(ab, L, "blur")
    with pytest.raises(ValueError, match="share batch and size"):
        smooth_ab(ab, L[..., :16], "guided")
    with pytest.raises(ValueError, match="a\\*, b\\*"):
        smooth_ab(L, L)
