"""VID's recurrence, small: a net that reads the previous output warped to this frame and decides, per pixel, how
much of it to keep (the ``recurrent`` temporal method of :mod:`.temporal`).

VID's frame network takes L_t, the reference's warped colours, the similarity map and the previous output, and
is trained with, among other losses, the temporal loss 0.02 mean(M (W(ab_t) - ab_{t-1})^2). Ours keeps the image
pipeline as it is (P_ab^t, the Chooser's output) and learns only the recurrence on top of it:

    g     = f(T_L^t, P_ab^t, W(O^{t-1}; F_t), M_t, |T_L^t - W(T_L^{t-1}; F_t)|)           a 5-layer conv net
    O^t   = g W(O^{t-1}; F_t) + (1 - g) P_ab^t                                         g = sigmoid in [0, 1]

trained (:mod:`reprolib.training.temporal`) on clips of the training photos, unrolled over their frames, with
F_t and M_t estimated by DIS as at inference, against

    loss = smooth_L1(O^t, T_ab^t) + lambda_t mean(M*_t (O^t - W(O^{t-1}; F*_t))^2)     (F*, M*: the exact flow)

in a*b* / 110. O^t is a convex combination of the frames' own predictions carried along the flow, so it cannot
drift outside their colours: a first version that added a learned residual r to it turned a 132-frame clip
steadily redder (it was trained on 8-frame clips, and r added up frame after frame).

Where we deviate from VID: the image pipeline is not retrained (only f learns, 30 k parameters), no adversarial or
perceptual loss, and lambda_t is chosen here (``TEMPORAL_WEIGHT``) since VID's 0.02 balances its other losses,
not ours; the |L| difference is an input VID does not have (it flags where the flow failed).
"""
from __future__ import annotations

import os

import torch
from torch import Tensor, nn

from ..core.weights import Weights, WeightsEnum, load_checkpoint

FORMAT = "reprolib.temporal_net/2"  # /1 had a residual output
AB_SCALE = 110.0
WIDTH = 32
# lambda_t on (a*b* / 110)^2, chosen on the development clips: 30 against 100 (CIEDE2000 8.40 / 8.44, warp error
# x1000 0.763 / 0.764; per frame 8.51 / 1.24, the filter 8.37 / 0.79). With the first, residual version of the net
# lambda_t = 1 left it less consistent than per frame (1.44): the temporal term was a few % of the loss
TEMPORAL_WEIGHT = 30.0


class TemporalNet(nn.Module):
    """f of the module docstring: 7 input channels -> the gate g."""

    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        self.width = width
        layers, c = [], 7
        for dilation in (1, 2, 4, 1):
            layers += [nn.Conv2d(c, width, 3, padding=dilation, dilation=dilation), nn.ReLU(inplace=True)]
            c = width
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(width, 1, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)  # at initialisation g = 1/2 everywhere

    def forward(self, T_L: Tensor, P_ab: Tensor, O_warped: Tensor, mask: Tensor, L_change: Tensor) -> Tensor:
        """O^t (B, 2, H, W) from T_L (B, 1, H, W) in L*, P_ab and W(O^{t-1}) (B, 2, H, W) in a*b*, M_t and
        |T_L^t - W(T_L^{t-1})| (B, 1, H, W)."""
        x = torch.cat(((T_L - 50) / 50, P_ab / AB_SCALE, O_warped / AB_SCALE, mask, L_change / 25), 1)
        g = torch.sigmoid(self.out(self.body(x)))
        return g * O_warped + (1 - g) * P_ab


def checkpoint_dict(net: TemporalNet, **meta) -> dict:
    """What the trainer saves: format, config, float32 state_dict and provenance."""
    return {"format": FORMAT, "config": {"width": net.width},
            "state_dict": {k: v.detach().float().cpu().clone() for k, v in net.state_dict().items()}, "meta": meta}


class TemporalWeights(WeightsEnum):
    """The shipped recurrence (``train temporal`` made it)."""

    TEMPORAL_SMALL = Weights(
        name="temporal_small", kind="TemporalNet", file="temporal_small.pt", format=FORMAT, seed=0,
        sha256="db5e46da2167460204aed1ea129caa188aef6faf87b33d227944a12dccea24e6",
        licence="MIT (trained by this project)", features="grayvgg_small_photo",
        command="python -m reprolib train temporal --out temporal_small.pt",
        source="clips of the training photos (pans, zooms, warps, sprites) coloured by the photo Chooser")


def load_temporal(path: str | os.PathLike | TemporalWeights = TemporalWeights.TEMPORAL_SMALL) -> TemporalNet:
    """A trained :class:`TemporalNet` in eval mode from the registry entry or a ``train temporal`` file
    (weights_only, sha256 checked for the entry)."""
    entry = path if isinstance(path, TemporalWeights) else None
    where = entry.path if entry else os.fspath(path)
    obj = load_checkpoint(path, FORMAT, "temporal checkpoint", make=f"python -m reprolib train temporal --out {where}")
    try:
        net = TemporalNet(int(obj["config"]["width"]))
        net.load_state_dict(obj["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{where}: malformed temporal checkpoint ({str(err).splitlines()[0][:160]})") from None
    net.meta = dict(obj.get("meta", {}))
    return net.eval()
