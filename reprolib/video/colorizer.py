"""Colour a clip frame by frame from one reference (or several), streaming: :class:`VideoColorizer`.

    frame^t  ->  T_L^t  ->  P_ab^t = the image pipeline (colorize's: the Chooser, hedged) against R
             ->  O^t = the temporal method (:mod:`.temporal`)  ->  (L^t at full size, O^t upsampled)  ->  sRGB

R's gray-VGG features are computed once for the whole clip (``Pipeline.reference_features``), so each frame costs
one gray-VGG pass, the matchers, the network and the temporal method. Frames go in one at a time and come out one
at a time: memory does not grow with the clip's length. Each output keeps its frame's size and exact L*.
"""
from __future__ import annotations

import os
import time
from collections.abc import Sequence

import torch
from torch import Tensor

from ..colorization.colorize import DEFAULT_FEATURES, check_options, upsample_ab
from ..colorization.grayvgg import GrayVGG
from ..colorization.grayvgg_weights import load_extractor
from ..colorization.pipelines import DEFAULT_METHOD, Plan, plan
from ..colorization.references import aspect, join_references
from ..core import checks
from ..core.color import rgb_to_lab
from ..core.devices import resolve_device
from ..core.photos import resize_short_side
from .temporal import VIDEO_METHODS, temporal_method

DEFAULT_VIDEO_METHOD = "filter"
VIDEO_SIZE = 192  # the working size (short side) of the image pipeline on each frame
__all__ = ["DEFAULT_VIDEO_METHOD", "VIDEO_METHODS", "VIDEO_SIZE", "VideoColorizer", "temporal_method"]


class VideoColorizer:
    """``colour = VideoColorizer(reference, method="filter")``; then ``colour(frame)`` for each frame in order, a
    (3, H, W) sRGB tensor in [0, 1] (only its L is used) -> (3, H, W) sRGB: O^t with the frame's own L*. Every
    frame of a clip must have the first frame's size. ``size``: the working size (short side; None:
    ``VIDEO_SIZE``); ``features``, ``device``, ``hedge``, ``chooser``: as :func:`~reprolib.colorization.colorize`.
    ``reset()`` starts another clip with the same reference."""

    def __init__(self, reference: Tensor | Sequence[Tensor], method: str = DEFAULT_VIDEO_METHOD,
                 size: int | None = None, features: str | os.PathLike | GrayVGG = DEFAULT_FEATURES,
                 device: str = "cpu", hedge: bool = True, chooser: bool | None = None) -> None:
        refs = [reference] if isinstance(reference, Tensor) else list(reference)
        if not refs:
            raise ValueError("no reference image given")
        self.references = [checks.rgb_image(r, f"reference {i + 1}" if len(refs) > 1 else "reference")
                           for i, r in enumerate(refs)]
        self.size = VIDEO_SIZE if size is None else size
        check_options(self.size, DEFAULT_METHOD, None)
        self.temporal = temporal_method(method)
        self.method = method
        self.device = resolve_device(device)
        self.model = load_extractor(features).to(self.device)
        self.hedge, self.chooser = hedge, chooser
        self.frame_size: tuple[int, int] | None = None  # (H, W) of the clip's frames, from the first
        self.frames = 0  # frames coloured since the last reset
        self.seconds = 0.0  # their wall time
        self._plan: Plan | None = None
        self._planned: tuple[int, int] | None = None  # the frame size R's features were computed for

    def reset(self) -> None:
        """A new clip: the temporal state, the frame size and the counters start again (R's features are kept
        when the new clip's frames have the same size)."""
        self.temporal.reset()
        self.frames, self.seconds, self.frame_size = 0, 0.0, None

    def _start(self, hw: tuple[int, int]) -> None:
        """Plan the pipeline for frames of size ``hw`` and compute R's features once (again only for another size)."""
        self.frame_size = hw
        if hw == self._planned:
            return
        refs = self.references
        reference_hw = tuple(refs[0].shape[-2:]) if len(refs) == 1 else aspect(refs)
        self._plan = plan(self.model, hw, reference_hw, self.size, DEFAULT_METHOD, self.chooser, hedge=self.hedge)
        if len(refs) == 1:
            r_small, self._splits = resize_short_side(refs[0], self._plan.size).clamp(0, 1), ()
        else:
            r_small, self._splits = join_references(refs, self._plan.size)
        self.pipeline = self._plan.pipeline.to(self.device)
        self._R_lab = rgb_to_lab(r_small)[None].to(self.device)
        self._R_features = self.pipeline.reference_features(self.model, self._R_lab, self._splits)
        self._planned = hw

    @torch.no_grad()
    def predict(self, frame: Tensor) -> tuple[Tensor, Tensor]:
        """The frame's T_L (1, 1, h, w) at the working size and P_ab^t (1, 2, h, w), the image pipeline alone."""
        frame = checks.rgb_image(frame, f"frame {self.frames + 1}")
        hw = tuple(frame.shape[-2:])
        if self.frame_size is None:
            self._start(hw)
        elif hw != self.frame_size:
            raise ValueError(f"frame {self.frames + 1} is {hw[1]} x {hw[0]} pixels, the clip's first frame "
                             f"{self.frame_size[1]} x {self.frame_size[0]}: a clip's frames must share one size")
        T_L = rgb_to_lab(resize_short_side(frame, self._plan.size).clamp(0, 1))[None, :1].to(self.device)
        P_ab, _ = self.pipeline.run(self.model, T_L, self._R_lab, False, self._splits, self._R_features)
        return T_L, P_ab

    @torch.no_grad()
    def __call__(self, frame: Tensor) -> Tensor:
        start = time.perf_counter()
        T_L, P_ab = self.predict(frame)
        O_ab = self.temporal.step(T_L, P_ab)
        rgb = upsample_ab(O_ab.cpu(), rgb_to_lab(frame)[:1])
        self.frames += 1
        self.seconds += time.perf_counter() - start
        return rgb
