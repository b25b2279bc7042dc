"""Training the colorization sub-net (He et al. 2018, Sec. 3.3) on the synthetic world.

Each training pair is a target T and a reference R from ``scenes.sample_pairs``; the similarity sub-net
(``matching.match`` with the small gray-VGG, exact NN on relu3_1) gives phi_T->R, phi_R->T, sim_T<->R and
R'_ab, and ``colornet.colornet_input`` the 13-channel input. Three modes (``--mode``):

* ``full`` -- the paper's two branches, alternated step by step (even steps chrominance, odd steps
  perceptual; steps 2k and 2k + 1 share the pairs of data batch k):
  - chrominance branch: input [sims, T_L, T'_ab] with T'_ab(p) = T_ab(phi_R->T(phi_T->R(p))), the target's
    OWN colours sent to R and back through the real pair's fields, and the same sims of the real pair
    (where the round trip fails, T'_ab is wrong and the net learns from sim_T<->R to distrust it);
    loss smooth-L1(P_ab, T_ab).
  - perceptual branch: input [sims, T_L, R'_ab], the real warped reference; loss
    alpha ||F(P_lab) - F(GT_lab)||^2 (:class:`reprolib.colorization.losses.PerceptualLoss`) with
    GT = ``scenes.ground_truth(T, R)``, the target rendered with the REFERENCE's palettes.
    Deviation: the paper compares with the target's own photo colours, because ImageNet has no
    "target as the reference says"; its reference is chosen to be similar, so the two rarely disagree.
    In the synthetic world palettes are drawn independently, so the target's own palette is pure noise
    given R (the perceptual branch would learn to ignore the reference and turn gray), while
    ground_truth(T, R) is exactly what exemplar colorization should produce and what we evaluate.
* ``chrominance_only`` -- the chrominance branch on every step.
* ``l1_auto`` -- the automatic baseline of the study note: ``ColorNet(in_channels=1)`` sees T_L only and
  is trained with L1 to the target's true T_ab.

World variant (``--usual q --related r``, for :mod:`reprolib.studies.robustness`): palettes drawn with a
prior (each class's usual colour with probability q) and only a share r of references showing every class of
their target (``scenes.sample_pairs``); the held-out pairs of ``finish`` come from the same variant.

Reproducibility (as every trainer of :mod:`.loop`): data batch k is ``sample_pairs(train_data_seed(seed, k), B, size)``
(optionally only ``pool`` distinct batches, k mod pool, computed once and kept in memory); the model is
initialised from ``torch.manual_seed(seed)``; nothing else is random; resumed runs end bit-identical.

Measured (shipped checkpoints reprolib/data/colornet_*.pt: full and chrominance_only 1600 steps of 16 pairs,
``--pool 192``; l1_auto 800 steps of fresh pairs; width 1/8, residual output for the 13-channel nets; mean
CIEDE2000 of (T_L, P_ab) against ground_truth(T, R) on 200 held-out pairs ``sample_pairs(heldout_seed(0),
200, 64)``; in brackets a second set, ``heldout_seed(1)``):

    l1_auto 18.32 (18.82) | R'_ab alone 3.35 (3.57) | chrominance_only 3.07 (3.26) | full 2.84 (2.94)

full is better than R'_ab alone on 89 % (92 %) of the pairs (mean gain 0.51 +- 0.04 s.e.) and than
chrominance_only on 75 % (77 %) (0.23 +- 0.03). After 800 steps (``--pool 96``) the same runs gave
full 3.01 and chrominance_only 3.12; the paper's plain output (``--no-residual``) reached only 4.40 for
full after 800 steps, worse than R'_ab alone.

Distributed: under ``torchrun --nproc_per_node=N -m reprolib train colornet ...`` (WORLD_SIZE set), the
trainer joins a gloo process group, wraps the net in DistributedDataParallel and each rank matches and
trains on its contiguous 1/N shard of every batch; DDP averages the gradients, so (with GroupNorm, no
BatchNorm) a step equals the single-process step on the whole batch up to float rounding. Only rank 0
shows progress and writes files.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor

from ..colorization import matching
from ..colorization.colornet import ColorNet, checkpoint_dict, colornet_input, predict_ab
from ..colorization.grayvgg import GrayVGG
from ..colorization.grayvgg_weights import GrayVGGWeights, load_extractor
from ..colorization.losses import (
    PERCEPTUAL_ALPHA,
    PERCEPTUAL_LAYER,
    PerceptualLoss,
    automatic_l1_loss,
    chrominance_loss,
)
from ..core import color
from ..core.configs import setting
from ..core.devices import device_of, to_device
from ..core.seeds import heldout_seed, train_data_seed
from ..world import scenes
from . import loop

MODES = ("full", "chrominance_only", "l1_auto")


class PairBatch(NamedTuple):
    """Everything a training step needs about a batch of (T, R) pairs; ab in raw a*, b*, (B, ., H, W).
    In l1_auto mode only T_L and T_ab are set (no reference, no matching); the rest is None."""

    T_L: Tensor  # (B, 1, H, W) L* 0..100
    sims: Tensor  # (B, 10, H, W) sim_T->R and sim_T<->R per layer
    R_ab_warped: Tensor  # R'_ab(p) = R_ab(phi_T->R(p))
    T_ab_warped: Tensor  # T'_ab(p) = T_ab(phi_R->T(phi_T->R(p)))
    T_ab: Tensor  # the target's own colours
    GT_ab: Tensor  # ground_truth(T, R).ab: the target's layout with the reference's palettes


def pair_batch(grayvgg: GrayVGG, target: scenes.Scene, reference: scenes.Scene) -> PairBatch:
    """Run the similarity sub-net on (target, reference) and build T'_ab and the ground truth."""
    m = matching.match(grayvgg, target.L, reference.L, reference.ab)
    round_trip = matching.warp(m.phi_RT, m.phi_TR)  # phi_R->T(phi_T->R(p))
    T_ab = target.ab
    GT_ab = scenes.ground_truth(target, reference).ab
    return PairBatch(target.L, m.sims, m.R_ab_warped, matching.warp(T_ab, round_trip), T_ab, GT_ab)


