"""Seconds and peak memory of the similarity sub-net (``matching.match``) on a 256 x 256 photo pair with
VGG-19-sized features, per method, each in a fresh process; then ``colorize`` end to end. Prints only."""
from __future__ import annotations

import torch

from reprolib.colorization.matching import METHODS
from reprolib.studies import matchbench

if __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for method in METHODS:
        res = matchbench.measure_in_subprocess(method, size=256, repeats=3)
        print(f"match {method:>10} at 256 x 256: {res['seconds']:.2f} s, peak {res['peak_mb']:.0f} MB above baseline")
    print(f"colorize 256 x 256 end to end (small gray-VGG, exact): {matchbench.time_colorize(256, repeats=3):.2f} s")
