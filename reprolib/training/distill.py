"""A small gray-VGG distilled from ImageNet VGG-16, so that photographs match offline (no download).

Student: :func:`reprolib.colorization.grayvgg_weights.small_grayvgg` (1 channel, L/100 - 0.5), VGG-16's layout cut
after conv5_1 (convs 2-2-3-3-1: every layer DEC compares, relu1_1 ... relu5_1, exists), widths 32-64-128-224-224
(2.05 M parameters, 4.1 MB stored as float16). Teacher: VGG-16 on the SAME gray image, L replicated to
R, G, B: at test time both T and R are seen through L only, so the student is asked for what the teacher
computes from L (a colour-seeing teacher would ask it to guess colour-dependent features from L, an error it
cannot remove).

Data: views of the training photos only (``training.photo_pairs.train_photos()``, or any image folder): an
image pyramid (short side 512, 362, 256, 181), an affine crop (``size`` px, scale 0.7-1.4, rotation +-20 deg
with p 1/2, mirror with p 1/2), a gamma of L (0.7-1.4, p 1/2) and a cut-mix of another photo (p 1/4); views
come in pairs from one photo, so the relational loss sees "same scene, other view" similarities. The
teacher's features of ``views`` views are computed once (L2-normalised, float16; all positions of
relu3_1 ... relu5_1, ``stored_positions`` random ones of relu1_1 and relu2_1).

Loss, summed over l in relu1_1 ... relu5_1 with weights 0.5, 1, 2, 1, 1 (matching uses relu3_1 most):

    L_l = (1 - cos(A_l s_l, t_l))                     adapter cosine (A_l a 1x1 convolution, training only)
        + 10 mean (C_s - C_t)^2                       relational: cosine matrices over K positions of the batch
        + KL(softmax(C_t / tau) || softmax(C_s / tau)) row-wise, self excluded (keeps each row's argmax)

Matching compares features by cosine, so the relational terms ask the student to reproduce the teacher's
cosines, and the KL term its nearest neighbours. Adam, warm-up then cosine decay; resumable (:mod:`.loop`).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..colorization.grayvgg import GrayVGG
from ..colorization.grayvgg_weights import load_extractor, small_checkpoint, small_grayvgg
from ..core import color
from ..core.configs import setting
from ..core.photos import load_image, load_photo, resize_short_side
from . import loop
from .photo_pairs import image_folder, train_photos

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
LAYER_WEIGHTS = {"relu1_1": 0.5, "relu2_1": 1.0, "relu3_1": 2.0, "relu4_1": 1.0, "relu5_1": 1.0}
PYRAMID = (512, 362, 256, 181)


@dataclass
class Config:
    steps: int = setting(1000, "optimiser steps")
    batch_size: int = setting(8, "views per step, in pairs of one photo")
    size: int = setting(112, "view size in pixels")
    widths: tuple[int, ...] = setting((32, 64, 128, 224, 224), "the student's channels per block")
    convs: tuple[int, ...] = setting((2, 2, 3, 3, 1), "the student's convolutions per block")
    lr: float = setting(1e-3, "peak Adam learning rate")
    tau: float = setting(0.05, "temperature of the row-wise KL of the relational loss")
    positions: int = setting(192, "K: positions per view in the relational loss")
    views: int = setting(1200, "views whose teacher features are computed once")
    stored_positions: int = setting(1024, "relu1_1 and relu2_1: random positions kept per view")
    teacher: str = setting("vgg16", "the teacher, a --features choice: vgg16 is torchvision's cache or the same "
                                    "network from $REPROLIB_VGG_WEIGHTS")
    images: str = setting("", "an image folder to learn from (default: the shipped training photos; held-out ones "
                              "never)")
    seed: int = setting(0, "seed of the model and the data stream")

    def check(self) -> Config:
        if self.steps < 1 or self.batch_size < 2 or self.batch_size % 2 or self.views < self.batch_size:
            raise ValueError(f"steps >= 1, an even batch_size >= 2 and views >= batch_size are needed, got "
                             f"{self.steps}, {self.batch_size}, {self.views}")
        self.widths, self.convs = tuple(int(w) for w in self.widths), tuple(int(c) for c in self.convs)
        return self


def pyramids(images: str) -> list[list[torch.Tensor]]:
    """L* (1, H, W) of every training image at the short sides of ``PYRAMID`` (never larger than the image)."""
    out = []
    for source in (train_photos() if not images else image_folder(images)):
        L = color.rgb_to_lab(load_photo(source) if isinstance(source, str) else load_image(source))[:1]
        if min(L.shape[-2:]) > PYRAMID[0]:  # large images (an image folder): the pyramid's top is 512 px
            L = resize_short_side(L[None], PYRAMID[0])[0]
        short = min(L.shape[-2:])
        out.append([resize_short_side(L[None], s)[0] if s < short else L for s in PYRAMID])
    return out


def random_view(levels: list[torch.Tensor], size: int, g: torch.Generator) -> torch.Tensor:
    """One augmented view (1, size, size) of an image pyramid (module docstring)."""
    def u(lo: float, hi: float) -> float:
        return lo + (hi - lo) * torch.rand((), generator=g).item()

    L = levels[int(torch.randint(len(levels), (), generator=g))]
    H, W = L.shape[-2:]
    half = size / u(0.7, 1.4) / 2  # half the side of the window, in input pixels
    angle = math.radians(u(-20, 20)) if u(0, 1) < 0.5 else 0.0
    r = half * (abs(math.cos(angle)) + abs(math.sin(angle)))
    cy, cx = u(min(r, H / 2), max(H - r, H / 2)), u(min(r, W / 2), max(W - r, W / 2))
    flip = -1.0 if u(0, 1) < 0.5 else 1.0
    c, s = math.cos(angle), math.sin(angle)
    theta = torch.tensor([[flip * c * half / (W / 2), -s * half / (W / 2), (cx - W / 2) / (W / 2)],
                          [flip * s * half / (H / 2), c * half / (H / 2), (cy - H / 2) / (H / 2)]])
    grid = F.affine_grid(theta[None], (1, 1, size, size), align_corners=False)
    view = F.grid_sample(L[None], grid, mode="bilinear", padding_mode="reflection", align_corners=False)[0]
    if u(0, 1) < 0.5:
        view = 100.0 * (view.clamp(0, 100) / 100.0) ** u(0.7, 1.4)
    return view


def view_pairs(pyr: list, n: int, size: int, g: torch.Generator) -> torch.Tensor:
    """``n`` views (n, 1, size, size), consecutive pairs from one photo, one in four cut-mixed with another."""
    views = []
    while len(views) < n:
        i = int(torch.randint(len(pyr), (), generator=g))
        a, b = random_view(pyr[i], size, g), random_view(pyr[i], size, g)
        if torch.rand((), generator=g).item() < 0.25:
            other = random_view(pyr[int(torch.randint(len(pyr), (), generator=g))], size, g)
            h, w = (int(torch.randint(size // 4, size // 2 + 1, (), generator=g)) for _ in range(2))
            y, x = int(torch.randint(size - h + 1, (), generator=g)), int(torch.randint(size - w + 1, (), generator=g))
            a[:, y:y + h, x:x + w] = other[:, y:y + h, x:x + w]
        views += [a, b]
    return torch.stack(views[:n])


@torch.no_grad()
def teacher_cache(teacher: GrayVGG, views: torch.Tensor, stored: int, g: torch.Generator, chunk: int = 16):
    """The teacher's normalised features of ``views`` (float16) and which positions were kept, per layer."""
    feats, where = {k: [] for k in LAYERS}, {k: [] for k in LAYERS}
    for i in range(0, len(views), chunk):
        out = teacher(views[i:i + chunk], LAYERS)
        for k in LAYERS:
            f = F.normalize(out[k].flatten(2), dim=1, eps=1e-6)
            n = f.shape[-1]
            pos = (torch.stack([torch.randperm(n, generator=g)[:stored] for _ in range(f.shape[0])]) if n > stored
                   else torch.arange(n).expand(f.shape[0], n))
            feats[k].append(f.gather(2, pos[:, None].expand(-1, f.shape[1], -1)).half())
            where[k].append(pos)
    return {k: torch.cat(v) for k, v in feats.items()}, {k: torch.cat(v) for k, v in where.items()}


