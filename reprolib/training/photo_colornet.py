"""Training the colorization sub-net on photographs, for one feature extractor (``train photo-colornet``).

DEC's chrominance branch is self-supervised: its reference is the target's own colours, so any colour
photo is training data. Pairs are two views of one photo (``world.photo_views.random_views``: crops at
scales 0.8-1.2, mirrored or not), matched once by the photo route of the similarity sub-net (exact NN on the
``PHOTO_FIELD`` hypercolumn with mirrored candidates, with the gray-VGG ``features``) and kept in memory
(:func:`.photo_pairs.build_cache`): sims (uint8), T_L, T_ab, R'_ab ("W0") and T'_ab = T_ab(phi_R->T(phi_T->R(p)))
(float16). Each step draws a batch from that cache (:func:`.photo_pairs.sample`), each pair augmented alike on all
its maps (a random ``size`` crop, a flip, and with probability ``hue`` one rotation of a*b* for T_ab, R'_ab and
T'_ab: matching reads L only, so a hue rotation is a new photo for free), and trains one branch, cycling through
``branches``:

    chrominance: [sims, T_L, T'_ab] -> smooth-L1(P_ab, T_ab)                          (DEC's first branch)
    real:        [sims, T_L, R'_ab] -> smooth-L1(P_ab, T_ab)  (the other view carries the target's own colours)
    perceptual:  [sims, T_L, R'_ab] -> alpha ||F_l(rgb(T_L, P_ab)) - F_l(rgb(T_L, T_ab))||^2, F the COLOUR
                 VGG-16 (``GrayVGG.forward_rgb``), l = relu5_1, alpha = 0.005 (DEC's second branch)

Where we deviate: "real" is possible only because a view of the same photo has a ground truth (DEC's
second branch has none, hence its perceptual loss); all three exist here (``branches``), and the default is
"real" alone: on two validation photos set aside from the training photos, three seeds each, it was below
DEC's chrominance + real on every seed with the student (2 %) and level with it with VGG-16 (within 0.02
CIEDE2000), so the chrominance branch adds nothing here (``benchmarks/ablate_photo_branches.py``; notebook 05).
``guided`` ends the net in a guided filter layer (guide T_L, :func:`~reprolib.colorization.smoothing.guided_layer`;
He et al. 2010 trained end to end as in Wu et al. 2018), so that P_ab comes out clean with no filter after it.
Off in the shipped nets: on the validation photos it brings the raw net to the level of the net followed by the
post-hoc filter, but not below R'_ab filtered alone (notebook 05 has the figures). ``hue`` is the share of
pairs turned: with none turned (0) the net may learn usual colours, which eight photos do not teach; on the
validation photos, with the guided layer, 0 measured 4.03, the shipped 0.5 3.67 and 1 3.62 (seed 0).
``extra_images`` adds a folder of photos to ``images``; a file named as a held-out photo is refused in either
(``photo_pairs.image_folder``).
The loop (:mod:`.loop`) makes it resumable and data-parallel: under torchrun every rank trains on its slice
of every batch (gloo on CPUs, nccl with ``device="cuda"``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
import torch.nn.functional as F

from ..colorization.colornet import ColorNet, checkpoint_dict, colornet_input
from ..colorization.grayvgg import GrayVGG
from ..colorization.grayvgg_weights import load_extractor
from ..colorization.matching import PHOTO_ROUTE
from ..colorization.pipelines import DecColorNet, WarpSmoothed
from ..core import color
from ..core.configs import setting
from ..core.devices import device_of
from . import loop
from .photo_pairs import (
    PhotoConfig,
    build_cache,
    described,
    evaluate_views,
    matched_views,
    mean,
    sample,
    sources,
)

BRANCHES = ("chrominance", "real", "perceptual")
CHUNK = 8  # pairs per call of the matchers when the cache is built


@dataclass
class Config(PhotoConfig):
    """The photo ColorNet's settings: the shared ones (:class:`.photo_pairs.PhotoConfig`) and its own."""

    hue: float = setting(0.5, "probability of one random a*b* turn per pair (0 lets the net learn usual colours, "
                              "which needs many photos)")
    branches: tuple[str, ...] = setting(("real",), f"branches cycled step by step, some of {', '.join(BRANCHES)} "
                                        "(real alone measured as well as chrominance,real on validation photos)")
    alpha: float = setting(0.005, "weight of the perceptual branch's loss (DEC's)")
    perceptual_layer: str = setting("relu5_1", "the colour VGG-16 layer of the perceptual loss")
    guided: int = setting(0, "radius of a guided filter layer (guide T_L) trained with the net (0: none)")
    cached: bool = setting(True, "keep the matched pairs in memory (--no-cached: match new pairs every step, "
                                 "for large image folders)")

    def check(self) -> Config:
        self.branches = tuple(self.branches)
        unknown = [b for b in self.branches if b not in BRANCHES]
        if unknown or not self.branches:
            raise ValueError(f"branches must be some of {', '.join(BRANCHES)}, got {self.branches}")
        super().check()
        return self


