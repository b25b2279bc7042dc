"""The networks of Inserting Videos into Videos in miniature (Lee, Pfister, Yang; CVPR 2019).

* **Blending** (core 1): the generator predicts a soft alpha and a foreground and composites them with its
  input background, ``y = alpha * f + (1 - alpha) * r_B``, so pixels away from the object are kept exactly;
  a **direct** generator (``y = G(c, r)``) is the comparison.
* The image discriminator D (a patch GAN) and **the pair discriminator** P (core 2), which guesses from an
  output alone whether its input was a fake pair (0) or a real pair (1); :func:`gradient_reversal` is
  DANN's layer (Ganin & Lempitsky 2015), the alternative way to train the generator against P.

The shipped generators are :class:`InsertionWeights` entries (``python -m reprolib train insertion``).
"""
from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core import checks
from ..core.weights import Weights, WeightsEnum, load_checkpoint

CHECKPOINT_FORMAT = "reprolib.insertion/1"
_COMMAND = ("OMP_NUM_THREADS=1 python -m reprolib train insertion --out {name}.pt --steps 300 --seed 0 --pair {pair}")


class InsertionWeights(WeightsEnum):
    """The shipped insertion generators (blending, 300 steps, seed 0, one thread)."""

    INSERTION_WITH_PAIR_DISCRIMINATOR = Weights(
        name="insertion_with_pair_discriminator", kind="insertion generator",
        file="insertion/with_pair_discriminator.pt",
        sha256="3434de2fd2274327b8f4116bd94d9e645e6779b7388547fa9a89248c1ade6ac6", format=CHECKPOINT_FORMAT, seed=0,
        licence="MIT (trained by this project)",
        command=_COMMAND.format(name="with_pair_discriminator", pair="confusion"),
        features="grayvgg_small_synthetic",
        source="blending generator trained with the pair discriminator (confusion loss)")
    INSERTION_WITHOUT_PAIR_DISCRIMINATOR = Weights(
        name="insertion_without_pair_discriminator", kind="insertion generator",
        file="insertion/without_pair_discriminator.pt", format=CHECKPOINT_FORMAT, seed=0,
        sha256="d8b005ae8b9ae12b177df010a0f6c84976ae44f1f53d170fb1f4a4852dc706c5",
        licence="MIT (trained by this project)",
        command=_COMMAND.format(name="without_pair_discriminator", pair="none"),
        features="grayvgg_small_synthetic", source="blending generator trained without the pair discriminator")
    INSERTION_WITH_PAIR_DISCRIMINATOR_MATTE_HELD = Weights(
        name="insertion_with_pair_discriminator_matte_held", kind="insertion generator",
        file="insertion/with_pair_discriminator_matte_held.pt", format=CHECKPOINT_FORMAT, seed=0,
        sha256="1a9520b3ae4a7c6d28f72fadf8101f5c7f0a38fa9dca051c6ba442ad19078d03",
        licence="MIT (trained by this project)",
        command=_COMMAND.format(name="with_pair_discriminator_matte_held", pair="confusion") + " --hold-matte",
        features="grayvgg_small_synthetic",
        source="blending generator trained with the pair discriminator, its term unable to move the matte "
               "(the fair test of notebook 04)")


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.LeakyReLU(0.2))


