"""Several references at once: R^1 .. R^n side by side, one set of candidates for every matcher.

DEC colours from one reference; VID and BiSTNet use more than one exemplar. Here the references are joined
into one wide reference R = [R^1 | R^2 | ... | R^n] (each resized to the same height, its width a multiple of
the gray-VGG's coarsest stride), and the gray-VGG sees each alone (``matching.pyramids(..., splits=widths)``),
so no feature mixes two references. Every matcher then searches all of them at once:

    phi_T->R(p) = argmax_{q in R^1 u ... u R^n} cos(F_T(p), F_R(q))

so each target position takes its colour from whichever reference holds its best counterpart, and the
similarity maps, the Chooser and the smoothing work unchanged. The exact search's cost grows with the total
width (``pipelines.plan`` checks it against the budget as for one wide reference).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from ..core import checks
from ..core.photos import resize_to

ALIGN = 16  # the coarsest stride of every gray-VGG here (relu5_1): each reference's width is a multiple of it


class Joined(NamedTuple):
    """The references side by side: ``rgb`` (3, h, sum of widths) and each one's width (``splits``)."""

    rgb: Tensor
    splits: tuple[int, ...]


def joined_size(sizes: Sequence[tuple[int, int]], height: int) -> tuple[int, tuple[int, ...]]:
    """The common height (a multiple of ``ALIGN``, at least ALIGN) and each reference's width when references of
    these (H, W) are brought to about ``height`` rows keeping their aspect ratios."""
    h = max(ALIGN, round(height / ALIGN) * ALIGN)
    return h, tuple(max(ALIGN, round(w * h / H / ALIGN) * ALIGN) for H, w in sizes)


def join_references(references: Sequence[Tensor], height: int) -> Joined:
    """R^1 .. R^n (each (3, H_i, W_i) sRGB in [0, 1]) resized to ``height`` rows (:func:`joined_size`) and put
    side by side."""
    if not references:
        raise ValueError("no reference image given")
    refs = [checks.rgb_image(r, f"reference {i + 1}") for i, r in enumerate(references)]
    h, widths = joined_size([tuple(r.shape[-2:]) for r in refs], height)
    return Joined(torch.cat([resize_to(r, h, w).clamp(0, 1) for r, w in zip(refs, widths)], -1), widths)


def aspect(references: Sequence[Tensor]) -> tuple[int, int]:
    """An (H, W) with the joined references' aspect ratio, for planning before the working size is known."""
    h = 1000
    return h, sum(joined_size([tuple(r.shape[-2:]) for r in references], h)[1])
