"""A procedural world with known ground truth, standing in for ImageNet.

The paper trains its gray-VGG-19 (classification on L only) and its colorization network on ImageNet,
and evaluates exemplar colorization on photographs that have no ground truth for "the target coloured as
this reference says". Neither is possible on a laptop CPU, so this module draws a small outdoor world:

* **Semantic classes** (stand-ins for ImageNet's object categories): sky, sun, hill, water, grass, tree,
  wall, roof, car. Every class has its own **luminance texture** (smooth gradient, radial disk, soft
  blobs, horizontal ripples, vertical strokes, leafy spots, bricks, diagonal sawtooth, metallic shading),
  so a small CNN can tell classes apart from L* alone, as gray-VGG must.
* **Palettes**: each class has 2-3 palettes, (a*, b*) pairs that are constant over the class region.
  The palettes of a class share L* *exactly*: L* comes from the class texture and never depends on the
  palette, and every (L*, a*, b*) that can be rendered is inside the sRGB gamut (checked by the tests),
  so nothing is clipped and the rendered RGB keeps that L*. Palettes of a class are at least 20 CIEDE2000
  apart and are chosen independently and uniformly per scene, so **colour cannot be predicted from
  luminance**: a reference-free colorizer trained with L1 must average them and turn gray (study note,
  point 1), while an exemplar whose classes match tells the answer (point 3).
* **Layout + palette = scene**. ``render(L, labels, palette)`` colours any layout with any palette choice;
  the ground truth of exemplar colorization is ``recolor(target, reference.palette)``, i.e. the target's
  layout rendered with the reference's palettes. Label maps also measure matching accuracy: does
  phi_T->R(p) land on a pixel of the same class?

Everything is batched tensor code (no per-pixel Python), deterministic from an integer seed (a private
``torch.Generator``, independent of the global RNG), and the random draws do not depend on ``size``:
the same seed at another size gives the same scene at another resolution. Texture values are quantised
to 256 levels per class (L* steps below 0.1), so sampling takes colours from a table computed once with
``color.lab_to_rgb``; ``render`` computes them directly for any L*.

Layout (y grows downwards, coordinates in [0, 1]): sky above a horizon at 0.38..0.62, optional sun in the
sky, optional hills rising from the horizon, grass below it with an optional lake touching the horizon,
then up to three trees, a house (wall + roof) and a car standing on the grass, painted far to near
(objects lower in the picture are nearer, drawn larger and in front).
"""
from __future__ import annotations

import functools
import math
import operator
import time
from dataclasses import dataclass
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import Tensor

from .color import lab_to_rgb

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

_MAX_P = max(NUM_PALETTES)
# (C, max P, 2) table; classes with fewer palettes are padded with NaN (never indexed: render checks).
_TABLE = torch.tensor(
    [[list(p) for p in pal] + [[math.nan, math.nan]] * (_MAX_P - len(pal)) for pal in PALETTES],
    dtype=torch.float32,
)
_LO = torch.tensor([lo for lo, _ in L_RANGES])
_SPAN = torch.tensor([hi - lo for lo, hi in L_RANGES])

_NUM_TREES = 3
_CHUNK_PIXELS = 128 * 64 * 64  # scenes are rasterised in chunks of this many pixels (cache-sized)
_MIX, _REFERENCE_STREAM = 6364136223846793005, 1442695040888963407  # reference seed stream of sample_pairs