class InsertionGenerator(nn.Module):
    """G(c, r): composite c and background r (n, 3, S, S) in [0, 1] -> frame y (n, 3, S, S) in [0, 1].

    A small U-Net (32 -> 16 -> 8 px and back, skip connections) with a global context vector (the mean of
    the deepest features, broadcast back) so that the whole background's light can inform every pixel.
    ``blending=True`` (the paper's strategy): the head gives alpha and a foreground f that recolours the
    composite, y = alpha * f + (1 - alpha) * r, alpha = sigmoid(h_a), f = sigmoid(exp(gamma) logit(c) + o + h_f),
    with a per-image, per-channel gain gamma and offset o from the context vector (a global colour change, which
    is most of harmonisation) and a per-pixel correction h_f; gamma = o = h_f = 0 keeps c.
    ``blending=False`` (direct): y = sigmoid(h), every pixel generated.
    """

    def __init__(self, width: int = 12, blending: bool = True):
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        w = width
        self.blending, self.width = blending, width
        self.enc1 = _conv(6, w)
        self.enc2 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))
        self.enc3 = nn.Sequential(_conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w))
        self.context = nn.Linear(4 * w, 4 * w)
        self.dec2 = _conv(6 * w, 2 * w)
        self.dec1 = _conv(3 * w, w)
        self.head = nn.Conv2d(w, 4 if blending else 3, 3, 1, 1)
        self.colour = nn.Linear(4 * w, 6)  # per-image gain and offset of the foreground's colour (logit space)
        nn.init.zeros_(self.colour.weight)
        nn.init.zeros_(self.colour.bias)
        if blending:  # start with alpha ~ 0.12: keep the background, leave the object room to grow
            with torch.no_grad():
                self.head.bias[0] = -2.0

    def parts(self, composite: Tensor, background: Tensor,
              hold_matte: bool = False) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """(y, alpha, foreground); alpha and foreground are None for the direct generator. ``hold_matte``: the
        same y, but no gradient reaches G through alpha (a loss on y can recolour the foreground f, not move the
        matte: the object can change how it looks, not whether it is there)."""
        checks.rgb_batch(composite, "composite")
        checks.rgb_batch(background, "background")
        if composite.shape != background.shape:
            raise ValueError(f"composite {tuple(composite.shape)} and background {tuple(background.shape)} differ")
        x = torch.cat((composite, background), dim=1) * 2 - 1
        e1 = self.enc1(x)
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        context = self.context(e3.mean(dim=(2, 3)))
        e3 = e3 + context[:, :, None, None]
        d2 = self.dec2(torch.cat((F.interpolate(e3, scale_factor=2.0), e2), dim=1))
        d1 = self.dec1(torch.cat((F.interpolate(d2, scale_factor=2.0), e1), dim=1))
        h = self.head(d1)
        if not self.blending:
            return torch.sigmoid(h), None, None
        alpha = torch.sigmoid(h[:, :1])
        if hold_matte:
            alpha = alpha.detach()
        gain, offset = self.colour(context)[:, :, None, None].chunk(2, dim=1)
        fg = torch.sigmoid(torch.logit(composite, eps=1e-3) * torch.exp(gain) + offset + h[:, 1:])
        return alpha * fg + (1 - alpha) * background, alpha, fg

    def forward(self, composite: Tensor, background: Tensor) -> Tensor:
        return self.parts(composite, background)[0]


class PatchDiscriminator(nn.Module):
    """Image discriminator D (patch GAN): (n, 3, S, S) -> logits (n, 1, S/4, S/4), one per 18 x 18 patch."""

    def __init__(self, width: int = 12):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(3, width, 4, 2, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(width, 2 * width, 4, 2, 1), nn.LeakyReLU(0.2),
                                 nn.Conv2d(2 * width, 1, 3, 1, 1))

    def forward(self, y: Tensor) -> Tensor:
        return self.net(checks.rgb_batch(y, "image") * 2 - 1)


class PairDiscriminator(nn.Module):
    """Pair discriminator P: from an output y alone, the logit that its input was a real pair (u_A + r_B)
    rather than a fake pair (u_B + r_B). Sees the whole frame (global mean and max pooling)."""

    def __init__(self, width: int = 12):
        super().__init__()
        self.net = nn.Sequential(_conv(3, width, 2), _conv(width, 2 * width), _conv(2 * width, 2 * width, 2),
                                 _conv(2 * width, 2 * width))
        self.out = nn.Linear(4 * width, 1)

    def forward(self, y: Tensor) -> Tensor:
        h = self.net(checks.rgb_batch(y, "image") * 2 - 1)
        return self.out(torch.cat((h.mean(dim=(2, 3)), h.amax(dim=(2, 3))), dim=1)).squeeze(1)


class _GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, scale: float) -> Tensor:
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return -ctx.scale * grad, None


def gradient_reversal(x: Tensor, scale: float = 1.0) -> Tensor:
    """Identity forward, gradient times -scale backward (DANN's gradient-reversal layer R_lambda)."""
    return _GradientReversal.apply(x, float(scale))



def load_generator(path: str | os.PathLike | InsertionWeights) -> InsertionGenerator:
    """A generator written by ``train insertion`` (a registry entry or a file; weights_only, sha256
    checked), in eval mode; ``g.config`` and ``g.metrics`` hold its settings and held-out metrics."""
    obj = load_checkpoint(path, CHECKPOINT_FORMAT, "insertion checkpoint")
    cfg = obj["config"]
    g = InsertionGenerator(cfg["width"], cfg["blending"])
    g.load_state_dict(obj["generator"])
    g.config, g.metrics = dict(cfg), dict(obj.get("metrics", {}))
    return g.eval()


def shipped(name: str) -> InsertionGenerator:
    """A shipped generator by name ("with_pair_discriminator", "without_pair_discriminator",
    "pair_discriminator_matte_held")."""
    entries = {"with_pair_discriminator": InsertionWeights.INSERTION_WITH_PAIR_DISCRIMINATOR,
               "without_pair_discriminator": InsertionWeights.INSERTION_WITHOUT_PAIR_DISCRIMINATOR,
               "pair_discriminator_matte_held": InsertionWeights.INSERTION_WITH_PAIR_DISCRIMINATOR_MATTE_HELD}
    if name not in entries:
        raise ValueError(f"unknown shipped generator {name!r}; expected one of {', '.join(entries)}")
    return load_generator(entries[name])