def relational(s: torch.Tensor, t: torch.Tensor, K: int, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
    """MSE of the cosine matrices and the row-wise KL of their softmaxes over K random positions per view of
    normalised student / teacher features s, t (B, C, n) (the global torch RNG picks the positions)."""
    B, _, n = s.shape
    k = min(K, n)
    idx = torch.stack([torch.randperm(n)[:k] for _ in range(B)])
    s = s.gather(2, idx[:, None].expand(-1, s.shape[1], -1)).permute(0, 2, 1).reshape(B * k, -1)
    t = t.gather(2, idx[:, None].expand(-1, t.shape[1], -1)).permute(0, 2, 1).reshape(B * k, -1)
    Cs, Ct = s @ s.T, t @ t.T
    eye = torch.eye(B * k, dtype=torch.bool)
    ls, lt = (Cs / tau).masked_fill(eye, -1e4), (Ct / tau).masked_fill(eye, -1e4)
    kl = (torch.softmax(lt, 1) * (torch.log_softmax(lt, 1) - torch.log_softmax(ls, 1))).sum(1).mean()
    return (Cs - Ct).square().mean(), kl


@dataclass
class Parts:
    student: GrayVGG
    adapters: nn.ModuleDict
    opt: torch.optim.Optimizer
    views: torch.Tensor
    targets: dict
    positions: dict
    teacher_extractor: str

    def stateful(self) -> dict:
        return {"student": self.student, "adapters": self.adapters, "optimizer": self.opt}


def build(cfg: Config) -> Parts:
    teacher = load_extractor(cfg.teacher)
    for p in teacher.parameters():
        p.requires_grad_(False)
    g = torch.Generator().manual_seed(cfg.seed)
    views = view_pairs(pyramids(cfg.images), cfg.views, cfg.size, g)
    targets, positions = teacher_cache(teacher, views, cfg.stored_positions, g)
    torch.manual_seed(cfg.seed)
    student = small_grayvgg(cfg.widths, cfg.convs, source="small gray-VGG being distilled")
    adapters = nn.ModuleDict({k: nn.Conv2d(student.channels(k), teacher.channels(k), 1) for k in LAYERS})
    opt = torch.optim.Adam([*student.parameters(), *adapters.parameters()], lr=cfg.lr)
    return Parts(student.train(), adapters, opt, views, targets, positions, teacher.extractor)


def step(cfg: Config, parts: Parts, i: int) -> dict:
    """One Adam step on ``batch_size`` cached views (pairs of one photo)."""
    pairs = torch.randperm(len(parts.views) // 2)[:cfg.batch_size // 2]
    sel = torch.stack((2 * pairs, 2 * pairs + 1), 1).flatten()
    out = parts.student(parts.views[sel], LAYERS)
    loss, logged = 0.0, {"cos": 0.0, "mse": 0.0, "kl": 0.0}
    for k in LAYERS:
        raw = out[k].flatten(2)
        s = raw.gather(2, parts.positions[k][sel][:, None].expand(-1, raw.shape[1], -1))  # (B, C_s, n)
        t = parts.targets[k][sel].float()
        cos = 1 - F.cosine_similarity(parts.adapters[k](s[..., None])[..., 0], t, dim=1, eps=1e-6).mean()
        mse, kl = relational(F.normalize(s, dim=1, eps=1e-6), t, cfg.positions, cfg.tau)
        loss = loss + LAYER_WEIGHTS[k] * (cos + 10 * mse + kl)
        for name, v in (("cos", cos), ("mse", mse), ("kl", kl)):
            logged[name] += v.item() / len(LAYERS)
    loop.schedule(parts.opt, i, cfg.steps, cfg.lr)
    parts.opt.zero_grad(set_to_none=True)
    loss.backward()
    parts.opt.step()
    return {"loss": loss.item(), **logged}


def finish(cfg: Config, parts: Parts, history: list, rank: int) -> tuple[dict, dict]:
    tail = history[-50:]
    metrics = {k: round(sum(h[k] for h in tail) / len(tail), 4) for k in ("loss", "cos", "mse", "kl")}
    metrics.update(parameters=sum(p.numel() for p in parts.student.parameters()), views=len(parts.views),
                   teacher=parts.teacher_extractor)
    model = parts.student.eval()
    # stored as float16 (8.2 MB -> 4.1 MB): the photo study moves by at most 0.001 CIEDE2000 (provenance notes)
    ckpt = small_checkpoint(model, torch.float16, seed=cfg.seed, steps=cfg.steps,
                            trained_on=f"photos, distilled from {parts.teacher_extractor}", **metrics)
    return ckpt, metrics


def data(cfg: Config) -> str:
    where = cfg.images or "the shipped training photos (photo_pairs.train_photos(), held-out ones never read)"
    return f"{cfg.views} augmented gray views of {where}, {cfg.size} px, in pairs of one photo"


TRAINER = loop.Trainer("distill", build, step, finish, data)


def summary(metrics: dict) -> str:
    """The line ``train distill`` ends with."""
    return f"final loss {metrics['loss']:.3f} (adapter cosine {1 - metrics['cos']:.3f}) in {metrics['seconds']} s"


def train(out: str | os.PathLike, *, resume: bool = True, progress: bool = True, device: str | None = None,
          checkpoint_every: int = 100,
          command: str | None = None, **settings) -> dict:
    """Distil the student with ``Config(**settings)``; write ``out`` (a small gray-VGG checkpoint, read by
    :func:`reprolib.colorization.grayvgg_weights.grayvgg_small`) and its provenance."""
    cfg = Config(**settings).check()
    teacher = load_extractor(cfg.teacher).extractor
    return loop.fit(TRAINER, cfg, out, command=command, resume=resume, progress=progress,
                    checkpoint_every=checkpoint_every, features=teacher, device=device)