@dataclass(repr=False)
class Scene:
    """A batch of scenes. ``rgb == render(L, labels, palette)``.

    L: (B, 1, H, W) float32 CIE L* in [0, 100] (the gray target T_L); labels: (B, H, W) int64 class ids
    (index into CLASSES); palette: (B, len(CLASSES)) int64 palette index per class (drawn for every class,
    present or not); rgb: (B, 3, H, W) float32 sRGB in [0, 1]. ``scene[i]``, ``scene[i:j]`` and
    ``scene[index_tensor]`` keep the batch axis; ``lab`` / ``ab`` give the exact CIE Lab / a*b* channels.
    """

    L: Tensor
    labels: Tensor
    palette: Tensor
    rgb: Tensor

    def __post_init__(self):
        B = self.L.shape[0]
        if self.L.dim() != 4 or self.L.shape[1] != 1:
            raise ValueError(f"L must be (B, 1, H, W), got {tuple(self.L.shape)}")
        H, W = self.L.shape[-2:]
        if tuple(self.labels.shape) != (B, H, W):
            raise ValueError(f"labels must be {(B, H, W)}, got {tuple(self.labels.shape)}")
        if tuple(self.palette.shape) != (B, len(CLASSES)):
            raise ValueError(f"palette must be {(B, len(CLASSES))}, got {tuple(self.palette.shape)}")
        if tuple(self.rgb.shape) != (B, 3, H, W):
            raise ValueError(f"rgb must be {(B, 3, H, W)}, got {tuple(self.rgb.shape)}")

    def __len__(self) -> int:
        return self.L.shape[0]

    def __repr__(self) -> str:
        return f"Scene(n={len(self)}, size={self.L.shape[-2]}x{self.L.shape[-1]})"

    def __getitem__(self, index) -> Scene:
        if not isinstance(index, (slice, Tensor, list, tuple)):
            index = operator.index(index)  # an int: keep the batch axis
            n = len(self)
            if not -n <= index < n:
                raise IndexError(f"scene index {index} out of range for a batch of {n}")
            index = slice(index % n, index % n + 1)
        return Scene(self.L[index], self.labels[index], self.palette[index], self.rgb[index])

    @property
    def ab(self) -> Tensor:
        """(B, 2, H, W) exact a*, b* of every pixel (from the palettes; rgb encodes them unclipped)."""
        return _ab_map(self.labels, self.palette)

    @property
    def lab(self) -> Tensor:
        """(B, 3, H, W) exact CIE Lab; equals rgb_to_lab(rgb) up to float rounding."""
        return torch.cat((self.L, self.ab), dim=1)

    @property
    def size(self) -> int:
        return self.L.shape[-1]

    def to(self, device) -> Scene:
        return Scene(self.L.to(device), self.labels.to(device), self.palette.to(device), self.rgb.to(device))


# ----------------------------------------------------------------------------------------------- checks
def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {type(seed).__name__}")
    if not 0 <= seed < 2**63:
        raise ValueError(f"seed must be in [0, 2**63), got {seed}")
    return seed


def _check_palette(palette, batch: int) -> Tensor:
    """Palette as (batch, C) int64; a (C,) palette or a (1, C) batch is broadcast to the batch."""
    palette = torch.as_tensor(palette)
    if palette.is_floating_point() or palette.dtype == torch.bool:
        raise ValueError(f"palette must hold integer palette indices, got {palette.dtype}")
    C = len(CLASSES)
    if palette.dim() == 1:
        palette = palette.unsqueeze(0)
    if palette.dim() != 2 or palette.shape[1] != C or palette.shape[0] not in (1, batch):
        raise ValueError(f"palette must be ({batch}, {C}), (1, {C}) or ({C},), got {tuple(palette.shape)}")
    palette = palette.long().expand(batch, C)
    counts = torch.tensor(NUM_PALETTES)
    bad = (palette < 0) | (palette >= counts)
    if bad.any():
        c = int(bad.nonzero()[0, 1])
        raise ValueError(
            f"palette index out of range for class {CLASSES[c]!r}: it has {NUM_PALETTES[c]} palettes "
            f"(0..{NUM_PALETTES[c] - 1}), got {palette[bad][0].item()}"
        )
    return palette


# ----------------------------------------------------------------------------------------------- render
def _ab_map(labels: Tensor, palette: Tensor) -> Tensor:
    B, C = palette.shape
    table = _TABLE.to(labels.device)
    per_scene = table[torch.arange(C, device=labels.device), palette]  # (B, C, 2)
    flat = labels + (C * torch.arange(B, device=labels.device)).view(B, 1, 1)
    return per_scene.reshape(B * C, 2)[flat].permute(0, 3, 1, 2)  # (B, 2, H, W)


