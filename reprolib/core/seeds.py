"""Seed ranges: every random draw of the project comes from an integer seed, and training never sees an
evaluation seed.

Training batch s of a run seeded with ``seed`` uses the data seed ``train_data_seed(seed, s)`` =
seed * SEED_STRIDE + s, always below HELDOUT_SEED_BASE; held-out (evaluation) data uses
``heldout_seed(k)`` = HELDOUT_SEED_BASE + k. The two ranges never meet, so no model is evaluated on data
that trained it.
"""
from __future__ import annotations

SEED_STRIDE = 1_000_000  # training steps per run seed (a run may not exceed it)
HELDOUT_SEED_BASE = 10**12


def train_data_seed(seed: int, step: int) -> int:
    """Data seed of the training batch of ``step`` in a run seeded with ``seed`` (< HELDOUT_SEED_BASE)."""
    if not (0 <= seed < HELDOUT_SEED_BASE // SEED_STRIDE) or not (0 <= step < SEED_STRIDE):
        raise ValueError(f"seed must be in [0, {HELDOUT_SEED_BASE // SEED_STRIDE}) and step in [0, {SEED_STRIDE}), "
                         f"got {seed}, {step}")
    return seed * SEED_STRIDE + step


def heldout_seed(seed: int = 0) -> int:
    """Data seed for held-out evaluation: disjoint from every training seed."""
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    return HELDOUT_SEED_BASE + seed
