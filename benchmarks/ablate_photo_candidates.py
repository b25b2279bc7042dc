"""A colorization net that chooses among the warps of several matchers, on validation photos, never the held-out ones.

The shipped photo ColorNet reads one warp, R'_ab of the ``PHOTO_FIELD`` hypercolumn, and ends level with R'_ab
smoothed along T_L (notebook 05). Here the net reads K warps of the same reference, R'_ab^k = R_ab(phi^k_T->R(p)),
one per hypercolumn of ``FIELDS`` (each matched with mirrored candidates), with T_L and the similarity maps of the
first, and mixes them per pixel:

    P_ab = GF_T_L( sum_k softmax_k(y_k(p)) R'_ab^k(p) + r(p) ),    (y, r) = U-Net(T_L, R'_ab^1..K, sims)

(the U-Net is ColorNet's trunk, GF the guided filter layer, r a residual; at initialisation the first warp
dominates). Where the matchers disagree one of them is often right, so a net that learns whom to trust can do
what no filter of one warp can. Deviation from DEC: its sub-net reads one warp and its similarity maps.
Trained (real branch, smooth-L1 against the target's own colours, crops, flips, hue turns with probability
``--hue``) on pairs of views of the training photos less ``VALIDATION``, and measured on
``other_view_pairs(VALIDATION, --n-per)`` against each warp alone, raw and smoothed, and their median.
Measures and prints markdown; asserts nothing. About 15 minutes with the student on 2 cores (most of it the
stride-2 matching of the training pairs), longer with VGG-16.
Usage:
    python benchmarks/ablate_photo_candidates.py [--features photo] [--steps 1200] [--seeds 0 1] [--hue 1]
"""
from __future__ import annotations

import argparse

import torch
import torch.nn as nn
import torch.nn.functional as F
from ablate_photo_branches import VALIDATION

from reprolib.colorization.colornet import ColorNet
from reprolib.colorization.extractors import load_extractor
from reprolib.colorization.matching import PHOTO_FIELD, match
from reprolib.colorization.smoothing import RADIUS, guided_layer, smooth_ab
from reprolib.core import color
from reprolib.training import loop
from reprolib.training.photo_colornet import sample
from reprolib.world.photo_views import CROP, other_view_pairs, random_views, train_photos

FIELDS = (PHOTO_FIELD, ("relu2_1", "relu3_1", "relu4_1"), ("relu4_1", "relu5_1"))
WARPS = tuple(f"W{k}" for k in range(len(FIELDS)))