def render(L: Tensor, labels: Tensor, palette) -> Tensor:
    """sRGB (B, 3, H, W) of a layout: pixel of class c gets (L*, PALETTES[c][palette[b, c]]).

    L: (B, 1, H, W) CIE L*; labels: (B, H, W) class ids; palette: (B, C), (1, C) or (C,) palette indices.
    """
    if not isinstance(L, Tensor) or L.dim() != 4 or L.shape[1] != 1 or not L.is_floating_point():
        raise ValueError(f"L must be a float tensor (B, 1, H, W), got {getattr(L, 'shape', type(L))}")
    B, _, H, W = L.shape
    if not isinstance(labels, Tensor) or tuple(labels.shape) != (B, H, W):
        raise ValueError(f"labels must be a tensor shaped {(B, H, W)}, got {tuple(getattr(labels, 'shape', ()))}")
    if labels.is_floating_point() or labels.dtype == torch.bool:
        raise ValueError(f"labels must hold integer class ids, got {labels.dtype}")
    labels = labels.long()
    if labels.numel() and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise ValueError(f"labels must be class ids in [0, {len(CLASSES)}), got {labels.min()}..{labels.max()}")
    palette = _check_palette(palette, B).to(L.device)
    lab = torch.cat((L, _ab_map(labels, palette).to(L.dtype)), dim=1)
    return lab_to_rgb(lab)


def recolor(scene: Scene, palette) -> Scene:
    """The same layout and L* with other palettes (B, C), (1, C) or (C,)."""
    palette = _check_palette(palette, len(scene)).to(scene.L.device).clone()
    return Scene(scene.L, scene.labels, palette, render(scene.L, scene.labels, palette))


def ground_truth(target: Scene, reference: Scene) -> Scene:
    """Ground truth of exemplar colorization: the target's layout coloured with the reference's palettes."""
    if len(target) != len(reference):
        raise ValueError(f"target and reference batches differ in length: {len(target)} vs {len(reference)}")
    return recolor(target, reference.palette)


def random_palette(seed: int, n: int) -> Tensor:
    """(n, C) int64 palette indices, uniform and independent per class and scene."""
    _check_seed(seed)
    _check_int(n, "n", 1)
    g = torch.Generator().manual_seed(seed)
    return _draw_palette(g, n)


def _draw_palette(g: torch.Generator, n: int) -> Tensor:
    u = torch.rand(n, len(CLASSES), generator=g)
    return (u * torch.tensor(NUM_PALETTES, dtype=torch.float32)).long().clamp_max(torch.tensor(NUM_PALETTES) - 1)


def class_presence(labels: Tensor) -> Tensor:
    """(B, C) bool: which classes have at least one pixel in each label map (B, H, W)."""
    B = labels.shape[0]
    C = len(CLASSES)
    counts = torch.zeros(B, C, dtype=torch.long, device=labels.device)
    counts.scatter_add_(1, labels.reshape(B, -1), torch.ones_like(labels.reshape(B, -1)))
    return counts > 0


# ----------------------------------------------------------------------------------------------- layouts
_LEVELS = 256  # texture values are quantised to 256 levels per class (L* steps <= 0.1); colours then come
# from a table computed once with lab_to_rgb, which is what makes sampling fast


@functools.lru_cache(maxsize=64)
def _interp_matrix(cells: int, size: int, mode: str) -> Tensor:
    """(cells, size) matrix A with 1-D interpolation of a length-`cells` signal v to `size` = v @ A."""
    eye = torch.eye(cells).view(1, 1, cells, cells)
    return F.interpolate(eye, size=(cells, size), mode=mode, align_corners=False)[0, 0]


def _upsample(grid: Tensor, size: int, mode: str = "bicubic", out: Tensor | None = None) -> Tensor:
    """Separable upsampling of (n, rows, cols) grids to (n, size, size): A_rows^T @ grid @ A_cols."""
    rows = _interp_matrix(grid.shape[1], size, mode)
    cols = _interp_matrix(grid.shape[2], size, mode)
    return torch.matmul(torch.matmul(rows.T, grid), cols, out=out)


