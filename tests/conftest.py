"""Fixtures shared by tests in several folders (the repository's conftest.py has the machine-wide ones)."""
import json
import os
import subprocess
import sys
from pathlib import Path

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


@pytest.fixture
def torchrun_metrics():
    """Training: run ``python -m reprolib ARGS --out OUT`` under torchrun with 2 gloo processes of one thread
    each, check that it succeeded, and return the metrics of OUT's provenance."""
    def run(args: list[str], out: Path, timeout: int = 300) -> dict:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "reprolib",
               *args, "--out", str(out)]
        done = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[1], env={**os.environ, "OMP_NUM_THREADS": "1"},
                              capture_output=True, text=True, timeout=timeout)
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(out.with_suffix(".json").read_text())["metrics"]
    return run
