"""colorize's time on a 384 x 512 photo, per pipeline, and how many times it runs the gray-VGG.

Colours a shipped photo brought to 384 x 512 from another (``--target``, ``--reference``) through
``reprolib.colorization.colorize.colorize``, warm, ``--repeats`` times per row, and prints the median, minimum and
maximum of ``Colorization.seconds`` (the pipeline: features, matching, network, colour conversion; not Python's
start-up nor loading the weights) and the gray-VGG passes of one call (its first convolution, counted with a
forward hook). Rows: the default (the Chooser at its working size 192), the Chooser at 256, and R'_ab smoothed
(``--no-chooser``, working size 256). Measures and prints markdown; asserts nothing. About a minute on 2 cores.
Usage:
    python benchmarks/bench_colorize.py [--features grayvgg_small_photo] [--repeats 5] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics

import torch
import torch.nn.functional as F

from reprolib.colorization.colorize import colorize, load_extractor
from reprolib.colorization.grayvgg import forward_passes
from reprolib.core.photos import load_photo

ROWS = {"default (Chooser, working size 192)": {}, "Chooser, working size 256": {"size": 256},
        "R'_ab smoothed (--no-chooser), working size 256": {"chooser": False}}


def photo(name: str, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(load_photo(name)[None], size=size, mode="area")[0].clamp(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--features", default="grayvgg_small_photo", help="the gray-VGG (default: %(default)s)")
    parser.add_argument("--target", default="picosdeeuropa_by_Aitzol_Berasategi.jpg", help="a shipped photo")
    parser.add_argument("--reference", default="aitzgorri_by_Aitzol_Berasategi.jpg", help="a shipped photo")
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per row (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = load_extractor(args.features)
    t, r = photo(args.target, (384, 512)), photo(args.reference, (384, 512))
    print(f"{model.source}; 384 x 512 target and reference; {torch.get_num_threads()} threads; "
          f"{args.repeats} warm calls per row\n")
    print("| pipeline | net | gray-VGG passes | median s | min s | max s |")
    print("|---|---|---:|---:|---:|---:|")
    for name, settings in ROWS.items():
        out = colorize(t, r, features=model, **settings)  # warm-up: loads the net, fills the caches
        n = forward_passes(model, lambda settings=settings: colorize(t, r, features=model, **settings))
        seconds = [colorize(t, r, features=model, **settings).seconds for _ in range(args.repeats)]
        print(f"| {name} | {out.colornet} | {n} | {statistics.median(seconds):.2f} | {min(seconds):.2f} | "
              f"{max(seconds):.2f} |", flush=True)


if __name__ == "__main__":
    main()