@functools.lru_cache(maxsize=1)
def _lut() -> tuple[Tensor, Tensor]:
    """L* and sRGB of every (class, palette, level): (N,) and (3, N), N = C * max P * 256.

    Entry (c * max P + p) * 256 + k holds L* = lo_c + span_c * k / 255 and lab_to_rgb of (L*, PALETTES[c][p]);
    padded palettes repeat palette 0 (never indexed).
    """
    k = torch.arange(_LEVELS, dtype=torch.float32) / (_LEVELS - 1)
    L = (_LO.view(-1, 1, 1) + _SPAN.view(-1, 1, 1) * k).expand(len(CLASSES), _MAX_P, _LEVELS)
    table = torch.where(torch.isnan(_TABLE), _TABLE[:, :1], _TABLE)  # (C, P, 2)
    ab = table.unsqueeze(-1).expand(-1, -1, -1, _LEVELS)  # (C, P, 2, 256)
    lab = torch.cat((L.unsqueeze(2), ab), dim=2).permute(2, 0, 1, 3).reshape(3, 1, -1)
    return L.reshape(-1).contiguous(), lab_to_rgb(lab)[:, 0].contiguous()


def _draw(g: torch.Generator, n: int, require: Tensor | None = None) -> SimpleNamespace:
    """All random parameters of n scenes, drawn from g in a fixed order: (n, 1, 1) tensors per scene
    (or (n, k, 1, 1) for k objects, (n, rows, cols) for noise grids), and the (n, C) palette.

    require: optional (n, C) bool forcing optional classes to be present. The number and shapes of the
    draws depend on neither require nor the image size.
    """
    C = len(CLASSES)
    forced = torch.zeros(n, C, 1, 1, dtype=torch.bool) if require is None else require.view(n, C, 1, 1).bool()

    def rand(*shape) -> Tensor:
        return torch.rand(n, *shape, 1, 1, generator=g)

    def uniform(lo, hi, *shape) -> Tensor:
        return lo + (hi - lo) * rand(*shape)

    def present(p: float, cls: int, *shape) -> Tensor:
        """Bernoulli(p) presence; a required class forces it (for several objects: the first)."""
        on = rand(*shape) < p
        if shape:
            on[:, 0] |= forced[:, cls]
            return on
        return on | forced[:, cls]

    h = uniform(0.38, 0.62)  # horizon
    ground = 1 - h
    sun_on = present(0.5, SUN)
    sun_r = uniform(0.06, 0.10)
    sun_x = uniform(0.1, 0.9)
    sun_y = sun_r + 0.02 + (h - 0.16 - 2 * sun_r).clamp(min=0) * rand()
    hill_on = present(0.7, HILL)
    hill_amp = uniform(0.07, 0.2)
    hill_f = uniform(0.6, 1.6, 2) * torch.tensor([1.0, 2.7]).view(1, 2, 1, 1)
    hill_phase = rand(2)
    lake_on = present(0.5, WATER)
    lake_x = uniform(0.15, 0.85)
    lake_rx = uniform(0.25, 0.7)
    lake_ry = uniform(0.15, 0.4) * ground
    tree_on = present(0.5, TREE, _NUM_TREES)
    tree_base = h.unsqueeze(1) + ground.unsqueeze(1) * uniform(0.04, 0.95, _NUM_TREES)
    tree_x = uniform(0.05, 0.95, _NUM_TREES)
    tree_near = (tree_base - h.unsqueeze(1)) / ground.unsqueeze(1)  # 0 at the horizon, 1 at the bottom
    tree_r = uniform(0.05, 0.08, _NUM_TREES) * (0.7 + 0.9 * tree_near)
    house_on = present(0.55, WALL) | forced[:, ROOF]
    house_base = h + ground * uniform(0.08, 0.45)
    house_x = uniform(0.2, 0.8)
    house_w = uniform(0.11, 0.17) * (0.8 + 0.8 * (house_base - h) / ground)  # half width of the wall
    wall_top = house_base - house_w * uniform(1.1, 1.6)
    apex = wall_top - house_w * uniform(0.7, 1.1)
    car_on = present(0.45, CAR)
    car_base = h + ground * uniform(0.6, 0.97)
    car_x = uniform(0.2, 0.8)
    car_w = uniform(0.12, 0.16) * (0.8 + 0.5 * (car_base - h) / ground)  # half width
    # texture parameters; noise grids are transformed linearly before upsampling (exact for interpolation)
    clouds = 0.5 * ((torch.rand(n, 8, 3, generator=g) - 0.55) / 0.25).clamp(0, 1)  # wide, flat clouds
    blobs = 0.5 + 1.7 * (torch.rand(n, 5, 7, generator=g) - 0.5)
    strokes = 0.5 + 1.8 * (torch.rand(n, 3, 36, generator=g) - 0.5)
    leaves = 0.5 + 4.0 * (torch.rand(n, 11, 11, generator=g) - 0.5)
    ripples = uniform(10.0, 15.0)
    ripple_phase = rand(2)
    bricks = uniform(13.0, 17.0, 2) * torch.tensor([1.0, 0.5]).view(1, 2, 1, 1)  # rows, columns per image
    brick_phase = rand(2)
    brick_value = 0.1 + 0.5 * torch.rand(n, 20 * 12, generator=g)
    shingles = uniform(8.0, 12.0)
    shingle_phase = rand()
    palette = _draw_palette(g, n)
    drawn = {k: v for k, v in locals().items() if isinstance(v, Tensor) and k not in ("require", "forced")}
    return SimpleNamespace(**drawn)


