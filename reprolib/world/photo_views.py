"""Views of photographs with ground truth: other views of the same photo, and the training pairs.

A real photo has no ground truth for "the target coloured as this reference says", except in one case:
when the reference is another view of the same scene. The protocol "same scene, other view"
(:func:`other_view_pairs`):

* the photo is resized to a short side of ``short`` (256) px;
* target T = a ``crop`` x ``crop`` crop at a seeded random position, used through its L* only;
* reference R = another square crop of side round(crop s), s ~ U(0.8, 1.2) (an object appears at 1/s of
  its size in T), at another position (centres >= 24 px apart, at least 40 % of T's area shared),
  mirrored, resized to crop x crop in sRGB, as a camera would see it;
* ground truth = the photo's own colours on T's crop.

The same views (:func:`random_views`, with a hue rotation of a*, b* applied alike to target and
reference) are the training data of the photo models: the chrominance branch of DEC is self-supervised,
so any colour photo trains it. Which photos train and which are held out is
:mod:`reprolib.training.photo_pairs`'s.
"""
from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core import checks, color
from ..core.photos import list_photos, load_image, load_photo, resize_short_side

PHOTO_SHORT = 256  # short side the photos are brought to before cropping
CROP = 192
SCALES = (0.8, 1.2)
MIN_COVER = 0.4  # fraction of the target crop that the reference crop must also show
MIN_SHIFT = 24  # px between the two crops' centres


def photo_lab(image: str | Path | Tensor, short: int = PHOTO_SHORT) -> Tensor:
    """A shipped photo (by name), an image file or an RGB tensor, at a short side of ``short``, in Lab (3, H, W)."""
    if isinstance(image, Tensor):
        rgb = image
    elif isinstance(image, str) and image in list_photos():
        rgb = load_photo(image)
    else:
        rgb = load_image(image)
    return color.rgb_to_lab(resize_short_side(rgb, short).clamp(0, 1))


@dataclass
class ViewPairs:
    """N target/reference pairs at crop x crop: T_lab (N, 3, c, c) (the truth; T_L = T_lab[:, :1] is the input),
    R_lab (N, 3, c, c), and where each came from (photo, boxes (y, x, side), mirrored)."""

    T_lab: Tensor
    R_lab: Tensor
    names: list[str]
    target_boxes: list[tuple[int, int, int]]
    reference_boxes: list[tuple[int, int, int]]
    mirrored: list[bool]

    def __len__(self) -> int:
        return self.T_lab.shape[0]


def _resized_view(lab: Tensor, box: tuple[int, int, int], mirror: bool, crop: int) -> Tensor:
    """The square ``box`` (y, x, side) of a Lab image, mirrored or not, resized in sRGB to crop x crop."""
    y, x, side = box
    view = lab[:, y:y + side, x:x + side]
    if mirror:
        view = view.flip(-1)
    if side != crop:
        rgb = F.interpolate(color.lab_to_rgb(view)[None], size=(crop, crop), mode="bilinear", align_corners=False,
                            antialias=True)[0].clamp(0, 1)
        view = color.rgb_to_lab(rgb)
    return view


def _cover(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    """The fraction of square a's area that square b covers."""
    iy = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    ix = max(0, min(a[1] + a[2], b[1] + b[2]) - max(a[1], b[1]))
    return iy * ix / a[2] ** 2


def _draw_pair(g: torch.Generator, H: int, W: int, crop: int) -> tuple[tuple[int, int, int], tuple[int, int, int]]:
    """Two boxes (y, x, side): the target's and another view's, by rejection sampling (see the module docstring)."""
    for _ in range(10000):
        s = SCALES[0] + (SCALES[1] - SCALES[0]) * torch.rand((), generator=g).item()
        side = int(min(round(crop * s), H, W))
        t = (int(torch.randint(H - crop + 1, (), generator=g)), int(torch.randint(W - crop + 1, (), generator=g)), crop)
        r = (int(torch.randint(H - side + 1, (), generator=g)), int(torch.randint(W - side + 1, (), generator=g)), side)
        shift = math.hypot(t[0] + crop / 2 - r[0] - side / 2, t[1] + crop / 2 - r[1] - side / 2)
        if _cover(t, r) >= MIN_COVER and shift >= MIN_SHIFT:
            return t, r
    raise ValueError(f"no two views of a {H} x {W} photo share {MIN_COVER:.0%} at {MIN_SHIFT} px apart")


def other_view_pairs(names: Sequence[str], n_per: int = 4, seed: int = 0, crop: int = CROP,
                     short: int = PHOTO_SHORT, mirror: bool = True) -> ViewPairs:
    """The protocol "same scene, other view": ``n_per`` pairs per photo, deterministic from (name, seed); the
    reference view mirrored (``mirror``, the photo study's protocol) or not (the same boxes either way)."""
    checks.positive_int(n_per, "n_per")
    T, R, out_names, tb, rb = [], [], [], [], []
    for name in names:
        lab = photo_lab(name, short)
        g = torch.Generator().manual_seed((zlib.crc32(str(name).encode()) + 7919 * seed) % 2**63)
        for _ in range(n_per):
            t, r = _draw_pair(g, *lab.shape[-2:], crop)
            T.append(_resized_view(lab, t, False, crop))
            R.append(_resized_view(lab, r, mirror, crop))
            out_names.append(str(name))
            tb.append(t)
            rb.append(r)
    return ViewPairs(torch.stack(T), torch.stack(R), out_names, tb, rb, [mirror] * len(T))


def rotate_hue(lab: Tensor, angle: float) -> Tensor:
    """Lab with (a*, b*) rotated by ``angle`` radians about the gray axis (L* kept), colours then fitted into
    the sRGB gamut by cutting chroma: a photo of the same scene in other colours."""
    c, s = math.cos(angle), math.sin(angle)
    a, b = lab[..., 1:2, :, :], lab[..., 2:3, :, :]
    return color.fit_to_gamut(torch.cat((lab[..., :1, :, :], c * a - s * b, s * a + c * b), dim=-3))


def random_views(image: str | Path | Tensor, n: int, g: torch.Generator, crop: int = CROP, short: int = PHOTO_SHORT,
                 hue: bool = True) -> ViewPairs:
    """``n`` training pairs of one photo: two views each as in :func:`other_view_pairs` (each mirrored with
    probability 1/2), and with ``hue`` the same random a*b* rotation for target and reference."""
    lab = photo_lab(image, short)
    T, R, tb, rb, mirrored = [], [], [], [], []
    for _ in range(n):
        t, r = _draw_pair(g, *lab.shape[-2:], crop)
        flip_t, flip_r = (torch.rand(2, generator=g) < 0.5).tolist()
        angle = 2 * math.pi * torch.rand((), generator=g).item() if hue else 0.0
        views = [_resized_view(lab, box, flip, crop) for box, flip in ((t, flip_t), (r, flip_r))]
        if angle:
            views = [rotate_hue(v, angle) for v in views]
        T.append(views[0])
        R.append(views[1])
        tb.append(t)
        rb.append(r)
        mirrored.append(flip_t != flip_r)
    return ViewPairs(torch.stack(T), torch.stack(R), [str(image)] * n, tb, rb, mirrored)