@dataclass
class Parts:
    net: ColorNet
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    cache: dict
    features: GrayVGG
    colour_vgg: GrayVGG | None
    g: torch.Generator
    rank: int = 0
    world: int = 1
    extra: dict = field(default_factory=dict)

    def stateful(self) -> dict:
        return {"model": self.net, "optimizer": self.opt, "sampler": loop.GeneratorState(self.g)}


def cache_of(cfg: Config, model: GrayVGG, images: list) -> dict:
    """The matched-pair cache (:func:`.photo_pairs.build_cache`): the photo route's warp and maps, and T'_ab."""
    return build_cache(model, (PHOTO_ROUTE,), images, cfg.pairs_per_image, cfg.seed, cfg.crop, CHUNK, round_trip=True)


def build(cfg: Config) -> Parts:
    rank, world, device = loop.join(cfg.batch_size, cfg.device)
    extractor = load_extractor(cfg.features)
    images = sources(cfg.images, cfg.extra_images)  # listed once: the folders are not read again each step
    cache = cache_of(cfg, extractor, images) if cfg.cached else {}
    colour_vgg = None
    if "perceptual" in cfg.branches:
        colour_vgg = load_extractor("vgg16").to(device)
        for p in colour_vgg.parameters():
            p.requires_grad_(False)
    torch.manual_seed(cfg.seed)
    net = ColorNet(13, cfg.width, residual=True, guided=cfg.guided).to(device).train()
    model = loop.parallel(net, world)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    sampler = torch.Generator().manual_seed(cfg.seed + 1)
    return Parts(net, model, opt, cache, extractor, colour_vgg, sampler, rank, world, extra={"images": images})


def perceptual_loss(vgg: GrayVGG, layer: str, alpha: float, T_L, P_ab, T_ab) -> torch.Tensor:
    """alpha mean_{c,h,w} (F_l(rgb(T_L, P_ab)) - F_l(rgb(T_L, T_ab)))^2, averaged over the batch."""
    with torch.no_grad():
        target = vgg.forward_rgb(color.lab_to_rgb(torch.cat((T_L, T_ab), 1)), layer)[layer]
    return alpha * (vgg.forward_rgb(color.lab_to_rgb(torch.cat((T_L, P_ab), 1)), layer)[layer] - target).square().mean()


