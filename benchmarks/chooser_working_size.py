"""colorize's working size against its time: the Chooser at 192 and 256, R'_ab smoothed at 256, on larger views.

The study (results.json["photos"]) measures 192 x 192 views, where the working size is the view itself. A user's
photo is larger: ``colorize`` matches at a working size (short side ``--size``), upsamples P_ab bilinearly to
the photo and keeps the photo's own L*. Here the views are 256 x 256 ("same scene, other view" pairs of the
held-out photos, brought to a short side of 342 first, as the study brings them to 256 for its 192 views), and
each pipeline runs through ``colorize`` itself: mean CIEDE2000 against the photo's own colours, and the median
seconds of the pipeline (``Colorization.seconds``). The Chooser never trained on these photos.
Measures and prints markdown; asserts nothing. About 4 minutes with the student on 2 cores.
Usage:
    python benchmarks/chooser_working_size.py [--features photo|vgg16] [--n-per 4] [--sizes 192 256]
"""
from __future__ import annotations

import argparse
import statistics

import torch

from reprolib.colorization.colorize import colorize
from reprolib.colorization.grayvgg_weights import load_extractor
from reprolib.core import color
from reprolib.training.photo_pairs import HELDOUT_PHOTOS
from reprolib.world.photo_views import other_view_pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default="grayvgg_small_photo", help="the gray-VGG (default: %(default)s)")
    parser.add_argument("--n-per", type=int, default=4, help="pairs per held-out photo (default: %(default)s)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[192, 256], help="working sizes of the Chooser")
    parser.add_argument("--crop", type=int, default=256, help="the views' side (default: %(default)s)")
    args = parser.parse_args()
    model = load_extractor(args.features)
    pairs = other_view_pairs(HELDOUT_PHOTOS, args.n_per, crop=args.crop, short=args.crop * 4 // 3)
    runs = {f"Chooser, working size {s}": dict(size=s) for s in args.sizes}
    runs[f"R'_ab smoothed (--no-chooser), working size {args.crop}"] = dict(size=args.crop, chooser=False)
    print(f"features {model.extractor}; {len(pairs)} pairs of {args.crop} x {args.crop} views of the held-out photos; "
          f"{torch.get_num_threads()} threads\n")
    print("| pipeline | mean CIEDE2000 | median s / pair |")
    print("|---|---:|---:|")
    for name, settings in runs.items():
        errors, seconds = [], []
        for i in range(len(pairs)):
            T_lab, R_lab = pairs.T_lab[i], pairs.R_lab[i]
            target, reference = color.lab_to_rgb(T_lab).clamp(0, 1), color.lab_to_rgb(R_lab).clamp(0, 1)
            out = colorize(target, reference, features=model, **settings)
            P_lab = torch.cat((T_lab[:1], color.rgb_to_lab(out.rgb)[1:]))
            errors.append(color.delta_e2000(P_lab[None], T_lab[None]).mean().item())
            seconds.append(out.seconds)
        print(f"| {name} | {sum(errors) / len(errors):.3f} | {statistics.median(seconds):.2f} |", flush=True)


if __name__ == "__main__":
    main()
