"""Training the colorization sub-net (He et al. 2018, Sec. 3.3) on the synthetic world.

Each training pair is a target T and a reference R from ``scenes.sample_pairs``; the similarity sub-net
(``matching.match`` with the small gray-VGG, exact NN on relu3_1) gives phi_T->R, phi_R->T, sim_T<->R and
R'_ab. Three modes (``--mode``):

* ``full`` -- the paper's two branches, alternated step by step (even steps chrominance, odd steps
  perceptual; steps 2k and 2k + 1 share the pairs of data batch k):
  - chrominance branch: input [sims, T_L, T'_ab] with T'_ab(p) = T_ab(phi_R->T(phi_T->R(p))), the target's
    OWN colours sent to R and back through the real pair's fields, and the same sims of the real pair
    (where the round trip fails, T'_ab is wrong and the net learns from sim_T<->R to distrust it);
    loss smooth-L1(P_ab, T_ab).
  - perceptual branch: input [sims, T_L, R'_ab], the real warped reference; loss
    alpha ||F(P_lab) - F(GT_lab)||^2 (:class:`reprolib.losses.PerceptualLoss`) with
    GT = ``scenes.ground_truth(T, R)``, the target rendered with the REFERENCE's palettes.
    Deviation: the paper compares with the target's own photo colours, because ImageNet has no
    "target as the reference says"; its reference is chosen to be similar, so the two rarely disagree.
    In the synthetic world palettes are drawn independently, so the target's own palette is pure noise
    given R (the perceptual branch would learn to ignore the reference and turn gray), while
    ground_truth(T, R) is exactly what exemplar colorization should produce and what we evaluate.
* ``chrominance_only`` -- the chrominance branch on every step.
* ``l1_auto`` -- the automatic baseline of the study note: ``ColorNet(in_channels=1)`` sees T_L only and
  is trained with L1 to the target's true T_ab.

Reproducibility (as :mod:`reprolib.train`): data batch k is ``sample_pairs(train_data_seed(seed, k), B, size)``
(optionally only ``pool`` distinct batches, k mod pool, computed once and kept in memory); the model is
initialised from ``torch.manual_seed(seed)``; nothing else is random. A resumable state (model, Adam,
step) is saved atomically every ``checkpoint_every`` steps and on Ctrl-C; resumed runs end bit-identical.

Measured (shipped checkpoints data/colornet_*.pt: full and chrominance_only 1600 steps of 16 pairs,
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
import time
from pathlib import Path
from typing import NamedTuple

import torch
import torch.distributed as dist
from torch import Tensor
from tqdm.auto import tqdm

from . import color, matching, scenes
from .colornet import ColorNet, checkpoint_dict, predict_ab
from .features import GrayVGG, grayvgg_small
from .losses import PERCEPTUAL_ALPHA, PERCEPTUAL_LAYER, PerceptualLoss, chrominance_loss, l1_loss
from .train import _lr_at, heldout_seed, load_checkpoint, save_checkpoint, sha256_file, state_path, train_data_seed

MODES = ("full", "chrominance_only", "l1_auto")
STATE_FORMAT = "reprolib.colortrain_state/1"


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
    return matching.colornet_input(batch.T_L, ab, batch.sims, "dec")


def branch_of(mode: str, step: int) -> str:
    """Which branch trains at ``step``: 'chrominance', 'perceptual' or 'l1_auto'."""
    if mode == "full":
        return "chrominance" if step % 2 == 0 else "perceptual"
    return "chrominance" if mode == "chrominance_only" else "l1_auto"


def data_index(mode: str, step: int, pool: int | None) -> int:
    """Data batch of ``step`` (full mode: steps 2k, 2k + 1 share batch k); modulo ``pool`` if given."""
    k = step // 2 if mode == "full" else step
    return k % pool if pool else k


# -- distributed --------------------------------------------------------------------------------
def _world() -> tuple[int, int, bool]:
    """(rank, world size, joined here); joins a gloo process group when launched by torchrun (WORLD_SIZE > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False
    joined = not dist.is_initialized()
    if joined:
        dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size(), joined


def _weight_spread(net: ColorNet) -> float:
    """Largest |w_rank - w_rank0| over all weights and ranks (0.0 when DDP kept the ranks in sync)."""
    flat = torch.cat([p.detach().flatten() for p in net.parameters()])
    ref = flat.clone()
    dist.broadcast(ref, 0)
    diff = (flat - ref).abs().max()
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    return diff.item()


# -- evaluation ---------------------------------------------------------------------------------
@torch.no_grad()
def evaluate_colornet(net: ColorNet | None, n: int = 200, seed: int = 0, size: int = 64, batch_size: int = 50,
                      grayvgg: GrayVGG | None = None) -> float:
    """Mean CIEDE2000 between (T_L, P_ab) and ground_truth(T, R) over ``n`` held-out pairs
    ``sample_pairs(heldout_seed(seed), n, size)``, matched as in training. ``net=None`` scores R'_ab alone."""
    grayvgg = grayvgg_small() if grayvgg is None else grayvgg
    was_training = net.training if net is not None else False
    if net is not None:
        net.eval()
    target, reference = scenes.sample_pairs(heldout_seed(seed), n, size)
    total = 0.0
    for i in range(0, n, batch_size):
        b = pair_batch(grayvgg, target[i:i + batch_size], reference[i:i + batch_size])
        ab = b.R_ab_warped if net is None else predict_ab(net, branch_input(b, "perceptual"))
        de = color.delta_e2000(torch.cat((b.T_L, ab), 1), torch.cat((b.T_L, b.GT_ab), 1))
        total += de.mean(dim=(-2, -1)).sum().item()
    if net is not None:
        net.train(was_training)
    return total / n


# -- training -----------------------------------------------------------------------------------
def train_colornet(
    out: str | os.PathLike,
    *,
    steps: int,
    mode: str = "full",
    batch_size: int = 16,
    seed: int = 0,
    size: int = 64,
    width: float = 0.125,
    residual: bool = True,
    lr: float = 1e-3,
    pool: int | None = None,
    perceptual_layer: str = PERCEPTUAL_LAYER,
    alpha: float = PERCEPTUAL_ALPHA,
    resume: bool = True,
    checkpoint_every: int = 50,
    eval_n: int = 200,
    progress: bool = True,
    grayvgg_path: str | os.PathLike | None = None,
) -> dict:
    """Train a ColorNet in ``mode`` (module docstring) and write the final checkpoint to ``out``.

    ``residual``: the net corrects its input chrominance (``ColorNet(residual=True)``; not for l1_auto, which
    has none). Adam, linear warm-up then cosine decay of ``lr`` (as :func:`reprolib.train.train_grayvgg`). The
    resumable state lives at ``train.state_path(out)`` until the run completes. Returns metrics (rank 0;
    other ranks return {"rank": r}): final training loss per branch (mean of the last 50 steps of it),
    held-out mean CIEDE2000 of the net and of R'_ab alone on ``eval_n`` pairs, seconds, sha256.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    if steps < 1 or batch_size < 1 or checkpoint_every < 1 or (pool is not None and pool < 1):
        raise ValueError(f"steps, batch_size, checkpoint_every and pool must be >= 1, got {steps}, {batch_size}, "
                         f"{checkpoint_every}, {pool}")
    train_data_seed(seed, steps - 1)  # validates seed and step ranges
    rank, world, joined = _world()
    if batch_size % world:
        raise ValueError(f"batch_size {batch_size} must be divisible by the number of processes {world}")
    shard = slice(rank * batch_size // world, (rank + 1) * batch_size // world)
    residual = bool(residual) and mode != "l1_auto"
    out = Path(out)
    state_file = state_path(out)
    config = {"mode": mode, "residual": residual, "steps": int(steps), "batch_size": int(batch_size),
              "seed": int(seed), "size": int(size), "width": float(width), "lr": float(lr), "pool": pool,
              "perceptual_layer": perceptual_layer,
              "alpha": float(alpha), "grayvgg": str(grayvgg_path) if grayvgg_path else "data/grayvgg_small.pt"}
    warmup = min(100, max(1, steps // 10))

    grayvgg = grayvgg_small(grayvgg_path)
    perceptual = PerceptualLoss(grayvgg, perceptual_layer, alpha) if mode == "full" else None
    torch.manual_seed(seed)
    net = ColorNet(1 if mode == "l1_auto" else 13, width, residual)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    start, history = 0, []
    if resume and state_file.exists():
        state = load_checkpoint(state_file)
        if state.get("format") != STATE_FORMAT or state.get("config") != config:
            raise ValueError(f"{state_file} was made by a run with other settings ({state.get('config')}); "
                             f"run with those settings, pass --no-resume, or delete the file")
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start, history = int(state["step"]), [tuple(h) for h in state["history"]]
    model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    cache: dict[int, PairBatch] = {}

    def batch_at(step: int) -> PairBatch:
        k = data_index(mode, step, pool)
        if k in cache:
            return cache[k]
        target, reference = scenes.sample_pairs(train_data_seed(seed, k), batch_size, size)
        target, reference = target[shard], reference[shard]
        if mode == "l1_auto":  # no reference: no matching needed
            b = PairBatch(target.L, None, None, None, target.ab, None)
        else:
            b = pair_batch(grayvgg, target, reference)
        if pool:
            cache[k] = b
        return b

    def checkpoint(step: int) -> None:
        if rank == 0:
            save_checkpoint({"format": STATE_FORMAT, "config": config, "step": step, "model": net.state_dict(),
                             "optimizer": opt.state_dict(), "history": history}, state_file)

    t0 = time.perf_counter()
    net.train()
    step = start
    bar = tqdm(total=steps, initial=start, desc=f"train colornet ({mode})", disable=not progress or rank > 0,
               leave=False)
    consistent = True
    try:
        while step < steps:
            b = batch_at(step)
            branch = branch_of(mode, step)
            for group in opt.param_groups:
                group["lr"] = _lr_at(step, steps, lr, warmup)
            P_ab = model(branch_input(b, branch))
            if branch == "chrominance":
                loss = chrominance_loss(P_ab, b.T_ab)
            elif branch == "perceptual":
                loss = perceptual(P_ab, b.GT_ab)
            else:
                loss = l1_loss(P_ab, b.T_ab)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            value = loss.detach()
            if world > 1:  # the logged loss is the whole batch's, as in a single process
                dist.all_reduce(value)
                value /= world
            consistent = False
            opt.step()
            history.append((branch, value.item()))
            step += 1
            consistent = True
            bar.update(1)
            bar.set_postfix(loss=f"{value.item():.3f}", branch=branch[:5])
            if step % checkpoint_every == 0 and step < steps:
                checkpoint(step)
    except KeyboardInterrupt:
        if consistent:
            checkpoint(step)
        raise
    finally:
        bar.close()
    seconds = time.perf_counter() - t0
    spread = _weight_spread(net) if world > 1 else 0.0
    if rank > 0:
        dist.barrier()  # rank 0 evaluates and writes
        if joined:
            dist.destroy_process_group()
        return {"rank": rank, "ddp_weight_spread": spread}

    net.eval()
    losses = {}
    for branch in sorted({h[0] for h in history}):
        tail = [v for br, v in history if br == branch][-50:]
        losses[f"train_loss_{branch}"] = round(sum(tail) / len(tail), 4)
    metrics = {"mode": mode, "steps": steps, "seed": seed, "batch_size": batch_size, "size": size, "width": width,
               "residual": residual, "lr": lr, "pool": pool, "world_size": world, "ddp_weight_spread": spread,
               "parameters": sum(p.numel() for p in net.parameters()),
               **losses}
    if mode == "full":
        metrics.update(perceptual_layer=perceptual_layer, alpha=alpha)
    if eval_n:
        metrics["heldout_delta_e2000"] = round(evaluate_colornet(net, eval_n, seed, size, grayvgg=grayvgg), 4)
        metrics["heldout_delta_e2000_warped_reference"] = round(evaluate_colornet(None, eval_n, seed, size,
                                                                                  grayvgg=grayvgg), 4)
        metrics["heldout_pairs"] = f"sample_pairs({heldout_seed(seed)}, {eval_n}, {size})"
    save_checkpoint(checkpoint_dict(net, **metrics), out)
    state_file.unlink(missing_ok=True)
    metrics.update(seconds=round(seconds, 1), resumed_from=start, sha256=sha256_file(out))
    if world > 1:
        dist.barrier()
        if joined:
            dist.destroy_process_group()
    return metrics
