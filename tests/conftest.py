"""Fixtures shared by tests in several folders (the repository's conftest.py has the machine-wide ones)."""
import pytest

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