@torch.no_grad()
def candidates(extractor, T_lab: torch.Tensor, R_lab: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per pair: T_L, T_ab, the warps W0.. of ``FIELDS`` (float16) and the first field's sims (uint8)."""
    out: dict[str, list] = {k: [] for k in ("sims", "T_L", "T_ab", *WARPS)}
    for i in range(len(T_lab)):
        T_L, R = T_lab[i:i + 1, :1], R_lab[i:i + 1]
        for k, field in enumerate(FIELDS):
            m = match(extractor, T_L, R[:, :1], R[:, 1:], field_layer=field, mirror=True, maps=k == 0)
            out[WARPS[k]].append(m.R_ab_warped.half())
            if k == 0:
                out["sims"].append((m.sims.clamp(0, 1) * 255).round().to(torch.uint8))
        out["T_L"].append(T_L.half())
        out["T_ab"].append(T_lab[i:i + 1, 1:].half())
    return {k: torch.cat(v) for k, v in out.items()}


class Chooser(ColorNet):
    """ColorNet's trunk with K + 2 outputs: the weights of the K warps and a residual (module docstring)."""

    def __init__(self, k: int, n_sims: int, width: float):
        super().__init__(1 + 2 * k + n_sims, width)
        self.k = k
        self.out = nn.Conv2d(self.out.in_channels, k + 2, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        with torch.no_grad():
            self.out.bias[0] = 2.0  # the first warp (the shipped R'_ab) dominates at the start

    def choose(self, T_L: torch.Tensor, warps: list[torch.Tensor], sims: torch.Tensor) -> torch.Tensor:
        H, W = T_L.shape[-2:]
        x = torch.cat(((T_L - 50) / 50, *(w / 50 for w in warps), sims * 4 - 3), 1)
        y = self.out(self.trunk(x))[..., :H, :W]
        weights = torch.softmax(y[:, :self.k], 1).unsqueeze(2)
        P_ab = (weights * torch.stack(warps, 1)).sum(1) + y[:, self.k:]
        return guided_layer(P_ab, T_L, RADIUS)


def train(cache: dict, steps: int, seed: int, hue: float, width: float, batch: int = 8, size: int = 128,
          lr: float = 1e-3) -> Chooser:
    torch.manual_seed(seed)
    net = Chooser(len(WARPS), cache["sims"].shape[1], width)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed + 1)
    for i in range(steps):
        loop.set_lr(opt, loop.warmup_cosine_lr(i, steps, lr, min(100, max(1, steps // 10))))
        b = sample(cache, batch, size, hue, g, ab_keys=("T_ab", *WARPS))
        loss = F.smooth_l1_loss(net.choose(b["T_L"], [b[k] for k in WARPS], b["sims"]), b["T_ab"])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return net.eval()


def delta_e(T_L: torch.Tensor, T_ab: torch.Tensor, ab: torch.Tensor) -> float:
    return color.delta_e2000(torch.cat((T_L, ab), 1), torch.cat((T_L, T_ab), 1)).mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default="photo", help="the gray-VGG that matches (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=1200, help="training steps per net (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one net per seed (default: %(default)s)")
    parser.add_argument("--hue", type=float, default=1.0, help="share of pairs turned (default: %(default)s)")
    parser.add_argument("--width", type=float, default=0.125, help="channel width, 1 = DEC's (default: %(default)s)")
    parser.add_argument("--pairs-per-image", type=int, default=48, help="(default: %(default)s)")
    parser.add_argument("--n-per", type=int, default=8, help="validation pairs per photo (default: %(default)s)")
    args = parser.parse_args()
    extractor = load_extractor(args.features)
    fit = [name for name in train_photos() if name not in VALIDATION]
    g = torch.Generator().manual_seed(0)
    parts = []
    for name in fit:
        views = random_views(name, args.pairs_per_image, g, crop=CROP, short=max(CROP * 4 // 3, CROP + 32), hue=False)
        parts.append(candidates(extractor, views.T_lab, views.R_lab))
    cache = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    pairs = other_view_pairs(VALIDATION, args.n_per)
    val = {k: v.float() for k, v in candidates(extractor, pairs.T_lab, pairs.R_lab).items()}
    val["sims"] = val["sims"] / 255.0
    T_L, T_ab = val["T_L"], val["T_ab"]
    print(f"features {extractor.extractor}; fields {' | '.join('+'.join(f) for f in FIELDS)}; trained on {len(fit)} "
          f"photos ({len(cache['T_L'])} pairs), {args.steps} steps, hue {args.hue}; validation: "
          f"{', '.join(VALIDATION)}, {args.n_per} pairs each; mean CIEDE2000\n")
    print("| | raw | smoothed (median + guided) |")
    print("|---|---:|---:|")
    for k, field in zip(WARPS, FIELDS):
        print(f"| R'_ab of {'+'.join(field)} | {delta_e(T_L, T_ab, val[k]):.3f} | "
              f"{delta_e(T_L, T_ab, smooth_ab(val[k], T_L)):.3f} |")
    median = torch.stack([val[k] for k in WARPS]).median(0).values
    print(f"| median of the {len(WARPS)} warps | {delta_e(T_L, T_ab, median):.3f} | "
          f"{delta_e(T_L, T_ab, smooth_ab(median, T_L)):.3f} |")
    for seed in args.seeds:
        net = train(cache, args.steps, seed, args.hue, args.width)
        with torch.no_grad():
            P_ab = torch.cat([net.choose(T_L[i:i + 1], [val[k][i:i + 1] for k in WARPS], val["sims"][i:i + 1])
                              for i in range(len(T_L))])
        print(f"| net choosing among them, seed {seed} (its own guided layer) | {delta_e(T_L, T_ab, P_ab):.3f} | |",
              flush=True)


if __name__ == "__main__":
    main()
