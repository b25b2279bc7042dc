"""Inserting Videos into Videos (Lee, Pfister, Yang; CVPR 2019) in miniature: pairs, networks, losses.

The paper inserts an object u, cropped with a box from video A, into the background r of video B. A
conditional GAN turns the composite into a realistic frame. Two ideas are reproduced here:

This module is the miniature world of fake and real pairs; the networks are in :mod:`.nets`, their losses in
:mod:`.losses`, the measurements in :mod:`.metrics`.

The miniature world is built on :mod:`reprolib.world.scenes`. A *scene* is a 32 x 32 background from
``scenes.sample_scenes`` (its canonical palette 0, so that the lighting can be read from the background, as
from the many frames of a video) under one of four **lightings** (L* gain, a*b* colour cast, horizontal
shading of objects). An *object* (sprite) is a silver blob (the car class's L* range and metallic shading,
neutral a*b*, so that its colour is its scene's cast) drawn under its scene's lighting. The renderer can draw any object
under any lighting, which gives what the paper never has: the ground truth of real pairs, used **only for
evaluation**. Boxes, not masks: the generator sees the box pasted into the background, with the piece of
the source scene around the object; the object's mask is used only by the losses and the evaluation.

Deviations from the paper (say so when quoting numbers): single 32 x 32 frames, no video and no temporal
part (no previous frames, no noise injection); the object keeps its size; fake pairs are u_B + r_B only
(the paper's Figure 2 also uses u_B + r_A with target u_B: under a relighting world that target would ask
the generator *not* to adapt the object to A's light, contradicting the ground truth of real pairs);
tiny networks; the perceptual loss uses the project's small gray-VGG on L* (:mod:`.losses`).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..core import checks, color
from ..world import scenes

SIZE = 32  # frame side in pixels
BOX = 14  # side of the object's box (u)
OBJECT_CLASS = scenes.CAR  # objects borrow the car's L* range and palettes
# The objects' own colours (a*, b*): neutral silver, so that an object's colour is its scene's colour cast
# (with the car's red / blue / green palettes a small pair discriminator could not see the mismatch, see
# notebook 04).
OBJECT_PALETTES: tuple[tuple[float, float], ...] = ((0.0, 0.0),)


@dataclass(frozen=True)
class Lighting:
    """A scene's light: L*' = gain * L* (objects also times 1 + shade * (x - 1/2)), (a*, b*)' = (a*, b*) + cast."""

    name: str
    gain: float
    cast: tuple[float, float]
    shade: float


LIGHTINGS: tuple[Lighting, ...] = (
    Lighting("noon", 1.0, (0.0, 0.0), 0.0),
    Lighting("sunset", 0.8, (20.0, 30.0), 0.35),
    Lighting("night", 0.55, (5.0, -30.0), -0.25),
    Lighting("green fog", 0.9, (-25.0, 12.0), 0.0),
)
_GAIN = torch.tensor([lt.gain for lt in LIGHTINGS])
_CAST = torch.tensor([lt.cast for lt in LIGHTINGS])
_SHADE = torch.tensor([lt.shade for lt in LIGHTINGS])
_MIX = 0x9E3779B97F4A7C15  # separates the insertion draws from the scenes' own stream


def check_lighting(lighting: Tensor, n: int) -> Tensor:
    """n integer indices into LIGHTINGS, as int64."""
    lighting = torch.as_tensor(lighting)
    if lighting.is_floating_point() or lighting.dim() != 1 or lighting.shape[0] != n:
        raise ValueError(f"lighting must be {n} integer lighting indices, got {lighting.dtype} {tuple(lighting.shape)}")
    if lighting.numel() and (lighting.min() < 0 or lighting.max() >= len(LIGHTINGS)):
        raise ValueError(f"lighting indices must be in [0, {len(LIGHTINGS)}), got {lighting.min()}..{lighting.max()}")
    return lighting.long()


def light(lab: Tensor, lighting: Tensor, shading: bool = False) -> Tensor:
    """Apply each item's lighting to Lab images (n, 3, H, W): L*' = gain L* [x (1 + shade (x - 1/2))],
    ab' = ab + cast."""
    if not isinstance(lab, Tensor) or lab.dim() != 4 or lab.shape[1] != 3:
        raise ValueError(f"lab must be a tensor (n, 3, H, W), got {getattr(lab, 'shape', type(lab))}")
    n, _, _, W = lab.shape
    lighting = check_lighting(lighting, n)
    gain = _GAIN[lighting].view(n, 1, 1, 1)
    if shading:
        x = (torch.arange(W, dtype=lab.dtype) + 0.5) / W - 0.5
        gain = gain * (1 + _SHADE[lighting].view(n, 1, 1, 1) * x.view(1, 1, 1, W))
    L = (lab[:, :1] * gain).clamp(0, 100)
    return torch.cat((L, lab[:, 1:] + _CAST[lighting].view(n, 2, 1, 1)), dim=1)


