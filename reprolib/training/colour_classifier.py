"""The judge of notebook 03: a small colour classifier, the analogue of the paper's classification test (a
VGG classifier trained on colour photos, run on colorized photos), and its trainer.

It predicts per pixel WHICH PALETTE the pixel's class wears (``scenes.PALETTES``). The palettes of a class
share L* exactly, so a gray image (or luminance alone) can only guess: its accuracy is about the chance
level mean_p 1 / P_{class(p)} (:func:`classifier_chance`), while an image in the right colours scores about
as high as the ground truth.

Training: true-colour scenes ``sample_scenes(train_data_seed(seed, step))`` with per-pixel cross-entropy on
the palette index (colours jittered by +-``jitter`` a*, b* per class, from the run's own generator), Adam
with a cosine learning rate, on the one loop of :mod:`.loop` (``python -m reprolib train classifier``).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..core import checks, color
from ..core.configs import setting
from ..core.devices import device_of, to_device
from ..core.seeds import heldout_seed, train_data_seed
from ..core.weights import Weights, WeightsEnum, load_checkpoint
from ..world import scenes
from . import loop

CLASSIFIER_FORMAT = "reprolib.colour_classifier/1"


class ColourClassifierWeights(WeightsEnum):
    COLOUR_CLASSIFIER = Weights(
        name="colour_classifier", kind="colour classifier", file="colour_classifier.pt", format=CLASSIFIER_FORMAT,
        sha256="9669cfb7cca32abf493f433750e824bb0131d16b9990a479ff322ddecd54400b", seed=0,
        licence="MIT (trained by this project)",
        command="python -m reprolib train classifier --out colour_classifier.pt --steps 400 --seed 0",
        source="per-pixel palette classifier trained on true-colour synthetic scenes (400 steps)")


class ColourClassifier(nn.Module):
    """A tiny fully convolutional net: sRGB image (B, 3, H, W) -> per-pixel logits (B, max P, H, W) over
    the palette index of the pixel's class (``scenes.PALETTES``).

    Full-resolution stem (2 convs) -> stride-2 context branch (dilations 1, 2, 4, receptive field ~40 px,
    enough to recognise a class by its texture) -> upsampled, concatenated with the stem -> 3x3 conv -> 1x1.
    Input normalised as (rgb - 0.5) / 0.25. The palette of a class is a colour property only (the palettes
    of a class share L*), so the net has to read colour.
    """

    def __init__(self, width: int = 16, outputs: int = max(scenes.NUM_PALETTES)):
        super().__init__()
        self.width, self.outputs = checks.int_at_least(width, "width"), checks.int_at_least(outputs, "outputs", 2)
        w = width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, w, 3, padding=1), nn.ReLU())
        self.context = nn.Sequential(
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=2, dilation=2), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=4, dilation=4), nn.ReLU())
        self.head = nn.Sequential(nn.Conv2d(3 * w, w, 3, padding=1), nn.ReLU(), nn.Conv2d(w, outputs, 1))

    def forward(self, rgb: Tensor) -> Tensor:
        x = self.stem((rgb - 0.5) / 0.25)
        c = F.interpolate(self.context(x), size=x.shape[-2:], mode="bilinear", align_corners=False)
        return self.head(torch.cat((x, c), dim=1))


def palette_targets(scene: scenes.Scene) -> Tensor:
    """(B, H, W) int64: palette index of every pixel's class, palette[b, labels[b, y, x]]."""
    B = len(scene)
    return scene.palette.gather(1, scene.labels.view(B, -1)).view_as(scene.labels)


def classifier_chance(labels: Tensor) -> float:
    """Accuracy of guessing uniformly among the palettes of each pixel's class: mean_p 1 / P_{class(p)}."""
    inv = 1.0 / torch.tensor(scenes.NUM_PALETTES, dtype=torch.float64)
    return inv[labels.flatten()].mean().item()


@torch.no_grad()
def classifier_accuracy(net: ColourClassifier, rgb: Tensor, truth: scenes.Scene, batch_size: int = 64) -> Tensor:
    """Per-image accuracy (B,) of ``net``'s per-pixel palette predictions on ``rgb`` (B, 3, H, W)
    against the palettes of ``truth`` (same layout). Palettes a class does not have are never predicted."""
    rgb = checks.net_input(rgb, 3, "rgb")
    if rgb.shape[0] != len(truth) or tuple(rgb.shape[-2:]) != tuple(truth.labels.shape[-2:]):
        raise ValueError(f"rgb {tuple(rgb.shape)} does not match the truth's layout {tuple(truth.labels.shape)}")
    valid = torch.arange(net.outputs).view(1, -1) < torch.tensor(scenes.NUM_PALETTES).view(-1, 1)  # (C, P)
    out = []
    for i in range(0, rgb.shape[0], batch_size):
        logits = net(rgb[i:i + batch_size].float())
        ok = valid[truth.labels[i:i + batch_size]].permute(0, 3, 1, 2)  # (b, P, H, W)
        pred = logits.masked_fill(~ok, -math.inf).argmax(dim=1)
        out.append((pred == palette_targets(truth[i:i + batch_size])).float().mean(dim=(1, 2)))
    return torch.cat(out)


def jitter_colours(scene: scenes.Scene, g: torch.Generator, amount: float) -> Tensor:
    """sRGB of ``scene`` with every class's (a*, b*) shifted by a uniform offset in [-amount, amount]
    (one per scene and class; palettes of a class are >= 20 CIEDE2000 apart, so the label stays right)."""
    B = len(scene)
    shift = (torch.rand(B, len(scenes.CLASSES), 2, generator=g) * 2 - 1) * amount
    per_pixel = shift.gather(1, scene.labels.view(B, -1, 1).expand(-1, -1, 2)).permute(0, 2, 1)
    ab = scene.ab + per_pixel.reshape(B, 2, *scene.labels.shape[-2:])
    return color.lab_to_rgb(torch.cat((scene.L, ab), dim=1))