def step(cfg: Config, parts: Parts, i: int) -> dict:
    """One Adam step of the branch of step ``i`` on this rank's slice of a cached, augmented batch."""
    branch = cfg.branches[i % len(cfg.branches)]
    if parts.cache:
        b = sample(parts.cache, cfg.batch_size, cfg.size, cfg.hue, parts.g)
    else:  # fresh pairs of one image, matched now (the way to scale out to a large image folder)
        images = parts.extra["images"]
        source = images[int(torch.randint(len(images), (), generator=parts.g))]
        views = matched_views(parts.features, (PHOTO_ROUTE,), source, cfg.batch_size, parts.g, cfg.crop, CHUNK,
                              round_trip=True)
        b = sample(views, cfg.batch_size, cfg.size, cfg.hue, parts.g)
    share = loop.rank_slice(cfg.batch_size, parts.rank, parts.world)
    device = device_of(parts.net)
    b = {k: v[share].to(device) for k, v in b.items()}
    x = colornet_input(b["T_L"], b["T_ab_w"] if branch == "chrominance" else b["W0"], b["sims"])
    loop.schedule(parts.opt, i, cfg.steps, cfg.lr)
    P_ab = parts.model(x)
    if branch == "perceptual":
        loss = perceptual_loss(parts.colour_vgg, cfg.perceptual_layer, cfg.alpha, b["T_L"], P_ab, b["T_ab"])
    else:
        loss = F.smooth_l1_loss(P_ab, b["T_ab"])
    parts.opt.zero_grad(set_to_none=True)
    loss.backward()
    value = loop.mean_over_ranks(loss, parts.world)
    parts.opt.step()
    return {"branch": branch, "loss": value.item()}


def evaluate_photo_colornet(net: ColorNet, extractor: GrayVGG, n_per: int = 4) -> dict[str, float]:
    """Mean CIEDE2000 against the photo's own colours on the held-out "other view" pairs of the net
    (``heldout_delta_e2000``, DEC's colornet pipeline unsmoothed) and of R'_ab alone, from one match per pair."""
    net_alone, warp_alone = DecColorNet(net=net, smoothing="none"), WarpSmoothed(smoothing="none")

    def predict(T_L, R_lab):
        matched = net_alone.match(extractor, T_L, R_lab)
        return {"heldout_delta_e2000": net_alone.predict(T_L, matched),
                "heldout_delta_e2000_warped_reference": warp_alone.predict(T_L, matched)}

    return {key: mean(values) for key, values in evaluate_views(predict, n_per=n_per).items()}


def finish(cfg: Config, parts: Parts, history: list, rank: int) -> tuple[dict | None, dict]:
    if rank > 0:
        dist.barrier()
        return None, {"rank": rank}
    net = parts.net.cpu().eval()
    losses = {}
    for branch in cfg.branches:
        tail = [h["loss"] for h in history if h["branch"] == branch][-50:]
        losses[f"train_loss_{branch}"] = round(sum(tail) / len(tail), 4)
    pairs = parts.cache["sims"].shape[0] if parts.cache else cfg.steps * cfg.batch_size
    metrics = {"steps": cfg.steps, "seed": cfg.seed, "pairs": pairs, "world_size": parts.world,
               "parameters": sum(p.numel() for p in net.parameters()), "features": parts.features.extractor, **losses}
    if cfg.eval_n:
        metrics.update({k: round(v, 4) for k, v in evaluate_photo_colornet(net, parts.features, cfg.eval_n).items()})
        metrics["heldout_pairs"] = f"other_view_pairs(HELDOUT_PHOTOS, {cfg.eval_n})"
    return checkpoint_dict(net, **metrics, mode="photos", width=cfg.width, residual=True), metrics


def data(cfg: Config) -> str:
    where = described(cfg.images, cfg.extra_images)
    return (f"{cfg.pairs_per_image} pairs of two views per image of {where}, matched once with "
            f"{cfg.features} (PHOTO_FIELD, mirrored candidates); crops {cfg.size}, flips, hue turns p {cfg.hue}")


TRAINER = loop.Trainer("photo_colornet", build, step, finish, data)


def summary(metrics: dict) -> str:
    """The line ``train photo-colornet`` ends with."""
    return loop.heldout_summary(metrics, "R'_ab alone", "heldout_delta_e2000_warped_reference")


def train(out: str | os.PathLike, *, resume: bool = True, progress: bool = True, checkpoint_every: int = 100,
          command: str | None = None, **settings) -> dict:
    """Train a ColorNet on photo pairs with ``Config(**settings)``; write ``out`` and its provenance."""
    cfg = Config(**settings).check()
    return loop.fit_distributed(TRAINER, cfg, out, command=command, resume=resume, progress=progress,
                                checkpoint_every=checkpoint_every, features=load_extractor(cfg.features).extractor)
