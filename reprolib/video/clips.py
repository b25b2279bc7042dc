"""Clips with ground truth: generated from stills with exact flow, and the shipped real clip.

A generated clip is a camera moving over a still (a photograph or a synthetic-world scene), so every frame's
truth is the still's own colour and the flow is known exactly (DEVC / VID train on such pseudo-videos,
lib/videoloader_imagenet.py). Each frame t has a coordinate map G_t into the still, built from per-frame motions

    frame_t(p) = frame_{t-1}(p + D_t(p)),     G_t(p) = G_{t-1}(p + D_t(p)),     F_t = D_t  (the backward flow)

with D_t a camera pan (constant), a zoom about a point (D(p) = (p - c)(1/z - 1)) or a smooth random warp (as
DEVC's), composed analytically, so that frame t is sampled from the still once (no blur accumulates) and
F_t is exact. M_t is 1 where p + F_t(p) lies inside frame t-1. A clip may also carry a sprite, a patch of another
still moving over the background with its own velocity: there the flow is the sprite's, and the background it
uncovers has M_t = 0 (occluded in frame t-1).

The real clip (``data/clips/bigbuckbunny.mp4``, CC BY 3.0, credits in data/clips/README.md) has its colour
frames as the truth; its flow is DIS's (:func:`.flow.clip_flows`), not exact.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core.photos import resize_short_side
from ..core.weights import data_file
from .flow import clip_flows, inside_mask, sample_grid
from .io import FrameReader

MOTIONS = ("pan", "zoom", "warp")
FRAMES = 8  # frames of a generated clip
SIZE = (144, 192)  # (h, w) of a generated photo clip's frames
WARP_AMPLITUDE = 2.0  # px: the largest displacement of a smooth random warp per frame
WARP_CELLS = 4  # the warp's random displacements on a 4 x 4 grid, upsampled bicubically


@dataclass
class Clip:
    """T frames with their truth and flow: ``rgb`` (T, 3, H, W) sRGB in [0, 1], the truth (the input is its L*);
    ``flow`` (T, 2, H, W) F_t, frame t -> t-1 (``flow[0]`` zero); ``mask`` (T, 1, H, W) M_t (``mask[0]`` zero);
    ``reference`` (3, h, w) the exemplar it is coloured from; ``exact``: whether the flow is exact."""

    name: str
    rgb: Tensor
    flow: Tensor
    mask: Tensor
    reference: Tensor
    exact: bool = True

    def __len__(self) -> int:
        return self.rgb.shape[0]


def _motion(kind: str, g: torch.Generator, size: tuple[int, int]):
    """A random per-frame motion p -> p + D(p) of ``kind`` for frames of ``size``: a function of (..., 2) (x, y)
    positions (anywhere, also outside the frame) returning D (..., 2)."""
    h, w = size
    u = torch.rand(4, generator=g)
    if kind == "pan":
        angle, speed = 2 * math.pi * u[0].item(), 2.0 + 2.0 * u[1].item()  # 2-4 px per frame, any direction
        v = torch.tensor([speed * math.cos(angle), speed * math.sin(angle)])
        return lambda q: v.expand_as(q)
    if kind == "zoom":
        z = 1.02 + 0.02 * u[0].item()  # 2-4 % closer per frame
        c = torch.tensor([w * (0.3 + 0.4 * u[1].item()), h * (0.3 + 0.4 * u[2].item())])
        return lambda q: (q - c) * (1 / z - 1)
    if kind == "warp":
        cells = torch.rand(1, 2, WARP_CELLS, WARP_CELLS, generator=g) * 2 - 1
        pad = 64  # the field covers the frame and 64 px around it
        field = F.interpolate(cells, size=(h + 2 * pad, w + 2 * pad), mode="bicubic", align_corners=True)
        field = field * (WARP_AMPLITUDE / field.abs().amax().clamp(min=1e-6))
        drift = torch.randn(2, generator=g)  # and a slow pan, so the content moves as a whole too

        def warp(q: Tensor) -> Tensor:
            grid = torch.stack(((q[..., 0] + pad + 0.5) * 2 / (w + 2 * pad) - 1,
                                (q[..., 1] + pad + 0.5) * 2 / (h + 2 * pad) - 1), -1)
            d = F.grid_sample(field, grid.reshape(1, -1, 1, 2), mode="bilinear", padding_mode="border",
                              align_corners=False)[0, :, :, 0].T.reshape(q.shape)
            return d + drift
        return warp
    raise ValueError(f"motion must be one of {MOTIONS}, got {kind!r}")


def _positions(h: int, w: int) -> Tensor:
    ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32),
                            indexing="ij")
    return torch.stack((xs, ys), -1)  # (h, w, 2) (x, y)


def camera(motion: str, seed: int, frames: int = FRAMES, size: tuple[int, int] = SIZE) -> tuple[Tensor, Tensor]:
    """The frames' positions in frame 0's coordinates, (T, h, w, 2) (x, y), and the backward flows (T, 2, h, w):
    G_t relative to G_0 for a camera making ``motion`` with a random speed (:func:`_motion`, from ``seed``)."""
    g = torch.Generator().manual_seed(seed)
    D = _motion(motion, g, size)
    p = _positions(*size)
    where, flows = [p], [torch.zeros(2, *size)]
    steps = []
    for _ in range(1, frames):
        steps.append(D)
        q = p
        for step in reversed(steps):  # G_t(p) = G_0(p + D_t(p) + ...): the last motion first
            q = q + step(q)
        where.append(q)
        flows.append(D(p).permute(2, 0, 1))
    return torch.stack(where), torch.stack(flows)


def _sample(still: Tensor, where: Tensor, offset: tuple[float, float], padding: str = "border") -> Tensor:
    """still (C, H, W) read bilinearly at ``where`` (T, h, w, 2) + ``offset`` (x, y): (T, C, h, w)."""
    H, W = still.shape[-2:]
    q = where + torch.tensor(offset)
    grid = torch.stack(((q[..., 0] + 0.5) * 2 / W - 1, (q[..., 1] + 0.5) * 2 / H - 1), -1)
    return F.grid_sample(still[None].expand(len(where), -1, -1, -1), grid, mode="bilinear", padding_mode=padding,
                         align_corners=False)


def _window(still_hw: tuple[int, int], where: Tensor) -> tuple[float, float]:
    """The offset (x, y) of frame 0 in a still of ``still_hw`` that keeps every frame's positions inside it
    (centred on the camera's path); a one-line error when the path does not fit."""
    lo, hi = where.amin(dim=(0, 1, 2)), where.amax(dim=(0, 1, 2))
    H, W = still_hw
    if hi[0] - lo[0] > W - 1 or hi[1] - lo[1] > H - 1:
        raise ValueError(f"the camera's path ({(hi - lo).tolist()} px) does not fit in a still of {W} x {H}")
    return (W - 1 - (hi[0] + lo[0]).item()) / 2, (H - 1 - (hi[1] + lo[1]).item()) / 2


def photo_clip(photo: Tensor, reference: Tensor, motion: str, seed: int, frames: int = FRAMES,
               size: tuple[int, int] = SIZE, name: str = "") -> Clip:
    """A clip of ``frames`` frames of ``size`` (h, w): a camera making ``motion`` (``MOTIONS``) over ``photo``
    (3, H, W), resized so that its short side is twice the frame's, coloured from ``reference``; exact flow."""
    where, flow = camera(motion, seed, frames, size)
    still = resize_short_side(photo, 2 * min(size)).clamp(0, 1)
    rgb = _sample(still, where, _window(tuple(still.shape[-2:]), where)).clamp(0, 1)
    mask = inside_mask(flow)
    mask[0] = 0
    return Clip(name or f"{motion}_{seed}", rgb, flow, mask, reference)


def add_sprite(clip: Clip, sprite: Tensor, seed: int) -> Clip:
    """``clip`` with ``sprite`` (3, s, s), a disc cut from another still, moving across it in a straight line
    (2-4 px per frame): the frames, the flow (the sprite's own velocity on it) and M_t (0 on the background the
    sprite uncovers, and where p + F_t(p) leaves the frame) are exact."""
    T, _, h, w = clip.rgb.shape
    s = sprite.shape[-1]
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(3, generator=g)
    sign = 1.0 if u[2] < 0.5 else -1.0
    v = torch.tensor([sign * (2.0 + 2.0 * u[1].item()), 0.0])  # px per frame
    start = torch.tensor([(w - s) * (0.5 - 0.3 * sign), (h - s) * u[0].item()])  # its top-left corner at t = 0
    yy, xx = torch.meshgrid(torch.arange(s) - (s - 1) / 2, torch.arange(s) - (s - 1) / 2, indexing="ij")
    disc = torch.cat((sprite, ((yy ** 2 + xx ** 2) <= (s / 2) ** 2).float()[None]))  # RGB + alpha
    p = _positions(h, w)
    rgb, flow, cover = clip.rgb.clone(), clip.flow.clone(), []
    for t in range(T):
        layer = _sample(disc, p[None] - start - t * v, (0.0, 0.0), "zeros")[0]
        a = layer[3:]
        rgb[t] = a * layer[:3] + (1 - a) * rgb[t]
        on = (a > 0.5).float()
        flow[t] = on * (-v)[:, None, None] + (1 - on) * flow[t]
        cover.append(on)
    flow[0] = 0
    mask = inside_mask(flow)
    for t in range(1, T):  # background seen in frame t whose place in frame t-1 was under the sprite
        was = F.grid_sample(cover[t - 1][None], sample_grid(flow[t:t + 1]), mode="nearest",
                            align_corners=False)[0]
        mask[t] *= 1 - (1 - cover[t]) * was
    mask[0] = 0
    return Clip(clip.name + "+sprite", rgb.clamp(0, 1), flow, mask, clip.reference, clip.exact)


def clip_file() -> str:
    """The shipped real clip's path (data/clips/bigbuckbunny.mp4, mapped into the wheel as reprolib/data/clips)."""
    installed = data_file("clips") / "bigbuckbunny.mp4"
    if installed.is_file():
        return str(installed)
    return str(data_file().parents[1] / "data" / "clips" / "bigbuckbunny.mp4")


def read_clip(path: str, start: int = 0, frames: int | None = None, step: int = 1) -> Tensor:
    """Frames ``start``, ``start + step``, ... of a video file or a folder of frames (at most ``frames``;
    :class:`.io.FrameReader`) as (T, 3, H, W) sRGB in [0, 1]."""
    out = []
    with FrameReader(path) as reader:
        for index, frame in enumerate(reader):
            if frames is not None and len(out) >= frames:
                break
            if index >= start and (index - start) % step == 0:
                out.append(frame)
    if not out:
        raise ValueError(f"{path}: no frame from frame {start} on")
    return torch.stack(out)


def real_clip(start: int = 0, frames: int | None = 24, step: int = 1, reference: Tensor | None = None,
              short: int | None = None) -> Clip:
    """Frames of the shipped real clip (None: all from ``start``), brought to a short side of ``short`` (None: as
    shipped, 144), its DIS flow and mask (from L*, as a user's clip would have them), coloured from ``reference``
    (None: the clip's own frame ``start``, in colour)."""
    from ..core.color import rgb_to_lab

    rgb = read_clip(clip_file(), start, frames, step)
    if short is not None:
        rgb = torch.stack([resize_short_side(f, short) for f in rgb]).clamp(0, 1)
    L = rgb_to_lab(rgb)[:, :1]
    flow, mask = clip_flows(L)
    return Clip(f"bunny_{start}", rgb, flow, mask, rgb[0] if reference is None else reference, exact=False)