def branch_input(batch: PairBatch, branch: str) -> Tensor:
    """The "dec" network input of a branch: [sims, T_L, T'_ab] (chrominance), [sims, T_L, R'_ab]
    (perceptual, and test time) or T_L - 50 (l1_auto)."""
    if branch == "l1_auto":
        return batch.T_L - 50.0
    ab = batch.T_ab_warped if branch == "chrominance" else batch.R_ab_warped
    return colornet_input(batch.T_L, ab, batch.sims, "dec")


def branch_of(mode: str, step: int) -> str:
    """Which branch trains at ``step``: 'chrominance', 'perceptual' or 'l1_auto'."""
    if mode == "full":
        return "chrominance" if step % 2 == 0 else "perceptual"
    return "chrominance" if mode == "chrominance_only" else "l1_auto"


def data_index(mode: str, step: int, pool: int | None) -> int:
    """Data batch of ``step`` (full mode: steps 2k, 2k + 1 share batch k); modulo ``pool`` if given."""
    k = step // 2 if mode == "full" else step
    return k % pool if pool else k


def _weight_spread(net: ColorNet) -> float:
    """Largest |w_rank - w_rank0| over all weights and ranks (0.0 when DDP kept the ranks in sync)."""
    flat = torch.cat([p.detach().flatten() for p in net.parameters()])
    ref = flat.clone()
    dist.broadcast(ref, 0)
    diff = (flat - ref).abs().max()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return diff.item()


@torch.no_grad()
def evaluate_colornet(net: ColorNet | None, n: int = 200, seed: int = 0, size: int = 64, batch_size: int = 50,
                      grayvgg: GrayVGG | None = None, usual: float | None = None, related: float = 1.0) -> float:
    """Mean CIEDE2000 between (T_L, P_ab) and ground_truth(T, R) over ``n`` held-out pairs
    ``sample_pairs(heldout_seed(seed), n, size, usual, related)``, matched as in training. ``net=None`` scores
    R'_ab alone."""
    grayvgg = load_extractor("grayvgg_small_synthetic") if grayvgg is None else grayvgg
    was_training = net.training if net is not None else False
    if net is not None:
        net.eval()
    target, reference = scenes.sample_pairs(heldout_seed(seed), n, size, usual, related)
    total = 0.0
    for i in range(0, n, batch_size):
        b = pair_batch(grayvgg, target[i:i + batch_size], reference[i:i + batch_size])
        ab = b.R_ab_warped if net is None else predict_ab(net, branch_input(b, "perceptual"))
        de = color.delta_e2000(torch.cat((b.T_L, ab), 1), torch.cat((b.T_L, b.GT_ab), 1))
        total += de.mean(dim=(-2, -1)).sum().item()
    if net is not None:
        net.train(was_training)
    return total / n


