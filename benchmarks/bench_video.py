"""colorize-video's speed: seconds per frame and frames per second of each temporal method at one working size.

Colours frames of the shipped real clip (Big Buck Bunny, 256 x 144, upsampled to the working size) through
``reprolib.video.colorizer.VideoColorizer`` for every method of ``VIDEO_METHODS``, the first frame (planning, R's
features) left out, and prints the median over ``--repeats`` runs of ``--frames`` frames, and each method's time
against per_frame's. Measures and prints markdown; asserts nothing. About a minute on 2 cores at 192.
Usage:
    python benchmarks/bench_video.py [--size 192] [--frames 6] [--repeats 3] [--threads N]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from reprolib.video.clips import clip_file, read_clip
from reprolib.video.colorizer import VIDEO_METHODS, VideoColorizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=192, help="working size, short side (default: %(default)s)")
    parser.add_argument("--frames", type=int, default=6, help="timed frames per run (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per method (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    frames = read_clip(clip_file(), 0, args.frames + 1)
    seconds = {}
    for method in VIDEO_METHODS:
        runs = []
        for _ in range(args.repeats):
            colour = VideoColorizer(frames[0], method=method, size=args.size)
            colour(frames[0])
            start = time.perf_counter()
            for frame in frames[1:]:
                colour(frame)
            runs.append((time.perf_counter() - start) / args.frames)
        seconds[method] = statistics.median(runs)
    print(f"{tuple(frames.shape[-2:])} frames at working size {args.size}, {torch.get_num_threads()} threads, "
          f"median of {args.repeats} runs of {args.frames} frames\n")
    print("| method | s per frame | frames per second | time / per_frame |\n|---|---|---|---|")
    for method, s in seconds.items():
        print(f"| {method} | {s:.3f} | {1 / s:.2f} | {s / seconds['per_frame']:.2f} |")


if __name__ == "__main__":
    main()
