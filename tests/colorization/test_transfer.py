"""The global colour-transfer baselines (reprolib.colorization.transfer) and the match confidence
(reprolib.colorization.confidence)."""
import pytest
import torch

from reprolib.colorization import confidence, transfer


def two_tone(h=32, w=48):
    """A reference whose dark half is blue and bright half is orange."""
    lab = torch.zeros(1, 3, h, w)
    lab[:, 0, :, : w // 2], lab[:, 0, :, w // 2:] = 30.0, 80.0
    lab[:, 1:, :, : w // 2] = torch.tensor([10.0, -40.0]).view(1, 2, 1, 1)
    lab[:, 1:, :, w // 2:] = torch.tensor([20.0, 50.0]).view(1, 2, 1, 1)
    return lab


def test_tint_is_the_reference_mean_everywhere():
    R = two_tone()
    P = transfer.tint(torch.full((1, 1, 8, 8), 50.0), R)
    assert P.shape == (1, 2, 8, 8)
    torch.testing.assert_close(P[0, :, 3, 3], torch.tensor([15.0, 5.0]))


def test_reinhard_gives_dark_pixels_the_dark_colour():
    """After the luminance remapping, the darkest target pixels take the reference's dark colour, the brightest
    its bright colour; a gray target's mean/std transfer alone would be the tint."""
    R = two_tone()
    T_L = torch.linspace(10, 60, 16).view(1, 1, 4, 4)
    P = transfer.reinhard(T_L, R)
    assert P[0, 1, 0, 0] < -30 and P[0, 1, -1, -1] > 40
    assert P[0, 0, 0, 0] < P[0, 0, -1, -1]


def test_the_hedge_keeps_trusted_matches_and_halves_the_rest():
    """Unrelated images (low rho): chroma kept where the match is close, halved elsewhere; a related pair (high rho,
    a same-scene reference) keeps everything."""
    cosine = torch.full((1, 1, 32, 32), 0.1)
    cosine[..., :16] = 0.95  # left half: close matches
    P = torch.full((1, 2, 32, 32), 40.0)
    out = confidence.hedge(P, cosine)
    torch.testing.assert_close(out[..., :, :4], P[..., :, :4])
    torch.testing.assert_close(out[..., :, -4:], confidence.KEEP * P[..., :, -4:])
    cosine[..., 16:] = 0.8  # rho above the relatedness ramp: nothing hedged
    torch.testing.assert_close(confidence.hedge(P, cosine), P)
    with pytest.raises(ValueError, match="cosines"):
        confidence.match_confidence(None)
    with pytest.raises(ValueError, match="high > low"):
        confidence.ramp(torch.zeros(1, 1, 2, 2), 0.9, 0.5)


def test_colorize_hedges_by_default_and_not_when_asked(photo_pair):
    """The default Chooser output is the unhedged one times a factor in [s, 1] per pixel; --no-hedge leaves it."""
    from reprolib.colorization.colorize import colorize
    from reprolib.colorization.grayvgg_weights import load_extractor

    t, r = photo_pair
    student = load_extractor("photo")
    hedged = colorize(t, r, features=student, size=48)
    plain = colorize(t, r, features=student, size=48, hedge=False)
    ratio = (hedged.P_ab.norm(dim=0) / plain.P_ab.norm(dim=0).clamp_min(1e-3))[plain.P_ab.norm(dim=0) > 1]
    assert ratio.min() >= confidence.KEEP - 1e-4 and ratio.max() <= 1 + 1e-4
    assert ratio.mean() < 0.99  # china from coffee: another photo, so something is hedged