# ---------------------------------------------------------------------------------------------- training
@dataclass
class Config:
    steps: int = setting(400, "optimiser steps")
    batch_size: int = setting(24, "scenes per step")
    size: int = setting(64, "scene size in pixels")
    lr: float = setting(3e-3, "peak Adam learning rate")
    width: int = setting(16, "channel width of the classifier")
    jitter: float = setting(5.0, "+- a*, b* jitter of each class's colours")
    seed: int = setting(0, "seed of the model and the data stream")
    heldout_n: int = setting(200, "held-out scenes for the final accuracy")

    def check(self) -> Config:
        checks.int_at_least(self.steps, "steps")
        checks.int_at_least(self.batch_size, "batch_size")
        checks.int_at_least(self.size, "size", 16)
        train_data_seed(self.seed, self.steps - 1)
        return self


@dataclass
class Parts:
    net: ColourClassifier
    opt: torch.optim.Optimizer
    jitter: torch.Generator

    def stateful(self) -> dict:
        return {"model": self.net, "optimizer": self.opt, "jitter": loop.GeneratorState(self.jitter)}


def build(cfg: Config) -> Parts:
    torch.manual_seed(cfg.seed)
    net = ColourClassifier(cfg.width)
    return Parts(net, torch.optim.Adam(net.parameters(), lr=cfg.lr), torch.Generator().manual_seed(cfg.seed))


def step(cfg: Config, parts: Parts, i: int) -> dict:
    loop.set_lr(parts.opt, cfg.lr * 0.5 * (1 + math.cos(math.pi * i / cfg.steps)))
    scene = scenes.sample_scenes(train_data_seed(cfg.seed, i), cfg.batch_size, cfg.size)
    x, targets = to_device((jitter_colours(scene, parts.jitter, cfg.jitter), palette_targets(scene)),
                           device_of(parts.net))
    logits = parts.net(x)
    loss = F.cross_entropy(logits, targets)
    parts.opt.zero_grad()
    loss.backward()
    parts.opt.step()
    return {"loss": loss.item()}


def finish(cfg: Config, parts: Parts, history: list, rank: int) -> tuple[dict, dict]:
    net = parts.net.eval()
    target, reference = scenes.sample_pairs(heldout_seed(0), cfg.heldout_n, cfg.size)
    truth = scenes.ground_truth(target, reference)
    gray = color.lab_to_rgb(torch.cat((truth.L, torch.zeros_like(truth.ab)), dim=1))
    metrics = {
        "task": "per-pixel palette index of the pixel's class (scenes.PALETTES), from sRGB",
        "parameters": sum(p.numel() for p in net.parameters()),
        "final_train_loss": round(history[-1]["loss"], 4),
        "heldout": f"ground_truth(*sample_pairs(heldout_seed(0), {cfg.heldout_n}, {cfg.size}))",
        "heldout_accuracy_true_colour": round(classifier_accuracy(net, truth.rgb, truth).mean().item(), 4),
        "heldout_accuracy_gray": round(classifier_accuracy(net, gray, truth).mean().item(), 4),
        "heldout_chance": round(classifier_chance(truth.labels), 4),
    }
    checkpoint = {"format": CLASSIFIER_FORMAT, "config": {"width": cfg.width, "outputs": net.outputs},
                  "state_dict": {k: v.detach().clone() for k, v in net.state_dict().items()}}
    return checkpoint, metrics


def data(cfg: Config) -> str:
    return (f"true-colour scenes.sample_scenes(train_data_seed({cfg.seed}, step), {cfg.batch_size}, {cfg.size}), "
            f"step = 0..{cfg.steps - 1}; a*, b* of each class jittered by +-{cfg.jitter}")


TRAINER = loop.Trainer("colour_classifier", build, step, finish, data)


def summary(metrics: dict) -> str:
    """The line ``train classifier`` ends with."""
    return (f"held-out accuracy {metrics['heldout_accuracy_true_colour']:.4f} on true colours, "
            f"{metrics['heldout_accuracy_gray']:.4f} on gray (chance {metrics['heldout_chance']:.4f}) in "
            f"{metrics['seconds']} s")


def train(out: str | os.PathLike, *, resume: bool = True, progress: bool = True, device: str | None = None,
          checkpoint_every: int = 100,
          command: str | None = None, **settings) -> dict:
    """Train :class:`ColourClassifier` with ``Config(**settings)``; write ``out`` and its provenance
    ``out``.json (held-out accuracy on true colours and on gray images). Returns the metrics."""
    return loop.fit(TRAINER, Config(**settings), out, command=command, resume=resume, progress=progress,
                    checkpoint_every=checkpoint_every, device=device)


def load_classifier(path: str | os.PathLike | ColourClassifierWeights | None = None) -> ColourClassifier:
    """The shipped colour classifier (or a file written by :func:`train`) in eval mode; weights_only, sha256 checked."""
    source = ColourClassifierWeights.COLOUR_CLASSIFIER if path is None else path
    where = source.path if isinstance(source, ColourClassifierWeights) else os.fspath(source)
    obj = load_checkpoint(source, CLASSIFIER_FORMAT, "colour classifier checkpoint",
                          make=f"python -m reprolib train classifier --out {where}")
    try:
        net = ColourClassifier(int(obj["config"]["width"]), int(obj["config"]["outputs"]))
        net.load_state_dict(obj["state_dict"])
    except (KeyError, TypeError, RuntimeError) as err:
        raise ValueError(f"{where}: malformed colour classifier checkpoint "
                         f"({str(err).splitlines()[0][:160]})") from None
    return net.eval()
