"""The Chooser against the warps it chooses among, on validation photos (held-out: --heldout).

The shipped photo ColorNet reads one warp, R'_ab of the ``PHOTO_FIELD`` hypercolumn, and ends level with R'_ab
smoothed along T_L (notebook 05). The Chooser (``reprolib.colorization.chooser``) reads K warps of the same
reference, R'_ab^k = R_ab(phi^k_T->R(p)), one per matcher of ``chooser.FIELDS`` (each with mirrored candidates),
with T_L and every matcher's similarity maps, and mixes them per pixel:

    P_ab = GF_T_L( sum_k softmax_k(y_k(p)) R'_ab^k(p) + r(p) ),    (y, r) = U-Net(T_L, R'_ab^1..K, sims)

Where the matchers disagree one of them is often right, so a net that learns whom to trust can do what no filter
of one warp can. Deviation from DEC: its sub-net reads one warp.
This script trains the Chooser's recipe with the library's trainer (``python -m reprolib train chooser``:
``reprolib.training.chooser``) on the training photos less the validation photos (``--images fit``), one net per
seed (each builds its own cache of matched pairs from its seed), and prints mean CIEDE2000 on
``other_view_pairs(VALIDATION_PHOTOS, --n-per)`` (``photo_pairs.evaluate_views``, one match per pair for every
row) of each warp alone, raw and smoothed, their median, and each net. ``--heldout`` trains on every training
photo and measures on the study's held-out pairs, ``other_view_pairs(HELDOUT_PHOTOS, 4)``, instead: for a setting
already chosen on validation, run once. Notebook 05's rows for nets that read one matcher's maps, pre-smoothed
candidates and a CIEDE2000 loss came from this script's earlier flags (``--all-sims``, ``--smoothed``, ``--loss``,
at commit 165c022); they lost on validation and are not kept. The stride-2 matcher is searched in bfloat16 here,
as in the shipped Chooser (float32 in those earlier rows).
Measures and prints markdown; asserts nothing. On 2 cores: matching the pairs about 11 minutes per net with the
student (most of it the stride-2 field), about 8 with VGG-16 at 16 pairs per photo; then about 4 minutes per net.
``--device cuda`` trains the nets on a GPU.
Usage:
    python benchmarks/ablate_photo_candidates.py [--features photo] [--steps 1200] [--batch-size 8] [--width 0.125]
        [--seeds 0 1] [--hue 1] [--pairs-per-image 48] [--device cpu] [--n-per 8] [--heldout]
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch

from reprolib.colorization.chooser import FIELDS, load_chooser
from reprolib.colorization.grayvgg_weights import load_extractor
from reprolib.colorization.pipelines import ChooserPipeline
from reprolib.colorization.smoothing import smooth_ab
from reprolib.training import chooser
from reprolib.training.photo_pairs import HELDOUT_PHOTOS, VALIDATION_PHOTOS, evaluate_views, mean, sources


def rows(extractor, nets: dict[str, ChooserPipeline]):
    """predict(T_L, R_lab) for evaluate_views: every warp raw and smoothed, their median, and each net, all from
    one match of the Chooser's matchers."""
    matcher = next(iter(nets.values()))

    def predict(T_L, R_lab):
        matched = matcher.match(extractor, T_L, R_lab)
        warps = {f"R'_ab of {'+'.join(f.layers)}": m.R_ab_warped for f, m in zip(FIELDS, matched)}
        warps[f"median of the {len(matched)} warps"] = torch.stack(list(warps.values())).median(0).values
        out = {}
        for name, ab in warps.items():
            out[f"{name}, raw"], out[f"{name}, smoothed"] = ab, smooth_ab(ab, T_L)
        return out | {name: net.predict(T_L, matched) for name, net in nets.items()}

    return predict


def main() -> None:
    recipe = chooser.Config()  # the shipped recipe's defaults
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default=recipe.features, help="the gray-VGG that matches (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=recipe.steps, help="training steps per net (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one net per seed (default: %(default)s)")
    parser.add_argument("--hue", type=float, default=recipe.hue, help="share of pairs turned (default: %(default)s)")
    parser.add_argument("--width", type=float, default=recipe.width, help="1 = DEC's width (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=recipe.batch_size, help="(default: %(default)s)")
    parser.add_argument("--device", default="cpu", help="where the nets train (default: %(default)s)")
    parser.add_argument("--pairs-per-image", type=int, default=recipe.pairs_per_image, help="(default: %(default)s)")
    parser.add_argument("--n-per", type=int, help="measured pairs per photo (default: 8, 4 with --heldout)")
    parser.add_argument("--heldout", action="store_true",
                        help="train on every training photo, measure on the study's held-out pairs (run once)")
    args = parser.parse_args()
    images, measure = ("shipped", HELDOUT_PHOTOS) if args.heldout else ("fit", VALIDATION_PHOTOS)
    n_per = args.n_per or (4 if args.heldout else 8)
    extractor = load_extractor(args.features)
    nets = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            out = Path(tmp) / f"chooser_seed{seed}.pt"
            chooser.train(out, features=args.features, images=images, steps=args.steps, seed=seed, hue=args.hue,
                          width=args.width, batch_size=args.batch_size, pairs_per_image=args.pairs_per_image,
                          device=args.device, eval_n=0, progress=False)
            nets[f"Chooser, seed {seed}"] = ChooserPipeline(net=load_chooser(out))
    scores = evaluate_views(rows(extractor, nets), measure, n_per)
    print(f"features {extractor.extractor}; matchers {' | '.join('+'.join(f.layers) for f in FIELDS)}; trained on "
          f"{len(sources(images))} photos, {args.pairs_per_image} pairs each, {args.steps} steps of {args.batch_size}, "
          f"width {args.width}, hue {args.hue}; measured on {', '.join(measure)}, {n_per} pairs each "
          f"{'(held out)' if args.heldout else '(validation)'}; mean CIEDE2000\n")
    print("| | mean CIEDE2000 |")
    print("|---|---:|")
    for name, values in scores.items():
        print(f"| {name} | {mean(values):.3f} |")


if __name__ == "__main__":
    main()
