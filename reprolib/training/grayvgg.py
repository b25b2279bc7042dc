"""Training the small gray-VGG of :mod:`reprolib.colorization.grayvgg` on the synthetic world, from the
luminance L only, so that its features tell the semantic classes apart (the paper's gray-VGG-19 is VGG-19
trained for ImageNet classification on L; here the classes are the world's: sky, grass, water, ...).

Objective: dense per-pixel classification, FCN-style, with cosine classifiers. On each of relu2_2,
relu3_3, relu4_3 and relu5_3 a 1x1 "cosine convolution" scores every class, the four score maps are
upsampled bilinearly to the image size and summed, and the loss is the mean per-pixel cross-entropy
against the scene's label map:

    logits_c(p) = sum_l up(s cos(F_l, w_l,c))(p),     loss = mean_p -log softmax(logits(p))[label(p)]

(F_l the features of layer l, w_l,c a learned class direction, s = 10). Matching compares features by
cosine similarity, so the features are trained for exactly that: pixels of one class point the same way.
With plain linear heads the held-out accuracy after 300 steps was 0.945 and nn_label_agreement at relu3_1
0.79 (random weights: 0.78); with cosine heads 0.969 and 0.88. Heads on more layers (relu3_1, relu4_1,
relu5_1 too) did not help.

Reproducibility: the batch of step s is ``scenes.sample_scenes(train_data_seed(seed, s), batch_size, size)``,
a deterministic function of (seed, s); held-out scenes come from a disjoint seed range (``heldout_seed``).
The loop (:mod:`.loop`) resumes bit-identically.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..colorization.grayvgg import GrayVGG
from ..colorization.grayvgg_weights import SMALL_CONVS, SMALL_WIDTHS, small_checkpoint, small_grayvgg
from ..core.configs import setting
from ..core.devices import device_of, to_device
from ..core.seeds import heldout_seed, train_data_seed
from ..world import scenes
from . import loop


@dataclass
class Config:
    """Every setting of a run (all of them enter the checkpoint and the resume check)."""

    steps: int = setting(800, "optimiser steps")
    batch_size: int = setting(32, "scenes per step")
    seed: int = setting(0, "seed of the model and the data stream")
    size: int = setting(64, "scene size in pixels")
    widths: tuple[int, ...] = setting(SMALL_WIDTHS, "channels of the five blocks")
    convs: tuple[int, ...] = setting(SMALL_CONVS, "convolutions of the five blocks")
    head_layers: tuple[str, ...] | None = setting(None, "layers the dense head reads (none: the last of blocks 2-5)")
    head_type: str = setting("cosine", "dense head: cosine classifiers (the features matching compares) or linear",
                             choices=("cosine", "linear"))
    lr: float = setting(2e-3, "peak learning rate")
    weight_decay: float = setting(1e-4, "weight decay")
    eval_n: int = setting(256, "held-out scenes for the final per-pixel accuracy")

    def check(self) -> Config:
        if self.steps < 1 or self.batch_size < 1:
            raise ValueError(f"steps, batch_size and checkpoint_every must be >= 1, "
                             f"got {self.steps}, {self.batch_size}")
        train_data_seed(self.seed, self.steps - 1)  # validates the seed and step ranges
        self.widths, self.convs = tuple(int(w) for w in self.widths), tuple(int(c) for c in self.convs)
        self.head_layers = None if self.head_layers is None else tuple(self.head_layers)
        return self


@dataclass
class Parts:
    model: GrayVGG
    opt: torch.optim.Optimizer

    def stateful(self) -> dict:
        return {"model": self.model, "optimizer": self.opt}


def build(cfg: Config) -> Parts:
    torch.manual_seed(cfg.seed)
    model = small_grayvgg(cfg.widths, cfg.convs, num_classes=len(scenes.CLASSES), classes=scenes.CLASSES,
                          head_layers=cfg.head_layers, head_type=cfg.head_type,
                          source=f"small gray-VGG being trained (seed {cfg.seed})")
    model.train()
    return Parts(model, torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay))


def batch(seed: int, step: int, batch_size: int, size: int):
    """The training batch of ``step``: (L (B, 1, H, W), labels (B, H, W))."""
    scene = scenes.sample_scenes(train_data_seed(seed, step), batch_size, size)
    return scene.L, scene.labels


def step(cfg: Config, parts: Parts, i: int) -> dict:
    """One AdamW step of the per-pixel cross-entropy on batch ``i``."""
    L, labels = to_device(batch(cfg.seed, i, cfg.batch_size, cfg.size), device_of(parts.model))
    loop.schedule(parts.opt, i, cfg.steps, cfg.lr)
    logits = parts.model.classify(L)
    loss = F.cross_entropy(logits, labels)
    parts.opt.zero_grad(set_to_none=True)
    loss.backward()
    parts.opt.step()
    return {"loss": loss.item(), "acc": (logits.detach().argmax(1) == labels).float().mean().item()}


@torch.no_grad()
def evaluate_grayvgg(model: GrayVGG, n: int = 256, seed: int = 0, size: int = 64, batch_size: int = 64) -> float:
    """Held-out per-pixel accuracy of ``model.classify`` on ``n`` fresh scenes (seed range disjoint from training)."""
    was_training = model.training
    model.eval()
    scene = scenes.sample_scenes(heldout_seed(seed), n, size)
    correct = 0
    for i in range(0, n, batch_size):
        pred = model.classify(scene.L[i:i + batch_size]).argmax(1).cpu()
        correct += (pred == scene.labels[i:i + batch_size]).sum().item()
    model.train(was_training)
    return correct / scene.labels.numel()


def finish(cfg: Config, parts: Parts, history: list, rank: int) -> tuple[dict, dict]:
    model = parts.model.eval()
    heldout = evaluate_grayvgg(model, n=cfg.eval_n, seed=cfg.seed, size=cfg.size)
    tail = history[-50:]
    metrics = {
        "steps": cfg.steps, "seed": cfg.seed, "batch_size": cfg.batch_size, "size": cfg.size,
        "widths": list(cfg.widths), "convs": list(cfg.convs), "lr": cfg.lr,
        "train_loss": round(sum(h["loss"] for h in tail) / len(tail), 4),
        "train_accuracy": round(sum(h["acc"] for h in tail) / len(tail), 4),
        "heldout_accuracy": round(heldout, 4), "heldout_n": cfg.eval_n, "heldout_scene_seed": heldout_seed(cfg.seed),
        "torch": str(torch.__version__),
        "objective": "dense per-pixel cross-entropy over scenes.CLASSES, cosine 1x1 heads (s=10) on "
                     + ", ".join(model.head_layers),
    }
    return small_checkpoint(model, **metrics), metrics


def data(cfg: Config) -> str:
    return (f"synthetic scenes: step s trains on scenes.sample_scenes(train_data_seed({cfg.seed}, s), "
            f"{cfg.batch_size}, {cfg.size}); held-out scenes from heldout_seed({cfg.seed})")


TRAINER = loop.Trainer("grayvgg", build, step, finish, data)


def summary(metrics: dict) -> str:
    """The line ``train grayvgg`` ends with."""
    return (f"held-out per-pixel accuracy {metrics['heldout_accuracy']:.4f} after {metrics['steps']} steps in "
            f"{metrics['seconds']} s")


def train(out: str | os.PathLike, *, resume: bool = True, progress: bool = True, device: str | None = None,
          checkpoint_every: int = 100,
          command: str | None = None, **settings) -> dict:
    """Train the small gray-VGG with ``Config(**settings)`` and write ``out`` (weights + config + metadata,
    read by :func:`reprolib.colorization.grayvgg_weights.grayvgg_small`) and its provenance ``out``.json.
    Returns metrics: training loss/accuracy (mean of the last 50 steps), held-out per-pixel accuracy on
    ``eval_n`` scenes (``heldout_seed(seed)``), seconds, the step resumed from, sha256."""
    return loop.fit(TRAINER, Config(**settings), out, command=command, resume=resume, progress=progress,
                    checkpoint_every=checkpoint_every, device=device)
