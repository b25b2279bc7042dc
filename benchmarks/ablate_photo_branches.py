"""Which training branches of the photo ColorNet pay, chosen on validation photos, never on the held-out ones.

Trains the shipped recipe (``train photo-colornet``: width 1/8, 1200 steps, batch 8, 48 pairs per
image) on the training photos less the validation photos (``--images fit``: ``photo_pairs.fit_photos()``; the
split is ``reprolib.training.photo_pairs``'s), once per ``--branches``
setting, ``--guided`` radius (the net's guided filter layer; 0: none), ``--hue`` probability (of an a*b* turn
per training pair) and seed (``--steps``, ``--width`` and
``--extra-images``, a folder of more training photos, change the recipe), and prints mean CIEDE2000 on
``other_view_pairs(VALIDATION_PHOTOS, --n-per)`` (``photo_pairs.evaluate_views``) for the net and for R'_ab
alone, raw and smoothed along T_L (median + guided). The held-out photos of the study are not read.
Measures and prints markdown; asserts nothing. About 5-13 minutes per net of the shipped recipe on 2 cores,
about 20 with 3000 steps or width 1/4.
Usage:
    python benchmarks/ablate_photo_branches.py [--features photo] [--branches chrominance,real real] [--steps 1200]
        [--width 0.125] [--guided 0 2] [--hue 0 0.5] [--extra-images DIR] [--seeds 0 1 2] [--out DIR]
"""
from __future__ import annotations

import argparse
import itertools
import json
import tempfile
from pathlib import Path

from reprolib.colorization.colornet import load_colornet
from reprolib.colorization.grayvgg_weights import load_extractor
from reprolib.colorization.pipelines import DecColorNet, WarpSmoothed
from reprolib.training import photo_colornet
from reprolib.training.photo_pairs import VALIDATION_PHOTOS, evaluate_views, fit_photos, mean

SMOOTHINGS = ("none", "median_guided")


def validate(net, extractor, n_per: int) -> dict[str, float]:
    """Mean CIEDE2000 on the validation pairs: net and R'_ab alone, each raw and smoothed, from one match."""
    rows = {f"{who}_{s}": (DecColorNet(net=net, smoothing=s) if who == "net" else WarpSmoothed(smoothing=s))
            for who in ("net", "warped_reference") for s in SMOOTHINGS}

    def predict(T_L, R_lab):
        matched = rows["warped_reference_none"].match(extractor, T_L, R_lab)
        return {name: pipeline.predict(T_L, matched) for name, pipeline in rows.items()}

    return {name: mean(values) for name, values in evaluate_views(predict, VALIDATION_PHOTOS, n_per).items()}


def main() -> None:
    recipe = photo_colornet.Config()  # the shipped recipe's defaults
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default="grayvgg_small_photo", help="the gray-VGG whose maps the nets learn")
    parser.add_argument("--branches", nargs="+", default=["chrominance,real", "real"],
                        help="the settings compared, each a --branches of train colornet")
    parser.add_argument("--n-per", type=int, default=8, help="validation pairs per photo (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=recipe.steps, help="training steps per net (default: %(default)s)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one net per seed (default: %(default)s)")
    parser.add_argument("--width", type=float, default=recipe.width,
                        help="channel width of the net, 1 = DEC's (default: %(default)s)")
    parser.add_argument("--pairs-per-image", type=int, default=recipe.pairs_per_image,
                        help="training pairs per photo (default: %(default)s)")
    parser.add_argument("--guided", type=int, nargs="+", default=[recipe.guided],
                        help="radii of the guided filter layer compared, 0: none (default: %(default)s)")
    parser.add_argument("--hue", type=float, nargs="+", default=[recipe.hue],
                        help="probabilities of a hue turn per training pair compared (default: %(default)s)")
    parser.add_argument("--extra-images", default="", help="a folder of more training photos (default: none)")
    parser.add_argument("--out", default=None, help="keep the nets and a results.json here (default: a temp dir)")
    args = parser.parse_args()
    extractor = load_extractor(args.features)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.out or tmp)
        print(f"features {extractor.extractor}; {args.steps} steps, width {args.width}; trained on "
              f"{len(fit_photos())} photos; validation: {', '.join(VALIDATION_PHOTOS)}, {args.n_per} pairs each\n")
        print("| branches | guided | hue | seed | net raw | R'_ab raw | net smoothed | R'_ab smoothed |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        results = {}
        for branches, guided, hue, seed in itertools.product(args.branches, args.guided, args.hue, args.seeds):
            ckpt = out / f"colornet_{args.features}_{branches.replace(',', '+')}_g{guided}_hue{hue}_seed{seed}.pt"
            photo_colornet.train(ckpt, images="fit", features=args.features, branches=tuple(branches.split(",")),
                                 steps=args.steps, seed=seed, width=args.width, guided=guided, hue=hue,
                                 extra_images=args.extra_images, pairs_per_image=args.pairs_per_image, eval_n=0,
                                 progress=False)
            r = validate(load_colornet(ckpt), extractor, args.n_per)
            results[f"{branches} guided {guided} hue {hue} seed {seed}"] = r
            print(f"| {branches} | {guided} | {hue} | {seed} | {r['net_none']:.3f} | "
                  f"{r['warped_reference_none']:.3f} | {r['net_median_guided']:.3f} | "
                  f"{r['warped_reference_median_guided']:.3f} |", flush=True)
        if args.out:
            record = {"features": extractor.extractor, "validation": VALIDATION_PHOTOS, "n_per": args.n_per,
                      "steps": args.steps, "width": args.width, "extra_images": args.extra_images, "hue": args.hue,
                      "seeds": args.seeds, "rows": results}
            (out / "results.json").write_text(json.dumps(record, indent=1))

if __name__ == "__main__":
    main()
