"""Training the Chooser on photographs, for one feature extractor (``train chooser``).

Pairs are two views of one training photo (``world.photo_views.random_views``: crops at scales 0.8-1.2,
mirrored or not), matched once per hypercolumn of ``chooser.FIELDS`` with the gray-VGG ``features``
(:func:`.photo_pairs.build_cache`) and kept in memory: T_L, T_ab and the K warps R'_ab^k
(float16), the K x 10 similarity maps (uint8). Each step draws a batch from that cache, augmented alike on
all its maps (:func:`.photo_pairs.sample`: a random ``size`` crop, a flip, and with probability ``hue`` one
rotation of a*b* for T_ab and every warp), and minimises smooth-L1(P_ab, T_ab): the photo ColorNet's real
branch (the other view carries the target's own colours). Settings (every field's maps, hue 1, 1200 steps
of 8, width 1/8) were chosen on two validation photos set aside from the training photos
(``benchmarks/ablate_photo_candidates.py``; notebook 05); the final metrics are on the held-out photos.
The loop (:mod:`.loop`) makes it resumable and data-parallel under torchrun (gloo on CPUs, nccl on GPUs).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F

from ..colorization.chooser import FIELDS, Chooser, checkpoint_dict
from ..colorization.grayvgg_weights import load_extractor
from ..colorization.pipelines import ChooserPipeline, WarpSmoothed
from ..core.configs import setting
from ..core.devices import device_of
from . import loop
from .photo_pairs import PhotoConfig, build_cache, described, evaluate_views, mean, sample, sources, warp_keys

WARPS = warp_keys(len(FIELDS))


@dataclass
class Config(PhotoConfig):
    """The Chooser's settings: the shared ones (:class:`.photo_pairs.PhotoConfig`), with its own defaults."""

    features: str = setting("grayvgg_small_photo", "the gray-VGG whose warps and maps the net learns, a --features "
                                                   "choice of colorize")


@dataclass
class Parts:
    net: Chooser
    model: torch.nn.Module
    opt: torch.optim.Optimizer
    cache: dict
    features: torch.nn.Module
    g: torch.Generator
    rank: int = 0
    world: int = 1

    def stateful(self) -> dict:
        return {"model": self.net, "optimizer": self.opt, "sampler": loop.GeneratorState(self.g)}


def build(cfg: Config) -> Parts:
    rank, world, device = loop.join(cfg.batch_size, cfg.device)
    extractor = load_extractor(cfg.features)
    cache = build_cache(extractor, FIELDS, sources(cfg.images, cfg.extra_images), cfg.pairs_per_image, cfg.seed,
                        cfg.crop)
    torch.manual_seed(cfg.seed)
    net = Chooser(len(FIELDS), cache["sims"].shape[1], cfg.width).to(device).train()
    model = loop.parallel(net, world)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    return Parts(net, model, opt, cache, extractor, torch.Generator().manual_seed(cfg.seed + 1), rank, world)


def step(cfg: Config, parts: Parts, i: int) -> dict:
    """One Adam step on this rank's slice of a cached, augmented batch."""
    b = sample(parts.cache, cfg.batch_size, cfg.size, cfg.hue, parts.g)
    share = loop.rank_slice(cfg.batch_size, parts.rank, parts.world)
    device = device_of(parts.net)
    b = {k: v[share].to(device) for k, v in b.items()}
    loop.schedule(parts.opt, i, cfg.steps, cfg.lr)
    loss = F.smooth_l1_loss(parts.model(b["T_L"], [b[k] for k in WARPS], b["sims"]), b["T_ab"])
    parts.opt.zero_grad(set_to_none=True)
    loss.backward()
    value = loop.mean_over_ranks(loss, parts.world)
    parts.opt.step()
    return {"loss": value.item()}


def evaluate_chooser(net: Chooser, extractor, n_per: int = 4) -> dict[str, float]:
    """Mean CIEDE2000 against the photo's own colours on the held-out "other view" pairs of the Chooser
    (``heldout_delta_e2000``) and of the photo route's R'_ab smoothed along T_L, from one match per pair."""
    chooser, smoothed = ChooserPipeline(net=net), WarpSmoothed()

    def predict(T_L, R_lab):
        matched = chooser.match(extractor, T_L, R_lab)
        return {"heldout_delta_e2000": chooser.predict(T_L, matched),
                "heldout_delta_e2000_warped_reference_smoothed": smoothed.predict(T_L, matched[:1])}

    return {key: mean(values) for key, values in evaluate_views(predict, n_per=n_per).items()}


def finish(cfg: Config, parts: Parts, history: list, rank: int) -> tuple[dict | None, dict]:
    if rank > 0:
        dist.barrier()
        return None, {"rank": rank}
    net = parts.net.cpu().eval()
    tail = [h["loss"] for h in history][-50:]
    metrics = {"steps": cfg.steps, "seed": cfg.seed, "pairs": parts.cache["sims"].shape[0], "world_size": parts.world,
               "parameters": sum(p.numel() for p in net.parameters()), "features": parts.features.extractor,
               "train_loss": round(sum(tail) / len(tail), 4)}
    if cfg.eval_n:
        metrics.update({k: round(v, 4) for k, v in evaluate_chooser(net, parts.features, cfg.eval_n).items()})
        metrics["heldout_pairs"] = f"other_view_pairs(HELDOUT_PHOTOS, {cfg.eval_n})"
    return checkpoint_dict(net, **metrics), metrics


def data(cfg: Config) -> str:
    where = described(cfg.images, cfg.extra_images)
    return (f"{cfg.pairs_per_image} pairs of two views per image of {where}, matched once with {cfg.features} on "
            f"{len(FIELDS)} hypercolumns (mirrored candidates); crops {cfg.size}, flips, hue turns p {cfg.hue}")


TRAINER = loop.Trainer("chooser", build, step, finish, data)


def summary(metrics: dict) -> str:
    """The line ``train chooser`` ends with."""
    return loop.heldout_summary(metrics, "R'_ab smoothed", "heldout_delta_e2000_warped_reference_smoothed")


def train(out: str | os.PathLike, *, resume: bool = True, progress: bool = True, checkpoint_every: int = 100,
          command: str | None = None, **settings) -> dict:
    """Train a Chooser on photo pairs with ``Config(**settings)``; write ``out`` and its provenance."""
    cfg = Config(**settings).check()
    return loop.fit_distributed(TRAINER, cfg, out, command=command, resume=resume, progress=progress,
                                checkpoint_every=checkpoint_every, features=load_extractor(cfg.features).extractor)

