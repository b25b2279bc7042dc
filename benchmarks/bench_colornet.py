"""The shipped colorization sub-nets: seconds per 256 x 256 forward pass and held-out CIEDE2000.

Measures and prints markdown; asserts nothing.  Usage:
    python benchmarks/bench_colornet.py [--n 200] [--threads 1] [--repeats 5]
Held-out pairs: reprolib.world.scenes.sample_pairs(reprolib.core.seeds.heldout_seed(0), n, 64), matched with the small
gray-VGG; the ground truth is the target rendered with the reference's palettes (scenes.ground_truth).
"""
from __future__ import annotations

import argparse
import time

import torch

from reprolib.colorization.colornet import MODES, load_colornet, predict_ab
from reprolib.training.colornet import evaluate_colornet


def seconds_per_forward(net, size: int = 256, repeats: int = 5) -> float:
    x = 40 * torch.randn(1, 13, size, size, generator=torch.Generator().manual_seed(0))
    predict_ab(net, x)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict_ab(net, x)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="held-out pairs (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed forward passes, best reported")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"held-out CIEDE2000 on {args.n} pairs (64 x 64), forward pass at 256 x 256, {args.threads} thread(s)\n")
    print("| row | mean CIEDE2000 | s / 256x256 forward | parameters |")
    print("|---|---:|---:|---:|")
    print(f"| warped_reference (R'_ab alone) | {evaluate_colornet(None, args.n):.3f} | | |")
    for mode, entry in MODES.items():
        if entry.status() == "missing":
            print(f"| {mode} | missing {entry.path.name} | | |")
            continue
        net = load_colornet(mode=mode)
        params = sum(p.numel() for p in net.parameters())
        print(f"| {mode} | {evaluate_colornet(net, args.n):.3f} | {seconds_per_forward(net, repeats=args.repeats):.3f} "
              f"| {params} |")


if __name__ == "__main__":
    main()
