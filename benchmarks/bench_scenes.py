"""Throughput of the synthetic world (reprolib.world.scenes): scenes per second at 64 x 64, by batch size.

Measures and prints; asserts nothing.  Usage:
    python benchmarks/bench_scenes.py [--size 64] [--preview PATH]
--preview also writes a PNG grid of 16 scenes (RGB above, L* below) to PATH.
"""
from __future__ import annotations

import argparse

import torch

from reprolib.world.scenes import CLASSES, class_presence, sample_scenes, scenes_per_second


def preview(path: str, seed: int = 0, n: int = 16, size: int = 64) -> None:
    """Save n scenes as a grid: RGB row, L* row, label-map row (one gray level per class)."""
    from PIL import Image

    scene = sample_scenes(seed, n, size)
    gray = (scene.L / 100).expand(-1, 3, -1, -1)
    labels = (scene.labels.float() / (len(CLASSES) - 1)).unsqueeze(1).expand(-1, 3, -1, -1)
    rows = []
    for start in range(0, n, 8):
        for part in (scene.rgb, gray, labels):
            framed = [torch.nn.functional.pad(im, (1, 1, 1, 1), value=1.0) for im in part[start : start + 8]]
            rows.append(torch.cat(framed, dim=2))
    grid = torch.cat(rows, dim=1)
    Image.fromarray((grid.permute(1, 2, 0).clamp(0, 1) * 255).round().byte().numpy()).save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--preview", default=None, help="write a PNG grid of 16 scenes here")
    args = parser.parse_args()
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, size {args.size} x {args.size}, scenes/s (best of several calls)")
    print(f"batch    {threads} thread(s)   1 thread")
    for n in (1, 64, 256, 1024):
        repeats = 20 if n == 1 else 3
        rates = [scenes_per_second(args.size, n, repeats, threads=t) for t in (threads, 1)]
        print(f"{n:5d} {rates[0]:12.0f} {rates[1]:10.0f}")
    scene = sample_scenes(12345, 512, args.size)
    present = class_presence(scene.labels).float().mean(0)
    pixels = torch.bincount(scene.labels.flatten(), minlength=len(CLASSES)).float() / scene.labels.numel()
    print("class       in % of scenes   % of pixels")
    for c, name in enumerate(CLASSES):
        print(f"{name:10s} {100 * present[c]:10.1f} {100 * pixels[c]:13.1f}")
    if args.preview:
        preview(args.preview, size=args.size)
        print(f"preview written to {args.preview}")


if __name__ == "__main__":
    main()