@dataclass
class Objects:
    """n sprites in their BOX x BOX boxes: L* (n, 1, K, K) before lighting, mask (n, 1, K, K) in {0, 1},
    palette (n,) index into OBJECT_PALETTES (the object's own colour, its albedo)."""

    L: Tensor
    mask: Tensor
    palette: Tensor

    def lab(self, lighting: Tensor) -> Tensor:
        """The object under ``lighting`` (n,): Lab (n, 3, K, K), shaded along x."""
        ab = torch.tensor(OBJECT_PALETTES)[self.palette].view(-1, 2, 1, 1).expand(-1, -1, BOX, BOX)
        return light(torch.cat((self.L, ab), dim=1), lighting, shading=True)


def draw_objects(g: torch.Generator, n: int) -> Objects:
    """n random blobs (a superellipse of random radii and roundness) with the car's metallic shading."""
    u = torch.rand(n, 6, generator=g)
    palette = (u[:, 0] * len(OBJECT_PALETTES)).long().clamp_max(len(OBJECT_PALETTES) - 1)
    rx, ry = 3.5 + 3.0 * u[:, 1], 3.5 + 3.0 * u[:, 2]
    cx, cy = BOX / 2 + (u[:, 3] - 0.5) * 2.0, BOX / 2 + (u[:, 4] - 0.5) * 2.0
    power = 2.0 + 2.0 * u[:, 5]  # 2: ellipse, 4: rounded box
    grid = torch.arange(BOX, dtype=torch.float32) + 0.5
    dx = ((grid.view(1, 1, BOX) - cx.view(n, 1, 1)) / rx.view(n, 1, 1)).abs()
    dy = ((grid.view(1, BOX, 1) - cy.view(n, 1, 1)) / ry.view(n, 1, 1)).abs()
    mask = (dx ** power.view(n, 1, 1) + dy ** power.view(n, 1, 1) < 1).float()
    v = ((dy * torch.sign(grid.view(1, BOX, 1) - cy.view(n, 1, 1)) + 1) / 2).clamp(0, 1)  # 0 top, 1 bottom
    shade = 0.25 + 0.45 * (1 - v) + 0.4 * torch.exp(-(((v - 0.3) / 0.1) ** 2))
    lo, hi = scenes.L_RANGES[OBJECT_CLASS]
    L = lo + (hi - lo) * shade.clamp(0, 1).expand(n, BOX, BOX)
    return Objects(L.unsqueeze(1).contiguous(), mask.unsqueeze(1), palette)


def backgrounds(seed: int, n: int) -> Tensor:
    """n scene backgrounds in Lab (n, 3, SIZE, SIZE), unlit: scenes.sample_scenes with palette 0 everywhere."""
    scene = scenes.sample_scenes(seed, n, SIZE)
    return scenes.recolor(scene, torch.zeros(len(scenes.CLASSES), dtype=torch.long)).lab


def paste(frame: Tensor, patch: Tensor, where: Tensor, mask: Tensor | None = None) -> Tensor:
    """Copy ``patch`` (n, c, K, K) into ``frame`` (n, c, H, W) with top-left corners ``where`` (n, 2) (row, col);
    with ``mask`` (n, 1, K, K) only where mask = 1 (soft masks blend). Returns a new tensor."""
    n, c, K, _ = patch.shape
    H, W = frame.shape[-2:]
    if frame.shape[:2] != patch.shape[:2] or where.shape != (n, 2):
        raise ValueError(f"paste: frame {tuple(frame.shape)}, patch {tuple(patch.shape)}, "
                         f"where {tuple(where.shape)} do not fit")
    if where.numel() and (where.min() < 0 or where[:, 0].max() > H - K or where[:, 1].max() > W - K):
        raise ValueError(f"paste: boxes of {K} px must lie inside {H} x {W}, got corners {where.tolist()}")
    rows = where[:, :1, None] + torch.arange(K).view(1, K, 1)  # (n, K, 1)
    cols = where[:, 1:, None] + torch.arange(K).view(1, 1, K)  # (n, 1, K)
    index = (rows * W + cols).view(n, 1, K * K).expand(n, c, K * K)
    out = frame.reshape(n, c, H * W).clone()
    values = patch.reshape(n, c, K * K)
    if mask is not None:
        m = mask.reshape(n, 1, K * K)
        values = m * values + (1 - m) * out.gather(2, index)
    out.scatter_(2, index, values)
    return out.view(n, c, H, W)


