"""Temporal methods: from the per-frame prediction P_ab^t to a clip's output O^t that does not flicker.

Colouring each frame alone (``per_frame``) matches every frame against R again, so a pixel whose best match
changes between frames changes colour: the flicker of exemplar colorization on video. VID (Zhang et al., CVPR
2019) feeds its frame network the previous output and trains it with a temporal loss. Here every method reads
only what a user's clip has, the luminance of the frames and P_ab (the flow F_t and the mask M_t are estimated
from L by DIS and a forward-backward check, :func:`.flow.estimated_flow`), and keeps a state from frame to frame:

    per_frame:  O^t = P_ab^t
    filter:     O^t = P_ab^t + alpha M_t (W(O^{t-1}; F_t) - P_ab^t)             a temporal filter along the flow
    recurrent:  O^t = g W(O^{t-1}; F_t) + (1 - g) P_ab^t,  g = f(T_L^t, P_ab^t, W(O^{t-1}; F_t), M_t, ...)
                VID's recurrence: a small net trained with VID's temporal loss chooses g (:mod:`.recurrent`)

With alpha = 1 the filter propagates the first frame's colours wherever the flow says a pixel stays visible
(new content takes P_ab); below 1 it is an exponential average along the flow, each frame pulling the output
towards its own match.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from .flow import estimated_flow, flow_warp
from .recurrent import TemporalNet, load_temporal

# alpha of the filter, chosen on clips of the development and training photos (per_frame / 0.5 / 0.8 / 0.9 / 1):
# 0.9 had the lowest CIEDE2000 from a keyframe and within 0.01 of the lowest from another photo
FILTER_ALPHA = 0.9


@dataclass
class Temporal:
    """A temporal method's state along one clip: ``step`` takes each frame's T_L (1, 1, h, w) and P_ab (1, 2, h, w)
    in order and returns O (1, 2, h, w), estimating F_t and M_t itself unless they are given (``flow``,
    ``mask``: the same for every method on one clip, so a study computes them once); ``reset`` starts a new
    clip."""

    name: str = "per_frame"
    _L: Tensor | None = field(default=None, repr=False)
    _O: Tensor | None = field(default=None, repr=False)

    def reset(self) -> None:
        self._L = self._O = None

    def step(self, T_L: Tensor, P_ab: Tensor, flow: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        if self._O is None or self._L.shape != T_L.shape:
            O_ab = P_ab  # O^0: the first frame's own prediction
        else:
            if flow is None or mask is None:
                flow, mask = estimated_flow(T_L[0].cpu(), self._L[0].cpu())
            flow, mask = flow.to(P_ab), mask.to(P_ab)
            O_ab = self.next(T_L, P_ab, flow_warp(self._O, flow), mask, flow_warp(self._L, flow))
        self._L, self._O = T_L, O_ab
        return O_ab

    def next(self, T_L: Tensor, P_ab: Tensor, O_warped: Tensor, mask: Tensor, L_warped: Tensor) -> Tensor:
        """O^t from P_ab^t, W(O^{t-1}; F_t), M_t and W(T_L^{t-1}; F_t)."""
        return P_ab


@dataclass
class PerFrame(Temporal):
    """O^t = P_ab^t: the image pipeline on each frame alone (no flow is computed)."""

    def step(self, T_L: Tensor, P_ab: Tensor, flow: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        return P_ab


@dataclass
class FlowFilter(Temporal):
    """O^t = P_ab^t + alpha M_t (W(O^{t-1}; F_t) - P_ab^t)."""

    name: str = "filter"
    alpha: float = FILTER_ALPHA

    def next(self, T_L: Tensor, P_ab: Tensor, O_warped: Tensor, mask: Tensor, L_warped: Tensor) -> Tensor:
        return P_ab + self.alpha * mask * (O_warped - P_ab)


@dataclass
class Recurrent(Temporal):
    """O^t = g W(O^{t-1}) + (1 - g) P_ab^t, g from the trained :class:`~.recurrent.TemporalNet` (None: the shipped
    one)."""

    name: str = "recurrent"
    net: TemporalNet | None = None

    def __post_init__(self) -> None:
        self.net = load_temporal() if self.net is None else self.net.eval()

    def next(self, T_L: Tensor, P_ab: Tensor, O_warped: Tensor, mask: Tensor, L_warped: Tensor) -> Tensor:
        p = next(self.net.parameters())
        with torch.no_grad():
            O_ab = self.net(*(x.to(p) for x in (T_L, P_ab, O_warped, mask, (T_L - L_warped).abs())))
        return O_ab.to(P_ab)


VIDEO_METHODS = ("per_frame", "filter", "recurrent")
METHODS = {"per_frame": PerFrame, "filter": FlowFilter, "recurrent": Recurrent}


def temporal_method(name: str, net: TemporalNet | None = None) -> Temporal:
    """The method called ``name`` (``VIDEO_METHODS``), its state empty; ``net``: the recurrence's net (None: the
    shipped one)."""
    if name not in METHODS:
        raise ValueError(f"method must be one of {', '.join(VIDEO_METHODS)}, got {name!r}")
    return Recurrent(net=net) if name == "recurrent" else METHODS[name]()