# ---------------------------------------------------------------------------------------------- the trainer
@dataclass
class Config:
    """Every setting of a run (all of them enter the checkpoint and the resume check)."""

    steps: int = setting(800, "optimiser steps")
    mode: str = setting("full", "both branches alternated, the chrominance branch only, or the automatic L1 baseline",
                        choices=MODES)
    batch_size: int = setting(16, "pairs per step, over all processes")
    seed: int = setting(0, "seed of the model and the data stream")
    size: int = setting(64, "scene size in pixels")
    width: float = setting(0.125, "width multiplier of the paper's net")
    residual: bool = setting(True, "predict a correction of R'_ab (--no-residual: P_ab from scratch, as in the paper)")
    lr: float = setting(1e-3, "peak Adam learning rate")
    pool: int | None = setting(None, "reuse this many distinct batches, matched once (none: fresh pairs every step)")
    perceptual_layer: str = setting(PERCEPTUAL_LAYER, "the gray-VGG layer of the perceptual branch's loss")
    alpha: float = setting(PERCEPTUAL_ALPHA, "weight of the perceptual loss (DEC: 0.005)")
    grayvgg: str = setting(GrayVGGWeights.GRAYVGG_SMALL_SYNTHETIC.value.name,
                           "the gray-VGG whose maps the net learns, a --features choice of colorize (a registry name, "
                           "an alias or a file: a `train grayvgg` checkpoint too)")
    eval_n: int = setting(200, "held-out pairs for the final CIEDE2000 (0: skip)")
    usual: float | None = setting(None, "draw each class's usual colour with this probability (none: uniform palettes)")
    related: float = setting(1.0, "share of references that show every class of their target")

    def check(self) -> Config:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.steps < 1 or self.batch_size < 1 or (self.pool is not None and self.pool < 1):
            raise ValueError(f"steps, batch_size and pool must be >= 1, "
                             f"got {self.steps}, {self.batch_size}, {self.pool}")
        train_data_seed(self.seed, self.steps - 1)  # validates seed and step ranges
        if not 0.0 <= self.related <= 1.0 or (self.usual is not None and not 0.0 <= self.usual < 1.0):
            raise ValueError(f"usual must be in [0, 1) and related in [0, 1], got {self.usual}, {self.related}")
        self.residual = bool(self.residual) and self.mode != "l1_auto"
        self.grayvgg = os.fspath(self.grayvgg)
        return self


@dataclass
class Parts:
    net: ColorNet
    model: torch.nn.Module  # the net, or its DistributedDataParallel wrapper
    opt: torch.optim.Optimizer
    grayvgg: GrayVGG
    perceptual: PerceptualLoss | None
    rank: int
    world: int
    cache: dict = field(default_factory=dict)

    def stateful(self) -> dict:
        return {"model": self.net, "optimizer": self.opt}


def build(cfg: Config) -> Parts:
    rank, world, _ = loop.join(cfg.batch_size)
    grayvgg = load_extractor(cfg.grayvgg)
    perceptual = PerceptualLoss(grayvgg, cfg.perceptual_layer, cfg.alpha) if cfg.mode == "full" else None
    torch.manual_seed(cfg.seed)
    net = ColorNet(1 if cfg.mode == "l1_auto" else 13, cfg.width, cfg.residual)
    net.train()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    model = loop.parallel(net, world)
    return Parts(net, model, opt, grayvgg, perceptual, rank, world)


def batch_at(cfg: Config, parts: Parts, step: int) -> PairBatch:
    """The pairs of ``step`` (this rank's contiguous shard), matched; kept in memory with ``pool``."""
    k = data_index(cfg.mode, step, cfg.pool)
    if k in parts.cache:
        return parts.cache[k]
    shard = loop.rank_slice(cfg.batch_size, parts.rank, parts.world)
    target, reference = scenes.sample_pairs(train_data_seed(cfg.seed, k), cfg.batch_size, cfg.size, cfg.usual,
                                            cfg.related)
    target, reference = to_device((target[shard], reference[shard]), device_of(parts.net))
    if cfg.mode == "l1_auto":  # no reference: no matching needed
        b = PairBatch(target.L, None, None, None, target.ab, None)
    else:
        b = pair_batch(parts.grayvgg, target, reference)
    if cfg.pool:
        parts.cache[k] = b
    return b


def step(cfg: Config, parts: Parts, i: int) -> dict:
    """One Adam step of the branch of step ``i`` (module docstring)."""
    b = batch_at(cfg, parts, i)
    branch = branch_of(cfg.mode, i)
    loop.schedule(parts.opt, i, cfg.steps, cfg.lr)
    P_ab = parts.model(branch_input(b, branch))
    if branch == "chrominance":
        loss = chrominance_loss(P_ab, b.T_ab)
    elif branch == "perceptual":
        loss = parts.perceptual(P_ab, b.GT_ab)
    else:
        loss = automatic_l1_loss(P_ab, b.T_ab)
    parts.opt.zero_grad(set_to_none=True)
    loss.backward()
    value = loop.mean_over_ranks(loss, parts.world)
    parts.opt.step()
    return {"branch": branch, "loss": value.item()}