def crop(frame: Tensor, where: Tensor, size: int = BOX) -> Tensor:
    """The boxes (n, c, size, size) of ``frame`` (n, c, H, W) with top-left corners ``where`` (n, 2)."""
    n, c, H, W = frame.shape
    rows = where[:, :1, None] + torch.arange(size).view(1, size, 1)
    cols = where[:, 1:, None] + torch.arange(size).view(1, 1, size)
    index = (rows * W + cols).view(n, 1, size * size).expand(n, c, size * size)
    return frame.reshape(n, c, H * W).gather(2, index).view(n, c, size, size)


@dataclass
class Pairs:
    """A batch of composites for the generator, and what the losses and the evaluation need.

    composite (n, 3, S, S): u (the source box, object + a piece of its scene) pasted into r at ``where``;
    background (n, 3, S, S): r. The generator sees these two only. target (n, 3, S, S): the object drawn under
    r's lighting at ``where`` on r (fake pairs: the training target; real pairs: the rendered ground truth,
    evaluation only). mask (n, 1, S, S): the object's pixels in the target (losses / evaluation only).
    frame (n, 3, S, S): the complete source frame (object in its own scene), a real image for the image
    discriminator; source_where (n, 2): the object's box in it. box (n, 1, S, S): the inserted box, where: its
    top-left corner (row, col). copy (n, 3, S, S): the object pasted with its true mask but unchanged (no
    harmonisation). real: True for real pairs (u_A + r_B), False for fake pairs (u_B + r_B). Images are sRGB in [0, 1].
    """

    composite: Tensor
    background: Tensor
    target: Tensor
    mask: Tensor
    box: Tensor
    where: Tensor
    source_where: Tensor
    frame: Tensor
    copy: Tensor
    source_lighting: Tensor
    lighting: Tensor
    real: bool

    def __len__(self) -> int:
        return self.composite.shape[0]


def make_pairs(seed: int, n: int, real: bool) -> Pairs:
    """n fake pairs (u_B + r_B, target: frame B with u_B moved to the new box) or real pairs (u_A + r_B,
    ground truth: A's object drawn under B's lighting, for evaluation only); deterministic from ``seed``.

    Fake pair: scene B under lighting l_B, its object at box p (the source frame), inserted at box q != p
    into B's background. Real pair: scene A under l_A != l_B, its object cropped at p, inserted at q into
    scene B's background under l_B. The crop is the whole box, so the piece of the source scene around the
    object travels with it.
    """
    checks.seed(seed)
    checks.positive_int(n, "n")
    g = torch.Generator().manual_seed((seed * _MIX + int(real)) % 2**63)
    lit_b = torch.randint(len(LIGHTINGS), (n,), generator=g)
    lit_a = (lit_b + torch.randint(1, len(LIGHTINGS), (n,), generator=g)) % len(LIGHTINGS) if real else lit_b
    p = torch.randint(SIZE - BOX + 1, (n, 2), generator=g)
    q = torch.randint(SIZE - BOX + 1, (n, 2), generator=g)
    obj = draw_objects(g, n)
    bg = backgrounds(seed, 2 * n)  # first n: scene B, last n: scene A (real pairs)
    bg_b = light(bg[:n], lit_b)
    bg_a = light(bg[n:], lit_a) if real else bg_b
    frame = paste(bg_a, obj.lab(lit_a), p, obj.mask)  # the object in its own scene
    u = crop(frame, p)
    composite = paste(bg_b, u, q)
    target = paste(bg_b, obj.lab(lit_b), q, obj.mask)
    copy = paste(bg_b, obj.lab(lit_a), q, obj.mask)
    mask = paste(torch.zeros(n, 1, SIZE, SIZE), obj.mask, q)
    box = paste(torch.zeros(n, 1, SIZE, SIZE), torch.ones(n, 1, BOX, BOX), q)
    rgb = color.lab_to_rgb
    return Pairs(rgb(composite), rgb(bg_b), rgb(target), mask, box, q, p, rgb(frame), rgb(copy), lit_a, lit_b, real)


