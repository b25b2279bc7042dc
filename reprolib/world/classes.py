"""The classes of the synthetic world, their luminance ranges and their palettes (see :mod:`.scenes`).

Each class has its own L* range (its texture's) and 2-3 palettes, (a*, b*) pairs constant over the class
region that share L* exactly, so colour cannot be told from luminance: only an exemplar can tell it.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

CLASSES: tuple[str, ...] = ("sky", "sun", "hill", "water", "grass", "tree", "wall", "roof", "car")
SKY, SUN, HILL, WATER, GRASS, TREE, WALL, ROOF, CAR = range(len(CLASSES))

# L* range of each class's texture: L* = lo + (hi - lo) * u with the texture value u in [0, 1].
L_RANGES: tuple[tuple[float, float], ...] = (
    (56.0, 80.0),  # sky: vertical gradient, darker at the zenith, plus soft light clouds
    (80.0, 93.0),  # sun: bright disk, radial fall-off
    (36.0, 58.0),  # hill: large soft blobs, lighter along the ridge
    (34.0, 56.0),  # water: horizontal wavy ripples (sine)
    (42.0, 64.0),  # grass: thin vertical strokes
    (22.0, 44.0),  # tree: high-contrast leafy spots on dark foliage
    (52.0, 74.0),  # wall: bricks with light mortar joints
    (30.0, 50.0),  # roof: diagonal sawtooth shingles
    (36.0, 60.0),  # car: vertical metallic shading with a highlight, bright windows, dark wheels
)

# PALETTES[c][p] = (a*, b*) of palette p of class c (class id c indexes CLASSES). The chroma is constant
# over the class region; L* comes from L_RANGES / the texture and is the same for every palette of a class.
# Every (L*, a*, b*) with L* in the class's range is inside sRGB with a margin of 0.01 per channel.
PALETTES: tuple[tuple[tuple[float, float], ...], ...] = (
    ((-2.0, -27.0), (16.0, 30.0), (-26.0, 2.0)),  # sky: blue, sunset orange, teal
    ((-10.0, 44.0), (2.0, -6.0)),  # sun: yellow, white
    ((-28.0, 26.0), (14.0, 28.0), (14.0, -24.0)),  # hill: green, brown, purple
    ((-2.0, -30.0), (-22.0, 2.0), (6.0, 26.0)),  # water: blue, green-teal, muddy
    ((-42.0, 38.0), (-2.0, 46.0), (26.0, 30.0)),  # grass: green, dry yellow, autumn
    ((-28.0, 22.0), (30.0, 30.0), (18.0, -22.0)),  # tree: green, autumn orange, purple
    ((32.0, 20.0), (-6.0, -20.0), (0.0, 38.0)),  # wall: brick red, blue-gray, yellow
    ((38.0, 26.0), (2.0, -30.0), (-24.0, 8.0)),  # roof: red, blue, green
    ((48.0, 32.0), (14.0, -48.0), (-34.0, 20.0)),  # car: red, blue, green
)
PALETTE_NAMES: tuple[tuple[str, ...], ...] = (
    ("blue", "sunset", "teal"),
    ("yellow", "white"),
    ("green", "brown", "purple"),
    ("blue", "teal", "muddy"),
    ("green", "dry", "autumn"),
    ("green", "autumn", "purple"),
    ("brick", "blue-gray", "yellow"),
    ("red", "blue", "green"),
    ("red", "blue", "green"),
)
NUM_PALETTES: tuple[int, ...] = tuple(len(p) for p in PALETTES)

MAX_PALETTES = max(NUM_PALETTES)
# PALETTE_TABLE: (C, max P, 2) table; classes with fewer palettes are padded with NaN (never indexed: render checks).
PALETTE_TABLE = torch.tensor(
    [[list(p) for p in pal] + [[math.nan, math.nan]] * (MAX_PALETTES - len(pal)) for pal in PALETTES],
    dtype=torch.float32,
)
L_LOW = torch.tensor([lo for lo, _ in L_RANGES])
L_SPAN = torch.tensor([hi - lo for lo, hi in L_RANGES])

_NUM_TREES = 3


def draw_palette(g: torch.Generator, n: int, usual: float | None = None) -> Tensor:
    """(n, C) int64 palette indices drawn from ``g``, independent per class and scene: uniform, or with
    ``usual``, palette 0 (the class's usual colour: blue sky, green grass ...) with probability ``usual`` and
    the others uniformly, so that colour is partly predictable from the class. One uniform draw per class
    either way: ``usual`` changes which palette a draw picks, never the random stream."""
    u = torch.rand(n, len(CLASSES), generator=g)
    count = torch.tensor(NUM_PALETTES, dtype=torch.float32)
    if usual is None:
        index = u * count
    elif 0.0 <= usual < 1.0:
        index = torch.where(u < usual, torch.zeros_like(u), ((u - usual) / (1.0 - usual) * (count - 1)).floor() + 1)
    else:
        raise ValueError(f"usual must be a probability in [0, 1), got {usual}")
    return index.long().clamp_max(torch.tensor(NUM_PALETTES) - 1)


def class_presence(labels: Tensor) -> Tensor:
    """(B, C) bool: which classes have at least one pixel in each label map (B, H, W)."""
    B = labels.shape[0]
    C = len(CLASSES)
    counts = torch.zeros(B, C, dtype=torch.long, device=labels.device)
    counts.scatter_add_(1, labels.reshape(B, -1), torch.ones_like(labels.reshape(B, -1)))
    return counts > 0
