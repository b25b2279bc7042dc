"""Training VID's recurrence (``train temporal``): :class:`reprolib.video.recurrent.TemporalNet` on clips of the
training photos.

Data (:func:`clip_cache`): for each training photo (``photo_pairs.TRAIN_PHOTOS``) one clip per camera motion
(pan, zoom, warp; every other one with a sprite of another training photo), 8 frames of 144 x 192 with exact flow
(:mod:`reprolib.video.clips`), each coloured frame by frame by the photo Chooser from two references: its first
frame in colour and another training photo. Kept in memory: T_L, P_ab, the truth T_ab, the exact F*_t, M*_t and
DIS's F_t, M_t (what the net reads at inference). A step draws ``batch_size`` clips, one random crop of ``size``
for all their frames, and unrolls the net over the frames (O^0 = P_ab^0) with the loss of
:mod:`reprolib.video.recurrent`. The final metrics compare per_frame, the filter and the net on clips of the
development photos (``photo_pairs.DEVELOPMENT_PHOTOS``), never on the photos that measure it in ``reproduce``.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..core.configs import setting
from ..core.photos import load_photo, resize_to
from ..video.flow import clip_flows, flow_warp
from ..video.recurrent import AB_SCALE, TEMPORAL_WEIGHT, TemporalNet, checkpoint_dict
from . import loop
from .photo_pairs import DEVELOPMENT_PHOTOS, TRAIN_PHOTOS

CLIP_SIZE = 144  # the clips' short side and working size


@dataclass
class Config:
    """``train temporal``'s settings (every field a flag)."""

    steps: int = setting(800, "Adam steps")
    batch_size: int = setting(4, "clips per step")
    size: int = setting(96, "side of the random crop shared by a clip's frames")
    lr: float = setting(2e-3, "peak learning rate (warmup then cosine)")
    temporal_weight: float = setting(TEMPORAL_WEIGHT, "lambda_t of the temporal loss, on (a*b* / 110)^2")
    seed: int = setting(0, "seed of the net and the crops")
    eval_clips: int = setting(3, "development clips of the final comparison (0: none)")
    device: str = setting("cpu", "cpu or cuda", choices=("cpu", "cuda"))

    def check(self) -> Config:
        if self.steps < 1 or self.batch_size < 1 or not 16 <= self.size <= CLIP_SIZE:
            raise ValueError(f"steps and batch_size must be >= 1 and size in 16..{CLIP_SIZE}, got {self.steps}, "
                             f"{self.batch_size}, {self.size}")
        if self.temporal_weight < 0 or self.eval_clips < 0:
            raise ValueError("temporal_weight and eval_clips must be >= 0")
        return self


def coloured_clip(clip, reference, features: str = "photo") -> dict:
    """One cache item: the clip coloured frame by frame from ``reference``, its truth and both flows."""
    from ..core.color import rgb_to_lab
    from ..studies.video_study import colour_frames

    T_L, P_ab, _ = colour_frames(clip, reference, features, CLIP_SIZE)
    flow, mask = clip_flows(T_L)
    return {"T_L": T_L, "P_ab": P_ab, "T_ab": rgb_to_lab(clip.rgb)[:, 1:], "flow_exact": clip.flow,
            "mask_exact": clip.mask, "flow": flow, "mask": mask}


def photo_clips(names: list[str], seed: int) -> list:
    """One clip per motion of each photo of ``names`` (:mod:`reprolib.video.clips`), sprites on every other one,
    each with the other-photo reference of the next name: [(clip, other reference)]."""
    from ..video.clips import MOTIONS, add_sprite, photo_clip

    out = []
    for i, name in enumerate(names):
        photo = load_photo(name)
        for j, motion in enumerate(MOTIONS):
            clip = photo_clip(photo, photo, motion, seed + 10 * i + j, name=f"{name}:{motion}")
            if (i + j) % 2 == 0:
                clip = add_sprite(clip, resize_to(load_photo(names[(i + 3) % len(names)]), 48, 48), seed + 10 * i + j)
            out.append((clip, load_photo(names[(i + 1 + j) % len(names)])))
    return out


def clip_cache(names: list[str], seed: int = 100) -> dict[str, torch.Tensor]:
    """Every clip of :func:`photo_clips` coloured from its first frame and from the other photo, stacked."""
    items = []
    for clip, other in photo_clips(names, seed):
        items += [coloured_clip(clip, clip.rgb[0]), coloured_clip(clip, other)]
    return {k: torch.stack([it[k] for it in items]) for k in items[0]}


def unroll(net: TemporalNet, b: dict[str, torch.Tensor]) -> list[torch.Tensor]:
    """O^0 .. O^{T-1} of a batch of clips (B, T, C, H, W): O^0 = P_ab^0, then the net on each frame."""
    outs = [b["P_ab"][:, 0]]
    for t in range(1, b["P_ab"].shape[1]):
        O_warped = flow_warp(outs[-1], b["flow"][:, t])
        L_change = (b["T_L"][:, t] - flow_warp(b["T_L"][:, t - 1], b["flow"][:, t])).abs()
        outs.append(net(b["T_L"][:, t], b["P_ab"][:, t], O_warped, b["mask"][:, t], L_change))
    return outs