def finish(cfg: Config, parts: Parts, history: list, rank: int) -> tuple[dict | None, dict]:
    spread = _weight_spread(parts.net) if parts.world > 1 else 0.0
    if rank > 0:
        dist.barrier()  # rank 0 evaluates and writes
        return None, {"rank": rank, "ddp_weight_spread": spread}
    net = parts.net.eval()
    losses = {}
    for branch in sorted({h["branch"] for h in history}):
        tail = [h["loss"] for h in history if h["branch"] == branch][-50:]
        losses[f"train_loss_{branch}"] = round(sum(tail) / len(tail), 4)
    metrics = {"mode": cfg.mode, "steps": cfg.steps, "seed": cfg.seed, "batch_size": cfg.batch_size, "size": cfg.size,
               "width": cfg.width, "residual": cfg.residual, "lr": cfg.lr, "pool": cfg.pool, "world_size": parts.world,
               "ddp_weight_spread": spread, "parameters": sum(p.numel() for p in net.parameters()), **losses}
    if cfg.mode == "full":
        metrics.update(perceptual_layer=cfg.perceptual_layer, alpha=cfg.alpha)
    if cfg.eval_n:
        world = {"grayvgg": parts.grayvgg, "usual": cfg.usual, "related": cfg.related}
        metrics["heldout_delta_e2000"] = round(evaluate_colornet(net, cfg.eval_n, cfg.seed, cfg.size, **world), 4)
        metrics["heldout_delta_e2000_warped_reference"] = round(
            evaluate_colornet(None, cfg.eval_n, cfg.seed, cfg.size, **world), 4)
        metrics["heldout_pairs"] = f"sample_pairs({heldout_seed(cfg.seed)}, {cfg.eval_n}, {cfg.size}{_world(cfg)})"
    features = None if cfg.mode == "l1_auto" else parts.grayvgg.extractor
    return checkpoint_dict(net, **metrics, features=features), metrics


def _world(cfg: Config) -> str:
    """The world variant's arguments of sample_pairs, as written in the provenance ("" for the default)."""
    return "" if cfg.usual is None and cfg.related == 1.0 else f", usual={cfg.usual}, related={cfg.related}"


def data(cfg: Config) -> str:
    what = "target scenes" if cfg.mode == "l1_auto" else "(target, reference) pairs"
    pool = f", {cfg.pool} distinct batches reused" if cfg.pool else ""
    return (f"synthetic {what}: batch k = scenes.sample_pairs(train_data_seed({cfg.seed}, k), {cfg.batch_size}, "
            f"{cfg.size}{_world(cfg)}){pool}; held-out pairs from heldout_seed({cfg.seed})")


TRAINER = loop.Trainer("colornet", build, step, finish, data)


def summary(metrics: dict) -> str:
    """The line ``train colornet`` ends with."""
    return loop.heldout_summary(metrics, "R'_ab alone", "heldout_delta_e2000_warped_reference")


def train(out: str | os.PathLike, *, resume: bool = True, progress: bool = True, device: str | None = None,
          checkpoint_every: int = 50,
          command: str | None = None, **settings) -> dict:
    """Train a ColorNet with ``Config(**settings)`` (module docstring) and write ``out`` and ``out``.json.

    ``residual``: the net corrects its input chrominance (``ColorNet(residual=True)``; not for l1_auto, which
    has none). Adam, linear warm-up then cosine decay of ``lr``. Returns metrics (rank 0; other ranks return
    {"rank": r, ...}): final training loss per branch (mean of the last 50 steps of it), held-out mean
    CIEDE2000 of the net and of R'_ab alone on ``eval_n`` pairs, seconds, sha256.
    """
    cfg = Config(**settings).check()
    rank, world, joined = loop.distributed()
    if world > 1 and device not in (None, "cpu"):
        raise ValueError("the synthetic ColorNet trains under torchrun on CPUs only (gloo); on GPUs, train the "
                         "photo ColorNet (train photo-colornet) or run one process")
    try:
        extractor = None if cfg.mode == "l1_auto" else load_extractor(cfg.grayvgg).extractor
        metrics = loop.fit(TRAINER, cfg, out, command=command, resume=resume, progress=progress,
                           checkpoint_every=checkpoint_every, rank=rank, features=extractor,
                           device=device)
        if world > 1 and rank == 0:
            dist.barrier()  # the other ranks wait in finish() until rank 0 has written
    finally:
        if joined:
            dist.destroy_process_group()
    return metrics
