"""Fixtures shared by tests in several folders (the repository's conftest.py has the machine-wide ones)."""
import pytest
import torch

from reprolib.core.photos import load_photo
from reprolib.insertion import losses
from reprolib.insertion import pairs as ipairs


@pytest.fixture(scope="module")
def pairs() -> tuple[ipairs.Pairs, ipairs.Pairs]:
    """Insertion: 16 fake and 16 real pairs (tests/insertion, tests/training)."""
    return ipairs.make_pairs(3, 16, real=False), ipairs.make_pairs(3, 16, real=True)


@pytest.fixture(scope="module")
def perceptual() -> losses.LuminancePerceptualLoss:
    """Insertion: the perceptual loss on the small gray-VGG."""
    return losses.LuminancePerceptualLoss()


@pytest.fixture(scope="module")
def photo_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A small shipped target (61 x 83) and reference (70 x 70), RGB in [0, 1]."""
    t = torch.nn.functional.interpolate(load_photo("china.jpg")[None], size=(61, 83), mode="area")[0]
    r = torch.nn.functional.interpolate(load_photo("coffee.jpg")[None], size=(70, 70), mode="area")[0]
    return t.clamp(0, 1), r.clamp(0, 1)