def clip_loss(outs: list[torch.Tensor], b: dict[str, torch.Tensor], weight: float) -> tuple[torch.Tensor, ...]:
    """smooth_L1 to the truth and lambda_t times the temporal loss under the exact flow, over frames 1..T-1."""
    fidelity = sum(F.smooth_l1_loss(o / AB_SCALE, b["T_ab"][:, t] / AB_SCALE) for t, o in enumerate(outs) if t)
    temporal = sum((b["mask_exact"][:, t] * (o - flow_warp(outs[t - 1], b["flow_exact"][:, t])) ** 2).mean()
                   / AB_SCALE ** 2 for t, o in enumerate(outs) if t)
    n = len(outs) - 1
    return fidelity / n + weight * temporal / n, fidelity / n, temporal / n


@dataclass
class Parts:
    net: TemporalNet
    opt: torch.optim.Optimizer
    cache: dict
    g: torch.Generator

    def stateful(self) -> dict:
        return {"model": self.net, "optimizer": self.opt, "sampler": loop.GeneratorState(self.g)}


def build(cfg: Config) -> Parts:
    cache = clip_cache(list(TRAIN_PHOTOS))
    torch.manual_seed(cfg.seed)
    net = TemporalNet().train()
    return Parts(net, torch.optim.Adam(net.parameters(), lr=cfg.lr), cache, torch.Generator().manual_seed(cfg.seed))


def sample(cache: dict, batch: int, size: int, g: torch.Generator) -> dict:
    """``batch`` clips and one random ``size`` crop shared by all their frames."""
    n, _, _, H, W = cache["P_ab"].shape
    pick = torch.randint(n, (batch,), generator=g)
    y, x = (int(torch.randint(s - size + 1, (1,), generator=g)) for s in (H, W))
    return {k: v[pick, ..., y:y + size, x:x + size] for k, v in cache.items()}


def step(cfg: Config, parts: Parts, i: int) -> dict:
    b = sample(parts.cache, cfg.batch_size, cfg.size, parts.g)
    device = next(parts.net.parameters()).device
    b = {k: v.to(device) for k, v in b.items()}
    loop.schedule(parts.opt, i, cfg.steps, cfg.lr)
    loss, fidelity, temporal = clip_loss(unroll(parts.net, b), b, cfg.temporal_weight)
    parts.opt.zero_grad(set_to_none=True)
    loss.backward()
    parts.opt.step()
    return {"loss": loss.item(), "fidelity": fidelity.item(), "temporal": temporal.item()}


@torch.no_grad()
def evaluate(net: TemporalNet, clips: int) -> dict:
    """Mean CIEDE2000, warp error, CDC and colourfulness of per_frame, the filter and the net on ``clips`` clips of
    the development photos (both references each)."""
    from ..studies.video_study import mean_rows, outputs
    from ..video.metrics import clip_scores

    results = []
    for clip, other in photo_clips(list(DEVELOPMENT_PHOTOS), 500)[:clips]:
        for reference in (clip.rgb[0], other):
            item = coloured_clip(clip, reference)
            rows = outputs(item["T_L"], item["P_ab"], ("per_frame", "filter"), recurrent=net)
            results.append({"rows": {k: clip_scores(v, clip.rgb, clip.flow, clip.mask) for k, v in rows.items()}})
    return {k: v for k, v in mean_rows(results).items() if k != "gray"}


def finish(cfg: Config, parts: Parts, history: list, rank: int) -> tuple[dict, dict]:
    net = parts.net.cpu().eval()
    tail = history[-50:]
    metrics = {"steps": cfg.steps, "seed": cfg.seed, "clips": int(parts.cache["P_ab"].shape[0]),
               "parameters": sum(p.numel() for p in net.parameters()),
               "train_loss": round(sum(h["loss"] for h in tail) / len(tail), 5),
               "train_temporal": round(sum(h["temporal"] for h in tail) / len(tail), 6)}
    if cfg.eval_clips:
        metrics["development"] = evaluate(net, cfg.eval_clips)
    return checkpoint_dict(net, **metrics), metrics


def data(cfg: Config) -> str:
    return (f"3 clips (pan, zoom, warp) of each of the {len(TRAIN_PHOTOS)} training photos, 8 frames of 144 x 192, "
            f"each coloured by the photo Chooser from its first frame and from another training photo; crops "
            f"{cfg.size}")


TRAINER = loop.Trainer("temporal", build, step, finish, data)


def summary(metrics: dict) -> str:
    """The line ``train temporal`` ends with."""
    dev = metrics.get("development", {})
    parts = [f"{k}: CIEDE2000 {v['ciede2000']:.2f}, warp error {v['warp_error']:.3f}" for k, v in dev.items()]
    return "; ".join(parts) or f"train loss {metrics['train_loss']}"


def train(out: str | os.PathLike, *, resume: bool = True, progress: bool = True, checkpoint_every: int = 100,
          command: str | None = None, **settings) -> dict:
    """Train the recurrence with ``Config(**settings)``; write ``out`` and its provenance."""
    cfg = Config(**settings).check()
    return loop.fit(TRAINER, cfg, out, command=command, resume=resume, progress=progress,
                    checkpoint_every=checkpoint_every, features="grayvgg_small_photo", device=cfg.device)
