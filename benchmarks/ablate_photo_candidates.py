"""A colorization net that chooses among the warps of several matchers, on validation photos (held-out: --heldout).

The shipped photo ColorNet reads one warp, R'_ab of the ``PHOTO_FIELD`` hypercolumn, and ends level with R'_ab
smoothed along T_L (notebook 05). Here the net reads K warps of the same reference, R'_ab^k = R_ab(phi^k_T->R(p)),
one per hypercolumn of ``FIELDS`` (each matched with mirrored candidates), with T_L and the similarity maps of the
first field (of every field with ``--all-sims``), and mixes them per pixel:

    P_ab = GF_T_L( sum_k softmax_k(y_k(p)) R'_ab^k(p) + r(p) ),    (y, r) = U-Net(T_L, R'_ab^1..K, sims)

(``reprolib.colorization.chooser.Chooser``; here every field is searched in float32, where the shipped one
searches the stride-2 field in bfloat16). Where the matchers disagree one of them is often right, so a net that
learns whom to trust can do what no filter of one warp can. Deviation from DEC: its sub-net reads one warp.
``--smoothed`` adds smooth_ab(R'_ab^k) as K more candidates; ``--loss ciede2000`` trains on the metric itself
(DEC's loss, and the default, is smooth L1 on a*b*).
Trained (real branch, against the target's own colours, crops, flips, hue turns with probability ``--hue``) on
pairs of views of the training photos less ``VALIDATION``, and measured on ``other_view_pairs(VALIDATION,
--n-per)`` against each warp alone, raw and smoothed, and their median. ``--heldout`` trains on every training
photo and measures on the study's held-out pairs, ``other_view_pairs(HELDOUT_PHOTOS, 4)``, instead: for a setting
already chosen on validation, run once. ``--cache FILE`` keeps the matched pairs
(about 0.8 GB at 48 pairs per image) for the next run.
Measures and prints markdown; asserts nothing. On 2 cores: matching the pairs about 15 minutes with the student
(most of it the stride-2 field), about 30 with VGG-16; then about 4 minutes per net. ``--device cuda`` runs
the matching and the nets on a GPU. Figures: notebook 05, "A net that chooses among matchers".
Usage:
    python benchmarks/ablate_photo_candidates.py [--features photo] [--all-sims] [--smoothed] [--loss smooth_l1]
        [--steps 1200] [--batch 8] [--width 0.125] [--seeds 0 1] [--hue 1] [--device cpu] [--cache FILE] [--heldout]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
from ablate_photo_branches import VALIDATION

from reprolib.colorization.chooser import FIELDS, Chooser
from reprolib.colorization.extractors import load_extractor
from reprolib.colorization.matching import match
from reprolib.colorization.smoothing import smooth_ab
from reprolib.core import color, files
from reprolib.training import loop
from reprolib.training.photo_colornet import sample
from reprolib.world.photo_views import CROP, HELDOUT_PHOTOS, other_view_pairs, random_views, train_photos

WARPS = tuple(f"W{k}" for k in range(len(FIELDS)))
SMOOTHED = tuple(f"S{k}" for k in range(len(FIELDS)))  # smooth_ab of each warp, with --smoothed


def candidate_keys(d: dict) -> list[str]:
    """The candidates the net mixes: the warps, then their smoothed versions where present."""
    return [k for k in (*WARPS, *SMOOTHED) if k in d]


def add_smoothed(d: dict) -> dict:
    """``d`` with smooth_ab(R'_ab^k) of each warp as one more candidate (same dtype)."""
    T_L = d["T_L"].float()
    return d | {s: smooth_ab(d[w].float(), T_L).to(d[w].dtype) for w, s in zip(WARPS, SMOOTHED)}


@torch.no_grad()
def candidates(extractor, T_lab: torch.Tensor, R_lab: torch.Tensor, all_sims: bool = False) -> dict[str, torch.Tensor]:
    """Per pair: T_L, T_ab, the warps W0.. of ``FIELDS`` (float16) and the first field's sims (every field's
    with ``all_sims``; uint8), on the CPU; the matching runs where ``extractor`` is."""
    device = next(extractor.parameters()).device
    out: dict[str, list] = {k: [] for k in ("sims", "T_L", "T_ab", *WARPS)}
    for i in range(len(T_lab)):
        T_L, R = T_lab[i:i + 1, :1].to(device), R_lab[i:i + 1].to(device)
        sims = []
        for k, field in enumerate(FIELDS):
            m = match(extractor, T_L, R[:, :1], R[:, 1:], field_layer=field, mirror=True, maps=k == 0 or all_sims)
            out[WARPS[k]].append(m.R_ab_warped.half().cpu())
            sims.append((m.sims.clamp(0, 1) * 255).round().to(torch.uint8).cpu())
        out["sims"].append(torch.cat(sims, 1))
        out["T_L"].append(T_lab[i:i + 1, :1].half())
        out["T_ab"].append(T_lab[i:i + 1, 1:].half())
    return {k: torch.cat(v) for k, v in out.items()}


def train(cache: dict, steps: int, seed: int, hue: float, width: float, batch: int = 8, size: int = 128,
          lr: float = 1e-3, device: str = "cpu", loss: str = "smooth_l1") -> Chooser:
    torch.manual_seed(seed)
    keys = candidate_keys(cache)
    net = Chooser(len(keys), cache["sims"].shape[1], width).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed + 1)
    cache = {k: v.to(device) for k, v in cache.items()}
    for i in range(steps):
        loop.set_lr(opt, loop.warmup_cosine_lr(i, steps, lr, min(100, max(1, steps // 10))))
        b = sample(cache, batch, size, hue, g, ab_keys=("T_ab", *keys))
        P_ab = net(b["T_L"], [b[k] for k in keys], b["sims"])
        if loss == "ciede2000":  # the metric itself (a deviation: DEC's loss is smooth L1 on a*b*)
            value = color.delta_e2000(torch.cat((b["T_L"], P_ab), 1), torch.cat((b["T_L"], b["T_ab"]), 1)).mean()
        else:
            value = F.smooth_l1_loss(P_ab, b["T_ab"])
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
    return net.eval()


def caches(extractor, fit: list[str], pairs_per_image: int, n_per: int, all_sims: bool = False,
           measure: tuple[str, ...] = VALIDATION) -> tuple[dict, dict]:
    """The training cache (``pairs_per_image`` pairs of views of each photo of ``fit``) and the measured
    pairs, ``n_per`` of each photo of ``measure`` (float32, sims as cosines)."""
    g = torch.Generator().manual_seed(0)
    parts = []
    for name in fit:
        views = random_views(name, pairs_per_image, g, crop=CROP, short=max(CROP * 4 // 3, CROP + 32), hue=False)
        parts.append(candidates(extractor, views.T_lab, views.R_lab, all_sims))
    cache = {k: torch.cat([p[k] for p in parts]) for k in parts[0]}
    pairs = other_view_pairs(measure, n_per)
    val = {k: v.float() for k, v in candidates(extractor, pairs.T_lab, pairs.R_lab, all_sims).items()}
    val["sims"] = val["sims"] / 255.0
    return cache, val


@torch.no_grad()
def choose_all(net: Chooser, val: dict) -> torch.Tensor:
    """The net's P_ab of every measured pair (validation or held out), one at a time, back on the CPU."""
    device, keys = next(net.parameters()).device, candidate_keys(val)
    return torch.cat([net(val["T_L"][i:i + 1].to(device), [val[k][i:i + 1].to(device) for k in keys],
                          val["sims"][i:i + 1].to(device)).cpu() for i in range(len(val["T_L"]))])


def delta_e(T_L: torch.Tensor, T_ab: torch.Tensor, ab: torch.Tensor) -> float:
    return color.delta_e2000(torch.cat((T_L, ab), 1), torch.cat((T_L, T_ab), 1)).mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default="photo", help="the gray-VGG that matches (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=1200, help="training steps per net (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one net per seed (default: %(default)s)")
    parser.add_argument("--hue", type=float, default=1.0, help="share of pairs turned (default: %(default)s)")
    parser.add_argument("--width", type=float, default=0.125, help="channel width, 1 = DEC's (default: %(default)s)")
    parser.add_argument("--batch", type=int, default=8, help="pairs per step (default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="where the matching and the nets run (default: %(default)s)")
    parser.add_argument("--loss", choices=("smooth_l1", "ciede2000"), default="smooth_l1",
                        help="the training loss (default: %(default)s)")
    parser.add_argument("--all-sims", action="store_true", help="every field's similarity maps, not the first's")
    parser.add_argument("--smoothed", action="store_true", help="the smoothed warps as more candidates")
    parser.add_argument("--cache", type=Path, help="keep the matched pairs in this file and reuse them if there")
    parser.add_argument("--pairs-per-image", type=int, default=48, help="(default: %(default)s)")
    parser.add_argument("--n-per", type=int, help="measured pairs per photo (default: 8, 4 with --heldout)")
    parser.add_argument("--heldout", action="store_true",
                        help="train on every training photo, measure on the study's held-out pairs (run once)")
    args = parser.parse_args()
    extractor = load_extractor(args.features).to(args.device)
    if args.heldout:
        fit, measure, n_per = train_photos(), HELDOUT_PHOTOS, args.n_per or 4
    else:
        fit, measure, n_per = [name for name in train_photos() if name not in VALIDATION], VALIDATION, args.n_per or 8
    key = (extractor.extractor, fit, args.pairs_per_image, measure, n_per, args.all_sims, FIELDS)
    if args.cache and args.cache.exists():
        saved = torch.load(args.cache, weights_only=True)
        if saved["key"] != repr(key):
            raise SystemExit(f"{args.cache} holds other pairs ({saved['key']}); delete it or name another file")
        cache, val = saved["cache"], saved["val"]
    else:
        cache, val = caches(extractor, fit, args.pairs_per_image, n_per, args.all_sims, measure)
        if args.cache:
            files.atomic_write(args.cache, lambda tmp: torch.save({"key": repr(key), "cache": cache, "val": val}, tmp))
    if args.smoothed:
        cache, val = add_smoothed(cache), add_smoothed(val)
    T_L, T_ab = val["T_L"], val["T_ab"]
    print(f"features {extractor.extractor}; fields {' | '.join('+'.join(f) for f in FIELDS)}; candidates "
          f"{', '.join(candidate_keys(val))}; sims of {'every field' if args.all_sims else 'the first field'}; "
          f"trained on {len(fit)} photos ({len(cache['T_L'])} pairs), {args.steps} steps of {args.batch}, "
          f"width {args.width}, hue {args.hue}, loss {args.loss}; measured on {', '.join(measure)}, "
          f"{n_per} pairs each{' (held out)' if args.heldout else ' (validation)'}; mean CIEDE2000\n")
    print("| | raw | smoothed (median + guided) |")
    print("|---|---:|---:|")
    for k, smoothed, field in zip(WARPS, SMOOTHED, FIELDS):
        S = val[smoothed] if smoothed in val else smooth_ab(val[k], T_L)  # computed once with --smoothed
        print(f"| R'_ab of {'+'.join(field)} | {delta_e(T_L, T_ab, val[k]):.3f} | {delta_e(T_L, T_ab, S):.3f} |")
    median = torch.stack([val[k] for k in WARPS]).median(0).values
    print(f"| median of the {len(WARPS)} warps | {delta_e(T_L, T_ab, median):.3f} | "
          f"{delta_e(T_L, T_ab, smooth_ab(median, T_L)):.3f} |")
    for seed in args.seeds:
        net = train(cache, args.steps, seed, args.hue, args.width, args.batch, device=args.device, loss=args.loss)
        P_ab = choose_all(net, val)
        print(f"| net choosing among them, seed {seed} (its own guided layer) | {delta_e(T_L, T_ab, P_ab):.3f} | |",
              flush=True)


if __name__ == "__main__":
    main()
