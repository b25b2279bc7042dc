"""The rasteriser of the synthetic world: random layouts of the classes of :mod:`.classes`, painted with
their luminance textures and palettes.

Layout (y grows downwards, coordinates in [0, 1]): sky above a horizon at 0.38..0.62, optional sun in the
sky, optional hills rising from the horizon, grass below it with an optional lake touching the horizon,
then up to three trees, a house (wall + roof) and a car standing on the grass, painted far to near
(objects lower in the picture are nearer, drawn larger and in front).

Random parameters are drawn first, in a fixed order that depends neither on the image size nor on which
classes are required (:func:`draw_parameters`); :func:`rasterise` then paints them, vectorised over the
batch. The bit-identical datasets of the project depend on that order: keep it.
"""
from __future__ import annotations

import functools
import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core.color import lab_to_rgb
from .classes import (
    CAR,
    CLASSES,
    GRASS,
    HILL,
    L_LOW,
    L_SPAN,
    MAX_PALETTES,
    PALETTE_TABLE,
    ROOF,
    SKY,
    SUN,
    TREE,
    WALL,
    WATER,
    draw_palette,
)

_NUM_TREES = 3
_CHUNK_PIXELS = 128 * 64 * 64  # scenes are rasterised in chunks of this many pixels (cache-sized)
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
    L = (L_LOW.view(-1, 1, 1) + L_SPAN.view(-1, 1, 1) * k).expand(len(CLASSES), MAX_PALETTES, _LEVELS)
    table = torch.where(torch.isnan(PALETTE_TABLE), PALETTE_TABLE[:, :1], PALETTE_TABLE)  # (C, P, 2)
    ab = table.unsqueeze(-1).expand(-1, -1, -1, _LEVELS)  # (C, P, 2, 256)
    lab = torch.cat((L.unsqueeze(2), ab), dim=2).permute(2, 0, 1, 3).reshape(3, 1, -1)
    return L.reshape(-1).contiguous(), lab_to_rgb(lab)[:, 0].contiguous()


class _Draws:
    """The random draws of :func:`draw_parameters`: (n, *shape, 1, 1) tensors from ``g``, in the order asked."""

    def __init__(self, g: torch.Generator, n: int, forced: Tensor):
        self.g, self.n, self.forced = g, n, forced

    def rand(self, *shape) -> Tensor:
        return torch.rand(self.n, *shape, 1, 1, generator=self.g)

    def uniform(self, lo, hi, *shape) -> Tensor:
        return lo + (hi - lo) * self.rand(*shape)

    def present(self, p: float, cls: int, *shape) -> Tensor:
        """Bernoulli(p) presence; a required class forces it (for several objects: the first)."""
        on = self.rand(*shape) < p
        if shape:
            on[:, 0] |= self.forced[:, cls]
            return on
        return on | self.forced[:, cls]


def _tensors(names: dict) -> dict[str, Tensor]:
    return {k: v for k, v in names.items() if isinstance(v, Tensor)}


def _draw_geometry(d: _Draws) -> dict[str, Tensor]:
    """Horizon, sun, hills, lake, trees, house and car of every scene."""
    rand, uniform, present = d.rand, d.uniform, d.present
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
    house_on = present(0.55, WALL) | d.forced[:, ROOF]
    house_base = h + ground * uniform(0.08, 0.45)
    house_x = uniform(0.2, 0.8)
    house_w = uniform(0.11, 0.17) * (0.8 + 0.8 * (house_base - h) / ground)  # half width of the wall
    wall_top = house_base - house_w * uniform(1.1, 1.6)
    apex = wall_top - house_w * uniform(0.7, 1.1)
    car_on = present(0.45, CAR)
    car_base = h + ground * uniform(0.6, 0.97)
    car_x = uniform(0.2, 0.8)
    car_w = uniform(0.12, 0.16) * (0.8 + 0.5 * (car_base - h) / ground)  # half width
    return _tensors(locals())


def _draw_textures(d: _Draws) -> dict[str, Tensor]:
    """Texture parameters; noise grids are transformed linearly before upsampling (exact for interpolation)."""
    g, n, rand, uniform = d.g, d.n, d.rand, d.uniform
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
    return _tensors(locals())


def draw_parameters(g: torch.Generator, n: int, require: Tensor | None = None,
                    usual: float | None = None) -> SimpleNamespace:
    """All random parameters of n scenes, drawn from g in a fixed order: (n, 1, 1) tensors per scene
    (or (n, k, 1, 1) for k objects, (n, rows, cols) for noise grids), and the (n, C) palette.

    require: optional (n, C) bool forcing optional classes to be present; usual: the palette prior of
    :func:`.classes.draw_palette`. The number and shapes of the draws depend on neither of them nor on the
    image size.
    """
    C = len(CLASSES)
    forced = torch.zeros(n, C, 1, 1, dtype=torch.bool) if require is None else require.view(n, C, 1, 1).bool()
    draws = _Draws(g, n, forced)
    geometry = _draw_geometry(draws)
    textures = _draw_textures(draws)
    return SimpleNamespace(**geometry, **textures, palette=draw_palette(g, n, usual))


