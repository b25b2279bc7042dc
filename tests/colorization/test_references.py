"""Several references at once (reprolib.colorization.references): joined side by side, each seen alone by the
gray-VGG, every matcher searching all of them."""
import pytest
import torch

from reprolib.colorization import colorize as col
from reprolib.colorization import references as refs
from reprolib.colorization.grayvgg_weights import load_extractor
from reprolib.colorization.matching import pyramids
from reprolib.core.color import rgb_to_lab


@pytest.fixture(scope="module")
def student():
    return load_extractor("photo")


def test_joined_widths_are_multiples_of_the_coarsest_stride():
    h, widths = refs.joined_size([(70, 70), (61, 83), (100, 40)], 48)
    assert h == 48 and all(w % refs.ALIGN == 0 and w >= refs.ALIGN for w in widths)
    assert widths == (48, 64, 16)
    joined = refs.join_references([torch.rand(3, 70, 70), torch.rand(3, 61, 83)], 48)
    assert joined.rgb.shape == (3, 48, 112) and joined.splits == (48, 64)


def test_each_reference_is_seen_alone(student, photo_pair):
    """The features of two joined references equal each one's own features, side by side (no feature mixes two
    references), mirrored candidates too."""
    t, r = photo_pair
    joined = refs.join_references([r, t], 48)
    R_L = rgb_to_lab(joined.rgb)[None, :1]
    T_L = rgb_to_lab(t)[None, :1]
    pyr = pyramids(student, T_L, R_L, ("relu3_1", "relu5_1"), ("relu5_1",), joined.splits)
    first = student(R_L[..., :joined.splits[0]], ("relu3_1", "relu5_1"))
    for k, v in first.items():
        torch.testing.assert_close(pyr.R[k][..., :v.shape[-1]], v)
    alone = student(R_L[..., joined.splits[0]:].flip(-1), ("relu5_1",))["relu5_1"].flip(-1)
    torch.testing.assert_close(pyr.R_mirrored["relu5_1"][..., -alone.shape[-1]:], alone)
    with pytest.raises(ValueError, match="do not add up"):
        pyramids(student, T_L, R_L, ("relu3_1",), (), (16, 16))


def test_colorize_from_two_references_takes_colours_from_both(student, photo_pair):
    """A target coloured from [a wrong reference, its own colours]: the joined result is much closer to the truth
    than from the wrong reference alone, and a list of one is the single-reference call."""
    t, r = photo_pair
    truth = rgb_to_lab(t)
    one = col.colorize(t, r, features=student, size=48)
    assert torch.equal(col.colorize(t, [r], features=student, size=48).rgb, one.rgb)
    both = col.colorize(t, [r, t], features=student, size=48)
    assert both.reference_rgb.shape[-1] > one.reference_rgb.shape[-1]

    def error(result):
        return (rgb_to_lab(result.rgb)[1:] - truth[1:]).abs().mean().item()

    assert error(both) < 0.6 * error(one)
    with pytest.raises(ValueError, match="no reference"):
        col.colorize(t, [], features=student, size=48)
