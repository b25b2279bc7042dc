"""pytest settings shared by the unit tests and the notebooks run under nbval.

nbval compares every stored output of a notebook cell with the fresh one. Standard error carries
progress bars and library warnings whose text varies between machines, so it is not compared:
stderr streams are dropped from both sides before nbval's comparison. Everything else is compared.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

try:
    from nbval.plugin import IPyNbCell
except ImportError:  # nbval missing: the unit tests still run
    IPyNbCell = None

if IPyNbCell is not None and not getattr(IPyNbCell.compare_outputs, "_drops_stderr", False):
    _compare_outputs = IPyNbCell.compare_outputs

    def _compare_without_stderr(self, test, ref, skip_compare=None):
        def keep(outputs):
            return [o for o in outputs if not (o.get("output_type") == "stream" and o.get("name") == "stderr")]

        return _compare_outputs(self, keep(test), keep(ref), skip_compare)

    _compare_without_stderr._drops_stderr = True
    IPyNbCell.compare_outputs = _compare_without_stderr


REPO = Path(__file__).resolve().parent


def shared_dir() -> Path | None:
    """The optional ../shared folder (real VGG-16 weights, photos), from $REPROLIB_SHARED or beside the repo."""
    path = Path(os.environ.get("REPROLIB_SHARED", REPO.parent / "shared"))
    return path if path.is_dir() else None


@pytest.fixture
def shared() -> Path:
    """Path to ../shared; the test is skipped when it is absent."""
    path = shared_dir()
    if path is None:
        pytest.skip("../shared is not present (set REPROLIB_SHARED to its path)")
    return path


@pytest.fixture(scope="module")
def one_thread():
    """Run a module's tests on one torch thread (small tensors: as fast, and immune to oversubscribed CPUs;
    insertion training is bit-identical only at a fixed thread count); restored afterwards."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