def _background(p: SimpleNamespace, y: Tensor, x: Tensor, tex: Tensor) -> Tensor:
    """The class keys of sky, sun, hills, grass and lake, painted in that order (and the sun's texture in tex)."""
    inf = torch.tensor(math.inf)
    zero = torch.zeros((), dtype=torch.int16)
    sun_dy2 = torch.where(p.sun_on, ((y - p.sun_y) / p.sun_r) ** 2, inf)
    torch.add(1 - 0.8 * ((x - p.sun_x) / p.sun_r) ** 2, -0.8 * sun_dy2, out=tex[SUN])  # 1 - 0.8 (d / r)^2
    key = torch.where(tex[SUN] > 0.2, SUN, zero)  # inside the disk (d < r); SKY = 0 elsewhere
    wave = torch.sin(2 * math.pi * (p.hill_f * x.unsqueeze(1) + p.hill_phase))  # (n, 2, 1, S)
    ridge = p.h - p.hill_amp * (0.5 + 0.32 * wave[:, 0] + 0.18 * wave[:, 1])  # (n, 1, S)
    key = torch.where((y >= ridge) & ((y < p.h) & p.hill_on), HILL, key)
    key = torch.where(y >= p.h, GRASS, key)
    lake_dy2 = torch.where((y >= p.h) & p.lake_on, ((y - p.h) / p.lake_ry) ** 2, inf)
    return torch.where(((x - p.lake_x) / p.lake_rx) ** 2 + lake_dy2 < 1, WATER, key)


def _objects(p: SimpleNamespace, y: Tensor, x: Tensor, key: Tensor) -> tuple[Tensor, SimpleNamespace]:
    """Trees, house and car over the background, z-buffered: key = depth level * 16 + class, the largest key (the
    nearest) wins. Returns the keys and the car's geometry (its shading needs it)."""
    inf = torch.tensor(math.inf)
    zero = torch.zeros((), dtype=torch.int16)

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
    return key, SimpleNamespace(body_top=body_top, body_bottom=body_bottom, t=t, wheels=wheels)


def _textures(p: SimpleNamespace, size: int, y: Tensor, x: Tensor, tex: Tensor, car: SimpleNamespace) -> None:
    """The luminance texture u of every class but the sun's, written into tex (clamped to [0, 1] later)."""
    n = p.h.shape[0]
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
    v = ((y - car.body_top) / (car.body_bottom - car.body_top)).clamp(0, 1)
    paint_shade = 0.25 + 0.45 * (1 - v) + 0.4 * torch.exp(-(((v - 0.3) / 0.08) ** 2))
    torch.where(car.wheels, torch.zeros(()), torch.where(y < car.body_top, 0.95 - 0.35 * car.t, paint_shade),
                out=tex[CAR])


def rasterise(p: SimpleNamespace, size: int, L_out: Tensor, labels_out: Tensor, rgb_out: Tensor) -> None:
    """Rasterise the scenes of parameters p into L_out (n, 1, S, S), labels_out (n, S, S), rgb_out (n, 3, S, S).

    Every mask and texture is built from (n, S, 1) row terms and (n, 1, S) column terms of the per-scene
    parameters, so each full-frame step is one tensor op over the whole batch (no per-pixel Python): the
    background, then the objects (:func:`_objects`), then each class's luminance texture, and each pixel takes its
    class's texture; L* and sRGB come from the look-up table.
    """
    n = p.h.shape[0]
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    y = coords.view(1, size, 1)  # rows
    x = coords.view(1, 1, size)  # columns
    tex = torch.empty(len(CLASSES), n, size, size)  # luminance texture u of every class at every pixel
    key, car = _objects(p, y, x, _background(p, y, x, tex))
    labels = labels_out.copy_(key & 15)
    _textures(p, size, y, x, tex, car)
    u = tex.gather(0, labels.unsqueeze(0))[0].clamp_(0.0, 1.0)
    level = u.mul_(_LEVELS - 1).add_(0.5).long()
    offsets = (torch.arange(len(CLASSES)) * MAX_PALETTES + p.palette) * _LEVELS  # (n, C)
    index = offsets.gather(1, labels.view(n, -1)).add_(level.view(n, -1)).view(-1)
    L_lut, rgb_lut = _lut()
    torch.index_select(L_lut, 0, index, out=L_out.view(-1))
    for c in range(3):
        rgb_out[:, c].copy_(rgb_lut[c].index_select(0, index).view(n, size, size))


def sample_layouts(g: torch.Generator, n: int, size: int, require: Tensor | None = None,
                   usual: float | None = None) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Draw the parameters of n scenes from g, then rasterise them in chunks that stay in the CPU cache
    (chunking changes neither the result nor the random stream). Returns (L, labels, palette, rgb) as in
    :class:`reprolib.world.scenes.Scene`."""
    p = draw_parameters(g, n, require, usual)
    L = torch.empty(n, 1, size, size)
    labels = torch.empty(n, size, size, dtype=torch.long)
    rgb = torch.empty(n, 3, size, size)
    step = max(1, _CHUNK_PIXELS // (size * size))
    for i in range(0, n, step):
        part = SimpleNamespace(**{k: v[i : i + step] for k, v in vars(p).items()})
        rasterise(part, size, L[i : i + step], labels[i : i + step], rgb[i : i + step])
    return L, labels, p.palette, rgb