def _build(p: SimpleNamespace, size: int, L_out: Tensor, labels_out: Tensor, rgb_out: Tensor) -> None:
    """Rasterise the scenes of parameters p into L_out (n, 1, S, S), labels_out (n, S, S), rgb_out (n, 3, S, S).

    Every mask and texture is built from (n, S, 1) row terms and (n, 1, S) column terms of the per-scene
    parameters, so each full-frame step is one tensor op over the whole batch (no per-pixel Python).
    """
    n = p.h.shape[0]
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    y = coords.view(1, size, 1)  # rows
    x = coords.view(1, 1, size)  # columns
    inf = torch.tensor(math.inf)
    zero = torch.zeros((), dtype=torch.int16)
    tex = torch.empty(len(CLASSES), n, size, size)  # luminance texture u of every class at every pixel

    # ---- background, painted in order: sky, sun, hills, grass, lake ----
    sun_dy2 = torch.where(p.sun_on, ((y - p.sun_y) / p.sun_r) ** 2, inf)
    torch.add(1 - 0.8 * ((x - p.sun_x) / p.sun_r) ** 2, -0.8 * sun_dy2, out=tex[SUN])  # 1 - 0.8 (d / r)^2
    key = torch.where(tex[SUN] > 0.2, SUN, zero)  # inside the disk (d < r); SKY = 0 elsewhere
    wave = torch.sin(2 * math.pi * (p.hill_f * x.unsqueeze(1) + p.hill_phase))  # (n, 2, 1, S)
    ridge = p.h - p.hill_amp * (0.5 + 0.32 * wave[:, 0] + 0.18 * wave[:, 1])  # (n, 1, S)
    key = torch.where((y >= ridge) & ((y < p.h) & p.hill_on), HILL, key)
    key = torch.where(y >= p.h, GRASS, key)
    lake_dy2 = torch.where((y >= p.h) & p.lake_on, ((y - p.h) / p.lake_ry) ** 2, inf)
    key = torch.where(((x - p.lake_x) / p.lake_rx) ** 2 + lake_dy2 < 1, WATER, key)

    # ---- objects, z-buffered: key = depth level * 16 + class; the largest key (the nearest) wins ----
    def paint(mask: Tensor, base: Tensor, cls: int) -> None:
        nonlocal key
        key = torch.maximum(key, torch.where(mask, (base * 255).to(torch.int16) * 16 + cls, zero))

    for k in range(_NUM_TREES):
        r, tx, base = p.tree_r[:, k], p.tree_x[:, k], p.tree_base[:, k]
        cy = base - 1.65 * r  # canopy centre; the trunk runs from there down to the base
        rows = p.tree_on[:, k] & (y >= cy - 1.15 * r) & (y < base)
        canopy = ((x - tx) / r) ** 2 + torch.where(rows, ((y - cy) / (1.15 * r)) ** 2, inf) < 1
        trunk = ((x - tx).abs() < 0.18 * r) & (rows & (y >= cy))
        paint(canopy | trunk, base, TREE)

    house_dx = (x - p.house_x).abs()
    paint((house_dx < p.house_w) & (p.house_on & (y >= p.wall_top) & (y < p.house_base)), p.house_base, WALL)
    roof_rows = p.house_on & (y >= p.apex) & (y < p.wall_top)
    roof_half = torch.where(roof_rows, 1.15 * p.house_w * (y - p.apex) / (p.wall_top - p.apex), -1)
    paint(house_dx < roof_half, p.house_base, ROOF)

    wheel_r = 0.28 * p.car_w
    body_bottom = p.car_base - 0.6 * wheel_r
    body_top = body_bottom - 0.55 * p.car_w
    cabin_top = body_top - 0.42 * p.car_w
    t = ((y - cabin_top) / (body_top - cabin_top)).clamp(0, 1)  # 0 at the cabin roof, 1 at its base
    cabin_half = torch.where(p.car_on & (y >= cabin_top) & (y < body_top), p.car_w * (0.45 + 0.2 * t), -1)
    body = ((x - p.car_x).abs() < p.car_w) & (p.car_on & (y >= body_top) & (y < body_bottom))
    cabin = (x - p.car_x + 0.1 * p.car_w).abs() < cabin_half
    wheel_dx2 = torch.minimum((x - p.car_x + 0.6 * p.car_w) ** 2, (x - p.car_x - 0.6 * p.car_w) ** 2)
    wheel_dy2 = torch.where(p.car_on & (y >= body_bottom), (y - (p.car_base - wheel_r)) ** 2, inf)
    wheels = wheel_dx2 + wheel_dy2 < wheel_r**2
    paint(body | cabin | wheels, p.car_base, CAR)
    labels = labels_out.copy_(key & 15)

    # ---- luminance textures u (clamped to [0, 1] at the end), one field per class ----
    # sky: darker at the zenith, lighter towards the horizon, soft flat clouds
    _upsample(p.clouds, size, out=tex[SKY]).add_(0.05 + 0.75 * (y / p.h).clamp(max=1.0))
    # hill: large soft blobs, lighter along the ridge
    ridge_light = 0.25 * (1 - (y - p.h + p.hill_amp) / p.hill_amp).clamp(0, 1)
    _upsample(p.blobs, size, out=tex[HILL]).mul_(0.75).add_(ridge_light)
    # water: horizontal ripples, slightly wavy
    wobble = 0.12 * torch.sin(2 * math.pi * (2.5 * x + p.ripple_phase[:, 0]))
    ripple = torch.add(p.ripples * y + p.ripple_phase[:, 1], wobble, out=tex[WATER])
    ripple.mul_(2 * math.pi).sin_().mul_(0.45).add_(0.5)
    # grass: thin vertical strokes (noise that varies fast across columns, slowly down rows)
    _upsample(p.strokes, size, mode="bilinear", out=tex[GRASS]).mul_(0.75).add_(0.1 + 0.15 * (y - p.h) / p.ground)
    # tree: high-contrast leafy spots (the clamp at the end makes them crisp)
    _upsample(p.leaves, size, out=tex[TREE])
    # wall: staggered bricks of random brightness, light mortar joints
    row_f = p.bricks[:, 0] * y + p.brick_phase[:, 0]
    row = row_f.floor()
    col_f = p.bricks[:, 1] * x + (0.5 * torch.remainder(row, 2) + p.brick_phase[:, 1])
    col = col_f.floor()
    mortar = (col_f - col < 0.08) | (row_f - row < 0.16)
    brick = p.brick_value.gather(1, (col + 12 * row).long().view(n, -1)).view(n, size, size)
    torch.where(mortar, torch.ones(()), brick, out=tex[WALL])
    # roof: diagonal sawtooth shingles
    torch.add(p.shingles * x + p.shingle_phase, p.shingles * (1 - y), out=tex[ROOF]).frac_()
    # car: metallic vertical shading with a highlight, bright windows, dark wheels
    v = ((y - body_top) / (body_bottom - body_top)).clamp(0, 1)
    paint_shade = 0.25 + 0.45 * (1 - v) + 0.4 * torch.exp(-(((v - 0.3) / 0.08) ** 2))
    torch.where(wheels, torch.zeros(()), torch.where(y < body_top, 0.95 - 0.35 * t, paint_shade), out=tex[CAR])

    # ---- each pixel takes its class's texture; L* and sRGB come from the look-up table ----
    u = tex.gather(0, labels.unsqueeze(0))[0].clamp_(0.0, 1.0)
    level = u.mul_(_LEVELS - 1).add_(0.5).long()
    offsets = (torch.arange(len(CLASSES)) * _MAX_P + p.palette) * _LEVELS  # (n, C)
    index = offsets.gather(1, labels.view(n, -1)).add_(level.view(n, -1)).view(-1)
    L_lut, rgb_lut = _lut()
    torch.index_select(L_lut, 0, index, out=L_out.view(-1))
    for c in range(3):
        rgb_out[:, c].copy_(rgb_lut[c].index_select(0, index).view(n, size, size))


