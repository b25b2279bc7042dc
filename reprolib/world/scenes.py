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
  point 1), while an exemplar whose classes match tells the answer (point 3). A variant (``usual=q``)
  draws each class's first palette, its usual colour, with probability q: colour is then partly
  predictable from the class, as in photographs, and there is a plausible answer where the reference
  has no such class (DEC's robustness claim, :mod:`reprolib.studies.robustness`).
* **Layout + palette = scene**. ``render(L, labels, palette)`` colours any layout with any palette choice;
  the ground truth of exemplar colorization is ``recolor(target, reference.palette)``, i.e. the target's
  layout rendered with the reference's palettes. Label maps also measure matching accuracy: does
  phi_T->R(p) land on a pixel of the same class?

Everything is batched tensor code (no per-pixel Python), deterministic from an integer seed (a private
``torch.Generator``, independent of the global RNG), and the random draws do not depend on ``size``:
the same seed at another size gives the same scene at another resolution. Texture values are quantised
to 256 levels per class (L* steps below 0.1), so sampling takes colours from a table computed once with
``color.lab_to_rgb``; ``render`` computes them directly for any L*.

The classes and palettes are in :mod:`.classes`, the rasteriser of layouts in :mod:`.layouts`.
"""
from __future__ import annotations

import math
import operator
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from ..core import checks
from ..core.color import lab_to_rgb
from .classes import (
    CAR,
    CLASSES,
    GRASS,
    HILL,
    L_RANGES,
    NUM_PALETTES,
    PALETTE_NAMES,
    PALETTE_TABLE,
    PALETTES,
    ROOF,
    SKY,
    SUN,
    TREE,
    WALL,
    WATER,
    class_presence,
    draw_palette,
)
from .layouts import sample_layouts

__all__ = ["CAR", "CLASSES", "GRASS", "HILL", "L_RANGES", "NUM_PALETTES", "PALETTES", "PALETTE_NAMES", "ROOF",
           "SKY", "SUN", "TREE", "WALL", "WATER", "Scene", "check_palette", "class_presence", "ground_truth",
           "random_palette", "recolor", "render", "sample_pairs", "sample_scene", "sample_scenes",
           "scenes_per_second"]

_MIX, _REFERENCE_STREAM = 6364136223846793005, 1442695040888963407  # reference seed stream of sample_pairs
_RELATED_STREAM = 7046029254386353131  # which pairs of sample_pairs(related < 1) keep the target's classes


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




def check_palette(palette, batch: int) -> Tensor:
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
    table = PALETTE_TABLE.to(labels.device)
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
    palette = check_palette(palette, B).to(L.device)
    lab = torch.cat((L, _ab_map(labels, palette).to(L.dtype)), dim=1)
    return lab_to_rgb(lab)


def recolor(scene: Scene, palette) -> Scene:
    """The same layout and L* with other palettes (B, C), (1, C) or (C,)."""
    palette = check_palette(palette, len(scene)).to(scene.L.device).clone()
    return Scene(scene.L, scene.labels, palette, render(scene.L, scene.labels, palette))


def ground_truth(target: Scene, reference: Scene) -> Scene:
    """Ground truth of exemplar colorization: the target's layout coloured with the reference's palettes."""
    if len(target) != len(reference):
        raise ValueError(f"target and reference batches differ in length: {len(target)} vs {len(reference)}")
    return recolor(target, reference.palette)


def random_palette(seed: int, n: int) -> Tensor:
    """(n, C) int64 palette indices, uniform and independent per class and scene."""
    checks.seed(seed)
    checks.count(n, "n", 1)
    g = torch.Generator().manual_seed(seed)
    return draw_palette(g, n)


# ----------------------------------------------------------------------------------------------- API
def sample_scenes(seed: int, n: int, size: int = 64, usual: float | None = None) -> Scene:
    """n random scenes of size x size pixels, bit-identical for the same seed (own torch.Generator);
    ``usual``: the palette prior of :func:`.classes.draw_palette` (None: uniform palettes)."""
    checks.seed(seed)
    checks.count(n, "n", 1)
    checks.count(size, "size", 16)
    return Scene(*sample_layouts(torch.Generator().manual_seed(seed), n, size, usual=usual))


def sample_scene(seed: int, size: int = 64) -> Scene:
    """One scene (batch of 1)."""
    return sample_scenes(seed, 1, size)


def sample_pairs(seed: int, n: int, size: int = 64, usual: float | None = None,
                 related: float = 1.0) -> tuple[Scene, Scene]:
    """(target, reference) pairs for exemplar colorization.

    target = sample_scenes(seed, n, size, usual). Each reference is another layout from its own seed stream
    that contains every class present in its target (plus maybe others; a class can rarely end up hidden
    behind a nearer object), with palettes drawn independently of the target's (from the same prior
    ``usual``). With ``related`` < 1 only that share of the pairs (drawn from a third stream) keeps the
    target's classes; the other references are free layouts that may lack some of them. The ground truth
    of colorizing target i with reference i is ground_truth(target, reference); where the reference lacks
    a class, that is the reference's unseen palette of it: a draw from the prior, independent of the inputs.
    """
    if not 0.0 <= related <= 1.0:
        raise ValueError(f"related must be a share in [0, 1], got {related}")
    target = sample_scenes(seed, n, size, usual)
    g = torch.Generator().manual_seed((seed * _MIX + _REFERENCE_STREAM) % 2**63)
    require = class_presence(target.labels)
    if related < 1.0:
        keep = torch.rand(n, generator=torch.Generator().manual_seed((seed * _MIX + _RELATED_STREAM) % 2**63))
        require &= (keep < related).unsqueeze(1)
    reference = Scene(*sample_layouts(g, n, size, require=require, usual=usual))
    return target, reference


def scenes_per_second(size: int = 64, n: int = 1024, repeats: int = 3, threads: int | None = None) -> float:
    """Throughput of sample_scenes(seed, n, size) (layout + textures + rendering), best of `repeats` calls.

    threads: torch intra-op threads while timing (None: leave the current setting).
    """
    checks.count(size, "size", 16)
    checks.count(n, "n", 1)
    checks.count(repeats, "repeats", 1)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(checks.count(threads, "threads", 1))
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
