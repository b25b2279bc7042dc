"""The scaling benchmark: seconds and peak memory of the gray-VGG forward passes, the similarity sub-net and
``colorize`` at 256 x 256, 384 x 512 and 768 x 1024, per extractor and method, one fresh process each
(:mod:`reprolib.studies.scaling`). Prints every cell and updates results.json["scaling"] and REPORT.md in
``results/`` (or $OUT), keeping the other experiments there. Prints only; asserts nothing."""
from __future__ import annotations

import os
import sys

from reprolib.reproduce import reproduce

if __name__ == "__main__":
    out = os.environ.get("OUT", "results")
    cells = reproduce(out, quick="--quick" in sys.argv, progress=False, only=["scaling"])["scaling"]["cells"]
    for key, c in cells.items():
        if "skipped" in c:
            print(f"{key:>28}: not run ({c['skipped']})")
        else:
            print(f"{key:>28}: forward passes {c['features_s']:6.2f} s, match {c['match_s']:6.2f} s, colorize "
                  f"{c['colorize_s']:6.2f} s ({c['colorize_over_features']:.2f}x the forward passes), "
                  f"peak {c['colorize_peak_mb']:.0f} MB")
    print(f"wrote {out}/results.json (\"scaling\") and {out}/REPORT.md")