def _sample(g: torch.Generator, n: int, size: int, require: Tensor | None = None) -> Scene:
    """Draw the parameters of n scenes from g, then rasterise them in chunks that stay in the CPU cache
    (chunking changes neither the result nor the random stream)."""
    p = _draw(g, n, require)
    L = torch.empty(n, 1, size, size)
    labels = torch.empty(n, size, size, dtype=torch.long)
    rgb = torch.empty(n, 3, size, size)
    step = max(1, _CHUNK_PIXELS // (size * size))
    for i in range(0, n, step):
        part = SimpleNamespace(**{k: v[i : i + step] for k, v in vars(p).items()})
        _build(part, size, L[i : i + step], labels[i : i + step], rgb[i : i + step])
    return Scene(L, labels, p.palette, rgb)


# ----------------------------------------------------------------------------------------------- API
def sample_scenes(seed: int, n: int, size: int = 64) -> Scene:
    """n random scenes of size x size pixels, bit-identical for the same seed (own torch.Generator)."""
    _check_seed(seed)
    _check_int(n, "n", 1)
    _check_int(size, "size", 16)
    return _sample(torch.Generator().manual_seed(seed), n, size)


def sample_scene(seed: int, size: int = 64) -> Scene:
    """One scene (batch of 1)."""
    return sample_scenes(seed, 1, size)


def sample_pairs(seed: int, n: int, size: int = 64) -> tuple[Scene, Scene]:
    """(target, reference) pairs for exemplar colorization.

    target = sample_scenes(seed, n, size). Each reference is another layout from its own seed stream that
    contains every class present in its target (plus maybe others; a class can rarely end up hidden behind
    a nearer object), with palettes drawn independently of the target's. The ground truth of colorizing
    target i with reference i is ground_truth(target, reference).
    """
    target = sample_scenes(seed, n, size)
    g = torch.Generator().manual_seed((seed * _MIX + _REFERENCE_STREAM) % 2**63)
    reference = _sample(g, n, size, require=class_presence(target.labels))
    return target, reference


def scenes_per_second(size: int = 64, n: int = 1024, repeats: int = 3, threads: int | None = None) -> float:
    """Throughput of sample_scenes(seed, n, size) (layout + textures + rendering), best of `repeats` calls.

    threads: torch intra-op threads while timing (None: leave the current setting).
    """
    _check_int(size, "size", 16)
    _check_int(n, "n", 1)
    _check_int(repeats, "repeats", 1)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(_check_int(threads, "threads", 1))
    try:
        sample_scenes(0, min(n, 8), size)  # warm-up: look-up tables and interpolation matrices
        best = math.inf
        for r in range(repeats):
            start = time.perf_counter()
            sample_scenes(r + 1, n, size)
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return n / best
